// SPDX-License-Identifier: GPL-2.0 OR MIT
// Fault-log reader: real reports (tests/data/faults, labelled), synthetic logs per format, register
// decodes against the documented bit layout, bad input, golden JSON.

#include <catch2/catch_test_macros.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "faults/faults.hpp"
#include "corpus.hpp"
#include "golden.hpp"
#include "common/kmsg.hpp"

namespace fs = std::filesystem;
using namespace vmfix::faults;  // NOLINT(google-build-using-namespace)

namespace {

using vmfix::test::IndexRow;
using vmfix::test::read_index;
using vmfix::test::slurp;
const fs::path& kData = vmfix::test::corpus_dir();

Report parse_fixture(const std::string& name, bool with_context = true) {
  const std::string text = slurp(kData / name);
  const Context ctx = with_context ? context_from_front_matter(text) : Context{};
  auto r = parse_log(text, ctx);
  REQUIRE(r.ok());
  return std::move(r).value();
}

// Fixture labels (README.md) -> the classes this tool uses.
std::string map_label(const std::string& label) {
  if (label == "isa_mismatch_override") return "isa_mismatch";
  if (label == "driver_hang_or_reset") return "hang_or_reset";
  if (label == "oom") return "out_of_memory";
  return label;
}

// Where the classifier disagrees with a fixture's label and the label is debatable. Every entry
// says why; anything not listed must match its label.
// None since the label audit (tests/data/faults/README.md): 034, the one disagreement, is now labelled from
// its thread as vm_fault_bad_address (the reporter returned the card; no line shows a non-shader cause).
const std::map<std::string, std::pair<std::string, std::string>> kDisagreements = {};

// 001..039: the original fixture set, which the classifier has to match report by report.
bool original_fixture(const std::string& file) { return file.size() == 7 && file[0] == '0'; }

std::uint32_t l2(unsigned more, unsigned walker, unsigned perm, unsigned map, unsigned cid, unsigned rw, unsigned vmid) {
  return more | walker << 1 | perm << 4 | map << 8 | cid << 9 | rw << 18 | vmid << 20;
}

// A gfx10-style fault report (kernel 6.x) of `process` in `vmid`, client TCP reading `addr`.
std::string gfx10_fault(unsigned vmid, const std::string& process, const std::string& addr = "0x00007f1234560000") {
  return fmt::format(
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:{0} pasid:32771, for process "
      "{1} pid 4100 thread {1} pid 4100)\n"
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu:   in page starting at address {2} from client 0x1b (UTCL2)\n"
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x{3:08X}\n",
      vmid, process, addr, l2(1, 0, 1, 0, 8, 0, vmid));
}
constexpr const char* kRocrFault =
    "Memory access fault by GPU node-1 (Agent handle: 0x55d0c4a0b3c0) on address 0x7f3a40000000. Reason: Page not "
    "present or supervisor privilege.\n";
constexpr const char* kAperture =
    ":0:rocdevice.cpp            :2984: 1234567890 us: [pid:4100  tid:0x7f] Callback: Queue 0x7f00 aborting with "
    "error : HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION: The agent attempted to access memory beyond the largest legal "
    "address. code: 0x29\n";
}  // namespace

TEST_CASE("the original fixtures match their labels report by report", "[diag][faults][fixtures]") {
  std::size_t n = 0;
  for (const auto& row : read_index()) {
    if (!original_fixture(row.file)) continue;
    ++n;
    INFO(row.file << " label " << row.label);
    const Report r = parse_fixture(row.file);
    CHECK_FALSE(r.events.empty());
    const std::string got(class_name(r.verdict.cls));
    const auto d = kDisagreements.find(row.file);
    if (d != kDisagreements.end()) {
      INFO("documented disagreement: " << d->second.second);
      CHECK(got == d->second.first);
      CHECK(got != map_label(row.label));
    } else {
      CHECK(got == map_label(row.label));
    }
  }
  CHECK(n == 22);
}

namespace {
struct CorpusScore {
  std::size_t tuning = 0, tuning_ok = 0, held = 0, held_ok = 0;
  double tuning_pct() const { return 100.0 * static_cast<double>(tuning_ok) / static_cast<double>(tuning); }
  double held_pct() const { return 100.0 * static_cast<double>(held_ok) / static_cast<double>(held); }
};

CorpusScore score_corpus() {
  CorpusScore sc;
  const auto rows = read_index();
  REQUIRE(rows.size() >= 80);
  for (const auto& row : rows) {
    INFO(row.file);
    const std::string text = slurp(kData / row.file);
    auto r = parse_log(text, context_from_front_matter(text));
    REQUIRE(r.ok());
    // The metadata header is never read as log text: no event starts inside it.
    for (const auto& e : r->events) CHECK(e.first_line > front_matter_lines(text));
    const bool ok = class_name(r->verdict.cls) == map_label(row.label);
    if (row.split == "held_back") {
      ++sc.held;
      sc.held_ok += ok ? 1 : 0;  // counted only: no assertion names a held-back report
    } else {
      REQUIRE(row.split == "tuning");
      ++sc.tuning;
      sc.tuning_ok += ok ? 1 : 0;
    }
  }
  REQUIRE(sc.tuning > 0);
  REQUIRE(sc.held > 0);
  const std::string summary = fmt::format("faults corpus: tuning {}/{} = {:.1f}%, held back {}/{} = {:.1f}%",
                                          sc.tuning_ok, sc.tuning, sc.tuning_pct(), sc.held_ok, sc.held,
                                          sc.held_pct());
  fmt::print("{}\n", summary);
  WARN(summary);
  return sc;
}
}  // namespace

TEST_CASE("the real-report corpus: tuning part >= 90%", "[diag][faults][corpus]") {
  CHECK(score_corpus().tuning_pct() >= 90.0);
}

// The held-back third measures the classifier on reports no rule was written against (issue 14: the
// suite fails below 85%). A failure here is never tuned away by looking at those reports: the README
// of tests/data/faults says what to do instead.
TEST_CASE("the real-report corpus: held-back part >= 85%", "[diag][faults][corpus][heldback]") {
  const auto sc = score_corpus();
  INFO(fmt::format("held-back figure {}/{} = {:.1f}% (goal 85%, docs/faults.md)", sc.held_ok, sc.held, sc.held_pct()));
  CHECK(sc.held_pct() >= 85.0);
}

TEST_CASE("an override fault needs the machine context: without it the same line is a bad address",
          "[diag][faults][fixtures]") {
  // 011: APERTURE_VIOLATION on gfx1012 running with HSA_OVERRIDE_GFX_VERSION=10.3.0.
  CHECK(parse_fixture("011.txt", false).verdict.cls == FaultClass::kVmFaultBadAddress);
  const Report r = parse_fixture("011.txt", true);
  CHECK(r.context.gfx == "gfx1012");
  CHECK(r.context.override_version == "10.3.0");
  CHECK(r.verdict.cls == FaultClass::kIsaMismatch);
  // gfx1010 code on a gfx1012 is the documented superset case: no mismatch.
  auto same_family = parse_log(slurp(kData / "011.txt"), Context{"gfx1012", "10.1.0", "test"});
  REQUIRE(same_family.ok());
  CHECK(same_family->verdict.cls == FaultClass::kVmFaultBadAddress);
}

TEST_CASE("a gmc_v9 fault storm is one event: repeats merge, the cleared status of a repeat is ignored",
          "[diag][faults][fixtures]") {
  const Report r = parse_fixture("022.txt");
  REQUIRE(r.events.size() == 1);
  const Event& e = r.events[0];
  CHECK(e.records == 2);
  CHECK(e.device == "0000:c6:00.0");
  CHECK(e.hub == "gfxhub0");
  CHECK(e.retry == false);
  CHECK(e.vmid == 3U);
  CHECK(e.pasid == 32769U);
  CHECK(e.src_id == 0U);
  CHECK(e.ring == 24U);
  CHECK(e.process == "pt_main_thread");
  CHECK(e.pid == 12924);
  CHECK(e.address == 0x0000ae8570611000ULL);
  REQUIRE(e.other_addresses.size() == 1);
  CHECK(e.other_addresses[0] == 0x0000ae8570612000ULL);
  CHECK(e.ih_client == 0x1bU);
  CHECK(e.status == 0x00301031U);
  CHECK(e.status_register == "VM_L2_PROTECTION_FAULT_STATUS");
  CHECK(e.gen == Gen::kGfx9);
  CHECK(e.client == "TCP");  // not the second report's "CB (0x0)" of a cleared register
  CHECK(e.client_id == 8U);
  CHECK(e.permission_faults == 3U);
  CHECK(e.more_faults == 1U);
  CHECK(e.rw == 0U);
  CHECK(e.cls == FaultClass::kVmFaultBadAddress);
}

TEST_CASE("legacy gmc_v8 reports decode address, client and direction", "[diag][faults][fixtures]") {
  const Report r = parse_fixture("032.txt");
  REQUIRE(r.events.size() == 1);
  const Event& e = r.events[0];
  CHECK(e.kind == "legacy_vm_fault");
  CHECK(e.records == 4);
  CHECK(e.address == 0x0462075DULL << 12);
  CHECK(e.client == "TC3");
  CHECK(e.client_id == 196U);
  CHECK(e.rw == 0U);
  CHECK(e.status == 0x020C4001U);
  CHECK(e.gen == Gen::kGfx8);
  CHECK(e.cls == FaultClass::kVmFaultBadAddress);
}

TEST_CASE("a CPC fault at address 0 with IOMMU page faults is vm_fault_other", "[diag][faults][fixtures]") {
  const Report r = parse_fixture("025.txt");
  REQUIRE(r.events.size() == 1);
  const Event& e = r.events[0];
  CHECK(e.client == "CPC");
  CHECK(e.iommu);
  CHECK(e.walker_error == 6U);
  CHECK(e.mapping_error == 1U);
  CHECK(e.address == 0U);
  CHECK(classify_address(*e.address) == AddressKind::kNull);
  CHECK(e.cls == FaultClass::kVmFaultOther);
}

TEST_CASE("the L2 protection fault status decodes per the documented bit layout", "[diag][faults][decode]") {
  SECTION("values from real reports") {
    const L2Status a = decode_l2_status(0x00301031);  // 022: gfx9 TCP, vmid 3
    CHECK(a.more_faults);
    CHECK(a.walker_error == 0);
    CHECK(a.permission_faults == 3);
    CHECK_FALSE(a.mapping_error);
    CHECK(a.cid == 8);
    CHECK_FALSE(a.write);
    CHECK(a.vmid == 3);
    const L2Status b = decode_l2_status(0x00000B3C);  // 025: gfx10 CPC
    CHECK_FALSE(b.more_faults);
    CHECK(b.walker_error == 6);
    CHECK(b.permission_faults == 3);
    CHECK(b.mapping_error);
    CHECK(b.cid == 5);
    const L2Status c = decode_l2_status(0x00801031);  // 028: gfx11 TCP, vmid 8
    CHECK(c.cid == 8);
    CHECK(c.vmid == 8);
  }
  SECTION("each field is isolated") {
    CHECK(decode_l2_status(0x1).more_faults);
    CHECK(decode_l2_status(0xe).walker_error == 7);
    CHECK(decode_l2_status(0xe).permission_faults == 0);
    CHECK(decode_l2_status(0xf0).permission_faults == 0xf);
    CHECK(decode_l2_status(0xf0).walker_error == 0);
    CHECK(decode_l2_status(0x100).mapping_error);
    CHECK(decode_l2_status(0x3fe00).cid == 0x1ff);
    CHECK(decode_l2_status(0x3fe00).permission_faults == 0);
    CHECK(decode_l2_status(0x40000).write);
    CHECK(decode_l2_status(0x40000).cid == 0);
    CHECK(decode_l2_status(0x80000).atomic);
    CHECK(decode_l2_status(0xf00000).vmid == 0xf);
    CHECK_FALSE(decode_l2_status(0xf00000).atomic);
  }
  SECTION("legacy VM_CONTEXT1 status") {
    const LegacyStatus s = decode_legacy_status(0x020C4001);
    CHECK(s.protections == 1);
    CHECK(s.client_id == 196);
    CHECK_FALSE(s.write);
    CHECK(s.vmid == 1);
    CHECK(decode_legacy_status(0x01000000).write);
  }
  SECTION("client tables per generation") {
    CHECK(utcl2_client_name(Gen::kGfx9, false, 8) == "TCP");
    CHECK(utcl2_client_name(Gen::kGfx9, false, 12) == "PA");
    CHECK(utcl2_client_name(Gen::kGfx10, false, 0) == "CB/DB");
    CHECK(utcl2_client_name(Gen::kGfx10, false, 5) == "CPC");
    CHECK(utcl2_client_name(Gen::kGfx10, false, 10) == "SQC (data)");
    CHECK(utcl2_client_name(Gen::kGfx10, false, 17) == "SDMA3");
    CHECK(utcl2_client_name(Gen::kGfx10, false, 18).empty());
    CHECK(utcl2_client_name(Gen::kGfx12, false, 8).empty());
    CHECK(utcl2_client_name(Gen::kGfx10, true, 8).empty());
  }
  SECTION("permission bits") {
    CHECK(permission_fault_meaning(0).empty());
    const auto m = permission_fault_meaning(0x5);
    REQUIRE(m.size() == 2);
    CHECK(m[0].find("not valid") != std::string::npos);
    CHECK(m[1].find("write") != std::string::npos);
  }
}

TEST_CASE("addresses are sorted into null, low, user, high and kernel", "[diag][faults][decode]") {
  CHECK(classify_address(0) == AddressKind::kNull);
  CHECK(classify_address(0xfff) == AddressKind::kNull);
  CHECK(classify_address(0x1000) == AddressKind::kLow);
  CHECK(classify_address(0xffff) == AddressKind::kLow);
  CHECK(classify_address(0x10000) == AddressKind::kCanonicalUser);
  CHECK(classify_address(0x00007fffffffffffULL) == AddressKind::kCanonicalUser);
  CHECK(classify_address(0x0000800000000000ULL) == AddressKind::kHigh);
  CHECK(classify_address(0xffff7fffffffffffULL) == AddressKind::kHigh);
  CHECK(classify_address(0xffff800000000000ULL) == AddressKind::kKernel);
  CHECK(address_kind_name(AddressKind::kCanonicalUser) == "canonical-user");
}

TEST_CASE("HSA_OVERRIDE_GFX_VERSION values map to targets", "[diag][faults][decode]") {
  CHECK(override_target("10.3.0") == "gfx1030");
  CHECK(override_target("10.1.0") == "gfx1010");
  CHECK(override_target("9.0.10") == "gfx90a");
  CHECK(override_target("11.5.1") == "gfx1151");
  for (const char* bad : {"", "10", "10.3", "10.3.", "a.b.c", "10.3.0.1", "10.16.0", "1.0.0", " 10.3.0"}) {
    INFO(bad);
    CHECK_FALSE(override_target(bad).has_value());
  }
  CHECK(isa_compatible("gfx1010", "gfx1010"));
  CHECK(isa_compatible("gfx1012", "gfx1010"));
  CHECK_FALSE(isa_compatible("gfx1010", "gfx1030"));
  CHECK_FALSE(isa_compatible("gfx1010", "gfx1012"));
}

