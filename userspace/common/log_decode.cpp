// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/log_decode.hpp"

#include <cstdint>

#include <fmt/format.h>

namespace vmfix {

namespace {

void put_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

constexpr std::uint32_t kReplacement = 0xfffd;

// UTF-16 in the given byte order; lone surrogates become U+FFFD, an odd last byte is dropped.
std::string from_utf16(std::string_view s, bool big_endian) {
  std::string out;
  out.reserve(s.size() / 2 + 16);
  auto unit = [&](std::size_t i) -> std::uint32_t {
    const auto a = static_cast<unsigned char>(s[i]), b = static_cast<unsigned char>(s[i + 1]);
    return big_endian ? (std::uint32_t{a} << 8) | b : (std::uint32_t{b} << 8) | a;
  };
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    std::uint32_t u = unit(i);
    if (u >= 0xd800 && u < 0xdc00 && i + 3 < s.size()) {
      const std::uint32_t lo = unit(i + 2);
      if (lo >= 0xdc00 && lo < 0xe000) {
        put_utf8(out, 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00));
        i += 2;
        continue;
      }
    }
    if (u >= 0xd800 && u < 0xe000) u = kReplacement;
    put_utf8(out, u);
  }
  return out;
}

// Length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  const std::size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
  if (n == 0 || c == 0xc0 || c == 0xc1 || c > 0xf4 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  return n;
}

bool is_text_control(unsigned char c) { return c == '\n' || c == '\r' || c == '\t' || c == 0x1b; }

// Invalid UTF-8 bytes of S that a Latin-1 reading would explain (bytes 0xa0..0xff and no C1
// controls), against the bytes that are invalid either way.
bool looks_latin1(std::string_view s) {
  std::size_t invalid = 0, c1 = 0;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_len(s, i);
    if (n != 0) {
      i += n;
      continue;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    ++invalid;
    if (c >= 0x80 && c < 0xa0) ++c1;
    ++i;
  }
  return invalid != 0 && c1 * 10 < invalid;
}

}  // namespace

std::string DecodedLog::note() const {
  std::string n;
  if (encoding != "utf-8" && encoding != "utf-8-bom") n = fmt::format("read as {}", encoding);
  if (nul_bytes != 0)
    n += fmt::format("{}skipped {} NUL byte{} in {} run{}", n.empty() ? "" : "; ", nul_bytes, nul_bytes == 1 ? "" : "s",
                     nul_runs, nul_runs == 1 ? "" : "s");
  if (binary_lines != 0)
    n += fmt::format("{}skipped {} binary line{} ({} bytes)", n.empty() ? "" : "; ", binary_lines,
                     binary_lines == 1 ? "" : "s", binary_bytes);
  return n;
}

DecodedLog decode_log(std::string_view raw) {
  DecodedLog d;
  d.input_bytes = raw.size();
  std::string utf16;
  std::string_view s = raw;
  if (s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0xff && static_cast<unsigned char>(s[1]) == 0xfe) {
    utf16 = from_utf16(s.substr(2), false);
    d.encoding = "utf-16le";
    s = utf16;
  } else if (s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0xfe && static_cast<unsigned char>(s[1]) == 0xff) {
    utf16 = from_utf16(s.substr(2), true);
    d.encoding = "utf-16be";
    s = utf16;
  } else if (s.size() >= 3 && s.substr(0, 3) == "\xef\xbb\xbf") {
    s.remove_prefix(3);
    d.encoding = "utf-8-bom";
  }
  const bool latin1 = d.encoding == "utf-8" && looks_latin1(s);
  if (latin1) d.encoding = "latin-1";

  d.text.reserve(s.size());
  std::size_t pos = 0;
  std::string line;
  while (pos < s.size()) {
    auto nl = s.find('\n', pos);
    const bool last = nl == std::string_view::npos;
    if (last) nl = s.size();
    const std::string_view in = s.substr(pos, nl - pos);
    pos = nl + 1;
    // NUL runs are dropped from the line (they are padding, not content); the rest is judged.
    line.clear();
    std::size_t bad = 0;
    bool in_run = false;
    for (std::size_t i = 0; i < in.size();) {
      const auto c = static_cast<unsigned char>(in[i]);
      if (c == 0) {
        ++d.nul_bytes;
        if (!in_run) ++d.nul_runs;
        in_run = true;
        ++i;
        continue;
      }
      in_run = false;
      if (c < 0x80) {
        if (c < 0x20 && !is_text_control(c)) ++bad;
        line.push_back(static_cast<char>(c));
        ++i;
      } else if (latin1) {
        if (c < 0xa0) ++bad;
        put_utf8(line, c);
        ++i;
      } else if (const std::size_t n = utf8_len(in, i); n != 0) {
        line.append(in.substr(i, n));
        i += n;
      } else {
        ++bad;
        put_utf8(line, kReplacement);
        ++i;
      }
    }
    if (!line.empty() && bad * 4 > line.size()) {
      ++d.binary_lines;
      d.binary_bytes += in.size();
      continue;
    }
    d.text.append(line);
    if (!last) d.text.push_back('\n');
  }
  return d;
}

}  // namespace vmfix
