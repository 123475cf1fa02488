// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <fstream>
#include <iostream>
#include <sstream>
#include "vmfix/faults.hpp"
using namespace vmfix::faults;
// Stand-in for `rdna1-vmfix faults --json FILE` (front-matter context), for scripts/faults-measure.py.
int main(int argc, char** argv) {
  if (argc != 4) return 2;
  std::ifstream f(argv[3]); std::stringstream b; b << f.rdbuf();
  auto r = parse_log(b.str(), context_from_front_matter(b.str()));
  if (!r.ok()) return 2;
  std::cout << "{\"verdict\":{\"class\":\"" << class_name(r.value().verdict.cls) << "\"}}\n";
  return r.value().verdict.cls == FaultClass::kNone ? 0 : 1;
}
