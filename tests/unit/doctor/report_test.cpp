// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix report on fake sysfs trees: content, redaction, census cache, Markdown = JSON.

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "diag/fake_sysfs.hpp"
#include "common/json_stamp.hpp"
#include "report/report.hpp"
#include "status/status.hpp"

using vmfix::HostFiles;
using vmfix::test::FakeSysfs;
namespace rp = vmfix::report;
using Catch::Matchers::ContainsSubstring;

namespace {

constexpr const char* kFaultLog =
    "[  812.402113] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 pasid:32769)\n"
    "[  812.402125] amdgpu 0000:03:00.0: amdgpu:  in process python3 pid 4242 thread python3 pid 4242)\n"
    "[  812.402129] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x00007f1c2a000000 from client 0x1b (UTCL2)\n"
    "[  812.402133] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00840C51\n";

// An RX 5700 XT machine owned by alice, host "alice-desktop", as a fake root.
struct Machine {
  FakeSysfs root;
  Machine() {
    root.add_cpu_node(0);
    root.add_gpu(1, 3, 0x731f, 100100, 128);
    root.add_module("armed", "ok");
    const std::string dev = "/sys/bus/pci/devices/0000:03:00.0";
    root.write(dev + "/fw_version/mec_fw_version", "0x00000093\n");
    root.write(dev + "/fw_version/smc_fw_version", "0x002a3e00\n");
    root.write(dev + "/vbios_version", "113-D1820201-101\n");
    root.write(dev + "/subsystem_vendor", "0x1da2\n");
    root.write(dev + "/subsystem_device", "0xe409\n");
    root.write(dev + "/revision", "0xc1\n");
    root.write(dev + "/current_link_speed", "16.0 GT/s PCIe\n");
    root.write(dev + "/current_link_width", "16\n");
    root.write(dev + "/serial_number", "SN7XQ31415926\n");
    root.write(dev + "/unique_id", "a1b2c3d4e5f60718\n");
    root.write("/etc/os-release", "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nID=ubuntu\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\n");
    root.write("/proc/sys/kernel/osrelease", "6.8.0-45-generic\n");
    root.write("/proc/version", "Linux version 6.8.0-45-generic (buildd@lcy02-amd64-075) #45-Ubuntu SMP\n");
    root.write("/proc/sys/kernel/hostname", "alice-desktop\n");
    root.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\n");
    root.write("/home/alice/.bashrc", "export HSA_OVERRIDE_GFX_VERSION=10.3.0\n");
    root.write("/home/alice/sd/venv/pyvenv.cfg", "home = /usr/bin\n");
    root.write("/home/alice/sd/venv/lib/python3.11/site-packages/torch/__init__.py", "");
    root.write("/home/alice/sd/venv/lib/python3.11/site-packages/torch/version.py",
               "__version__ = '2.5.1+rocm6.2'\ncuda = None\nhip = '6.2.41133-dd7f95766'\n");
    root.write("/home/alice/sd/venv/lib/python3.11/site-packages/torch/lib/libtorch_hip.so", "ELF");
    root.write("/var/lib/dpkg/status",
               "Package: libamdhip64-5\nStatus: install ok installed\nVersion: 5.7.1-6\n\n"
               "Package: librocblas0\nStatus: deinstall ok config-files\nVersion: 5.5.1+dfsg-7\n\n"
               "Package: bash\nStatus: install ok installed\nVersion: 5.2\n");
    root.write("/opt/rocm-6.2.0/.info/version", "6.2.0-66\n");
    root.mkdir("/home/alice/sd/venv/lib/python3.11/site-packages/rocm_sdk_core-7.0.0rc20250923.dist-info");
    root.mkdir("/home/alice/sd/venv/lib/python3.11/site-packages/amd_torch_device_gfx1010-2.9.0.dist-info");
    root.mkdir("/home/alice/sd/venv/lib/python3.11/site-packages/numpy-2.1.0.dist-info");
  }

