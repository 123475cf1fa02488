// SPDX-License-Identifier: GPL-2.0 OR MIT
// doctor's advice: every step of every verdict class, with the exact commands.

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "doctor/advice.hpp"

namespace ad = vmfix::doctor::advice;
namespace es = vmfix::envscan;
namespace pe = vmfix::pyenv;
using Catch::Matchers::ContainsSubstring;

namespace {

es::Finding bashrc_override(const std::string& value, es::Judgement j) {
  es::Finding f;
  f.name = "HSA_OVERRIDE_GFX_VERSION";
  f.value = value;
  f.place = es::Place::kShellStartup;
  f.file = "/home/alice/.bashrc";
  f.line = 12;
  f.applies = "interactive bash shells of alice";
  f.user = "alice";
  f.judgement = j;
  f.why = "why";
  return f;
}

pe::TorchInstall venv_torch(std::vector<std::string> targets) {
  pe::TorchInstall t;
  t.env_prefix = "/home/alice/sd/venv";
  t.env_kind = pe::EnvKind::kVirtualenv;
  t.version.version = "2.5.1+rocm6.2";
  t.build = "rocm";
  t.targets_known = true;
  t.targets = std::move(targets);
  return t;
}

ad::Facts rx5700_bookworm() {
  ad::Facts f;
  f.gfx = "gfx1010";
  f.distro_id = "debian";
  f.version_id = "12";
  f.env = {bashrc_override("10.3.0", es::Judgement::kWrongForGpu)};
  f.torch = {venv_torch({"gfx1030", "gfx1100"})};
  return f;
}

std::vector<std::string> all_commands(const std::vector<ad::Step>& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps)
    for (const auto& c : s.commands) out.push_back(c);
  return out;
}

constexpr const char* kTorchCmd =
    "/home/alice/sd/venv/bin/python -m pip install --index-url https://nightly.repo.amd.com/rocm/whl-next/ "
    "\"torch[device-gfx1010]\" \"torchvision[device-gfx1010]\" torchaudio";

}  // namespace

TEST_CASE("isa_mismatch on Debian 12: remove the override where it is set, native torch, no Debian package claimed") {
  const auto steps = ad::steps_for("isa_mismatch", rx5700_bookworm());
  REQUIRE(steps.size() == 4);
  CHECK_THAT(steps[0].what, ContainsSubstring("HSA_OVERRIDE_GFX_VERSION=10.3.0 is set at /home/alice/.bashrc:12"));
  CHECK(steps[0].commands == std::vector<std::string>{"sed -i '12s/^/# /' /home/alice/.bashrc"});
  CHECK(steps[1].commands == std::vector<std::string>{"unset HSA_OVERRIDE_GFX_VERSION"});
  CHECK_THAT(steps[2].what, ContainsSubstring("carries code for gfx1030 gfx1100 but none for gfx1010"));
  CHECK(steps[2].commands ==
        std::vector<std::string>{kTorchCmd, "/home/alice/sd/venv/bin/python -c 'import torch; print(torch.__version__, "
                                            "torch.cuda.get_arch_list())'"});
  CHECK_THAT(steps[3].what, ContainsSubstring("Debian 12 (bookworm): none of its ROCm libraries carries gfx1010 code"));
  CHECK(steps[3].commands.empty());
}

TEST_CASE("Debian 13 gets the measured packages; other releases get the isa command") {
  auto f = rx5700_bookworm();
  f.version_id = "13";
  auto steps = ad::distro_package_steps(f);
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].commands ==
        std::vector<std::string>{"sudo apt install librocblas0 librocsparse0 librocsolver0 librocrand1 librocfft0 librccl1"});
  f.distro_id = "ubuntu";
  f.version_id = "24.04";
  steps = ad::distro_package_steps(f);
  REQUIRE(steps.size() == 1);
  CHECK_THAT(steps[0].what, ContainsSubstring("ubuntu 24.04 were not measured"));
  CHECK(steps[0].commands == std::vector<std::string>{"rdna1-vmfix isa --list-only /usr/lib/x86_64-linux-gnu/librocblas.so.* "
                                                      "/usr/lib/x86_64-linux-gnu/librocsparse.so.*"});
}

