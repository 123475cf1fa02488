// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Fake-root filesystem access: every read of /sys (and, through it, of the module's files) goes
// through one interface, so tests point it at a fake tree.

#include <cstddef>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace vmfix {

// Sysfs attributes are small; anything larger is not one (and is not read whole).
inline constexpr std::size_t kMaxSysfsFile = std::size_t{1} << 20;

// Reads files below a root directory: "" or "/" = the real system, else a fake tree that mirrors
// /sys (ROOT/sys/class/kfd/..., ROOT/sys/bus/pci/devices/..., ROOT/sys/module/..., ...).
class Sysfs {
 public:
  explicit Sysfs(std::string root = "");
  virtual ~Sysfs() = default;
  Sysfs(const Sysfs&) = default;
  Sysfs& operator=(const Sysfs&) = default;
  // Whole file (sysfs files are small: capped at 1 MiB). Missing -> kRuntime error with the errno text.
  [[nodiscard]] virtual Result<std::string> read(const std::string& path) const;
  // Entry names of a directory, sorted; missing -> empty.
  [[nodiscard]] virtual std::vector<std::string> list(const std::string& dir) const;
  [[nodiscard]] virtual bool exists(const std::string& path) const;
  // Last component of a symlink's target ("amdgpu" for .../driver), or "".
  [[nodiscard]] virtual std::string link_name(const std::string& path) const;
  [[nodiscard]] const std::string& root() const { return root_; }
  [[nodiscard]] bool is_real() const { return root_.empty(); }

 private:
  [[nodiscard]] std::string full(const std::string& path) const;
  std::string root_;
};

}  // namespace vmfix