TEST_CASE("synthetic reports in every kernel format parse and classify", "[diag][faults][formats]") {
  auto one = [](const std::string& log, const Context& ctx = {}) {
    auto r = parse_log(log, ctx);
    REQUIRE(r.ok());
    REQUIRE(r->events.size() == 1);
    return r->events[0];
  };
  SECTION("gmc_v9 4.14: VMC page fault, vm_id/pas_id, 'at page ... from N'") {
    const Event e = one(
        "[  10.000001] amdgpu 0000:03:00.0: [gfxhub] VMC page fault (src_id:0 ring:24 vm_id:9 pas_id:32770)\n"
        "[  10.000002] amdgpu 0000:03:00.0:   at page 0x0000000000001000 from 27\n"
        "[  10.000003] amdgpu 0000:03:00.0: VM_L2_PROTECTION_FAULT_STATUS:0x00241131\n");
    CHECK(e.vmid == 9U);  // a KFD VMID (8-15): VMIDs 1-7 are graphics contexts
    CHECK(e.pasid == 32770U);
    CHECK(e.address == 0x1000U);
    CHECK(e.ih_client == 27U);
    // 0x00241131: cid (0x241131>>9)&0x1ff = 8 -> TCP, write, mapping error, decoded from the raw value
    CHECK(e.client == "TCP");
    CHECK(e.rw == 1U);
    CHECK(e.mapping_error == 1U);
    CHECK(e.cls == FaultClass::kVmFaultBadAddress);
  }
  SECTION("gmc_v10 6.x: inline process, IH client name, raw status only") {
    const std::uint32_t st = l2(1, 0, 1, 0, 10, 0, 8);  // SQC (data) read, PTE not valid
    const Event e = one(fmt::format(
        "[ 5.1] amdgpu 0000:0b:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 pasid:32783, for process "
        "python3 pid 4242 thread pt_main_thread pid 4250)\n"
        "[ 5.1] amdgpu 0000:0b:00.0: amdgpu:   in page starting at address 0x0000000000000040 from client 0x1b "
        "(UTCL2)\n"
        "[ 5.1] amdgpu 0000:0b:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x{:08X}\n",
        st));
    CHECK(e.hub == "gfxhub");
    CHECK(e.process == "python3");
    CHECK(e.pid == 4242);
    CHECK(e.thread == "pt_main_thread");
    CHECK(e.tid == 4250);
    CHECK(e.gen == Gen::kGfx10);
    CHECK(e.client == "SQC (data)");
    CHECK(e.client_id == 10U);
    CHECK(e.vmid == 8U);
    CHECK(classify_address(*e.address) == AddressKind::kNull);
    CHECK(e.cls == FaultClass::kVmFaultBadAddress);
  }
  SECTION("7.x: separate 'in process' line, decoded fields win over nothing") {
    const Event e = one(
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:153 vmid:0 pasid:0)\n"
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu:  in process  pid 0 thread  pid 0)\n"
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu:   in page starting at address 0x0000800000200000 from client 10\n"
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00000A30\n"
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu: \t Faulty UTCL2 client ID: CPC (0x5)\n"
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu: \t MORE_FAULTS: 0x0\n"
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu: \t WALKER_ERROR: 0x0\n"
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu: \t PERMISSION_FAULTS: 0x3\n"
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu: \t MAPPING_ERROR: 0x0\n"
        "[ 9.0] amdgpu 0000:0d:00.0: amdgpu: \t RW: 0x0\n");
    CHECK(e.ring == 153U);
    CHECK(e.pid == 0);
    CHECK(e.ih_client == 10U);
    CHECK(e.client == "CPC");
    CHECK(e.permission_faults == 3U);
    CHECK(classify_address(*e.address) == AddressKind::kHigh);
    CHECK(e.cls == FaultClass::kVmFaultOther);
  }
  SECTION("mmhub faults are not shader code") {
    const Event e = one(
        "[1.0] amdgpu 0000:88:00.0: amdgpu: [mmhub0] no-retry page fault (src_id:0 ring:0 vmid:1 pasid:32768)\n"
        "[1.0] amdgpu 0000:88:00.0: amdgpu:   in page starting at address 0x0000000012345000 from IH client 0x12 "
        "(VMC)\n");
    CHECK(e.hub == "mmhub0");
    CHECK(e.ih_client == 0x12U);
    CHECK(e.cls == FaultClass::kVmFaultOther);
  }
  SECTION("gmc_v8 with pasid, write") {
    const Event e = one(
        "[2.0] amdgpu 0000:01:00.0: GPU fault detected: 146 0x0c080c04\n"
        "[2.0] amdgpu 0000:01:00.0:   VM_CONTEXT1_PROTECTION_FAULT_ADDR   0x00000010\n"
        "[2.0] amdgpu 0000:01:00.0:   VM_CONTEXT1_PROTECTION_FAULT_STATUS 0x130C4004\n"
        "[2.0] amdgpu 0000:01:00.0: VM fault (0x04, vmid 9, pasid 32768) at page 16, write from 'TC0' (0x54433000) "
        "(196)\n");
    CHECK(e.src_id == 146U);
    CHECK(e.address == 0x10000U);
    CHECK(e.client == "TC0");
    CHECK(e.pasid == 32768U);
    CHECK(e.rw == 1U);
    CHECK(e.cls == FaultClass::kVmFaultBadAddress);
  }
  SECTION("gmc_v8 since 4.19 names the process: a Mesa winsys thread in a render-node VMID is graphics") {
    const Event e = one(
        "[3.0] amdgpu 0000:0c:00.0: amdgpu: GPU fault detected: 147 0x00020802 for process glxgears pid 6101 thread "
        "glxgears:cs0 pid 6116\n"
        "[3.0] amdgpu 0000:0c:00.0: amdgpu:   VM_CONTEXT1_PROTECTION_FAULT_ADDR   0x00107800\n"
        "[3.0] amdgpu 0000:0c:00.0: amdgpu:   VM_CONTEXT1_PROTECTION_FAULT_STATUS 0x0D008002\n"
        "[3.0] amdgpu 0000:0c:00.0: amdgpu: VM fault (0x02, vmid 6, pasid 32780) at page 1079296, write from 'TC2' "
        "(0x54433200) (8)\n");
    CHECK(e.src_id == 147U);
    CHECK(e.process == "glxgears");
    CHECK(e.pid == 6101);
    CHECK(e.thread == "glxgears:cs0");
    CHECK(e.tid == 6116);
    CHECK(e.cls == FaultClass::kGraphicsFault);
  }
  SECTION("a report whose header scrolled away still counts") {
    const Event e = one("amdgpu 0000:03:00.0: GCVM_L2_PROTECTION_FAULT_STATUS:0x00101031\n");
    CHECK(e.client == "TCP");
    CHECK(e.cls == FaultClass::kVmFaultBadAddress);
  }
  SECTION("an override seen in the log applies to faults before it") {
    auto r = parse_log(
        ":0:rocdevice.cpp :2673: Device::callbackQueue aborting with error : "
        "HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION: The agent attempted to access memory beyond the largest legal "
        "address. code: 0x29\n"
        "$ env | grep HSA\nHSA_OVERRIDE_GFX_VERSION=10.3.0\n",
        Context{"gfx1010", "", ""});
    REQUIRE(r.ok());
    CHECK(r->context.override_version == "10.3.0");
    CHECK(r->context.override_source == "log line 3");
    CHECK(r->verdict.cls == FaultClass::kIsaMismatch);
  }
}

// One userspace or driver line per event kind, with its class.
struct LineCase {
  const char* line;
  FaultClass cls;
  const char* kind;
};
const LineCase kLineCases[] = {
    {"Memory access fault by GPU node-1 (Agent handle: 0x5555) on address 0x7f0000001000. Reason: Page not "
     "present or supervisor privilege.",
     FaultClass::kVmFaultBadAddress, "hsa_memory_fault"},
    {"Memory access fault by GPU node-2 (Agent handle: 0x1) on address (nil). Reason: Unknown.",
     FaultClass::kVmFaultBadAddress, "hsa_memory_fault"},
    {"RuntimeError: HIP error: an illegal memory access was encountered", FaultClass::kVmFaultBadAddress,
     "hip_illegal_address"},
    {"hipErrorIllegalAddress", FaultClass::kVmFaultBadAddress, "hip_illegal_address"},
    {"RuntimeError: HIP error: invalid device function", FaultClass::kMissingCodeObject, "no_code_object"},
    {"\"hipErrorNoBinaryForGpu: Unable to find code object for all current devices!\"",
     FaultClass::kMissingCodeObject, "no_code_object"},
    {"RuntimeError: CUDA error: no kernel image is available for execution on the device",
     FaultClass::kMissingCodeObject, "no_code_object"},
    {"rocBLAS error: Cannot read /opt/rocm/lib/rocblas/library/TensileLibrary.dat: No such file or directory for "
     "GPU arch : gfx1010",
     FaultClass::kMissingCodeObject, "no_code_object"},
    {"Callback: Queue 0x7f aborting with error : HSA_STATUS_ERROR_INVALID_ISA: The instruction set architecture "
     "is invalid. code: 0x100f",
     FaultClass::kIsaMismatch, "hsa_invalid_isa"},
    {"HSA_STATUS_ERROR_ILLEGAL_INSTRUCTION: The agent attempted to execute an illegal shader instruction.",
     FaultClass::kIsaMismatch, "hsa_illegal_instruction"},
    {"[  100.5] [drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring gfx timeout, signaled seq=10, emitted seq=12",
     FaultClass::kHangOrReset, "hang"},
    {"[  100.5] amdgpu 0000:03:00.0: amdgpu: GPU reset begin!", FaultClass::kHangOrReset, "hang"},
    {"[  7.0] amdgpu 0000:03:00.0: amdgpu: amdgpu_amdkfd_gpuvm_alloc_memory_of_gpu failed to allocate BO (-12)",
     FaultClass::kOutOfMemory, "out_of_memory"},
    {"torch.OutOfMemoryError: HIP out of memory. Tried to allocate 2.00 GiB", FaultClass::kOutOfMemory,
     "out_of_memory"},
    {"[    2.5] kfd kfd: amdgpu: skipped device 1002:731f, PCI rejects atomics 730<0", FaultClass::kPcieAtomics,
     "pcie_atomics"},
    {"[    2.5] amdgpu 0000:03:00.0: amdgpu: PCIE atomic ops is not supported", FaultClass::kPcieAtomics,
     "pcie_atomics"},
    {"[  1.0] amdgpu 0000:03:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x000c address=0x1000 flags=0x0020]",
     FaultClass::kVmFaultOther, "iommu_fault"},
};

TEST_CASE("userspace and driver lines classify", "[diag][faults][formats]") {
  for (const auto& c : kLineCases) {
    INFO(c.line);
    auto r = parse_log(c.line);
    REQUIRE(r.ok());
    REQUIRE(r->events.size() == 1);
    CHECK(r->events[0].kind == c.kind);
    CHECK(r->events[0].cls == c.cls);
    CHECK(r->verdict.cls == c.cls);
  }
  const auto mem = parse_log(kLineCases[0].line);
  CHECK(mem->events[0].node == 1U);
  CHECK(mem->events[0].address == 0x7f0000001000ULL);
  CHECK(mem->events[0].fault_reason == "Page not present or supervisor privilege");
}

TEST_CASE("every classification rule is met by a real report or a line of the corpus", "[diag][faults][rules]") {
  std::map<std::string, int> seen;
  for (const auto& f : fs::directory_iterator(kData)) {
    if (f.path().extension() != ".txt" || f.path().filename().string().find_first_of("0123456789") != 0) continue;
    for (const auto& e : parse_fixture(f.path().filename().string()).events) ++seen[e.rule];
  }
  for (const auto& c : kLineCases) {
    const auto r = parse_log(c.line);
    REQUIRE(r.ok());
    for (const auto& e : r->events) ++seen[e.rule];
  }
  // A queue abort, alone and under a foreign override (the one rule that needs the machine context).
  const char* abort_line = "Callback: Queue 0x7f aborting with error : HSA_STATUS_ERROR_EXCEPTION: An HSAIL "
                           "operation resulted in a hardware exception. code: 0x1016\n";
  for (const Context& ctx : {Context{}, Context{"gfx1010", "10.3.0", "environment"}}) {
    const auto r = parse_log(abort_line, ctx);
    REQUIRE(r.ok());
    for (const auto& e : r->events) ++seen[e.rule];
  }
  // The general rules of issue 14 on synthetic logs (a corpus report may or may not show them).
  const std::vector<std::pair<std::string, Context>> general = {
      {gfx10_fault(3, "llama-server"), Context{}},
      {"TensileLibrary_lazy_gfx1030.dat\n", Context{"gfx1010", "", ""}},
      {"Call returned HSA_STATUS_ERROR_OUT_OF_RESOURCES: The runtime failed to allocate the necessary resources.\n",
       Context{"gfx90c", "", ""}},
      {"[   13.96] kfd kfd: amdgpu: TAHITI  not supported in kfd\n", Context{}},
      {"[gfxhub] Page fault observed\namdgpu 0000:03:00.0: ring gfx_0.0.0 timeout, signaled seq=2, emitted seq=3\n",
       Context{}},
      {"--extra-index-url https://download.pytorch.org/whl/rocm6.0\nSegmentation fault (core dumped)\n",
       Context{"gfx1010", "", ""}},
      {"RuntimeError: No HIP GPUs are available\n", Context{}},
      {"mce: [Hardware Error]: Machine check events logged\n", Context{}},
      {"BUG: kernel NULL pointer dereference, address: 0000000000000008\n", Context{}},
      {"Memory access fault by GPU node-1 (Agent handle: 0x1) on address (nil). Reason: Unknown.\n",
       Context{"gfx803", "", ""}},
      {"Memory access fault by GPU node-1 (Agent handle: 0x1) on address 0x1000. Reason: DRAM ECC failure.\n",
       Context{}},
      {"Memory access fault by GPU node-1 (Agent handle: 0x1) on address 0x1000. Reason: Generic hang recovery.\n",
       Context{}},
      {"[drm] Fence fallback timer expired on ring sdma0\n", Context{}},
      {"Traceback (most recent call last):\n", Context{}},
      {"RuntimeError: HIP error: hipErrorLaunchFailure\n", Context{"gfx1032", "", ""}},
      {"Segmentation fault (core dumped)\n", Context{"gfx1010", "10.3.0", "environment"}},
      {"kfd not supported on this ASIC\nNo HIP GPUs are available\n", Context{"gfx1030", "", ""}},
      {fmt::format("amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:9 pasid:32771)\n"
                   "amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x{:08X}\n",
                   l2(1, 0, 1, 0, 6, 1, 9)),
       Context{}},
  };
  for (const auto& [log, ctx] : general) {
    const auto r = parse_log(log, ctx);
    REQUIRE(r.ok());
    for (const auto& e : r->events) ++seen[e.rule];
  }
  for (const auto name : event_rule_names()) {
    INFO(name);
    if (name == "unrecognised") continue;  // the fallback: every event kind has a rule before it
    CHECK(seen.count(std::string(name)) == 1);
  }
  CHECK(seen.count("unrecognised") == 0);
}

TEST_CASE("verdict priorities: code-object causes outrank the faults they produce", "[diag][faults][verdict]") {
  const auto r = parse_log(
      "RuntimeError: HIP error: invalid device function\n"
      "[ 3.0] amdgpu 0000:03:00.0: amdgpu: GPU reset begin!\n");
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 2);
  CHECK(r->verdict.cls == FaultClass::kMissingCodeObject);
  // The verdict never blames MTYPE; it says only the module's audit counters could.
  const auto bad = parse_log("hipErrorIllegalAddress\n");
  CHECK(bad->verdict.advice.find("audit counters") != std::string::npos);
}

TEST_CASE("bad input is rejected with a usage error, quiet text is not an error", "[diag][faults][input]") {
  CHECK(parse_log("").error().code == vmfix::Exit::kUsage);
  // NUL runs are skipped and counted (what a hard hang leaves in kern.log); only NULs is binary.
  const auto nul = parse_log(std::string("abc\0def\n", 8));
  REQUIRE(nul.ok());
  CHECK(nul->input.nul_bytes == 1);
  CHECK(nul->input.note == "skipped 1 NUL byte in 1 run");
  CHECK(parse_log(std::string(4096, '\0')).error().code == vmfix::Exit::kUsage);
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 131 + 7) % 256 | 0x80);
  CHECK(parse_log(garbage).error().code == vmfix::Exit::kUsage);
  const auto quiet = parse_log("[    0.000000] Linux version 6.1.0\n[    0.1] Command line: ro quiet\n");
  REQUIRE(quiet.ok());
  CHECK(quiet->events.empty());
  CHECK(quiet->verdict.cls == FaultClass::kNone);
  CHECK(quiet->lines == 2);
  // Chinese text (fixture 006) is text, not garbage.
  CHECK(check_text("ERROR\xef\xbc\x9a\"hipErrorNoBinaryForGpu\"\n").ok());
}

TEST_CASE("feeding lines one at a time gives the same events as parsing the whole log", "[diag][faults][stream]") {
  const std::string text = slurp(kData / "029.txt");
  const auto whole = parse_log(text);
  REQUIRE(whole.ok());
  Parser p;
  std::istringstream in(text);
  std::string line;
  std::vector<Event> events;
  const std::size_t skip = front_matter_lines(text);
  while (std::getline(in, line)) {
    if (p.lines() < skip) {
      p.skip_line();
      continue;
    }
    p.feed(line);
    for (auto& e : p.take_finished()) events.push_back(std::move(e));
  }
  p.flush();
  for (auto& e : p.take_finished()) events.push_back(std::move(e));
  REQUIRE(events.size() == whole->events.size());
  CHECK(event_json(events[0]) == event_json(whole->events[0]));
  CHECK(events[0].degenerate_status);
  CHECK(events[0].records == 2);
}

TEST_CASE("kmsg records become dmesg lines", "[diag][faults][kmsg]") {
  CHECK(vmfix::kmsg_record_to_line("3,1234,262094619,-;amdgpu 0000:03:00.0: amdgpu: x\n") ==
        "[  262.094619] amdgpu 0000:03:00.0: amdgpu: x");
  CHECK(vmfix::kmsg_record_to_line("6,1,5,-,caller=T1;hello\n SUBSYSTEM=pci\n") == "[    0.000005] hello");
  CHECK_FALSE(vmfix::kmsg_record_to_line(" SUBSYSTEM=pci").has_value());
  CHECK_FALSE(vmfix::kmsg_record_to_line("x,1,2,-;m").has_value());
  CHECK_FALSE(vmfix::kmsg_record_to_line("").has_value());
}

TEST_CASE("faults --json output of real reports matches the golden files", "[diag][faults][golden]") {
  for (const char* name : {"022", "036"}) {
    INFO(name);
    const Report r = parse_fixture(std::string(name) + ".txt");
    // A missing golden file is written and the test fails: delete one to regenerate it, review the diff.
    vmfix::test::check_golden(report_json(r), (kData / "golden" / (std::string(name) + ".json")).string());
  }
}

