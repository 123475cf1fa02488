// SPDX-License-Identifier: GPL-2.0 OR MIT
// ISA audit of AMDGPU code objects with LLVM's MC disassembler. See isa/audit.hpp.

#include "isa/audit.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/Triple.h>
#include <llvm/MC/MCAsmInfo.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCDisassembler/MCDisassembler.h>
#include <llvm/MC/MCInst.h>
#include <llvm/MC/MCInstPrinter.h>
#include <llvm/MC/MCInstrInfo.h>
#include <llvm/MC/MCRegisterInfo.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/MCTargetOptions.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Object/ELF.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>

#include "common/text.hpp"

namespace vmfix {
namespace {

constexpr const char* kTriple = "amdgcn-amd-amdhsa";

// One disassembler for one CPU. Not thread-safe: each thread keeps its own (thread_local cache).
struct Decoder {
  std::unique_ptr<llvm::MCRegisterInfo> mri;
  std::unique_ptr<llvm::MCAsmInfo> mai;
  std::unique_ptr<llvm::MCInstrInfo> mii;
  std::unique_ptr<llvm::MCSubtargetInfo> sti;
  std::unique_ptr<llvm::MCContext> ctx;
  std::unique_ptr<llvm::MCDisassembler> dis;
  std::unique_ptr<llvm::MCInstPrinter> printer;

  // Decodes one instruction; size 0 = does not decode.
  std::uint64_t decode(llvm::ArrayRef<std::uint8_t> bytes, std::uint64_t addr, llvm::MCInst& inst) const {
    std::uint64_t size = 0;
    const auto st = dis->getInstruction(inst, size, bytes, addr, llvm::nulls());
    if (st == llvm::MCDisassembler::Fail || size == 0 || size > bytes.size()) return 0;
    return size;
  }
  [[nodiscard]] std::string mnemonic(const llvm::MCInst& inst) const {
    const char* m = printer->getMnemonic(&inst).first;
    std::string s = m != nullptr ? m : mii->getName(inst.getOpcode()).str();
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
    return s;
  }
  // Mnemonic of an opcode as the printer writes it (cached per opcode).
  [[nodiscard]] const std::string& mnemonic_of(unsigned opcode) const {
    auto it = names.find(opcode);
    if (it == names.end()) {
      llvm::MCInst i;
      i.setOpcode(opcode);
      it = names.emplace(opcode, mnemonic(i)).first;
    }
    return it->second;
  }
  mutable std::map<unsigned, std::string> names;
  [[nodiscard]] std::string text(const llvm::MCInst& inst, std::uint64_t addr) const {
    std::string s;
    llvm::raw_string_ostream os(s);
    printer->printInst(&inst, addr, "", *sti, os);
    os.flush();
    const auto b = s.find_first_not_of(" \t");
    return b == std::string::npos ? std::string() : s.substr(b);
  }
};

Status init_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeAMDGPUTargetInfo();
    LLVMInitializeAMDGPUTargetMC();
    LLVMInitializeAMDGPUDisassembler();
  });
  return ok_status();
}

// Returns nullptr with `why` set when LLVM cannot disassemble for `cpu`.
const Decoder* decoder_for(const std::string& cpu, std::string& why) {
  thread_local std::map<std::string, std::unique_ptr<Decoder>> cache;
  if (auto it = cache.find(cpu); it != cache.end()) {
    if (!it->second) why = fmt::format("LLVM 15 cannot disassemble for {}", cpu);
    return it->second.get();
  }
  init_llvm();
  std::string err;
  const llvm::Triple triple(kTriple);
  const llvm::Target* t = llvm::TargetRegistry::lookupTarget(kTriple, err);
  auto& slot = cache[cpu];
  if (t == nullptr) {
    why = "LLVM AMDGPU target missing: " + err;
    return nullptr;
  }
  auto d = std::make_unique<Decoder>();
  d->sti.reset(t->createMCSubtargetInfo(kTriple, "", ""));
  // Ask before creating the real one: an unknown CPU makes LLVM print a warning to stderr.
  if (!d->sti || !d->sti->isCPUStringValid(cpu)) {
    why = fmt::format("LLVM 15 cannot disassemble for {}", cpu);
    return nullptr;
  }
  d->sti.reset(t->createMCSubtargetInfo(kTriple, cpu, ""));
  d->mri.reset(t->createMCRegInfo(kTriple));
  const llvm::MCTargetOptions mcopt;
  d->mai.reset(t->createMCAsmInfo(*d->mri, kTriple, mcopt));
  d->mii.reset(t->createMCInstrInfo());
  if (!d->sti || !d->mri || !d->mai || !d->mii) {
    why = "LLVM MC setup failed";
    return nullptr;
  }
  d->ctx = std::make_unique<llvm::MCContext>(triple, d->mai.get(), d->mri.get(), d->sti.get());
  d->dis.reset(t->createMCDisassembler(*d->sti, *d->ctx));
  d->printer.reset(t->createMCInstPrinter(triple, 0, *d->mai, *d->mii, *d->mri));
  if (!d->dis || !d->printer) {
    why = "LLVM AMDGPU disassembler missing";
    return nullptr;
  }
  slot = std::move(d);
  return slot.get();
}

