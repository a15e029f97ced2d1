// What the binary does on kernels older than the build machine's: system
// calls that are missing there answer ENOSYS, as a seccomp filter makes
// them answer here.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "common/fd.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

// Makes system call `nr` fail with ENOSYS in this process from now on.
bool make_missing(int nr) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(nr), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// getrandom(2) came with Linux 3.17: before it, new files (reports, the
// rule cache) still get their unpredictable temporary names.
TEST(OldKernel, TemporaryFilesAreCreatedWithoutGetrandom) {
  test::TempDir d;
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!make_missing(SYS_getrandom)) ::_exit(3);
    const UniqueFd dir(::open(d.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    auto a = create_file_at(dir.get(), ".t-", 0600);
    auto b = create_file_at(dir.get(), ".t-", 0600);
    ::_exit(a && b && a->name != b->name ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "seccomp filters are not available here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "create_file_at failed when getrandom(2) answers ENOSYS";
}

}  // namespace
}  // namespace iocsweep
