// SPDX-License-Identifier: GPL-2.0 OR MIT
// Finds AMDGPU code objects in any file: offload bundles, compressed bundles (CCOB v1-v3,
// zlib/zstd), LLVM OffloadBinary, bare AMDGPU ELF. See isa/isa.hpp.

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <memory>
#include <optional>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "isa/elf.hpp"
#include "isa/scan.hpp"
#include "isa/isa.hpp"
#include "common/text.hpp"

namespace vmfix {

// ---------------------------------------------------------------------------------------------
// MappedFile

Result<MappedFile> MappedFile::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are read (mapped).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return usage_error(path, std::strerror(errno));
  return map_fd(fd, path);
}

// Takes ownership of fd (closed on every path).
Result<MappedFile> MappedFile::map_fd(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return usage_error(path, std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return usage_error(path, "is a directory");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    const char* kind = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a file";
    return usage_error(path, fmt::format("not a regular file ({}): isa reads files it can map", kind));
  }
  MappedFile m;
  m.path_ = path;
  if (st.st_size > 0) {
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      return usage_error(path, fmt::format("cannot map: {}", std::strerror(e)));
    }
    m.data_ = static_cast<const std::uint8_t*>(p);
    m.size_ = static_cast<std::size_t>(st.st_size);
    ::madvise(p, m.size_, MADV_SEQUENTIAL);
  }
  ::close(fd);
  return m;
}

Result<MappedFile> MappedFile::read_stdin(std::uint64_t limit) {
  const std::string path = "-";
  struct stat st {};
  if (::fstat(STDIN_FILENO, &st) != 0) return usage_error(path, fmt::format("standard input: {}", std::strerror(errno)));
  if (S_ISREG(st.st_mode)) {
    // `isa - <file`: map it like a named file (no copy, no limit needed).
    const int fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return usage_error(path, std::strerror(errno));
    return map_fd(fd, path);
  }
  if (::isatty(STDIN_FILENO) == 1)
    return usage_error(path, "standard input is a terminal: pipe a code object or binary into it");
  if (S_ISDIR(st.st_mode)) return usage_error(path, "standard input is a directory");
  MappedFile m;
  m.path_ = path;
  std::vector<std::uint8_t>& buf = m.owned_;
  std::size_t used = 0;
  // Read at most one byte past the limit: enough to know the input is too large.
  const std::uint64_t want = limit == UINT64_MAX ? limit : limit + 1;
  for (;;) {
    // Grows by doubling, never past limit + 1 bytes: memory follows what arrives, bounded by the limit.
    const auto cap = static_cast<std::size_t>(std::min<std::uint64_t>(want, SIZE_MAX));
    if (buf.size() - used < 65536 && buf.size() < cap)
      buf.resize(std::min(std::max<std::size_t>(buf.size() * 2, 1 << 20), cap));
    const std::size_t room = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size() - used, want - used));
    const ssize_t n = ::read(STDIN_FILENO, buf.data() + used, room);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {  // stdin inherited in non-blocking mode
        pollfd p{STDIN_FILENO, POLLIN, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return usage_error(path, fmt::format("reading standard input: {}", std::strerror(errno)));
    }
    used += static_cast<std::size_t>(n);
    if (used > limit)
      return usage_error(path, fmt::format("more than {} bytes on standard input (--stdin-limit; a file "
                                           "given by name is mapped and has no such limit)",
                                           limit));
  }
  buf.resize(used);  // no shrink_to_fit: a copy of the whole input for at most half of it back
  if (used > 0) {
    m.data_ = buf.data();
    m.size_ = used;
  }
  return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      path_(std::move(o.path_)),
      owned_(std::move(o.owned_)) {}  // a moved vector keeps its buffer: data_ stays valid

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr && owned_.data() != data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    path_ = std::move(o.path_);
    owned_ = std::move(o.owned_);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr && owned_.data() != data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

// ---------------------------------------------------------------------------------------------
// Targets

