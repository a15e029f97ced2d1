#include "report/syslog_sender.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common/signal_free_thread.hpp"
#include "report/syslog_transport.hpp"

namespace iocsweep::report_detail {
namespace {

using namespace std::chrono_literals;

// Reconnection backoff: 0.1 s doubling up to 5 s.
constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 5000ms;
// One connection attempt, one write: the flush deadline cuts both shorter.
constexpr auto kConnectTimeout = 5s;
constexpr auto kWriteTimeout = 10s;
// How often an idle sender looks at acknowledgements and a closed peer.
constexpr auto kIdleCheck = 100ms;
// A connection that lived this long was no flapping one: the next
// reconnection starts from the first backoff again.
constexpr auto kStableConnection = 5s;
// The collector's kernel acknowledges what it buffers, read or not, even
// before the collector accept()s: an acknowledged message is only known
// read once this many acknowledged bytes follow it, more than a receive
// buffer holds (Linux grows one to tcp_rmem's 6 MiB at most), or once the
// collector closed cleanly after our half-close.
constexpr std::uint64_t kAckedWindow = 8 * 1024 * 1024;

// A message written on the current connection, kept until it is known
// read (see kAckedWindow; `wire_end` is the wire offset of its last byte):
// when the connection breaks first it is sent again on the next one.
struct Retained {
  std::string frame;
  std::uint64_t wire_end = 0;
};

class RemoteDelivery final : public SyslogDelivery {
 public:
  RemoteDelivery(SyslogOptions options, std::vector<SyslogAddress> addresses)
      : options_(std::move(options)), addresses_(std::move(addresses)) {
    // The sender must never take a signal: SIGINT/SIGTERM are waited for
    // by the CLI's signal thread (blocked in every thread), and SIGPIPE
    // from a TLS write to a closed socket becomes EPIPE.
    thread_ = start_signal_free_thread([this] { run(); });
  }
  ~RemoteDelivery() override { finish(); }
  RemoteDelivery(const RemoteDelivery&) = delete;
  RemoteDelivery& operator=(const RemoteDelivery&) = delete;

  void deliver(std::string message) override {
    std::string frame = std::to_string(message.size()) + " " + message;
    std::lock_guard lock(m_);
    if (refused_ || finished_) {
      ++undelivered_;
      return;
    }
    if (queue_.size() >= options_.queue_max_messages || queued_bytes_ + frame.size() > options_.queue_max_bytes) {
      // Counted, never silent: the report says how many did not go.
      ++undelivered_;
      last_error_ = "queue full (" + std::to_string(queue_.size()) + " messages waiting for " + where() + ")";
      return;
    }
    queued_bytes_ += frame.size();
    queue_.push_back(std::move(frame));
    cv_.notify_one();
  }

  void finish() override {
    {
      std::lock_guard lock(m_);
      if (finished_) return;
      finished_ = true;
      deadline_ = SyslogClock::now() + std::chrono::duration_cast<SyslogClock::duration>(
                                           std::chrono::duration<double>(options_.flush_timeout_s));
      // Wakes a connection attempt or a write under way, too.
      flush_.set(deadline_);
      cv_.notify_one();
    }
    thread_.join();
  }

  std::uint64_t sent() const override { return sent_; }
  std::uint64_t undelivered() const override { return undelivered_; }
  std::string last_error() const override {
    std::lock_guard lock(m_);
    return last_error_;
  }

 private:
  std::string where() const {
    return std::string(options_.transport == SyslogTransport::kTls ? "tls://" : "tcp://") + options_.host + ":" +
           options_.port;
  }

  // With m_ held: the retained messages go back to the front of the queue.
  void requeue_retained() {
    for (auto it = retained_.rbegin(); it != retained_.rend(); ++it) {
      queued_bytes_ += it->frame.size();
      queue_.push_front(std::move(it->frame));
    }
    retained_.clear();
  }

  // With m_ held: drops the connection after `why`; what it may not have
  // delivered is sent again on the next one. The backoff starts again
  // from the first step only after a connection that delivered something
  // or lived a while: a collector that accepts and drops at once is not
  // hammered every 0.1 s.
  void drop_connection(const std::string& why) {
    const auto now = SyslogClock::now();
    if (conn_ && (sent_ > sent_at_connect_ || now - connected_at_ >= kStableConnection)) backoff_ = kFirstBackoff;
    conn_.reset();
    requeue_retained();
    last_error_ = why;
    next_attempt_ = now + backoff_;
    backoff_ = std::min<SyslogClock::duration>(backoff_ * 2, kMaxBackoff);
  }

  std::string closed_message() const {
    const std::string reason = conn_->close_reason();
    return "connection to " + where() + " closed by the collector" +
           (reason.empty() || reason == "closed by the collector" ? "" : ": " + reason);
  }

