#include "iocsweep/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <ostream>
#include <streambuf>
#include <string_view>

#include "common/fd.hpp"

namespace iocsweep {
namespace {

// An ostream's buffer over a descriptor it does not own: the report goes
// to the very file (or device) that was opened and checked, never to one
// reopened by name. The first write error sticks.
class FdStreamBuf final : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd) : fd_(fd) { setp(buffer_, buffer_ + sizeof buffer_); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  bool drain() {
    if (error_ != 0) return false;
    for (const char* p = pbase(); p < pptr();) {
      const ssize_t n = ::write(fd_, p, static_cast<std::size_t>(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        error_ = errno;
        return false;
      }
      p += n;
    }
    setp(buffer_, buffer_ + sizeof buffer_);
    return true;
  }

  int fd_;
  int error_ = 0;
  char buffer_[64 * 1024];
};

enum class Kind {
  kReplace,     // a regular file or a new name: temporary file, then rename
  kInPlace,     // a character device or FIFO: opened and written as it is
  kDescriptor,  // /dev/stdout and the like: the descriptor already open
};

struct Target {
  Kind kind = Kind::kReplace;
  std::string path;  // as spelt after following the links that may be followed
  UniqueFd dir;      // kReplace, kInPlace: the directory holding `name`
  std::string name;
  struct stat st {};    // kInPlace: what was found there
  int descriptor = -1;  // kDescriptor
};

// The spellings of an open descriptor. Opened by name they would be a new
// open of whatever the descriptor refers to (or, for a pipe, fail), and
// replaced by rename they would clobber /dev: the descriptor is meant.
std::optional<int> descriptor_alias(std::string_view path) {
  if (path == "/dev/stdout") return STDOUT_FILENO;
  if (path == "/dev/stderr") return STDERR_FILENO;
  for (std::string_view prefix : {std::string_view("/dev/fd/"), std::string_view("/proc/self/fd/")}) {
    if (path.substr(0, prefix.size()) != prefix) continue;
    const std::string_view digits = path.substr(prefix.size());
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    return std::stoi(std::string(digits));
  }
  return std::nullopt;
}

std::string named(const std::string& path, const std::string& current) {
  return current == path ? path : path + " (through links: " + current + ")";
}

std::string kind_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISFIFO(mode)) return "a FIFO";
  return "not a regular file";
}

// How `path` is to be written, following only trusted links; a refusal
// says why.
Result<Target> resolve(const std::string& path) {
  std::string current = path;
  int links = 0;
  for (;;) {
    if (const std::optional<int> fd = descriptor_alias(current)) {
      Target target;
      target.kind = Kind::kDescriptor;
      target.path = current;
      target.descriptor = *fd;
      return target;
    }
    Target target;
    target.path = current;
    target.name = base_of(current);
    if (target.name.empty()) return Error{named(path, current) + ": names a directory"};
    auto dir = open_directory_path(dir_of(current), links);
    if (!dir) {
      return Error{named(path, current) + ": cannot create the output file in " + dir_of(current) + ": " +
                   dir.error().message};
    }
    target.dir = std::move(*dir);
    const UniqueFd pinned(::openat(target.dir.get(), target.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!pinned) {
      if (errno == ENOENT) return target;  // a new name
      return Error{named(path, current) + ": " + std::strerror(errno)};
    }
    struct stat& st = target.st;
    if (::fstat(pinned.get(), &st) != 0) return Error{named(path, current) + ": " + std::strerror(errno)};
    if (S_ISLNK(st.st_mode)) {
      if (!trusted_link_owner(st.st_uid)) return Error{untrusted_link_message(named(path, current), st.st_uid)};
      if (++links > kMaxSymlinks) return Error{named(path, current) + ": " + std::strerror(ELOOP)};
      auto link = read_pinned_link(pinned.get());
      if (!link) return Error{named(path, current) + ": " + link.error().message};
      current = !link->empty() && (*link)[0] == '/' ? *link : dir_of(current) + "/" + *link;
      continue;
    }
    if (S_ISREG(st.st_mode)) return target;
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
      // The links' rule: a FIFO (or a tty) another user made is theirs to read.
      if (!trusted_link_owner(st.st_uid)) {
        return Error{named(path, current) + ": is " + kind_name(st.st_mode) + " owned by uid " +
                     std::to_string(st.st_uid) + " (neither root nor this user); the report is not written to it"};
      }
      target.kind = Kind::kInPlace;
      return target;
    }
    return Error{named(path, current) + ": is " + kind_name(st.st_mode) +
                 "; a report goes to a regular file, a character device or a FIFO"};
  }
}

