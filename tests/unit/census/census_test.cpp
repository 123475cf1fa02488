// SPDX-License-Identifier: GPL-2.0 OR MIT
// census logic over the fake thunk and recorded counter snapshots (tests/data/census/*.counters):
// delta per kind, table, conclusion, cleanup on a failed map, mode restore, signal cleanup, cache.

#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkdtemp

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "census/census.hpp"
#include "fake_thunk.hpp"

using namespace vmfix::census;
using vmfix::census::test::FakeThunk;
using vmfix::census::test::MapCall;
using Catch::Matchers::ContainsSubstring;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// "--- label" separated counters documents.
std::vector<std::string> load_snapshots(const std::string& file) {
  std::vector<std::string> docs;
  std::istringstream in(slurp(fs::path(VMFIX_TEST_DATA) / "census" / file));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("--- ")) docs.emplace_back();
    else if (!docs.empty()) docs.back() += line + "\n";
  }
  return docs;
}

// The module's sysfs as census sees it, in a temporary tree.
class FakeModule {
 public:
  FakeModule() {
    std::string tmpl = (fs::temp_directory_path() / "vmfix-census-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
    fs::create_directories(root_ / "sys/module/rdna1_vmfix/parameters");
    fs::create_directories(root_ / "sys/kernel/rdna1_vmfix");
    mode("enforce");
    status("armed");
  }
  ~FakeModule() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  FakeModule(const FakeModule&) = delete;
  FakeModule& operator=(const FakeModule&) = delete;
  [[nodiscard]] std::string root() const { return root_.string(); }
  void mode(const std::string& m) const { write("sys/module/rdna1_vmfix/parameters/mode", m + "\n"); }
  [[nodiscard]] std::string mode() const {
    std::string m = slurp(root_ / "sys/module/rdna1_vmfix/parameters/mode");
    while (!m.empty() && m.back() == '\n') m.pop_back();
    return m;
  }
  void status(const std::string& state) const {
    write("sys/kernel/rdna1_vmfix/status",
          "schema 1\nversion 0.1.0\nkernel 6.12.95+deb12-amd64\nstate " + state +
              "\nreason -\nabi 6.12\nmode enforce\ncc_to nc\ncoherent snoop\ndevices auto\n"
              "device bdf=0000:03:00.0 pci=1002:731f family=navi10 gfx=gfx1010 scoped=1\n");
  }
  void counters(const std::string& doc) const { write("sys/kernel/rdna1_vmfix/counters", doc); }
  void write(const std::string& rel, const std::string& text) const { std::ofstream(root_ / rel) << text; }

 private:
  fs::path root_;
};

// A thunk and module that replay a snapshot series: snapshot 0 before, snapshot i+1 after map i.
struct Replay {
  FakeModule module;
  FakeThunk thunk;
  std::vector<std::string> snaps;
  Options opt;
  explicit Replay(const std::string& file) : snaps(load_snapshots(file)) {
    REQUIRE(snaps.size() == 9);
    module.counters(snaps[0]);
    thunk.node_list = test::rdna1_nodes();
    thunk.on_map = [this](const MapCall& c) {
      module.counters(snaps.at(c.index + 1));
      return vmfix::ok_status();
    };
    opt.sysfs_root = module.root();
    opt.baseline_ms = 0;
  }
};

const Row& row(const CensusResult& r, const std::string& kind) {
  for (const auto& x : r.rows)
    if (x.kind.name == kind) return x;
  FAIL("no row " << kind);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("census: stock snapshots give NC/UC per kind and the 'changes nothing' conclusion", "[census]") {
  Replay t("stock.counters");
  auto r = run_census(t.thunk, t.opt);
  REQUIRE(r);
  CHECK(r->complete());
  CHECK(r->exit_code() == 0);
  CHECK(row(*r, "vram").mtypes() == std::vector<std::string>{"NC"});
  CHECK(row(*r, "vram").pages == 256);
  CHECK(row(*r, "vram_fine").mtypes() == std::vector<std::string>{"UC"});
  CHECK(row(*r, "gtt_fine").mtypes() == std::vector<std::string>{"UC"});
  CHECK(row(*r, "userptr").count("ranges") == 2);
  CHECK(row(*r, "gtt_ext_coherent").state == RowState::kNotOffered);
  CHECK_THAT(row(*r, "gtt_ext_coherent").note, ContainsSubstring("ExtendedCoherent"));
  CHECK(r->cc_kinds().empty());
  CHECK(r->conclusion() == "no allocation kind is mapped CC on this machine: rdna1_vmfix changes nothing here");
  CHECK(t.module.mode() == "enforce");  // restored
  CHECK(r->mode_restored);
  CHECK(t.thunk.nothing_left());
  CHECK(t.thunk.closed);
}

TEST_CASE("census: CC snapshots name the kinds, the rules and what enforce rewrites", "[census]") {
  Replay t("cc.counters");
  auto r = run_census(t.thunk, t.opt);
  REQUIRE(r);
  CHECK(r->complete());
  CHECK(r->exit_code() == 1);
  CHECK(r->cc_kinds() == std::vector<std::string>{"gtt_fine", "svm_coherent"});
  CHECK(row(*r, "gtt_fine").would_rewrite() == 2);
  CHECK(row(*r, "gtt_fine").rules() == std::vector<std::string>{"cc_downgrade"});
  CHECK(row(*r, "vram").rules().empty());
  CHECK_THAT(r->conclusion(), ContainsSubstring("mapped CC on this machine: gtt_fine, svm_coherent"));
  const std::string text = census_text(*r);
  CHECK_THAT(text, ContainsSubstring("cc_downgrade"));
  CHECK_THAT(text, ContainsSubstring("Conclusion: mapped CC"));
  const auto j = census_json(*r);
  CHECK(j["tool"] == "rdna1-vmfix");
  CHECK(j["schema"] == kSchema);
  CHECK(j["command"] == "census");
  CHECK(j["rows"][3]["kind"] == "gtt_fine");
  CHECK(j["rows"][3]["seen"]["cc"] == 2);
  CHECK(j["rows"][3]["rules"]["cc_downgrade"] == 2);
  CHECK(j["cc_kinds"].size() == 2);
}

TEST_CASE("census: the mode during the run is audit, then the original comes back", "[census]") {
  Replay t("stock.counters");
  t.module.mode("off");
  std::vector<std::string> seen;
  t.thunk.on_map = [&](const MapCall& c) {
    seen.push_back(t.module.mode());
    t.module.counters(t.snaps.at(c.index + 1));
    return vmfix::ok_status();
  };
  auto r = run_census(t.thunk, t.opt);
  REQUIRE(r);
  CHECK(seen == std::vector<std::string>(8, "audit"));
  CHECK(t.module.mode() == "off");
  CHECK(r->original_mode == "off");
}

TEST_CASE("census: a failed map frees that allocation, keeps going, and the result says incomplete", "[census]") {
  Replay t("stock.counters");
  t.thunk.on_map = [&](const MapCall& c) -> vmfix::Status {
    t.module.counters(t.snaps.at(c.index + 1));
    if (c.path == Path::kAlloc && c.flags.on_gpu_node && !c.flags.coarse_grain)
      return vmfix::runtime_error("hsaKmtMapMemoryToGPUNodes", "out of resources (13)");
    return vmfix::ok_status();
  };
  auto r = run_census(t.thunk, t.opt);
  REQUIRE(r);
  CHECK(row(*r, "vram_fine").state == RowState::kFailed);
  CHECK_THAT(row(*r, "vram_fine").note, ContainsSubstring("map failed: out of resources"));
  CHECK(row(*r, "gtt_coarse").state == RowState::kMeasured);
  CHECK_FALSE(r->complete());
  CHECK(r->exit_code() == 4);
  CHECK_THAT(r->conclusion(), ContainsSubstring("census incomplete: vram_fine"));
  CHECK(t.thunk.nothing_left());
  CHECK(t.module.mode() == "enforce");
  const std::string text = census_text(*r);
  CHECK_THAT(text, ContainsSubstring("failed"));
  CHECK_THAT(text, !ContainsSubstring("rdna1_vmfix changes nothing here"));
}

TEST_CASE("census: a failed allocation and a missing SVM are told apart", "[census]") {
  Replay t("stock.counters");
  t.thunk.svm_offered = false;
  t.thunk.on_alloc = [](const MemFlags& f) -> vmfix::Status {
    if (f.uncached) return vmfix::runtime_error("hsaKmtAllocMemory", "invalid parameter (3)");
    return vmfix::ok_status();
  };
  auto r = run_census(t.thunk, t.opt);
  REQUIRE(r);
  CHECK(row(*r, "gtt_uncached").state == RowState::kFailed);
  CHECK(row(*r, "svm").state == RowState::kNotOffered);
  CHECK(row(*r, "svm_coherent").state == RowState::kNotOffered);
  CHECK(t.thunk.nothing_left());
  CHECK(r->exit_code() == 4);
}

TEST_CASE("census: SIGINT during a map stops the run, frees everything, restores mode and handlers", "[census]") {
  Replay t("stock.counters");
  struct sigaction before {};
  sigaction(SIGINT, nullptr, &before);
  t.thunk.on_map = [&](const MapCall& c) {
    t.module.counters(t.snaps.at(c.index + 1));
    if (c.index == 2) std::raise(SIGINT);  // during gtt_coarse
    return vmfix::ok_status();
  };
  auto r = run_census(t.thunk, t.opt);
  REQUIRE(r);
  CHECK(r->interrupted());
  CHECK(r->signal == SIGINT);
  CHECK(row(*r, "gtt_coarse").state == RowState::kMeasured);
  CHECK(row(*r, "gtt_fine").state == RowState::kNotRun);
  CHECK(row(*r, "svm").state == RowState::kNotRun);
  CHECK(t.thunk.nothing_left());
  CHECK(t.module.mode() == "enforce");
  CHECK(r->exit_code() == 4);
  CHECK_THAT(r->conclusion(), ContainsSubstring("interrupted"));
  CHECK_THAT(r->conclusion(), ContainsSubstring("incomplete"));
  struct sigaction after {};
  sigaction(SIGINT, nullptr, &after);
  CHECK(after.sa_handler == before.sa_handler);
}

TEST_CASE("census: SIGTERM is handled the same way", "[census]") {
  Replay t("stock.counters");
  t.thunk.on_map = [&](const MapCall& c) {
    t.module.counters(t.snaps.at(c.index + 1));
    if (c.index == 6) std::raise(SIGTERM);  // during svm
    return vmfix::ok_status();
  };
  auto r = run_census(t.thunk, t.opt);
  REQUIRE(r);
  CHECK(r->signal == SIGTERM);
  CHECK(row(*r, "svm_coherent").state == RowState::kNotRun);
  CHECK(t.thunk.nothing_left());
}

TEST_CASE("census: no /dev/kfd, no RDNA1 node, module absent or not armed are errors before any allocation",
          "[census]") {
  FakeModule m;
  m.counters(load_snapshots("stock.counters")[0]);
  Options opt;
  opt.sysfs_root = m.root();
  opt.baseline_ms = 0;
  {
    FakeThunk t;
    t.open_result = vmfix::Error{vmfix::Exit::kNoGpu, "/dev/kfd", "missing"};
    auto r = run_census(t, opt);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == vmfix::Exit::kNoGpu);
  }
  {
    FakeThunk t;
    t.node_list = {ThunkNode{0, false, "", 0, 0, "", ""},
                   ThunkNode{1, true, "gfx1030", 0x73bf, 0x1002, "0000:0b:00.0", "AMD Radeon RX 6800"}};
    auto r = run_census(t, opt);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == vmfix::Exit::kNoGpu);
    CHECK_THAT(r.error().message, ContainsSubstring("no RDNA1 GPU"));
    CHECK_THAT(r.error().message, ContainsSubstring("gfx1030 at 0000:0b:00.0"));
    CHECK(t.allocs.empty());
    CHECK(t.closed);
  }
  {
    FakeThunk t;
    t.node_list = test::rdna1_nodes();
    opt.node = 0;
    auto r = run_census(t, opt);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == vmfix::Exit::kNoGpu);
    CHECK_THAT(r.error().message, ContainsSubstring("not an RDNA1 GPU"));
    opt.node.reset();
  }
  {
    FakeThunk t;
    t.node_list = test::rdna1_nodes();
    m.status("refused");
    auto r = run_census(t, opt);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == vmfix::Exit::kRuntime);
    CHECK_THAT(r.error().message, ContainsSubstring("refused"));
    m.status("armed");
  }
  {
    FakeThunk t;
    t.node_list = test::rdna1_nodes();
    t.node_list[1].bdf = "0000:04:00.0";  // not in the counters: not scoped
    auto r = run_census(t, opt);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, ContainsSubstring("does not act on 0000:04:00.0"));
  }
  {
    FakeThunk t;
    t.node_list = test::rdna1_nodes();
    fs::remove_all(fs::path(m.root()) / "sys/module/rdna1_vmfix");
    auto r = run_census(t, opt);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == vmfix::Exit::kRuntime);
    CHECK_THAT(r.error().message, ContainsSubstring("not loaded"));
    CHECK(t.calls == std::vector<std::string>{"open", "close"});
  }
}