std::string hex_words(std::span<const std::uint8_t> b) {
  std::string s;
  for (std::size_t i = 0; i + 4 <= b.size(); i += 4) {
    std::uint32_t w = 0;
    std::memcpy(&w, b.data() + i, 4);
    if (!s.empty()) s += ' ';
    s += fmt::format("{:08x}", w);
  }
  return s;
}

bool same_generation(std::string_view obj, std::string_view target) {
  return obj.substr(0, 5) == target.substr(0, 5) && obj.size() >= 6 && target.size() >= 6 &&
         obj.rfind("gfx", 0) == 0 && (obj[5] >= '0' && obj[5] <= '9') == (target[5] >= '0' && target[5] <= '9');
}

// What decoding one encoding gave: sizes and opcodes for the object's CPU and the target CPU.
struct Decoded {
  std::uint8_t own_size = 0;  // 0: does not decode
  std::uint8_t tgt_size = 0;
  std::uint8_t kind = 0;      // 0 fine, 1 inst_prefetch, 2 undecodable_on_target, 3 different_meaning
  unsigned own_opcode = 0;
};

// Memo of decode results keyed by the first 8 bytes of an instruction. The decoders' verdict is a
// function of those bytes (literal constants and NSA address words that follow only change operand
// values), so large libraries with repetitive code decode several times faster. Only used when
// at least 16 bytes remain, so a cached verdict never depended on a short buffer.
struct DecodeCache {
  std::unordered_map<std::uint64_t, Decoded> map;
};

constexpr const char* kKinds[] = {"", "inst_prefetch", "undecodable_on_target", "different_meaning"};

Decoded decode_pair(const Decoder& own, const Decoder& tgt, llvm::ArrayRef<std::uint8_t> bytes, std::uint64_t addr,
                    llvm::MCInst& a, llvm::MCInst& b) {
  Decoded r;
  a.clear();
  const std::uint64_t n = own.decode(bytes, addr, a);
  if (n == 0 || n > 255) return r;
  r.own_size = static_cast<std::uint8_t>(n);
  r.own_opcode = a.getOpcode();
  b.clear();
  const std::uint64_t m = tgt.decode(bytes, addr, b);
  r.tgt_size = static_cast<std::uint8_t>(std::min<std::uint64_t>(m, 255));
  if (own.mii->getName(a.getOpcode()).startswith("S_INST_PREFETCH"))
    r.kind = 1;
  else if (m == 0)
    r.kind = 2;
  else if (m != n || (a.getOpcode() != b.getOpcode() && tgt.mnemonic(b) != own.mnemonic(a)))
    r.kind = 3;
  return r;
}

