// Integration tests of the throttling options on the built binary: the
// priority of every thread of a running scan read from /proc, the byte
// rate measured end to end, and the load pause ended by SIGINT.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "test_support.hpp"

namespace iocsweep {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::TempDir;
using test::write_file;

const std::string kBin = iocsweep::test::binary_under_test();

/// The binary started in the background, stdout and stderr to files.
class Child {
 public:
  Child(std::vector<std::string> args, const std::string& out_path, const std::string& err_path) {
    args = test::command_line(std::move(args));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> argv = test::exec_argv(args);
    const int rc = posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  /// Exit code, or -1 when it has not ended within `timeout`.
  int wait(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
};

std::vector<pid_t> threads_of(pid_t pid) {
  std::vector<pid_t> tids;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') tids.push_back(static_cast<pid_t>(std::stol(e->d_name)));
    }
    ::closedir(d);
  }
  return tids;
}

/// Field 19 of /proc/PID/task/TID/stat (the nice value); the fields are
/// counted after the command name, which is in parentheses and may hold
/// spaces.
int nice_of_thread(pid_t pid, pid_t tid) {
  const std::string stat = test::read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat");
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return -100;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  // rest starts at field 3 (state); nice is field 19.
  for (int i = 3; i <= 19; ++i) rest >> field;
  return std::stoi(field);
}

int ioprio_class_of_thread(pid_t tid) {
  constexpr long kWhoProcess = 1, kShift = 13;
  const long value = ::syscall(SYS_ioprio_get, kWhoProcess, tid);
  return value < 0 ? -1 : static_cast<int>(value >> kShift);
}

void make_files(const TempDir& t, int count, std::size_t size) {
  for (int i = 0; i < count; ++i)
    write_file(t / ("f" + std::to_string(i)), std::string(size, static_cast<char>('a' + i)));
}

/// Waits until the child has at least `n` threads (workers start at once).
std::vector<pid_t> wait_for_threads(pid_t pid, std::size_t n) {
  for (int i = 0; i < 1500; ++i) {
    std::vector<pid_t> tids = threads_of(pid);
    if (tids.size() >= n) return tids;
    std::this_thread::sleep_for(20ms);
  }
  return threads_of(pid);
}

TEST(Throttle, NiceAndIoIdleApplyToEveryThread) {
  errno = 0;
  const int own_nice = ::getpriority(PRIO_PROCESS, 0);
  if (own_nice >= 12) GTEST_SKIP() << "the test already runs at nice " << own_nice;
  if (test::under_emulator()) {
    GTEST_SKIP() << "under an emulator the process has threads of the emulator's own (qemu-user's RCU thread), "
                    "which iocsweep cannot renice";
  }
  TempDir t, io;
  make_files(t, 4, 1'000'000);
  // 4 MB at 0.5 MB/s: eight seconds to look at the threads.
  Child child({kBin, "scan", "--no-builtin", "--threads", "3", "--nice", "12", "--io-idle", "--max-rate", "0.5", "-o",
               io / "report.json", t.path()},
              io / "out", io / "err");
  // main, the signal thread and three workers.
  const std::vector<pid_t> tids = wait_for_threads(child.pid(), 5);
  ASSERT_GE(tids.size(), 5u) << test::read_file(io / "err");
  for (const pid_t tid : tids) {
    EXPECT_EQ(nice_of_thread(child.pid(), tid), 12) << "thread " << tid;
    EXPECT_EQ(ioprio_class_of_thread(tid), 3) << "thread " << tid;  // IOPRIO_CLASS_IDLE
  }
  ::kill(child.pid(), SIGINT);
  EXPECT_EQ(child.wait(60s), 3) << test::read_file(io / "err");
}

TEST(Throttle, WithoutPriorityOptionsThreadsKeepTheInheritedOnes) {
  // The control for the test above: the same run without the options.
  errno = 0;
  const int own_nice = ::getpriority(PRIO_PROCESS, 0);
  TempDir t, io;
  make_files(t, 4, 1'000'000);
  Child child({kBin, "scan", "--no-builtin", "--threads", "3", "--max-rate", "0.5", "-o", io / "report.json", t.path()},
              io / "out", io / "err");
  const std::vector<pid_t> tids = wait_for_threads(child.pid(), 5);
  ASSERT_GE(tids.size(), 5u);
  for (const pid_t tid : tids) {
    EXPECT_EQ(nice_of_thread(child.pid(), tid), own_nice) << "thread " << tid;
    EXPECT_NE(ioprio_class_of_thread(tid), 3) << "thread " << tid;
  }
  ::kill(child.pid(), SIGINT);
  EXPECT_EQ(child.wait(60s), 3);
}

TEST(Throttle, MaxRateHoldsTheReadRateEndToEnd) {
  TempDir t;
  make_files(t, 8, 1'000'000);  // 8 MB (10^6 bytes each)
  const auto start = std::chrono::steady_clock::now();
  test::RunResult r = test::run({kBin, "scan", "--no-builtin", "--threads", "2", "--max-rate", "2", t.path()});
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["stats"]["bytes_scanned"], 8'000'000);
  EXPECT_EQ(doc["stats"]["files_scanned"], 8);
  // Within 20% of 2 MB/s from above: a throttle that lets bytes through
  // unpaid fails this. The upper bound only catches a throttle that is
  // far too strict, and leaves room for a slow, loaded machine.
  EXPECT_GE(elapsed, 8e6 / (1.2 * 2e6));
  EXPECT_LT(elapsed, 60.0);
}