TEST_CASE("census: background mappings by others are measured and named in the conclusion", "[census]") {
  Replay t("stock.counters");
  t.opt.baseline_ms = 30;
  // Another process maps 3 ranges while census stands idle.
  std::string busy = t.snaps[0];
  busy.replace(busy.find("ranges=412"), 10, "ranges=415");
  int idles = 0;
  t.opt.idle = [&](std::chrono::milliseconds d) {
    CHECK(d.count() == 30);
    ++idles;
    t.module.counters(busy);
  };
  auto r = run_census(t.thunk, t.opt);
  CHECK(idles == 1);
  REQUIRE(r);
  CHECK(r->background_ranges == 3);
  CHECK_THAT(r->conclusion(), ContainsSubstring("the GPU was busy: 3 ranges"));
}

TEST_CASE("census: the table fits 80 columns and every kind has a row", "[census]") {
  Replay t("stock.counters");
  auto r = run_census(t.thunk, t.opt);
  REQUIRE(r);
  const std::string text = census_text(*r);  // stdout is not a terminal here: 80 columns
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    INFO(line);
    CHECK(line.size() <= 80);
  }
  for (const auto& k : default_kinds()) CHECK_THAT(text, ContainsSubstring(k.name));
  CHECK_THAT(text, ContainsSubstring("enforce restored)"));
}

