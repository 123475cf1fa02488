// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "doctor/env_sources.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

#include <fmt/format.h>

#include "faults/faults.hpp"
#include "common/text.hpp"

namespace vmfix::envscan {

namespace {

constexpr std::string_view kOverride = "HSA_OVERRIDE_GFX_VERSION";
constexpr std::array kRelevantPrefixes = {"HSA_", "ROCR_"};
constexpr std::array kRelevantNames = {"HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL",
                                       "PYTORCH_ROCM_ARCH", "HCC_AMDGPU_TARGET"};

// Shell start files of a home, with who reads them.
struct StartFile {
  const char* rel;
  const char* applies;  // {} = user name
};
constexpr std::array kStartFiles = {
    StartFile{".bashrc", "interactive bash shells of {}"},
    StartFile{".bash_profile", "bash login shells of {}"},
    StartFile{".bash_login", "bash login shells of {}"},
    StartFile{".profile", "login shells and graphical sessions of {}"},
    StartFile{".zshenv", "every zsh of {}"},
    StartFile{".zprofile", "zsh login shells of {}"},
    StartFile{".zshrc", "interactive zsh shells of {}"},
    StartFile{".zlogin", "zsh login shells of {}"},
    StartFile{".xprofile", "X sessions of {}"},
    StartFile{".xsessionrc", "X sessions of {}"},
    StartFile{".xinitrc", "startx sessions of {}"},
    StartFile{".config/fish/config.fish", "fish shells of {}"},
};
// System-wide files.
struct SystemFile {
  const char* path;
  Place place;
  const char* applies;
};
constexpr std::array kSystemFiles = {
    SystemFile{"/etc/environment", Place::kSystemEnv, "every PAM login of every user"},
    SystemFile{"/etc/security/pam_env.conf", Place::kSystemEnv, "every PAM login of every user"},
    SystemFile{"/etc/profile", Place::kSystemEnv, "login shells of every user"},
    SystemFile{"/etc/bash.bashrc", Place::kSystemEnv, "interactive bash shells of every user"},
    SystemFile{"/etc/zsh/zshenv", Place::kSystemEnv, "every zsh of every user"},
    SystemFile{"/etc/zsh/zshrc", Place::kSystemEnv, "interactive zsh shells of every user"},
    SystemFile{"/etc/zshenv", Place::kSystemEnv, "every zsh of every user"},
    SystemFile{"/etc/systemd/system.conf", Place::kSystemdSystem, "every system service (DefaultEnvironment=)"},
    SystemFile{"/etc/systemd/user.conf", Place::kSystemdUser, "every user service (DefaultEnvironment=)"},
};
struct SystemDir {
  const char* dir;
  const char* suffix;
  Place place;
  const char* applies;
};
constexpr std::array kSystemDirs = {
    SystemDir{"/etc/profile.d", ".sh", Place::kSystemEnv, "login shells of every user"},
    SystemDir{"/etc/environment.d", ".conf", Place::kSessionEnv, "systemd user sessions of every user"},
    SystemDir{"/usr/lib/environment.d", ".conf", Place::kSessionEnv, "systemd user sessions of every user"},
    SystemDir{"/etc/systemd/system.conf.d", ".conf", Place::kSystemdSystem, "every system service"},
    SystemDir{"/etc/systemd/user.conf.d", ".conf", Place::kSystemdUser, "every user service"},
};
// Unit directories: units (*.service) and their drop-ins (NAME.service.d/*.conf).
constexpr std::array kSystemUnitDirs = {"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system",
                                        "/lib/systemd/system"};
constexpr std::array kUserUnitDirs = {"/etc/systemd/user", "/usr/lib/systemd/user"};

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// Reads a shell-ish value starting at s[i]: quoted, or up to whitespace / ; / quote / ` / ).
std::string read_value(std::string_view s, std::size_t i) {
  if (i < s.size() && (s[i] == '"' || s[i] == '\'')) {
    const char q = s[i];
    const auto end = s.find(q, i + 1);
    return std::string(s.substr(i + 1, end == std::string_view::npos ? std::string_view::npos : end - i - 1));
  }
  std::size_t j = i;
  while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j])) == 0 && std::string_view(";\"'`)&|").find(s[j]) == std::string_view::npos)
    ++j;
  return std::string(s.substr(i, j - i));
}

