// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "doctor/gather.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "report/report.hpp"
#include "faults/faults.hpp"
#include "common/kmsg.hpp"
#include "common/output.hpp"
#include "common/text.hpp"

namespace vmfix::doctor {

namespace {

constexpr const char* kOverride = "HSA_OVERRIDE_GFX_VERSION";

const GpuInfo* first_rdna1(const SystemStatus& s) {
  for (const auto& g : s.gpus)
    if (g.rdna1) return &g;
  return nullptr;
}

std::string os_field(const std::map<std::string, std::string>& os, const char* k) {
  const auto it = os.find(k);
  return it == os.end() ? std::string() : it->second;
}

// The environment prefix of --python: PREFIX, or PREFIX/bin/python*.
std::string python_prefix(const std::string& p) {
  const auto slash = p.rfind('/');
  if (slash != std::string::npos && text::starts_with(p.substr(slash + 1), "python")) {
    const std::string bin = p.substr(0, slash);
    if (bin.size() >= 4 && bin.ends_with("/bin")) return bin.substr(0, bin.size() - 4);
  }
  return p;
}

}  // namespace

std::map<std::string, std::string> environment_map(char** envp) {
  std::map<std::string, std::string> out;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos) out.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return out;
}

Extended extend(Report r, envscan::Result env, std::vector<pyenv::TorchInstall> torch,
                std::map<std::string, std::string> os_release) {
  Extended x;
  const GpuInfo* gpu = first_rdna1(r.input.status);
  const std::string gfx = gpu != nullptr ? gpu->gfx : std::string();
  Finding& v = r.verdict;
  // Faults' summaries start with their class; doctor prints the class itself.
  const std::string prefix = v.cls + ": ";
  if (text::starts_with(v.summary, prefix)) v.summary.erase(0, prefix.size());

  std::vector<const envscan::Finding*> wrong, invalid;
  for (const auto& f : env.findings) {
    if (f.name != kOverride) continue;
    if (f.judgement == envscan::Judgement::kWrongForGpu) wrong.push_back(&f);
    if (f.judgement == envscan::Judgement::kInvalid) invalid.push_back(&f);
  }
  auto where = [](const envscan::Finding* f) {
    return fmt::format("{}={} at {} ({})", f->name, f->value, f->where(), f->applies);
  };
  auto demote = [&](const std::string& cls) {
    if (v.cls != "healthy" && !v.cls.empty())
      r.notes.push_back(fmt::format("also found: {}: {}", v.cls, v.summary));
    v.cls = cls;
    v.evidence.clear();
    r.exit_code = 1;
  };
  if (gpu != nullptr && !wrong.empty()) {
    if (v.cls != "isa_mismatch") {
      demote("isa_mismatch");
      v.summary = fmt::format("{}: {}", where(wrong.front()), wrong.front()->why);
    }
    for (const auto* f : wrong) v.evidence.push_back(where(f) + ": " + f->why);
  } else if (gpu != nullptr && !invalid.empty()) {
    if (v.cls == "healthy") {
      demote("override_invalid");
      v.summary = fmt::format("{} is set but invalid", where(invalid.front()));
    }
    for (const auto* f : invalid) v.evidence.push_back(where(f) + ": " + f->why);
  }
  std::vector<std::string> lacking_torch;
  for (const auto& t : torch)
    if (gpu != nullptr && t.build == "rocm" && t.targets_known && !pyenv::carries_target(t, gfx))
      lacking_torch.push_back(fmt::format("PyTorch {} in {} carries {} code, none for {}", t.version.version, t.env_prefix,
                                          t.targets.empty() ? "no GPU" : fmt::format("{}", fmt::join(t.targets, " ")), gfx));
  if (!lacking_torch.empty()) {
    if (v.cls == "healthy") {
      demote("missing_code_object");
      v.summary = fmt::format("{} PyTorch install(s) have no code objects for {}", lacking_torch.size(), gfx);
    }
    for (const auto& l : lacking_torch) v.evidence.push_back(l);
  }
  // Under sudo the process environment is not the user's: say where the answer came from.
  if (env.invoking && env.invoking->how != "the current user" && wrong.empty() && invalid.empty())
    v.evidence.push_back(fmt::format("{} is not set in {}'s start files, environment.d, system files, units, Python "
                                     "environments or running GPU processes",
                                     kOverride, env.invoking->name));
  advice::Facts facts;
  facts.gfx = gfx;
  facts.distro_id = os_field(os_release, "ID");
  facts.version_id = os_field(os_release, "VERSION_ID");
  facts.codename = os_field(os_release, "VERSION_CODENAME");
  facts.env = env.findings;
  facts.torch = torch;
  for (const auto& l : r.input.libraries)
    if (l.targets.known && !l.targets.targets.empty() && !gfx.empty() &&
        std::none_of(l.targets.targets.begin(), l.targets.targets.end(),
                     [&](const std::string& t) { return faults::isa_compatible(gfx, t.substr(0, t.find(':'))); }))
      facts.lacking_libraries.push_back(l.path);
  if (facts.lacking_libraries.size() > 4) facts.lacking_libraries.resize(4);
  x.steps = advice::steps_for(v.cls, facts);
  if (v.cls == "module_signing" && !v.advice.empty()) x.steps.insert(x.steps.begin(), advice::Step{v.advice, {}});
  v.advice = x.steps.empty() ? std::string() : x.steps.front().what;
  x.base = std::move(r);
  x.env = std::move(env);
  x.torch = std::move(torch);
  x.os_release = std::move(os_release);
  return x;
}

