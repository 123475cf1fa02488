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

namespace {

// The machine's faults context: its RDNA1 target and a well-formed override from the environment.
// A value that is set but no version (banana) goes to invalid_override, never reported as "not set".
faults::Context machine_context(const Input& in, const std::string& gfx, std::vector<std::string>& notes,
                                std::string& invalid_override) {
  const auto ov = in.env.find("HSA_OVERRIDE_GFX_VERSION");
  faults::Context ctx{gfx, ov != in.env.end() ? ov->second : "", ov != in.env.end() ? "environment" : ""};
  if (!ctx.override_version.empty() && !faults::override_target(ctx.override_version)) {
    invalid_override = text::printable(ctx.override_version, 64);
    notes.push_back(fmt::format("HSA_OVERRIDE_GFX_VERSION={} is set and invalid (expected MAJOR.MINOR.STEP)",
                                invalid_override));
    ctx.override_version.clear();
  }
  return ctx;
}

// Re-judges the log with what is known about this machine. The machine gives the GPU and the
// environment's override; everything else the log itself showed (an override line, the targets the
// runtime names the device by, a library's code-object list, PyTorch's own wheel index) stays: the
// machine context knows none of it, and dropping it re-judges the log on less evidence than `faults` had.
void rejudge_log(Input& in, const faults::Context& ctx) {
  if (!in.faults) return;
  const faults::Context& seen = in.faults->context;
  faults::Context log_ctx = ctx;
  if (log_ctx.override_version.empty()) {
    log_ctx.override_version = seen.override_version;
    log_ctx.override_source = seen.override_source;
  }
  if (log_ctx.runtime_targets.empty()) {
    log_ctx.runtime_targets = seen.runtime_targets;
    log_ctx.runtime_targets_source = seen.runtime_targets_source;
  }
  if (log_ctx.library_targets.empty()) {
    log_ctx.library_targets = seen.library_targets;
    log_ctx.library_targets_source = seen.library_targets_source;
  }
  if (log_ctx.upstream_torch_wheel.empty()) log_ctx.upstream_torch_wheel = seen.upstream_torch_wheel;
  if (log_ctx.kfd_skipped.empty()) log_ctx.kfd_skipped = seen.kfd_skipped;
  if (log_ctx.rocm_version.empty()) {
    log_ctx.rocm_version = seen.rocm_version;
    log_ctx.rocm_version_source = seen.rocm_version_source;
  }
  faults::rejudge(*in.faults, log_ctx);
}

struct LibraryScan {
  std::vector<const Library*> with_device_code;
  std::vector<const Library*> lacking;  // device code, none of it for this GPU
  std::size_t unknown = 0;              // targets not readable
};

LibraryScan scan_libraries(const std::vector<Library>& libs, const std::string& gfx) {
  LibraryScan s;
  for (const auto& lib : libs) {
    if (!lib.targets.known) {
      ++s.unknown;
      continue;
    }
    if (lib.targets.targets.empty()) continue;  // no device code (e.g. the HIP runtime)
    s.with_device_code.push_back(&lib);
    if (!gfx.empty() && !has_target_for(lib.targets, gfx)) s.lacking.push_back(&lib);
  }
  return s;
}

// One doctor run: the observations, then the verdict picked by the first cause that applies.
class Diagnosis {
 public:
  explicit Diagnosis(Input in) : in_(std::move(in)), st_(in_.status), m_(st_.module), gpu_(first_rdna1(st_)) {
    gfx_ = gpu_ != nullptr ? gpu_->gfx : std::string();
    ctx_ = machine_context(in_, gfx_, r_.notes, invalid_override_);
    rejudge_log(in_, ctx_);
    libs_ = scan_libraries(in_.libraries, gfx_);
    sig_ = in_.signing ? &*in_.signing : nullptr;
    sig_blocked_ = sig_ != nullptr && sig_->problem && sig_->verdict != SigningVerdict::kNotInstalled;
    mismatch_ = faults::override_mismatch(ctx_);
    log_cls_ = in_.faults ? in_.faults->verdict.cls : faults::FaultClass::kNone;
    // seen_cc counts ranges at the chokepoint, req_cc_* the same requests at the request-level hooks.
    cc_ranges_ = m_.counters ? counter_sum(*m_.counters, {"seen_cc"}) : 0;
    cc_requests_ = m_.counters ? counter_sum(*m_.counters, {"req_cc_get_vm_pte", "req_cc_map_mtype"}) : 0;
    cc_seen_ = std::max(cc_ranges_, cc_requests_);
  }

