// SPDX-License-Identifier: GPL-2.0 OR MIT
// common/term: width, colour, wrap and tables (issue 16 §5). The terminal cases run on a real pty.

#include <pty.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include <catch2/catch_test_macros.hpp>

#include "common/term.hpp"

using namespace vmfix::term;

namespace {

std::size_t longest_line(const std::string& s) {
  std::istringstream in(s);
  std::string line;
  std::size_t w = 0;
  while (std::getline(in, line)) w = std::max(w, display_width(line));
  return w;
}

// A pty of the given size; closes both ends.
struct Pty {
  int master = -1, slave = -1;
  explicit Pty(unsigned short cols) {
    struct winsize ws {};
    ws.ws_col = cols;
    ws.ws_row = 24;
    REQUIRE(openpty(&master, &slave, nullptr, nullptr, &ws) == 0);
  }
  ~Pty() {
    ::close(master);
    ::close(slave);
  }
  Pty(const Pty&) = delete;
  Pty& operator=(const Pty&) = delete;
};

// Sets or unsets an environment variable for one scope.
struct Env {
  std::string name;
  std::string old;
  bool had;
  Env(const char* n, const char* v) : name(n), had(std::getenv(n) != nullptr) {
    if (had) old = std::getenv(n);
    if (v != nullptr) setenv(n, v, 1);
    else unsetenv(n);
  }
  ~Env() {
    if (had) setenv(name.c_str(), old.c_str(), 1);
    else unsetenv(name.c_str());
  }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
};

}  // namespace

TEST_CASE("term: width is the pty's columns, 80 for a non-terminal", "[term]") {
  Pty p(123);
  CHECK(width(p.slave) == 123);
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  CHECK(width(fds[1]) == 80);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("term: colour only on a terminal, never with NO_COLOR or TERM=dumb", "[term]") {
  Pty p(80);
  {
    const Env nc("NO_COLOR", nullptr);
    const Env t("TERM", "xterm");
    CHECK(colour(p.slave));
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    CHECK_FALSE(colour(fds[1]));
    ::close(fds[0]);
    ::close(fds[1]);
  }
  {
    const Env nc("NO_COLOR", "1");
    CHECK_FALSE(colour(p.slave));
  }
  {
    const Env nc("NO_COLOR", nullptr);
    const Env t("TERM", "dumb");
    CHECK_FALSE(colour(p.slave));
  }
  CHECK(paint("pass", Tone::kGood, false) == "pass");
  CHECK(paint("pass", Tone::kGood, true) == "\033[32mpass\033[0m");
  CHECK(display_width(paint("gpu_fault", Tone::kBad, true)) == 9);
  CHECK(verdict_tone("gpu_fault") == Tone::kBad);
  CHECK(verdict_tone("pass") == Tone::kGood);
  CHECK(verdict_tone("skipped") == Tone::kWarn);
}

TEST_CASE("term: wrap keeps every line within the width except unbreakable tokens", "[term]") {
  const std::string prose =
      "the driver never produced an MTYPE_CC mapping for these workloads: the module changed nothing, and any "
      "verdict difference between the runs is not its doing";
  for (std::size_t w : {20U, 40U, 80U}) {
    const auto lines = wrap_lines(prose, w, 2);
    for (const auto& l : lines) CHECK(display_width(l) <= w);
    for (std::size_t i = 1; i < lines.size(); ++i) CHECK(lines[i].starts_with("  "));
  }
  const std::string token = "/usr/lib/x86_64-linux-gnu/libamdhip64.so.5.2.50203-with-a-very-long-name";
  const auto lines = wrap_lines("see " + token + " here", 30);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == token);  // whole, on its own line
  CHECK(wrap("a b", 80) == "a b\n");
  CHECK(wrap("", 80) == "\n");
  CHECK(display_width("é—x") == 3);
}

TEST_CASE("term: wrap_text leaves fitting lines alone and hangs continuation lines", "[term]") {
  const std::string fits = "  kind   pages     MTYPE\n";
  CHECK(wrap_text(fits, 80) == fits);  // alignment spaces survive
  const std::string out = wrap_text("  - " + std::string(30, 'x') + " " + std::string(30, 'y') + "\n", 40);
  CHECK(out == "  - " + std::string(30, 'x') + "\n    " + std::string(30, 'y') + "\n");
}

TEST_CASE("term: tables shrink wrappable columns to fit, keep numbers whole, no trailing spaces", "[term]") {
  const std::vector<Column> cols = {{"id"}, {"description", false, true}, {"count", true}};
  const std::vector<TableRow> rows = {
      {{"a", "a fairly long description that will need to wrap inside its column", "12345"}, ""},
      {{"bb", "short", "7"}, "a note under the row that also wraps when it is longer than the table is wide"}};
  for (std::size_t w : {30U, 50U, 100U}) {
    const std::string t = table(cols, rows, w);
    CHECK(longest_line(t) <= w);
    std::istringstream in(t);
    std::string line;
    while (std::getline(in, line)) CHECK((line.empty() || line.back() != ' '));
  }
  const std::string t = table(cols, rows, 100);
  CHECK(t.starts_with("id  description"));
  CHECK(t.find("12345") != std::string::npos);
}

TEST_CASE("term: a note column that cannot fit beside long ids goes under its row; records when nothing fits",
          "[term]") {
  const std::vector<Column> cols = {
      {"CASE"}, {"VERDICT"}, {"MAX_ERR", true}, {"KERN_MS", true}, {"NOTE", false, true}};
  const std::vector<TableRow> rows = {
      {{"fwd.fp32.nchw.heur.mbv2_conv1.device", "wrong_result", "3.53e-07", "2.35", ""}, ""},
      {{"planted.gpu_fault", "gpu_fault", "-", "-",
        "torch worker: emulated GPU memory access fault in planted case planted.gpu_fault (pid 1311)"},
       ""}};
  const std::string t = table(cols, rows, 80);
  CHECK(longest_line(t) <= 80);
  CHECK(t.starts_with("CASE "));
  CHECK(t.find("NOTE") == std::string::npos);  // not a column any more
  CHECK(t.find("\nplanted.gpu_fault") != std::string::npos);
  CHECK(t.find("\n  note: torch worker: emulated GPU memory access fault") != std::string::npos);
  // Wide enough: the note stays a column.
  const std::string wide = table(cols, rows, 160);
  CHECK(wide.find("NOTE") != std::string::npos);
  CHECK(wide.find("note:") == std::string::npos);
  // Narrower than the ids themselves: one record per row, every line within the width.
  const std::string narrow = table(cols, rows, 40);
  CHECK(longest_line(narrow) <= 40);
  CHECK(narrow.find("planted.gpu_fault\n  verdict: gpu_fault\n  max_err: -\n  kern_ms: -\n  note: torch worker:") !=
        std::string::npos);
}

TEST_CASE("term: reflow joins the source's line breaks inside a sentence, keeps the others", "[term]") {
  CHECK(reflow("Run the harness: direct, implicit-GEMM and dot2\nkernels, on layers of ResNet-50.\n"
               "Verdicts: pass, crash.\nExit: 0 all pass") ==
        "Run the harness: direct, implicit-GEMM and dot2 kernels, on layers of ResNet-50.\n"
        "Verdicts: pass, crash.\nExit: 0 all pass");
  CHECK(reflow("a list\n- one\n- two\n  indented") == "a list\n- one\n- two\n  indented");
  CHECK(reflow("") == "");
  CHECK(reflow("para one\n\npara two") == "para one\n\npara two");
}
