// SPDX-License-Identifier: GPL-2.0 OR MIT
// doctor's environment scanner on temporary roots: sudo, pkexec, shell files, systemd, conda,
// virtualenvs and /proc.

#include <algorithm>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "diag/fake_sysfs.hpp"
#include "doctor/env_sources.hpp"

using vmfix::HostFiles;
using vmfix::test::FakeSysfs;
namespace es = vmfix::envscan;
using Catch::Matchers::ContainsSubstring;

namespace {

constexpr const char* kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"
    "bob:x:1001:1001::/home/bob:/usr/bin/zsh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

// sudo's environment: HOME=/root, no override, SUDO_USER set.
es::Options sudo_opts(const std::string& gfx = "gfx1010") {
  es::Options o;
  o.env = {{"HOME", "/root"}, {"USER", "root"}, {"SUDO_USER", "alice"}, {"SUDO_UID", "1000"}, {"PATH", "/usr/bin"}};
  o.euid = 0;
  o.gfx = gfx;
  return o;
}

std::vector<es::Finding> named(const es::Result& r, const std::string& name) {
  std::vector<es::Finding> out;
  std::copy_if(r.findings.begin(), r.findings.end(), std::back_inserter(out),
               [&](const es::Finding& f) { return f.name == name; });
  return out;
}

// A string literal with embedded NULs, whole.
template <std::size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

}  // namespace

TEST_CASE("simulated sudo: the override in SUDO_USER's ~/.bashrc is found with file and line") {
  FakeSysfs root;
  root.write("/etc/passwd", kPasswd);
  root.write("/root/.bashrc", "# root's bashrc\nalias ll='ls -l'\n");
  root.write("/home/alice/.bashrc",
             "# ~/.bashrc\n"
             "case $- in *i*) ;; *) return;; esac\n"
             "HISTSIZE=1000\n"
             "# export HSA_OVERRIDE_GFX_VERSION=10.1.0   (commented out: not a finding)\n"
             "export HSA_OVERRIDE_GFX_VERSION=10.3.0\n");
  const es::Result r = es::scan(HostFiles(root.root()), sudo_opts());
  REQUIRE(r.invoking);
  CHECK(r.invoking->name == "alice");
  CHECK(r.invoking->how == "SUDO_USER");
  CHECK(r.invoking->home == "/home/alice");
  const auto f = named(r, "HSA_OVERRIDE_GFX_VERSION");
  REQUIRE(f.size() == 1);
  CHECK(f[0].file == "/home/alice/.bashrc");
  CHECK(f[0].line == 5);
  CHECK(f[0].value == "10.3.0");
  CHECK(f[0].where() == "/home/alice/.bashrc:5");
  CHECK(f[0].place == es::Place::kShellStartup);
  CHECK(f[0].user == "alice");
  CHECK(f[0].judgement == es::Judgement::kWrongForGpu);
  CHECK_THAT(f[0].why, ContainsSubstring("gfx1030 code on this gfx1010"));
  CHECK_THAT(f[0].applies, ContainsSubstring("interactive bash shells of alice"));
  // The user edits their own file: no sudo in the command.
  CHECK(es::removal_command(f[0]) == "sed -i '5s/^/# /' /home/alice/.bashrc");
  CHECK(std::any_of(r.notes.begin(), r.notes.end(), [](const std::string& n) { return n.find("sudo") != std::string::npos; }));
}

TEST_CASE("pkexec: PKEXEC_UID names the user") {
  FakeSysfs root;
  root.write("/etc/passwd", kPasswd);
  root.write("/home/bob/.zshrc", "export PATH=$PATH:~/bin\nexport HSA_OVERRIDE_GFX_VERSION=\"10.3.0\" # for ROCm\n");
  es::Options o;
  o.env = {{"HOME", "/root"}, {"PKEXEC_UID", "1001"}};
  o.euid = 0;
  o.gfx = "gfx1012";
  o.other_users = false;
  const auto r = es::scan(HostFiles(root.root()), o);
  REQUIRE(r.invoking);
  CHECK(r.invoking->name == "bob");
  CHECK(r.invoking->how == "PKEXEC_UID");
  const auto f = named(r, "HSA_OVERRIDE_GFX_VERSION");
  REQUIRE(f.size() == 1);
  CHECK(f[0].where() == "/home/bob/.zshrc:2");
  CHECK(f[0].value == "10.3.0");
  CHECK(f[0].judgement == es::Judgement::kWrongForGpu);
}

