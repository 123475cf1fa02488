// SPDX-License-Identifier: GPL-2.0 OR MIT
// doctor: verdicts on fake machines (sysfs tree, environment, library directory with an injected
// code-object scanner, logs).

#include <catch2/catch_test_macros.hpp>

#include <fstream>
#include <sstream>

#include "fake_sysfs.hpp"
#include "golden.hpp"
#include "doctor/doctor.hpp"

using vmfix::test::FakeSysfs;
namespace doctor = vmfix::doctor;

namespace {

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// A scanner that answers from a table (the isa library's job on real files).
doctor::TargetScanner table_scanner(const std::map<std::string, std::vector<std::string>>& by_name) {
  return [by_name](const std::string& path) {
    doctor::Targets t;
    const std::string file = std::filesystem::path(path).filename().string();
    for (const auto& [prefix, targets] : by_name)
      if (file.rfind(prefix, 0) == 0) {
        t.known = true;
        t.targets = targets;
        t.source = "test table";
      }
    return t;
  };
}

doctor::Input machine(const FakeSysfs& t, std::map<std::string, std::string> env = {}) {
  doctor::Input in;
  in.status = vmfix::collect_status(vmfix::RootFs(t.root()));
  in.kernel_release = "6.1.0-test-amd64";
  in.env = std::move(env);
  in.log_source = "test";
  return in;
}

vmfix::faults::Report log_of(const std::string& text) {
  auto r = vmfix::faults::parse_log(text);
  REQUIRE(r.ok());
  return std::move(r).value();
}

}  // namespace

TEST_CASE("doctor: HSA_OVERRIDE_GFX_VERSION=10.3.0 on gfx1010 is an ISA mismatch", "[diag][doctor]") {
  FakeSysfs t;
  t.add_gpu(1, 3, 0x731f, 100100, 128);
  auto in = machine(t, {{"HSA_OVERRIDE_GFX_VERSION", "10.3.0"}});
  in.faults = log_of(
      ":0:rocdevice.cpp :2673: Device::callbackQueue aborting with error : HSA_STATUS_ERROR_MEMORY_APERTURE_VIOLATION: "
      "The agent attempted to access memory beyond the largest legal address. code: 0x29\n");
  const auto r = doctor::diagnose(std::move(in));
  CHECK(r.verdict.cls == "isa_mismatch");
  CHECK(r.exit_code == 1);
  CHECK(r.verdict.summary.find("gfx1030") != std::string::npos);
  CHECK(r.verdict.advice.find("torch[device-gfx1010]") != std::string::npos);
  REQUIRE(r.verdict.evidence.size() == 2);
  CHECK(r.verdict.evidence[0].find("environment") != std::string::npos);
  // the log's own event is re-judged with the machine's target
  CHECK(r.input.faults->events[0].cls == vmfix::faults::FaultClass::kIsaMismatch);
  auto j = doctor::report_json(r);
  j.erase("code_object_reader");  // true once the isa library is built in; not part of this golden
  vmfix::test::check_golden(j, std::string(VMFIX_TEST_DATA) + "/doctor/override.json");
}

TEST_CASE("doctor: 10.1.0 on gfx1012 is the compatible override, and nothing else is wrong", "[diag][doctor]") {
  FakeSysfs t;
  t.add_gpu(1, 4, 0x7340, 100102, 128);
  auto in = machine(t, {{"HSA_OVERRIDE_GFX_VERSION", "10.1.0"}});
  in.faults = vmfix::faults::Report{};
  const auto r = doctor::diagnose(std::move(in));
  CHECK(r.verdict.cls == "healthy");
  CHECK(r.exit_code == 0);
  CHECK(std::any_of(r.notes.begin(), r.notes.end(),
                    [](const std::string& n) { return n.find("compatible with gfx1012") != std::string::npos; }));
}

