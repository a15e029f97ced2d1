#pragma once
// The file source: opens a walked entry once, checks it, and reads its bytes
// into a reusable buffer. Forensic rules: never follows a symlink below a
// root, never writes, asks for O_NOATIME.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/source.hpp"
#include "iocsweep/walk.hpp"

namespace iocsweep {

/// Facts about an opened file, from one fstat on its descriptor.
struct FileInfo {
  /// The bytes read: st_size, or for a file read until its end (size 0,
  /// or on a pseudo filesystem) what that read found.
  std::uint64_t size = 0;
  /// st_size as fstat gave it.
  std::uint64_t stat_size = 0;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint32_t uid = 0;
  /// Last modification, nanoseconds after the epoch.
  std::int64_t mtime_ns = 0;
  /// Last status change (any write, chmod, rename), nanoseconds after the
  /// epoch.
  std::int64_t ctime_ns = 0;
  /// False when the kernel refused O_NOATIME (not the owner, no
  /// CAP_FOWNER) and the read may have updated the access time.
  bool noatime = true;
  /// The file is on a kernel pseudo filesystem (proc, sysfs, debugfs, ...):
  /// its bytes are generated when read, and change without its mtime or
  /// ctime changing.
  bool pseudo_fs = false;
};

/// The bytes of one file a FileReader read: a slice of the reader's buffer
/// (borrowed: valid until that reader's next read()), or a read-only mapping
/// of the file, which it owns with the file's descriptor and releases when
/// destroyed. Not thread-safe.
class FileContent final : public ByteSource {
 public:
  ~FileContent() override;

  /// The file's size when it was read.
  std::uint64_t size() const override { return bytes_.size(); }

  /// Copies up to `out.size()` bytes at `offset`: from the buffer, or with
  /// pread() for a mapped file (never through the mapping). Fails when the
  /// file shrank meanwhile.
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override;

  /// Passes the bytes, in order, to `sink`: the buffer in one piece, or a
  /// mapped file with pread() in 1 MiB chunks (the pages the scan faulted in
  /// are served from the page cache, and a truncated file gives an error
  /// here instead of SIGBUS). Fails when the file shrank meanwhile.
  Status stream(const std::function<void(ByteView)>& sink);

 private:
  friend class FileReader;
  FileContent(ByteView bytes, int mapped_fd, void* map) : bytes_(bytes), mapped_fd_(mapped_fd), map_(map) {}
  ByteView bytes_;
  int mapped_fd_ = -1;
  void* map_ = nullptr;
  std::vector<std::uint8_t> chunk_;  // stream()'s pread buffer, for a mapped file
};

/// What happened to one file.
struct ReadOutcome {
  enum class Kind { kRead, kSkipped, kFailed };
  Kind kind = Kind::kFailed;
  FileInfo info;
  /// The file's bytes (kRead only); a view of `content`.
  ByteView bytes;
  /// True when `bytes` is a read-only mapping of the file (files above
  /// kMapThreshold): a concurrent truncation makes touching it raise
  /// SIGBUS, so only guarded code (libyara's scans) may read it directly;
  /// everything else goes through `content`'s stream() and read_at().
  bool mapped = false;
  /// Owns the mapping (kRead only; null otherwise).
  std::unique_ptr<FileContent> content;
  /// For kSkipped a short reason ("too_large", "not_regular"); for kFailed
  /// the error ("Permission denied", "file shrank while being read").
  std::string reason;
};

/// Limits applied before and while reading.
struct ReadOptions {
  /// Files larger than this are skipped without being read.
  std::uint64_t max_filesize = 256ull << 20;
  /// Skip ("atime_not_preservable") rather than read a file that cannot be
  /// opened with O_NOATIME, so no access time changes at all.
  bool strict_atime = false;
  /// A file on a kernel pseudo filesystem (--include-fs proc, sysfs) is
  /// generated as it is read and can be endless (/proc/PID/pagemap): at
  /// most this much of it is read, whatever max_filesize says; a longer
  /// one is skipped as too_large.
  std::uint64_t max_pseudo_file_bytes = 16ull << 20;
};

/// Files larger than this are mapped instead of read into the buffer, so a
/// 10 GB file does not need 10 GB of memory.
inline constexpr std::uint64_t kMapThreshold = 16ull << 20;

/// The largest read buffer a FileReader keeps from one file to the next.
/// A larger one (a file of 1-16 MB was read) is given back when the next
/// file is read, whatever that file is, so each worker holds about the
/// file it is on, as a mapping would (yara maps every file), and not the
/// largest file it has met. Faulting a few MB in again costs far less
/// than scanning them.
inline constexpr std::size_t kKeptReadBufferBytes = 1u << 20;

/// A reusable byte buffer whose growth neither zero-fills nor, unless
/// asked, copies: read() overwrites it anyway, and touching pages only to
/// clear or copy them costs a page fault each. Public because the pipeline
/// reads disk-image files into one too, not only FileReader.
///
/// The bytes are an anonymous mapping of their own, not malloc's: release()
/// gives them back to the system at once. (glibc keeps a freed block of
/// several MB in its heap when its threshold has risen, resident until
/// trimmed, so a buffer given back would still count.) Throws
/// std::bad_alloc when no memory can be mapped, as new[] would. Under
/// AddressSanitizer it is new[] memory, so overreads are still caught.
class ReadBuffer {
 public:
  ReadBuffer() = default;
  ~ReadBuffer() { release(); }
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;
  ReadBuffer(ReadBuffer&& other) noexcept;
  ReadBuffer& operator=(ReadBuffer&& other) noexcept;

  std::uint8_t* data() { return data_; }
  /// What is mapped: at least what was asked for, in whole pages.
  std::size_t capacity() const { return capacity_; }
  /// Room for at least `n` bytes; the contents are lost when it grows.
  void make_room(std::size_t n);
  /// Room for at least `n` bytes, keeping the first `keep`.
  void grow_keeping(std::size_t n, std::size_t keep);
  void release();

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t capacity_ = 0;
};

/// Opens the regular file `relative` ("a/b/c") below the directory
/// descriptor `dir_fd` for reading, one component at a time with
/// O_NOFOLLOW (no symlink is followed, ".." and empty components are
/// refused), with O_NOATIME where the kernel allows it. Returns the
/// descriptor, which the caller owns.
Result<int> open_below(int dir_fd, const std::string& relative);

/// Reads files for one worker. Owns a buffer that is reused between files.
/// Not thread-safe: one per worker thread.
class FileReader {
 public:
  explicit FileReader(ReadOptions options);
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  /// Opens `entry` (O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOATIME where allowed),
  /// fstats it and reads it whole into the buffer, or maps it when it is
  /// large. A read reuses the buffer: the content of the previous read()
  /// that was not mapped is no longer valid.
  ReadOutcome read(const WalkEntry& entry);

  /// Bytes of buffer held now (at most kKeptReadBufferBytes once the next
  /// file is read): for tests.
  std::size_t buffer_bytes() const { return buffer_.capacity(); }

 private:
  bool on_pseudo_fs(std::uint64_t device, int fd);
  ReadOutcome read_until_eof(int fd, ReadOutcome out);
  ReadOptions options_;
  ReadBuffer buffer_;
  /// Device -> on a pseudo filesystem, so fstatfs runs once per device.
  std::unordered_map<std::uint64_t, bool> pseudo_devices_;
};

}  // namespace iocsweep
