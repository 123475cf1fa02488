// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Fault-log reader: finds amdgpu VM fault reports (gfx8 legacy .. gfx12, kernels 4.x .. 7.x) and the
// ROCr/HIP/library error lines users post, groups multi-line reports into events, decodes the
// *_L2_PROTECTION_FAULT_STATUS register, and classifies every event and the log as a whole.
//
// The parser never trusts its input: it is a hand-written scanner (no std::regex: its recursion
// overflows the stack on long lines) and every number is range-checked. Fuzzed by
// tests/fuzz/fuzz_faults.cpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace vmfix::faults {

inline constexpr int kSchema = 1;

// What most likely broke. The names are the JSON `class` values (docs/faults.md).
enum class FaultClass {
  kMissingCodeObject,  // no code object for the device's ISA in a library/wheel
  kIsaMismatch,        // code for another ISA runs (HSA_OVERRIDE_GFX_VERSION) or was rejected
  kVmFaultBadAddress,  // a shader client read/wrote an unmapped, null or low address
  kVmFaultOther,       // CP, firmware, SDMA, multimedia, IOMMU or undecodable faults
  kHangOrReset,        // ring timeout, GPU reset, MES/firmware hang
  kOutOfMemory,
  kPcieAtomics,        // KFD skipped the device: PCIe atomics unsupported on the path
  kGraphicsFault,      // a graphics client (X server, compositor, Mesa, Wine game) faulted: not HSA
  kUnsupportedGpu,     // the GPU's target has no current ROCm support (pre-Vega, GCN5 APUs)
  kUnknown,
  kNone,  // verdict only: the log holds no event
};
std::string_view class_name(FaultClass c);

// Where a GPU virtual address lies (48-bit GPUVM, sign-extended like x86-64).
enum class AddressKind {
  kNull,           // below 4 KiB: a null pointer plus a small offset
  kLow,            // below 64 KiB (mmap_min_addr): never a valid user mapping
  kCanonicalUser,  // 0x10000 .. 0x7fffffffffff: ordinary user VA (unmapped when it faults)
  kHigh,           // non-canonical: 0x800000000000 .. 0xffff7fffffffffff
  kKernel,         // 0xffff800000000000 and above: kernel-reserved GPUVM range
};
std::string_view address_kind_name(AddressKind k);
AddressKind classify_address(std::uint64_t addr);

// Which generation's register layout and client table to use.
enum class Gen {
  kUnknown,
  kGfx8,   // gmc_v7/v8: VM_CONTEXT1_PROTECTION_FAULT_STATUS
  kGfx9,   // gmc_v9 gfxhub_v1_x: VM_L2_PROTECTION_FAULT_STATUS
  kGfx10,  // gmc_v10/v11 gfxhub_v2_0/v2_1/v3_0/v11_5: GCVM_L2_PROTECTION_FAULT_STATUS
  kGfx12,  // gmc_v12 gfxhub_v12_0: GCVM_L2_PROTECTION_FAULT_STATUS_LO32 (no client names published)
};
std::string_view gen_name(Gen g);

// *_L2_PROTECTION_FAULT_STATUS (gfx9 .. gfx12 LO32 share this layout):
// bit 0 MORE_FAULTS, 3:1 WALKER_ERROR, 7:4 PERMISSION_FAULTS, 8 MAPPING_ERROR, 17:9 CID,
// 18 RW (1 = write), 19 ATOMIC, 23:20 VMID, 24 VF, 28:25 VFID.
struct L2Status {
  std::uint32_t raw = 0;
  bool more_faults = false;
  unsigned walker_error = 0;
  unsigned permission_faults = 0;
  bool mapping_error = false;
  unsigned cid = 0;
  bool write = false;
  bool atomic = false;
  unsigned vmid = 0;
};
L2Status decode_l2_status(std::uint32_t raw);

// gmc_v7/v8 VM_CONTEXT1_PROTECTION_FAULT_STATUS: 7:0 PROTECTIONS, 19:12 MEMORY_CLIENT_ID,
// 24 MEMORY_CLIENT_RW (1 = write), 28:25 VMID.
struct LegacyStatus {
  std::uint32_t raw = 0;
  unsigned protections = 0;
  unsigned client_id = 0;
  bool write = false;
  unsigned vmid = 0;
};
LegacyStatus decode_legacy_status(std::uint32_t raw);