// Walks one function: own CPU vs target CPU, instruction by instruction.
void walk(const Decoder& own, const Decoder& tgt, DecodeCache& cache, std::span<const std::uint8_t> code,
          std::uint64_t vaddr, std::size_t max_examples, KernelAudit& k) {
  llvm::MCInst a;
  llvm::MCInst b;
  std::uint64_t pos = 0;
  while (pos + 4 <= code.size()) {
    const llvm::ArrayRef<std::uint8_t> bytes(code.data() + pos, code.size() - pos);
    const std::uint64_t addr = vaddr + pos;
    Decoded d;
    if (bytes.size() >= 16) {
      std::uint64_t key = 0;
      std::memcpy(&key, bytes.data(), 8);
      auto it = cache.map.find(key);
      if (it == cache.map.end()) {
        if (cache.map.size() > (1U << 22)) cache.map.clear();
        it = cache.map.emplace(key, decode_pair(own, tgt, bytes, addr, a, b)).first;
      }
      d = it->second;
    } else {
      d = decode_pair(own, tgt, bytes, addr, a, b);
    }
    if (d.own_size == 0) {
      ++k.undecodable_own;
      pos += 4;
      continue;
    }
    ++k.instructions;
    if (d.kind != 0) {
      switch (d.kind) {
        case 1: ++k.inst_prefetch; break;
        case 2: ++k.undecodable_on_target; break;
        default: ++k.different_meaning; break;
      }
      k.by_mnemonic[own.mnemonic_of(d.own_opcode)]++;
      if (k.examples.size() < max_examples) {
        decode_pair(own, tgt, bytes, addr, a, b);  // fresh MCInsts for the text
        k.examples.push_back(IsaFinding{kKinds[d.kind], addr, hex_words(code.subspan(pos, d.own_size)),
                                        own.text(a, addr), d.kind == 2 ? std::string() : tgt.text(b, addr)});
      }
    }
    pos += d.own_size;
  }
}

// The code object as LLVM Object reads it. ELFFile checks every table and string against the
// buffer (and is fuzzed upstream); what cannot be attributed to a function is a problem, not an error.
using ElfFile = llvm::object::ELF64LEFile;
using ElfShdr = ElfFile::Elf_Shdr;

// One function of the object: its symbol and the bytes of its code.
struct Function {
  std::string_view name;
  std::uint64_t address = 0;
  std::uint64_t size = 0;    // from the symbol; 0: up to the next function or the section's end
  std::uint32_t section = 0;
  bool is_kernel = false;    // has a <name>.kd descriptor
  std::span<const std::uint8_t> code;
};

struct CodeLayout {
  std::vector<Function> functions;  // by address, one per address, code cut to its extent
  std::uint64_t code_size = 0;      // bytes of executable sections
  std::vector<std::string> problems;
};

Error corrupt_elf(llvm::Error e) { return usage_error("", "corrupt ELF: " + llvm::toString(std::move(e))); }

std::string section_name(const ElfFile& file, const ElfShdr& sec) {
  auto n = file.getSectionName(sec);
  if (!n) {
    llvm::consumeError(n.takeError());
    return {};
  }
  return text::printable(std::string_view(n->data(), n->size()), 40);
}

bool is_code(const ElfShdr& s) {
  return (s.sh_flags & llvm::ELF::SHF_EXECINSTR) != 0 && s.sh_type != llvm::ELF::SHT_NOBITS;
}

// .symtab, else .dynsym, else nullptr.
const ElfShdr* symbol_table(llvm::ArrayRef<ElfShdr> sections) {
  for (const unsigned type : {llvm::ELF::SHT_SYMTAB, llvm::ELF::SHT_DYNSYM})
    for (const auto& s : sections)
      if (s.sh_type == type) return &s;
  return nullptr;
}

// The function symbols of executable sections, sorted by address, aliases dropped; a function that
// names a section which does not exist is recorded as a problem.
Status read_functions(const ElfFile& file, llvm::ArrayRef<ElfShdr> sections, CodeLayout& l) {
  const ElfShdr* tab = symbol_table(sections);
  if (tab == nullptr) return ok_status();
  auto syms = file.symbols(tab);
  if (!syms) return corrupt_elf(syms.takeError());
  auto strtab = file.getStringTableForSymtab(*tab, sections);
  if (!strtab) return corrupt_elf(strtab.takeError());
  std::set<std::string_view> descriptors;
  for (const auto& s : *syms) {
    auto name = s.getName(*strtab);
    if (!name) return corrupt_elf(name.takeError());
    const std::string_view n(name->data(), name->size());
    if (n.size() > 3 && n.ends_with(".kd")) descriptors.insert(n.substr(0, n.size() - 3));
    if (s.getType() != llvm::ELF::STT_FUNC || s.st_shndx == llvm::ELF::SHN_UNDEF) continue;
    if (s.st_shndx < sections.size() && is_code(sections[s.st_shndx]))
      l.functions.push_back(Function{n, s.st_value, s.st_size, s.st_shndx, false, {}});
    else if (s.st_shndx >= sections.size() && s.st_shndx < llvm::ELF::SHN_LORESERVE)
      l.problems.push_back(fmt::format("function {} names section {}, which does not exist", text::printable(n, 80),
                                       std::uint16_t{s.st_shndx}));
  }
  auto& fs = l.functions;
  std::sort(fs.begin(), fs.end(), [](const auto& x, const auto& y) { return x.address < y.address; });
  fs.erase(std::unique(fs.begin(), fs.end(), [](const auto& x, const auto& y) { return x.address == y.address; }),
           fs.end());
  for (auto& f : fs) f.is_kernel = descriptors.count(f.name) != 0;
  return ok_status();
}

