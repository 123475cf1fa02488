// SPDX-License-Identifier: GPL-2.0 OR MIT
// Classification as data: kEventRules maps the evidence of one event to a class and a reason (first
// match wins); kClasses gives each class its name, its rank for the verdict and its advice. The
// corpus tests (tests/unit/diag/faults_test.cpp) drive every rule.

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "common/output.hpp"
#include "common/text.hpp"
#include "faults/faults.hpp"

namespace vmfix::faults {
namespace {

using Mismatch = std::optional<std::string>;

// What a rule sees besides the event: the machine context and the override mismatch it implies.
struct Facts {
  const Context& ctx;
  Mismatch mismatch;  // an override (stated, or seen in the runtime's name for the device) outside the family
  Mismatch foreign;   // the log's library lists code objects for other families only
  // The GPU's target: the context's, else the one the event named.
  [[nodiscard]] std::string gfx(const Event& e) const { return ctx.gfx.empty() ? e.isa : ctx.gfx; }
  // The target the runtime loads code for: an override's within the GPU's family (10.3.0 on a
  // gfx1036), else the GPU's (a foreign override is judged as a mismatch, not as support).
  [[nodiscard]] std::string loads(const Event& e) const {
    std::string g = gfx(e);
    if (const auto t = override_target(ctx.override_version); t && override_within_family(g, *t)) return *t;
    return g;
  }
};

// "canonical-user address 0x..." or the fallback text when the line carried no address.
std::string describe_address(const Event& e, std::string_view none) {
  if (!e.address) return std::string(none);
  return fmt::format("{} address {}", address_kind_name(classify_address(*e.address)), hex64(*e.address));
}

std::string access_verb(const Event& e) { return e.rw ? (*e.rw != 0 ? "wrote" : "read") : "accessed"; }

// A fault on the multimedia hub: video/JPEG engines, display, firmware (mmhub_v*: VCN, JPEG, DCE*, MP0,
// MP1, HDP...), never the graphics engine's shaders, whichever process submitted the work.
bool on_mmhub(const Event& e) {
  return text::starts_with(e.hub, "mmhub") || text::starts_with(e.status_register, "MMVM");
}

// Fills what a VM fault report did not print from its raw status register.
void fill_from_status(Event& e) {
  if (e.status && !e.degenerate_status && e.gen != Gen::kGfx8) {
    const L2Status s = decode_l2_status(*e.status);
    if (!e.client_id) e.client_id = s.cid;
    if (e.client.empty() || e.client == "unknown") {
      const bool mm = on_mmhub(e);
      const std::string n = utcl2_client_name(e.gen, mm, s.cid);
      if (!n.empty()) e.client = n;
    }
    if (!e.more_faults) e.more_faults = s.more_faults ? 1U : 0U;
    if (!e.walker_error) e.walker_error = s.walker_error;
    if (!e.permission_faults) e.permission_faults = s.permission_faults;
    if (!e.mapping_error) e.mapping_error = s.mapping_error ? 1U : 0U;
    if (!e.rw) e.rw = s.write ? 1U : 0U;
  } else if (e.status && e.gen == Gen::kGfx8) {
    const LegacyStatus s = decode_legacy_status(*e.status);
    if (!e.client_id) e.client_id = s.client_id;
    if (!e.permission_faults) e.permission_faults = s.protections;
    if (!e.rw) e.rw = s.write ? 1U : 0U;
    if (!e.vmid) e.vmid = s.vmid;
  }
}

std::string other_client_reason(const Event& e) {
  std::string why;
  if (!e.client.empty())
    why = fmt::format("client {} is not shader code (command processor, firmware, DMA or multimedia); it {} {}",
                      e.client, access_verb(e), describe_address(e, "an unknown address"));
  else if (text::starts_with(e.hub, "mmhub"))
    why = fmt::format("fault on the multimedia hub ({}), not from shader code", e.hub);
  else
    why = "the faulting client is not identified in the log";
  if (e.iommu) why += "; the IOMMU reported page faults for the device at the same time";
  return why;
}

// What an HSA_OVERRIDE_GFX_VERSION mismatch does to a rule's verdict.
enum class OnMismatch {
  kKeep,         // nothing
  kIsaMismatch,  // the class becomes isa_mismatch and the reason names the override
  kAppend,       // the reason also names the override
  kFault,        // a fault: isa_mismatch under an override, or when the libraries carry foreign code only
};

// The first KFD VMID: amdgpu gives VMIDs 1..first-1 to its own graphics/compute contexts (Mesa,
// Vulkan, OpenCL through the render node) and first..15 to KFD (ROCm/HSA). gmc_v6/7/8/10/11/12 and
// gmc_v9 on GPUs with graphics use 8; the compute-only gfx9 parts (gfx908, gfx90a, gfx94x) use 3.
// A gfx9 report whose GPU is not known may be one of those: 3, the bound that holds for all.
unsigned first_kfd_vmid(const Event& e, const Facts& f) {
  const std::string gfx = f.gfx(e);
  const bool compute_only = text::starts_with(gfx, "gfx908") || text::starts_with(gfx, "gfx90a") ||
                            text::starts_with(gfx, "gfx94") || text::starts_with(gfx, "gfx95");
  if (compute_only) return 3;
  if (!gfx.empty()) return 8;
  return e.gen == Gen::kGfx10 || e.gen == Gen::kGfx12 || e.gen == Gen::kGfx8 ? 8 : 3;
}

// A gfxhub fault in a VMID that amdgpu keeps for render-node contexts: not KFD, so not HSA/ROCm.
// Only reports that name their process (kernels since 4.19): before that, compute stacks other than
// ROCm (amdgpu-pro's OpenCL) also ran in these VMIDs, and nothing in the report tells them apart.
bool in_drm_context(const Event& e, const Facts& f) {
  if (!is_vm_fault(e) || !e.vmid || *e.vmid == 0 || (e.process.empty() && !e.pid)) return false;
  if (on_mmhub(e)) return false;
  return *e.vmid < first_kfd_vmid(e, f);
}

// A gfxhub fault in a VMID that amdgpu gives KFD: a ROCm/HSA compute queue's.
bool in_kfd_context(const Event& e, const Facts& f) {
  if (!is_vm_fault(e) || !e.vmid || on_mmhub(e)) return false;
  return *e.vmid >= first_kfd_vmid(e, f);
}

// The GPU's own target: the machine's, else (faults run without --gfx) the one the runtime names the device
// by when that is a target no release supports: nobody overrides to such a target, so it is the GPU's.
std::string device_target(const Facts& f) {
  if (!f.ctx.gfx.empty() || f.ctx.runtime_targets.empty()) return f.ctx.gfx;
  const auto& rt = f.ctx.runtime_targets;
  const bool all_unsupported = std::all_of(rt.begin(), rt.end(), [](const std::string& t) { return unsupported_target(t); });
  return all_unsupported ? rt.front() : std::string();
}

// The runtime loads code for a target other than the GPU's own: an override, stated or seen in the
// runtime's name for the device (an override within the family, 10.3.0 on a gfx1035, runs supported code).
bool overridden(const Facts& f) {
  const std::string gfx = device_target(f);
  const std::string base = gfx.substr(0, gfx.find(':'));
  return !f.ctx.override_version.empty() ||
         std::any_of(f.ctx.runtime_targets.begin(), f.ctx.runtime_targets.end(),
                     [&](const std::string& t) { return t != base; });
}

// The GPU's target has no support in the ROCm release in use (any release when it is not known), and no
// library in the log lists it: a list that names the target (a community build for gfx90c, Ollama's
// supported_types) shows that code for it exists, so a failure there is no longer the GPU's support.
bool unsupported_here(const std::string& gfx, const Facts& f) {
  const std::string base = gfx.substr(0, gfx.find(':'));
  const auto& lt = f.ctx.library_targets;
  return unsupported_under(gfx, f.ctx.rocm_version) && std::find(lt.begin(), lt.end(), base) == lt.end();
}

// The RDNA2 discrete targets that neither AMD's ROCm libraries nor PyTorch's wheels nor Debian's packages
// build (they build gfx1030 alone in the family, which is why 10.3.0 is the usual override there).
bool family_build_only(const std::string& gfx) {
  const std::string base = gfx.substr(0, gfx.find(':'));
  return base == "gfx1031" || base == "gfx1032" || base == "gfx1034";
}

struct EventRule {
  std::string_view name;  // stable id: Event::rule, tests
  bool (*matches)(const Event& e, const Facts& f);
  FaultClass cls;
  OnMismatch on_mismatch;
  std::string (*reason)(const Event& e, const Facts& f);
};

constexpr std::array kEventRules = {
    EventRule{"vm_graphics_client",
              [](const Event& e, const Facts&) {
                // A multimedia-hub fault is the video engine's or the display's, even in a player's process.
                return is_vm_fault(e) && !on_mmhub(e) && is_graphics_client(e.process, e.thread);
              },
              FaultClass::kGraphicsFault, OnMismatch::kKeep,
              [](const Event& e, const Facts&) {
                return fmt::format("graphics client {}{} faulted ({} {} {}): a graphics-stack problem, not HSA/ROCm "
                                   "compute",
                                   e.process.empty() ? "(unnamed)" : e.process,
                                   e.thread.empty() ? "" : fmt::format(" (thread {})", e.thread),
                                   e.client.empty() ? "client not named" : e.client, access_verb(e),
                                   describe_address(e, "an unknown address"));
              }},
    EventRule{"vm_degenerate_status", [](const Event& e, const Facts&) { return is_vm_fault(e) && e.degenerate_status; },
              FaultClass::kVmFaultOther, OnMismatch::kKeep,
              [](const Event& e, const Facts&) {
                return fmt::format("the fault status register reads {} (every field saturated): the report is "
                                   "degenerate, which points at device or driver state rather than one decodable access",
                                   fmt::format("0x{:08x}", *e.status));
              }},
    EventRule{"vm_drm_context", [](const Event& e, const Facts& f) { return in_drm_context(e, f); },
              FaultClass::kGraphicsFault, OnMismatch::kKeep,
              [](const Event& e, const Facts& f) {
                return fmt::format("the fault is in VMID {}, which amdgpu gives to graphics contexts of the render node "
                                   "(KFD, i.e. ROCm/HSA, uses VMIDs {}-15); {} {} {} {}",
                                   *e.vmid, first_kfd_vmid(e, f),
                                   e.process.empty() ? std::string("the process is not named")
                                                     : fmt::format("process {}", e.process),
                                   e.client.empty() ? "(client not named)" : "client " + e.client, access_verb(e),
                                   describe_address(e, "an unknown address"));
              }},
    EventRule{"vm_graphics_ring",
              [](const Event& e, const Facts&) {
                return is_vm_fault(e) && text::starts_with(e.timed_out_ring, "gfx") && !text::starts_with(e.hub, "mmhub");
              },
              FaultClass::kGraphicsFault, OnMismatch::kKeep,
              [](const Event& e, const Facts&) {
                return fmt::format("the fault came with a timeout of the graphics ring {}{}: a graphics job faulted "
                                   "(KFD's compute queues never run on the gfx ring)",
                                   e.timed_out_ring, e.process.empty() ? "" : fmt::format(" ({})", e.process));
              }},
    EventRule{"vm_graphics_pipeline_client",
              [](const Event& e, const Facts&) {
                // A status of 0 decodes to client 0 (CB, CB/DB) without saying anything.
                return is_vm_fault(e) && !e.client.empty() && is_graphics_pipeline_client(e.client) &&
                       !(e.status && *e.status == 0) && !on_mmhub(e);
              },
              FaultClass::kGraphicsFault, OnMismatch::kKeep,
              [](const Event& e, const Facts&) {
                return fmt::format("client {} is a block of the graphics pipeline (colour/depth, primitive or "
                                   "geometry, gfx command processor), which compute dispatches never use; it {} {}",
                                   e.client, access_verb(e), describe_address(e, "an unknown address"));
              }},
    // ROCr's fault report names the failure KFD gave it (runtime.cpp, VMFaultHandler): "Reason: DRAM ECC
    // failure" / "SRAM ECC failure" / "ECC failure (if supported by HW)" is a memory error in the hardware, and
    // "Generic hang recovery" a hang the driver recovered from; neither is an access to a bad address.
    EventRule{"hsa_fault_ecc",
              [](const Event& e, const Facts&) {
                return e.kind == "hsa_memory_fault" && e.fault_reason.find("ECC failure") != std::string::npos;
              },
              FaultClass::kVmFaultOther, OnMismatch::kKeep,
              [](const Event& e, const Facts&) {
                return fmt::format("ROCr reports the fault as an ECC failure ({}): a memory error in the hardware, "
                                   "not a program's access to a bad address",
                                   e.fault_reason);
              }},
    EventRule{"hsa_fault_hang_recovery",
              [](const Event& e, const Facts&) {
                return e.kind == "hsa_memory_fault" && e.fault_reason == "Generic hang recovery";
              },
              FaultClass::kHangOrReset, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "ROCr reports the fault as the driver's hang recovery (Reason: Generic hang recovery): the GPU "
                       "hung and its queues were torn down, which is no access to a bad address";
              }},
    // ROCr/HIP's own fault report (or a shader fault in a KFD VMID: a ROCm queue's) on a target the ROCm
    // release in use does not support, when the fault names no address (ROCr's "(nil)", an aperture violation,
    // HIP's illegal address) or the log shows KFD skipping the device: then nothing in it points at the
    // program's memory, and the target is the only lead. A fault at a real address is what a bad pointer
    // prints on any target, supported or not (the target alone is no evidence against the address); it stays
    // an address fault. Weak: a hang, a missing code object or another cause decides.
    EventRule{"unsupported_gpu_fault",
              [](const Event& e, const Facts& f) {
                const bool runtime_fault = e.kind == "hsa_memory_fault" || e.kind == "hsa_aperture_violation" ||
                                           e.kind == "hip_illegal_address" ||
                                           (in_kfd_context(e, f) && !e.client.empty() && is_shader_client(e.client));
                const bool target_only_lead = !e.address || !f.ctx.kfd_skipped.empty();
                return runtime_fault && target_only_lead && !overridden(f) && unsupported_here(device_target(f), f);
              },
              FaultClass::kUnsupportedGpu, OnMismatch::kKeep,
              [](const Event& e, const Facts& f) {
                return fmt::format("a GPU memory fault{} on {}, a target that the ROCm release in use{} does not support",
                                   e.hsa_status.empty() ? std::string() : " (" + e.hsa_status + ")", device_target(f),
                                   f.ctx.rocm_version.empty() ? std::string() : " (" + f.ctx.rocm_version + ")");
              }},
    EventRule{"vm_shader_client",
              [](const Event& e, const Facts&) { return is_vm_fault(e) && !e.client.empty() && is_shader_client(e.client); },
              FaultClass::kVmFaultBadAddress, OnMismatch::kFault,
              [](const Event& e, const Facts&) {
                return fmt::format("shader memory client {} {} {} that has no valid mapping", e.client, access_verb(e),
                                   describe_address(e, "an unknown address"));
              }},
    EventRule{"vm_other_client", [](const Event& e, const Facts&) { return is_vm_fault(e); }, FaultClass::kVmFaultOther,
              OnMismatch::kKeep, [](const Event& e, const Facts&) { return other_client_reason(e); }},
    EventRule{"iommu_fault", [](const Event& e, const Facts&) { return e.kind == "iommu_fault"; },
              FaultClass::kVmFaultOther, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the IOMMU blocked a DMA access of the device (IO_PAGE_FAULT)";
              }},
    EventRule{"hsa_memory_fault", [](const Event& e, const Facts&) { return e.kind == "hsa_memory_fault"; },
              FaultClass::kVmFaultBadAddress, OnMismatch::kFault,
              [](const Event& e, const Facts&) {
                return fmt::format("a GPU kernel accessed {} with no valid mapping (ROCr reason: {})",
                                   describe_address(e, "an address"),
                                   e.fault_reason.empty() ? "not given" : e.fault_reason);
              }},
    EventRule{"hsa_aperture_violation",
              [](const Event& e, const Facts&) { return e.kind == "hsa_aperture_violation"; },
              FaultClass::kVmFaultBadAddress, OnMismatch::kFault,
              [](const Event&, const Facts&) -> std::string {
                return "a GPU kernel accessed memory outside every legal aperture "
                       "(HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION)";
              }},
    EventRule{"hip_illegal_address", [](const Event& e, const Facts&) { return e.kind == "hip_illegal_address"; },
              FaultClass::kVmFaultBadAddress, OnMismatch::kFault,
              [](const Event&, const Facts&) -> std::string { return "a GPU kernel made an illegal memory access"; }},
    EventRule{"unsupported_gpu_failure",
              [](const Event& e, const Facts& f) {
                constexpr std::array<std::string_view, 9> kKinds = {
                    "hsa_invalid_isa", "hsa_illegal_instruction", "queue_abort",            "hsa_error",
                    "hsa_resources",   "process_crash",           "kfd_interrupt_overflow", "no_gpu_device",
                    "app_error"};
                // An override within the family (10.3.0 on gfx1035, 9.0.0 on gfx90c) runs supported code.
                const bool causeless = std::find(kKinds.begin(), kKinds.end(), e.kind) != kKinds.end();
                // KFD skipped a device as unsupported and the runtime then has no compute agent at all: the
                // kernel side does not support compute on the GPU, whatever its target.
                const bool no_agent = e.kind == "hsa_resources" || e.kind == "no_gpu_device";
                return causeless && ((!overridden(f) && unsupported_here(device_target(f), f)) ||
                                     (no_agent && !f.ctx.kfd_skipped.empty()));
              },
              FaultClass::kUnsupportedGpu, OnMismatch::kKeep,
              [](const Event& e, const Facts& f) {
                const std::string what = e.hsa_status.empty() ? std::string("a compute failure") : e.hsa_status;
                if (!unsupported_here(device_target(f), f) || overridden(f))
                  return fmt::format("{} after KFD skipped the GPU as unsupported ({}): no compute agent exists", what,
                                     f.ctx.kfd_skipped);
                return fmt::format("{} on {}, a target that current ROCm releases do not support (no code objects are "
                                   "built for it)",
                                   what, device_target(f));
              }},
    EventRule{"gpu_unsupported_notice", [](const Event& e, const Facts&) { return e.kind == "gpu_unsupported_notice"; },
              FaultClass::kUnsupportedGpu, OnMismatch::kKeep,
              [](const Event& e, const Facts&) {
                return fmt::format("the stack skipped the GPU{} as unsupported (no ROCm compute on it)",
                                   e.isa.empty() ? std::string() : " " + e.isa);
              }},
    EventRule{"crash_with_upstream_torch_wheel",
              [](const Event& e, const Facts& f) {
                const bool causeless = e.kind == "process_crash" || e.kind == "queue_abort" || e.kind == "hsa_error" ||
                                       e.kind == "app_error";
                return causeless && !f.mismatch && f.ctx.override_version.empty() && f.ctx.runtime_targets.empty() &&
                       !f.ctx.upstream_torch_wheel.empty() && text::starts_with(f.ctx.gfx, "gfx101");
              },
              FaultClass::kMissingCodeObject, OnMismatch::kKeep,
              [](const Event& e, const Facts& f) {
                return fmt::format("{} with PyTorch's own ROCm wheels ({}), which carry no {} code objects",
                                   e.hsa_status.empty() ? std::string("a crash") : e.hsa_status,
                                   f.ctx.upstream_torch_wheel, f.ctx.gfx.substr(0, f.ctx.gfx.find(':')));
              }},
    // A HIP/BLAS/MIOpen error that names no cause, on a target whose code only a source build carries and
    // without the in-family override: the library most likely has no kernels for it. Weak.
    EventRule{"library_error_without_target_build",
              [](const Event& e, const Facts& f) {
                return e.kind == "hsa_error" && !f.mismatch && !overridden(f) && family_build_only(f.ctx.gfx);
              },
              FaultClass::kMissingCodeObject, OnMismatch::kKeep,
              [](const Event& e, const Facts& f) {
                return fmt::format("{} on {}, a target that AMD's ROCm libraries and PyTorch's wheels carry no code "
                                   "for (they build gfx1030 alone in this family)",
                                   e.hsa_status.empty() ? std::string("a GPU library error") : e.hsa_status,
                                   f.ctx.gfx);
              }},
    EventRule{"hsa_invalid_isa", [](const Event& e, const Facts&) { return e.kind == "hsa_invalid_isa"; },
              FaultClass::kIsaMismatch, OnMismatch::kAppend,
              [](const Event&, const Facts&) -> std::string {
                return "the runtime rejected a code object whose ISA does not match the device";
              }},
    EventRule{"hsa_illegal_instruction",
              [](const Event& e, const Facts&) { return e.kind == "hsa_illegal_instruction"; },
              FaultClass::kIsaMismatch, OnMismatch::kAppend,
              [](const Event&, const Facts&) -> std::string {
                return "the GPU met an instruction it cannot execute: code built for another ISA";
              }},
    EventRule{"graphics_vm_fault", [](const Event& e, const Facts&) { return e.kind == "graphics_vm_fault"; },
              FaultClass::kGraphicsFault, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the Mesa graphics driver reports a GPUVM fault in its context";
              }},
    EventRule{"graphics_context_lost", [](const Event& e, const Facts&) { return e.kind == "graphics_context_lost"; },
              FaultClass::kGraphicsFault, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the Mesa graphics driver reports its context lost to a GPU reset";
              }},
    EventRule{"no_code_object_unsupported_gpu",
              [](const Event& e, const Facts& f) {
                return (e.kind == "no_code_object" || e.kind == "library_list") && unsupported_here(f.loads(e), f);
              },
              FaultClass::kUnsupportedGpu, OnMismatch::kKeep,
              [](const Event& e, const Facts& f) {
                return fmt::format("no code object for {}, a target that current ROCm releases do not support",
                                   f.loads(e));
              }},
    EventRule{"library_list_without_target", [](const Event& e, const Facts&) { return e.kind == "library_list"; },
              FaultClass::kMissingCodeObject, OnMismatch::kKeep,
              [](const Event& e, const Facts& f) {
                return fmt::format("the library's list of its code-object files ({}: {}) has none for {}",
                                   f.ctx.library_targets_source, fmt::join(f.ctx.library_targets, " "), e.isa);
              }},
    EventRule{"no_code_object", [](const Event& e, const Facts&) { return e.kind == "no_code_object"; },
              FaultClass::kMissingCodeObject, OnMismatch::kKeep,
              [](const Event& e, const Facts&) {
                return e.isa.empty() ? std::string("a library or application has no code object for this GPU's ISA")
                                     : fmt::format("no code object for {} in the library or application", e.isa);
              }},
    EventRule{"out_of_memory", [](const Event& e, const Facts&) { return e.kind == "out_of_memory"; },
              FaultClass::kOutOfMemory, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "an allocation failed: out of GPU or host memory";
              }},
    EventRule{"pcie_atomics", [](const Event& e, const Facts&) { return e.kind == "pcie_atomics"; },
              FaultClass::kPcieAtomics, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the PCIe path does not support atomics, so KFD skipped the device (no ROCm compute on it)";
              }},
    EventRule{"hang", [](const Event& e, const Facts&) { return e.kind == "hang"; }, FaultClass::kHangOrReset,
              OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "a ring or firmware stopped responding and the driver timed out, reset the GPU or could not "
                       "start or resume it";
              }},
    EventRule{"hsa_resources", [](const Event& e, const Facts&) { return e.kind == "hsa_resources"; },
              FaultClass::kUnknown, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the runtime could not create its resources (HSA_STATUS_ERROR_OUT_OF_RESOURCES: memory, "
                       "threads, events or queues); the line names no single cause";
              }},
    EventRule{"no_gpu_device", [](const Event& e, const Facts&) { return e.kind == "no_gpu_device"; },
              FaultClass::kUnknown, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the runtime found no GPU it can use (no device, no permission on /dev/kfd, or every GPU "
                       "skipped); the line names no single cause";
              }},
    EventRule{"kernel_bug", [](const Event& e, const Facts&) { return e.kind == "kernel_bug"; }, FaultClass::kUnknown,
              OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the kernel crashed (oops) while the GPU was in use: a driver bug, which names no cause in the "
                       "GPU stack by itself";
              }},
    EventRule{"hardware_error", [](const Event& e, const Facts&) { return e.kind == "hardware_error"; },
              FaultClass::kUnknown, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the kernel logged a hardware error (machine check or PCIe AER), which names no GPU-stack "
                       "cause";
              }},
    // Under an override that runs another family's code, a crash or an exception that names nothing else
    // has the override as its first suspect (weak: any other cause in the log decides).
    EventRule{"crash_under_override",
              [](const Event& e, const Facts& f) {
                return f.mismatch.has_value() && (e.kind == "process_crash" || e.kind == "app_error");
              },
              FaultClass::kIsaMismatch, OnMismatch::kKeep,
              [](const Event& e, const Facts& f) {
                return fmt::format("{} without a GPU-side line; {}",
                                   e.kind == "app_error" ? "the program stopped with an exception" : "a process crashed",
                                   *f.mismatch);
              }},
    EventRule{"fence_fallback", [](const Event& e, const Facts&) { return e.kind == "fence_fallback"; },
              FaultClass::kUnknown, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the driver found fences signalled without their interrupt (fence fallback timer): "
                       "interrupts were lost or late, which names no cause by itself";
              }},
    EventRule{"app_error", [](const Event& e, const Facts&) { return e.kind == "app_error"; }, FaultClass::kUnknown,
              OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "the program stopped with an exception whose lines name no GPU-side cause";
              }},
    EventRule{"process_crash", [](const Event& e, const Facts&) { return e.kind == "process_crash"; },
              FaultClass::kUnknown, OnMismatch::kKeep,
              [](const Event&, const Facts&) -> std::string {
                return "a process crashed without a GPU-side error in the log";
              }},
    EventRule{"queue_abort_under_override",
              [](const Event& e, const Facts& f) {
                return f.mismatch.has_value() && (e.kind == "queue_abort" || e.kind == "hsa_error");
              },
              FaultClass::kIsaMismatch, OnMismatch::kKeep,
              [](const Event& e, const Facts& f) {
                return fmt::format("a queue aborted{}; {}", e.hsa_status.empty() ? "" : " with " + e.hsa_status, *f.mismatch);
              }},
    EventRule{"queue_abort", [](const Event& e, const Facts&) { return e.kind == "queue_abort" || e.kind == "hsa_error"; },
              FaultClass::kUnknown, OnMismatch::kKeep,
              [](const Event& e, const Facts&) {
                if (!e.hsa_status.empty()) return fmt::format("the runtime reported {}", e.hsa_status);
                return e.kind == "hsa_error"
                           ? std::string("the HIP/ROCm runtime reported an error that names no cause the rules know")
                           : std::string("a HSA queue aborted without a status that names the cause");
              }},
    EventRule{"kfd_interrupt_overflow", [](const Event& e, const Facts&) { return e.kind == "kfd_interrupt_overflow"; },
              FaultClass::kUnknown, OnMismatch::kIsaMismatch,
              [](const Event&, const Facts&) -> std::string {
                return "KFD's interrupt FIFO overflowed: the GPU raised events (wave exceptions, faults) faster than "
                       "KFD could handle them; the line names no single cause";
              }},
    EventRule{"unrecognised", [](const Event&, const Facts&) { return true; }, FaultClass::kUnknown,
              OnMismatch::kKeep, [](const Event&, const Facts&) -> std::string { return "unrecognised event"; }},
};

