// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// A directory of the test's own under $TMPDIR (mkdtemp: a unique name, never one derived from the pid
// that a parallel run or a recycled pid could share), removed with everything in it when the object
// goes out of scope, also when a REQUIRE ends the test early.

#include <stdlib.h>  // NOLINT(modernize-deprecated-headers): mkdtemp

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace vmfix::test {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "vmfix-test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace vmfix::test
