// SPDX-License-Identifier: GPL-2.0 OR MIT
// Which amdgpu fault lines of the kernel log belong to a worker: a fault block starts at the
// "... page fault (src_id:... pasid:N[, for process X pid P thread Y pid T])" header (the process part
// may sit on the next line: 5.x kernels print " for process X pid P ..." or " in process X pid P ..."),
// and goes on with the amdgpu lines that follow it (address, *_PROTECTION_FAULT_STATUS, client).
//
// Decoding seam: decode_fault_lines() gives a one-line summary from these lines. When the `faults`
// library (userspace/lib, `rdna1-vmfix faults`) lands, this is the one function to route through it.

#include <regex>

#include <fmt/format.h>

#include "vmfix/harness.hpp"

namespace vmfix::harness {
namespace {

bool is_fault_header(const std::string& s) {
  return s.find("amdgpu") != std::string::npos && s.find("page fault") != std::string::npos;
}

}  // namespace

std::vector<std::string> fault_lines_for_pid(const std::vector<std::string>& records, int pid) {
  static const std::regex kPid(R"(\bpid (\d+)\b)");
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
    int owner = -1;
    for (std::size_t k = 0; k < std::min<std::size_t>(2, block.size()) && owner < 0; ++k) {
      std::smatch m;
      if (std::regex_search(block[k], m, kPid)) owner = std::stoi(m[1].str());
    }
    if (owner == pid) out.insert(out.end(), block.begin(), block.end());
    i = j - 1;
  }
  return out;
}

std::string decode_fault_lines(const std::vector<std::string>& lines) {
  if (lines.empty()) return "";
  static const std::regex kHub(R"(\[(\w+)\] (?:no-retry |retry )?page fault)");
  static const std::regex kAddr(R"(page starting at address (0x[0-9a-fA-F]+))");
  static const std::regex kStatus(R"((\w*)_PROTECTION_FAULT_STATUS:\s*(0x[0-9a-fA-F]+))");
  static const std::regex kClient(R"(Faulty UTCL2 client ID: ([^\n]+))");
  std::string hub, addr, status, client;
  int faults = 0;
  for (const auto& l : lines) {
    std::smatch m;
    if (std::regex_search(l, m, kHub)) {
      ++faults;
      if (hub.empty()) hub = m[1].str();
    }
    if (addr.empty() && std::regex_search(l, m, kAddr)) addr = m[1].str();
    if (status.empty() && std::regex_search(l, m, kStatus)) status = m[2].str();
    if (client.empty() && std::regex_search(l, m, kClient)) client = m[1].str();
  }
  std::string s = fmt::format("{} VM fault{}", faults, faults == 1 ? "" : "s");
  if (!hub.empty()) s += " on " + hub;
  if (!addr.empty()) s += " at " + addr;
  if (!status.empty()) {
    const unsigned long v = std::stoul(status, nullptr, 16);
    // gfx10 *_L2_PROTECTION_FAULT_STATUS: bit 0 MORE_FAULTS, 1-3 WALKER_ERROR, 4-7 PERMISSION_FAULTS
    // (bit 4: PTE not valid), 8 MAPPING_ERROR, 9-15 CID, 18 RW (1 = write); see
    // Documentation/gpu/amdgpu/debugging.rst.
    const unsigned long perm = (v >> 4) & 0xf;
    s += fmt::format(", status {} (permission faults 0x{:x}{}, mapping error {}, {})", status, perm,
                     (perm & 1) ? " = page not present" : "", (v >> 8) & 1, (v >> 18) & 1 ? "write" : "read");
  }
  if (!client.empty()) s += ", client " + client;
  return s;
}

}  // namespace vmfix::harness
