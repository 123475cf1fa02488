// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// What doctor and report both collect: the machine (status, signing, kernel log, libraries), where
// the ROCm variables are really set (envscan), the user's PyTorch installs (pyenv), and the verdict
// with its steps. extend() folds the environment and PyTorch findings into doctor::diagnose()'s
// verdict: an override found in the invoking user's files counts like one in this process.

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/host_files.hpp"
#include "doctor/advice.hpp"
#include "doctor/env_sources.hpp"
#include "doctor/python_envs.hpp"
#include "doctor/doctor.hpp"
#include "common/result.hpp"

namespace vmfix::doctor {

struct Extended {
  Report base;                              // doctor::diagnose() with the verdict extended
  envscan::Result env;
  std::vector<pyenv::TorchInstall> torch;
  std::map<std::string, std::string> os_release;
  std::vector<advice::Step> steps;
  nlohmann::json census;                   // the cached census result (null: never run)
};

// Folds env findings and PyTorch installs into r's verdict, strips a repeated class prefix from the
// summary, and computes the steps.
Extended extend(Report r, envscan::Result env, std::vector<pyenv::TorchInstall> torch,
                std::map<std::string, std::string> os_release);

struct GatherOptions {
  std::string root;                        // fake root ("" = this machine): ROOT/sys, ROOT/etc, ROOT/home ...
  std::vector<std::string> lib_dirs;       // --lib-dir (must exist)
  bool no_libs = false;
  std::string python;                      // --python: an environment prefix or its bin/python (must exist)
  std::string log_path;                    // --from-log ('-' = stdin)
  std::map<std::string, std::string> env;  // this process's environment
  unsigned euid = 0;
  TargetScanner scanner;                   // default_scanner() unless a test injects one
};

// Collects everything; usage errors (missing --lib-dir/--python, unreadable --from-log) are Exit::kUsage.
Result<Extended> gather(const GatherOptions& opt);

nlohmann::json extended_json(const Extended& x);
std::string extended_text(const Extended& x);

// The process environment as a map.
std::map<std::string, std::string> environment_map(char** envp);

}  // namespace vmfix::doctor
