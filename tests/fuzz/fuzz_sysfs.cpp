// SPDX-License-Identifier: GPL-2.0 OR MIT
// libFuzzer target: the sysfs files `status` and `doctor` read besides the module's own (KFD topology
// node properties, gfx_target_version) and the HSA_OVERRIDE_GFX_VERSION helper.
// Seeds: tests/fuzz/corpus/sysfs/.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faults/faults.hpp"
#include "status/status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto p = vmfix::parse_kfd_properties(text); p.ok()) {
    if (const auto v = p->get("gfx_target_version")) (void)vmfix::gfx_from_target_version(*v);
  }
  (void)vmfix::faults::override_target(text.substr(0, 32));
  return 0;
}
