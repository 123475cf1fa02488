// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix doctor: one verdict for this machine.

#include <sys/utsname.h>

#include <optional>

#include <CLI/CLI.hpp>

#include "common/cli.hpp"
#include "commands.hpp"
#include "doctor/doctor.hpp"
#include "common/kmsg.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace vmfix {

int cmd_doctor(std::span<char*> args) {
  CLI::App app{"One verdict for this machine: the RDNA1 GPU and its gfx target (KFD, PCI), kernel and\n"
               "rdna1_vmfix module state, ROCm environment variables (HSA_OVERRIDE_GFX_VERSION, *_VISIBLE_DEVICES,\n"
               "HSA_*, MIOPEN_*, PYTORCH_ROCM_ARCH, ...), installed ROCm/PyTorch/MIOpen/rocBLAS libraries and the\n"
               "gfx targets of their code objects, and recent faults (live kernel log or --from-log); then the\n"
               "most likely cause, the evidence and what to do. MTYPE is blamed only on module audit evidence.",
               "rdna1-vmfix doctor"};
  JsonFlags json_flags;
  std::string log_path;
  std::string root;
  std::vector<std::string> lib_dirs;
  bool no_libs = false;
  app.add_option("--from-log", log_path, "read faults from this log ('-' = stdin) instead of the live kernel log");
  app.add_option("--sysfs-root", root, "read DIR/sys/... instead of /sys (tests, saved trees)");
  app.add_option("--lib-dir", lib_dirs, "search these directories for libraries instead of the defaults (repeatable)");
  app.add_flag("--no-libs", no_libs, "skip the library search");
  add_json_flags(app, json_flags);
  app.footer(
      "Exit codes:\n"
      "  0  healthy: nothing wrong found\n"
      "  1  a problem was found (the verdict names it: isa_mismatch, missing_code_object, a fault class,\n"
      "     or mtype_cc_seen when the module's audit counters show cache-coherent mappings)\n"
      "  2  usage error, or --from-log unreadable/not a text log\n"
      "  3  no RDNA1 GPU on this machine (or under --sysfs-root)\n"
      "  4  the module's status files are unreadable or of an unknown schema, or stdout failed\n"
      "Default library directories: /opt/rocm*/lib{,64}, /usr/lib/x86_64-linux-gnu, /usr/lib64,\n"
      "/usr/local/lib, python3*/{site,dist}-packages/torch/lib under /usr/lib, /usr/local/lib,\n"
      "~/.local/lib, $VIRTUAL_ENV/lib and $CONDA_PREFIX/lib.\n");
  if (auto rc = parse_cli(app, args); rc) return *rc;

  Output out = json_flags.output();
  if (auto st = check_dir_option("--sysfs-root", root); !st) return out.error(st.error());
  const Sysfs fs(root);
  doctor::Input in;
  in.status = collect_status(fs, fs.is_real() ? drm_marketing_name : nullptr);
  utsname u{};
  if (::uname(&u) == 0) in.kernel_release = u.release;
  in.env = doctor::relevant_env(environ);
  if (!no_libs) {
    in.libraries = doctor::find_libraries(lib_dirs.empty() ? doctor::default_lib_dirs() : lib_dirs,
                                          doctor::default_scanner());
    in.libraries_searched = true;
  }
  // Recent faults: --from-log, else the live kernel log (not readable: a note, not an error).
  std::optional<std::string> text;
  if (!log_path.empty()) {
    auto data = read_log_file(log_path);
    if (!data) return out.error(data.error());
    text = std::move(*data);
    in.log_source = log_path == "-" ? "stdin" : log_path;
  } else if (root.empty()) {
    auto log = read_kernel_log();
    if (log) {
      text = std::move(log->text);
      in.log_source = log->source;
    } else {
      in.log_source = log.error().message;
    }
  } else {
    in.log_source = "--sysfs-root given without --from-log";
  }
  if (text && text->empty() && log_path.empty()) {
    in.faults = faults::Report{};  // an empty kernel ring
  } else if (text) {
    auto rep = faults::parse_log(*text, {});
    if (!rep) {
      Error e = rep.error();
      e.context = in.log_source;
      return out.error(e);
    }
    in.faults = std::move(*rep);
  }
  if (root.empty()) in.signing = module_signing_state(host_probe());
  const doctor::Report r = doctor::diagnose(std::move(in));
  if (out.json())
    out.emit(doctor::report_json(r));
  else
    out.text(doctor::report_text(r));
  return r.exit_code;
}

}  // namespace vmfix
