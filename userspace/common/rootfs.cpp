// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/rootfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/fd.hpp"

namespace vmfix {

namespace fs = std::filesystem;

RootFs::RootFs(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/') root_.pop_back();
}

Result<std::string> RootFs::read(const std::string& path) const {
  const Fd fd(::open(host_path(path).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return runtime_error(path, std::strerror(errno));
  std::string data;
  std::array<char, 8192> buf{};
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return runtime_error(path, std::strerror(errno));
    if (n == 0) break;
    data.append(buf.data(), static_cast<std::size_t>(n));
    if (data.size() > kMaxSysfsFile) return runtime_error(path, "larger than 1 MiB: not a sysfs attribute");
  }
  return data;
}

namespace {

// Up to n bytes at offset (fewer at the end of the file); nullopt on a read error.
std::optional<std::string> read_at(const Fd& fd, std::size_t offset, std::size_t n) {
  std::string data(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd.get(), data.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return std::nullopt;
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  data.resize(got);
  return data;
}

}  // namespace

std::optional<std::string> RootFs::read_head(const std::string& path, std::size_t max_bytes) const {
  const Fd fd(::open(host_path(path).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  return read_at(fd, 0, max_bytes);
}

std::optional<std::string> RootFs::read_tail(const std::string& path, std::size_t max_bytes) const {
  const Fd fd(::open(host_path(path).c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || st.st_size < 0) return std::nullopt;
  const auto size = static_cast<std::size_t>(st.st_size);
  const std::size_t start = size > max_bytes ? size - max_bytes : 0;
  return read_at(fd, start, size - start);
}

Status RootFs::write(const std::string& path, std::string_view content) const {
  auto failed = [&](int e) {
    return runtime_error(path, e == EACCES || e == EPERM ? "permission denied" : std::strerror(e));
  };
  Fd fd(::open(host_path(path).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd.valid()) return failed(errno);
  const ssize_t n = ::write(fd.get(), content.data(), content.size());
  if (n < 0 || static_cast<std::size_t>(n) != content.size()) return failed(n < 0 ? errno : EIO);
  if (::close(fd.release()) != 0) return failed(errno);
  return ok_status();
}

std::vector<std::string> RootFs::list(const std::string& dir) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(host_path(dir), ec), end; !ec && it != end; it.increment(ec))
    out.push_back(it->path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> RootFs::find_files(const std::string& dir) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(host_path(dir), ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2)) out.push_back(it->path().string().substr(root_.size()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool RootFs::exists(const std::string& path) const {
  struct stat st {};
  return ::stat(host_path(path).c_str(), &st) == 0;
}

std::string RootFs::link_name(const std::string& path) const {
  std::error_code ec;
  const fs::path target = fs::read_symlink(host_path(path), ec);
  return ec ? std::string() : target.filename().string();
}

}  // namespace vmfix