namespace {

struct MachName {
  std::uint32_t mach;
  const char* name;
};
// EF_AMDGPU_MACH values (llvm/BinaryFormat/ELF.h). One row per processor.
constexpr std::array kMachs = {
    MachName{0x020, "gfx600"},          MachName{0x021, "gfx601"},          MachName{0x03a, "gfx602"},
    MachName{0x022, "gfx700"},          MachName{0x023, "gfx701"},          MachName{0x024, "gfx702"},
    MachName{0x025, "gfx703"},          MachName{0x026, "gfx704"},          MachName{0x03b, "gfx705"},
    MachName{0x028, "gfx801"},          MachName{0x029, "gfx802"},          MachName{0x02a, "gfx803"},
    MachName{0x03c, "gfx805"},          MachName{0x02b, "gfx810"},          MachName{0x02c, "gfx900"},
    MachName{0x02d, "gfx902"},          MachName{0x02e, "gfx904"},          MachName{0x02f, "gfx906"},
    MachName{0x030, "gfx908"},          MachName{0x031, "gfx909"},          MachName{0x03f, "gfx90a"},
    MachName{0x032, "gfx90c"},          MachName{0x040, "gfx940"},          MachName{0x04b, "gfx941"},
    MachName{0x04c, "gfx942"},          MachName{0x04f, "gfx950"},          MachName{0x033, "gfx1010"},
    MachName{0x034, "gfx1011"},         MachName{0x035, "gfx1012"},         MachName{0x042, "gfx1013"},
    MachName{0x036, "gfx1030"},         MachName{0x037, "gfx1031"},         MachName{0x038, "gfx1032"},
    MachName{0x039, "gfx1033"},         MachName{0x03e, "gfx1034"},         MachName{0x03d, "gfx1035"},
    MachName{0x045, "gfx1036"},         MachName{0x041, "gfx1100"},         MachName{0x046, "gfx1101"},
    MachName{0x047, "gfx1102"},         MachName{0x044, "gfx1103"},         MachName{0x043, "gfx1150"},
    MachName{0x04a, "gfx1151"},         MachName{0x055, "gfx1152"},         MachName{0x058, "gfx1153"},
    MachName{0x048, "gfx1200"},         MachName{0x04e, "gfx1201"},         MachName{0x051, "gfx9-generic"},
    MachName{0x05f, "gfx9-4-generic"},  MachName{0x052, "gfx10-1-generic"}, MachName{0x053, "gfx10-3-generic"},
    MachName{0x054, "gfx11-generic"},   MachName{0x059, "gfx12-generic"},
};

constexpr std::string_view kBundleMagic = "__CLANG_OFFLOAD_BUNDLE__";
constexpr std::string_view kCcobMagic = "CCOB";
constexpr std::string_view kOffloadBinaryMagic = "\x10\xff\x10\xad";
constexpr std::array<std::string_view, 3> kMagics = {kBundleMagic, kCcobMagic, kOffloadBinaryMagic};

std::string feature_value(std::uint32_t flags, int abi, bool sramecc) {
  if (abi < 2) return (flags & (sramecc ? 0x200u : 0x100u)) != 0 ? "on" : "off";
  const std::uint32_t v = sramecc ? (flags & 0xc00u) >> 10 : (flags & 0x300u) >> 8;
  static constexpr std::array<const char*, 4> kNames = {"unsupported", "any", "off", "on"};
  return kNames[v];
}

bool printable_id(std::span<const std::uint8_t> id) {
  return std::all_of(id.begin(), id.end(), [](std::uint8_t c) { return c > 0x20 && c < 0x7f; });
}

Error bad(std::uint64_t off, const std::string& what) {
  return usage_error("", fmt::format("at offset 0x{:x}: {}", off, what));
}

// Fills processor/features/version from an AMDGPU ELF; errors if it is not one.
Result<CodeObjectInfo> describe_elf(std::span<const std::uint8_t> d) {
  auto f = elf::parse(d);
  if (!f) return f.error();
  if (f->machine != elf::kEmAmdgpu) return usage_error("", fmt::format("ELF machine {} is not AMDGPU", f->machine));
  CodeObjectInfo o;
  o.e_flags = f->flags;
  o.abi_version = f->abiversion;
  o.code_object_version = f->osabi == elf::kOsAbiHsa ? f->abiversion + 2 : 0;
  const auto name = amdgpu_mach_name(f->flags & 0xffu);
  o.processor = name.empty() ? fmt::format("unknown-0x{:02x}", f->flags & 0xffu) : std::string(name);
  o.xnack = feature_value(f->flags, f->abiversion, false);
  o.sramecc = feature_value(f->flags, f->abiversion, true);
  o.target_id = o.processor;
  if (f->abiversion >= 2) {
    if (o.sramecc == "on" || o.sramecc == "off") o.target_id += o.sramecc == "on" ? ":sramecc+" : ":sramecc-";
    if (o.xnack == "on" || o.xnack == "off") o.target_id += o.xnack == "on" ? ":xnack+" : ":xnack-";
  } else {
    if (o.sramecc == "on") o.target_id += ":sramecc+";
    if (o.xnack == "on") o.target_id += ":xnack+";
  }
  o.size = d.size();
  return o;
}

// Does the ELF agree with the target id the container gave it?
bool agrees(const CodeObjectInfo& o, const BundleId& id) {
  if (o.processor != id.processor) return false;
  if (o.code_object_version < 4) return true;  // v2/v3 feature bits are not tri-state
  auto check = [&](std::string_view feat, const std::string& val) {
    if (id.target_id.find(std::string(feat) + "+") != std::string::npos) return val == "on";
    if (id.target_id.find(std::string(feat) + "-") != std::string::npos) return val == "off";
    return val == "any" || val == "unsupported";
  };
  return check(":xnack", o.xnack) && check(":sramecc", o.sramecc);
}

class Scanner {
 public:
  Scanner(std::span<const std::uint8_t> d, const ScanOptions& opt, CodeObjectSet& out)
      : d_(d), opt_(opt), out_(out) {}

