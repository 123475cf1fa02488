// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Result<T>: library code returns errors as values; only main() maps them to exit codes.

#include <string>
#include <utility>
#include <variant>

namespace vmfix {

// Exit codes shared by every command (docs/design.md).
enum class Exit : int {
  kOk = 0,        // nothing wrong
  kProblem = 1,   // a check found a problem
  kUsage = 2,     // usage error or bad input
  kNoGpu = 3,     // no suitable GPU
  kRuntime = 4,   // environment or runtime error (including stdout write errors)
};

struct Error {
  Exit code = Exit::kRuntime;
  std::string context;  // file, value or subsystem the error is about
  std::string message;
};

inline Error usage_error(std::string context, std::string message) {
  return Error{Exit::kUsage, std::move(context), std::move(message)};
}
inline Error runtime_error(std::string context, std::string message) {
  return Error{Exit::kRuntime, std::move(context), std::move(message)};
}

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)
  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For operations that return nothing but may fail.
struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

}  // namespace vmfix
