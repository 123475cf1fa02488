// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// The last result of the post-upgrade check (userspace/dist/postupgrade-check.sh), which it writes
// to /var/lib/rdna1-vmfix/last-result as "key value" lines: kernel, time, verdict, stage, detail,
// details, stages. `status` shows it; a missing file means the check never ran (or is disabled).

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace vmfix {

inline constexpr const char* kPostUpgradeResult = "/var/lib/rdna1-vmfix/last-result";

struct PostUpgradeResult {
  std::string kernel;   // kernel release checked
  std::string time;     // UTC, ISO 8601
  std::string verdict;  // pass | fail | error
  std::string stage;    // the stage that failed (dkms | signing | module | harness), "-" on pass
  std::string detail;   // what the last stage found, one line
  std::string details;  // the command that shows more
  std::string stages;   // "dkms=pass signing=skip module=pass harness=skip"
};

// Parses the file's text; nullopt when it lacks kernel, time or verdict (a partial or foreign file).
std::optional<PostUpgradeResult> parse_postupgrade_result(const std::string& text);
// Reads and parses the file at root + kPostUpgradeResult (root "" for the running system).
std::optional<PostUpgradeResult> read_postupgrade_result(const std::string& root = "");

nlohmann::json postupgrade_json(const std::optional<PostUpgradeResult>& r);  // null when absent
std::string postupgrade_text(const PostUpgradeResult& r);                   // two lines, \n-terminated

}  // namespace vmfix