TEST(Throttle, MaxRateCountsMappedFiles) {
  // A file above the mapping threshold (16 MiB) is mapped, not read into a
  // buffer; its bytes are paid for all the same. Sparse: cheap to make.
  TempDir t;
  const std::string big = t / "big.img";
  const int fd = ::open(big.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 40'000'000), 0);
  ::close(fd);
  const auto start = std::chrono::steady_clock::now();
  test::RunResult r = test::run({kBin, "scan", "--no-builtin", "--max-rate", "20", t.path()});
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["stats"]["bytes_scanned"], 40'000'000);
  EXPECT_GE(elapsed, 40e6 / (1.2 * 20e6));
  EXPECT_LT(elapsed, 120.0);
}

TEST(Throttle, SigintEndsAThrottledSleepPromptly) {
  TempDir t, io;
  make_files(t, 1, 10'000'000);  // 10 MB at 0.1 MB/s: a 100 second sleep
  Child child({kBin, "scan", "--no-builtin", "--max-rate", "0.1", "-o", io / "report.json", t.path()}, io / "out",
              io / "err");
  ASSERT_GE(wait_for_threads(child.pid(), 3).size(), 3u);
  std::this_thread::sleep_for(1s);  // the worker has read the file and sleeps
  const auto start = std::chrono::steady_clock::now();
  ::kill(child.pid(), SIGINT);
  ASSERT_EQ(child.wait(60s), 3) << test::read_file(io / "err");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
  const json doc = json::parse(test::read_file(io / "report.json"));
  EXPECT_EQ(doc["scan"]["complete"], false);
}

double one_minute_load() {
  double load[1] = {0};
  return ::getloadavg(load, 1) == 1 ? load[0] : 0;
}

TEST(Throttle, MaxLoadPausesTheScanAndSigintStillEndsIt) {
  if (one_minute_load() <= 0.0001) GTEST_SKIP() << "the load average is 0: nothing to pause for";
  TempDir t, io;
  make_files(t, 3, 1000);
  Child child({kBin, "scan", "--no-builtin", "--max-load", "0.0001", "--progress", "-o", io / "report.json", t.path()},
              io / "out", io / "err");
  // --progress into a file: one line a second, which says it is paused.
  std::string err;
  for (int i = 0; i < 1500 && err.find("paused, load") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
    err = test::read_file(io / "err");
  }
  ASSERT_NE(err.find("paused, load"), std::string::npos) << err;
  // Three tiny files would take milliseconds: still none done.
  std::this_thread::sleep_for(2s);
  err = test::read_file(io / "err");
  EXPECT_NE(err.find("paused, load"), std::string::npos);
  EXPECT_EQ(err.find("1 file"), std::string::npos) << err;
  const auto start = std::chrono::steady_clock::now();
  ::kill(child.pid(), SIGINT);
  ASSERT_EQ(child.wait(60s), 3) << test::read_file(io / "err");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
  const json doc = json::parse(test::read_file(io / "report.json"));
  EXPECT_EQ(doc["scan"]["complete"], false);
  EXPECT_EQ(doc["stats"]["files_scanned"], 0);
}

TEST(Throttle, BadThrottleValuesAreUsageErrors) {
  TempDir t;
  for (const std::vector<std::string>& extra : std::vector<std::vector<std::string>>{{"--nice", "20"},
                                                                                     {"--nice", "-1"},
                                                                                     {"--max-rate", "0"},
                                                                                     {"--max-rate", "fast"},
                                                                                     {"--max-rate", "nan"},
                                                                                     {"--max-rate", "inf"},
                                                                                     {"--max-load", "nan"},
                                                                                     {"--max-load", "-1"}}) {
    std::vector<std::string> args{kBin, "scan"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(t.path());
    EXPECT_EQ(test::run(args).exit_code, 2) << extra[0] << " " << extra[1];
  }
}

}  // namespace
}  // namespace iocsweep