// `${NAME:-10.3.0}` -> 10.3.0 (the value a shell gives when the variable is not set yet).
std::string effective_value(const std::string& v) {
  if (text::starts_with(v, "${") && !v.empty() && v.back() == '}') {
    const auto d = v.find(":-");
    if (d != std::string::npos) return v.substr(d + 2, v.size() - d - 3);
  }
  return v;
}

void scan_line(std::string_view line, unsigned no, std::vector<Assignment>& out) {
  const std::string_view t = text::trim(line);
  if (t.empty() || t.front() == '#' || t.front() == ';') return;
  // fish `set -gx NAME value`, csh `setenv NAME value`, pam_env `NAME DEFAULT=value`.
  auto words_after = [&](std::string_view rest) {
    std::vector<std::string_view> w;
    while (!rest.empty() && w.size() < 6) {
      rest = text::trim(rest);
      const auto sp = rest.find_first_of(" \t");
      if (!rest.empty()) w.push_back(rest.substr(0, sp));
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp);
    }
    return w;
  };
  const auto w = words_after(t);
  if (!w.empty() && (w[0] == "set" || w[0] == "setenv")) {
    std::size_t k = 1;
    while (k < w.size() && w[k].size() > 1 && w[k].front() == '-') ++k;
    if (k + 1 < w.size() && is_relevant(w[k])) {
      const auto pos = t.find(w[k + 1], t.find(w[k]) + w[k].size());
      out.push_back({std::string(w[k]), read_value(t, pos), no});
      return;
    }
  }
  if (w.size() >= 2 && is_relevant(w[0]) && (text::starts_with(w[1], "DEFAULT=") || text::starts_with(w[1], "OVERRIDE="))) {
    const auto pos = t.find(w[1]) + w[1].find('=') + 1;
    out.push_back({std::string(w[0]), read_value(t, pos), no});
    return;
  }
  // NAME=value anywhere a shell or systemd would take it as an assignment.
  for (std::size_t i = 0; i < t.size();) {
    if (!ident_start(t[i]) || (i > 0 && ident_char(t[i - 1]))) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < t.size() && ident_char(t[j])) ++j;
    const std::string_view name = t.substr(i, j - i);
    const char before = i == 0 ? ' ' : t[i - 1];
    const bool boundary = std::isspace(static_cast<unsigned char>(before)) != 0 ||
                          std::string_view("\"';(`=&|").find(before) != std::string_view::npos;
    if (boundary && j < t.size() && t[j] == '=' && (j + 1 >= t.size() || t[j + 1] != '=') && is_relevant(name))
      out.push_back({std::string(name), read_value(t, j + 1), no});
    i = j;
  }
}

