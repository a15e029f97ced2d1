#pragma once
// What the core's writers (reports, the compiled-rule cache) share: one
// owner of a file descriptor, and new files made relative to a directory
// descriptor, so that a name swapped by another user between a check and
// a use cannot redirect a write.

#include <sys/types.h>

#include <string>
#include <utility>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// Owns one file descriptor (or none, -1) and closes it. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~UniqueFd();
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// A file made by create_file_at: its descriptor (open for writing) and
/// its name in the directory it was made in.
struct CreatedFile {
  UniqueFd fd;
  std::string name;
};

/// Makes a new file `prefix` + six random characters in the directory
/// `dirfd` (O_CREAT | O_EXCL | O_NOFOLLOW: never an existing name or a
/// link), with `mode` minus the umask. The error is strerror's text.
Result<CreatedFile> create_file_at(int dirfd, const std::string& prefix, mode_t mode);

/// Whether the entry `name` in `dirfd` (not followed) is still the file
/// open as `fd`: same device and inode.
bool same_file_at(int dirfd, const std::string& name, int fd);

/// Symbolic links followed at most on the way to one file, as the kernel.
inline constexpr int kMaxSymlinks = 40;

/// The kernel's protected_symlinks rule, everywhere rather than only in
/// sticky directories: root follows a link only when root or the
/// effective user made it.
bool trusted_link_owner(uid_t uid);

/// "WHERE: is a symbolic link owned by uid N ...; it is not followed".
std::string untrusted_link_message(const std::string& where, uid_t owner);

/// The target of the link pinned as `link` (O_PATH | O_NOFOLLOW), so that
/// its owner and its text come from the same inode.
Result<std::string> read_pinned_link(int link);

/// Opens the directory `dir` (O_PATH, for *at calls) one component at a
/// time, each relative to the last one opened and with O_NOFOLLOW; a link
/// is followed by hand when trusted_link_owner says so, and refused
/// otherwise. `links` counts the links followed (kMaxSymlinks at most,
/// shared with the caller's own following). With `create`, a missing
/// component is made (mode 0700 minus umask). Errors name the component.
Result<UniqueFd> open_directory_path(const std::string& dir, int& links, bool create = false);

/// The directory part of `path` ("." for a bare name, "/" for "/x").
std::string dir_of(const std::string& path);

/// The last component of `path`.
std::string base_of(const std::string& path);

}  // namespace iocsweep