TEST_CASE("census cache: round trip with provenance, schema checked, absent is not an error", "[census]") {
  Replay t("stock.counters");
  auto r = run_census(t.thunk, t.opt);
  REQUIRE(r);
  const fs::path file = fs::path(t.module.root()) / "state" / "census.json";
  CHECK(read_cache(file.string())->has_value() == false);
  const Provenance p{"2026-12-01T08:00:00Z", "6.12.95+deb12-amd64", "5.2.3+dfsg-1", ""};
  REQUIRE(write_cache(file.string(), cache_document(*r, p)));
  auto back = read_cache(file.string());
  REQUIRE(back);
  REQUIRE(back->has_value());
  CHECK((**back)["run"]["kernel"] == "6.12.95+deb12-amd64");
  CHECK((**back)["conclusion"] == r->conclusion());
  std::ofstream(file) << R"({"command":"census","schema":99})";
  CHECK_FALSE(read_cache(file.string()));
  std::ofstream(file) << "not json";
  CHECK_FALSE(read_cache(file.string()));
}

TEST_CASE("census: dpkg status gives the thunk's package version", "[census]") {
  const std::string status =
      "Package: libhsakmt-dev\nStatus: install ok installed\nVersion: 5.2.3+dfsg-1\n\n"
      "Package: libhsakmt1\nStatus: install ok installed\nVersion: 5.2.3+dfsg-1\n\n";
  CHECK(dpkg_version(status, "libhsakmt1") == "5.2.3+dfsg-1");
  CHECK(dpkg_version(status, "librocm") == "");
}

