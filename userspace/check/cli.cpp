// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix check: run the convolution harness (userspace/check/workers) on a backend, every case in an
// isolated worker process, and report a verdict per case.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "common/cli.hpp"
#include "commands.hpp"
#include "check/check.hpp"

namespace vmfix {
namespace {

namespace fs = std::filesystem;
using namespace vmfix::harness;

// Worker executables sit next to rdna1-vmfix in the build tree, or in ../libexec/rdna1-vmfix once
// installed; $VMFIX_CHECK_WORKER_DIR overrides both.
std::optional<std::string> find_worker(const std::string& name, int mode = X_OK) {
  std::vector<fs::path> dirs;
  if (const char* d = std::getenv("VMFIX_CHECK_WORKER_DIR")) dirs.emplace_back(d);
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(self.parent_path());
    dirs.push_back(self.parent_path().parent_path() / "libexec" / "rdna1-vmfix");
  }
  for (const auto& d : dirs) {
    const fs::path p = d / name;
    if (access(p.c_str(), mode) == 0) return p.string();
  }
  return std::nullopt;
}

// The first executable `name` in a PATH-style list.
std::optional<std::string> search_path(const std::string& path_list, const std::string& name) {
  std::size_t start = 0;
  for (;;) {
    const auto colon = path_list.find(':', start);
    const std::string dir = path_list.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty() && access((fs::path(dir) / name).c_str(), X_OK) == 0) return (fs::path(dir) / name).string();
    if (colon == std::string::npos) return std::nullopt;
    start = colon + 1;
  }
}

// Environment variables of a process, from /proc/PID/environ (NUL-separated).
std::map<std::string, std::string> process_env(pid_t pid) {
  std::map<std::string, std::string> env;
  std::FILE* f = std::fopen(fmt::format("/proc/{}/environ", pid).c_str(), "rb");
  if (f == nullptr) return env;
  std::string all;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) all.append(buf, n);
  std::fclose(f);
  std::size_t pos = 0;
  while (pos < all.size()) {
    const auto end = all.find('\0', pos);
    const std::string kv = all.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (const auto eq = kv.find('='); eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return env;
}

// The nearest ancestor process that runs as uid (the shell that called sudo), or 0.
pid_t ancestor_of_uid(uid_t uid) {
  pid_t pid = getppid();
  for (int depth = 0; pid > 1 && depth < 16; ++depth) {
    std::FILE* f = std::fopen(fmt::format("/proc/{}/status", pid).c_str(), "r");
    if (f == nullptr) return 0;
    char line[256];
    pid_t ppid = 0;
    long real_uid = -1;
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::sscanf(line, "PPid: %d", &ppid) == 1) continue;
      if (std::sscanf(line, "Uid: %ld", &real_uid) == 1) continue;
    }
    std::fclose(f);
    if (real_uid == static_cast<long>(uid)) return pid;
    pid = ppid;
  }
  return 0;
}

