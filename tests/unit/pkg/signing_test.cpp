// SPDX-License-Identifier: GPL-2.0 OR MIT
// Secure Boot / signing detection against fake roots (files) and canned command output.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "status/signing.hpp"

using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::StartsWith;
namespace fs = std::filesystem;

namespace {

constexpr const char* kKver = "6.1.0-56-amd64";
constexpr const char* kKoDir = "/lib/modules/6.1.0-56-amd64/updates/dkms";
const std::string kMarker = "~Module signature appended~\n";

// A throw-away root directory plus a table of command answers keyed by "argv joined by spaces",
// where the root prefix in arguments is written as "<root>".
class FakeSystem {
 public:
  FakeSystem() {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("vmfix-signing-" + std::to_string(rd()));
    fs::create_directories(root_);
    write("/proc/sys/kernel/osrelease", std::string(kKver) + "\n");
  }
  FakeSystem(const FakeSystem&) = delete;
  FakeSystem& operator=(const FakeSystem&) = delete;
  ~FakeSystem() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void write(const std::string& path, const std::string& data) {
    const fs::path p = root_.string() + path;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
  }
  void mkdir(const std::string& path) { fs::create_directories(root_.string() + path); }
  void answer(const std::string& cmd, int code, const std::string& out) { answers_[cmd] = {code, out}; }
  void efi_secure_boot(bool on) {
    write("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
          std::string("\x06\x00\x00\x00", 4) + (on ? '\x01' : '\x00'));
  }
  void lockdown(const std::string& content) { write("/sys/kernel/security/lockdown", content); }
  void module(bool is_signed, const std::string& name = "rdna1_vmfix.ko") {
    write(std::string(kKoDir) + "/" + name, std::string("\x7f" "ELF module body", 16) + (is_signed ? "SIG" + kMarker : ""));
  }
  void certificate(const std::string& path = "/var/lib/dkms/mok.pub") { write(path, "DER"); }
  vmfix::ModuleSigning state() const {
    const std::string root = root_.string();
    auto answers = answers_;
    vmfix::SystemProbe probe(root, [root, answers](const std::vector<std::string>& argv) {
      std::string key;
      for (auto a : argv) {
        if (a.rfind(root, 0) == 0) a = "<root>" + a.substr(root.size());
        key += (key.empty() ? "" : " ") + a;
      }
      const auto it = answers.find(key);
      return it == answers.end() ? vmfix::CommandResult{} : it->second;
    });
    return vmfix::module_signing_state(probe);
  }