  rp::Input input(bool with_census = false) const {
    const HostFiles host(root.root());
    rp::Input in;
    in.tool_version = "0.1.0";
    in.tool_commit = "abc1234";
    in.generated = "2026-12-01T08:00:00Z";
    in.system = rp::read_system(host);
    in.rocm = rp::read_rocm(host);
    in.rocm.wheels = rp::read_rocm_wheels(host, vmfix::pyenv::find_python_envs(host, {"alice", "/home/alice", {}, false}));
    vmfix::envscan::Options eo;
    eo.env = {{"HOME", "/root"}, {"SUDO_USER", "alice"}};
    eo.euid = 0;
    eo.gfx = "gfx1010";
    in.env = vmfix::envscan::scan(host, eo);
    const auto envs = vmfix::pyenv::find_python_envs(host, {"alice", "/home/alice", {}, true});
    in.torch = vmfix::pyenv::find_torch(host, envs, [](const std::string&) {
      vmfix::doctor::Targets t;
      t.known = true;
      t.targets = {"gfx1030"};
      return t;
    });
    vmfix::doctor::Input din;
    din.status = vmfix::collect_status(vmfix::Sysfs(root.root()));
    din.kernel_release = in.system.kernel_release;
    din.env = {{"HSA_OVERRIDE_GFX_VERSION", "10.3.0"}};
    auto rep = vmfix::faults::parse_log(kFaultLog, {});
    REQUIRE(rep);
    din.faults = *rep;
    din.log_source = "/dev/kmsg";
    in.doctor = vmfix::doctor::diagnose(din);
    for (const auto& g : in.doctor.input.status.gpus) in.gpu_sysfs.push_back(rp::read_gpu_sysfs(host, g.bdf));
    if (with_census)
      root.write("/var/lib/rdna1-vmfix/census.json",
                 R"({"schema":1,"command":"census","conclusion":"no allocation kind is mapped CC on this machine",)"
                 R"("exit_code":0,"node":{"gfx":"gfx1010","bdf":"0000:03:00.0"},)"
                 R"("run":{"date":"2026-11-30T21:00:00Z","kernel":"6.8.0-45-generic","rocm":"6.2.0","libhsakmt":"6.2.0"}})");
    in.census = rp::read_census(host, rp::census_state_dir({}));
    rp::add_login_users(host, in);
    return in;
  }
};

}  // namespace

TEST_CASE("report: every section from a fake RX 5700 XT machine") {
  const Machine m;
  const auto doc = rp::build(m.input(true), {});
  CHECK(doc["schema"] == rp::kSchema);
  CHECK(doc["command"] == "report");
  CHECK(doc["tool"]["version"] == "0.1.0");
  CHECK(doc["tool"]["commit"] == "abc1234");
  CHECK(doc["system"]["distribution"] == "Ubuntu 24.04.1 LTS");
  CHECK(doc["system"]["codename"] == "noble");
  CHECK(doc["system"]["kernel"] == "6.8.0-45-generic");
  REQUIRE(doc["gpus"].size() == 1);
  const auto& g = doc["gpus"][0];
  CHECK(g["pci_id"] == "1002:731f");
  CHECK(g["gfx"] == "gfx1010");
  CHECK(g["driver"] == "amdgpu");
  CHECK(g["firmware"]["mec"] == "0x00000093");
  CHECK(g["firmware"]["smc"] == "0x002a3e00");
  CHECK(g["vbios"] == "113-D1820201-101");
  CHECK(g["subsystem"] == "1da2:e409");
  CHECK(g["link"] == "16.0 GT/s PCIe x16");
  CHECK(doc["module"]["status"]["state"] == "armed");
  CHECK(doc["module"]["counters"]["devices"].size() == 1);
  REQUIRE(doc["rocm"]["packages"].size() == 1);  // config-files only and non-ROCm packages are left out
  CHECK(doc["rocm"]["packages"][0]["name"] == "libamdhip64-5");
  CHECK(doc["rocm"]["opt_rocm"][0]["version"] == "6.2.0-66");
  REQUIRE(doc["rocm"]["wheels"].size() == 2);
  CHECK(doc["rocm"]["wheels"][0]["name"] == "<home>/sd/venv: amd_torch_device_gfx1010");
  CHECK(doc["rocm"]["wheels"][0]["version"] == "2.9.0");
  CHECK(doc["rocm"]["wheels"][1]["version"] == "7.0.0rc20250923");
  REQUIRE(doc["pytorch"].size() == 1);
  CHECK(doc["pytorch"][0]["version"] == "2.5.1+rocm6.2");
  CHECK(doc["pytorch"][0]["hip"] == "6.2.41133-dd7f95766");
  CHECK(doc["doctor"]["verdict"]["class"] == "isa_mismatch");
  CHECK(doc["faults"]["read"] == true);
  CHECK(doc["faults"]["total"] == 1);
  CHECK(doc["census"]["present"] == true);
  CHECK(doc["census"]["conclusion"] == "no allocation kind is mapped CC on this machine");
  CHECK(doc["census"]["date"] == "2026-11-30T21:00:00Z");
  CHECK(doc["census"]["kernel"] == "6.8.0-45-generic");
  CHECK(doc["check"].is_null());
  const auto& env = doc["environment"]["findings"];
  REQUIRE(env.size() == 1);
  CHECK(env[0]["line"] == 1);
  CHECK(env[0]["judgement"] == "wrong_for_gpu");
}

