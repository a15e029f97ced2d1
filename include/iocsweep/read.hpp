#pragma once
// The file source: opens a walked entry once, checks it, and reads its bytes
// into a reusable buffer. Forensic rules: never follows a symlink below a
// root, never writes, asks for O_NOATIME.

#include <cstdint>
#include <string>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/walk.hpp"

namespace iocsweep {

/// Facts about an opened file, from one fstat on its descriptor.
struct FileInfo {
  std::uint64_t size = 0;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint32_t uid = 0;
  /// False when the kernel refused O_NOATIME (not the owner, no
  /// CAP_FOWNER) and the read may have updated the access time.
  bool noatime = true;
};

/// What happened to one file.
struct ReadOutcome {
  enum class Kind { kRead, kSkipped, kFailed };
  Kind kind = Kind::kFailed;
  FileInfo info;
  /// The file's bytes; valid until the next read() on the same reader.
  ByteView bytes;
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
};

/// Reads files for one worker. Owns a buffer that is reused between files.
/// Not thread-safe: one per worker thread.
class FileReader {
 public:
  explicit FileReader(ReadOptions options) : options_(options) {}
  /// Opens `entry` (O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOATIME where allowed),
  /// fstats it and reads it whole. The descriptor is closed on return.
  ReadOutcome read(const WalkEntry& entry);

 private:
  ReadOptions options_;
  std::vector<std::uint8_t> buffer_;
};

}  // namespace iocsweep