// The interpreter for --backend=torch: --python, else the active virtualenv's python, else python3 on
// PATH; under sudo the invoking user's (their shell's VIRTUAL_ENV and PATH). how says which rule chose.
std::optional<std::string> torch_python(const std::string& given, std::string& how) {
  if (!given.empty()) {
    how = "--python";
    if (given.find('/') != std::string::npos) return given;
    const char* path = std::getenv("PATH");
    return search_path(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin", given);
  }
  std::map<std::string, std::string> env;
  const char* sudo_uid = std::getenv("SUDO_UID");
  if (getuid() == 0 && sudo_uid != nullptr) {
    if (const pid_t shell = ancestor_of_uid(static_cast<uid_t>(std::strtoul(sudo_uid, nullptr, 10))); shell > 0) {
      env = process_env(shell);
      how = fmt::format("the environment of the shell that ran sudo (pid {})", shell);
    }
  }
  if (how.empty()) {
    for (const char* k : {"VIRTUAL_ENV", "PATH"})
      if (const char* v = std::getenv(k)) env[k] = v;
    how = "this environment";
  }
  if (auto it = env.find("VIRTUAL_ENV"); it != env.end() && !it->second.empty()) {
    for (const char* n : {"python", "python3"}) {
      const fs::path p = fs::path(it->second) / "bin" / n;
      if (access(p.c_str(), X_OK) == 0) {
        how += ": VIRTUAL_ENV";
        return p.string();
      }
    }
  }
  how += ": python3 on PATH";
  return search_path(env.count("PATH") ? env["PATH"] : "/usr/local/bin:/usr/bin:/bin", "python3");
}

std::string getenv_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

struct CheckOptions {
  std::string backend = "hip", profile = "quick", cases_filter, format = "text", save_json, python, torch_device = "gpu";
  double timeout_s = 10;
  int jobs = 0, batch = 0;
  bool json = false, pretty = false, compare_modes = false, override_exp = false, list = false, no_progress = false;
};

void add_options(CLI::App& app, CheckOptions& o) {
  app.add_option("--backend", o.backend,
                 "hip (AMD, gfx1010/1011/1012), cuda (NVIDIA lab), host (CPU threads, CI) or torch (your PyTorch's "
                 "conv2d, forward and backward, through MIOpen/cuDNN)")
      ->check(CLI::IsMember({"hip", "cuda", "host", "torch"}))
      ->capture_default_str();
  app.add_option("--python", o.python,
                 "torch: the interpreter whose torch to test (default: the active virtualenv, else python3 on PATH; "
                 "under sudo, the invoking user's)");
  app.add_option("--torch-device", o.torch_device,
                 "torch: gpu, or cpu (the CPU device of any torch: checks the pipeline, runs no GPU code)")
      ->check(CLI::IsMember({"gpu", "cpu"}))
      ->capture_default_str();
  app.add_option("--profile", o.profile, "quick or full")->check(CLI::IsMember({"quick", "full"}))->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "seconds per case before it counts as a hang")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--cases", o.cases_filter,
                 "comma-separated shell patterns over case ids (see --list); the hidden planted-fault cases "
                 "(planted.segv, planted.hang, planted.wrong, planted.gpu_fault) need a pattern starting with 'planted'");
  app.add_option("--jobs", o.jobs, "workers at a time (default: CPU count on host, 1 on a GPU and for torch)")
      ->check(CLI::Range(1, 256));
  app.add_option("--batch", o.batch,
                 "cases per worker process (default: 1 on host, 8 on a GPU, where each process pays the runtime's "
                 "start-up, 256 for torch, whose start-up is seconds); a crash blames its case and re-runs the rest "
                 "of the batch in a fresh worker (torch: the blamed case first, alone)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--format", o.format, "text, json or markdown")->check(CLI::IsMember({"text", "json", "markdown"}));
  app.add_option("--save-json", o.save_json, "also write the JSON document to FILE (whatever --format prints)");
  app.add_flag("--json", o.json, "same as --format=json (one document, schema 1)");
  app.add_flag("--pretty", o.pretty, "indent the JSON document");
  app.add_flag("--compare-modes", o.compare_modes,
               "with rdna1_vmfix loaded, as root: run in mode audit, then enforce, restore the mode, and show the "
               "difference and the module's counters");
  app.add_flag("--override-experiment", o.override_exp,
               "hip: run the native gfx101x build and the gfx1030 build under HSA_OVERRIDE_GFX_VERSION=10.3.0 "
               "side by side; torch: every case natively and under HSA_OVERRIDE_GFX_VERSION=10.3.0, side by side");
  app.add_flag("--list", o.list, "print the case ids of the profile and exit");
  app.add_flag("--no-progress", o.no_progress, "no progress line on stderr even on a terminal");
}

int list_cases(const Output& out, const std::string& profile, const std::vector<CaseSpec>& cases) {
  if (out.json()) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& c : cases) ids.push_back(c.id);
    out.emit({{"schema", 1}, {"profile", profile}, {"cases", ids}});
  } else {
    for (const auto& c : cases) out.text(c.id + "\n");
  }
  return 0;
}

// The torch worker is a Python script run by the user's interpreter; it owns its case table.
// python_how says which rule chose the interpreter.
Result<WorkerSpec> torch_worker(const CheckOptions& o, std::string& python_how) {
  const auto script = find_worker("torch_worker.py", R_OK);  // run by the interpreter, not exec'd
  if (!script)
    return Error{Exit::kNoGpu, "torch_worker.py", "worker not found next to rdna1-vmfix (broken build or install)"};
  const auto py = torch_python(o.python, python_how);
  if (!py || access(py->c_str(), X_OK) != 0)
    return Error{Exit::kNoGpu, "--python",
                 py ? fmt::format("{} is not an executable interpreter", *py)
                    : fmt::format("no interpreter found ({}); pass --python PATH", python_how)};
  return WorkerSpec{"native", *py, {*script, "--device=" + o.torch_device}, {}, {}};
}