TEST_CASE("an invalid value is set and invalid, never 'not set'") {
  FakeSysfs root;
  root.write("/etc/passwd", kPasswd);
  root.write("/home/alice/.profile", "export HSA_OVERRIDE_GFX_VERSION=banana\n");
  const auto r = es::scan(HostFiles(root.root()), sudo_opts());
  const auto f = named(r, "HSA_OVERRIDE_GFX_VERSION");
  REQUIRE(f.size() == 1);
  CHECK(f[0].value == "banana");
  CHECK(f[0].judgement == es::Judgement::kInvalid);
  CHECK_THAT(f[0].why, ContainsSubstring("set but invalid"));
  CHECK(f[0].where() == "/home/alice/.profile:1");
  // Empty is set too.
  CHECK(es::judge("HSA_OVERRIDE_GFX_VERSION", "", "gfx1010").first == es::Judgement::kInvalid);
  CHECK(es::judge("HSA_OVERRIDE_GFX_VERSION", "10.3", "gfx1010").first == es::Judgement::kInvalid);
}

TEST_CASE("the override is judged against the GPU family") {
  using es::Judgement;
  CHECK(es::judge("HSA_OVERRIDE_GFX_VERSION", "10.3.0", "gfx1030").first == Judgement::kOk);
  CHECK(es::judge("HSA_OVERRIDE_GFX_VERSION", "10.3.0", "gfx1031").first == Judgement::kWrongForGpu);
  CHECK(es::judge("HSA_OVERRIDE_GFX_VERSION", "10.3.0", "gfx1010").first == Judgement::kWrongForGpu);
  CHECK(es::judge("HSA_OVERRIDE_GFX_VERSION", "10.1.0", "gfx1012").first == Judgement::kOk);
  CHECK(es::judge("HSA_OVERRIDE_GFX_VERSION", "10.1.0", "gfx1010").first == Judgement::kOk);
  CHECK(es::judge("HSA_OVERRIDE_GFX_VERSION", "10.3.0", "").first == Judgement::kUnknownGpu);
  CHECK(es::judge("HIP_VISIBLE_DEVICES", "-1", "gfx1010").second == "hides every GPU from the ROCm runtime");
  CHECK(es::judge("HIP_VISIBLE_DEVICES", "0", "gfx1010").first == Judgement::kInfo);
}

TEST_CASE("scan_text: shell, systemd, fish, csh, pam_env and inline assignments") {
  const auto a = es::scan_text(
      "export HSA_OVERRIDE_GFX_VERSION=10.3.0\n"                       // 1
      "Environment=\"HSA_OVERRIDE_GFX_VERSION=10.3.0\" \"OLLAMA_HOST=0.0.0.0\"\n"  // 2
      "Environment=HIP_VISIBLE_DEVICES=0\n"                            // 3
      "set -gx HSA_OVERRIDE_GFX_VERSION 10.3.0\n"                      // 4
      "setenv ROCR_VISIBLE_DEVICES 1\n"                                // 5
      "HSA_OVERRIDE_GFX_VERSION DEFAULT=10.3.0\n"                      // 6
      "alias sd='HSA_OVERRIDE_GFX_VERSION=10.3.0 python launch.py'\n"   // 7
      "echo $HSA_OVERRIDE_GFX_VERSION; [ \"$HSA_ENABLE_SDMA\" == 0 ]\n"  // 8: reads, not assignments
      "  # HSA_OVERRIDE_GFX_VERSION=9.9.9\n"                           // 9: comment
      "MY_HSA_OVERRIDE_GFX_VERSION=1\n"                                // 10: another variable
      "export HSA_OVERRIDE_GFX_VERSION='10.1.0' HSA_ENABLE_SDMA=0\n"   // 11: two
      "export HSA_OVERRIDE_GFX_VERSION=${HSA_OVERRIDE_GFX_VERSION:-10.3.0}\n");  // 12
  std::vector<std::pair<unsigned, std::string>> got;
  got.reserve(a.size());
  for (const auto& x : a) got.emplace_back(x.line, x.name + "=" + x.value);
  const std::vector<std::pair<unsigned, std::string>> want = {
      {1, "HSA_OVERRIDE_GFX_VERSION=10.3.0"},  {2, "HSA_OVERRIDE_GFX_VERSION=10.3.0"},
      {3, "HIP_VISIBLE_DEVICES=0"},            {4, "HSA_OVERRIDE_GFX_VERSION=10.3.0"},
      {5, "ROCR_VISIBLE_DEVICES=1"},           {6, "HSA_OVERRIDE_GFX_VERSION=10.3.0"},
      {7, "HSA_OVERRIDE_GFX_VERSION=10.3.0"},  {11, "HSA_OVERRIDE_GFX_VERSION=10.1.0"},
      {11, "HSA_ENABLE_SDMA=0"},               {12, "HSA_OVERRIDE_GFX_VERSION=${HSA_OVERRIDE_GFX_VERSION:-10.3.0}"},
  };
  CHECK(got == want);
  // The default of ${X:-v} is what gets judged.
  FakeSysfs root;
  root.write("/etc/passwd", kPasswd);
  root.write("/home/alice/.profile", "export HSA_OVERRIDE_GFX_VERSION=${HSA_OVERRIDE_GFX_VERSION:-10.3.0}\n");
  const auto r = es::scan(HostFiles(root.root()), sudo_opts());
  const auto f = named(r, "HSA_OVERRIDE_GFX_VERSION");
  REQUIRE(f.size() == 1);
  CHECK(f[0].judgement == es::Judgement::kWrongForGpu);
}

