// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix report: CLI wiring (the document is built by report.cpp from what doctor gathers).

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "common/cli.hpp"
#include "common/json_stamp.hpp"
#include "commands.hpp"
#include "doctor/cli.hpp"
#include "doctor/gather.hpp"
#include "report/report.hpp"

#ifndef VMFIX_COMMIT
#define VMFIX_COMMIT "unknown"
#endif

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace vmfix::report {

namespace {

// `rdna1-vmfix check --json` (quick profile) of this very binary; its document, or an error note.
nlohmann::json run_quick_check() {
  std::array<char, 4096> self{};
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n <= 0) return {{"error", "cannot find this program (/proc/self/exe)"}};
  const std::string cmd = fmt::format("'{}' check --json --profile quick --no-progress 2>/dev/null", std::string(self.data(), n));
  std::FILE* p = ::popen(cmd.c_str(), "r");  // NOLINT(cert-env33-c): fixed command, our own binary
  if (p == nullptr) return {{"error", "cannot start the check"}};
  std::string data;
  std::array<char, 8192> buf{};
  std::size_t got = 0;
  while ((got = std::fread(buf.data(), 1, buf.size(), p)) > 0 && data.size() < (16U << 20)) data.append(buf.data(), got);
  const int status = ::pclose(p);
  auto doc = nlohmann::json::parse(data, nullptr, false);
  if (doc.is_discarded()) return {{"error", "the check printed no JSON document"}, {"exit_code", WEXITSTATUS(status)}};
  return doc;
}

}  // namespace

int run_cli(std::span<char*> args) {
  CLI::App app{"Everything a maintainer asks for in a bug report, in one document: tool version and commit,\n"
               "distribution and kernel, ROCm/HIP versions, PyTorch installs (version, HIP/CUDA, gfx targets\n"
               "carried), GPUs (PCI id, gfx target, driver, VBIOS and firmware versions), the rdna1_vmfix module's\n"
               "status and counters, doctor's verdict with evidence and commands, where ROCm variables are set,\n"
               "the last faults of the kernel log decoded, the cached census result, and optionally a quick\n"
               "`check`. Markdown by default, --json for one JSON document. User names, home directories, host\n"
               "names and serial numbers are replaced by placeholders unless --no-redact; the report says how\n"
               "many of each it replaced.",
               "rdna1-vmfix report"};
  JsonFlags json_flags;
  doctor::GatherOptions opt;
  bool no_redact = false;
  bool check = false;
  std::size_t max_faults = 10;
  app.add_flag("--no-redact", no_redact, "keep user names, home paths, host names and serial numbers");
  app.add_flag("--check", check, "also run `rdna1-vmfix check` (quick profile) and include its result");
  app.add_option("--max-faults", max_faults, "how many of the last fault events to include")->capture_default_str();
  app.add_option("--from-log", opt.log_path, "read faults from this log ('-' = stdin) instead of the live kernel log");
  app.add_option("--sysfs-root", opt.root, "a fake root: read DIR/sys, DIR/etc, DIR/home, DIR/proc ... (tests)");
  app.add_option("--lib-dir", opt.lib_dirs, "search these directories for libraries instead of the defaults (repeatable)");
  app.add_option("--python", opt.python, "look for PyTorch only in this Python environment");
  app.add_flag("--no-libs", opt.no_libs, "skip the library search");
  add_json_flags(app, json_flags);
  app.footer("Exit codes: 0 the report was printed, 2 usage error, 4 runtime error (stdout failed).\n"
             "The census result is read from $VMFIX_STATE_DIR/census.json (default /var/lib/rdna1-vmfix/census.json).");
  if (auto rc = parse_cli(app, args); rc) return *rc;
  const Output out = json_flags.output();
  if (auto st = check_dir_option("--sysfs-root", opt.root); !st) return out.error(st.error());
  opt.env = doctor::environment_map(environ);
  opt.euid = ::geteuid();
  auto x = doctor::gather(opt);
  if (!x) return out.error(x.error());
  const HostFiles host(opt.root);
  Input in;
  in.tool_version = VMFIX_VERSION;
  in.tool_commit = VMFIX_COMMIT;
  in.generated = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now())));
  in.system = read_system(host);
  in.rocm = read_rocm(host);
  {
    std::vector<pyenv::PythonEnv> envs = x->env.python_envs;
    for (auto& e : pyenv::find_python_envs(host, {"", "", {}, true})) envs.push_back(std::move(e));
    in.rocm.wheels = read_rocm_wheels(host, envs);
  }
  in.torch = x->torch;
  for (const auto& g : x->base.input.status.gpus) in.gpu_sysfs.push_back(read_gpu_sysfs(host, g.bdf));
  in.doctor = x->base;
  in.env = x->env;
  in.census = read_census(host, census_state_dir(opt.env));
  if (check) in.check = run_quick_check();
  add_login_users(host, in);
  nlohmann::json doc = build(in, {!no_redact, max_faults});
  doc["doctor"]["verdict"]["steps"] = doctor::advice::steps_json(x->steps);
  if (!no_redact) {
    // The steps hold paths too: redact them like the rest (build() already counted the others).
    Redactor r;
    for (const auto& h : in.homes) r.add(Secret::kHomePath, h);
    for (const auto& u : in.user_names) r.add(Secret::kUserName, u);
    r.add(Secret::kHostName, in.system.hostname);
    r.apply(doc["doctor"]["verdict"]["steps"]);
  }
  stamp_document(doc);
  if (out.json())
    out.emit(doc);
  else
    out.text(markdown(doc));
  return 0;
}

}  // namespace vmfix::report

namespace vmfix {
int cmd_report(std::span<char*> args) { return report::run_cli(args); }
}  // namespace vmfix