constexpr std::string_view kNoMtype =
    "Nothing here implicates MTYPE or cache coherence: only the rdna1_vmfix module's audit counters "
    "(rdna1-vmfix status) can show cache-coherent (CC) mappings on an RDNA1 device.";

// The advice of a class: gfx is the GPU's target (or a stand-in), isa the target the event named.
struct ClassInfo {
  FaultClass cls;
  std::string_view name;  // as in the JSON
  int rank;               // the verdict names the lowest-ranked class present (kNone: never ranked)
  std::string (*advice)(const std::string& gfx, const std::string& isa);
};

constexpr std::array kClasses = {
    ClassInfo{FaultClass::kIsaMismatch, "isa_mismatch", 0,
              [](const std::string& gfx, const std::string&) {
                return fmt::format(
                    "Unset HSA_OVERRIDE_GFX_VERSION wherever it is set (shell start files, /etc/environment, the "
                    "service's or container's environment), or set it only within the GPU's own family (10.1.0 on "
                    "gfx1011/gfx1012, never 10.3.0 on gfx101x), and run builds that carry code objects for {}: on "
                    "gfx101x, TheRock's multi-arch PyTorch wheels with the [device-gfx1010] extra, or Debian 13 "
                    "(trixie) ROCm libraries (Debian 12's carry no gfx1010 code). `rdna1-vmfix isa LIB` lists the "
                    "targets a library carries.",
                    gfx);
              }},
    ClassInfo{FaultClass::kMissingCodeObject, "missing_code_object", 2,
              [](const std::string& gfx, const std::string& isa) {
                const std::string& t = isa.empty() ? gfx : isa;
                std::string advice = fmt::format(
                    "Install builds that carry code objects for {0} (on gfx101x: TheRock's multi-arch PyTorch wheels "
                    "with the [device-gfx1010] extra, Debian 13 (trixie) ROCm libraries, or a source build with "
                    "--offload-arch={1}); `rdna1-vmfix isa LIB` lists the targets a library carries. Do not paper over "
                    "it with HSA_OVERRIDE_GFX_VERSION=10.3.0 on gfx101x: gfx1030 code is not gfx1010 code.",
                    t, text::starts_with(t, "gfx") ? t.substr(0, t.find(':')) : std::string("<the GPU's gfx target>"));
                // Families where one ISA serves every member (gfx103x, gfx110x, ...): the first member's code
                // runs, and builds carry it. gfx101x keeps the strict superset rule (no such hint).
                const std::string base = t.substr(0, t.find(':'));
                if (base.size() == 7 && text::starts_with(base, "gfx1") && !text::starts_with(base, "gfx101")) {
                  const std::string first = base.substr(0, 6) + "0";
                  const auto value = target_override_value(first);
                  if (first != base && value && override_within_family(base, first))
                    advice += fmt::format(" Within its family, HSA_OVERRIDE_GFX_VERSION={} loads {} code, which runs on "
                                          "{}: set it where the program starts when no build carries {}.",
                                          *value, first, base, base);
                }
                return advice;
              }},
    ClassInfo{FaultClass::kPcieAtomics, "pcie_atomics", 3,
              [](const std::string&, const std::string&) -> std::string {
                return "ROCm needs PCIe atomics for this GPU: use a CPU-attached PCIe 3.0+ slot without a switch that "
                       "drops AtomicOps, check the firmware settings, and confirm with `dmesg | grep -i atomic` after "
                       "the change.";
              }},
    ClassInfo{FaultClass::kVmFaultBadAddress, "vm_fault_bad_address", 4,
              [](const std::string& gfx, const std::string&) {
                return fmt::format(
                    "A GPU kernel used an address it never mapped. Check that HSA_OVERRIDE_GFX_VERSION is unset "
                    "(`env | grep HSA_OVERRIDE_GFX_VERSION` prints nothing) and the libraries have code objects built "
                    "for {} (`rdna1-vmfix isa LIB` lists the targets a library carries); if both hold, it is an application "
                    "or library bug: rerun with AMD_SERIALIZE_KERNEL=3 (and MIOPEN_FIND_MODE/MIOPEN_DEBUG_* to isolate "
                    "a convolution solver). {}",
                    gfx, kNoMtype);
              }},
    ClassInfo{FaultClass::kVmFaultOther, "vm_fault_other", 6,
              [](const std::string&, const std::string&) {
                return fmt::format(
                    "The faulting client is not shader code (or the report is degenerate): update the kernel and "
                    "linux-firmware, check IOMMU settings (e.g. iommu=pt) when IO_PAGE_FAULT lines appear, and report "
                    "the full dmesg upstream. {}",
                    kNoMtype);
              }},
    ClassInfo{FaultClass::kGraphicsFault, "graphics_fault", 5,
              [](const std::string&, const std::string&) -> std::string {
                return "A graphics client (X server, compositor, Mesa RADV/radeonsi, a game under Wine/Proton) "
                       "faulted: this is a graphics-stack problem, not ROCm/HSA compute, and HSA_OVERRIDE_GFX_VERSION "
                       "or ROCm libraries play no part. Update Mesa, the kernel and linux-firmware, and report it with "
                       "the full dmesg to the graphics stack (Mesa/RADV, VKD3D-Proton/DXVK, or the compositor).";
              }},
    ClassInfo{FaultClass::kUnsupportedGpu, "unsupported_gpu", 1,
              [](const std::string& gfx, const std::string& isa) {
                return fmt::format(
                    "{} is not supported by current ROCm releases (no code objects are built for it): use an older "
                    "ROCm release or a community build made for this target, or a Vulkan/OpenCL backend (llama.cpp "
                    "and Ollama have Vulkan). An HSA_OVERRIDE_GFX_VERSION outside the GPU's own family runs "
                    "mismatched code.",
                    isa.empty() ? gfx : isa);
              }},
    ClassInfo{FaultClass::kOutOfMemory, "out_of_memory", 7,
              [](const std::string&, const std::string&) -> std::string {
                return "Reduce the working set (batch size, resolution), check VRAM use (rocm-smi, amdgpu_top) and the "
                       "GTT size (amdgpu.gttsize / ttm limits).";
              }},
    ClassInfo{FaultClass::kHangOrReset, "hang_or_reset", 8,
              [](const std::string&, const std::string&) -> std::string {
                return "A ring or the GPU's firmware stopped responding (a timeout, a reset, or a block that failed to "
                       "start or resume): update the kernel and linux-firmware; on RDNA1 the known kernel-side problems "
                       "are hangs around queue preemption/eviction. Look for a VM fault just before the timeout (run "
                       "`rdna1-vmfix faults` over the whole log).";
              }},
    ClassInfo{FaultClass::kUnknown, "unknown", 9,
              [](const std::string&, const std::string&) -> std::string {
                return "No decodable cause in this log: rerun the program with AMD_LOG_LEVEL=3, save the kernel log "
                       "around the failure (`sudo dmesg -T > dmesg.txt`) and run `rdna1-vmfix faults` on both logs.";
              }},
    ClassInfo{FaultClass::kNone, "none", -1,
              [](const std::string&, const std::string&) -> std::string { return "Nothing to do."; }},
};

