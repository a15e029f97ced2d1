#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <utility>

#include "iocsweep/walk.hpp"
#include "walk/walk_rules.hpp"

namespace iocsweep {

DirHandle::~DirHandle() {
  if (fd_ >= 0) ::close(fd_);
}

bool skip_by_default_fs(std::string_view type) {
  static constexpr std::string_view kSkipped[] = {
      // Kernel pseudo filesystems: generated content, endless or
      // side-effecting reads, nothing an attacker stored on disk.
      "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "pstore", "bpf",
      "configfs", "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc", "efivarfs", "selinuxfs", "rpc_pipefs",
      "nfsd", "nsfs",
      // Network filesystems: another machine's data, read over the wire.
      "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "9p", "lustre", "davfs",
      "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse", "fuse.glusterfs", "fuse.gvfsd-fuse", "fuse.davfs2",
      "fuse.cephfs", "fuse.juicefs", "fuse.goofys", "fuse.blobfuse", "fuse.blobfuse2"};
  return std::find(std::begin(kSkipped), std::end(kSkipped), type) != std::end(kSkipped);
}

MountTable MountTable::parse(std::string_view mountinfo) {
  MountTable table;
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  while (std::getline(in, line)) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw"
    std::istringstream fields(line);
    std::string id, parent, majmin;
    if (!(fields >> id >> parent >> majmin)) continue;
    const std::size_t sep = line.find(" - ");
    const std::size_t colon = majmin.find(':');
    if (sep == std::string::npos || colon == std::string::npos) continue;
    std::istringstream tail(line.substr(sep + 3));
    std::string type;
    if (!(tail >> type)) continue;
    try {
      const unsigned major = static_cast<unsigned>(std::stoul(majmin.substr(0, colon)));
      const unsigned minor = static_cast<unsigned>(std::stoul(majmin.substr(colon + 1)));
      table.types_[makedev(major, minor)] = type;
    } catch (const std::exception&) {
      continue;
    }
  }
  return table;
}

MountTable MountTable::current() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str());
}

std::string MountTable::type_of(dev_t device) const {
  const auto it = types_.find(device);
  return it == types_.end() ? std::string() : it->second;
}

ExcludeMatcher::ExcludeMatcher(const std::vector<std::string>& globs, const std::string& root)
    : globs_(globs), root_(root) {
  if (std::none_of(globs_.begin(), globs_.end(), [](const std::string& g) { return !g.empty() && g[0] == '/'; })) {
    return;
  }
  if (char* real = ::realpath(root.c_str(), nullptr)) {
    absolute_root_ = real;
    std::free(real);
  } else if (!root.empty() && root[0] == '/') {
    absolute_root_ = root;
  } else if (char* cwd = ::getcwd(nullptr, 0)) {
    // A root that cannot be resolved is not walked either; spell it from
    // the working directory all the same.
    absolute_root_ = std::string(cwd) + "/" + root;
    std::free(cwd);
  }
}

std::string ExcludeMatcher::absolute_of(const std::string& path) const {
  std::string rest = path.substr(std::min(root_.size(), path.size()));
  std::string out = absolute_root_;
  if (!rest.empty() && rest[0] == '/' && !out.empty() && out.back() == '/') rest.erase(0, 1);
  if (!rest.empty() && rest[0] != '/' && (out.empty() || out.back() != '/')) out += '/';
  return out + rest;
}

const std::string* ExcludeMatcher::match(const std::string& path) const {
  std::optional<std::string> absolute;  // computed once, when a glob needs it
  for (const std::string& glob : globs_) {
    if (::fnmatch(glob.c_str(), path.c_str(), 0) == 0) return &glob;
    if (glob.empty() || glob[0] != '/' || absolute_root_.empty()) continue;
    if (!absolute) absolute = absolute_of(path);
    if (*absolute != path && ::fnmatch(glob.c_str(), absolute->c_str(), 0) == 0) return &glob;
  }
  return nullptr;
}

bool ExcludeMatcher::excludes_on_the_way(const std::string& path) const {
  if (match(root_) != nullptr) return true;
  for (std::size_t slash = path.find('/', root_.size()); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    if (slash > root_.size() && match(path.substr(0, slash)) != nullptr) return true;
  }
  return path.size() > root_.size() && match(path) != nullptr;
}

