// Scheduled-sweep plumbing on the built binary: CSV and syslog output,
// config files (--config / --dump-config) and --exclude-from.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "iocsweep/hash.hpp"
#include "iocsweep/output_file.hpp"
#include "report_support.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::parse_csv;
using test::run;
using test::RunResult;
using test::TempDir;
using test::write_file;

const std::string kBin = iocsweep::test::binary_under_test();

// The address of the Unix socket at `path`.
sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof addr.sun_path - 1));
  return addr;
}

TEST(Csv, OneRowPerMatchQuotedPerRfc4180WithExactPaths) {
  TempDir t, cfg;
  const std::string positive = test::synth_swift_engine();
  const std::string odd = t / "a,b \"quoted\"\nline.exe";
  const std::string not_utf8 = t / "bad\xff.exe";
  write_file(odd, positive);
  write_file(not_utf8, positive);
  write_file(t / "clean.txt", "nothing here");
  write_file(cfg / "iocs.txt", sha256_hex(positive) + ";95;synthesised engine, with comma\n");
  const RunResult r = run({kBin, "scan", "--format", "csv", "--iocs", cfg / "iocs.txt", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  bool crlf_only = false;
  const auto rows = parse_csv(r.out, &crlf_only);
  EXPECT_TRUE(crlf_only) << r.out;
  ASSERT_GE(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], "record");
  // The disk-image columns were added after "cached": the first 16 stay put.
  EXPECT_EQ(rows[0][15], "cached");
  EXPECT_EQ(rows[0][16], "disk_image");
  for (const auto& row : rows) EXPECT_EQ(row.size(), 36u) << row[0];
  std::map<std::string, std::set<std::string>> types_by_path;
  for (const auto& row : rows) {
    if (row[0] != "finding") continue;
    types_by_path[row[1]].insert(row[9]);
    EXPECT_EQ(row[8], sha256_hex(positive));
    EXPECT_EQ(row[5], "alert");
    if (row[9] == "hash:sha256") {
      EXPECT_EQ(row[10], sha256_hex(positive));
      EXPECT_EQ(row[12], "95");
      EXPECT_EQ(row[13], "synthesised engine, with comma");
    }
    if (row[1].find("bad") != std::string::npos) {
      EXPECT_EQ(row[2], to_hex(not_utf8)) << "path_hex keeps the exact bytes";
    } else {
      EXPECT_EQ(row[2], to_hex(odd)) << "the newline is escaped in the path, so path_hex has the bytes";
    }
  }
  const std::string odd_cell = t / "a,b \"quoted\"\\x0aline.exe";
  ASSERT_EQ(types_by_path.count(odd_cell), 1u) << "comma and quote survive quoting, the newline is escaped";
  EXPECT_TRUE(types_by_path[odd_cell].count("yara"));
  EXPECT_TRUE(types_by_path[odd_cell].count("hash:sha256"));
  EXPECT_EQ(types_by_path.size(), 2u);
  EXPECT_EQ(rows.back()[0], "scan_finished");
  EXPECT_NE(rows.back()[13].find("findings=2"), std::string::npos) << rows.back()[13];
}

// Cells are text a swept file chooses: no control character reaches a
// terminal or a line-based reader raw, and no cell starts a spreadsheet
// formula; path_hex keeps the bytes of any path whose cell differs.
TEST(Csv, ControlCharactersAreEscapedAndFormulasNeutralised) {
  TempDir t, cwd;
  const std::string esc = t / "esc\x1b[31m\r\x07\t.txt";
  write_file(esc, std::string(2048, 'x'));
  write_file(t / "plain", std::string(2048, 'x'));
  // A relative root, so that the path cell starts with '='.
  test::make_dir(cwd / "=HYPERLINK(1)");
  write_file(cwd / "=HYPERLINK(1)/big", std::string(2048, 'x'));
  const RunResult r = run({kBin, "scan", "--format", "csv", "--max-filesize", "1K", t.path(), "=HYPERLINK(1)"},
                          "/dev/null", cwd.path());
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.out.find('\x07'), std::string::npos);
  EXPECT_EQ(r.out.find('\t'), std::string::npos);
  bool crlf_only = false;
  const auto rows = parse_csv(r.out, &crlf_only);
  EXPECT_TRUE(crlf_only) << r.out;
  std::map<std::string, std::string> hex_by_path;
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 36u) << row[0];
    if (row[0] == "skipped") hex_by_path[row[1]] = row[2];
  }
  const std::string esc_cell = t / "esc\\x1b[31m\\x0d\\x07\\x09.txt";
  ASSERT_EQ(hex_by_path.count(esc_cell), 1u) << r.out;
  EXPECT_EQ(hex_by_path[esc_cell], to_hex(esc));
  ASSERT_EQ(hex_by_path.count("'=HYPERLINK(1)/big"), 1u) << r.out;
  EXPECT_EQ(hex_by_path["'=HYPERLINK(1)/big"], to_hex(std::string("=HYPERLINK(1)/big")));
  ASSERT_EQ(hex_by_path.count(t / "plain"), 1u) << r.out;
  EXPECT_EQ(hex_by_path[t / "plain"], "") << "a path shown as it is has no path_hex";
}

