// SPDX-License-Identifier: GPL-2.0 OR MIT
// rdna1-vmfix check: run the convolution harness (userspace/check/workers) on a backend, every case in an
// isolated worker process, and report a verdict per case.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
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
std::optional<std::string> find_worker(const std::string& name) {
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
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return std::nullopt;
}

std::string getenv_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// Restores the module's mode however the comparison ends.
class ModeRestorer {
 public:
  ModeRestorer(const ModuleSysfs& m, std::string mode) : m_(m), mode_(std::move(mode)) {}
  ~ModeRestorer() {
    if (!done_) (void)m_.set_mode(mode_);
  }
  ModeRestorer(const ModeRestorer&) = delete;
  ModeRestorer& operator=(const ModeRestorer&) = delete;
  Status restore() {
    done_ = true;
    return m_.set_mode(mode_);
  }

 private:
  const ModuleSysfs& m_;
  std::string mode_;
  bool done_ = false;
};

}  // namespace

int cmd_check(std::span<char*> args) {
  CLI::App app{"Run the convolution harness: direct, implicit-GEMM (LDS tiles), 1x1 GEMM, depthwise and dot2\n"
               "kernels, fp32 and fp16 (fp16 storage, fp32 accumulation), on layers of ResNet-50, MobileNetV2\n"
               "and UNet, with inputs, weights and outputs in each memory kind, against a CPU reference\n"
               "(double accumulation). Every case runs in its own worker process with a timeout.\n"
               "Verdicts: pass, wrong_result, gpu_fault, hang, crash, unsupported, skipped.\n"
               "Exit: 0 all pass, 1 failures, 2 usage, 3 no suitable GPU/backend, 4 runtime error.",
               "rdna1-vmfix check"};
  std::string backend = "hip", profile = "quick", cases_filter, format = "text", save_json;
  double timeout_s = 10;
  int jobs = 0, batch = 0;
  bool json = false, pretty = false, compare_modes = false, override_exp = false, list = false, no_progress = false;
  app.add_option("--backend", backend, "hip (AMD, gfx1010/1011/1012), cuda (NVIDIA lab) or host (CPU threads, CI)")
      ->check(CLI::IsMember({"hip", "cuda", "host"}))
      ->capture_default_str();
  app.add_option("--profile", profile, "quick or full")->check(CLI::IsMember({"quick", "full"}))->capture_default_str();
  app.add_option("--timeout", timeout_s, "seconds per case before it counts as a hang")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--cases", cases_filter,
                 "comma-separated shell patterns over case ids (see --list); the hidden planted-fault cases "
                 "(planted.segv, planted.hang, planted.wrong, planted.gpu_fault) need a pattern starting with 'planted'");
  app.add_option("--jobs", jobs, "workers at a time (default: CPU count on host, 1 on a GPU)")->check(CLI::Range(1, 256));
  app.add_option("--batch", batch,
                 "cases per worker process (default: 1 on host, 8 on a GPU, where each process pays the runtime's "
                 "start-up); a crash blames its case and re-runs the rest of the batch in a fresh worker")
      ->check(CLI::Range(1, 1000));
  app.add_option("--format", format, "text, json or markdown")->check(CLI::IsMember({"text", "json", "markdown"}));
  app.add_option("--save-json", save_json, "also write the JSON document to FILE (whatever --format prints)");
  app.add_flag("--json", json, "same as --format=json (one document, schema 1)");
  app.add_flag("--pretty", pretty, "indent the JSON document");
  app.add_flag("--compare-modes", compare_modes,
               "with rdna1_vmfix loaded, as root: run in mode audit, then enforce, restore the mode, and show the "
               "difference and the module's counters");
  app.add_flag("--override-experiment", override_exp,
               "hip only: run the native gfx101x build and the gfx1030 build under HSA_OVERRIDE_GFX_VERSION=10.3.0 "
               "side by side");
  app.add_flag("--list", list, "print the case ids of the profile and exit");
  app.add_flag("--no-progress", no_progress, "no progress line on stderr even on a terminal");
  if (auto rc = parse_cli(app, args); rc) return *rc;
  if (json || pretty) format = "json";
  const Output out(format == "json", pretty);

  auto profile_list = profile_cases(profile);
  if (!profile_list) return out.error(usage_error("--profile", "unknown profile " + profile));
  const auto cases = select_cases(*profile_list, cases_filter);
  if (cases.empty()) return out.error(usage_error("--cases", fmt::format("no case of profile {} matches '{}'", profile, cases_filter)));
  if (list) {
    if (out.json()) {
      nlohmann::json ids = nlohmann::json::array();
      for (const auto& c : cases) ids.push_back(c.id);
      out.emit({{"schema", 1}, {"profile", profile}, {"cases", ids}});
    } else {
      for (const auto& c : cases) out.text(c.id + "\n");
    }
    return 0;
  }
  if (compare_modes && override_exp)
    return out.error(usage_error("check", "--compare-modes and --override-experiment are separate runs; pick one"));
  if (override_exp && backend != "hip")
    return out.error(usage_error("--override-experiment", "needs --backend=hip (it runs gfx1030 code on a gfx101x GPU)"));

  const std::string worker_name = "rdna1-vmfix-check-" + backend;
  const auto native = find_worker(worker_name);
  if (!native)
    return out.error(Error{Exit::kNoGpu, worker_name,
                           backend == "host" ? "worker not found next to rdna1-vmfix (broken build or install)"
                                             : fmt::format("this build has no {} backend (configure with -DVMFIX_HARNESS_{}=ON "
                                                           "where {} is installed); --backend=host runs the pipeline on the CPU",
                                                           backend, backend == "hip" ? "HIP" : "CUDA",
                                                           backend == "hip" ? "hipcc" : "nvcc")});
  WorkerSpec w{"native", *native, {}, {}};
  if (backend == "hip") w.unset.push_back("HSA_OVERRIDE_GFX_VERSION");  // native means native
  const Probe probe = probe_worker(w, 60);
  if (probe.exit_code != 0) {
    const std::string msg = probe.error.empty() ? "probe failed" : probe.error;
    return out.error(Error{probe.exit_code == 3 ? Exit::kNoGpu : Exit::kRuntime, "--backend=" + backend,
                           msg.substr(0, msg.find_last_not_of('\n') + 1)});
  }

  RunOptions opt;
  opt.timeout_s = timeout_s;
  opt.batch = batch > 0 ? batch : backend == "host" ? 1 : 8;
  opt.jobs = jobs > 0 ? jobs : backend == "host" ? static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))) : 1;
  opt.progress = !no_progress && isatty(2) != 0;
  opt.kmsg_path = getenv_or("VMFIX_KMSG", "/dev/kmsg");

  Report rep;
  rep.backend = backend;
  rep.profile = profile;
  rep.device = probe.info;
  rep.options = opt;
  rep.filter = cases_filter;

  if (compare_modes) {
    const ModuleSysfs mod(getenv_or("VMFIX_SYSFS_ROOT", ""));
    if (!mod.loaded())
      return out.error(runtime_error("--compare-modes", "the rdna1_vmfix module is not loaded (sudo modprobe rdna1_vmfix)"));
    auto original = mod.mode();
    if (!original) return out.error(original.error());
    ModeRestorer restorer(mod, *original);
    rep.comparison = "compare_modes";
    for (const std::string mode : {"audit", "enforce"}) {
      if (auto st = mod.set_mode(mode); !st) return out.error(st.error());
      auto before = mod.counters();
      if (!before) return out.error(before.error());
      WorkerSpec wm = w;
      wm.variant = mode;
      rep.runs.push_back(run_cases(wm, cases, opt));
      auto after = mod.counters();
      if (!after) return out.error(after.error());
      rep.counters[mode] = counters_delta(*after, *before);
      if (rep.runs.back().interrupted) break;
    }
    if (auto st = restorer.restore(); !st) return out.error(st.error());
    rep.restored_mode = *original;
  } else if (override_exp) {
    const auto gfx1030 = find_worker("rdna1-vmfix-check-hip-gfx1030");
    if (!gfx1030)
      return out.error(Error{Exit::kNoGpu, "rdna1-vmfix-check-hip-gfx1030", "this build has no gfx1030 worker (-DVMFIX_HARNESS_HIP=ON builds it)"});
    const std::string arch = probe.info.value("arch", "");
    if (arch.rfind("gfx101", 0) != 0)
      fmt::print(stderr, "rdna1-vmfix: warning: the device is {}, not gfx101x: the experiment shows nothing about RDNA1\n", arch);
    rep.comparison = "override_experiment";
    rep.runs.push_back(run_cases(w, cases, opt));
    WorkerSpec wo{"override", *gfx1030, {{"HSA_OVERRIDE_GFX_VERSION", "10.3.0"}}, {}};
    if (!rep.runs.back().interrupted) rep.runs.push_back(run_cases(wo, cases, opt));
  } else {
    rep.runs.push_back(run_cases(w, cases, opt));
  }

  if (!save_json.empty()) {
    std::FILE* f = std::fopen(save_json.c_str(), "w");
    const std::string doc = report_json(rep).dump(2) + "\n";
    if (f == nullptr || std::fputs(doc.c_str(), f) < 0 || std::fclose(f) != 0)
      return out.error(runtime_error(save_json, "cannot write the JSON report"));
  }
  if (format == "json")
    out.emit(report_json(rep));
  else if (format == "markdown")
    out.text(report_markdown(rep));
  else
    out.text(report_text(rep));
  return rep.exit_code();
}

}  // namespace vmfix
