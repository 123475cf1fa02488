// SPDX-License-Identifier: GPL-2.0 OR MIT
// Fault-log reader: line scanner, event grouping, classification, verdict and renderers.
//
// Formats recognised (kernel side, amdgpu):
//   gmc_v9 (4.14):  [gfxhub] VMC page fault (src_id:0 ring:24 vm_id:3 pas_id:32769)
//                     at page 0x0000000012345000 from 27
//   gmc_v9/v10 5.x-6.x: [gfxhub0] retry|no-retry page fault (src_id:.. ring:.. vmid:.. pasid:..,
//                     for process X pid N thread Y pid M)
//                     in page starting at address 0x... from client 27 | from IH client 0x1b (UTCL2)
//   6.8+ / 7.x:     [gfxhub] page fault (src_id:.. ring:.. vmid:.. pasid:..)
//                    in process X pid N thread Y pid M)   (amdgpu_vm_print_task_info)
//   status:         VM_L2_/GCVM_L2_/MMVM_L2_PROTECTION_FAULT_STATUS:0x%08X, then
//                   Faulty UTCL2 client ID: NAME (0xN), MORE_FAULTS, WALKER_ERROR,
//                   PERMISSION_FAULTS, MAPPING_ERROR, RW
//   gmc_v7/v8:      GPU fault detected: SRC 0xDATA / VM_CONTEXT1_PROTECTION_FAULT_ADDR 0x.. /
//                   VM_CONTEXT1_PROTECTION_FAULT_STATUS 0x.. / VM fault (0x01, vmid 1[, pasid N])
//                   at page N, read from 'TC3' (0x54433300) (196)
// plus ring timeouts and resets, KFD PCIe-atomics messages, IOMMU page faults, and the ROCr/HIP/
// rocBLAS/PyTorch userspace lines listed in docs/faults.md.

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "faults/faults.hpp"
#include "common/log_decode.hpp"
#include "common/output.hpp"
#include "common/term.hpp"
#include "common/text.hpp"

namespace vmfix::faults {

using text::contains;
using text::icontains;

namespace {

constexpr std::size_t kMaxEvidence = 24;      // evidence lines kept per event
constexpr std::size_t kMaxAddresses = 64;     // further fault addresses kept per event
constexpr std::size_t kAttachLines = 16;      // a continuation may trail its header by this many lines
constexpr double kAttachSeconds = 2.0;        // ... and by this much log time
constexpr double kRepeatSeconds = 10.0;       // repeated reports of one fault storm merge
constexpr double kHangSeconds = 120.0;        // timeout -> reset -> resume lines merge
constexpr std::size_t kHangLines = 200;

constexpr std::size_t kWrapMinColumns = 60;   // a copy wraps lines only past this width (mail clients: 72-78)
constexpr std::size_t kWrapMaxPieces = 8;     // pieces of one wrapped line joined at most
constexpr std::size_t kWrapMaxBytes = 4096;   // ... and bytes

bool digit_at(std::string_view s, std::size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; }

// "HH:MM:SS" at s[k] -> seconds of the day.
std::optional<int> clock_at(std::string_view s, std::size_t k) {
  if (k + 8 > s.size() || !digit_at(s, k) || !digit_at(s, k + 1) || s[k + 2] != ':' || !digit_at(s, k + 3) ||
      !digit_at(s, k + 4) || s[k + 5] != ':' || !digit_at(s, k + 6) || !digit_at(s, k + 7))
    return std::nullopt;
  return ((s[k] - '0') * 10 + (s[k + 1] - '0')) * 3600 + ((s[k + 3] - '0') * 10 + (s[k + 4] - '0')) * 60 +
         (s[k + 6] - '0') * 10 + (s[k + 7] - '0');
}

// A journal or syslog line's own date, at the start of the line: journalctl -k / syslog
// ("Dec  2 01:02:03 host kernel: ...", "Dec 02 01:02:03.123456 ...", a localised month name), and
// RFC 3339 (journalctl -o short-iso, rsyslog: "2024-12-02T01:02:03.123+01:00 host kernel: ...").
// Day of month and time of day are enough for proximity, as for dmesg -T.
std::optional<double> journal_time(std::string_view line) {
  const auto frac = [&](std::size_t at, double base) {
    if (at < line.size() && (line[at] == '.' || line[at] == ',') && digit_at(line, at + 1)) {
      double scale = 0.1;
      for (std::size_t i = at + 1; digit_at(line, i) && i < at + 10; ++i, scale /= 10) base += (line[i] - '0') * scale;
    }
    return base;
  };
  // RFC 3339: YYYY-MM-DDTHH:MM:SS
  if (line.size() >= 19 && digit_at(line, 0) && digit_at(line, 3) && line[4] == '-' && line[7] == '-' &&
      digit_at(line, 8) && digit_at(line, 9) && line[10] == 'T') {
    if (const auto c = clock_at(line, 11))
      return frac(19, static_cast<double>(((line[8] - '0') * 10 + (line[9] - '0')) * 86400 + *c));
  }
  // "Mon DD HH:MM:SS": a month name (any script), one or two spaces, the day, the time.
  const auto sp = line.find(' ');
  if (sp == 0 || sp == std::string_view::npos || sp > 12 || digit_at(line, 0)) return std::nullopt;
  std::size_t i = sp;
  while (i < line.size() && line[i] == ' ') ++i;
  int day = 0;
  const std::size_t d0 = i;
  while (digit_at(line, i) && i < d0 + 2) day = day * 10 + (line[i++] - '0');
  if (i == d0 || day > 31 || i >= line.size() || line[i] != ' ') return std::nullopt;
  if (const auto c = clock_at(line, i + 1)) return frac(i + 9, static_cast<double>(day * 86400 + *c));
  return std::nullopt;
}

std::optional<double> parse_time(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i < line.size() && line[i] != '[') return journal_time(line.substr(i));
  if (i >= line.size()) return std::nullopt;
  const auto close = line.find(']', i);
  if (close == std::string_view::npos || close - i > 48) return std::nullopt;
  const std::string_view in = text::trim(line.substr(i + 1, close - i - 1));
  std::size_t used = 0;
  if (const auto sec = text::parse_dec(in, &used); sec && used < in.size() && in[used] == '.') {
    const std::string_view frac_sv = in.substr(used + 1);
    std::size_t fused = 0;
    const auto frac = text::parse_dec(frac_sv, &fused);
    if (frac && fused == frac_sv.size() && fused <= 9 && *sec < 1000000000000ULL)
      return static_cast<double>(*sec) + static_cast<double>(*frac) / std::pow(10.0, static_cast<double>(fused));
  }
  // dmesg -T: "Tue Jul 23 13:49:25 2024": day of month and time of day are enough for proximity.
  for (std::size_t k = 0; k + 8 <= in.size(); ++k) {
    const std::string_view c = in.substr(k, 8);
    auto d = [&](std::size_t p) { return c[p] >= '0' && c[p] <= '9'; };
    if (d(0) && d(1) && c[2] == ':' && d(3) && d(4) && c[5] == ':' && d(6) && d(7)) {
      const int h = (c[0] - '0') * 10 + (c[1] - '0');
      const int m = (c[3] - '0') * 10 + (c[4] - '0');
      const int s = (c[6] - '0') * 10 + (c[7] - '0');
      int day = 0;
      if (k >= 3) {
        std::string_view before = text::trim(in.substr(0, k));
        const auto sp = before.rfind(' ');
        if (sp != std::string_view::npos) before = before.substr(sp + 1);
        if (const auto dd = text::parse_number(before); dd && *dd <= 31) day = static_cast<int>(*dd);
      }
      return static_cast<double>(day * 86400 + h * 3600 + m * 60 + s);
    }
  }
  return std::nullopt;
}

// Unsigned field "key" followed by a decimal number ("vmid:3").
std::optional<unsigned> field_u(std::string_view line, std::string_view key) {
  const auto pos = line.find(key);
  if (pos == std::string_view::npos) return std::nullopt;
  // the key must start a token: "vmid:" must not match inside "xvmid:"
  if (pos > 0) {
    const char p = line[pos - 1];
    if (p != ' ' && p != '(' && p != ',' && p != '\t') return std::nullopt;
  }
  const auto v = text::parse_dec(line.substr(pos + key.size()));
  if (!v || *v > 0xffffffffULL) return std::nullopt;
  return static_cast<unsigned>(*v);
}

// "0x1b" or "27" -> number.
std::optional<std::uint64_t> hex_or_dec(std::string_view s) {
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) return text::parse_hex(s);
  return text::parse_dec(s);
}

// "process NAME pid N thread NAME pid M" (names may be empty or contain spaces).
void parse_process(std::string_view line, Event& e) {
  auto p = line.find("process ");
  if (p == std::string_view::npos) p = line.find("Process ");  // kernels 6.x: "amdgpu:  Process NAME pid N"
  if (p == std::string_view::npos) return;
  std::string_view rest = line.substr(p + 8);
  const auto pid_pos = rest.find(" pid ");
  if (pid_pos == std::string_view::npos || pid_pos > 256) return;
  e.process = text::printable(text::trim(rest.substr(0, pid_pos)), 64);
  rest = rest.substr(pid_pos + 5);
  std::size_t used = 0;
  if (const auto pid = text::parse_dec(rest, &used); pid && *pid < (1ULL << 40)) {
    e.pid = static_cast<long long>(*pid);
    rest = rest.substr(used);
  }
  const auto th = rest.find("thread ");
  if (th == std::string_view::npos) return;
  rest = rest.substr(th + 7);
  const auto tpid = rest.find(" pid ");
  if (tpid == std::string_view::npos || tpid > 256) return;
  e.thread = text::printable(text::trim(rest.substr(0, tpid)), 64);
  if (const auto tid = text::parse_dec(rest.substr(tpid + 5)); tid && *tid < (1ULL << 40))
    e.tid = static_cast<long long>(*tid);
}

// First gfx target named in a line: "gfx1010", "gfx1013:xnack-", "gfx90a".
std::string find_isa(std::string_view line) {
  std::size_t pos = 0;
  while ((pos = line.find("gfx", pos)) != std::string_view::npos) {
    std::size_t end = pos + 3;
    while (end < line.size() && end - pos < 8 && std::isxdigit(static_cast<unsigned char>(line[end])) != 0) ++end;
    if (end - pos >= 5 && (pos == 0 || std::isalnum(static_cast<unsigned char>(line[pos - 1])) == 0 ||
                           line[pos - 1] == '-')) {
      // keep :xnack-/:sramecc+ feature suffixes
      while (end < line.size() && end - pos < 40 &&
             (std::isalnum(static_cast<unsigned char>(line[end])) != 0 || line[end] == ':' ||
              ((line[end] == '+' || line[end] == '-') && end > pos && line[end - 1] != '-' && line[end - 1] != '+')))
        ++end;
      return std::string(line.substr(pos, end - pos));
    }
    pos += 3;
  }
  return {};
}

// "HSA_STATUS_ERROR_XYZ" token in a line.
std::string find_token(std::string_view line, std::string_view prefix) {
  const auto pos = line.find(prefix);
  if (pos == std::string_view::npos) return {};
  std::size_t end = pos;
  while (end < line.size() && end - pos < 64 &&
         (std::isalnum(static_cast<unsigned char>(line[end])) != 0 || line[end] == '_'))
    ++end;
  return std::string(line.substr(pos, end - pos));
}

bool within(std::optional<double> a, std::optional<double> b, double secs) {
  if (!a || !b) return true;
  return std::fabs(*a - *b) <= secs;
}

void add_evidence(Event& e, std::string_view line) {
  if (e.lines.size() < kMaxEvidence) e.lines.push_back(text::printable(line, 300));
}

// Status register name: the token that ends right before ":0x" / " 0x".
std::string register_name(std::string_view line, std::size_t end) {
  std::size_t b = end;
  while (b > 0 && (std::isalnum(static_cast<unsigned char>(line[b - 1])) != 0 || line[b - 1] == '_')) --b;
  return std::string(line.substr(b, end - b));
}

Gen gen_of_register(std::string_view name) {
  if (text::starts_with(name, "GCVM_") || text::starts_with(name, "MMVM_")) return Gen::kGfx10;
  if (text::starts_with(name, "VM_L2_")) return Gen::kGfx9;
  if (text::starts_with(name, "VM_CONTEXT1_")) return Gen::kGfx8;
  return Gen::kUnknown;
}

}  // namespace

bool is_vm_fault(const Event& e) { return e.kind == "vm_fault" || e.kind == "legacy_vm_fault"; }

Status check_text(std::string_view data) {
  if (data.empty()) return Error{Exit::kUsage, "", "input is empty: no log lines to read"};
  if (data.find('\0') != std::string_view::npos)
    return Error{Exit::kUsage, "", "input is binary (contains NUL bytes), not a text log"};
  // Count bytes that printable() would have to replace: control characters and invalid UTF-8.
  std::size_t bad = 0;
  for (std::size_t i = 0; i < data.size();) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != 0x1b) ++bad;
      ++i;
      continue;
    }
    std::size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    bool ok = n != 0 && i + n <= data.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(data[i + k]) & 0xc0) == 0x80;
    if (!ok) {
      ++bad;
      ++i;
    } else {
      i += n;
    }
  }
  if (bad * 20 > data.size())
    return Error{Exit::kUsage, "",
                 fmt::format("input is not a text log ({} of {} bytes are control characters or invalid UTF-8)",
                             bad, data.size())};
  return ok_status();
}

Parser::Parser(Context ctx) : ctx_(std::move(ctx)) {}

bool Parser::can_attach(std::string_view device, std::optional<double> t) const {
  if (!open_) return false;
  if (!device.empty() && !open_->device.empty() && device != open_->device) return false;
  if (line_no_ - open_->last_line > kAttachLines) return false;
  return within(last_time_, t, kAttachSeconds);
}

void Parser::start(Event e) {
  finish_open();
  e.first_line = e.last_line = line_no_;
  if (e.records == 0) e.records = 1;
  open_ = std::move(e);
  repeat_ = false;
  take_decoded_ = true;
}

