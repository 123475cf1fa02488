// SPDX-License-Identifier: GPL-2.0 OR MIT
// Container readers on hipcc-built objects with known contents, CCOB round trips, bad input.

#include <unistd.h>
#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>

#include "../common/temp_dir.hpp"
#include "isa/elf.hpp"
#include "fixtures.hpp"
#include "isa/scan.hpp"
#include "isa/isa.hpp"

using isa_test::Bytes;
using isa_test::fixture;
using isa_test::make_ccob;
using isa_test::read_bytes;


TEST_CASE("a multi-arch hipcc executable lists gfx1010, gfx1012 and gfx1030 from .hip_fatbin", "[isa][list]") {
  REQUIRE_FIXTURES();
  auto r = vmfix::list_code_objects(fixture("kmulti"));
  REQUIRE(r.ok());
  REQUIRE(r->size() == 3);
  std::set<std::string> got;
  for (const auto& o : *r) {
    got.insert(o.processor);
    CHECK(o.container == vmfix::ContainerKind::kOffloadBundle);
    CHECK(o.section == ".hip_fatbin");
    CHECK(o.code_object_version == 4);
    CHECK(o.group == 0);
    CHECK(o.bundle_id == "hipv4-amdgcn-amd-amdhsa--" + o.processor);
  }
  CHECK(got == std::set<std::string>{"gfx1010", "gfx1012", "gfx1030"});
  for (const auto& o : *r) {
    INFO(o.processor);
    // hipcc 5.2 builds gfx101x as xnack "any" and gfx1030 without xnack (facts: e_flags 0x133, 0x135, 0x36).
    if (o.processor == "gfx1010") CHECK(o.e_flags == 0x133);
    if (o.processor == "gfx1012") CHECK(o.e_flags == 0x135);
    if (o.processor == "gfx1030") CHECK(o.e_flags == 0x36);
    CHECK(o.xnack == (o.processor == "gfx1030" ? "unsupported" : "any"));
  }
}

TEST_CASE("listed offsets point at the ELF bytes the bundler extracts", "[isa][list]") {
  REQUIRE_FIXTURES();
  const Bytes file = read_bytes(fixture("kmulti"));
  auto r = vmfix::list_code_objects(fixture("kmulti"));
  REQUIRE(r.ok());
  for (const char* arch : {"gfx1010", "gfx1030"}) {
    const Bytes co = read_bytes(fixture(std::string(arch) + ".co"));
    const auto it = std::find_if(r->begin(), r->end(), [&](const auto& o) { return o.processor == arch; });
    REQUIRE(it != r->end());
    REQUIRE(it->size == co.size());
    REQUIRE(it->offset + it->size <= file.size());
    CHECK(std::equal(co.begin(), co.end(), file.begin() + static_cast<std::ptrdiff_t>(it->offset)));
  }
}

TEST_CASE("single-arch builds, bare ELF, raw bundle and OffloadBinary are recognised", "[isa][list]") {
  REQUIRE_FIXTURES();
  struct Case {
    const char* file;
    vmfix::ContainerKind kind;
    const char* target;
  };
  for (const auto& c : {Case{"k1010", vmfix::ContainerKind::kOffloadBundle, "gfx1010"},
                        Case{"k1030", vmfix::ContainerKind::kOffloadBundle, "gfx1030"},
                        Case{"gfx1030.co", vmfix::ContainerKind::kBareElf, "gfx1030"},
                        Case{"gfx1010.co", vmfix::ContainerKind::kBareElf, "gfx1010"},
                        Case{"gfx1030.offload", vmfix::ContainerKind::kOffloadBinary, "gfx1030"}}) {
    INFO(c.file);
    auto r = vmfix::list_code_objects(fixture(c.file));
    REQUIRE(r.ok());
    REQUIRE(r->size() == 1);
    CHECK(r->front().container == c.kind);
    CHECK(r->front().target_id == c.target);
  }
  auto raw = vmfix::list_code_objects(fixture("multi.hipfb"));
  REQUIRE(raw.ok());
  CHECK(raw->size() == 3);
  CHECK(raw->front().container_offset == 0);
}

