// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Redaction for `rdna1-vmfix report`: a bug report is pasted into public trackers, so user names,
// home directories, host names and serial numbers are replaced by placeholders before anything is
// printed, and the report says what was replaced (categories and counts, never the values).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmfix::report {

enum class Secret { kHomePath, kUserName, kHostName, kSerial };
const char* secret_name(Secret s);         // "home_paths", "user_names", "host_names", "serial_numbers"
const char* secret_placeholder(Secret s);  // "<home>", "<user>", "<host>", "<serial>"

class Redactor {
 public:
  // Registers a value to hide. Values shorter than 2 characters and well-known system names
  // (root, localhost, ...) are ignored: replacing them would damage the report, not protect anyone.
  void add(Secret kind, std::string value);
  // Replaces every registered value in s (home paths first, then whole-word names and serials).
  [[nodiscard]] std::string apply(std::string_view in);
  // Applies to every string (not the keys) of a JSON document.
  void apply(nlohmann::json& doc);
  // What was replaced so far: category -> number of replacements.
  [[nodiscard]] nlohmann::json summary() const;
  [[nodiscard]] bool empty() const { return secrets_.empty(); }

 private:
  struct Entry {
    Secret kind;
    std::string value;
  };
  std::vector<Entry> secrets_;  // longest first, so /home/alice goes before alice
  std::map<Secret, std::size_t> counts_;
};

}  // namespace vmfix::report
