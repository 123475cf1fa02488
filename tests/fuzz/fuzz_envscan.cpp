// SPDX-License-Identifier: GPL-2.0 OR MIT
// libFuzzer target: the readers of user-controlled text in doctor and report (shell/systemd/PAM
// assignment scanner, torch/version.py, passwd, os-release, dpkg status) and the redactor.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/host_files.hpp"
#include "doctor/env_sources.hpp"
#include "doctor/python_envs.hpp"
#include "report/redact.hpp"
#include "report/report.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const auto& a : vmfix::envscan::scan_text(in)) {
    if (a.line == 0 || a.name.empty()) __builtin_trap();  // every assignment has a line and a name
    (void)vmfix::envscan::judge(a.name, a.value, "gfx1010");
  }
  (void)vmfix::pyenv::parse_torch_version_py(in);
  (void)vmfix::parse_passwd(in);
  (void)vmfix::report::parse_os_release(in);
  (void)vmfix::report::parse_dpkg_status(in, {"lib"});
  vmfix::report::Redactor r;
  const auto half = in.substr(0, in.size() / 2);
  r.add(vmfix::report::Secret::kUserName, std::string(half.substr(0, 16)));
  r.add(vmfix::report::Secret::kHomePath, "/home/" + std::string(half.substr(0, 8)));
  const std::string out = r.apply(in.substr(in.size() / 2));
  (void)out;
  return 0;
}
