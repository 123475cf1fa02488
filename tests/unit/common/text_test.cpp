// SPDX-License-Identifier: GPL-2.0 OR MIT
// The shared scanners' case-insensitive search (every log pattern goes through it).
#include <catch2/catch_test_macros.hpp>

#include <string>

#include "common/text.hpp"

using vmfix::text::icontains;

TEST_CASE("icontains: ASCII case folded, anywhere in the line, bounds respected", "[common][text]") {
  CHECK(icontains("amdgpu: [gfxhub] Page Fault (src_id:0", "page fault"));
  CHECK(icontains("MEMORY ACCESS FAULT BY GPU", "memory access fault"));
  CHECK(icontains("x", ""));
  CHECK(icontains("", ""));
  CHECK_FALSE(icontains("", "a"));
  CHECK_FALSE(icontains("fault", "faults"));              // needle longer than what is left
  CHECK(icontains("aaab", "AAB"));                         // a partial match first, then the real one
  CHECK(icontains("the end: ABC", "abc"));                 // at the very end
  CHECK_FALSE(icontains("the end: AB", "abc"));
  CHECK_FALSE(icontains("[\xc3\x84]", "\xc3\xa4"));        // non-ASCII bytes are compared as they are
  CHECK(icontains(std::string("a\0B", 3), std::string("\0b", 2)));
}