namespace {

// Checks --lib-dir and --python; returns the prefix of the --python environment (empty: none given).
Result<std::string> checked_python_prefix(const GatherOptions& opt) {
  for (const auto& d : opt.lib_dirs)
    if (!HostFiles().is_dir(d)) return usage_error("--lib-dir", d + " is not a directory");
  std::string py_prefix;
  if (!opt.python.empty()) {
    if (!HostFiles().exists(opt.python)) return usage_error("--python", opt.python + " does not exist");
    py_prefix = python_prefix(opt.python);
    if (!HostFiles().is_file(py_prefix + "/pyvenv.cfg") && !HostFiles().is_dir(py_prefix + "/conda-meta") &&
        !HostFiles().is_dir(py_prefix + "/lib"))
      return usage_error("--python", opt.python + " is not a Python environment (no pyvenv.cfg, conda-meta or lib/)");
  }
  return py_prefix;
}

// The libraries doctor audits: --lib-dir, else the default directories (under a fake root, its
// /opt/rocm*/lib and the multiarch library directory).
std::vector<Library> libraries(const GatherOptions& opt, const HostFiles& host, const TargetScanner& scan) {
  std::vector<std::string> dirs = opt.lib_dirs;
  if (dirs.empty() && opt.root.empty()) dirs = default_lib_dirs();
  if (dirs.empty() && !opt.root.empty()) {
    for (const auto& n : host.list("/opt"))
      if (text::starts_with(n, "rocm")) dirs.push_back(host.real_path("/opt/" + n + "/lib"));
    dirs.push_back(host.real_path("/usr/lib/x86_64-linux-gnu"));
  }
  return find_libraries(dirs, scan);
}

// Recent faults: --from-log, else the live kernel log (not readable: a note, not an error).
Status read_faults(const GatherOptions& opt, Input& in) {
  std::optional<std::string> log;
  if (!opt.log_path.empty()) {
    auto data = read_log_file(opt.log_path);
    if (!data) return data.error();
    log = std::move(*data);
    in.log_source = opt.log_path == "-" ? "stdin" : opt.log_path;
  } else if (opt.root.empty()) {
    auto k = read_kernel_log();
    if (k) {
      log = std::move(k->text);
      in.log_source = k->source;
    } else {
      in.log_source = k.error().message;
    }
  } else {
    in.log_source = "a fake root was given without --from-log";
  }
  if (log && log->empty() && opt.log_path.empty()) {
    in.faults = faults::Report{};
  } else if (log) {
    auto rep = faults::parse_log(*log, {});
    if (!rep) {
      Error e = rep.error();
      e.context = in.log_source;
      return e;
    }
    in.faults = std::move(*rep);
  }
  return ok_status();
}

// The census result, when `rdna1-vmfix census` has run on this machine (issue 17).
void add_census(const GatherOptions& opt, const HostFiles& host, const std::string& running_kernel, Extended& x) {
  const auto census = report::read_census(host, report::census_state_dir(opt.env));
  if (!census.error.empty()) {
    x.base.notes.push_back(fmt::format("census cache {}: {}", census.path, census.error));
    return;
  }
  if (!census.present) return;
  const auto& d = census.doc;
  const nlohmann::json run = d.contains("run") && d["run"].is_object() ? d["run"] : nlohmann::json::object();
  const std::string kernel = run.value("kernel", "?");
  x.base.notes.push_back(fmt::format("census (run {} on kernel {}, ROCm {}): {}{}", run.value("date", "?"), kernel,
                                     run.value("rocm", "?"), d.value("conclusion", "?"),
                                     !running_kernel.empty() && kernel != running_kernel
                                         ? "; that was another kernel than the running one: `sudo rdna1-vmfix census` "
                                           "measures this one"
                                         : ""));
  x.census = {{"path", census.path}, {"date", run.value("date", "")}, {"kernel", kernel}, {"rocm", run.value("rocm", "")},
              {"conclusion", d.value("conclusion", "")}, {"exit_code", d.value("exit_code", -1)}};
}

}  // namespace