const ClassInfo& info(FaultClass c) {
  for (const auto& i : kClasses)
    if (i.cls == c) return i;
  return kClasses[kClasses.size() - 2];  // kUnknown
}

}  // namespace

std::string_view class_name(FaultClass c) { return info(c).name; }

std::string class_advice(FaultClass c, const Context& ctx, const std::string& isa) {
  return info(c).advice(ctx.gfx.empty() ? std::string("this GPU's target") : ctx.gfx, isa);
}

std::vector<FaultClass> classes_by_rank() {
  std::vector<const ClassInfo*> ranked;
  for (const auto& i : kClasses)
    if (i.rank >= 0) ranked.push_back(&i);
  std::sort(ranked.begin(), ranked.end(), [](const ClassInfo* a, const ClassInfo* b) { return a->rank < b->rank; });
  std::vector<FaultClass> out;
  out.reserve(ranked.size());
  for (const ClassInfo* i : ranked) out.push_back(i->cls);
  return out;
}

std::vector<std::string_view> event_rule_names() {
  std::vector<std::string_view> out;
  out.reserve(kEventRules.size());
  for (const auto& r : kEventRules) out.push_back(r.name);
  return out;
}

void classify_event(Event& e, const Context& ctx) {
  if (is_vm_fault(e)) fill_from_status(e);
  const Facts facts{ctx, override_mismatch(ctx), library_foreign_only(ctx)};
  const Mismatch& mismatch = facts.mismatch;
  for (const auto& rule : kEventRules) {
    if (!rule.matches(e, facts)) continue;
    e.rule = std::string(rule.name);
    e.cls = rule.cls;
    e.reason = rule.reason(e, facts);
    const Mismatch& why = rule.on_mismatch == OnMismatch::kFault && !mismatch ? facts.foreign : mismatch;
    if (why && (rule.on_mismatch == OnMismatch::kIsaMismatch || rule.on_mismatch == OnMismatch::kFault)) {
      e.cls = FaultClass::kIsaMismatch;
      e.reason = fmt::format("{}; {} (mismatched code, not a driver problem)", e.reason, *why);
    } else if (mismatch && rule.on_mismatch == OnMismatch::kAppend) {
      e.reason += "; " + *mismatch;
    }
    return;
  }
}

}  // namespace vmfix::faults
