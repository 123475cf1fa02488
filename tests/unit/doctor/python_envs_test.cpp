// SPDX-License-Identifier: GPL-2.0 OR MIT
// The Python environment and PyTorch finder on temporary roots (torch is never imported).

#include <algorithm>

#include <catch2/catch_test_macros.hpp>

#include "diag/fake_sysfs.hpp"
#include "doctor/python_envs.hpp"

using vmfix::HostFiles;
using vmfix::test::FakeSysfs;
namespace pe = vmfix::pyenv;

namespace {

// A torch package as pip installs it: version.py as PyTorch's setup.py writes it, and torch/lib.
void add_torch(const FakeSysfs& root, const std::string& site, const std::string& version_py,
               const std::vector<std::string>& libs) {
  root.write(site + "/torch/__init__.py", "# torch\n");
  root.write(site + "/torch/version.py", version_py);
  for (const auto& l : libs) root.write(site + "/torch/lib/" + l, "ELF");
}

// Scanner stand-in: the target list is the file's name part after "@" in a side table.
vmfix::doctor::TargetScanner fake_scanner(std::map<std::string, std::vector<std::string>> by_name) {
  return [by_name = std::move(by_name)](const std::string& path) {
    vmfix::doctor::Targets t;
    const std::string name = path.substr(path.rfind('/') + 1);
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      t.error = "unreadable";
      return t;
    }
    t.known = true;
    t.source = "code objects";
    t.targets = it->second;
    return t;
  };
}

constexpr const char* kRocmVersionPy =
    "from typing import Optional\n\n"
    "__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n"
    "__version__ = '2.5.1+rocm6.2'\n"
    "debug = False\n"
    "cuda: Optional[str] = None\n"
    "git_version = 'a8d6afb511a69687bbb2b7e88a3cf67917e1697e'\n"
    "hip: Optional[str] = '6.2.41133-dd7f95766'\n";

}  // namespace

TEST_CASE("torch/version.py: ROCm, CUDA, CPU and old-style files") {
  auto v = pe::parse_torch_version_py(kRocmVersionPy);
  CHECK(v.version == "2.5.1+rocm6.2");
  CHECK(v.hip == "6.2.41133-dd7f95766");
  CHECK(v.cuda.empty());
  CHECK(v.git_version == "a8d6afb511a69687bbb2b7e88a3cf67917e1697e");
  v = pe::parse_torch_version_py("__version__ = \"2.4.0+cu121\"\ndebug = False\ncuda = '12.1'\nhip = None\n");
  CHECK(v.version == "2.4.0+cu121");
  CHECK(v.cuda == "12.1");
  CHECK(v.hip.empty());
  v = pe::parse_torch_version_py("garbage\n= '1'\n__version__ = 'unterminated\n");
  CHECK(v.version.empty());
}

