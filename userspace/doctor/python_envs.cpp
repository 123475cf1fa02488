// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "doctor/python_envs.hpp"

#include <algorithm>
#include <array>
#include <set>

#include <fmt/format.h>

#include "faults/faults.hpp"
#include "common/text.hpp"

namespace vmfix::pyenv {

namespace {

// Directories of a home that never hold a virtualenv worth reporting, or are too big to walk.
constexpr std::array kSkipDirs = {"node_modules", "site-packages", "dist-packages", "__pycache__", ".git",
                                  ".cache",       ".npm",          ".cargo",        ".rustup",     ".mozilla",
                                  ".steam",       ".local/share/Steam", "snap",     ".var",        "go"};
// Hidden directories of a home that do hold environments.
constexpr std::array kHiddenEnvDirs = {".venv", ".env", ".virtualenvs", ".local", ".pyenv", ".conda", ".mamba"};
// Conda installation roots, relative to a home and absolute.
constexpr std::array kCondaRootNames = {"miniconda3", "anaconda3", "miniforge3", "mambaforge", "micromamba",
                                        ".conda", "miniconda", "anaconda", ".mamba"};
constexpr std::array kSystemCondaRoots = {"/opt/conda", "/opt/miniconda3", "/opt/anaconda3", "/opt/miniforge3"};

bool is_venv(const HostFiles& h, const std::string& dir) { return h.is_file(dir + "/pyvenv.cfg"); }
bool is_conda_env(const HostFiles& h, const std::string& dir) { return h.is_dir(dir + "/conda-meta"); }

// PREFIX/lib{,64}/python3*/{site,dist}-packages and PREFIX/lib/python3/dist-packages.
std::vector<std::string> site_dirs_of(const HostFiles& h, const std::string& prefix) {
  std::vector<std::string> out;
  for (const char* lib : {"/lib", "/lib64", "/local/lib"}) {
    const std::string base = prefix + lib;
    for (const auto& n : h.list(base)) {
      if (!text::starts_with(n, "python3")) continue;
      for (const char* sp : {"site-packages", "dist-packages"}) {
        const std::string d = base + "/" + n + "/" + sp;
        if (h.is_dir(d)) out.push_back(d);
      }
    }
  }
  return out;
}

class Collector {
 public:
  Collector(const HostFiles& h, std::vector<PythonEnv>& out) : h_(h), out_(out) {}
  void add(EnvKind kind, const std::string& prefix, const std::string& owner, const std::string& how) {
    std::string p = prefix;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p.empty() || !seen_.insert(p).second || !h_.is_dir(p)) return;
    PythonEnv e;
    e.kind = kind;
    e.prefix = p;
    e.owner = owner;
    e.found_by = how;
    e.site_dirs = site_dirs_of(h_, p);
    out_.push_back(std::move(e));
  }
  void add_detected(const std::string& prefix, const std::string& owner, const std::string& how) {
    if (is_conda_env(h_, prefix))
      add(EnvKind::kConda, prefix, owner, how);
    else if (is_venv(h_, prefix))
      add(EnvKind::kVirtualenv, prefix, owner, how);
  }
  // A conda installation: the base env and every env under envs/.
  void add_conda_root(const std::string& root, const std::string& owner, const std::string& how) {
    if (!is_conda_env(h_, root)) return;
    add(EnvKind::kConda, root, owner, how);
    for (const auto& n : h_.list(root + "/envs")) add_detected(root + "/envs/" + n, owner, how);
  }