// The backend's own compiled worker.
Result<WorkerSpec> compiled_worker(const std::string& backend) {
  const std::string worker_name = "rdna1-vmfix-check-" + backend;
  const auto native = find_worker(worker_name);
  if (!native)
    return Error{Exit::kNoGpu, worker_name,
                 backend == "host" ? "worker not found next to rdna1-vmfix (broken build or install)"
                                   : fmt::format("this build has no {} backend (configure with -DVMFIX_HARNESS_{}=ON "
                                                 "where {} is installed); --backend=host runs the pipeline on the CPU",
                                                 backend, backend == "hip" ? "HIP" : "CUDA",
                                                 backend == "hip" ? "hipcc" : "nvcc")};
  return WorkerSpec{"native", *native, {}, {}, {}};
}

// The worker probed: it names the device, or says why there is none.
Result<Probe> probe_native(const std::string& backend, WorkerSpec& w, const std::string& python_how) {
  const bool torch = backend == "torch";
  if (backend == "hip" || torch) w.unset.emplace_back("HSA_OVERRIDE_GFX_VERSION");  // native means native
  Probe probe = probe_worker(w, torch ? 120 : 60);
  if (probe.exit_code != 0) {
    const std::string msg = probe.error.empty() ? "probe failed" : probe.error;
    return Error{probe.exit_code == 3 ? Exit::kNoGpu : Exit::kRuntime, "--backend=" + backend,
                 msg.substr(0, msg.find_last_not_of('\n') + 1) +
                     (torch ? fmt::format(" [interpreter {}, chosen by {}]", w.path, python_how) : "")};
  }
  if (torch) probe.info["python_chosen_by"] = python_how;
  return probe;
}

// The cases of the profile: the torch worker lists its own, the compiled workers share cases.cpp.
Result<std::vector<CaseSpec>> profile_list(const CheckOptions& o, const std::optional<WorkerSpec>& torch) {
  if (torch) {
    if (o.profile != "quick" && o.profile != "full") return usage_error("--profile", "unknown profile " + o.profile);
    return worker_cases(*torch, o.profile, 60);
  }
  auto list = profile_cases(o.profile);
  if (!list) return usage_error("--profile", "unknown profile " + o.profile);
  return std::move(*list);
}

RunOptions run_options(const CheckOptions& o) {
  RunOptions opt;
  opt.timeout_s = o.timeout_s;
  opt.batch = o.batch > 0 ? o.batch : o.backend == "host" ? 1 : o.backend == "torch" ? 256 : 8;
  opt.jobs = o.jobs > 0 ? o.jobs : o.backend == "host" ? static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))) : 1;
  opt.rerun_alone = o.backend == "torch";
  opt.startup_s = o.backend == "torch" ? 120 : 0;
  opt.progress = !o.no_progress && isatty(2) != 0;
  opt.kmsg_path = getenv_or("VMFIX_KMSG", "/dev/kmsg");
  return opt;
}

// Audit, then enforce, with the module's counters around each run; the mode is restored on every path.
Status compare_modes(Report& rep, const WorkerSpec& w, const std::vector<CaseSpec>& cases) {
  const ModuleSysfs mod(getenv_or("VMFIX_SYSFS_ROOT", ""));
  if (!mod.loaded())
    return runtime_error("--compare-modes", "the rdna1_vmfix module is not loaded (sudo modprobe rdna1_vmfix)");
  auto original = mod.mode();
  if (!original) return original.error();
  ModeRestorer restorer(mod, *original);
  rep.comparison = "compare_modes";
  for (const std::string mode : {"audit", "enforce"}) {
    if (auto st = mod.set_mode(mode); !st) return st.error();
    auto before = mod.counters();
    if (!before) return before.error();
    WorkerSpec wm = w;
    wm.variant = mode;
    rep.runs.push_back(run_cases(wm, cases, rep.options));
    auto after = mod.counters();
    if (!after) return after.error();
    rep.counters[mode] = counters_delta(*after, *before);
    if (rep.runs.back().interrupted) break;
  }
  if (auto st = restorer.restore(); !st) return st.error();
  rep.restored_mode = *original;
  return ok_status();
}

