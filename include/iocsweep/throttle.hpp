#pragma once
// Being a good neighbour on a production server: a shared byte-rate limit,
// a pause while the machine is loaded, and lower CPU / I/O priority. The
// clock and the load source are injected so tests are deterministic.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// Monotonic time and interruptible sleep. Implementations must be
/// thread-safe.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;
  virtual ~Clock() = default;
  virtual TimePoint now() = 0;
  /// Sleeps until `deadline`, or less when `stop` is requested meanwhile.
  /// Returns false when it returned because of `stop` (or `stop` was
  /// already requested), true otherwise.
  virtual bool sleep_until(TimePoint deadline, const std::stop_token& stop) = 0;
};

/// std::chrono::steady_clock; sleeps wake at once on a stop request. The
/// object is stateless and lives for the whole program.
Clock& steady_clock_source();

/// Token bucket on bytes, shared by every worker of a scan: callers report
/// the bytes they are about to process and are put to sleep long enough to
/// keep the long-run rate at `bytes_per_second`. A request larger than the
/// bucket is allowed and paid for by sleeping afterwards (a debt), so files
/// of any size pass. Thread-safe; takes one mutex per call.
class RateLimiter {
 public:
  /// `bytes_per_second` > 0. The bucket holds `burst` worth of bytes and
  /// starts full, so short bursts after idle time are not delayed.
  RateLimiter(double bytes_per_second, Clock& clock,
              std::chrono::duration<double> burst = std::chrono::milliseconds(100));
  /// Takes `bytes` from the bucket and sleeps until the debt is repaid.
  /// Returns false, promptly, when `stop` is requested while sleeping.
  bool acquire(std::uint64_t bytes, const std::stop_token& stop);

 private:
  double rate_;
  double capacity_;
  Clock& clock_;
  std::mutex mu_;
  double tokens_;            // bytes; negative while in debt. Under mu_.
  Clock::TimePoint last_{};  // under mu_
};

/// The 1-minute load average, or nothing when it cannot be read.
using LoadSource = std::function<std::optional<double>()>;

/// getloadavg(3), 1-minute value.
LoadSource system_load_source();

/// Holds callers back while the load average is above a limit. The load is
/// read at most once per `poll` interval; between reads wait() costs one
/// clock read and no lock. Thread-safe.
class LoadGate {
 public:
  /// Called (rarely, under the gate's lock) when the gate starts or stops
  /// holding callers back, with the load that decided it.
  using OnChange = std::function<void(bool paused, double load)>;
  LoadGate(double max_load, LoadSource source, Clock& clock, Clock::Duration poll = std::chrono::seconds(2),
           OnChange on_change = {});
  /// Returns at once when the load was at or below the limit at the last
  /// poll (polling again when due); otherwise sleeps, polling every `poll`,
  /// until it is. Returns false, promptly, when `stop` is requested. An
  /// unreadable load average never holds anyone back.
  bool wait(const std::stop_token& stop);
  /// True while callers are being held back.
  bool paused() const { return paused_.load(std::memory_order_relaxed); }

 private:
  double max_load_;
  LoadSource source_;
  Clock& clock_;
  Clock::Duration poll_;
  OnChange on_change_;
  std::mutex mu_;
  // Time of the next poll, as a steady_clock count; read without the lock.
  std::atomic<Clock::Duration::rep> next_poll_;
  std::atomic<bool> paused_{false};
};

/// Raises the calling thread's nice value to `nice` (0..19); never lowers
/// it. On Linux this affects the calling thread and the threads it creates
/// afterwards, so call it before any other thread exists.
Status lower_cpu_priority(int nice);

/// Puts the calling thread (and the threads it creates afterwards) in the
/// idle I/O scheduling class: its disk I/O is served only when no one else
/// wants the disk. Same per-thread caveat as lower_cpu_priority().
Status use_idle_io_priority();

}  // namespace iocsweep