std::string with_user(const char* fmt_str, const std::string& user) {
  return fmt::format(fmt::runtime(fmt_str), user.empty() ? std::string("the user") : user);
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("/._-+:@%=,").find(c) != std::string_view::npos;
      }))
    return s;
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class Scanner {
 public:
  Scanner(const HostFiles& h, const Options& o, Result& r) : h_(h), opt_(o), r_(r) {}

  // Scans one file; returns the number of findings.
  std::size_t file(const std::string& path, Place place, const std::string& applies, const std::string& user,
                   const std::string& env_name = {}) {
    if (!seen_.insert(path).second) return 0;
    const auto data = h_.read(path, std::size_t{512} * 1024);
    if (!data) return 0;
    ++files_read_;
    std::vector<Assignment> as = scan_text(*data);
    for (auto& a : as) add({a.name, a.value, place, path, a.line, applies, user, env_name, Judgement::kInfo, {}});
    if (place == Place::kSystemdSystem || place == Place::kSystemdUser) environment_files(*data, place, applies, user);
    return as.size();
  }

  void add(Finding f) {
    f.value = text::printable(f.value, 200);
    std::tie(f.judgement, f.why) = judge(f.name, effective_value(f.value), opt_.gfx);
    r_.findings.push_back(std::move(f));
  }

  // EnvironmentFile=[-]/etc/default/ollama in a unit: those files feed the same unit.
  void environment_files(std::string_view unit_text, Place place, const std::string& applies, const std::string& user) {
    while (!unit_text.empty()) {
      const auto nl = unit_text.find('\n');
      const std::string_view line = text::trim(unit_text.substr(0, nl));
      unit_text = nl == std::string_view::npos ? std::string_view() : unit_text.substr(nl + 1);
      if (!text::starts_with(line, "EnvironmentFile=")) continue;
      std::string_view p = text::trim(line.substr(16));
      if (!p.empty() && p.front() == '-') p.remove_prefix(1);
      if (!p.empty() && p.front() == '/') file(std::string(p), place, applies, user);
    }
  }

  void dir(const std::string& d, const char* suffix, Place place, const std::string& applies, const std::string& user) {
    for (const auto& n : h_.list(d))
      if (n.size() > std::string_view(suffix).size() && n.ends_with(suffix)) file(d + "/" + n, place, applies, user);
  }

  // Units and drop-ins of one unit directory.
  void units(const std::string& d, Place place, const std::string& user) {
    for (const auto& n : h_.list(d)) {
      const std::string p = d + "/" + n;
      if (n.ends_with(".service") && h_.is_file(p)) {
        file(p, place, n, user);
      } else if (n.ends_with(".service.d") || n.ends_with(".conf.d")) {
        const std::string unit = n.substr(0, n.size() - 2);
        dir(p, ".conf", place, unit, user);
      } else if (n.ends_with(".wants") || n.ends_with(".requires")) {
        continue;  // links to units listed elsewhere
      }
    }
  }

  void home(const User& u) {
    const std::size_t before = r_.findings.size();
    for (const auto& sf : kStartFiles) file(u.home + "/" + sf.rel, Place::kShellStartup, with_user(sf.applies, u.name), u.name);
    dir(u.home + "/.config/fish/conf.d", ".fish", Place::kShellStartup, with_user("fish shells of {}", u.name), u.name);
    dir(u.home + "/.config/plasma-workspace/env", ".sh", Place::kShellStartup, with_user("Plasma sessions of {}", u.name),
        u.name);
    file(u.home + "/.pam_environment", Place::kSessionEnv, with_user("PAM logins of {}", u.name), u.name);
    dir(u.home + "/.config/environment.d", ".conf", Place::kSessionEnv,
        with_user("the systemd user session of {} (graphical logins, user services)", u.name), u.name);
    units(u.home + "/.config/systemd/user", Place::kSystemdUser, u.name);
    // Launcher scripts next to the checkouts users run (stable-diffusion-webui/webui-user.sh, ...).
    std::size_t scripts = 0;
    for (const auto& n : h_.list(u.home)) {
      const std::string p = u.home + "/" + n;
      if (n.front() == '.') continue;
      if (n.ends_with(".sh") && h_.is_file(p) && scripts++ < 200)
        file(p, Place::kShellStartup, "the script " + n + " when run", u.name);
      else if (h_.is_dir(p))
        for (const auto& m : h_.list(p))
          if (m.ends_with(".sh") && scripts++ < 200) file(p + "/" + m, Place::kShellStartup, "the script " + n + "/" + m + " when run", u.name);
    }
    r_.searched.push_back(fmt::format("{}'s shell start files, environment.d, user units and launcher scripts under {} "
                                      "({} finding(s))",
                                      u.name, u.home, r_.findings.size() - before));
  }

  void python(const pyenv::PythonEnv& e) {
    if (e.kind == pyenv::EnvKind::kVirtualenv) {
      const std::string applies = "the virtualenv " + e.prefix + " when activated";
      for (const char* a : {"/bin/activate", "/bin/activate.fish", "/bin/activate.csh"})
        file(e.prefix + a, Place::kVirtualenv, applies, e.owner, e.prefix);
    } else if (e.kind == pyenv::EnvKind::kConda) {
      const std::string name = e.prefix.substr(e.prefix.rfind('/') + 1);
      const std::string applies = "the conda environment " + name + " when activated";
      conda_state(e.prefix + "/conda-meta/state", applies, e.owner, e.prefix);
      dir(e.prefix + "/etc/conda/activate.d", ".sh", Place::kConda, applies, e.owner);
    }
  }

  // conda-meta/state: {"env_vars": {"NAME": "value"}} (`conda env config vars set`).
  void conda_state(const std::string& path, const std::string& applies, const std::string& user, const std::string& prefix) {
    if (!seen_.insert(path).second) return;
    const auto data = h_.read(path, std::size_t{256} * 1024);
    if (!data) return;
    const auto doc = nlohmann::json::parse(*data, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("env_vars") || !doc["env_vars"].is_object()) {
      r_.notes.push_back(path + " is not a conda state document; not read");
      return;
    }
    for (const auto& [k, v] : doc["env_vars"].items()) {
      if (!is_relevant(k)) continue;
      unsigned line = 0;
      const auto at = data->find("\"" + k + "\"");
      if (at != std::string::npos) line = static_cast<unsigned>(std::count(data->begin(), data->begin() + static_cast<std::ptrdiff_t>(at), '\n')) + 1;
      add({k, v.is_string() ? v.get<std::string>() : v.dump(), Place::kConda, path, line, applies, user, prefix, Judgement::kInfo, {}});
    }
  }

  void processes() {
    std::size_t denied = 0;
    std::size_t with_kfd = 0;
    std::size_t looked = 0;
    for (const auto& pid : h_.list("/proc")) {
      if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
      if (++looked > opt_.max_processes) break;
      bool no = false;
      const auto fds = h_.list("/proc/" + pid + "/fd", &no);
      if (no) {
        ++denied;
        continue;
      }
      const bool kfd = std::any_of(fds.begin(), fds.end(), [&](const std::string& fd) {
        const auto t = h_.read_link("/proc/" + pid + "/fd/" + fd);
        return t && *t == "/dev/kfd";
      });
      if (!kfd) continue;
      ++with_kfd;
      std::string comm = std::string(text::trim(h_.read("/proc/" + pid + "/comm", 256).value_or("?")));
      const auto env = h_.read("/proc/" + pid + "/environ", 1U << 20);
      const std::string applies = fmt::format("process {} ({}), running now with /dev/kfd open", pid, text::printable(comm, 32));
      if (!env) {
        r_.notes.push_back(fmt::format("process {} ({}) has /dev/kfd open; its environment cannot be read", pid, comm));
        continue;
      }
      std::string_view rest = *env;
      while (!rest.empty()) {
        const auto z = rest.find('\0');
        const std::string_view kv = rest.substr(0, z);
        rest = z == std::string_view::npos ? std::string_view() : rest.substr(z + 1);
        const auto eq = kv.find('=');
        if (eq != std::string_view::npos && is_relevant(kv.substr(0, eq)))
          add({std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)), Place::kRunningProcess,
               "/proc/" + pid + "/environ", 0, applies, "", "", Judgement::kInfo, {}});
      }
    }
    r_.searched.push_back(fmt::format("environments of {} running process(es) with /dev/kfd open", with_kfd));
    if (denied > 0)
      r_.notes.push_back(fmt::format("{} process(es) of other users not inspected for /dev/kfd use: run as root (sudo) "
                                     "to include them",
                                     denied));
  }

  [[nodiscard]] std::size_t files_read() const { return files_read_; }

 private:
  const HostFiles& h_;
  const Options& opt_;
  Result& r_;
  std::set<std::string> seen_;
  std::size_t files_read_ = 0;
};