TEST_CASE("census: the KFD flags column spells the thunk's flags", "[census]") {
  const auto kinds = default_kinds();
  CHECK(kinds[0].flags.describe(kinds[0].path) == "GPU node: NonPaged CoarseGrain NoSubstitute");
  CHECK(kinds[3].flags.describe(kinds[3].path) == "system node: NonPaged HostAccess FineGrain");
  CHECK(kinds.back().flags.describe(kinds.back().path) == "SVMSetAttr ACCESS COHERENT");
}

TEST_CASE("census: the libhsakmt thunk without /dev/kfd says what is missing (exit 3)", "[census][hsakmt]") {
  if (fs::exists("/dev/kfd")) SKIP("/dev/kfd exists here");
  auto thunk = make_hsakmt_thunk();
  REQUIRE(thunk);
  const auto st = thunk->open();
  REQUIRE_FALSE(st);
  CHECK(st.error().code == vmfix::Exit::kNoGpu);
  CHECK(st.error().context == "/dev/kfd");
  CHECK_THAT(st.error().message, ContainsSubstring("modprobe amdgpu"));
  thunk->close();  // closing what never opened is harmless
}

TEST_CASE("census cache: the doctor/report summary line names the run and says when it is stale", "[census]") {
  auto doc = read_cache(std::string(VMFIX_TEST_DATA) + "/census/cache.json");
  REQUIRE(doc);
  REQUIRE(doc->has_value());
  const std::string fresh = cache_summary(**doc, "6.12.95+deb12-amd64");
  CHECK(fresh ==
        "census of gfx1010 at 0000:03:00.0 on 2026-12-01T08:00:00Z, kernel 6.12.95+deb12-amd64: no allocation kind "
        "is mapped CC on this machine: rdna1_vmfix changes nothing here");
  CHECK_THAT(cache_summary(**doc, "6.17.0-1-amd64"), ContainsSubstring("(stale: run on kernel 6.12.95+deb12-amd64"));
  CHECK_THAT(cache_summary(nlohmann::json::object(), ""), ContainsSubstring("census of ? at ?"));
}
