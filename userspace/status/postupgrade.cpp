// SPDX-License-Identifier: GPL-2.0 OR MIT
// Reader of the post-upgrade check's last result (see postupgrade.hpp).
#include "status/postupgrade.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace vmfix {

std::optional<PostUpgradeResult> parse_postupgrade_result(const std::string& text) {
  PostUpgradeResult r;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    const std::string key = line.substr(0, sp);
    std::string value = line.substr(sp + 1);
    if (key == "kernel") r.kernel = std::move(value);
    else if (key == "time") r.time = std::move(value);
    else if (key == "verdict") r.verdict = std::move(value);
    else if (key == "stage") r.stage = std::move(value);
    else if (key == "detail") r.detail = std::move(value);
    else if (key == "details") r.details = std::move(value);
    else if (key == "stages") r.stages = std::move(value);
  }
  if (r.kernel.empty() || r.time.empty() || r.verdict.empty()) return std::nullopt;
  return r;
}

std::optional<PostUpgradeResult> read_postupgrade_result(const std::string& root) {
  std::ifstream f(root + kPostUpgradeResult);
  if (!f) return std::nullopt;
  std::ostringstream text;
  text << f.rdbuf();
  return parse_postupgrade_result(text.str());
}

nlohmann::json postupgrade_json(const std::optional<PostUpgradeResult>& r) {
  if (!r) return nullptr;
  return {{"kernel", r->kernel}, {"time", r->time},       {"verdict", r->verdict}, {"stage", r->stage},
          {"detail", r->detail}, {"details", r->details}, {"stages", r->stages}};
}

std::string postupgrade_text(const PostUpgradeResult& r) {
  std::string head = fmt::format("{} on {} at {}", r.verdict, r.kernel, r.time);
  if (r.verdict != "pass" && !r.stage.empty() && r.stage != "-") head += fmt::format(", stage {}", r.stage);
  std::string out = fmt::format("  {} ({})\n", head, r.stages);
  if (!r.detail.empty()) out += fmt::format("  {}\n", r.detail);
  if (r.verdict != "pass" && !r.details.empty()) out += fmt::format("  details: {}\n", r.details);
  return out;
}

}  // namespace vmfix
