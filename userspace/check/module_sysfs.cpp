// SPDX-License-Identifier: GPL-2.0 OR MIT
// The rdna1_vmfix module's sysfs, as `check --compare-modes` uses it (docs/status-abi.md, schema 1).

#include <fmt/format.h>

#include "check/check.hpp"
#include "status/status.hpp"

namespace vmfix::harness {
namespace {
constexpr const char* kModeParam = "/sys/module/rdna1_vmfix/parameters/mode";
constexpr const char* kCounters = "/sys/kernel/rdna1_vmfix/counters";
}  // namespace

// Errors name the file as it is on this machine (under a fake root, the fake file).
bool ModuleSysfs::loaded() const { return fs_.exists(kModeParam); }

Result<std::string> ModuleSysfs::mode() const {
  auto s = fs_.read(kModeParam);
  if (!s) return runtime_error(fs_.host_path(kModeParam), s.error().message);
  std::string v = *s;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

Status ModuleSysfs::set_mode(const std::string& mode) const {
  const std::string path = fs_.host_path(kModeParam);
  if (auto st = fs_.write(kModeParam, mode); !st) {
    const std::string& why = st.error().message;
    return runtime_error(path, why == "permission denied" ? "permission denied (changing the mode needs root)"
                                                          : fmt::format("writing '{}' failed: {}", mode, why));
  }
  auto now = this->mode();
  if (!now) return now.error();
  if (*now != mode) return runtime_error(path, fmt::format("mode reads '{}' after writing '{}'", *now, mode));
  return ok_status();
}

Result<ModuleSysfs::Counters> ModuleSysfs::counters() const {
  const std::string path = fs_.host_path(kCounters);
  auto s = fs_.read(kCounters);
  if (!s) return runtime_error(path, s.error().message);
  auto c = parse_counters(*s);
  if (!c) return Error{c.error().code, path, c.error().message};
  return c;
}

// The status-abi parser is the one `status` uses (status/status.hpp); this only reshapes its result
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