  Report run() && {
    observe();
    if (gpu_ == nullptr) {
      no_gpu();
    } else if (!(isa_mismatch() || log_code_objects() || missing_code_objects() || log_fault() || signing() ||
                 cc_seen() || module_error())) {
      healthy();
    }
    if (gpu_ != nullptr) closing_notes();
    r_.input = std::move(in_);
    return std::move(r_);
  }

 private:
  // Secondary observations; the verdict picks the most likely cause.
  void observe() {
    if (!m_.loaded && !m_.has_status)
      r_.notes.emplace_back("rdna1_vmfix is not loaded: MTYPE is not assessed (stock kernels map no cache-coherent "
                         "memory on gfx10 unless userspace asks for it)");
    const std::string state = module_field(m_, "state");
    if (state == "refused" || state == "error") {
      const std::string advice = module_reason_advice(module_field(m_, "reason"));
      r_.notes.push_back(fmt::format("rdna1_vmfix {} to arm: {}{}{}", state == "refused" ? "refused" : "failed",
                                     module_field(m_, "reason"), advice.empty() ? "" : "; ", advice));
    }
    for (const auto& e : m_.errors) r_.notes.emplace_back("module: " + e);
    for (const auto& w : st_.warnings) r_.notes.push_back(w);
    if (in_.libraries_searched && in_.libraries.empty())
      r_.notes.emplace_back("no ROCm, PyTorch, MIOpen or rocBLAS libraries found in the searched directories");
    if (libs_.unknown > 0)
      r_.notes.push_back(fmt::format("{} librar{} listed without targets: {}", libs_.unknown,
                                     libs_.unknown == 1 ? "y" : "ies",
                                     have_code_object_reader()
                                         ? "unreadable (see each entry)"
                                         : "this build has no code-object reader; run `rdna1-vmfix isa FILE` on them"));
    if (!in_.faults) r_.notes.emplace_back("recent faults not checked: " + in_.log_source);
    // A module that cannot load as things stand is the verdict's business (signing()); one that is
    // just not installed or not loaded is a note: it is optional.
    if (sig_ != nullptr && !sig_blocked_ && sig_->verdict != SigningVerdict::kLoaded)
      r_.notes.push_back(fmt::format("rdna1_vmfix {}: {}{}", signing_verdict_name(sig_->verdict), sig_->summary,
                                     sig_->steps.empty() ? "" : fmt::format(" (next: {})", sig_->steps.front())));
  }

  void problem(std::string cls, std::string summary, std::string advice) {
    r_.verdict.cls = std::move(cls);
    r_.verdict.summary = std::move(summary);
    r_.verdict.advice = std::move(advice);
    r_.exit_code = 1;
  }

  void add_fault_evidence() {
    if (!in_.faults || in_.faults->events.empty()) return;
    const std::size_t n = in_.faults->events.size();
    r_.verdict.evidence.push_back(fmt::format("{} ({}): {}", in_.log_source,
                                              n == 1 ? "1 event" : fmt::format("{} events", n),
                                              in_.faults->verdict.summary));
  }

  [[nodiscard]] std::string native_advice() const {
    return fmt::format(
        "Use builds with native {} code objects: TheRock's torch[device-gfx1010] wheels (gfx101X builds), Debian's "
        "ROCm packages (built for gfx1010), or a source build with --offload-arch={}; `rdna1-vmfix isa LIB` shows "
        "what a library contains.",
        gfx_, gfx_);
  }

