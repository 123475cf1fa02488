// SPDX-License-Identifier: GPL-2.0 OR MIT
// status: sysfs readers and parsers against fake trees (RDNA1, RDNA2, no GPU, module absent,
// refused, malformed files, unknown schema).

#include <catch2/catch_test_macros.hpp>

#include <fstream>
#include <sstream>

#include "fake_sysfs.hpp"
#include "golden.hpp"
#include "status/status.hpp"

using vmfix::test::FakeSysfs;

namespace {

std::string fake_marketing(unsigned minor) { return minor == 128 ? "AMD Radeon RX 5700 XT" : ""; }

}  // namespace

TEST_CASE("an RDNA1 machine with the module armed is read completely", "[diag][status]") {
  FakeSysfs t;
  t.add_cpu_node(0);
  t.add_gpu(1, 3, 0x731f, 100100, 128);
  t.add_module("armed", "-");
  const auto s = vmfix::collect_status(vmfix::RootFs(t.root()), fake_marketing);
  REQUIRE(s.gpus.size() == 1);  // the CPU node and the audio function are not GPUs
  const auto& g = s.gpus[0];
  CHECK(g.bdf == "0000:03:00.0");
  CHECK(g.gfx == "gfx1010");
  CHECK(g.gfx_target_version == 100100);
  CHECK(g.family == "navi10");
  CHECK(g.rdna1);
  CHECK(g.driver == "amdgpu");
  CHECK(g.kfd_node == 1U);
  CHECK(g.render_minor == 128U);
  CHECK(g.marketing_name == "AMD Radeon RX 5700 XT");
  CHECK(s.any_rdna1());
  CHECK(s.warnings.empty());
  const auto& m = s.module;
  CHECK(m.loaded);
  CHECK(m.errors.empty());
  REQUIRE(m.status.has_value());
  CHECK(m.status->fields.at("state") == "armed");
  CHECK(m.status->fields.at("abi") == "6.12");
  REQUIRE(m.status->hooks.size() == 1);
  CHECK(m.status->hooks[0].at("symbol") == "amdgpu_vm_ptes_update");
  REQUIRE(m.status->devices.size() == 1);
  CHECK(m.status->devices[0].at("scoped") == "1");
  REQUIRE(m.counters.has_value());
  REQUIRE(m.counters->devices.size() == 1);
  CHECK(m.counters->device_bdfs[0] == "0000:03:00.0");
  CHECK(m.counters->devices[0].at("ranges") == 10);
  CHECK(m.counters->other_ranges == 4U);
  REQUIRE(m.recent.has_value());
  CHECK(m.recent->rewrites.size() == 1);
  CHECK(m.params.at("mode") == "audit");
}

TEST_CASE("status --json of the RDNA1 tree matches the golden file", "[diag][status][golden]") {
  FakeSysfs t;
  t.add_cpu_node(0);
  t.add_gpu(1, 3, 0x731f, 100100, 128);
  t.add_module("armed", "-");
  const auto j = vmfix::status_json(vmfix::collect_status(vmfix::RootFs(t.root()), fake_marketing));
  vmfix::test::check_golden(j, std::string(VMFIX_TEST_DATA) + "/status/rdna1.json");
}

TEST_CASE("an RDNA2 GPU is listed but not RDNA1", "[diag][status]") {
  FakeSysfs t;
  t.add_gpu(1, 10, 0x73bf, 100300, 129);
  const auto s = vmfix::collect_status(vmfix::RootFs(t.root()));
  REQUIRE(s.gpus.size() == 1);
  CHECK(s.gpus[0].gfx == "gfx1030");
  CHECK_FALSE(s.gpus[0].rdna1);
  CHECK(s.gpus[0].family.empty());
  CHECK_FALSE(s.any_rdna1());
  CHECK_FALSE(s.module.loaded);
  CHECK_FALSE(s.module.status.has_value());
  CHECK(s.module.errors.empty());
}

