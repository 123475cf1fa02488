// SPDX-License-Identifier: GPL-2.0 OR MIT
// common/process: the one child-process runner (check's workers, status's commands, journalctl).

#include <sys/wait.h>

#include <catch2/catch_test_macros.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>

#include "common/process.hpp"

using vmfix::ChildStderr;
using vmfix::Process;
using vmfix::run_captured;
using vmfix::SpawnOptions;
using namespace std::chrono_literals;

namespace {
// Dead: no such process, or a zombie nobody has reaped yet (an init that does not reap orphans).
bool dead(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  return stat >> pid_field >> comm >> state && state == "Z";
}
}  // namespace

TEST_CASE("run_captured returns the exit status and the output, stderr merged on request", "[core][process]") {
  const auto r = run_captured(SpawnOptions({"sh", "-c", "echo out; echo err >&2; exit 3"}, ChildStderr::kToStdout), 10s);
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.timed_out);
  CHECK(r.output == "out\nerr\n");
  const auto quiet = run_captured(SpawnOptions({"sh", "-c", "echo err >&2"}, ChildStderr::kDiscard), 10s);
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.output.empty());
}

TEST_CASE("run_captured reports a missing command and caps the output", "[core][process]") {
  CHECK(run_captured(SpawnOptions({"rdna1-vmfix-no-such-command"}), 10s).exit_code == -1);
  const auto big = run_captured(SpawnOptions({"sh", "-c", "head -c 100000 /dev/zero"}), 10s, 1000);
  CHECK(big.exit_code == 0);
  CHECK(big.output.size() == 1000);
}

TEST_CASE("run_captured kills a command that outlives its timeout", "[core][process]") {
  const auto r = run_captured(SpawnOptions({"sleep", "30"}), 100ms);
  CHECK(r.timed_out);
  CHECK(r.exit_code == -1);
}

TEST_CASE("killing a group leader's process reaches what it started", "[core][process]") {
  auto p = Process::spawn(SpawnOptions({"sh", "-c", "sleep 30 & echo $!; wait"}, ChildStderr::kPipe, true));
  REQUIRE(p.ok());
  std::string out;
  for (int i = 0; i < 200 && out.find('\n') == std::string::npos && p->out().valid(); ++i) {
    vmfix::read_available(p->out(), out);
    std::this_thread::sleep_for(10ms);
  }
  const pid_t grandchild = static_cast<pid_t>(std::stol(out));
  REQUIRE(grandchild > 0);
  p->kill();
  const int status = p->wait();
  CHECK(WIFSIGNALED(status));
  // The orphaned sleep was in the group: it died with it.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = dead(grandchild);
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  CHECK(gone);
}