  void no_gpu() {
    Finding& v = r_.verdict;
    v.cls = "no_rdna1_gpu";
    v.summary = st_.gpus.empty() ? "no AMD GPU found (KFD topology and PCI)"
                                 : fmt::format("no RDNA1 GPU (gfx1010/gfx1011/gfx1012) among the {} AMD GPU(s) found",
                                               st_.gpus.size());
    v.advice = "rdna1-vmfix diagnoses RDNA1 machines; `rdna1-vmfix faults` still reads any amdgpu log.";
    for (const auto& g : st_.gpus)
      v.evidence.push_back(
          fmt::format("{} {:04x}:{:04x} {}", g.bdf, g.vendor, g.device, g.gfx.empty() ? "unknown target" : g.gfx));
    add_fault_evidence();
    r_.exit_code = 3;
  }

  bool isa_mismatch() {
    if (!mismatch_) return false;
    problem("isa_mismatch", *mismatch_ + ": code built for another ISA faults or computes wrong results on RDNA1 hardware",
            "Unset HSA_OVERRIDE_GFX_VERSION (within gfx101x, 10.1.0 is the only safe value, for gfx1011/gfx1012). " +
                native_advice());
    r_.verdict.evidence.push_back(fmt::format("HSA_OVERRIDE_GFX_VERSION={} ({}); GPU {} is {}", ctx_.override_version,
                                              ctx_.override_source, gpu_->bdf, gfx_));
    add_fault_evidence();
    return true;
  }

  bool log_code_objects() {
    if (log_cls_ != faults::FaultClass::kIsaMismatch && log_cls_ != faults::FaultClass::kMissingCodeObject) return false;
    problem(std::string(faults::class_name(log_cls_)), in_.faults->verdict.summary, in_.faults->verdict.advice);
    add_fault_evidence();
    return true;
  }

  bool missing_code_objects() {
    if (libs_.lacking.empty()) return false;
    problem("missing_code_object",
            fmt::format("{} of {} installed libraries with GPU code have no code objects for {}", libs_.lacking.size(),
                        libs_.with_device_code.size(), gfx_),
            native_advice() + " Do not work around it with HSA_OVERRIDE_GFX_VERSION=10.3.0: gfx1030 code is not "
                              "gfx1010 code.");
    for (const Library* l : libs_.lacking) {
      std::string t = l->targets.targets.empty() ? "none" : fmt::format("{}", fmt::join(l->targets.targets, " "));
      if (t.size() > 160) t = t.substr(0, 157) + "...";
      if (r_.verdict.evidence.size() < 8)
        r_.verdict.evidence.push_back(fmt::format("{}: targets {} (from {})", l->path, t, l->targets.source));
    }
    add_fault_evidence();
    return true;
  }

  bool log_fault() {
    if (log_cls_ == faults::FaultClass::kNone) return false;
    problem(std::string(faults::class_name(log_cls_)), in_.faults->verdict.summary, in_.faults->verdict.advice);
    add_fault_evidence();
    if (cc_seen_ > 0)
      r_.verdict.evidence.push_back(fmt::format("rdna1_vmfix saw {} cache-coherent (CC) mapping requests on scoped "
                                                "devices (mode {}): compare with mode=enforce",
                                                cc_seen_, module_field(m_, "mode")));
    return true;
  }

  bool signing() {
    if (!sig_blocked_) return false;
    std::string steps;
    for (std::size_t i = 0; i < sig_->steps.size(); ++i)
      steps += fmt::format("{}{}. {}", i ? " " : "", i + 1, sig_->steps[i]);
    problem("module_signing", "rdna1_vmfix cannot load: " + sig_->summary, steps);
    const char* signed_text = sig_->module_signed == Tri::kYes  ? "signed"
                              : sig_->module_signed == Tri::kNo ? "unsigned"
                                                                : "signature unknown";
    r_.verdict.evidence.push_back(fmt::format("secure boot {}, lockdown {}, module {} ({}), key {} {}",
                                              tri_name(sig_->secure_boot), sig_->lockdown.empty() ? "n/a" : sig_->lockdown,
                                              sig_->module_path, signed_text, sig_->certificate,
                                              key_enrolment_name(sig_->enrolment)));
    for (const auto& line : sig_->refusals) r_.verdict.evidence.push_back(line);
    return true;
  }

