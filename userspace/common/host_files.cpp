// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/host_files.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "common/text.hpp"

namespace vmfix {

namespace fs = std::filesystem;

HostFiles::HostFiles(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_ == "/") root_.clear();
  // Paths read back from the tree (canonical ones) must start with the root as given.
  std::error_code ec;
  if (!root_.empty())
    if (auto c = fs::weakly_canonical(root_, ec); !ec) root_ = c.string();
}

std::string HostFiles::real_path(std::string_view host_path) const { return root_ + std::string(host_path); }

std::optional<std::string> HostFiles::read(std::string_view host_path, std::size_t max_bytes) const {
  std::ifstream f(real_path(host_path), std::ios::binary);
  if (!f) return std::nullopt;
  std::string data;
  std::array<char, 8192> buf{};
  while (data.size() < max_bytes && f.read(buf.data(), buf.size()).gcount() > 0) {
    data.append(buf.data(), static_cast<std::size_t>(f.gcount()));
    if (!f) break;
  }
  if (f.bad()) return std::nullopt;  // a directory, or an I/O error
  if (data.size() > max_bytes) data.resize(max_bytes);
  return data;
}

std::vector<std::string> HostFiles::list(std::string_view dir, bool* denied) const {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(real_path(dir), ec);
  if (ec) {
    if (denied != nullptr && ec == std::errc::permission_denied) *denied = true;
    return out;
  }
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) break;
    out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool HostFiles::is_dir(std::string_view host_path) const {
  std::error_code ec;
  return fs::is_directory(real_path(host_path), ec);
}

bool HostFiles::is_file(std::string_view host_path) const {
  std::error_code ec;
  return fs::is_regular_file(real_path(host_path), ec);
}

bool HostFiles::exists(std::string_view host_path) const {
  std::error_code ec;
  return fs::exists(fs::symlink_status(real_path(host_path), ec));
}

std::optional<std::string> HostFiles::read_link(std::string_view host_path) const {
  std::error_code ec;
  const fs::path target = fs::read_symlink(real_path(host_path), ec);
  if (ec) return std::nullopt;
  return target.string();
}

std::vector<PasswdEntry> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    std::array<std::string_view, 7> f{};
    std::size_t n = 0;
    for (; n < f.size(); ++n) {
      const auto colon = line.find(':');
      f[n] = line.substr(0, colon);
      if (colon == std::string_view::npos) {
        ++n;
        break;
      }
      line.remove_prefix(colon + 1);
    }
    if (n != f.size() || f[0].empty()) continue;
    std::size_t used = 0;
    const auto uid = text::parse_dec(f[2], &used);
    if (!uid || used != f[2].size() || *uid > 0xffffffffU) continue;
    const auto gid = text::parse_dec(f[3], &used);
    PasswdEntry e;
    e.name = std::string(f[0]);
    e.uid = static_cast<unsigned>(*uid);
    e.gid = gid && *gid <= 0xffffffffU ? static_cast<unsigned>(*gid) : 0;
    e.home = std::string(f[5]);
    e.shell = std::string(f[6]);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace vmfix