TEST_CASE("invalid override: set and invalid, removed where it is set") {
  auto f = rx5700_bookworm();
  f.env = {bashrc_override("banana", es::Judgement::kInvalid)};
  const auto steps = ad::steps_for("override_invalid", f);
  REQUIRE(steps.size() == 2);
  CHECK_THAT(steps[0].what, ContainsSubstring("HSA_OVERRIDE_GFX_VERSION=banana is set at /home/alice/.bashrc:12"));
  CHECK(steps[0].commands == std::vector<std::string>{"sed -i '12s/^/# /' /home/alice/.bashrc"});
}

TEST_CASE("an override only in the log: where to look") {
  auto f = rx5700_bookworm();
  f.env.clear();
  const auto steps = ad::steps_for("isa_mismatch", f);
  REQUIRE(!steps.empty());
  CHECK(steps[0].commands == std::vector<std::string>{"grep -rn --exclude-dir=.cache HSA_OVERRIDE_GFX_VERSION ~ /etc 2>/dev/null"});
}

TEST_CASE("running process and systemd findings; duplicates once; ok overrides untouched") {
  auto f = rx5700_bookworm();
  es::Finding p;
  p.name = "HSA_OVERRIDE_GFX_VERSION";
  p.value = "10.3.0";
  p.place = es::Place::kRunningProcess;
  p.file = "/proc/4242/environ";
  p.applies = "process 4242 (python3), running now with /dev/kfd open";
  p.judgement = es::Judgement::kWrongForGpu;
  es::Finding ok = bashrc_override("10.1.0", es::Judgement::kOk);
  ok.file = "/home/alice/.profile";
  f.env = {bashrc_override("10.3.0", es::Judgement::kWrongForGpu), bashrc_override("10.3.0", es::Judgement::kWrongForGpu), p, ok};
  const auto steps = ad::remove_override_steps(f);
  REQUIRE(steps.size() == 3);
  CHECK(steps[0].commands.size() == 1);
  CHECK_THAT(steps[1].what, ContainsSubstring("process 4242 (python3)"));
  CHECK_THAT(steps[1].what, ContainsSubstring("start it again without the variable"));
  CHECK(steps[1].commands.empty());
  CHECK(steps[2].commands == std::vector<std::string>{"unset HSA_OVERRIDE_GFX_VERSION"});
}

TEST_CASE("missing_code_object: the library, torch in a system site-packages gets a venv, gfx1012 extra") {
  ad::Facts f;
  f.gfx = "gfx1012";
  f.distro_id = "debian";
  f.version_id = "13";
  auto t = venv_torch({"gfx1030"});
  t.env_kind = pe::EnvKind::kSystem;
  t.env_prefix = "/usr";
  f.torch = {t};
  f.lacking_libraries = {"/opt/rocm-6.2.0/lib/librocblas.so.4"};
  const auto steps = ad::steps_for("missing_code_object", f);
  const auto cmds = all_commands(steps);
  const std::vector<std::string> want = {
      "rdna1-vmfix isa --list-only /opt/rocm-6.2.0/lib/librocblas.so.4",
      "python3 -m venv ~/rocm-torch",
      // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one command split over two lines
      "~/rocm-torch/bin/python -m pip install --index-url https://nightly.repo.amd.com/rocm/whl-next/ "
      "\"torch[device-gfx1012]\" \"torchvision[device-gfx1012]\" torchaudio",
      "~/rocm-torch/bin/python -c 'import torch; print(torch.__version__, torch.cuda.get_arch_list())'",
      "sudo apt install librocblas0 librocsparse0 librocsolver0 librocrand1 librocfft0 librccl1",
  };
  CHECK(cmds == want);
  CHECK_THAT(steps.back().what, ContainsSubstring("Do not set HSA_OVERRIDE_GFX_VERSION=10.3.0 instead"));
}

TEST_CASE("a torch that carries gfx1010 code, or a CUDA build, gets no pip step; none at all gets one") {
  auto f = rx5700_bookworm();
  f.torch = {venv_torch({"gfx1010", "gfx1030"})};
  CHECK(ad::native_torch_steps(f).empty());
  f.torch = {};
  const auto steps = ad::native_torch_steps(f);
  REQUIRE(steps.size() == 1);
  CHECK_THAT(steps[0].what, ContainsSubstring("No ROCm build of PyTorch was found"));
  CHECK(steps[0].commands.size() == 2);
}

