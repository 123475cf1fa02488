// SPDX-License-Identifier: GPL-2.0 OR MIT
#pragma once
// The kernel log, read one way everywhere: `faults` and `doctor` dump or follow it, `check` reads
// what its workers caused. KmsgReader reads /dev/kmsg (one record per read) or a file or pipe of
// lines (saved logs, test seams); `journalctl -k` is the fallback where /dev/kmsg is not readable.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace vmfix {

// Converts one /dev/kmsg record ("6,1234,5678901,-;message") to the dmesg form
// "[    5.678901] message". Returns nullopt for malformed records and continuation lines.
std::optional<std::string> kmsg_record_to_line(std::string_view record);

// Reads a whole file ("-" = stdin) with a size limit; unreadable -> usage error (exit 2).
Result<std::string> read_log_file(const std::string& path, std::size_t max_bytes = 256u << 20);

// Reads a kernel log as it grows, without blocking: /dev/kmsg records, or the lines of any other
// file or pipe (a line that is a kmsg record is converted like one). Lines come out in dmesg form.
class KmsgReader {
 public:
  enum class From { kStart, kEnd };  // /dev/kmsg and regular files: first record, or only new ones
  // path: "/dev/kmsg", a file, or "-" (stdin). Cannot open -> runtime error with the errno text.
  static Result<KmsgReader> open(const std::string& path, From from);
  // Reads lines from an fd this process already has (a child's stdout).
  static KmsgReader from_fd(Fd fd, bool kmsg, bool regular);

  // Appends the complete lines available now. Returns 0, or the errno of a failed read (EPERM or
  // EACCES on a restricted /dev/kmsg).
  int read_available(std::vector<std::string>& lines);
  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] bool is_kmsg() const { return kmsg_; }
  [[nodiscard]] bool is_regular() const { return regular_; }
  // A pipe or stdin reached its end (a regular file or /dev/kmsg may still grow).
  [[nodiscard]] bool eof() const { return eof_; }

 private:
  KmsgReader() = default;
  void take_lines(std::vector<std::string>& lines, bool flush);
  Fd fd_;
  bool kmsg_ = false, regular_ = false, eof_ = false;
  std::string partial_;
};

struct KernelLogDump {
  std::string text;    // dmesg-style lines
  std::string source;  // "/dev/kmsg" or "journalctl -k"
};
// Dumps the live kernel log without blocking. Not permitted -> runtime error (exit 4) that says
// what was tried and how to get access.
Result<KernelLogDump> read_kernel_log();

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