// UTCL2 client name for a CID, as the kernel's tables print it ("" when the kernel has none).
std::string utcl2_client_name(Gen g, bool mmhub, unsigned cid);
// Meaning of the PERMISSION_FAULTS bits (Documentation/gpu/amdgpu/debugging.rst).
std::vector<std::string> permission_fault_meaning(unsigned bits);
std::string walker_error_meaning(unsigned value);
// True for UTCL2/legacy clients that run shader memory instructions (TCP, SQC, TA, TC*, ...).
bool is_shader_client(std::string_view name);
// True for UTCL2/legacy clients only graphics work uses (CB, DB, PA, IA, VGT, WD, GE, CPG): a fault
// from one of them is a graphics job's, whatever the process.
bool is_graphics_pipeline_client(std::string_view name);

struct Event {
  FaultClass cls = FaultClass::kUnknown;
  std::string kind;    // vm_fault, legacy_vm_fault, iommu_fault, hsa_memory_fault, ...
  std::string reason;  // one sentence: why this class
  std::string rule;    // the classification rule that matched (faults/rules.cpp)
  std::size_t first_line = 0;  // 1-based, inclusive
  std::size_t last_line = 0;
  std::optional<double> time;  // seconds, from the log's [ ts] prefix
  std::string device;          // PCI BDF
  unsigned records = 0;        // kernel reports merged into this event (repeats)
  // VM fault details
  std::string hub;             // gfxhub, gfxhub0, mmhub0, ...
  std::optional<bool> retry;   // retry / no-retry page fault
  std::optional<std::uint64_t> address;
  std::vector<std::uint64_t> other_addresses;  // further faulting pages of merged reports
  std::optional<std::uint32_t> status;
  std::string status_register;  // name as printed: VM_L2_..., GCVM_L2_..., VM_CONTEXT1_...
  Gen gen = Gen::kUnknown;
  std::string client;          // decoded/printed client name
  std::optional<unsigned> client_id;
  std::optional<unsigned> ih_client;
  std::optional<unsigned> more_faults, walker_error, permission_faults, mapping_error, rw;
  bool degenerate_status = false;  // all-ones status: every field saturated, nothing decodable
  bool iommu = false;
  std::string timed_out_ring;  // the ring that timed out with this fault (device coredump, or a timeout line)
  bool from_coredump = false;  // the fault section of an AMDGPU device coredump
  std::string process;
  std::optional<long long> pid;
  std::string thread;
  std::optional<long long> tid;
  std::optional<unsigned> pasid, vmid, src_id, ring;
  // Userspace details
  std::optional<unsigned> node;   // KFD node of "Memory access fault by GPU node-N"
  std::string hsa_status;         // HSA_STATUS_ERROR_... or hipError...
  std::string fault_reason;       // "Page not present or supervisor privilege", ...
  std::string isa;                // gfx target named by the line (gfx1010, gfx1013:xnack-)
  std::string library;            // library path named by the line
  std::vector<std::string> lines;  // evidence (first lines of the event, capped)
};

// What is known about the machine the log came from (doctor fills it; tests take it from the
// fixture header). Both fields may be empty.
struct Context {
  std::string gfx;               // native target: gfx1010, gfx90a, ...
  std::string override_version;  // HSA_OVERRIDE_GFX_VERSION value, e.g. 10.3.0
  std::string override_source;   // where the override was seen (environment, log line N)
  // What the log itself shows about code objects (the Parser fills these; empty when it says nothing):
  // the targets the runtime names the device by (rocBLAS "for GPU arch : gfx1030", llama.cpp
  // "Device 0: NAME, gfx1030 (0x1030)", rocminfo "Name: gfx1030", torch gcnArchName) ...
  std::vector<std::string> runtime_targets{};
  std::string runtime_targets_source{};
  // ... and the targets a library's own list of its code-object files carries (rocBLAS's "List of
  // available TensileLibrary Files", a listing of TensileLibrary_*_gfxNNNN files, Ollama's
  // "not supported by DIR [gfx...]" / "supported types:[...]").
  std::vector<std::string> library_targets{};
  std::string library_targets_source{};
  // Where the log shows PyTorch's own ROCm wheels in use (their pip index): they carry no gfx101x code
  // objects (pytorch#132570; /work/shared/facts/community.md).
  std::string upstream_torch_wheel{};
  // The ROCm release in use ("4.0", "5.7", "3"; empty when unknown) and where it was seen: support for
  // a target depends on it (gfx803 was a ROCm target before 4.0). The machine's or the metadata
  // header's value wins over one the log shows (/opt/rocm-X.Y, rocm-rel-X.Y, a wheel's +rocmX.Y).
  std::string rocm_version{};
  std::string rocm_version_source{};
  // Where gfx came from when the log itself named the GPU's target ("log line N"); empty otherwise.
  std::string gfx_source{};
  // Where the log shows KFD skipping a device as unsupported ("log line N"; "... not supported in kfd",
  // "kfd not supported on this ASIC"); empty when it does not.
  std::string kfd_skipped{};
};

