// `iocsweep scan --pid / --processes` end to end, against processes the test
// starts: one that builds a marker in its heap at run time (the bytes never
// exist in a file), and one that deletes its own executable and runs on.
// As root, and as an unprivileged user (errors[] instead, exit 3).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "iocsweep/hash.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::TempDir;

const std::string kBin = test::binary_under_test();

// The marker, in two halves that are joined only in the child's heap. The
// rule names it in hex, so the rule text does not hold it either.
constexpr const char* kHalfA = "IOCSWEEP-HEAP-";
constexpr const char* kHalfB = "MARKER-7c1e";
std::string marker_hex() {
  std::string hex;
  char buf[4];
  for (const char* half : {kHalfA, kHalfB}) {
    for (const char* p = half; *p != '\0'; ++p) {
      std::snprintf(buf, sizeof buf, "%02X ", static_cast<unsigned char>(*p));
      hex += buf;
    }
  }
  return hex;
}

/// A child process, killed and reaped when this goes.
struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
};

// Starts python3 running `script`, which builds what it builds, writes one
// byte to stdout when ready and waits to be killed. It is python3 rather
// than a fork of this test: an instrumented test binary (ASan) maps
// terabytes of shadow memory, which is not what a sweep of a real process
// meets.
void start_python_child(Child& child, const std::string& script) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3 for the heap child";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  child.pid = ::fork();
  ASSERT_GE(child.pid, 0);
  if (child.pid == 0) {
    ::dup2(ready[1], 1);
    ::close(ready[0]);
    ::execl("/usr/bin/python3", "python3", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
}

// A child that joins the two halves in its heap at run time.
void start_heap_child(Child& child) {
  start_python_child(child, std::string("import os,sys,time\na = '") + kHalfA + "'\nb = '" + kHalfB +
                                "'\nm = ''.join([a, b])\nos.write(1, b'r')\nwhile True: time.sleep(60)\n");
}

// Starts a copy of python3 from `dir` that deletes its own executable,
// says so, and keeps running: what an implant that wipes itself leaves.
void start_deleted_child(const std::string& dir, Child& child, std::string& exe, std::string& sha256) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs /usr/bin/python3 for the self-deleting child";
  exe = dir + "/wiped-implant";
  std::filesystem::copy_file(std::filesystem::canonical("/usr/bin/python3"), exe);
  ::chmod(exe.c_str(), 0755);
  const std::string bytes = test::read_file(exe);
  Hasher h;
  h.begin(DigestSet().with(DigestKind::kSha256));
  h.update(test::bytes_of(bytes));
  sha256 = h.finish().hex(DigestKind::kSha256);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  child.pid = ::fork();
  ASSERT_GE(child.pid, 0);
  if (child.pid == 0) {
    ::dup2(ready[1], 1);
    ::close(ready[0]);
    ::execl(exe.c_str(), exe.c_str(), "-c",
            "import os,time\nos.unlink(os.readlink('/proc/self/exe'))\nos.write(1, b'r')\n"
            "while True: time.sleep(60)\n",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1) << "the child did not start";
  ::close(ready[0]);
  ASSERT_FALSE(std::filesystem::exists(exe)) << "the child did not delete its executable";
}

json run_json(const std::vector<std::string>& extra, int& exit_code, std::string* err = nullptr,
              const std::vector<std::string>& prefix = {}) {
  std::vector<std::string> args = prefix;
  args.insert(args.end(), {kBin, "scan", "--format", "json", "--no-builtin"});
  args.insert(args.end(), extra.begin(), extra.end());
  const test::RunResult r = test::run(args);
  exit_code = r.exit_code;
  if (err != nullptr) *err = r.err;
  return json::parse(r.out);
}

class ProcessCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::under_emulator()) GTEST_SKIP() << "process sweeps are tested natively, not under an emulator";
    rules_ = dir_ / "heap.yar";
    test::write_file(rules_, "rule heap_marker { meta: score = 90 strings: $m = { " + marker_hex() +
                                 "} condition: $m }\n"
                                 "rule file_only { strings: $m = { " +
                                 marker_hex() + "} condition: $m and filesize > 0 }\n");
  }
  TempDir dir_;
  std::string rules_;
};

