// SPDX-License-Identifier: GPL-2.0 OR MIT
// doctor end to end over a fake root: simulated sudo finds the override in SUDO_USER's ~/.bashrc
// with file and line; bad --lib-dir/--python are usage errors; verdict texts without repeats.

#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkstemp
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "diag/fake_sysfs.hpp"
#include "doctor/gather.hpp"

using vmfix::test::FakeSysfs;
namespace dr = vmfix::doctor;
using Catch::Matchers::ContainsSubstring;

namespace {

// An RX 5700 XT (gfx1010) machine; alice runs `sudo rdna1-vmfix doctor`.
struct SudoMachine {
  FakeSysfs root;
  explicit SudoMachine(const std::string& bashrc_line = "export HSA_OVERRIDE_GFX_VERSION=10.3.0") {
    root.add_cpu_node(0);
    root.add_gpu(1, 3, 0x731f, 100100, 128);
    root.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n");
    root.write("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n");
    root.write("/root/.bashrc", "PS1='# '\n");
    root.write("/home/alice/.bashrc", "# ~/.bashrc\nalias ll='ls -l'\n" + bashrc_line + "\n");
  }
  [[nodiscard]] dr::GatherOptions sudo_options() const {
    dr::GatherOptions o;
    o.root = root.root();
    o.env = {{"HOME", "/root"}, {"USER", "root"}, {"SUDO_USER", "alice"}, {"PATH", "/usr/sbin:/usr/bin"}};
    o.euid = 0;
    o.scanner = [](const std::string&) {
      vmfix::doctor::Targets t;
      t.known = true;
      t.targets = {"gfx1030", "gfx1100"};
      return t;
    };
    return o;
  }
};

}  // namespace

TEST_CASE("simulated sudo: doctor reports the override of SUDO_USER's ~/.bashrc with file and line") {
  const SudoMachine m;
  auto x = dr::gather(m.sudo_options());
  REQUIRE(x);
  const auto& v = x->base.verdict;
  CHECK(v.cls == "isa_mismatch");
  CHECK(x->base.exit_code == 1);
  CHECK_THAT(v.summary, ContainsSubstring("HSA_OVERRIDE_GFX_VERSION=10.3.0 at /home/alice/.bashrc:3"));
  CHECK_THAT(v.summary, ContainsSubstring("gfx1030 code on this gfx1010 GPU"));
  REQUIRE_FALSE(x->steps.empty());
  CHECK(x->steps[0].commands == std::vector<std::string>{"sed -i '3s/^/# /' /home/alice/.bashrc"});
  const std::string text = dr::extended_text(*x);
  CHECK_THAT(text, ContainsSubstring("User:       alice (SUDO_USER)"));
  CHECK_THAT(text, ContainsSubstring("Env:        HSA_OVERRIDE_GFX_VERSION=10.3.0 at /home/alice/.bashrc:3 [wrong_for_gpu]"));
  CHECK_THAT(text, ContainsSubstring("Verdict: isa_mismatch: HSA_OVERRIDE_GFX_VERSION=10.3.0 at /home/alice/.bashrc:3"));
  CHECK_THAT(text, ContainsSubstring("sed -i '3s/^/# /' /home/alice/.bashrc"));
  CHECK(text.find("rdna1-vmfix doctor") == std::string::npos);
  const auto j = dr::extended_json(*x);
  CHECK(j["verdict"]["class"] == "isa_mismatch");
  CHECK(j["environment_sources"]["findings"][0]["file"] == "/home/alice/.bashrc");
  CHECK(j["environment_sources"]["findings"][0]["line"] == 3);
  CHECK(j["verdict"]["steps"][0]["commands"][0] == "sed -i '3s/^/# /' /home/alice/.bashrc");
}

