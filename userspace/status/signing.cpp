// SPDX-License-Identifier: GPL-2.0 OR MIT
// Secure Boot / module signing state of rdna1_vmfix (see status/signing.hpp).
//
// Sources of truth, in the order they are consulted:
//   /sys/firmware/efi, the SecureBoot efivar (else mokutil --sb-state), /sys/kernel/security/lockdown,
//   /sys/module/rdna1_vmfix, /lib/modules/<kver>/{updates,extra}/**/rdna1_vmfix.ko*,
//   the "~Module signature appended~" trailer (else modinfo -F signer), DKMS's framework.conf for the
//   certificate (default /var/lib/dkms/mok.pub; Ubuntu /var/lib/shim-signed/mok/MOK.der),
//   mokutil --test-key, and the kernel log / systemd-modules-load journal for refused loads.
#include "status/signing.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

#include "common/process.hpp"

namespace vmfix {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kModule = "rdna1_vmfix";
constexpr std::string_view kSigMarker = "~Module signature appended~\n";
constexpr const char* kSecureBootVar =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
constexpr const char* kDebianCert = "/var/lib/dkms/mok.pub";
constexpr const char* kUbuntuCert = "/var/lib/shim-signed/mok/MOK.der";
constexpr std::size_t kMaxOutput = 1 << 20;
constexpr int kCommandTimeoutMs = 10000;

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return {};
  // "env LC_ALL=C": stable, untranslated output; env exits 127 when the command does not exist.
  SpawnOptions o({"env", "LC_ALL=C"}, ChildStderr::kToStdout);
  o.argv.insert(o.argv.end(), argv.begin(), argv.end());
  Captured c = run_captured(o, std::chrono::milliseconds(kCommandTimeoutMs), kMaxOutput);
  return {c.exit_code, std::move(c.output)};
}

CommandResult SystemProbe::run(const std::vector<std::string>& argv) const {
  return runner_ ? runner_(argv) : CommandResult{};
}

SystemProbe host_probe() { return SystemProbe("/", run_command); }

const char* tri_name(Tri t) {
  switch (t) {
    case Tri::kNo: return "no";
    case Tri::kYes: return "yes";
    case Tri::kUnknown: break;
  }
  return "unknown";
}

const char* key_enrolment_name(KeyEnrolment k) {
  switch (k) {
    case KeyEnrolment::kEnrolled: return "enrolled";
    case KeyEnrolment::kPending: return "pending";
    case KeyEnrolment::kNotEnrolled: return "not_enrolled";
    case KeyEnrolment::kBlocked: return "blocked";
    case KeyEnrolment::kNoCertificate: return "no_certificate";
    case KeyEnrolment::kUnknown: break;
  }
  return "unknown";
}

const char* signing_verdict_name(SigningVerdict v) {
  switch (v) {
    case SigningVerdict::kLoaded: return "loaded";
    case SigningVerdict::kNotInstalled: return "not_installed";
    case SigningVerdict::kNotLoaded: return "not_loaded";
    case SigningVerdict::kUnsigned: return "unsigned";
    case SigningVerdict::kKeyNotEnrolled: return "key_not_enrolled";
    case SigningVerdict::kEnrolmentPending: return "enrolment_pending";
    case SigningVerdict::kRefused: return "refused";
    case SigningVerdict::kUnknown: break;
  }
  return "unknown";
}

std::string parse_lockdown(const std::string& content) {
  const auto open = content.find('[');
  const auto close = content.find(']', open == std::string::npos ? 0 : open);
  if (open == std::string::npos || close == std::string::npos) return "";
  return content.substr(open + 1, close - open - 1);
}

Tri parse_secureboot_efivar(const std::string& content) {
  if (content.size() < 5) return Tri::kUnknown;
  return content[4] == 1 ? Tri::kYes : Tri::kNo;
}