TEST_CASE("compressed bundles v1-v3 with zlib and zstd round-trip to the same code objects", "[isa][ccob]") {
  REQUIRE_FIXTURES();
  const Bytes bundle = read_bytes(fixture("multi.hipfb"));
  auto plain = vmfix::scan_code_objects(bundle);
  REQUIRE(plain.ok());
  REQUIRE(plain->objects.size() == 3);
  const int version = GENERATE(1, 2, 3);
  const int method = GENERATE(0, 1);
  INFO("version " << version << " method " << method);
  const Bytes ccob = make_ccob(bundle, version, method);
  // Embedded in host-like data, twice, with junk between: two containers.
  Bytes file(1000, 0x5a);
  file.insert(file.end(), ccob.begin(), ccob.end());
  file.insert(file.end(), 333, 0);
  const std::size_t second = file.size();
  file.insert(file.end(), ccob.begin(), ccob.end());
  auto r = vmfix::scan_code_objects(file);
  REQUIRE(r.ok());
  REQUIRE(r->objects.size() == 6);
  CHECK(r->groups == 2);
  for (std::size_t i = 0; i < 6; ++i) {
    const auto& o = r->objects[i];
    const auto& p = plain->objects[i % 3];
    CHECK(o.info.container == vmfix::ContainerKind::kCompressedBundle);
    CHECK(o.info.compression == (method == 0 ? "zlib" : "zstd"));
    CHECK(o.info.container_version == version);
    CHECK(o.info.in_compressed);
    CHECK(o.info.container_offset == (i < 3 ? 1000 : second));
    CHECK(o.info.target_id == p.info.target_id);
    CHECK(o.info.bundle_id == p.info.bundle_id);
    REQUIRE(o.elf.size() == p.elf.size());
    CHECK(std::equal(o.elf.begin(), o.elf.end(), p.elf.begin()));
  }
  SECTION("every truncation of a compressed bundle file is an error") {
    for (std::size_t cut = 0; cut < ccob.size(); cut += std::max<std::size_t>(1, ccob.size() / 97)) {
      INFO("cut at " << cut);
      auto t = vmfix::scan_code_objects(std::span(ccob).first(cut));
      if (cut < 4) {
        CHECK(t.ok());  // too short to hold a magic: nothing there
        continue;
      }
      REQUIRE_FALSE(t.ok());
      CHECK(t.error().code == vmfix::Exit::kUsage);
    }
  }
  SECTION("a payload larger than the configured limit is refused") {
    vmfix::ScanOptions opt;
    opt.max_uncompressed = 1024;
    auto t = vmfix::scan_code_objects(ccob, opt);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().message.find("uncompressed") != std::string::npos);
  }
}

TEST_CASE("magic strings that are data are ignored, not errors", "[isa][list]") {
  Bytes d(4096, 0);
  const std::string text = "bundle magic is __CLANG_OFFLOAD_BUNDLE__ and CCOB; \x10\xff\x10\xad too";
  std::copy(text.begin(), text.end(), d.begin() + 100);
  auto r = vmfix::scan_code_objects(d);
  REQUIRE(r.ok());
  CHECK(r->objects.empty());
  CHECK(r->rejected_hits == 3);
  SECTION("the HIP runtime library holds the magic as data and no code objects") {
    const char* hip = "/usr/lib/x86_64-linux-gnu/libamdhip64.so.5";
    if (!std::filesystem::exists(hip)) SKIP("libamdhip64.so.5 not installed");
    auto h = vmfix::scan_file(hip);
    REQUIRE(h.ok());
    CHECK(h->objects.empty());
    CHECK(h->rejected_hits >= 1);
  }
}

