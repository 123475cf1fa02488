// SPDX-License-Identifier: GPL-2.0 OR MIT
// Process isolation for `check`: every batch of cases runs in a forked+exec'd worker that leads its
// own process group, dies with us (PR_SET_PDEATHSIG) and is killed as a group on timeout; the parent
// reaps every child (waitpid) and kills each group once more after it exits, so no process outlives
// the run.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fmt/format.h>

#include "check/check.hpp"

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

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Child {
  pid_t pid = -1;
  Fd out, err;
  std::string out_buf, err_buf;
  std::vector<CaseSpec> batch;
  std::vector<std::optional<CaseResult>> results;
  int current = -1;  // index in batch of the case that began and has no result yet
  bool solo = false;
  Clock::time_point started, deadline;
  bool timed_out = false;
  int status = 0;
  bool reaped = false;
};

// Builds argv/envp before fork: nothing allocates between fork and exec.
struct ExecImage {
  std::vector<std::string> args, envs;
  std::vector<char*> argv, envp;
  void seal() {
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
};

ExecImage make_image(const WorkerSpec& w, const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& extra_env) {
  ExecImage im;
  im.args.push_back(w.path);
  im.args.insert(im.args.end(), w.args.begin(), w.args.end());
  im.args.insert(im.args.end(), args.begin(), args.end());
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& u : w.unset) env.erase(u);
  for (const auto& [k, v] : w.env) env[k] = v;
  for (const auto& [k, v] : extra_env) env[k] = v;
  for (const auto& [k, v] : env) im.envs.push_back(k + "=" + v);
  im.seal();
  return im;
}

Result<Child> spawn(ExecImage& im) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return runtime_error("pipe", std::strerror(errno));
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return runtime_error("pipe", std::strerror(errno));
  }
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    for (int fd : {out[0], out[1], err[0], err[1], devnull}) close(fd);
    return runtime_error("fork", std::strerror(e));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execve(im.argv[0], im.argv.data(), im.envp.data());
    const char msg[] = "rdna1-vmfix: error: exec of the worker failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  setpgid(pid, pid);  // both sides set it: no window where a kill(-pid) misses the child
  close(out[1]);
  close(err[1]);
  if (devnull >= 0) close(devnull);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  Child c;
  c.pid = pid;
  c.out = Fd(out[0]);
  c.err = Fd(err[0]);
  c.started = Clock::now();
  return c;
}

void kill_group(pid_t pid) {
  if (pid > 0) kill(-pid, SIGKILL);
}

std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(s.size() - n); }

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

// Kernel-log reader: /dev/kmsg (one record per read, from the end at open) or, for tests, a plain
// file (lines appended after open).
class KernelLog {
 public:
  explicit KernelLog(const std::string& path) : path_(path) {
    const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      note_ = fmt::format("{}: {}", path, std::strerror(errno));
      return;
    }
    fd_ = Fd(fd);
    is_kmsg_ = path == "/dev/kmsg";
    if (is_kmsg_) {
      lseek(fd, 0, SEEK_END);
    } else {
      offset_ = lseek(fd, 0, SEEK_END);
    }
    readable_ = true;
  }
  [[nodiscard]] bool readable() const { return readable_; }
  [[nodiscard]] const std::string& note() const { return note_; }
  [[nodiscard]] const std::vector<std::string>& records() const { return records_; }

  void drain() {
    if (!readable_) return;
    if (is_kmsg_) {
      char buf[8192];
      for (;;) {
        const ssize_t n = read(fd_.get(), buf, sizeof buf);
        if (n > 0) {
          records_.push_back(strip(std::string(buf, static_cast<std::size_t>(n))));
          continue;
        }
        if (n < 0 && errno == EPIPE) continue;  // overwritten records: go on with the next
        if (n < 0 && errno == EINTR) continue;
        break;
      }
      return;
    }
    char buf[8192];
    std::string data;
    for (;;) {
      const ssize_t n = pread(fd_.get(), buf, sizeof buf, offset_);
      if (n <= 0) break;
      offset_ += n;
      data.append(buf, static_cast<std::size_t>(n));
    }
    partial_ += data;
    std::size_t pos;
    while ((pos = partial_.find('\n')) != std::string::npos) {
      records_.push_back(strip(partial_.substr(0, pos)));
      partial_.erase(0, pos + 1);
    }
  }

 private:
  // "pri,seq,usec,flags;message\n continuation" -> message
  static std::string strip(std::string rec) {
    const auto nl = rec.find('\n');
    if (nl != std::string::npos) rec.resize(nl);
    const auto semi = rec.find(';');
    const auto comma = rec.find(',');
    if (semi != std::string::npos && comma != std::string::npos && comma < semi) rec.erase(0, semi + 1);
    return rec;
  }
  std::string path_;
  Fd fd_;
  bool readable_ = false;
  bool is_kmsg_ = false;
  off_t offset_ = 0;
  std::string partial_, note_;
  std::vector<std::string> records_;
};

