// Integration tests on trees an attacker could have shaped: odd names,
// depth, links, special files, sparse and huge files, permissions, signals.
// Each runs the built binary with a generous time bound.
#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <utime.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "iocsweep/common.hpp"
#include "iocsweep/hash.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::TempDir;
using test::write_file;

const std::string kBin = iocsweep::test::binary_under_test();
constexpr const char* kEngineRule = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine";

struct Proc {
  int exit_code = -1;
  bool timed_out = false;
  std::string out, err;
  double seconds = 0;
};

/// Runs iocsweep with `args`, optionally as another user, optionally sending
/// `signal_after` (signal, delay) once; kills it after `timeout`.
Proc run_bin(const std::vector<std::string>& args, std::chrono::seconds timeout = std::chrono::seconds(120),
             uid_t uid = 0, std::pair<int, std::chrono::milliseconds> signal_after = {0, {}}) {
  TempDir io;
  ::chmod(io.path().c_str(), 0777);
  const std::string out_path = io / "out", err_path = io / "err";
  std::vector<std::string> command{kBin};
  command.insert(command.end(), args.begin(), args.end());
  command = test::command_line(std::move(command));
  std::vector<char*> argv = test::exec_argv(command);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    const int in = ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (uid != 0) {
      ::setgroups(0, nullptr);
      if (::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(99);
    }
    ::execvp(argv[0], argv.data());
    ::_exit(98);
  }
  Proc p;
  bool signalled = signal_after.first == 0;
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (!signalled && elapsed >= signal_after.second) {
      ::kill(pid, signal_after.first);
      signalled = true;
    }
    if (elapsed > timeout) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      p.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  p.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  p.out = test::read_file(out_path);
  p.err = test::read_file(err_path);
  return p;
}

json parse(const Proc& p) {
  EXPECT_FALSE(p.timed_out) << "timed out";
  try {
    return json::parse(p.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\nstderr: " << p.err;
    return json::object();
  }
}

std::set<std::string> finding_paths(const json& doc) {
  std::set<std::string> out;
  for (const json& f : doc["findings"]) out.insert(f.value("path", ""));
  return out;
}

std::map<std::string, std::string> skipped_reasons(const json& doc) {
  std::map<std::string, std::string> out;
  for (const json& s : doc["skipped"]) out[s["path"]] = s["reason"];
  return out;
}

TEST(Hostile, OddNamesAreReportedExactly) {
  TempDir t;
  const std::string positive = test::synth_swift_engine();
  const std::vector<std::string> names = {
      "invalid\xC3\x28utf8.exe", "new\nline.exe", "ctrl\x01\x1b[31m.exe", "-rf.exe", "--help",
      std::string(255, 'n'),  // the longest name Linux allows
  };
  for (const auto& n : names) write_file(t / n, positive);
  Proc p = run_bin({"scan", "--threads", "2", t.path()});
  ASSERT_EQ(p.exit_code, 1) << p.err;
  json doc = parse(p);
  ASSERT_EQ(doc["findings"].size(), names.size());
  std::set<std::string> reported;
  for (const json& f : doc["findings"]) {
    // path_hex, when present, carries the exact bytes.
    reported.insert(f.contains("path_hex") ? std::string() + "hex:" + f["path_hex"].get<std::string>()
                                           : f["path"].get<std::string>());
  }
  for (const auto& n : names) {
    const std::string full = t / n;
    EXPECT_TRUE(reported.count(is_valid_utf8(full) ? full : "hex:" + to_hex(std::string_view(full))))
        << escape_for_terminal(full);
  }
}

TEST(Hostile, LeadingDashRootAfterDoubleDash) {
  TempDir t;
  write_file(t / "-evil.exe", test::synth_swift_engine());
  // Relative path starting with '-', passed after "--".
  const std::string cwd_before = std::filesystem::current_path();
  std::filesystem::current_path(t.path());
  Proc p = run_bin({"scan", "--", "-evil.exe"});
  std::filesystem::current_path(cwd_before);
  EXPECT_EQ(p.exit_code, 1) << p.err;
}

TEST(Hostile, DeeperThanPathMaxWithPositiveAtTheBottom) {
  TempDir t;
  const std::string name(200, 'd');
  int dirfd = ::open(t.path().c_str(), O_RDONLY | O_DIRECTORY);
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(::mkdirat(dirfd, name.c_str(), 0755), 0);
    const int next = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY);
    ::close(dirfd);
    dirfd = next;
  }
  const std::string positive = test::synth_swift_engine();
  const int fd = ::openat(dirfd, "bottom.exe", O_WRONLY | O_CREAT, 0644);
  ASSERT_EQ(::write(fd, positive.data(), positive.size()), static_cast<ssize_t>(positive.size()));
  ::close(fd);
  ::close(dirfd);
  Proc p = run_bin({"scan", t.path()});
  ASSERT_EQ(p.exit_code, 1) << p.err;
  json doc = parse(p);
  ASSERT_EQ(doc["findings"].size(), 1u);
  EXPECT_GT(doc["findings"][0]["path"].get<std::string>().size(), 8000u);
  EXPECT_TRUE(doc["errors"].empty()) << doc["errors"].dump();
}

