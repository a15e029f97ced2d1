#pragma once
// The progress line of `iocsweep scan`: a view of ScanProgress drawn on
// stderr by one thread. The pipeline only publishes counters; everything
// about terminals lives here.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>

#include "iocsweep/pipeline.hpp"
#include "iocsweep/report.hpp"

namespace iocsweep::cli {

/// One progress line for `s`, at most `width` - 1 columns (one column per
/// code point), e.g. "1204 files  52.1 MB  2.0 MB/s  0 errors  1 finding
/// /srv/www". Everything from the scanned tree is escaped with
/// escape_for_terminal; a long directory keeps its tail after "...".
/// `bytes_per_s` < 0 leaves the rate out (not known yet).
std::string format_progress_line(const ScanProgress::Snapshot& s, double bytes_per_s, std::size_t width);

/// Terminal width of `fd` (TIOCGWINSZ), or 80 when it has none.
std::size_t terminal_width(int fd);

/// Draws the progress of a running scan on `fd` from its own thread: on a
/// terminal one line rewritten in place ("\r", the line, erase to the end)
/// every `period`; elsewhere (--progress into a pipe or file, for
/// wrappers) one complete line per second. finish() draws the final state
/// and ends the line with a newline. Thread-safe.
class ProgressLine {
 public:
  ProgressLine(std::shared_ptr<const ScanProgress> progress, int fd,
               std::chrono::milliseconds period = std::chrono::milliseconds(250));
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  /// Stops the thread, draws the final line and a newline. Idempotent.
  void finish();
  /// Erases the line so that other output can go to the same terminal;
  /// hold the returned lock while writing it. The next tick redraws.
  std::unique_lock<std::mutex> suspend();

 private:
  void draw(bool final);
  std::shared_ptr<const ScanProgress> progress_;
  int fd_;
  bool tty_;
  std::chrono::milliseconds period_;
  std::mutex mu_;  // guards drawing and the members below
  bool finished_ = false;
  bool drawn_ = false;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> samples_;
  std::jthread thread_;  // last: started once everything above exists
};

/// A sink that finishes `line` before the report is written (end()), and,
/// when the report goes to the terminal the line is drawn on
/// (`same_terminal`), erases it around each streamed record. `inner` and
/// `line` must outlive it.
std::unique_ptr<ReportSink> make_progress_aware_sink(ReportSink& inner, ProgressLine& line, bool same_terminal);

}  // namespace iocsweep::cli