TEST_CASE("an override is judged against the GPU family", "[diag][faults][rules]") {
  // The RDNA1 case this project exists for: gfx1030 code on gfx101x.
  CHECK(override_mismatch(Context{"gfx1010", "10.3.0", "test"}));
  CHECK(override_mismatch(Context{"gfx1012", "10.3.0", "test"}));
  CHECK_FALSE(override_mismatch(Context{"gfx1012", "10.1.0", "test"}));  // documented superset
  CHECK(override_mismatch(Context{"gfx1010", "10.1.2", "test"}));        // never the reverse
  // One ISA per family elsewhere.
  CHECK_FALSE(override_mismatch(Context{"gfx1031", "10.3.0", "test"}));
  CHECK_FALSE(override_mismatch(Context{"gfx1036", "10.3.0", "test"}));
  CHECK_FALSE(override_mismatch(Context{"gfx1103", "11.0.0", "test"}));
  CHECK_FALSE(override_mismatch(Context{"gfx1200", "12.0.1", "test"}));
  CHECK(override_mismatch(Context{"gfx1151", "11.0.0", "test"}));  // gfx115x is its own family
  CHECK(override_mismatch(Context{"gfx1100", "10.3.0", "test"}));
  CHECK(override_mismatch(Context{"gfx90a", "10.3.0", "test"}));
  // gfx9: gfx900 code on the GCN5 parts without matrix cores only.
  CHECK_FALSE(override_mismatch(Context{"gfx90c", "9.0.0", "test"}));
  CHECK(override_mismatch(Context{"gfx90a", "9.0.0", "test"}));
  CHECK(override_mismatch(Context{"gfx803", "8.0.1", "test"}));
  // A value that is not X.Y.Z names no target.
  CHECK_FALSE(override_mismatch(Context{"gfx1102", "gfx1102", "test"}));
  // The same fault line: a mismatch on gfx1010, a plain bad address on gfx1031.
  const char* line = "Memory access fault by GPU node-1 (Agent handle: 0x1) on address 0x7f0000001000. Reason: Page not "
                     "present or supervisor privilege.";
  CHECK(parse_log(line, Context{"gfx1010", "10.3.0", "test"})->verdict.cls == FaultClass::kIsaMismatch);
  CHECK(parse_log(line, Context{"gfx1031", "10.3.0", "test"})->verdict.cls == FaultClass::kVmFaultBadAddress);
}

TEST_CASE("graphics clients are told apart from compute processes", "[diag][faults][rules]") {
  CHECK(is_graphics_client("Xorg", "X:cs0"));
  CHECK(is_graphics_client("gnome-shell", ""));
  CHECK(is_graphics_client("kwin_wayland", ""));
  CHECK(is_graphics_client("firefox-bin", "firefox:cs0"));
  CHECK(is_graphics_client("game.exe", "Job1"));
  CHECK(is_graphics_client("Warframe.x64.ex", "vkd3d_queue"));  // comm cut at 15 characters
  CHECK(is_graphics_client("anything", "dxvk-submit"));
  CHECK_FALSE(is_graphics_client("python", "python"));
  CHECK_FALSE(is_graphics_client("ollama", ""));
  CHECK_FALSE(is_graphics_client("pt_main_thread", "pt_main_thread"));
  const std::string xorg =
      "[ 10.0] amdgpu 0000:04:00.0: amdgpu: [gfxhub0] no-retry page fault (src_id:0 ring:24 vmid:1 pasid:32770, for "
      "process Xorg pid 9214 thread X:cs0 pid 9235)\n"
      "[ 10.0] amdgpu 0000:04:00.0: amdgpu:   in page starting at address 0x0000800104041000 from IH client 0x1b (UTCL2)\n"
      "[ 10.0] amdgpu 0000:04:00.0: amdgpu: VM_L2_PROTECTION_FAULT_STATUS:0x00301031\n";
  const auto g = parse_log(xorg);
  REQUIRE(g.ok());
  CHECK(g->verdict.cls == FaultClass::kGraphicsFault);
  CHECK(g->verdict.advice.find("graphics") != std::string::npos);
  CHECK(g->verdict.advice.find("HSA_OVERRIDE_GFX_VERSION or ROCm libraries play no part") != std::string::npos);
  // The same report from a compute process stays a bad address.
  std::string py = xorg;
  py.replace(py.find("process Xorg pid 9214 thread X:cs0"), 34, "process python pid 9214 thread python");
  py.replace(py.find("vmid:1 "), 7, "vmid:9 ");  // a KFD VMID: VMIDs 1-7 are render-node contexts whatever the name
  CHECK(parse_log(py)->verdict.cls == FaultClass::kVmFaultBadAddress);
  // 6.x kernels name the process on its own line with a capital P.
  const std::string v6 =
      "[ 5.0] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:5 pasid:1198)\n"
      "[ 5.0] amdgpu 0000:03:00.0: amdgpu:  Process Game.exe pid 101684 thread vkd3d_queue pid 102057\n"
      "[ 5.0] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x0000800064402000 from client 0x1b (UTCL2)\n"
      "[ 5.0] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00501430\n";
  const auto v = parse_log(v6);
  REQUIRE(v.ok());
  REQUIRE(v->events.size() == 1);
  CHECK(v->events[0].process == "Game.exe");
  CHECK(v->verdict.cls == FaultClass::kGraphicsFault);
  // Mesa's own report of a GPUVM fault.
  CHECK(parse_log("radv: GPUVM fault detected at address 0x7bf27fd01000.")->verdict.cls == FaultClass::kGraphicsFault);
}

TEST_CASE("a hang or reset before the faults is the verdict", "[diag][faults][rules]") {
  const std::string reset_first =
      "[ 1.0] amdgpu 0000:03:00.0: amdgpu: MES failed to respond to msg=REMOVE_QUEUE\n"
      "[ 1.0] amdgpu 0000:03:00.0: amdgpu: GPU reset begin!\n"
      "[ 3.0] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:169 vmid:0 pasid:0, for process  pid 0 "
      "thread  pid 0)\n"
      "[ 3.0] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x0000000000000000 from client 10\n"
      "[ 3.0] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00040B53\n";
  CHECK(parse_log(reset_first)->verdict.cls == FaultClass::kHangOrReset);
  const std::string fault_first =
      "[ 1.0] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 pasid:32783, for process "
      "python pid 5 thread python pid 5)\n"
      "[ 1.0] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x00007f9587e00000 from client 10\n"
      "[ 1.0] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00801031\n"
      "[ 9.0] [drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring comp_1.0.0 timeout, signaled seq=1, emitted seq=2\n";
  CHECK(parse_log(fault_first)->verdict.cls == FaultClass::kVmFaultBadAddress);
}

TEST_CASE("unsupported GPUs, target lists without the device, and what is no evidence", "[diag][faults][rules]") {
  CHECK(unsupported_target("gfx803"));
  CHECK(unsupported_target("gfx90c:xnack-"));
  CHECK(unsupported_target("gfx902"));
  CHECK_FALSE(unsupported_target("gfx1010"));
  CHECK_FALSE(unsupported_target("gfx1103"));
  CHECK_FALSE(unsupported_target("gfx906"));
  const char* nobin = "hipErrorNoBinaryForGpu: Unable to find code object for all current devices!";
  const auto u = parse_log(nobin, Context{"gfx90c", "", ""});
  CHECK(u->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(u->verdict.advice.find("gfx90c is not supported by current ROCm releases") != std::string::npos);
  CHECK(parse_log(nobin, Context{"gfx1010", "", ""})->verdict.cls == FaultClass::kMissingCodeObject);
  // A library's own list of targets without the device's.
  const auto list = parse_log(
      "time=2024-05-02T12:17:03.657Z level=WARN source=amd_linux.go:116 msg=\"amdgpu [0] gfx1103 is not supported by "
      "/tmp/ollama1/rocm [gfx1030 gfx1100 gfx1101 gfx1102 gfx900 gfx906 gfx908 gfx90a gfx940 gfx941 gfx942]\"");
  REQUIRE(list->events.size() == 1);
  CHECK(list->events[0].isa == "gfx1103");
  CHECK(list->verdict.cls == FaultClass::kMissingCodeObject);
  const auto types = parse_log(
      "level=WARN source=amd_windows.go:138 msg=\"amdgpu is not supported (supported types:[gfx1103])\" "
      "gpu_type=gfx1150 gpu=0");
  REQUIRE(types->events.size() == 1);
  CHECK(types->events[0].isa == "gfx1150");  // the device, not a listed type
  // "(nil)" and "Unknown" are ROCr printing nothing, not a null pointer or a reason.
  const auto nil = parse_log("Memory access fault by GPU node-2 (Agent handle: 0x1) on address (nil). Reason: Unknown.");
  REQUIRE(nil->events.size() == 1);
  CHECK_FALSE(nil->events[0].address.has_value());
  CHECK(nil->events[0].fault_reason.empty());
  CHECK(nil->events[0].reason.find("null") == std::string::npos);
  // OUT_OF_RESOURCES alone is not out of memory; a crash with no GPU line is unknown, not "nothing found".
  CHECK(parse_log("Call returned HSA_STATUS_ERROR_OUT_OF_RESOURCES: The runtime failed to allocate the necessary "
                  "resources.")
            ->verdict.cls == FaultClass::kUnknown);
  CHECK(parse_log("Segmentation fault (core dumped)")->verdict.cls == FaultClass::kUnknown);
}

// Rules from the tuning part of the corpus (170, 176, 193): a Tensile library "not found", the ROCr
// debug agent's own fault report, and KFD's interrupt FIFO overflowing.
TEST_CASE("Tensile files not found, the debug agent's fault report, KFD interrupt floods", "[diag][faults][rules]") {
  const auto tensile = parse_log("Error: TensileLibrary.dat not found", Context{"gfx1011", "", ""});
  REQUIRE(tensile->events.size() == 1);
  CHECK(tensile->verdict.cls == FaultClass::kMissingCodeObject);
  // "TensileLibrary" alone (a path in a listing) is no error.
  CHECK(parse_log("\"/opt/rocm/lib/rocblas/library/TensileLibrary_lazy_gfx1030.dat\"")->events.empty());

  const char* agent =
      "[rocr debug agent]: \n"
      "Memory access fault at GPU Node: 1\n"
      "Address: 0x7F36437BBxxx (page not present;write access to a read-only page;)\n";
  const auto a = parse_log(agent);
  REQUIRE(a->events.size() == 1);
  CHECK(a->verdict.cls == FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(agent, Context{"gfx1010", "10.3.0", ""})->verdict.cls == FaultClass::kIsaMismatch);

  const char* flood =
      "[ 1.0] amdgpu 0000:c2:00.0: amdgpu: KFD node 0 ih_fifo overflow\n"
      "[ 1.0] amdgpu 0000:c2:00.0: amdgpu: KFD node 0 ih_fifo overflow\n"
      "[ 2.0] enqueue_ih_ring_entry: 1408857 callbacks suppressed\n"
      "[ 2.0] amdgpu 0000:c2:00.0: amdgpu: KFD node 0 ih_fifo overflow\n";
  const auto f = parse_log(flood);
  REQUIRE(f->events.size() == 1);
  CHECK(f->events[0].records == 3);
  CHECK(f->verdict.cls == FaultClass::kUnknown);  // no cause named by the line itself
  CHECK(parse_log(flood, Context{"gfx1151", "12.0.1", ""})->verdict.cls == FaultClass::kIsaMismatch);
  CHECK(parse_log(flood, Context{"gfx1151", "11.5.1", ""})->verdict.cls == FaultClass::kUnknown);  // own family
}

// ---------------------------------------------------------------------------------------------
// Issue 14's failure modes, each in general terms, on synthetic logs written from the formats the
// upstream sources print (amdgpu gmc_v9/v10, ROCr, rocBLAS tensile_host.cpp, hipBLASLt,
// llama.cpp ggml-cuda, rocminfo, amdkfd kfd_device.c, Ollama's GPU discovery).


TEST_CASE("a library's list of code objects without the device's target is a missing code object",
          "[diag][faults][rules][general]") {
  // rocBLAS prints its TensileLibrary files after a failed read; users paste `ls` of the directory.
  const std::string listing =
      "$ ls /opt/rocm/lib/rocblas/library | grep TensileLibrary\n"
      "TensileLibrary_lazy_gfx1030.dat\n"
      "TensileLibrary_lazy_gfx1100.dat\n"
      "TensileLibrary_lazy_gfx90a.dat\n";
  const auto r = parse_log(listing, Context{"gfx1010", "", ""});
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 1);
  CHECK(r->events[0].kind == "library_list");
  CHECK(r->events[0].rule == "library_list_without_target");
  CHECK(r->events[0].first_line == 2);
  CHECK(r->events[0].isa == "gfx1010");
  CHECK(r->verdict.cls == FaultClass::kMissingCodeObject);
  CHECK(r->verdict.summary.find("gfx1030 gfx1100 gfx90a") != std::string::npos);
  CHECK(r->context.library_targets == std::vector<std::string>{"gfx1030", "gfx1100", "gfx90a"});
  // The device's own target, a documented superset, or no known GPU: no event.
  CHECK(parse_log(listing, Context{"gfx1030", "", ""})->events.empty());
  CHECK(parse_log(listing + "TensileLibrary_lazy_gfx1010.dat\n", Context{"gfx1012", "", ""})->events.empty());
  CHECK(parse_log(listing)->events.empty());
  // Under an override the runtime asks for the override's target, which the list has.
  CHECK(parse_log(listing, Context{"gfx1010", "10.3.0", "environment"})->events.empty());
  // On a target ROCm does not support, the same list says so.
  CHECK(parse_log(listing, Context{"gfx90c", "", ""})->verdict.cls == FaultClass::kUnsupportedGpu);
  // rocBLAS's own report (error line, then the list): one missing-code-object event, not two.
  const auto rocblas = parse_log(
      "rocBLAS error: Cannot read /opt/rocm/lib/rocblas/library/TensileLibrary.dat: No such file or directory for GPU "
      "arch : gfx1010\n"
      " List of available TensileLibrary Files : \n"
      "\"/opt/rocm/lib/rocblas/library/TensileLibrary_lazy_gfx1030.dat\"\n"
      "\"/opt/rocm/lib/rocblas/library/TensileLibrary_lazy_gfx1100.dat\"\n",
      Context{"gfx1010", "", ""});
  REQUIRE(rocblas->events.size() == 1);
  CHECK(rocblas->events[0].kind == "no_code_object");
  CHECK(rocblas->events[0].isa == "gfx1010");
  CHECK(rocblas->verdict.cls == FaultClass::kMissingCodeObject);
  // rocBLAS's glob for the device's code-object files matched nothing.
  const auto glob = parse_log(
      "rocBLAS warning: No paths matched /opt/rocm/lib/rocblas/library/*gfx1010*co. Make sure that "
      "ROCBLAS_TENSILE_LIBPATH is set correctly.\n");
  REQUIRE(glob->events.size() == 1);
  CHECK(glob->events[0].isa == "gfx1010");
  CHECK(glob->verdict.cls == FaultClass::kMissingCodeObject);
  // hipBLASLt prints the same warning on every GPU it does not cover while PyTorch carries on.
  CHECK(parse_log("rocblaslt warning: No paths matched /opt/rocm/lib/hipblaslt/library/*gfx1030*co. Make sure that "
                  "HIPBLASLT_TENSILE_LIBPATH is set correctly.\n")
            ->events.empty());
}