// "10.3.0" -> "gfx1030"; "9.0.10" -> "gfx90a"; nullopt when malformed.
std::optional<std::string> override_target(std::string_view version);
// Why the override in ctx runs foreign code on ctx.gfx, or nullopt when it does not (or unknown).
// Without an override value, the runtime naming the device by a target outside its family (the
// log's runtime_targets, none of them the device's own) is an override in effect.
std::optional<std::string> override_mismatch(const Context& ctx);
// Why the log's libraries can only run foreign code on ctx.gfx: they list code objects, none of them
// for a target in the GPU's family (gfx1030-only files on a gfx1010). nullopt otherwise.
std::optional<std::string> library_foreign_only(const Context& ctx);
// "gfx1030" -> "10.3.0" (the HSA_OVERRIDE_GFX_VERSION value that loads it); nullopt when malformed.
std::optional<std::string> target_override_value(std::string_view target);
// True when code built for `target` may run on `native` (equal, or gfx1010 code on gfx1011-1013).
bool isa_compatible(std::string_view native, std::string_view target);
// True when an override that loads `target` code stays within `native`'s ISA family: isa_compatible,
// or the same gfx<major><minor> family where one ISA serves every member (gfx103x, gfx110x, gfx115x,
// gfx120x; gfx900 code on the GCN5 parts without matrix cores). gfx101x keeps the strict superset rule.
bool override_within_family(std::string_view native, std::string_view target);
// True for targets no current ROCm release supports: gfx8 and older, the pre-RDNA3 APUs (GCN5
// gfx902/909/90c, RDNA2 gfx1033/1035/1036/1037).
bool unsupported_target(std::string_view gfx);
// unsupported_target, judged for the ROCm release in use (rocm: "4.0", "3", "" when unknown): the gfx8
// dGPU targets gfx802/gfx803 were ROCm targets before ROCm 4.0, whose support documents stopped
// guaranteeing gfx8; an unknown release is judged as a current one.
bool unsupported_under(std::string_view gfx, std::string_view rocm);
// "4.0.1" / "3.x (2020)" / "5.7" -> the leading major.minor ("4.0", "3", "5.7"); "" when the text does
// not start with a version.
std::string rocm_release(std::string_view text);
// True when a process or thread name is a graphics client: X servers, Wayland compositors, desktop
// shells, Mesa winsys submission threads (NAME:cs0), Wine/Proton games (.exe, vkd3d/dxvk threads), browsers.
bool is_graphics_client(std::string_view process, std::string_view thread);

struct Verdict {
  FaultClass cls = FaultClass::kUnknown;
  std::string summary;  // one line
  std::string advice;   // what to do
  std::vector<std::string> evidence;
};

// How the bytes of the input became text (common/log_decode.hpp): encoding and what was skipped.
struct InputInfo {
  std::string encoding = "utf-8";
  std::size_t nul_bytes = 0, nul_runs = 0, binary_lines = 0, binary_bytes = 0;
  std::string note;  // one sentence, empty when nothing was converted or skipped
};

struct Report {
  std::vector<Event> events;
  Verdict verdict;
  Context context;        // as given, plus an override found in the log
  std::size_t lines = 0;  // input lines read
  InputInfo input;
  // The first line of a library's list of code-object files (0: none) and its text, kept so that a
  // re-judgement with a machine's context (doctor) can weigh the list against the machine's GPU.
  std::size_t library_list_line = 0;
  std::string library_list_text;
};

// Rejects input that is not a text log: empty, NUL bytes, mostly invalid UTF-8.
Status check_text(std::string_view data);