TEST(Hostile, SymlinkLoopsAndLinksOutOfTheRoot) {
  TempDir t, outside;
  write_file(outside / "positive.exe", test::synth_swift_engine());
  ASSERT_EQ(::symlink(".", (t / "self").c_str()), 0);
  ASSERT_EQ(::symlink(outside.path().c_str(), (t / "out_dir").c_str()), 0);
  ASSERT_EQ(::symlink((outside / "positive.exe").c_str(), (t / "out_file").c_str()), 0);
  write_file(t / "benign", "x");
  Proc p = run_bin({"scan", t.path()}, std::chrono::seconds(60));
  ASSERT_EQ(p.exit_code, 0) << p.err;
  json doc = parse(p);
  EXPECT_EQ(doc["stats"]["symlinks_not_followed"], 3);
  EXPECT_EQ(doc["stats"]["files_scanned"], 1);

  // With --follow-symlinks the positive is reached and the loop is cut.
  Proc f = run_bin({"scan", "--follow-symlinks", t.path()}, std::chrono::seconds(60));
  ASSERT_EQ(f.exit_code, 1) << f.err;
  json fdoc = parse(f);
  EXPECT_EQ(finding_paths(fdoc), (std::set<std::string>{t / "out_dir/positive.exe", t / "out_file"}));
  EXPECT_EQ(skipped_reasons(fdoc)[t / "self"], "symlink_loop");
}

TEST(Hostile, SpecialFilesAreNeverOpened) {
  TempDir t;
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0666), 0);
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock = t / "sock";
  std::copy(sock.begin(), sock.end(), addr.sun_path);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(s);
  bool have_device = ::mknod((t / "zero").c_str(), S_IFCHR | 0666, makedev(1, 5)) == 0;  // like /dev/zero
  Proc p = run_bin({"scan", t.path(), t / "fifo"}, std::chrono::seconds(60));
  ASSERT_EQ(p.exit_code, 0) << p.err;
  json doc = parse(p);
  auto reasons = skipped_reasons(doc);
  EXPECT_EQ(reasons[t / "fifo"], "special");
  EXPECT_EQ(reasons[t / "sock"], "special");
  if (have_device) {
    EXPECT_EQ(reasons[t / "zero"], "special");
  }
  EXPECT_EQ(doc["stats"]["files_scanned"], 0);
}

TEST(Hostile, HugeSparseFileIsNeverRead) {
  TempDir t;
  const int fd = ::open((t / "sparse.img").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 20ll << 30), 0);  // 20 GiB, no blocks
  ::close(fd);
  Proc p = run_bin({"scan", t.path()}, std::chrono::seconds(30));
  // Not read, so not known clean: exit 3.
  ASSERT_EQ(p.exit_code, 3) << p.err;
  json doc = parse(p);
  EXPECT_EQ(skipped_reasons(doc)[t / "sparse.img"], "too_large");
  EXPECT_EQ(doc["stats"]["bytes_scanned"], 0);
}

TEST(Hostile, HardLinksAreEachReported) {
  TempDir t;
  write_file(t / "a.exe", test::synth_swift_engine());
  ASSERT_EQ(::link((t / "a.exe").c_str(), (t / "b.exe").c_str()), 0);
  Proc p = run_bin({"scan", t.path()});
  ASSERT_EQ(p.exit_code, 1) << p.err;
  EXPECT_EQ(finding_paths(parse(p)), (std::set<std::string>{t / "a.exe", t / "b.exe"}));
}

