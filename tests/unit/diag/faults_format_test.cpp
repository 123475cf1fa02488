// SPDX-License-Identifier: GPL-2.0 OR MIT
// Format robustness of the fault-log reader: every TUNING report of the real-report corpus is
// re-rendered the ways users paste logs (journalctl -k, dmesg -T, no timestamps, a Markdown quote,
// indentation, CRLF, a GitHub-rendered copy with long lines wrapped, syslog level prefixes, hex digits
// in the other case) and must keep its verdict class. Pure in-process; the held-back part is never read.

#include <catch2/catch_test_macros.hpp>

#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "corpus.hpp"
#include "faults/faults.hpp"

namespace fs = std::filesystem;
using namespace vmfix::faults;  // NOLINT(google-build-using-namespace)

namespace {

using vmfix::test::slurp;
const fs::path& kData = vmfix::test::corpus_dir();

// The TUNING rows of INDEX.tsv (file names only): the held-back part is never opened here.
std::vector<std::string> tuning_reports() {
  std::vector<std::string> out;
  for (const auto& row : vmfix::test::read_index())
    if (row.split == "tuning") out.push_back(row.file);
  return out;
}

// A leading "[  12.345678]" kernel timestamp: its length (0 when none) and its seconds.
std::size_t kernel_stamp(std::string_view line, double& secs) {
  std::size_t i = 0;
  if (line.empty() || line[0] != '[') return 0;
  const auto close = line.find(']');
  if (close == std::string_view::npos || close > 24) return 0;
  const std::string in(line.substr(1, close - 1));
  for (i = 0; i < in.size() && in[i] == ' '; ++i) {
  }
  if (i == in.size() || std::isdigit(static_cast<unsigned char>(in[i])) == 0) return 0;
  for (const char c : in.substr(i))
    if (std::isdigit(static_cast<unsigned char>(c)) == 0 && c != '.') return 0;
  secs = std::stod(in.substr(i));
  std::size_t end = close + 1;
  if (end < line.size() && line[end] == ' ') ++end;
  return end;
}

// "HH:MM:SS" of a base time plus the kernel timestamp (so that log-time proximity is kept).
std::string clock_of(double secs) {
  constexpr long long kBase = 3723;  // 01:02:03
  const auto t = static_cast<long long>(std::floor(secs)) + kBase;
  return fmt::format("{:02}:{:02}:{:02}", (t / 3600) % 24, (t / 60) % 60, t % 60);
}

using LineFn = std::function<std::vector<std::string>(const std::string&)>;

// Wraps a line longer than 100 columns at a space between columns 80 and 100 (else the first space
// after 100), as a GitHub-rendered or e-mailed copy of a log does.
std::vector<std::string> wrap(const std::string& line, std::size_t width = 100) {
  std::vector<std::string> out;
  std::string rest = line;
  while (rest.size() > width) {
    auto cut = rest.rfind(' ', width);
    if (cut == std::string::npos || cut < width - 20) cut = rest.find(' ', width);
    if (cut == std::string::npos) break;
    out.push_back(rest.substr(0, cut));
    rest = rest.substr(cut + 1);
  }
  out.push_back(rest);
  return out;
}

std::string swap_hex_case(const std::string& line) {
  std::string s = line;
  for (std::size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] != '0' || (s[i + 1] != 'x' && s[i + 1] != 'X')) continue;
    std::size_t j = i + 2;
    for (; j < s.size() && std::isxdigit(static_cast<unsigned char>(s[j])) != 0; ++j) {
      const auto u = static_cast<unsigned char>(s[j]);
      s[j] = static_cast<char>(std::isupper(u) != 0 ? std::tolower(u) : std::toupper(u));
    }
    i = j;
  }
  return s;
}

struct Transform {
  std::string_view name;
  LineFn fn;
};

// A kernel line's timestamp rendered another way (stamp: its seconds, the text after it -> the new line);
// a line without one as `other` makes it ("" keeps it).
std::vector<std::string> restamp(const std::string& l, const std::function<std::string(double, const std::string&)>& stamp,
                                 const std::string& other = "") {
  double s = 0;
  const std::size_t n = kernel_stamp(l, s);
  if (n == 0) return {other + l};
  return {stamp(s, l.substr(n))};
}

