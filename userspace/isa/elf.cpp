// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "isa/elf.hpp"

#include <fmt/format.h>

namespace vmfix::elf {
namespace {

Error corrupt(std::string msg) { return usage_error("", "corrupt ELF: " + std::move(msg)); }

// A NUL-terminated string inside `tab`, or nullopt-like empty view with ok=false.
bool c_string(std::span<const std::uint8_t> tab, std::uint64_t off, std::string_view& out) {
  if (off >= tab.size()) return false;
  const auto* p = tab.data() + off;
  const auto* end = static_cast<const std::uint8_t*>(std::memchr(p, 0, tab.size() - off));
  if (end == nullptr) return false;
  out = std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(end - p));
  return true;
}

}  // namespace

Result<File> parse(std::span<const std::uint8_t> d) {
  if (!has_magic(d)) return corrupt("no ELF magic");
  if (d.size() < 64) return corrupt(fmt::format("header truncated ({} of 64 bytes)", d.size()));
  if (d[4] != 2) return corrupt("not a 64-bit ELF");
  if (d[5] != 1) return corrupt("not little-endian");
  File f;
  f.data = d;
  f.osabi = d[7];
  f.abiversion = d[8];
  std::uint64_t shoff = 0;
  std::uint16_t shentsize = 0, shnum = 0, shstrndx = 0;
  read(d, 16, f.type);
  read(d, 18, f.machine);
  read(d, 48, f.flags);
  read(d, 40, shoff);
  read(d, 58, shentsize);
  read(d, 60, shnum);
  read(d, 62, shstrndx);
  if (shnum == 0) return f;
  if (shentsize != 64) return corrupt(fmt::format("section header size {} (expected 64)", shentsize));
  if (shoff > d.size() || (d.size() - shoff) / 64 < shnum)
    return corrupt(fmt::format("section headers at 0x{:x} ({} entries) lie beyond the end (0x{:x} bytes): truncated?",
                               shoff, shnum, d.size()));
  std::vector<std::uint32_t> name_off(shnum);
  f.sections.resize(shnum);
  for (std::uint16_t i = 0; i < shnum; ++i) {
    const std::uint64_t h = shoff + std::uint64_t{i} * 64;
    auto& s = f.sections[i];
    read(d, h, name_off[i]);
    read(d, h + 4, s.type);
    read(d, h + 8, s.flags);
    read(d, h + 16, s.addr);
    read(d, h + 24, s.offset);
    read(d, h + 32, s.size);
    read(d, h + 40, s.link);
    read(d, h + 56, s.entsize);
    if (s.type != kShtNobits && (s.offset > d.size() || d.size() - s.offset < s.size))
      return corrupt(fmt::format("section {} [0x{:x}, +0x{:x}) lies beyond the end (0x{:x} bytes): truncated?", i,
                                 s.offset, s.size, d.size()));
  }
  if (shstrndx < shnum && f.sections[shstrndx].type != kShtNobits) {
    const auto& st = f.sections[shstrndx];
    const auto tab = d.subspan(st.offset, st.size);
    for (std::uint16_t i = 0; i < shnum; ++i)
      if (!c_string(tab, name_off[i], f.sections[i].name)) f.sections[i].name = {};
  }
  return f;
}

}  // namespace vmfix::elf