  Status run();

 private:
  struct Range {
    std::uint64_t begin;
    std::uint64_t end;
    std::string_view name;
  };
  // Parses a bundle in `buf` at `off`; entries must end by `limit`. Appends objects; returns the
  // container's end offset.
  Result<std::uint64_t> parse_bundle(std::span<const std::uint8_t> buf, std::uint64_t off, std::uint64_t limit,
                                     std::vector<CodeObjectInfo>& objs, std::vector<std::span<const std::uint8_t>>& elfs);
  Result<std::uint64_t> parse_ccob(std::uint64_t off, std::uint64_t limit, std::vector<CodeObjectInfo>& objs,
                                   std::vector<std::span<const std::uint8_t>>& elfs);
  Result<std::uint64_t> parse_offload_binary(std::uint64_t off, std::uint64_t limit, std::vector<CodeObjectInfo>& objs,
                                             std::vector<std::span<const std::uint8_t>>& elfs);

  std::span<const std::uint8_t> d_;
  const ScanOptions& opt_;
  bool corrupt_ = false;  // a container header was valid and what it describes is not
  CodeObjectSet& out_;
  std::unique_ptr<std::vector<std::uint8_t>> pending_payload_;
};

Result<std::uint64_t> Scanner::parse_bundle(std::span<const std::uint8_t> buf, std::uint64_t off, std::uint64_t limit,
                                            std::vector<CodeObjectInfo>& objs,
                                            std::vector<std::span<const std::uint8_t>>& elfs) {
  std::uint64_t n = 0;
  if (limit > buf.size()) limit = buf.size();
  if (off > limit || limit - off < 32 || !elf::read(buf, off + 24, n)) return bad(off, "offload bundle header truncated");
  if (n == 0 || n > 65536) return bad(off, fmt::format("offload bundle claims {} entries", n));
  std::uint64_t p = off + 32;
  std::uint64_t end = p;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t eoff = 0, esize = 0, idlen = 0;
    if (p > limit || limit - p < 24) return bad(off, fmt::format("offload bundle entry {} truncated", i));
    elf::read(buf, p, eoff);
    elf::read(buf, p + 8, esize);
    elf::read(buf, p + 16, idlen);
    p += 24;
    if (idlen == 0 || idlen > 4096 || limit - p < idlen)
      return bad(off, fmt::format("offload bundle entry {} has an id of {} bytes", i, idlen));
    const auto idb = buf.subspan(p, idlen);
    if (!printable_id(idb)) return bad(off, fmt::format("offload bundle entry {} id is not printable", i));
    const std::string id(reinterpret_cast<const char*>(idb.data()), idb.size());
    p += idlen;
    end = std::max(end, p);
    if (esize == 0) {
      // Host entries are empty by design; an empty GPU entry is code the auditor never sees.
      if (const auto e = parse_bundle_id(id); e && e->triple.rfind("amdgcn", 0) == 0)
        out_.problems.push_back(fmt::format("bundle entry '{}' is empty (0 bytes): no code object to audit",
                                            text::printable(id, 120)));
      continue;
    }
    if (eoff > limit - off || limit - off - eoff < esize)
      return bad(off, fmt::format("offload bundle entry '{}' [+0x{:x}, 0x{:x} bytes] lies beyond the end: truncated?",
                                  id, eoff, esize));
    end = std::max(end, off + eoff + esize);
    auto bid = parse_bundle_id(id);
    if (!bid || bid->triple.rfind("amdgcn", 0) != 0) continue;  // host and other entries
    const auto elfb = buf.subspan(off + eoff, esize);
    auto o = describe_elf(elfb);
    if (!o) return bad(off, fmt::format("offload bundle entry '{}': {}", id, o.error().message));
    if (!agrees(*o, *bid))
      return bad(off, fmt::format("offload bundle entry '{}' holds an ELF for {} (e_flags 0x{:x})", id, o->target_id,
                                  o->e_flags));
    o->bundle_id = id;
    o->container = ContainerKind::kOffloadBundle;
    o->offset = off + eoff;
    objs.push_back(std::move(*o));
    elfs.push_back(elfb);
  }
  return end;
}

