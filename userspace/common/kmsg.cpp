// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/kmsg.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "common/text.hpp"

namespace vmfix {

namespace {

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// Owns a popen() pipe.
struct PipeCloser {
  void operator()(FILE* f) const {
    if (f != nullptr) ::pclose(f);
  }
};
using Pipe = std::unique_ptr<FILE, PipeCloser>;

std::string errno_text(int err) { return std::strerror(err); }

bool denied(int err) { return err == EPERM || err == EACCES; }

// Reads kmsg records from a non-blocking fd until EAGAIN; appends dmesg lines to out.
// Returns 0 or an errno.
int drain_kmsg(int fd, std::string& out, bool& eof) {
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      if (auto line = kmsg_record_to_line(std::string_view(buf, static_cast<std::size_t>(n)))) {
        out += *line;
        out += '\n';
      }
      continue;
    }
    if (n == 0) {
      eof = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 0;
    if (errno == EPIPE) continue;  // records were overwritten while reading: skip ahead
    return errno;
  }
}

// Runs a command and returns its stdout, or nullopt when it cannot run or fails.
std::optional<std::string> run_capture(const char* cmd, std::string& why) {
  Pipe p(::popen(cmd, "r"));
  if (!p) {
    why = errno_text(errno);
    return std::nullopt;
  }
  std::string out;
  char buf[8192];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p.get())) > 0) out.append(buf, n);
  const int st = ::pclose(p.release());
  if (st != 0) {
    why = WIFEXITED(st) ? fmt::format("exit status {}", WEXITSTATUS(st)) : "killed";
    return std::nullopt;
  }
  return out;
}

class FdStream : public LineStream {
 public:
  FdStream(Fd fd, std::string name, bool kmsg, bool regular)
      : fd_(std::move(fd)), name_(std::move(name)), kmsg_(kmsg), regular_(regular) {}

  Result<std::vector<std::string>> poll_lines(int timeout_ms) override {
    std::vector<std::string> lines;
    if (kmsg_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) < 0 && errno != EINTR) return runtime_error(name_, errno_text(errno));
      std::string out;
      if (const int err = drain_kmsg(fd_.get(), out, eof_); err != 0) return runtime_error(name_, errno_text(err));
      split(out, lines, true);
      return lines;
    }
    if (!regular_) {
      pollfd p{fd_.get(), POLLIN, 0};
      const int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno != EINTR) return runtime_error(name_, errno_text(errno));
      if (r <= 0) return lines;
    }
    char buf[65536];
    const ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return lines;
      return runtime_error(name_, errno_text(errno));
    }
    if (n == 0) {
      if (regular_) {
        ::usleep(static_cast<useconds_t>(timeout_ms) * 1000U);  // tail -f: wait for the file to grow
      } else {
        eof_ = true;
        if (!partial_.empty()) {
          lines.push_back(partial_);
          partial_.clear();
        }
      }
      return lines;
    }
    partial_.append(buf, static_cast<std::size_t>(n));
    std::string all;
    all.swap(partial_);
    split(all, lines, false);
    return lines;
  }
  [[nodiscard]] bool eof() const override { return eof_; }
  [[nodiscard]] std::string name() const override { return name_; }

 private:
  // Splits complete lines off; keeps an unterminated tail in partial_ unless complete is set.
  void split(const std::string& data, std::vector<std::string>& lines, bool complete) {
    std::size_t pos = 0;
    while (pos < data.size()) {
      const auto nl = data.find('\n', pos);
      if (nl == std::string::npos) {
        if (complete)
          lines.push_back(data.substr(pos));
        else
          partial_ = data.substr(pos);
        break;
      }
      lines.push_back(data.substr(pos, nl - pos));
      pos = nl + 1;
    }
  }

  Fd fd_;
  std::string name_;
  bool kmsg_;
  bool regular_;
  bool eof_ = false;
  std::string partial_;
};

class PipeStream : public LineStream {
 public:
  PipeStream(Pipe p, std::string name) : pipe_(std::move(p)), name_(std::move(name)) {}
  Result<std::vector<std::string>> poll_lines(int timeout_ms) override {
    std::vector<std::string> lines;
    pollfd p{::fileno(pipe_.get()), POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) return lines;
    char buf[8192];
    const ssize_t n = ::read(p.fd, buf, sizeof(buf));
    if (n <= 0) {
      eof_ = true;
      return lines;
    }
    partial_.append(buf, static_cast<std::size_t>(n));
    std::size_t pos = 0;
    for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', pos)) {
      lines.push_back(partial_.substr(pos, nl - pos));
      pos = nl + 1;
    }
    partial_.erase(0, pos);
    return lines;
  }
  [[nodiscard]] bool eof() const override { return eof_; }
  [[nodiscard]] std::string name() const override { return name_; }

 private:
  Pipe pipe_;
  std::string name_;
  bool eof_ = false;
  std::string partial_;
};