const json* finding_at(const json& report, const std::string& prefix) {
  for (const json& f : report["findings"]) {
    if (f["path"].get<std::string>().rfind(prefix, 0) == 0) return &f;
  }
  return nullptr;
}

TEST_F(ProcessCli, MarkerBuiltInAHeapIsFoundAndItsRegionNamed) {
  Child child;
  ASSERT_NO_FATAL_FAILURE(start_heap_child(child));
  if (IsSkipped()) return;
  int code = -1;
  std::string err;
  const json report = run_json({"--rules", rules_, "--pid", std::to_string(child.pid)}, code, &err);
  EXPECT_EQ(code, 1) << err;
  const std::string mem = "/proc/" + std::to_string(child.pid) + "/mem@0x";
  const json* f = finding_at(report, mem);
  ASSERT_NE(f, nullptr) << report.dump(1);
  ASSERT_EQ((*f)["matches"].size(), 1u) << f->dump(1);  // file_only: filesize is undefined in memory
  EXPECT_EQ((*f)["matches"][0]["rule"], "heap_marker");
  const json& proc = (*f)["process"];
  EXPECT_EQ(proc["pid"], child.pid);
  EXPECT_EQ(proc["ppid"], ::getpid());
  EXPECT_EQ(proc["exe_deleted"], false);
  ASSERT_TRUE(proc.contains("region")) << f->dump(1);
  EXPECT_EQ(proc["region"]["perms"].get<std::string>().substr(0, 2), "rw");
  EXPECT_EQ(report["stats"]["processes_scanned"], 1);
  EXPECT_GT(report["stats"]["process_memory_bytes"].get<std::uint64_t>(), 0u);
  // Nothing is said of the test's own executable: no rule or indicator matched it.
  EXPECT_EQ(finding_at(report, "/proc/" + std::to_string(child.pid) + "/exe"), nullptr) << report.dump(1);
}

TEST_F(ProcessCli, BuiltInMemoryRuleFindsTheEngineStatusLinesBuiltAtRunTime) {
  // Both status lines of the SWIFT engine, joined only in the child's heap
  // from halves (neither line exists in a file or in this test's text).
  Child child;
  ASSERT_NO_FATAL_FAILURE(start_python_child(
      child,
      "import os,time\nh = 'patched)'\nm = [''.join(['PI (found, ', h]), ''.join(['PU (found, un', h])]\n"
      "os.write(1, b'r')\nwhile True: time.sleep(60)\n"));
  if (IsSkipped()) return;
  // The built-in pack, as a responder runs it.
  const test::RunResult r = test::run({kBin, "scan", "--format", "json", "--pid", std::to_string(child.pid)});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const json report = json::parse(r.out);
  const json* f = finding_at(report, "/proc/" + std::to_string(child.pid) + "/mem@0x");
  ASSERT_NE(f, nullptr) << report.dump(1);
  ASSERT_EQ((*f)["matches"].size(), 1u) << f->dump(1);
  EXPECT_EQ((*f)["matches"][0]["rule"], "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine_Memory");
  EXPECT_EQ((*f)["score"], 85);
}

