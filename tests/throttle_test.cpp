// Unit tests of the throttles: the byte-rate limiter and the load gate run
// on a fake clock and a fake load source, so they are deterministic; the
// priority calls run on a thread of their own (they are per thread).
#include "iocsweep/throttle.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <future>
#include <thread>
#include <vector>

namespace iocsweep {
namespace {

using namespace std::chrono_literals;

/// Time moves only when someone sleeps (or the test says so); every sleep
/// is recorded. `on_sleep` runs after each sleep, e.g. to request a stop.
class FakeClock final : public Clock {
 public:
  TimePoint now() override {
    std::lock_guard lock(mu_);
    return now_;
  }
  bool sleep_until(TimePoint deadline, const std::stop_token& stop) override {
    {
      std::lock_guard lock(mu_);
      sleeps_.push_back(deadline - now_);
      if (stop.stop_requested()) return false;
      if (deadline > now_) now_ = deadline;
    }
    if (on_sleep) on_sleep();
    return !stop.stop_requested();
  }
  void advance(Duration d) {
    std::lock_guard lock(mu_);
    now_ += d;
  }
  std::vector<Duration> sleeps() {
    std::lock_guard lock(mu_);
    return sleeps_;
  }
  std::function<void()> on_sleep;

 private:
  std::mutex mu_;
  TimePoint now_ = TimePoint(1000s);
  std::vector<Duration> sleeps_;
};

double seconds(Clock::Duration d) { return std::chrono::duration<double>(d).count(); }

TEST(RateLimiter, BurstWithinTheBucketDoesNotSleep) {
  FakeClock clock;
  RateLimiter limiter(1e6, clock, 100ms);  // bucket: 100,000 bytes
  const std::stop_source stop;
  EXPECT_TRUE(limiter.acquire(60'000, stop.get_token()));
  EXPECT_TRUE(limiter.acquire(40'000, stop.get_token()));
  EXPECT_TRUE(clock.sleeps().empty());
  // The bucket is empty now: one more byte is a debt of one microsecond.
  EXPECT_TRUE(limiter.acquire(1, stop.get_token()));
  ASSERT_EQ(clock.sleeps().size(), 1u);
  EXPECT_NEAR(seconds(clock.sleeps()[0]), 1e-6, 1e-9);
}

TEST(RateLimiter, LongRunRateIsTheLimit) {
  FakeClock clock;
  const Clock::TimePoint start = clock.now();
  RateLimiter limiter(2e6, clock, 100ms);  // 2 MB/s, bucket 200,000 bytes
  const std::stop_source stop;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(limiter.acquire(1'000'000, stop.get_token()));
  // 20 MB, less the full bucket it started with, at 2 MB/s.
  EXPECT_NEAR(seconds(clock.now() - start), (20e6 - 200'000) / 2e6, 1e-6);
}

/// A clock stopped at one instant whose sleeps return at once: calls on it
/// are "at the same time", as from workers racing each other.
class FrozenClock final : public Clock {
 public:
  TimePoint now() override { return TimePoint(5s); }
  bool sleep_until(TimePoint deadline, const std::stop_token&) override {
    sleeps.push_back(deadline - TimePoint(5s));
    return true;
  }
  std::vector<Duration> sleeps;
};

TEST(RateLimiter, ConcurrentCallersQueueUpInTime) {
  FrozenClock clock;
  RateLimiter limiter(1e6, clock, 100ms);
  const std::stop_source stop;
  // Two workers take 550 kB each at the same instant: the first sleeps off
  // its 450 kB debt, the second the debt of both, so together they stay at
  // the rate instead of each getting it.
  EXPECT_TRUE(limiter.acquire(550'000, stop.get_token()));
  EXPECT_TRUE(limiter.acquire(550'000, stop.get_token()));
  ASSERT_EQ(clock.sleeps.size(), 2u);
  EXPECT_NEAR(seconds(clock.sleeps[0]), 0.45, 1e-6);
  EXPECT_NEAR(seconds(clock.sleeps[1]), 1.0, 1e-6);
}

TEST(RateLimiter, IdleTimeRefillsOnlyTheBucket) {
  FakeClock clock;
  RateLimiter limiter(1e6, clock, 100ms);
  const std::stop_source stop;
  ASSERT_TRUE(limiter.acquire(100'000, stop.get_token()));  // empties the bucket
  clock.advance(3600s);                                     // an hour idle
  ASSERT_TRUE(limiter.acquire(600'000, stop.get_token()));
  // Only the bucket (100 kB) was saved up, not an hour's worth.
  ASSERT_EQ(clock.sleeps().size(), 1u);
  EXPECT_NEAR(seconds(clock.sleeps()[0]), 0.5, 1e-6);
}

TEST(RateLimiter, StopRequestEndsTheSleep) {
  FakeClock clock;
  RateLimiter limiter(1e6, clock, 100ms);
  std::stop_source stop;
  stop.request_stop();
  EXPECT_FALSE(limiter.acquire(5'000'000, stop.get_token()));
}

TEST(RateLimiter, RealClockSleepIsInterruptible) {
  // One byte per second and a gigabyte: thirty years of sleep, unless the
  // stop request ends it.
  RateLimiter limiter(1, steady_clock_source(), 100ms);
  std::stop_source stop;
  auto result = std::async(std::launch::async, [&] { return limiter.acquire(1'000'000'000, stop.get_token()); });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(result.wait_for(0s), std::future_status::timeout);  // it is sleeping
  stop.request_stop();
  ASSERT_EQ(result.wait_for(30s), std::future_status::ready);
  EXPECT_FALSE(result.get());
}

TEST(LoadGate, BelowTheLimitPassesAndPollsOncePerInterval) {
  FakeClock clock;
  int polls = 0;
  LoadGate gate(
      2.0, [&]() -> std::optional<double> { return ++polls, 1.5; }, clock, 2s);
  const std::stop_source stop;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(gate.wait(stop.get_token()));
  EXPECT_EQ(polls, 1);
  EXPECT_FALSE(gate.paused());
  clock.advance(2s);
  ASSERT_TRUE(gate.wait(stop.get_token()));
  EXPECT_EQ(polls, 2);
  EXPECT_TRUE(clock.sleeps().empty());
}

TEST(LoadGate, AboveTheLimitWaitsUntilTheLoadDrops) {
  FakeClock clock;
  std::vector<double> loads{5.0, 4.0, 0.5};
  std::size_t next = 0;
  std::vector<bool> paused_seen;
  std::vector<std::pair<bool, double>> changes;
  LoadGate* gate_ptr = nullptr;
  LoadGate gate(
      2.0,
      [&]() -> std::optional<double> {
        paused_seen.push_back(gate_ptr->paused());
        return loads.at(next++);
      },
      clock, 3s, [&](bool paused, double load) { changes.emplace_back(paused, load); });
  gate_ptr = &gate;
  const std::stop_source stop;
  const Clock::TimePoint start = clock.now();
  ASSERT_TRUE(gate.wait(stop.get_token()));
  EXPECT_EQ(next, 3u);
  EXPECT_EQ(clock.sleeps(), (std::vector<Clock::Duration>{3s, 3s}));
  EXPECT_EQ(clock.now() - start, 6s);
  EXPECT_EQ(paused_seen, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(changes, (std::vector<std::pair<bool, double>>{{true, 5.0}, {false, 0.5}}));
  EXPECT_FALSE(gate.paused());
}

TEST(LoadGate, EqualToTheLimitIsNotAbove) {
  FakeClock clock;
  LoadGate gate(
      2.0, [] { return std::optional<double>(2.0); }, clock, 2s);
  const std::stop_source stop;
  EXPECT_TRUE(gate.wait(stop.get_token()));
  EXPECT_TRUE(clock.sleeps().empty());
}

TEST(LoadGate, StopWhilePausedReturnsFalse) {
  FakeClock clock;
  std::stop_source stop;
  int sleeps = 0;
  clock.on_sleep = [&] {
    if (++sleeps == 3) stop.request_stop();
  };
  LoadGate gate(
      1.0, [] { return std::optional<double>(9.0); }, clock, 2s);
  EXPECT_FALSE(gate.wait(stop.get_token()));
  EXPECT_EQ(sleeps, 3);
  // A stopped scan is not let through later either.
  EXPECT_FALSE(gate.wait(stop.get_token()));
}

TEST(LoadGate, UnreadableLoadNeverHoldsBack) {
  FakeClock clock;
  LoadGate gate(
      0.1, [] { return std::optional<double>(); }, clock, 2s);
  const std::stop_source stop;
  EXPECT_TRUE(gate.wait(stop.get_token()));
  EXPECT_FALSE(gate.paused());
}

TEST(LoadGate, RealClockPauseIsInterruptible) {
  LoadGate gate(
      1.0, [] { return std::optional<double>(9.0); }, steady_clock_source(), std::chrono::hours(1));
  std::stop_source stop;
  auto result = std::async(std::launch::async, [&] { return gate.wait(stop.get_token()); });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(result.wait_for(0s), std::future_status::timeout);
  stop.request_stop();
  ASSERT_EQ(result.wait_for(30s), std::future_status::ready);
  EXPECT_FALSE(result.get());
}

TEST(LoadGate, SystemLoadSourceReadsTheLoadAverage) {
  const std::optional<double> load = system_load_source()();
  ASSERT_TRUE(load.has_value());
  EXPECT_GE(*load, 0.0);
}

// Nice value and I/O class are per thread: each case runs on its own
// thread so the test process keeps its own.
TEST(Priority, LowerCpuPriorityRaisesTheNiceValueOnlyUpwards) {
  std::thread([] {
    errno = 0;
    const int before = ::getpriority(PRIO_PROCESS, 0);
    if (before >= 15) GTEST_SKIP() << "already at nice " << before;
    ASSERT_TRUE(lower_cpu_priority(15));
    EXPECT_EQ(::getpriority(PRIO_PROCESS, 0), 15);
    ASSERT_TRUE(lower_cpu_priority(3));  // never raises the priority back
    EXPECT_EQ(::getpriority(PRIO_PROCESS, 0), 15);
    // Threads created afterwards inherit it.
    std::thread([] { EXPECT_EQ(::getpriority(PRIO_PROCESS, 0), 15); }).join();
  }).join();
  EXPECT_NE(::getpriority(PRIO_PROCESS, 0), 15);
}

TEST(Priority, IdleIoPriorityAppliesToTheThreadAndItsChildren) {
  constexpr long kWhoProcess = 1, kClassIdle = 3, kShift = 13;
  std::thread([&] {
    ASSERT_TRUE(use_idle_io_priority());
    EXPECT_EQ(::syscall(SYS_ioprio_get, kWhoProcess, 0) >> kShift, kClassIdle);
    std::thread([&] { EXPECT_EQ(::syscall(SYS_ioprio_get, kWhoProcess, 0) >> kShift, kClassIdle); }).join();
  }).join();
  EXPECT_NE(::syscall(SYS_ioprio_get, kWhoProcess, 0) >> kShift, kClassIdle);
}

}  // namespace
}  // namespace iocsweep