namespace {

// The filesystem rules for what lies on `device` when the walk's root is
// on `root_device` (one place for the walk and for WalkPlanner). The type
// rule holds for the root's own filesystem too: a root on proc is skipped.
WalkReach filesystem_reach(const WalkOptions& options, const MountTable& mounts, dev_t device, dev_t root_device) {
  if (options.one_file_system && device != root_device) return WalkReach::kOtherFilesystem;
  const std::string type = mounts.type_of(device);
  if (skip_by_default_fs(type) &&
      std::find(options.include_fs.begin(), options.include_fs.end(), type) == options.include_fs.end()) {
    return WalkReach::kSkippedFilesystem;
  }
  return WalkReach::kWalked;
}

bool is_inside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root ||
         (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/');
}

// The device of `path`, or of its nearest existing ancestor.
std::optional<dev_t> device_of_nearest(std::string path) {
  struct stat st {};
  while (::stat(path.c_str(), &st) != 0) {
    const std::size_t slash = path.find_last_of('/');
    if (slash == std::string::npos || path == "/") return std::nullopt;
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return st.st_dev;
}

}  // namespace

std::string canonical_or_ancestor(std::string path) {
  if (path.empty()) return path;
  if (path[0] != '/') {
    if (char* cwd = ::getcwd(nullptr, 0)) {
      path = std::string(cwd) + "/" + path;
      std::free(cwd);
    } else {
      path = "/" + path;
    }
  }
  std::string head = path;
  std::string tail;
  for (;;) {
    if (char* real = ::realpath(head.c_str(), nullptr)) {
      std::string out(real);
      std::free(real);
      if (tail.empty()) return out;
      return (out == "/" ? "" : out) + "/" + tail;
    }
    const std::size_t slash = head.find_last_of('/');
    if (slash == std::string::npos || head == "/") return path;
    tail = head.substr(slash + 1) + (tail.empty() ? "" : "/" + tail);
    head = slash == 0 ? "/" : head.substr(0, slash);
  }
}

WalkAnswer WalkPlanner::reach(const std::string& path, const std::string& root) const {
  const std::string real = canonical_or_ancestor(path);
  const std::string real_root = canonical_or_ancestor(root);
  if (!is_inside(real, real_root)) return {};
  // Spelt as the walk spells it: the root as given, then "/NAME" per level.
  std::string rest = real_root == "/" ? real : real.substr(real_root.size());
  if (!rest.empty() && !root.empty() && root.back() == '/') rest.erase(0, 1);
  WalkAnswer answer{WalkReach::kWalked, root + rest};
  if (ExcludeMatcher(options_.excludes, root).excludes_on_the_way(answer.spelling)) {
    answer.reach = WalkReach::kExcluded;
    return answer;
  }
  struct stat root_st {};
  if (::stat(root.c_str(), &root_st) != 0) return answer;
  if (const std::optional<dev_t> device = device_of_nearest(real)) {
    answer.reach = filesystem_reach(options_, mounts_, *device, root_st.st_dev);
  }
  return answer;
}

namespace {

std::string join_path(const std::string& dir, const char* name) {
  std::string path = dir;
  if (path.empty() || path.back() != '/') path += '/';
  path += name;
  return path;
}

struct DirStreamCloser {
  void operator()(DIR* stream) const { ::closedir(stream); }
};
using DirStream = std::unique_ptr<DIR, DirStreamCloser>;

// One directory being listed. The DIR stream owns a dup() of the
// descriptor, so closing the stream when the listing is done leaves the
// DirHandle's descriptor open for workers still holding entries of it.
struct Frame {
  std::shared_ptr<const DirHandle> dir;
  DirStream stream;
  dev_t dev;
  ino_t ino;
};

enum class Kind { kFile, kDir, kSymlink, kSpecial, kUnknown };

Kind kind_from_mode(mode_t mode) {
  if (S_ISREG(mode)) return Kind::kFile;
  if (S_ISDIR(mode)) return Kind::kDir;
  if (S_ISLNK(mode)) return Kind::kSymlink;
  return Kind::kSpecial;
}

Kind kind_from_dtype(unsigned char d_type) {
  switch (d_type) {
    case DT_REG:
      return Kind::kFile;
    case DT_DIR:
      return Kind::kDir;
    case DT_LNK:
      return Kind::kSymlink;
    case DT_UNKNOWN:
      return Kind::kUnknown;
    default:
      return Kind::kSpecial;
  }
}

std::string errno_text(int err) { return std::strerror(err); }

// Opens a directory for listing, with O_NOATIME where the kernel allows it
// (owner or CAP_FOWNER) so that reading it leaves its access time alone.
// `noatime` says whether it could; when it could not and `strict`, nothing
// is opened (-1, errno EPERM).
int open_directory(int dirfd, const char* name, bool nofollow, bool strict, bool& noatime) {
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY;
  if (nofollow) flags |= O_NOFOLLOW;
  noatime = true;
  int fd = ::openat(dirfd, name, flags | O_NOATIME);
  if (fd < 0 && errno == EPERM) {
    noatime = false;
    if (strict) return -1;
    fd = ::openat(dirfd, name, flags);
  }
  return fd;
}

class Walk {
 public:
  Walk(const WalkOptions& options, const MountTable& mounts, WalkVisitor& visitor, std::stop_token stop)
      : options_(options), mounts_(mounts), visitor_(visitor), stop_(std::move(stop)) {}

