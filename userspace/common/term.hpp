// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Human output on a terminal: its width, colour for verdicts, word wrap and tables that fit.
// One place for every command (issue 16 §5): text wraps to the terminal's width, 80 columns when
// stdout is not a terminal; colour only on a terminal and never with NO_COLOR set.

#include <string>
#include <string_view>
#include <vector>

namespace vmfix::term {

inline constexpr int kDefaultWidth = 80;

// Columns of the terminal on fd (TIOCGWINSZ, else $COLUMNS); 80 when fd is not a terminal.
int width(int fd = 1);
// Colour on fd: a terminal, TERM not "dumb", NO_COLOR unset or empty (https://no-color.org).
bool colour(int fd = 1);

// What the renderers use: set once by main() from stdout (configure), 80 columns and no colour
// otherwise, so library code and unit tests do not depend on the terminal they run in.
void configure(int fd);
std::size_t out_width();
bool out_colour();

enum class Tone { kGood, kWarn, kBad, kInfo };
// s wrapped in the ANSI colour of tone when on, else s unchanged.
std::string paint(std::string_view s, Tone tone, bool on);
// The tone of a verdict word ("pass", "ok", "gpu_fault", ...); kInfo when it is none of them.
Tone verdict_tone(std::string_view verdict);

// Columns s takes on a terminal: UTF-8 code points, ANSI escape sequences excluded.
std::size_t display_width(std::string_view s);

// Word wrap to width columns. Breaks at spaces only: a token longer than the width (a path, a
// mangled name) stays whole on a line of its own. Lines after the first get `indent` spaces
// (also applied to explicit '\n' inside text). Returns lines without their '\n'.
std::vector<std::string> wrap_lines(std::string_view text, std::size_t width, std::size_t indent = 0);
// The same joined, every line ending in '\n'.
std::string wrap(std::string_view text, std::size_t width, std::size_t indent = 0);
// Wraps every line of a multi-line text that does not fit; continuation lines are indented two
// columns more than the line's own leading spaces. Lines that fit are left untouched.
std::string wrap_text(std::string_view text, std::size_t width);

// Prose written with line breaks for the source's width: a line joins the next one unless it ends
// a sentence ('.', ':', '!', '?'), is empty, or the next line is indented or a list item ("- ").
std::string reflow(std::string_view text);

struct Column {
  std::string header;
  bool right = false;  // numbers
  bool wrap = false;   // may wrap inside the column when the table is too wide
};
struct TableRow {
  std::vector<std::string> cells;
  std::string note;  // printed under the row, indented by 2 and wrapped, when not empty
};
// A table with two spaces between columns that fits width: wrappable columns shrink (down to
// their longest word) and their cells wrap; a wrappable column that would still not fit, or only
// narrower than 30 columns, is printed under each row as "header: text"; when even the other
// columns are wider than width, each row becomes a record (first cell, then "header: value" lines).
// Trailing spaces are never printed.
std::string table(const std::vector<Column>& cols, const std::vector<TableRow>& rows, std::size_t width);

}  // namespace vmfix::term