TEST_CASE("truncated executables, bundles and ELFs are errors with exit code 2", "[isa][bad]") {
  REQUIRE_FIXTURES();
  for (const char* name : {"kmulti", "multi.hipfb", "gfx1030.co", "gfx1030.offload"}) {
    const Bytes full = read_bytes(fixture(name));
    // Cuts before the end of the last code object (a host ELF keeps its section table last).
    auto whole = vmfix::scan_code_objects(full);
    REQUIRE(whole.ok());
    std::size_t end = full.size();
    if (!vmfix::elf::has_magic(full)) {
      end = 0;
      for (const auto& o : whole->objects) end = std::max<std::size_t>(end, o.info.offset + o.info.size);
    }
    std::mt19937 rng(7);
    std::vector<std::size_t> cuts = {4, 16, 63, 64, 100, end / 2, end - 1};
    for (int i = 0; i < 40; ++i) cuts.push_back(4 + rng() % (end - 4));
    for (const auto cut : cuts) {
      INFO(name << " cut at " << cut << " of " << full.size());
      auto r = vmfix::scan_code_objects(std::span(full).first(cut));
      if (std::string(name) == "multi.hipfb" && cut < 24) {
        CHECK(r.ok());  // shorter than the 24-byte magic: plain data
        continue;
      }
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == vmfix::Exit::kUsage);
      CHECK_FALSE(r.error().message.empty());
    }
  }
}

TEST_CASE("corrupted bundle headers never crash and never yield objects that disagree with their ids",
          "[isa][bad]") {
  REQUIRE_FIXTURES();
  const Bytes bundle = read_bytes(fixture("multi.hipfb"));
  std::mt19937_64 rng(11);
  std::size_t errors = 0;
  for (int i = 0; i < 400; ++i) {
    Bytes b = bundle;
    // Flip sizes, offsets, counts and id lengths in the header table, and bytes of the ELF headers.
    const std::size_t at = i % 2 == 0 ? 24 + rng() % 260 : 0x1000 + rng() % 64;
    b[at] ^= static_cast<std::uint8_t>(1U << (rng() % 8));
    if (i % 5 == 0) b[24 + rng() % 8] = 0xff;
    auto r = vmfix::scan_code_objects(b);
    if (!r.ok()) {
      ++errors;
      CHECK(r.error().code == vmfix::Exit::kUsage);
      continue;
    }
    for (const auto& o : r->objects) {
      auto id = vmfix::parse_bundle_id(o.info.bundle_id);
      REQUIRE(id.ok());
      CHECK(id->processor == o.info.processor);
    }
  }
  CHECK(errors > 0);
}

TEST_CASE("unreadable inputs and devices are usage errors; an empty file has no code objects", "[isa][bad]") {
  auto missing = vmfix::list_code_objects("/nonexistent/file.so");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == vmfix::Exit::kUsage);
  CHECK(missing.error().message == "No such file or directory");
  auto dir = vmfix::list_code_objects("/");
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().message == "is a directory");
  auto device = vmfix::list_code_objects("/dev/null");
  REQUIRE_FALSE(device.ok());
  CHECK(device.error().code == vmfix::Exit::kUsage);
  const vmfix::test::TempDir tmp("vmfix-empty");
  const auto path = (tmp / "empty").string();
  REQUIRE(std::ofstream(path).good());  // an empty file
  auto empty = vmfix::list_code_objects(path);
  REQUIRE(empty.ok());
  CHECK(empty->empty());
}

TEST_CASE("bundle entry ids parse into kind, triple and target id", "[isa][id]") {
  auto a = vmfix::parse_bundle_id("hipv4-amdgcn-amd-amdhsa--gfx906:sramecc+:xnack-");
  REQUIRE(a.ok());
  CHECK(a->kind == "hipv4");
  CHECK(a->triple == "amdgcn-amd-amdhsa-");
  CHECK(a->target_id == "gfx906:sramecc+:xnack-");
  CHECK(a->processor == "gfx906");
  auto g = vmfix::parse_bundle_id("hipv4-amdgcn-amd-amdhsa--gfx10-1-generic");
  REQUIRE(g.ok());
  CHECK(g->processor == "gfx10-1-generic");
  auto h = vmfix::parse_bundle_id("host-x86_64-unknown-linux");
  REQUIRE(h.ok());
  CHECK(h->kind == "host");
  CHECK_FALSE(vmfix::parse_bundle_id("garbage").ok());
}