Tri parse_sb_state(const std::string& output) {
  if (contains(output, "SecureBoot enabled")) return Tri::kYes;
  if (contains(output, "SecureBoot disabled")) return Tri::kNo;
  if (contains(output, "not supported")) return Tri::kNo;  // "EFI variables are not supported on this system"
  return Tri::kUnknown;
}

KeyEnrolment parse_test_key(const std::string& output) {
  if (contains(output, "is already enrolled") || contains(output, "is already in db")) return KeyEnrolment::kEnrolled;
  if (contains(output, "is already in the enrollment request")) return KeyEnrolment::kPending;
  if (contains(output, "is not enrolled")) return KeyEnrolment::kNotEnrolled;
  if (contains(output, "is blocked in")) return KeyEnrolment::kBlocked;
  if (contains(output, "not found")) return KeyEnrolment::kNoCertificate;
  return KeyEnrolment::kUnknown;
}

std::string normalize_hex_id(const std::string& text) {
  std::string_view s = text;
  if (const auto eq = s.find('='); eq != std::string_view::npos) s.remove_prefix(eq + 1);
  std::string out;
  for (const char c : s) {
    if (std::isxdigit(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    else if (c != ':' && !std::isspace(static_cast<unsigned char>(c))) return "";
  }
  const auto nz = out.find_first_not_of('0');
  return nz == std::string::npos ? (out.empty() ? "" : "0") : out.substr(nz);
}

std::vector<std::string> find_refusals(const std::string& log) {
  // kernel/module/signing.c (sig_enforce): "Loading of <reason> is rejected";
  // security/lockdown/lockdown.c: "Lockdown: <comm>: unsigned module loading is restricted; ...";
  // userspace (modprobe, systemd-modules-load): strerror(EKEYREJECTED/ENOKEY/EPERM).
  static constexpr std::array<std::string_view, 3> kKernel = {
      "Loading of unsigned module is rejected",
      "Loading of module with unavailable key is rejected",
      "unsigned module loading is restricted",
  };
  static constexpr std::array<std::string_view, 3> kUser = {
      "Key was rejected by service",
      "Required key not available",
      "Operation not permitted",
  };
  std::vector<std::string> out;
  for (const auto& line : lines_of(log)) {
    bool hit = false;
    for (const auto k : kKernel) hit = hit || contains(line, k);
    for (const auto u : kUser) hit = hit || (contains(line, u) && contains(line, kModule));
    if (hit) out.push_back(trim(line));
  }
  return out;
}

namespace {

// "ubuntu", "debian" or "" from /etc/os-release: DKMS's default key and its enrolment differ.
std::string distribution(const SystemProbe& p) {
  const auto osr = p.read_head("/etc/os-release", std::size_t{64} * 1024);
  if (!osr) return "";
  bool debian = false;
  for (const auto& raw : lines_of(*osr)) {
    std::string l = raw;
    l.erase(std::remove(l.begin(), l.end(), '"'), l.end());
    if (l == "ID=ubuntu" || (l.rfind("ID_LIKE=", 0) == 0 && contains(l, "ubuntu"))) return "ubuntu";
    if (l == "ID=debian" || (l.rfind("ID_LIKE=", 0) == 0 && contains(l, "debian"))) debian = true;
  }
  return debian ? "debian" : "";
}

bool is_ubuntu(const SystemProbe& p) { return distribution(p) == "ubuntu"; }

// DKMS reads mok_certificate from framework.conf and framework.conf.d/*.conf (later files win).
std::string dkms_certificate(const SystemProbe& p) {
  std::vector<std::string> confs{"/etc/dkms/framework.conf"};
  for (const auto& f : p.find_files("/etc/dkms/framework.conf.d"))
    if (f.size() > 5 && f.compare(f.size() - 5, 5, ".conf") == 0) confs.push_back(f);
  std::string cert;
  for (const auto& c : confs) {
    const auto text = p.read_head(c, std::size_t{64} * 1024);
    if (!text) continue;
    for (const auto& raw : lines_of(*text)) {
      const std::string l = trim(raw);
      if (l.rfind("mok_certificate=", 0) != 0) continue;
      std::string v = trim(std::string_view(l).substr(16));
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
      if (!v.empty() && v.front() == '/' && v.find('$') == std::string::npos) cert = v;
    }
  }
  if (!cert.empty()) return cert;
  if (is_ubuntu(p)) return kUbuntuCert;
  return kDebianCert;
}

std::string installed_module(const SystemProbe& p, const std::string& kver) {
  for (const char* sub : {"updates", "extra"}) {
    for (const auto& f : p.find_files(fmt::format("/lib/modules/{}/{}", kver, sub))) {
      const std::string name = fs::path(f).filename().string();
      if (name.rfind(std::string(kModule) + ".ko", 0) == 0) return f;
    }
  }
  return "";
}

void read_firmware(const SystemProbe& p, ModuleSigning& s) {
  if (!p.exists("/sys/firmware/efi")) {
    s.efi = Tri::kNo;
    s.secure_boot = Tri::kNo;
    s.secure_boot_source = "no_efi";
    return;
  }
  s.efi = Tri::kYes;
  if (const auto var = p.read_head(kSecureBootVar, 64); var && var->size() >= 5) {
    s.secure_boot = parse_secureboot_efivar(*var);
    s.secure_boot_source = "efivars";
    return;
  }
  const auto r = p.run({"mokutil", "--sb-state"});
  if (r.exit_code >= 0) {
    s.secure_boot = parse_sb_state(r.output);
    if (s.secure_boot != Tri::kUnknown) s.secure_boot_source = "mokutil";
  }
}

void read_module(const SystemProbe& p, ModuleSigning& s) {
  s.loaded = p.exists("/sys/module/rdna1_vmfix");
  if (s.loaded) s.taint = trim(p.read_head("/sys/module/rdna1_vmfix/taint", 64).value_or(""));
  s.module_path = installed_module(p, s.kernel);
  if (s.module_path.empty()) return;
  const bool compressed = !s.module_path.ends_with(".ko");
  if (!compressed) {
    const auto tail = p.read_tail(s.module_path, kSigMarker.size());
    if (tail) s.module_signed = tail->ends_with(kSigMarker) ? Tri::kYes : Tri::kNo;
  }
  const std::string host = p.host_path(s.module_path);
  const auto signer = p.run({"modinfo", "-F", "signer", host});
  if (signer.exit_code == 0) {
    s.signer = trim(signer.output);
    if (compressed) s.module_signed = s.signer.empty() ? Tri::kNo : Tri::kYes;
  }
  if (s.module_signed == Tri::kYes) {
    const auto key = p.run({"modinfo", "-F", "sig_key", host});
    if (key.exit_code == 0) s.sig_key = normalize_hex_id(trim(key.output));
  }
}

void read_certificate(const SystemProbe& p, ModuleSigning& s) {
  s.certificate = dkms_certificate(p);
  s.certificate_present = p.exists(s.certificate);
  if (!s.certificate_present) {
    s.enrolment = KeyEnrolment::kNoCertificate;
    return;
  }
  const std::string host = p.host_path(s.certificate);
  const auto serial = p.run({"openssl", "x509", "-inform", "DER", "-in", host, "-noout", "-serial"});
  if (serial.exit_code == 0) s.certificate_serial = normalize_hex_id(trim(serial.output));
  if (!s.certificate_serial.empty() && !s.sig_key.empty())
    s.signed_by_certificate = s.certificate_serial == s.sig_key ? Tri::kYes : Tri::kNo;
  // Only meaningful on UEFI systems; mokutil fails without EFI variables.
  if (s.efi == Tri::kYes) {
    const auto t = p.run({"mokutil", "--test-key", host});
    if (t.exit_code >= 0) s.enrolment = parse_test_key(t.output);
  }
}

void read_logs(const SystemProbe& p, ModuleSigning& s) {
  auto k = p.run({"dmesg"});
  if (k.exit_code != 0) k = p.run({"journalctl", "-k", "-b", "-o", "cat", "--no-pager"});
  if (k.exit_code == 0) s.refusals = find_refusals(k.output);
  const auto j = p.run({"journalctl", "-b", "-o", "cat", "--no-pager", "-u", "systemd-modules-load.service"});
  if (j.exit_code == 0)
    for (auto& l : find_refusals(j.output))
      if (std::find(s.refusals.begin(), s.refusals.end(), l) == s.refusals.end()) s.refusals.push_back(std::move(l));
}

std::vector<std::string> enrol_steps(const ModuleSigning& s) {
  // Ubuntu's DKMS key is shim-signed's MOK; update-secureboot-policy enrols it (docs/install.md section 4).
  const std::string import =
      s.certificate == kUbuntuCert
          ? "sudo update-secureboot-policy --enroll-key   # enrols " + s.certificate +
                "; choose a one-time password (8-16 characters)"
          : fmt::format("sudo mokutil --import {}   # choose a one-time password (8-16 characters)", s.certificate);
  return {
      import,
      "sudo reboot   # MOK manager (blue screen, press a key within 10 s): Enroll MOK -> Continue -> Yes -> "
      "password -> Reboot",
      fmt::format("mokutil --test-key {}   # must print: ... is already enrolled", s.certificate),
      "sudo modprobe rdna1_vmfix",
  };
}

// No module file for the running kernel: the package is missing, or DKMS did not build it.
void decide_not_installed(ModuleSigning& s) {
  s.verdict = SigningVerdict::kNotInstalled;
  if (!s.dkms_added) {
    s.summary = "the rdna1_vmfix module is not installed: it comes in the package rdna1-vmfix-dkms";
    s.steps = {"make deb   # in the source tree: out/deb/rdna1-vmfix-dkms_<version>_all.deb (docs/install.md section 2)",
               fmt::format("sudo apt install linux-headers-{} ./out/deb/rdna1-vmfix-dkms_*_all.deb", s.kernel),
               "dkms status rdna1-vmfix   # must show: installed"};
    return;
  }
  s.summary = fmt::format("rdna1-vmfix-dkms is installed, but not built for the running kernel {}", s.kernel);
  s.steps = {fmt::format("sudo apt install linux-headers-{}", s.kernel),
             fmt::format("sudo dkms autoinstall -k {}", s.kernel),
             "dkms status rdna1-vmfix   # must show: installed"};
}

// Secure Boot or lockdown is on and the module carries no signature.
void decide_unsigned(ModuleSigning& s) {
  s.verdict = SigningVerdict::kUnsigned;
  s.summary = "Secure Boot/lockdown is on and the installed module is not signed: the kernel refuses it";
  s.steps = {"sudo apt install openssl   # DKMS signs only when it can create or read its MOK key",
             "sudo dpkg-reconfigure rdna1-vmfix-dkms   # from a source install: sudo make uninstall install",
             fmt::format("modinfo -F signer {}   # must print a signer", s.module_path)};
  if (s.enrolment != KeyEnrolment::kEnrolled) {
    auto more = enrol_steps(s);
    s.steps.insert(s.steps.end(), more.begin(), more.end());
  } else {
    s.steps.emplace_back("sudo modprobe rdna1_vmfix");
  }
}

// Secure Boot or lockdown is on and the module is signed: what the DKMS key's enrolment allows.
void decide_by_enrolment(ModuleSigning& s) {
  using V = SigningVerdict;
  switch (s.enrolment) {
    case KeyEnrolment::kEnrolled:
      if (s.signed_by_certificate == Tri::kNo) {
        s.verdict = V::kRefused;
        s.summary = fmt::format("the module is signed with key {}, not with the enrolled DKMS certificate {} ({})",
                                s.sig_key, s.certificate, s.certificate_serial);
        s.steps = {"sudo dpkg-reconfigure rdna1-vmfix-dkms   # rebuild and sign with the DKMS key",
                   "sudo modprobe rdna1_vmfix"};
        return;
      }
      s.problem = !s.refusals.empty();
      s.verdict = s.refusals.empty() ? V::kNotLoaded : V::kRefused;
      s.summary = s.refusals.empty() ? "signed with an enrolled key; not loaded"
                                     : "signed with an enrolled key, but the kernel log shows a refused load";
      s.steps = {"sudo modprobe rdna1_vmfix", "sudo dmesg | tail   # if it fails: the reason"};
      return;
    case KeyEnrolment::kPending:
      s.verdict = V::kEnrolmentPending;
      s.summary = fmt::format("the DKMS key {} is queued for enrolment; confirm it in the MOK manager at the next boot",
                              s.certificate);
      {
        const auto all = enrol_steps(s);  // the import is done: reboot, confirm, verify, load
        s.steps.assign(all.begin() + 1, all.end());
      }
      return;
    case KeyEnrolment::kNotEnrolled:
      s.verdict = V::kKeyNotEnrolled;
      s.summary = fmt::format("the module is signed with the DKMS key, but {} is not enrolled as a MOK", s.certificate);
      s.steps = enrol_steps(s);
      return;
    case KeyEnrolment::kBlocked:
      s.verdict = V::kRefused;
      s.summary = fmt::format("the DKMS certificate {} is blocked (dbx/MokListX): make a new DKMS key", s.certificate);
      s.steps = {fmt::format("sudo mv {0} {0}.blocked   # and the matching private key", s.certificate),
                 "sudo dpkg-reconfigure rdna1-vmfix-dkms   # DKMS creates a new key and signs with it"};
      {
        auto more = enrol_steps(s);
        s.steps.insert(s.steps.end(), more.begin(), more.end());
      }
      return;
    case KeyEnrolment::kNoCertificate:
      s.verdict = V::kUnknown;
      s.summary = fmt::format("the module is signed, but the DKMS certificate {} is missing", s.certificate);
      s.steps = {"sudo dpkg-reconfigure rdna1-vmfix-dkms   # DKMS creates a key and signs again"};
      return;
    case KeyEnrolment::kUnknown:
      break;
  }
  s.verdict = s.refusals.empty() ? V::kUnknown : V::kRefused;
  s.summary = "Secure Boot is on; whether the DKMS key is enrolled is unknown (mokutil missing or failed)";
  s.steps = {"sudo apt install mokutil", fmt::format("mokutil --test-key {}", s.certificate)};
}

void decide(ModuleSigning& s) {
  const bool lockdown = !s.lockdown.empty() && s.lockdown != "none";
  const bool enforcing = lockdown || s.secure_boot == Tri::kYes;
  using V = SigningVerdict;
  if (s.loaded) {
    s.verdict = V::kLoaded;
    s.summary = "rdna1_vmfix is loaded";
    if (!s.taint.empty()) s.summary += fmt::format(" (taint flags {})", s.taint);
    return;
  }
  s.problem = true;
  if (s.module_path.empty()) {
    decide_not_installed(s);
    return;
  }
  if (!enforcing) {
    s.problem = !s.refusals.empty();
    s.verdict = s.refusals.empty() ? V::kNotLoaded : V::kRefused;
    s.summary = s.refusals.empty() ? "installed, not loaded; nothing blocks loading it (Secure Boot off, no lockdown)"
                                   : "the kernel log shows a refused module load although Secure Boot is off";
    s.steps = {"sudo modprobe rdna1_vmfix"};
    return;
  }
  if (s.module_signed == Tri::kNo) {
    decide_unsigned(s);
    return;
  }
  if (s.module_signed == Tri::kUnknown) {
    s.verdict = s.refusals.empty() ? V::kUnknown : V::kRefused;
    s.summary = "Secure Boot/lockdown is on and the module's signature could not be read (is modinfo installed?)";
    s.steps = {fmt::format("modinfo -F signer {}", s.module_path)};
    return;
  }
  decide_by_enrolment(s);
}

}  // namespace

ModuleSigning module_signing_state(const SystemProbe& probe, const std::string& kernel) {
  ModuleSigning s;
  s.kernel = kernel.empty() ? trim(probe.read_head("/proc/sys/kernel/osrelease", 256).value_or("")) : kernel;
  if (utsname u{}; s.kernel.empty() && ::uname(&u) == 0) s.kernel = u.release;
  read_firmware(probe, s);
  if (const auto ld = probe.read_head("/sys/kernel/security/lockdown", 256)) s.lockdown = parse_lockdown(*ld);
  read_module(probe, s);
  s.distribution = distribution(probe);
  s.dkms_added = probe.exists("/var/lib/dkms/rdna1-vmfix");
  read_certificate(probe, s);
  if (!s.loaded) read_logs(probe, s);
  decide(s);
  return s;
}

nlohmann::json signing_json(const ModuleSigning& s) {
  return {
      {"kernel", s.kernel},
      {"efi", tri_name(s.efi)},
      {"secure_boot", tri_name(s.secure_boot)},
      {"secure_boot_source", s.secure_boot_source},
      {"lockdown", s.lockdown},
      {"loaded", s.loaded},
      {"taint", s.taint},
      {"module_path", s.module_path},
      {"distribution", s.distribution},
      {"dkms_added", s.dkms_added},
      {"module_signed", tri_name(s.module_signed)},
      {"signer", s.signer},
      {"sig_key", s.sig_key},
      {"certificate", s.certificate},
      {"certificate_present", s.certificate_present},
      {"certificate_serial", s.certificate_serial},
      {"signed_by_certificate", tri_name(s.signed_by_certificate)},
      {"key_enrolment", key_enrolment_name(s.enrolment)},
      {"refusals", s.refusals},
      {"verdict", signing_verdict_name(s.verdict)},
      {"problem", s.problem},
      {"summary", s.summary},
      {"steps", s.steps},
  };
}

std::string signing_text(const ModuleSigning& s) {
  std::string out;
  std::string sb = tri_name(s.secure_boot);
  if (s.secure_boot == Tri::kYes) sb = "on";
  if (s.secure_boot == Tri::kNo) sb = s.efi == Tri::kNo ? "off (no UEFI)" : "off";
  if (!s.secure_boot_source.empty() && s.efi == Tri::kYes) sb += fmt::format(" ({})", s.secure_boot_source);
  out += fmt::format("  secure boot:  {}, lockdown {}\n", sb, s.lockdown.empty() ? "not available" : s.lockdown);
  if (s.module_path.empty()) {
    out += fmt::format("  module:       none installed for {}\n", s.kernel);
  } else {
    std::string sig = s.module_signed == Tri::kYes   ? fmt::format("signed by \"{}\"", s.signer)
                      : s.module_signed == Tri::kNo ? "unsigned"
                                                    : "signature unknown";
    if (!s.sig_key.empty()) sig += fmt::format(" (key {})", s.sig_key);
    out += fmt::format("  module:       {}, {}, {}\n", s.module_path, sig, s.loaded ? "loaded" : "not loaded");
  }
  out += fmt::format("  mok key:      {} {}\n", s.certificate,
                     s.certificate_present ? key_enrolment_name(s.enrolment) : "missing");
  for (const auto& r : s.refusals) out += fmt::format("  refused:      {}\n", r);
  out += fmt::format("  verdict:      {}: {}\n", signing_verdict_name(s.verdict), s.summary);
  for (std::size_t i = 0; i < s.steps.size(); ++i) out += fmt::format("    {}. {}\n", i + 1, s.steps[i]);
  return out;
}

}  // namespace vmfix
