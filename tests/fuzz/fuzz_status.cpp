// SPDX-License-Identifier: GPL-2.0 OR MIT
// libFuzzer target: the status ABI (docs/status-abi.md): the module's schema-1 status, counters and
// recent files as `status` reads them from sysfs, and both renderers of what the parsers accept.
// Seeds: tests/fuzz/corpus/status/.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "status/status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto s = vmfix::parse_module_status(text); s.ok()) {
    vmfix::SystemStatus st;
    st.module.status = std::move(*s);
    (void)vmfix::status_json(st).dump();
    (void)vmfix::status_text(st);
  }
  if (auto c = vmfix::parse_module_counters(text); c.ok()) {
    vmfix::SystemStatus st;
    st.module.counters = std::move(*c);
    (void)vmfix::status_json(st).dump();
    (void)vmfix::status_text(st);
  }
  if (auto r = vmfix::parse_module_recent(text); r.ok()) {
    vmfix::SystemStatus st;
    st.module.recent = std::move(*r);
    (void)vmfix::status_json(st).dump();
  }
  return 0;
}
