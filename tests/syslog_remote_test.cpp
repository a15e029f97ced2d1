// --syslog-server against a real rsyslogd (Debian's rsyslog, imtcp, and the
// gtls stream driver from rsyslog-gnutls) that the test starts on 127.0.0.1
// with its own configuration, certificates and work directory: every
// finding arrives over TCP and TLS, a certificate that does not verify is
// refused, a collector that is away or restarted mid-sweep loses nothing
// silently (the report counts what did not arrive).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "iocsweep/hash.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::run;
using test::RunResult;
using test::TempDir;
using test::write_file;
using namespace std::chrono_literals;

const std::string kBin = test::binary_under_test();

// Why rsyslogd cannot be used here, or "".
std::string rsyslog_missing(bool tls) {
  if (run({"sh", "-c", "command -v rsyslogd"}).exit_code != 0) return "rsyslogd is not installed (Debian: rsyslog)";
  if (!tls) return "";
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog", "/usr/lib/rsyslog",
                          "/usr/lib64/rsyslog"}) {
    if (std::filesystem::exists(std::string(dir) + "/lmnsd_gtls.so")) {
      if (run({"sh", "-c", "command -v openssl"}).exit_code != 0) return "the openssl command is not installed";
      return "";
    }
  }
  return "rsyslog's gtls driver (lmnsd_gtls.so, Debian: rsyslog-gnutls) is not installed";
}

// A TCP port on 127.0.0.1 that nothing listens on just now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

/// A collector that is not one, in a thread of the test, on 127.0.0.1:
/// kClose accepts each connection and closes it at once without reading
/// (a load balancer with no backend), kHold accepts and never reads,
/// kResetFirst reads 1000 bytes of the first connection and closes it with
/// the rest unread (a reset), then reads every later one to its end into
/// received().
class BadListener {
 public:
  enum Mode { kClose, kHold, kResetFirst };
  explicit BadListener(Mode mode) : mode_(mode) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("cannot listen");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~BadListener() {
    stop_ = true;
    thread_.join();
    for (const int c : held_) ::close(c);
    ::close(fd_);
  }
  BadListener(const BadListener&) = delete;
  BadListener& operator=(const BadListener&) = delete;
  int port() const { return port_; }
  int accepted() const { return accepted_; }
  /// kResetFirst: what the later connections carried; read after the
  /// sender is done.
  std::string received() const {
    std::lock_guard lock(m_);
    return received_;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      if (mode_ == kClose) {
        ::close(c);
      } else if (mode_ == kHold) {
        held_.push_back(c);
      } else {
        read_then_close(c, accepted_ == 1 ? 1000 : std::string::npos);
      }
    }
  }

  void read_then_close(int c, std::size_t most) {
    std::string got;
    char buf[4096];
    while (!stop_ && got.size() < most) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(c, buf, std::min(sizeof buf, most - got.size()), 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(c);
    if (most != std::string::npos) return;
    std::lock_guard lock(m_);
    received_ += got;
  }

  Mode mode_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::vector<int> held_;
  mutable std::mutex m_;
  std::string received_;
  std::thread thread_;
};

// A throwaway CA and a server certificate for DNS name "localhost" only
// (no IP address SAN: tls://127.0.0.1 must then be refused), made with the
// openssl command in `dir`; and a second CA that signed nothing.
void make_certificates(const TempDir& dir) {
  const std::string script =
      "set -e; cd '" + dir.path() +
      "'; key='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
      "openssl req -x509 $key -keyout ca.key -out ca.pem -days 2 -subj /CN=iocsweep-test-ca 2>/dev/null\n"
      "openssl req -x509 $key -keyout other.key -out other-ca.pem -days 2 -subj /CN=other-ca 2>/dev/null\n"
      "openssl req $key -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null\n"
      "printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext\n"
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
      "-extfile ext 2>/dev/null\n";
  const RunResult r = run({"sh", "-c", script});
  if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.err);
}

