#pragma once
// Stream connections to a remote syslog collector (TCP, TLS), beneath the
// RFC 5424 message builder of syslog_sink.cpp and the sender queue of
// syslog_sender.cpp. Private to the report component: <openssl/*.h> stays
// in syslog_transport.cpp.

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "iocsweep/common.hpp"
#include "iocsweep/report.hpp"

namespace iocsweep::report_detail {

using SyslogClock = std::chrono::steady_clock;

/// The flush deadline: unset (the far future) until the sink's thread sets
/// it once in finish(), which also wakes every wait of the sender thread
/// (an eventfd in its poll set), so that a connection attempt or a write
/// under way ends by it too. set() and get() may be called from any thread.
class SyslogDeadline {
 public:
  SyslogDeadline();
  SyslogDeadline(const SyslogDeadline&) = delete;
  SyslogDeadline& operator=(const SyslogDeadline&) = delete;
  void set(SyslogClock::time_point at);
  SyslogClock::time_point get() const { return SyslogClock::time_point(SyslogClock::duration(at_.load())); }
  bool is_set() const { return get() != SyslogClock::time_point::max(); }
  /// Readable once set() was called; -1 if no eventfd could be made (the
  /// waits then look at get() every 100 ms).
  int wake_fd() const { return wake_.get(); }

 private:
  std::atomic<SyslogClock::rep> at_{SyslogClock::time_point::max().time_since_epoch().count()};
  UniqueFd wake_;
};

/// One address of the collector, resolved once at start-up.
struct SyslogAddress {
  int family = 0;
  int socktype = 0;
  int protocol = 0;
  sockaddr_storage addr{};
  socklen_t len = 0;
};

/// Resolves options.host / options.port (on the calling thread: the main
/// thread before the scan, so that a name that does not resolve is a
/// start-up error and a slow resolver never holds the flush).
Result<std::vector<SyslogAddress>> resolve_syslog(const SyslogOptions& options);

/// One connected stream to the collector. Not thread-safe: the sender
/// thread alone uses it.
class SyslogConnection {
 public:
  virtual ~SyslogConnection() = default;
  /// Writes all of `bytes` (already framed) by `deadline`.
  virtual Status write(std::string_view bytes, SyslogClock::time_point deadline) = 0;
  /// Without waiting: whether the collector closed the connection or it
  /// failed (a collector never sends application data); close_reason()
  /// then says how (a reset, a TLS alert).
  virtual bool broken() = 0;
  virtual std::string close_reason() const = 0;
  /// Bytes put on the socket since it connected (TLS records included).
  virtual std::uint64_t wire_bytes_written() = 0;
  /// Of those, the bytes the collector's TCP has not acknowledged yet
  /// (SIOCOUTQ); only meaningful while !broken().
  virtual std::uint64_t wire_bytes_unacked() = 0;
  /// Ends the connection from our side once everything was written: TLS
  /// close_notify, then a TCP half-close; then waits by `deadline` for the
  /// collector to close its side. True only when it did so cleanly (EOF or
  /// its close_notify): a collector that closes with data unread resets
  /// the connection instead, so a clean close after our half-close means
  /// it read all we sent. False on a reset, an error or the deadline.
  virtual bool close_and_wait(SyslogClock::time_point deadline) = 0;
};

/// Connects (and for TLS handshakes and verifies the collector's
/// certificate and host name) by `deadline`. On failure `permanent` says
/// whether trying again cannot help: a certificate that does not verify
/// will not verify next time either.
/// Every wait of the connection also ends by `flush`, which must outlive it.
Result<std::unique_ptr<SyslogConnection>> connect_syslog(const SyslogOptions& options,
                                                         const std::vector<SyslogAddress>& addresses,
                                                         SyslogClock::time_point deadline, const SyslogDeadline& flush,
                                                         bool& permanent);

/// Loads and checks the TLS settings (the --syslog-ca file) without
/// connecting, so that a bad file is a start-up error.
Status check_syslog_tls(const SyslogOptions& options);

}  // namespace iocsweep::report_detail
