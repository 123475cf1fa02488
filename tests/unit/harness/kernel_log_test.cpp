// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <catch2/catch_test_macros.hpp>

#include <fstream>

#include "check/check.hpp"

using namespace vmfix::harness;

namespace {

// The fixture's log lines with the dmesg timestamp cut off, as /dev/kmsg records read.
std::vector<std::string> load(const std::string& name) {
  std::ifstream f(std::string(VMFIX_TEST_DATA) + "/harness/" + name);
  REQUIRE(f);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto at = line.find("amdgpu ");
    out.push_back(at == std::string::npos ? line : line.substr(at));
  }
  return out;
}

}  // namespace

TEST_CASE("fault blocks are attributed to the pid in their header line (6.x format)", "[harness][kmsg]") {
  auto recs = load("fault-022.txt");
  recs.insert(recs.begin(), "amdgpu 0000:c6:00.0: amdgpu: ring gfx timeout, unrelated");
  const auto mine = fault_lines_for_pid(recs, 12924);
  REQUIRE(mine.size() == 15);  // two fault blocks (10 + 5 lines), not the unrelated line
  CHECK(mine.front().find("[gfxhub0] no-retry page fault") != std::string::npos);
  CHECK(fault_lines_for_pid(recs, 1292).empty());  // a pid prefix is not the pid
  CHECK(fault_lines_for_pid(recs, 1).empty());
  // Decoded by the faults library: shader client TCP reading an unmapped address.
  const std::string d = decode_fault_lines(mine);
  CHECK(d.rfind("vm_fault_bad_address: ", 0) == 0);
  CHECK(d.find("TCP") != std::string::npos);
  CHECK(d.find("0x0000ae8570611000") != std::string::npos);
  CHECK(d.find("status 0x00301031") != std::string::npos);
}

TEST_CASE("fault blocks whose process line follows the header are attributed too", "[harness][kmsg]") {
  const auto recs = load("fault-028.txt");
  const auto mine = fault_lines_for_pid(recs, 25698);
  REQUIRE(mine.size() == 6);
  CHECK(decode_fault_lines(mine).find("0x00007f9587e00000") != std::string::npos);
  CHECK(decode_fault_lines({}).empty());
}

TEST_CASE("a GPU fault is classified from runtime text or kernel-log lines; other deaths are crashes",
          "[harness][classify]") {
  std::string why;
  ChildOutcome o;
  o.term_signal = 6;
  o.stderr_text =
      "some noise\nMemory access fault by GPU node-1 (Agent handle: 0x55ac14d27600) on address 0x7f9587e00000. "
      "Reason: Page not present or supervisor privilege.\n";
  CHECK(verdict_for_ending(o, why) == Verdict::kGpuFault);
  CHECK(why.rfind("Memory access fault by GPU node-1", 0) == 0);

  o.stderr_text = "VMFIX-ERROR hipDeviceSynchronize(): cudaErrorIllegalAddress: an illegal memory access was encountered\n";
  o.term_signal = 0;
  o.exit_code = 4;
  CHECK(verdict_for_ending(o, why) == Verdict::kGpuFault);

  o.stderr_text = "";
  o.kernel_log = {"amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 pasid:32770, for process x pid 5 thread x pid 5)"};
  CHECK(verdict_for_ending(o, why) == Verdict::kGpuFault);

  o.kernel_log.clear();
  o.term_signal = 11;
  o.exit_code = -1;
  CHECK(verdict_for_ending(o, why) == Verdict::kCrash);
  CHECK(why == "worker killed by SIGSEGV");

  o.term_signal = 0;
  o.exit_code = 4;
  o.stderr_text = "VMFIX-ERROR hipMalloc(&dev_, bytes_): hipErrorOutOfMemory: out of memory\n";
  CHECK(verdict_for_ending(o, why) == Verdict::kCrash);
  CHECK(why.find("hipErrorOutOfMemory") != std::string::npos);

  o.timed_out = true;
  CHECK(verdict_for_ending(o, why) == Verdict::kHang);
}
