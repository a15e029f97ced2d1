#pragma once
// Stream connections to a remote syslog collector (TCP, TLS), beneath the
// RFC 5424 message builder of syslog_sink.cpp and the sender queue of
// syslog_sender.cpp. Private to the report component: <openssl/*.h> stays
// in syslog_transport.cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "iocsweep/common.hpp"
#include "iocsweep/report.hpp"

namespace iocsweep::report_detail {

using SyslogClock = std::chrono::steady_clock;

/// One connected stream to the collector. Not thread-safe: the sender
/// thread alone uses it.
class SyslogConnection {
 public:
  virtual ~SyslogConnection() = default;
  /// Writes all of `bytes` (already framed) by `deadline`.
  virtual Status write(std::string_view bytes, SyslogClock::time_point deadline) = 0;
  /// Without waiting: whether the collector closed the connection or it
  /// failed (a collector never sends application data).
  virtual bool broken() = 0;
  /// Bytes put on the socket since it connected (TLS records included).
  virtual std::uint64_t wire_bytes_written() = 0;
  /// Of those, the bytes the collector's TCP has not acknowledged yet
  /// (SIOCOUTQ); only meaningful while !broken().
  virtual std::uint64_t wire_bytes_unacked() = 0;
};

/// Connects (and for TLS handshakes and verifies the collector's
/// certificate and host name) by `deadline`. On failure `permanent` says
/// whether trying again cannot help: a certificate that does not verify
/// will not verify next time either.
Result<std::unique_ptr<SyslogConnection>> connect_syslog(const SyslogOptions& options, SyslogClock::time_point deadline,
                                                         bool& permanent);

/// Loads and checks the TLS settings (the --syslog-ca file) without
/// connecting, so that a bad file is a start-up error.
Status check_syslog_tls(const SyslogOptions& options);

}  // namespace iocsweep::report_detail