TEST_CASE("sudo: SUDO_USER's venvs and conda envs, VIRTUAL_ENV and the system are searched") {
  FakeSysfs root;
  const std::string venv = "/home/alice/stable-diffusion-webui/venv";
  root.write(venv + "/pyvenv.cfg", "home = /usr/bin\n");
  add_torch(root, venv + "/lib/python3.11/site-packages", kRocmVersionPy, {"libtorch_hip.so", "libc10_hip.so", "libtorch_cpu.so"});
  root.write(venv + "/lib/python3.11/site-packages/torch/lib/rocblas/library/TensileLibrary_gfx1030.co", "x");
  root.mkdir("/home/alice/miniconda3/conda-meta");
  root.mkdir("/home/alice/miniconda3/lib/python3.12/site-packages");
  root.mkdir("/home/alice/miniconda3/envs/sd/conda-meta");
  add_torch(root, "/home/alice/miniconda3/envs/sd/lib/python3.10/site-packages",
            "__version__ = '2.4.0+cu121'\ncuda = '12.1'\nhip = None\n", {"libtorch_cuda.so"});
  root.write("/opt/other/pyvenv.cfg", "home = /usr/bin\n");
  add_torch(root, "/opt/other/lib/python3.11/site-packages", "__version__ = '2.3.0+cpu'\ncuda = None\n", {});
  root.mkdir("/usr/lib/python3/dist-packages");
  add_torch(root, "/usr/lib/python3/dist-packages", "__version__ = '2.6.0'\nhip = '6.1.40093'\n", {"libtorch_hip.so"});
  root.mkdir("/home/alice/.cache/pip/fake/venv");  // skipped directory
  root.write("/home/alice/.cache/x/pyvenv.cfg", "");

  pe::SearchSpec spec{"alice", "/home/alice", {{"VIRTUAL_ENV", "/opt/other"}}, true};
  const HostFiles host(root.root());
  const auto envs = pe::find_python_envs(host, spec);
  std::vector<std::string> got;
  got.reserve(envs.size());
  for (const auto& e : envs) got.push_back(std::string(pe::env_kind_name(e.kind)) + " " + e.prefix + " " + e.found_by);
  const std::vector<std::string> want = {
      "virtualenv /opt/other VIRTUAL_ENV",
      "conda /home/alice/miniconda3 conda root",
      "conda /home/alice/miniconda3/envs/sd conda root",
      "virtualenv /home/alice/stable-diffusion-webui/venv home scan",
      "system /usr system",
  };
  CHECK(got == want);

  const auto torch = pe::find_torch(host, envs,
                                    fake_scanner({{"libtorch_hip.so", {"gfx1030", "gfx1100", "gfx90a:xnack-"}},
                                                  {"libc10_hip.so", {}},
                                                  {"libtorch_cuda.so", {}}}));
  REQUIRE(torch.size() == 4);
  const auto& cpu = torch[0];
  CHECK(cpu.version.version == "2.3.0+cpu");
  CHECK(cpu.build == "cpu");
  const auto& cuda = torch[1];
  CHECK(cuda.dir == "/home/alice/miniconda3/envs/sd/lib/python3.10/site-packages/torch");
  CHECK(cuda.build == "cuda");
  CHECK(cuda.env_kind == pe::EnvKind::kConda);
  const auto& rocm = torch[2];
  CHECK(rocm.version.version == "2.5.1+rocm6.2");
  CHECK(rocm.version.hip == "6.2.41133-dd7f95766");
  CHECK(rocm.build == "rocm");
  CHECK(rocm.owner == "alice");
  CHECK(rocm.targets_known);
  CHECK(rocm.targets == std::vector<std::string>{"gfx1030", "gfx1100", "gfx90a"});
  CHECK_FALSE(pe::carries_target(rocm, "gfx1010"));
  CHECK(pe::carries_target(rocm, "gfx1030"));
  // Host paths, not root-prefixed ones; the Tensile directory is listed by file names.
  bool tensile = false;
  for (const auto& l : rocm.libraries) {
    CHECK(l.path.rfind("/home/alice/", 0) == 0);
    if (l.name == "rocblas_code_objects") tensile = l.targets.targets == std::vector<std::string>{"gfx1030"};
  }
  CHECK(tensile);
  CHECK(torch[3].dir == "/usr/lib/python3/dist-packages/torch");
  CHECK(torch[3].build == "rocm");
  const auto j = pe::torch_json(rocm);
  CHECK(j["hip"] == "6.2.41133-dd7f95766");
  CHECK(j["cuda"].is_null());
  CHECK(j["targets"].size() == 3);
}

TEST_CASE("gfx1010 code counts for gfx1011/gfx1012, never gfx1030 code") {
  pe::TorchInstall t;
  t.targets = {"gfx1010", "gfx1030"};
  CHECK(pe::carries_target(t, "gfx1010"));
  CHECK(pe::carries_target(t, "gfx1012"));
  t.targets = {"gfx1030"};
  CHECK_FALSE(pe::carries_target(t, "gfx1012"));
}

TEST_CASE("conda's environments.txt, ~/.virtualenvs and pipenv are searched; empty envs dropped") {
  FakeSysfs root;
  root.write("/home/bob/.conda/environments.txt", "/data/envs/ml\n/does/not/exist\n\n");
  root.mkdir("/data/envs/ml/conda-meta");
  root.mkdir("/data/envs/ml/lib/python3.11/site-packages");
  root.write("/home/bob/.virtualenvs/comfy/pyvenv.cfg", "");
  root.mkdir("/home/bob/.virtualenvs/comfy/lib/python3.12/site-packages");
  root.write("/home/bob/.local/share/virtualenvs/proj-AbC123/pyvenv.cfg", "");
  root.mkdir("/home/bob/.local/share/virtualenvs/proj-AbC123/lib/python3.11/site-packages");
  root.write("/home/bob/empty/venv/pyvenv.cfg", "");  // no site-packages: dropped
  pe::SearchSpec spec{"bob", "/home/bob", {}, false};
  const auto envs = pe::find_python_envs(HostFiles(root.root()), spec);
  std::vector<std::string> got;
  got.reserve(envs.size());
  for (const auto& e : envs) got.push_back(e.prefix + " " + e.found_by);
  const std::vector<std::string> want = {
      "/data/envs/ml conda environments.txt",
      "/home/bob/.virtualenvs/comfy .virtualenvs",
      "/home/bob/.local/share/virtualenvs/proj-AbC123 .local/share/virtualenvs",
  };
  CHECK(got == want);
}
