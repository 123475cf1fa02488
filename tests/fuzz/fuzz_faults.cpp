// SPDX-License-Identifier: GPL-2.0 OR MIT
// libFuzzer target: the fault-log reader (text check, line scanner, grouping, classification,
// verdict, front-matter context, renderers), whole and streamed line by line.
// Seeds: the real logs tests/data/faults/[0-9]*.txt (tests/fuzz/run.sh copies them).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "faults/faults.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Context as doctor and the fixtures supply it, from the input itself.
  const auto ctx = vmfix::faults::context_from_front_matter(text);
  auto r = vmfix::faults::parse_log(text, ctx);
  if (r.ok()) {
    // Renderers must accept whatever the parser produced (dump() throws on invalid UTF-8).
    (void)vmfix::faults::report_json(*r).dump();
    (void)vmfix::faults::report_text(*r);
  }
  // Streaming: the same lines fed one by one, without the whole-text check.
  vmfix::faults::Parser p(vmfix::faults::Context{"gfx1010", "10.3.0", "fuzz"});
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    p.feed(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  p.flush();
  for (const auto& e : p.take_finished()) (void)vmfix::faults::event_json(e).dump();
  return 0;
}