constexpr const char* kJournalDump = "journalctl -k -b -o short-monotonic --no-pager -q 2>/dev/null";
constexpr const char* kJournalFollow = "journalctl -k -f -n 0 -o short-monotonic --no-pager -q 2>/dev/null";

// journalctl short-monotonic: "[  262.094619] host kernel: msg" -> "[  262.094619] msg".
std::string strip_journal_prefix(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    if (const auto k = line.find(" kernel: "); k != std::string_view::npos && k < 120) {
      const auto close = line.find("] ");
      if (close != std::string_view::npos && close < k) {
        out.append(line.substr(0, close + 2));
        line = line.substr(k + 9);
      }
    }
    out.append(line);
    out += '\n';
    pos = nl + 1;
  }
  return out;
}

}  // namespace

std::optional<std::string> kmsg_record_to_line(std::string_view record) {
  // "prio,seq,usec,flags[,...];message\n key=value continuation lines"
  const auto semi = record.find(';');
  if (semi == std::string_view::npos || semi > 128) return std::nullopt;
  const std::string_view header = record.substr(0, semi);
  std::size_t used = 0;
  if (!text::parse_dec(header, &used) || used >= header.size() || header[used] != ',') return std::nullopt;
  std::string_view rest = header.substr(used + 1);
  if (!text::parse_dec(rest, &used) || used >= rest.size() || rest[used] != ',') return std::nullopt;
  rest = rest.substr(used + 1);
  const auto usec = text::parse_dec(rest, &used);
  if (!usec) return std::nullopt;
  std::string_view msg = record.substr(semi + 1);
  const auto nl = msg.find('\n');
  if (nl != std::string_view::npos) msg = msg.substr(0, nl);
  // kmsg escapes non-printable bytes as \xNN; keep them as they are.
  return fmt::format("[{:5}.{:06}] {}", *usec / 1000000, *usec % 1000000, msg);
}

Result<std::string> read_log_file(const std::string& path, std::size_t max_bytes) {
  Fd fd(path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return usage_error(path, fmt::format("cannot open: {}", errno_text(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) return usage_error(path, "is a directory, not a log file");
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return usage_error(path, fmt::format("cannot read: {}", errno_text(errno)));
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > max_bytes)
      return usage_error(path, fmt::format("larger than {} MiB: pass the relevant part of the log", max_bytes >> 20));
  }
  return data;
}

Result<KernelLog> read_kernel_log() {
  std::string kmsg_why;
  {
    Fd fd(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() >= 0) {
      std::string out;
      bool eof = false;
      const int err = drain_kmsg(fd.get(), out, eof);
      if (err == 0) return KernelLog{out, "/dev/kmsg"};
      kmsg_why = errno_text(err);
      if (!denied(err)) return runtime_error("/dev/kmsg", "cannot read: " + kmsg_why);
    } else {
      kmsg_why = errno_text(errno);
    }
  }
  std::string journal_why;
  if (auto out = run_capture(kJournalDump, journal_why); out && !out->empty())
    return KernelLog{strip_journal_prefix(*out), "journalctl -k"};
  if (journal_why.empty()) journal_why = "no kernel messages visible to this user";
  return runtime_error("kernel log",
                       fmt::format("not permitted to read it (/dev/kmsg: {}; journalctl -k: {}); run as root, join the "
                                   "'adm' or 'systemd-journal' group, set kernel.dmesg_restrict=0, or pass a saved log "
                                   "FILE",
                                   kmsg_why, journal_why));
}

Result<std::unique_ptr<LineStream>> open_follow(const std::string& path) {
  if (path.empty()) {
    Fd fd(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() >= 0) {
      // Probe one read: a restricted kmsg opens but refuses reads.
      char probe[8192];
      const ssize_t n = ::read(fd.get(), probe, sizeof(probe));
      if (n >= 0 || errno == EAGAIN || errno == EPIPE) {
        ::lseek(fd.get(), 0, SEEK_SET);  // SEEK_SET = from the first record on
        return std::unique_ptr<LineStream>(std::make_unique<FdStream>(std::move(fd), "/dev/kmsg", true, false));
      }
    }
    const std::string kmsg_why = errno_text(errno);
    Pipe p(::popen(kJournalFollow, "r"));
    if (p) return std::unique_ptr<LineStream>(std::make_unique<PipeStream>(std::move(p), "journalctl -k -f"));
    return runtime_error("kernel log", fmt::format("not permitted to follow it (/dev/kmsg: {}); run as root or pass a "
                                                   "FILE",
                                                   kmsg_why));
  }
  Fd fd(path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return usage_error(path, fmt::format("cannot open: {}", errno_text(errno)));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return usage_error(path, fmt::format("cannot stat: {}", errno_text(errno)));
  if (S_ISDIR(st.st_mode)) return usage_error(path, "is a directory, not a log file");
  const bool regular = S_ISREG(st.st_mode);
  return std::unique_ptr<LineStream>(std::make_unique<FdStream>(std::move(fd), path, false, regular));
}

}  // namespace vmfix
