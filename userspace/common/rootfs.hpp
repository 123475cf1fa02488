// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Fake-root filesystem access: every file `status`, `doctor`, `check --compare-modes` and the signing
// probe read or write goes through one RootFs, so tests point it at a fake tree that mirrors /
// (ROOT/sys/class/kfd/..., ROOT/sys/module/..., ROOT/lib/modules/..., ...).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace vmfix {

// Sysfs attributes are small; anything larger is not one (and is not read whole).
inline constexpr std::size_t kMaxSysfsFile = std::size_t{1} << 20;

class RootFs {
 public:
  // "" or "/": the real system; else a directory that stands for /.
  explicit RootFs(std::string root = "");

  // The whole file, at most kMaxSysfsFile bytes (larger: an error). Errors carry the errno text.
  [[nodiscard]] Result<std::string> read(const std::string& path) const;
  // The first (or last) max_bytes of a file; nullopt when it cannot be read.
  [[nodiscard]] std::optional<std::string> read_head(const std::string& path, std::size_t max_bytes) const;
  [[nodiscard]] std::optional<std::string> read_tail(const std::string& path, std::size_t max_bytes) const;
  // Writes content with one write and a close (sysfs reports a rejected value at either).
  // Not permitted -> "permission denied".
  [[nodiscard]] Status write(const std::string& path, std::string_view content) const;
  // Entry names of a directory, sorted; missing -> empty.
  [[nodiscard]] std::vector<std::string> list(const std::string& dir) const;
  // Regular files below dir, recursively, as paths under the root, sorted.
  [[nodiscard]] std::vector<std::string> find_files(const std::string& dir) const;
  [[nodiscard]] bool exists(const std::string& path) const;
  // Last component of a symlink's target ("amdgpu" for .../driver), or "".
  [[nodiscard]] std::string link_name(const std::string& path) const;

  // Where path is on this machine (root + path).
  [[nodiscard]] std::string host_path(const std::string& path) const { return root_ + path; }
  [[nodiscard]] const std::string& root() const { return root_; }  // "" for the real system
  [[nodiscard]] bool is_real() const { return root_.empty(); }

 private:
  std::string root_;
};

// The name status/doctor code used before the accessors were merged; new code says RootFs.
using Sysfs = RootFs;

}  // namespace vmfix