std::optional<PasswdEntry> passwd_by(const std::vector<PasswdEntry>& pw, const std::string* name, const unsigned* uid) {
  for (const auto& e : pw)
    if ((name != nullptr && e.name == *name) || (uid != nullptr && e.uid == *uid)) return e;
  return std::nullopt;
}

}  // namespace

bool is_relevant(std::string_view name) {
  for (const char* p : kRelevantPrefixes)
    if (text::starts_with(name, p) && name.size() > std::string_view(p).size()) return true;
  return std::find(kRelevantNames.begin(), kRelevantNames.end(), name) != kRelevantNames.end();
}

const char* place_name(Place p) {
  switch (p) {
    case Place::kProcess: return "process";
    case Place::kShellStartup: return "shell_startup";
    case Place::kSessionEnv: return "session_environment";
    case Place::kSystemEnv: return "system_environment";
    case Place::kVirtualenv: return "virtualenv";
    case Place::kConda: return "conda";
    case Place::kSystemdSystem: return "systemd_system";
    case Place::kSystemdUser: return "systemd_user";
    case Place::kRunningProcess: return "running_process";
  }
  return "process";
}

const char* judgement_name(Judgement j) {
  switch (j) {
    case Judgement::kInfo: return "info";
    case Judgement::kOk: return "ok";
    case Judgement::kWrongForGpu: return "wrong_for_gpu";
    case Judgement::kInvalid: return "invalid";
    case Judgement::kUnknownGpu: return "unknown_gpu";
  }
  return "info";
}