/// rsyslogd in the foreground with imtcp on 127.0.0.1:port (TLS through
/// gtls when `certs` is given), writing every message it receives, whole,
/// one per line, to `received`. Stopped (SIGTERM) when destroyed.
class Rsyslog {
 public:
  Rsyslog(const TempDir& dir, int port, const TempDir* certs, const std::string& received)
      : dir_(dir), port_(port), received_(received) {
    std::filesystem::create_directories(dir.path() + "/work");
    std::ostringstream conf;
    conf << "global(workDirectory=\"" << dir.path() << "/work\"";
    if (certs != nullptr) {
      conf << " DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"" << (*certs / "ca.pem")
           << "\" DefaultNetstreamDriverCertFile=\"" << (*certs / "server.pem") << "\" DefaultNetstreamDriverKeyFile=\""
           << (*certs / "server.key") << "\"";
    }
    conf << ")\n";
    if (certs != nullptr) {
      conf << "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" "
              "StreamDriver.AuthMode=\"anon\")\n";
    } else {
      conf << "module(load=\"imtcp\")\n";
    }
    conf << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << port << "\")\n"
         << "template(name=\"whole\" type=\"string\" string=\"%rawmsg%\\n\")\n"
         << "*.* action(type=\"omfile\" file=\"" << received << "\" template=\"whole\")\n";
    write_file(dir / "rsyslog.conf", conf.str());
    start();
  }
  ~Rsyslog() { stop(); }
  Rsyslog(const Rsyslog&) = delete;
  Rsyslog& operator=(const Rsyslog&) = delete;

  /// Starts it (again) and waits until its port takes connections.
  void start() {
    std::vector<std::string> args{"rsyslogd", "-n", "-f", dir_ / "rsyslog.conf", "-i", dir_ / "rsyslog.pid"};
    std::vector<char*> argv = test::exec_argv(args);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    const std::string log = dir_ / "rsyslogd.out";
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    const int rc = posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("cannot start rsyslogd");
    for (int i = 0; i < 500 && !port_open(port_); ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("rsyslogd exited: " + test::read_file(log));
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  /// Stops it: rsyslogd writes out what it received and exits.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    std::filesystem::remove(dir_ / "rsyslog.pid");
  }

 private:
  const TempDir& dir_;
  int port_;
  std::string received_;
  pid_t pid_ = -1;
};

// The finding paths in the messages of `file` (each once), and how many
// lines it has of each event.
struct Received {
  std::set<std::string> finding_paths;
  std::size_t findings = 0, started = 0, finished = 0;
};

Received received_in(const std::string& file) {
  Received r;
  std::istringstream in(std::filesystem::exists(file) ? test::read_file(file) : "");
  const std::regex path(R"re(event="finding" path="([^"]*)")re");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, path)) {
      r.finding_paths.insert(m[1]);
      ++r.findings;
    }
    if (line.find("event=\"scan_started\"") != std::string::npos) ++r.started;
    if (line.find("event=\"scan_finished\"") != std::string::npos) ++r.finished;
  }
  return r;
}

// A tree of `n` synthesised positives (one hash indicator matches them
// all: same bytes, `size` of them) and the indicator file for it.
void make_positives(const TempDir& tree, const TempDir& cfg, int n, std::size_t size = 64) {
  const std::string positive = "iocsweep syslog test positive " + std::string(size, 'p');
  for (int i = 0; i < n; ++i) write_file(tree / ("hit-" + std::to_string(1000 + i) + ".bin"), positive);
  write_file(cfg / "iocs.txt", sha256_hex(positive) + ";90;synthesised positive\n");
}

json report_of(const std::string& path) { return json::parse(test::read_file(path)); }

std::vector<std::string> scan_args(const TempDir& cfg, const TempDir& tree, const std::string& report,
                                   std::vector<std::string> more) {
  std::vector<std::string> args{kBin, "scan", "--no-builtin", "--iocs", cfg / "iocs.txt", "-o", report};
  args.insert(args.end(), more.begin(), more.end());
  args.push_back(tree.path());
  return args;
}

TEST(SyslogRemote, TcpDeliversEveryFinding) {
  if (const std::string why = rsyslog_missing(false); !why.empty()) GTEST_SKIP() << why;
  TempDir tree, cfg, daemon, out;
  constexpr int kFindings = 40;
  make_positives(tree, cfg, kFindings);
  const int port = free_port();
  Rsyslog rsyslog(daemon, port, nullptr, out / "received.log");
  const RunResult r =
      run(scan_args(cfg, tree, out / "r.json",
                    {"--syslog-server", "tcp://127.0.0.1:" + std::to_string(port), "--syslog-facility", "local4"}));
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.find("syslog"), std::string::npos) << r.err;
  rsyslog.stop();
  const Received got = received_in(out / "received.log");
  EXPECT_EQ(got.finding_paths.size(), static_cast<std::size_t>(kFindings));
  EXPECT_EQ(got.findings, static_cast<std::size_t>(kFindings));  // none twice
  EXPECT_EQ(got.started, 1u);
  EXPECT_EQ(got.finished, 1u);
  EXPECT_TRUE(got.finding_paths.count(tree / "hit-1000.bin"));
  // local4 (20) * 8 + critical (2): an alert finding.
  EXPECT_NE(test::read_file(out / "received.log").find("<162>1 "), std::string::npos);
  const json report = report_of(out / "r.json");
  EXPECT_EQ(report["stats"]["syslog_sent"], kFindings + 2);
  EXPECT_EQ(report["stats"]["syslog_undelivered"], 0);
}

