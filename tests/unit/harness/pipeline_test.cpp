// SPDX-License-Identifier: GPL-2.0 OR MIT
// The whole pipeline on the host backend: real worker processes, planted faults, timeouts, kernel-log
// attribution (through a file standing in for /dev/kmsg), reports.
#include <catch2/catch_test_macros.hpp>

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../common/temp_dir.hpp"
#include "check/check.hpp"

using namespace vmfix::harness;
namespace fs = std::filesystem;

namespace {

WorkerSpec host_worker() { return {"native", std::string(VMFIX_WORKER_DIR) + "/rdna1-vmfix-check-host", {}, {}, {}}; }

std::vector<CaseSpec> ids(std::initializer_list<const char*> l) {
  std::vector<CaseSpec> out;
  for (const char* id : l) {
    auto c = parse_case_id(id);
    REQUIRE(c);
    out.push_back(*c);
  }
  return out;
}

const CaseResult& find(const RunResult& r, const std::string& id) {
  for (const auto& c : r.cases)
    if (c.spec.id == id) return c;
  FAIL("no result for " << id);
  return r.cases.front();
}

bool process_gone(int pid) { return kill(pid, 0) != 0 && errno == ESRCH && kill(-pid, 0) != 0 && errno == ESRCH; }

}  // namespace

TEST_CASE("planted faults get their verdicts while the run goes on, and no worker survives",
          "[harness][pipeline]") {
  const vmfix::test::TempDir tmp("vmfix-kmsg");
  const fs::path kmsg = tmp / "kmsg";
  std::ofstream(kmsg) << "6,1,1,-;amdgpu 0000:03:00.0: amdgpu: [gfxhub] page fault (src_id:0 ring:24 vmid:8 "
                         "pasid:1, for process other pid 1 thread other pid 1)\n";
  setenv("VMFIX_TEST_KMSG_FILE", kmsg.c_str(), 1);
  RunOptions opt;
  opt.timeout_s = 1.5;
  opt.jobs = 2;
  opt.kmsg_path = kmsg.string();
  const auto cases = ids({"planted.segv", "direct.fp32.unet_out_1x1.dev_coarse", "planted.hang", "planted.wrong",
                          "planted.gpu_fault", "depthwise.fp16.mbv2_dw_c960.managed"});
  const RunResult r = run_cases(host_worker(), cases, opt);
  unsetenv("VMFIX_TEST_KMSG_FILE");

  REQUIRE(r.cases.size() == cases.size());
  CHECK(r.kernel_log_readable);
  CHECK_FALSE(r.interrupted);
  const auto& segv = find(r, "planted.segv");
  CHECK(segv.verdict == Verdict::kCrash);
  CHECK(segv.term_signal == SIGSEGV);
  CHECK(segv.reason == "worker killed by SIGSEGV");

  const auto& hang = find(r, "planted.hang");
  CHECK(hang.verdict == Verdict::kHang);
  CHECK(hang.term_signal == SIGKILL);
  CHECK(hang.wall_ms >= 1400);

  const auto& wrong = find(r, "planted.wrong");
  CHECK(wrong.verdict == Verdict::kWrongResult);
  CHECK(wrong.has_numbers);
  CHECK(wrong.max_abs_err > 0.49);
  CHECK(wrong.max_abs_err < 0.51);
  CHECK(wrong.bad_elements == 1);

  const auto& fault = find(r, "planted.gpu_fault");
  CHECK(fault.verdict == Verdict::kGpuFault);
  CHECK(fault.term_signal == SIGABRT);
  CHECK(fault.reason.find("emulated GPU memory access fault") != std::string::npos);
  REQUIRE(fault.kernel_log.size() == 3);  // its own lines only, not pid 1's
  CHECK(fault.kernel_log[0].find("pid " + std::to_string(fault.pid)) != std::string::npos);
  CHECK(fault.fault_decoded.find("0x0000000000001000") != std::string::npos);

  CHECK(find(r, "direct.fp32.unet_out_1x1.dev_coarse").verdict == Verdict::kPass);
  CHECK(find(r, "depthwise.fp16.mbv2_dw_c960.managed").verdict == Verdict::kPass);
  for (const auto& c : r.cases) {
    INFO(c.spec.id);
    CHECK(c.pid > 0);
    CHECK(process_gone(c.pid));
  }

  Report rep;
  rep.backend = "host";
  rep.profile = "quick";
  rep.device = {{"device", "cpu"}, {"arch", "host"}};
  rep.runs.push_back(r);
  CHECK(rep.exit_code() == 1);
  const auto j = report_json(rep);
  CHECK(j["schema"] == 1);
  CHECK(j["exit_code"] == 1);
  CHECK(j["runs"][0]["summary"]["pass"] == 2);
  CHECK(j["runs"][0]["summary"]["hang"] == 1);
  CHECK(j["runs"][0]["summary"]["gpu_fault"] == 1);
  CHECK(j["runs"][0]["cases"].size() == cases.size());
  const std::string text = report_text(rep);
  CHECK(text.find("6 cases: 2 pass, 1 wrong_result, 1 gpu_fault, 1 hang, 1 crash") != std::string::npos);
  const std::string md = report_markdown(rep);
  CHECK(md.find("| `planted.hang` | hang |") != std::string::npos);
}

