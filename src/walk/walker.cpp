#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "iocsweep/walk.hpp"

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
int open_directory(int dirfd, const char* name, bool nofollow) {
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY;
  if (nofollow) flags |= O_NOFOLLOW;
  int fd = ::openat(dirfd, name, flags | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(dirfd, name, flags);
  return fd;
}

class Walk {
 public:
  Walk(const WalkOptions& options, const MountTable& mounts, WalkVisitor& visitor, std::stop_token stop)
      : options_(options), mounts_(mounts), visitor_(visitor), stop_(std::move(stop)) {}

  void root(const std::string& root) {
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
    const int fd = open_directory(AT_FDCWD, root.c_str(), false);
    if (fd < 0) {
      visitor_.on_error(root, errno_text(errno));
      return;
    }
    root_dev_ = st.st_dev;
    std::vector<Frame> stack;
    if (!enter(fd, root, stack)) return;
    walk_tree(stack);
  }

 private:
  bool excluded(const std::string& path) {
    for (const std::string& glob : options_.excludes) {
      if (::fnmatch(glob.c_str(), path.c_str(), 0) == 0) {
        visitor_.on_skipped(path, "excluded", glob);
        return true;
      }
    }
    return false;
  }

  // Takes ownership of `fd`, an open directory, applies the filesystem and
  // loop policies, and pushes a frame to list it. False when skipped.
  bool enter(int fd, std::string path, std::vector<Frame>& stack) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      visitor_.on_error(path, errno_text(errno));
      ::close(fd);
      return false;
    }
    const bool new_device = stack.empty() || st.st_dev != stack.back().dev;
    if (new_device) {
      if (!stack.empty() && options_.one_file_system && st.st_dev != root_dev_) {
        visitor_.on_skipped(path, "other_filesystem", mounts_.type_of(st.st_dev));
        ::close(fd);
        return false;
      }
      const std::string type = mounts_.type_of(st.st_dev);
      if (skip_by_default_fs(type) &&
          std::find(options_.include_fs.begin(), options_.include_fs.end(), type) == options_.include_fs.end()) {
        visitor_.on_skipped(path, "filesystem", type);
        ::close(fd);
        return false;
      }
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
    const int stream_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR* stream = stream_fd < 0 ? nullptr : ::fdopendir(stream_fd);
    if (stream == nullptr) {
      visitor_.on_error(path, errno_text(errno));
      if (stream_fd >= 0) ::close(stream_fd);
      ::close(fd);
      return false;
    }
    stack.push_back(
        Frame{std::make_shared<const DirHandle>(fd, std::move(path)), DirStream(stream), st.st_dev, st.st_ino});
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
      Kind kind = kind_from_dtype(ent->d_type);
      if (kind == Kind::kUnknown || (kind == Kind::kSymlink && options_.follow_symlinks)) {
        struct stat st {};
        const int flags = kind == Kind::kSymlink ? 0 : AT_SYMLINK_NOFOLLOW;
        if (::fstatat(top.dir->fd(), name, &st, flags) != 0) {
          // A dangling link is not an error worth a line: count it.
          if (kind == Kind::kSymlink && errno == ENOENT) {
            visitor_.on_symlink(path);
          } else {
            visitor_.on_error(path, errno_text(errno));
          }
          continue;
        }
        const bool via_link = kind == Kind::kSymlink;
        kind = kind_from_mode(st.st_mode);
        if (via_link && kind == Kind::kFile) {
          visitor_.on_file(WalkEntry{top.dir, name, std::move(path), true});
          continue;
        }
        if (via_link && kind == Kind::kDir) {
          descend(top, name, std::move(path), stack, /*nofollow=*/false);
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
          descend(top, name, std::move(path), stack, /*nofollow=*/true);
          break;
        case Kind::kUnknown:
          break;
      }
    }
  }

  // May push onto `stack` and so invalidate `parent`; callers must not use
  // it afterwards.
  void descend(const Frame& parent, const char* name, std::string path, std::vector<Frame>& stack, bool nofollow) {
    // O_NOFOLLOW|O_DIRECTORY: a directory replaced by a symlink between
    // readdir and here is refused, not followed.
    const int fd = open_directory(parent.dir->fd(), name, nofollow);
    if (fd < 0) {
      const int err = errno;
      if (err == ELOOP || err == ENOTDIR) {
        visitor_.on_skipped(path, "changed_during_walk", "");
      } else {
        visitor_.on_error(path, errno_text(err));
      }
      return;
    }
    enter(fd, std::move(path), stack);
  }

  const WalkOptions& options_;
  const MountTable& mounts_;
  WalkVisitor& visitor_;
  std::stop_token stop_;
  dev_t root_dev_ = 0;
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
