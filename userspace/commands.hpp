// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// One row per subcommand (main.cpp); each lives in userspace/<name>/cli.cpp as cmd_<name>().

#include <span>
#include <string>

#include "common/output.hpp"

namespace vmfix {

// args[0] is the command name; the command parses the rest (including --json/--pretty/--help).
using CommandFn = int (*)(std::span<char*> args);

struct Command {
  const char* name;
  const char* summary;
  CommandFn fn;
};

int cmd_pte(std::span<char*> args);
int cmd_faults(std::span<char*> args);
int cmd_check(std::span<char*> args);
int cmd_status(std::span<char*> args);
int cmd_isa(std::span<char*> args);
int cmd_doctor(std::span<char*> args);
int cmd_census(std::span<char*> args);
int cmd_report(std::span<char*> args);

}  // namespace vmfix
