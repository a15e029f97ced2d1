#include "iocsweep/throttle.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

namespace iocsweep {
namespace {

class SteadyClock final : public Clock {
 public:
  TimePoint now() override { return std::chrono::steady_clock::now(); }
  bool sleep_until(TimePoint deadline, const std::stop_token& stop) override {
    // A condition variable that nobody notifies but the stop token: the
    // sleep ends at the deadline or at once on a stop request (SIGINT).
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    cv.wait_until(lock, stop, deadline, [] { return false; });
    return !stop.stop_requested();
  }
};

// From linux/ioprio.h, spelled out so the build does not depend on the
// kernel headers' version.
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassIdle = 3;
constexpr int kIoprioClassShift = 13;

}  // namespace

Clock& steady_clock_source() {
  static SteadyClock clock;  // stateless
  return clock;
}

RateLimiter::RateLimiter(double bytes_per_second, Clock& clock, std::chrono::duration<double> burst)
    : rate_(bytes_per_second),
      capacity_(std::max(1.0, bytes_per_second * burst.count())),
      clock_(clock),
      tokens_(capacity_),
      last_(clock.now()) {}

bool RateLimiter::acquire(std::uint64_t bytes, const std::stop_token& stop) {
  if (bytes == 0) return !stop.stop_requested();
  Clock::TimePoint deadline;
  {
    std::lock_guard lock(mu_);
    const Clock::TimePoint now = clock_.now();
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    if (elapsed > 0) {
      tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
      last_ = now;
    }
    tokens_ -= static_cast<double>(bytes);
    if (tokens_ >= 0) return true;
    // Every caller in debt sleeps until the whole debt so far is repaid:
    // callers queue up in time without waiting on each other.
    deadline = now + std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(-tokens_ / rate_));
  }
  return clock_.sleep_until(deadline, stop);
}

LoadSource system_load_source() {
  return []() -> std::optional<double> {
    double load[1];
    if (::getloadavg(load, 1) != 1) return std::nullopt;
    return load[0];
  };
}

LoadGate::LoadGate(double max_load, LoadSource source, Clock& clock, Clock::Duration poll, OnChange on_change)
    : max_load_(max_load),
      source_(std::move(source)),
      clock_(clock),
      poll_(poll),
      on_change_(std::move(on_change)),
      next_poll_(std::numeric_limits<Clock::Duration::rep>::min()) {}

bool LoadGate::wait(const std::stop_token& stop) {
  // Fast path for every file between polls: no lock, no system call.
  if (!paused_.load(std::memory_order_relaxed) &&
      clock_.now().time_since_epoch().count() < next_poll_.load(std::memory_order_relaxed)) {
    return true;
  }
  // One caller polls and, while the load is high, sleeps holding the lock;
  // the others queue on the lock and find the answer when they get it.
  std::unique_lock lock(mu_);
  for (;;) {
    if (stop.stop_requested()) return false;
    const Clock::TimePoint now = clock_.now();
    if (!paused_.load(std::memory_order_relaxed) &&
        now.time_since_epoch().count() < next_poll_.load(std::memory_order_relaxed)) {
      return true;
    }
    const std::optional<double> load = source_();
    next_poll_.store((now + poll_).time_since_epoch().count(), std::memory_order_relaxed);
    const bool high = load.has_value() && *load > max_load_;
    if (high != paused_.load(std::memory_order_relaxed)) {
      paused_.store(high, std::memory_order_relaxed);
      if (on_change_) on_change_(high, load.value_or(0));
    }
    if (!high) return true;
    if (!clock_.sleep_until(now + poll_, stop)) return false;
  }
}

Status lower_cpu_priority(int nice) {
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, 0);
  if (current == -1 && errno != 0) return Error{std::string("cannot read the nice value: ") + std::strerror(errno)};
  if (current >= nice) return Ok{};
  // PRIO_PROCESS with 0 is the calling thread on Linux.
  if (::setpriority(PRIO_PROCESS, 0, nice) != 0) {
    return Error{"cannot set nice value " + std::to_string(nice) + ": " + std::strerror(errno)};
  }
  return Ok{};
}

Status use_idle_io_priority() {
  const int value = kIoprioClassIdle << kIoprioClassShift;
  if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, value) != 0) {
    return Error{std::string("cannot set the idle I/O priority class: ") + std::strerror(errno)};
  }
  return Ok{};
}

}  // namespace iocsweep