TEST_CASE("system-wide files, environment.d and systemd units with their EnvironmentFile") {
  FakeSysfs root;
  root.write("/etc/passwd", kPasswd);
  root.write("/etc/environment", "PATH=\"/usr/local/sbin:/usr/bin\"\nHSA_OVERRIDE_GFX_VERSION=10.3.0\n");
  root.write("/etc/profile.d/rocm.sh", "export PATH=$PATH:/opt/rocm/bin\nexport HSA_OVERRIDE_GFX_VERSION=10.3.0\n");
  root.write("/home/alice/.config/environment.d/50-rocm.conf", "HSA_OVERRIDE_GFX_VERSION=10.1.0\n");
  root.write("/etc/systemd/system/ollama.service",
             "[Unit]\nDescription=Ollama\n[Service]\nExecStart=/usr/bin/ollama serve\n"
             "EnvironmentFile=-/etc/default/ollama\n");
  root.write("/etc/default/ollama", "OLLAMA_HOST=0.0.0.0\nHIP_VISIBLE_DEVICES=0\n");
  root.write("/etc/systemd/system/ollama.service.d/override.conf",
             "[Service]\nEnvironment=\"HSA_OVERRIDE_GFX_VERSION=10.3.0\"\n");
  root.write("/home/alice/.config/systemd/user/comfyui.service",
             "[Service]\nEnvironment=HSA_OVERRIDE_GFX_VERSION=10.3.0\nExecStart=%h/ComfyUI/run.sh\n");
  const auto r = es::scan(HostFiles(root.root()), sudo_opts());
  std::vector<std::string> wheres;
  for (const auto& f : named(r, "HSA_OVERRIDE_GFX_VERSION")) wheres.push_back(f.where() + " " + es::place_name(f.place));
  std::sort(wheres.begin(), wheres.end());
  const std::vector<std::string> want = {
      "/etc/environment:2 system_environment",
      "/etc/profile.d/rocm.sh:2 system_environment",
      "/etc/systemd/system/ollama.service.d/override.conf:2 systemd_system",
      "/home/alice/.config/environment.d/50-rocm.conf:1 session_environment",
      "/home/alice/.config/systemd/user/comfyui.service:2 systemd_user",
  };
  CHECK(wheres == want);
  const auto hip = named(r, "HIP_VISIBLE_DEVICES");
  REQUIRE(hip.size() == 1);
  CHECK(hip[0].where() == "/etc/default/ollama:2");
  CHECK(hip[0].applies == "ollama.service");
  for (const auto& f : named(r, "HSA_OVERRIDE_GFX_VERSION")) {
    if (f.file == "/etc/environment") CHECK(es::removal_command(f) == "sudo sed -i '2s/^/# /' /etc/environment");
    if (f.file == "/home/alice/.config/environment.d/50-rocm.conf") CHECK(f.judgement == es::Judgement::kOk);
    if (f.applies == "ollama.service")
      CHECK(es::removal_command(f) ==
            "sudo mkdir -p /etc/systemd/system/ollama.service.d && printf '[Service]\\nUnsetEnvironment="
            "HSA_OVERRIDE_GFX_VERSION\\n' | sudo tee /etc/systemd/system/ollama.service.d/50-rdna1-vmfix-unset.conf "
            "&& sudo systemctl daemon-reload && sudo systemctl restart ollama.service");
    if (f.applies == "comfyui.service")
      CHECK_THAT(es::removal_command(f), ContainsSubstring("systemctl --user restart comfyui.service"));
  }
}