  void root(const std::string& root) {
    matcher_.emplace(options_.excludes, root);
    if (excluded(root)) return;
    struct stat st {};
    // A root the user named is taken as they named it: a symlink there is
    // followed (like find -H).
    if (::stat(root.c_str(), &st) != 0) {
      visitor_.on_error(root, errno_text(errno));
      return;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (S_ISREG(st.st_mode)) {
        visitor_.on_file(WalkEntry{nullptr, root, root, true});
      } else {
        visitor_.on_skipped(root, "special", "");
      }
      return;
    }
    bool noatime = true;
    const int fd = open_directory(AT_FDCWD, root.c_str(), false, options_.strict_atime, noatime);
    if (fd < 0) {
      open_failed(root, noatime, errno);
      return;
    }
    root_dev_ = st.st_dev;
    std::vector<Frame> stack;
    if (!enter(fd, root, stack, /*via_link=*/false, noatime)) return;
    walk_tree(stack);
  }

 private:
  bool excluded(const std::string& path) {
    if (const std::string* glob = matcher_->match(path)) {
      visitor_.on_skipped(path, "excluded", *glob);
      return true;
    }
    return false;
  }

  // Reports a directory that open_directory() did not open.
  void open_failed(const std::string& path, bool noatime, int err) {
    if (!noatime && options_.strict_atime) {
      visitor_.on_skipped(path, "atime_not_preservable", "");
    } else {
      visitor_.on_error(path, errno_text(err));
    }
  }

  // Applies --one-file-system and the filesystem types skipped by default
  // to what is on `device`: a directory entered, or a file a followed link
  // leads to (a link planted in the tree must not take the sweep where the
  // walk itself does not go). Reports it skipped and says so.
  bool skipped_for_filesystem(dev_t device, const std::string& path) {
    // The root's own device is root_dev_, so --one-file-system never
    // refuses a root; a root on a skipped filesystem is skipped.
    switch (filesystem_reach(options_, mounts_, device, root_dev_)) {
      case WalkReach::kOtherFilesystem:
        visitor_.on_skipped(path, "other_filesystem", mounts_.type_of(device));
        return true;
      case WalkReach::kSkippedFilesystem:
        visitor_.on_skipped(path, "filesystem", mounts_.type_of(device));
        return true;
      default:
        return false;
    }
  }

  // Takes ownership of `fd`, an open directory, applies the filesystem and
  // loop policies, and pushes a frame to list it. False when skipped.
  // `via_link`: reached through a followed symbolic link. `noatime`: opened
  // with O_NOATIME.
  bool enter(int fd, std::string path, std::vector<Frame>& stack, bool via_link, bool noatime) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      visitor_.on_error(path, errno_text(errno));
      ::close(fd);
      return false;
    }
    const bool new_device = stack.empty() || st.st_dev != stack.back().dev;
    if (new_device && skipped_for_filesystem(st.st_dev, path)) {
      ::close(fd);
      return false;
    }
    if (options_.follow_symlinks) {
      // Only a followed link can lead back to a directory above.
      for (const Frame& f : stack) {
        if (f.dev == st.st_dev && f.ino == st.st_ino) {
          visitor_.on_skipped(path, "symlink_loop", f.dir->path());
          ::close(fd);
          return false;
        }
      }
    }
    // A directory reached through links by many ways (a DAG of links: d0
    // with links a and b to d1, d1 with two to d2, ...) is walked once,
    // not once per way.
    if (via_link) {
      if (const auto seen = entered_via_link_.find({st.st_dev, st.st_ino}); seen != entered_via_link_.end()) {
        visitor_.on_skipped(path, "already_visited", seen->second);
        ::close(fd);
        return false;
      }
    }
    const int stream_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR* stream = stream_fd < 0 ? nullptr : ::fdopendir(stream_fd);
    if (stream == nullptr) {
      visitor_.on_error(path, errno_text(errno));
      if (stream_fd >= 0) ::close(stream_fd);
      ::close(fd);
      return false;
    }
    if (via_link) entered_via_link_.emplace(std::pair{st.st_dev, st.st_ino}, path);
    stack.push_back(
        Frame{std::make_shared<const DirHandle>(fd, std::move(path)), DirStream(stream), st.st_dev, st.st_ino});
    if (!noatime) visitor_.on_atime_not_preserved(stack.back().dir->path());
    return true;
  }