TEST(SyslogRemote, TlsWithTheRightCaAndHostDelivers) {
  if (const std::string why = rsyslog_missing(true); !why.empty()) GTEST_SKIP() << why;
  TempDir tree, cfg, daemon, out, certs;
  make_certificates(certs);
  make_positives(tree, cfg, 5);
  const int port = free_port();
  Rsyslog rsyslog(daemon, port, &certs, out / "received.log");
  const RunResult r =
      run(scan_args(cfg, tree, out / "r.json",
                    {"--syslog-server", "tls://localhost:" + std::to_string(port), "--syslog-ca", certs / "ca.pem"}));
  ASSERT_EQ(r.exit_code, 1) << r.err;
  rsyslog.stop();
  const Received got = received_in(out / "received.log");
  EXPECT_EQ(got.finding_paths.size(), 5u);
  EXPECT_EQ(got.finished, 1u);
  const json report = report_of(out / "r.json");
  EXPECT_EQ(report["stats"]["syslog_sent"], 7);
  EXPECT_EQ(report["stats"]["syslog_undelivered"], 0);
}

// A collector whose certificate does not chain to --syslog-ca, or does not
// name the host connected to, gets nothing; every message is counted
// undelivered, and a sweep that found nothing exits 3, not 0.
TEST(SyslogRemote, TlsRefusesAWrongCaOrHostName) {
  if (const std::string why = rsyslog_missing(true); !why.empty()) GTEST_SKIP() << why;
  TempDir tree, clean, cfg, daemon, out, certs;
  make_certificates(certs);
  make_positives(tree, cfg, 3);
  write_file(clean / "nothing.txt", "nothing to see");
  const int port = free_port();
  const std::string p = std::to_string(port);
  Rsyslog rsyslog(daemon, port, &certs, out / "received.log");

  const RunResult wrong_ca = run(scan_args(
      cfg, tree, out / "ca.json", {"--syslog-server", "tls://localhost:" + p, "--syslog-ca", certs / "other-ca.pem"}));
  EXPECT_EQ(wrong_ca.exit_code, 1) << wrong_ca.err;
  EXPECT_NE(wrong_ca.err.find("not trusted"), std::string::npos) << wrong_ca.err;
  EXPECT_NE(wrong_ca.err.find("5 of 5 messages could not be sent"), std::string::npos) << wrong_ca.err;
  const json ca_report = report_of(out / "ca.json");
  EXPECT_EQ(ca_report["stats"]["syslog_sent"], 0);
  EXPECT_EQ(ca_report["stats"]["syslog_undelivered"], 5);
  EXPECT_EQ(ca_report["findings"].size(), 3u);  // the report has every finding

  // The certificate names localhost, not the address 127.0.0.1.
  const RunResult wrong_host = run(scan_args(
      cfg, clean, out / "host.json", {"--syslog-server", "tls://127.0.0.1:" + p, "--syslog-ca", certs / "ca.pem"}));
  EXPECT_EQ(wrong_host.exit_code, 3) << wrong_host.err;
  EXPECT_NE(wrong_host.err.find("not trusted"), std::string::npos) << wrong_host.err;
  EXPECT_EQ(report_of(out / "host.json")["stats"]["syslog_undelivered"], 2);

  rsyslog.stop();
  EXPECT_EQ(received_in(out / "received.log").started, 0u);
}