TEST_CASE("virtualenv activate scripts and conda environment variables") {
  FakeSysfs root;
  root.write("/etc/passwd", kPasswd);
  // stable-diffusion-webui's venv with an export appended to bin/activate.
  root.write("/home/alice/stable-diffusion-webui/venv/pyvenv.cfg", "home = /usr/bin\nversion = 3.11.2\n");
  root.mkdir("/home/alice/stable-diffusion-webui/venv/lib/python3.11/site-packages");
  root.write("/home/alice/stable-diffusion-webui/venv/bin/activate",
             "deactivate () {\n  unset VIRTUAL_ENV\n}\nVIRTUAL_ENV=/home/alice/stable-diffusion-webui/venv\n"
             "export VIRTUAL_ENV\nexport HSA_OVERRIDE_GFX_VERSION=10.3.0\n");
  root.write("/home/alice/stable-diffusion-webui/webui-user.sh", "#!/bin/bash\nexport COMMANDLINE_ARGS=\"--medvram\"\n"
                                                                 "export HSA_OVERRIDE_GFX_VERSION=10.3.0\n");
  // A conda env with `conda env config vars set`.
  root.mkdir("/home/alice/miniconda3/conda-meta");
  root.mkdir("/home/alice/miniconda3/lib/python3.12/site-packages");
  root.mkdir("/home/alice/miniconda3/envs/sd/conda-meta");
  root.mkdir("/home/alice/miniconda3/envs/sd/lib/python3.10/site-packages");
  root.write("/home/alice/miniconda3/envs/sd/conda-meta/state",
             "{\n  \"env_vars\": {\n    \"HSA_OVERRIDE_GFX_VERSION\": \"10.3.0\"\n  }\n}\n");
  root.write("/home/alice/miniconda3/envs/sd/etc/conda/activate.d/rocm.sh", "export ROCR_VISIBLE_DEVICES=0\n");
  const auto r = es::scan(HostFiles(root.root()), sudo_opts());
  std::vector<std::string> got;
  for (const auto& f : r.findings)
    if (f.place != es::Place::kProcess) got.push_back(f.name + " " + f.where() + " " + es::place_name(f.place));
  std::sort(got.begin(), got.end());
  const std::vector<std::string> want = {
      "HSA_OVERRIDE_GFX_VERSION /home/alice/miniconda3/envs/sd/conda-meta/state:3 conda",
      "HSA_OVERRIDE_GFX_VERSION /home/alice/stable-diffusion-webui/venv/bin/activate:6 virtualenv",
      "HSA_OVERRIDE_GFX_VERSION /home/alice/stable-diffusion-webui/webui-user.sh:3 shell_startup",
      "ROCR_VISIBLE_DEVICES /home/alice/miniconda3/envs/sd/etc/conda/activate.d/rocm.sh:1 conda",
  };
  CHECK(got == want);
  for (const auto& f : r.findings)
    if (f.file.ends_with("conda-meta/state"))
      CHECK(es::removal_command(f) == "conda env config vars unset HSA_OVERRIDE_GFX_VERSION -p /home/alice/miniconda3/envs/sd");
}

