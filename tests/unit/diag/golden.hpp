// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Golden JSON files: compare, or write a missing one and fail so it gets reviewed.

#include <catch2/catch_test_macros.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace vmfix::test {

inline void check_golden(const nlohmann::json& j, const std::string& path) {
  if (!std::filesystem::exists(path)) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << j.dump(2) << "\n";
    FAIL("golden file was missing: written to " << path << "; review it and commit");
  }
  std::ifstream f(path);
  std::ostringstream s;
  s << f.rdbuf();
  CHECK(j == nlohmann::json::parse(s.str()));
}

}  // namespace vmfix::test