// zlib or zstd, streamed: `dst` grows only with what the stream really produces, and never past
// `want` + 1 bytes (one more shows a stream longer than its header says). A header that claims
// 4 GiB over a 64-byte stream costs what the stream holds, and is reported as a mismatch.
// `consumed` gets the compressed bytes used.
Status decompress(int method, std::span<const std::uint8_t> src, std::uint64_t want, std::vector<std::uint8_t>& dst,
                  std::uint64_t& consumed) {
  constexpr std::uint64_t kChunk = std::uint64_t{1} << 20;
  std::uint64_t produced = 0;
  dst.clear();
  // Room for at least one more byte, growing geometrically; false once `want` + 1 is reached.
  auto grow = [&]() {
    if (dst.size() > want) return false;
    const std::uint64_t add = std::min<std::uint64_t>(std::max<std::uint64_t>(kChunk, dst.size()), want + 1 - dst.size());
    dst.resize(static_cast<std::size_t>(dst.size() + add));
    return true;
  };
  const char* what = method == 1 ? "zstd" : "zlib";
  if (method == 1) {
    const std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> z(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!z) return runtime_error("zstd", "cannot create a decompression context");
    ZSTD_inBuffer in{src.data(), src.size(), 0};
    for (;;) {
      if (produced == dst.size() && !grow()) break;
      ZSTD_outBuffer out{dst.data(), dst.size(), static_cast<std::size_t>(produced)};
      const std::size_t ret = ZSTD_decompressStream(z.get(), &out, &in);
      produced = out.pos;
      if (ZSTD_isError(ret) != 0u) return usage_error("", fmt::format("zstd: {}", ZSTD_getErrorName(ret)));
      if (ret == 0) break;  // frame complete
      if (in.pos == in.size && produced < dst.size()) return usage_error("", "zstd: stream truncated");
    }
    consumed = in.pos;
  } else {
    z_stream z{};
    if (inflateInit(&z) != Z_OK) return runtime_error("zlib", "inflateInit failed");
    z.next_in = const_cast<Bytef*>(src.data());
    z.avail_in = static_cast<uInt>(std::min<std::uint64_t>(src.size(), UINT_MAX));
    int rc = Z_OK;
    for (;;) {
      if (produced == dst.size() && !grow()) break;
      z.next_out = dst.data() + produced;
      z.avail_out = static_cast<uInt>(std::min<std::uint64_t>(dst.size() - produced, UINT_MAX));
      rc = inflate(&z, Z_NO_FLUSH);
      produced = z.total_out;
      if (rc == Z_STREAM_END) break;
      if (rc != Z_OK && rc != Z_BUF_ERROR) break;
      if (z.avail_in == 0 && z.avail_out != 0) break;  // input used up before the stream ended
    }
    consumed = z.total_in;
    inflateEnd(&z);
    if (rc != Z_STREAM_END && produced <= want)
      return usage_error("", rc == Z_OK || rc == Z_BUF_ERROR ? "zlib: stream truncated" : "zlib: corrupt stream");
  }
  if (produced > want) return usage_error("", fmt::format("{} payload is larger than the {} bytes its header says", what, want));
  if (produced != want)
    return usage_error("", fmt::format("{} payload is {} bytes, its header says {}", what, produced, want));
  dst.resize(static_cast<std::size_t>(produced));
  return ok_status();
}