// Nobody listens: the messages wait in the queue, the scan still finishes
// with its report once --syslog-timeout is over, and each is counted.
TEST(SyslogRemote, CollectorAwayFromTheStartLosesNothingSilently) {
  if (const std::string why = rsyslog_missing(false); !why.empty()) GTEST_SKIP() << why;
  TempDir tree, clean, cfg, out;
  make_positives(tree, cfg, 3);
  write_file(clean / "nothing.txt", "nothing to see");
  const std::string server = "tcp://127.0.0.1:" + std::to_string(free_port());
  const RunResult r = run(scan_args(cfg, tree, out / "r.json", {"--syslog-server", server, "--syslog-timeout", "1"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("5 of 5 messages could not be sent"), std::string::npos) << r.err;
  const json report = report_of(out / "r.json");
  EXPECT_EQ(report["findings"].size(), 3u);
  EXPECT_EQ(report["stats"]["syslog_undelivered"], 5);
  EXPECT_EQ(report["stats"]["syslog_sent"], 0);

  const RunResult c = run(scan_args(cfg, clean, out / "c.json", {"--syslog-server", server, "--syslog-timeout", "0"}));
  EXPECT_EQ(c.exit_code, 3) << c.err;  // nothing found, but the syslog copy is incomplete
  EXPECT_EQ(report_of(out / "c.json")["stats"]["syslog_undelivered"], 2);
}

// A clean sweep with --syslog-timeout 2 sent to `listener`: what it says
// on stderr, after checking that it exited 3 with both its messages
// counted undelivered and none sent (that it ends at all, rather than
// waiting on the listener, is what ctest's timeout catches).
std::string clean_sweep_to(const BadListener& listener) {
  TempDir clean, cfg, out;
  make_positives(clean, cfg, 0);
  write_file(clean / "nothing.txt", "nothing to see");
  const std::string server = "tcp://127.0.0.1:" + std::to_string(listener.port());
  const RunResult c = run(scan_args(cfg, clean, out / "c.json", {"--syslog-server", server, "--syslog-timeout", "2"}));
  EXPECT_EQ(c.exit_code, 3) << c.err;
  EXPECT_NE(c.err.find("2 of 2 messages could not be sent"), std::string::npos) << c.err;
  const json report = report_of(out / "c.json");
  EXPECT_EQ(report["stats"]["syslog_sent"], 0);
  EXPECT_EQ(report["stats"]["syslog_undelivered"], 2);
  return c.err;
}

// The collector's kernel acknowledges what the listener never reads: a
// listener that accepts and closes at once, or that never reads, must not
// be counted as having received anything. The sender retries until
// --syslog-timeout, then counts every message undelivered: a clean sweep
// exits 3.
TEST(SyslogRemote, AListenerThatClosesUnreadIsNoDelivery) {
  BadListener listener(BadListener::kClose);
  clean_sweep_to(listener);
  EXPECT_GE(listener.accepted(), 1);

  TempDir tree, cfg, out;
  make_positives(tree, cfg, 3);
  const std::string server = "tcp://127.0.0.1:" + std::to_string(listener.port());
  const RunResult r = run(scan_args(cfg, tree, out / "r.json", {"--syslog-server", server, "--syslog-timeout", "1"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const json report = report_of(out / "r.json");
  EXPECT_EQ(report["stats"]["syslog_sent"], 0);
  EXPECT_EQ(report["stats"]["syslog_undelivered"], 5);
}

TEST(SyslogRemote, AListenerThatNeverReadsIsNoDelivery) {
  BadListener listener(BadListener::kHold);
  const std::string err = clean_sweep_to(listener);
  EXPECT_NE(err.find("did not close"), std::string::npos) << err;
  EXPECT_EQ(listener.accepted(), 1);
}

// A collector that reads part of what it was sent and drops the rest (its
// kernel had acknowledged all of it): every message held on that
// connection goes again on the next, which reads them all and closes
// cleanly after the half-close. Nothing is lost, all is counted sent.
TEST(SyslogRemote, ACollectorThatDropsWhatItAcknowledgedGetsItAgain) {
  TempDir tree, cfg, out;
  constexpr int kFindings = 200;
  make_positives(tree, cfg, kFindings);
  BadListener listener(BadListener::kResetFirst);
  const std::string server = "tcp://127.0.0.1:" + std::to_string(listener.port());
  const RunResult r = run(scan_args(cfg, tree, out / "r.json", {"--syslog-server", server, "--syslog-timeout", "20"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_GE(listener.accepted(), 2);
  const json report = report_of(out / "r.json");
  EXPECT_EQ(report["stats"]["syslog_sent"], kFindings + 2);
  EXPECT_EQ(report["stats"]["syslog_undelivered"], 0);
  std::set<std::string> paths;
  const std::string later = listener.received();
  const std::regex path(R"re(event="finding" path="([^"]*)")re");
  for (auto it = std::sregex_iterator(later.begin(), later.end(), path); it != std::sregex_iterator(); ++it) {
    paths.insert((*it)[1]);
  }
  EXPECT_EQ(paths.size(), static_cast<std::size_t>(kFindings)) << "a finding counted sent never arrived";
  EXPECT_NE(later.find("event=\"scan_finished\""), std::string::npos);
}

// A name that does not resolve is a start-up error, before the scan.
TEST(SyslogRemote, AnUnresolvableCollectorIsAStartupError) {
  TempDir clean, cfg, out;
  make_positives(clean, cfg, 0);
  const RunResult r =
      run(scan_args(cfg, clean, out / "r.json", {"--syslog-server", "tcp://no-such-collector.invalid:514"}));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot resolve"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out / "r.json"));
}

// rsyslogd stops and starts again while the sweep (slowed by --max-rate)
// goes on: the sender reconnects and the rest arrives at the new instance;
// every finding arrived at one of them or is counted undelivered.
TEST(SyslogRemote, CollectorRestartedMidSweep) {
  if (const std::string why = rsyslog_missing(false); !why.empty()) GTEST_SKIP() << why;
  TempDir tree, cfg, daemon, out;
  constexpr int kFindings = 120;
  make_positives(tree, cfg, kFindings, 4000);  // ~480 kB at 0.2 MB/s: over 2 s
  const int port = free_port();
  auto rsyslog = std::make_unique<Rsyslog>(daemon, port, nullptr, out / "first.log");
  std::vector<std::string> args = test::command_line(
      scan_args(cfg, tree, out / "r.json",
                {"--syslog-server", "tcp://127.0.0.1:" + std::to_string(port), "--max-rate", "0.2", "--threads", "1"}));
  std::vector<char*> argv = test::exec_argv(args);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string err = out / "stderr";
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  // Restart once some findings arrived and before the sweep is over.
  for (int i = 0; i < 1000 && received_in(out / "first.log").findings < 10; ++i) std::this_thread::sleep_for(10ms);
  rsyslog.reset();
  std::this_thread::sleep_for(300ms);
  Rsyslog second(daemon, port, nullptr, out / "second.log");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << test::read_file(err);
  second.stop();

  const Received first_got = received_in(out / "first.log");
  const Received second_got = received_in(out / "second.log");
  EXPECT_GE(first_got.findings, 10u);
  EXPECT_LT(first_got.findings, static_cast<std::size_t>(kFindings)) << "the restart came after the sweep";
  EXPECT_GT(second_got.findings, 0u) << "nothing arrived after the restart";
  EXPECT_EQ(second_got.finished, 1u);
  std::set<std::string> all = first_got.finding_paths;
  all.insert(second_got.finding_paths.begin(), second_got.finding_paths.end());
  const json report = report_of(out / "r.json");
  const std::uint64_t undelivered = report["stats"]["syslog_undelivered"];
  EXPECT_GE(all.size() + undelivered, static_cast<std::size_t>(kFindings))
      << "a finding neither arrived nor was counted undelivered";
}

}  // namespace
}  // namespace iocsweep
