// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// doctor's advice: what to do, as commands a user can paste on this machine. Every claim in here is
// backed by a measurement or a cited public source:
//  - which Debian packages carry gfx1010 code objects: docs/isa.md (measured with `isa`),
//  - which PyTorch wheels do: TheRock RELEASES.md lists `[device-gfx1010]`, `[device-gfx1011]`,
//    `[device-gfx1012]` extras on its multi-arch index; PyTorch's own ROCm wheels are built for
//    PYTORCH_ROCM_ARCH without any gfx101x target (pytorch .ci/docker/manywheel/build.sh).
// Never an instruction to run doctor itself.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "doctor/env_sources.hpp"
#include "doctor/python_envs.hpp"

namespace vmfix::doctor::advice {

// One thing to do: a sentence, and the exact command(s) (empty when the step is not a command).
struct Step {
  std::string what;
  std::vector<std::string> commands;
};

struct Facts {
  std::string gfx;          // the RDNA1 GPU's target ("" = none)
  std::string distro_id;    // os-release ID: debian, ubuntu, ...
  std::string version_id;   // os-release VERSION_ID: 12, 13, 24.04
  std::string codename;     // os-release VERSION_CODENAME
  std::vector<envscan::Finding> env;          // every finding of the environment scan
  std::vector<pyenv::TorchInstall> torch;     // every PyTorch install found
  std::vector<std::string> lacking_libraries; // installed libraries without code for gfx
};

// The index and extras of the PyTorch wheels that carry gfx101x code (TheRock multi-arch).
inline constexpr const char* kTheRockIndex = "https://nightly.repo.amd.com/rocm/whl-next/";
std::string torch_install_command(const std::string& python, const std::string& gfx);

// Overrides that must go: wrong for this GPU or invalid. Each with the command that removes it.
std::vector<Step> remove_override_steps(const Facts& f);
// PyTorch installs without code for gfx: a pip command per environment (a new venv for system ones).
std::vector<Step> native_torch_steps(const Facts& f);
// Distribution packages that carry gfx1010 code on this release (measured, docs/isa.md), or what
// is known about the release.
std::vector<Step> distro_package_steps(const Facts& f);

// All steps for a verdict class (the classes of doctor::diagnose and of faults).
std::vector<Step> steps_for(const std::string& cls, const Facts& f);

nlohmann::json steps_json(const std::vector<Step>& steps);
std::string steps_text(const std::vector<Step>& steps);

}  // namespace vmfix::doctor::advice
