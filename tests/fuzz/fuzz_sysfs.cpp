// SPDX-License-Identifier: GPL-2.0 OR MIT
// libFuzzer target: the sysfs readers' parsers (KFD topology properties, the module's schema-1
// status/counters/recent files) and the override/target helpers.
// Built by tests/fuzz/build-diag.sh; seed corpus: tests/fuzz/corpus-sysfs/.

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
  (void)vmfix::faults::override_target(text.substr(0, 16));
  return 0;
}
