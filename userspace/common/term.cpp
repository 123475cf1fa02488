// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/term.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <numeric>

namespace vmfix::term {

int width(int fd) {
  if (isatty(fd) == 0) return kDefaultWidth;
  struct winsize ws {};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long v = std::strtol(c, &end, 10);
    if (end != c && *end == '\0' && v >= 20 && v <= 1000) return static_cast<int>(v);
  }
  return kDefaultWidth;
}

bool colour(int fd) {
  if (isatty(fd) == 0) return false;
  if (const char* nc = std::getenv("NO_COLOR"); nc != nullptr && *nc != '\0') return false;
  const char* t = std::getenv("TERM");
  return t == nullptr || std::string_view(t) != "dumb";
}

namespace {
std::size_t g_width = kDefaultWidth;
bool g_colour = false;
}  // namespace

void configure(int fd) {
  g_width = static_cast<std::size_t>(width(fd));
  g_colour = colour(fd);
}
std::size_t out_width() { return g_width; }
bool out_colour() { return g_colour; }

std::string paint(std::string_view s, Tone tone, bool on) {
  if (!on) return std::string(s);
  const char* code = "";
  switch (tone) {
    case Tone::kGood: code = "\033[32m"; break;    // green
    case Tone::kWarn: code = "\033[33m"; break;    // yellow
    case Tone::kBad: code = "\033[1;31m"; break;   // bold red
    case Tone::kInfo: code = "\033[36m"; break;    // cyan
  }
  return std::string(code) + std::string(s) + "\033[0m";
}

Tone verdict_tone(std::string_view v) {
  for (const char* good : {"pass", "ok", "armed", "healthy", "good", "clean", "measured"})
    if (v == good) return Tone::kGood;
  for (const char* bad : {"gpu_fault", "wrong_result", "crash", "hang", "fail", "failed", "problem", "error",
                          "broken", "refused", "cc"})
    if (v == bad) return Tone::kBad;
  for (const char* warn : {"unsupported", "skipped", "warn", "warning", "waiting", "not_offered", "not_run",
                           "unknown", "off", "audit"})
    if (v == warn) return Tone::kWarn;
  return Tone::kInfo;
}

std::size_t display_width(std::string_view s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b && i + 1 < s.size() && s[i + 1] == '[') {  // CSI ... final byte
      i += 2;
      while (i < s.size() && (static_cast<unsigned char>(s[i]) < 0x40 || static_cast<unsigned char>(s[i]) > 0x7e)) ++i;
      continue;
    }
    if ((c & 0xc0) != 0x80) ++w;  // count lead bytes only
  }
  return w;
}

std::vector<std::string> wrap_lines(std::string_view text, std::size_t width, std::size_t indent) {
  std::vector<std::string> out;
  const std::string pad(indent, ' ');
  std::size_t start = 0;
  do {  // each explicit line on its own; its leading spaces are kept
    const std::size_t nl = text.find('\n', start);
    const std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    const std::size_t lead = std::min(line.find_first_not_of(' '), line.size());
    std::string cur = (out.empty() ? std::string() : pad) + std::string(lead, ' ');
    std::size_t cur_w = cur.size();
    bool has_word = false;
    for (std::size_t i = lead; i < line.size();) {
      const std::size_t sp = std::min(line.find(' ', i), line.size());
      const std::string_view word = line.substr(i, sp - i);
      i = sp + 1;
      if (word.empty()) continue;
      const std::size_t ww = display_width(word);
      if (has_word && cur_w + 1 + ww > width) {
        out.push_back(cur);
        cur = pad;
        cur_w = indent;
        has_word = false;
      }
      if (has_word) {
        cur += ' ';
        ++cur_w;
      }
      cur += word;
      cur_w += ww;
      has_word = true;
    }
    out.push_back(cur);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  } while (start < text.size());
  return out;
}

namespace {

// The lines of `text`, without their newlines (a final newline ends the last line, adds none).
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t nl = std::min(text.find('\n', start), text.size());
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

}  // namespace

std::string wrap(std::string_view text, std::size_t width, std::size_t indent) {
  std::string s;
  for (const auto& l : wrap_lines(text, width, indent)) s += l + "\n";
  return s;
}

std::string wrap_text(std::string_view text, std::size_t width) {
  std::string s;
  for (const std::string_view line : split_lines(text)) {
    const std::size_t lead = std::min(line.find_first_not_of(' '), line.size());
    if (display_width(line) <= width) {  // fits: untouched (table alignment survives)
      s += std::string(line) + "\n";
    } else {
      // Continuation lines hang two columns in, so a wrapped line reads as one item.
      const std::size_t hang = lead + 2;
      for (const auto& l : wrap_lines(line.substr(lead), width - std::min(width - 1, lead), hang - lead))
        s += std::string(lead, ' ') + l + "\n";
    }
  }
  return s;
}