// Every space replaced by `with`.
std::vector<std::string> each_space(const std::string& l, const std::string& with) {
  std::string out;
  for (const char c : l) out += c == ' ' ? with : std::string(1, c);
  return {out};
}

std::vector<std::string> one(std::string l) { return {std::move(l)}; }

const std::array<Transform, 17>& transforms() {
  using L = const std::string&;
  static const std::array<Transform, 17> kAll = {{
      {"journalctl -k",
       [](L l) {
         return restamp(l, [](double s, L t) { return fmt::format("Dec 02 {} workstation kernel: {}", clock_of(s), t); });
       }},
      {"dmesg -T",
       [](L l) { return restamp(l, [](double s, L t) { return fmt::format("[Wed Dec  2 {} 2026] {}", clock_of(s), t); }); }},
      {"no timestamp", [](L l) { return restamp(l, [](double, L t) { return t; }); }},
      {"markdown quote", [](L l) { return one("> " + l); }},
      {"indented", [](L l) { return one("    " + l); }},
      {"CRLF", [](L l) { return one(l + "\r"); }},
      {"wrapped at ~100 columns", [](L l) { return wrap(l); }},
      {"syslog <4> level", [](L l) { return restamp(l, [&l](double, L) { return "<4>" + l; }); }},
      {"hex digits in the other case", [](L l) { return one(swap_hex_case(l)); }},
      // journalctl without -k: every line has the journal's prefix, userspace lines their program's.
      {"journal, every line",
       [](L l) {
         return restamp(
             l, [](double s, L t) { return fmt::format("Dec 02 {} workstation kernel: {}", clock_of(s), t); },
             "Dec 02 01:02:03 workstation python3[4100]: ");
       }},
      // dmesg -H: the wall clock down to the minute, then deltas ("[  +0.000012]").
      {"dmesg -H",
       [](L l) { return restamp(l, [](double s, L t) { return fmt::format("[  +{:.6f}] {}", std::fmod(s, 1.0), t); }); }},
      {"wrapped at ~80 columns", [](L l) { return wrap(l, 80); }},
      // Raw /dev/kmsg records (dmesg -r on some systems, copies of the device file): "4,1234,56789012,-;text".
      {"raw kmsg records",
       [](L l) {
         return restamp(l, [](double s, L t) {
           return fmt::format("4,1234,{},-;{}", static_cast<long long>(std::llround(s * 1e6)), t);
         });
       }},
      // CONFIG_PRINTK_CALLER: "[  12.345678][ T1234] amdgpu ...".
      {"printk caller id",
       [](L l) { return restamp(l, [](double s, L t) { return fmt::format("[{:12.6f}][ T1234] {}", s, t); }); }},
      // A web page's copy: every space a no-break space (U+00A0); a zero-width space after each space.
      {"no-break spaces", [](L l) { return each_space(l, "\xC2\xA0"); }},
      {"zero-width spaces", [](L l) { return each_space(l, " \xE2\x80\x8B"); }},
      // A quoted reply of a wrapped copy: both at once.
      {"quoted and wrapped at ~100 columns",
       [](L l) {
         auto pieces = wrap(l);
         for (auto& p : pieces) p.insert(0, "> ");
         return pieces;
       }},
  }};
  return kAll;
}

// True when a log line of the report starts with a kernel timestamp.
bool has_kernel_stamp(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  double secs = 0;
  std::size_t n = 0;
  const std::size_t header = front_matter_lines(text);
  while (std::getline(in, line))
    if (n++ >= header && kernel_stamp(line, secs) > 0) return true;
  return false;
}

// The report with its log lines (not the metadata header) re-rendered by fn.
std::string render(const std::string& text, const LineFn& fn) {
  const std::size_t header = front_matter_lines(text);
  std::string out;
  std::size_t pos = 0, n = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (n++ < header) {
      out += line + "\n";
    } else {
      for (const auto& l : fn(line)) out += l + "\n";
    }
    pos = nl + 1;
  }
  return out;
}

std::string verdict_of(const std::string& text) {
  auto r = parse_log(text, context_from_front_matter(text));
  return r.ok() ? std::string(class_name(r->verdict.cls)) : "error: " + r.error().message;
}

}  // namespace

