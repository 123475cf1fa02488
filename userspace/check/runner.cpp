// SPDX-License-Identifier: GPL-2.0 OR MIT
// Process isolation for `check`: every batch of cases runs in a forked+exec'd worker that leads its
// own process group, dies with us (PR_SET_PDEATHSIG) and is killed as a group on timeout; the parent
// reaps every child (waitpid) and kills each group once more after it exits, so no process outlives
// the run.

#include <poll.h>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fmt/format.h>

#include "check/check.hpp"
#include "common/kmsg.hpp"
#include "common/process.hpp"

extern char** environ;

namespace vmfix::harness {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr std::size_t kStderrKeep = 8192;

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

// SIGINT/SIGTERM stop the run (children are killed, results so far kept); restored on scope exit.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
    g_stop = 0;
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

struct Child {
  explicit Child(Process p) : proc(std::move(p)), started(Clock::now()) {}
  Process proc;
  std::string out_buf, err_buf;
  std::vector<CaseSpec> batch;
  std::vector<std::optional<CaseResult>> results;
  int current = -1;  // index in batch of the case that began and has no result yet
  bool solo = false;
  Clock::time_point started, deadline;
  bool timed_out = false;
  int status = 0;
  [[nodiscard]] pid_t pid() const { return proc.pid(); }
  [[nodiscard]] bool open() const { return proc.out().valid() || proc.err().valid(); }
  void pump() {
    if (proc.out().valid()) read_available(proc.out(), out_buf);
    if (proc.err().valid()) read_available(proc.err(), err_buf);
  }
  // Reaps the worker, then kills what it left in its group.
  void reap() {
    status = proc.wait();
    proc.kill();
  }
};

// The worker's command line and environment: ours, less w.unset, plus w.env and extra_env.
SpawnOptions worker_command(const WorkerSpec& w, const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& extra_env) {
  SpawnOptions o;
  o.argv.push_back(w.path);
  o.argv.insert(o.argv.end(), w.args.begin(), w.args.end());
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& u : w.unset) env.erase(u);
  for (const auto& [k, v] : w.env) env[k] = v;
  for (const auto& [k, v] : extra_env) env[k] = v;
  o.env.emplace();
  for (const auto& [k, v] : env) o.env->push_back(k + "=" + v);
  o.own_group = true;
  return o;
}

Result<Child> spawn(const SpawnOptions& o) {
  auto p = Process::spawn(o);
  if (!p) return p.error();
  return Child(std::move(*p));
}

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(s.size() - n); }

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

void fill_from_json(CaseResult& r, const nlohmann::json& j) {
  const std::string v = j.value("verdict", "");
  r.verdict = v == "pass" ? Verdict::kPass : v == "wrong_result" ? Verdict::kWrongResult
              : v == "unsupported"                     ? Verdict::kUnsupported
              : v == "missing_code_object"             ? Verdict::kMissingCodeObject
                                                       : Verdict::kCrash;
  r.memory_label = j.value("memory_label", "");
  r.reason = j.value("reason", "");
  if (j.contains("max_abs_err")) {
    r.has_numbers = true;
    r.max_abs_err = j.value("max_abs_err", 0.0);
    r.worst_ratio = j.value("worst_ratio", 0.0);
    r.bad_elements = j.value("bad_elements", std::size_t{0});
    r.atol = j.value("atol", 0.0);
    r.rtol = j.value("rtol", 0.0);
    r.kernel_ms = j.value("kernel_ms", 0.0);
    if (r.verdict == Verdict::kWrongResult)
      r.reason = fmt::format("{} of {} elements outside tolerance (atol {:g}, rtol {:g}); max abs error {:.3g}",
                             r.bad_elements, j.value("elements", std::size_t{0}), r.atol, r.rtol, r.max_abs_err);
  }
}