TEST_F(ProcessCli, ProcessWhoseExecutableWasDeletedIsReportedAndItsHashStillMatches) {
  Child child;
  std::string exe, sha256;
  ASSERT_NO_FATAL_FAILURE(start_deleted_child(dir_.path(), child, exe, sha256));
  if (IsSkipped()) return;
  const std::string iocs = dir_ / "hashes.txt";
  test::write_file(iocs, sha256 + ";85;test: the deleted implant\n");
  int code = -1;
  std::string err;
  const json report = run_json({"--iocs", iocs, "--pid", std::to_string(child.pid)}, code, &err);
  EXPECT_EQ(code, 1) << err;
  const json* f = finding_at(report, "/proc/" + std::to_string(child.pid) + "/exe");
  ASSERT_NE(f, nullptr) << report.dump(1);
  EXPECT_EQ((*f)["process"]["exe"], exe);
  EXPECT_EQ((*f)["process"]["exe_deleted"], true);
  bool hash = false, observed = false;
  for (const json& m : (*f)["matches"]) {
    if (m["type"] == "hash") hash = m["value"] == sha256;
    if (m["type"] == "process") observed = m["observation"] == "process_exe_deleted";
  }
  EXPECT_TRUE(hash) << f->dump(1);
  EXPECT_TRUE(observed) << f->dump(1);
}

TEST_F(ProcessCli, EveryProcessIsSweptButItself) {
  Child child;
  ASSERT_NO_FATAL_FAILURE(start_heap_child(child));
  if (IsSkipped()) return;
  int code = -1;
  std::string err;
  const json report = run_json({"--rules", rules_, "--processes"}, code, &err);
  // Exit 1: the marker. Other processes of this machine may be unreadable
  // (none is, as root) but none may be missing from the accounts.
  EXPECT_TRUE(code == 1 || code == 3) << err;
  EXPECT_NE(finding_at(report, "/proc/" + std::to_string(child.pid) + "/mem@0x"), nullptr) << report.dump(1);
  EXPECT_TRUE(report["scan"]["processes"]["all"].get<bool>());
  bool self = false, kernel = false;
  for (const json& s : report["skipped"]) {
    self = self || s["reason"] == "self";
    kernel = kernel || s["reason"] == "kernel_thread";
  }
  EXPECT_TRUE(self) << report["skipped"].dump(1);
  EXPECT_TRUE(kernel) << "pid 2 (kthreadd) is a kernel thread";
  EXPECT_GT(report["stats"]["processes_scanned"].get<int>(), 1);
}

// RFC 4180 rows (CRLF ends, quoted cells with doubled quotes).
std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(std::move(cell));
      cell.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(std::move(cell));
      cell.clear();
      rows.emplace_back();
      ++i;
    } else {
      cell += c;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

TEST_F(ProcessCli, CsvRowsNameTheProcessAndRegionInTheirOwnColumns) {
  Child child;
  ASSERT_NO_FATAL_FAILURE(start_heap_child(child));
  if (IsSkipped()) return;
  const test::RunResult r = test::run(
      {kBin, "scan", "--format", "csv", "--no-builtin", "--rules", rules_, "--pid", std::to_string(child.pid)});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto rows = csv_rows(r.out);
  ASSERT_GE(rows.size(), 3u) << r.out;
  const std::vector<std::string>& header = rows.front();
  const auto col = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? std::size_t{0} : static_cast<std::size_t>(it - header.begin());
  };
  ASSERT_EQ(header.size(), 36u) << r.out;
  ASSERT_NE(col("pid"), 0u);
  ASSERT_NE(col("region_path"), 0u);
  const std::vector<std::string>* finding = nullptr;
  for (const auto& row : rows) {
    EXPECT_EQ(row.size(), header.size()) << "every row has every column";
    if (row[0] == "finding" && row[col("match")] == "heap_marker") finding = &row;
  }
  ASSERT_NE(finding, nullptr) << r.out;
  const std::vector<std::string>& f = *finding;
  EXPECT_EQ(f[col("pid")], std::to_string(child.pid));
  EXPECT_EQ(f[col("ppid")], std::to_string(::getpid()));
  EXPECT_EQ(f[col("uid")], std::to_string(::getuid()));
  EXPECT_EQ(f[col("exe_deleted")], "false");
  EXPECT_EQ(f[col("process_part")], "memory");
  EXPECT_EQ(f[col("region_start")].rfind("0x", 0), 0u) << f[col("region_start")];
  EXPECT_EQ(f[col("region_perms")].substr(0, 2), "rw");
  EXPECT_EQ(f[col("path")], "/proc/" + std::to_string(child.pid) + "/mem@" + f[col("region_start")]);
  // The child's command line holds its script, newlines and quotes
  // included: one cell, the newlines written as \x0a.
  const std::string& cmdline = f[col("process_cmdline")];
  EXPECT_EQ(cmdline.rfind("python3 -c import os,sys,time\\x0a", 0), 0u) << cmdline;
  EXPECT_EQ(cmdline.find('\n'), std::string::npos);
}