// Reads what is available; returns false at EOF.
bool pump(Fd& fd, std::string& buf) {
  char tmp[16384];
  for (;;) {
    const ssize_t n = read(fd.get(), tmp, sizeof tmp);
    if (n > 0) {
      buf.append(tmp, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      fd.reset();
      return false;
    }
    if (errno == EINTR) continue;
    return true;  // EAGAIN
  }
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
      c.deadline = c.started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
    } else if (line.rfind("VMFIX-RESULT ", 0) == 0 && c.current >= 0) {
      CaseResult r;
      r.spec = c.batch[static_cast<std::size_t>(c.current)];
      r.pid = c.pid;
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

Verdict classify(const ChildOutcome& o, std::string& reason) {
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
struct Captured {
  int exit_code = 4;
  bool timed_out = false;
  std::string out, err;
};

Captured capture(const WorkerSpec& w, const std::vector<std::string>& args, double timeout_s) {
  Captured r;
  ExecImage im = make_image(w, args, {});
  auto c = spawn(im);
  if (!c) {
    r.err = c.error().message;
    return r;
  }
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  bool timed_out = false;
  while (c->out.get() >= 0 || c->err.get() >= 0) {
    pollfd fds[2] = {{c->out.get(), POLLIN, 0}, {c->err.get(), POLLIN, 0}};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      kill_group(c->pid);
      timed_out = true;
    }
    poll(fds, 2, static_cast<int>(std::clamp<long long>(left, 0, 1000)));
    if (c->out.get() >= 0) pump(c->out, c->out_buf);
    if (c->err.get() >= 0) pump(c->err, c->err_buf);
  }
  int status = 0;
  while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR) {
  }
  kill_group(c->pid);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 4;
  r.timed_out = timed_out;
  r.out = std::move(c->out_buf);
  r.err = std::move(c->err_buf);
  return r;
}

}  // namespace

