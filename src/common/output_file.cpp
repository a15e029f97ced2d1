#include "iocsweep/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace iocsweep {
namespace {

std::string dir_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Result<std::unique_ptr<AtomicOutputFile>> AtomicOutputFile::create(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Error{path + ": is a directory"};
  std::string temp = path + ".tmp-XXXXXX";
  std::vector<char> buf(temp.begin(), temp.end());
  buf.push_back('\0');
  const int fd = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd < 0) return Error{path + ": cannot create the output file in " + dir_of(path) + ": " + std::strerror(errno)};
  // mkstemp makes 0600; give the report the mode any new file would get.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  ::close(fd);
  std::string temp_path(buf.data());
  auto file = std::unique_ptr<AtomicOutputFile>(new AtomicOutputFile(path, temp_path));
  if (!file->stream_) {
    return Error{path + ": cannot open " + temp_path + " for writing"};
  }
  return file;
}

AtomicOutputFile::AtomicOutputFile(std::string path, std::string temp_path)
    : path_(std::move(path)),
      temp_path_(std::move(temp_path)),
      stream_(temp_path_, std::ios::binary | std::ios::trunc) {}

AtomicOutputFile::~AtomicOutputFile() {
  if (!committed_) {
    stream_.close();
    ::unlink(temp_path_.c_str());
  }
}

Status AtomicOutputFile::commit() {
  stream_.flush();
  stream_.close();
  if (!stream_) return Error{path_ + ": write failed (disk full?)"};
  // Data on disk before the rename, so a crash cannot leave an empty file
  // under the final name.
  const int fd = ::open(temp_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return Error{path_ + ": fsync failed: " + std::strerror(err)};
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return Error{path_ + ": cannot rename the finished report into place: " + std::strerror(errno)};
  }
  committed_ = true;
  return Ok{};
}

}  // namespace iocsweep
