// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/text.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

namespace vmfix::text {

namespace {
bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
// ASCII only, inline: logs are matched the same in every locale, and icontains runs for every
// pattern on every log line (a libc tolower call per byte was a visible share of fuzz_faults' time).
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > hay.size()) return false;
  const char first = lower(needle.front());
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (lower(hay[i]) != first) continue;
    std::size_t k = 1;
    while (k < needle.size() && lower(hay[i + k]) == lower(needle[k])) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::optional<std::string_view> after(std::string_view s, std::string_view key) {
  const auto pos = s.find(key);
  if (pos == std::string_view::npos) return std::nullopt;
  return s.substr(pos + key.size());
}

std::optional<std::uint64_t> parse_dec(std::string_view s, std::size_t* used) {
  std::uint64_t v = 0;
  std::size_t i = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    const auto d = static_cast<std::uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (i == 0) return std::nullopt;
  if (used != nullptr) *used = i;
  return v;
}

std::optional<std::uint64_t> parse_hex(std::string_view s, std::size_t* used) {
  std::size_t i = 0;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) i = 2;
  const std::size_t start = i;
  std::uint64_t v = 0;
  for (; i < s.size() && is_hex(s[i]); ++i) {
    if (i - start >= 16) return std::nullopt;
    const char c = lower(s[i]);
    v = (v << 4) | static_cast<std::uint64_t>(is_digit(c) ? c - '0' : c - 'a' + 10);
  }
  if (i == start) return std::nullopt;
  if (used != nullptr) *used = i;
  return v;
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
  std::size_t used = 0;
  std::optional<std::uint64_t> v;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    v = parse_hex(s, &used);
  else
    v = parse_dec(s, &used);
  if (!v || used != s.size()) return std::nullopt;
  return v;
}

std::string find_bdf(std::string_view s) {
  // dddd:bb:dd.f
  constexpr std::size_t kLen = 12;
  for (std::size_t i = 0; i + kLen <= s.size(); ++i) {
    const std::string_view c = s.substr(i, kLen);
    if (is_hex(c[0]) && is_hex(c[1]) && is_hex(c[2]) && is_hex(c[3]) && c[4] == ':' && is_hex(c[5]) &&
        is_hex(c[6]) && c[7] == ':' && is_hex(c[8]) && is_hex(c[9]) && c[10] == '.' && c[11] >= '0' &&
        c[11] <= '7' && (i == 0 || !is_hex(s[i - 1])) && (i + kLen == s.size() || !is_hex(s[i + kLen]))) {
      std::string out(c);
      std::transform(out.begin(), out.end(), out.begin(), lower);
      return out;
    }
  }
  return {};
}

std::string printable(std::string_view s, std::size_t max_len) {
  std::string out;
  out.reserve(std::min(s.size(), max_len));
  for (std::size_t i = 0; i < s.size() && out.size() < max_len;) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\t') {
      out += ' ';
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      out += '?';
      ++i;
      continue;
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    // Copy a well-formed UTF-8 sequence, replace anything else.
    std::size_t n = 0;
    if ((c & 0xe0) == 0xc0 && c >= 0xc2)
      n = 2;
    else if ((c & 0xf0) == 0xe0)
      n = 3;
    else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
      n = 4;
    bool ok = n != 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && n == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    }
    if (ok && n == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

std::map<std::string, std::string> parse_key_values(std::string_view t) {
  std::map<std::string, std::string> out;
  while (!t.empty()) {
    const auto nl = t.find('\n');
    const std::string_view line = trim(t.substr(0, nl));
    t = nl == std::string_view::npos ? std::string_view() : t.substr(nl + 1);
    const auto eq = line.find('=');
    if (line.empty() || line.front() == '#' || eq == std::string_view::npos) continue;
    std::string_view v = line.substr(eq + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    out[std::string(line.substr(0, eq))] = printable(v, 200);
  }
  return out;
}

}  // namespace vmfix::text