Result<Extended> gather(const GatherOptions& opt) {
  const HostFiles host(opt.root);
  auto prefix = checked_python_prefix(opt);
  if (!prefix) return prefix.error();
  const std::string& py_prefix = *prefix;
  Input in;
  const RootFs fs(opt.root);
  in.status = collect_status(fs, fs.is_real() ? drm_marketing_name : nullptr);
  in.kernel_release = std::string(text::trim(host.read("/proc/sys/kernel/osrelease", 256).value_or("")));
  if (in.kernel_release.empty() && opt.root.empty()) {
    utsname u{};
    if (::uname(&u) == 0) in.kernel_release = u.release;
  }
  in.env = relevant_env(nullptr);
  for (const auto& [k, val] : opt.env)
    if (envscan::is_relevant(k) || text::starts_with(k, "MIOPEN_") || text::starts_with(k, "HIP_")) in.env[k] = val;
  const TargetScanner scan = opt.scanner ? opt.scanner : default_scanner();
  if (!opt.no_libs) {
    in.libraries = libraries(opt, host, scan);
    in.libraries_searched = true;
  }
  if (auto st = read_faults(opt, in); !st) return st.error();
  if (opt.root.empty()) in.signing = module_signing_state(host_probe());
  const GpuInfo* gpu = first_rdna1(in.status);
  envscan::Options eo;
  eo.env = opt.env;
  eo.euid = opt.euid;
  eo.gfx = gpu != nullptr ? gpu->gfx : std::string();
  envscan::Result env = envscan::scan(host, eo);
  std::vector<pyenv::PythonEnv> envs;
  if (!py_prefix.empty()) {
    pyenv::SearchSpec spec{"", "", {{"VIRTUAL_ENV", py_prefix}}, false};
    envs = pyenv::find_python_envs(HostFiles(), spec);
    if (envs.empty()) return usage_error("--python", opt.python + " has no site-packages");
  } else {
    envs = env.python_envs;
    pyenv::SearchSpec sys{"", "", {}, true};
    for (auto& e : pyenv::find_python_envs(host, sys)) envs.push_back(std::move(e));
  }
  auto torch = pyenv::find_torch(py_prefix.empty() ? host : HostFiles(), envs, scan);
  auto os = text::parse_key_values(host.read("/etc/os-release", std::size_t{64} * 1024).value_or(host.read("/usr/lib/os-release", std::size_t{64} * 1024).value_or("")));
  const std::string running_kernel = in.kernel_release;
  Extended x = extend(diagnose(std::move(in)), std::move(env), std::move(torch), std::move(os));
  add_census(opt, host, running_kernel, x);
  return x;
}

