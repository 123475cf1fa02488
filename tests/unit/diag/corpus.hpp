// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// The real-report corpus (tests/data/faults) as the diag tests read it: the report files and the rows of
// INDEX.tsv. Which rows a test may open is its own business (the held-back part is only ever scored).

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace vmfix::test {

inline const std::filesystem::path& corpus_dir() {
  static const std::filesystem::path kDir = std::filesystem::path(VMFIX_TEST_DATA) / "faults";
  return kDir;
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

struct IndexRow {
  std::string file;
  std::string label;
  std::string split;  // tuning | held_back (README.md: no rule is written against held_back)
};

inline std::vector<IndexRow> read_index() {
  std::ifstream f(corpus_dir() / "INDEX.tsv");
  std::vector<IndexRow> rows;
  std::string line;
  std::getline(f, line);  // header: file source gpu cause_label has_dmesg has_userspace split
  while (std::getline(f, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, '\t')) cols.push_back(c);
    if (cols.size() >= 7) rows.push_back({cols[0], cols[3], cols[6]});
  }
  return rows;
}

}  // namespace vmfix::test