TEST_CASE("a GPU without KFD (no amdgpu bound) still shows from PCI", "[diag][status]") {
  FakeSysfs t;
  const std::string dev = "/sys/bus/pci/devices/0000:05:00.0";
  t.write(dev + "/vendor", "0x1002\n");
  t.write(dev + "/device", "0x7340\n");
  t.write(dev + "/class", "0x030000\n");
  const auto s = vmfix::collect_status(vmfix::RootFs(t.root()));
  REQUIRE(s.gpus.size() == 1);
  CHECK(s.gpus[0].gfx == "gfx1012");  // from the PCI ID table
  CHECK(s.gpus[0].family == "navi14");
  CHECK(s.gpus[0].driver.empty());
  CHECK_FALSE(s.gpus[0].kfd_node.has_value());
}

TEST_CASE("no GPU and no module: an empty tree", "[diag][status]") {
  FakeSysfs t;
  t.mkdir("/sys/class");
  const auto s = vmfix::collect_status(vmfix::RootFs(t.root()));
  CHECK(s.gpus.empty());
  CHECK_FALSE(s.any_amd());
  CHECK_FALSE(s.module.loaded);
  CHECK(vmfix::status_text(s).find("no AMD GPU found") != std::string::npos);
}

TEST_CASE("a module that refused to arm is reported with its reason", "[diag][status]") {
  FakeSysfs t;
  t.add_gpu(1, 3, 0x731f, 100100, 128);
  t.add_module("refused", "abi_unknown");
  const auto s = vmfix::collect_status(vmfix::RootFs(t.root()));
  REQUIRE(s.module.status.has_value());
  CHECK(s.module.status->fields.at("state") == "refused");
  CHECK(s.module.status->fields.at("reason") == "abi_unknown");
  CHECK(vmfix::status_text(s).find("state refused (abi_unknown)") != std::string::npos);
}

TEST_CASE("a refusal reason comes with what to do", "[diag][status]") {
  FakeSysfs t;
  t.add_gpu(1, 3, 0x731f, 100100, 128);
  t.add_module("refused", "amdgpu_not_the_analysed_build");
  const auto s = vmfix::collect_status(vmfix::Sysfs(t.root()));
  const std::string text = vmfix::status_text(s);
  CHECK(text.find("state refused (amdgpu_not_the_analysed_build)") != std::string::npos);
  CHECK(text.find("what to do: ") != std::string::npos);
  CHECK(text.find("dkms autoinstall") != std::string::npos);
  CHECK(vmfix::module_reason_advice("abi_unknown_amdgpu_vm_ptes_update_flags_not_u64").find("report") !=
        std::string::npos);
  CHECK(vmfix::module_reason_advice("abi_unknown_no_base_btf_for_6.1.0-57-amd64").find("bpftool") !=
        std::string::npos);
  CHECK(vmfix::module_reason_advice("mode_off").find("enforce") != std::string::npos);
  CHECK(vmfix::module_reason_advice("-").empty());
  CHECK(vmfix::module_reason_advice("no_such_token").empty());
}

