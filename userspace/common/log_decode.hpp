// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Turns the bytes of a log file into UTF-8 text the fault parser can read, whatever a crashed or
// foreign machine left: UTF-16 (by its byte-order mark), Latin-1, runs of NUL bytes (what a hard
// hang leaves in a journal-less kern.log) and other binary runs. Nothing is dropped silently: the
// result says what was converted and what was skipped, and the commands print it.

#include <cstddef>
#include <string>
#include <string_view>

namespace vmfix {

struct DecodedLog {
  std::string text;                 // UTF-8, no NUL bytes
  std::string encoding = "utf-8";   // utf-8, utf-8-bom, utf-16le, utf-16be, latin-1
  std::size_t input_bytes = 0;
  std::size_t nul_bytes = 0;        // NUL bytes skipped
  std::size_t nul_runs = 0;         // maximal runs of them
  std::size_t binary_lines = 0;     // lines skipped because they were mostly binary
  std::size_t binary_bytes = 0;     // their bytes

  bool anything_skipped() const { return nul_bytes != 0 || binary_lines != 0; }
  // One sentence for the text output, empty when the input was plain UTF-8 with nothing skipped.
  std::string note() const;
};

// Decodes RAW. Never fails: an input with nothing readable yields an empty text (the caller says
// "binary, not a text log").
DecodedLog decode_log(std::string_view raw);

}  // namespace vmfix