TEST_CASE("every other verdict ends with exact commands") {
  ad::Facts f = rx5700_bookworm();
  auto cmds = [&](const std::string& cls) { return all_commands(ad::steps_for(cls, f)); };
  CHECK(cmds("vm_fault_bad_address") ==
        std::vector<std::string>{"sed -i '12s/^/# /' /home/alice/.bashrc", "unset HSA_OVERRIDE_GFX_VERSION", kTorchCmd,
                                 // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one command, two lines
                                 "/home/alice/sd/venv/bin/python -c 'import torch; print(torch.__version__, "
                                 "torch.cuda.get_arch_list())'",
                                 "rdna1-vmfix check", "sudo journalctl -k -b --no-pager | rdna1-vmfix faults -"});
  CHECK(cmds("vm_fault_other") ==
        std::vector<std::string>{"sudo apt update && sudo apt install --only-upgrade linux-image-amd64 firmware-amd-graphics",
                                 "sudo journalctl -k -b --no-pager | rdna1-vmfix faults -",
                                 "rdna1-vmfix report > rdna1-vmfix-report.md"});
  CHECK(cmds("hang_or_reset") ==
        std::vector<std::string>{"sudo apt update && sudo apt install --only-upgrade linux-image-amd64 firmware-amd-graphics",
                                 "sudo journalctl -k -b -1 --no-pager | rdna1-vmfix faults -",
                                 "rdna1-vmfix report > rdna1-vmfix-report.md"});
  CHECK(cmds("out_of_memory") ==
        std::vector<std::string>{"cat /sys/class/drm/card*/device/mem_info_vram_used "
                                 "/sys/class/drm/card*/device/mem_info_vram_total"});
  CHECK(cmds("pcie_atomics") == std::vector<std::string>{"sudo dmesg | grep -i -E 'atomic|kfd'"});
  CHECK(cmds("unknown") == std::vector<std::string>{"sudo journalctl -k -b --no-pager | rdna1-vmfix faults -",
                                                    "rdna1-vmfix report > rdna1-vmfix-report.md"});
  CHECK(cmds("mtype_cc_seen") ==
        std::vector<std::string>{"sudo rdna1-vmfix check --compare-modes", "cat /sys/kernel/rdna1_vmfix/counters"});
  CHECK(cmds("module_error") == std::vector<std::string>{"sudo apt install --reinstall rdna1-vmfix rdna1-vmfix-dkms"});
  CHECK(cmds("no_rdna1_gpu") == std::vector<std::string>{"lspci -nnk -d 1002:"});
  CHECK(cmds("healthy") == std::vector<std::string>{"rdna1-vmfix report > rdna1-vmfix-report.md"});
  f.distro_id = "ubuntu";
  CHECK(cmds("hang_or_reset").front() == "sudo apt update && sudo apt install --only-upgrade linux-generic linux-firmware");
  f.distro_id = "arch";
  CHECK(ad::steps_for("vm_fault_other", f).front().commands.empty());
}

TEST_CASE("no step tells the user to run doctor") {
  ad::Facts f = rx5700_bookworm();
  f.lacking_libraries = {"/usr/lib/x86_64-linux-gnu/librocrand.so.1"};
  for (const char* cls : {"isa_mismatch", "override_invalid", "missing_code_object", "vm_fault_bad_address", "vm_fault_other",
                          "hang_or_reset", "out_of_memory", "pcie_atomics", "unknown", "mtype_cc_seen", "module_error",
                          "no_rdna1_gpu", "healthy"}) {
    INFO(cls);
    const auto steps = ad::steps_for(cls, f);
    CHECK_FALSE(steps.empty());
    for (const auto& s : steps) {
      CHECK(s.what.find("rdna1-vmfix doctor") == std::string::npos);
      for (const auto& c : s.commands) CHECK(c.find("doctor") == std::string::npos);
    }
  }
  const auto text = ad::steps_text(ad::steps_for("healthy", f));
  CHECK(text == "  1. Nothing to fix; to keep or share a record of this machine\n"
                "       rdna1-vmfix report > rdna1-vmfix-report.md\n");
  const auto j = ad::steps_json(ad::steps_for("pcie_atomics", f));
  CHECK(j[0]["commands"][0] == "sudo dmesg | grep -i -E 'atomic|kfd'");
}
