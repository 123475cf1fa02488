// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Shared helpers of the isa tests: fixture paths, file bytes, CCOB construction.

#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

namespace isa_test {

using Bytes = std::vector<std::uint8_t>;

inline std::string fixture(const std::string& name) { return std::string(VMFIX_ISA_FIXTURES) + "/" + name; }

// SKIPs the test when the hipcc-built fixtures are absent (36-isa fails in that case).
#define REQUIRE_FIXTURES()                                                              \
  do {                                                                                  \
    if (!std::filesystem::exists(isa_test::fixture("stamp")))                           \
      SKIP("isa fixtures not built (needs hipcc: scripts/setup.sh hip)");               \
  } while (0)

inline Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void put(Bytes& b, const void* p, std::size_t n) {
  const auto* c = static_cast<const std::uint8_t*>(p);
  b.insert(b.end(), c, c + n);
}
template <class T>
void put(Bytes& b, T v) {
  put(b, &v, sizeof v);
}

// A CCOB container per LLVM OffloadBundle.cpp: "CCOB", u16 version, u16 method (0 zlib, 1 zstd),
// v1: u32 uncompressed, u64 hash; v2: u32 total, u32 uncompressed, u64 hash; v3: u64 total,
// u64 uncompressed, u64 hash; then the compressed offload bundle. The hash is not checked by the
// reader (LLVM uses it as a cache key only).
inline Bytes make_ccob(std::span<const std::uint8_t> bundle, int version, int method) {
  Bytes z;
  if (method == 0) {
    uLongf n = compressBound(bundle.size());
    z.resize(n);
    REQUIRE(compress2(z.data(), &n, bundle.data(), bundle.size(), 6) == Z_OK);
    z.resize(n);
  } else {
    z.resize(ZSTD_compressBound(bundle.size()));
    const std::size_t n = ZSTD_compress(z.data(), z.size(), bundle.data(), bundle.size(), 3);
    REQUIRE(ZSTD_isError(n) == 0u);
    z.resize(n);
  }
  Bytes b;
  put(b, "CCOB", 4);
  put(b, static_cast<std::uint16_t>(version));
  put(b, static_cast<std::uint16_t>(method));
  const std::uint64_t hash = 0x0123456789abcdefULL;
  if (version == 1) {
    put(b, static_cast<std::uint32_t>(bundle.size()));
    put(b, hash);
  } else if (version == 2) {
    put(b, static_cast<std::uint32_t>(24 + z.size()));
    put(b, static_cast<std::uint32_t>(bundle.size()));
    put(b, hash);
  } else {
    put(b, static_cast<std::uint64_t>(32 + z.size()));
    put(b, static_cast<std::uint64_t>(bundle.size()));
    put(b, hash);
  }
  put(b, z.data(), z.size());
  return b;
}

}  // namespace isa_test