TEST_CASE("every tuning report keeps its verdict however the log was pasted", "[diag][faults][formats][robust]") {
  const auto files = tuning_reports();
  REQUIRE(files.size() >= 100);
  std::string failures;
  std::size_t changed = 0;
  for (const auto& t : transforms()) {
    std::vector<std::string> bad;
    for (const auto& f : files) {
      const std::string text = slurp(kData / f);
      // journalctl gives each record its own prefix: "kernel:" for kernel lines, the program's for the rest.
      // The transform tells kernel lines by their timestamps; a report posted without any cannot be rendered
      // that way (its kernel lines, and the pieces of lines its reporter wrapped, would become records of a
      // program), so it keeps the renderings that need no timestamps.
      if (t.name == "journal, every line" && !has_kernel_stamp(text)) continue;
      const std::string want = verdict_of(text);
      const std::string got = verdict_of(render(text, t.fn));
      if (got != want) bad.push_back(fmt::format("{} ({} -> {})", f, want, got));
    }
    if (!bad.empty()) failures += fmt::format("{}: {} of {} changed: {}\n", t.name, bad.size(), files.size(),
                                              fmt::join(bad, ", "));
    changed += bad.size();
  }
  INFO(failures);
  CHECK(changed == 0);
}

TEST_CASE("the transforms themselves render what users paste", "[diag][faults][formats][robust]") {
  const std::string line = "[   12.500000] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00A01031";
  const auto& t = transforms();
  CHECK(t[0].fn(line).front() ==
        "Dec 02 01:02:15 workstation kernel: amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00A01031");
  CHECK(t[1].fn(line).front() ==
        "[Wed Dec  2 01:02:15 2026] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00A01031");
  CHECK(t[2].fn(line).front() == "amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00A01031");
  CHECK(t[8].fn(line).front().ends_with("STATUS:0x00a01031"));
  const auto w = wrap(std::string(90, 'a') + " " + std::string(30, 'b') + " c");
  REQUIRE(w.size() == 2);
  CHECK(w[0].size() == 90);
  CHECK(w[1] == std::string(30, 'b') + " c");
}

TEST_CASE("journal, syslog and RFC 3339 dates are log time", "[diag][faults][formats][robust]") {
  const std::string log =
      "Dec  2 01:02:03 box kernel: amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 "
      "pasid:32771)\n"
      "Dec  2 01:02:03 box kernel: amdgpu 0000:03:00.0: amdgpu:  in process python3 pid 4100 thread python3 pid 4100\n"
      "Dec  2 01:02:09 box kernel: amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x00007f1234560000 "
      "from client 0x1b (UTCL2)\n";
  const auto r = parse_log(log);
  REQUIRE(r.ok());
  // The page line is 6 s later: not a continuation of the report (kAttachSeconds), so it makes its own event.
  REQUIRE(r->events.size() == 2);
  REQUIRE(r->events[0].time.has_value());
  CHECK(*r->events[0].time == 2 * 86400 + 3600 + 120 + 3);
  CHECK(r->events[0].process == "python3");
  CHECK_FALSE(r->events[0].address.has_value());
  // RFC 3339 (journalctl -o short-iso) with a fraction; a localised month name.
  const auto iso = parse_log(
      "2024-12-02T01:02:03.250000+0100 box kernel: amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 "
      "ring:24 vmid:8 pasid:32771)\n"
      "lis 24 03:17:22 box kernel: amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:9 "
      "pasid:32772)\n");
  REQUIRE(iso->events.size() == 2);
  CHECK(*iso->events[0].time == 2 * 86400 + 3600 + 120 + 3.25);
  CHECK(*iso->events[1].time == 24 * 86400 + 3 * 3600 + 17 * 60 + 22);
  // A TensorFlow/Python date with a space is a userspace record, not log time.
  const auto tf = parse_log(
      "2019-01-08 19:06:11.303639: E tensorflow/stream_executor/rocm/rocm_driver.cc:601] failed to allocate 7.35G "
      "(7889485824 bytes) from device: hipError_t(1002)\n");
  REQUIRE(tf->events.size() == 1);
  CHECK_FALSE(tf->events[0].time.has_value());
  CHECK(tf->events[0].cls == FaultClass::kOutOfMemory);
}