 private:
  const HostFiles& h_;
  std::vector<PythonEnv>& out_;
  std::set<std::string> seen_;
};

// Breadth-first walk of a home (depth <= 3) for pyvenv.cfg / conda-meta.
void scan_home(const HostFiles& h, const SearchSpec& spec, Collector& c) {
  std::vector<std::pair<std::string, int>> queue = {{spec.home, 0}};
  std::size_t visited = 0;
  for (std::size_t i = 0; i < queue.size() && visited < spec.max_dirs; ++i) {
    const auto [dir, depth] = queue[i];
    ++visited;
    if (depth > 0 && (is_venv(h, dir) || is_conda_env(h, dir))) {
      c.add_detected(dir, spec.user, "home scan");
      if (!is_conda_env(h, dir)) continue;  // a conda root may hold envs/ below
    }
    if (depth >= 3) continue;
    for (const auto& n : h.list(dir)) {
      const std::string rel = (dir + "/" + n).substr(spec.home.size() + 1);
      if (std::find(kSkipDirs.begin(), kSkipDirs.end(), n) != kSkipDirs.end() ||
          std::find(kSkipDirs.begin(), kSkipDirs.end(), rel) != kSkipDirs.end())
        continue;
      if (n.front() == '.' && depth == 0 &&
          std::find(kHiddenEnvDirs.begin(), kHiddenEnvDirs.end(), n) == kHiddenEnvDirs.end() &&
          std::find(kCondaRootNames.begin(), kCondaRootNames.end(), n) == kCondaRootNames.end())
        continue;
      const std::string p = dir + "/" + n;
      if (h.is_dir(p)) queue.emplace_back(p, depth + 1);
    }
  }
}

}  // namespace

const char* env_kind_name(EnvKind k) {
  switch (k) {
    case EnvKind::kVirtualenv: return "virtualenv";
    case EnvKind::kConda: return "conda";
    case EnvKind::kUserSite: return "user-site";
    case EnvKind::kSystem: return "system";
  }
  return "system";
}

std::vector<PythonEnv> find_python_envs(const HostFiles& h, const SearchSpec& spec) {
  std::vector<PythonEnv> out;
  Collector c(h, out);
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    const auto it = spec.env.find(var);
    if (it != spec.env.end() && !it->second.empty() && it->second.front() == '/')
      c.add(std::string(var) == "VIRTUAL_ENV" ? EnvKind::kVirtualenv : EnvKind::kConda, it->second, "", var);
  }
  if (!spec.home.empty() && spec.home != "/") {
    const std::string& home = spec.home;
    // conda's own list of environments, then the usual roots.
    if (const auto txt = h.read(home + "/.conda/environments.txt")) {
      std::string_view rest = *txt;
      while (!rest.empty()) {
        const auto nl = rest.find('\n');
        const std::string line(text::trim(rest.substr(0, nl)));
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        if (!line.empty() && line.front() == '/') c.add_detected(line, spec.user, "conda environments.txt");
      }
    }
    for (const char* n : kCondaRootNames) c.add_conda_root(home + "/" + n, spec.user, "conda root");
    for (const auto& n : h.list(home + "/.conda/envs")) c.add_detected(home + "/.conda/envs/" + n, spec.user, "conda envs");
    for (const char* d : {"/.virtualenvs", "/.local/share/virtualenvs", "/.pyenv/versions"})
      for (const auto& n : h.list(home + d)) {
        const std::string p = home + d + "/" + n;
        if (is_venv(h, p) || is_conda_env(h, p))
          c.add_detected(p, spec.user, std::string(d).substr(1));
        else if (std::string(d) == "/.pyenv/versions")
          c.add(EnvKind::kVirtualenv, p, spec.user, "pyenv");
      }
    scan_home(h, spec, c);
    c.add(EnvKind::kUserSite, home + "/.local", spec.user, "user site (~/.local)");
  }
  if (spec.system) {
    for (const char* r : kSystemCondaRoots) c.add_conda_root(r, "", "conda root");
    c.add(EnvKind::kSystem, "/usr", "", "system");
    c.add(EnvKind::kSystem, "/usr/local", "", "system");
  }
  // Environments without any site-packages hold no Python packages worth reporting.
  std::erase_if(out, [](const PythonEnv& e) { return e.site_dirs.empty(); });
  return out;
}