TEST_CASE("a fault under an override or with libraries built for another family only is an ISA mismatch",
          "[diag][faults][rules][general]") {
  // Stated override: the fault kinds all turn into isa_mismatch on gfx101x, never in the family.
  for (const std::string& log : {std::string(kRocrFault), std::string(kAperture), gfx10_fault(9, "python3")}) {
    INFO(log);
    CHECK(parse_log(log, Context{"gfx1010", "10.3.0", "environment"})->verdict.cls == FaultClass::kIsaMismatch);
    CHECK(parse_log(log, Context{"gfx1031", "10.3.0", "environment"})->verdict.cls == FaultClass::kVmFaultBadAddress);
    CHECK(parse_log(log, Context{"gfx1010", "", ""})->verdict.cls == FaultClass::kVmFaultBadAddress);
  }
  // No override in the log, but the runtime names the gfx1010 as gfx1030: an override is in effect.
  const std::string ggml =
      "ggml_cuda_init: found 1 ROCm devices:\n"
      "  Device 0: AMD Radeon RX 5700 XT, gfx1030 (0x1030), VMM: no, Wave Size: 32\n";
  const auto g = parse_log(ggml + kRocrFault, Context{"gfx1010", "", ""});
  REQUIRE(g.ok());
  CHECK(g->context.runtime_targets == std::vector<std::string>{"gfx1030"});
  CHECK(g->context.runtime_targets_source == "log line 2");
  CHECK(g->verdict.cls == FaultClass::kIsaMismatch);
  CHECK(g->verdict.summary.find("runs this gfx1010 GPU as gfx1030 (log line 2): an HSA_OVERRIDE_GFX_VERSION=10.3.0 is in "
                                "effect") != std::string::npos);
  CHECK(parse_log(ggml + kRocrFault, Context{"gfx1031", "", ""})->verdict.cls == FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(ggml + kRocrFault)->verdict.cls == FaultClass::kVmFaultBadAddress);  // GPU unknown
  // The same from rocminfo's agent and ISA names, and from torch's gcnArchName.
  for (const char* seen : {"  Name:                    gfx1030                            \n",
                           "      Name:                    amdgcn-amd-amdhsa--gfx1030\n",
                           "_CudaDeviceProperties(name='AMD Radeon RX 5700 XT', major=10, minor=3, gcnArchName='gfx1030', "
                           "total_memory=8176MB, multi_processor_count=20)\n"}) {
    INFO(seen);
    CHECK(parse_log(std::string(seen) + kAperture, Context{"gfx1010", "", ""})->verdict.cls == FaultClass::kIsaMismatch);
  }
  // A second agent that is the device itself (no override; an iGPU next to it) infers nothing.
  CHECK(parse_log(std::string("  Name:                    gfx1036\n  Name:                    gfx1010\n") + kAperture,
                  Context{"gfx1010", "", ""})
            ->verdict.cls == FaultClass::kVmFaultBadAddress);
  // The libraries list gfx103x code only and the gfx1010 faulted: foreign code ran.
  const std::string ollama =
      "time=2024-05-02T12:17:03.657Z level=WARN source=amd_linux.go:116 msg=\"amdgpu [0] gfx1010 is not supported by "
      "/usr/lib/ollama/rocm [gfx1030 gfx1100 gfx1101 gfx1102 gfx900 gfx906 gfx908 gfx90a gfx940 gfx941 gfx942]\"\n";
  const auto o = parse_log(ollama + kRocrFault, Context{"gfx1010", "", ""});
  REQUIRE(o->events.size() == 2);
  CHECK(o->events[1].cls == FaultClass::kIsaMismatch);
  CHECK(o->events[1].reason.find("lists code objects only for gfx1030 gfx1100") != std::string::npos);
  CHECK(o->verdict.cls == FaultClass::kIsaMismatch);
  // Without a fault the same list is a missing code object; on a gfx1032 the gfx1030 code is its family.
  CHECK(parse_log(ollama, Context{"gfx1010", "", ""})->verdict.cls == FaultClass::kMissingCodeObject);
  CHECK(parse_log(ollama + kRocrFault, Context{"gfx1032", "", ""})->events[1].cls == FaultClass::kVmFaultBadAddress);
  // A queue abort is no fault: the list does not turn it into a mismatch.
  CHECK(parse_log(ollama + "Callback: Queue 0x7f aborting with error : HSA_STATUS_ERROR_EXCEPTION: An HSAIL operation "
                           "resulted in a hardware exception. code: 0x1016\n",
                  Context{"gfx1010", "", ""})
            ->verdict.cls == FaultClass::kMissingCodeObject);
  CHECK(target_override_value("gfx1030") == "10.3.0");
  CHECK(target_override_value("gfx90a:xnack-") == "9.0.10");
  CHECK(target_override_value("gfx1151") == "11.5.1");
  CHECK_FALSE(target_override_value("gfx10").has_value());
  CHECK_FALSE(target_override_value("banana").has_value());
}

TEST_CASE("a gfxhub fault in a render-node VMID is a graphics fault whatever the process is called",
          "[diag][faults][rules][general]") {
  // amdgpu: VMIDs 1-7 for its own (graphics, Vulkan, Mesa OpenCL) contexts, 8-15 for KFD.
  const auto vk = parse_log(gfx10_fault(3, "llama-server"));
  REQUIRE(vk->events.size() == 1);
  CHECK(vk->events[0].rule == "vm_drm_context");
  CHECK(vk->verdict.cls == FaultClass::kGraphicsFault);
  CHECK(vk->verdict.summary.find("VMID 3") != std::string::npos);
  CHECK(vk->verdict.advice.find("not ROCm/HSA compute") != std::string::npos);
  // An override plays no part in a graphics context.
  CHECK(parse_log(gfx10_fault(3, "llama-server"), Context{"gfx1010", "10.3.0", "environment"})->verdict.cls ==
        FaultClass::kGraphicsFault);
  // KFD's VMIDs stay compute faults.
  CHECK(parse_log(gfx10_fault(8, "python3"))->verdict.cls == FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(gfx10_fault(15, "python3"))->verdict.cls == FaultClass::kVmFaultBadAddress);
  // gfx9: the compute-only parts (gfx908/gfx90a/gfx94x) give KFD VMIDs 3-15, so with the GPU unknown
  // only VMIDs 1-2 are certain; with a GPU with graphics, 1-7.
  const std::string gfx9 =
      "[ 30.0] amdgpu 0000:c6:00.0: amdgpu: [gfxhub0] no-retry page fault (src_id:0 ring:24 vmid:{} pasid:32769, for "
      "process python3 pid 9 thread python3 pid 9)\n"
      "[ 30.0] amdgpu 0000:c6:00.0: amdgpu:   in page starting at address 0x00007f0000001000 from IH client 0x1b "
      "(UTCL2)\n"
      "[ 30.0] amdgpu 0000:c6:00.0: amdgpu: VM_L2_PROTECTION_FAULT_STATUS:0x00301031\n";
  CHECK(parse_log(fmt::format(fmt::runtime(gfx9), 3))->verdict.cls == FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(fmt::format(fmt::runtime(gfx9), 2))->verdict.cls == FaultClass::kGraphicsFault);
  CHECK(parse_log(fmt::format(fmt::runtime(gfx9), 3), Context{"gfx90a", "", ""})->verdict.cls ==
        FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(fmt::format(fmt::runtime(gfx9), 3), Context{"gfx900", "", ""})->verdict.cls ==
        FaultClass::kGraphicsFault);
  // VMID 0 is the kernel's own, and the multimedia hub is not graphics.
  CHECK(parse_log(gfx10_fault(0, ""))->verdict.cls != FaultClass::kGraphicsFault);
  std::string mm = gfx10_fault(2, "ffmpeg");
  mm.replace(mm.find("[gfxhub]"), 8, "[mmhub0]");
  mm.replace(mm.find("GCVM_"), 5, "MMVM_");
  CHECK(parse_log(mm)->verdict.cls == FaultClass::kVmFaultOther);
}

