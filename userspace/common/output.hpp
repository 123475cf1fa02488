// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Output: the one place that writes results and errors, plain or JSON.

#include <cstdio>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace vmfix {

inline constexpr const char* kToolName = "rdna1-vmfix";

class Output {
 public:
  Output(bool json, bool pretty) : json_(json), pretty_(pretty) {}

  [[nodiscard]] bool json() const { return json_; }

  // Writes the single JSON document of a --json run.
  void emit(const nlohmann::json& doc) const;
  // Plain text to stdout (no-op under --json: stdout holds exactly one document).
  void text(const std::string& s) const;
  // Reports an error: {"error": {...}} under --json, else "rdna1-vmfix: error: ctx: msg" on stderr.
  // Returns the error's exit code.
  int error(const Error& e) const;
  // Warnings go to stderr once each, also under --json (stdout stays clean).
  void warn(const std::string& msg);
  // Flushes stdout; a write error becomes exit code 4 (perf's run_builtin does the same).
  [[nodiscard]] int finish(int code) const;

 private:
  bool json_;
  bool pretty_;
  std::set<std::string> warned_;
};

// A 64-bit value as the "0x..." string JSON consumers expect.
std::string hex64(std::uint64_t v);

}  // namespace vmfix
