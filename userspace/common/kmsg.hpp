// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// Log sources for `faults` and `doctor`: a file, stdin, or the live kernel log (/dev/kmsg, with
// `journalctl -k` as fallback), read whole or followed.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace vmfix {

// Converts one /dev/kmsg record ("6,1234,5678901,-;message") to the dmesg form
// "[    5.678901] message". Returns nullopt for malformed records and continuation lines.
std::optional<std::string> kmsg_record_to_line(std::string_view record);

// Reads a whole file ("-" = stdin) with a size limit; unreadable -> usage error (exit 2).
Result<std::string> read_log_file(const std::string& path, std::size_t max_bytes = 256u << 20);

struct KernelLog {
  std::string text;    // dmesg-style lines
  std::string source;  // "/dev/kmsg" or "journalctl -k"
};
// Dumps the live kernel log without blocking. Not permitted -> runtime error (exit 4) that says
// what was tried and how to get access.
Result<KernelLog> read_kernel_log();

// A followed source: returns complete lines as they arrive.
class LineStream {
 public:
  virtual ~LineStream() = default;
  // Waits up to timeout_ms for data; returns the complete lines read (may be empty).
  virtual Result<std::vector<std::string>> poll_lines(int timeout_ms) = 0;
  [[nodiscard]] virtual bool eof() const = 0;
  [[nodiscard]] virtual std::string name() const = 0;
};
// path: a file (tail -f), "-" (stdin until EOF), or "" (the live kernel log).
Result<std::unique_ptr<LineStream>> open_follow(const std::string& path);

}  // namespace vmfix