void Parser::finish_open() {
  if (!open_) return;
  classify_event(*open_, ctx_);
  done_.push_back(std::move(*open_));
  open_.reset();
  repeat_ = false;
}

void Parser::flush() {
  read_held();
  finish_open();
}

std::vector<Event> Parser::take_finished() {
  std::vector<Event> out;
  out.swap(done_);
  return out;
}

void Parser::note_override(std::string_view line) {
  const auto rest = text::after(line, "HSA_OVERRIDE_GFX_VERSION");
  if (!rest || !ctx_.override_version.empty()) return;
  std::string_view v = *rest;
  while (!v.empty() && (v.front() == '=' || v.front() == ' ' || v.front() == '"' || v.front() == '\'' ||
                        v.front() == ':'))
    v.remove_prefix(1);
  std::size_t end = 0;
  while (end < v.size() && end < 12 && (std::isdigit(static_cast<unsigned char>(v[end])) != 0 || v[end] == '.'))
    ++end;
  const std::string_view ver = v.substr(0, end);
  if (override_target(ver)) {
    ctx_.override_version = std::string(ver);
    ctx_.override_source = fmt::format("log line {}", line_no_);
  }
}

namespace {

void add_target(std::vector<std::string>& list, std::string& source, std::string t, std::size_t line_no) {
  t = t.substr(0, t.find(':'));
  if (t.size() < 6 || std::find(list.begin(), list.end(), t) != list.end() || list.size() >= 32) return;
  if (list.empty()) source = fmt::format("log line {}", line_no);
  list.push_back(std::move(t));
}

// Every gfx target in s (a bracketed list of targets).
// Every gfx target in s (a list of targets): "gfx" and 3-4 hex digits, feature suffixes dropped, so
// "gfx1030gfx1100" (a TensorFlow build's list, commas missing) is two targets.
std::vector<std::string> all_isas(std::string_view s) {
  std::vector<std::string> out;
  for (std::size_t guard = 0; guard < 64; ++guard) {
    const auto pos = s.find("gfx");
    if (pos == std::string_view::npos) break;
    std::size_t end = pos + 3;
    while (end < s.size() && end - pos < 7 && std::isxdigit(static_cast<unsigned char>(s[end])) != 0) ++end;
    if (end - pos >= 6) out.emplace_back(s.substr(pos, end - pos));
    s.remove_prefix(pos + 3);
  }
  return out;
}

// The target a line names as the device's own ISA, as the runtime sees it ("" when none).
std::string runtime_target_of(std::string_view line) {
  // rocBLAS: "Cannot read .../TensileLibrary.dat: No such file or directory for GPU arch : gfx1030"
  if (const auto a = text::after(line, "for GPU arch")) return find_isa(*a);
  // rocBLAS: "No paths matched /opt/rocm/lib/rocblas/library/*gfx1030*co." (its glob for the device)
  if (contains(line, "No paths matched")) {
    if (const auto g = line.find("*gfx"); g != std::string_view::npos) return find_isa(line.substr(g + 1));
  }
  // llama.cpp/ggml: "  Device 0: AMD Radeon RX 5700 XT, gfx1030 (0x1030), VMM: no, Wave Size: 32"
  if (const auto c = line.find(", gfx"); c != std::string_view::npos && contains(line, "Device ")) {
    std::string isa = find_isa(line.substr(c + 2));
    if (!isa.empty() && text::starts_with(line.substr(c + 2 + isa.size()), " (0x")) return isa;
  }
  // PyTorch: gcnArchName='gfx1030' / gcnArchName: gfx1030
  if (const auto a = text::after(line, "gcnArchName")) {
    std::string_view v = *a;
    while (!v.empty() && (v.front() == '=' || v.front() == ':' || v.front() == ' ' || v.front() == '\'' ||
                          v.front() == '"'))
      v.remove_prefix(1);
    if (text::starts_with(v, "gfx")) return find_isa(v);
  }
  // MIOpen names its kernel and performance databases after the device as the runtime reports it
  // ("Missing system database file: gfx1030_40.kdb", "File is unreadable: .../gfx803_32.HIP.fdb.txt"): the
  // target, then the compute-unit count.
  if (icontains(line, "miopen")) {
    for (std::size_t pos = line.find("gfx"); pos != std::string_view::npos; pos = line.find("gfx", pos + 3)) {
      std::string isa = find_isa(line.substr(pos));
      const std::size_t end = pos + isa.size();
      if (!isa.empty() && end + 1 < line.size() && line[end] == '_' &&
          std::isdigit(static_cast<unsigned char>(line[end + 1])) != 0)
        return isa;
    }
  }
  // rocminfo: an agent's "  Name:                    gfx1030" or its ISA "amdgcn-amd-amdhsa--gfx1030"
  const std::string_view t = text::trim(line);
  if (text::starts_with(t, "Name:")) {
    std::string_view v = text::trim(t.substr(5));
    if (text::starts_with(v, "amdgcn-amd-amdhsa--")) v.remove_prefix(19);
    if (text::starts_with(v, "gfx")) {
      std::string isa = find_isa(v);
      if (isa.size() == v.size() || isa.size() == v.find(' ')) return isa;
    }
  }
  return {};
}

}  // namespace

// The ROCm release a log line shows: an install path (/opt/rocm-5.7.1/), AMD's build-tree paths
// (rocm-rel-4.0), a wheel's local version (torch 2.0.1+rocm5.4.2) or pip index (whl/rocm6.2).
void Parser::note_rocm(std::string_view line) {
  if (!ctx_.rocm_version.empty()) return;
  for (const std::string_view key : {std::string_view("/opt/rocm-"), std::string_view("rocm-rel-"),
                                     std::string_view("+rocm"), std::string_view("whl/rocm")}) {
    const auto at = text::after(line, key);
    if (!at) continue;
    if (std::string v = rocm_release(*at); !v.empty()) {
      ctx_.rocm_version = std::move(v);
      ctx_.rocm_version_source = fmt::format("log line {}", line_no_);
      return;
    }
  }
}

// Ollama's "inference compute ... compute=gfx1030" and "amdgpu is (not) supported ... gpu_type=gfx1030" read the
// target from KFD's topology: the GPU's own, whatever HSA_OVERRIDE_GFX_VERSION says.
void Parser::note_native(std::string_view line) {
  for (const std::string_view key : {std::string_view("compute=gfx"), std::string_view("gpu_type=gfx")}) {
    const auto at = line.find(key);
    if (at == std::string_view::npos) continue;
    std::string t = find_isa(line.substr(at + key.size() - 3));
    t = t.substr(0, t.find(':'));
    if (t.size() < 6) return;
    if (native_.empty()) native_line_ = line_no_;
    if (std::find(native_.begin(), native_.end(), t) == native_.end() && native_.size() < 8) native_.push_back(t);
    return;
  }
}

void Parser::note_targets(std::string_view line) {
  if (ctx_.upstream_torch_wheel.empty()) {
    if (const auto w = text::after(line, "download.pytorch.org/whl/"); w && contains(w->substr(0, 24), "rocm"))
      ctx_.upstream_torch_wheel = fmt::format("log line {}", line_no_);
  }
  if (std::string t = runtime_target_of(line); !t.empty()) {
    add_target(ctx_.runtime_targets, ctx_.runtime_targets_source, std::move(t), line_no_);
    return;
  }
  // A library's list of its code-object files: rocBLAS prints its TensileLibrary files after
  // "List of available TensileLibrary Files", users paste `ls` of the library directory. A line
  // that reports a file missing is no file it carries.
  if (contains(line, "TensileLibrary") && !contains(line, "Cannot read") && !contains(line, "No such file") &&
      !contains(line, "not found")) {
    if (std::string t = find_isa(line); !t.empty()) {
      add_target(ctx_.library_targets, ctx_.library_targets_source, std::move(t), line_no_);
      if (list_line_no_ == 0) {
        list_line_no_ = line_no_;
        list_line_ = text::printable(line, 300);
      }
    }
    return;
  }
  // Ollama: "gfx1010 is not supported by /usr/lib/ollama/rocm [gfx1030 gfx1100 ...]",
  // "amdgpu is not supported (supported types:[gfx1103])", supported_types="[...]".
  // TensorFlow: "The supported AMDGPU versions are gfx1030, gfx900, gfx906, ..." (to the end of the line).
  if (const auto k = line.find("supported AMDGPU versions are"); k != std::string_view::npos) {
    for (auto& t : all_isas(line.substr(k)))
      add_target(ctx_.library_targets, ctx_.library_targets_source, std::move(t), line_no_);
    return;
  }
  for (const std::string_view key : {std::string_view(" not supported by "), std::string_view("supported types"),
                                     std::string_view("supported_types")}) {
    const auto k = line.find(key);
    if (k == std::string_view::npos) continue;
    const auto open = line.find('[', k);
    const auto close = open == std::string_view::npos ? open : line.find(']', open);
    if (close == std::string_view::npos) continue;
    for (auto& t : all_isas(line.substr(open, close - open)))
      add_target(ctx_.library_targets, ctx_.library_targets_source, std::move(t), line_no_);
    return;
  }
}

void Parser::read_line(std::string_view line) {
  const auto t = parse_time(line);
  const std::string dev = text::find_bdf(line);
  note_override(line);
  note_rocm(line);
  if (ctx_.kfd_skipped.empty() && (contains(line, "not supported in kfd") || contains(line, "kfd not supported on this ASIC")))
    ctx_.kfd_skipped = fmt::format("log line {}", line_no_);
  note_native(line);
  note_targets(line);
  if (try_coredump(line, dev, t) || try_kernel_vm(line, dev, t) || try_userspace(line, dev, t)) {
    if (t) last_time_ = t;
  }
}

// What a line of a VM fault report is (after the headers): each its own continuation.
struct Parser::VmLine {
  bool page = false;  // "in page starting at address" / "at page 0x... from"
  std::size_t l2 = std::string_view::npos;  // "_PROTECTION_FAULT_STATUS:"
  std::size_t legacy_addr = std::string_view::npos;
  std::size_t legacy_status = std::string_view::npos;
  bool legacy_vm = false;  // "VM fault (0x..) at page"
  bool decoded = false;    // the driver's decode of the status register
  bool iommu = false, evict = false, proc = false;

  explicit VmLine(std::string_view line)
      : page(contains(line, "in page starting at address ") ||
             (contains(line, "  at page 0x") && contains(line, " from "))),
        l2(line.find("_PROTECTION_FAULT_STATUS:")),
        legacy_addr(line.find("VM_CONTEXT1_PROTECTION_FAULT_ADDR")),
        legacy_status(line.find("VM_CONTEXT1_PROTECTION_FAULT_STATUS")),
        legacy_vm(contains(line, "VM fault (0x") && contains(line, " at page ")),
        decoded(contains(line, "Faulty UTCL2 client ID:") || contains(line, "MORE_FAULTS: 0x") ||
                contains(line, "WALKER_ERROR: 0x") || contains(line, "PERMISSION_FAULTS: 0x") ||
                contains(line, "MAPPING_ERROR: 0x") || contains(line, "RW: 0x")),
        iommu(contains(line, "IO_PAGE_FAULT")),
        evict(contains(line, "Evicting PASID") || contains(line, "Evicting process")),
        proc((contains(line, " for process ") || contains(line, " in process ") || contains(line, " Process ") ||
              text::starts_with(text::trim(line), "Process ")) &&
             contains(line, " pid ")) {}
  [[nodiscard]] bool legacy() const {
    return legacy_addr != std::string_view::npos || legacy_status != std::string_view::npos || legacy_vm;
  }
  [[nodiscard]] bool any() const {
    return page || l2 != std::string_view::npos || legacy() || decoded || iommu || evict || proc;
  }
};

