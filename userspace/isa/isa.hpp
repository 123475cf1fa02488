// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// GPU code objects inside any file, and what they mean for an RDNA1 target.
//
// Listing (no LLVM needed; libvmfix):
//   auto objs = vmfix::list_code_objects("/usr/lib/x86_64-linux-gnu/librocsparse.so.0");
//   if (!objs) -> objs.error() (Exit::kUsage for unreadable/truncated/corrupt input)
//   for (const auto& o : *objs) o.target_id ("gfx1030", "gfx1010:xnack-"), o.container, o.offset ...
//
// Containers understood (layouts in ../shared/facts/isa-gfx101x.md and LLVM's OffloadBundle.cpp,
// OffloadBinary.h):
//   - Clang offload bundle "__CLANG_OFFLOAD_BUNDLE__" (several per .so, usually in .hip_fatbin),
//   - compressed bundle "CCOB" v1/v2/v3, zlib or zstd (the payload is again a Clang offload bundle),
//   - LLVM OffloadBinary (magic 10 FF 10 AD),
//   - a bare AMDGPU ELF (e_machine EM_AMDGPU), e.g. a .hsaco or .co file.
// The whole file is memory-mapped and searched for the magics with memmem. Every hit is validated
// (bounds, printable ids, the embedded ELF's own e_flags agree with the id): hits that fail are
// ignored when they lie outside an offload section (libamdhip64.so holds the magic strings as data),
// and are errors (Exit::kUsage) when the file itself is the container or the hit lies in
// .hip_fatbin / .llvm.offloading, since then the file is truncated or corrupt.
//
// Audit (needs LLVM; unit isa-llvm of userspace/sources.txt): isa/audit.hpp.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace vmfix {

// Read-only memory mapping of a whole file (RAII; movable, not copyable). Empty files map to an
// empty span.
class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path);
  // Standard input ("-"): mapped when it is a regular file (`isa - <lib.so`), otherwise (a pipe) read
  // into owned memory up to `limit` bytes; more is a usage error, a terminal is refused.
  static Result<MappedFile> read_stdin(std::uint64_t limit);
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  [[nodiscard]] std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  static Result<MappedFile> map_fd(int fd, const std::string& path);
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::string path_;
  std::vector<std::uint8_t> owned_;  // what was read from a pipe (data_ points into it, not mapped)
};

enum class ContainerKind {
  kBareElf,           // the file (or an OffloadBinary image) is the AMDGPU ELF itself
  kOffloadBundle,     // __CLANG_OFFLOAD_BUNDLE__
  kCompressedBundle,  // CCOB around an offload bundle
  kOffloadBinary,     // LLVM OffloadBinary (10 FF 10 AD)
};
std::string_view container_kind_name(ContainerKind k);  // "elf", "bundle", "compressed_bundle", "offload_binary"

// One AMDGPU code object (an ELF with e_machine EM_AMDGPU).
struct CodeObjectInfo {
  std::string processor;      // from the ELF's e_flags: "gfx1010", "gfx1030", ... ("unknown-0xNN" if not in the table)
  std::string xnack;          // "any", "on", "off" or "unsupported" (code object v2/v3: "on"/"off")
  std::string sramecc;        // same values as xnack
  std::string target_id;      // LLVM target id from e_flags: "gfx1010", "gfx1010:xnack-", "gfx906:sramecc+:xnack-"
  std::string bundle_id;      // entry id in the container ("hipv4-amdgcn-amd-amdhsa--gfx1010"); "" for a bare ELF
  std::uint32_t e_flags = 0;
  int abi_version = 0;        // EI_ABIVERSION
  int code_object_version = 0;  // 2..6 (EI_ABIVERSION + 2 for HSA); 0 if not an HSA object
  ContainerKind container = ContainerKind::kBareElf;
  std::string compression;    // "", "zlib" or "zstd"
  int container_version = 0;  // CCOB/OffloadBinary version, else 0
  std::size_t group = 0;      // index of the container in the file (objects of one bundle share it)
  std::uint64_t container_offset = 0;  // file offset of the container (0 for a bare ELF file)
  std::uint64_t container_size = 0;    // bytes of the container in the file (compressed size for CCOB)
  // Where the ELF lies: a file offset, or for compressed bundles the offset inside the decompressed
  // payload (in_compressed == true).
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  bool in_compressed = false;
  std::string section;        // host ELF section holding the container (".hip_fatbin"), "" if none/not an ELF
};

struct ScanOptions {
  // Largest decompressed CCOB payload accepted (protects against decompression bombs).
  std::uint64_t max_uncompressed = std::uint64_t{4} << 30;
  // Largest input read from a pipe on standard input (path "-"); it is copied into memory.
  std::uint64_t max_stdin = std::uint64_t{1} << 30;
};

// A scan result that keeps the bytes of every object alive (the mapping and decompressed payloads),
// for callers that need the ELF contents (the audit).
struct CodeObject {
  CodeObjectInfo info;
  std::span<const std::uint8_t> elf;
};
class CodeObjectSet {
 public:
  std::vector<CodeObject> objects;
  std::uint64_t input_size = 0;
  std::size_t rejected_hits = 0;  // magic strings found that were not containers (e.g. data in libamdhip64.so)
  std::vector<std::string> problems;  // what the scan found but could not hand on (empty GPU entries)
  std::size_t groups = 0;         // number of containers

  // Owned storage behind the spans above.
  std::vector<std::unique_ptr<std::vector<std::uint8_t>>> payloads;
  MappedFile file;
};

// Scans a byte buffer (the buffer must outlive the result's spans; payloads are owned).
Result<CodeObjectSet> scan_code_objects(std::span<const std::uint8_t> data, const ScanOptions& opt = {});
// Maps the file (or reads standard input for "-") and scans it; the result owns the bytes.
Result<CodeObjectSet> scan_file(const std::string& path, const ScanOptions& opt = {});
// The entry point for other commands (doctor): every code object in the file, in file order.
Result<std::vector<CodeObjectInfo>> list_code_objects(const std::string& path);

// Processor name for an EF_AMDGPU_MACH value (e_flags & 0xff); "" if unknown.
std::string_view amdgpu_mach_name(std::uint32_t mach);
// Parsed bundle entry id: kind ("hipv4"), triple ("amdgcn-amd-amdhsa-"), target id ("gfx1010:xnack-").
struct BundleId {
  std::string kind;
  std::string triple;
  std::string target_id;
  std::string processor;  // target id before the first ':'
};
Result<BundleId> parse_bundle_id(std::string_view id);

// Can code built for `object_processor` run natively on `target` (loader rules: same processor, or
// Debian's hipamd superset rule: gfx1010 code on gfx1011/gfx1012/gfx1013)?
bool runs_natively(std::string_view object_processor, std::string_view target);
// Known processor names (for --target validation).
bool is_known_processor(std::string_view name);

}  // namespace vmfix
