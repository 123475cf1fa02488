// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Secure Boot and module signing state of rdna1_vmfix: can the installed module load on this
// machine, and if not, the exact steps that make it load.
//
// Facts come through a SystemProbe: files under a root directory ("/" on a real system, a
// temporary tree in tests) and external commands (mokutil, modinfo, openssl, dmesg, journalctl)
// through a runner that tests replace with canned output. Nothing here changes the system.
//
//   vmfix::SystemProbe probe = vmfix::host_probe();
//   vmfix::ModuleSigning s = vmfix::module_signing_state(probe);
//   fmt::print("{}", vmfix::signing_text(s));   // or signing_json(s) under --json

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/rootfs.hpp"

namespace vmfix {

// What an external command printed (stdout and stderr together) and its exit status.
// exit_code -1: the command is not installed or could not be started.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

using CommandRunner = std::function<CommandResult(const std::vector<std::string>& argv)>;

// Runs argv[0] (looked up in PATH) with a time limit; output is capped at 1 MiB.
CommandResult run_command(const std::vector<std::string>& argv);

class SystemProbe : public RootFs {
 public:
  SystemProbe(std::string root, CommandRunner runner) : RootFs(std::move(root)), runner_(std::move(runner)) {}
  [[nodiscard]] CommandResult run(const std::vector<std::string>& argv) const;

 private:
  CommandRunner runner_;
};

// The running system: root "/", real commands.
SystemProbe host_probe();

enum class Tri { kNo, kYes, kUnknown };
const char* tri_name(Tri t);  // "no" | "yes" | "unknown"

// mokutil --test-key answer for the DKMS certificate.
enum class KeyEnrolment { kEnrolled, kPending, kNotEnrolled, kBlocked, kNoCertificate, kUnknown };
const char* key_enrolment_name(KeyEnrolment k);  // "enrolled" | "pending" | "not_enrolled" | ...

enum class SigningVerdict {
  kLoaded,          // the module is loaded: nothing to do
  kNotInstalled,    // no rdna1_vmfix.ko for the running kernel
  kNotLoaded,       // installed and loadable, just not loaded
  kUnsigned,        // Secure Boot/lockdown will refuse it: the module carries no signature
  kKeyNotEnrolled,  // signed with the DKMS key, which the firmware does not trust yet
  kEnrolmentPending,// key queued with mokutil --import; confirm it in MokManager at next boot
  kRefused,         // the kernel log shows a refused load and no more specific cause is known
  kUnknown,         // Secure Boot is on but enrolment cannot be checked (mokutil missing)
};
const char* signing_verdict_name(SigningVerdict v);  // snake_case, as in the JSON

struct ModuleSigning {
  std::string kernel;                  // running kernel release
  Tri efi = Tri::kUnknown;             // booted through UEFI
  Tri secure_boot = Tri::kUnknown;
  std::string secure_boot_source;      // "efivars" | "mokutil" | "no_efi" | ""
  std::string lockdown;                // "none" | "integrity" | "confidentiality" | "" (no lockdown LSM)
  bool loaded = false;
  std::string taint;                   // /sys/module/rdna1_vmfix/taint when loaded ("OE", ...)
  std::string module_path;             // installed .ko for the running kernel, "" when none
  Tri module_signed = Tri::kUnknown;
  std::string signer;                  // modinfo -F signer
  std::string sig_key;                 // modinfo -F sig_key, upper-case hex without colons
  std::string distribution;            // "ubuntu" | "debian" | "" (ID/ID_LIKE of /etc/os-release)
  bool dkms_added = false;             // DKMS knows rdna1-vmfix (package rdna1-vmfix-dkms or make install)
  std::string certificate;             // the DKMS MOK certificate path used for signing
  bool certificate_present = false;
  std::string certificate_serial;      // upper-case hex without colons (openssl x509 -serial)
  Tri signed_by_certificate = Tri::kUnknown;
  KeyEnrolment enrolment = KeyEnrolment::kUnknown;
  std::vector<std::string> refusals;   // kernel/journal lines that show a refused module load
  SigningVerdict verdict = SigningVerdict::kUnknown;
  bool problem = false;                // the module cannot load, or will not, as things stand
  std::string summary;                 // one sentence
  std::vector<std::string> steps;      // exact commands/actions, in order; empty when none needed
};

// kernel: the release whose installed module is examined; empty = the running kernel
// (<root>/proc/sys/kernel/osrelease, else uname).
ModuleSigning module_signing_state(const SystemProbe& probe, const std::string& kernel = "");

nlohmann::json signing_json(const ModuleSigning& s);  // object without "schema": callers embed it
std::string signing_text(const ModuleSigning& s);     // indented lines for status/doctor

// Helpers exposed for tests.
// /sys/kernel/security/lockdown content "none [integrity] confidentiality" -> "integrity".
std::string parse_lockdown(const std::string& content);
// SecureBoot efivar (4 attribute bytes, then the value byte).
Tri parse_secureboot_efivar(const std::string& content);
// mokutil --sb-state output.
Tri parse_sb_state(const std::string& output);
// mokutil --test-key output for certificate `cert`.
KeyEnrolment parse_test_key(const std::string& output);
// "4F:3A:0b" or "serial=4F3A0B" -> "4F3A0B" (no leading zeros).
std::string normalize_hex_id(const std::string& text);
// Lines of a kernel log or journal that show a refused signature check for rdna1_vmfix
// (or for an unnamed module under lockdown, which cannot be attributed more precisely).
std::vector<std::string> find_refusals(const std::string& log);

}  // namespace vmfix