TEST(Csv, ErrorsAndSkippedEntriesAreRowsToo) {
  TempDir t;
  write_file(t / "locked", "x");
  ::chmod((t / "locked").c_str(), 0);
  const bool root = ::geteuid() == 0;  // root reads it anyway
  write_file(t / "big", std::string(2048, 'x'));
  const RunResult r = run({kBin, "scan", "--format", "csv", "--max-filesize", "1K", t.path()});
  bool crlf_only = false;
  const auto rows = parse_csv(r.out, &crlf_only);
  std::map<std::string, std::string> detail;
  for (const auto& row : rows) detail[row[0] + " " + row[1]] = row[13];
  if (!root) {
    EXPECT_NE(detail["error " + (t / "locked")].find("Permission denied"), std::string::npos);
  }
  EXPECT_EQ(detail["skipped " + (t / "big")], "too_large");
}

TEST(Csv, SkippedEntryCarriesReasonAndDetail) {
  TempDir t;
  write_file(t / "skip.iso", "x");
  const RunResult r = run({kBin, "scan", "--format", "csv", "--exclude", "*.iso", t.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool crlf_only = false;
  const auto rows = parse_csv(r.out, &crlf_only);
  bool seen = false;
  for (const auto& row : rows) {
    if (row[0] == "skipped" && row[1] == t / "skip.iso") {
      seen = true;
      EXPECT_EQ(row[13], "excluded: *.iso");
    }
  }
  EXPECT_TRUE(seen) << r.out;
}

// A SIEM reads the stream while the sweep runs: each record must arrive,
// whole and parseable, before the scan ends. --max-rate makes the sweep
// last seconds, so the records are read while the process is alive.
TEST(Ndjson, RecordsAreParseableLineByLineWhileTheScanRuns) {
  TempDir t;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  for (int i = 0; i < 4; ++i) write_file(t / ("pad" + std::to_string(i)), std::string(1'000'000, 'x'));
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  std::vector<std::string> command =
      test::command_line({kBin, "scan", "--format", "ndjson", "--threads", "1", "--max-rate", "1", t.path()});
  std::vector<char*> argv = test::exec_argv(command);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    ::close(out[1]);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string buffer;
  std::vector<json> records;
  bool first_seen_while_running = false;
  char chunk[4096];
  for (ssize_t n; (n = ::read(out[0], chunk, sizeof chunk)) > 0;) {
    buffer.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1)) {
      records.push_back(json::parse(buffer.substr(0, nl)));  // throws on a partial line
      if (records.size() == 1) {
        int status = 0;
        first_seen_while_running = ::waitpid(pid, &status, WNOHANG) == 0;
      }
    }
  }
  ::close(out[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_TRUE(buffer.empty()) << "trailing bytes without a newline: " << buffer;
  EXPECT_TRUE(first_seen_while_running) << "scan_started arrived only after the scan had ended";
  ASSERT_GE(records.size(), 3u);
  EXPECT_EQ(records.front()["record"], "scan_started");
  EXPECT_EQ(records.back()["record"], "scan_finished");
  EXPECT_EQ(records.back()["stats"]["findings"], 1);
}

/// A bound datagram socket standing in for /dev/log.
class SyslogListener {
 public:
  explicit SyslogListener(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const sockaddr_un addr = unix_address(path);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind");
  }
  ~SyslogListener() { ::close(fd_); }
  std::vector<std::string> drain() {
    std::vector<std::string> out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) break;
      out.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(Syslog, FindingsAsRfc5424MessagesWithStructuredData) {
  TempDir t, sock, out;
  const std::string positive = test::synth_swift_engine();
  write_file(t / "evil]\"name.exe", positive);
  write_file(t / "clean.txt", "nothing");
  SyslogListener listener(sock / "log");
  const RunResult r = run({kBin, "scan", "--syslog", "--syslog-socket", sock / "log", "--syslog-facility", "local3",
                           "-o", out / "report.json", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const auto messages = listener.drain();
  ASSERT_EQ(messages.size(), 3u);  // started, one finding, finished
  // <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG
  const std::regex header(
      R"(^<(\d+)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ iocsweep \d+ (\S+) \[iocsweep@32473 .*)");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(messages[0], m, header)) << messages[0];
  EXPECT_EQ(m[2], "scan_started");
  ASSERT_TRUE(std::regex_match(messages[1], m, header)) << messages[1];
  EXPECT_EQ(m[1], std::to_string(19 * 8 + 2)) << "local3, critical for an alert";
  EXPECT_EQ(m[2], "finding");
  const std::string& f = messages[1];
  const std::string escaped_path = t.path() + "/evil\\]\\\"name.exe";
  EXPECT_NE(f.find("path=\"" + escaped_path + "\""), std::string::npos) << f;
  EXPECT_NE(f.find("sha256=\"" + sha256_hex(positive) + "\""), std::string::npos) << f;
  EXPECT_NE(f.find("match=\"yara:builtin:"), std::string::npos) << f;
  EXPECT_NE(f.find("severity=\"alert\""), std::string::npos) << f;
  ASSERT_TRUE(std::regex_match(messages[2], m, header)) << messages[2];
  EXPECT_EQ(m[2], "scan_finished");
  EXPECT_NE(messages[2].find("findings=\"1\""), std::string::npos) << messages[2];
}

TEST(Syslog, StreamSocketGetsOctetCountedFrames) {
  TempDir t, sock, out;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  const std::string path = sock / "log";
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_un addr = unix_address(path);
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  std::string received;
  std::thread reader([&] {
    const int c = ::accept(listener, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    for (ssize_t n; (n = ::read(c, buf, sizeof buf)) > 0;) received.append(buf, static_cast<std::size_t>(n));
    ::close(c);
  });
  const RunResult r = run({kBin, "scan", "--syslog", "--syslog-socket", path, "-o", out / "r.json", t.path()});
  reader.join();
  ::close(listener);
  ASSERT_EQ(r.exit_code, 1) << r.err;
  // RFC 6587 octet counting: "LEN SP MSG", back to back.
  std::vector<std::string> frames;
  std::size_t pos = 0;
  while (pos < received.size()) {
    const std::size_t space = received.find(' ', pos);
    ASSERT_NE(space, std::string::npos) << received.substr(pos);
    const std::size_t len = std::stoul(received.substr(pos, space - pos));
    ASSERT_LE(space + 1 + len, received.size());
    frames.push_back(received.substr(space + 1, len));
    pos = space + 1 + len;
  }
  ASSERT_EQ(frames.size(), 3u) << received;
  EXPECT_EQ(frames[1].rfind("<10>1 ", 0), 0u) << frames[1];
  EXPECT_NE(frames[1].find(" finding [iocsweep@32473 "), std::string::npos) << frames[1];
}

TEST(Syslog, MissingSocketIsFatalBeforeScanning) {
  TempDir t;
  write_file(t / "a", "x");
  const RunResult r = run({kBin, "scan", "--syslog", "--syslog-socket", t / "no-such-socket", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no-such-socket"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(Config, DumpedConfigReadsBackToTheSameSettingsAndTakesEffect) {
  TempDir t, cfg;
  write_file(t / "keep.txt", "x");
  write_file(t / "drop.iso", "x");
  const RunResult dumped = run({kBin, "scan", "--exclude", "*.iso", "--threads", "1", "--max-filesize", "1M",
                                "--format", "json", "--quiet", "--dump-config", t.path()});
  ASSERT_EQ(dumped.exit_code, 0) << dumped.err;
  EXPECT_NE(dumped.out.find("[scan]"), std::string::npos);
  write_file(cfg / "sweep.toml", dumped.out);
  const RunResult again = run({kBin, "scan", "--config", cfg / "sweep.toml", "--dump-config"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, dumped.out);
  // And the file alone drives a scan: PATH, exclude, format all from it.
  const RunResult scanned = run({kBin, "scan", "--config", cfg / "sweep.toml"});
  ASSERT_EQ(scanned.exit_code, 0) << scanned.err;
  const json doc = json::parse(scanned.out);
  EXPECT_EQ(doc["stats"]["files_scanned"], 1);
  ASSERT_EQ(doc["skipped"].size(), 1u);
  EXPECT_EQ(doc["skipped"][0]["reason"], "excluded");
}

TEST(Config, CommandLineWinsOverTheFile) {
  TempDir t, cfg;
  write_file(t / "a.txt", "x");
  write_file(cfg / "c.ini", "[scan]\nformat = csv\nmax-filesize = 1K\n");
  const RunResult r = run({kBin, "scan", "--config", cfg / "c.ini", "--format", "json", "--dump-config", t.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("format = \"json\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("max-filesize = \"1K\""), std::string::npos) << r.out;
  // Also accepted before the subcommand.
  const RunResult before = run({kBin, "--config", cfg / "c.ini", "scan", "--dump-config", t.path()});
  EXPECT_NE(before.out.find("format = \"csv\""), std::string::npos) << before.out << before.err;
}

TEST(Config, MistakesNameFileAndLine) {
  TempDir t, cfg;
  write_file(t / "a.txt", "x");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[scan]\n# fine\nthreads = 999\n", ":3: --threads"},
      {"[scan]\nquiet = true\nbogus = 1\n", ":3: unknown setting 'bogus'"},
      {"threads = 2\n", ":1: 'threads' is outside a [scan] section"},
      {"[scan]\nexclude = [\"/a#b\"]\n", ":2: '#' inside the value"},
      {"[scan]\nformat = \"json\nquiet\n", ":2: unterminated quote"},
      {"[rules]\n", ":1: unknown section [rules]"},
      {"[scan]\nexclude = [\n\"*.iso\"]\n", ":2: the array of 'exclude' must be written on one line"},
      {"[scan]\nthreads = 2\nthreads = 3\n", ":3: 'threads' is set twice"},
  };
  for (const auto& [text, expected] : cases) {
    write_file(cfg / "c.toml", text);
    const RunResult r = run({kBin, "scan", "--config", cfg / "c.toml", t.path()});
    EXPECT_EQ(r.exit_code, 2) << text;
    EXPECT_NE(r.err.find(cfg / "c.toml" + expected), std::string::npos) << text << "\n" << r.err;
    EXPECT_EQ(r.out, "") << "nothing scanned";
  }
  const RunResult missing = run({kBin, "scan", "--config", cfg / "none.toml", t.path()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("none.toml"), std::string::npos) << missing.err;
}

TEST(Config, DumpRefusesValuesItCannotWriteBack) {
  TempDir t;
  const RunResult r = run({kBin, "scan", "--exclude", "*#*", "--dump-config", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'exclude'"), std::string::npos) << r.err;
}

TEST(ExcludeFrom, GlobsFromFileSkipMatchingEntries) {
  TempDir t, cfg;
  write_file(t / "keep.txt", "x");
  write_file(t / "drop.iso", "x");
  test::make_dir(t / "cache");
  write_file(t / "cache/c.bin", "x");
  write_file(cfg / "excludes", "# comment line\n\n*.iso\r\n" + t.path() + "/cache\n");
  const RunResult r = run({kBin, "scan", "--format", "json", "--exclude-from", cfg / "excludes", t.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["stats"]["files_scanned"], 1);
  std::set<std::string> skipped;
  for (const json& s : doc["skipped"])
    skipped.insert(s["path"].get<std::string>() + " " + s["detail"].get<std::string>());
  EXPECT_EQ(skipped, (std::set<std::string>{t / "drop.iso *.iso", t / "cache " + t.path() + "/cache"}));
}

TEST(ExcludeFrom, UnreadableFileIsFatal) {
  TempDir t;
  const RunResult r = run({kBin, "scan", "--exclude-from", t / "missing", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(t / "missing"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace iocsweep

namespace iocsweep {
namespace {

bool is_char_device(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

// Nothing is created before every option has been checked, and no two
// outputs may be the same file.
TEST(OutputFiles, ReportBaselineAndCacheMayNotNameTheSameFile) {
  TempDir t, out;
  write_file(t / "a.txt", "x");
  for (const auto& [first, second] : std::vector<std::pair<std::string, std::string>>{
           {"-o", "--cache"}, {"--write-baseline", "--cache"}, {"-o", "--write-baseline"}}) {
    const RunResult r = run({kBin, "scan", first, out / "same", second, out / "same", t.path()});
    EXPECT_EQ(r.exit_code, 2) << first << " " << second;
    EXPECT_NE(r.err.find("name the same file"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(out / "same")) << first << " " << second;
  }
  // The cache's -wal file counts as the cache.
  const RunResult wal = run({kBin, "scan", "-o", out / "db-wal", "--cache", out / "db", t.path()});
  EXPECT_EQ(wal.exit_code, 2) << wal.err;
  EXPECT_TRUE(std::filesystem::is_empty(out.path()));
}

TEST(OutputFiles, NoCacheOrReportIsCreatedWhenSyslogCannotBeReached) {
  TempDir t, out;
  write_file(t / "a.txt", "x");
  const RunResult r = run({kBin, "scan", "--syslog", "--syslog-socket", out / "no-socket", "--cache", out / "db", "-o",
                           out / "report.json", "--write-baseline", out / "base.json", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(std::filesystem::is_empty(out.path())) << "left behind after a start-up error";
}

// A second SIGINT/SIGTERM ends the process at once (exit 130), and removes
// the unfinished report, but never a device written in place (here the
// baseline). The scan is held where it cannot finish by itself: its first
// syslog message waits for room in a datagram socket whose queue the test
// has filled and never reads.
TEST(OutputFiles, SecondSignalExits130AndLeavesNoTemporaryFiles) {
  TempDir t, sock, out, dev;
  write_file(t / "a.txt", "x");
  const std::string null_device = dev / "null";
  const bool have_device = ::mknod(null_device.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  SyslogListener listener(sock / "log");
  const int filler = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(filler, 0);
  const std::string log_path = sock / "log";
  const sockaddr_un addr = unix_address(log_path);
  bool full = false;
  for (int i = 0; i < 100000 && !full; ++i) {
    full = ::sendto(filler, "x", 1, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0 &&
           errno == EAGAIN;
  }
  ::close(filler);
  ASSERT_TRUE(full) << "the listener's queue never filled";

  std::vector<std::string> args = test::command_line({kBin, "scan", "--no-builtin", "--syslog", "--syslog-socket",
                                                      log_path, "-o", out / "report.json", "--write-baseline",
                                                      have_device ? null_device : out / "base.json", t.path()});
  std::vector<char*> argv = test::exec_argv(args);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ASSERT_EQ(rc, 0);
  // The signal thread is the process's second thread: once it exists,
  // both signals are waited for and none kills the process outright.
  // qemu-user starts a thread of its own (for RCU) before the guest's main.
  const std::size_t wanted = test::under_emulator() ? 3 : 2;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  std::size_t threads = 0;
  for (int i = 0; i < 3000 && threads < wanted; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    threads = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(tasks, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
      ++threads;
    }
  }
  EXPECT_GE(threads, wanted);
  // Two different signals: two of the same may merge into one.
  ::kill(pid, SIGINT);
  ::kill(pid, SIGTERM);
  int status = 0;
  for (int i = 0; i < 3000 && ::waitpid(pid, &status, WNOHANG) != pid; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (i == 2999) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "still running after the second signal";
    }
  }
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 130);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(out.path())) left.push_back(e.path().filename());
  EXPECT_TRUE(left.empty()) << "left behind: " << left.front();
  EXPECT_TRUE(!have_device || is_char_device(null_device)) << "the device written in place was removed";
}

// A baseline replaces the old one: from a scan that did not look at
// everything it would drop accepted findings, so it is not written.
TEST(OutputFiles, BaselineIsNotReplacedByAnIncompleteScan) {
  TempDir t, out;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  const RunResult first = run({kBin, "scan", "-o", out / "r.json", "--write-baseline", out / "base.json", t.path()});
  ASSERT_EQ(first.exit_code, 1) << first.err;
  const std::string before = test::read_file(out / "base.json");
  ASSERT_NE(before.find("IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine"), std::string::npos) << before;
  const RunResult partial = run({kBin, "scan", "-o", out / "r.json", "--baseline", out / "base.json",
                                 "--write-baseline", out / "base.json", t.path(), t / "missing"});
  EXPECT_EQ(partial.exit_code, 3) << partial.err;  // the accepted finding does not count; an error does
  EXPECT_NE(partial.err.find("--write-baseline: not written"), std::string::npos) << partial.err;
  EXPECT_EQ(test::read_file(out / "base.json"), before);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(out.path())) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"base.json", "r.json"})) << "no temporary file left";
}

// Outputs as root among hostile local users: what -o and --write-baseline
// name is written, and nothing else. Device nodes are made in a temporary
// directory (/dev/null's numbers), so a failing test cannot break the host.

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// Makes a null device at `path` (as /dev/null: char 1,3), or skips the test.
#define MAKE_NULL_DEVICE_OR_SKIP(path)                                                  \
  if (::mknod((path).c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {                    \
    GTEST_SKIP() << "cannot make a device node (needs root): " << std::strerror(errno); \
  }

TEST(OutputTargets, CharacterDeviceIsWrittenInPlaceNotReplaced) {
  TempDir t, out;
  write_file(t / "a.txt", "x");
  const std::string dev = out / "null";
  MAKE_NULL_DEVICE_OR_SKIP(dev);
  const RunResult r = run({kBin, "scan", "--no-builtin", "-o", dev, t.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(is_char_device(dev)) << "the device node was replaced";
  EXPECT_EQ(names_in(out.path()), std::vector<std::string>{"null"}) << "a temporary file was left";
  // A report and a baseline may both go to the null device; a clean scan
  // writes both.
  const RunResult both = run({kBin, "scan", "--no-builtin", "-o", dev, "--write-baseline", dev, t.path()});
  EXPECT_EQ(both.exit_code, 0) << both.err;
  EXPECT_TRUE(is_char_device(dev));
  EXPECT_EQ(names_in(out.path()), std::vector<std::string>{"null"});
}

// A device written in place changes no file: it may lie inside the
// scanned tree (which skips it as a device), unlike a report file.
TEST(OutputTargets, DeviceInsideTheScannedTreeIsNoPlacementError) {
  TempDir t;
  write_file(t / "a.txt", "x");
  const std::string dev = t / "null";
  MAKE_NULL_DEVICE_OR_SKIP(dev);
  const RunResult r = run({kBin, "scan", "--no-builtin", "-o", dev, t.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(is_char_device(dev));
  EXPECT_EQ(names_in(t.path()), (std::vector<std::string>{"a.txt", "null"}));
  const RunResult file = run({kBin, "scan", "--no-builtin", "-o", t / "report.json", t.path()});
  EXPECT_EQ(file.exit_code, 2) << file.err;
  EXPECT_NE(file.err.find("lies inside the scanned path"), std::string::npos) << file.err;
}

TEST(OutputTargets, FifoGetsTheReportAndStaysAFifo) {
  TempDir t, out;
  write_file(t / "a.txt", "x");
  const std::string fifo = out / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The test holds a write end too, so the reader sees the end of the data
  // only after the test lets go of it (never before iocsweep has written).
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  const int holder = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(holder, 0);
  ASSERT_EQ(::fcntl(reader, F_SETFL, 0), 0);
  std::string received;
  std::thread drain([&] {
    char buf[4096];
    for (ssize_t n; (n = ::read(reader, buf, sizeof buf)) != 0;) {
      if (n > 0) received.append(buf, static_cast<std::size_t>(n));
      if (n < 0 && errno != EINTR) break;
    }
  });
  const RunResult r = run({kBin, "scan", "--no-builtin", "-o", fifo, t.path()});
  ::close(holder);
  drain.join();
  ::close(reader);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  EXPECT_EQ(names_in(out.path()), std::vector<std::string>{"pipe"});
  ASSERT_FALSE(received.empty()) << "nothing came through the FIFO";
  const json doc = json::parse(received);
  EXPECT_EQ(doc["stats"]["files_scanned"], 1) << received;
}

TEST(OutputTargets, StandardOutputSpellingsWriteToTheOpenDescriptor) {
  TempDir t;
  write_file(t / "a.txt", "x");
  for (const char* spelling : {"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"}) {
    const RunResult r = run({kBin, "scan", "--no-builtin", "-o", spelling, t.path()});
    EXPECT_EQ(r.exit_code, 0) << spelling << ": " << r.err;
    ASSERT_FALSE(r.out.empty()) << spelling;
    EXPECT_EQ(json::parse(r.out)["stats"]["files_scanned"], 1) << spelling;
  }
  struct stat st {};
  ASSERT_EQ(::lstat("/dev/stdout", &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "/dev/stdout was replaced";
  // The report and the baseline in one stream could not be told apart.
  const RunResult both =
      run({kBin, "scan", "--no-builtin", "-o", "/dev/stdout", "--write-baseline", "/dev/fd/1", t.path()});
  EXPECT_EQ(both.exit_code, 2) << both.err;
  EXPECT_TRUE(both.out.empty()) << both.out;
}

// A link another user planted where root writes its report is never
// written through, whatever it points at; it is refused and left alone.
TEST(OutputTargets, SymlinkOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (lchown to another user)";
  TempDir t, out, victims;
  write_file(t / "a.txt", "x");
  write_file(victims / "shadow", "precious");
  ASSERT_EQ(::mknod((victims / "disk").c_str(), S_IFBLK | 0600, makedev(7, 250)), 0) << std::strerror(errno);
  for (const std::string& target : {victims / "shadow", victims / "disk"}) {
    const std::string link = out / "report.json";
    ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
    ASSERT_EQ(::lchown(link.c_str(), 65534, 65534), 0);
    const RunResult r = run({kBin, "scan", "--no-builtin", "-o", link, t.path()});
    EXPECT_EQ(r.exit_code, 2) << target << ": " << r.err;
    EXPECT_NE(r.err.find("symbolic link owned by uid 65534"), std::string::npos) << r.err;
    struct stat st {};
    ASSERT_EQ(::lstat(link.c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the planted link was replaced";
    EXPECT_EQ(names_in(out.path()), std::vector<std::string>{"report.json"});
    ASSERT_EQ(::unlink(link.c_str()), 0);
  }
  EXPECT_EQ(test::read_file(victims / "shadow"), "precious");
  struct stat disk {};
  ASSERT_EQ(::lstat((victims / "disk").c_str(), &disk), 0);
  EXPECT_TRUE(S_ISBLK(disk.st_mode));
  EXPECT_EQ(names_in(victims.path()), (std::vector<std::string>{"disk", "shadow"}));
}

// The same for a link on the way to the output's directory: root does not
// create its report in a directory another user's link leads to, and a
// link of its own on the way is followed.
TEST(OutputTargets, DirectoryLinkOwnedByAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (lchown to another user)";
  TempDir t, out, victims;
  write_file(t / "a.txt", "x");
  ASSERT_EQ(::symlink(victims.path().c_str(), (out / "theirs").c_str()), 0);
  ASSERT_EQ(::lchown((out / "theirs").c_str(), 65534, 65534), 0);
  for (const char* option : {"-o", "--write-baseline"}) {
    const RunResult r = run({kBin, "scan", "--no-builtin", option, out / "theirs/report.json", t.path()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("symbolic link owned by uid 65534"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(names_in(victims.path()).empty()) << "written into the directory the link leads to";
  ASSERT_EQ(::symlink(victims.path().c_str(), (out / "mine").c_str()), 0);
  const RunResult mine = run({kBin, "scan", "--no-builtin", "-o", out / "mine/report.json", t.path()});
  EXPECT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_EQ(names_in(victims.path()), std::vector<std::string>{"report.json"});
}

// The user's own link (or root's) is followed: its target is replaced
// whole, and the link stays.
TEST(OutputTargets, OwnSymlinkIsFollowedAndKept) {
  TempDir t, out;
  write_file(t / "a.txt", "x");
  write_file(out / "dated.json", "old report");
  ASSERT_EQ(::symlink("dated.json", (out / "latest.json").c_str()), 0);
  const RunResult r = run({kBin, "scan", "--no-builtin", "-o", out / "latest.json", t.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  ASSERT_EQ(::lstat((out / "latest.json").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the link was replaced";
  EXPECT_EQ(json::parse(test::read_file(out / "dated.json"))["stats"]["files_scanned"], 1);
  EXPECT_EQ(names_in(out.path()), (std::vector<std::string>{"dated.json", "latest.json"}));
}

// A FIFO or device another user made where root will write is theirs to
// read: refused. Block devices, sockets and directories are never targets.
TEST(OutputTargets, ForeignOrUnwritableKindsAreRefusedAndNothingIsCreated) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown, mknod)";
  TempDir t, out;
  write_file(t / "a.txt", "x");
  ASSERT_EQ(::mkfifo((out / "fifo").c_str(), 0666), 0);
  ASSERT_EQ(::chown((out / "fifo").c_str(), 65534, 65534), 0);
  ASSERT_EQ(::mknod((out / "blk").c_str(), S_IFBLK | 0600, makedev(7, 250)), 0);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  const sockaddr_un addr = unix_address(out / "sock");
  ASSERT_EQ(::bind(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  test::make_dir(out / "dir");
  const std::vector<std::string> before = names_in(out.path());
  for (const auto& [name, why] : std::vector<std::pair<std::string, std::string>>{
           {"fifo", "owned by uid 65534"}, {"blk", "block device"}, {"sock", "socket"}, {"dir", "directory"}}) {
    for (const char* option : {"-o", "--write-baseline"}) {
      const RunResult r = run({kBin, "scan", "--no-builtin", option, out / name, t.path()});
      EXPECT_EQ(r.exit_code, 2) << option << " " << name << ": " << r.err;
      EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
      EXPECT_EQ(names_in(out.path()), before) << option << " " << name;
    }
  }
  ::close(sock);
  struct stat st {};
  ASSERT_EQ(::lstat((out / "blk").c_str(), &st), 0);
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  ASSERT_EQ(::lstat((out / "fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

// The temporary file is written through the descriptor that created it: a
// name swapped for a link to a victim (possible in a directory others can
// write) is never opened, and the swap is not renamed into place.
TEST(OutputTargets, TemporaryFileSwappedForASymlinkIsNeverWrittenThroughNorRenamed) {
  TempDir out, victims;
  write_file(victims / "shadow", "precious");
  auto file = OutputFile::create(out / "report.json");
  ASSERT_TRUE(file) << file.error().message;
  std::vector<std::string> names = names_in(out.path());
  ASSERT_EQ(names.size(), 1u);
  const std::string temp = out / names[0];
  ASSERT_EQ(::unlink(temp.c_str()), 0);
  ASSERT_EQ(::symlink((victims / "shadow").c_str(), temp.c_str()), 0);
  (*file)->stream() << "report";
  const Status committed = (*file)->commit();
  EXPECT_FALSE(committed) << "renamed someone else's file into place";
  if (!committed) {
    EXPECT_NE(committed.error().message.find("replaced"), std::string::npos) << committed.error().message;
  }
  EXPECT_EQ(test::read_file(victims / "shadow"), "precious");
  struct stat st {};
  EXPECT_NE(::lstat((out / "report.json").c_str(), &st), 0) << "the destination was created";
  file->reset();
  EXPECT_EQ(test::read_file(victims / "shadow"), "precious");
}

}  // namespace
}  // namespace iocsweep