TEST_CASE("malformed and unknown-schema files give clear errors, not crashes", "[diag][status]") {
  FakeSysfs t;
  t.add_gpu(1, 3, 0x731f, 100100, 128);
  t.add_module("armed", "-");
  SECTION("unknown schema") {
    t.write("/sys/kernel/rdna1_vmfix/status", "schema 2\nversion 9\nstate armed\nmode audit\n");
    const auto s = vmfix::collect_status(vmfix::RootFs(t.root()));
    REQUIRE(s.module.errors.size() == 1);
    CHECK(s.module.errors[0].find("schema 2 is not supported") != std::string::npos);
    CHECK_FALSE(s.module.status.has_value());
  }
  SECTION("malformed counters") {
    t.write("/sys/kernel/rdna1_vmfix/counters", "schema 1\ndevice bdf=0000:03:00.0 ranges=ten\n");
    const auto s = vmfix::collect_status(vmfix::RootFs(t.root()));
    REQUIRE(s.module.errors.size() == 1);
    CHECK(s.module.errors[0].find("counter ranges is not a number") != std::string::npos);
    CHECK(s.module.status.has_value());
  }
  SECTION("status file missing while the module is loaded") {
    std::filesystem::remove(t.root() + "/sys/kernel/rdna1_vmfix/status");
    const auto s = vmfix::collect_status(vmfix::RootFs(t.root()));
    REQUIRE(s.module.errors.size() == 1);
    CHECK(s.module.errors[0].find("missing although the module is loaded") != std::string::npos);
  }
  SECTION("garbage KFD properties: the node is skipped with a warning, PCI still lists the GPU") {
    t.write("/sys/class/kfd/kfd/topology/nodes/1/properties", "gfx_target_version banana\n");
    const auto s = vmfix::collect_status(vmfix::RootFs(t.root()));
    REQUIRE(s.warnings.size() == 1);
    CHECK(s.warnings[0].find("not a number") != std::string::npos);
    REQUIRE(s.gpus.size() == 1);
    CHECK(s.gpus[0].gfx == "gfx1010");
    CHECK_FALSE(s.gpus[0].kfd_node.has_value());
  }
}

TEST_CASE("the sysfs parsers accept the documented format and reject the rest", "[diag][status][parse]") {
  SECTION("KFD properties") {
    const auto p = vmfix::parse_kfd_properties("gfx_target_version 100102\nlocation_id 768\n\n");
    REQUIRE(p.ok());
    CHECK(p->get("gfx_target_version") == 100102U);
    CHECK_FALSE(p->get("nope").has_value());
    for (const char* bad : {"", "x", "a b c\n", "Key 1\n", "k -1\n", "k 1.5\n", "k 99999999999999999999999\n"}) {
      INFO(bad);
      CHECK_FALSE(vmfix::parse_kfd_properties(bad).ok());
    }
  }
  SECTION("gfx_target_version") {
    CHECK(vmfix::gfx_from_target_version(100100) == "gfx1010");
    CHECK(vmfix::gfx_from_target_version(100101) == "gfx1011");
    CHECK(vmfix::gfx_from_target_version(100102) == "gfx1012");
    CHECK(vmfix::gfx_from_target_version(90010) == "gfx90a");
    CHECK(vmfix::gfx_from_target_version(110001) == "gfx1101");
    CHECK(vmfix::gfx_from_target_version(0).empty());
    CHECK(vmfix::gfx_from_target_version(101600).empty());
    CHECK(vmfix::gfx_from_target_version(12345678).empty());
  }
  SECTION("module status") {
    CHECK(vmfix::parse_module_status("schema 1\nversion 1\nstate waiting\nmode off\n").ok());
    for (const char* bad : {"", "version 1\n", "schema x\n", "schema 1\nstate armed\nmode off\n",
                            "schema 1\nversion 1\nstate dancing\nmode off\n",
                            "schema 1\nversion 1\nstate armed\nmode off\nhook name\n",
                            "schema 1\nversion 1\nstate armed\nmode off\nkey two words\n"}) {
      INFO(bad);
      const auto r = vmfix::parse_module_status(bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == vmfix::Exit::kRuntime);
    }
  }
  SECTION("recent") {
    CHECK(vmfix::parse_module_recent("schema 1\n").ok());
    CHECK_FALSE(vmfix::parse_module_recent("schema 1\nrewrite seq\n").ok());
    CHECK_FALSE(vmfix::parse_module_recent("schema 1\nother a=b\n").ok());
  }
  SECTION("PCI ID table") {
    REQUIRE(vmfix::lookup_amd_pci_id(0x731f) != nullptr);
    CHECK(vmfix::lookup_amd_pci_id(0x7362)->gfx == std::string("gfx1011"));
    CHECK(vmfix::lookup_amd_pci_id(0x734f)->gfx == std::string("gfx1012"));
    CHECK_FALSE(vmfix::lookup_amd_pci_id(0x13fe)->rdna1);  // Cyan Skillfish: out of scope
    CHECK(vmfix::lookup_amd_pci_id(0x73bf) == nullptr);
  }
}