TEST_CASE("report: user names, homes, host names and serial numbers are redacted by default, and counted") {
  const Machine m;
  const auto doc = rp::build(m.input(), {});
  const std::string j = doc.dump();
  const std::string md = rp::markdown(doc);
  for (const char* secret : {"alice", "alice-desktop", "/home/alice", "SN7XQ31415926", "a1b2c3d4e5f60718"}) {
    INFO(secret);
    CHECK(j.find(secret) == std::string::npos);
    CHECK(md.find(secret) == std::string::npos);
  }
  CHECK(doc["redaction"]["enabled"] == true);
  CHECK(doc["redaction"]["replaced"]["serial_numbers"] == 2);
  CHECK(doc["redaction"]["replaced"]["host_names"].get<int>() >= 1);
  CHECK(doc["redaction"]["replaced"]["home_paths"].get<int>() >= 2);
  CHECK(doc["redaction"]["replaced"]["user_names"].get<int>() >= 1);
  CHECK(doc["system"]["hostname"] == "<host>");
  CHECK(doc["environment"]["findings"][0]["file"] == "<home>/.bashrc");
  CHECK(doc["pytorch"][0]["dir"] == "<home>/sd/venv/lib/python3.11/site-packages/torch");
  CHECK(doc["gpus"][0]["serial_numbers"] == nlohmann::json::array({"<serial>", "<serial>"}));
  // What is not secret survives: versions, the kernel's build host is not the user's host.
  CHECK(doc["tool"]["commit"] == "abc1234");
  CHECK(doc["system"]["kernel_build"] == "Linux version 6.8.0-45-generic (buildd@lcy02-amd64-075) #45-Ubuntu SMP");
  CHECK_THAT(md, ContainsSubstring("Redacted: "));
  CHECK_THAT(md, ContainsSubstring("2 serial number(s)"));
}

TEST_CASE("report --no-redact keeps everything and says so") {
  const Machine m;
  const auto doc = rp::build(m.input(), {false});
  const std::string j = doc.dump();
  CHECK(j.find("alice-desktop") != std::string::npos);
  CHECK(j.find("SN7XQ31415926") != std::string::npos);
  CHECK(j.find("/home/alice/.bashrc") != std::string::npos);
  CHECK(doc["redaction"]["enabled"] == false);
  CHECK_THAT(rp::markdown(doc), ContainsSubstring("Not redacted"));
}