TEST(Hostile, TwentyThousandFilesInOneDirectory) {
  TempDir t;
  for (int i = 0; i < 20000; ++i) write_file(t / ("f" + std::to_string(i)), std::to_string(i));
  write_file(t / "f12345.exe", test::synth_swift_engine());
  Proc p = run_bin({"scan", "--threads", "2", t.path()}, std::chrono::seconds(180));
  ASSERT_EQ(p.exit_code, 1) << p.err;
  json doc = parse(p);
  EXPECT_EQ(doc["stats"]["files_scanned"], 20001);
  EXPECT_EQ(finding_paths(doc), (std::set<std::string>{t / "f12345.exe"}));
}

TEST(Hostile, OldAccessTimesSurviveTheSweep) {
  TempDir t;
  test::make_dir(t / "dir");
  write_file(t / "dir/old.txt", "evidence");
  struct utimbuf old {};
  old.actime = 1000000000;
  old.modtime = 1000000000;
  ASSERT_EQ(::utime((t / "dir/old.txt").c_str(), &old), 0);
  ASSERT_EQ(::utime((t / "dir").c_str(), &old), 0);
  Proc p = run_bin({"scan", t.path()});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_EQ(parse(p)["stats"]["files_read_without_noatime"], 0);
  struct stat st {};
  ASSERT_EQ(::stat((t / "dir/old.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_atime, 1000000000);
  ASSERT_EQ(::stat((t / "dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_atime, 1000000000) << "listing the directory changed its atime";
}

class AsUnprivileged : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
    const passwd* pw = ::getpwnam("nobody");
    if (pw == nullptr) GTEST_SKIP() << "no user nobody";
    uid_ = pw->pw_uid;
  }
  uid_t uid_ = 0;
};

TEST_F(AsUnprivileged, UnreadableFilesAndDirectoriesAreErrorsAndTheSweepGoesOn) {
  TempDir t;
  ::chmod(t.path().c_str(), 0755);
  // The root is nobody's: only the file below is listed as read without
  // O_NOATIME (directories are checked in the next test).
  ASSERT_EQ(::chown(t.path().c_str(), uid_, uid_), 0);
  write_file(t / "readable.exe", test::synth_swift_engine());
  write_file(t / "secret.txt", "x");
  ::chmod((t / "secret.txt").c_str(), 0000);
  test::make_dir(t / "locked");
  write_file(t / "locked/inner.exe", test::synth_swift_engine());
  ::chmod((t / "locked").c_str(), 0000);
  Proc p = run_bin({"scan", t.path()}, std::chrono::seconds(60), uid_);
  ASSERT_EQ(p.exit_code, 1) << p.err;  // the readable positive still counts
  json doc = parse(p);
  std::map<std::string, std::string> errors;
  for (const json& e : doc["errors"]) errors[e["path"]] = e["error"];
  EXPECT_EQ(errors[t / "secret.txt"], "Permission denied");
  EXPECT_EQ(errors[t / "locked"], "Permission denied");
  EXPECT_EQ(finding_paths(doc), (std::set<std::string>{t / "readable.exe"}));
  // Files owned by root, read by nobody: O_NOATIME is refused, and counted.
  EXPECT_EQ(doc["stats"]["files_read_without_noatime"], 1);
  ASSERT_EQ(doc["atime_not_preserved"].size(), 1u);
  EXPECT_EQ(doc["atime_not_preserved"][0]["path"], t / "readable.exe");

  // With --strict-atime such files are skipped instead of read.
  Proc s = run_bin({"scan", "--strict-atime", t.path()}, std::chrono::seconds(60), uid_);
  json sdoc = parse(s);
  EXPECT_EQ(skipped_reasons(sdoc)[t / "readable.exe"], "atime_not_preservable");
  EXPECT_EQ(sdoc["stats"]["files_read_without_noatime"], 0);
  EXPECT_EQ(s.exit_code, 3) << s.err;
}

TEST_F(AsUnprivileged, DirectoriesListedWithoutNoatimeAreReportedOrSkippedWhenStrict) {
  TempDir t;
  ::chmod(t.path().c_str(), 0755);
  ASSERT_EQ(::chown(t.path().c_str(), uid_, uid_), 0);
  // "mine" is nobody's and can be listed with O_NOATIME; "theirs" is
  // root's, so nobody lists it only by changing its access time.
  for (const char* d : {"mine", "theirs"}) {
    test::make_dir(t / d);
    write_file(t / d + "/f.txt", "x");
    ASSERT_EQ(::chown((t / d + "/f.txt").c_str(), uid_, uid_), 0);
  }
  ASSERT_EQ(::chown((t / "mine").c_str(), uid_, uid_), 0);
  struct utimbuf old {};
  old.actime = 1000000000;
  old.modtime = 1000000000;
  ASSERT_EQ(::utime((t / "theirs").c_str(), &old), 0);

  Proc s = run_bin({"scan", "--strict-atime", t.path()}, std::chrono::seconds(60), uid_);
  // What --strict-atime left unread was not looked at: exit 3.
  ASSERT_EQ(s.exit_code, 3) << s.err;
  json sdoc = parse(s);
  EXPECT_EQ(skipped_reasons(sdoc), (std::map<std::string, std::string>{{t / "theirs", "atime_not_preservable"}}));
  EXPECT_EQ(sdoc["stats"]["files_scanned"], 1);
  EXPECT_EQ(sdoc["stats"]["files_read_without_noatime"], 0);
  EXPECT_TRUE(sdoc["atime_not_preserved"].empty());
  struct stat st {};
  ASSERT_EQ(::stat((t / "theirs").c_str(), &st), 0);
  EXPECT_EQ(st.st_atime, 1000000000) << "--strict-atime listed a directory it could not list with O_NOATIME";

  Proc p = run_bin({"scan", t.path()}, std::chrono::seconds(60), uid_);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  json doc = parse(p);
  EXPECT_EQ(doc["stats"]["files_scanned"], 2);
  EXPECT_EQ(doc["stats"]["files_read_without_noatime"], 1);
  ASSERT_EQ(doc["atime_not_preserved"].size(), 1u);
  EXPECT_EQ(doc["atime_not_preserved"][0]["path"], t / "theirs");
}

TEST(Hostile, SigtermGivesACompleteJsonReportMarkedIncomplete) {
  TempDir t, cfg;
  // A rule that takes long on every file, so the scan is still running
  // when the signal comes.
  write_file(cfg / "slow.yar",
             "rule slow { condition: for all i in (0..filesize) : ( for all j in (0..filesize) : "
             "(uint8(i) != 0xFF or uint8(j) != 0xFE) ) }");
  for (int i = 0; i < 40; ++i) write_file(t / ("f" + std::to_string(i)), std::string(100000, 'a'));
  // Also with --cache, whose writer thread must not be where the kernel
  // delivers the signal (found in review: it was, and the sweep died with
  // no report).
  for (const bool cached : {false, true}) {
    SCOPED_TRACE(cached ? "with --cache" : "without a cache");
    TempDir cache;
    std::vector<std::string> args = {
        "scan", "--no-builtin", "--rules",          cfg / "slow.yar", "--timeout", "1", "--threads",
        "2",    "-o",           cfg / "report.json"};
    if (cached) args.insert(args.end(), {"--cache", cache / "cache.db"});
    args.push_back(t.path());
    Proc p = run_bin(args, std::chrono::seconds(60), 0, {SIGTERM, std::chrono::milliseconds(1500)});
    EXPECT_FALSE(p.timed_out);
    EXPECT_LT(p.seconds, 20.0);
    EXPECT_EQ(p.exit_code, 3) << p.err;
    json doc = json::parse(test::read_file(cfg / "report.json"));
    EXPECT_EQ(doc["scan"]["complete"], false);
    EXPECT_LT(doc["stats"]["files_scanned"].get<int>(), 40);
    // No temporary file is left beside the report.
    int entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(cfg.path())) ++entries;
    EXPECT_EQ(entries, 2);  // slow.yar and report.json
  }
}

TEST(Hostile, ClosedStdoutEndsQuietly) {
  TempDir t;
  for (int i = 0; i < 200; ++i) write_file(t / ("f" + std::to_string(i) + ".exe"), test::synth_swift_engine());
  TempDir io;
  const std::string err_path = io / "err";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // nobody will ever read
  std::vector<std::string> command = test::command_line({kBin, "scan", t.path()});
  std::vector<char*> argv = test::exec_argv(command);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(err, 2);
    ::execvp(argv[0], argv.data());
    ::_exit(98);
  }
  ::close(fds[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_EQ(test::read_file(err_path), "");  // no message for a reader that went away
}

}  // namespace
}  // namespace iocsweep
