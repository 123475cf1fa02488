// SPDX-License-Identifier: GPL-2.0 OR MIT
// The rdna1_vmfix module's sysfs, as `check --compare-modes` uses it (docs/status-abi.md, schema 1).

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "check/check.hpp"
#include "status/status.hpp"

namespace vmfix::harness {
namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return runtime_error(path, std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

bool ModuleSysfs::loaded() const {
  return std::filesystem::exists(root_ + "/sys/module/rdna1_vmfix/parameters/mode");
}

Result<std::string> ModuleSysfs::mode() const {
  auto s = read_file(root_ + "/sys/module/rdna1_vmfix/parameters/mode");
  if (!s) return s.error();
  std::string v = *s;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

Status ModuleSysfs::set_mode(const std::string& mode) const {
  const std::string path = root_ + "/sys/module/rdna1_vmfix/parameters/mode";
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    const int e = errno;
    return runtime_error(path, e == EACCES || e == EPERM ? "permission denied (changing the mode needs root)"
                                                         : std::strerror(e));
  }
  const bool wrote = std::fputs(mode.c_str(), f) >= 0;
  const bool closed = std::fclose(f) == 0;  // sysfs reports -EINVAL at write/close time
  if (!wrote || !closed) return runtime_error(path, fmt::format("writing '{}' failed: {}", mode, std::strerror(errno)));
  auto now = this->mode();
  if (!now) return now.error();
  if (*now != mode) return runtime_error(path, fmt::format("mode reads '{}' after writing '{}'", *now, mode));
  return ok_status();
}

Result<ModuleSysfs::Counters> ModuleSysfs::counters() const {
  const std::string path = root_ + "/sys/kernel/rdna1_vmfix/counters";
  auto s = read_file(path);
  if (!s) return s.error();
  auto c = parse_counters(*s);
  if (!c) return Error{c.error().code, path, c.error().message};
  return c;
}

// The status-abi parser is the one `status` uses (vmfix/sysfs.hpp); this only reshapes its result
// into per-record maps that can be subtracted.
Result<ModuleSysfs::Counters> parse_counters(const std::string& text) {
  auto c = parse_module_counters(text);
  if (!c) return c.error();
  ModuleSysfs::Counters out;
  for (std::size_t i = 0; i < c->devices.size() && i < c->device_bdfs.size(); ++i) {
    auto& rec = out["device " + c->device_bdfs[i]];
    for (const auto& [k, v] : c->devices[i]) rec[k] = static_cast<long long>(v);
  }
  if (c->other_ranges) out["other"]["ranges"] = static_cast<long long>(*c->other_ranges);
  return out;
}

ModuleSysfs::Counters counters_delta(const ModuleSysfs::Counters& after, const ModuleSysfs::Counters& before) {
  ModuleSysfs::Counters d;
  for (const auto& [rec, values] : after)
    for (const auto& [k, v] : values) {
      long long b = 0;
      if (auto r = before.find(rec); r != before.end())
        if (auto x = r->second.find(k); x != r->second.end()) b = x->second;
      d[rec][k] = v - b;
    }
  return d;
}

}  // namespace vmfix::harness