// Parses complete stdout lines of a worker.
void parse_lines(Child& c, double timeout_s) {
  std::size_t pos;
  while ((pos = c.out_buf.find('\n')) != std::string::npos) {
    const std::string line = c.out_buf.substr(0, pos);
    c.out_buf.erase(0, pos + 1);
    if (line.rfind("VMFIX-BEGIN ", 0) == 0) {
      const std::string id = line.substr(12);
      for (std::size_t i = 0; i < c.batch.size(); ++i)
        if (c.batch[i].id == id) c.current = static_cast<int>(i);
      c.started = Clock::now();
      c.deadline = c.started + seconds(timeout_s);
    } else if (line.rfind("VMFIX-RESULT ", 0) == 0 && c.current >= 0) {
      CaseResult r;
      r.spec = c.batch[static_cast<std::size_t>(c.current)];
      r.pid = c.pid();
      try {
        fill_from_json(r, nlohmann::json::parse(line.substr(13)));
      } catch (const nlohmann::json::exception& e) {
        r.verdict = Verdict::kCrash;
        r.reason = std::string("unreadable worker result: ") + e.what();
      }
      r.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - c.started).count();
      c.results[static_cast<std::size_t>(c.current)] = std::move(r);
      c.current = -1;
    }
  }
}

}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "pass";
    case Verdict::kWrongResult: return "wrong_result";
    case Verdict::kGpuFault: return "gpu_fault";
    case Verdict::kHang: return "hang";
    case Verdict::kUnsupported: return "unsupported";
    case Verdict::kSkipped: return "skipped";
    case Verdict::kCrash: return "crash";
    case Verdict::kMissingCodeObject: return "missing_code_object";
  }
  return "?";
}

bool is_failure(Verdict v) {
  return v == Verdict::kWrongResult || v == Verdict::kGpuFault || v == Verdict::kHang || v == Verdict::kCrash ||
         v == Verdict::kMissingCodeObject;
}

Verdict verdict_for_ending(const ChildOutcome& o, std::string& reason) {
  if (o.timed_out) {
    reason = "no result before the timeout; the worker's process group was killed";
    return Verdict::kHang;
  }
  // What GPU runtimes print for a memory fault (HSA/HIP, CUDA, the host backend's emulation).
  static const char* const kFaultText[] = {
      "Memory access fault by GPU",       "HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION",
      "HSA_STATUS_ERROR_MEMORY_FAULT",    "hipErrorIllegalAddress",
      "cudaErrorIllegalAddress",          "illegal memory access",
      "emulated GPU memory access fault", "cudaErrorLaunchFailure",
      // A GPU exception other than a memory fault: what gfx1030-only instructions may raise on gfx1010.
      "HSA_STATUS_ERROR_ILLEGAL_INSTRUCTION", "HSA_STATUS_ERROR_EXCEPTION",
  };
  std::string first_line;
  for (const char* pat : kFaultText) {
    const auto at = o.stderr_text.find(pat);
    if (at == std::string::npos) continue;
    const auto b = o.stderr_text.rfind('\n', at);
    const auto e = o.stderr_text.find('\n', at);
    first_line = o.stderr_text.substr(b == std::string::npos ? 0 : b + 1,
                                      e == std::string::npos ? std::string::npos : e - (b == std::string::npos ? 0 : b + 1));
    break;
  }
  if (!first_line.empty() || !o.kernel_log.empty()) {
    reason = !first_line.empty() ? first_line : o.kernel_log.front();
    return Verdict::kGpuFault;
  }
  if (o.term_signal != 0) {
    reason = fmt::format("worker killed by {}", signal_name(o.term_signal));
  } else {
    std::string err;
    const auto at = o.stderr_text.find("VMFIX-ERROR ");
    if (at != std::string::npos) err = o.stderr_text.substr(at + 12, o.stderr_text.find('\n', at) - at - 12);
    reason = err.empty() ? fmt::format("worker exited with status {} without a result", o.exit_code)
                         : fmt::format("worker exited with status {}: {}", o.exit_code, err);
  }
  return Verdict::kCrash;
}