TEST_CASE("a crash inside a batch blames its case and re-runs the rest of the batch", "[harness][pipeline]") {
  RunOptions opt;
  opt.timeout_s = 20;
  opt.batch = 4;
  opt.kmsg_path = "/nonexistent/kmsg";
  const auto cases = ids({"direct.fp32.unet_out_1x1.dev_coarse", "planted.segv", "gemm1x1.fp32.unet_out_1x1.host_coherent",
                          "igemm.fp16.unet_out_1x1.registered"});
  const RunResult r = run_cases(host_worker(), cases, opt);
  CHECK_FALSE(r.kernel_log_readable);
  CHECK(find(r, "planted.segv").verdict == Verdict::kCrash);
  CHECK(find(r, "direct.fp32.unet_out_1x1.dev_coarse").verdict == Verdict::kPass);
  CHECK(find(r, "gemm1x1.fp32.unet_out_1x1.host_coherent").verdict == Verdict::kPass);
  CHECK(find(r, "igemm.fp16.unet_out_1x1.registered").verdict == Verdict::kPass);
  // The first two shared a worker; the last two ran in a fresh one.
  CHECK(find(r, "direct.fp32.unet_out_1x1.dev_coarse").pid == find(r, "planted.segv").pid);
  CHECK(find(r, "gemm1x1.fp32.unet_out_1x1.host_coherent").pid != find(r, "planted.segv").pid);
}

TEST_CASE("with rerun_alone, a crash in a batch is confirmed by the case alone; a pass elsewhere is not re-run",
          "[harness][pipeline]") {
  RunOptions opt;
  opt.timeout_s = 20;
  opt.batch = 4;
  opt.rerun_alone = true;
  opt.kmsg_path = "/nonexistent/kmsg";
  const auto cases = ids({"direct.fp32.unet_out_1x1.dev_coarse", "planted.segv", "gemm1x1.fp32.unet_out_1x1.host_coherent"});
  const RunResult r = run_cases(host_worker(), cases, opt);
  const auto& segv = find(r, "planted.segv");
  CHECK(segv.verdict == Verdict::kCrash);
  CHECK(segv.reason.find("(re-run alone; first crash in a batch of 3)") != std::string::npos);
  // The crash's final verdict comes from a worker of its own, neither the batch's nor the rest's.
  CHECK(segv.pid != find(r, "direct.fp32.unet_out_1x1.dev_coarse").pid);
  CHECK(segv.pid != find(r, "gemm1x1.fp32.unet_out_1x1.host_coherent").pid);
  CHECK(find(r, "direct.fp32.unet_out_1x1.dev_coarse").verdict == Verdict::kPass);
  CHECK(find(r, "direct.fp32.unet_out_1x1.dev_coarse").reason.empty());
  CHECK(find(r, "gemm1x1.fp32.unet_out_1x1.host_coherent").verdict == Verdict::kPass);
}

TEST_CASE("a worker's own case table (--list) and its extra arguments", "[harness][pipeline]") {
  // A stand-in worker: a shell script that lists two cases and reports what it was called with.
  const vmfix::test::TempDir tmp("vmfix-lister");
  const fs::path& dir = tmp.path();
  std::ofstream(dir / "w.sh") << "[ \"$1 $2 $3\" = '--device=cpu --list quick' ] || exit 9\n"
                                 "echo 'VMFIX-CASE {\"id\":\"fwd.fp32.nchw.heur.mbv2_conv1.device\",\"mem\":\"device\"}'\n"
                                 "echo 'noise'\n"
                                 "echo 'VMFIX-CASE {\"id\":\"planted.wrong\"}'\n";
  const WorkerSpec w{"native", "/bin/sh", {(dir / "w.sh").string(), "--device=cpu"}, {}, {}};
  const auto listed = worker_cases(w, "quick", 10);
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].id == "fwd.fp32.nchw.heur.mbv2_conv1.device");
  CHECK((*listed)[0].described.find("\"mem\":\"device\"") != std::string::npos);
  const WorkerSpec bad{"native", "/bin/sh", {(dir / "w.sh").string(), "--device=gpu"}, {}, {}};
  CHECK_FALSE(worker_cases(bad, "quick", 10));
}

