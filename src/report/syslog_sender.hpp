#pragma once
// How the RFC 5424 messages of syslog_sink.cpp reach the collector: the
// local socket synchronously, a remote collector through a sender thread.
// Private to the report component.

#include <cstdint>
#include <memory>
#include <string>

#include "iocsweep/common.hpp"
#include "iocsweep/report.hpp"

namespace iocsweep::report_detail {

/// Takes finished messages (without framing) from the sink. deliver() and
/// finish() are called from one thread at a time; the counters may be read
/// from any thread.
class SyslogDelivery {
 public:
  virtual ~SyslogDelivery() = default;
  /// Hands over one message; a remote delivery never waits for the network.
  virtual void deliver(std::string message) = 0;
  /// Delivers what is pending by the flush deadline; what is left then is
  /// counted undelivered. Nothing is delivered after it.
  virtual void finish() = 0;
  virtual std::uint64_t sent() const = 0;
  virtual std::uint64_t undelivered() const = 0;
  virtual std::string last_error() const = 0;
};

/// The remote delivery for options.transport kTcp or kTls: a bounded queue
/// (options.queue_max_messages / queue_max_bytes) drained by its own thread
/// that connects, reconnects with backoff and frames by octet counting.
/// Fails only when the TLS settings cannot be loaded.
Result<std::unique_ptr<SyslogDelivery>> make_remote_syslog_delivery(const SyslogOptions& options);

}  // namespace iocsweep::report_detail
