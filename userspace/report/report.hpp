// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// rdna1-vmfix report: what a maintainer asks for in a bug report, in one document. The pieces are
// gathered through HostFiles (a fake root in tests) and by the callers of doctor; build() turns them
// into one JSON document, redacted by default; markdown() renders that same document, so both
// formats always say the same thing.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/host_files.hpp"
#include "doctor/env_sources.hpp"
#include "doctor/python_envs.hpp"
#include "report/redact.hpp"
#include "doctor/doctor.hpp"

namespace vmfix::report {

inline constexpr int kSchema = 1;

struct SystemInfo {
  std::map<std::string, std::string> os_release;  // /etc/os-release (or /usr/lib/os-release)
  std::string kernel_release;                     // /proc/sys/kernel/osrelease
  std::string kernel_version;                     // /proc/version
  std::string hostname;                           // /proc/sys/kernel/hostname, else /etc/hostname
};
SystemInfo read_system(const HostFiles& host);
// KEY=value lines with optional quotes (os-release(5)).
std::map<std::string, std::string> parse_os_release(std::string_view text);

struct Package {
  std::string name;
  std::string version;
};
struct RocmInfo {
  std::vector<Package> opt_rocm;  // /opt/rocm*/.info/version: name = the directory
  std::vector<Package> packages;  // installed dpkg packages of the ROCm stack
  std::vector<Package> wheels;    // ROCm Python wheels (TheRock rocm-sdk-*, amd-torch-device-*): name = "ENV: wheel"
};
RocmInfo read_rocm(const HostFiles& host);
// rocm*, rocm_sdk*, amd_torch_device* *.dist-info directories of the given environments.
std::vector<Package> read_rocm_wheels(const HostFiles& host, const std::vector<pyenv::PythonEnv>& envs);
// Installed packages (Status: install ok installed) whose names start with one of the prefixes.
std::vector<Package> parse_dpkg_status(std::string_view text, const std::vector<std::string>& prefixes);

// What amdgpu exposes per PCI device beyond `status`: firmware versions, VBIOS, serial numbers.
struct GpuSysfs {
  std::string bdf;
  std::map<std::string, std::string> firmware;  // fw_version/<name>_fw_version -> "0x..."
  std::string vbios;
  std::string subsystem;  // "vendor:device" of the board
  std::string revision;
  std::string link;       // "16.0 GT/s PCIe x16"
  std::string vram_total; // bytes
  std::vector<std::string> serials;  // serial_number, unique_id (redacted by default)
};
GpuSysfs read_gpu_sysfs(const HostFiles& host, const std::string& bdf);

// The census cache written by `rdna1-vmfix census` (docs/census.md): $VMFIX_STATE_DIR/census.json,
// default /var/lib/rdna1-vmfix/census.json, a census JSON document plus run.{date,kernel,rocm,libhsakmt}.
struct CensusCache {
  std::string path;
  bool present = false;
  std::string error;          // unreadable / not a census document
  nlohmann::json doc;         // the document as cached
};
CensusCache read_census(const HostFiles& host, const std::string& state_dir);
std::string census_state_dir(const std::map<std::string, std::string>& env);

struct Input {
  std::string tool_version;
  std::string tool_commit;
  std::string generated;  // ISO 8601 UTC
  SystemInfo system;
  RocmInfo rocm;
  std::vector<pyenv::TorchInstall> torch;
  std::vector<GpuSysfs> gpu_sysfs;
  doctor::Report doctor;           // its input holds the status, libraries and faults
  envscan::Result env;
  CensusCache census;
  std::optional<nlohmann::json> check;  // a `check --json` document, when --check ran
  std::vector<std::string> user_names;  // to redact (login users, the invoking user)
  std::vector<std::string> homes;       // to redact
};

struct Options {
  bool redact = true;
  std::size_t max_faults = 10;
};

// Users and homes worth redacting: every login user of /etc/passwd (uid 1000..65533) and the
// invoking user.
void add_login_users(const HostFiles& host, Input& in);

nlohmann::json build(const Input& in, const Options& opt);
std::string markdown(const nlohmann::json& doc);

}  // namespace vmfix::report