// The native run, then the same cases under HSA_OVERRIDE_GFX_VERSION=10.3.0: hip runs its gfx1030
// build, torch the same worker (torch's own code objects decide what runs).
Status override_experiment(Report& rep, const WorkerSpec& w, const std::vector<CaseSpec>& cases, bool torch) {
  const std::string arch = rep.device.value("arch", "");
  if (arch.rfind("gfx101", 0) != 0)
    fmt::print(stderr, "rdna1-vmfix: warning: the device is {}, not gfx101x: the experiment shows nothing about RDNA1\n", arch);
  WorkerSpec wo{"override", w.path, w.args, {{"HSA_OVERRIDE_GFX_VERSION", "10.3.0"}}, {}};
  if (!torch) {
    const auto gfx1030 = find_worker("rdna1-vmfix-check-hip-gfx1030");
    if (!gfx1030)
      return Error{Exit::kNoGpu, "rdna1-vmfix-check-hip-gfx1030", "this build has no gfx1030 worker (-DVMFIX_HARNESS_HIP=ON builds it)"};
    wo.path = *gfx1030;
    wo.args.clear();
  }
  rep.comparison = "override_experiment";
  rep.runs.push_back(run_cases(w, cases, rep.options));
  if (!rep.runs.back().interrupted) rep.runs.push_back(run_cases(wo, cases, rep.options));
  return ok_status();
}

int print_report(const Output& out, const CheckOptions& o, const Report& rep) {
  if (!o.save_json.empty()) {
    std::FILE* f = std::fopen(o.save_json.c_str(), "w");
    const std::string doc = report_json(rep).dump(2) + "\n";
    if (f == nullptr || std::fputs(doc.c_str(), f) < 0 || std::fclose(f) != 0)
      return out.error(runtime_error(o.save_json, "cannot write the JSON report"));
  }
  if (o.format == "json")
    out.emit(report_json(rep));
  else if (o.format == "markdown")
    out.text(report_markdown(rep));
  else
    out.text(report_text(rep));
  return rep.exit_code();
}

}  // namespace

int cmd_check(std::span<char*> args) {
  CLI::App app{"Run the convolution harness: direct, implicit-GEMM (LDS tiles), 1x1 GEMM, depthwise and dot2\n"
               "kernels, fp32 and fp16 (fp16 storage, fp32 accumulation), on layers of ResNet-50, MobileNetV2\n"
               "and UNet, with inputs, weights and outputs in each memory kind, against a CPU reference\n"
               "(double accumulation). Every case runs in its own worker process with a timeout.\n"
               "Verdicts: pass, wrong_result, gpu_fault, hang, crash, unsupported, skipped.\n"
               "Exit: 0 all pass, 1 failures, 2 usage, 3 no suitable GPU/backend, 4 runtime error.",
               "rdna1-vmfix check"};
  CheckOptions o;
  add_options(app, o);
  if (auto rc = parse_cli(app, args); rc) return *rc;
  if (o.json || o.pretty) o.format = "json";
  const Output out(o.format == "json", o.pretty);

  if (o.backend != "torch" && (!o.python.empty() || o.torch_device != "gpu"))
    return out.error(usage_error(!o.python.empty() ? "--python" : "--torch-device", "only with --backend=torch"));
  std::optional<WorkerSpec> torch;
  std::string python_how;
  if (o.backend == "torch") {
    auto t = torch_worker(o, python_how);
    if (!t) return out.error(t.error());
    torch = std::move(*t);
  }
  auto listed = profile_list(o, torch);
  if (!listed) return out.error(listed.error());
  const auto cases = select_cases(*listed, o.cases_filter);
  if (cases.empty())
    return out.error(usage_error("--cases", fmt::format("no case of profile {} matches '{}'", o.profile, o.cases_filter)));
  if (o.list) return list_cases(out, o.profile, cases);
  if (o.compare_modes && o.override_exp)
    return out.error(usage_error("check", "--compare-modes and --override-experiment are separate runs; pick one"));
  if (o.override_exp && o.backend != "hip" && o.backend != "torch")
    return out.error(usage_error("--override-experiment",
                                 "needs --backend=hip or --backend=torch (it runs gfx1030 code on a gfx101x GPU)"));

  auto worker = torch ? Result<WorkerSpec>(*torch) : compiled_worker(o.backend);
  if (!worker) return out.error(worker.error());
  WorkerSpec& w = *worker;
  const auto probe = probe_native(o.backend, w, python_how);
  if (!probe) return out.error(probe.error());
  Report rep;
  rep.backend = o.backend;
  rep.profile = o.profile;
  rep.device = probe->info;
  rep.options = run_options(o);
  rep.filter = o.cases_filter;
  Status st = ok_status();
  if (o.compare_modes)
    st = compare_modes(rep, w, cases);
  else if (o.override_exp)
    st = override_experiment(rep, w, cases, torch.has_value());
  else
    rep.runs.push_back(run_cases(w, cases, rep.options));
  if (!st) return out.error(st.error());
  return print_report(out, o, rep);
}

}  // namespace vmfix
