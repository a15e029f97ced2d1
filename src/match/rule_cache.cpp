#include "match/rule_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yara.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "common/fd.hpp"

namespace iocsweep::rule_cache {
namespace {

// Compiled rules are bytecode that libyara trusts: only a directory and a
// file that this user owns and nobody else can write are acceptable.
bool trusted(const struct stat& st, bool directory) {
  if (st.st_uid != ::geteuid()) return false;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) return false;
  return directory ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

// The cache directory opened once and checked through its descriptor;
// every entry is then created, read, renamed and removed relative to it. A
// check of the path followed by uses of the path would let another user
// who can rename entries beside it swap in a link (renameat2 exchange)
// between the two. The way there is walked through descriptors too
// (links on it followed only when root or this user made them), so a
// swapped parent cannot send even the creation of missing directories
// elsewhere; the directory itself is never a link (O_NOFOLLOW, with any
// trailing slash dropped: it would make the kernel follow one).
UniqueFd open_trusted_dir(std::string dir, bool create) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  int links = 0;
  auto parent = open_directory_path(dir_of(dir), links, create);
  const std::string name = base_of(dir);
  if (!parent || name.empty()) return UniqueFd();
  // Missing parents too (~/.cache may not exist yet), private like the
  // XDG base directory specification asks.
  if (create && ::mkdirat(parent->get(), name.c_str(), 0700) != 0 && errno != EEXIST) return UniqueFd();
  UniqueFd fd(::openat(parent->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !trusted(st, true)) return UniqueFd();
  return fd;
}

std::string entry_name(const std::string& key) { return "rules-" + key + ".yarc"; }

struct FileClose {
  void operator()(FILE* f) const { std::fclose(f); }
};

size_t stream_read(void* ptr, size_t size, size_t count, void* user_data) {
  return std::fread(ptr, size, count, static_cast<FILE*>(user_data));
}
size_t stream_write(const void* ptr, size_t size, size_t count, void* user_data) {
  return std::fwrite(ptr, size, count, static_cast<FILE*>(user_data));
}

}  // namespace

void* load(const std::string& dir, const std::string& key) {
  const UniqueFd dirfd = open_trusted_dir(dir, false);
  if (!dirfd) return nullptr;
  const int fd = ::openat(dirfd.get(), entry_name(key).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0) return nullptr;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !trusted(st, false)) {
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<FILE, FileClose> file(::fdopen(fd, "rb"));
  if (!file) {
    ::close(fd);
    return nullptr;
  }
  YR_STREAM stream{file.get(), stream_read, nullptr};
  YR_RULES* rules = nullptr;
  if (yr_rules_load_stream(&stream, &rules) != ERROR_SUCCESS) return nullptr;
  return rules;
}

void save(const std::string& dir, const std::string& key, void* rules) {
  const UniqueFd dirfd = open_trusted_dir(dir, true);
  if (!dirfd) return;
  auto temp = create_file_at(dirfd.get(), ".rules-" + key + ".", 0600);
  if (!temp) return;
  const int fd = ::fcntl(temp->fd.get(), F_DUPFD_CLOEXEC, 0);
  std::unique_ptr<FILE, FileClose> file(fd < 0 ? nullptr : ::fdopen(fd, "wb"));
  if (!file) {
    if (fd >= 0) ::close(fd);
    ::unlinkat(dirfd.get(), temp->name.c_str(), 0);
    return;
  }
  YR_STREAM stream{file.get(), nullptr, stream_write};
  const bool ok = yr_rules_save_stream(static_cast<YR_RULES*>(rules), &stream) == ERROR_SUCCESS &&
                  std::fflush(file.get()) == 0 && ::fsync(fd) == 0;
  file.reset();
  if (!ok || ::renameat(dirfd.get(), temp->name.c_str(), dirfd.get(), entry_name(key).c_str()) != 0) {
    ::unlinkat(dirfd.get(), temp->name.c_str(), 0);
  }
}

}  // namespace iocsweep::rule_cache
