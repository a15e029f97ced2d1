#pragma once
// The walker: streams the regular files below a set of roots. It knows
// nothing of reading, hashing or matching (see pipeline.hpp for the wiring).
// How it matches --exclude globs and which filesystems it skips by default
// are private to the component (src/walk/walk_rules.hpp).

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
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
  /// True for a root the user named, or a symlink below a root that
  /// WalkOptions::follow_symlinks followed: a symlink there is followed.
  bool follow = false;
  /// For a followed symlink below a root: the device of the file it led to
  /// when the walk admitted it (filesystem type, --one-file-system). The
  /// reader refuses the file if the link leads to another device by then,
  /// so swapping the link after the walk cannot take the read to /proc.
  std::optional<dev_t> device{};
};

/// Receives what the walker finds, in walk order, on the walker's thread.
class WalkVisitor {
 public:
  virtual ~WalkVisitor() = default;
  /// A regular file (or a root that is not a directory) to be read.
  virtual void on_file(WalkEntry entry) = 0;
  /// Something deliberately not descended into or read. `reason` is a short
  /// machine-friendly word ("special", "excluded", "filesystem", ...);
  /// `detail` says more where useful (the filesystem type, the glob).
  virtual void on_skipped(const std::string& path, const std::string& reason, const std::string& detail) = 0;
  /// A directory or root that could not be opened or listed.
  virtual void on_error(const std::string& path, const std::string& error) = 0;
  /// A symbolic link that was not followed (counted, not listed).
  virtual void on_symlink(const std::string& path) = 0;
  /// A directory listed without O_NOATIME because the kernel refused it
  /// (not the owner, no CAP_FOWNER): its access time may have changed.
  virtual void on_atime_not_preserved(const std::string& path) = 0;
};

/// How the walk behaves; see `iocsweep scan --help`.
struct WalkOptions {
  /// Do not descend into directories on another device than their root.
  bool one_file_system = false;
  /// Follow symbolic links below roots. Loops are detected by device and
  /// inode of the directories above ("symlink_loop"); a directory already
  /// entered through a link is not entered again ("already_visited").
  bool follow_symlinks = false;
  /// Skip ("atime_not_preservable") rather than list a directory that
  /// cannot be opened with O_NOATIME.
  bool strict_atime = false;
  /// Ignore readdir's d_type and lstat every entry, as the walk must on
  /// filesystems that do not fill it in (iso9660, udf, xfs with ftype=0,
  /// some FUSE): lets tests take that path on any filesystem.
  bool ignore_d_type = false;
  /// Shell globs (fnmatch, `*` also matches `/`), matched against the path
  /// as spelt from the root and, for a glob starting with '/', against the
  /// absolute path. A match is skipped ("excluded"), and a directory's
  /// whole subtree with it.
  std::vector<std::string> excludes;
  /// Filesystem types to walk although the walk skips them by default
  /// (kernel pseudo and network filesystems).
  std::vector<std::string> include_fs;
};

/// Filesystem type of each mounted device, read from /proc/self/mountinfo.
/// Immutable after construction.
class MountTable {
 public:
  MountTable() = default;
  /// Parses mountinfo text (see proc(5)); malformed lines are ignored.
  static MountTable parse(std::string_view mountinfo);
  /// This process's mount table; empty when /proc is not mounted.
  static MountTable current();
  /// The type ("ext4", "proc", "fuse.sshfs") of the filesystem on `device`,
  /// or "" when unknown.
  std::string type_of(dev_t device) const;

 private:
  std::map<dev_t, std::string> types_;
};

/// `path` made absolute and resolved (symlinks followed) as far as it
/// exists, with the part that does not exist yet appended as written: where
/// a file about to be created will lie. "" stays "".
std::string canonical_or_ancestor(std::string path);

/// What the walk of one root would do with a path (WalkPlanner::reach).
enum class WalkReach {
  kNotBelow,           ///< the path does not lie below the root
  kExcluded,           ///< an --exclude glob takes it, or a directory on the way, out
  kOtherFilesystem,    ///< --one-file-system keeps the walk off its filesystem
  kSkippedFilesystem,  ///< its filesystem is skipped by default and not in include_fs
  kWalked,             ///< the walk reaches it and takes it in
};

/// The answer of WalkPlanner::reach: what the walk would do, and how it
/// spells the path (the root as given, then "/NAME" per level) when the
/// path lies below the root; "" when kNotBelow.
struct WalkAnswer {
  WalkReach reach = WalkReach::kNotBelow;
  std::string spelling;
};

/// Answers, before any walk and without one, whether FileWalker with these
/// options would reach a path below a root: the same --exclude matching, the
/// same --one-file-system and filesystem-type rules, so that a caller (the
/// CLI placing its output files, dropping nested roots) asks the walker
/// instead of copying its rules. A path need not exist: it is placed by
/// canonical_or_ancestor() and judged by the filesystem of its nearest
/// existing ancestor. What the walk would meet on the way (a directory
/// that cannot be opened, a symlink it does not follow) is not foreseen.
/// Immutable after construction; reads the filesystem (realpath, stat) on
/// every call.
class WalkPlanner {
 public:
  explicit WalkPlanner(WalkOptions options, MountTable mounts = MountTable::current())
      : options_(std::move(options)), mounts_(std::move(mounts)) {}
  /// What the walk of `root` would do with `path`. A root that does not
  /// exist is placed by canonical_or_ancestor() too and its device is not
  /// judged: a caller keeping its files out of the sweep stays on the safe
  /// side should the root appear before the walk.
  WalkAnswer reach(const std::string& path, const std::string& root) const;
  /// True when the walk of `root` would reach `path` (reach() is kWalked).
  bool would_walk(const std::string& path, const std::string& root) const {
    return reach(path, root).reach == WalkReach::kWalked;
  }

 private:
  WalkOptions options_;
  MountTable mounts_;
};

/// Walks roots depth-first with descriptor-relative calls (openat,
/// fdopendir, fstatat only where d_type does not answer), one fstat per
/// directory. Symbolic links below a root are not followed unless
/// WalkOptions::follow_symlinks. Directories are opened with O_NOATIME
/// where permitted, so listing them does not change their access time.
/// Not thread-safe; one walk at a time.
class FileWalker {
 public:
  explicit FileWalker(WalkOptions options, MountTable mounts = {})
      : options_(std::move(options)), mounts_(std::move(mounts)) {}
  /// Visits every root in order. Returns early, without error, once `stop`
  /// is requested.
  void walk(const std::vector<std::string>& roots, WalkVisitor& visitor, std::stop_token stop) const;

 private:
  WalkOptions options_;
  MountTable mounts_;
};

}  // namespace iocsweep
