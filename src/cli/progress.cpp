#include "cli/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace iocsweep::cli {
namespace {

// Decimal units, as --max-rate counts them (1 MB = 10^6 bytes).
std::string human_bytes(double n) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (n >= 1000 && u < 5) {
    n /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", n, units[u]);
  return buf;
}

std::string count(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::size_t columns(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += is_continuation(c) ? 0 : 1;
  return n;
}

// The last `keep` code points of `s`.
std::string tail_columns(const std::string& s, std::size_t keep) {
  std::size_t n = 0;
  std::size_t i = s.size();
  while (i > 0 && n < keep) {
    --i;
    if (!is_continuation(s[i])) ++n;
  }
  return s.substr(i);
}

// The first `keep` code points of `s`.
std::string head_columns(const std::string& s, std::size_t keep) {
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (!is_continuation(s[i])) {
      if (n == keep) break;
      ++n;
    }
    ++i;
  }
  return s.substr(0, i);
}

void write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a progress line is not worth failing for
    done += static_cast<std::size_t>(n);
  }
}

class ProgressAwareSink final : public ReportSink {
 public:
  ProgressAwareSink(ReportSink& inner, ProgressLine& line, bool same_terminal)
      : inner_(inner), line_(line), same_terminal_(same_terminal) {}
  void begin(const ScanInfo& info) override {
    auto lock = maybe_suspend();
    inner_.begin(info);
  }
  void finding(Finding finding) override {
    auto lock = maybe_suspend();
    inner_.finding(std::move(finding));
  }
  void error(FileError error) override {
    auto lock = maybe_suspend();
    inner_.error(std::move(error));
  }
  void skipped(SkippedFile skipped) override {
    auto lock = maybe_suspend();
    inner_.skipped(std::move(skipped));
  }
  void atime_not_preserved(std::string path) override {
    auto lock = maybe_suspend();
    inner_.atime_not_preserved(std::move(path));
  }
  Status end(const ScanEnd& end) override {
    line_.finish();
    return inner_.end(end);
  }

 private:
  std::unique_lock<std::mutex> maybe_suspend() {
    if (!same_terminal_) return {};
    return line_.suspend();
  }
  ReportSink& inner_;
  ProgressLine& line_;
  bool same_terminal_;
};

}  // namespace

std::string format_progress_line(const ScanProgress::Snapshot& s, double bytes_per_s, std::size_t width) {
  std::string line;
  if (s.paused_for_load) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "paused, load %.2f  ", s.load);
    line += buf;
  }
  line += count(s.files_scanned, "file", "files") + "  " + human_bytes(static_cast<double>(s.bytes_scanned));
  if (bytes_per_s >= 0) line += "  " + human_bytes(bytes_per_s) + "/s";
  line += "  " + count(s.errors, "error", "errors") + "  " + count(s.findings, "finding", "findings");
  const std::size_t room = width > 1 ? width - 1 : 0;  // the last column would wrap on some terminals
  if (columns(line) >= room) return head_columns(line, room);
  if (s.current_dir.empty()) return line;
  const std::string dir = escape_for_terminal(s.current_dir);
  const std::size_t left = room - columns(line) - 2;
  if (columns(dir) <= left) return line + "  " + dir;
  if (left <= 3) return line;
  return line + "  ..." + tail_columns(dir, left - 3);
}

std::size_t terminal_width(int fd) {
  struct winsize ws {};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

ProgressLine::ProgressLine(std::shared_ptr<const ScanProgress> progress, int fd, std::chrono::milliseconds period)
    : progress_(std::move(progress)),
      fd_(fd),
      tty_(::isatty(fd) == 1),
      period_(tty_ ? period : std::chrono::seconds(1)) {
  samples_.emplace_back(std::chrono::steady_clock::now(), progress_->snapshot().bytes_scanned);
  thread_ = std::jthread([this](std::stop_token stop) {
    std::mutex sleep_mu;
    std::condition_variable_any cv;
    for (;;) {
      {
        std::unique_lock sleep(sleep_mu);
        cv.wait_for(sleep, stop, period_, [] { return false; });
      }
      if (stop.stop_requested()) return;
      draw(false);
    }
  });
}

ProgressLine::~ProgressLine() { finish(); }

void ProgressLine::finish() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  draw(true);
}

std::unique_lock<std::mutex> ProgressLine::suspend() {
  std::unique_lock lock(mu_);
  if (tty_ && drawn_) write_all(fd_, "\r\x1b[K");
  drawn_ = false;
  return lock;
}

void ProgressLine::draw(bool final) {
  std::lock_guard lock(mu_);
  if (finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const ScanProgress::Snapshot snap = progress_->snapshot();
  // The rate over the last few seconds: what the scan does now.
  samples_.emplace_back(now, snap.bytes_scanned);
  while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(3)) samples_.pop_front();
  double rate = -1;
  const double dt = std::chrono::duration<double>(now - samples_.front().first).count();
  if (dt >= 0.2) rate = static_cast<double>(snap.bytes_scanned - samples_.front().second) / dt;
  const std::string line = format_progress_line(snap, rate, terminal_width(fd_));
  if (tty_) {
    write_all(fd_, "\r" + line + "\x1b[K" + (final ? "\n" : ""));
  } else {
    write_all(fd_, line + "\n");
  }
  drawn_ = !final;
  if (final) finished_ = true;
}

std::unique_ptr<ReportSink> make_progress_aware_sink(ReportSink& inner, ProgressLine& line, bool same_terminal) {
  return std::make_unique<ProgressAwareSink>(inner, line, same_terminal);
}

}  // namespace iocsweep::cli