// Does `s` open with a zstd frame (magic 28 b5 2f fd) or a zlib header (deflate, check bits)? A
// "CCOB" string in ordinary data rarely does; a real bundle always does.
bool starts_like_stream(int method, std::span<const std::uint8_t> s) {
  if (method == 1) return s.size() >= 4 && s[0] == 0x28 && s[1] == 0xb5 && s[2] == 0x2f && s[3] == 0xfd;
  return s.size() >= 2 && (s[0] & 0x0f) == 8 && ((s[0] << 8) | s[1]) % 31 == 0;
}

Result<std::uint64_t> Scanner::parse_ccob(std::uint64_t off, std::uint64_t limit, std::vector<CodeObjectInfo>& objs,
                                          std::vector<std::span<const std::uint8_t>>& elfs) {
  std::uint16_t version = 0, method = 0;
  if (limit - off < 8) return bad(off, "compressed bundle header truncated");
  elf::read(d_, off + 4, version);
  elf::read(d_, off + 6, method);
  if (version < 1 || version > 3) return bad(off, fmt::format("compressed bundle version {} unknown", version));
  if (method > 1) return bad(off, fmt::format("compressed bundle method {} unknown (0 zlib, 1 zstd)", method));
  std::uint64_t header = 0, total = 0, raw = 0;
  if (version == 1) {
    std::uint32_t r = 0;
    header = 20;
    if (limit - off < header) return bad(off, "compressed bundle header truncated");
    elf::read(d_, off + 8, r);
    raw = r;
    total = limit - off;  // v1 has no size: the stream ends itself
  } else if (version == 2) {
    std::uint32_t t = 0, r = 0;
    header = 24;
    if (limit - off < header) return bad(off, "compressed bundle header truncated");
    elf::read(d_, off + 8, t);
    elf::read(d_, off + 12, r);
    total = t;
    raw = r;
  } else {
    header = 32;
    if (limit - off < header) return bad(off, "compressed bundle header truncated");
    elf::read(d_, off + 8, total);
    elf::read(d_, off + 16, raw);
  }
  if (total < header || total > limit - off)
    return bad(off, fmt::format("compressed bundle of {} bytes does not fit (0x{:x} bytes left): truncated?", total,
                                limit - off));
  // From here on the header is a compressed bundle's: what fails is a corrupt one, reported even
  // outside the sections where bundles live (corrupt_), never counted as a stray magic string.
  // Memory: the payload is at most kMaxRatio times its compressed size (real code objects compress
  // 3-20:1) and at most max_uncompressed.
  constexpr std::uint64_t kMaxRatio = 1024;
  if (!starts_like_stream(method, d_.subspan(off + header, total - header)))
    return bad(off, fmt::format("compressed bundle: no {} stream after the header", method == 1 ? "zstd" : "zlib"));
  const std::uint64_t cap = std::min(opt_.max_uncompressed, kMaxRatio * (total - header) + (std::uint64_t{1} << 16));
  if (raw < 32 || raw > cap) {
    corrupt_ = true;
    return bad(off, fmt::format("corrupt compressed bundle: its header claims {} uncompressed bytes from {} compressed "
                                "(limit {})",
                                raw, total - header, cap));
  }
  auto payload = std::make_unique<std::vector<std::uint8_t>>();
  std::uint64_t used = 0;
  if (auto st = decompress(method, d_.subspan(off + header, total - header), raw, *payload, used); !st) {
    corrupt_ = true;
    return bad(off, "corrupt compressed bundle: " + st.error().message);
  }
  const std::span<const std::uint8_t> pl(*payload);
  if (pl.size() < kBundleMagic.size() || std::memcmp(pl.data(), kBundleMagic.data(), kBundleMagic.size()) != 0)
    return bad(off, "compressed bundle payload is not an offload bundle");
  const std::size_t first = objs.size();
  auto end = parse_bundle(pl, 0, pl.size(), objs, elfs);
  if (!end) return bad(off, "compressed bundle payload: " + end.error().message);
  for (std::size_t i = first; i < objs.size(); ++i) {
    objs[i].container = ContainerKind::kCompressedBundle;
    objs[i].compression = method == 1 ? "zstd" : "zlib";
    objs[i].container_version = version;
    objs[i].in_compressed = true;
  }
  out_.payloads.push_back(std::move(payload));
  return off + (version == 1 ? header + used : total);
}

