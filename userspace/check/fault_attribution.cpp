// SPDX-License-Identifier: GPL-2.0 OR MIT
// Which amdgpu fault lines of the kernel log belong to a worker: a fault block starts at the
// "... page fault (src_id:... pasid:N[, for process X pid P thread Y pid T])" header (the process part
// may sit on the next line: 5.x kernels print " for process X pid P ..." or " in process X pid P ..."),
// and goes on with the amdgpu lines that follow it (address, *_PROTECTION_FAULT_STATUS, client).
// Decoding is the `faults` library's (vmfix/faults.hpp), the same as `rdna1-vmfix faults`.

#include <cctype>

#include <fmt/format.h>

#include "faults/faults.hpp"
#include "check/check.hpp"

namespace vmfix::harness {
namespace {

bool is_fault_header(const std::string& s) {
  return s.find("amdgpu") != std::string::npos && s.find("page fault") != std::string::npos;
}

// The first "pid N" of a line (whole number, not a prefix of a longer one), or -1.
long long first_pid(const std::string& s) {
  for (std::size_t at = s.find("pid "); at != std::string::npos; at = s.find("pid ", at + 1)) {
    if (at > 0 && (std::isalnum(static_cast<unsigned char>(s[at - 1])) != 0 || s[at - 1] == '_')) continue;
    std::size_t i = at + 4;
    long long v = 0;
    std::size_t digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0 && digits < 12) {
      v = v * 10 + (s[i] - '0');
      ++i;
      ++digits;
    }
    if (digits > 0 && (i == s.size() || std::isdigit(static_cast<unsigned char>(s[i])) == 0)) return v;
  }
  return -1;
}

}  // namespace

std::vector<std::string> fault_lines_for_pid(const std::vector<std::string>& records, int pid) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (!is_fault_header(records[i])) continue;
    std::vector<std::string> block{records[i]};
    std::size_t j = i + 1;
    for (; j < records.size() && block.size() < 12; ++j) {
      if (is_fault_header(records[j]) || records[j].find("amdgpu") == std::string::npos) break;
      block.push_back(records[j]);
    }
    // The pid is on the header or on the line right after it.
    long long owner = first_pid(block[0]);
    if (owner < 0 && block.size() > 1) owner = first_pid(block[1]);
    if (owner == pid) out.insert(out.end(), block.begin(), block.end());
    i = j - 1;
  }
  return out;
}

std::string decode_fault_lines(const std::vector<std::string>& lines) {
  if (lines.empty()) return "";
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  const auto rep = faults::parse_log(text);
  if (!rep || rep->events.empty()) return fmt::format("{} kernel-log line(s), not decodable", lines.size());
  std::string s;
  for (const auto& e : rep->events) {
    if (!s.empty()) s += "; ";
    s += fmt::format("{}: {}", faults::class_name(e.cls), e.reason);
    if (e.status) s += fmt::format(" (status 0x{:08x})", *e.status);
  }
  return s;
}

}  // namespace vmfix::harness
