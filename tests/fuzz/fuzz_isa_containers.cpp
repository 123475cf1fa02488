// SPDX-License-Identifier: GPL-2.0 OR MIT
// libFuzzer target: the container scanner (bundle, CCOB, OffloadBinary, ELF) and the ISA audit's
// ELF/symbol walk on whatever objects it accepts. Seeds: tests/fuzz/corpus/isa_containers/.

#include <cstddef>
#include <cstdint>

#include "isa/isa.hpp"
#include "isa/audit.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  vmfix::ScanOptions opt;
  opt.max_uncompressed = std::uint64_t{1} << 24;  // keeps decompression bombs inside the RSS limit
  auto set = vmfix::scan_code_objects(std::span<const std::uint8_t>(data, size), opt);
  if (!set.ok()) return 0;
  vmfix::AuditOptions ao;
  ao.max_examples = 2;
  for (const auto& o : set->objects) {
    auto a = vmfix::audit_object(o, ao);
    (void)a;
  }
  return 0;
}
