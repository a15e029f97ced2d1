#include "common/fd.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>

namespace iocsweep {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// Random bytes for a temporary name. getrandom(2) came with Linux 3.17;
// the static binary also runs on older kernels (RHEL 7's 3.10, see
// docs/install.md), where /dev/urandom serves the same purpose.
bool random_bytes(unsigned char* out, std::size_t n) {
  ssize_t got = -1;
  do {
    got = ::getrandom(out, n, 0);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(n)) return true;
  if (got >= 0) {
    errno = EIO;  // a short read of a few bytes: never expected
    return false;
  }
  if (errno != ENOSYS) return false;
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return false;
  const ssize_t read_n = ::read(fd, out, n);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return read_n == static_cast<ssize_t>(n);
}

}  // namespace

Result<CreatedFile> create_file_at(int dirfd, const std::string& prefix, mode_t mode) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  int last_errno = EEXIST;
  // As mkstemp: another name on a collision, a bounded number of times.
  for (int attempt = 0; attempt < 100 && last_errno == EEXIST; ++attempt) {
    unsigned char random[6];
    if (!random_bytes(random, sizeof random)) return Error{std::strerror(errno)};
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

namespace {

std::deque<std::string> components(const std::string& path) {
  std::deque<std::string> parts;
  for (std::size_t begin = 0; begin <= path.size();) {
    const std::size_t slash = std::min(path.find('/', begin), path.size());
    if (slash > begin) parts.emplace_back(path.substr(begin, slash - begin));
    begin = slash + 1;
  }
  return parts;
}

}  // namespace

// The target of the link pinned as `link` (O_PATH | O_NOFOLLOW), so that
// its owner and its text come from the same inode.
Result<std::string> read_pinned_link(int link) {
  std::string target(PATH_MAX, '\0');
  const ssize_t n = ::readlinkat(link, "", target.data(), target.size());
  if (n < 0) return Error{std::strerror(errno)};
  target.resize(static_cast<std::size_t>(n));
  return target;
}

bool trusted_link_owner(uid_t uid) { return uid == 0 || uid == ::geteuid(); }

std::string untrusted_link_message(const std::string& where, uid_t owner) {
  return where + ": is a symbolic link owned by uid " + std::to_string(owner) +
         " (neither root nor this user); it is not followed: remove it or name the file";
}

// Another user who can rename entries along the way can neither redirect a
// component once it is open nor make root follow a link of theirs.
Result<UniqueFd> open_directory_path(const std::string& dir, int& links, bool create) {
  const bool absolute = !dir.empty() && dir[0] == '/';
  UniqueFd current(::open(absolute ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::string walked = absolute ? "" : ".";
  std::deque<std::string> parts = components(dir);
  while (current && !parts.empty()) {
    const std::string part = std::move(parts.front());
    parts.pop_front();
    if (part == ".") continue;
    const std::string where = walked + "/" + part;
    UniqueFd next(::openat(current.get(), part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next && errno == ENOENT && create && part != ".." &&
        (::mkdirat(current.get(), part.c_str(), 0700) == 0 || errno == EEXIST)) {
      next = UniqueFd(::openat(current.get(), part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    }
    struct stat st {};
    if (!next || ::fstat(next.get(), &st) != 0) return Error{where + ": " + std::strerror(errno)};
    if (S_ISLNK(st.st_mode)) {
      if (!trusted_link_owner(st.st_uid)) return Error{untrusted_link_message(where, st.st_uid)};
      if (++links > kMaxSymlinks) return Error{where + ": " + std::strerror(ELOOP)};
      auto target = read_pinned_link(next.get());
      if (!target) return Error{where + ": " + target.error().message};
      std::deque<std::string> more = components(*target);
      parts.insert(parts.begin(), more.begin(), more.end());
      if (!target->empty() && (*target)[0] == '/') {
        current = UniqueFd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        walked = "";
      }
      continue;
    }
    if (!S_ISDIR(st.st_mode)) return Error{where + ": " + std::strerror(ENOTDIR)};
    current = std::move(next);
    walked += "/" + part;
  }
  if (!current) return Error{(walked.empty() ? "/" : walked) + ": " + std::strerror(errno)};
  return current;
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
