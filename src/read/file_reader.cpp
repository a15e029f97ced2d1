#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "iocsweep/read.hpp"

namespace iocsweep {
namespace {

// Buffers above this are released when the next file is read, so one large
// file does not pin its size in memory for the rest of the scan.
constexpr std::size_t kKeepBufferBytes = kKeptReadBufferBytes;
static_assert(kKeepBufferBytes <= kMapThreshold);

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

int open_entry(const WalkEntry& entry, int extra_flags) {
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | extra_flags;
  if (!entry.follow) flags |= O_NOFOLLOW;
  const int dirfd = entry.parent ? entry.parent->fd() : AT_FDCWD;
  int fd;
  do {
    fd = ::openat(dirfd, entry.name.c_str(), flags);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Kernel pseudo filesystems whose files are generated when read: st_size
// is 0 or a page, not the length. From linux/magic.h, spelled out so the
// build does not depend on the kernel headers' version.
bool is_pseudo_fs_type(std::uint64_t type) {
  static constexpr std::uint64_t kPseudo[] = {
      0x9fa0,      // proc
      0x62656572,  // sysfs
      0x64626720,  // debugfs
      0x74726163,  // tracefs
      0x73636673,  // securityfs
      0x27e0eb,    // cgroup
      0x63677270,  // cgroup2
      0x62656570,  // configfs
      0x6165676c,  // pstore
      0xcafe4a11,  // bpf
      0xde5e81e4,  // efivarfs
      0xf97cff8c,  // selinuxfs
      0x42494e4d,  // binfmt_misc
      0x65735543,  // fusectl
      0x19800202,  // mqueue
      0x6e667364,  // nfsd
      0x67596969,  // rpc_pipefs
  };
  return std::find(std::begin(kPseudo), std::end(kPseudo), type) != std::end(kPseudo);
}

ReadOutcome failed(std::string reason) {
  ReadOutcome out;
  out.kind = ReadOutcome::Kind::kFailed;
  out.reason = std::move(reason);
  return out;
}

}  // namespace

Result<int> open_below(int dir_fd, const std::string& relative) {
  int cur = dir_fd;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = relative.find('/', start);
    const std::string part = relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") {
      if (cur != dir_fd) ::close(cur);
      return Error{"refusing path " + relative};
    }
    const bool last = slash == std::string::npos;
    const int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (last ? 0 : O_DIRECTORY) | O_NOATIME;
    int fd;
    do {
      fd = ::openat(cur, part.c_str(), flags);
      if (fd < 0 && errno == EPERM) fd = ::openat(cur, part.c_str(), flags & ~O_NOATIME);
    } while (fd < 0 && errno == EINTR);
    const int err = errno;
    if (cur != dir_fd) ::close(cur);
    if (fd < 0) return Error{relative + ": " + std::strerror(err)};
    if (last) {
      struct stat st {};
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{relative + ": not a regular file"};
      }
      return fd;
    }
    cur = fd;
    start = slash + 1;
  }
}

