// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Where HSA_OVERRIDE_GFX_VERSION (and the other ROCm variables that change which GPU or which code
// the runtime uses) is really set. `sudo rdna1-vmfix doctor` runs with sudo's scrubbed environment
// (HOME=/root, no HSA_*), so the process environment alone says nothing: the scanner reads the
// invoking user's (SUDO_USER / PKEXEC_UID) shell start files, environment.d, the system-wide files
// (/etc/environment, /etc/profile.d, pam_env), Python virtualenv activate scripts and conda
// environment variables, systemd unit Environment= lines (system and user), and, when permitted,
// /proc/PID/environ of the processes that have /dev/kfd open. Every finding has its file and line.
// All reads go through HostFiles, so tests use a temporary root.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/host_files.hpp"
#include "doctor/python_envs.hpp"

namespace vmfix::envscan {

// Variables that change which GPU or which code object the ROCm runtime uses.
bool is_relevant(std::string_view name);

enum class Place {
  kProcess,        // this process's own environment
  kShellStartup,   // ~/.bashrc, ~/.profile, ~/.zshrc, fish config, ...
  kSessionEnv,     // ~/.config/environment.d, /etc/environment.d, ~/.pam_environment
  kSystemEnv,      // /etc/environment, /etc/profile, /etc/profile.d/*, /etc/bash.bashrc, pam_env.conf
  kVirtualenv,     // a virtualenv's bin/activate*
  kConda,          // a conda env's conda-meta/state env_vars or etc/conda/activate.d
  kSystemdSystem,  // Environment= of a system unit (or its EnvironmentFile=)
  kSystemdUser,    // Environment= of a user unit, user.conf
  kRunningProcess, // /proc/PID/environ of a process with /dev/kfd open
};
const char* place_name(Place p);

enum class Judgement {
  kInfo,         // recorded, not judged (HIP_VISIBLE_DEVICES, ...)
  kOk,           // an override that runs native code on this GPU (10.1.0 on gfx1011/gfx1012)
  kWrongForGpu,  // a valid override naming another ISA (10.3.0 on gfx101x)
  kInvalid,      // set, but not MAJOR.MINOR.STEP (`banana`, empty)
  kUnknownGpu,   // a valid override, but the GPU's target is not known
};
const char* judgement_name(Judgement j);

struct Finding {
  std::string name;     // HSA_OVERRIDE_GFX_VERSION
  std::string value;    // as written, quotes removed, printable
  Place place = Place::kProcess;
  std::string file;     // host path; "" for this process
  unsigned line = 0;    // 1-based; 0 when the place has no lines (process environments)
  std::string applies;  // who gets it: "interactive bash shells of alice", "ollama.service", "process 4242 (python3)"
  std::string user;     // owner of the place ("" = system-wide)
  std::string env_name; // conda env name / virtualenv dir, for advice
  Judgement judgement = Judgement::kInfo;
  std::string why;      // the judgement in words
  [[nodiscard]] std::string where() const;  // "FILE:LINE", "FILE", "this process"
};

struct User {
  std::string name;
  unsigned uid = 0;
  std::string home;
  std::string how;  // "SUDO_USER", "PKEXEC_UID", "the current user", "other login user"
};

struct Options {
  std::map<std::string, std::string> env;  // this process's environment (all of it)
  unsigned euid = 0;
  std::string gfx;             // the GPU's target, for judging values ("" = unknown)
  bool processes = true;       // look at /proc/*/environ of /dev/kfd users
  bool other_users = true;     // as root, also the other login users' (uid >= 1000) files
  std::size_t max_processes = 4096;
};

struct Result {
  std::optional<User> invoking;        // who ran the tool (through sudo/pkexec when used)
  std::vector<User> users;             // users whose files were read
  std::vector<Finding> findings;       // in place order, invoking user first
  std::vector<std::string> searched;   // place summaries ("~alice shell start files (7)", ...)
  std::vector<std::string> notes;      // what could not be looked at, and why
  std::vector<pyenv::PythonEnv> python_envs;  // the environments whose activation was read
};

// Judges one value of `name` against the GPU target.
std::pair<Judgement, std::string> judge(std::string_view name, std::string_view value, const std::string& gfx);

// Every NAME=value assignment of a relevant variable in one file's text (shell, systemd, KEY=VALUE,
// fish `set -x`, csh `setenv`, pam_env `NAME DEFAULT=v`), with its line number.
struct Assignment {
  std::string name;
  std::string value;
  unsigned line = 0;
};
std::vector<Assignment> scan_text(std::string_view text);

// Resolves the invoking user: SUDO_USER, else PKEXEC_UID, else the effective uid.
std::optional<User> invoking_user(const HostFiles& host, const Options& opt);

Result scan(const HostFiles& host, const Options& opt);

// Shell command that removes a finding (comments the line out, unsets a conda variable, ...), or ""
// when there is no file to edit (process environments: restart without it).
std::string removal_command(const Finding& f);

nlohmann::json finding_json(const Finding& f);
nlohmann::json result_json(const Result& r);

}  // namespace vmfix::envscan
