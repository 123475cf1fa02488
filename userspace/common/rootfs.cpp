// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/rootfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vmfix {

namespace fs = std::filesystem;

Sysfs::Sysfs(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/') root_.pop_back();
}

std::string Sysfs::full(const std::string& path) const { return root_ + path; }

Result<std::string> Sysfs::read(const std::string& path) const {
  const int fd = ::open(full(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return runtime_error(path, std::strerror(errno));
  std::string data;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return runtime_error(path, std::strerror(err));
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > kMaxSysfsFile) {
      ::close(fd);
      return runtime_error(path, "larger than 1 MiB: not a sysfs attribute");
    }
  }
  ::close(fd);
  return data;
}

std::vector<std::string> Sysfs::list(const std::string& dir) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(full(dir), ec), end; !ec && it != end; it.increment(ec))
    out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool Sysfs::exists(const std::string& path) const {
  struct stat st {};
  return ::stat(full(path).c_str(), &st) == 0;
}

std::string Sysfs::link_name(const std::string& path) const {
  std::error_code ec;
  const fs::path target = fs::read_symlink(full(path), ec);
  if (ec) return {};
  return target.filename().string();
}

}  // namespace vmfix