 private:
  fs::path root_;
  std::map<std::string, vmfix::CommandResult> answers_;
};

bool has_step(const vmfix::ModuleSigning& s, const std::string& text) {
  for (const auto& step : s.steps)
    if (step.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("lockdown file content yields the bracketed mode", "[pkg][signing]") {
  CHECK(vmfix::parse_lockdown("none [integrity] confidentiality\n") == "integrity");
  CHECK(vmfix::parse_lockdown("[none] integrity confidentiality\n") == "none");
  CHECK(vmfix::parse_lockdown("none integrity confidentiality\n").empty());
}

TEST_CASE("SecureBoot efivar value byte follows the four attribute bytes", "[pkg][signing]") {
  CHECK(vmfix::parse_secureboot_efivar(std::string("\x06\x00\x00\x00\x01", 5)) == vmfix::Tri::kYes);
  CHECK(vmfix::parse_secureboot_efivar(std::string("\x06\x00\x00\x00\x00", 5)) == vmfix::Tri::kNo);
  CHECK(vmfix::parse_secureboot_efivar(std::string("\x06\x00", 2)) == vmfix::Tri::kUnknown);
}

TEST_CASE("mokutil --sb-state and --test-key answers are classified", "[pkg][signing]") {
  CHECK(vmfix::parse_sb_state("SecureBoot enabled\n") == vmfix::Tri::kYes);
  CHECK(vmfix::parse_sb_state("SecureBoot disabled\nPlatform is in Setup Mode\n") == vmfix::Tri::kNo);
  CHECK(vmfix::parse_sb_state("EFI variables are not supported on this system\n") == vmfix::Tri::kNo);
  CHECK(vmfix::parse_sb_state("") == vmfix::Tri::kUnknown);
  using K = vmfix::KeyEnrolment;
  CHECK(vmfix::parse_test_key("/var/lib/dkms/mok.pub is already enrolled\n") == K::kEnrolled);
  CHECK(vmfix::parse_test_key("/var/lib/dkms/mok.pub is already in the enrollment request\n") == K::kPending);
  CHECK(vmfix::parse_test_key("/var/lib/dkms/mok.pub is not enrolled\n") == K::kNotEnrolled);
  CHECK(vmfix::parse_test_key("/var/lib/dkms/mok.pub is blocked in dbx\n") == K::kBlocked);
  CHECK(vmfix::parse_test_key("something else\n") == K::kUnknown);
}

TEST_CASE("key ids from modinfo and openssl normalize to the same hex", "[pkg][signing]") {
  CHECK(vmfix::normalize_hex_id("0B:3f:A0") == "B3FA0");
  CHECK(vmfix::normalize_hex_id("serial=0B3FA0") == "B3FA0");
  CHECK(vmfix::normalize_hex_id("not hex!").empty());
}

TEST_CASE("refused loads are found in kernel and journal lines, other modules' errors are not", "[pkg][signing]") {
  const std::string log =
      "[    3.1] Lockdown: systemd-modules-load: unsigned module loading is restricted; see man kernel_lockdown.7\n"
      "[    3.2] Loading of unsigned module is rejected\n"
      "Failed to insert module 'rdna1_vmfix': Key was rejected by service\n"
      "Failed to insert module 'vboxdrv': Key was rejected by service\n"
      "[    4.0] rdna1_vmfix: module verification failed: signature and/or required key missing - tainting kernel\n"
      "modprobe: ERROR: could not insert 'other': Operation not permitted\n";
  const auto r = vmfix::find_refusals(log);
  REQUIRE(r.size() == 3);
  CHECK_THAT(r[0], ContainsSubstring("unsigned module loading is restricted"));
  CHECK_THAT(r[1], ContainsSubstring("Loading of unsigned module is rejected"));
  CHECK_THAT(r[2], ContainsSubstring("'rdna1_vmfix': Key was rejected"));
}

TEST_CASE("no UEFI and an unsigned module: loadable, only modprobe is needed", "[pkg][signing]") {
  FakeSystem sys;
  sys.module(false);
  const auto s = sys.state();
  CHECK(s.kernel == kKver);
  CHECK(s.efi == vmfix::Tri::kNo);
  CHECK(s.secure_boot == vmfix::Tri::kNo);
  CHECK(s.module_path == std::string(kKoDir) + "/rdna1_vmfix.ko");
  CHECK(s.module_signed == vmfix::Tri::kNo);
  CHECK(s.verdict == vmfix::SigningVerdict::kNotLoaded);
  CHECK_FALSE(s.problem);
  REQUIRE(s.steps.size() == 1);
  CHECK(s.steps[0] == "sudo modprobe rdna1_vmfix");
}

TEST_CASE("Secure Boot on and an unsigned module: rebuild signed, then enrol the DKMS key", "[pkg][signing]") {
  FakeSystem sys;
  sys.efi_secure_boot(true);
  sys.lockdown("none [integrity] confidentiality\n");
  sys.module(false);
  sys.certificate();
  sys.answer("mokutil --test-key <root>/var/lib/dkms/mok.pub", 0, "/var/lib/dkms/mok.pub is not enrolled\n");
  sys.answer("dmesg", 0, "[ 5.0] Lockdown: modprobe: unsigned module loading is restricted; see man kernel_lockdown.7\n");
  const auto s = sys.state();
  CHECK(s.secure_boot == vmfix::Tri::kYes);
  CHECK(s.secure_boot_source == "efivars");
  CHECK(s.lockdown == "integrity");
  CHECK(s.verdict == vmfix::SigningVerdict::kUnsigned);
  CHECK(s.problem);
  CHECK(s.refusals.size() == 1);
  CHECK(has_step(s, "sudo dpkg-reconfigure rdna1-vmfix-dkms"));
  CHECK(has_step(s, "sudo mokutil --import /var/lib/dkms/mok.pub"));
}

TEST_CASE("signed module, key not enrolled: the exact mokutil --import steps", "[pkg][signing]") {
  FakeSystem sys;
  sys.efi_secure_boot(true);
  sys.lockdown("none [integrity] confidentiality\n");
  sys.module(true);
  sys.certificate();
  sys.answer("mokutil --test-key <root>/var/lib/dkms/mok.pub", 0, "/var/lib/dkms/mok.pub is not enrolled\n");
  sys.answer("modinfo -F signer <root>/lib/modules/6.1.0-56-amd64/updates/dkms/rdna1_vmfix.ko", 0,
             "DKMS module signing key\n");
  const auto s = sys.state();
  CHECK(s.module_signed == vmfix::Tri::kYes);
  CHECK(s.signer == "DKMS module signing key");
  CHECK(s.enrolment == vmfix::KeyEnrolment::kNotEnrolled);
  CHECK(s.verdict == vmfix::SigningVerdict::kKeyNotEnrolled);
  CHECK(s.problem);
  REQUIRE(s.steps.size() == 4);
  CHECK_THAT(s.steps[0], StartsWith("sudo mokutil --import /var/lib/dkms/mok.pub"));
  CHECK_THAT(s.steps[1], StartsWith("sudo reboot"));
  CHECK_THAT(s.steps[2], StartsWith("mokutil --test-key /var/lib/dkms/mok.pub"));
  CHECK(s.steps[3] == "sudo modprobe rdna1_vmfix");
  CHECK_THAT(vmfix::signing_text(s), ContainsSubstring("key_not_enrolled"));
}

TEST_CASE("a queued enrolment asks for the reboot confirmation, not another import", "[pkg][signing]") {
  FakeSystem sys;
  sys.efi_secure_boot(true);
  sys.module(true);
  sys.certificate();
  sys.answer("mokutil --test-key <root>/var/lib/dkms/mok.pub", 1,
             "/var/lib/dkms/mok.pub is already in the enrollment request\n");
  const auto s = sys.state();
  CHECK(s.verdict == vmfix::SigningVerdict::kEnrolmentPending);
  CHECK_FALSE(has_step(s, "--import"));
  CHECK(has_step(s, "sudo reboot"));
}

TEST_CASE("enrolled key: the module's key id is compared with the DKMS certificate", "[pkg][signing]") {
  FakeSystem sys;
  sys.efi_secure_boot(true);
  sys.module(true);
  sys.certificate();
  sys.answer("mokutil --test-key <root>/var/lib/dkms/mok.pub", 1, "/var/lib/dkms/mok.pub is already enrolled\n");
  sys.answer("modinfo -F signer <root>/lib/modules/6.1.0-56-amd64/updates/dkms/rdna1_vmfix.ko", 0,
             "DKMS module signing key\n");
  sys.answer("openssl x509 -inform DER -in <root>/var/lib/dkms/mok.pub -noout -serial", 0, "serial=1A2B3C\n");
  SECTION("same key: loadable, not a problem") {
    sys.answer("modinfo -F sig_key <root>/lib/modules/6.1.0-56-amd64/updates/dkms/rdna1_vmfix.ko", 0, "1A:2B:3C\n");
    const auto s = sys.state();
    CHECK(s.signed_by_certificate == vmfix::Tri::kYes);
    CHECK(s.verdict == vmfix::SigningVerdict::kNotLoaded);
    CHECK_FALSE(s.problem);
  }
  SECTION("another key: refused, rebuild with the DKMS key") {
    sys.answer("modinfo -F sig_key <root>/lib/modules/6.1.0-56-amd64/updates/dkms/rdna1_vmfix.ko", 0, "99:88\n");
    const auto s = sys.state();
    CHECK(s.signed_by_certificate == vmfix::Tri::kNo);
    CHECK(s.verdict == vmfix::SigningVerdict::kRefused);
    CHECK(s.problem);
  }
}

TEST_CASE("a loaded module is fine whatever the signing state", "[pkg][signing]") {
  FakeSystem sys;
  sys.efi_secure_boot(true);
  sys.module(false);
  sys.write("/sys/module/rdna1_vmfix/taint", "OE\n");
  const auto s = sys.state();
  CHECK(s.loaded);
  CHECK(s.taint == "OE");
  CHECK(s.verdict == vmfix::SigningVerdict::kLoaded);
  CHECK_FALSE(s.problem);
  CHECK(s.steps.empty());
}

TEST_CASE("no module for the running kernel: install headers and let DKMS build", "[pkg][signing]") {
  FakeSystem sys;
  sys.write("/lib/modules/6.0.0-1-amd64/updates/dkms/rdna1_vmfix.ko", "other kernel");
  sys.mkdir("/var/lib/dkms/rdna1-vmfix/0.1.0");  // the package is installed, built for another kernel
  const auto s = sys.state();
  CHECK(s.module_path.empty());
  CHECK(s.verdict == vmfix::SigningVerdict::kNotInstalled);
  CHECK(s.problem);
  CHECK(has_step(s, "sudo apt install linux-headers-6.1.0-56-amd64"));
  CHECK(has_step(s, "sudo dkms autoinstall -k 6.1.0-56-amd64"));
}

TEST_CASE("the certificate follows Ubuntu's location and DKMS framework.conf", "[pkg][signing]") {
  FakeSystem sys;
  sys.module(true);
  SECTION("Debian default") { CHECK(sys.state().certificate == "/var/lib/dkms/mok.pub"); }
  SECTION("Ubuntu") {
    sys.write("/etc/os-release", "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n");
    CHECK(sys.state().certificate == "/var/lib/shim-signed/mok/MOK.der");
  }
  SECTION("framework.conf.d wins") {
    sys.write("/etc/dkms/framework.conf", "# mok_certificate=/ignored\nmok_certificate=/etc/a.der\n");
    sys.write("/etc/dkms/framework.conf.d/keys.conf", "mok_certificate=\"/etc/b.der\"\n");
    CHECK(sys.state().certificate == "/etc/b.der");
  }
}

TEST_CASE("a compressed module's signature comes from modinfo", "[pkg][signing]") {
  FakeSystem sys;
  sys.module(false, "rdna1_vmfix.ko.xz");
  sys.answer("modinfo -F signer <root>/lib/modules/6.1.0-56-amd64/updates/dkms/rdna1_vmfix.ko.xz", 0,
             "DKMS module signing key\n");
  const auto s = sys.state();
  CHECK(s.module_signed == vmfix::Tri::kYes);
  SECTION("without modinfo the state is unknown, not guessed") {
    FakeSystem bare;
    bare.module(false, "rdna1_vmfix.ko.xz");
    CHECK(bare.state().module_signed == vmfix::Tri::kUnknown);
  }
}

TEST_CASE("Secure Boot falls back to mokutil --sb-state when efivars are unreadable", "[pkg][signing]") {
  FakeSystem sys;
  sys.mkdir("/sys/firmware/efi");
  sys.module(true);
  SECTION("mokutil answers") {
    sys.certificate();
    sys.answer("mokutil --sb-state", 0, "SecureBoot enabled\n");
    const auto s = sys.state();
    CHECK(s.secure_boot == vmfix::Tri::kYes);
    CHECK(s.secure_boot_source == "mokutil");
    CHECK(s.verdict == vmfix::SigningVerdict::kUnknown);  // no mokutil --test-key answer either
    CHECK(has_step(s, "sudo apt install mokutil"));
  }
  SECTION("no mokutil") {
    const auto s = sys.state();
    CHECK(s.efi == vmfix::Tri::kYes);
    CHECK(s.secure_boot == vmfix::Tri::kUnknown);
  }
}

TEST_CASE("signing JSON uses snake_case keys and the verdict names", "[pkg][signing]") {
  FakeSystem sys;
  sys.efi_secure_boot(true);
  sys.module(true);
  sys.certificate();
  sys.answer("mokutil --test-key <root>/var/lib/dkms/mok.pub", 0, "/var/lib/dkms/mok.pub is not enrolled\n");
  const auto j = vmfix::signing_json(sys.state());
  CHECK(j.at("verdict") == "key_not_enrolled");
  CHECK(j.at("secure_boot") == "yes");
  CHECK(j.at("key_enrolment") == "not_enrolled");
  CHECK(j.at("problem") == true);
  CHECK(j.at("steps").size() == 4);
  for (const auto& [k, v] : j.items()) {
    INFO(k);
    CHECK(k.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
  }
}

TEST_CASE("run_command reports missing commands and captures output", "[pkg][signing]") {
  const auto ok = vmfix::run_command({"sh", "-c", "echo hello; exit 3"});
  CHECK(ok.exit_code == 3);
  CHECK(ok.output == "hello\n");
  CHECK(vmfix::run_command({"rdna1-vmfix-no-such-command"}).exit_code == -1);
}

// Run by tests/suites/60-deb.sh against a root where the package made DKMS build and sign the real
// module: VMFIX_SIGNING_ROOT is that root, VMFIX_SIGNING_KERNEL the headers' kernel there; real
// modinfo/openssl run on its files.
TEST_CASE("never installed: install the rdna1-vmfix-dkms package, not dkms autoinstall", "[pkg][signing]") {
  FakeSystem sys;
  const auto s = sys.state();
  CHECK(s.verdict == vmfix::SigningVerdict::kNotInstalled);
  CHECK_FALSE(s.dkms_added);
  CHECK_THAT(s.summary, ContainsSubstring("rdna1-vmfix-dkms"));
  CHECK(has_step(s, "./out/deb/rdna1-vmfix-dkms_*_all.deb"));
  CHECK_FALSE(has_step(s, "autoinstall"));
}

TEST_CASE("Ubuntu: the MOK.der key is enrolled with update-secureboot-policy", "[pkg][signing]") {
  FakeSystem sys;
  sys.write("/etc/os-release", "NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n");
  sys.efi_secure_boot(true);
  sys.module(true);
  sys.certificate("/var/lib/shim-signed/mok/MOK.der");
  sys.answer("mokutil --test-key <root>/var/lib/shim-signed/mok/MOK.der", 0,
             "/var/lib/shim-signed/mok/MOK.der is not enrolled\n");
  const auto s = sys.state();
  CHECK(s.distribution == "ubuntu");
  CHECK(s.verdict == vmfix::SigningVerdict::kKeyNotEnrolled);
  REQUIRE_FALSE(s.steps.empty());
  CHECK_THAT(s.steps[0], StartsWith("sudo update-secureboot-policy --enroll-key"));
  CHECK_FALSE(has_step(s, "mokutil --import"));
  CHECK(has_step(s, "mokutil --test-key /var/lib/shim-signed/mok/MOK.der"));
  CHECK(vmfix::signing_json(s)["distribution"] == "ubuntu");
}

TEST_CASE("Ubuntu with a framework.conf key: mokutil --import of that certificate", "[pkg][signing]") {
  FakeSystem sys;
  sys.write("/etc/os-release", "ID=ubuntu\n");
  sys.write("/etc/dkms/framework.conf", "mok_certificate=/etc/keys/mine.der\n");
  sys.efi_secure_boot(true);
  sys.module(true);
  sys.certificate("/etc/keys/mine.der");
  sys.answer("mokutil --test-key <root>/etc/keys/mine.der", 0, "/etc/keys/mine.der is not enrolled\n");
  const auto s = sys.state();
  CHECK(has_step(s, "sudo mokutil --import /etc/keys/mine.der"));
  CHECK_FALSE(has_step(s, "update-secureboot-policy"));
}

TEST_CASE("a DKMS-built module in a test root is seen as signed with the DKMS key", "[.chroot][pkg][signing]") {
  const char* root = std::getenv("VMFIX_SIGNING_ROOT");
  const char* kernel = std::getenv("VMFIX_SIGNING_KERNEL");
  if (root == nullptr || kernel == nullptr) SKIP("VMFIX_SIGNING_ROOT or VMFIX_SIGNING_KERNEL is not set");
  const vmfix::SystemProbe probe(root, vmfix::run_command);
  const auto s = vmfix::module_signing_state(probe, kernel);
  INFO(vmfix::signing_text(s));
  CHECK_FALSE(s.module_path.empty());
  CHECK(s.module_signed == vmfix::Tri::kYes);
  CHECK(s.signer == "DKMS module signing key");
  CHECK(s.certificate == "/var/lib/dkms/mok.pub");
  CHECK(s.certificate_present);
  CHECK(s.signed_by_certificate == vmfix::Tri::kYes);
  CHECK(s.verdict == vmfix::SigningVerdict::kNotLoaded);  // no UEFI in a chroot: nothing blocks it
}
