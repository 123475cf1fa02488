// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/output.hpp"

#include <fmt/format.h>

#include "common/term.hpp"
#include "common/json_stamp.hpp"

namespace vmfix {

void Output::emit(const nlohmann::json& doc) const {
  // Every document names the tool, its version and its schema (common/json_stamp.hpp).
  nlohmann::json stamped = doc;
  stamp_document(stamped);
  const std::string s = pretty_ ? stamped.dump(2) : stamped.dump();
  std::fputs(s.c_str(), stdout);
  std::fputc('\n', stdout);
}

void Output::text(const std::string& s) const {
  // Human output wraps to the terminal (80 columns in a pipe); lines that fit are left as they are.
  if (!json_) std::fputs(term::wrap_text(s, term::out_width()).c_str(), stdout);
}

int Output::error(const Error& e) const {
  // Flush first so the error lands after everything already printed.
  std::fflush(stdout);
  if (json_) {
    nlohmann::json doc = {{"tool", kToolName},
                          {"version", VMFIX_VERSION},
                          {"schema", 1},
                          {"error",
                           {{"context", e.context},
                            {"message", e.message},
                            {"exit_code", static_cast<int>(e.code)}}}};
    emit(doc);
  }
  if (e.context.empty())
    fmt::print(stderr, "{}: error: {}\n", kToolName, e.message);
  else
    fmt::print(stderr, "{}: error: {}: {}\n", kToolName, e.context, e.message);
  return static_cast<int>(e.code);
}

void Output::warn(const std::string& msg) {
  if (!warned_.insert(msg).second) return;
  std::fflush(stdout);
  fmt::print(stderr, "{}: warning: {}\n", kToolName, msg);
}

int Output::finish(int code) const {
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
    fmt::print(stderr, "{}: error: stdout: write failed\n", kToolName);
    return static_cast<int>(Exit::kRuntime);
  }
  return code;
}

std::string hex64(std::uint64_t v) { return fmt::format("0x{:016x}", v); }

}  // namespace vmfix
