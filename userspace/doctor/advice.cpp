// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "doctor/advice.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/text.hpp"

namespace vmfix::doctor::advice {

namespace {

constexpr const char* kOverride = "HSA_OVERRIDE_GFX_VERSION";
// Decoding this boot's kernel log (journalctl works where /dev/kmsg is restricted).
constexpr const char* kDecodeBoot = "sudo journalctl -k -b --no-pager | rdna1-vmfix faults -";
constexpr const char* kShareReport = "rdna1-vmfix report > rdna1-vmfix-report.md";

// Debian releases and the packages measured to carry gfx1010 code (docs/isa.md).
struct Release {
  const char* id;
  const char* version_id;
  const char* name;
  const char* packages;  // "" = none of the measured packages carries gfx1010 code
  const char* measured;
};
constexpr Release kReleases[] = {
    {"debian", "12", "Debian 12 (bookworm)", "",
     "librocrand1 5.3.3-4 and librocsparse0 5.3.0+dfsg-2 carry gfx803/gfx900/gfx906/gfx908/gfx90a/gfx1030 code, no gfx1010 "
     "code"},
    {"debian", "13", "Debian 13 (trixie)", "librocblas0 librocsparse0 librocsolver0 librocrand1 librocfft0 librccl1",
     "librocblas0 5.5.1, librocsparse0 5.7.1, librocsolver0 5.5.1, librocrand1 5.7.1, librocfft0 6.1.2 and librccl1 5.4.3 "
     "carry gfx1010 code objects"},
};

std::string python_of(const pyenv::TorchInstall& t) {
  if (t.env_kind == pyenv::EnvKind::kVirtualenv || t.env_kind == pyenv::EnvKind::kConda) return t.env_prefix + "/bin/python";
  return {};
}

// Shell-quotes a path when it needs it.
std::string q(const std::string& s) {
  if (std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("/._-+:@%=,~").find(c) != std::string_view::npos;
      }))
    return s;
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string device_extra(const std::string& gfx) {
  // TheRock's extras exist for gfx1010, gfx1011 and gfx1012 (RELEASES.md); anything else gets gfx1010's name.
  return gfx == "gfx1011" || gfx == "gfx1012" ? "device-" + gfx : "device-gfx1010";
}

Step kernel_firmware_upgrade(const Facts& f) {
  if (f.distro_id == "ubuntu")
    return {"Update the kernel and the GPU firmware, then reboot", {"sudo apt update && sudo apt install --only-upgrade linux-generic linux-firmware"}};
  if (f.distro_id == "debian")
    return {"Update the kernel and the GPU firmware, then reboot",
            {"sudo apt update && sudo apt install --only-upgrade linux-image-amd64 firmware-amd-graphics"}};
  return {"Update the kernel and linux-firmware with the distribution's package manager, then reboot", {}};
}

}  // namespace

std::string torch_install_command(const std::string& python, const std::string& gfx) {
  const std::string x = device_extra(gfx);
  return fmt::format("{} -m pip install --index-url {} \"torch[{}]\" \"torchvision[{}]\" torchaudio", q(python), kTheRockIndex,
                     x, x);
}

std::vector<Step> remove_override_steps(const Facts& f) {
  std::vector<Step> out;
  std::set<std::string> seen;
  bool any = false;
  for (const auto& e : f.env) {
    if (e.name != kOverride || (e.judgement != envscan::Judgement::kWrongForGpu && e.judgement != envscan::Judgement::kInvalid))
      continue;
    any = true;
    const std::string cmd = envscan::removal_command(e);
    if (e.place == envscan::Place::kProcess) continue;  // covered by the last step
    if (!cmd.empty() && !seen.insert(cmd).second) continue;
    Step s;
    s.what = fmt::format("{}={} is set at {} ({}): {}", e.name, e.value, e.where(), e.applies, e.why);
    if (cmd.empty())
      s.what += "; end that process and start it again without the variable once its source is removed";
    else
      s.commands.push_back(cmd);
    out.push_back(std::move(s));
  }
  if (any) out.push_back({"Drop it from shells that are already open", {std::string("unset ") + kOverride}});
  return out;
}