  void walk_tree(std::vector<Frame>& stack) {
    // Depth-first with an explicit stack: depth is bounded by descriptors,
    // not by the call stack.
    while (!stack.empty()) {
      if (stop_.stop_requested()) return;
      Frame& top = stack.back();
      errno = 0;
      const dirent* ent = ::readdir(top.stream.get());
      if (ent == nullptr) {
        if (errno != 0) visitor_.on_error(top.dir->path(), errno_text(errno));
        stack.pop_back();
        continue;
      }
      const char* name = ent->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      std::string path = join_path(top.dir->path(), name);
      if (!options_.excludes.empty() && excluded(path)) continue;
      Kind kind = options_.ignore_d_type ? Kind::kUnknown : kind_from_dtype(ent->d_type);
      if (kind == Kind::kUnknown) {
        // The filesystem does not say (iso9660, udf, xfs ftype=0, ...).
        struct stat st {};
        if (::fstatat(top.dir->fd(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          visitor_.on_error(path, errno_text(errno));
          continue;
        }
        kind = kind_from_mode(st.st_mode);
      }
      if (kind == Kind::kSymlink && options_.follow_symlinks) {
        struct stat st {};
        if (::fstatat(top.dir->fd(), name, &st, 0) != 0) {
          // A dangling link is not an error worth a line: count it. A link
          // that resolves back to itself (`ln -s self self`, or a cycle of
          // links) is a loop like a link to a directory above.
          if (errno == ENOENT) {
            visitor_.on_symlink(path);
          } else if (errno == ELOOP) {
            visitor_.on_skipped(path, "symlink_loop", "");
          } else {
            visitor_.on_error(path, errno_text(errno));
          }
          continue;
        }
        kind = kind_from_mode(st.st_mode);
        if (kind == Kind::kFile) {
          // Only a followed link pays this: a plain entry is on its
          // directory's device, short of a bind-mounted file.
          if (st.st_dev != top.dev && skipped_for_filesystem(st.st_dev, path)) continue;
          visitor_.on_file(WalkEntry{top.dir, name, std::move(path), true, st.st_dev});
          continue;
        }
        if (kind == Kind::kDir) {
          descend(top, name, std::move(path), stack, /*via_link=*/true);
          continue;
        }
      }
      switch (kind) {
        case Kind::kFile:
          visitor_.on_file(WalkEntry{top.dir, name, std::move(path), false});
          break;
        case Kind::kSymlink:
          visitor_.on_symlink(path);
          break;
        case Kind::kSpecial:
          visitor_.on_skipped(path, "special", "");
          break;
        case Kind::kDir:
          descend(top, name, std::move(path), stack, /*via_link=*/false);
          break;
        case Kind::kUnknown:
          break;
      }
    }
  }

  // May push onto `stack` and so invalidate `parent`; callers must not use
  // it afterwards.
  void descend(const Frame& parent, const char* name, std::string path, std::vector<Frame>& stack, bool via_link) {
    // O_NOFOLLOW|O_DIRECTORY: a directory replaced by a symlink between
    // readdir and here is refused, not followed.
    bool noatime = true;
    const int fd = open_directory(parent.dir->fd(), name, /*nofollow=*/!via_link, options_.strict_atime, noatime);
    if (fd < 0) {
      const int err = errno;
      if (err == ELOOP || err == ENOTDIR) {
        visitor_.on_skipped(path, "changed_during_walk", "");
      } else {
        open_failed(path, noatime, err);
      }
      return;
    }
    enter(fd, std::move(path), stack, via_link, noatime);
  }

  const WalkOptions& options_;
  const MountTable& mounts_;
  WalkVisitor& visitor_;
  std::stop_token stop_;
  dev_t root_dev_ = 0;
  std::optional<ExcludeMatcher> matcher_;  // for the root being walked
  // Directories entered through a followed link, with the path they were
  // walked under, for every root of the walk.
  std::map<std::pair<dev_t, ino_t>, std::string> entered_via_link_;
};

}  // namespace

void FileWalker::walk(const std::vector<std::string>& roots, WalkVisitor& visitor, std::stop_token stop) const {
  Walk walk(options_, mounts_, visitor, stop);
  for (const std::string& root : roots) {
    if (stop.stop_requested()) return;
    walk.root(root);
  }
}

}  // namespace iocsweep