Probe probe_worker(const WorkerSpec& w, double timeout_s) {
  Probe p;
  const Captured c = capture(w, {"--probe"}, timeout_s);
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
  const Captured c = capture(w, {"--list", profile}, timeout_s);
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

RunResult run_cases(const WorkerSpec& w, const std::vector<CaseSpec>& cases, const RunOptions& opt) {
  RunResult rr;
  rr.worker = w;
  const auto t0 = Clock::now();
  StopSignals stop_signals;
  KernelLog klog(opt.kmsg_path);
  rr.kernel_log_readable = klog.readable();
  rr.kernel_log_note = klog.note();

  struct Batch {
    std::vector<CaseSpec> cases;
    bool solo = false;  // a re-run of a case blamed in a batch: its verdict counts
  };
  std::map<std::string, std::string> batch_verdicts;  // id -> what the batch run said, for the re-run's reason
  std::deque<Batch> queue;
  const std::size_t bs = static_cast<std::size_t>(std::max(1, opt.batch));
  for (std::size_t i = 0; i < cases.size(); i += bs)
    queue.push_back({std::vector<CaseSpec>(cases.begin() + static_cast<long>(i),
                                           cases.begin() + static_cast<long>(std::min(cases.size(), i + bs)))});
  std::map<std::string, CaseResult> done;
  std::vector<Child> running;
  const int jobs = std::max(1, opt.jobs);
  std::map<std::string, std::string> extra_env;
  // Reference results shared by this run's workers (see worker.cpp); removed at the end.
  std::string ref_cache = (fs::temp_directory_path() / "rdna1-vmfix-ref.XXXXXX").string();
  if (mkdtemp(ref_cache.data()) != nullptr)
    extra_env["VMFIX_REF_CACHE"] = ref_cache;
  else
    ref_cache.clear();
  if (jobs > 1) {
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    extra_env["VMFIX_HOST_THREADS"] = std::to_string(std::max(1L, ncpu / jobs));
  }

  auto report_progress = [&](const CaseResult& r) {
    if (!opt.progress) return;
    fmt::print(stderr, "\r\033[K[{}/{}] {} {}", done.size(), cases.size(), r.spec.id, verdict_name(r.verdict));
    std::fflush(stderr);
  };

  auto finish = [&](Child& c) {
    klog.drain();
    ChildOutcome o;
    o.timed_out = c.timed_out;
    o.exit_code = WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1;
    o.term_signal = WIFSIGNALED(c.status) ? WTERMSIG(c.status) : 0;
    o.stderr_text = tail(c.err_buf, kStderrKeep);
    o.kernel_log = fault_lines_for_pid(klog.records(), c.pid);
    std::vector<CaseSpec> unrun, rerun;
    bool blamed = false;
    for (std::size_t i = 0; i < c.batch.size(); ++i) {
      CaseResult r;
      if (c.results[i]) {
        r = std::move(*c.results[i]);
      } else if (static_cast<int>(i) == c.current || (!blamed && c.current < 0)) {
        // The case that was running when the worker ended (or the first unfinished one, if none had
        // begun): every spawn settles at least one case, so re-queued batches always make progress.
        r.spec = c.batch[i];
        r.pid = c.pid;
        r.verdict = classify(o, r.reason);
        if (o.exit_code == 3) {
          r.verdict = Verdict::kUnsupported;
          r.reason = "the worker found no device";
        }
        r.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - c.started).count();
        blamed = true;
        if (opt.rerun_alone && !c.solo && c.batch.size() > 1 && g_stop == 0 &&
            (r.verdict == Verdict::kCrash || r.verdict == Verdict::kGpuFault)) {
          batch_verdicts[r.spec.id] = fmt::format("{} in a batch of {}", verdict_name(r.verdict), c.batch.size());
          rerun.push_back(c.batch[i]);
          continue;
        }
      } else {
        unrun.push_back(c.batch[i]);
        continue;
      }
      if (auto it = batch_verdicts.find(r.spec.id); it != batch_verdicts.end())
        r.reason += fmt::format("{}(re-run alone; first {})", r.reason.empty() ? "" : " ", it->second);
      r.exit_code = o.exit_code;
      r.term_signal = o.term_signal;
      r.error_text = o.stderr_text;
      r.kernel_log = o.kernel_log;
      r.fault_decoded = decode_fault_lines(r.kernel_log);
      done[r.spec.id] = std::move(r);
      report_progress(done[c.batch[i].id]);
    }
    if (!unrun.empty()) queue.push_front({unrun});
    if (!rerun.empty()) queue.push_front({rerun, true});
  };

  while ((!queue.empty() || !running.empty()) && g_stop == 0) {
    while (static_cast<int>(running.size()) < jobs && !queue.empty()) {
      Batch b = std::move(queue.front());
      queue.pop_front();
      std::vector<std::string> args{"--run"};
      for (const auto& cs : b.cases) args.push_back(cs.id);
      ExecImage im = make_image(w, args, extra_env);
      auto c = spawn(im);
      if (!c) {
        for (const auto& cs : b.cases) {
          CaseResult r;
          r.spec = cs;
          r.verdict = Verdict::kCrash;
          r.reason = c.error().context + ": " + c.error().message;
          done[cs.id] = r;
        }
        continue;
      }
      c->batch = b.cases;
      c->solo = b.solo;
      c->results.resize(b.cases.size());
      c->deadline = c->started + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(opt.timeout_s + opt.startup_s));
      running.push_back(std::move(*c));
    }
    std::vector<pollfd> fds;
    for (const auto& c : running) {
      if (c.out.get() >= 0) fds.push_back({c.out.get(), POLLIN, 0});
      if (c.err.get() >= 0) fds.push_back({c.err.get(), POLLIN, 0});
    }
    auto next = Clock::now() + std::chrono::seconds(1);
    for (const auto& c : running)
      if (!c.timed_out) next = std::min(next, c.deadline);
    const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
    poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(wait_ms + 1, 0, 1000)));
    for (auto it = running.begin(); it != running.end();) {
      Child& c = *it;
      if (c.out.get() >= 0) pump(c.out, c.out_buf);
      if (c.err.get() >= 0) pump(c.err, c.err_buf);
      if (c.err_buf.size() > 4 * kStderrKeep) c.err_buf = tail(c.err_buf, 2 * kStderrKeep);
      parse_lines(c, opt.timeout_s);
      if (!c.timed_out && Clock::now() >= c.deadline) {
        c.timed_out = true;
        kill_group(c.pid);
      }
      if (c.out.get() < 0 && c.err.get() < 0) {
        while (waitpid(c.pid, &c.status, 0) < 0 && errno == EINTR) {
        }
        kill_group(c.pid);  // anything the worker left in its group goes too
        finish(c);
        it = running.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (g_stop != 0) {
    rr.interrupted = true;
    for (auto& c : running) {
      kill_group(c.pid);
      while (waitpid(c.pid, &c.status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  if (opt.progress) fmt::print(stderr, "\r\033[K");
  for (const auto& cs : cases) {
    auto it = done.find(cs.id);
    if (it != done.end()) {
      rr.cases.push_back(std::move(it->second));
    } else {
      CaseResult r;
      r.spec = cs;
      r.verdict = Verdict::kSkipped;
      r.reason = rr.interrupted ? "run interrupted" : "not run";
      rr.cases.push_back(std::move(r));
    }
  }
  if (!ref_cache.empty()) {
    std::error_code ec;
    fs::remove_all(ref_cache, ec);
  }
  rr.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return rr;
}

}  // namespace vmfix::harness