namespace {

void take_address(Event& e, std::uint64_t a, bool repeat) {
  if (!repeat && !e.address)
    e.address = a;
  else if (e.address != a && e.other_addresses.size() < kMaxAddresses)
    e.other_addresses.push_back(a);
}

void page_line(Event& e, std::string_view line, bool repeat) {
  std::optional<std::uint64_t> addr;
  if (const auto a = text::after(line, "in page starting at address "))
    addr = text::parse_hex(*a);
  else if (const auto b = text::after(line, "at page "))
    addr = text::parse_hex(*b);
  if (addr) take_address(e, *addr, repeat);
  if (repeat && e.ih_client) return;
  std::optional<std::string_view> c = text::after(line, " from IH client ");
  if (!c) c = text::after(line, " from client ");
  if (!c) c = text::after(line, " from ");
  if (c) {
    if (const auto v = hex_or_dec(text::trim(*c)); v && *v <= 0xff) e.ih_client = static_cast<unsigned>(*v);
  }
}

// A status register line: a repeat keeps the status the event has unless that one says nothing.
// take_decoded: whether the decoded lines that follow belong to the status the event keeps.
void status_line(Event& e, std::string_view line, std::size_t l2, bool repeat, bool& take_decoded) {
  const auto v = text::parse_hex(line.substr(l2 + 25));
  if (!v || *v > 0xffffffffULL) return;
  const auto st = static_cast<std::uint32_t>(*v);
  const bool adopt = !repeat || !e.status || *e.status == 0 || e.degenerate_status;
  take_decoded = adopt && !(repeat && st == 0);
  if (!take_decoded) return;
  e.status = st;
  e.status_register = register_name(line, l2 + 24);
  e.gen = gen_of_register(e.status_register);
  e.degenerate_status = st == 0xffffffffU;
  e.client.clear();
  e.client_id.reset();
  e.more_faults = e.walker_error = e.permission_faults = e.mapping_error = e.rw = std::nullopt;
}

void decoded_line(Event& e, std::string_view line) {
  if (const auto c = text::after(line, "Faulty UTCL2 client ID:")) {
    std::string_view name = text::trim(*c);
    const auto paren = name.rfind(" (0x");
    if (paren != std::string_view::npos) {
      if (const auto id = text::parse_hex(name.substr(paren + 2)); id && *id <= 0x1ff)
        e.client_id = static_cast<unsigned>(*id);
      name = name.substr(0, paren);
    }
    e.client = text::printable(text::trim(name), 32);
    return;
  }
  auto set = [&](std::string_view key, std::optional<unsigned>& field) {
    const auto pos = line.find(key);
    if (pos == std::string_view::npos) return false;
    if (pos > 0 && line[pos - 1] != ' ' && line[pos - 1] != '\t') return false;
    if (const auto v = text::parse_hex(line.substr(pos + key.size())); v && *v <= 0xff)
      field = static_cast<unsigned>(*v);
    return true;
  };
  set("MORE_FAULTS: ", e.more_faults) || set("WALKER_ERROR: ", e.walker_error) ||
      set("PERMISSION_FAULTS: ", e.permission_faults) || set("MAPPING_ERROR: ", e.mapping_error) ||
      set("RW: ", e.rw);
}

void legacy_address_line(Event& e, std::string_view line, std::size_t at, bool repeat) {
  const std::string_view rest = text::trim(line.substr(at + 33));
  if (const auto page = text::parse_hex(rest); page && *page < (1ULL << 40)) take_address(e, *page << 12, repeat);
}

void legacy_status_line(Event& e, std::string_view line, std::size_t at, bool repeat) {
  const std::string_view rest = text::trim(line.substr(at + 35));
  if (const auto v = text::parse_hex(rest); v && *v <= 0xffffffffULL && (!repeat || !e.status)) {
    e.status = static_cast<std::uint32_t>(*v);
    e.status_register = "VM_CONTEXT1_PROTECTION_FAULT_STATUS";
    e.gen = Gen::kGfx8;
  }
}

// VM fault (0x01, vmid 1[, pasid N]) at page 73533277, read from 'TC3' (0x54433300) (196)
void legacy_vm_line(Event& e, std::string_view line, bool repeat) {
  if (!repeat || e.client.empty()) {
    if (const auto q = text::after(line, " from '")) {
      const auto end = q->find('\'');
      if (end != std::string_view::npos && end <= 8) e.client = text::printable(q->substr(0, end), 8);
      if (const auto last = line.rfind(" ("); last != std::string_view::npos) {
        if (const auto id = text::parse_dec(line.substr(last + 2)); id && *id <= 0xff)
          e.client_id = static_cast<unsigned>(*id);
      }
    }
    if (contains(line, ", write to '") || contains(line, ", write from '"))
      e.rw = 1;
    else if (contains(line, ", read from '"))
      e.rw = 0;
    if (const auto pr = text::after(line, "VM fault (")) {
      if (const auto v = text::parse_hex(*pr); v && *v <= 0xff) e.permission_faults = static_cast<unsigned>(*v);
    }
    if (!e.vmid) e.vmid = field_u(line, "vmid ");
    if (!e.pasid) e.pasid = field_u(line, "pasid ");
  }
  if (!e.address) {
    if (const auto pg = text::after(line, " at page ")) {
      if (const auto v = text::parse_dec(*pg); v && *v < (1ULL << 40)) e.address = *v << 12;
    }
  }
}

}  // namespace

// The open event takes one more report of the same fault (a storm repeats its header).
void Parser::attach_repeat(std::string_view line) {
  ++open_->records;
  open_->last_line = line_no_;
  add_evidence(*open_, line);
  repeat_ = true;
  take_decoded_ = false;
}

// "[gfxhub0] no-retry page fault (src_id:0 ring:24 vmid:3 pasid:32769[, for process ...])"
bool Parser::vm_header(std::string_view line, std::size_t pf, std::string_view dev, std::optional<double> t) {
  Event e;
  e.kind = "vm_fault";
  e.device = std::string(dev);
  e.time = t;
  const auto close = pf > 0 ? line.rfind(']', pf) : std::string_view::npos;
  const auto open = close != std::string_view::npos && close > 0 ? line.rfind('[', close) : std::string_view::npos;
  if (open != std::string_view::npos && close - open < 24) e.hub = text::printable(line.substr(open + 1, close - open - 1), 24);
  const std::string_view pre = line.substr(0, pf);
  if (contains(pre, "no-retry"))
    e.retry = false;
  else if (contains(pre, "retry"))
    e.retry = true;
  const std::string_view tail = line.substr(pf);
  e.src_id = field_u(tail, "src_id:");
  e.ring = field_u(tail, "ring:");
  e.vmid = field_u(tail, "vmid:");
  if (!e.vmid) e.vmid = field_u(tail, "vm_id:");
  e.pasid = field_u(tail, "pasid:");
  if (!e.pasid) e.pasid = field_u(tail, "pas_id:");
  parse_process(tail, e);
  if (open_ && open_->kind == "vm_fault" && open_->device == e.device && open_->hub == e.hub &&
      open_->pasid == e.pasid && open_->vmid == e.vmid && within(last_time_, t, kRepeatSeconds) &&
      line_no_ - open_->last_line <= kAttachLines) {
    attach_repeat(line);
    return true;
  }
  start(std::move(e));
  add_evidence(*open_, line);
  return true;
}

// gmc_v7/v8: "GPU fault detected: 146 0x0c880414" (kernels since 4.19 go on with " for process X pid N
// thread Y pid M", as gmc_v9's header does).
bool Parser::legacy_header(std::string_view line, std::string_view rest, std::string_view dev,
                           std::optional<double> t) {
  if (open_ && open_->kind == "legacy_vm_fault" && open_->device == dev && within(last_time_, t, kRepeatSeconds) &&
      line_no_ - open_->last_line <= kAttachLines) {
    attach_repeat(line);
    return true;
  }
  Event e;
  e.kind = "legacy_vm_fault";
  e.device = std::string(dev);
  e.time = t;
  e.gen = Gen::kGfx8;
  if (const auto src = text::parse_dec(text::trim(rest)); src && *src <= 0xffff) e.src_id = static_cast<unsigned>(*src);
  if (contains(rest, " for process ")) parse_process(rest, e);
  start(std::move(e));
  add_evidence(*open_, line);
  return true;
}

// The event a continuation line belongs to: the open VM fault, a new IOMMU event, or a new VM
// fault whose header was cut off. Returns false when the line is no event at all.
bool Parser::open_for(const VmLine& k, std::string_view dev, std::optional<double> t) {
  if (open_ && is_vm_fault(*open_) && can_attach(dev, t)) return true;
  if (k.iommu) {
    if (open_ && open_->kind == "iommu_fault" && can_attach(dev, t)) {
      ++open_->records;
    } else {
      Event e;
      e.kind = "iommu_fault";
      e.device = std::string(dev);
      e.time = t;
      e.iommu = true;
      start(std::move(e));
    }
    return true;
  }
  if (k.evict || k.decoded || k.proc) return false;  // stray continuation without a report: not an event
  Event e;
  e.kind = k.legacy() ? "legacy_vm_fault" : "vm_fault";
  e.device = std::string(dev);
  e.time = t;
  start(std::move(e));
  return true;
}

// An AMDGPU device coredump (amdgpu_devcoredump.c): "process_name: NAME PID: N", "IP Type: 0 Ring
// Name: gfx_0.0.0" (the ring that timed out), then "[gfxhub] Page fault observed", "Faulty page
// starting at address: 0x..", "Protection fault status register: 0x..". The fault section is the
// last fault the driver recorded; a zero status means none was.
bool Parser::try_coredump(std::string_view line, std::string_view dev, std::optional<double> t) {
  if (contains(line, "AMDGPU Device Coredump")) {
    cd_process_.clear();
    cd_ring_.clear();
    cd_pid_.reset();
    return false;
  }
  if (const auto p = text::after(line, "process_name: ")) {
    const auto pid = p->find(" PID: ");
    cd_process_ = text::printable(text::trim(p->substr(0, pid)), 64);
    if (pid != std::string_view::npos) {
      if (const auto v = text::parse_dec(p->substr(pid + 6)); v && *v < (1ULL << 40)) cd_pid_ = static_cast<long long>(*v);
    }
    return false;
  }
  if (const auto r = text::after(line, "Ring Name: ")) {
    const std::string_view name = text::trim(*r);
    cd_ring_ = text::printable(name.substr(0, name.find(' ')), 32);
    return false;
  }
  const auto observed = line.find("] Page fault observed");
  const bool in_section = open_ && open_->from_coredump && line_no_ - open_->last_line <= 4;
  if (observed == std::string_view::npos && !in_section) return false;
  if (observed != std::string_view::npos) {
    Event e;
    e.kind = "vm_fault";
    e.from_coredump = true;
    e.device = std::string(dev);
    e.time = t;
    const auto open = line.rfind('[', observed);
    if (open != std::string_view::npos && observed - open < 24) e.hub = text::printable(line.substr(open + 1, observed - open - 1), 24);
    e.process = cd_process_;
    e.pid = cd_pid_;
    e.timed_out_ring = cd_ring_;
    start(std::move(e));
    add_evidence(*open_, line);
  }
  Event& e = *open_;
  bool used = observed != std::string_view::npos;
  for (const std::string_view key : {std::string_view("Faulty page starting at address"), std::string_view("Faulty page start")}) {
    if (const auto a = text::after(line, key)) {
      std::string_view v = *a;
      while (!v.empty() && (v.front() == ':' || v.front() == ' ')) v.remove_prefix(1);
      if (const auto addr = text::parse_hex(v)) e.address = addr;
      used = true;
      break;
    }
  }
  for (const std::string_view key : {std::string_view("Protection fault status register"), std::string_view("Protection fault status")}) {
    if (const auto a = text::after(line, key)) {
      std::string_view v = *a;
      while (!v.empty() && (v.front() == ':' || v.front() == ' ')) v.remove_prefix(1);
      if (const auto st = text::parse_hex(v); st && *st <= 0xffffffffULL) {
        e.status = static_cast<std::uint32_t>(*st);
        e.status_register = "coredump fault status";
        e.degenerate_status = *st == 0xffffffffULL;
      }
      used = true;
      break;
    }
  }
  if (!used) return false;
  if (observed == std::string_view::npos) {
    e.last_line = line_no_;
    add_evidence(e, line);
  }
  return true;
}

bool Parser::try_kernel_vm(std::string_view line, std::string_view dev, std::optional<double> t) {
  if (const auto pf = line.find("page fault (src_id:"); pf != std::string_view::npos) return vm_header(line, pf, dev, t);
  if (const auto gf = text::after(line, "GPU fault detected:")) return legacy_header(line, *gf, dev, t);
  const VmLine k(line);
  if (!k.any()) return false;
  if (!open_for(k, dev, t)) return false;
  Event& e = *open_;
  e.last_line = line_no_;
  add_evidence(e, line);
  if (k.iommu) {
    e.iommu = true;
    return true;
  }
  if (k.evict) return true;  // an eviction notice: evidence only
  if (k.proc && !k.page) {
    if (e.process.empty() && !e.pid) parse_process(line, e);
  } else if (k.page) {
    page_line(e, line, repeat_);
  } else if (k.l2 != std::string_view::npos) {
    status_line(e, line, k.l2, repeat_, take_decoded_);
  } else if (k.decoded) {
    if (take_decoded_) decoded_line(e, line);
  } else if (k.legacy_addr != std::string_view::npos) {
    legacy_address_line(e, line, k.legacy_addr, repeat_);
  } else if (k.legacy_status != std::string_view::npos) {
    legacy_status_line(e, line, k.legacy_status, repeat_);
  } else if (k.legacy_vm) {
    legacy_vm_line(e, line, repeat_);
  }
  return true;
}