TEST_CASE("doctor: libraries without gfx1010 code objects are missing_code_object", "[diag][doctor]") {
  FakeSysfs t;
  t.add_gpu(1, 3, 0x731f, 100100, 128);
  const std::string lib = t.root() + "/opt/rocm/lib";
  t.write("/opt/rocm/lib/librocblas.so.4.1", "x");
  t.write("/opt/rocm/lib/libamdhip64.so.6", "x");
  t.write("/opt/rocm/lib/libunrelated.so", "x");
  std::filesystem::create_symlink("librocblas.so.4.1", lib + "/librocblas.so");  // counted once
  const auto scan = table_scanner({{"librocblas", {"gfx1030", "gfx900", "gfx906:xnack-"}}, {"libamdhip64", {}}});
  SECTION("no gfx1010") {
    auto in = machine(t);
    in.libraries = doctor::find_libraries({lib}, scan);
    in.libraries_searched = true;
    REQUIRE(in.libraries.size() == 2);
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "missing_code_object");
    CHECK(r.exit_code == 1);
    CHECK(r.verdict.summary.find("1 of 1") != std::string::npos);
    REQUIRE_FALSE(r.verdict.evidence.empty());
    CHECK(r.verdict.evidence[0].find("librocblas.so.4.1") != std::string::npos);
  }
  SECTION("gfx1010 present") {
    auto in = machine(t);
    in.libraries = doctor::find_libraries({lib}, table_scanner({{"librocblas", {"gfx1010:xnack-", "gfx1030"}}}));
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "healthy");
  }
  SECTION("targets unknown (no code-object reader): no false alarm, a note") {
    auto in = machine(t);
    in.libraries = doctor::find_libraries({lib}, [](const std::string&) { return doctor::Targets{}; });
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "healthy");
    CHECK(std::any_of(r.notes.begin(), r.notes.end(),
                      [](const std::string& n) { return n.find("without targets") != std::string::npos; }));
  }
  SECTION("Tensile code-object directories are read by file name") {
    t.write("/opt/rocm/lib/rocblas/library/TensileLibrary_gfx1030.co", "x");
    t.write("/opt/rocm/lib/rocblas/library/Kernels.so-000-gfx1010.hsaco", "x");
    auto in = machine(t);
    in.libraries = doctor::find_libraries({lib}, table_scanner({{"librocblas", {"gfx1010"}}}));
    const auto it = std::find_if(in.libraries.begin(), in.libraries.end(),
                                 [](const doctor::Library& l) { return l.name == "rocblas_code_objects"; });
    REQUIRE(it != in.libraries.end());
    CHECK(it->targets.targets == std::vector<std::string>{"gfx1010", "gfx1030"});
    // NOLINTNEXTLINE(bugprone-use-after-move): Catch2's CHECK repeats the expression in code that never runs
    CHECK(doctor::diagnose(std::move(in)).verdict.cls == "healthy");
  }
}

TEST_CASE("doctor: a fault log decides when environment and libraries are clean", "[diag][doctor]") {
  FakeSysfs t;
  t.add_gpu(1, 3, 0x731f, 100100, 128);
  const std::string tcp_fault =
      "[ 5.0] amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 pasid:32770)\n"
      "[ 5.0] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x0000000000000000 from client 10\n"
      "[ 5.0] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00801031\n";
  SECTION("no module: bad address, MTYPE not blamed") {
    auto in = machine(t);
    in.faults = log_of(tcp_fault);
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "vm_fault_bad_address");
    CHECK(r.exit_code == 1);
    CHECK(r.verdict.advice.find("audit counters") != std::string::npos);
    CHECK(r.verdict.advice.find("doctor") == std::string::npos);  // no advice to run doctor from doctor
    CHECK(std::any_of(r.notes.begin(), r.notes.end(),
                      [](const std::string& n) { return n.find("MTYPE is not assessed") != std::string::npos; }));
  }
  SECTION("module audit saw CC requests: the fault stays the verdict, CC is evidence") {
    t.add_module("armed", "-", 3, 3);
    auto in = machine(t);
    in.faults = log_of(tcp_fault);
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "vm_fault_bad_address");
    CHECK(std::any_of(r.verdict.evidence.begin(), r.verdict.evidence.end(),
                      [](const std::string& e) { return e.find("cache-coherent") != std::string::npos; }));
  }
  SECTION("a missing code object in the log") {
    auto in = machine(t);
    in.faults = log_of(slurp(std::string(VMFIX_TEST_DATA) + "/faults/002.txt"));
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "missing_code_object");
  }
}

TEST_CASE("doctor: MTYPE is named only when the module's counters show CC requests", "[diag][doctor]") {
  FakeSysfs t;
  t.add_gpu(1, 3, 0x731f, 100100, 128);
  SECTION("CC seen") {
    t.add_module("armed", "-", 5, 2);
    auto in = machine(t);
    in.faults = vmfix::faults::Report{};
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "mtype_cc_seen");
    CHECK(r.exit_code == 1);
    CHECK(r.verdict.summary.find("seen_cc 5, CC requests 2") != std::string::npos);
  }
  SECTION("no CC seen: healthy, with the audit note") {
    t.add_module("armed", "-", 0, 0);
    auto in = machine(t);
    in.faults = vmfix::faults::Report{};
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "healthy");
    CHECK(std::any_of(r.notes.begin(), r.notes.end(),
                      [](const std::string& n) { return n.find("MTYPE is not implicated") != std::string::npos; }));
  }
}