std::string reflow(std::string_view text) {
  std::string out;
  const auto lines = split_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    out += line;
    if (i + 1 == lines.size()) {
      if (text.ends_with('\n')) out += '\n';
      break;
    }
    const std::string_view next = lines[i + 1];
    const bool ends = line.empty() || std::string_view(".:!?").find(line.back()) != std::string_view::npos;
    const bool starts = next.empty() || next.front() == ' ' || next.starts_with("- ");
    out += (ends || starts) ? '\n' : ' ';
  }
  return out;
}

namespace {

std::size_t longest_word(const std::string& s) {
  std::size_t best = 0, i = 0;
  while (i <= s.size()) {
    std::size_t sp = s.find(' ', i);
    if (sp == std::string::npos) sp = s.size();
    best = std::max(best, display_width(std::string_view(s).substr(i, sp - i)));
    i = sp + 1;
  }
  return best;
}

std::string pad_cell(const std::string& s, std::size_t w, bool right) {
  const std::size_t dw = display_width(s);
  const std::string fill(w > dw ? w - dw : 0, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

namespace {

// A wrapped column narrower than this reads as a list of a few words a line: it goes under its row.
constexpr std::size_t kMinWrapColumn = 30;

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Each row as its first cell followed by "header: value" lines: fits any width.
std::string records(const std::vector<Column>& cols, const std::vector<TableRow>& rows, std::size_t width) {
  std::string out;
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < cols.size() && c < r.cells.size(); ++c) {
      if (c == 0)
        out += wrap(r.cells[0], width, 2);
      else if (!r.cells[c].empty())
        out += wrap("  " + lower(cols[c].header) + ": " + r.cells[c], width, 4);
    }
    if (!r.note.empty()) out += wrap("  " + r.note, width, 4);
  }
  return out;
}

}  // namespace

std::string table(const std::vector<Column>& cols, const std::vector<TableRow>& rows, std::size_t width) {
  const std::size_t n = cols.size();
  std::vector<std::size_t> w(n), min_w(n), full(n);
  for (std::size_t c = 0; c < n; ++c) {
    w[c] = display_width(cols[c].header);
    min_w[c] = cols[c].wrap ? longest_word(cols[c].header) : w[c];
    for (const auto& r : rows) {
      if (c >= r.cells.size()) continue;
      w[c] = std::max(w[c], display_width(r.cells[c]));
      min_w[c] = std::max(min_w[c], cols[c].wrap ? longest_word(r.cells[c]) : display_width(r.cells[c]));
    }
    full[c] = w[c];
  }
  std::vector<bool> under(n, false);  // wrappable columns printed under their row instead
  auto total = [&] {
    std::size_t sum = 0, shown = 0;
    for (std::size_t c = 0; c < n; ++c)
      if (!under[c]) sum += w[c], ++shown;
    return sum + 2 * (shown > 0 ? shown - 1 : 0);
  };
  for (;;) {
    w = full;  // every pass starts from the full widths of the columns still beside each other
    // Shrink the widest wrappable column one column at a time until the table fits.
    while (total() > width) {
      std::size_t pick = n;
      for (std::size_t c = 0; c < n; ++c)
        if (cols[c].wrap && !under[c] && w[c] > min_w[c] && (pick == n || w[c] > w[pick])) pick = c;
      if (pick == n) break;
      --w[pick];
    }
    // A column that still does not fit, or fits only as a word list, moves under its row.
    std::size_t worst = n;
    for (std::size_t c = 0; c < n; ++c)
      if (cols[c].wrap && !under[c] && (total() > width || w[c] < std::min(kMinWrapColumn, full[c])) &&
          (worst == n || full[c] > full[worst]))
        worst = c;
    if (worst == n) break;
    under[worst] = true;
  }
  if (total() > width) return records(cols, rows, width);  // unbreakable cells wider than the screen
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::vector<std::vector<std::string>> lines(n);
    std::size_t height = 1;
    for (std::size_t c = 0; c < n; ++c) {
      if (under[c]) continue;
      const std::string cell = c < cells.size() ? cells[c] : "";
      lines[c] = cols[c].wrap ? wrap_lines(cell, w[c]) : std::vector<std::string>{cell};
      height = std::max(height, lines[c].size());
    }
    for (std::size_t h = 0; h < height; ++h) {
      std::string line;
      bool first = true;
      for (std::size_t c = 0; c < n; ++c) {
        if (under[c]) continue;
        const std::string cell = h < lines[c].size() ? lines[c][h] : "";
        if (!first) line += "  ";
        first = false;
        line += pad_cell(cell, w[c], cols[c].right);
      }
      line.erase(line.find_last_not_of(' ') + 1);
      out += line + "\n";
    }
  };
  std::vector<std::string> header;
  header.reserve(cols.size());
  for (const auto& c : cols) header.push_back(c.header);
  emit(header);
  for (const auto& r : rows) {
    emit(r.cells);
    for (std::size_t c = 0; c < n && c < r.cells.size(); ++c)
      if (under[c] && !r.cells[c].empty()) out += wrap("  " + lower(cols[c].header) + ": " + r.cells[c], width, 4);
    if (!r.note.empty()) out += wrap("  " + r.note, width, 4);
  }
  return out;
}

}  // namespace vmfix::term