std::string Finding::where() const {
  if (file.empty()) return "this process's environment";
  return line > 0 ? fmt::format("{}:{}", file, line) : file;
}

std::pair<Judgement, std::string> judge(std::string_view name, std::string_view value, const std::string& gfx) {
  if (name == "HIP_VISIBLE_DEVICES" || name == "ROCR_VISIBLE_DEVICES" || name == "CUDA_VISIBLE_DEVICES" ||
      name == "GPU_DEVICE_ORDINAL")
    return {Judgement::kInfo, value.empty() || value == "-1" ? "hides every GPU from the ROCm runtime"
                                                             : "limits which GPUs the ROCm runtime uses"};
  if (name != kOverride) return {Judgement::kInfo, ""};
  const auto target = faults::override_target(value);
  if (!target)
    return {Judgement::kInvalid, fmt::format("set but invalid: '{}' is not MAJOR.MINOR.STEP (e.g. 10.1.0); the runtime "
                                             "may ignore it or refuse to start",
                                             text::printable(value, 40))};
  if (gfx.empty()) return {Judgement::kUnknownGpu, fmt::format("makes the runtime treat the GPU as {}", *target)};
  if (faults::isa_compatible(gfx, *target))
    return {Judgement::kOk, fmt::format("{} code runs natively on this {}", *target, gfx)};
  return {Judgement::kWrongForGpu, fmt::format("makes the runtime load {} code on this {} GPU: another ISA, which faults "
                                               "or computes wrong results",
                                               *target, gfx)};
}

std::vector<Assignment> scan_text(std::string_view text) {
  std::vector<Assignment> out;
  unsigned no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    ++no;
    scan_line(text.substr(0, std::min(nl, std::size_t{8192})), no, out);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return out;
}

std::optional<User> invoking_user(const HostFiles& host, const Options& opt) {
  const auto pw = parse_passwd(host.read("/etc/passwd").value_or(""));
  auto make = [](const PasswdEntry& e, const char* how) { return User{e.name, e.uid, e.home, how}; };
  if (const auto it = opt.env.find("SUDO_USER"); it != opt.env.end() && !it->second.empty() && it->second != "root")
    if (const auto e = passwd_by(pw, &it->second, nullptr)) return make(*e, "SUDO_USER");
  if (const auto it = opt.env.find("PKEXEC_UID"); it != opt.env.end())
    if (const auto uid = text::parse_number(it->second); uid && *uid <= 0xffffffffU) {
      const auto u = static_cast<unsigned>(*uid);
      if (const auto e = passwd_by(pw, nullptr, &u)) return make(*e, "PKEXEC_UID");
    }
  if (const auto e = passwd_by(pw, nullptr, &opt.euid)) return make(*e, "the current user");
  if (const auto it = opt.env.find("HOME"); it != opt.env.end() && !it->second.empty())
    return User{opt.env.count("USER") ? opt.env.at("USER") : std::string(), opt.euid, it->second, "$HOME"};
  return std::nullopt;
}

