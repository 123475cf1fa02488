// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Read-only access to the files of a host below a root directory: "" is the real system, any other
// directory a fake root that mirrors it (ROOT/etc/passwd, ROOT/home/..., ROOT/proc/PID/...). doctor's
// environment and Python scanners and `report` read through it so tests run on temporary trees.
// Paths given to and returned by it are host paths ("/home/alice/.bashrc"), never root-prefixed.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmfix {

class HostFiles {
 public:
  explicit HostFiles(std::string root = "");
  [[nodiscard]] bool is_real() const { return root_.empty(); }
  [[nodiscard]] const std::string& root() const { return root_; }
  // ROOT + host_path.
  [[nodiscard]] std::string real_path(std::string_view host_path) const;
  // Whole file up to max_bytes (longer files are cut there); nullopt when it cannot be read.
  [[nodiscard]] std::optional<std::string> read(std::string_view host_path, std::size_t max_bytes = 1U << 20) const;
  // Entry names, sorted; empty when missing or unreadable. *denied is set when it exists but
  // cannot be listed (permissions).
  [[nodiscard]] std::vector<std::string> list(std::string_view dir, bool* denied = nullptr) const;
  [[nodiscard]] bool is_dir(std::string_view host_path) const;
  [[nodiscard]] bool is_file(std::string_view host_path) const;
  [[nodiscard]] bool exists(std::string_view host_path) const;
  // Target of a symlink as stored ("/dev/kfd"), or nullopt.
  [[nodiscard]] std::optional<std::string> read_link(std::string_view host_path) const;

 private:
  std::string root_;
};

// One /etc/passwd entry.
struct PasswdEntry {
  std::string name;
  unsigned uid = 0;
  unsigned gid = 0;
  std::string home;
  std::string shell;
};
// Parses passwd(5) text; malformed lines are skipped.
std::vector<PasswdEntry> parse_passwd(std::string_view text);

}  // namespace vmfix