namespace {

// Under AddressSanitizer the buffer comes from new[] instead, so that
// reading past its end is still reported (a mapping has no redzone).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kBufferFromHeap = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kBufferFromHeap = true;
#else
constexpr bool kBufferFromHeap = false;
#endif
#else
constexpr bool kBufferFromHeap = false;
#endif

std::size_t whole_pages(std::size_t n) {
  if (kBufferFromHeap) return n;
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

std::uint8_t* allocate_buffer(std::size_t bytes) {
  if (kBufferFromHeap) return new std::uint8_t[bytes];
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<std::uint8_t*>(p);
}

void free_buffer(std::uint8_t* data, std::size_t bytes) {
  if (kBufferFromHeap) {
    delete[] data;
  } else {
    ::munmap(data, bytes);
  }
}

}  // namespace

ReadBuffer::ReadBuffer(ReadBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}

ReadBuffer& ReadBuffer::operator=(ReadBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void ReadBuffer::make_room(std::size_t n) {
  n = std::max<std::size_t>(n, 1);  // a valid pointer even for no bytes
  if (n <= capacity_) return;
  // Doubling up to the size kept between files, so a run of growing files
  // costs a few mappings; the old block goes first, not after.
  const std::size_t grown = whole_pages(std::max(n, std::min(capacity_ * 2, kKeepBufferBytes)));
  release();
  data_ = allocate_buffer(grown);
  capacity_ = grown;
}

void ReadBuffer::grow_keeping(std::size_t n, std::size_t keep) {
  if (n <= capacity_) return;
  const std::size_t grown = whole_pages(n);
  std::uint8_t* bigger = allocate_buffer(grown);
  if (keep > 0 && capacity_ > 0) std::memcpy(bigger, data_, std::min(keep, capacity_));
  release();
  data_ = bigger;
  capacity_ = grown;
}

void ReadBuffer::release() {
  if (data_ != nullptr) free_buffer(data_, capacity_);
  data_ = nullptr;
  capacity_ = 0;
}

FileContent::~FileContent() {
  if (map_ != nullptr) ::munmap(map_, bytes_.size());
  if (mapped_fd_ >= 0) ::close(mapped_fd_);
}

Status FileContent::stream(const std::function<void(ByteView)>& sink) {
  if (map_ == nullptr) {
    sink(bytes_);
    return Ok{};
  }
  constexpr std::size_t kChunk = 1u << 20;
  if (chunk_.size() < kChunk) chunk_.resize(kChunk);
  std::uint64_t offset = 0;
  while (offset < bytes_.size()) {
    Result<std::size_t> n = read_at(offset, std::span<std::uint8_t>(chunk_.data(), chunk_.size()));
    if (!n) return n.error();
    sink(ByteView(chunk_.data(), *n));
    offset += *n;
  }
  return Ok{};
}

Result<std::size_t> FileContent::read_at(std::uint64_t offset, std::span<std::uint8_t> out) {
  if (offset >= bytes_.size() || out.empty()) return std::size_t{0};
  const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), bytes_.size() - offset));
  if (map_ == nullptr) {
    std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(offset), want, out.begin());
    return want;
  }
  for (;;) {
    const ssize_t n = ::pread(mapped_fd_, out.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{std::strerror(errno)};
    if (n == 0) {
      return Error{"file shrank while being read (" + std::to_string(bytes_.size()) + " bytes at open, " +
                   std::to_string(offset) + " read)"};
    }
    return static_cast<std::size_t>(n);
  }
}

FileReader::FileReader(ReadOptions options) : options_(options) {}

