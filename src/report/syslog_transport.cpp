#include "report/syslog_transport.hpp"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/fd.hpp"

namespace iocsweep::report_detail {
namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

int ms_until(SyslogClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SyslogClock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

// Waits for `events` on `fd` until `deadline` or the flush deadline,
// whichever comes first (set() wakes the poll); false on timeout.
bool wait_for(int fd, short events, SyslogClock::time_point deadline, const SyslogDeadline& flush) {
  for (;;) {
    const bool watch_wake = !flush.is_set();
    const auto until = std::min(deadline, flush.get());
    if (SyslogClock::now() >= until) return false;
    pollfd p[2] = {{fd, events, 0}, {flush.wake_fd(), POLLIN, 0}};
    int wait = ms_until(until);
    if (watch_wake && flush.wake_fd() < 0) wait = std::min(wait, 100);
    const int n = ::poll(p, watch_wake && flush.wake_fd() >= 0 ? 2 : 1, std::max(wait, 1));
    if (n < 0 && errno != EINTR) return false;
    if (n > 0 && p[0].revents != 0) return true;
    // Woken by set(), interrupted or the slice over: look at the time again.
  }
}

// The OpenSSL error queue as one line, emptied.
std::string ssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

std::string where(const SyslogOptions& o) { return o.host + ":" + o.port; }

}  // namespace

SyslogDeadline::SyslogDeadline() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void SyslogDeadline::set(SyslogClock::time_point at) {
  at_.store(at.time_since_epoch().count());
  if (wake_) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_.get(), &one, sizeof one);
  }
}

Result<std::vector<SyslogAddress>> resolve_syslog(const SyslogOptions& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string host = o.host;
#ifdef IOCSWEEP_STATIC_BUILD
  // A static glibc resolves names through the host's NSS modules, which it
  // would dlopen: another glibc's code in this process. Addresses only
  // (and localhost, which needs no lookup); docs/install.md says so.
  hints.ai_flags = AI_NUMERICHOST;
  if (host == "localhost") host = "127.0.0.1";
#endif
  addrinfo* list = nullptr;
  // Once, before the scan: getaddrinfo has no timeout of its own, so it
  // must not run where --syslog-timeout is to bound the flush.
  if (const int rc = ::getaddrinfo(host.c_str(), o.port.c_str(), &hints, &list); rc != 0) {
#ifdef IOCSWEEP_STATIC_BUILD
    if (rc == EAI_NONAME) return Error{"cannot resolve " + o.host + ": the static build takes an IP address"};
#endif
    return Error{"cannot resolve " + o.host + ": " + ::gai_strerror(rc)};
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(list, ::freeaddrinfo);
  std::vector<SyslogAddress> out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SyslogAddress a;
    a.family = ai->ai_family;
    a.socktype = ai->ai_socktype;
    a.protocol = ai->ai_protocol;
    std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    out.push_back(a);
  }
  if (out.empty()) return Error{"cannot resolve " + o.host + ": no address"};
  return out;
}

namespace {

// A non-blocking TCP socket connected to the first address of the
// collector that answers.
Result<UniqueFd> connect_tcp(const SyslogOptions& o, const std::vector<SyslogAddress>& addresses,
                             SyslogClock::time_point deadline, const SyslogDeadline& flush) {
  std::string last = "no address";
  for (const SyslogAddress& ai : addresses) {
    UniqueFd fd(::socket(ai.family, ai.socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai.protocol));
    if (!fd) {
      last = std::strerror(errno);
      continue;
    }
    int err = 0;
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ai.addr), ai.len) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        if (!wait_for(fd.get(), POLLOUT, deadline, flush)) {
          last = "connection timed out";
          continue;
        }
        socklen_t len = sizeof err;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err != 0) {
      last = std::strerror(err);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
  }
  return Error{"cannot connect to " + where(o) + ": " + last};
}

class TcpConnection : public SyslogConnection {
 public:
  TcpConnection(UniqueFd fd, const SyslogDeadline& flush) : fd_(std::move(fd)), flush_(flush) {}

