// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Small bounds-checked scanners shared by the log and sysfs parsers (no std::regex).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vmfix::text {

std::string_view trim(std::string_view s);
bool contains(std::string_view hay, std::string_view needle);
bool icontains(std::string_view hay, std::string_view needle);
bool starts_with(std::string_view s, std::string_view prefix);
// The text after the first occurrence of key, or nullopt.
std::optional<std::string_view> after(std::string_view s, std::string_view key);
// Parses a leading unsigned number; *used gets the characters consumed. Overflow -> nullopt.
std::optional<std::uint64_t> parse_dec(std::string_view s, std::size_t* used = nullptr);
// Accepts an optional 0x/0X prefix, at most 16 hex digits.
std::optional<std::uint64_t> parse_hex(std::string_view s, std::size_t* used = nullptr);
// The whole string must be a number (decimal, or hex with 0x).
std::optional<std::uint64_t> parse_number(std::string_view s);
// Finds a PCI address dddd:bb:dd.f; returns it or "".
std::string find_bdf(std::string_view s);
// Replaces control characters and invalid UTF-8 so a string is safe to print and to put in JSON.
std::string printable(std::string_view s, std::size_t max_len = 400);
// KEY=value lines as in os-release(5): comments and lines without '=' skipped, one level of
// matching quotes removed, values made printable.
std::map<std::string, std::string> parse_key_values(std::string_view t);

}  // namespace vmfix::text