  // With m_ held: counts as sent what is known read (kAckedWindow); false
  // when the connection is gone. broken() is asked again after SIOCOUTQ:
  // a reset empties the send queue, which would read as "acknowledged".
  bool settle_acknowledged() {
    if (conn_->broken()) return false;
    const std::uint64_t written = conn_->wire_bytes_written();
    const std::uint64_t unacked = conn_->wire_bytes_unacked();
    if (conn_->broken()) return false;
    acked_ = written - std::min(written, unacked);
    while (!retained_.empty() && retained_.front().wire_end + kAckedWindow <= acked_) {
      retained_.pop_front();
      ++sent_;
    }
    return true;
  }

  // With m_ held: whether the collector's TCP acknowledged every byte
  // written (as of the last settle_acknowledged()).
  bool all_acknowledged() const { return retained_.empty() || retained_.back().wire_end <= acked_; }

  SyslogClock::time_point capped(SyslogClock::duration limit) const {
    const auto t = SyslogClock::now() + limit;
    return finished_ ? std::min(t, deadline_) : t;
  }

  void run() {
    std::unique_lock lock(m_);
    for (;;) {
      if (finished_ && SyslogClock::now() >= deadline_) {
        // What is known read by now still counts.
        if (conn_ && settle_acknowledged() && !retained_.empty()) {
          last_error_ = std::to_string(retained_.size()) + " messages written to " + where() +
                        " not known read by the collector when --syslog-timeout ran out";
        }
        break;
      }
      if (refused_) {
        if (finished_) break;
        cv_.wait(lock, [&] { return finished_; });
        continue;
      }
      if (!conn_) {
        if (queue_.empty()) {
          if (finished_) break;
          cv_.wait(lock, [&] { return finished_ || !queue_.empty(); });
          continue;
        }
        if (SyslogClock::now() < next_attempt_) {
          cv_.wait_until(lock, finished_ ? std::min(next_attempt_, deadline_) : next_attempt_);
          continue;
        }
        const auto deadline = capped(kConnectTimeout);
        lock.unlock();
        bool permanent = false;
        auto opened = connect_syslog(options_, addresses_, deadline, flush_, permanent);
        lock.lock();
        if (opened) {
          conn_ = std::move(*opened);
          connected_at_ = SyslogClock::now();
          sent_at_connect_ = sent_;
          acked_ = 0;
        } else if (permanent) {
          // A certificate that does not verify: every message is refused.
          refused_ = true;
          last_error_ = opened.error().message;
          undelivered_ += queue_.size();
          queue_.clear();
          queued_bytes_ = 0;
        } else {
          drop_connection(opened.error().message);
        }
        continue;
      }
      if (!settle_acknowledged()) {
        drop_connection(closed_message());
        continue;
      }
      if (queue_.empty()) {
        if (finished_ && all_acknowledged()) {
          // Everything written and acknowledged: half-close, and what is
          // held counts delivered only once the collector closes its side
          // cleanly, which it does after reading all of it.
          SyslogConnection& conn = *conn_;
          lock.unlock();
          const bool clean = conn.close_and_wait(deadline_);
          lock.lock();
          if (clean) {
            sent_ += retained_.size();
            retained_.clear();
            conn_.reset();
            break;
          }
          drop_connection(closed_message());
          continue;
        }
        // Waiting for acknowledgements, or for the next message.
        cv_.wait_for(lock, finished_ ? 10ms : kIdleCheck);
        continue;
      }
      std::string frame = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= frame.size();
      const auto deadline = capped(kWriteTimeout);
      SyslogConnection& conn = *conn_;
      lock.unlock();
      Status written = conn.write(frame, deadline);
      const std::uint64_t wire_end = conn.wire_bytes_written();
      lock.lock();
      // Written in part or not at all: the message goes again, whole, on
      // the next connection, which starts a new frame.
      retained_.push_back({std::move(frame), wire_end});
      if (!written) drop_connection("write to " + where() + ": " + written.error().message);
    }
    undelivered_ += queue_.size() + retained_.size();
    queue_.clear();
    retained_.clear();
    queued_bytes_ = 0;
    conn_.reset();
  }

  const SyslogOptions options_;
  const std::vector<SyslogAddress> addresses_;
  SyslogDeadline flush_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  std::deque<Retained> retained_;
  std::unique_ptr<SyslogConnection> conn_;
  SyslogClock::time_point connected_at_{};
  std::uint64_t sent_at_connect_ = 0;
  std::uint64_t acked_ = 0;  // wire bytes of conn_ acknowledged
  bool finished_ = false;
  bool refused_ = false;
  SyslogClock::time_point deadline_{};
  SyslogClock::time_point next_attempt_{};
  SyslogClock::duration backoff_ = kFirstBackoff;
  std::string last_error_;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> undelivered_{0};
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<SyslogDelivery>> make_remote_syslog_delivery(const SyslogOptions& options) {
  if (Status tls = check_syslog_tls(options); !tls) return tls.error();
  auto addresses = resolve_syslog(options);
  if (!addresses) return addresses.error();
  return std::unique_ptr<SyslogDelivery>(std::make_unique<RemoteDelivery>(options, std::move(*addresses)));
}

}  // namespace iocsweep::report_detail