namespace {

// Runs the worker with args to its end (or the timeout): exit code, stdout and stderr.
struct WorkerCapture {
  int exit_code = 4;
  bool timed_out = false;
  std::string out, err;
};

WorkerCapture capture(const WorkerSpec& w, const std::vector<std::string>& args, double timeout_s) {
  WorkerCapture r;
  auto c = spawn(worker_command(w, args, {}));
  if (!c) {
    r.err = c.error().message;
    return r;
  }
  const auto deadline = Clock::now() + seconds(timeout_s);
  bool timed_out = false;
  while (c->open()) {
    pollfd fds[2] = {{c->proc.out().get(), POLLIN, 0}, {c->proc.err().get(), POLLIN, 0}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 && !timed_out) {
      c->proc.kill();
      timed_out = true;
    }
    poll(fds, 2, static_cast<int>(std::clamp<long long>(left, 0, 1000)));
    c->pump();
  }
  c->reap();
  r.exit_code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 4;
  r.timed_out = timed_out;
  r.out = std::move(c->out_buf);
  r.err = std::move(c->err_buf);
  return r;
}

}  // namespace

Probe probe_worker(const WorkerSpec& w, double timeout_s) {
  Probe p;
  const WorkerCapture c = capture(w, {"--probe"}, timeout_s);
  p.exit_code = c.exit_code;
  p.error = tail(c.err, 2000);
  if (c.timed_out) {
    p.exit_code = 4;
    p.error = "the worker's probe timed out";
  }
  const auto at = c.out.find("VMFIX-PROBE ");
  if (p.exit_code == 0 && at != std::string::npos) {
    try {
      p.info = nlohmann::json::parse(c.out.substr(at + 12, c.out.find('\n', at) - at - 12));
    } catch (const nlohmann::json::exception& e) {
      p.exit_code = 4;
      p.error = std::string("unreadable probe: ") + e.what();
    }
  } else if (p.exit_code == 0) {
    p.exit_code = 4;
    p.error = "the worker printed no probe line";
  }
  return p;
}

Result<std::vector<CaseSpec>> worker_cases(const WorkerSpec& w, const std::string& profile, double timeout_s) {
  const WorkerCapture c = capture(w, {"--list", profile}, timeout_s);
  if (c.timed_out || c.exit_code != 0)
    return runtime_error(w.path, fmt::format("the worker's case list failed (exit {}): {}", c.exit_code,
                                             tail(c.err, 500)));
  std::vector<CaseSpec> out;
  std::size_t pos = 0;
  while (pos < c.out.size()) {
    const std::size_t nl = c.out.find('\n', pos);
    const std::string line = c.out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? c.out.size() : nl + 1;
    if (line.rfind("VMFIX-CASE ", 0) != 0) continue;
    try {
      const auto j = nlohmann::json::parse(line.substr(11));
      CaseSpec cs;
      cs.id = j.at("id").get<std::string>();
      cs.described = line.substr(11);
      out.push_back(std::move(cs));
    } catch (const nlohmann::json::exception& e) {
      return runtime_error(w.path, std::string("unreadable case line: ") + e.what());
    }
  }
  if (out.empty()) return runtime_error(w.path, "the worker listed no case for profile " + profile);
  return out;
}

namespace {

// Cases one worker runs.
struct Batch {
  std::vector<CaseSpec> cases;
  bool solo = false;  // a re-run of a case blamed in a batch: its verdict counts
};

// One run_cases() call: a queue of batches, up to opt.jobs workers at a time, each case settled once.
class Scheduler {
 public:
  Scheduler(const WorkerSpec& w, const std::vector<CaseSpec>& cases, const RunOptions& opt)
      : worker_(w), cases_(cases), opt_(opt), jobs_(std::max(1, opt.jobs)) {
    const std::size_t bs = static_cast<std::size_t>(std::max(1, opt.batch));
    for (std::size_t i = 0; i < cases.size(); i += bs)
      queue_.push_back({std::vector<CaseSpec>(cases.begin() + static_cast<long>(i),
                                              cases.begin() + static_cast<long>(std::min(cases.size(), i + bs)))});
    // Reference results shared by this run's workers (see worker.cpp); removed at the end.
    ref_cache_ = (fs::temp_directory_path() / "rdna1-vmfix-ref.XXXXXX").string();
    if (mkdtemp(ref_cache_.data()) != nullptr)
      extra_env_["VMFIX_REF_CACHE"] = ref_cache_;
    else
      ref_cache_.clear();
    if (jobs_ > 1) {
      const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
      extra_env_["VMFIX_HOST_THREADS"] = std::to_string(std::max(1L, ncpu / jobs_));
    }
    auto klog = KmsgReader::open(opt.kmsg_path, KmsgReader::From::kEnd);
    if (klog)
      klog_.emplace(std::move(*klog));
    else
      klog_note_ = klog.error().context + ": " + klog.error().message;
  }
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  ~Scheduler() {
    std::error_code ec;
    if (!ref_cache_.empty()) fs::remove_all(ref_cache_, ec);
  }

