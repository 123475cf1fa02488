// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// `status`: what it reads through the fake-root accessor (common/rootfs.hpp), and the parsers for
// what `status` and `doctor` read there: KFD topology properties, PCI attributes, and the module's
// versioned status files (docs/status-abi.md, schema 1). The parsers take untrusted text and are
// fuzzed (tests/fuzz/fuzz_sysfs.cpp).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "common/rootfs.hpp"

namespace vmfix {

// ---- KFD topology: /sys/class/kfd/kfd/topology/nodes/N/properties ("key value" lines)
struct KfdProperties {
  std::map<std::string, std::uint64_t> values;
  [[nodiscard]] std::optional<std::uint64_t> get(const std::string& key) const;
};
Result<KfdProperties> parse_kfd_properties(std::string_view text);
// 100100 -> "gfx1010", 90010 -> "gfx90a"; "" for 0 (CPU node) or out of range.
std::string gfx_from_target_version(std::uint64_t v);

// ---- PCI ID knowledge: RDNA1 (and neighbours, for messages)
struct PciIdInfo {
  std::uint16_t device;
  const char* family;  // navi10, navi12, navi14, cyan_skillfish
  const char* gfx;
  bool rdna1;          // the module's scope (Cyan Skillfish excluded)
};
const PciIdInfo* lookup_amd_pci_id(std::uint16_t device);

// ---- Module status files (docs/status-abi.md, schema 1)
inline constexpr int kStatusSchema = 1;
using Record = std::map<std::string, std::string>;  // key=value pairs of one record line

struct ModuleStatus {
  std::map<std::string, std::string> fields;  // version, kernel, state, reason, abi, mode, ...
  std::vector<Record> hooks;
  std::vector<Record> devices;
};
struct ModuleCounters {
  std::vector<std::map<std::string, std::uint64_t>> devices;  // each has "bdf" as a string below
  std::vector<std::string> device_bdfs;
  std::optional<std::uint64_t> other_ranges;
};
struct ModuleRecent {
  std::vector<Record> rewrites;
};
Result<ModuleStatus> parse_module_status(std::string_view text);
Result<ModuleCounters> parse_module_counters(std::string_view text);
Result<ModuleRecent> parse_module_recent(std::string_view text);

// ---- What `status` reports
struct GpuInfo {
  std::string bdf;
  std::uint16_t vendor = 0;
  std::uint16_t device = 0;
  std::string driver;  // bound driver ("amdgpu") or ""
  std::string gfx;     // from KFD gfx_target_version, else from the PCI ID table
  std::uint64_t gfx_target_version = 0;
  std::string family;
  bool rdna1 = false;
  std::optional<unsigned> kfd_node;
  std::optional<unsigned> render_minor;
  std::string marketing_name;  // libdrm, when available and permitted
};

struct ModuleState {
  bool loaded = false;             // /sys/module/rdna1_vmfix exists
  std::map<std::string, std::string> params;  // /sys/module/rdna1_vmfix/parameters/*
  bool has_status = false;         // /sys/kernel/rdna1_vmfix/status exists
  std::optional<ModuleStatus> status;
  std::optional<ModuleCounters> counters;
  std::optional<ModuleRecent> recent;
  std::vector<std::string> errors;  // unreadable/malformed/unknown-schema files
};

struct SystemStatus {
  std::vector<GpuInfo> gpus;
  ModuleState module;
  std::vector<std::string> warnings;
  [[nodiscard]] bool any_amd() const { return !gpus.empty(); }
  [[nodiscard]] bool any_rdna1() const;
};

// Seam for marketing names (libdrm); the default uses libdrm_amdgpu when built with it and the
// render node can be opened, else returns "".
using MarketingNameFn = std::string (*)(unsigned render_minor);
std::string drm_marketing_name(unsigned render_minor);

SystemStatus collect_status(const RootFs& fs, MarketingNameFn marketing = nullptr);
nlohmann::json status_json(const SystemStatus& s);
std::string status_text(const SystemStatus& s);

// What the user can do about rdna1_vmfix's status "reason" token (docs/status-abi.md), or "" when
// there is nothing to do or the token is unknown.
std::string module_reason_advice(std::string_view reason);

}  // namespace vmfix