TEST_CASE("a missing worker executable makes every case a crash, not a hang", "[harness][pipeline]") {
  RunOptions opt;
  opt.timeout_s = 5;
  WorkerSpec w{"native", "/nonexistent/rdna1-vmfix-check-host", {}, {}, {}};
  const RunResult r = run_cases(w, ids({"direct.fp32.unet_out_1x1.dev_coarse"}), opt);
  REQUIRE(r.cases.size() == 1);
  CHECK(r.cases[0].verdict == Verdict::kCrash);
  CHECK(r.cases[0].exit_code == 127);
  const Probe p = probe_worker(w, 5);
  CHECK(p.exit_code != 0);
}

TEST_CASE("the worker probe reports the backend and device", "[harness][pipeline]") {
  const Probe p = probe_worker(host_worker(), 10);
  REQUIRE(p.exit_code == 0);
  CHECK(p.info["backend"] == "host");
  CHECK(p.info["managed_memory"] == 1);
}

TEST_CASE("case selection: patterns, and planted cases only when asked by name", "[harness][select]") {
  const auto quick = *profile_cases("quick");
  CHECK(select_cases(quick, "").size() == quick.size());
  CHECK(select_cases(quick, "*").size() == quick.size());  // '*' does not reach hidden cases
  const auto dw = select_cases(quick, "depthwise.*");
  REQUIRE_FALSE(dw.empty());
  for (const auto& c : dw) CHECK(c.algo == Algo::kDepthwise);
  const auto both = select_cases(quick, "planted.*,*.managed");
  int planted = 0;
  for (const auto& c : both) planted += c.hidden() ? 1 : 0;
  CHECK(planted == 4);
  CHECK(select_cases(quick, "nothing-like-this").empty());
}

TEST_CASE("side-by-side reports: differences are marked; only the native run decides the override exit code",
          "[harness][report]") {
  const auto cs = ids({"dot2.fp16.mbv2_conv1.dev_coarse", "direct.fp32.mbv2_conv1.dev_coarse"});
  RunResult native, over;
  native.worker = {"native", "/x/rdna1-vmfix-check-hip", {}, {}, {}};
  over.worker = {"override", "/x/rdna1-vmfix-check-hip-gfx1030", {}, {{"HSA_OVERRIDE_GFX_VERSION", "10.3.0"}}, {}};
  for (const auto& c : cs) {
    CaseResult r;
    r.spec = c;
    r.verdict = Verdict::kPass;
    native.cases.push_back(r);
    r.verdict = c.algo == Algo::kDot2 ? Verdict::kGpuFault : Verdict::kPass;
    r.reason = c.algo == Algo::kDot2 ? "Memory access fault by GPU node-1 on address 0x1000." : "";
    over.cases.push_back(r);
  }
  Report rep;
  rep.backend = "hip";
  rep.profile = "quick";
  rep.comparison = "override_experiment";
  rep.runs = {native, over};
  CHECK(rep.exit_code() == 0);  // the override run is the measurement, not this machine's failure
  const std::string text = report_text(rep);
  CHECK(text.find("native") != std::string::npos);
  // The NOTE column wraps to the output width: compare with the line breaks folded to spaces.
  std::string flat;
  for (const char ch : text) {
    if (ch == '\n' || ch == ' ') {
      if (!flat.empty() && flat.back() != ' ') flat += ' ';
    } else {
      flat += ch;
    }
  }
  CHECK(flat.find("DIFFERS Memory access fault by GPU") != std::string::npos);
  const auto j = report_json(rep);
  CHECK(j["comparison"] == "override_experiment");
  CHECK(j["runs"][1]["env"]["HSA_OVERRIDE_GFX_VERSION"] == "10.3.0");
  CHECK(j["runs"][1]["summary"]["gpu_fault"] == 1);

  rep.comparison = "compare_modes";  // audit vs enforce: a failure in either run is a failure
  rep.runs[1].worker.variant = "enforce";
  rep.runs[0].worker.variant = "audit";
  CHECK(rep.exit_code() == 1);
  rep.counters["enforce"] = {{"device 0000:03:00.0", {{"seen_cc", 2}, {"rewritten", 2}}}};
  CHECK(report_text(rep).find("device 0000:03:00.0: rewritten=2 seen_cc=2") != std::string::npos);
  CHECK(report_markdown(rep).find("#### enforce") != std::string::npos);
}