// Incremental parser: feed lines (without '\n'), collect finished events. Events are finished
// when a line starts another event or when flush() is called (end of input, or idle in --follow).
class Parser {
 public:
  explicit Parser(Context ctx = {});
  // A line is read one line late: the next line may be the rest of it, wrapped by the copy the user
  // pasted (see continues_wrapped in faults.cpp); flush() reads the line held back.
  void feed(std::string_view raw);
  std::vector<Event> take_finished();  // finished events since the last call, classified
  void flush();                        // reads the line held back, finishes the open event
  void skip_line();                    // counts a line that is not log text
  [[nodiscard]] const Context& context() const { return ctx_; }
  [[nodiscard]] std::size_t lines() const { return seen_; }
  // The first line of a library's list of code-object files (0 when the log has none) and its text.
  [[nodiscard]] std::size_t library_list_line() const { return list_line_no_; }
  [[nodiscard]] const std::string& library_list_text() const { return list_line_; }
  // The GPU's own target, when the log names one and only one (Ollama's compute=/gpu_type=, read from KFD's
  // topology: the native target whatever the override); empty otherwise.
  [[nodiscard]] std::string native_target() const { return native_.size() == 1 ? native_.front() : std::string(); }
  [[nodiscard]] std::size_t native_target_line() const { return native_line_; }

 private:
  void start(Event e);
  void finish_open();
  void read_line(std::string_view line);  // one logical line (wrapped pieces joined), at line_no_
  void read_held();                       // reads the line held back, if any
  struct VmLine;  // faults.cpp
  bool try_kernel_vm(std::string_view line, std::string_view device, std::optional<double> t);
  bool vm_header(std::string_view line, std::size_t pf, std::string_view device, std::optional<double> t);
  bool legacy_header(std::string_view line, std::string_view rest, std::string_view device, std::optional<double> t);
  bool open_for(const VmLine& k, std::string_view device, std::optional<double> t);
  void attach_repeat(std::string_view line);
  bool try_userspace(std::string_view line, std::string_view device, std::optional<double> t);
  [[nodiscard]] bool can_attach(std::string_view device, std::optional<double> t) const;
  void note_override(std::string_view line);
  void note_targets(std::string_view line);
  void note_rocm(std::string_view line);
  void note_native(std::string_view line);
  bool try_coredump(std::string_view line, std::string_view device, std::optional<double> t);
  // What the AMDGPU device coredump being read said before its fault section.
  std::string cd_process_, cd_ring_;
  std::optional<long long> cd_pid_;
  bool repeat_ = false;        // the open vm fault is taking lines of a repeated report
  bool take_decoded_ = true;   // decoded status lines belong to the status the event keeps
  std::optional<double> last_time_;
  Context ctx_;
  std::size_t line_no_ = 0;  // the line being read (the first piece of a wrapped line)
  std::size_t seen_ = 0;     // lines fed or skipped
  std::string held_;         // the line held back (its wrapped pieces joined by a space)
  std::size_t held_no_ = 0;  // its first line number (0: none held)
  std::size_t held_pieces_ = 0, held_tail_ = 0;  // pieces joined, length of the last one as pasted
  std::size_t held_indent_ = 0;                   // indentation of the held line (a pasted block's)
  std::optional<Event> open_;
  std::size_t list_line_no_ = 0;
  std::string list_line_;
  std::vector<std::string> native_;  // distinct native targets the log names
  std::size_t native_line_ = 0;      // the first line that named one
  std::vector<Event> done_;
};

// A GPUVM fault report (amdgpu's "[gfxhub] page fault" block or the gfx8 VM_CONTEXT1 form).
bool is_vm_fault(const Event& e);

// Classification (faults/rules.cpp, a table of rules): sets cls, reason and rule of one event
// given the machine context; the first rule whose evidence matches wins.
void classify_event(Event& e, const Context& ctx);
// The rules' ids, in the order they are tried.
std::vector<std::string_view> event_rule_names();
// The classes a verdict may name, most telling first.
std::vector<FaultClass> classes_by_rank();
// What to do about a class (gfx from ctx, isa: the target the event named).
std::string class_advice(FaultClass c, const Context& ctx, const std::string& isa);
Verdict make_verdict(const std::vector<Event>& events, const Context& ctx);
// Judges a parsed report again under ctx (doctor: the machine's GPU and environment merged with what
// the log showed): the library-list event, every event's class, graphics storms, the verdict.
void rejudge(Report& r, const Context& ctx);

// A leading metadata block between '---' lines (the format of tests/data/faults/*.txt) is not
// log text: parse_log skips it (keeping line numbers). Returns its line count (0 = none).
std::size_t front_matter_lines(std::string_view text);
// Context from that block: `gpu:` (first gfxNNN in it) and `env_override:` (a leading X.Y.Z).
Context context_from_front_matter(std::string_view text);

// Whole-text convenience: check_text + Parser + make_verdict.
Result<Report> parse_log(std::string_view raw, const Context& ctx = {});

nlohmann::json event_json(const Event& e);
nlohmann::json report_json(const Report& r);
std::string event_text(const Event& e);
std::string report_text(const Report& r);

}  // namespace vmfix::faults