TEST_CASE("running processes with /dev/kfd open: environment read from /proc (root)") {
  FakeSysfs root;
  root.write("/etc/passwd", kPasswd);
  root.write("/proc/4242/comm", "python3\n");
  root.write("/proc/4242/environ", bytes("HOME=/home/alice\0HSA_OVERRIDE_GFX_VERSION=10.3.0\0TERM=xterm\0"));
  root.link("/proc/4242/fd/0", "/dev/pts/0");
  root.link("/proc/4242/fd/7", "/dev/kfd");
  root.write("/proc/4343/comm", "bash\n");
  root.write("/proc/4343/environ", bytes("HSA_OVERRIDE_GFX_VERSION=10.3.0\0"));
  root.link("/proc/4343/fd/0", "/dev/pts/1");  // no /dev/kfd: not a GPU process
  root.mkdir("/proc/self");
  const auto r = es::scan(HostFiles(root.root()), sudo_opts());
  const auto f = named(r, "HSA_OVERRIDE_GFX_VERSION");
  REQUIRE(f.size() == 1);
  CHECK(f[0].file == "/proc/4242/environ");
  CHECK(f[0].line == 0);
  CHECK(f[0].place == es::Place::kRunningProcess);
  CHECK(f[0].applies == "process 4242 (python3), running now with /dev/kfd open");
  CHECK(es::removal_command(f[0]).empty());
  CHECK(std::find(r.searched.begin(), r.searched.end(), "environments of 1 running process(es) with /dev/kfd open") !=
        r.searched.end());
}

TEST_CASE("as root, other login users' files are read; without sudo the current user is used") {
  FakeSysfs root;
  root.write("/etc/passwd", kPasswd);
  root.write("/home/bob/.bashrc", "export HSA_OVERRIDE_GFX_VERSION=10.3.0\n");
  root.mkdir("/home/alice");
  auto r = es::scan(HostFiles(root.root()), sudo_opts());
  auto f = named(r, "HSA_OVERRIDE_GFX_VERSION");
  REQUIRE(f.size() == 1);
  CHECK(f[0].user == "bob");
  REQUIRE(r.users.size() == 2);
  CHECK(r.users[0].name == "alice");
  CHECK(r.users[1].how == "other login user");
  // alice running it herself (no sudo): her environment and her files only.
  es::Options o;
  o.env = {{"HOME", "/home/alice"}, {"USER", "alice"}, {"HSA_OVERRIDE_GFX_VERSION", "10.3.0"}};
  o.euid = 1000;
  o.gfx = "gfx1010";
  r = es::scan(HostFiles(root.root()), o);
  f = named(r, "HSA_OVERRIDE_GFX_VERSION");
  REQUIRE(f.size() == 1);
  CHECK(f[0].place == es::Place::kProcess);
  CHECK(f[0].where() == "this process's environment");
  CHECK(es::removal_command(f[0]) == "unset HSA_OVERRIDE_GFX_VERSION");
  REQUIRE(r.invoking);
  CHECK(r.invoking->how == "the current user");
}

TEST_CASE("nothing set anywhere: no findings, and the places searched are listed") {
  FakeSysfs root;
  root.write("/etc/passwd", kPasswd);
  root.write("/home/alice/.bashrc", "export PATH=$PATH:$HOME/bin\n");
  root.write("/etc/environment", "PATH=/usr/bin\n");
  const auto r = es::scan(HostFiles(root.root()), sudo_opts());
  CHECK(r.findings.empty());
  CHECK(r.searched.size() >= 4);
  const auto j = es::result_json(r);
  CHECK(j["invoking_user"] == "alice");
  CHECK(j["findings"].empty());
}

TEST_CASE("shell quoting of paths with spaces and quotes in removal commands") {
  es::Finding f;
  f.name = "HSA_OVERRIDE_GFX_VERSION";
  f.place = es::Place::kShellStartup;
  f.file = "/home/al ice/it's.sh";
  f.line = 3;
  f.user = "al ice";
  CHECK(es::removal_command(f) == "sed -i '3s/^/# /' '/home/al ice/it'\\''s.sh'");
}

TEST_CASE("passwd parsing skips malformed lines") {
  const auto pw = vmfix::parse_passwd("alice:x:1000:1000::/home/alice:/bin/bash\nbroken line\n:x:1:1::/:/bin/sh\n"
                                      "eve:x:notanumber:1::/home/eve:/bin/sh\ncarol:x:1002:1002::/home/carol:\n");
  REQUIRE(pw.size() == 2);
  CHECK(pw[0].name == "alice");
  CHECK(pw[1].name == "carol");
  CHECK(pw[1].home == "/home/carol");
  CHECK(pw[1].shell.empty());
}
