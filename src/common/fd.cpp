#include "common/fd.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace iocsweep {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<CreatedFile> create_file_at(int dirfd, const std::string& prefix, mode_t mode) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  int last_errno = EEXIST;
  // As mkstemp: another name on a collision, a bounded number of times.
  for (int attempt = 0; attempt < 100 && last_errno == EEXIST; ++attempt) {
    unsigned char random[6];
    const ssize_t got = ::getrandom(random, sizeof random, 0);
    if (got != static_cast<ssize_t>(sizeof random)) return Error{std::strerror(errno)};
    std::string name = prefix;
    for (unsigned char r : random) name += kAlphabet[r % (sizeof kAlphabet - 1)];
    const int fd = ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
    if (fd >= 0) return CreatedFile{UniqueFd(fd), std::move(name)};
    last_errno = errno;
  }
  return Error{std::strerror(last_errno)};
}

bool same_file_at(int dirfd, const std::string& name, int fd) {
  struct stat entry {};
  struct stat open {};
  return ::fstatat(dirfd, name.c_str(), &entry, AT_SYMLINK_NOFOLLOW) == 0 && ::fstat(fd, &open) == 0 &&
         entry.st_dev == open.st_dev && entry.st_ino == open.st_ino;
}

std::string dir_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace iocsweep