namespace {

struct UserPattern {
  std::string_view needle;
  bool icase;
  std::string_view kind;
};

// Order matters: the first match names the event's kind.
constexpr std::array kUserPatterns = {
    UserPattern{"Memory access fault by GPU", false, "hsa_memory_fault"},
    // The ROCr debug agent's own report of the same fault (rocr_debug_agent, wavefront dump follows).
    UserPattern{"Memory access fault at GPU Node", false, "hsa_memory_fault"},
    // The same line quoted with the reporter's elisions ("Memory access fault ... Page not present ...").
    UserPattern{"Memory access fault", false, "hsa_memory_fault"},
    // Mesa (RADV/radeonsi) reports of a lost context or a GPUVM fault: graphics clients.
    UserPattern{"GPUVM fault detected", false, "graphics_vm_fault"},
    UserPattern{"context is lost", false, "graphics_context_lost"},
    // Mesa's amdgpu winsys refusing a graphics command stream ("amdgpu: The CS has been rejected (%i),
    // but the context isn't robust."); Vulkan (VK_ERROR_DEVICE_LOST, vulkan-hpp's ErrorDeviceLost, as
    // DXVK/VKD3D-Proton and games print it) and Direct3D under Wine (DXGI_ERROR_DEVICE_REMOVED/HUNG/RESET)
    // losing their device: graphics clients.
    UserPattern{"The CS has been rejected", false, "graphics_context_lost"},
    UserPattern{"The CS has been cancelled", false, "graphics_context_lost"},
    UserPattern{"VK_ERROR_DEVICE_LOST", false, "graphics_context_lost"},
    UserPattern{"ErrorDeviceLost", false, "graphics_context_lost"},
    UserPattern{"DXGI_ERROR_DEVICE_REMOVED", false, "graphics_context_lost"},
    UserPattern{"DXGI_ERROR_DEVICE_HUNG", false, "graphics_context_lost"},
    UserPattern{"DXGI_ERROR_DEVICE_RESET", false, "graphics_context_lost"},
    // amdgpu_cs_ioctl: "Failed to initialize parser -125!" (ECANCELED: the submitting context was lost).
    // Command submission through the render node is Mesa's path; KFD (ROCm) queues never take it.
    UserPattern{"Failed to initialize parser -125", false, "graphics_context_lost"},
    UserPattern{"HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION", false, "hsa_aperture_violation"},
    // ROCr's status for a GPU memory access fault ("Queue error - HSA_STATUS_ERROR_MEMORY_FAULT").
    UserPattern{"HSA_STATUS_ERROR_MEMORY_FAULT", false, "hsa_memory_fault"},
    UserPattern{"HSA_STATUS_ERROR_INVALID_ISA", false, "hsa_invalid_isa"},
    UserPattern{"HSA_STATUS_ERROR_ILLEGAL_INSTRUCTION", false, "hsa_illegal_instruction"},
    UserPattern{"hipErrorIllegalAddress", false, "hip_illegal_address"},
    UserPattern{"illegal memory access", true, "hip_illegal_address"},
    UserPattern{"hipErrorNoBinaryForGpu", false, "no_code_object"},
    UserPattern{"hipErrorInvalidDeviceFunction", false, "no_code_object"},
    UserPattern{"invalid device function", true, "no_code_object"},
    UserPattern{"no kernel image is available", true, "no_code_object"},
    UserPattern{"Cannot find CO in the bundle", false, "no_code_object"},
    UserPattern{"No compatible code objects found", false, "no_code_object"},
    UserPattern{"Unable to find code object", false, "no_code_object"},
    // HIP's program_state (hip_hcc, early HIP-Clang) reads kernel metadata from the code objects built for
    // the device's ISA: "Missing metadata for __global__ function: NAME" means none carried the kernel.
    UserPattern{"Missing metadata for __global__ function", false, "no_code_object"},
    // CLR's hip_fatbin.cpp: "COMGR API could not find the CO for this GPU device/ISA".
    UserPattern{"could not find the CO for this GPU", false, "no_code_object"},
    // HIP's hipErrorInvalidImage ("device kernel image is invalid"): the code object does not load on the device.
    UserPattern{"hipErrorInvalidImage", false, "no_code_object"},
    UserPattern{"device kernel image is invalid", true, "no_code_object"},
    // Blender Cycles: "HIP binary kernel for this graphics card compute capability (gfx1010) not found."
    UserPattern{"binary kernel for this graphics card", false, "no_code_object"},
    // Ollama (gpu/amd_linux.go) found a GPU but no ROCm library with code for it.
    UserPattern{"no compatible rocm library found", true, "no_code_object"},
    // The runtime sees no usable GPU: HIP's hipErrorNoDevice ("no ROCm-capable device is detected"),
    // PyTorch ("No HIP GPUs are available"), Ollama ("no compatible amdgpu devices detected", "no compatible
    // GPUs were discovered"), rocBLAS/hipBLASLt ("Could not initialize Tensile host: No devices found").
    UserPattern{"hipErrorNoDevice", false, "no_gpu_device"},
    UserPattern{"no ROCm-capable device", true, "no_gpu_device"},
    UserPattern{"No HIP GPUs are available", false, "no_gpu_device"},
    UserPattern{"no compatible amdgpu devices", true, "no_gpu_device"},
    UserPattern{"no compatible GPUs were discovered", false, "no_gpu_device"},
    UserPattern{"Tensile host: No devices found", false, "no_gpu_device"},
    UserPattern{"Failed to get device count", false, "no_gpu_device"},  // hipGetDeviceCount failed
    // Stable Diffusion web UIs' start-up check: "Torch is not able to use GPU; add --skip-torch-cuda-test ...".
    UserPattern{"Torch is not able to use GPU", false, "no_gpu_device"},
    // rocminfo/rocm-smi without KFD ("ROCk module is NOT loaded, possibly no GPU devices", "Unable to open
    // /dev/kfd read-write: ..."); PyTorch builds without ROCm: a CPU wheel ("Torch not compiled with CUDA
    // enabled"), a CUDA wheel ("Found no NVIDIA driver on your system", "No CUDA GPUs are available").
    UserPattern{"ROCk module is NOT loaded", true, "no_gpu_device"},
    UserPattern{"Unable to open /dev/kfd", false, "no_gpu_device"},
    UserPattern{"Torch not compiled with CUDA enabled", false, "no_gpu_device"},
    UserPattern{"Found no NVIDIA driver", false, "no_gpu_device"},
    UserPattern{"No CUDA GPUs are available", false, "no_gpu_device"},
    // ggml: "ggml_cuda_init: failed to initialize ROCm: <HIP error string>" (a known string matched above).
    UserPattern{"failed to initialize ROCm", false, "no_gpu_device"},
    // rocBLAS could not load its Tensile library at all (its directory or files are missing).
    UserPattern{"Could not initialize Tensile host", false, "no_code_object"},
    UserPattern{"hipErrorOutOfMemory", false, "out_of_memory"},
    UserPattern{"hipErrorMemoryAllocation", false, "out_of_memory"},  // HIP's older name for it
    UserPattern{"OutOfMemoryError", false, "out_of_memory"},          // torch.OutOfMemoryError, torch.cuda.*
    UserPattern{"OUT_OF_DEVICE_MEMORY", false, "out_of_memory"},      // VK_ERROR_OUT_OF_DEVICE_MEMORY
    UserPattern{"ErrorOutOfDeviceMemory", false, "out_of_memory"},    // vulkan-hpp
    UserPattern{"OUT_OF_HOST_MEMORY", false, "out_of_memory"},        // VK_ERROR_OUT_OF_HOST_MEMORY
    UserPattern{"ErrorOutOfHostMemory", false, "out_of_memory"},
    UserPattern{"rocblas_status_memory_error", false, "out_of_memory"},
    // hipBLAS/cuBLAS-on-HIP statuses (hipblasStatus_t names): an allocation failed, or the build has no
    // kernels for the device's architecture.
    UserPattern{"BLAS_STATUS_ALLOC_FAILED", false, "out_of_memory"},
    UserPattern{"BLAS_STATUS_ARCH_MISMATCH", false, "no_code_object"},
    // hipBLASLt answers HIPBLAS_STATUS_NOT_SUPPORTED when it has no kernel for the device (PyTorch's
    // "CUDA error: HIPBLAS_STATUS_NOT_SUPPORTED when calling hipblasLtMatmul(...)").
    UserPattern{"BLAS_STATUS_NOT_SUPPORTED", false, "no_code_object"},
    UserPattern{"miopenStatusAllocFailed", false, "out_of_memory"},
    // MIOpen's HIP handle (handlehip.cpp), MIGraphX and RPP: "Memory not available to allocate buffer: N".
    UserPattern{"Memory not available to allocate buffer", false, "out_of_memory"},
    UserPattern{"OOM when allocating", false, "out_of_memory"},  // TensorFlow's ResourceExhaustedError
    UserPattern{"oom-kill", false, "out_of_memory"},             // the kernel's OOM killer
    // amdgpu_gem_object_create (DRM_ERROR before it became DRM_DEBUG): "Failed to allocate GEM object
    // (size, domain, alignment, -12)": no VRAM nor GTT left for a buffer.
    UserPattern{"Failed to allocate GEM object", false, "out_of_memory"},
    // Mesa's amdgpu winsys: "amdgpu: Not enough memory for command submission."
    UserPattern{"not enough memory", true, "out_of_memory"},  // Mesa: "Not enough memory for command submission."
    UserPattern{"std::bad_alloc", false, "out_of_memory"},
    UserPattern{"MemoryError", false, "out_of_memory"},           // Python's host allocation failure
    UserPattern{"Cannot allocate memory", false, "out_of_memory"},  // strerror(ENOMEM)
    // Ollama: "model requires more system memory (12.5 GiB) than is available (8.0 GiB)".
    UserPattern{"requires more system memory", false, "out_of_memory"},
    // torch-directml: "Could not allocate tensor with N bytes. There is not enough GPU video memory available"
    UserPattern{"not enough GPU video memory", true, "out_of_memory"},
    UserPattern{"out of memory", true, "out_of_memory"},
    // ROCr's OUT_OF_RESOURCES also covers threads, events and queues: no evidence of memory by itself.
    UserPattern{"HSA_STATUS_ERROR_OUT_OF_RESOURCES", false, "hsa_resources"},
    UserPattern{"-ENOMEM", false, "out_of_memory"},
    // A device the stack skips as unsupported: KFD ("kfd kfd: amdgpu: TAHITI  not supported in kfd",
    // "GC IP 090100 not supported in kfd"), Ollama ("unsupported Radeon iGPU detected skipping",
    // "amdgpu too old gfx803"). Notices: they decide the verdict only when nothing else happened.
    UserPattern{"not supported in kfd", false, "gpu_unsupported_notice"},
    UserPattern{"kfd not supported on this ASIC", false, "gpu_unsupported_notice"},  // older kernels
    UserPattern{"unsupported Radeon iGPU detected", false, "gpu_unsupported_notice"},
    UserPattern{"amdgpu too old", false, "gpu_unsupported_notice"},
    UserPattern{"rejects atomics", true, "pcie_atomics"},
    UserPattern{"atomics not supported", true, "pcie_atomics"},
    // KFD's interrupt FIFO overflowed: the GPU raised events (wave exceptions, faults) faster than
    // KFD handles them. The line names no cause by itself.
    UserPattern{"ih_fifo overflow", false, "kfd_interrupt_overflow"},
    // MES (gfx11+ firmware scheduler): "MES failed to response msg=%d" (older kernels), "MES failed to
    // respond to msg=%s", then "failed to remove hardware queue from MES", "MES might be in unrecoverable state".
    UserPattern{"MES failed to", false, "hang"},
    UserPattern{"MES might be in unrecoverable state", false, "hang"},
    UserPattern{"failed to remove hardware queue", false, "hang"},
    UserPattern{"failed to unmap legacy queue", false, "hang"},
    // KFD could not preempt its queues ("The cp might be in an unrecoverable state due to an unsuccessful
    // queues preemption", "Queue preemption time out") or evict a process ("Failed to evict process queues").
    UserPattern{"unsuccessful queues preemption", false, "hang"},
    UserPattern{"queue preemption time out", true, "hang"},  // also amdgpu_amdkfd's "cp queue preemption time out"
    UserPattern{"dequeue request time out", true, "hang"},   // "CP HQD dequeue request time out"
    UserPattern{"Resetting wave fronts", false, "hang"},
    UserPattern{"Failed to evict process queues", false, "hang"},
    UserPattern{"failed to halt cp", true, "hang"},
    UserPattern{"gpu_recover", false, "hang"},  // [drm:amdgpu_device_gpu_recover [amdgpu]] *ERROR* ...
    UserPattern{"GPU hung", true, "hang"},
    // Windows' AMD driver: "AMD Software has detected a driver timeout on your system."
    UserPattern{"driver timeout", true, "hang"},
    // ROCr's report of a hang the driver signalled: "HW Exception by GPU node-1 (Agent handle: %p) reason :GPU Hang".
    UserPattern{"HW Exception by GPU", false, "hang"},
    // radeon and early amdgpu fence watchdogs: "ring 0 stalled for more than 10240msec", "GPU lockup (current
    // fence id 0x.. last fence id 0x.. on ring 0)".
    UserPattern{"GPU lockup (current fence id", false, "hang"},
    UserPattern{"stalled for more than", false, "hang"},
    // smu_cmn: "SMU is in hanged state, failed to send smu message!" (the SMU firmware stopped answering).
    UserPattern{"SMU is in hanged state", false, "hang"},
    // HIP's hipErrorLaunchTimeOut ("the launch timed out and was terminated").
    UserPattern{"hipErrorLaunchTimeOut", false, "hang"},
    UserPattern{"launch timed out and was terminated", true, "hang"},
    // amdgpu 6.12+: per-ring reset ("Starting gfx_0.0.0 ring reset", "Ring %s reset succeeded|failure"),
    // the DRM wedged event, the IP state dump after a hang; display commits that never finish.
    UserPattern{"device wedged", false, "hang"},
    UserPattern{"Dumping IP State", false, "hang"},
    UserPattern{"flip_done timed out", false, "hang"},
    UserPattern{"commit wait timed out", false, "hang"},
    UserPattern{"Waiting for fences timed out", false, "hang"},
    // The SMU firmware stopped answering: "SMU: I'm not done with your previous command".
    UserPattern{"I'm not done with your previous command", false, "hang"},
    // The SMU firmware does not answer at all ("SMU: No response msg_reg: %x resp_reg: %x"), and what
    // amdgpu_device.c prints when a block then fails to start or come back ("hw_init of IP block <%s>
    // failed %d", "resume of IP block <%s> failed %d", "Fatal error during GPU init",
    // "amdgpu_device_ip_resume failed (%d)"); the PSP (security firmware) failing to resume or load its TMR.
    UserPattern{"SMU: No response msg_reg", false, "hang"},
    // smu_v11_0/smu_cmn: "failed send message: %10s (%d) \tparam: 0x%08x response %#x" (the SMU did not answer).
    UserPattern{"failed send message:", false, "hang"},
    UserPattern{"hw_init of IP block", false, "hang"},
    UserPattern{"resume of IP block", false, "hang"},
    UserPattern{"Fatal error during GPU init", false, "hang"},
    UserPattern{"amdgpu_device_ip_init failed", false, "hang"},
    UserPattern{"amdgpu_device_ip_resume failed", false, "hang"},
    UserPattern{"PSP resume failed", false, "hang"},
    UserPattern{"PSP load tmr failed", false, "hang"},
    UserPattern{"amdgpu_job_timedout", false, "hang"},
    // After a hang: the scheduler drops the guilty context's jobs ("[drm] Skip scheduling IBs!"), the reset
    // itself ("ASIC reset failed with error, -110"), KFD giving up on its queues ("qcm fence wait loop timeout
    // expired", "Pasid 0x8001 destroy queue 2 failed, ret -62").
    UserPattern{"Skip scheduling IBs", false, "hang"},
    UserPattern{"ASIC reset", false, "hang"},
    UserPattern{"fence wait loop timeout", false, "hang"},
    UserPattern{"GPU reset", true, "hang"},
    UserPattern{"MODE1 reset", false, "hang"},
    UserPattern{"MODE2 reset", false, "hang"},
    UserPattern{"BACO reset", false, "hang"},
    UserPattern{"GPU recovery", true, "hang"},
    UserPattern{"VRAM is lost", false, "hang"},
    UserPattern{"Failed to evict queue", false, "hang"},
    UserPattern{"Failed to suspend process", false, "hang"},
    UserPattern{"GPU hang", true, "hang"},
    UserPattern{"Timeout waiting for", false, "hang"},
    UserPattern{"device coredump", false, "hang"},
    UserPattern{"callbackQueue", false, "queue_abort"},
    UserPattern{"aborting with error", false, "queue_abort"},
    UserPattern{"HSA_STATUS_ERROR_", false, "hsa_error"},
    // Any other BLAS status error (HIPBLAS_STATUS_INTERNAL_ERROR, rocblas_status_internal_error, ...): a
    // library failure that names no cause by itself.
    UserPattern{"BLAS_STATUS_", false, "hsa_error"},
    UserPattern{"rocblas_status_", false, "hsa_error"},
    // Machine-check and PCIe AER reports: hardware errors outside the GPU stack's own messages.
    UserPattern{"[Hardware Error]", false, "hardware_error"},
    // A kernel oops (the driver itself crashed): "BUG: kernel NULL pointer dereference, address: ...", "BUG:
    // unable to handle page fault for address: ...", "kernel BUG at drivers/gpu/drm/...". Names no GPU-stack
    // cause by itself (weak); the trace that follows says which module.
    UserPattern{"BUG: kernel NULL pointer dereference", false, "kernel_bug"},
    UserPattern{"BUG: unable to handle page fault for address", false, "kernel_bug"},
    UserPattern{"kernel BUG at drivers/gpu/", false, "kernel_bug"},
    UserPattern{"PCIe Bus Error", false, "hardware_error"},
    // amdgpu_fence.c: "Fence fallback timer expired on ring %s": fences were found signalled without their
    // interrupt (interrupts lost or late). No cause by itself: weak, like a hardware-error report.
    UserPattern{"Fence fallback timer expired", false, "fence_fallback"},
    // A process died without a GPU-side message in the log: a signal, libstdc++'s uncaught-exception abort
    // ("terminate called after throwing an instance of 'X'"), CPython's "Fatal Python error: ...", ggml's
    // "GGML_ASSERT(x) failed", Ollama's "llama runner process has terminated: exit status N".
    UserPattern{"Segmentation fault", false, "process_crash"},
    UserPattern{"exit status 0xc0000005", false, "process_crash"},
    UserPattern{"core dumped", false, "process_crash"},
    UserPattern{"terminate called after throwing", false, "process_crash"},
    UserPattern{"Fatal Python error", false, "process_crash"},
    UserPattern{"GGML_ASSERT", false, "process_crash"},
    UserPattern{"llama runner process has terminated", false, "process_crash"},
    UserPattern{"llama runner terminated", false, "process_crash"},
    // The signal by name (Python's subprocess "died with <Signals.SIGSEGV: 11>", torchrun's "Signal 11 (SIGSEGV)
    // received"), Go's exec ("signal: aborted"), and Windows' fail-fast exit status (Ollama's runner).
    UserPattern{"SIGSEGV", false, "process_crash"},
    UserPattern{"SIGABRT", false, "process_crash"},
    UserPattern{"signal: aborted", false, "process_crash"},
    UserPattern{"exit status 0xc0000409", false, "process_crash"},
    // Windows' NTSTATUS of a crashed process however it is printed: STATUS_ACCESS_VIOLATION (0xC0000005,
    // "code -1073741819") and STATUS_STACK_BUFFER_OVERRUN (0xC0000409, "-1073740791"; abort()).
    UserPattern{"0xC0000005", true, "process_crash"},
    UserPattern{"0xC0000409", true, "process_crash"},
    UserPattern{"code -1073741819", false, "process_crash"},
    UserPattern{"code -1073740791", false, "process_crash"},
    UserPattern{"code 3221225477", false, "process_crash"},  // the same, unsigned ("exited with code ...")
    UserPattern{"code 3221226505", false, "process_crash"},
    // The shell's report of SIGILL (a CPU instruction the program's build needs, or a corrupt binary).
    UserPattern{"Illegal instruction", false, "process_crash"},
    // The kernel's own report of a user-space segfault: "python3[4242]: segfault at 0 ip ... error 4 in
    // libamdhip64.so[...]" (arch/x86/mm/fault.c show_signal_msg).
    UserPattern{"]: segfault at ", false, "process_crash"},
    // A Python exception (its traceback's header; a bare RuntimeError line is matched last, in
    // match_user_kind): the program failed; what failed is in other lines.
    UserPattern{"Traceback (most recent call last)", false, "app_error"},
};

// TensorFlow names the device after "AMDGPU version" / "AMDGPU ISA" (and a quoted "gfx 701" keeps its space).
std::string tensorflow_isa(std::string_view line) {
  for (const std::string_view key : {std::string_view("AMDGPU version"), std::string_view("AMDGPU ISA")}) {
    const auto k = line.find(key);
    if (k == std::string_view::npos) continue;
    std::string_view v = line.substr(k + key.size());
    while (!v.empty() && (v.front() == ' ' || v.front() == ':')) v.remove_prefix(1);
    if (!text::starts_with(v, "gfx")) continue;
    std::string isa = "gfx";
    v.remove_prefix(v.size() > 3 && v[3] == ' ' ? 4 : 3);
    for (std::size_t i = 0; i < v.size() && i < 4 && std::isxdigit(static_cast<unsigned char>(v[i])) != 0; ++i)
      isa += v[i];
    return isa.size() >= 6 ? isa : std::string();
  }
  return {};
}

// The status a line names: HSA_STATUS_ERROR_*, hipError*, or a BLAS library's status.
std::string status_token(std::string_view line) {
  for (const std::string_view prefix : {"HSA_STATUS_ERROR_", "hipError", "HIPBLAS_STATUS_", "CUBLAS_STATUS_",
                                        "rocblas_status_", "miopenStatus"})
    if (std::string t = find_token(line, prefix); !t.empty()) return t;
  return {};
}

// The number a HIP call's failure names: "failed(700)", "failed (700)", "hipError_t(700)", "error 700",
// "error code 700", "returned 700" (the number must end there).
std::optional<std::uint64_t> hip_status_number(std::string_view line) {
  for (const std::string_view pre : {"failed(", "failed (", "hipError_t(", "error code ", "error ", "returned "}) {
    for (std::size_t at = line.find(pre); at != std::string_view::npos; at = line.find(pre, at + 1)) {
      std::size_t used = 0;
      const std::string_view rest = line.substr(at + pre.size());
      const auto v = text::parse_dec(rest, &used);
      if (v && (used == rest.size() || rest[used] == ')' || rest[used] == ' ' || rest[used] == ',' || rest[used] == '.'))
        return v;
    }
  }
  return std::nullopt;
}

// The two-part patterns tried last (match_user_kind's tail): HIP statuses by number, generic library and
// driver errors, compilers that do not know the target, a bare Python exception.
std::string_view match_late_kind(std::string_view line) {
  // A HIP call's status by number ("hipStreamSynchronize(...) failed(700)", "hipError_t(98)"): the codes HIP
  // shares with CUDA since ROCm 3.x: 700 illegal address, 98 invalid device function, 209 no binary for the GPU.
  if (contains(line, "hip")) {
    if (const auto code = hip_status_number(line)) {
      if (*code == 700) return "hip_illegal_address";
      if (*code == 98 || *code == 209) return "no_code_object";
    }
  }
  // Any other HIP error (hipErrorLaunchFailure, "HIP error: ...", ggml's "ROCm error: ...", hipError_t(N)):
  // a GPU-side failure that names no cause the rules know. Better an event of its own than no event.
  if (contains(line, "hipError") || icontains(line, "HIP error:") || icontains(line, "ROCm error:"))
    return "hsa_error";
  // The driver core's "amdgpu: probe of 0000:03:00.0 failed with error -22": the device never came up.
  if (contains(line, "probe of ") && contains(line, "failed with error") && icontains(line, "amdgpu")) return "hang";
  if (contains(line, "destroy queue") && contains(line, "failed, ret -62")) return "hang";  // -ETIME
  // The PM core's "PM: pci_pm_suspend(): amdgpu_pmops_suspend+0x0/0x80 [amdgpu] returns -19" (dpm_run_callback's
  // "%s(): %ps returns %d") and amdgpu's "evicting device resources failed" before it: the driver could not
  // suspend or resume the GPU, a block that stopped answering.
  if ((contains(line, "amdgpu_pmops_") && contains(line, " returns -")) ||
      contains(line, "evicting device resources failed"))
    return "hang";
  // Any other timeout the driver reports as an error ("[drm:psp_v11_0_... [amdgpu]] *ERROR* ... timed out",
  // dc_dmub_srv's "Error waiting for DMUB idle", the display firmware): a block stopped answering.
  if (contains(line, "Error waiting for DMUB idle") ||
      (contains(line, "*ERROR*") && icontains(line, "amdgpu") &&
       (icontains(line, "timeout") || icontains(line, "timed out"))))
    return "hang";
  // amdgpu RAS: "%ld uncorrectable hardware errors detected in %s block" (and the correctable twin).
  if (contains(line, "hardware errors detected")) return "hardware_error";
  // Any other "rocBLAS error: ..." (the missing-Tensile-file and no-device forms are matched above).
  if (contains(line, "rocBLAS error")) return "hsa_error";
  // PyTorch's hipified messages keep CUDA's wording ("RuntimeError: CUDA error: unspecified launch failure"),
  // and MIOpen reports its failures as "MIOpen Error: ..." / miopenStatus*: a GPU-library failure, no cause.
  if (contains(line, "CUDA error:") || contains(line, "MIOpen Error") || contains(line, "MIOpen(HIP): Error") ||
      contains(line, "miopenStatus"))
    return "hsa_error";
  // LLVM's "'gfx1150' is not a recognized processor for this target (ignoring processor)": the compiler
  // (a JIT: Triton, MIOpen, the OpenCL runtime) does not know the device's target, so it builds no code for it.
  if (contains(line, "is not a recognized processor for this target") && contains(line, "'gfx"))
    return "no_code_object";
  // clang's "error: unsupported HIP gpu architecture: gfx1150" (a toolchain too old for the target; a JIT such as
  // Triton or a source build hits it).
  if (icontains(line, "unsupported HIP gpu architecture") && contains(line, "gfx")) return "no_code_object";
  // The last line of a Python exception pasted alone, when no pattern above names what failed.
  if (contains(line, "RuntimeError: ")) return "app_error";
  return {};
}

std::string_view match_user_kind_at(std::string_view line, int depth);

std::string_view match_user_kind(std::string_view line) { return match_user_kind_at(line, 0); }

// depth: how many crash needles were already skipped on this line (at most kCrashRescans, so that a line
// of a million "Segmentation fault"s is read in three scans, not a million).
std::string_view match_user_kind_at(std::string_view line, int depth) {
  constexpr int kCrashRescans = 2;
  // The shell's report of SIGABRT on a line of its own ("Aborted"; "... Aborted (core dumped)" is matched below).
  if (text::trim(line) == "Aborted") return "process_crash";
  // The shell's report of SIGKILL ("Killed"; most often the kernel's OOM killer, which names itself elsewhere).
  if (text::trim(line) == "Killed") return "process_crash";
  // ROCr's hardware exception with reset cause ECC ("HW Exception by GPU node-N (Agent handle: %p) reason :ECC";
  // the other cause it prints is "GPU Hang"): an uncorrectable memory error, not a hang of the program's work.
  if (contains(line, "HW Exception by GPU") && contains(line, "reason :ECC")) return "hardware_error";
  // A failed open of KFD's device node (strace's "openat(AT_FDCWD, \"/dev/kfd\", O_RDWR|O_CLOEXEC) = -1 ENOMEM
  // (Cannot allocate memory)"): no compute device, whatever the errno says.
  if (contains(line, "/dev/kfd") && contains(line, "= -1 ")) return "no_gpu_device";
  for (const auto& p : kUserPatterns) {
    if (!(p.icase ? icontains(line, p.needle) : contains(line, p.needle))) continue;
    // A crash is weak evidence; a runner that prints the child's own error after it on the same line ("llama
    // runner process has terminated: signal: aborted (core dumped) error:Cannot read .../TensileLibrary.dat: ...")
    // is read by that error.
    if (p.kind == "process_crash" && depth < kCrashRescans) {
      const std::size_t at = line.find(p.needle);  // a case-blind match in another case keeps the crash
      if (at != std::string_view::npos) {
        const std::string_view after = line.substr(at + p.needle.size());
        const std::string_view k = match_user_kind_at(after, depth + 1);
        if (!k.empty() && k != "process_crash") return k;
      }
    }
    return p.kind;
  }
  // Patterns that need two parts.
  if (contains(line, "TensileLibrary") &&
      (contains(line, "No such file") || contains(line, "Cannot read") || contains(line, "not found")))
    return "no_code_object";
  // TensorFlow/XLA skip a device their build has no target for: "Ignoring visible gpu device (...) with
  // AMDGPU version : gfx1100. The supported AMDGPU versions are gfx1030, gfx900, ...", TF 1.x "with
  // AMDGPU ISA gfx801. The minimum required AMDGPU ISA is gfx803", XLA "is of unsupported AMDGPU version".
  if ((contains(line, "Ignoring visible gpu device") || contains(line, "of unsupported")) &&
      (contains(line, "AMDGPU version") || contains(line, "AMDGPU ISA")))
    return "no_code_object";
  // rocBLAS found no code-object file for the device's target in its library directory ("rocBLAS
  // warning: No paths matched /opt/rocm/lib/rocblas/library/*gfx1010*co."). hipBLASLt prints the
  // same warning on every GPU it does not cover while PyTorch goes on with rocBLAS: not evidence.
  if (contains(line, "No paths matched") && contains(line, "*gfx") && !icontains(line, "hipblaslt") &&
      !icontains(line, "rocblaslt"))
    return "no_code_object";
  // A library's list of the targets it carries, without the device's (Ollama: "gfx1010 is not
  // supported by .../rocm [gfx1030 ...]", "amdgpu is not supported (supported types:[...])").
  if (contains(line, "not supported") && contains(line, "gfx") &&
      (contains(line, "supported types") || contains(line, "supported_types") || contains(line, "not supported by")))
    return "no_code_object";
  if (icontains(line, "pcie atomic") &&
      (icontains(line, "not supported") || icontains(line, "unsupported") || icontains(line, "fail") ||
       icontains(line, "disabled")))
    return "pcie_atomics";
  if ((contains(line, " (-12)") || contains(line, "error -12")) && (icontains(line, "amdgpu") || icontains(line, "kfd")))
    return "out_of_memory";
  if (const auto r = line.find("ring "); r != std::string_view::npos && contains(line.substr(r), " timeout"))
    return "hang";
  // amdgpu 6.12+ per-ring reset: "Starting gfx_0.0.0 ring reset", "Ring gfx_0.0.0 reset succeeded|failure".
  if (contains(line, " ring reset") ||
      (contains(line, "Ring ") && (contains(line, " reset succeeded") || contains(line, " reset failure"))))
    return "hang";
  // A ring or IB test that fails (init, resume, after a reset): "ring kiq_2.1.0 test failed (-110)",
  // "IB test failed on gfx_0.0.0 (-110)".
  if ((contains(line, "ring ") || contains(line, "IB test")) && contains(line, "test failed")) return "hang";
  // llama.cpp/ggml: "unable to allocate ROCm0 buffer", "failed to allocate ROCm0 buffer of size N",
  // ggml-vulkan's "Device memory allocation of size N failed".
  // TensorFlow's ROCm driver: "failed to allocate 7.35G (7889485824 bytes) from device: hipError_t(1002)".
  if ((icontains(line, "unable to allocate") || icontains(line, "failed to allocate")) &&
      (contains(line, " buffer") || contains(line, " bytes")))
    return "out_of_memory";
  if (icontains(line, "memory allocation of size") && contains(line, "failed")) return "out_of_memory";
  return match_late_kind(line);
}


// What a pasted copy puts before the log's own text: Markdown quote markers ("> ", nested "> > ")
// and syslog/printk level prefixes ("<4>[ 12.3] ...", "<3>amdgpu ..."), with any indentation before
// them. A line without such a marker is kept as it is (its indentation can be part of the format).
std::string_view strip_paste_prefix(std::string_view line) {
  std::string_view v = line;
  bool stripped = false;
  for (int round = 0; round < 8; ++round) {
    const auto start = v.find_first_not_of(" \t");
    if (start == std::string_view::npos) break;
    const std::string_view w = v.substr(start);
    if (w.front() == '>') {
      v = w.substr(w.size() > 1 && w[1] == ' ' ? 2 : 1);
      stripped = true;
      continue;
    }
    if (w.front() == '<') {
      std::size_t i = 1;
      while (i <= 3 && digit_at(w, i)) ++i;
      if (i > 1 && i < w.size() && w[i] == '>') {
        v = w.substr(i + 1);
        stripped = true;
        continue;
      }
    }
    break;
  }
  return stripped ? v : line;
}

// Spaces as a web page's copy gives them: no-break spaces (U+00A0, U+202F) for runs of spaces and
// indentation, zero-width spaces (U+200B) and stray byte-order marks (U+FEFF) inside the text.
constexpr std::array<std::string_view, 4> kWebSpaces = {"\xC2\xA0", "\xE2\x80\xAF", "\xE2\x80\x8B", "\xEF\xBB\xBF"};

bool has_web_spaces(std::string_view line) {
  return std::any_of(kWebSpaces.begin(), kWebSpaces.end(), [&](std::string_view w) { return contains(line, w); });
}

// The line with no-break spaces as spaces and zero-width characters dropped.
std::string plain_spaces(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size();) {
    const std::string_view rest = line.substr(i);
    const auto web = std::find_if(kWebSpaces.begin(), kWebSpaces.end(),
                                  [&](std::string_view w) { return text::starts_with(rest, w); });
    if (web == kWebSpaces.end()) {
      out += line[i++];
      continue;
    }
    if (web - kWebSpaces.begin() < 2) out += ' ';  // the no-break spaces; the zero-width ones go
    i += web->size();
  }
  return out;
}