// Cuts each function's code out of its section: a symbol without a size runs to the next function
// of its section (or the section's end). A function outside its section is a problem and dropped.
Status cut_functions(const ElfFile& file, llvm::ArrayRef<ElfShdr> sections, CodeLayout& l) {
  std::vector<Function> kept;
  for (std::size_t i = 0; i < l.functions.size(); ++i) {
    auto& fn = l.functions[i];
    const auto& sec = sections[fn.section];
    if (fn.address < sec.sh_addr || fn.address - sec.sh_addr >= sec.sh_size) {
      l.problems.push_back(fmt::format("function {} at 0x{:x} lies outside its section {} [0x{:x}, 0x{:x})",
                                       text::printable(fn.name, 80), fn.address, section_name(file, sec),
                                       std::uint64_t{sec.sh_addr}, sec.sh_addr + sec.sh_size));
      continue;
    }
    auto bytes = file.getSectionContents(sec);
    if (!bytes) return corrupt_elf(bytes.takeError());
    const std::uint64_t start = fn.address - sec.sh_addr;
    const std::uint64_t end = sec.sh_addr + sec.sh_size;
    std::uint64_t len = fn.size;
    if (len == 0) {
      const bool next_here = i + 1 < l.functions.size() && l.functions[i + 1].section == fn.section;
      const std::uint64_t next = next_here ? l.functions[i + 1].address : end;
      len = next > fn.address ? next - fn.address : 0;
    }
    len = std::min<std::uint64_t>(len, sec.sh_size - start);
    fn.code = std::span<const std::uint8_t>(bytes->data(), bytes->size()).subspan(start, len);
    kept.push_back(fn);
  }
  l.functions = std::move(kept);
  return ok_status();
}

Result<CodeLayout> read_layout(std::span<const std::uint8_t> elf) {
  auto file = ElfFile::create(llvm::StringRef(reinterpret_cast<const char*>(elf.data()), elf.size()));
  if (!file) return corrupt_elf(file.takeError());
  auto sections = file->sections();
  if (!sections) return corrupt_elf(sections.takeError());
  CodeLayout l;
  for (const auto& sec : *sections)
    if (is_code(sec)) l.code_size += sec.sh_size;
  if (auto st = read_functions(*file, *sections, l); !st) return st.error();
  if (auto st = cut_functions(*file, *sections, l); !st) return st.error();
  return l;
}

// The verdict before any disassembly: native, list-only, other generation, no decoder. Returns
// false when `r` is final.
bool needs_disassembly(const CodeObject& obj, const AuditOptions& opt, ObjectAudit& r) {
  if (runs_natively(obj.info.processor, opt.target)) {
    r.verdict = "ok";
    return false;
  }
  r.verdict = "incompatible_not_loadable";
  if (opt.list_only) return false;
  if (!same_generation(obj.info.processor, opt.target)) {
    r.note = "other GPU generation: not audited";
    return false;
  }
  return true;
}

// Problems found while decoding, then the object's verdict and note.
void conclude(ObjectAudit& r, const std::string& processor, const std::string& target, std::uint64_t covered,
              std::uint64_t code_size) {
  if (code_size > 0 && covered == 0)
    r.problems.push_back(fmt::format("no function symbol covers the {} bytes of code", code_size));
  if (r.undecodable_own > 0)
    r.problems.push_back(fmt::format("{} word(s) of code do not decode even for {}", r.undecodable_own, processor));
  if (r.findings() > 0)
    r.verdict = "would_misbehave_under_override";
  else if (!r.problems.empty())
    r.note = fmt::format("partly audited for {} ({} problem(s))", target, r.problems.size());
  else if (processor.rfind("gfx101", 0) == 0)
    r.note = fmt::format("decodes cleanly for {}", target);
  else
    r.note = fmt::format("decodes cleanly for {}, but was built without the gfx101x hardware-bug workarounds", target);
}

}  // namespace

