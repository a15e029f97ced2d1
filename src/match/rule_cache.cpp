#include "match/rule_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yara.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <vector>

namespace iocsweep::rule_cache {
namespace {

// Compiled rules are bytecode that libyara trusts: only a directory and a
// file that this user owns and nobody else can write are acceptable.
bool trusted(const struct stat& st, bool directory) {
  if (st.st_uid != ::geteuid()) return false;
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) return false;
  return directory ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

bool trusted_dir(const std::string& dir) {
  struct stat st {};
  return ::lstat(dir.c_str(), &st) == 0 && trusted(st, true);
}

std::string entry_path(const std::string& dir, const std::string& key) { return dir + "/rules-" + key + ".yarc"; }

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
  if (!trusted_dir(dir)) return nullptr;
  const int fd = ::open(entry_path(dir, key).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
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
  // Missing parents too (~/.cache may not exist yet), private like the
  // XDG base directory specification asks.
  for (std::size_t slash = dir.find('/', 1); slash != std::string::npos; slash = dir.find('/', slash + 1)) {
    ::mkdir(dir.substr(0, slash).c_str(), 0700);
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return;
  if (!trusted_dir(dir)) return;
  std::string tmpl = dir + "/.rules-" + key + ".XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return;
  const std::string temp(name.data());
  std::unique_ptr<FILE, FileClose> file(::fdopen(fd, "wb"));
  if (!file) {
    ::close(fd);
    ::unlink(temp.c_str());
    return;
  }
  YR_STREAM stream{file.get(), nullptr, stream_write};
  const bool ok = yr_rules_save_stream(static_cast<YR_RULES*>(rules), &stream) == ERROR_SUCCESS &&
                  std::fflush(file.get()) == 0 && ::fsync(fd) == 0;
  file.reset();
  if (!ok || ::rename(temp.c_str(), entry_path(dir, key).c_str()) != 0) ::unlink(temp.c_str());
}

}  // namespace iocsweep::rule_cache
