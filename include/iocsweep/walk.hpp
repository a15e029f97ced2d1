#pragma once
// The walker: streams the regular files below a set of roots. It knows
// nothing of reading, hashing or matching (see pipeline.hpp for the wiring).

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

namespace iocsweep {

/// An open directory descriptor, shared by the walker and every entry found
/// in it, so a worker can openat() the entry relative to it: no PATH_MAX
/// limit, and a directory swapped for a symlink after it was opened cannot
/// redirect the read. Closes the descriptor when the last owner lets go.
/// Immutable, safe to share between threads.
class DirHandle {
 public:
  /// Takes ownership of `fd` (an O_DIRECTORY descriptor).
  DirHandle(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~DirHandle();
  DirHandle(const DirHandle&) = delete;
  DirHandle& operator=(const DirHandle&) = delete;
  int fd() const { return fd_; }
  /// The directory's path as given by the walk (raw bytes).
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

/// One regular file (or, for a root, a path to open) found by the walk.
struct WalkEntry {
  /// Directory the entry lives in; null for a root named on the command
  /// line, whose `name` is then a path relative to the working directory.
  std::shared_ptr<const DirHandle> parent;
  /// Name inside `parent` (one component), or the root path.
  std::string name;
  /// Full path for reporting, raw bytes (may be any byte sequence).
  std::string path;
  /// True for a root the user named: a symlink there is followed.
  bool follow = false;
};

/// Receives what the walker finds, in walk order, on the walker's thread.
class WalkVisitor {
 public:
  virtual ~WalkVisitor() = default;
  /// A regular file (or a root that is not a directory) to be read.
  virtual void on_file(WalkEntry entry) = 0;
  /// Something deliberately not descended into or read (reason is a short
  /// machine-friendly word such as "special" or "filesystem").
  virtual void on_skipped(const std::string& path, const std::string& reason) = 0;
  /// A directory or root that could not be opened or listed.
  virtual void on_error(const std::string& path, const std::string& error) = 0;
  /// A symbolic link that was not followed (counted, not listed).
  virtual void on_symlink(const std::string& path) = 0;
};

/// How the walk behaves; see `iocsweep scan --help`.
struct WalkOptions {
  /// Do not descend into directories on another device than their root.
  bool one_file_system = false;
};

/// Walks roots depth-first with descriptor-relative calls (openat,
/// fdopendir, fstatat only where d_type does not answer). Symbolic links
/// below a root are never followed. Not thread-safe; one walk at a time.
class FileWalker {
 public:
  explicit FileWalker(WalkOptions options) : options_(options) {}
  /// Visits every root in order. Returns early, without error, once `stop`
  /// is requested.
  void walk(const std::vector<std::string>& roots, WalkVisitor& visitor, std::stop_token stop) const;

 private:
  WalkOptions options_;
};

}  // namespace iocsweep