TEST_CASE("Markdown quotes and syslog level prefixes are not log text", "[diag][faults][formats][robust]") {
  const auto r = parse_log(
      "> <4>[   20.000000] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:2 pasid:32771)\n"
      "> <4>[   20.000001] amdgpu 0000:03:00.0: amdgpu:  in process Xorg pid 900 thread Xorg:cs0 pid 910\n"
      ">   > [   20.000002] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x0000800012340000 from "
      "client 0x1b (UTCL2)\n");
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 1);
  const Event& e = r->events[0];
  CHECK(*e.time == 20.0);
  CHECK(e.process == "Xorg");
  CHECK(e.thread == "Xorg:cs0");
  CHECK(e.address == 0x0000800012340000ULL);
  CHECK(e.cls == FaultClass::kGraphicsFault);
  // "<3>" without a record after it, or a '<' that is no level, stays as it is.
  const auto kept = parse_log("<html> Memory access fault by GPU node-1 (Agent handle: 0x1) on address 0x1000. "
                              "Reason: Page not present or supervisor privilege.\n");
  REQUIRE(kept->events.size() == 1);
  CHECK(kept->events[0].address == 0x1000ULL);
}

TEST_CASE("a long line wrapped by the pasted copy is read whole", "[diag][faults][formats][robust]") {
  // The 6.8+ process line cut after "thread" (kernel_line_cut): the thread's name is on the next line.
  const std::string proc =
      "[   20.000000] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:5 pasid:32806)\n"
      "[   20.000001] amdgpu 0000:03:00.0: amdgpu:  Process RoboQuest-Win64 pid 181904 thread\n"
      "dxvk-submit pid 181997\n"
      "[   20.000002] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x0000800012340000 from client "
      "0x1b (UTCL2)\n";
  auto r = parse_log(proc);
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].thread == "dxvk-submit");
  CHECK(r->events[0].tid == 181997);
  CHECK(r->events[0].cls == FaultClass::kGraphicsFault);
  CHECK(r->lines == 4);
  // An open parenthesis (5.x header form) cut before the process.
  r = parse_log(
      "[   20.000000] amdgpu 0000:03:00.0: amdgpu: [gfxhub0] retry page fault (src_id:0 ring:0 vmid:3 pasid:32771, "
      "for\nprocess gnome-shell pid 2000 thread gnome-shel:cs0 pid 2010)\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].process == "gnome-shell");
  // The same header without timestamps, cut short of the width a wrap needs: its format shows it cut.
  r = parse_log(
      "amdgpu 0000:0b:00.0: [gfxhub] no-retry page fault (src_id:0\n"
      "ring:155 vmid:5 pasid:32770, for process minetest pid 7127 thread minetest:cs0\n"
      "pid 7133)\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].process == "minetest");
  CHECK(r->events[0].tid == 7133);
  // gmc_v8's header with its process part on the next line, in a block pasted with an indentation.
  r = parse_log(
      "    amdgpu 0000:01:00.0: GPU fault detected: 146 0x0f20880c\n"
      "    for process vulkan-external pid 173502 thread vulkan-external pid 173502\n"
      "    amdgpu 0000:01:00.0:   VM_CONTEXT1_PROTECTION_FAULT_ADDR   0x001005E4\n"
      "    amdgpu 0000:01:00.0:   VM_CONTEXT1_PROTECTION_FAULT_STATUS 0x0608800C\n"
      "    amdgpu 0000:01:00.0: VM fault (0x0c, vmid 3, pasid 32784) at page 1050084, read\n"
      "    from 'TC6' (0x54433600) (136)\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].process == "vulkan-external");
  CHECK(r->events[0].client == "TC6");
  CHECK(r->events[0].cls == FaultClass::kGraphicsFault);
  // A sentence wrapped by a mail client before 80 columns goes on with a lower-case word.
  r = parse_log(
      "I tensorflow/core/common_runtime/gpu/gpu_device.cc:2015] Ignoring visible gpu\n"
      "device (device: 0, name: Radeon RX 7900 XTX, pci bus id: 0000:03:00.0) with\n"
      "AMDGPU version : gfx1100. The supported AMDGPU versions are gfx1030, gfx900.\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].cls == FaultClass::kMissingCodeObject);
  // ROCr's fault line cut before its reason (format_line_cut): the address is on the next line.
  r = parse_log(
      "Memory access fault by GPU node-1 (Agent handle: 0x5644299ef910) on address\n"
      "0x6e77e9000. Reason: Page not present or supervisor privilege.\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].address == 0x6e77e9000ULL);
  CHECK(r->events[0].fault_reason == "Page not present or supervisor privilege");
  r = parse_log(
      "Memory access fault by GPU node-2 (Agent handle: 0x5644299ef910) on address 0x6e77e9000\n"
      "Reason: Page not present or supervisor privilege.\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].fault_reason == "Page not present or supervisor privilege");
  // The gmc_v8 line cut before its client, the 6.8+ process line cut right after "in process".
  r = parse_log(
      "[   54.018792] amdgpu 0000:01:00.0: VM fault (0x01, vmid 1) at page 73533277, read from\n"
      "'TC3' (0x54433300) (196)\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].client == "TC3");
  r = parse_log(
      "nov 04 13:30:18 box kernel: amdgpu 0000:0d:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:3 "
      "pasid:32770)\n"
      "nov 04 13:30:18 box kernel: amdgpu 0000:0d:00.0: amdgpu:  in process\n"
      "cosmic-comp pid 4732 thread cosmic-com:cs0 pid 4753)\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].process == "cosmic-comp");
  CHECK(r->events[0].cls == FaultClass::kGraphicsFault);
  // Two halves that only make sense together (neither alone is the message).
  r = parse_log(
      "RuntimeError: Could not allocate tensor with 9831040 bytes. There is not enough\n"
      "GPU video memory available!\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].cls == FaultClass::kOutOfMemory);
  CHECK(r->events[0].first_line == 1);
  // A sentence cut past 80 columns goes on with a lower-case word.
  r = parse_log(
      "2018-11-11 22:30:37.207580: I tensorflow/core/common_runtime/gpu/gpu_device.cc:1605] Ignoring\n"
      "visible gpu device (device: 0, name: AMD A10-8700P Radeon R6, 10 Compute Cores 4C+6G, pci bus id:\n"
      "0000:00:01.0) with AMDGPU ISA gfx801. The minimum required AMDGPU ISA is gfx803.\n");
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].isa == "gfx801");
  // Lines that start records of their own, tags and recognised lines are never joined; after a line
  // that is not visibly cut, neither are paths and table rows.
  const std::string words = "RuntimeError: " + std::string(90, 'x') + " a long line that ends in a word";
  const std::string open = "RuntimeError: " + std::string(90, 'x') + " (a long line with an open parenthesis";
  const std::vector<std::pair<std::string, bool>> seconds = {
      {"[   21.0] amdgpu 0000:03:00.0: amdgpu: ring gfx_0.0.0 timeout", true},
      {"zsh: segmentation fault  python3 run.py", true},
      {"Memory access fault by GPU node-1 (Agent handle: 0x1) on address 0x1000. Reason: x", true},
      {"  File \"run.py\", line 3, in <module>", true},
      {"2024-12-02 01:02:03,123 INFO started", true},
      {"time=2024-06-17T14:49:12.220+02:00 level=INFO msg=x", true},
      {"external-builds/pytorch/test/test_nn.py::TestNN", false},
      {"torchvision    0.17.0", false},
      {"Torch version 2.3", false}};
  for (const auto& [second, after_open_too] : seconds) {
    for (const auto& first : {words, open}) {
      if (first == open && !after_open_too) continue;
      INFO(first << " / " << second);
      r = parse_log(first + "\n" + second + "\n");
      REQUIRE(r.ok());
      REQUIRE_FALSE(r->events.empty());
      CHECK(r->events[0].lines.size() == 1);
      CHECK(r->events[0].lines[0].find(second.substr(0, 12)) == std::string::npos);
    }
  }
  // Feeding the lines one at a time gives the same events; the held line is read at flush().
  Parser p;
  std::size_t n = 0;
  for (std::size_t pos = 0; pos < proc.size();) {
    const auto nl = proc.find('\n', pos);
    p.feed(std::string_view(proc).substr(pos, nl - pos));
    pos = nl + 1;
    ++n;
  }
  CHECK(p.take_finished().empty());
  p.flush();
  const auto events = p.take_finished();
  REQUIRE(events.size() == 1);
  CHECK(events[0].thread == "dxvk-submit");
  CHECK(p.lines() == n);
}