// What one line alone would be read as (the event kind it starts, or the kind of kernel report line).
std::string_view line_kind(std::string_view line) {
  if (contains(line, "page fault (src_id:")) return "vm_header";
  if (contains(line, "GPU fault detected:")) return "legacy_header";
  if (contains(line, "_PROTECTION_FAULT_STATUS")) return "vm_status";
  if (contains(line, "in page starting at address ")) return "vm_page";
  if (contains(line, "Faulty UTCL2 client ID:")) return "vm_decoded";
  return match_user_kind(line);
}

// The line starts a log record of its own: a kernel or dmesg -T timestamp, a journal/syslog or ISO
// date, a bracketed tag, a key=value record (Go's slog: "time=..."), or indentation (decoded fields,
// traceback frames). Such a line is never the rest of the line before it.
bool starts_record(std::string_view line) {
  if (line.empty() || line.front() == ' ' || line.front() == '\t' || line.front() == '[') return true;
  if (parse_time(line)) return true;
  if (line.size() >= 10 && digit_at(line, 0) && digit_at(line, 1) && digit_at(line, 2) && digit_at(line, 3) &&
      line[4] == '-')
    return true;  // 2024-12-02 01:02:03 (TensorFlow, Python logging)
  return text::starts_with(line, "time=");
}