TEST_CASE("simulated sudo: `banana` is set and invalid, never 'not set'") {
  const SudoMachine m("export HSA_OVERRIDE_GFX_VERSION=banana");
  auto x = dr::gather(m.sudo_options());
  REQUIRE(x);
  CHECK(x->base.verdict.cls == "override_invalid");
  CHECK(x->base.exit_code == 1);
  CHECK_THAT(x->base.verdict.summary, ContainsSubstring("HSA_OVERRIDE_GFX_VERSION=banana at /home/alice/.bashrc:3"));
  CHECK_THAT(x->base.verdict.summary, ContainsSubstring("is set but invalid"));
  const std::string text = dr::extended_text(*x);
  CHECK(text.find("not set") == std::string::npos);
}

TEST_CASE("simulated sudo, nothing set anywhere: healthy, and it says where it looked") {
  const SudoMachine m("export EDITOR=vi");
  auto x = dr::gather(m.sudo_options());
  REQUIRE(x);
  CHECK(x->base.verdict.cls == "healthy");
  CHECK(x->base.exit_code == 0);
  const auto& ev = x->base.verdict.evidence;
  CHECK(std::any_of(ev.begin(), ev.end(), [](const std::string& e) {
    return e.find("not set in alice's start files") != std::string::npos;
  }));
  REQUIRE(x->steps.size() == 1);
  CHECK(x->steps[0].commands == std::vector<std::string>{"rdna1-vmfix report > rdna1-vmfix-report.md"});
}

TEST_CASE("a PyTorch without gfx101x code in alice's venv is the verdict when nothing else is wrong") {
  const SudoMachine m("export EDITOR=vi");
  m.root.write("/home/alice/ComfyUI/venv/pyvenv.cfg", "home = /usr/bin\n");
  const std::string site = "/home/alice/ComfyUI/venv/lib/python3.11/site-packages/torch";
  m.root.write(site + "/__init__.py", "");
  m.root.write(site + "/version.py", "__version__ = '2.6.0+rocm6.2.4'\nhip = '6.2.41134'\ncuda = None\n");
  m.root.write(site + "/lib/libtorch_hip.so", "ELF");
  auto x = dr::gather(m.sudo_options());
  REQUIRE(x);
  CHECK(x->base.verdict.cls == "missing_code_object");
  CHECK_THAT(x->base.verdict.evidence.front(),
             ContainsSubstring("PyTorch 2.6.0+rocm6.2.4 in /home/alice/ComfyUI/venv carries gfx1030 gfx1100 code, none for gfx1010"));
  bool pip = false;
  for (const auto& s : x->steps)
    for (const auto& c : s.commands)
      pip = pip || c.rfind("/home/alice/ComfyUI/venv/bin/python -m pip install --index-url", 0) == 0;
  CHECK(pip);
}

TEST_CASE("doctor options --lib-dir and --python that do not exist are usage errors (exit 2), never 'healthy, 0 libraries'") {
  const SudoMachine m;
  auto o = m.sudo_options();
  o.lib_dirs = {m.root.root() + "/no/such/dir"};
  auto x = dr::gather(o);
  REQUIRE_FALSE(x);
  CHECK(x.error().code == vmfix::Exit::kUsage);
  CHECK(x.error().context == "--lib-dir");
  o = m.sudo_options();
  o.python = m.root.root() + "/no/such/venv/bin/python";
  x = dr::gather(o);
  REQUIRE_FALSE(x);
  CHECK(x.error().code == vmfix::Exit::kUsage);
  CHECK(x.error().context == "--python");
  m.root.mkdir("/not-an-env");
  o.python = m.root.root() + "/not-an-env";
  x = dr::gather(o);
  REQUIRE_FALSE(x);
  CHECK_THAT(x.error().message, ContainsSubstring("is not a Python environment"));
  // An existing environment is searched alone.
  m.root.write("/envs/a/pyvenv.cfg", "");
  m.root.write("/envs/a/bin/python3", "");
  m.root.write("/envs/a/lib/python3.12/site-packages/torch/version.py", "__version__ = '2.7.0+cpu'\n");
  o.python = m.root.root() + "/envs/a/bin/python3";
  x = dr::gather(o);
  REQUIRE(x);
  REQUIRE(x->torch.size() == 1);
  CHECK(x->torch[0].version.version == "2.7.0+cpu");
}

