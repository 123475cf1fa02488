// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix-check: `rdna1-vmfix check` alone, for machines that build only the harness (the NVIDIA
// lab's plain g++ fallback in scripts/lab-cuda.sh, where the full tool's dependencies may be missing).
// Same options, same output, same exit codes; it finds the workers next to itself.

#include <span>

#include "commands.hpp"

int main(int argc, char** argv) {
  const int code = vmfix::cmd_check(std::span<char*>(argv, static_cast<std::size_t>(argc)));
  const vmfix::Output out(false, false);
  return out.finish(code);
}