  Status write(std::string_view bytes, SyslogClock::time_point deadline) override {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n >= 0) {
        done += static_cast<std::size_t>(n);
        written_ += static_cast<std::uint64_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Error{std::strerror(errno)};
      if (!wait_for(fd_.get(), POLLOUT, deadline, flush_)) return Error{"write timed out"};
    }
    return Ok{};
  }

  bool broken() override {
    pollfd p{fd_.get(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    return peer_closed(nullptr);
  }

  std::string close_reason() const override { return reason_; }

  std::uint64_t wire_bytes_written() override { return written_; }

  std::uint64_t wire_bytes_unacked() override {
    int queued = 0;
    // Without SIOCOUTQ nothing counts as acknowledged.
    if (::ioctl(fd_.get(), SIOCOUTQ, &queued) != 0 || queued < 0) return wire_bytes_written();
    return static_cast<std::uint64_t>(queued);
  }

  bool close_and_wait(SyslogClock::time_point deadline) override {
    if (!send_close(deadline)) return false;
    if (::shutdown(fd_.get(), SHUT_WR) != 0) {
      reason_ = std::string("half-close: ") + std::strerror(errno);
      return false;
    }
    for (;;) {
      if (!wait_for(fd_.get(), POLLIN | POLLRDHUP, deadline, flush_)) {
        reason_ = "the collector did not close its side of the connection in time";
        return false;
      }
      bool clean = false;
      if (peer_closed(&clean)) return clean;
    }
  }

 protected:
  int fd() const { return fd_.get(); }
  const SyslogDeadline& flush() const { return flush_; }
  void set_reason(std::string why) { reason_ = std::move(why); }

  // Reads what the collector sent, without waiting: true when the
  // connection is over, `*clean` then says whether by an orderly close
  // (EOF, close_notify) rather than a reset or an error.
  virtual bool peer_closed(bool* clean) {
    char buf[512];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) continue;
      if (n == 0) {
        reason_ = "closed by the collector";
        if (clean != nullptr) *clean = true;
        return true;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      reason_ = std::strerror(errno);
      return true;
    }
  }

  // What goes before the TCP half-close: nothing for plain TCP.
  virtual bool send_close(SyslogClock::time_point) { return true; }

 private:
  UniqueFd fd_;
  const SyslogDeadline& flush_;
  std::uint64_t written_ = 0;
  std::string reason_;
};

class TlsConnection final : public TcpConnection {
 public:
  TlsConnection(UniqueFd fd, const SyslogDeadline& flush, SslCtxPtr ctx, SslPtr ssl)
      : TcpConnection(std::move(fd), flush), ctx_(std::move(ctx)), ssl_(std::move(ssl)) {}

  Status write(std::string_view bytes, SyslogClock::time_point deadline) override {
    std::size_t done = 0;
    while (done < bytes.size()) {
      std::size_t n = 0;
      ERR_clear_error();
      if (SSL_write_ex(ssl_.get(), bytes.data() + done, bytes.size() - done, &n) == 1) {
        done += n;
        continue;
      }
      const int e = SSL_get_error(ssl_.get(), 0);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        if (!wait_for(fd(), e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline, flush())) {
          return Error{"write timed out"};
        }
        continue;
      }
      return Error{e == SSL_ERROR_SYSCALL && errno != 0 ? std::string(std::strerror(errno)) : ssl_errors()};
    }
    return Ok{};
  }

  std::uint64_t wire_bytes_written() override { return BIO_number_written(SSL_get_wbio(ssl_.get())); }

 protected:
  // A TLS 1.3 server sends session tickets after the handshake: read
  // them; a close_notify, an EOF or an alert means the connection is over.
  bool peer_closed(bool* clean) override {
    for (;;) {
      char buf[512];
      std::size_t n = 0;
      ERR_clear_error();
      errno = 0;
      if (SSL_read_ex(ssl_.get(), buf, sizeof buf, &n) == 1) continue;
      const int e = SSL_get_error(ssl_.get(), 0);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return false;
      // SSL_OP_IGNORE_UNEXPECTED_EOF makes a bare EOF a ZERO_RETURN too:
      // what matters is a FIN, not a reset.
      if (e == SSL_ERROR_ZERO_RETURN) {
        set_reason("closed by the collector");
        if (clean != nullptr) *clean = true;
      } else {
        set_reason(e == SSL_ERROR_SYSCALL && errno != 0 ? std::string(std::strerror(errno)) : ssl_errors());
      }
      return true;
    }
  }

  // close_notify (RFC 5425 4.4), by the deadline.
  bool send_close(SyslogClock::time_point deadline) override {
    for (;;) {
      ERR_clear_error();
      const int rc = SSL_shutdown(ssl_.get());
      if (rc >= 0) return true;  // sent (1: the collector's came already)
      const int e = SSL_get_error(ssl_.get(), rc);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        if (!wait_for(fd(), e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline, flush())) {
          set_reason("close_notify timed out");
          return false;
        }
        continue;
      }
      set_reason("close_notify: " + ssl_errors());
      return false;
    }
  }

 private:
  SslCtxPtr ctx_;
  SslPtr ssl_;
};