TEST_CASE("doctor: no RDNA1 GPU, module errors and the environment filter", "[diag][doctor]") {
  SECTION("RDNA2 only -> exit 3") {
    FakeSysfs t;
    t.add_gpu(1, 10, 0x73bf, 100300, 128);
    const auto r = doctor::diagnose(machine(t));
    CHECK(r.verdict.cls == "no_rdna1_gpu");
    CHECK(r.exit_code == 3);
  }
  SECTION("unknown module schema -> exit 4") {
    FakeSysfs t;
    t.add_gpu(1, 3, 0x731f, 100100, 128);
    t.add_module("armed", "-");
    t.write("/sys/kernel/rdna1_vmfix/status", "schema 7\n");
    auto in = machine(t);
    in.faults = vmfix::faults::Report{};
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "module_error");
    CHECK(r.exit_code == 4);
  }
  SECTION("relevant variables only") {
    std::string a = "HSA_OVERRIDE_GFX_VERSION=10.3.0", b = "PATH=/bin", c = "MIOPEN_FIND_MODE=normal",
                d = "PYTORCH_ROCM_ARCH=gfx1010", e = "HIP_VISIBLE_DEVICES=0", f = "HOME=/root";
    std::vector<char*> env = {a.data(), b.data(), c.data(), d.data(), e.data(), f.data(), nullptr};
    const auto m = doctor::relevant_env(env.data());
    CHECK(m.size() == 4);
    CHECK(m.at("HSA_OVERRIDE_GFX_VERSION") == "10.3.0");
    CHECK(m.count("PATH") == 0);
  }
  SECTION("a malformed override is reported as set and invalid, not as a verdict of its own") {
    FakeSysfs t;
    t.add_gpu(1, 3, 0x731f, 100100, 128);
    auto in = machine(t, {{"HSA_OVERRIDE_GFX_VERSION", "gfx1030"}});
    in.faults = vmfix::faults::Report{};
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "healthy");
    CHECK(std::any_of(r.notes.begin(), r.notes.end(),
                      [](const std::string& n) { return n.find("gfx1030 is set and invalid") != std::string::npos; }));
  }
}

// The log's own context (what `faults` read from it) survives doctor's re-judgement with the
// machine's GPU and environment: the targets the runtime names the device by, a library's list of
// code-object files, PyTorch's own wheel index. Before, only the override line was carried, and these
// logs came out as a bad address or an unknown crash.
TEST_CASE("doctor: the re-judged log keeps every context field the log showed", "[diag][doctor]") {
  FakeSysfs t;
  t.add_gpu(1, 3, 0x731f, 100100, 128);  // gfx1010, no override in the environment
  const std::string fault =
      "Memory access fault by GPU node-1 (Agent handle: 0x5581e0b0) on address 0x7f2a00000000. Reason: Page not "
      "present or supervisor privilege.\n";
  SECTION("runtime targets: llama.cpp names the device gfx1030") {
    auto in = machine(t);
    in.faults = log_of("  Device 0: AMD Radeon RX 5700 XT, gfx1030 (0x1030), VMM: no, Wave Size: 32\n" + fault);
    REQUIRE(in.faults->context.runtime_targets == std::vector<std::string>{"gfx1030"});
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "isa_mismatch");
    REQUIRE(r.input.faults);
    CHECK(r.input.faults->context.runtime_targets == std::vector<std::string>{"gfx1030"});
    CHECK(r.input.faults->context.runtime_targets_source == "log line 1");
  }
  SECTION("library targets: rocBLAS lists gfx1030 files only") {
    auto in = machine(t);
    in.faults = log_of("rocBLAS info: List of available TensileLibrary Files:\n"
                       "\"/opt/rocm/lib/rocblas/library/TensileLibrary_lazy_gfx1030.dat\"\n" + fault);
    REQUIRE(in.faults->context.library_targets == std::vector<std::string>{"gfx1030"});
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "isa_mismatch");
    REQUIRE(r.input.faults);
    CHECK(r.input.faults->context.library_targets == std::vector<std::string>{"gfx1030"});
  }
  SECTION("a library list without the machine's target, and no error line: a missing code object") {
    auto in = machine(t);
    in.faults = log_of("rocBLAS info: List of available TensileLibrary Files:\n"
                       "\"/opt/rocm/lib/rocblas/library/TensileLibrary_lazy_gfx1030.dat\"\n"
                       "\"/opt/rocm/lib/rocblas/library/TensileLibrary_lazy_gfx1100.dat\"\n");
    REQUIRE(in.faults->events.empty());  // without a GPU the list judges nothing
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "missing_code_object");
    REQUIRE(r.input.faults);
    REQUIRE(r.input.faults->events.size() == 1);
    CHECK(r.input.faults->events[0].rule == "library_list_without_target");
  }
  SECTION("PyTorch's own ROCm wheel: a crash is a missing code object on gfx101x") {
    auto in = machine(t);
    in.faults = log_of("pip3 install torch --index-url https://download.pytorch.org/whl/rocm6.2\n"
                       "Segmentation fault (core dumped)\n");
    REQUIRE_FALSE(in.faults->context.upstream_torch_wheel.empty());
    const auto r = doctor::diagnose(std::move(in));
    CHECK(r.verdict.cls == "missing_code_object");
    REQUIRE(r.input.faults);
    CHECK(r.input.faults->context.upstream_torch_wheel == "log line 1");
    CHECK(r.input.faults->context.rocm_version == "6.2");  // the log's ROCm release stays too
    CHECK(r.input.faults->context.rocm_version_source == "log line 1");
  }
}