TorchVersion parse_torch_version_py(std::string_view src) {
  TorchVersion v;
  while (!src.empty()) {
    const auto nl = src.find('\n');
    const std::string_view line = text::trim(src.substr(0, nl));
    src = nl == std::string_view::npos ? std::string_view() : src.substr(nl + 1);
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || line.empty() || line.front() == '#') continue;
    std::string_view name = text::trim(line.substr(0, eq));
    name = text::trim(name.substr(0, name.find(':')));  // `hip: Optional[str] = ...`
    std::string_view val = text::trim(line.substr(eq + 1));
    if (val.size() < 2 || (val.front() != '\'' && val.front() != '"')) continue;  // None, False
    const char q = val.front();
    const auto end = val.find(q, 1);
    if (end == std::string_view::npos) continue;
    const std::string s = text::printable(val.substr(1, end - 1), 120);
    if (name == "__version__") v.version = s;
    else if (name == "hip") v.hip = s;
    else if (name == "cuda") v.cuda = s;
    else if (name == "git_version") v.git_version = s;
  }
  return v;
}

std::vector<TorchInstall> find_torch(const HostFiles& h, const std::vector<PythonEnv>& envs,
                                     const doctor::TargetScanner& scan) {
  std::vector<TorchInstall> out;
  std::set<std::string> seen;
  for (const auto& env : envs)
    for (const auto& site : env.site_dirs) {
      const std::string dir = site + "/torch";
      if (!h.is_file(dir + "/__init__.py") && !h.is_file(dir + "/version.py")) continue;
      if (!seen.insert(dir).second) continue;
      TorchInstall t;
      t.dir = dir;
      t.env_prefix = env.prefix;
      t.env_kind = env.kind;
      t.owner = env.owner;
      if (const auto src = h.read(dir + "/version.py", std::size_t{64} * 1024))
        t.version = parse_torch_version_py(*src);
      else
        t.errors.push_back(dir + "/version.py cannot be read");
      if (!t.version.hip.empty() || text::contains(t.version.version, "rocm"))
        t.build = "rocm";
      else if (!t.version.cuda.empty())
        t.build = "cuda";
      else if (!t.version.version.empty())
        t.build = "cpu";
      else
        t.build = "unknown";
      // The scanner reads real files; report host paths.
      auto libs = doctor::find_libraries({h.real_path(dir + "/lib")}, scan, 64);
      std::set<std::string> targets;
      for (auto& l : libs) {
        if (!h.is_real() && text::starts_with(l.path, h.root())) l.path = l.path.substr(h.root().size());
        if (l.targets.known) t.targets_known = true;
        if (!l.targets.error.empty()) t.errors.push_back(l.path + ": " + l.targets.error);
        for (const auto& id : l.targets.targets) targets.insert(id.substr(0, id.find(':')));
      }
      t.libraries = std::move(libs);
      t.targets.assign(targets.begin(), targets.end());
      out.push_back(std::move(t));
    }
  return out;
}

bool carries_target(const TorchInstall& t, const std::string& gfx) {
  return std::any_of(t.targets.begin(), t.targets.end(),
                     [&](const std::string& x) { return faults::isa_compatible(gfx, x); });
}

nlohmann::json python_env_json(const PythonEnv& e) {
  return {{"kind", env_kind_name(e.kind)}, {"prefix", e.prefix}, {"owner", e.owner},
          {"found_by", e.found_by}, {"site_dirs", e.site_dirs}};
}

nlohmann::json torch_json(const TorchInstall& t) {
  nlohmann::json libs = nlohmann::json::array();
  for (const auto& l : t.libraries)
    libs.push_back({{"path", l.path}, {"name", l.name}, {"targets_known", l.targets.known},
                    {"targets", l.targets.targets}});
  return {{"dir", t.dir},
          {"env_prefix", t.env_prefix},
          {"env_kind", env_kind_name(t.env_kind)},
          {"owner", t.owner},
          {"version", t.version.version},
          {"hip", t.version.hip.empty() ? nlohmann::json() : nlohmann::json(t.version.hip)},
          {"cuda", t.version.cuda.empty() ? nlohmann::json() : nlohmann::json(t.version.cuda)},
          {"build", t.build},
          {"targets_known", t.targets_known},
          {"targets", t.targets},
          {"libraries", libs},
          {"errors", t.errors}};
}

}  // namespace vmfix::pyenv
