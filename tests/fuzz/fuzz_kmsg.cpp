// SPDX-License-Identifier: GPL-2.0 OR MIT
// libFuzzer target: kmsg records (what /dev/kmsg hands us is not ours to trust): the record to log
// line converter, the check driver's kernel-log attribution and fault summary, and case-id parsing.
// Run briefly by tests/suites/30-harness.sh; seeds: tests/fuzz/corpus/kmsg/ and tests/data/harness/.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "check/check.hpp"
#include "common/kmsg.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> records;
  std::size_t start = 0;
  for (;;) {
    const auto nl = text.find('\n', start);
    records.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  // Every pid that appears, plus a few fixed ones.
  for (int pid : {0, 1, 12924, 25698, -1}) {
    const auto lines = vmfix::harness::fault_lines_for_pid(records, pid);
    if (lines.size() > records.size()) __builtin_trap();
    (void)vmfix::harness::decode_fault_lines(lines);
  }
  for (const auto& r : records) (void)vmfix::kmsg_record_to_line(r);
  if (const auto c = vmfix::harness::parse_case_id(records.front()); c && c->id != records.front()) __builtin_trap();
  return 0;
}
