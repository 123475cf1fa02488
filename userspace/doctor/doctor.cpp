// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "doctor/doctor.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "common/term.hpp"
#include "common/text.hpp"

// Seam: the code-object reader lives in the isa library (isa/isa.hpp,
// vmfix::list_code_objects). Builds without it report targets as unknown instead of failing.
#if __has_include("isa/isa.hpp")
#include "isa/isa.hpp"
#define VMFIX_DOCTOR_HAVE_ISA 1
#endif

namespace vmfix::doctor {

namespace fs = std::filesystem;

namespace {

constexpr std::array kEnvPrefixes = {"HSA_",         "HIP_",        "ROCR_",          "MIOPEN_",
                                     "ROCBLAS_",     "AMD_",        "PYTORCH_ROCM_ARCH", "HCC_AMDGPU_TARGET",
                                     "GPU_DEVICE_ORDINAL", "CUDA_VISIBLE_DEVICES", "TORCH_BLAS_PREFER_HIPBLASLT"};

// Library file-name prefixes worth scanning (device code or the runtime itself).
constexpr std::array kLibPrefixes = {"librocblas",   "libMIOpen",    "libhipblaslt", "libhipblas",
                                     "librocfft",    "librocsparse", "librocsolver", "librccl",
                                     "libamdhip64",  "libtorch_hip", "librocrand",   "libhipfft",
                                     "libhipsparse", "libaotriton",  "libcaffe2_nvrtc"};

// Tensile/hipBLASLt code-object directories: targets are in the file names.
constexpr std::array kCodeObjectDirs = {"rocblas/library", "hipblaslt/library"};

std::string lib_name(const std::string& file) {
  std::string n = file;
  if (text::starts_with(n, "lib")) n = n.substr(3);
  const auto so = n.find(".so");
  if (so != std::string::npos) n = n.substr(0, so);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return n;
}

// gfx targets named in file names (TensileLibrary_gfx1030.co, Kernels_fallback_gfx1010.hsaco).
std::vector<std::string> targets_from_names(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::size_t pos = 0;
    while ((pos = name.find("gfx", pos)) != std::string::npos) {
      std::size_t end_pos = pos + 3;
      while (end_pos < name.size() && end_pos - pos < 8 && std::isxdigit(static_cast<unsigned char>(name[end_pos])) != 0)
        ++end_pos;
      if (end_pos - pos >= 5) out.insert(name.substr(pos, end_pos - pos));
      pos = end_pos;
    }
  }
  return {out.begin(), out.end()};
}

std::string base_target(const std::string& t) { return t.substr(0, t.find(':')); }

bool has_target_for(const Targets& t, const std::string& gfx) {
  return std::any_of(t.targets.begin(), t.targets.end(),
                     [&](const std::string& x) { return faults::isa_compatible(gfx, base_target(x)); });
}

const GpuInfo* first_rdna1(const SystemStatus& s) {
  for (const auto& g : s.gpus)
    if (g.rdna1) return &g;
  return nullptr;
}

std::uint64_t counter_sum(const ModuleCounters& c, std::initializer_list<const char*> keys) {
  std::uint64_t sum = 0;
  for (const auto& d : c.devices)
    for (const char* k : keys) {
      const auto it = d.find(k);
      if (it != d.end()) sum += it->second;
    }
  return sum;
}

std::string module_field(const ModuleState& m, const char* key) {
  if (!m.status) return {};
  const auto it = m.status->fields.find(key);
  return it == m.status->fields.end() ? std::string() : it->second;
}

}  // namespace

bool have_code_object_reader() {
#ifdef VMFIX_DOCTOR_HAVE_ISA
  return true;
#else
  return false;
#endif
}

TargetScanner default_scanner() {
  return [](const std::string& path) {
    Targets t;
#ifdef VMFIX_DOCTOR_HAVE_ISA
    auto objs = vmfix::list_code_objects(path);
    if (!objs) {
      t.error = objs.error().message;
      return t;
    }
    std::set<std::string> ids;
    for (const auto& o : *objs) ids.insert(o.target_id);
    t.known = true;
    t.targets.assign(ids.begin(), ids.end());
    t.source = "code objects";
#else
    (void)path;
    t.error = "this build has no code-object reader (rdna1-vmfix isa)";
#endif
    return t;
  };
}