// The line's first word is a tag ending in ':' ("zsh:", "kernel:", "free():", "err:vkd3d-proton:...:",
// "amdgpu 0000:03:00.0:" is caught as its own record by its device): a record of its own.
bool tagged(std::string_view line) {
  const std::string_view word = line.substr(0, line.find(' '));
  return !word.empty() && word.back() == ':';
}

// The line starts with a lower-case word of letters (a sentence's next word, not a path, a
// package name or a tag); a double space later means aligned columns (a table), not prose.
bool plain_word_first(std::string_view line) {
  std::string_view word = line.substr(0, line.find(' '));
  while (!word.empty() && (word.back() == '.' || word.back() == ',' || word.back() == '!' || word.back() == ';'))
    word.remove_suffix(1);
  if (word.empty() || word.front() < 'a' || word.front() > 'z') return false;
  return std::all_of(word.begin(), word.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); });
}

// Brackets, parentheses or double quotes opened and not closed: a line cut before its end.
bool left_open(std::string_view line) {
  int paren = 0, square = 0;
  bool quote = false;
  for (const char c : line) {
    paren += c == '(' ? 1 : c == ')' ? -1 : 0;
    square += c == '[' ? 1 : c == ']' ? -1 : 0;
    quote ^= c == '"';
  }
  return paren > 0 || square > 0 || quote;
}

// A kernel fault-report line cut before the end of its format: the 5.x-6.x header ("[gfxhub0] no-retry page
// fault (src_id:%u ring:%u vmid:%u pasid:%u, for process ...)") before its closing parenthesis, the page line
// before its client, the gmc_v7/v8 line before its client.
bool kernel_fault_line_cut(std::string_view line) {
  const std::string_view t = text::trim(line);
  if (!(contains(t, "amdgpu") || contains(t, "radeon"))) return false;
  if (contains(t, "page fault (") && left_open(t)) return true;
  if (contains(t, "in page starting at address ") && !contains(t, " from ")) return true;
  return contains(t, "VM fault (0x") && !contains(t, " from '");
}

// A fault-report line cut before the end its format string gives it: the kernel's process line names
// the thread and ends with its pid ("... pid %d thread %s pid %d", ")" in the 5.x header), the page line
// names the client ("in page starting at address 0x.. from client N"), the gmc_v7/v8 line the client
// ("VM fault (0x%02x, vmid %d) at page %u, %s from '%s' (0x%08x) (%d)"), and ROCr's fault line its
// reason ("Memory access fault by GPU node-%u (Agent handle: %p) on address %p%s. Reason: %s."); the page
// and gmc_v7/v8 lines also without the device prefix kernel_fault_line_cut asks for.
bool format_line_cut(std::string_view line) {
  const std::string_view t = text::trim(line);
  if (t.empty()) return false;
  const bool kernel = contains(t, "amdgpu") || contains(t, "radeon");
  const bool proc = contains(t, " for process") || contains(t, " in process") || contains(t, " Process ") ||
                    text::starts_with(t, "Process ") || t.ends_with(" Process");
  if (kernel && proc && (!contains(t, " thread ") || (!digit_at(t, t.size() - 1) && t.back() != ')'))) return true;
  if (kernel_fault_line_cut(t)) return true;
  if (contains(t, "in page starting at address ") && !contains(t, " from ")) return true;
  if (contains(t, "VM fault (0x") && !contains(t, " from '")) return true;
  return contains(t, "Memory access fault by GPU node-") && !contains(t, "Reason:");
}

// True when `next` is the rest of `held`, a long line that the pasted copy wrapped (a GitHub or
// mail rendering, a terminal copy): `next` starts no record of its own, and `held` is a kernel fault
// line its format shows cut (whatever its width), a fault header whose process part went to `next`, or
// a line past the width a copy wraps at where either the two only make sense together (joined they are a
// message that neither half is, as "RuntimeError: Could not allocate tensor ... There is not enough" +
// "GPU video memory available!"), or `held` is visibly cut (an open bracket or quote, a line missing the
// end of its format) and `next` is nothing by itself, or a sentence goes on with a lower-case word.
bool continues_wrapped(const std::string& held, std::size_t tail_columns, std::string_view next) {
  if (held.size() > kWrapMaxBytes || next.size() > kWrapMaxBytes || starts_record(next)) return false;
  // A fault report's line its format shows cut goes on whatever its width (the copy may have dropped the
  // timestamps the wrap counted), as does a fault header whose process part went to the next line
  // ("GPU fault detected: 147 0x00020802" + "for process X pid N thread Y pid M").
  if (kernel_fault_line_cut(held)) return line_kind(next).empty();
  if ((text::starts_with(next, "for process ") || text::starts_with(next, "in process ")) && contains(next, " pid ") &&
      (contains(held, "GPU fault detected:") || contains(held, "page fault")))
    return true;
  if (tail_columns < kWrapMinColumns) return false;
  const std::string joined = held + " " + std::string(next);
  const std::string_view kj = line_kind(joined), kh = line_kind(held), kn = line_kind(next);
  if (!kj.empty() && kj != kh && kj != kn) return true;
  if (!kn.empty()) return false;
  // A line its format shows cut goes on on the next line, even one that reads like a tag ("Reason: ...").
  if (format_line_cut(held)) return true;
  if (tagged(next)) return false;
  if (left_open(held)) return true;
  // A sentence that goes on: wrapped after a word, the next piece starts with a lower-case word.
  const char last = held.back();
  return ((last >= 'a' && last <= 'z') || last == ',' || last == ' ') && plain_word_first(next) &&
         !contains(next, "  ");
}

}  // namespace

void Parser::feed(std::string_view raw) {
  ++seen_;
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  std::string plain;
  if (has_web_spaces(raw)) {
    plain = plain_spaces(raw);
    raw = plain;
  }
  const std::string_view line = strip_paste_prefix(raw);
  // A block pasted with one indentation (a forum's or mail's code block): the pieces of a wrapped line
  // start at the same column as the line itself, so they are compared without it.
  const std::size_t indent = std::min(line.find_first_not_of(" \t"), line.size());
  const std::string_view piece = held_indent_ > 0 && indent == held_indent_ ? line.substr(indent) : line;
  if (held_no_ != 0 && held_pieces_ < kWrapMaxPieces && continues_wrapped(held_, held_tail_, piece)) {
    held_ += ' ';
    held_ += piece;
    ++held_pieces_;
    held_tail_ = raw.size();
    return;
  }
  read_held();
  held_.assign(line);
  held_no_ = seen_;
  held_pieces_ = 1;
  held_tail_ = raw.size();
  held_indent_ = indent;
}

void Parser::read_held() {
  if (held_no_ == 0) return;
  line_no_ = held_no_;
  held_no_ = 0;
  const std::string line = std::move(held_);
  held_.clear();
  read_line(line);
}

void Parser::skip_line() {
  read_held();
  line_no_ = ++seen_;
}

