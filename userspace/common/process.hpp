// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// The one way userspace/ runs a child process: fork + exec with stdin on /dev/null and stdout
// (and stderr) on non-blocking pipes. `check` runs its workers as group leaders that die with us;
// `status`/`doctor` capture short commands (mokutil, modinfo, openssl) with a timeout; the kernel
// log falls back to journalctl. Everything the child needs is built before fork: nothing allocates
// between fork and exec.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace vmfix {

enum class ChildStderr {
  kPipe,      // its own pipe (Process::err)
  kToStdout,  // merged into the stdout pipe
  kDiscard,   // /dev/null
};

struct SpawnOptions {
  SpawnOptions() = default;
  explicit SpawnOptions(std::vector<std::string> command, ChildStderr err = ChildStderr::kPipe, bool group = false)
      : argv(std::move(command)), stderr_to(err), own_group(group) {}

  std::vector<std::string> argv;  // argv[0]: a path, or a name looked up in PATH
  // "KEY=VALUE" entries; nullopt = this process's environment.
  std::optional<std::vector<std::string>> env;
  ChildStderr stderr_to = ChildStderr::kPipe;
  // The child leads its own process group (kill() reaches everything it started) and gets SIGKILL
  // when this process dies (PR_SET_PDEATHSIG).
  bool own_group = false;
};

// A running child. Destroying a Process that was not waited for kills and reaps it.
class Process {
 public:
  static Result<Process> spawn(const SpawnOptions& options);

  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();

  [[nodiscard]] pid_t pid() const { return pid_; }
  Fd& out() { return out_; }  // non-blocking read ends; invalid once closed (EOF)
  Fd& err() { return err_; }
  [[nodiscard]] const Fd& out() const { return out_; }
  [[nodiscard]] const Fd& err() const { return err_; }
  // SIGKILL to the child, or to its whole group when it leads one. Safe after wait().
  void kill() const;
  // Waits for the child (EINTR-safe, once) and returns its wait status.
  int wait();
  [[nodiscard]] bool waited() const { return waited_; }

 private:
  Process() = default;
  pid_t pid_ = -1;
  bool own_group_ = false;
  bool waited_ = false;
  int status_ = 0;
  Fd out_, err_;
};

// Appends what a non-blocking fd has to buf; at EOF closes fd and returns false.
bool read_available(Fd& fd, std::string& buf);

struct Captured {
  int exit_code = -1;  // -1: could not run (not found, exit 127), killed, or timed out
  bool timed_out = false;
  std::string output;  // stdout (and stderr when merged), at most max_bytes
};
// Runs a command to completion, or kills it at the timeout.
Captured run_captured(const SpawnOptions& options, std::chrono::milliseconds timeout,
                      std::size_t max_bytes = std::size_t{1} << 20);

}  // namespace vmfix
