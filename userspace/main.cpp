// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix: front door. Dispatches exact subcommand names (prefixes would break scripts).

#include <array>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "common/term.hpp"
#include "common/output.hpp"

namespace vmfix {
namespace {

constexpr std::array kCommands = {
    Command{"pte", "decode a gfx10 GPUVM PTE and show what each policy mode makes of it", cmd_pte},
    Command{"faults", "decode and classify amdgpu VM faults and ROCm error lines of a log", cmd_faults},
    Command{"check", "run the HIP convolution harness: verdict per kernel, dtype and memory kind", cmd_check},
    Command{"status", "show AMD GPUs (gfx target, KFD node, driver) and the module's state", cmd_status},
    Command{"isa", "list GPU code objects in binaries and audit them for the RDNA1 target", cmd_isa},
    Command{"doctor", "one verdict for this machine: GPU, module, environment, libraries, faults", cmd_doctor},
    Command{"census", "which MTYPE each kind of GPU allocation gets here, through the ROCT thunk", cmd_census},
    Command{"report", "a bug report: versions, GPUs, module, doctor's verdict, faults (redacted)", cmd_report},
};

void print_usage(std::FILE* f) {
  std::string s = fmt::format(
      "Usage: {} COMMAND [OPTIONS]\n"
      "       {} help COMMAND | --help | --version\n\n"
      "RDNA1 (gfx1010/gfx1011/gfx1012) GPUVM memory-type tools: verify, diagnose, decode.\n\n"
      "Commands:\n",
      kToolName, kToolName);
  std::vector<term::TableRow> rows;
  rows.reserve(kCommands.size());
  for (const auto& c : kCommands) rows.push_back({{"", c.name, c.summary}, ""});
  s += term::table({{""}, {""}, {"", false, true}}, rows, term::out_width()).substr(1);  // no header line
  s += "\nEvery command takes --help; data commands take --json (and --pretty).\n"
       "Exit codes: 0 ok, 1 a check found a problem, 2 usage or bad input, 3 no suitable GPU,\n"
       "4 runtime or environment error.\n";
  std::fputs(term::wrap_text(s, term::out_width()).c_str(), f);
}

const Command* find_command(std::string_view name) {
  for (const auto& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

// Levenshtein distance, for "did you mean" on unknown commands.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

int unknown_command(std::string_view name) {
  const Output out(false, false);
  std::string hint;
  for (const auto& c : kCommands)
    if (edit_distance(name, c.name) <= 2) hint = fmt::format(" (did you mean '{}'?)", c.name);
  return out.error(usage_error(std::string(name), "unknown command" + hint + "; see 'rdna1-vmfix --help'"));
}

int run(std::span<char*> args) {
  term::configure(1);  // width and colour of human output: stdout's terminal, else 80 and none
  if (args.size() < 2) {
    print_usage(stderr);
    return static_cast<int>(Exit::kUsage);
  }
  const std::string_view first = args[1];
  if (first == "--help" || first == "-h") {
    print_usage(stdout);
    return 0;
  }
  if (first == "--version" || first == "-V") {
    fmt::print("{} {}\n", kToolName, VMFIX_VERSION);
    return 0;
  }
  if (first == "help") {
    if (args.size() < 3) {
      print_usage(stdout);
      return 0;
    }
    const Command* c = find_command(args[2]);
    if (c == nullptr) return unknown_command(args[2]);
    // "help X" is "X --help".
    std::string name = c->name;
    std::string help = "--help";
    std::array<char*, 2> argv{name.data(), help.data()};
    return c->fn(argv);
  }
  const Command* c = find_command(first);
  if (c == nullptr) return unknown_command(first);
  return c->fn(args.subspan(1));
}

}  // namespace
}  // namespace vmfix

int main(int argc, char** argv) {
  const int code = vmfix::run(std::span<char*>(argv, static_cast<std::size_t>(argc)));
  const vmfix::Output out(false, false);
  return out.finish(code);
}