ReadOutcome FileReader::read(const WalkEntry& entry) {
  // The previous file's bytes are no longer valid: a buffer grown for a
  // large one goes back now, before this file is mapped or read.
  if (buffer_.capacity() > kKeepBufferBytes) buffer_.release();
  // O_NONBLOCK: should the entry have been swapped for a FIFO after the
  // walk saw a regular file, open() must not wait for a writer. The fstat
  // below then refuses it before any read.
  bool noatime = true;
  int raw = open_entry(entry, O_NOATIME);
  if (raw < 0 && errno == EPERM) {
    // O_NOATIME is only allowed to the owner or with CAP_FOWNER.
    if (options_.strict_atime) {
      ReadOutcome out;
      out.kind = ReadOutcome::Kind::kSkipped;
      out.reason = "atime_not_preservable";
      out.info.noatime = false;
      return out;
    }
    noatime = false;
    raw = open_entry(entry, 0);
  }
  if (raw < 0) {
    const int err = errno;
    if (err == ELOOP) return failed("is a symbolic link now (replaced during the scan)");
    return failed(std::strerror(err));
  }
  Fd fd(raw);

  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return failed(std::strerror(errno));
  if (entry.device && *entry.device != st.st_dev) {
    return failed("the followed symbolic link leads to another filesystem now (replaced during the scan)");
  }
  ReadOutcome out;
  out.info.size = static_cast<std::uint64_t>(st.st_size);
  out.info.stat_size = out.info.size;
  out.info.device = static_cast<std::uint64_t>(st.st_dev);
  out.info.inode = static_cast<std::uint64_t>(st.st_ino);
  out.info.uid = st.st_uid;
  out.info.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  out.info.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  out.info.noatime = noatime;
  if (!S_ISREG(st.st_mode)) {
    out.kind = ReadOutcome::Kind::kSkipped;
    out.reason = "special";
    return out;
  }
  if (out.info.size > options_.max_filesize) {
    out.kind = ReadOutcome::Kind::kSkipped;
    out.reason = "too_large";
    return out;
  }
  // O_NONBLOCK stays set: it has no effect on regular files, and clearing
  // it would cost two system calls per file.

  // A generated file's st_size is not its length, and neither is an
  // st_size of 0 on any filesystem: those are read until EOF.
  out.info.pseudo_fs = on_pseudo_fs(out.info.device, fd.get());
  if (out.info.pseudo_fs || out.info.size == 0) return read_until_eof(fd.get(), std::move(out));

  if (out.info.size > kMapThreshold) {
    void* map =
        ::mmap(nullptr, static_cast<std::size_t>(out.info.size), PROT_READ, MAP_PRIVATE | MAP_NORESERVE, fd.get(), 0);
    if (map == MAP_FAILED) return failed(std::string("cannot map the file: ") + std::strerror(errno));
    ::madvise(map, static_cast<std::size_t>(out.info.size), MADV_SEQUENTIAL);
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    out.kind = ReadOutcome::Kind::kRead;
    out.mapped = true;
    out.bytes = ByteView(static_cast<const std::uint8_t*>(map), static_cast<std::size_t>(out.info.size));
    out.content.reset(new FileContent(out.bytes, fd.release(), map));
    return out;
  }

  // Exactly the size fstat gave: a file that grows meanwhile is scanned as
  // it was when opened, a consistent prefix (log files grow all the time),
  // and a small file costs one read() call.
  const std::size_t want = static_cast<std::size_t>(out.info.size);
  buffer_.make_room(want);
  std::size_t got = 0;
  while (got < want) {
    const ssize_t n = ::read(fd.get(), buffer_.data() + got, want - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed(std::strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got < out.info.size) {
    return failed("file shrank while being read (" + std::to_string(out.info.size) + " bytes at open, " +
                  std::to_string(got) + " read)");
  }
  out.kind = ReadOutcome::Kind::kRead;
  out.bytes = ByteView(buffer_.data(), static_cast<std::size_t>(out.info.size));
  out.content.reset(new FileContent(out.bytes, -1, nullptr));
  return out;
}

bool FileReader::on_pseudo_fs(std::uint64_t device, int fd) {
  // One fstatfs per device, not per file.
  if (const auto it = pseudo_devices_.find(device); it != pseudo_devices_.end()) return it->second;
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return false;  // not remembered: asked again next time
  const bool pseudo = is_pseudo_fs_type(static_cast<std::uint64_t>(fs.f_type));
  pseudo_devices_.emplace(device, pseudo);
  return pseudo;
}

ReadOutcome FileReader::read_until_eof(int fd, ReadOutcome out) {
  // A generated file (/proc/PID/pagemap) can be endless or huge: at most
  // max_pseudo_file_bytes of it is read, whatever --max-filesize says.
  const std::uint64_t max_bytes =
      out.info.pseudo_fs ? std::min(options_.max_filesize, options_.max_pseudo_file_bytes) : options_.max_filesize;
  // One byte more than the limit tells a file that exceeds it.
  const std::uint64_t limit = max_bytes == std::numeric_limits<std::uint64_t>::max() ? max_bytes : max_bytes + 1;
  constexpr std::size_t kFirstBuffer = 64u << 10;
  std::size_t got = 0;
  for (;;) {
    if (got == buffer_.capacity()) {
      const std::uint64_t grown = std::min<std::uint64_t>(limit, std::max<std::size_t>(kFirstBuffer, got * 2));
      if (grown <= got) break;  // the limit is reached
      buffer_.grow_keeping(static_cast<std::size_t>(grown), got);
    }
    const std::size_t room = static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.capacity() - got, limit - got));
    if (room == 0) break;
    const ssize_t n = ::read(fd, buffer_.data() + got, room);
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed(std::strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.info.size = got;
  if (got > max_bytes) {
    out.kind = ReadOutcome::Kind::kSkipped;
    out.reason = "too_large";
    return out;
  }
  buffer_.make_room(1);  // a valid pointer even for no bytes
  out.kind = ReadOutcome::Kind::kRead;
  out.bytes = ByteView(buffer_.data(), got);
  out.content.reset(new FileContent(out.bytes, -1, nullptr));
  return out;
}

}  // namespace iocsweep