std::vector<Step> native_torch_steps(const Facts& f) {
  std::vector<Step> out;
  if (f.gfx.empty()) return out;
  bool any_rocm = false;
  for (const auto& t : f.torch) {
    if (t.build != "rocm") continue;
    any_rocm = true;
    if (!t.targets_known || pyenv::carries_target(t, f.gfx)) continue;
    const std::string py = python_of(t);
    Step s;
    s.what = fmt::format("PyTorch {} in {} carries code for {} but none for {}; TheRock's multi-arch wheels have a "
                         "[{}] extra (its RELEASES.md; not tested here: no RDNA1 hardware)",
                         t.version.version, t.env_prefix, t.targets.empty() ? "no GPU" : fmt::format("{}", fmt::join(t.targets, " ")),
                         f.gfx, device_extra(f.gfx));
    if (!py.empty()) {
      s.commands.push_back(torch_install_command(py, f.gfx));
      s.commands.push_back(fmt::format("{} -c 'import torch; print(torch.__version__, torch.cuda.get_arch_list())'", q(py)));
    } else {
      s.what += "; leave the system's Python alone and use a virtualenv";
      s.commands.emplace_back("python3 -m venv ~/rocm-torch");
      s.commands.emplace_back(torch_install_command("~/rocm-torch/bin/python", f.gfx));
      s.commands.emplace_back("~/rocm-torch/bin/python -c 'import torch; print(torch.__version__, torch.cuda.get_arch_list())'");
    }
    out.push_back(std::move(s));
  }
  if (!any_rocm) {
    out.push_back({fmt::format("No ROCm build of PyTorch was found; TheRock's multi-arch wheels have a [{}] extra (its "
                               "RELEASES.md; PyTorch's own ROCm wheels are built without gfx101x targets)",
                               device_extra(f.gfx)),
                   {"python3 -m venv ~/rocm-torch", torch_install_command("~/rocm-torch/bin/python", f.gfx)}});
  }
  return out;
}

std::vector<Step> distro_package_steps(const Facts& f) {
  if (f.gfx.empty()) return {};
  for (const auto& r : kReleases) {
    if (f.distro_id != r.id || f.version_id != r.version_id) continue;
    if (*r.packages == '\0')
      return {{fmt::format("{}: none of its ROCm libraries carries gfx1010 code (measured: {}); its packages will not "
                           "run natively on {}. Debian 13 (trixie) ones do.",
                           r.name, r.measured, f.gfx),
               {}}};
    return {{fmt::format("{}: these packages carry gfx1010 code objects, which Debian's HIP runtime also loads on "
                         "gfx1011/gfx1012 (measured: {})",
                         r.name, r.measured),
             {fmt::format("sudo apt install {}", r.packages)}}};
  }
  return {{fmt::format("The ROCm packages of {} {} were not measured by this project; list what a library carries:",
                       f.distro_id.empty() ? "this distribution" : f.distro_id, f.version_id),
           {"rdna1-vmfix isa --list-only /usr/lib/x86_64-linux-gnu/librocblas.so.* /usr/lib/x86_64-linux-gnu/librocsparse.so.*"}}};
}