Result scan(const HostFiles& host, const Options& opt) {
  Result r;
  Scanner s(host, opt, r);
  // 1. This process.
  for (const auto& [k, v] : opt.env)
    if (is_relevant(k)) s.add({k, v, Place::kProcess, "", 0, "this run of rdna1-vmfix", "", "", Judgement::kInfo, {}});
  if (opt.env.count("SUDO_USER") || opt.env.count("PKEXEC_UID"))
    r.notes.emplace_back("running under sudo/pkexec: this process's environment is not the user's; the user's files "
                      "are read instead");
  // 2. The invoking user, then (as root) the other login users.
  r.invoking = invoking_user(host, opt);
  std::set<std::string> homes;
  if (r.invoking && !r.invoking->home.empty() && r.invoking->home != "/") {
    r.users.push_back(*r.invoking);
    homes.insert(r.invoking->home);
  }
  if (opt.euid == 0 && opt.other_users)
    for (const auto& e : parse_passwd(host.read("/etc/passwd").value_or("")))
      if (e.uid >= 1000 && e.uid < 65534 && !e.home.empty() && e.home != "/" && host.is_dir(e.home) &&
          homes.insert(e.home).second)
        r.users.push_back(User{e.name, e.uid, e.home, "other login user"});
  for (const auto& u : r.users) s.home(u);
  // 3. System-wide files and units.
  const std::size_t before = r.findings.size();
  for (const auto& f : kSystemFiles) s.file(f.path, f.place, f.applies, "");
  for (const auto& d : kSystemDirs) s.dir(d.dir, d.suffix, d.place, d.applies, "");
  for (const char* d : kSystemUnitDirs) s.units(d, Place::kSystemdSystem, "");
  for (const char* d : kUserUnitDirs) s.units(d, Place::kSystemdUser, "");
  r.searched.push_back(fmt::format("/etc/environment, /etc/profile(.d), pam_env, environment.d and systemd units "
                                   "({} finding(s))",
                                   r.findings.size() - before));
  // 4. Python environments (activate scripts, conda env vars).
  const std::size_t before_py = r.findings.size();
  for (const auto& u : r.users) {
    pyenv::SearchSpec spec{u.name, u.home, u.home == r.users.front().home ? opt.env : std::map<std::string, std::string>{}, false};
    for (auto& e : pyenv::find_python_envs(host, spec)) r.python_envs.push_back(std::move(e));
  }
  if (r.users.empty()) {
    pyenv::SearchSpec spec{"", "", opt.env, false};
    r.python_envs = pyenv::find_python_envs(host, spec);
  }
  for (const auto& e : r.python_envs) s.python(e);
  r.searched.push_back(fmt::format("activation of {} Python environment(s) ({} finding(s))", r.python_envs.size(),
                                   r.findings.size() - before_py));
  // 5. Running GPU processes.
  if (opt.processes) s.processes();
  return r;
}

std::string removal_command(const Finding& f) {
  const bool system_file = f.user.empty();
  const std::string sudo = system_file ? "sudo " : "";
  switch (f.place) {
    case Place::kProcess:
      return "unset " + f.name;
    case Place::kRunningProcess:
      return {};
    case Place::kConda:
      if (f.file.ends_with("/conda-meta/state"))
        return fmt::format("conda env config vars unset {} -p {}", f.name, shell_quote(f.env_name));
      break;
    case Place::kSystemdSystem:
    case Place::kSystemdUser:
      if (f.applies.ends_with(".service")) {
        const bool user = f.place == Place::kSystemdUser && !f.user.empty();
        const std::string dropin_dir =
            user ? fmt::format("~/.config/systemd/user/{}.d", f.applies) : fmt::format("/etc/systemd/system/{}.d", f.applies);
        const std::string ctl = user ? "systemctl --user" : "sudo systemctl";
        return fmt::format("{}mkdir -p {} && printf '[Service]\\nUnsetEnvironment={}\\n' | {}tee {}/50-rdna1-vmfix-unset.conf "
                           "&& {} daemon-reload && {} restart {}",
                           user ? "" : "sudo ", dropin_dir, f.name, user ? "" : "sudo ", dropin_dir, ctl, ctl,
                           f.applies);
      }
      break;
    default:
      break;
  }
  if (f.line == 0) return {};
  return fmt::format("{}sed -i '{}s/^/# /' {}", sudo, f.line, shell_quote(f.file));
}

nlohmann::json finding_json(const Finding& f) {
  nlohmann::json j = {{"name", f.name},         {"value", f.value},
                      {"place", place_name(f.place)}, {"file", f.file.empty() ? nlohmann::json() : nlohmann::json(f.file)},
                      {"line", f.line == 0 ? nlohmann::json() : nlohmann::json(f.line)},
                      {"applies", f.applies},   {"user", f.user},
                      {"judgement", judgement_name(f.judgement)}, {"why", f.why}};
  const std::string cmd = removal_command(f);
  j["remove"] = cmd.empty() ? nlohmann::json() : nlohmann::json(cmd);
  return j;
}

nlohmann::json result_json(const Result& r) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& f : r.findings) findings.push_back(finding_json(f));
  nlohmann::json users = nlohmann::json::array();
  for (const auto& u : r.users) users.push_back({{"name", u.name}, {"uid", u.uid}, {"home", u.home}, {"how", u.how}});
  return {{"invoking_user", r.invoking ? nlohmann::json(r.invoking->name) : nlohmann::json()},
          {"users", users},
          {"findings", findings},
          {"searched", r.searched},
          {"notes", r.notes}};
}

}  // namespace vmfix::envscan