nlohmann::json extended_json(const Extended& x) {
  nlohmann::json j = report_json(x.base);
  j["verdict"]["steps"] = advice::steps_json(x.steps);
  j["environment_sources"] = envscan::result_json(x.env);
  nlohmann::json t = nlohmann::json::array();
  for (const auto& i : x.torch) t.push_back(pyenv::torch_json(i));
  j["pytorch"] = t;
  j["census"] = x.census;
  return j;
}

std::string extended_text(const Extended& x) {
  const auto& r = x.base;
  const auto& in = r.input;
  std::string s;
  if (in.status.gpus.empty()) s += "GPU:        none found\n";
  for (const auto& g : in.status.gpus)
    s += fmt::format("GPU:        {} {:04x}:{:04x} {} {}{}, driver {}\n", g.bdf, g.vendor, g.device,
                     g.family.empty() ? "-" : g.family, g.gfx.empty() ? "unknown target" : g.gfx, g.rdna1 ? " (RDNA1)" : "",
                     g.driver.empty() ? "none" : g.driver);
  s += fmt::format("Kernel:     {}\n", in.kernel_release.empty() ? "unknown" : in.kernel_release);
  const ModuleState& m = in.status.module;
  auto field = [&](const char* k) {
    if (!m.status) return std::string("-");
    const auto it = m.status->fields.find(k);
    return it == m.status->fields.end() ? std::string("-") : it->second;
  };
  s += m.status ? fmt::format("Module:     rdna1_vmfix {} state {}, mode {}\n", field("version"), field("state"), field("mode"))
                : fmt::format("Module:     {}\n", m.loaded ? "rdna1_vmfix loaded, status unreadable" : "rdna1_vmfix not loaded");
  if (x.env.invoking)
    s += fmt::format("User:       {} ({})\n", x.env.invoking->name.empty() ? "?" : x.env.invoking->name, x.env.invoking->how);
  if (x.env.findings.empty()) s += "Env:        no HSA_*, ROCR_*, HIP_VISIBLE_DEVICES or related variable set anywhere searched\n";
  for (const auto& f : x.env.findings)
    s += fmt::format("Env:        {}={} at {}{}\n", f.name, f.value, f.where(),
                     f.judgement == envscan::Judgement::kInfo ? "" : fmt::format(" [{}]", envscan::judgement_name(f.judgement)));
  for (const auto& t : x.torch)
    s += fmt::format("PyTorch:    {} ({}) in {}: {}\n", t.version.version.empty() ? "?" : t.version.version, t.build, t.env_prefix,
                     !t.targets_known ? "targets unknown" : t.targets.empty() ? "no GPU code" : fmt::format("{}", fmt::join(t.targets, " ")));
  s += fmt::format("Libraries:  {} found\n", in.libraries.size());
  for (const auto& l : in.libraries) {
    std::string t = l.targets.known ? (l.targets.targets.empty() ? "no GPU code" : fmt::format("{}", fmt::join(l.targets.targets, " ")))
                                    : "targets unknown";
    if (t.size() > 120) t = t.substr(0, 117) + "...";
    s += fmt::format("  {}: {}\n", l.path, t);
  }
  s += in.faults ? fmt::format("Faults:     {}: {} event(s)\n", in.log_source, in.faults->events.size())
                 : fmt::format("Faults:     not checked ({})\n", in.log_source);
  s += fmt::format("\nVerdict: {}: {}\n", r.verdict.cls, r.verdict.summary);
  for (const auto& e : r.verdict.evidence) s += "  evidence: " + e + "\n";
  if (!x.steps.empty()) s += "What to do:\n" + advice::steps_text(x.steps);
  for (const auto& n : r.notes) s += "note: " + n + "\n";
  return s;
}

}  // namespace vmfix::doctor
