// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Entry points of `rdna1-vmfix doctor` and `rdna1-vmfix report` (args[0] is the command name).

#include <span>

namespace vmfix::doctor {
int run_cli(std::span<char*> args);
}  // namespace vmfix::doctor

namespace vmfix::report {
int run_cli(std::span<char*> args);
}  // namespace vmfix::report