bool Parser::try_userspace(std::string_view line, std::string_view dev, std::optional<double> t) {
  // Continuations of an open userspace event.
  if (open_ && open_->kind == "no_code_object" && line_no_ - open_->last_line <= 2 && contains(line, "for ISA:")) {
    open_->last_line = line_no_;
    add_evidence(*open_, line);
    if (open_->isa.empty()) open_->isa = find_isa(line);
    const auto lib = text::trim(line.substr(0, line.find(" for ISA:")));
    if (open_->library.empty() && !lib.empty() && lib.front() == '/') open_->library = text::printable(lib, 200);
    return true;
  }
  if (open_ && open_->kind == "queue_abort" && line_no_ - open_->last_line <= 12 &&
      (contains(line, "DynamicScratchHandler") || contains(line, "AsyncEventsLoop") ||
       contains(line, "libhsa-runtime64") || contains(line, "ThreadTrampoline"))) {
    open_->last_line = line_no_;
    add_evidence(*open_, line);
    return true;
  }

  const std::string_view kind = match_user_kind(line);
  if (kind.empty()) return false;

  Event e;
  e.kind = std::string(kind);
  e.device = std::string(dev);
  e.time = t;
  e.isa = find_isa(line);
  if (const auto gt = text::after(line, "gpu_type=")) e.isa = find_isa(*gt);  // not a listed supported type
  if (kind == "no_code_object") {
    if (std::string tf = tensorflow_isa(line); !tf.empty()) e.isa = std::move(tf);
  }
  if (const auto g = line.find("*gfx"); g != std::string_view::npos && kind == "no_code_object")
    e.isa = find_isa(line.substr(g + 1));  // rocBLAS's glob names the device's target, not a path
  e.hsa_status = status_token(line);

  if (kind == "hsa_memory_fault") {
    if (const auto n = text::after(line, "GPU node-"); n) {
      if (const auto v = text::parse_dec(*n); v && *v <= 0xffff) e.node = static_cast<unsigned>(*v);
    }
    if (const auto a = text::after(line, " on address ")) {
      // "(nil)" is ROCr printing a missing address, not a null pointer: leave the address unknown.
      if (!text::starts_with(*a, "(nil)")) {
        if (const auto v = text::parse_hex(*a)) e.address = v;
      }
    }
    if (const auto r = text::after(line, "Reason: ")) {
      std::string_view reason = *r;
      const auto dot = reason.find('.');
      if (dot != std::string_view::npos) reason = reason.substr(0, dot);
      e.fault_reason = text::printable(text::trim(reason), 120);
      if (e.fault_reason == "Unknown" || e.fault_reason == "unknown") e.fault_reason.clear();  // no reason given
    }
  }

  // Merge: the same kind again right away (repeated lines, a reset sequence).
  if (open_ && open_->kind == e.kind) {
    const bool hang = kind == "hang" && line_no_ - open_->last_line <= kHangLines &&
                      within(last_time_, t, kHangSeconds) &&
                      (dev.empty() || open_->device.empty() || dev == open_->device);
    const bool repeat = kind != "hang" && line_no_ - open_->last_line <= 3 && open_->hsa_status == e.hsa_status &&
                        open_->address == e.address;
    if (hang || repeat) {
      ++open_->records;
      open_->last_line = line_no_;
      if (open_->device.empty()) open_->device = e.device;
      add_evidence(*open_, line);
      return true;
    }
  }
  start(std::move(e));
  add_evidence(*open_, line);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Classification

std::optional<std::string> target_override_value(std::string_view target) {
  target = target.substr(0, target.find(':'));
  if (!text::starts_with(target, "gfx") || target.size() < 6 || target.size() > 7) return std::nullopt;
  const std::string_view d = target.substr(3);
  for (const char c : d)
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) return std::nullopt;
  const std::string_view major = d.substr(0, d.size() - 2);
  for (const char c : major)
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return std::nullopt;
  auto hex = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0 ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string v = fmt::format("{}.{}.{}", major, hex(d[d.size() - 2]), hex(d[d.size() - 1]));
  if (override_target(v) != std::string(target)) return std::nullopt;
  return v;
}

namespace {
// Targets of `list` that code for `native` could come from: the GPU's own family.
bool any_within_family(std::string_view native, const std::vector<std::string>& list) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& t) { return override_within_family(native, t); });
}
}  // namespace

std::optional<std::string> library_foreign_only(const Context& ctx) {
  if (ctx.gfx.empty() || ctx.library_targets.empty() || any_within_family(ctx.gfx, ctx.library_targets))
    return std::nullopt;
  return fmt::format("the library lists code objects only for {} ({}), none for this {} GPU's family, so the code "
                     "that ran was built for another ISA",
                     fmt::join(ctx.library_targets, " "), ctx.library_targets_source, ctx.gfx);
}

std::optional<std::string> override_mismatch(const Context& ctx) {
  if (ctx.gfx.empty()) return std::nullopt;
  if (ctx.override_version.empty()) {
    // The runtime names the device by another family's target: an override is in effect even
    // where the log does not show the variable (rocminfo/llama.cpp/rocBLAS print the ISA it runs).
    if (ctx.runtime_targets.empty() || any_within_family(ctx.gfx, ctx.runtime_targets)) return std::nullopt;
    const std::string& seen = ctx.runtime_targets.front();
    const auto value = target_override_value(seen);
    return fmt::format("the runtime runs this {} GPU as {} ({}): an HSA_OVERRIDE_GFX_VERSION{} is in effect and "
                       "loads {} code",
                       ctx.gfx, seen, ctx.runtime_targets_source, value ? "=" + *value : std::string(), seen);
  }
  const auto target = override_target(ctx.override_version);
  if (!target || override_within_family(ctx.gfx, *target)) return std::nullopt;
  return fmt::format("HSA_OVERRIDE_GFX_VERSION={} makes the runtime load {} code on this {} GPU", ctx.override_version,
                     *target, ctx.gfx);
}

namespace {

// Events that name the GPU's support but not what failed: a device the stack skipped at start-up
// (another GPU may be the one in use), and a failure without a cause of its own (a crash, an abort, a
// resource error) on a GPU ROCm does not support. They decide a log only when nothing else does.
bool weak_evidence(const Event& e) {
  // "No usable GPU" says what is missing, not why: a skipped-device notice or any failure explains it.
  // A hardware error report (MCE, AER) names no GPU-stack cause either.
  // So do lost fence interrupts, and a program's exception whose traceback names nothing on the GPU side.
  if (e.kind == "gpu_unsupported_notice" || e.kind == "no_gpu_device" || e.kind == "hardware_error" ||
      e.kind == "fence_fallback" || e.kind == "app_error" || e.kind == "kernel_bug")
    return true;
  if (e.rule == "crash_with_upstream_torch_wheel" || e.rule == "unsupported_gpu_fault" ||
      e.rule == "library_error_without_target_build" || e.rule == "crash_under_override")
    return true;
  return e.rule == "unsupported_gpu_failure" && e.kind != "hsa_invalid_isa" && e.kind != "hsa_illegal_instruction";
}

// Faults that a hang or reset earlier in the log explains (the reset is the event, they follow it).
bool follows_reset(FaultClass c) {
  return c == FaultClass::kVmFaultBadAddress || c == FaultClass::kGraphicsFault || c == FaultClass::kVmFaultOther;
}

}  // namespace

Verdict make_verdict(const std::vector<Event>& events, const Context& ctx) {
  Verdict v;
  if (events.empty()) {
    v.cls = FaultClass::kNone;
    v.summary = "no GPU fault, code-object, reset or memory error lines found";
    v.advice = class_advice(FaultClass::kNone, ctx, {});
    if (const auto m = override_mismatch(ctx)) v.evidence.push_back(*m + " (no failure in this log yet)");
    return v;
  }
  for (FaultClass c : classes_by_rank()) {
    std::size_t n = 0;
    const Event* first = nullptr;
    for (const auto& e : events)
      if (e.cls == c) {
        ++n;
        if (first == nullptr) first = &e;
      }
    if (first == nullptr) continue;
    // Weak evidence (a start-up notice, a crash on an unsupported GPU) names the verdict only when
    // nothing stronger is in the log.
    if (std::all_of(events.begin(), events.end(), [&](const Event& e) { return e.cls != c || weak_evidence(e); }) &&
        std::any_of(events.begin(), events.end(), [&](const Event& e) { return !weak_evidence(e); }))
      continue;
    if (follows_reset(c)) {
      // A hang or reset before the first such fault is the event; the faults are its consequences.
      const Event* hang = nullptr;
      for (const auto& e : events)
        if (e.cls == FaultClass::kHangOrReset && (hang == nullptr || e.first_line < hang->first_line)) hang = &e;
      if (hang != nullptr && hang->first_line < first->first_line) {
        c = FaultClass::kHangOrReset;
        first = hang;
        n = 0;
        for (const auto& e : events) n += e.cls == c ? 1 : 0;
      }
    }
    v.cls = c;
    v.summary = fmt::format("{}: {} ({} of {} events; first at line {})", class_name(c), first->reason, n,
                            events.size(), first->first_line);
    v.advice = class_advice(c, ctx, first->isa);
    for (const auto& e : events)
      if (e.cls == c && v.evidence.size() < 4 && !e.lines.empty()) v.evidence.push_back(e.lines.front());
    break;
  }
  if (!ctx.override_version.empty() && v.cls != FaultClass::kIsaMismatch) {
    const auto target = override_target(ctx.override_version);
    v.evidence.push_back(fmt::format("HSA_OVERRIDE_GFX_VERSION={} is set ({}){}", ctx.override_version,
                                     ctx.override_source.empty() ? "context" : ctx.override_source,
                                     ctx.gfx.empty() && target
                                         ? fmt::format(": if the GPU is not {}, that mismatch is the likely cause", *target)
                                         : ""));
  }
  return v;
}

std::size_t front_matter_lines(std::string_view text) {
  if (!text::starts_with(text, "---\n")) return 0;
  std::size_t pos = 4;
  std::size_t n = 1;
  while (pos < text.size() && n < 200) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    ++n;
    if (text.substr(pos, nl - pos) == "---") return n;
    pos = nl + 1;
  }
  return 0;  // unterminated: treat everything as log text
}

Context context_from_front_matter(std::string_view text) {
  Context ctx;
  const std::size_t n = front_matter_lines(text);
  std::size_t pos = 0;
  for (std::size_t i = 0; i < n && pos < text.size(); ++i) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (const auto g = text::after(line, "gpu:"); g && text::starts_with(line, "gpu:")) {
      std::string isa = find_isa(*g);
      isa = isa.substr(0, isa.find(':'));
      ctx.gfx = isa;
    } else if (const auto rv = text::after(line, "rocm:"); rv && text::starts_with(line, "rocm:")) {
      // "4.0.0", "3.x (2020)", "2.1 (rocm/tensorflow:... container)"; prose ("the release shipping ...") says none.
      ctx.rocm_version = rocm_release(text::trim(*rv));
      if (!ctx.rocm_version.empty()) ctx.rocm_version_source = "front matter rocm";
    } else if (const auto o = text::after(line, "env_override:"); o && text::starts_with(line, "env_override:")) {
      std::string_view v = text::trim(*o);
      // "none ..." / "unknown" mean no override even when the prose quotes one; otherwise the
      // first X.Y.Z in the field ("set, left over from another card (... i.e. 10.3.0)").
      if (text::starts_with(v, "none") || text::starts_with(v, "unknown") || text::starts_with(v, "n/a")) continue;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (std::isdigit(static_cast<unsigned char>(v[i])) == 0 || (i > 0 && std::isalnum(static_cast<unsigned char>(v[i - 1])) != 0))
          continue;
        std::size_t end = i;
        while (end < v.size() && end - i < 12 && (std::isdigit(static_cast<unsigned char>(v[end])) != 0 || v[end] == '.'))
          ++end;
        if (override_target(v.substr(i, end - i))) {
          ctx.override_version = std::string(v.substr(i, end - i));
          ctx.override_source = "front matter env_override";
          break;
        }
      }
    }
  }
  return ctx;
}

namespace {
// A fault storm is printed as many reports; rate limiting or a cut log leaves some without their
// header (no process). Such fragments on the same device within a second of a report that names a
// graphics client belong to that client.
void inherit_graphics_storm(std::vector<Event>& events) {
  for (auto& e : events) {
    if (!is_vm_fault(e) || !e.process.empty() || e.pid || e.cls == FaultClass::kGraphicsFault) continue;
    for (const auto& g : events) {
      if (g.cls != FaultClass::kGraphicsFault || !is_vm_fault(g) || g.device != e.device) continue;
      if (e.time && g.time) {
        if (std::fabs(*e.time - *g.time) > 1.0) continue;
      } else {
        // A log without timestamps (pasted without them): the reports must be next to each other.
        const std::size_t gap = e.first_line > g.last_line   ? e.first_line - g.last_line
                                : g.first_line > e.last_line ? g.first_line - e.last_line
                                                             : 0;
        if (e.time || g.time || gap > kAttachLines) continue;
      }
      e.cls = FaultClass::kGraphicsFault;
      e.reason = fmt::format("a report without its header in the same fault storm as graphics client {}", g.process);
      break;
    }
  }
}
}  // namespace

namespace {
// What in a log shows the compute runtime (ROCm/HSA/HIP) at work: its own error lines, code-object and
// library lines, an override, the runtime's name for the device, a ROCm release or PyTorch wheel in the log.
bool compute_runtime_seen(const std::vector<Event>& events, const Context& ctx) {
  if (!ctx.override_version.empty() || !ctx.runtime_targets.empty() || !ctx.library_targets.empty() ||
      !ctx.upstream_torch_wheel.empty() || text::starts_with(ctx.rocm_version_source, "log line"))
    return true;
  return std::any_of(events.begin(), events.end(), [](const Event& e) {
    return text::starts_with(e.kind, "hsa_") || text::starts_with(e.kind, "hip_") || e.kind == "queue_abort" ||
           e.kind == "no_code_object" || e.kind == "library_list" || e.kind == "kfd_interrupt_overflow";
  });
}

// A gfxhub fault that names no process (kernels before 4.19 print none, and a storm's repeats lose it)
// in a VMID that amdgpu keeps for render-node contexts (1..7 on GPUs with graphics; 1..2 is all that is
// certain on a gfx9 GPU that may be compute-only), in a log that shows a graphics client in trouble (a
// Mesa/Vulkan/DXGI context or device lost, a fault of a named graphics client) and nothing of the
// compute runtime: a graphics job's fault. Without the graphics line a render-node VMID alone does not
// tell graphics from amdgpu-pro's OpenCL, which also ran there.
void headless_render_node_faults(std::vector<Event>& events, const Context& ctx) {
  const bool graphics_seen = std::any_of(events.begin(), events.end(), [](const Event& g) {
    return g.kind == "graphics_context_lost" || g.kind == "graphics_vm_fault" ||
           (is_vm_fault(g) && is_graphics_client(g.process, g.thread));
  });
  if (!graphics_seen || compute_runtime_seen(events, ctx)) return;
  const std::string& gfx = ctx.gfx;
  const bool compute_only = text::starts_with(gfx, "gfx908") || text::starts_with(gfx, "gfx90a") ||
                            text::starts_with(gfx, "gfx94") || text::starts_with(gfx, "gfx95");
  for (auto& e : events) {
    if (!is_vm_fault(e) || e.cls == FaultClass::kGraphicsFault || !e.process.empty() || e.pid || !e.vmid ||
        *e.vmid == 0 || text::starts_with(e.hub, "mmhub") || text::starts_with(e.status_register, "MMVM"))
      continue;
    const unsigned first_kfd =
        compute_only ? 3U : (!gfx.empty() || e.gen == Gen::kGfx10 || e.gen == Gen::kGfx12 || e.gen == Gen::kGfx8) ? 8U : 3U;
    if (*e.vmid >= first_kfd) continue;
    e.cls = FaultClass::kGraphicsFault;
    e.reason = fmt::format("a fault without its process in VMID {}, which amdgpu gives to render-node (graphics) "
                           "contexts, in a log that shows a graphics client in trouble and no compute runtime",
                           *e.vmid);
  }
}
}  // namespace