Result<std::uint64_t> Scanner::parse_offload_binary(std::uint64_t off, std::uint64_t limit,
                                                    std::vector<CodeObjectInfo>& objs,
                                                    std::vector<std::span<const std::uint8_t>>& elfs) {
  std::uint32_t version = 0;
  std::uint64_t size = 0, eoff = 0, esize = 0;
  if (limit - off < 32) return bad(off, "offload binary header truncated");
  elf::read(d_, off + 4, version);
  elf::read(d_, off + 8, size);
  elf::read(d_, off + 16, eoff);
  elf::read(d_, off + 24, esize);
  if (version != 1) return bad(off, fmt::format("offload binary version {} unknown", version));
  if (size < 32 || size > limit - off) return bad(off, fmt::format("offload binary of {} bytes does not fit: truncated?", size));
  const auto b = d_.subspan(off, size);
  if (esize < 40 || eoff > size || size - eoff < esize) return bad(off, "offload binary entry out of bounds");
  std::uint16_t image_kind = 0, offload_kind = 0;
  std::uint64_t str_off = 0, nstr = 0, img_off = 0, img_size = 0;
  elf::read(b, eoff, image_kind);
  elf::read(b, eoff + 2, offload_kind);
  elf::read(b, eoff + 8, str_off);
  elf::read(b, eoff + 16, nstr);
  elf::read(b, eoff + 24, img_off);
  elf::read(b, eoff + 32, img_size);
  if (nstr > 4096 || str_off > size || (size - str_off) / 16 < nstr) return bad(off, "offload binary string table out of bounds");
  if (img_off > size || size - img_off < img_size) return bad(off, "offload binary image out of bounds: truncated?");
  std::string triple, arch;
  for (std::uint64_t i = 0; i < nstr; ++i) {
    std::uint64_t k = 0, v = 0;
    elf::read(b, str_off + i * 16, k);
    elf::read(b, str_off + i * 16 + 8, v);
    auto str = [&](std::uint64_t at) -> std::optional<std::string> {
      if (at >= size) return std::nullopt;
      const auto* s = b.data() + at;
      const void* z = std::memchr(s, 0, size - at);
      if (z == nullptr) return std::nullopt;
      return std::string(reinterpret_cast<const char*>(s), static_cast<const std::uint8_t*>(z) - s);
    };
    auto key = str(k);
    auto val = str(v);
    if (!key || !val) return bad(off, "offload binary string out of bounds");
    if (*key == "triple") triple = *val;
    if (*key == "arch") arch = *val;
  }
  const auto img = b.subspan(img_off, img_size);
  if (triple.rfind("amdgcn", 0) != 0 || !elf::has_magic(img)) return off + size;  // bitcode, other targets
  auto o = describe_elf(img);
  if (!o) return bad(off, "offload binary image: " + o.error().message);
  static constexpr std::array<const char*, 4> kKinds = {"none", "openmp", "cuda", "hip"};
  const std::string kind = offload_kind < kKinds.size() ? kKinds[offload_kind] : "unknown";
  BundleId id;
  id.target_id = arch;
  id.processor = arch.substr(0, arch.find(':'));
  if (!agrees(*o, id))
    return bad(off, fmt::format("offload binary for '{}' holds an ELF for {}", arch, o->target_id));
  o->bundle_id = fmt::format("{}-{}--{}", kind, triple, arch);
  o->container = ContainerKind::kOffloadBinary;
  o->container_version = static_cast<int>(version);
  o->offset = off + img_off;
  objs.push_back(std::move(*o));
  elfs.push_back(img);
  (void)image_kind;
  return off + size;
}