std::map<std::string, std::string> relevant_env(char** envp) {
  std::map<std::string, std::string> out;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = kv.substr(0, eq);
    for (const char* p : kEnvPrefixes)
      if (text::starts_with(name, p)) {
        out[std::string(name)] = text::printable(kv.substr(eq + 1), 200);
        break;
      }
  }
  return out;
}

std::vector<std::string> default_lib_dirs() {
  std::vector<std::string> dirs;
  std::error_code ec;
  for (fs::directory_iterator it("/opt", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (text::starts_with(n, "rocm")) {
      dirs.push_back(it->path().string() + "/lib");
      dirs.push_back(it->path().string() + "/lib64");
    }
  }
  for (const char* d : {"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/lib"}) dirs.emplace_back(d);
  std::vector<std::string> py_bases = {"/usr/lib", "/usr/local/lib"};
  for (const char* var : {"HOME", "VIRTUAL_ENV", "CONDA_PREFIX"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0')
      py_bases.push_back(std::string(v) + (std::string(var) == "HOME" ? "/.local/lib" : "/lib"));
  }
  for (const auto& base : py_bases) {
    for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string n = it->path().filename().string();
      if (!text::starts_with(n, "python3")) continue;
      for (const char* sp : {"site-packages", "dist-packages"}) dirs.push_back(it->path().string() + "/" + sp + "/torch/lib");
    }
  }
  return dirs;
}

std::vector<Library> find_libraries(const std::vector<std::string>& dirs, const TargetScanner& scan,
                                    std::size_t max_files) {
  std::vector<Library> out;
  std::set<std::string> seen;
  std::error_code ec;
  for (const auto& dir : dirs) {
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
    std::sort(entries.begin(), entries.end());
    for (const auto& p : entries) {
      const std::string file = p.filename().string();
      const bool wanted = file.find(".so") != std::string::npos &&
                          std::any_of(kLibPrefixes.begin(), kLibPrefixes.end(),
                                      [&](const char* pre) { return text::starts_with(file, pre); });
      if (!wanted || !fs::is_regular_file(p, ec)) continue;
      const std::string real = fs::canonical(p, ec).string();
      if (ec || !seen.insert(real).second) continue;
      if (out.size() >= max_files) break;
      Library lib;
      lib.path = real;
      lib.name = lib_name(file);
      lib.targets = scan(real);
      out.push_back(std::move(lib));
    }
    for (const char* sub : kCodeObjectDirs) {
      const std::string d = dir + "/" + sub;
      if (!fs::is_directory(d, ec)) continue;
      const std::string real = fs::canonical(d, ec).string();
      if (ec || !seen.insert(real).second) continue;
      Library lib;
      lib.path = real;
      lib.name = std::string(sub).substr(0, std::string(sub).find('/')) + "_code_objects";
      lib.targets.known = true;
      lib.targets.source = "file names";
      lib.targets.targets = targets_from_names(d);
      out.push_back(std::move(lib));
    }
  }
  return out;
}

Report diagnose(Input in) {
  Report r;
  const SystemStatus& st = in.status;
  const GpuInfo* gpu = first_rdna1(st);
  const std::string gfx = gpu != nullptr ? gpu->gfx : std::string();
  const auto ov = in.env.find("HSA_OVERRIDE_GFX_VERSION");
  faults::Context ctx{gfx, ov != in.env.end() ? ov->second : "", ov != in.env.end() ? "environment" : ""};
  // A value that is set but no version (banana) is reported as such, never as "not set".
  std::string invalid_override;
  if (!ctx.override_version.empty() && !faults::override_target(ctx.override_version)) {
    invalid_override = text::printable(ctx.override_version, 64);
    r.notes.push_back(fmt::format("HSA_OVERRIDE_GFX_VERSION={} is set and invalid (expected MAJOR.MINOR.STEP)",
                                  invalid_override));
    ctx.override_version.clear();
  }
  // Re-judge the log with what is known about this machine.
  if (in.faults) {
    faults::Context log_ctx = ctx;
    if (log_ctx.override_version.empty()) {
      log_ctx.override_version = in.faults->context.override_version;
      log_ctx.override_source = in.faults->context.override_source;
    }
    for (auto& e : in.faults->events) faults::classify(e, log_ctx);
    in.faults->context = log_ctx;
    in.faults->verdict = faults::make_verdict(in.faults->events, log_ctx);
  }
  const ModuleState& m = st.module;

  // Secondary observations first; the verdict below picks the most likely cause.
  if (!m.loaded && !m.has_status)
    r.notes.push_back("rdna1_vmfix is not loaded: MTYPE is not assessed (stock kernels map no cache-coherent "
                      "memory on gfx10 unless userspace asks for it)");
  if (module_field(m, "state") == "refused" || module_field(m, "state") == "error") {
    const std::string advice = module_reason_advice(module_field(m, "reason"));
    r.notes.push_back(fmt::format("rdna1_vmfix {} to arm: {}{}{}",
                                  module_field(m, "state") == "refused" ? "refused" : "failed",
                                  module_field(m, "reason"), advice.empty() ? "" : "; ", advice));
  }
  for (const auto& e : m.errors) r.notes.push_back("module: " + e);
  for (const auto& w : st.warnings) r.notes.push_back(w);
  std::vector<const Library*> device_libs;
  std::vector<const Library*> lacking;
  std::size_t unknown = 0;
  for (const auto& lib : in.libraries) {
    if (!lib.targets.known) {
      ++unknown;
      continue;
    }
    if (lib.targets.targets.empty()) continue;  // no device code (e.g. the HIP runtime)
    device_libs.push_back(&lib);
    if (!gfx.empty() && !has_target_for(lib.targets, gfx)) lacking.push_back(&lib);
  }
  if (in.libraries_searched && in.libraries.empty())
    r.notes.push_back("no ROCm, PyTorch, MIOpen or rocBLAS libraries found in the searched directories");
  if (unknown > 0)
    r.notes.push_back(fmt::format("{} librar{} listed without targets: {}", unknown, unknown == 1 ? "y" : "ies",
                                  have_code_object_reader()
                                      ? "unreadable (see each entry)"
                                      : "this build has no code-object reader; run `rdna1-vmfix isa FILE` on them"));
  if (!in.faults) r.notes.push_back("recent faults not checked: " + in.log_source);
  // The installed module cannot load as things stand (Secure Boot: unsigned, key not enrolled, a
  // refused load). A module that is just not installed or not loaded is a note: it is optional.
  const ModuleSigning* sig = in.signing ? &*in.signing : nullptr;
  const bool sig_blocked = sig != nullptr && sig->problem && sig->verdict != SigningVerdict::kNotInstalled;
  if (sig != nullptr && !sig_blocked && sig->verdict != SigningVerdict::kLoaded)
    r.notes.push_back(fmt::format("rdna1_vmfix {}: {}{}", signing_verdict_name(sig->verdict), sig->summary,
                                  sig->steps.empty() ? "" : fmt::format(" (next: {})", sig->steps.front())));

  Finding& v = r.verdict;
  auto problem = [&](std::string cls, std::string summary, std::string advice) {
    v.cls = std::move(cls);
    v.summary = std::move(summary);
    v.advice = std::move(advice);
    r.exit_code = 1;
  };
  auto add_fault_evidence = [&]() {
    if (!in.faults || in.faults->events.empty()) return;
    v.evidence.push_back(fmt::format("{} ({}): {}", in.log_source, in.faults->events.size() == 1 ? "1 event" :
                                     fmt::format("{} events", in.faults->events.size()), in.faults->verdict.summary));
  };

  if (gpu == nullptr) {
    v.cls = "no_rdna1_gpu";
    v.summary = st.gpus.empty() ? "no AMD GPU found (KFD topology and PCI)"
                                : fmt::format("no RDNA1 GPU (gfx1010/gfx1011/gfx1012) among the {} AMD GPU(s) found",
                                              st.gpus.size());
    v.advice = "rdna1-vmfix diagnoses RDNA1 machines; `rdna1-vmfix faults` still reads any amdgpu log.";
    for (const auto& g : st.gpus) v.evidence.push_back(fmt::format("{} {:04x}:{:04x} {}", g.bdf, g.vendor, g.device,
                                                                   g.gfx.empty() ? "unknown target" : g.gfx));
    add_fault_evidence();
    r.exit_code = 3;
    r.input = std::move(in);
    return r;
  }

  const auto mismatch = faults::override_mismatch(ctx);
  const faults::FaultClass log_cls = in.faults ? in.faults->verdict.cls : faults::FaultClass::kNone;
  // seen_cc counts ranges at the chokepoint, req_cc_* the same requests at the request-level hooks.
  const std::uint64_t cc_ranges = m.counters ? counter_sum(*m.counters, {"seen_cc"}) : 0;
  const std::uint64_t cc_requests = m.counters ? counter_sum(*m.counters, {"req_cc_get_vm_pte", "req_cc_map_mtype"}) : 0;
  const std::uint64_t cc_seen = std::max(cc_ranges, cc_requests);
  const std::string native_advice = fmt::format(
      "Use builds with native {} code objects: TheRock's torch[device-gfx1010] wheels (gfx101X builds), Debian's "
      "ROCm packages (built for gfx1010), or a source build with --offload-arch={}; `rdna1-vmfix isa LIB` shows "
      "what a library contains.",
      gfx, gfx);

  if (mismatch) {
    problem("isa_mismatch",
            *mismatch + ": code built for another ISA faults or computes wrong results on RDNA1 hardware",
            "Unset HSA_OVERRIDE_GFX_VERSION (within gfx101x, 10.1.0 is the only safe value, for gfx1011/gfx1012). " +
                native_advice);
    v.evidence.push_back(fmt::format("HSA_OVERRIDE_GFX_VERSION={} ({}); GPU {} is {}", ctx.override_version,
                                     ctx.override_source, gpu->bdf, gfx));
    add_fault_evidence();
  } else if (log_cls == faults::FaultClass::kIsaMismatch || log_cls == faults::FaultClass::kMissingCodeObject) {
    problem(std::string(faults::class_name(log_cls)), in.faults->verdict.summary, in.faults->verdict.advice);
    add_fault_evidence();
  } else if (!lacking.empty()) {
    problem("missing_code_object",
            fmt::format("{} of {} installed libraries with GPU code have no code objects for {}", lacking.size(),
                        device_libs.size(), gfx),
            native_advice + " Do not work around it with HSA_OVERRIDE_GFX_VERSION=10.3.0: gfx1030 code is not gfx1010 "
                            "code.");
    for (const Library* l : lacking) {
      std::string t = l->targets.targets.empty() ? "none" : fmt::format("{}", fmt::join(l->targets.targets, " "));
      if (t.size() > 160) t = t.substr(0, 157) + "...";
      if (v.evidence.size() < 8) v.evidence.push_back(fmt::format("{}: targets {} (from {})", l->path, t, l->targets.source));
    }
    add_fault_evidence();
  } else if (log_cls != faults::FaultClass::kNone) {
    problem(std::string(faults::class_name(log_cls)), in.faults->verdict.summary, in.faults->verdict.advice);
    add_fault_evidence();
    if (cc_seen > 0)
      v.evidence.push_back(fmt::format("rdna1_vmfix saw {} cache-coherent (CC) mapping requests on scoped devices "
                                       "(mode {}): compare with mode=enforce",
                                       cc_seen, module_field(m, "mode")));
  } else if (sig_blocked) {
    std::string steps;
    for (std::size_t i = 0; i < sig->steps.size(); ++i) steps += fmt::format("{}{}. {}", i ? " " : "", i + 1, sig->steps[i]);
    problem("module_signing", "rdna1_vmfix cannot load: " + sig->summary, steps);
    v.evidence.push_back(fmt::format("secure boot {}, lockdown {}, module {} ({}), key {} {}", tri_name(sig->secure_boot),
                                     sig->lockdown.empty() ? "n/a" : sig->lockdown, sig->module_path,
                                     sig->module_signed == Tri::kYes ? "signed" : sig->module_signed == Tri::kNo ? "unsigned" : "signature unknown",
                                     sig->certificate, key_enrolment_name(sig->enrolment)));
    for (const auto& line : sig->refusals) v.evidence.push_back(line);
  } else if (cc_seen > 0) {
    problem("mtype_cc_seen",
            fmt::format("rdna1_vmfix saw cache-coherent (MTYPE_CC) mappings on RDNA1 (seen_cc {}, CC requests {}, "
                        "mode {})",
                        cc_ranges, cc_requests, module_field(m, "mode")),
            "This is the one case where MTYPE is in evidence: run the workload with rdna1_vmfix mode=enforce "
            "(CC becomes NC) and compare (`rdna1-vmfix check --compare-modes`); report the counters.");
    v.evidence.push_back("/sys/kernel/rdna1_vmfix/counters: seen_cc/req_cc_* > 0");
  } else if (!m.errors.empty()) {
    v.cls = "module_error";
    v.summary = "the rdna1_vmfix status files cannot be read: " + m.errors.front();
    v.advice = "Install matching versions of the module and the tool (DKMS package and rdna1-vmfix).";
    r.exit_code = 4;
  } else {
    v.cls = "healthy";
    v.summary = fmt::format("no problem found for {} ({})", gpu->bdf, gfx);
    v.advice = "Nothing to do.";
    v.evidence.push_back(!invalid_override.empty()
                             ? fmt::format("HSA_OVERRIDE_GFX_VERSION={} is set and invalid (not MAJOR.MINOR.STEP)",
                                           invalid_override)
                         : ctx.override_version.empty() ? "HSA_OVERRIDE_GFX_VERSION is not set"
                                                      : fmt::format("HSA_OVERRIDE_GFX_VERSION={} is compatible with {}",
                                                                    ctx.override_version, gfx));
    if (!device_libs.empty())
      v.evidence.push_back(fmt::format("{} libraries with GPU code all contain {}-compatible code objects",
                                       device_libs.size(), gfx));
    if (in.faults) v.evidence.push_back(fmt::format("{}: no fault events", in.log_source));
  }
  if (!ctx.override_version.empty() && !mismatch)
    r.notes.push_back(fmt::format("HSA_OVERRIDE_GFX_VERSION={} is set and compatible with {}", ctx.override_version, gfx));
  if (m.counters && cc_seen == 0 && (module_field(m, "mode") == "audit" || module_field(m, "mode") == "enforce"))
    r.notes.push_back("rdna1_vmfix audit: no cache-coherent (CC) mapping requested on scoped devices; MTYPE is not "
                      "implicated");
  r.input = std::move(in);
  return r;
}

nlohmann::json report_json(const Report& r) {
  using nlohmann::json;
  const json st = status_json(r.input.status);
  json libs = json::array();
  for (const auto& l : r.input.libraries) {
    json j = {{"path", l.path}, {"name", l.name}, {"targets_known", l.targets.known}, {"targets", l.targets.targets}};
    if (!l.targets.source.empty()) j["targets_source"] = l.targets.source;
    if (!l.targets.error.empty()) j["error"] = l.targets.error;
    libs.push_back(j);
  }
  json f = nullptr;
  if (r.input.faults) {
    std::map<std::string, int> classes;
    for (const auto& e : r.input.faults->events) ++classes[std::string(faults::class_name(e.cls))];
    json events = json::array();
    for (const auto& e : r.input.faults->events) events.push_back(faults::event_json(e));
    f = {{"source", r.input.log_source},
         {"events", events},
         {"classes", classes},
         {"verdict",
          {{"class", faults::class_name(r.input.faults->verdict.cls)}, {"summary", r.input.faults->verdict.summary}}}};
  }
  json doc = {{"schema", kSchema},
          {"gpus", st["gpus"]},
          {"kernel", r.input.kernel_release},
          {"module", st["module"]},
          {"environment", r.input.env},
          {"code_object_reader", have_code_object_reader()},
          {"libraries", libs},
          {"faults", f},
          {"verdict",
           {{"class", r.verdict.cls},
            {"summary", r.verdict.summary},
            {"advice", r.verdict.advice},
            {"evidence", r.verdict.evidence}}},
          {"notes", r.notes},
          {"exit_code", r.exit_code}};
  if (r.input.signing) doc["signing"] = signing_json(*r.input.signing);
  return doc;
}

std::string report_text(const Report& r) {
  const auto& in = r.input;
  std::string s;
  if (in.status.gpus.empty()) s += "GPU:        none found\n";
  for (const auto& g : in.status.gpus)
    s += fmt::format("GPU:        {} {:04x}:{:04x} {} {}{}, driver {}{}\n", g.bdf, g.vendor, g.device,
                     g.family.empty() ? "-" : g.family, g.gfx.empty() ? "unknown target" : g.gfx,
                     g.rdna1 ? " (RDNA1)" : "", g.driver.empty() ? "none" : g.driver,
                     g.kfd_node ? fmt::format(", KFD node {}", *g.kfd_node) : std::string(", not in KFD"));
  s += fmt::format("Kernel:     {}\n", in.kernel_release.empty() ? "unknown" : in.kernel_release);
  const ModuleState& m = in.status.module;
  if (m.status)
    s += fmt::format("Module:     rdna1_vmfix {} state {}, mode {}\n", module_field(m, "version"), module_field(m, "state"),
                     module_field(m, "mode"));
  else
    s += fmt::format("Module:     {}\n", m.loaded ? "rdna1_vmfix loaded, status unreadable" : "rdna1_vmfix not loaded");
  if (in.signing)
    s += fmt::format("Signing:    {}: {}\n", signing_verdict_name(in.signing->verdict), in.signing->summary);
  if (in.env.empty()) s += "Env:        no ROCm/HIP/MIOpen variables set\n";
  for (const auto& [k, v] : in.env) s += fmt::format("Env:        {}={}\n", k, v);
  s += fmt::format("Libraries:  {} found{}\n", in.libraries.size(),
                   have_code_object_reader() ? "" : " (targets unknown: no code-object reader in this build)");
  for (const auto& l : in.libraries) {
    std::string t = l.targets.known ? (l.targets.targets.empty() ? "no GPU code" : fmt::format("{}", fmt::join(l.targets.targets, " ")))
                                    : "targets unknown";
    if (t.size() > 120) t = t.substr(0, 117) + "...";
    s += fmt::format("  {}: {}\n", l.path, t);
  }
  if (in.faults)
    s += fmt::format("Faults:     {}: {} event(s), {}\n", in.log_source, in.faults->events.size(),
                     faults::class_name(in.faults->verdict.cls));
  else
    s += fmt::format("Faults:     not checked ({})\n", in.log_source);
  const term::Tone tone = r.verdict.cls == "healthy" ? term::Tone::kGood
                          : r.verdict.cls == "no_rdna1_gpu" ? term::Tone::kInfo
                                                            : term::Tone::kBad;
  s += fmt::format("\nVerdict: {}: {}\n", term::paint(r.verdict.cls, tone, term::out_colour()), r.verdict.summary);
  for (const auto& e : r.verdict.evidence) s += "  evidence: " + e + "\n";
  s += "What to do: " + r.verdict.advice + "\n";
  for (const auto& n : r.notes) s += "note: " + n + "\n";
  return s;
}

}  // namespace vmfix::doctor