// TLS 1.2 or later, peer verified against --syslog-ca or the system store.
Result<SslCtxPtr> make_tls_context(const SyslogOptions& o) {
  // As main() does for libcrypto: never read openssl.cnf, which can load
  // providers and engines from the host (the first initialisation wins).
  OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_LOAD_SSL_STRINGS, nullptr);
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Error{"TLS: " + ssl_errors()};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // A collector never sends application data, so a truncation cannot
  // matter; what tells "read it all" from "dropped it" is FIN vs reset.
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  const int loaded = o.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                                       : SSL_CTX_load_verify_file(ctx.get(), o.ca_file.c_str());
  if (loaded != 1) {
    return Error{(o.ca_file.empty() ? std::string("the system's CA certificates") : "--syslog-ca " + o.ca_file) +
                 ": cannot be loaded: " + ssl_errors()};
  }
  return ctx;
}

bool is_ip_literal(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

}  // namespace

Status check_syslog_tls(const SyslogOptions& options) {
  if (options.transport != SyslogTransport::kTls) return Ok{};
  auto ctx = make_tls_context(options);
  if (!ctx) return ctx.error();
  return Ok{};
}

Result<std::unique_ptr<SyslogConnection>> connect_syslog(const SyslogOptions& o,
                                                         const std::vector<SyslogAddress>& addresses,
                                                         SyslogClock::time_point deadline, const SyslogDeadline& flush,
                                                         bool& permanent) {
  permanent = false;
  auto fd = connect_tcp(o, addresses, deadline, flush);
  if (!fd) return fd.error();
  if (o.transport != SyslogTransport::kTls) {
    return std::unique_ptr<SyslogConnection>(std::make_unique<TcpConnection>(std::move(*fd), flush));
  }
  auto ctx = make_tls_context(o);
  if (!ctx) {
    permanent = true;
    return ctx.error();
  }
  SslPtr ssl(SSL_new(ctx->get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd->get()) != 1) return Error{"TLS: " + ssl_errors()};
  // Host name verification: the certificate must name the host given
  // (as an IP address SAN for an address literal).
  if (is_ip_literal(o.host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), o.host.c_str()) != 1) {
      return Error{"TLS: " + ssl_errors()};
    }
  } else {
    if (SSL_set1_host(ssl.get(), o.host.c_str()) != 1 || SSL_set_tlsext_host_name(ssl.get(), o.host.c_str()) != 1) {
      return Error{"TLS: " + ssl_errors()};
    }
  }
  for (;;) {
    ERR_clear_error();
    if (SSL_connect(ssl.get()) == 1) break;
    const int e = SSL_get_error(ssl.get(), 0);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(fd->get(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, flush)) {
        return Error{"TLS handshake with " + where(o) + " timed out"};
      }
      continue;
    }
    const long verify = SSL_get_verify_result(ssl.get());
    if (verify != X509_V_OK) {
      permanent = true;
      ERR_clear_error();
      return Error{"TLS: the certificate of " + where(o) + " is not trusted: " + X509_verify_cert_error_string(verify)};
    }
    return Error{"TLS handshake with " + where(o) + " failed: " +
                 (e == SSL_ERROR_SYSCALL && errno != 0 ? std::string(std::strerror(errno)) : ssl_errors())};
  }
  return std::unique_ptr<SyslogConnection>(
      std::make_unique<TlsConnection>(std::move(*fd), flush, std::move(*ctx), std::move(ssl)));
}

}  // namespace iocsweep::report_detail