Status Scanner::run() {
  out_.input_size = d_.size();
  std::vector<Range> strict;  // offload sections of a host ELF: hits inside must be valid
  if (elf::has_magic(d_)) {
    auto f = elf::parse(d_);
    if (!f) return f.error();
    if (f->machine == elf::kEmAmdgpu) {
      auto o = describe_elf(d_);
      if (!o) return o.error();
      o->container = ContainerKind::kBareElf;
      o->container_size = d_.size();
      out_.objects.push_back(CodeObject{std::move(*o), d_});
      out_.groups = 1;
      return ok_status();
    }
    for (const auto& s : f->sections)
      if (s.type != elf::kShtNobits && (s.name == ".hip_fatbin" || s.name == ".llvm.offloading" ||
                                        s.name.rfind("__CLANG_OFFLOAD_BUNDLE__", 0) == 0))
        strict.push_back(Range{s.offset, s.offset + s.size, s.name});
  }

  std::vector<MagicHit> hits = find_magics(d_);
  using Hit = MagicHit;
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.off < b.off; });

  std::uint64_t covered_end = 0;
  for (const auto& h : hits) {
    if (h.off < covered_end) continue;  // inside a container already parsed
    const Range* sec = nullptr;
    for (const auto& r : strict)
      if (h.off >= r.begin && h.off < r.end) sec = &r;
    const bool must = sec != nullptr || h.off == 0;
    const std::uint64_t limit = sec != nullptr ? sec->end : d_.size();
    std::vector<CodeObjectInfo> objs;
    std::vector<std::span<const std::uint8_t>> elfs;
    Result<std::uint64_t> end = std::uint64_t{0};
    if (h.kind == 0)
      end = parse_bundle(d_, h.off, limit, objs, elfs);
    else if (h.kind == 1)
      end = parse_ccob(h.off, limit, objs, elfs);
    else
      end = parse_offload_binary(h.off, limit, objs, elfs);
    if (!end) {
      if (must || corrupt_) {
        Error e = end.error();
        if (sec != nullptr) e.message = std::string(sec->name) + " " + e.message;
        return e;
      }
      ++out_.rejected_hits;
      continue;
    }
    covered_end = *end;
    const std::size_t group = out_.groups++;
    for (std::size_t i = 0; i < objs.size(); ++i) {
      objs[i].group = group;
      objs[i].container_offset = h.off;
      objs[i].container_size = *end - h.off;
      objs[i].section = sec != nullptr ? std::string(sec->name) : std::string();
      out_.objects.push_back(CodeObject{std::move(objs[i]), elfs[i]});
    }
  }
  return ok_status();
}

}  // namespace

std::vector<MagicHit> find_magics_memmem(std::span<const std::uint8_t> d) {
  std::vector<MagicHit> hits;
  for (int k = 0; k < 3; ++k) {
    const auto& m = kMagics[static_cast<std::size_t>(k)];
    std::size_t at = 0;
    while (at + m.size() <= d.size()) {
      const void* p = ::memmem(d.data() + at, d.size() - at, m.data(), m.size());
      if (p == nullptr) break;
      const auto off = static_cast<std::uint64_t>(static_cast<const std::uint8_t*>(p) - d.data());
      hits.push_back(MagicHit{off, k});
      at = off + 1;
    }
  }
  std::sort(hits.begin(), hits.end(), [](const MagicHit& a, const MagicHit& b) { return a.off < b.off; });
  return hits;
}

std::vector<MagicHit> find_magics(std::span<const std::uint8_t> d) {
#if defined(__SSE2__)
  // One pass for all three magics: per 16-byte block, compare two probe bytes of each magic
  // (the "first and last byte" filter of SIMD substring search) and memcmp the rare candidates.
  struct Probe {
    std::size_t p1, p2;
    std::uint8_t c1, c2;
  };
  static constexpr std::array<Probe, 3> kProbes = {Probe{2, 9, 'C', 'F'}, Probe{0, 3, 'C', 'B'},
                                                   Probe{0, 3, 0x10, 0xad}};
  std::vector<MagicHit> hits;
  const std::uint8_t* base = d.data();
  const std::size_t n = d.size();
  auto verify = [&](std::size_t off, int k) {
    const auto& m = kMagics[static_cast<std::size_t>(k)];
    if (off + m.size() <= n && std::memcmp(base + off, m.data(), m.size()) == 0) hits.push_back(MagicHit{off, k});
  };
  __m128i c1[3];  // NOLINT(modernize-avoid-c-arrays): std::array drops the vector attributes
  __m128i c2[3];  // NOLINT(modernize-avoid-c-arrays)
  for (std::size_t k = 0; k < 3; ++k) {
    c1[k] = _mm_set1_epi8(static_cast<char>(kProbes[k].c1));
    c2[k] = _mm_set1_epi8(static_cast<char>(kProbes[k].c2));
  }
  std::size_t i = 0;
  for (; i + 16 + 9 <= n; i += 16) {  // 9: the largest probe position
    for (std::size_t k = 0; k < 3; ++k) {
      const auto& pr = kProbes[k];
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + i + pr.p1));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + i + pr.p2));
      auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, c1[k]), _mm_cmpeq_epi8(b, c2[k]))));
      while (mask != 0) {
        verify(i + static_cast<std::size_t>(__builtin_ctz(mask)), static_cast<int>(k));
        mask &= mask - 1;
      }
    }
  }
  for (; i < n; ++i)
    for (int k = 0; k < 3; ++k) verify(i, k);
  std::sort(hits.begin(), hits.end(), [](const MagicHit& a, const MagicHit& b) { return a.off < b.off; });
  return hits;
