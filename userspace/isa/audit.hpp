// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Audit of AMDGPU code objects for an RDNA1 target with LLVM's MC disassembler (unit
// isa-llvm of userspace/sources.txt, links libLLVM-15).
//
// For every object that does not run natively on the target (vmfix::runs_natively) and is of the
// same GPU generation (gfx10: the only case an HSA_OVERRIDE_GFX_VERSION such as 10.3.0 makes run),
// each function symbol of .text is decoded twice: with the object's own CPU and with the target CPU.
//   undecodable_on_target  decodes for the object's CPU, not for the target (dot instructions,
//                          image_bvh_*, ... on gfx1010)
//   different_meaning      both decode, to different instructions (gfx1030 v_fmac_legacy_f32 is
//                          gfx1010 v_mac_legacy_f32: same bits, other rounding)
//   inst_prefetch          s_inst_prefetch: hangs gfx1010 shaders (LLVM inst-fwd-prefetch-bug)
// Object verdicts:
//   ok                              runs natively on the target
//   incompatible_not_loadable       not for this target; the loader refuses it (decodes cleanly
//                                   under an override, or another generation: not audited)
//   would_misbehave_under_override  not for this target, and forced onto it by an override it
//                                   executes instructions that break on the target
// File verdicts: no_code_objects, ok (every container holds code that runs natively),
//   incompatible_not_loadable / would_misbehave_under_override (some container lacks native code;
//   the worst verdict of that container's objects).
// `override_10_3_0`: what HSA_OVERRIDE_GFX_VERSION=10.3.0 makes of the file on the target: the
//   runtime then loads gfx1030 objects only: "no_gfx1030_code", "decodes_cleanly" (still lacks the
//   gfx101x hazard workarounds) or "would_misbehave".

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "isa/isa.hpp"
#include "common/result.hpp"

namespace vmfix {

struct AuditOptions {
  std::string target = "gfx1010";
  bool list_only = false;        // no disassembly: listing and native-compatibility verdicts only
  std::size_t max_examples = 8;  // findings shown per kernel
  std::uint64_t max_stdin = std::uint64_t{1} << 30;  // FILE "-": at most this many bytes from a pipe
};

struct IsaFinding {
  std::string kind;       // undecodable_on_target | different_meaning | inst_prefetch
  std::uint64_t address = 0;  // virtual address in the code object
  std::string bytes;      // hex words as in llvm-objdump ("04080702")
  std::string own;        // instruction as the object's CPU reads it
  std::string on_target;  // as the target reads it ("" when undecodable)
};

// What decoding found, per function and summed per object.
struct DecodeCounts {
  std::uint64_t instructions = 0;
  std::uint64_t undecodable_own = 0;  // words that do not decode even for the object's CPU (data, padding)
  std::uint64_t undecodable_on_target = 0;
  std::uint64_t different_meaning = 0;
  std::uint64_t inst_prefetch = 0;

  // Instructions that break on the target (the three finding kinds).
  [[nodiscard]] std::uint64_t findings() const { return undecodable_on_target + different_meaning + inst_prefetch; }
  DecodeCounts& operator+=(const DecodeCounts& o) {
    instructions += o.instructions;
    undecodable_own += o.undecodable_own;
    undecodable_on_target += o.undecodable_on_target;
    different_meaning += o.different_meaning;
    inst_prefetch += o.inst_prefetch;
    return *this;
  }
};

struct KernelAudit : DecodeCounts {
  std::string name;
  bool is_kernel = false;  // has a <name>.kd descriptor
  std::uint64_t address = 0;
  std::uint64_t size = 0;
  std::map<std::string, std::uint64_t> by_mnemonic;  // mnemonic (own CPU) -> count, findings only
  std::vector<IsaFinding> examples;
};

struct ObjectAudit : DecodeCounts {  // the sums over its functions
  CodeObjectInfo info;
  std::string verdict;
  bool audited = false;
  std::string note;
  std::vector<std::string> problems;   // what could not be audited, and why (a finding, never "clean")
  std::vector<KernelAudit> kernels;
};

struct FileAudit {
  std::string path;
  std::string target;
  std::uint64_t size = 0;
  std::size_t containers = 0;
  std::size_t containers_without_target = 0;
  std::size_t rejected_hits = 0;
  std::vector<std::string> problems;  // container entries that could not be audited
  std::string verdict;
  std::string override_10_3_0;
  std::vector<ObjectAudit> objects;
};

// Disassembles one object against the target CPU (errors: corrupt ELF -> kUsage, LLVM setup -> kRuntime).
Result<ObjectAudit> audit_object(const CodeObject& obj, const AuditOptions& opt);
// Scans and audits a whole file.
Result<FileAudit> audit_file(const std::string& path, const AuditOptions& opt);
// Exit code for a file verdict: 0 ok/no_code_objects, 1 otherwise.
int verdict_exit_code(const std::string& file_verdict);

// Renderers (one struct, two printers). schema 1.
nlohmann::json isa_json(const std::vector<FileAudit>& files, const AuditOptions& opt);
std::string isa_text(const FileAudit& f, const AuditOptions& opt);

}  // namespace vmfix
