#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "iocsweep/walk.hpp"

namespace iocsweep {

DirHandle::~DirHandle() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

std::string join_path(const std::string& dir, const char* name) {
  std::string path = dir;
  if (path.empty() || path.back() != '/') path += '/';
  path += name;
  return path;
}

// One directory being listed. The DIR stream owns a dup() of the
// descriptor, so closing the stream when the listing is done leaves the
// DirHandle's descriptor open for workers still holding entries of it.
struct DirStreamCloser {
  void operator()(DIR* stream) const { ::closedir(stream); }
};
using DirStream = std::unique_ptr<DIR, DirStreamCloser>;

struct Frame {
  std::shared_ptr<const DirHandle> dir;
  DirStream stream;
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
    case DT_REG: return Kind::kFile;
    case DT_DIR: return Kind::kDir;
    case DT_LNK: return Kind::kSymlink;
    case DT_UNKNOWN: return Kind::kUnknown;
    default: return Kind::kSpecial;
  }
}

std::string errno_text(int err) { return std::strerror(err); }

class Walk {
 public:
  Walk(const WalkOptions& options, WalkVisitor& visitor, std::stop_token stop)
      : options_(options), visitor_(visitor), stop_(std::move(stop)) {}

  void root(const std::string& root) {
    struct stat st {};
    // A root the user named is taken as they named it: a symlink there is
    // followed (like find -H). Nothing below a root is.
    if (::stat(root.c_str(), &st) != 0) {
      visitor_.on_error(root, errno_text(errno));
      return;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (S_ISREG(st.st_mode)) {
        visitor_.on_file(WalkEntry{nullptr, root, root, true});
      } else {
        visitor_.on_skipped(root, "special");
      }
      return;
    }
    const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      visitor_.on_error(root, errno_text(errno));
      return;
    }
    root_dev_ = st.st_dev;
    walk_tree(fd, root);
  }

 private:
  // Builds a frame for an open directory descriptor (ownership taken).
  bool open_frame(int fd, std::string path, std::vector<Frame>& stack) {
    const int stream_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (stream_fd < 0) {
      visitor_.on_error(path, errno_text(errno));
      ::close(fd);
      return false;
    }
    DIR* stream = ::fdopendir(stream_fd);
    if (stream == nullptr) {
      visitor_.on_error(path, errno_text(errno));
      ::close(stream_fd);
      ::close(fd);
      return false;
    }
    stack.push_back(Frame{std::make_shared<const DirHandle>(fd, std::move(path)), DirStream(stream)});
    return true;
  }

  void walk_tree(int root_fd, const std::string& root_path) {
    // Depth-first with an explicit stack: depth is bounded by descriptors,
    // not by the call stack.
    std::vector<Frame> stack;
    if (!open_frame(root_fd, root_path, stack)) return;
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
      Kind kind = kind_from_dtype(ent->d_type);
      std::string path = join_path(top.dir->path(), name);
      if (kind == Kind::kUnknown) {
        struct stat st {};
        if (::fstatat(top.dir->fd(), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          visitor_.on_error(path, errno_text(errno));
          continue;
        }
        kind = kind_from_mode(st.st_mode);
      }
      switch (kind) {
        case Kind::kFile:
          visitor_.on_file(WalkEntry{top.dir, name, std::move(path), false});
          break;
        case Kind::kSymlink:
          visitor_.on_symlink(path);
          break;
        case Kind::kSpecial:
          visitor_.on_skipped(path, "special");
          break;
        case Kind::kDir:
          descend(top, name, std::move(path), stack);  // may invalidate `top`
          break;
        case Kind::kUnknown:
          break;
      }
    }
  }

  void descend(const Frame& parent, const char* name, std::string path, std::vector<Frame>& stack) {
    // O_NOFOLLOW|O_DIRECTORY: a directory replaced by a symlink between
    // readdir and here is refused, not followed.
    const int fd = ::openat(parent.dir->fd(), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == ELOOP || err == ENOTDIR) {
        visitor_.on_skipped(path, "changed_during_walk");
      } else {
        visitor_.on_error(path, errno_text(err));
      }
      return;
    }
    if (options_.one_file_system) {
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        visitor_.on_error(path, errno_text(errno));
        ::close(fd);
        return;
      }
      if (st.st_dev != root_dev_) {
        visitor_.on_skipped(path, "other_filesystem");
        ::close(fd);
        return;
      }
    }
    open_frame(fd, std::move(path), stack);
  }

  const WalkOptions& options_;
  WalkVisitor& visitor_;
  std::stop_token stop_;
  dev_t root_dev_ = 0;
};

}  // namespace

void FileWalker::walk(const std::vector<std::string>& roots, WalkVisitor& visitor, std::stop_token stop) const {
  Walk walk(options_, visitor, stop);
  for (const std::string& root : roots) {
    if (stop.stop_requested()) return;
    walk.root(root);
  }
}

}  // namespace iocsweep
