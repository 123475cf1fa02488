// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <catch2/catch_test_macros.hpp>

#include <filesystem>
#include <fstream>

#include "../common/temp_dir.hpp"
#include "check/check.hpp"

using namespace vmfix::harness;
namespace fs = std::filesystem;

namespace {

// A fake sysfs root with the module's files (docs/status-abi.md).
struct FakeRoot {
  vmfix::test::TempDir dir{"vmfix-sysfs"};
  fs::path root = dir.path();
  FakeRoot() {
    fs::create_directories(root / "sys/module/rdna1_vmfix/parameters");
    fs::create_directories(root / "sys/kernel/rdna1_vmfix");
    write("sys/module/rdna1_vmfix/parameters/mode", "off\n");
    write("sys/kernel/rdna1_vmfix/counters",
          "schema 1\n"
          "device bdf=0000:03:00.0 ranges=10 seen_nc=7 seen_wc=0 seen_cc=3 seen_uc=0 seen_reserved=0 "
          "rule_cc_downgrade=3 rule_uc_snoop=0 rule_coherent_all=0 rewritten=3 would_rewrite=0 req_cc_get_vm_pte=3 "
          "req_cc_map_mtype=0\n"
          "other ranges=4\n");
  }
  void write(const std::string& rel, const std::string& text) const { std::ofstream(root / rel) << text; }
};

}  // namespace

TEST_CASE("module sysfs: mode reads and writes, counters parse, absent module is detected", "[harness][sysfs]") {
  FakeRoot f;
  const ModuleSysfs m(f.root.string());
  REQUIRE(m.loaded());
  CHECK(*m.mode() == "off");
  REQUIRE(m.set_mode("audit").ok());
  CHECK(*m.mode() == "audit");
  const auto c = m.counters();
  REQUIRE(c);
  CHECK(c->at("device 0000:03:00.0").at("seen_cc") == 3);
  CHECK(c->at("device 0000:03:00.0").at("rewritten") == 3);
  CHECK(c->at("other").at("ranges") == 4);
  CHECK_FALSE(ModuleSysfs((f.root / "nowhere").string()).loaded());
}

TEST_CASE("counters: unknown schema and malformed fields are errors; deltas subtract per record", "[harness][sysfs]") {
  CHECK_FALSE(parse_counters("schema 2\nother ranges=1\n").ok());
  CHECK_FALSE(parse_counters("").ok());
  CHECK_FALSE(parse_counters("schema 1\nother ranges=x\n").ok());
  CHECK_FALSE(parse_counters("schema 1\nother ranges\n").ok());
  CHECK_FALSE(parse_counters("schema 1\ndevice ranges=1\n").ok());  // a device record needs bdf=
  const auto before = *parse_counters("schema 1\ndevice bdf=0000:03:00.0 ranges=5 seen_cc=1\nother ranges=1\n");
  const auto after = *parse_counters("schema 1\ndevice bdf=0000:03:00.0 ranges=9 seen_cc=4\nother ranges=1\n");
  const auto d = counters_delta(after, before);
  CHECK(d.at("device 0000:03:00.0").at("ranges") == 4);
  CHECK(d.at("device 0000:03:00.0").at("seen_cc") == 3);
  CHECK(d.at("other").at("ranges") == 0);
}