Result<ObjectAudit> audit_object(const CodeObject& obj, const AuditOptions& opt) {
  ObjectAudit r;
  r.info = obj.info;
  if (!needs_disassembly(obj, opt, r)) return r;
  std::string why;
  const Decoder* own = decoder_for(obj.info.processor, why);
  const Decoder* tgt = own != nullptr ? decoder_for(opt.target, why) : nullptr;
  if (own == nullptr || tgt == nullptr) {
    r.note = why + ": not audited";
    return r;
  }
  auto layout = read_layout(obj.elf);
  if (!layout) return layout.error();
  r.problems = std::move(layout->problems);
  thread_local std::map<std::pair<std::string, std::string>, DecodeCache> caches;
  auto& cache = caches[{obj.info.processor, opt.target}];
  std::uint64_t covered = 0;
  for (const auto& fn : layout->functions) {
    KernelAudit k;
    k.name = std::string(fn.name);
    k.is_kernel = fn.is_kernel;
    k.address = fn.address;
    k.size = fn.code.size();
    walk(*own, *tgt, cache, fn.code, fn.address, opt.max_examples, k);
    covered += fn.code.size();
    r += k;
    r.kernels.push_back(std::move(k));
  }
  r.audited = true;
  conclude(r, obj.info.processor, opt.target, covered, layout->code_size);
  return r;
}

int verdict_exit_code(const std::string& file_verdict) {
  return file_verdict == "ok" || file_verdict == "no_code_objects" ? 0 : 1;
}

Result<FileAudit> audit_file(const std::string& path, const AuditOptions& opt) {
  ScanOptions so;
  so.max_stdin = opt.max_stdin;
  auto set = scan_file(path, so);
  if (!set) return set.error();
  FileAudit fa;
  fa.path = path;
  fa.target = opt.target;
  fa.size = set->input_size;
  fa.containers = set->groups;
  fa.rejected_hits = set->rejected_hits;
  fa.problems = set->problems;
  const std::size_t n = set->objects.size();
  std::vector<std::optional<Result<ObjectAudit>>> res(n);
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < n; i = next++) res[i] = audit_object(set->objects[i], opt);
  };
  const unsigned threads = std::max(1U, std::min<unsigned>(std::thread::hardware_concurrency(), 8U));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < n; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (auto& r : res) {
    if (!r->ok()) {
      Error e = r->error();
      e.context = path;
      return e;
    }
    fa.objects.push_back(std::move(r->value()));
  }
  // File verdict: every container needs an object that runs natively.
  std::map<std::size_t, std::vector<const ObjectAudit*>> groups;
  for (const auto& o : fa.objects) groups[o.info.group].push_back(&o);
  fa.verdict = groups.empty() ? (fa.problems.empty() ? "no_code_objects" : "not_audited") : "ok";
  for (const auto& [g, objs] : groups) {
    if (std::any_of(objs.begin(), objs.end(), [](const ObjectAudit* o) { return o->verdict == "ok"; })) continue;
    ++fa.containers_without_target;
    const bool bad = std::any_of(objs.begin(), objs.end(),
                                 [](const ObjectAudit* o) { return o->verdict == "would_misbehave_under_override"; });
    if (bad)
      fa.verdict = "would_misbehave_under_override";
    else if (fa.verdict == "ok")
      fa.verdict = "incompatible_not_loadable";
  }
  // Under HSA_OVERRIDE_GFX_VERSION=10.3.0 the runtime loads the gfx1030 objects.
  fa.override_10_3_0 = "no_gfx1030_code";
  if (runs_natively("gfx1030", opt.target) || opt.target.rfind("gfx10", 0) != 0) fa.override_10_3_0 = "not_applicable";
  for (const auto& o : fa.objects) {
    if (o.info.processor != "gfx1030" || fa.override_10_3_0 == "not_applicable") continue;
    if (o.verdict == "would_misbehave_under_override")
      fa.override_10_3_0 = "would_misbehave";
    else if (fa.override_10_3_0 == "no_gfx1030_code" || fa.override_10_3_0 == "decodes_cleanly")
      fa.override_10_3_0 = !o.audited ? "not_audited" : !o.problems.empty() ? "partly_audited" : "decodes_cleanly";
  }
  // What could not be audited is a finding: a file with nothing else wrong is not "ok".
  bool partly = !fa.problems.empty();
  for (const auto& o : fa.objects) partly = partly || !o.problems.empty();
  if (partly && fa.verdict == "ok") fa.verdict = "partly_audited";
  return fa;
}

}  // namespace vmfix