  RunResult run() {
    const auto t0 = Clock::now();
    const StopSignals stop_signals;
    RunResult rr;
    rr.worker = worker_;
    rr.kernel_log_readable = klog_.has_value();
    rr.kernel_log_note = klog_note_;
    while ((!queue_.empty() || !running_.empty()) && g_stop == 0) {
      start_workers();
      wait_for_output();
      service_workers();
    }
    if (g_stop != 0) {
      rr.interrupted = true;
      for (auto& c : running_) {
        c.proc.kill();
        c.reap();
      }
    }
    if (opt_.progress) fmt::print(stderr, "\r\033[K");
    for (const auto& cs : cases_) rr.cases.push_back(result_of(cs, rr.interrupted));
    rr.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    return rr;
  }

 private:
  void start_workers() {
    while (static_cast<int>(running_.size()) < jobs_ && !queue_.empty()) {
      Batch batch = std::move(queue_.front());
      queue_.pop_front();
      std::vector<std::string> args{"--run"};
      for (const auto& cs : batch.cases) args.push_back(cs.id);
      auto c = spawn(worker_command(worker_, args, extra_env_));
      if (!c) {
        for (const auto& cs : batch.cases) {
          CaseResult r;
          r.spec = cs;
          r.verdict = Verdict::kCrash;
          r.reason = c.error().context + ": " + c.error().message;
          done_[cs.id] = r;
        }
        continue;
      }
      c->batch = std::move(batch.cases);
      c->solo = batch.solo;
      c->results.resize(c->batch.size());
      c->deadline = c->started + seconds(opt_.timeout_s + opt_.startup_s);
      running_.push_back(std::move(*c));
    }
  }