bool same_inode(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// Opens the device or FIFO that was found, not whatever has its name by
// now: the name is pinned with O_PATH (no open side effects, no link
// followed), checked, and that inode reopened for writing through /proc.
// Without O_TRUNC: a device is written as it is.
Result<UniqueFd> open_in_place(const Target& target, const std::string& path) {
  const std::string where = named(path, target.path);
  const UniqueFd pinned(::openat(target.dir.get(), target.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!pinned || ::fstat(pinned.get(), &st) != 0) return Error{where + ": " + std::strerror(errno)};
  if (!same_inode(st, target.st)) return Error{where + ": was replaced while it was being opened"};
  const std::string reopen = "/proc/self/fd/" + std::to_string(pinned.get());
  UniqueFd fd(::open(reopen.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC));
  if (!fd && errno == ENOENT) {
    // No /proc: by name, refusing a link, and checked below before any write.
    fd = UniqueFd(::openat(target.dir.get(), target.name.c_str(), O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC));
  }
  if (!fd) return Error{where + ": cannot open it for writing: " + std::strerror(errno)};
  if (::fstat(fd.get(), &st) != 0 || !same_inode(st, target.st)) {
    return Error{where + ": was replaced while it was being opened"};
  }
  return fd;
}

Result<UniqueFd> open_descriptor(const Target& target, const std::string& path) {
  const std::string which = std::to_string(target.descriptor);
  const int flags = ::fcntl(target.descriptor, F_GETFL);
  if (flags < 0) return Error{path + ": descriptor " + which + " is not open"};
  if ((flags & O_ACCMODE) == O_RDONLY) return Error{path + ": descriptor " + which + " is not open for writing"};
  UniqueFd fd(::fcntl(target.descriptor, F_DUPFD_CLOEXEC, 0));
  if (!fd) return Error{path + ": " + std::strerror(errno)};
  return fd;
}

}  // namespace

struct OutputFile::State {
  State(std::string named_path, UniqueFd file) : path(std::move(named_path)), fd(std::move(file)) {}
  std::string path;  // as the user named it, for messages
  UniqueFd fd;
  FdStreamBuf buf{fd.get()};
  std::ostream stream{&buf};
  bool in_place = true;
  // Only when !in_place: the destination's directory, its name there and
  // the temporary file's name there.
  UniqueFd dir;
  std::string dir_path;
  std::string name;
  std::string temp_name;
  bool committed = false;
};

Result<std::unique_ptr<OutputFile>> OutputFile::create(const std::string& path) {
  auto target = resolve(path);
  if (!target) return target.error();
  if (target->kind != Kind::kReplace) {
    auto fd = target->kind == Kind::kInPlace ? open_in_place(*target, path) : open_descriptor(*target, path);
    if (!fd) return fd.error();
    return std::unique_ptr<OutputFile>(new OutputFile(std::make_unique<State>(path, std::move(*fd))));
  }
  // The directory, opened once, holds the temporary file: it is made,
  // checked, renamed and removed relative to that descriptor.
  const std::string dir_path = dir_of(target->path);
  auto temp = create_file_at(target->dir.get(), target->name + ".tmp-", 0666);
  if (!temp) return Error{path + ": cannot create the output file in " + dir_path + ": " + temp.error().message};
  auto state = std::make_unique<State>(path, std::move(temp->fd));
  state->in_place = false;
  state->dir = std::move(target->dir);
  state->dir_path = dir_path;
  state->name = target->name;
  state->temp_name = std::move(temp->name);
  return std::unique_ptr<OutputFile>(new OutputFile(std::move(state)));
}

OutputFile::OutputFile(std::unique_ptr<State> state) : state_(std::move(state)) {}

OutputFile::~OutputFile() {
  State& s = *state_;
  // Only the file this object made: a name someone swapped in is theirs.
  if (!s.in_place && !s.committed && same_file_at(s.dir.get(), s.temp_name, s.fd.get())) {
    ::unlinkat(s.dir.get(), s.temp_name.c_str(), 0);
  }
}

std::ostream& OutputFile::stream() { return state_->stream; }

bool OutputFile::in_place() const { return state_->in_place; }

Status OutputFile::commit() {
  State& s = *state_;
  s.stream.flush();
  if (!s.stream || s.buf.error() != 0) {
    return Error{s.path + ": write failed: " + std::strerror(s.buf.error() != 0 ? s.buf.error() : EIO)};
  }
  if (s.in_place) {
    s.committed = true;
    return Ok{};
  }
  // Data on disk before the rename, so a crash cannot leave an empty file
  // under the final name.
  if (::fsync(s.fd.get()) != 0) return Error{s.path + ": fsync failed: " + std::strerror(errno)};
  if (!same_file_at(s.dir.get(), s.temp_name, s.fd.get())) {
    return Error{s.path + ": the temporary file " + s.dir_path + "/" + s.temp_name +
                 " was replaced by someone else before the report was renamed into place; nothing was renamed"};
  }
  if (::renameat(s.dir.get(), s.temp_name.c_str(), s.dir.get(), s.name.c_str()) != 0) {
    return Error{s.path + ": cannot rename the finished report into place: " + std::strerror(errno)};
  }
  s.committed = true;
  return Ok{};
}

void OutputFile::remove_unfinished() const noexcept {
  if (!state_->in_place) ::unlinkat(state_->dir.get(), state_->temp_name.c_str(), 0);
}

bool output_written_in_place(const std::string& path) {
  auto target = resolve(path);
  return target && target->kind != Kind::kReplace;
}

}  // namespace iocsweep