  bool cc_seen() {
    if (cc_seen_ == 0) return false;
    problem("mtype_cc_seen",
            fmt::format("rdna1_vmfix saw cache-coherent (MTYPE_CC) mappings on RDNA1 (seen_cc {}, CC requests {}, "
                        "mode {})",
                        cc_ranges_, cc_requests_, module_field(m_, "mode")),
            "This is the one case where MTYPE is in evidence: run the workload with rdna1_vmfix mode=enforce "
            "(CC becomes NC) and compare (`rdna1-vmfix check --compare-modes`); report the counters.");
    r_.verdict.evidence.emplace_back("/sys/kernel/rdna1_vmfix/counters: seen_cc/req_cc_* > 0");
    return true;
  }

  bool module_error() {
    if (m_.errors.empty()) return false;
    r_.verdict.cls = "module_error";
    r_.verdict.summary = "the rdna1_vmfix status files cannot be read: " + m_.errors.front();
    r_.verdict.advice = "Install matching versions of the module and the tool (DKMS package and rdna1-vmfix).";
    r_.exit_code = 4;
    return true;
  }

  void healthy() {
    Finding& v = r_.verdict;
    v.cls = "healthy";
    v.summary = fmt::format("no problem found for {} ({})", gpu_->bdf, gfx_);
    v.advice = "Nothing to do.";
    v.evidence.push_back(
        !invalid_override_.empty()
            ? fmt::format("HSA_OVERRIDE_GFX_VERSION={} is set and invalid (not MAJOR.MINOR.STEP)", invalid_override_)
        : ctx_.override_version.empty()
            ? "HSA_OVERRIDE_GFX_VERSION is not set"
            : fmt::format("HSA_OVERRIDE_GFX_VERSION={} is compatible with {}", ctx_.override_version, gfx_));
    if (!libs_.with_device_code.empty())
      v.evidence.push_back(fmt::format("{} libraries with GPU code all contain {}-compatible code objects",
                                       libs_.with_device_code.size(), gfx_));
    if (in_.faults) v.evidence.push_back(fmt::format("{}: no fault events", in_.log_source));
  }

  void closing_notes() {
    if (!ctx_.override_version.empty() && !mismatch_)
      r_.notes.push_back(
          fmt::format("HSA_OVERRIDE_GFX_VERSION={} is set and compatible with {}", ctx_.override_version, gfx_));
    const std::string mode = module_field(m_, "mode");
    if (m_.counters && cc_seen_ == 0 && (mode == "audit" || mode == "enforce"))
      r_.notes.emplace_back("rdna1_vmfix audit: no cache-coherent (CC) mapping requested on scoped devices; MTYPE is not "
                         "implicated");
  }

  Input in_;
  Report r_;
  const SystemStatus& st_;
  const ModuleState& m_;
  const GpuInfo* gpu_;
  std::string gfx_;
  faults::Context ctx_;
  std::string invalid_override_;  // HSA_OVERRIDE_GFX_VERSION set but not a version
  LibraryScan libs_;
  const ModuleSigning* sig_ = nullptr;
  bool sig_blocked_ = false;
  std::optional<std::string> mismatch_;
  faults::FaultClass log_cls_ = faults::FaultClass::kNone;
  std::uint64_t cc_ranges_ = 0, cc_requests_ = 0, cc_seen_ = 0;
};

}  // namespace

Report diagnose(Input in) { return Diagnosis(std::move(in)).run(); }

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
