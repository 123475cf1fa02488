// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// `rdna1-vmfix census`: which MTYPE each kind of GPU allocation really gets on this machine.
// For every allocation kind KFD offers, allocate through the thunk, map it to the RDNA1 node and
// read the module's per-device counters (docs/status-abi.md) right before and right after the map,
// with the module in audit mode (set here, restored afterwards). The delta says which MTYPE(s) the
// driver chose and what enforce would rewrite. Everything is unmapped and freed on every path,
// including errors and SIGINT/SIGTERM. docs/census.md describes the output and the cache file.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "census/thunk.hpp"
#include "common/result.hpp"

namespace vmfix::census {

inline constexpr int kSchema = 1;

struct Kind {
  std::string name;  // "vram", "gtt_fine", ...
  std::string what;  // who allocates this way ("hipMalloc", ...)
  Path path = Path::kAlloc;
  MemFlags flags;
};
// Every kind census knows, in table order.
std::vector<Kind> default_kinds();

enum class RowState {
  kMeasured,    // mapped; the delta is this kind's
  kNotOffered,  // this thunk or kernel has no such kind (not a failure)
  kFailed,      // allocation or map failed: the kind is unmeasured
  kNotRun,      // interrupted before this kind
};
const char* row_state_name(RowState s);

using CounterRecord = std::map<std::string, long long>;  // key -> value, one counters record

struct Row {
  Kind kind;
  RowState state = RowState::kNotRun;
  std::string note;         // why not offered / failed
  std::uint64_t pages = 0;  // 4 KiB pages mapped
  CounterRecord delta;      // the device record across the map
  [[nodiscard]] long long count(const std::string& key) const;
  // MTYPE names with a non-zero seen_* delta, in NC, WC, CC, UC, reserved order.
  [[nodiscard]] std::vector<std::string> mtypes() const;
  // Rules with a non-zero rule_* delta ("cc_downgrade", ...).
  [[nodiscard]] std::vector<std::string> rules() const;
  [[nodiscard]] bool cc() const { return count("seen_cc") > 0; }
  [[nodiscard]] long long would_rewrite() const { return count("would_rewrite"); }
};

struct CensusResult {
  ThunkNode node;
  std::string kfd_version;
  std::uint64_t size = 0;
  std::string original_mode;  // the module's mode before census
  bool mode_restored = false;
  long long background_ranges = 0;  // ranges mapped on the device while census stood idle
  int baseline_ms = 0;
  std::vector<Row> rows;
  int signal = 0;                          // SIGINT/SIGTERM that stopped the run, 0 if none
  std::vector<std::string> cleanup_errors;  // unmap/free/restore failures (never silent)

  [[nodiscard]] bool interrupted() const { return signal != 0; }
  // Every kind measured or not offered, nothing interrupted, everything cleaned up.
  [[nodiscard]] bool complete() const;
  [[nodiscard]] std::vector<std::string> cc_kinds() const;
  [[nodiscard]] std::vector<std::string> rewrite_kinds() const;
  // The one-line answer.
  [[nodiscard]] std::string conclusion() const;
  // 0 complete, nothing would be rewritten; 1 complete, enforce would rewrite some kind;
  // 4 incomplete (a kind failed, interrupted, or cleanup failed).
  [[nodiscard]] int exit_code() const;
};

struct Options {
  std::optional<std::uint32_t> node;  // KFD node; default the first RDNA1 GPU node
  std::uint64_t size = 1ULL << 20;    // bytes per kind (page multiple)
  int baseline_ms = 100;              // idle interval that measures other processes' mappings
  // Waits out that interval; empty = sleep (tests put another process's mappings here instead of
  // racing a timer, which failed under load).
  std::function<void(std::chrono::milliseconds)> idle;
  std::string sysfs_root;             // "" = the real /sys (tests: a fake tree)
  std::vector<Kind> kinds = default_kinds();
};

// Runs the census. Errors before any allocation (no /dev/kfd: 3, no RDNA1 node: 3, module not
// loaded/armed/scoping the device or mode not settable: 4) come back as Error; a run that started
// comes back as a result, complete or not, with everything freed and the mode restored.
Result<CensusResult> run_census(Thunk& thunk, const Options& opt);

// Rendering.
std::string census_text(const CensusResult& r);
nlohmann::json census_json(const CensusResult& r);

// The cached result (docs/census.md): the JSON document plus date, kernel and ROCm versions.
struct Provenance {
  std::string date;       // ISO 8601 UTC
  std::string kernel;     // uname -r
  std::string libhsakmt;  // the libhsakmt package version (dpkg), or the build's pkg-config version
  std::string rocm;       // /opt/rocm/.info/version, or ""
};
Provenance current_provenance(const std::string& root = "");
// $VMFIX_STATE_DIR/census.json, default /var/lib/rdna1-vmfix/census.json.
std::string cache_path();
nlohmann::json cache_document(const CensusResult& r, const Provenance& p);
Status write_cache(const std::string& path, const nlohmann::json& doc);
// For doctor/report: the cached document, nullopt when census never ran; an error when the file is
// unreadable, not JSON, or of another schema.
Result<std::optional<nlohmann::json>> read_cache(const std::string& path);

// One line for doctor/report: "census of gfx1010 at 0000:03:00.0 on 2026-12-01T08:00:00Z, kernel K:
// <conclusion>", plus " (stale: run on kernel K, this is R)" when the kernels differ.
std::string cache_summary(const nlohmann::json& doc, const std::string& running_kernel);

// Libhsakmt package version from a dpkg status file ("" if absent).
std::string dpkg_version(const std::string& status_text, const std::string& package);

}  // namespace vmfix::census
