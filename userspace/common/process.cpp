// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <csignal>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace vmfix {
namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
  Fd read, write;
};

Result<Pipe> make_pipe() {
  std::array<int, 2> p{};
  if (::pipe2(p.data(), O_CLOEXEC) != 0) return runtime_error("pipe", std::strerror(errno));
  return Pipe{Fd(p[0]), Fd(p[1])};
}

// argv/envp as the exec call wants them, pointing into strings that outlive the fork.
struct ExecImage {
  std::vector<std::string> env_storage;
  std::vector<char*> argv, envp;
  explicit ExecImage(const SpawnOptions& o) : env_storage(o.env.value_or(std::vector<std::string>{})) {
    for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));  // exec does not write
    argv.push_back(nullptr);
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  [[nodiscard]] char* const* environment(const SpawnOptions& o) const { return o.env ? envp.data() : environ; }
};

// In the child: only async-signal-safe calls from here to exec.
[[noreturn]] void exec_child(const SpawnOptions& o, const ExecImage& im, pid_t parent, int devnull, int out, int err) {
  if (o.own_group) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  }
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(out, 1);
  ::dup2(err >= 0 ? err : out, 2);
  if (std::strchr(im.argv[0], '/') != nullptr)
    ::execve(im.argv[0], im.argv.data(), im.environment(o));
  else
    ::execvpe(im.argv[0], im.argv.data(), im.environment(o));
  static constexpr char kMsg[] = "rdna1-vmfix: error: exec failed\n";
  (void)!::write(2, kMsg, sizeof kMsg - 1);
  ::_exit(127);
}

}  // namespace

Result<Process> Process::spawn(const SpawnOptions& o) {
  if (o.argv.empty()) return runtime_error("spawn", "empty command line");
  auto out = make_pipe();
  if (!out) return out.error();
  Pipe err;
  if (o.stderr_to == ChildStderr::kPipe) {
    auto e = make_pipe();
    if (!e) return e.error();
    err = std::move(*e);
  }
  const Fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  const int err_target = o.stderr_to == ChildStderr::kPipe      ? err.write.get()
                         : o.stderr_to == ChildStderr::kDiscard ? devnull.get()
                                                                : -1;
  const ExecImage im(o);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return runtime_error("fork", std::strerror(errno));
  if (pid == 0) exec_child(o, im, parent, devnull.get(), out->write.get(), err_target);
  if (o.own_group) ::setpgid(pid, pid);  // both sides set it: no window where kill(-pid) misses the child
  Process p;
  p.pid_ = pid;
  p.own_group_ = o.own_group;
  p.out_ = std::move(out->read);
  p.err_ = std::move(err.read);
  for (const Fd* fd : {&p.out_, &p.err_})
    if (fd->valid()) ::fcntl(fd->get(), F_SETFL, O_NONBLOCK);
  return p;
}

Process::Process(Process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      own_group_(o.own_group_),
      waited_(o.waited_),
      status_(o.status_),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)) {}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0 && !waited_) {
      kill();
      wait();
    }
    pid_ = std::exchange(o.pid_, -1);
    own_group_ = o.own_group_;
    waited_ = o.waited_;
    status_ = o.status_;
    out_ = std::move(o.out_);
    err_ = std::move(o.err_);
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && !waited_) {
    kill();
    wait();
  }
}

void Process::kill() const {
  if (pid_ <= 0) return;
  if (own_group_)
    ::kill(-pid_, SIGKILL);  // the group outlives its leader: this works after wait() too
  else if (!waited_)
    ::kill(pid_, SIGKILL);
}

int Process::wait() {
  if (!waited_ && pid_ > 0) {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    waited_ = true;
  }
  return status_;
}

bool read_available(Fd& fd, std::string& buf) {
  std::array<char, 16384> tmp{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), tmp.data(), tmp.size());
    if (n > 0) {
      buf.append(tmp.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    fd.reset();  // EOF or a read error: nothing more will come
    return false;
  }
}

Captured run_captured(const SpawnOptions& options, std::chrono::milliseconds timeout, std::size_t max_bytes) {
  Captured res;
  auto p = Process::spawn(options);
  if (!p) return res;
  const auto deadline = Clock::now() + timeout;
  std::string out;
  while (p->out().valid()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      res.timed_out = true;
      break;
    }
    pollfd pfd{p->out().get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000))) < 0 && errno != EINTR) break;
    read_available(p->out(), out);
    if (out.size() > max_bytes) out.resize(max_bytes);
  }
  if (res.timed_out) p->kill();
  const int status = p->wait();
  res.output = std::move(out);
  if (res.timed_out || !WIFEXITED(status) || WEXITSTATUS(status) == 127) return res;
  res.exit_code = WEXITSTATUS(status);
  return res;
}

}  // namespace vmfix