  // Sleeps until a worker writes or the next deadline (at most 1 s).
  void wait_for_output() {
    std::vector<pollfd> fds;
    for (const auto& c : running_)
      for (const Fd* fd : {&c.proc.out(), &c.proc.err()})
        if (fd->valid()) fds.push_back({fd->get(), POLLIN, 0});
    auto next = Clock::now() + std::chrono::seconds(1);
    for (const auto& c : running_)
      if (!c.timed_out) next = std::min(next, c.deadline);
    const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
    poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(wait_ms + 1, 0, 1000)));
  }

  void service_workers() {
    for (auto it = running_.begin(); it != running_.end();) {
      Child& c = *it;
      c.pump();
      if (c.err_buf.size() > 4 * kStderrKeep) c.err_buf = tail(c.err_buf, 2 * kStderrKeep);
      parse_lines(c, opt_.timeout_s);
      if (!c.timed_out && Clock::now() >= c.deadline) {
        c.timed_out = true;
        c.proc.kill();
      }
      if (c.open()) {
        ++it;
        continue;
      }
      c.reap();
      finish(c);
      it = running_.erase(it);
    }
  }

  // Settles the cases of a worker that ended: its results, the running case classified from how it
  // ended, the rest queued again.
  void finish(Child& c) {
    if (klog_) klog_->read_available(kernel_log_);
    const ChildOutcome o = outcome(c);
    std::vector<CaseSpec> unrun, rerun;
    bool blamed = false;
    for (std::size_t i = 0; i < c.batch.size(); ++i) {
      CaseResult r;
      if (c.results[i]) {
        r = std::move(*c.results[i]);
      } else if (static_cast<int>(i) == c.current || (!blamed && c.current < 0)) {
        // The case that was running when the worker ended (or the first unfinished one, if none had
        // begun): every spawn settles at least one case, so re-queued batches always make progress.
        r = blame(c, i, o);
        blamed = true;
        if (opt_.rerun_alone && !c.solo && c.batch.size() > 1 && g_stop == 0 &&
            (r.verdict == Verdict::kCrash || r.verdict == Verdict::kGpuFault)) {
          batch_verdicts_[r.spec.id] = fmt::format("{} in a batch of {}", verdict_name(r.verdict), c.batch.size());
          rerun.push_back(c.batch[i]);
          continue;
        }
      } else {
        unrun.push_back(c.batch[i]);
        continue;
      }
      if (auto it = batch_verdicts_.find(r.spec.id); it != batch_verdicts_.end())
        r.reason += fmt::format("{}(re-run alone; first {})", r.reason.empty() ? "" : " ", it->second);
      r.exit_code = o.exit_code;
      r.term_signal = o.term_signal;
      r.error_text = o.stderr_text;
      r.kernel_log = o.kernel_log;
      r.fault_decoded = decode_fault_lines(r.kernel_log);
      const std::string id = r.spec.id;
      done_[id] = std::move(r);
      report_progress(done_[id]);
    }
    if (!unrun.empty()) queue_.push_front({std::move(unrun)});
    if (!rerun.empty()) queue_.push_front({std::move(rerun), true});
  }

  ChildOutcome outcome(const Child& c) const {
    ChildOutcome o;
    o.timed_out = c.timed_out;
    o.exit_code = WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
    o.term_signal = WIFSIGNALED(c.status) ? WTERMSIG(c.status) : 0;
    o.stderr_text = tail(c.err_buf, kStderrKeep);
    o.kernel_log = fault_lines_for_pid(kernel_log_, c.pid());
    return o;
  }

  static CaseResult blame(const Child& c, std::size_t i, const ChildOutcome& o) {
    CaseResult r;
    r.spec = c.batch[i];
    r.pid = c.pid();
    r.verdict = verdict_for_ending(o, r.reason);
    if (o.exit_code == 3) {
      r.verdict = Verdict::kUnsupported;
      r.reason = "the worker found no device";
    }
    r.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - c.started).count();
    return r;
  }

  void report_progress(const CaseResult& r) const {
    if (!opt_.progress) return;
    fmt::print(stderr, "\r\033[K[{}/{}] {} {}", done_.size(), cases_.size(), r.spec.id, verdict_name(r.verdict));
    std::fflush(stderr);
  }

  CaseResult result_of(const CaseSpec& cs, bool interrupted) {
    auto it = done_.find(cs.id);
    if (it != done_.end()) return std::move(it->second);
    CaseResult r;
    r.spec = cs;
    r.verdict = Verdict::kSkipped;
    r.reason = interrupted ? "run interrupted" : "not run";
    return r;
  }

  const WorkerSpec& worker_;
  const std::vector<CaseSpec>& cases_;
  const RunOptions& opt_;
  const int jobs_;
  std::deque<Batch> queue_;
  std::map<std::string, std::string> batch_verdicts_;  // id -> what the batch run said, for the re-run's reason
  std::map<std::string, CaseResult> done_;
  std::vector<Child> running_;
  std::map<std::string, std::string> extra_env_;
  std::string ref_cache_;
  std::optional<KmsgReader> klog_;
  std::string klog_note_;
  std::vector<std::string> kernel_log_;  // dmesg lines since the run began
};

}  // namespace

RunResult run_cases(const WorkerSpec& w, const std::vector<CaseSpec>& cases, const RunOptions& opt) {
  return Scheduler(w, cases, opt).run();
}

}  // namespace vmfix::harness