TEST_CASE("unsupported GPUs are their own verdict", "[diag][faults][rules][general]") {
  CHECK(unsupported_target("gfx1035"));  // RDNA2 APUs: no ROCm code objects either
  CHECK(unsupported_target("gfx1036"));
  CHECK_FALSE(unsupported_target("gfx1030"));
  CHECK_FALSE(unsupported_target("gfx1013"));  // RDNA1: builds with its code exist (README)
  // The stack says it skipped the device: KFD, and Ollama's discovery.
  for (const char* notice :
       {"[   13.96] kfd kfd: amdgpu: TAHITI  not supported in kfd\n",
        "[    4.20] kfd kfd: amdgpu: GC IP 090100  not supported in kfd\n",
        "time=2025-01-23T19:14:15.152-08:00 level=INFO source=amd_linux.go:297 msg=\"unsupported Radeon iGPU detected "
        "skipping\" id=0 total=\"512.0 MiB\"\n",
        "time=2024-03-01T10:00:00.000Z level=WARN source=amd_linux.go:300 msg=\"amdgpu too old gfx803\" gpu=0\n"}) {
    INFO(notice);
    const auto r = parse_log(notice);
    REQUIRE(r->events.size() == 1);
    CHECK(r->events[0].kind == "gpu_unsupported_notice");
    CHECK(r->verdict.cls == FaultClass::kUnsupportedGpu);
    // A notice only decides a log with nothing else in it (another GPU may be the one that failed).
    CHECK(parse_log(std::string(notice) + kRocrFault)->verdict.cls == FaultClass::kVmFaultBadAddress);
  }
  // A compute failure that names no other cause, on a target ROCm does not support.
  const char* resources = "hsa api call failure at: /src/rocminfo/rocminfo.cc:1140\n"
                          "Call returned HSA_STATUS_ERROR_OUT_OF_RESOURCES: The runtime failed to allocate the necessary "
                          "resources. This error may also occur when the core runtime library needs to spawn threads or "
                          "create internal OS-specific events.\n";
  const auto u = parse_log(resources, Context{"gfx90c", "", ""});
  CHECK(u->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(u->events[0].rule == "unsupported_gpu_failure");
  CHECK(u->verdict.advice.find("gfx90c is not supported by current ROCm releases") != std::string::npos);
  // The same with an in-family override runs gfx900 code: not the GPU's support any more.
  CHECK(parse_log(resources, Context{"gfx90c", "9.0.0", "environment"})->verdict.cls == FaultClass::kUnknown);
  CHECK(parse_log(resources, Context{"gfx1030", "", ""})->verdict.cls == FaultClass::kUnknown);
  CHECK(parse_log("Segmentation fault (core dumped)\n", Context{"gfx803", "", ""})->verdict.cls ==
        FaultClass::kUnsupportedGpu);
  // KFD skipped the device and the runtime then has no compute agent: the kernel side's support decides,
  // whatever the target and the ROCm release (older kernels say "kfd not supported on this ASIC").
  const std::string skipped = "[    2.72] amdgpu 0000:02:00.0: kfd not supported on this ASIC\n";
  Context rocm29{"gfx803", "", ""};
  rocm29.rocm_version = "2.9";
  const auto k = parse_log(resources + skipped, rocm29);
  CHECK(k->context.kfd_skipped == "log line 3");
  CHECK(k->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(k->verdict.summary.find("after KFD skipped the GPU as unsupported (log line 3)") != std::string::npos);
  CHECK(parse_log(resources, rocm29)->verdict.cls == FaultClass::kUnknown);  // gfx803 was a ROCm 2.9 target
  // A crash is no evidence that no agent exists: another GPU may be the one in use.
  CHECK(parse_log(skipped + "Segmentation fault (core dumped)\n", Context{"gfx1030", "", ""})->verdict.cls ==
        FaultClass::kUnknown);
}

TEST_CASE("a reset before the faults is the verdict, whatever reports the faults", "[diag][faults][rules][general]") {
  const std::string reset =
      "[ 50.0] [drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring comp_1.0.0 timeout, signaled seq=1, emitted seq=3\n"
      "[ 50.1] amdgpu 0000:03:00.0: amdgpu: GPU reset begin!\n"
      "[ 52.0] amdgpu 0000:03:00.0: amdgpu: GPU reset(1) succeeded!\n";
  for (const std::string& fault : {std::string(kRocrFault), std::string(kAperture), gfx10_fault(9, "python3"),
                                   gfx10_fault(3, "kwin_wayland")}) {
    INFO(fault);
    CHECK(parse_log(reset + fault)->verdict.cls == FaultClass::kHangOrReset);
    CHECK(parse_log(fault + reset)->verdict.cls != FaultClass::kHangOrReset);
  }
}

// Issue 14, section 3: every verdict's advice, line by line, for a gfx1010 machine; the summary never
// repeats its class ("vm_fault_bad_address: vm_fault_bad_address: ...").
TEST_CASE("every verdict's advice, in full, and summaries without repeated prefixes", "[diag][faults][advice]") {
  const Context rx5700{"gfx1010", "", ""};
  const std::string no_mtype =
      "Nothing here implicates MTYPE or cache coherence: only the rdna1_vmfix module's audit counters (rdna1-vmfix "
      "status) can show cache-coherent (CC) mappings on an RDNA1 device.";
  struct Case {
    std::string log;
    Context ctx;
    FaultClass cls;
    std::string advice;
  };
  const std::vector<Case> cases = {
      {kRocrFault, Context{"gfx1010", "10.3.0", "environment"}, FaultClass::kIsaMismatch,
       "Unset HSA_OVERRIDE_GFX_VERSION wherever it is set (shell start files, /etc/environment, the service's or "
       "container's environment), or set it only within the GPU's own family (10.1.0 on gfx1011/gfx1012, never 10.3.0 "
       "on gfx101x), and run builds that carry code objects for gfx1010: on gfx101x, TheRock's multi-arch PyTorch "
       "wheels with the [device-gfx1010] extra, or Debian 13 (trixie) ROCm libraries (Debian 12's carry no gfx1010 "
       "code). `rdna1-vmfix isa LIB` lists the targets a library carries."},
      {"hipErrorNoBinaryForGpu: Unable to find code object for all current devices!\n", Context{"gfx90c", "", ""},
       FaultClass::kUnsupportedGpu,
       "gfx90c is not supported by current ROCm releases (no code objects are built for it): use an older ROCm release "
       "or a community build made for this target, or a Vulkan/OpenCL backend (llama.cpp and Ollama have Vulkan). An "
       "HSA_OVERRIDE_GFX_VERSION outside the GPU's own family runs mismatched code."},
      {"hipErrorNoBinaryForGpu: Unable to find code object for all current devices!\n", rx5700,
       FaultClass::kMissingCodeObject,
       "Install builds that carry code objects for gfx1010 (on gfx101x: TheRock's multi-arch PyTorch wheels with the "
       "[device-gfx1010] extra, Debian 13 (trixie) ROCm libraries, or a source build with --offload-arch=gfx1010); "
       "`rdna1-vmfix isa LIB` lists the targets a library carries. Do not paper over it with "
       "HSA_OVERRIDE_GFX_VERSION=10.3.0 on gfx101x: gfx1030 code is not gfx1010 code."},
      // An RDNA2 card no prebuilt library carries: the in-family override is the way to the code that exists.
      {"RuntimeError: CUDA error: HIPBLAS_STATUS_INTERNAL_ERROR when calling `hipblasSgemm(handle)`\n",
       Context{"gfx1031", "", ""}, FaultClass::kMissingCodeObject,
       "Install builds that carry code objects for gfx1031 (on gfx101x: TheRock's multi-arch PyTorch wheels with the "
       "[device-gfx1010] extra, Debian 13 (trixie) ROCm libraries, or a source build with --offload-arch=gfx1031); "
       "`rdna1-vmfix isa LIB` lists the targets a library carries. Do not paper over it with "
       "HSA_OVERRIDE_GFX_VERSION=10.3.0 on gfx101x: gfx1030 code is not gfx1010 code. Within its family, "
       "HSA_OVERRIDE_GFX_VERSION=10.3.0 loads gfx1030 code, which runs on gfx1031: set it where the program starts "
       "when no build carries gfx1031."},
      {"[    2.5] kfd kfd: amdgpu: skipped device 1002:731f, PCI rejects atomics 730<0\n", rx5700,
       FaultClass::kPcieAtomics,
       "ROCm needs PCIe atomics for this GPU: use a CPU-attached PCIe 3.0+ slot without a switch that drops AtomicOps, "
       "check the firmware settings, and confirm with `dmesg | grep -i atomic` after the change."},
      {kRocrFault, rx5700, FaultClass::kVmFaultBadAddress,
       "A GPU kernel used an address it never mapped. Check that HSA_OVERRIDE_GFX_VERSION is unset (`env | grep "
       "HSA_OVERRIDE_GFX_VERSION` prints nothing) and the libraries have code objects built for gfx1010 (`rdna1-vmfix "
       "isa LIB` lists the targets a library carries); if both hold, it is an application or library bug: "
       "rerun with AMD_SERIALIZE_KERNEL=3 (and MIOPEN_FIND_MODE/MIOPEN_DEBUG_* to isolate a convolution solver). " +
           no_mtype},
      {gfx10_fault(2, "Xorg"), rx5700, FaultClass::kGraphicsFault,
       "A graphics client (X server, compositor, Mesa RADV/radeonsi, a game under Wine/Proton) faulted: this is a "
       "graphics-stack problem, not ROCm/HSA compute, and HSA_OVERRIDE_GFX_VERSION or ROCm libraries play no part. "
       "Update Mesa, the kernel and linux-firmware, and report it with the full dmesg to the graphics stack "
       "(Mesa/RADV, VKD3D-Proton/DXVK, or the compositor)."},
      {"[  1.0] amdgpu 0000:03:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x000c address=0x1000 flags=0x0020]\n",
       rx5700, FaultClass::kVmFaultOther,
       "The faulting client is not shader code (or the report is degenerate): update the kernel and linux-firmware, "
       "check IOMMU settings (e.g. iommu=pt) when IO_PAGE_FAULT lines appear, and report the full dmesg upstream. " +
           no_mtype},
      {"torch.OutOfMemoryError: HIP out of memory. Tried to allocate 2.00 GiB\n", rx5700, FaultClass::kOutOfMemory,
       "Reduce the working set (batch size, resolution), check VRAM use (rocm-smi, amdgpu_top) and the GTT size "
       "(amdgpu.gttsize / ttm limits)."},
      {"[  100.5] amdgpu 0000:03:00.0: amdgpu: GPU reset begin!\n", rx5700, FaultClass::kHangOrReset,
       "A ring or the GPU's firmware stopped responding (a timeout, a reset, or a block that failed to start or "
       "resume): update the kernel and linux-firmware; on RDNA1 the known kernel-side problems are hangs around queue "
       "preemption/eviction. Look for a VM fault just before the timeout (run `rdna1-vmfix faults` over the whole "
       "log)."},
      {"Segmentation fault (core dumped)\n", rx5700, FaultClass::kUnknown,
       "No decodable cause in this log: rerun the program with AMD_LOG_LEVEL=3, save the kernel log around the failure "
       "(`sudo dmesg -T > dmesg.txt`) and run `rdna1-vmfix faults` on both logs."},
      {"[    0.000000] Linux version 6.1.0\n", rx5700, FaultClass::kNone, "Nothing to do."},
  };
  std::set<FaultClass> seen;
  for (const auto& c : cases) {
    INFO(c.log);
    const auto r = parse_log(c.log, c.ctx);
    REQUIRE(r.ok());
    CHECK(r->verdict.cls == c.cls);
    CHECK(r->verdict.advice == c.advice);
    // doctor prints these same words as its own advice: none may send the user to doctor.
    CHECK(r->verdict.advice.find("doctor") == std::string::npos);
    seen.insert(r->verdict.cls);
    const std::string cls(class_name(r->verdict.cls));
    if (c.cls == FaultClass::kNone) continue;
    REQUIRE(r->verdict.summary.starts_with(cls + ": "));
    CHECK_FALSE(r->verdict.summary.substr(cls.size() + 2).starts_with(cls));
  }
  // Every class a verdict can name has its case above.
  for (const FaultClass c : classes_by_rank()) {
    INFO(class_name(c));
    CHECK(seen.count(c) == 1);
  }
  CHECK(seen.count(FaultClass::kNone) == 1);
  // Without a known GPU the advice names no made-up target.
  const auto anon = parse_log("hipErrorNoBinaryForGpu: Unable to find code object for all current devices!\n");
  CHECK(anon->verdict.advice.find("code objects for this GPU's target (") != std::string::npos);
  CHECK(anon->verdict.advice.find("--offload-arch=<the GPU's gfx target>") != std::string::npos);
  // No summary of a tuning report repeats a prefix ("X: X:"), whatever the class.
  for (const auto& row : read_index()) {
    if (row.split != "tuning") continue;  // the held-back part is only ever scored, never inspected
    INFO(row.file);
    const Report r = parse_fixture(row.file);
    const std::string& s = r.verdict.summary;
    for (std::size_t a = 0, b = s.find(": "); b != std::string::npos; a = b + 2, b = s.find(": ", a)) {
      const std::string head = s.substr(a, b - a);
      CHECK_FALSE(s.substr(b + 2).starts_with(head + ": "));
    }
  }
}

// Rules from the tuning part of the corpus after reports 213+ (each a general form of a miss there).
TEST_CASE("device coredumps, graphics-ring timeouts, bare Process lines", "[diag][faults][rules][general]") {
  const std::string dump =
      "**** AMDGPU Device Coredump ****\n"
      "version: 1\n"
      "kernel: 6.17.7\n"
      "module: amdgpu\n"
      "time: 4613.177080372\n"
      "process_name: {} PID: 10960\n"
      "\n"
      "Ring timed out details\n"
      "IP Type: {} Ring Name: {}\n"
      "\n"
      "[gfxhub] Page fault observed\n"
      "Faulty page starting at address: 0x0000000000001000\n"
      "Protection fault status register: 0x{:x}\n";
  const auto game = parse_log(fmt::format(fmt::runtime(dump), "SomeGameTitle.e", 0, "gfx_0.0.0", 0x301031));
  REQUIRE(game->events.size() == 1);
  CHECK(game->events[0].from_coredump);
  CHECK(game->events[0].process == "SomeGameTitle.e");  // a 15-character comm: "SomeGameTitle.exe" cut
  CHECK(game->events[0].pid == 10960);
  CHECK(game->events[0].timed_out_ring == "gfx_0.0.0");
  CHECK(game->events[0].address == 0x1000U);
  CHECK(game->verdict.cls == FaultClass::kGraphicsFault);
  // A compute process whose job on a compute ring faulted stays a compute fault ...
  const auto comp = parse_log(fmt::format(fmt::runtime(dump), "llama-server", 1, "comp_1.2.0", 0x301031));
  REQUIRE(comp->events.size() == 1);
  CHECK(comp->events[0].cls != FaultClass::kGraphicsFault);
  // ... and a zero status records no fault at all.
  CHECK(parse_log(fmt::format(fmt::runtime(dump), "llama-server", 1, "comp_1.2.0", 0))->events.empty());
  // A fault that names no process, next to a timeout of the gfx ring: a graphics job faulted.
  const std::string bare =
      "[gfxhub] Page fault observed Faulty page starting at address: 0x0000000000000000\n"
      "amdgpu 0000:03:00.0: ring gfx_0.0.0 timeout, signaled seq=6959447, emitted seq=6959448\n";
  const auto g = parse_log(bare);
  REQUIRE(g->events.size() == 2);
  CHECK(g->events[0].rule == "vm_graphics_ring");
  CHECK(g->verdict.cls == FaultClass::kGraphicsFault);
  // A compute ring's timeout says nothing of graphics.
  std::string c = bare;
  c.replace(c.find("gfx_0.0.0"), 9, "comp_1.0.0");
  CHECK(parse_log(c)->verdict.cls != FaultClass::kGraphicsFault);
  // "Process NAME pid N thread NAME pid M" pasted without the kernel's prefix still names the process.
  const auto kwin = parse_log(
      "amdgpu 0000:0c:00.0: [gfxhub0] no-retry page fault (src_id:0 ring:190 vmid:9 pasid:86)\n"
      "Process kwin_wayland pid 1741 thread kwin_wayla:cs0 pid 1853\n"
      "in page starting at address 0x000080010c677000 from IH client 0x1b (UTCL2)\n");
  REQUIRE(kwin->events.size() == 1);
  CHECK(kwin->events[0].process == "kwin_wayland");
  CHECK(kwin->verdict.cls == FaultClass::kGraphicsFault);
}

TEST_CASE("framework target lists, ROCr's MEMORY_FAULT status, DirectML's out of memory", "[diag][faults][rules][general]") {
  // TensorFlow skips a device its build has no target for, and lists the targets it has.
  const auto tf = parse_log(
      "2024-03-06 07:01:26.857236: I tensorflow/core/common_runtime/gpu/gpu_device.cc:2266] Ignoring visible gpu "
      "device (device: 0, name: AMD Radeon RX 7600, pci bus id: 0000:0d:00.0) with AMDGPU version : gfx1102. The "
      "supported AMDGPU versions are gfx1030gfx1100, gfx900, gfx906, gfx908, gfx90a, gfx940, gfx941, gfx942.\n");
  REQUIRE(tf->events.size() == 1);
  CHECK(tf->events[0].isa == "gfx1102");
  CHECK(tf->verdict.cls == FaultClass::kMissingCodeObject);
  CHECK(tf->context.library_targets.size() == 9);  // gfx1030gfx1100 is two targets
  // TF 1.x: a minimum ISA; below it on an old GPU, the GPU is unsupported.
  const auto old = parse_log(
      "\"Ignoring visible gpu device with AMDGPU ISA gfx 701. The minimum required AMDGPU ISA is gfx803.\"\n");
  REQUIRE(old->events.size() == 1);
  CHECK(old->events[0].isa == "gfx701");
  CHECK(old->verdict.cls == FaultClass::kUnsupportedGpu);
  // A library list that names the device's target shows a build for it exists: no longer the GPU's support.
  const std::string ol = "msg=\"amdgpu is not supported\" gpu=0 gpu_type=gfx90c:xnack- library=C:\\ROCm\\5.7\\bin "
                         "supported_types=\"[gfx1030 gfx1100 gfx906 gfx90c]\"\n";
  CHECK(parse_log(ol, Context{"gfx90c", "", ""})->verdict.cls == FaultClass::kMissingCodeObject);
  CHECK(parse_log(ol + "Segmentation fault (core dumped)\n", Context{"gfx90c", "", ""})->verdict.cls ==
        FaultClass::kMissingCodeObject);
  CHECK(parse_log("msg=\"amdgpu is not supported\" gpu=0 gpu_type=gfx90c library=/usr/lib/ollama "
                  "supported_types=\"[gfx1030 gfx1100]\"\n",
                  Context{"gfx90c", "", ""})
            ->verdict.cls == FaultClass::kUnsupportedGpu);
  // A core-count skip is no target problem.
  CHECK(parse_log("Ignoring visible gpu device (device: 0) with core count: 2. The minimum required count is 8.\n")
            ->events.empty());
  // ROCr's queue error status for a memory access fault.
  const auto mf = parse_log("Queue error - HSA_STATUS_ERROR_MEMORY_FAULT\n");
  REQUIRE(mf->events.size() == 1);
  CHECK(mf->events[0].kind == "hsa_memory_fault");
  CHECK(mf->verdict.cls == FaultClass::kVmFaultBadAddress);
  CHECK(parse_log("Queue error - HSA_STATUS_ERROR_MEMORY_FAULT\n", Context{"gfx1010", "10.3.0", "environment"})
            ->verdict.cls == FaultClass::kIsaMismatch);
  CHECK(parse_log("RuntimeError: Could not allocate tensor with 9831040 bytes. There is not enough GPU video memory "
                  "available!\n")
            ->verdict.cls == FaultClass::kOutOfMemory);
}

TEST_CASE("which target the runtime loads decides support; PyTorch's own wheels on gfx101x",
          "[diag][faults][rules][general]") {
  // gfx1036 is unsupported, but under 10.3.0 the runtime asks for gfx1030 code: a missing code object.
  const char* nocode = ":1:hip_fatbin.cpp :109 : No compatible code objects found for: gfx1030\n";
  CHECK(parse_log(nocode, Context{"gfx1036", "10.3.0", "environment"})->verdict.cls == FaultClass::kMissingCodeObject);
  CHECK(parse_log(nocode, Context{"gfx1036", "", ""})->verdict.cls == FaultClass::kUnsupportedGpu);
  // PyTorch's own ROCm wheels carry no gfx101x code: a crash with them on gfx101x is a missing code object.
  const std::string torch =
      "pip install torch torchvision --extra-index-url https://download.pytorch.org/whl/rocm5.1.1\n"
      "Loading weights from model.ckpt\n"
      "Segmentation fault (core dumped)\n";
  const auto w = parse_log(torch, Context{"gfx1010", "", ""});
  CHECK(w->context.upstream_torch_wheel == "log line 1");
  CHECK(w->verdict.cls == FaultClass::kMissingCodeObject);
  CHECK(parse_log(torch, Context{"gfx1030", "", ""})->verdict.cls == FaultClass::kUnknown);
  // Under the foreign override the override is the first suspect, whatever the wheels.
  CHECK(parse_log(torch, Context{"gfx1010", "10.3.0", "environment"})->verdict.cls == FaultClass::kIsaMismatch);
  // Weak: a fault in the same log decides.
  CHECK(parse_log(torch + kRocrFault, Context{"gfx1010", "", ""})->verdict.cls == FaultClass::kVmFaultBadAddress);
}

// Line patterns from the upstream message formats (format strings of amdgpu/amdkfd, Mesa's amdgpu winsys,
// ROCr, HIP/CLR, rocBLAS/hipBLASLt, PyTorch, TensorFlow, llama.cpp/ggml, Ollama, Blender, Vulkan/DXGI),
// each filled with made-up values: one line, one event of the named kind and class.
TEST_CASE("upstream message formats: each line names its event", "[diag][faults][formats][general]") {
  struct Case {
    std::string line;
    std::string kind;
    FaultClass cls;
  };
  const std::vector<Case> cases = {
      // Graphics clients losing their context or device (Mesa winsys, DXVK/VKD3D-Proton, vulkan-hpp, Wine's DXGI).
      {"amdgpu: The CS has been rejected (-125), but the context isn't robust.", "graphics_context_lost",
       FaultClass::kGraphicsFault},
      {"amdgpu: The CS has been cancelled because the context is lost. This context is guilty of a hard recovery.",
       "graphics_context_lost", FaultClass::kGraphicsFault},
      {"err:   DxvkSubmissionQueue: Command submission failed: VK_ERROR_DEVICE_LOST", "graphics_context_lost",
       FaultClass::kGraphicsFault},
      {"terminate called after throwing an instance of 'vk::DeviceLostError' what(): vk::Queue::submit: "
       "ErrorDeviceLost",
       "graphics_context_lost", FaultClass::kGraphicsFault},
      {"err:dxgi:present: DXGI_ERROR_DEVICE_REMOVED", "graphics_context_lost", FaultClass::kGraphicsFault},
      {"D3D12 device hung: DXGI_ERROR_DEVICE_HUNG", "graphics_context_lost", FaultClass::kGraphicsFault},
      {"[  60.1] [drm:amdgpu_cs_ioctl [amdgpu]] *ERROR* Failed to initialize parser -125!", "graphics_context_lost",
       FaultClass::kGraphicsFault},
      // A runner that prints its child's error after the crash on one line (Ollama's "llama runner process has
      // terminated: ..." followed by rocBLAS's message): the error names the event, not the crash.
      {"Error: llama runner process has terminated: signal: aborted (core dumped) error:Cannot read "
       "/opt/rocm/lib/rocblas/library/TensileLibrary.dat: Invalid argument for GPU arch : gfx1012",
       "no_code_object", FaultClass::kMissingCodeObject},
      {"Error: llama runner process has terminated: exit status 2 Segmentation fault (core dumped)", "process_crash",
       FaultClass::kUnknown},
      // The PM core's failed device callback (dpm_run_callback: "%s(): %ps returns %d") and amdgpu's eviction
      // failure before it: the driver could not suspend the GPU.
      {"[ 80.1] amdgpu 0000:03:00.0: PM: pci_pm_suspend(): amdgpu_pmops_suspend+0x0/0x80 [amdgpu] returns -19",
       "hang", FaultClass::kHangOrReset},
      {"[ 80.1] [drm] evicting device resources failed", "hang", FaultClass::kHangOrReset},
      // ROCr's fault report with the failure KFD gave it (runtime.cpp VMFaultHandler): ECC, hang recovery.
      {"Memory access fault by GPU node-2 (Agent handle: 0x5581e8f0e9a0) on address 0x7f3a40000000. Reason: DRAM ECC "
       "failure.",
       "hsa_memory_fault", FaultClass::kVmFaultOther},
      {"Memory access fault by GPU node-2 (Agent handle: 0x5581e8f0e9a0) on address 0x7f3a40000000. Reason: SRAM ECC "
       "failure.",
       "hsa_memory_fault", FaultClass::kVmFaultOther},
      {"Memory access fault by GPU node-1 on address 0x1000(may not be exact address). Reason: ECC failure (if "
       "supported by HW).",
       "hsa_memory_fault", FaultClass::kVmFaultOther},
      {"Memory access fault by GPU node-1 (Agent handle: 0x5581e8f0e9a0) on address 0x7f3a40000000. Reason: Generic "
       "hang recovery.",
       "hsa_memory_fault", FaultClass::kHangOrReset},
      {"Memory access fault by GPU node-1 (Agent handle: 0x5581e8f0e9a0) on address 0x7f3a40000000. Reason: Write "
       "access to a read-only page.",
       "hsa_memory_fault", FaultClass::kVmFaultBadAddress},
      // ROCr's hardware exception: reset cause ECC (an uncorrectable memory error) or GPU Hang.
      {"HW Exception by GPU node-1 (Agent handle: 0x5581e8f0e9a0) reason :ECC", "hardware_error",
       FaultClass::kUnknown},
      {"HW Exception by GPU node-1 (Agent handle: 0x5581e8f0e9a0) reason :GPU Hang", "hang", FaultClass::kHangOrReset},
      // smu_cmn's refusal once the SMU firmware hung; amdgpu_gem_object_create's allocation failure; the
      // shell's report of SIGKILL.
      {"[ 9647.872] amdgpu 0000:03:00.0: amdgpu: SMU is in hanged state, failed to send smu message!", "hang",
       FaultClass::kHangOrReset},
      {"[  100.1] [drm:amdgpu_gem_object_create [amdgpu]] *ERROR* Failed to allocate GEM object (8388608, 2, 4096, -12)",
       "out_of_memory", FaultClass::kOutOfMemory},
      {"Killed", "process_crash", FaultClass::kUnknown},
      // Windows' NTSTATUS of a crash, as PyCharm/cmd/PowerShell print it; the shell's SIGILL.
      {"Process finished with exit code -1073741819 (0xC0000005)", "process_crash", FaultClass::kUnknown},
      {"Process finished with exit code -1073740791 (0xC0000409)", "process_crash", FaultClass::kUnknown},
      {"python.exe exited with code 3221225477", "process_crash", FaultClass::kUnknown},
      {"[process exited with code 3221225477 (0xc0000005)]", "process_crash", FaultClass::kUnknown},
      {"./run.sh: line 3:  4123 Illegal instruction     (core dumped) python3 x.py", "process_crash",
       FaultClass::kUnknown},
      {"Illegal instruction", "process_crash", FaultClass::kUnknown},
      // radeon / early amdgpu fence watchdogs.
      {"[ 60.958721] radeon 0000:03:00.0: ring 0 stalled for more than 10079msec", "hang", FaultClass::kHangOrReset},
      {"[ 60.965315] radeon 0000:03:00.0: GPU lockup (current fence id 0x0000000000000112 last fence id "
       "0x000000000000011d on ring 0)",
       "hang", FaultClass::kHangOrReset},
      // Kernel oopses (weak: they name no GPU-stack cause).
      {"[ 1234.5] BUG: kernel NULL pointer dereference, address: 0000000000000008", "kernel_bug", FaultClass::kUnknown},
      {"[ 1234.5] BUG: unable to handle page fault for address: ffffc904009ecffc", "kernel_bug", FaultClass::kUnknown},
      {"[ 1234.5] kernel BUG at drivers/gpu/drm/scheduler/sched_main.c:123!", "kernel_bug", FaultClass::kUnknown},
      // ROCr's fault line quoted with the reporter's elisions.
      {"`Memory access fault ... Page not present ... kernel: void foo::bar_kernel<int, double>`", "hsa_memory_fault",
       FaultClass::kVmFaultBadAddress},
      // A HIP call's failure by number (the codes HIP shares with CUDA): 700 illegal address, 98/209 no code.
      {"ERROR: hipStreamSynchronize(1,0x30efef0) failed(700)", "hip_illegal_address", FaultClass::kVmFaultBadAddress},
      {"hipLaunchKernel failed with hipError_t(98)", "no_code_object", FaultClass::kMissingCodeObject},
      {"ERROR: hipModuleLaunchKernel returned 209", "no_code_object", FaultClass::kMissingCodeObject},
      // Missing code objects.
      {"RuntimeError: HIP error: device kernel image is invalid", "no_code_object", FaultClass::kMissingCodeObject},
      {"hipModuleLoadData returned hipErrorInvalidImage", "no_code_object", FaultClass::kMissingCodeObject},
      {"HIP binary kernel for this graphics card compute capability (gfx1010) not found.", "no_code_object",
       FaultClass::kMissingCodeObject},
      {"time=2024-05-01T10:00:00.000Z level=WARN source=amd_linux.go:340 msg=\"amdgpu is not supported\" gpu=0 "
       "gpu_type=gfx1010 library=/usr/lib/ollama supported_types=\"[gfx1030 gfx1100 gfx1101 gfx1102]\"",
       "no_code_object", FaultClass::kMissingCodeObject},
      {"time=2024-05-01T10:00:00.000Z level=WARN source=amd_linux.go:120 msg=\"amdgpu detected, but no compatible "
       "rocm library found.  Either install rocm v6, or follow manual install instructions\"",
       "no_code_object", FaultClass::kMissingCodeObject},
      {"rocBLAS error: Could not initialize Tensile host:", "no_code_object", FaultClass::kMissingCodeObject},
      {"hip_fatbin.cpp: COMGR API could not find the CO for this GPU device/ISA", "no_code_object",
       FaultClass::kMissingCodeObject},
      {"RuntimeError: CUDA error: HIPBLAS_STATUS_ARCH_MISMATCH when calling `hipblasSgemm(handle)`", "no_code_object",
       FaultClass::kMissingCodeObject},
      {"RuntimeError: CUDA error: HIPBLAS_STATUS_NOT_SUPPORTED when calling `hipblasLtMatmul(ltHandle, computeDesc)`",
       "no_code_object", FaultClass::kMissingCodeObject},
      // No usable GPU: no cause of its own.
      {"RuntimeError: No HIP GPUs are available", "no_gpu_device", FaultClass::kUnknown},
      {"ggml_cuda_init: failed to initialize ROCm: no ROCm-capable device is detected", "no_gpu_device",
       FaultClass::kUnknown},
      {"hipGetDeviceCount failed: hipErrorNoDevice", "no_gpu_device", FaultClass::kUnknown},
      {"time=2024-05-01T10:00:00.000Z level=INFO source=amd_linux.go:404 msg=\"no compatible amdgpu devices "
       "detected\"",
       "no_gpu_device", FaultClass::kUnknown},
      {"time=2025-07-23T18:46:52.528Z level=INFO source=gpu.go:377 msg=\"no compatible GPUs were discovered\"",
       "no_gpu_device", FaultClass::kUnknown},
      {"rocblaslt error: Could not initialize Tensile host: No devices found", "no_gpu_device", FaultClass::kUnknown},
      {"Failed to get device count", "no_gpu_device", FaultClass::kUnknown},
      {"ROCk module is NOT loaded, possibly no GPU devices", "no_gpu_device", FaultClass::kUnknown},
      {"Unable to open /dev/kfd read-write: Permission denied", "no_gpu_device", FaultClass::kUnknown},
      {"openat(AT_FDCWD, \"/dev/kfd\", O_RDWR|O_CLOEXEC) = -1 ENOMEM (Cannot allocate memory)", "no_gpu_device",
       FaultClass::kUnknown},
      {"AssertionError: Torch not compiled with CUDA enabled", "no_gpu_device", FaultClass::kUnknown},
      {"RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and installed a "
       "driver",
       "no_gpu_device", FaultClass::kUnknown},
      {"RuntimeError: No CUDA GPUs are available", "no_gpu_device", FaultClass::kUnknown},
      {"ggml_cuda_init: failed to initialize ROCm: unknown error", "no_gpu_device", FaultClass::kUnknown},
      // Out of memory.
      {"torch.cuda.OutOfMemoryError: Allocation on device 0", "out_of_memory", FaultClass::kOutOfMemory},
      {"hipMalloc returned hipErrorMemoryAllocation", "out_of_memory", FaultClass::kOutOfMemory},
      {"vk::Device::allocateMemory: ErrorOutOfDeviceMemory", "out_of_memory", FaultClass::kOutOfMemory},
      {"vkAllocateMemory failed: VK_ERROR_OUT_OF_DEVICE_MEMORY", "out_of_memory", FaultClass::kOutOfMemory},
      {"vkCreateBuffer failed: VK_ERROR_OUT_OF_HOST_MEMORY", "out_of_memory", FaultClass::kOutOfMemory},
      {"vk::Device::createBuffer: ErrorOutOfHostMemory", "out_of_memory", FaultClass::kOutOfMemory},
      {"ggml_vulkan: Device memory allocation of size 4294967296 failed.", "out_of_memory", FaultClass::kOutOfMemory},
      {"llama_model_load: error loading model: unable to allocate ROCm0 buffer", "out_of_memory",
       FaultClass::kOutOfMemory},
      {"ggml_gallocr_reserve_n: failed to allocate ROCm0 buffer of size 8589934592", "out_of_memory",
       FaultClass::kOutOfMemory},
      {"rocBLAS status: rocblas_status_memory_error", "out_of_memory", FaultClass::kOutOfMemory},
      {"MIOpen Error: miopenStatusAllocFailed", "out_of_memory", FaultClass::kOutOfMemory},
      {"MIOpen Error: /long/pathname/MIOpen/src/hip/handlehip.cpp:70: Memory not available to allocate buffer: "
       "1073741824",
       "out_of_memory", FaultClass::kOutOfMemory},
      {"RuntimeError: CUDA error: HIPBLAS_STATUS_ALLOC_FAILED when calling `hipblasCreate(handle)`", "out_of_memory",
       FaultClass::kOutOfMemory},
      {"2019-01-08 19:06:11.303639: E tensorflow/stream_executor/rocm/rocm_driver.cc:601] failed to allocate 6.61G "
       "(7100536832 bytes) from device: hipError_t(1002)",
       "out_of_memory", FaultClass::kOutOfMemory},
      {"tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor with "
       "shape[1024,1024]",
       "out_of_memory", FaultClass::kOutOfMemory},
      {"[  900.1] python3 invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0",
       "out_of_memory", FaultClass::kOutOfMemory},
      {"amdgpu: Not enough memory for command submission.", "out_of_memory", FaultClass::kOutOfMemory},
      {"terminate called after throwing an instance of 'std::bad_alloc'", "out_of_memory", FaultClass::kOutOfMemory},
      {"mmap of 8589934592 bytes failed: Cannot allocate memory", "out_of_memory", FaultClass::kOutOfMemory},
      {"time=2024-05-01T10:00:00.000Z level=ERROR source=sched.go:455 msg=\"error loading llama server\" "
       "error=\"model requires more system memory (12.5 GiB) than is available (8.0 GiB)\"",
       "out_of_memory", FaultClass::kOutOfMemory},
      // Hangs, firmware that stops answering, resets.
      {"[  389.9] [drm:mes_v11_0_submit_pkt_and_poll_completion.constprop.0 [amdgpu]] *ERROR* MES failed to "
       "response msg=3",
       "hang", FaultClass::kHangOrReset},
      {"[  389.9] amdgpu 0000:03:00.0: amdgpu: MES failed to respond to msg=REMOVE_QUEUE", "hang",
       FaultClass::kHangOrReset},
      {"[  389.9] amdgpu 0000:03:00.0: amdgpu: failed to remove hardware queue from MES, doorbell=0x1002", "hang",
       FaultClass::kHangOrReset},
      {"[  389.9] [drm:amdgpu_mes_unmap_legacy_queue [amdgpu]] *ERROR* failed to unmap legacy queue", "hang",
       FaultClass::kHangOrReset},
      {"[  389.9] amdgpu 0000:03:00.0: amdgpu: The cp might be in an unrecoverable state due to an unsuccessful "
       "queues preemption",
       "hang", FaultClass::kHangOrReset},
      {"[  389.9] amdgpu: HIQ MQD's queue_doorbell_id0 is not 0, Queue preemption time out", "hang",
       FaultClass::kHangOrReset},
      {"[  389.9] amdgpu: Failed to evict process queues", "hang", FaultClass::kHangOrReset},
      {"[  389.9] amdgpu: cp queue preemption time out.", "hang", FaultClass::kHangOrReset},
      {"[  389.9] amdgpu: Resetting wave fronts (cpsch) on dev 00000000a1b2c3d4", "hang", FaultClass::kHangOrReset},
      {"[  389.9] [drm:gfx_v10_0_cp_gfx_enable [amdgpu]] *ERROR* failed to halt cp gfx", "hang",
       FaultClass::kHangOrReset},
      {"[  389.9] [drm:amdgpu_device_gpu_recover [amdgpu]] *ERROR* ASIC reset failed with error, -110", "hang",
       FaultClass::kHangOrReset},
      {"AMD Software has detected a driver timeout on your system.", "hang", FaultClass::kHangOrReset},
      {"[  50.0] [drm:drm_atomic_helper_wait_for_dependencies [drm_kms_helper]] *ERROR* [CRTC:82:crtc-0] commit wait "
       "timed out",
       "hang", FaultClass::kHangOrReset},
      {"HW Exception by GPU node-1 (Agent handle: 0x55d1c0a0) reason :GPU Hang", "hang", FaultClass::kHangOrReset},
      {"RuntimeError: HIP error: the launch timed out and was terminated", "hang", FaultClass::kHangOrReset},
      {"[  50.0] amdgpu 0000:03:00.0: amdgpu: Starting comp_1.0.0 ring reset", "hang", FaultClass::kHangOrReset},
      {"[  50.0] amdgpu 0000:03:00.0: amdgpu: Ring comp_1.0.0 reset failure", "hang", FaultClass::kHangOrReset},
      {"[  50.0] amdgpu 0000:03:00.0: [drm] device wedged, but recovered through reset", "hang",
       FaultClass::kHangOrReset},
      {"[  50.0] amdgpu 0000:03:00.0: amdgpu: Dumping IP State", "hang", FaultClass::kHangOrReset},
      {"[  50.0] [drm:drm_atomic_helper_wait_for_flip_done [drm_kms_helper]] *ERROR* [CRTC:82:crtc-0] flip_done "
       "timed out",
       "hang", FaultClass::kHangOrReset},
      {"[  50.0] [drm:amdgpu_dm_atomic_commit_tail [amdgpu]] *ERROR* Waiting for fences timed out!", "hang",
       FaultClass::kHangOrReset},
      {"[  50.0] amdgpu 0000:03:00.0: amdgpu: SMU: I'm not done with your previous command: "
       "SMN_C2PMSG_66:0x0000000E SMN_C2PMSG_82:0x00000000",
       "hang", FaultClass::kHangOrReset},
      // Firmware that never answers, and blocks that then fail to start or resume (amdgpu_device.c, smu_cmn.c,
      // amdgpu_psp.c formats).
      {"[  5.0] amdgpu 0000:03:00.0: amdgpu: SMU: No response msg_reg: 6 resp_reg: 0", "hang",
       FaultClass::kHangOrReset},
      {"[  5.0] [drm:amdgpu_device_init [amdgpu]] *ERROR* hw_init of IP block <smu> failed -62", "hang",
       FaultClass::kHangOrReset},
      {"[  5.0] amdgpu 0000:03:00.0: amdgpu: resume of IP block <psp> failed -22", "hang", FaultClass::kHangOrReset},
      {"[  5.0] amdgpu 0000:03:00.0: amdgpu: Fatal error during GPU init", "hang", FaultClass::kHangOrReset},
      {"[  5.0] amdgpu 0000:03:00.0: amdgpu: amdgpu_device_ip_resume failed (-22).", "hang",
       FaultClass::kHangOrReset},
      {"[  5.0] [drm:psp_resume [amdgpu]] *ERROR* PSP resume failed", "hang", FaultClass::kHangOrReset},
      {"[  5.0] [drm:psp_hw_start [amdgpu]] *ERROR* PSP load tmr failed!", "hang", FaultClass::kHangOrReset},
      {"[  50.0] [drm:amdgpu_ring_test_helper [amdgpu]] *ERROR* ring kiq_2.1.0 test failed (-110)", "hang",
       FaultClass::kHangOrReset},
      {"[  50.0] [drm:amdgpu_device_ip_late_init [amdgpu]] *ERROR* IB test failed on gfx_0.0.0 (-110).", "hang",
       FaultClass::kHangOrReset},
      // Any other HIP/ROCm runtime error: an event of class unknown, never "no event".
      {"RuntimeError: HIP error: hipErrorLaunchFailure", "hsa_error", FaultClass::kUnknown},
      {"ROCm error: unspecified launch failure", "hsa_error", FaultClass::kUnknown},
      {"torch.AcceleratorError: HIP error: the operation cannot be performed in the present state", "hsa_error",
       FaultClass::kUnknown},
      {"RuntimeError: CUDA error: HIPBLAS_STATUS_INTERNAL_ERROR when calling `hipblasGemmEx(handle)`", "hsa_error",
       FaultClass::kUnknown},
      {"rocBLAS error: rocblas_status_internal_error", "hsa_error", FaultClass::kUnknown},
      // PyTorch's hipified CUDA wording and MIOpen's own failures: a GPU-library error, no cause named.
      {"RuntimeError: CUDA error: unspecified launch failure", "hsa_error", FaultClass::kUnknown},
      {"MIOpen Error: /long/pathname/MIOpen/src/ocl/convolutionocl.cpp:275: No suitable algorithm was found to "
       "execute the required convolution",
       "hsa_error", FaultClass::kUnknown},
      {"MIOpen(HIP): Error [Compile] 'hiprtcCompileProgram(prog.get(), 3, opts)' naive_conv.cpp: "
       "HIPRTC_ERROR_COMPILATION (6)",
       "hsa_error", FaultClass::kUnknown},
      {"RuntimeError: miopenStatusUnknownError", "hsa_error", FaultClass::kUnknown},
      // HIP's program_state found no metadata for a kernel in the device's code objects; LLVM (a JIT) does not
      // know the device's target at all.
      {"  what():  Missing metadata for __global__ function: _Z6kernelPfS_i", "no_code_object",
       FaultClass::kMissingCodeObject},
      {"'gfx1010' is not a recognized processor for this target (ignoring processor)", "no_code_object",
       FaultClass::kMissingCodeObject},
      // The web UIs' start-up check that torch sees a GPU: no cause of its own.
      {"RuntimeError: Torch is not able to use GPU; add --skip-torch-cuda-test to COMMANDLINE_ARGS variable to "
       "disable this check",
       "no_gpu_device", FaultClass::kUnknown},
      // amdgpu_device_init when the IP blocks do not come up.
      {"[  5.0] amdgpu 0000:03:00.0: amdgpu: amdgpu_device_ip_init failed", "hang", FaultClass::kHangOrReset},
      {"[  5.0] amdgpu: probe of 0000:03:00.0 failed with error -22", "hang", FaultClass::kHangOrReset},
      {"[  60.0] [drm] Skip scheduling IBs!", "hang", FaultClass::kHangOrReset},
      {"[  60.0] amdgpu 0000:03:00.0: amdgpu: ASIC reset failed with error, -110 for drm dev, 0000:03:00.0", "hang",
       FaultClass::kHangOrReset},
      {"[  60.0] amdgpu: qcm fence wait loop timeout expired", "hang", FaultClass::kHangOrReset},
      {"[ 201.7] [drm:dc_dmub_srv_wait_idle [amdgpu]] *ERROR* Error waiting for DMUB idle: status=3", "hang",
       FaultClass::kHangOrReset},
      {"[  60.0] [drm:psp_cmd_submit_buf [amdgpu]] *ERROR* psp command (0x6) failed and response status is (0x0): "
       "timed out",
       "hang", FaultClass::kHangOrReset},
      {"[  60.0] amdgpu: Pasid 0x8001 destroy queue 2 failed, ret -62", "hang", FaultClass::kHangOrReset},
      {"[  5.0] amdgpu 0000:03:00.0: amdgpu: failed send message: SetHardMinByFreq (28) \tparam: 0x00000005 "
       "response 0xffffffc2",
       "hang", FaultClass::kHangOrReset},
      // Fences signalled without their interrupt (amdgpu_fence.c): weak, no cause.
      {"[  63.1] [drm] Fence fallback timer expired on ring sdma0", "fence_fallback", FaultClass::kUnknown},
      // A process that died, and a program's exception: no GPU-side cause named.
      {"terminate called after throwing an instance of 'std::runtime_error'", "process_crash", FaultClass::kUnknown},
      {"Fatal Python error: Aborted", "process_crash", FaultClass::kUnknown},
      {"/src/ggml/src/ggml.c:1234: GGML_ASSERT(ctx->mem_buffer != NULL) failed", "process_crash",
       FaultClass::kUnknown},
      {"Error: llama runner process has terminated: exit status 2", "process_crash", FaultClass::kUnknown},
      {"subprocess.CalledProcessError: Command '['python3', 'run.py']' died with <Signals.SIGSEGV: 11>.",
       "process_crash", FaultClass::kUnknown},
      {"[ 812.5] python3[4242]: segfault at 0 ip 00007f00deadbeef sp 00007ffd00000000 error 4 in "
       "libamdhip64.so.6[7f0000000000+400000]",
       "process_crash", FaultClass::kUnknown},
      {"[2024-05-01 10:00:00] torch.distributed.elastic.multiprocessing.api: failed (exitcode: -6) local_rank: 0 "
       "(pid: 4100) of binary: /usr/bin/python3 Signal 6 (SIGABRT) received by PID 4100",
       "process_crash", FaultClass::kUnknown},
      {"time=2024-05-01T10:00:00.000Z level=ERROR source=server.go:600 msg=\"llama runner terminated\" "
       "error=\"signal: aborted\"",
       "process_crash", FaultClass::kUnknown},
      {"Error: exit status 0xc0000409", "process_crash", FaultClass::kUnknown},
      {"time=2024-05-01T10:00:00.000Z level=ERROR source=sched.go:455 msg=\"error loading llama server\" "
       "error=\"llama runner terminated\"",
       "process_crash", FaultClass::kUnknown},
      {"rocBLAS error: Tensile solution found, but exception thrown for { a: ... }", "hsa_error",
       FaultClass::kUnknown},
      {"Traceback (most recent call last):", "app_error", FaultClass::kUnknown},
      {"RuntimeError: Expected all tensors to be on the same device, but found at least two devices", "app_error",
       FaultClass::kUnknown},
      {"Aborted", "process_crash", FaultClass::kUnknown},
      {"clang++: error: unsupported HIP gpu architecture: gfx1010", "no_code_object", FaultClass::kMissingCodeObject},
      // Hardware errors outside the GPU stack: an event, of no GPU class.
      {"[  12.3] mce: [Hardware Error]: Machine check events logged", "hardware_error", FaultClass::kUnknown},
      {"[  12.3] pcieport 0000:00:01.1: PCIe Bus Error: severity=Corrected, type=Physical Layer, (Receiver ID)",
       "hardware_error", FaultClass::kUnknown},
      {"[  12.3] amdgpu 0000:03:00.0: amdgpu: 2 uncorrectable hardware errors detected in umc block",
       "hardware_error", FaultClass::kUnknown},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    const auto r = parse_log(c.line + "\n");
    REQUIRE(r.ok());
    REQUIRE(r->events.size() == 1);
    CHECK(r->events[0].kind == c.kind);
    CHECK(r->events[0].cls == c.cls);
    CHECK(r->verdict.cls == c.cls);
  }
  // The ISA named by Blender's, Ollama's and LLVM's lines is the device's.
  for (const auto& c : cases) {
    if (c.line.find("(gfx1010)") == std::string::npos && c.line.find("gpu_type=gfx1010") == std::string::npos &&
        c.line.find("'gfx1010'") == std::string::npos && c.line.find("architecture: gfx1010") == std::string::npos)
      continue;
    INFO(c.line);
    CHECK(parse_log(c.line)->events[0].isa == "gfx1010");
  }
  // A generic HIP error keeps its status name for the reason.
  const auto launch = parse_log("RuntimeError: HIP error: hipErrorLaunchFailure\n");
  CHECK(launch->events[0].hsa_status == "hipErrorLaunchFailure");
  CHECK(launch->verdict.summary.find("hipErrorLaunchFailure") != std::string::npos);
  CHECK(parse_log("RuntimeError: CUDA error: HIPBLAS_STATUS_INTERNAL_ERROR when calling `x`\n")->events[0].hsa_status ==
        "HIPBLAS_STATUS_INTERNAL_ERROR");
  CHECK(parse_log("RuntimeError: miopenStatusUnknownError\n")->events[0].hsa_status == "miopenStatusUnknownError");
  // LLVM's warning names other targets too ('znver4' on the host): only a GPU target is the device's.
  CHECK(parse_log("'znver4' is not a recognized processor for this target (ignoring processor)\n")->events.empty());
  // A compiler that does not know an unsupported target builds nothing for it: the GPU's support.
  CHECK(parse_log("'gfx90c' is not a recognized processor for this target (ignoring processor)\n",
                  Context{"gfx90c", "", ""})
            ->verdict.cls == FaultClass::kUnsupportedGpu);
}

// The ROCm release decides whether a gfx8 dGPU target is supported: gfx802/gfx803 were ROCm targets before
// 4.0 (AMD's hardware support document: gfx8 "not guaranteed" in 4.x, not detected from 4.5); the release
// comes from the machine (or the metadata header) or from the log's paths and wheel versions.
TEST_CASE("the ROCm release in use decides gfx8 support; runtime faults on unsupported targets",
          "[diag][faults][rules][general]") {
  CHECK(rocm_release("4.0.0") == "4.0");
  CHECK(rocm_release("3.x (2020)") == "3");
  CHECK(rocm_release("2.1 (rocm/tensorflow:rocm2.1-tf1.12-python3 container)") == "2.1");
  CHECK(rocm_release("5.7.1/lib/librocblas.so") == "5.7");
  CHECK(rocm_release("the release shipping ROCk module 6.12.12").empty());
  CHECK(rocm_release("none").empty());
  CHECK(rocm_release("").empty());
  CHECK_FALSE(unsupported_under("gfx803", "3.5"));
  CHECK_FALSE(unsupported_under("gfx802", "2"));
  CHECK(unsupported_under("gfx803", "4.0"));
  CHECK(unsupported_under("gfx803", "6.4"));
  CHECK(unsupported_under("gfx803", ""));      // unknown: judged as a current release
  CHECK(unsupported_under("gfx801", "2.0"));   // Carrizo was never a ROCm target
  CHECK(unsupported_under("gfx90c", "2.0"));   // APUs never were either
  CHECK_FALSE(unsupported_under("gfx1030", ""));

  // ROCr's fault without an address on a gfx8 GPU under a release without gfx8: the GPU's support is the
  // only lead. With a real address it is what a bad pointer prints on any target: an address fault.
  const Context polaris{"gfx803", "", ""};
  const std::string nil =
      "Memory access fault by GPU node-1 (Agent handle: 0x55d0c4a0b3c0) on address (nil). Reason: Unknown.\n";
  CHECK(parse_log(kRocrFault, polaris)->verdict.cls == FaultClass::kVmFaultBadAddress);
  // ... unless the log shows KFD skipping the device.
  CHECK(parse_log(std::string("[ 3.0] kfd kfd: amdgpu: VERDE not supported in kfd\n") + kRocrFault, polaris)
            ->verdict.cls == FaultClass::kUnsupportedGpu);
  const auto u = parse_log(nil, polaris);
  REQUIRE(u->events.size() == 1);
  CHECK(u->events[0].rule == "unsupported_gpu_fault");
  CHECK(u->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(u->verdict.summary.find("gfx803") != std::string::npos);
  CHECK(u->verdict.advice.find("gfx803 is not supported by current ROCm releases") != std::string::npos);
  for (const std::string& line : {std::string(kAperture), std::string("RuntimeError: HIP error: an illegal memory access "
                                                                     "was encountered\n")})
    CHECK(parse_log(line, polaris)->verdict.cls == FaultClass::kUnsupportedGpu);
  // Under ROCm 2.x/3.x gfx803 was a target: the same fault is a bad address.
  Context rocm2 = polaris;
  rocm2.rocm_version = "2.1";
  CHECK(parse_log(nil, rocm2)->verdict.cls == FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(std::string("/opt/rocm-3.5.0/bin/rocminfo\n") + nil, polaris)->verdict.cls ==
        FaultClass::kVmFaultBadAddress);
  const auto w4 = parse_log(std::string("torch 1.8.1+rocm4.0.1\n") + nil, polaris);
  CHECK(w4->context.rocm_version == "4.0");
  CHECK(w4->context.rocm_version_source == "log line 1");
  CHECK(w4->verdict.cls == FaultClass::kUnsupportedGpu);
  // The machine's (or the header's) release wins over the log's.
  CHECK(parse_log(std::string("/opt/rocm-5.7.1/lib\n") + nil, rocm2)->context.rocm_version == "2.1");
  // A missing code object or a crash under ROCm 3.x on gfx803: the library's gap, not the GPU's support.
  CHECK(parse_log("hipErrorNoBinaryForGpu: Unable to find code object for all current devices!\n", rocm2)->verdict.cls ==
        FaultClass::kMissingCodeObject);
  CHECK(parse_log("Segmentation fault (core dumped)\n", rocm2)->verdict.cls == FaultClass::kUnknown);
  // APUs: an in-family override runs supported code, so the fault is an address again.
  CHECK(parse_log(nil, Context{"gfx90c", "", ""})->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(parse_log(nil, Context{"gfx90c", "9.0.0", "environment"})->verdict.cls == FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(nil, Context{"gfx1030", "", ""})->verdict.cls == FaultClass::kVmFaultBadAddress);
  // The kernel's report of a shader fault in a KFD VMID (a ROCm queue's) always names its address: the
  // same evidence only where KFD skipped the device; render-node VMIDs stay graphics faults.
  CHECK(parse_log(gfx10_fault(9, "python3"), Context{"gfx1036", "", ""})->verdict.cls ==
        FaultClass::kVmFaultBadAddress);
  const auto k = parse_log("[ 3.0] kfd kfd: amdgpu: GC 10.3.6 not supported in kfd\n" + gfx10_fault(9, "python3"),
                           Context{"gfx1036", "", ""});
  REQUIRE(k->events.size() == 2);
  CHECK(k->events.back().rule == "unsupported_gpu_fault");
  CHECK(k->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(parse_log(gfx10_fault(9, "python3"), Context{"gfx1036", "10.3.0", "environment"})->verdict.cls ==
        FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(gfx10_fault(3, "python3"), Context{"gfx1036", "", ""})->verdict.cls == FaultClass::kGraphicsFault);
  CHECK(parse_log(gfx10_fault(9, "python3"), Context{"gfx1030", "", ""})->verdict.cls ==
        FaultClass::kVmFaultBadAddress);
  // Weak: a reset in the same log decides.
  CHECK(parse_log(nil + "[ 52.0] amdgpu 0000:03:00.0: amdgpu: GPU reset begin!\n", polaris)
            ->verdict.cls == FaultClass::kHangOrReset);
  // The metadata header's rocm: field is the release; the JSON names it and where it came from.
  const std::string doc = std::string("---\ngpu: Radeon RX 580 (gfx803)\nrocm: 2.1 (container)\n---\n") + nil;
  const Context fm = context_from_front_matter(doc);
  CHECK(fm.rocm_version == "2.1");
  const auto r = parse_log(doc, fm);
  CHECK(r->verdict.cls == FaultClass::kVmFaultBadAddress);
  const auto j = report_json(*r);
  CHECK(j["context"]["rocm"] == "2.1");
  CHECK(j["context"]["rocm_source"] == "front matter rocm");
  CHECK_FALSE(report_json(*parse_log(kRocrFault))["context"].contains("rocm"));
  // Without --gfx, a target the runtime names the device by that no release supports is the GPU's own
  // (nobody overrides to it); a supported one may be an override's and says nothing.
  const std::string rocminfo = "  Name:                    gfx90c\n";
  const auto apu = parse_log(rocminfo + nil);
  CHECK(parse_log(rocminfo + kRocrFault)->verdict.cls == FaultClass::kVmFaultBadAddress);
  CHECK(apu->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(apu->verdict.summary.find("on gfx90c") != std::string::npos);
  CHECK(parse_log(rocminfo + "Segmentation fault (core dumped)\n")->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(parse_log("  Name:                    gfx1030\n" + std::string(kRocrFault))->verdict.cls ==
        FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(rocminfo + nil, Context{"gfx90c", "9.0.0", "environment"})->verdict.cls ==
        FaultClass::kVmFaultBadAddress);
}

// AMD's ROCm libraries, PyTorch's wheels and Debian's packages build gfx1030 alone among the RDNA2 discrete
// targets: on gfx1031/gfx1032/gfx1034 without the in-family override, a library error that names no cause
// most likely means no kernels for the target (weak: any other cause in the log decides).
TEST_CASE("a causeless library error on an RDNA2 target no build carries", "[diag][faults][rules][general]") {
  const std::string blas = "RuntimeError: CUDA error: HIPBLAS_STATUS_INTERNAL_ERROR when calling `hipblasSgemm(h)`\n";
  for (const char* gfx : {"gfx1031", "gfx1032", "gfx1034"}) {
    INFO(gfx);
    const auto r = parse_log(blas, Context{gfx, "", ""});
    REQUIRE(r->events.size() == 1);
    CHECK(r->events[0].rule == "library_error_without_target_build");
    CHECK(r->verdict.cls == FaultClass::kMissingCodeObject);
    CHECK(r->verdict.summary.find("HIPBLAS_STATUS_INTERNAL_ERROR on " + std::string(gfx)) != std::string::npos);
  }
  // The builds carry gfx1030 code, and with the in-family override the runtime loads it: no longer the gap.
  CHECK(parse_log(blas, Context{"gfx1030", "", ""})->verdict.cls == FaultClass::kUnknown);
  CHECK(parse_log(blas, Context{"gfx1031", "10.3.0", "environment"})->verdict.cls == FaultClass::kUnknown);
  CHECK(parse_log(blas, Context{"gfx1010", "", ""})->verdict.cls == FaultClass::kUnknown);  // Debian builds gfx1010
  // Weak: a fault or a reset in the same log decides.
  CHECK(parse_log(blas + kRocrFault, Context{"gfx1032", "", ""})->verdict.cls == FaultClass::kVmFaultBadAddress);
  // The in-family hint of the advice, per family; none for gfx101x or a family's first member.
  const Context none;
  CHECK(class_advice(FaultClass::kMissingCodeObject, none, "gfx1101")
            .find("HSA_OVERRIDE_GFX_VERSION=11.0.0 loads gfx1100 code, which runs on gfx1101") != std::string::npos);
  CHECK(class_advice(FaultClass::kMissingCodeObject, none, "gfx1151")
            .find("HSA_OVERRIDE_GFX_VERSION=11.5.0 loads gfx1150 code") != std::string::npos);
  for (const char* t : {"gfx1030", "gfx1010", "gfx1012", "gfx90a", "gfx1100"}) {
    INFO(t);
    CHECK(class_advice(FaultClass::kMissingCodeObject, none, t).find("Within its family") == std::string::npos);
  }
}

// Ollama reads the GPU's target from KFD's topology (compute=, gpu_type=): the native target whatever the
// override, so a log run without --gfx still judges its override against the GPU.
TEST_CASE("the GPU's own target named by the log stands in for --gfx", "[diag][faults][rules][general]") {
  const std::string ollama =
      "time=2025-01-01T10:00:00.000Z level=INFO source=routes.go:1187 msg=\"server config\" "
      "env=\"map[HSA_OVERRIDE_GFX_VERSION:10.3.0 OLLAMA_HOST:http://0.0.0.0:11434]\"\n"
      "time=2025-01-01T10:00:01.000Z level=INFO source=types.go:107 msg=\"inference compute\" id=0 library=rocm "
      "variant=\"\" compute=gfx1010 driver=0.0 name=1002:731f total=\"8.0 GiB\" available=\"7.9 GiB\"\n";
  const auto r = parse_log(ollama + kRocrFault);
  CHECK(r->context.gfx == "gfx1010");
  CHECK(r->context.gfx_source == "log line 2");
  CHECK(r->verdict.cls == FaultClass::kIsaMismatch);
  CHECK(report_json(*r)["context"]["gfx_source"] == "log line 2");
  // The caller's target wins; two different targets in one log name none.
  CHECK(parse_log(ollama + kRocrFault, Context{"gfx1030", "", ""})->context.gfx == "gfx1030");
  CHECK(parse_log(ollama + kRocrFault, Context{"gfx1030", "", ""})->verdict.cls == FaultClass::kVmFaultBadAddress);
  const std::string two = "msg=\"amdgpu is supported\" gpu=0 gpu_type=gfx1100\n"
                          "msg=\"amdgpu is supported\" gpu=1 gpu_type=gfx1030\n";
  const auto t = parse_log(two + kRocrFault);
  CHECK(t->context.gfx.empty());
  CHECK_FALSE(report_json(*t)["context"].contains("gfx_source"));
  CHECK(parse_log("msg=\"amdgpu is supported\" gpu=0 gpu_type=gfx90c:xnack-\n" + std::string(kRocrFault))
            ->context.gfx == "gfx90c");
}

// MIOpen names its databases after the device as the runtime reports it (target, then CU count): under an
// override that is the override's target, so a gfx1010 whose databases are gfx1030's runs gfx1030 code.
TEST_CASE("MIOpen's database names show the target the runtime runs the device as", "[diag][faults][rules][general]") {
  const std::string kdb = "MIOpen(HIP): Warning [SQLiteBase] Missing system database file: gfx1030_40.kdb Performance "
                          "may degrade. Please follow instructions to install: https://github.com/ROCm/MIOpen\n";
  const auto r = parse_log(kdb + kRocrFault, Context{"gfx1010", "", ""});
  CHECK(r->context.runtime_targets == std::vector<std::string>{"gfx1030"});
  CHECK(r->verdict.cls == FaultClass::kIsaMismatch);
  CHECK(r->verdict.summary.find("runs this gfx1010 GPU as gfx1030") != std::string::npos);
  const std::string fdb = "MIOpen(HIP): Warning [ParseAndLoadDb] File is unreadable: "
                          "/opt/rocm/share/miopen/db/gfx1010_40.HIP.fdb.txt\n";
  CHECK(parse_log(fdb + kRocrFault, Context{"gfx1010", "", ""})->verdict.cls == FaultClass::kVmFaultBadAddress);
  // Other gfx tokens in a MIOpen line (a solver's name, a path without the CU count) say nothing.
  CHECK(parse_log("MIOpen(HIP): Info [Solver] ConvAsmGfx1030 not applicable for gfx1030 on this device\n",
                  Context{"gfx1010", "", ""})
            ->context.runtime_targets.empty());
}

// Faults on the multimedia hub come from the video/JPEG engines, the display or firmware (mmhub_v* client
// tables: VCN, JPEG, DCE*, MP0...): never the graphics engine, whichever process submitted the work, so a
// player's or a compositor's thread name does not make them graphics faults.
TEST_CASE("a multimedia-hub fault is not a graphics fault, whatever the process", "[diag][faults][rules][general]") {
  auto fault = [](const std::string& hub, const std::string& client, const std::string& thread) {
    return fmt::format(
        "[ 20.0] amdgpu 0000:0c:00.0: amdgpu: [{0}] no-retry page fault (src_id:0 ring:40 vmid:5 pasid:32770, for "
        "process ffmpeg pid 5100 thread {2} pid 5102)\n"
        "[ 20.0] amdgpu 0000:0c:00.0: amdgpu:   in page starting at address 0x0000800102d0e000 from IH client 0x12 "
        "(VMC)\n"
        "[ 20.0] amdgpu 0000:0c:00.0: amdgpu: VM_L2_PROTECTION_FAULT_STATUS:0x00243851\n"
        "[ 20.0] amdgpu 0000:0c:00.0: amdgpu: \t Faulty UTCL2 client ID: {1} (0x1c)\n",
        hub, client, thread);
  };
  const auto v = parse_log(fault("mmhub0", "VCN", "ffmpeg:cs0"), Context{"gfx90c", "", ""});
  REQUIRE(v->events.size() == 1);
  CHECK(v->events[0].rule == "vm_other_client");
  CHECK(v->verdict.cls == FaultClass::kVmFaultOther);
  CHECK(v->verdict.summary.find("client VCN is not shader code") != std::string::npos);
  CHECK(parse_log(fault("mmhub0", "JPEG", "mpv"), Context{"gfx1030", "", ""})->verdict.cls ==
        FaultClass::kVmFaultOther);
  // The same Mesa submission thread faulting on the graphics hub is the graphics client's.
  CHECK(parse_log(fault("gfxhub0", "TCP", "ffmpeg:cs0"), Context{"gfx90c", "", ""})->verdict.cls ==
        FaultClass::kGraphicsFault);
}

// What names no cause by itself is weak: lost fence interrupts and a Python traceback decide a log only
// when nothing else does, and then the GPU's support or the wheels in use may name the cause.
TEST_CASE("fence fallbacks and exceptions are weak evidence", "[diag][faults][rules][general]") {
  const std::string fence = "[  63.1] [drm] Fence fallback timer expired on ring gfx_0.0.0\n";
  const auto f = parse_log(fence + fence);
  REQUIRE(f->events.size() == 1);  // repeated lines merge
  CHECK(f->events[0].records == 2);
  CHECK(f->verdict.cls == FaultClass::kUnknown);
  CHECK(f->verdict.summary.find("fence fallback timer") != std::string::npos);
  CHECK(parse_log(fence + kRocrFault)->verdict.cls == FaultClass::kVmFaultBadAddress);
  CHECK(parse_log(fence, Context{"gfx1036", "", ""})->verdict.cls == FaultClass::kUnknown);  // no compute failure
  const std::string tb = "Traceback (most recent call last):\n  File \"run.py\", line 3, in <module>\n";
  CHECK(parse_log(tb)->verdict.cls == FaultClass::kUnknown);
  CHECK(parse_log(tb, Context{"gfx90c", "", ""})->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(parse_log(tb + "RuntimeError: HIP error: invalid device function\n")->verdict.cls ==
        FaultClass::kMissingCodeObject);
  CHECK(parse_log(tb + "msg=\"unsupported Radeon iGPU detected skipping\" id=0\n")->verdict.cls ==
        FaultClass::kUnsupportedGpu);
  CHECK(parse_log("https://download.pytorch.org/whl/rocm6.2\n" + tb, Context{"gfx1010", "", ""})->verdict.cls ==
        FaultClass::kMissingCodeObject);
  // Under an override outside the family, a crash or an exception has the override as its first suspect;
  // weak: an allocation failure in the same log decides.
  const Context foreign{"gfx1010", "10.3.0", "environment"};
  const auto c = parse_log("Segmentation fault (core dumped)\n", foreign);
  REQUIRE(c->events.size() == 1);
  CHECK(c->events[0].rule == "crash_under_override");
  CHECK(c->verdict.cls == FaultClass::kIsaMismatch);
  CHECK(c->verdict.summary.find("HSA_OVERRIDE_GFX_VERSION=10.3.0") != std::string::npos);
  CHECK(parse_log(tb, foreign)->verdict.cls == FaultClass::kIsaMismatch);
  CHECK(parse_log(tb + "torch.OutOfMemoryError: HIP out of memory.\n", foreign)->verdict.cls ==
        FaultClass::kOutOfMemory);
  CHECK(parse_log("Segmentation fault (core dumped)\n", Context{"gfx1031", "10.3.0", "environment"})->verdict.cls ==
        FaultClass::kUnknown);  // 10.3.0 is right on gfx103x
  // An uncaught C++ exception ends the process: a crash, like a signal.
  CHECK(parse_log("terminate called after throwing an instance of 'std::runtime_error'\n", Context{"gfx803", "", ""})
            ->verdict.cls == FaultClass::kUnsupportedGpu);
}

TEST_CASE("no usable GPU is weak evidence: the reason comes from elsewhere", "[diag][faults][rules][general]") {
  const std::string none = "msg=\"no compatible amdgpu devices detected\"\n";
  // Alone, on a target ROCm does not build for: unsupported.
  CHECK(parse_log(none, Context{"gfx803", "", ""})->verdict.cls == FaultClass::kUnsupportedGpu);
  CHECK(parse_log("RuntimeError: No HIP GPUs are available\n", Context{"gfx90c", "", ""})->verdict.cls ==
        FaultClass::kUnsupportedGpu);
  // An iGPU skipped as unsupported, then nothing left: the skip is the reason.
  CHECK(parse_log("msg=\"unsupported Radeon iGPU detected skipping\" id=0 total=\"512.0 MiB\"\n" + none)->verdict.cls ==
        FaultClass::kUnsupportedGpu);
  // A GPU whose target the library does not list, then nothing left: the missing code object.
  const auto m = parse_log("msg=\"amdgpu is not supported\" gpu=0 gpu_type=gfx1010 library=/usr/lib/ollama "
                           "supported_types=\"[gfx1030 gfx1100]\"\n" + none,
                           Context{"gfx1010", "", ""});
  CHECK(m->verdict.cls == FaultClass::kMissingCodeObject);
  // A generic HIP error under a foreign override is the override's doing.
  CHECK(parse_log("ROCm error: unspecified launch failure\n", Context{"gfx1010", "10.3.0", "environment"})->verdict.cls ==
        FaultClass::kIsaMismatch);
  // ... and on an unsupported target, the target's.
  CHECK(parse_log("RuntimeError: HIP error: hipErrorLaunchFailure\n", Context{"gfx803", "", ""})->verdict.cls ==
        FaultClass::kUnsupportedGpu);
}

TEST_CASE("graphics clients by process and thread name, whatever the case", "[diag][faults][rules][general]") {
  for (const auto& [process, thread] : std::vector<std::pair<std::string, std::string>>{
           {"XWAYLAND", ""},               // case
           {"kwin_wayland_wr", ""},         // kwin_wayland_wrapper cut to 15 characters
           {"Hyprland", ""},
           {"niri", ""},
           {"chromium-browse", "CrGpuMain"},  // cut to 15 characters
           {"anything", "VizCompositorTh"},
           {"Isolated Web Co", "Renderer"},
           {"GPU Process", ""},
           {"UnrealGame", "RenderThread 0"},
           {"SomeGame", "UnityGfxDeviceW"},
           {"ShooterGame", "RHIThread"},
           {"wine64-preload", ""},
           {"mpv", ""},
           {"WebKitWebProces", ""},
           {"steam", "vkd3d-proton"},
           {"Game.x64", "dxvk-cs"},
           {"someqtapp", "QSGRenderThread"},
           {"chrome", "Chrome_InProcGp"},
           {"firefox-bin", "Compositor"},
           {"kscreenlocker_g", ""},
           {"obs", "obs"},
           {"Alacritty", ""},
       }) {
    INFO(process << " / " << thread);
    CHECK(is_graphics_client(process, thread));
  }
  for (const auto& [process, thread] : std::vector<std::pair<std::string, std::string>>{
           {"python3", "pt_main_thread"}, {"llama-server", "llama-server"}, {"ollama_llama_se", ""},
           {"blender", "blender"},         {"rocminfo", ""},                {"ComfyUI", "python3"}}) {
    INFO(process << " / " << thread);
    CHECK_FALSE(is_graphics_client(process, thread));
  }
  // A shader-client fault in a KFD VMID of a compositor or a browser's GPU thread is a graphics fault.
  for (const std::string p : {"Hyprland", "chromium-browse"}) {
    const auto r = parse_log(gfx10_fault(9, p), Context{"gfx1010", "", ""});
    REQUIRE(r.ok());
    CHECK(r->verdict.cls == FaultClass::kGraphicsFault);
  }
  CHECK(parse_log(gfx10_fault(9, "python3"), Context{"gfx1010", "", ""})->verdict.cls ==
        FaultClass::kVmFaultBadAddress);
}

// Graphics-pipeline clients (CB/DB, PA, IA, WD, GE, CPG) fault only for graphics work: KFD's compute
// queues run on the MEC (CPC) and their shaders access memory through TCP/SQC.
TEST_CASE("a fault from a graphics-pipeline client is a graphics fault", "[diag][faults][rules][general]") {
  auto fault = [](unsigned cid, const std::string& process, std::uint32_t status_override = 0xffffffffU) {
    const std::uint32_t status = status_override != 0xffffffffU ? status_override : l2(1, 0, 1, 0, cid, 1, 9);
    return fmt::format(
        "[ 20.0] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:9 pasid:32771, for process "
        "{0} pid 4100 thread {0} pid 4100)\n"
        "[ 20.0] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x00007f1234560000 from client 0x1b "
        "(UTCL2)\n"
        "[ 20.0] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x{1:08X}\n",
        process, status);
  };
  const Context rx5700{"gfx1010", "", ""};
  for (const unsigned cid : {0U, 2U, 3U, 6U}) {  // CB/DB, GE1, GE2, CPG
    INFO(cid);
    const auto r = parse_log(fault(cid, "someapp"), rx5700);
    REQUIRE(r.ok());
    REQUIRE(r->events.size() == 1);
    CHECK(r->events[0].rule == "vm_graphics_pipeline_client");
    CHECK(r->verdict.cls == FaultClass::kGraphicsFault);
  }
  CHECK(parse_log(fault(5, "someapp"), rx5700)->verdict.cls == FaultClass::kVmFaultOther);       // CPC: compute CP
  CHECK(parse_log(fault(8, "someapp"), rx5700)->verdict.cls == FaultClass::kVmFaultBadAddress);  // TCP
  // A cleared status decodes to client 0 (CB/DB) and says nothing.
  CHECK(parse_log(fault(0, "someapp", 0), rx5700)->events[0].rule != "vm_graphics_pipeline_client");
  CHECK(is_graphics_pipeline_client("CB1"));  // gmc_v8's per-instance names
  CHECK(is_graphics_pipeline_client("PA"));
  CHECK_FALSE(is_graphics_pipeline_client("TCP"));
  CHECK_FALSE(is_graphics_pipeline_client("CPC"));
  CHECK_FALSE(is_graphics_pipeline_client("CPF"));
  CHECK_FALSE(is_graphics_pipeline_client("SDMA0"));
}

// A fault report without its process (kernels before 4.19) in a render-node VMID: graphics only when the log
// shows a graphics client in trouble and nothing of the compute runtime (amdgpu-pro's OpenCL also ran there).
TEST_CASE("a headless render-node fault in a graphics log is a graphics fault", "[diag][faults][rules][general]") {
  const std::string legacy =
      "[15342.107078] amdgpu 0000:01:00.0: GPU fault detected: 146 0x0938c80c\n"
      "[15342.107081] amdgpu 0000:01:00.0:   VM_CONTEXT1_PROTECTION_FAULT_ADDR   0x00123927\n"
      "[15342.107081] amdgpu 0000:01:00.0:   VM_CONTEXT1_PROTECTION_FAULT_STATUS 0x0A0C800C\n"
      "[15342.107083] amdgpu 0000:01:00.0: VM fault (0x0c, vmid 5) at page 1194279, read from 'TC3' (0x54433300) "
      "(200)\n";
  const std::string mesa = "radeonsi: amdgpu: The CS has been rejected (-125), but the context isn't robust.\n";
  const auto alone = parse_log(legacy, Context{"gfx803", "", ""});
  REQUIRE(alone->events.size() == 1);
  CHECK(alone->events[0].cls != FaultClass::kGraphicsFault);
  const auto gl = parse_log(legacy + mesa, Context{"gfx803", "", ""});
  REQUIRE(gl->events.size() == 2);
  CHECK(gl->events[0].cls == FaultClass::kGraphicsFault);
  CHECK(gl->events[0].reason.find("VMID 5") != std::string::npos);
  CHECK(gl->verdict.cls == FaultClass::kGraphicsFault);
  // Any sign of the compute runtime keeps it a compute fault.
  for (const std::string& compute : {std::string("hipErrorLaunchFailure\n"), std::string("/opt/rocm-3.5.0/lib\n"),
                                     std::string("  Name:                    gfx803\n")}) {
    INFO(compute);
    const auto r = parse_log(legacy + mesa + compute, Context{"gfx803", "", ""});
    CHECK(r->events[0].cls != FaultClass::kGraphicsFault);
  }
  // A KFD VMID is never a render-node context, and a multimedia-hub fault is nobody's shader.
  const auto kfd = parse_log(
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:9 pasid:32771)\n"
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x00007f1234560000 from client 0x1b "
      "(UTCL2)\n"
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00901031\n" +
          std::string("err:   DxvkSubmissionQueue: Command submission failed: VK_ERROR_DEVICE_LOST\n"),
      Context{"gfx1030", "", ""});
  CHECK(kfd->events[0].cls != FaultClass::kGraphicsFault);
  const auto gfx3 = parse_log(
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:3 pasid:32771)\n"
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x00007f1234560000 from client 0x1b "
      "(UTCL2)\n"
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00301031\n" +
          std::string("err:   DxvkSubmissionQueue: Command submission failed: VK_ERROR_DEVICE_LOST\n"),
      Context{"gfx1030", "", ""});
  CHECK(gfx3->events[0].cls == FaultClass::kGraphicsFault);
  const auto mm = parse_log(
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu: [mmhub] page fault (src_id:0 ring:40 vmid:3 pasid:32771)\n"
      "[ 20.0] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x00007f1234560000 from client 0x12 "
      "(VMC)\n" +
          std::string("err:   DxvkSubmissionQueue: Command submission failed: VK_ERROR_DEVICE_LOST\n"),
      Context{"gfx1030", "", ""});
  CHECK(mm->events[0].cls == FaultClass::kVmFaultOther);
}
