// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix doctor: CLI wiring (the logic is gather.cpp, env_sources.cpp, python_envs.cpp, advice.cpp
// and diagnose() in lib/doctor.cpp).

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "common/cli.hpp"
#include "common/json_stamp.hpp"
#include "commands.hpp"
#include "doctor/cli.hpp"
#include "doctor/gather.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace vmfix::doctor {

int run_cli(std::span<char*> args) {
  CLI::App app{"One verdict for this machine: the RDNA1 GPU and its gfx target (KFD, PCI), kernel and\n"
               "rdna1_vmfix module state, where HSA_OVERRIDE_GFX_VERSION and the other ROCm variables are really\n"
               "set (this process, the invoking user's shell start files and environment.d when run through\n"
               "sudo or pkexec, /etc/environment, /etc/profile.d, systemd units, virtualenv and conda activation,\n"
               "running /dev/kfd processes as root), the user's PyTorch installs and the gfx targets they carry,\n"
               "installed ROCm libraries, and recent faults; then the most likely cause, the evidence and the\n"
               "commands that fix it on this machine. MTYPE is blamed only on module audit evidence.",
               "rdna1-vmfix doctor"};
  JsonFlags json_flags;
  GatherOptions opt;
  app.add_option("--from-log", opt.log_path, "read faults from this log ('-' = stdin) instead of the live kernel log");
  app.add_option("--sysfs-root", opt.root,
                 "a fake root: read DIR/sys, DIR/etc, DIR/home, DIR/proc ... instead of the machine's (tests, saved trees)");
  app.add_option("--lib-dir", opt.lib_dirs, "search these directories for libraries instead of the defaults (repeatable)");
  app.add_option("--python", opt.python, "look for PyTorch only in this Python environment (its directory or bin/python)");
  app.add_flag("--no-libs", opt.no_libs, "skip the library search");
  add_json_flags(app, json_flags);
  app.footer(
      "Exit codes:\n"
      "  0  healthy: nothing wrong found\n"
      "  1  a problem was found (the verdict names it: isa_mismatch, override_invalid, missing_code_object, a\n"
      "     fault class, or mtype_cc_seen when the module's audit counters show cache-coherent mappings)\n"
      "  2  usage error: --lib-dir or --python that does not exist, --from-log unreadable or not a text log\n"
      "  3  no RDNA1 GPU on this machine (or under --sysfs-root)\n"
      "  4  the module's status files are unreadable or of an unknown schema, or stdout failed\n");
  if (auto rc = parse_cli(app, args); rc) return *rc;
  const Output out = json_flags.output();
  if (auto st = check_dir_option("--sysfs-root", opt.root); !st) return out.error(st.error());
  opt.env = environment_map(environ);
  opt.euid = ::geteuid();
  auto x = gather(opt);
  if (!x) return out.error(x.error());
  if (out.json()) {
    nlohmann::json doc = extended_json(*x);
    stamp_document(doc);
    out.emit(doc);
  } else {
    out.text(extended_text(*x));
  }
  return x->base.exit_code;
}

}  // namespace vmfix::doctor

namespace vmfix {
int cmd_doctor(std::span<char*> args) { return doctor::run_cli(args); }
}  // namespace vmfix