TEST_CASE("e_flags machine values name the processors of the facts table", "[isa][id]") {
  CHECK(vmfix::amdgpu_mach_name(0x033) == "gfx1010");
  CHECK(vmfix::amdgpu_mach_name(0x034) == "gfx1011");
  CHECK(vmfix::amdgpu_mach_name(0x035) == "gfx1012");
  CHECK(vmfix::amdgpu_mach_name(0x042) == "gfx1013");
  CHECK(vmfix::amdgpu_mach_name(0x036) == "gfx1030");
  CHECK(vmfix::amdgpu_mach_name(0x03e) == "gfx1034");
  CHECK(vmfix::amdgpu_mach_name(0x03d) == "gfx1035");
  CHECK(vmfix::amdgpu_mach_name(0x052) == "gfx10-1-generic");
  CHECK(vmfix::amdgpu_mach_name(0x053) == "gfx10-3-generic");
  CHECK(vmfix::amdgpu_mach_name(0x0ff).empty());
}

TEST_CASE("native compatibility follows the loader and Debian's gfx101x superset rule", "[isa][id]") {
  CHECK(vmfix::runs_natively("gfx1010", "gfx1010"));
  CHECK(vmfix::runs_natively("gfx1010", "gfx1011"));
  CHECK(vmfix::runs_natively("gfx1010", "gfx1012"));
  CHECK(vmfix::runs_natively("gfx10-1-generic", "gfx1012"));
  CHECK_FALSE(vmfix::runs_natively("gfx1030", "gfx1010"));
  CHECK_FALSE(vmfix::runs_natively("gfx1012", "gfx1010"));
  CHECK_FALSE(vmfix::runs_natively("gfx10-3-generic", "gfx1010"));
  CHECK(vmfix::runs_natively("gfx10-3-generic", "gfx1031"));
  CHECK_FALSE(vmfix::runs_natively("gfx906", "gfx1010"));
}

TEST_CASE("inputs that once crashed the reader under libFuzzer are handled", "[isa][bad]") {
  // tests/data/isa/fuzz-regressions/: crash inputs found by tests/fuzz, kept as regressions.
  const std::filesystem::path dir = std::filesystem::path(VMFIX_SOURCE_DIR) / "tests/data/isa/fuzz-regressions";
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    INFO(e.path());
    const Bytes b = read_bytes(e.path().string());
    auto r = vmfix::scan_code_objects(b);
    if (!r.ok()) CHECK(r.error().code == vmfix::Exit::kUsage);
    ++n;
  }
  CHECK(n >= 1);
}

TEST_CASE("the SIMD magic search finds exactly what memmem finds, at every alignment and at the end",
          "[isa][scan]") {
  std::mt19937 rng(3);
  const std::array<std::string, 3> magics = {"__CLANG_OFFLOAD_BUNDLE__", "CCOB", std::string("\x10\xff\x10\xad", 4)};
  for (int round = 0; round < 200; ++round) {
    Bytes d(1 + rng() % 300);
    // Near-miss bytes make the probe filter fire without a match.
    for (auto& b : d) b = static_cast<std::uint8_t>("_CFOBLN\x10\xad\xff"[rng() % 10]);
    for (int j = 0; j < 3; ++j) {
      const auto& m = magics[rng() % 3];
      if (m.size() > d.size()) continue;
      const std::size_t at = round % 4 == 0 ? d.size() - m.size() : rng() % (d.size() - m.size() + 1);
      std::copy(m.begin(), m.end(), d.begin() + static_cast<std::ptrdiff_t>(at));
    }
    const auto fast = vmfix::find_magics(d);
    const auto ref = vmfix::find_magics_memmem(d);
    REQUIRE(fast.size() == ref.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
      CHECK(fast[i].off == ref[i].off);
      CHECK(fast[i].kind == ref[i].kind);
    }
  }
}