namespace {
// A library's list of its code-object files that lacks the target the runtime loads (the GPU's, or
// the override's) is a missing code object even where no error line says so. Added only when no
// other line already reports the missing code object.
void add_library_list_event(std::vector<Event>& events, const Context& ctx, std::size_t list_line,
                            const std::string& list_text) {
  std::erase_if(events, [](const Event& e) { return e.kind == "library_list"; });
  if (list_line == 0 || ctx.gfx.empty() || ctx.library_targets.empty()) return;
  std::string want = ctx.gfx.substr(0, ctx.gfx.find(':'));
  if (const auto o = override_target(ctx.override_version)) want = *o;
  if (std::any_of(ctx.library_targets.begin(), ctx.library_targets.end(),
                  [&](const std::string& t) { return isa_compatible(want, t); }))
    return;
  if (std::any_of(events.begin(), events.end(), [](const Event& e) { return e.kind == "no_code_object"; })) return;
  Event e;
  e.kind = "library_list";
  e.isa = want;
  e.first_line = e.last_line = list_line;
  e.records = 1;
  e.lines.push_back(list_text);
  const auto at = std::find_if(events.begin(), events.end(), [&](const Event& x) { return x.first_line > e.first_line; });
  events.insert(at, std::move(e));
}
}  // namespace

namespace {
// The ring a "ring NAME timeout" line names ("" when the line is no such line).
std::string timeout_ring(std::string_view line) {
  const auto r = line.find("ring ");
  if (r == std::string_view::npos) return {};
  const std::string_view rest = line.substr(r + 5);
  const auto sp = rest.find(' ');
  if (sp == std::string_view::npos || !text::starts_with(rest.substr(sp), " timeout")) return {};
  // printable: a byte cut at 32 could split a UTF-8 sequence, which the JSON renderer rejects.
  return text::printable(rest.substr(0, sp), 32);
}

// A coredump's fault section with a zero status records no fault: it is not an event. A fault that
// names no process and sits next to a ring timeout of the same device (10 s, or no times) takes the
// ring's name: a job of that ring faulted.
void tie_faults_to_ring_timeouts(std::vector<Event>& events) {
  std::erase_if(events, [](const Event& e) { return e.from_coredump && e.status && *e.status == 0; });
  for (auto& e : events) {
    if (!is_vm_fault(e) || !e.timed_out_ring.empty() || !e.process.empty() || e.pid) continue;
    for (const auto& h : events) {
      if (h.kind != "hang" || (!e.device.empty() && !h.device.empty() && e.device != h.device)) continue;
      if (e.time && h.time && std::fabs(*e.time - *h.time) > kRepeatSeconds) continue;
      for (const auto& l : h.lines)
        if (std::string ring = timeout_ring(l); !ring.empty()) {
          e.timed_out_ring = std::move(ring);
          break;
        }
      if (!e.timed_out_ring.empty()) break;
    }
  }
}
}  // namespace

Result<Report> parse_log(std::string_view raw, const Context& ctx) {
  // Any bytes: UTF-16 and Latin-1 are decoded, NUL runs and binary lines skipped (and said so),
  // lines of any length read whole. Only an input with no text left is refused.
  if (raw.empty()) return check_text(raw).error();
  const DecodedLog decoded = decode_log(raw);
  const std::string_view text = decoded.text;
  // Binary lines that make up most of the input mean a file that is not a log at all (a binary or
  // random data), not a log with a damaged stretch: refuse it rather than report "no faults".
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos || decoded.binary_bytes * 2 > decoded.input_bytes)
    return Error{Exit::kUsage, "",
                 decoded.anything_skipped()
                     ? fmt::format("input is binary, not a text log ({})", decoded.note())
                     : std::string("input holds no log lines")};
  Parser p(ctx);
  const std::size_t skip = front_matter_lines(text);
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    if (p.lines() < skip)
      p.skip_line();
    else
      p.feed(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  p.flush();
  Report r;
  r.events = p.take_finished();
  r.context = p.context();
  r.lines = p.lines();
  r.input = InputInfo{decoded.encoding, decoded.nul_bytes, decoded.nul_runs, decoded.binary_lines,
                      decoded.binary_bytes, decoded.note()};
  r.library_list_line = p.library_list_line();
  r.library_list_text = p.library_list_text();
  tie_faults_to_ring_timeouts(r.events);
  // Without a GPU target from the caller, the one the log names (only one) is the GPU's.
  if (r.context.gfx.empty() && !p.native_target().empty()) {
    r.context.gfx = p.native_target();
    r.context.gfx_source = fmt::format("log line {}", p.native_target_line());
  }
  // An override found in the log applies to events classified before it was seen.
  rejudge(r, r.context);
  return r;
}

void rejudge(Report& r, const Context& ctx) {
  if (&r.context != &ctx) r.context = ctx;
  add_library_list_event(r.events, r.context, r.library_list_line, r.library_list_text);
  for (auto& e : r.events) classify_event(e, r.context);
  inherit_graphics_storm(r.events);
  headless_render_node_faults(r.events, r.context);
  r.verdict = make_verdict(r.events, r.context);
}

// ---------------------------------------------------------------------------------------------
// Renderers

nlohmann::json event_json(const Event& e) {
  using nlohmann::json;
  json j = {{"class", class_name(e.cls)},
            {"kind", e.kind},
            {"reason", e.reason},
            {"lines", {{"first", e.first_line}, {"last", e.last_line}}},
            {"records", e.records}};
  if (e.time) j["time"] = *e.time;
  if (!e.device.empty()) j["device"] = e.device;
  if (e.address) {
    j["address"] = hex64(*e.address);
    j["address_kind"] = address_kind_name(classify_address(*e.address));
  }
  if (!e.other_addresses.empty()) {
    json a = json::array();
    for (const auto v : e.other_addresses) a.push_back(hex64(v));
    j["other_addresses"] = a;
  }
  if (is_vm_fault(e) || e.kind == "iommu_fault") {
    json f = json::object();
    if (!e.hub.empty()) f["hub"] = e.hub;
    if (e.retry) f["retry"] = *e.retry;
    if (e.src_id) f["src_id"] = *e.src_id;
    if (e.ring) f["ring"] = *e.ring;
    if (e.vmid) f["vmid"] = *e.vmid;
    if (e.pasid) f["pasid"] = *e.pasid;
    if (e.ih_client) f["ih_client"] = *e.ih_client;
    if (e.status) {
      f["status"] = fmt::format("0x{:08x}", *e.status);
      f["status_register"] = e.status_register;
      f["generation"] = gen_name(e.gen);
      f["degenerate_status"] = e.degenerate_status;
    }
    if (!e.client.empty()) f["client"] = e.client;
    if (e.client_id) f["client_id"] = *e.client_id;
    if (!e.client.empty()) f["shader_client"] = is_shader_client(e.client);
    if (e.more_faults) f["more_faults"] = *e.more_faults;
    if (e.walker_error) {
      f["walker_error"] = *e.walker_error;
      f["walker_error_meaning"] = walker_error_meaning(*e.walker_error);
    }
    if (e.permission_faults) {
      f["permission_faults"] = *e.permission_faults;
      if (e.gen != Gen::kGfx8) f["permission_meaning"] = permission_fault_meaning(*e.permission_faults);
    }
    if (e.mapping_error) f["mapping_error"] = *e.mapping_error;
    if (e.rw) f["rw"] = *e.rw != 0 ? "write" : "read";
    f["iommu"] = e.iommu;
    j["fault"] = f;
  }
  if (!e.process.empty() || e.pid) {
    json p = json::object();
    p["name"] = e.process;
    if (e.pid) p["pid"] = *e.pid;
    if (!e.thread.empty()) p["thread"] = e.thread;
    if (e.tid) p["tid"] = *e.tid;
    j["process"] = p;
  }
  if (e.node) j["node"] = *e.node;
  if (!e.hsa_status.empty()) j["status_name"] = e.hsa_status;
  if (!e.fault_reason.empty()) j["fault_reason"] = e.fault_reason;
  if (!e.isa.empty()) j["isa"] = e.isa;
  if (!e.library.empty()) j["library"] = e.library;
  j["evidence"] = e.lines;
  return j;
}

nlohmann::json report_json(const Report& r) {
  using nlohmann::json;
  json events = json::array();
  for (const auto& e : r.events) events.push_back(event_json(e));
  json ctx = json::object();
  ctx["gfx"] = r.context.gfx.empty() ? json(nullptr) : json(r.context.gfx);
  ctx["override"] = r.context.override_version.empty() ? json(nullptr) : json(r.context.override_version);
  if (!r.context.override_source.empty()) ctx["override_source"] = r.context.override_source;
  if (!r.context.gfx_source.empty()) ctx["gfx_source"] = r.context.gfx_source;
  if (!r.context.rocm_version.empty()) {
    ctx["rocm"] = r.context.rocm_version;
    ctx["rocm_source"] = r.context.rocm_version_source;
  }
  const json input = {{"encoding", r.input.encoding},     {"nul_bytes_skipped", r.input.nul_bytes},
                      {"nul_runs", r.input.nul_runs},       {"binary_lines_skipped", r.input.binary_lines},
                      {"binary_bytes_skipped", r.input.binary_bytes}};
  return {{"schema", kSchema},
          {"lines", r.lines},
          {"input", input},
          {"context", ctx},
          {"events", events},
          {"verdict",
           {{"class", class_name(r.verdict.cls)},
            {"summary", r.verdict.summary},
            {"advice", r.verdict.advice},
            {"evidence", r.verdict.evidence}}}};
}

std::string event_text(const Event& e) {
  std::string s = fmt::format("{}  lines {}-{}",
                              term::paint(class_name(e.cls), e.cls == FaultClass::kUnknown ? term::Tone::kWarn : term::Tone::kBad,
                                          term::out_colour()),
                              e.first_line, e.last_line);
  if (!e.device.empty()) s += "  " + e.device;
  if (e.time) s += fmt::format("  t={:.3f}", *e.time);
  s += "\n";
  if (is_vm_fault(e)) {
    s += fmt::format("  {}{}{} page fault", e.hub.empty() ? "" : "[" + e.hub + "] ",
                     e.retry ? (*e.retry ? "retry " : "no-retry ") : "", e.kind == "legacy_vm_fault" ? "legacy" : "VM");
    if (e.records > 1) s += fmt::format(", {} reports", e.records);
    if (e.vmid) s += fmt::format(", vmid {}", *e.vmid);
    if (e.pasid) s += fmt::format(", pasid {}", *e.pasid);
    s += "\n";
    if (e.address)
      s += fmt::format("  address {} ({})", hex64(*e.address), address_kind_name(classify_address(*e.address)));
    if (!e.other_addresses.empty()) s += fmt::format(" +{} more", e.other_addresses.size());
    if (!e.client.empty()) s += fmt::format("  client {}", e.client);
    if (e.client_id) s += fmt::format(" (0x{:x})", *e.client_id);
    if (e.rw) s += *e.rw != 0 ? " write" : " read";
    s += "\n";
    if (e.status) {
      s += fmt::format("  {} {}", e.status_register.empty() ? "status" : e.status_register,
                       fmt::format("0x{:08x}", *e.status));
      if (e.permission_faults && e.gen != Gen::kGfx8) {
        const auto m = permission_fault_meaning(*e.permission_faults);
        s += fmt::format("  permission_faults 0x{:x}", *e.permission_faults);
        if (!m.empty()) s += " (" + fmt::format("{}", fmt::join(m, ", ")) + ")";
      }
      if (e.walker_error && *e.walker_error != 0) s += fmt::format("  walker_error {}", *e.walker_error);
      if (e.mapping_error && *e.mapping_error != 0) s += "  mapping_error";
      s += "\n";
    }
  } else {
    s += fmt::format("  {}", e.kind);
    if (!e.hsa_status.empty()) s += " " + e.hsa_status;
    if (e.node) s += fmt::format(" node {}", *e.node);
    if (e.address) s += fmt::format(" address {} ({})", hex64(*e.address), address_kind_name(classify_address(*e.address)));
    if (!e.fault_reason.empty()) s += " reason: " + e.fault_reason;
    if (!e.isa.empty()) s += " isa " + e.isa;
    if (e.records > 1) s += fmt::format(" ({} lines)", e.records);
    s += "\n";
  }
  if (!e.process.empty() || e.pid)
    s += fmt::format("  process {} pid {}\n", e.process.empty() ? "?" : e.process, e.pid ? *e.pid : 0);
  s += "  why: " + e.reason + "\n";
  return s;
}

std::string report_text(const Report& r) {
  std::string s;
  if (!r.input.note.empty()) s += fmt::format("input: {}\n", r.input.note);
  for (std::size_t i = 0; i < r.events.size(); ++i) s += fmt::format("event {}: {}", i + 1, event_text(r.events[i]));
  if (!r.events.empty()) s += "\n";
  // The class that opens the summary is coloured on a terminal (none: green, a fault: red).
  std::string summary = r.verdict.summary;
  const std::string cls(class_name(r.verdict.cls));
  if (summary.starts_with(cls) || summary.starts_with("none"))
    summary = term::paint(summary.substr(0, summary.find(':')),
                          r.events.empty() ? term::Tone::kGood
                          : r.verdict.cls == FaultClass::kUnknown ? term::Tone::kWarn
                                                                  : term::Tone::kBad,
                          term::out_colour()) +
              summary.substr(std::min(summary.find(':'), summary.size()));
  s += fmt::format("verdict: {}\n", summary);
  for (const auto& ev : r.verdict.evidence) s += "  evidence: " + ev + "\n";
  s += "what to do: " + r.verdict.advice + "\n";
  return s;
}

}  // namespace vmfix::faults
