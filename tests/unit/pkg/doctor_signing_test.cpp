// SPDX-License-Identifier: GPL-2.0 OR MIT
// doctor's use of the signing state: a module that cannot load under Secure Boot is the verdict
// (with the mokutil steps as advice) unless a cause of the crash itself was found first.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "doctor/doctor.hpp"

using Catch::Matchers::ContainsSubstring;

namespace {

vmfix::doctor::Input rdna1_machine() {
  vmfix::doctor::Input in;
  vmfix::GpuInfo g;
  g.bdf = "0000:03:00.0";
  g.vendor = 0x1002;
  g.device = 0x731f;
  g.driver = "amdgpu";
  g.gfx = "gfx1010";
  g.family = "navi10";
  g.rdna1 = true;
  in.status.gpus.push_back(g);
  in.kernel_release = "6.1.0-56-amd64";
  in.faults = vmfix::faults::Report{};
  in.log_source = "test";
  return in;
}

vmfix::ModuleSigning key_not_enrolled() {
  vmfix::ModuleSigning s;
  s.kernel = "6.1.0-56-amd64";
  s.efi = vmfix::Tri::kYes;
  s.secure_boot = vmfix::Tri::kYes;
  s.lockdown = "integrity";
  s.module_path = "/lib/modules/6.1.0-56-amd64/updates/dkms/rdna1_vmfix.ko";
  s.module_signed = vmfix::Tri::kYes;
  s.certificate = "/var/lib/dkms/mok.pub";
  s.certificate_present = true;
  s.enrolment = vmfix::KeyEnrolment::kNotEnrolled;
  s.refusals = {"Lockdown: modprobe: unsigned module loading is restricted; see man kernel_lockdown.7"};
  s.verdict = vmfix::SigningVerdict::kKeyNotEnrolled;
  s.problem = true;
  s.summary = "the module is signed with the DKMS key, but /var/lib/dkms/mok.pub is not enrolled as a MOK";
  s.steps = {"sudo mokutil --import /var/lib/dkms/mok.pub   # choose a one-time password", "sudo reboot",
             "mokutil --test-key /var/lib/dkms/mok.pub", "sudo modprobe rdna1_vmfix"};
  return s;
}

}  // namespace

TEST_CASE("doctor: a module refused under Secure Boot is the verdict, with the mokutil steps", "[pkg][doctor]") {
  auto in = rdna1_machine();
  in.signing = key_not_enrolled();
  const auto r = vmfix::doctor::diagnose(std::move(in));
  CHECK(r.verdict.cls == "module_signing");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.verdict.advice, ContainsSubstring("1. sudo mokutil --import /var/lib/dkms/mok.pub"));
  CHECK_THAT(r.verdict.advice, ContainsSubstring("4. sudo modprobe rdna1_vmfix"));
  REQUIRE(r.verdict.evidence.size() == 2);
  CHECK_THAT(r.verdict.evidence[0], ContainsSubstring("secure boot yes, lockdown integrity"));
  CHECK_THAT(r.verdict.evidence[1], ContainsSubstring("unsigned module loading is restricted"));
  const auto j = vmfix::doctor::report_json(r);
  CHECK(j.at("signing").at("verdict") == "key_not_enrolled");
  CHECK(j.at("verdict").at("class") == "module_signing");
  CHECK_THAT(vmfix::doctor::report_text(r), ContainsSubstring("Signing:    key_not_enrolled"));
}

TEST_CASE("doctor: a crash cause found first outranks the signing problem", "[pkg][doctor]") {
  auto in = rdna1_machine();
  in.env["HSA_OVERRIDE_GFX_VERSION"] = "10.3.0";
  in.signing = key_not_enrolled();
  const auto r = vmfix::doctor::diagnose(std::move(in));
  CHECK(r.verdict.cls == "isa_mismatch");
}

TEST_CASE("doctor: a module that is only not installed or not loaded is a note, not a problem", "[pkg][doctor]") {
  auto in = rdna1_machine();
  vmfix::ModuleSigning s;
  s.verdict = vmfix::SigningVerdict::kNotInstalled;
  s.problem = true;
  s.summary = "no rdna1_vmfix module is installed for the running kernel 6.1.0-56-amd64";
  s.steps = {"sudo apt install linux-headers-6.1.0-56-amd64"};
  in.signing = s;
  const auto r = vmfix::doctor::diagnose(std::move(in));
  CHECK(r.verdict.cls == "healthy");
  CHECK(r.exit_code == 0);
  bool noted = false;
  for (const auto& n : r.notes) noted = noted || n.find("rdna1_vmfix not_installed") != std::string::npos;
  CHECK(noted);
}

TEST_CASE("doctor: without a signing examination the JSON has no signing key", "[pkg][doctor]") {
  const auto r = vmfix::doctor::diagnose(rdna1_machine());
  CHECK_FALSE(vmfix::doctor::report_json(r).contains("signing"));
}
