// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// The `check` driver: runs harness cases in isolated worker processes (one process group each, with a
// timeout), attributes kernel-log fault lines by pid, classifies every case and renders reports.
// The case table itself lives in check/workers/cases.hpp (shared with the workers).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "check/workers/cases.hpp"
#include "common/result.hpp"
#include "common/rootfs.hpp"

namespace vmfix::harness {

enum class Verdict { kPass, kWrongResult, kGpuFault, kHang, kUnsupported, kSkipped, kCrash, kMissingCodeObject };
const char* verdict_name(Verdict v);
// Failures make `check` exit 1; unsupported and skipped do not.
bool is_failure(Verdict v);

struct CaseResult {
  CaseSpec spec;
  Verdict verdict = Verdict::kSkipped;
  bool has_numbers = false;  // the worker compared the output
  double max_abs_err = 0, worst_ratio = 0, atol = 0, rtol = 0;
  std::size_t bad_elements = 0;
  double kernel_ms = 0, wall_ms = 0;
  int pid = 0;
  int exit_code = -1;   // -1: killed by a signal or still unknown
  int term_signal = 0;  // the signal that ended the worker, 0 if none
  std::string memory_label;
  std::string reason;      // one line: why this verdict
  std::string error_text;  // the worker's stderr (tail)
  std::vector<std::string> kernel_log;  // amdgpu fault lines of this worker's pid
  std::string fault_decoded;            // summary of kernel_log
};

// How the child ended, as the classifier sees it.
struct ChildOutcome {
  bool timed_out = false;
  int exit_code = -1;
  int term_signal = 0;
  std::string stderr_text;
  std::vector<std::string> kernel_log;
};
// Verdict for a case that began but produced no result line.
Verdict verdict_for_ending(const ChildOutcome& o, std::string& reason);

// The worker executable of one backend variant and the environment it runs with.
struct WorkerSpec {
  std::string variant;  // "native", "override", "audit", "enforce"
  std::string path;
  std::vector<std::string> args;  // before the mode argument (the torch worker: its script, --device)
  std::map<std::string, std::string> env;  // set (empty value with unset=true below removes)
  std::vector<std::string> unset;
};

struct RunOptions {
  double timeout_s = 10;
  int jobs = 1;
  int batch = 1;
  bool progress = false;
  std::string kmsg_path = "/dev/kmsg";
  // A crash or GPU fault in a batch of several cases re-runs the blamed case alone, whose verdict
  // counts: a GPU error may surface after the case that caused it (torch: seconds of start-up per
  // worker make big batches necessary).
  bool rerun_alone = false;
  // Extra seconds before a worker's first case begins (torch: importing torch and initialising the GPU
  // runtime take seconds; they must not count against the first case's timeout).
  double startup_s = 0;
};

struct Probe {
  int exit_code = 0;
  nlohmann::json info;  // the worker's VMFIX-PROBE document
  std::string error;    // stderr when it failed
};
Probe probe_worker(const WorkerSpec& w, double timeout_s);
// The case table of a worker that describes its own cases (`--list PROFILE`, one "VMFIX-CASE {json}"
// line per case): CaseSpec with id, described and, for planted ids, plant.
Result<std::vector<CaseSpec>> worker_cases(const WorkerSpec& w, const std::string& profile, double timeout_s);

struct RunResult {
  WorkerSpec worker;
  std::vector<CaseResult> cases;
  double wall_s = 0;
  bool kernel_log_readable = false;
  std::string kernel_log_note;
  bool interrupted = false;
};
RunResult run_cases(const WorkerSpec& w, const std::vector<CaseSpec>& cases, const RunOptions& opt);

// Kernel-log attribution (pure; unit-tested on real fault logs): the amdgpu fault blocks among the
// records whose header names pid, and a one-line summary of them.
std::vector<std::string> fault_lines_for_pid(const std::vector<std::string>& records, int pid);
std::string decode_fault_lines(const std::vector<std::string>& lines);

// Case selection: comma-separated shell patterns over case ids. Planted cases are hidden: only a
// pattern that starts with "planted" selects them. Empty filter = every case of the profile.
std::vector<CaseSpec> select_cases(const std::vector<CaseSpec>& profile, const std::string& filter);

// The rdna1_vmfix module's sysfs (docs/status-abi.md), under a root that tests replace.
class ModuleSysfs {
 public:
  explicit ModuleSysfs(std::string root) : fs_(std::move(root)) {}
  [[nodiscard]] bool loaded() const;
  [[nodiscard]] Result<std::string> mode() const;
  [[nodiscard]] Status set_mode(const std::string& mode) const;
  // Counter records: "device 0000:03:00.0" or "other" -> key -> value.
  using Counters = std::map<std::string, std::map<std::string, long long>>;
  [[nodiscard]] Result<Counters> counters() const;

 private:
  RootFs fs_;
};
Result<ModuleSysfs::Counters> parse_counters(const std::string& text);
ModuleSysfs::Counters counters_delta(const ModuleSysfs::Counters& after, const ModuleSysfs::Counters& before);

struct Report {
  std::string backend, profile;
  nlohmann::json device;
  RunOptions options;
  std::string filter;
  std::vector<RunResult> runs;  // one, or two side by side (compare-modes, override experiment)
  std::string comparison;       // "", "compare_modes" or "override_experiment"
  std::map<std::string, ModuleSysfs::Counters> counters;  // per variant (compare-modes)
  std::string restored_mode;
  [[nodiscard]] int exit_code() const;
};
nlohmann::json report_json(const Report& r);
std::string report_text(const Report& r);
std::string report_markdown(const Report& r);

}  // namespace vmfix::harness
