// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "common/kmsg.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "common/process.hpp"
#include "common/text.hpp"

namespace vmfix {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

bool denied(int err) { return err == EPERM || err == EACCES; }

const std::vector<std::string> kJournalDump{"journalctl", "-k", "-b", "-o", "short-monotonic", "--no-pager", "-q"};
const std::vector<std::string> kJournalFollow{"journalctl", "-k", "-f", "-n", "0", "-o", "short-monotonic",
                                              "--no-pager", "-q"};
constexpr std::chrono::seconds kJournalTimeout{60};
constexpr std::size_t kMaxJournal = std::size_t{256} << 20;

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

KmsgReader KmsgReader::from_fd(Fd fd, bool kmsg, bool regular) {
  KmsgReader r;
  r.fd_ = std::move(fd);
  r.kmsg_ = kmsg;
  r.regular_ = regular;
  return r;
}

Result<KmsgReader> KmsgReader::open(const std::string& path, From from) {
  Fd fd(path == "-" ? ::dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return runtime_error(path, errno_text(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return runtime_error(path, errno_text(errno));
  if (S_ISDIR(st.st_mode)) return usage_error(path, "is a directory, not a log file");
  const bool kmsg = path == "/dev/kmsg";
  const bool regular = S_ISREG(st.st_mode);
  if (from == From::kEnd && (kmsg || regular)) ::lseek(fd.get(), 0, SEEK_END);
  if (!kmsg && !regular) ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  return from_fd(std::move(fd), kmsg, regular);
}

int KmsgReader::read_available(std::vector<std::string>& lines) {
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
    if (n > 0) {
      if (kmsg_) {  // one record per read
        if (auto line = kmsg_record_to_line(std::string_view(buf, static_cast<std::size_t>(n))))
          lines.push_back(std::move(*line));
      } else {
        partial_.append(buf, static_cast<std::size_t>(n));
        take_lines(lines, false);
      }
      continue;
    }
    if (n == 0) {  // end of what a file has now; the end of a pipe
      if (!regular_ && !kmsg_) {
        eof_ = true;
        take_lines(lines, true);
      }
      return 0;
    }
    if (errno == EINTR || errno == EPIPE) continue;  // EPIPE: kmsg records overwritten, go on
    if (errno == EAGAIN) return 0;
    return errno;
  }
}

void KmsgReader::take_lines(std::vector<std::string>& lines, bool flush) {
  std::size_t pos = 0;
  for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', pos)) {
    const std::string_view line(partial_.data() + pos, nl - pos);
    auto rec = kmsg_record_to_line(line);
    lines.push_back(rec ? std::move(*rec) : std::string(line));
    pos = nl + 1;
  }
  partial_.erase(0, pos);
  if (flush && !partial_.empty()) {
    lines.push_back(std::move(partial_));
    partial_.clear();
  }
}

Result<KernelLogDump> read_kernel_log() {
  std::string kmsg_why;
  if (auto reader = KmsgReader::open("/dev/kmsg", KmsgReader::From::kStart)) {
    std::vector<std::string> lines;
    const int err = reader->read_available(lines);
    if (err == 0) {
      std::string text;
      for (const auto& l : lines) text.append(l).push_back('\n');
      return KernelLogDump{std::move(text), "/dev/kmsg"};
    }
    kmsg_why = errno_text(err);
    if (!denied(err)) return runtime_error("/dev/kmsg", "cannot read: " + kmsg_why);
  } else {
    kmsg_why = reader.error().message;
  }
  const Captured journal =
      run_captured(SpawnOptions(kJournalDump, ChildStderr::kDiscard), kJournalTimeout, kMaxJournal);
  if (journal.exit_code == 0 && !journal.output.empty())
    return KernelLogDump{strip_journal_prefix(journal.output), "journalctl -k"};
  const std::string journal_why = journal.exit_code != 0 ? fmt::format("exit status {}", journal.exit_code)
                                                         : "no kernel messages visible to this user";
  return runtime_error("kernel log",
                       fmt::format("not permitted to read it (/dev/kmsg: {}; journalctl -k: {}); run as root, join the "
                                   "'adm' or 'systemd-journal' group, set kernel.dmesg_restrict=0, or pass a saved log "
                                   "FILE",
                                   kmsg_why, journal_why));
}

namespace {

// Follows a KmsgReader: waits for data with poll (a regular file never polls empty, so it sleeps
// instead, like tail -f). Keeps journalctl running while it is the source.
class ReaderStream : public LineStream {
 public:
  ReaderStream(KmsgReader reader, std::string name, std::optional<Process> source = std::nullopt)
      : reader_(std::move(reader)), name_(std::move(name)), source_(std::move(source)) {}

  Result<std::vector<std::string>> poll_lines(int timeout_ms) override {
    std::vector<std::string> lines;
    if (!reader_.is_regular()) {
      pollfd p{reader_.fd(), POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) < 0 && errno != EINTR) return runtime_error(name_, errno_text(errno));
    }
    if (const int err = reader_.read_available(lines); err != 0) return runtime_error(name_, errno_text(err));
    if (lines.empty() && reader_.is_regular())
      ::usleep(static_cast<useconds_t>(timeout_ms) * 1000U);  // tail -f: wait for the file to grow
    return lines;
  }
  [[nodiscard]] bool eof() const override { return reader_.eof(); }
  [[nodiscard]] std::string name() const override { return name_; }

 private:
  KmsgReader reader_;
  std::string name_;
  std::optional<Process> source_;
};

}  // namespace

Result<std::unique_ptr<LineStream>> open_follow(const std::string& path) {
  if (!path.empty()) {
    auto reader = KmsgReader::open(path, KmsgReader::From::kStart);
    if (!reader && reader.error().code == Exit::kUsage) return reader.error();
    if (!reader) return usage_error(path, fmt::format("cannot open: {}", reader.error().message));
    return std::unique_ptr<LineStream>(std::make_unique<ReaderStream>(std::move(*reader), path));
  }
  auto kmsg = KmsgReader::open("/dev/kmsg", KmsgReader::From::kStart);
  std::string kmsg_why = kmsg ? "" : kmsg.error().message;
  if (kmsg) {
    // Probe one read: a restricted kmsg opens but refuses reads.
    std::vector<std::string> first;
    const int err = kmsg->read_available(first);
    if (err == 0) {
      ::lseek(kmsg->fd(), 0, SEEK_SET);  // SEEK_SET = from the first record on
      return std::unique_ptr<LineStream>(std::make_unique<ReaderStream>(std::move(*kmsg), "/dev/kmsg"));
    }
    kmsg_why = errno_text(err);
  }
  auto journal = Process::spawn(SpawnOptions(kJournalFollow, ChildStderr::kDiscard));
  if (journal) {
    KmsgReader reader = KmsgReader::from_fd(std::move(journal->out()), false, false);
    return std::unique_ptr<LineStream>(
        std::make_unique<ReaderStream>(std::move(reader), "journalctl -k -f", std::move(*journal)));
  }
  return runtime_error("kernel log",
                       fmt::format("not permitted to follow it (/dev/kmsg: {}); run as root or pass a FILE", kmsg_why));
}

}  // namespace vmfix