TEST_CASE("report Markdown: every section, each from the JSON document") {
  const Machine m;
  const auto doc = rp::build(m.input(true), {});
  const std::string md = rp::markdown(doc);
  for (const char* h : {"# rdna1-vmfix report", "## System", "## Doctor", "## GPUs", "## rdna1_vmfix module", "## ROCm",
                        "## PyTorch", "## Environment", "## Faults (kernel log)", "## Census", "## Quick check"}) {
    INFO(h);
    CHECK_THAT(md, ContainsSubstring(h));
  }
  CHECK_THAT(md, ContainsSubstring("**Verdict: isa_mismatch**"));
  CHECK_THAT(md, ContainsSubstring("| Distribution | Ubuntu 24.04.1 LTS |"));
  CHECK_THAT(md, ContainsSubstring("`HSA_OVERRIDE_GFX_VERSION=10.3.0` at `<home>/.bashrc:1`"));
  CHECK_THAT(md, ContainsSubstring("| 2.5.1+rocm6.2 | 6.2.41133-dd7f95766 | - | gfx1030 |"));
  CHECK_THAT(md, ContainsSubstring("firmware: mec 0x00000093, smc 0x002a3e00"));
  CHECK_THAT(md, ContainsSubstring("no allocation kind is mapped CC on this machine (run 2026-11-30T21:00:00Z"));
  CHECK_THAT(md, ContainsSubstring("Not run (`rdna1-vmfix report --check` runs it)"));
}

TEST_CASE("census cache: absent, and not a census document") {
  FakeSysfs root;
  const HostFiles host(root.root());
  auto c = rp::read_census(host, "/var/lib/rdna1-vmfix");
  CHECK_FALSE(c.present);
  CHECK(c.path == "/var/lib/rdna1-vmfix/census.json");
  root.write("/state/census.json", "{\"schema\":1,\"command\":\"status\"}");
  c = rp::read_census(host, rp::census_state_dir({{"VMFIX_STATE_DIR", "/state"}}));
  CHECK(c.present);
  CHECK(c.error == "not a census result document");
  root.write("/state/census.json", "{not json");
  CHECK(rp::read_census(host, "/state").error == "not a census result document");
}

TEST_CASE("redactor: whole words only, home paths at path boundaries, system names kept") {
  rp::Redactor r;
  r.add(rp::Secret::kUserName, "al");
  r.add(rp::Secret::kUserName, "root");
  r.add(rp::Secret::kHomePath, "/home/al");
  r.add(rp::Secret::kHostName, "x");  // too short to redact safely
  CHECK(r.apply("/home/al/.bashrc and /home/alice/x, user al, also 'al' but not alpha or metal") ==
        "<home>/.bashrc and /home/alice/x, user <user>, also '<user>' but not alpha or metal");
  CHECK(r.apply("root owns /root") == "root owns /root");
  CHECK(r.summary()["home_paths"] == 1);
  CHECK(r.summary()["user_names"] == 2);
}

TEST_CASE("os-release and dpkg status parsing") {
  const auto os = rp::parse_os_release("# comment\nNAME='Debian GNU/Linux'\nVERSION_ID=\"12\"\nID=debian\nbroken\n");
  CHECK(os.at("NAME") == "Debian GNU/Linux");
  CHECK(os.at("VERSION_ID") == "12");
  CHECK(os.at("ID") == "debian");
  CHECK(os.size() == 3);
  const auto pk = rp::parse_dpkg_status("Package: librocrand1\nStatus: install ok installed\nVersion: 5.3.3-4\n",
                                        {"librocrand"});
  REQUIRE(pk.size() == 1);
  CHECK(pk[0].version == "5.3.3-4");
}

TEST_CASE("every JSON document carries the tool, its version and the schema") {
  nlohmann::json d = {{"gpus", nlohmann::json::array()}};
  vmfix::stamp_document(d, "9.9.9");
  CHECK(d["schema"] == 1);
  CHECK(d["tool"]["name"] == "rdna1-vmfix");
  CHECK(d["tool"]["version"] == "9.9.9");
  nlohmann::json r = {{"schema", 3}, {"tool", {{"commit", "abc"}}}};
  vmfix::stamp_document(r, "9.9.9");
  CHECK(r["schema"] == 3);
  CHECK(r["tool"]["commit"] == "abc");
  CHECK(r["tool"]["version"] == "9.9.9");
  nlohmann::json line = nlohmann::json::array();
  vmfix::stamp_document(line, "9.9.9");
  CHECK(line.empty());
}
