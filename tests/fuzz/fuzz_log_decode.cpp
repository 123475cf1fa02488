// SPDX-License-Identifier: GPL-2.0 OR MIT
// libFuzzer target: the log decoder (userspace/common/log_decode.cpp) that turns any bytes into
// UTF-8 text for the fault parser. Checks the contract: no NUL and only well-formed UTF-8 comes
// out, a plain ASCII log comes out unchanged, and what was skipped is accounted for.
// Seeds: tests/fuzz/corpus/log_decode/ and the real logs.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/log_decode.hpp"

namespace {

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}

bool plain_ascii(std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x7f || (c < 0x20 && c != '\n' && c != '\t')) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const auto d = vmfix::decode_log(raw);
  if (d.text.find('\0') != std::string::npos) __builtin_trap();
  if (!valid_utf8(d.text)) __builtin_trap();
  if (d.input_bytes != size) __builtin_trap();
  if (d.nul_runs > d.nul_bytes || (d.nul_bytes != 0) != (d.nul_runs != 0)) __builtin_trap();
  if (plain_ascii(raw) && (d.text != raw || d.anything_skipped() || d.encoding != "utf-8")) __builtin_trap();
  (void)d.note();
  return 0;
}