#else
  return find_magics_memmem(d);
#endif
}

std::string_view container_kind_name(ContainerKind k) {
  switch (k) {
    case ContainerKind::kBareElf: return "elf";
    case ContainerKind::kOffloadBundle: return "bundle";
    case ContainerKind::kCompressedBundle: return "compressed_bundle";
    case ContainerKind::kOffloadBinary: return "offload_binary";
  }
  return "unknown";
}

std::string_view amdgpu_mach_name(std::uint32_t mach) {
  for (const auto& m : kMachs)
    if (m.mach == mach) return m.name;
  return {};
}

bool is_known_processor(std::string_view name) {
  return std::any_of(kMachs.begin(), kMachs.end(), [&](const MachName& m) { return name == m.name; });
}

Result<BundleId> parse_bundle_id(std::string_view id) {
  // <kind>-<arch>-<vendor>-<os>-<env>-<target id>; env is usually empty ("--").
  BundleId b;
  std::array<std::size_t, 5> dash{};
  std::size_t at = 0;
  for (auto& d : dash) {
    d = id.find('-', at);
    if (d == std::string_view::npos) {
      if (id.rfind("host-", 0) == 0) {
        b.kind = "host";
        b.triple = std::string(id.substr(5));
        return b;
      }
      return usage_error(std::string(id), "not an offload bundle entry id");
    }
    at = d + 1;
  }
  b.kind = std::string(id.substr(0, dash[0]));
  b.triple = std::string(id.substr(dash[0] + 1, dash[4] - dash[0]));  // keeps the trailing '-' of an empty env
  b.target_id = std::string(id.substr(dash[4] + 1));
  // Generic targets ("gfx10-1-generic") contain dashes: the env field is empty for AMDGPU, so the
  // target id is everything after "--" when present.
  if (const auto dd = id.find("--"); dd != std::string_view::npos) {
    b.triple = std::string(id.substr(dash[0] + 1, dd - dash[0]));
    b.target_id = std::string(id.substr(dd + 2));
  }
  b.processor = b.target_id.substr(0, b.target_id.find(':'));
  return b;
}

bool runs_natively(std::string_view obj, std::string_view target) {
  if (obj == target) return true;
  const bool target_101x = target == "gfx1010" || target == "gfx1011" || target == "gfx1012" || target == "gfx1013";
  if (obj == "gfx10-1-generic" && target_101x) return true;
  // Debian's hipamd patch: gfx1010 code objects load on the gfx1011/1012/1013 supersets.
  if (obj == "gfx1010" && target_101x) return true;
  if (obj == "gfx10-3-generic")
    return target.size() == 7 && target.substr(0, 6) == "gfx103";
  return false;
}

Result<CodeObjectSet> scan_code_objects(std::span<const std::uint8_t> data, const ScanOptions& opt) {
  CodeObjectSet set;
  Scanner s(data, opt, set);
  if (auto st = s.run(); !st) return st.error();
  return set;
}

Result<CodeObjectSet> scan_file(const std::string& path, const ScanOptions& opt) {
  auto m = path == "-" ? MappedFile::read_stdin(opt.max_stdin) : MappedFile::open(path);
  if (!m) return m.error();
  auto set = scan_code_objects(m->bytes(), opt);
  if (!set) {
    Error e = set.error();
    e.context = path;
    return e;
  }
  set->file = std::move(*m);
  return set;
}

Result<std::vector<CodeObjectInfo>> list_code_objects(const std::string& path) {
  auto set = scan_file(path);
  if (!set) return set.error();
  std::vector<CodeObjectInfo> out;
  out.reserve(set->objects.size());
  for (auto& o : set->objects) out.push_back(std::move(o.info));
  return out;
}

}  // namespace vmfix