// The classes whose steps depend on nothing doctor found: one row each (nullptr: not one of them).
const std::vector<Step>* fixed_steps(const std::string& cls) {
  static const std::map<std::string, std::vector<Step>, std::less<>> kFixed = {
      {"out_of_memory",
       {{"See how much VRAM is in use and how much there is (bytes)",
         {"cat /sys/class/drm/card*/device/mem_info_vram_used /sys/class/drm/card*/device/mem_info_vram_total"}}}},
      {"pcie_atomics",
       {{"See what the kernel says about PCIe atomics and KFD", {"sudo dmesg | grep -i -E 'atomic|kfd'"}}}},
      {"unknown",
       {{"Decode every fault of this boot", {kDecodeBoot}},
        {"Rerun the failing program with ROCm's log on (AMD_LOG_LEVEL=3) and attach a report", {kShareReport}}}},
      {"mtype_cc_seen",
       {{"Compare modes audit and enforce on the harness (as root)", {"sudo rdna1-vmfix check --compare-modes"}},
        {"Record the counters for the report", {"cat /sys/kernel/rdna1_vmfix/counters"}}}},
      {"module_error",
       {{"Reinstall matching versions of the module and the tool",
         {"sudo apt install --reinstall rdna1-vmfix rdna1-vmfix-dkms"}}}},
      {"no_rdna1_gpu", {{"List the AMD PCI devices and their drivers", {"lspci -nnk -d 1002:"}}}},
      {"healthy", {{"Nothing to fix; to keep or share a record of this machine", {kShareReport}}}},
  };
  const auto it = kFixed.find(cls);
  return it == kFixed.end() ? nullptr : &it->second;
}

std::vector<Step> steps_for(const std::string& cls, const Facts& f) {
  std::vector<Step> out;
  auto add = [&](std::vector<Step> more) {
    for (auto& s : more) out.push_back(std::move(s));
  };
  if (cls == "isa_mismatch" || cls == "override_invalid") {
    add(remove_override_steps(f));
    if (out.empty())  // the log shows an override that no file doctor reads sets
      out.push_back({"The override is set where doctor could not look (the program's own launcher?): find it",
                     {"grep -rn --exclude-dir=.cache HSA_OVERRIDE_GFX_VERSION ~ /etc 2>/dev/null"}});
    if (cls == "isa_mismatch") {
      add(native_torch_steps(f));
      add(distro_package_steps(f));
    }
  } else if (cls == "missing_code_object") {
    for (const auto& l : f.lacking_libraries)
      out.push_back({"See which targets it carries", {"rdna1-vmfix isa --list-only " + q(l)}});
    add(native_torch_steps(f));
    add(distro_package_steps(f));
    out.push_back({fmt::format("Do not set {}=10.3.0 instead: gfx1030 code is not {} code", kOverride, f.gfx.empty() ? "gfx101x" : f.gfx), {}});
  } else if (cls == "vm_fault_bad_address") {
    add(remove_override_steps(f));
    add(native_torch_steps(f));
    out.push_back({"Run the convolution harness: a failure there is not your application's bug", {"rdna1-vmfix check"}});
    out.push_back({"Decode every fault of this boot", {kDecodeBoot}});
  } else if (cls == "vm_fault_other" || cls == "hang_or_reset") {
    out.push_back(kernel_firmware_upgrade(f));
    out.push_back({cls == "hang_or_reset" ? "After the next hang, decode the previous boot's log" : "Decode every fault of this boot",
                   {cls == "hang_or_reset" ? "sudo journalctl -k -b -1 --no-pager | rdna1-vmfix faults -" : kDecodeBoot}});
    out.push_back({"Attach a report to the upstream bug", {kShareReport}});
  } else if (const auto* fixed = fixed_steps(cls); fixed != nullptr) {
    out = *fixed;
  }
  return out;
}

nlohmann::json steps_json(const std::vector<Step>& steps) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& s : steps) j.push_back({{"what", s.what}, {"commands", s.commands}});
  return j;
}

std::string steps_text(const std::vector<Step>& steps) {
  std::string out;
  std::size_t n = 0;
  for (const auto& s : steps) {
    out += fmt::format("  {}. {}\n", ++n, s.what);
    for (const auto& c : s.commands) out += "       " + c + "\n";
  }
  return out;
}

}  // namespace vmfix::doctor::advice
