// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Minimal bounds-checked ELF64 little-endian reader for the container scanner (unit isa, no LLVM):
// the header and the section table, enough to describe an AMDGPU code object and to find the
// offload sections of a host binary; every read is checked against the buffer so corrupt input
// becomes an Error, never a crash. Symbols are read by the audit with LLVM Object (isa/audit.cpp);
// the figures behind this split are in docs/performance.md (bench/elf_readers.cpp).

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace vmfix::elf {

inline constexpr std::uint16_t kEmAmdgpu = 224;
inline constexpr std::uint8_t kOsAbiHsa = 64;
inline constexpr std::uint32_t kShtNobits = 8;

template <class T>
bool read(std::span<const std::uint8_t> d, std::uint64_t off, T& out) {
  if (off > d.size() || d.size() - off < sizeof(T)) return false;
  std::memcpy(&out, d.data() + off, sizeof(T));
  return true;
}

struct Section {
  std::string_view name;
  std::uint32_t type = 0;
  std::uint64_t flags = 0;
  std::uint64_t addr = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t link = 0;
  std::uint64_t entsize = 0;
};

struct File {
  std::span<const std::uint8_t> data;
  std::uint16_t type = 0;
  std::uint16_t machine = 0;
  std::uint32_t flags = 0;
  std::uint8_t osabi = 0;
  std::uint8_t abiversion = 0;
  std::vector<Section> sections;

  [[nodiscard]] const Section* find(std::string_view name) const {
    for (const auto& s : sections)
      if (s.name == name) return &s;
    return nullptr;
  }
};

inline bool has_magic(std::span<const std::uint8_t> d) {
  return d.size() >= 4 && d[0] == 0x7f && d[1] == 'E' && d[2] == 'L' && d[3] == 'F';
}

// Parses the header and section table. Section contents (except NOBITS) must lie inside `d`.
Result<File> parse(std::span<const std::uint8_t> d);

}  // namespace vmfix::elf