TEST_F(ProcessCli, SyslogMessageCarriesTheProcessAndRegion) {
  Child child;
  ASSERT_NO_FATAL_FAILURE(start_heap_child(child));
  if (IsSkipped()) return;
  const std::string sock = dir_ / "log";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  const test::RunResult r = test::run({kBin, "scan", "--no-builtin", "--rules", rules_, "--syslog", "--syslog-socket",
                                       sock, "-o", dir_ / "report.json", "--pid", std::to_string(child.pid)});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::string finding;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) break;
    const std::string message(buf, static_cast<std::size_t>(n));
    if (message.find("event=\"finding\"") != std::string::npos) finding = message;
  }
  ::close(fd);
  ASSERT_FALSE(finding.empty()) << r.err;
  EXPECT_NE(finding.find(" pid=\"" + std::to_string(child.pid) + "\" ppid=\"" + std::to_string(::getpid()) + "\""),
            std::string::npos)
      << finding;
  EXPECT_NE(finding.find(" exe_deleted=\"false\" part=\"memory\" region_start=\"0x"), std::string::npos) << finding;
  EXPECT_NE(finding.find(" region_perms=\"rw"), std::string::npos) << finding;
  EXPECT_NE(finding.find(" process_name=\"python3\""), std::string::npos) << finding;
  EXPECT_NE(finding.find(" cmdline=\"python3 -c import os,sys,time\\x0a"), std::string::npos) << finding;
  EXPECT_NE(finding.find(" match=\"yara:"), std::string::npos) << finding;
}

TEST_F(ProcessCli, MissingPidIsAnErrorAndTheSweepIsIncomplete) {
  // Pids above pid_max never exist.
  int code = -1;
  const json report = run_json({"--rules", rules_, "--pid", "2147483646"}, code);
  EXPECT_EQ(code, 3);
  ASSERT_EQ(report["errors"].size(), 1u) << report.dump(1);
  EXPECT_EQ(report["errors"][0]["path"], "/proc/2147483646/exe");
}

TEST_F(ProcessCli, UnprivilegedSweepReportsWhatItCouldNotReadAndExits3) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to start a sweep as another user";
  if (::access("/usr/bin/setpriv", X_OK) != 0) GTEST_SKIP() << "needs setpriv (util-linux)";
  Child child;  // runs as root
  ASSERT_NO_FATAL_FAILURE(start_heap_child(child));
  if (IsSkipped()) return;
  // The binary and the rules where the unprivileged user can read them.
  TempDir open_dir;
  ::chmod(open_dir.path().c_str(), 0755);
  const std::string bin = open_dir / "iocsweep", rules = open_dir / "heap.yar";
  std::filesystem::copy_file(kBin, bin);
  std::filesystem::copy_file(rules_, rules);
  ::chmod(bin.c_str(), 0755);
  ::chmod(rules.c_str(), 0644);
  const test::RunResult r =
      test::run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "scan", "--format",
                 "json", "--no-builtin", "--rules", rules, "--pid", std::to_string(child.pid)},
                "/dev/null", open_dir.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const json report = json::parse(r.out);
  EXPECT_TRUE(report["findings"].empty()) << report.dump(1);
  bool denied = false;
  for (const json& e : report["errors"]) {
    denied = denied || (e["error"].get<std::string>().find("permission denied") != std::string::npos &&
                        e["process"]["pid"] == child.pid);
  }
  EXPECT_TRUE(denied) << report["errors"].dump(1);
}

}  // namespace
}  // namespace iocsweep
