#pragma once
// What the stages of one scan share: the bounded queue between the sources
// and the workers, the serialised sink with the scan's counters, and the
// throttles. Private to the pipeline.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "iocsweep/pipeline.hpp"
#include "iocsweep/report.hpp"
#include "iocsweep/throttle.hpp"

namespace iocsweep {

/// Blocking FIFO with a fixed capacity. close() wakes everyone: push()
/// then refuses and pop() drains what is left before returning nullopt.
/// A full queue lets its producer sleep until it has drained to half, and
/// a wake-up is only signalled to a thread that sleeps: on trees of tiny
/// files a wake-up per item cost four futex calls per file.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 2)) {}

  bool push(T item) {
    std::unique_lock lock(mu_);
    if (!closed_ && items_.size() >= capacity_) {
      ++producers_waiting_;
      not_full_.wait(lock, [&] { return closed_ || items_.size() <= capacity_ / 2; });
      --producers_waiting_;
    }
    if (closed_) return false;
    items_.push_back(std::move(item));
    if (consumers_waiting_ > 0) not_empty_.notify_one();
    return true;
  }

  std::optional<T> pop() {
    std::unique_lock lock(mu_);
    if (!closed_ && items_.empty()) {
      ++consumers_waiting_;
      not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
      --consumers_waiting_;
    }
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    if (producers_waiting_ > 0 && items_.size() <= capacity_ / 2) not_full_.notify_all();
    return item;
  }

  /// Stops accepting; `discard` also drops what is queued (cancellation).
  void close(bool discard) {
    std::lock_guard lock(mu_);
    closed_ = true;
    if (discard) items_.clear();
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  std::size_t capacity_;
  std::size_t producers_waiting_ = 0;
  std::size_t consumers_waiting_ = 0;
  bool closed_ = false;
};

/// Serialises every call into the sink and keeps the counters. The
/// per-file counters are atomics: a scan of tiny files would otherwise take
/// the lock once per file. The ones a progress display shows live in a
/// ScanProgress, so publishing progress costs nothing more.
class SharedSink {
 public:
  SharedSink(ReportSink& sink, ScanProgress& progress) : sink_(sink), progress_(progress) {}

  void finding(Finding f) {
    std::lock_guard lock(mu_);
    ++stats_.findings;
    max_score_ = std::max(max_score_, f.score);
    progress_.findings.fetch_add(1, std::memory_order_relaxed);
    sink_.finding(std::move(f));
  }
  void error(std::string path, std::string error) { this->error(FileError{std::move(path), std::move(error), {}}); }
  void error(FileError e) {
    std::lock_guard lock(mu_);
    ++stats_.errors;
    progress_.errors.fetch_add(1, std::memory_order_relaxed);
    sink_.error(std::move(e));
  }
  void skipped(std::string path, std::string reason, std::string detail = {}) {
    skipped(SkippedFile{std::move(path), std::move(reason), std::move(detail), {}});
  }
  void skipped(SkippedFile s) {
    std::lock_guard lock(mu_);
    ++stats_.files_skipped;
    if (skip_hides_content(s.reason)) ++stats_.skipped_unscanned;
    progress_.files_skipped.fetch_add(1, std::memory_order_relaxed);
    sink_.skipped(std::move(s));
  }
  void scanned_from_cache() {
    progress_.files_scanned.fetch_add(1, std::memory_order_relaxed);
    cached_.fetch_add(1, std::memory_order_relaxed);
  }
  void scanned(const std::string& path, std::uint64_t bytes, bool noatime) {
    progress_.files_scanned.fetch_add(1, std::memory_order_relaxed);
    progress_.bytes_scanned.fetch_add(bytes, std::memory_order_relaxed);
    if (!noatime) atime_not_preserved(path);
  }
  // A file read, or a directory listed, without O_NOATIME.
  void atime_not_preserved(const std::string& path) {
    without_noatime_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    sink_.atime_not_preserved(path);
  }
  void symlink() { symlinks_.fetch_add(1, std::memory_order_relaxed); }
  void below_min_score() { below_min_.fetch_add(1, std::memory_order_relaxed); }
  void allowlisted() { allowlisted_.fetch_add(1, std::memory_order_relaxed); }
  void suppressed() { suppressed_.fetch_add(1, std::memory_order_relaxed); }
  void prefiltered() { prefiltered_.fetch_add(1, std::memory_order_relaxed); }
  // A live process swept, and the bytes of its memory read.
  void process_scanned() { processes_.fetch_add(1, std::memory_order_relaxed); }
  void process_memory(std::uint64_t bytes) { process_bytes_.fetch_add(bytes, std::memory_order_relaxed); }
  int max_score() {
    std::lock_guard lock(mu_);
    return max_score_;
  }
  ScanStats stats() {
    std::lock_guard lock(mu_);
    ScanStats s = stats_;
    s.files_scanned = progress_.files_scanned.load();
    s.bytes_scanned = progress_.bytes_scanned.load();
    s.files_read_without_noatime = without_noatime_.load();
    s.symlinks_not_followed = symlinks_.load();
    s.findings_below_min_score = below_min_.load();
    s.files_allowlisted = allowlisted_.load();
    s.findings_suppressed = suppressed_.load();
    s.files_cached = cached_.load();
    s.yara_prefiltered = prefiltered_.load();
    s.processes_scanned = processes_.load();
    s.process_memory_bytes = process_bytes_.load();
    return s;
  }

 private:
  std::mutex mu_;
  ReportSink& sink_;
  ScanProgress& progress_;
  ScanStats stats_;  // findings, errors, files_skipped: changed under mu_
  int max_score_ = -1;
  std::atomic<std::uint64_t> without_noatime_{0}, symlinks_{0}, below_min_{0}, allowlisted_{0}, suppressed_{0},
      cached_{0}, prefiltered_{0}, processes_{0}, process_bytes_{0};
};

/// What a scan shares besides the sink: the optional throttles and the
/// optional progress the walk publishes into. Null members are off.
struct Throttles {
  RateLimiter* rate = nullptr;
  LoadGate* load = nullptr;
  ScanProgress* progress = nullptr;
};

}  // namespace iocsweep
