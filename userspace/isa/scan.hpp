// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Magic-string search of the container scanner (internal; exposed for tests and benchmarks).

#include <cstdint>
#include <span>
#include <vector>

namespace vmfix {

struct MagicHit {
  std::uint64_t off;
  int kind;  // 0 offload bundle, 1 CCOB, 2 OffloadBinary
};

// Every occurrence of the three container magics, sorted by offset. SSE2 single pass on x86-64.
std::vector<MagicHit> find_magics(std::span<const std::uint8_t> d);
// Reference implementation: one memmem pass per magic.
std::vector<MagicHit> find_magics_memmem(std::span<const std::uint8_t> d);

}  // namespace vmfix