TEST_CASE("fault verdicts do not repeat their class in the summary") {
  const SudoMachine m("export EDITOR=vi");
  std::string tmpl = (std::filesystem::temp_directory_path() / "vmfix-log-XXXXXX").string();
  const int fd = ::mkstemp(tmpl.data());
  REQUIRE(fd >= 0);
  ::close(fd);
  std::ofstream(tmpl) << "[  812.402113] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 pasid:32769)\n"
                         "[  812.402125] amdgpu 0000:03:00.0: amdgpu:  in process python3 pid 4242 thread python3 pid 4242)\n"
                         "[  812.402129] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x0000000000001000 from "
                         "client 0x1b (UTCL2)\n"
                         "[  812.402133] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00801031\n";
  auto o = m.sudo_options();
  o.log_path = tmpl;
  auto x = dr::gather(o);
  std::filesystem::remove(tmpl);
  REQUIRE(x);
  const auto& v = x->base.verdict;
  INFO(v.cls << ": " << v.summary);
  CHECK(v.cls != "healthy");
  CHECK_FALSE(v.summary.starts_with(v.cls + ":"));
  const std::string text = dr::extended_text(*x);
  CHECK(text.find(v.cls + ": " + v.cls + ":") == std::string::npos);
  CHECK_FALSE(x->steps.empty());
  CHECK(text.find("rdna1-vmfix doctor") == std::string::npos);
}

TEST_CASE("doctor includes the cached census result, and says when it was another kernel") {
  const SudoMachine m("export EDITOR=vi");
  m.root.write("/proc/sys/kernel/osrelease", "6.12.57+deb13-amd64\n");
  m.root.write("/var/lib/rdna1-vmfix/census.json",
               R"({"schema":1,"command":"census","conclusion":"no allocation kind is mapped CC on this machine",)"
               R"("exit_code":0,"run":{"date":"2026-11-30T21:00:00Z","kernel":"6.1.0-28-amd64","rocm":""}})");
  auto x = dr::gather(m.sudo_options());
  REQUIRE(x);
  const auto& n = x->base.notes;
  CHECK(std::any_of(n.begin(), n.end(), [](const std::string& s) {
    return s.find("census (run 2026-11-30T21:00:00Z on kernel 6.1.0-28-amd64") != std::string::npos &&
           s.find("no allocation kind is mapped CC") != std::string::npos && s.find("another kernel") != std::string::npos;
  }));
  CHECK(dr::extended_json(*x)["census"]["conclusion"] == "no allocation kind is mapped CC on this machine");
  // Never run: nothing claimed.
  const SudoMachine fresh("export EDITOR=vi");
  auto y = dr::gather(fresh.sudo_options());
  REQUIRE(y);
  CHECK(dr::extended_json(*y)["census"].is_null());
}

TEST_CASE("extend: module_signing keeps the signing steps; a healthy machine stays healthy without findings") {
  dr::Report r;
  r.verdict.cls = "module_signing";
  r.verdict.summary = "rdna1_vmfix cannot load: the DKMS key is not enrolled";
  r.verdict.advice = "1. sudo mokutil --import /var/lib/dkms/mok.pub 2. reboot and enrol the key in the MOK manager";
  r.exit_code = 1;
  vmfix::GpuInfo g;
  g.bdf = "0000:03:00.0";
  g.gfx = "gfx1010";
  g.rdna1 = true;
  r.input.status.gpus.push_back(g);
  auto x = dr::extend(r, {}, {}, {{"ID", "debian"}, {"VERSION_ID", "12"}});
  REQUIRE(x.steps.size() == 1);
  CHECK(x.steps[0].what == r.verdict.advice);
  CHECK(x.base.verdict.cls == "module_signing");
  r.verdict = {};
  r.verdict.cls = "healthy";
  r.verdict.summary = "no problem found";
  r.exit_code = 0;
  x = dr::extend(r, {}, {}, {});
  CHECK(x.base.verdict.cls == "healthy");
  CHECK(x.base.exit_code == 0);
  REQUIRE(x.steps.size() == 1);
  CHECK(x.steps[0].commands == std::vector<std::string>{"rdna1-vmfix report > rdna1-vmfix-report.md"});
}
