#pragma once
// The scan cache: what an earlier sweep learnt about each file (digests and
// YARA verdict), kept in an SQLite file keyed by path and stat identity, so
// an unchanged file need not be read again. Knows nothing of walking,
// reading or matching; the pipeline decides when an entry may be used. The
// file layout's version and how settings are read are private to the
// component (src/cache/scan_cache.hpp).

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/hash.hpp"

namespace iocsweep {

/// Identity of one version of a file, from lstat (on a first sweep, from
/// the fstat of the descriptor that is read): any write to the file
/// changes ctime, which an unprivileged user cannot set back (utimensat
/// sets atime and mtime only).
struct FileKey {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool operator==(const FileKey&) const = default;
};

/// The key of the file version `st` describes (from lstat or fstat).
FileKey file_key_of(const struct stat& st);

/// Whether the scan cache may answer for, and store, files on a filesystem
/// of statfs(2) type `f_type`: only disk filesystems known to update a
/// file's mtime and ctime on the first write through a shared mapping after
/// each writeback (ext2/3/4, xfs, btrfs, f2fs). tmpfs and ramfs never do
/// (their pages are never written back), so a write through a mapping
/// changes the bytes under an unchanged key; anything not known to update
/// them (overlayfs, FUSE, network filesystems, vfat, ...) is not trusted.
bool cache_trusts_filesystem(std::uint64_t f_type);

/// How long after its last change a file on a trusted filesystem must be
/// before its verdict is stored, from this kernel's writeback settings
/// (/proc/sys/vm/dirty_*_centisecs; 70 s with the kernel's defaults): a
/// page dirtied through a shared mapping can be rewritten without any time
/// update until it is written back. Nothing when they cannot be read or
/// periodic writeback is off.
std::optional<std::int64_t> current_writeback_settle_ns();

/// A YARA rule by identity, stable across runs: namespace (rule source
/// name) and rule name.
struct RuleId {
  std::string ns;
  std::string name;
  bool operator==(const RuleId&) const = default;
};

/// What the cache knows about one file version.
struct CachedFile {
  /// The digests computed when the file was read (any subset).
  Digests digests;
  /// Fingerprint of the rule set the YARA verdict was computed with; empty
  /// when the file was not matched with YARA (then `yara_matches` means
  /// nothing).
  std::string rules_fingerprint;
  /// Rules that matched.
  std::vector<RuleId> yara_matches;
  /// The file was checked for archive and image formats and is neither, so
  /// it has no members. False when that was not checked (--archives off):
  /// such an entry cannot answer a sweep that opens archives.
  bool not_archive = false;
  /// For an archive: the fingerprint of everything its members were matched
  /// with (rules, indicator sets, archive limits) when none of them matched,
  /// was skipped or failed; such an archive has nothing to report while
  /// that fingerprint holds. Empty otherwise.
  std::string clean_members_fingerprint;
};

/// One connection's view of the cache, for lookups from one thread.
/// Not thread-safe: one per worker thread.
///
/// A lookup reads the rows of the path's directory once, by one SELECT (its
/// own read transaction: no snapshot outlives it, so checkpoints pass
/// between directories), and keeps them for the lookups of its other files
/// while that directory is among the last few it looked in. Rows committed
/// later (by this sweep or another) are seen when it reads the directory
/// again. A sweep never needs its own writes: each path is looked up once,
/// before it is stored. A reader made while the cache holds no rows (empty
/// at open, nothing committed since) answers nothing and never touches
/// SQLite.
class ScanCacheReader {
 public:
  ~ScanCacheReader();
  ScanCacheReader(const ScanCacheReader&) = delete;
  ScanCacheReader& operator=(const ScanCacheReader&) = delete;

  /// The entry for `path` (raw bytes) when its stored key equals `key`;
  /// nothing when there is none, the key differs, or the lookup failed.
  std::optional<CachedFile> find(std::string_view path, const FileKey& key);
  /// True when this reader was made while the cache held no rows: find()
  /// answers nothing, whatever it is asked.
  bool answers_nothing() const;

 private:
  friend class ScanCache;
  struct Impl;
  explicit ScanCacheReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// An open cache file (SQLite, WAL journal). Writes go through one writer
/// thread owned by the cache: store() only queues the row, and the writer
/// commits the queue in one transaction per batch (kBatchRows rows, or
/// about a second after the first row queued), so no scanning thread ever
/// runs a commit, and a killed sweep keeps what was committed and never
/// leaves a corrupt file. A checkpointer thread copies the WAL into the file
/// in the background (at open, and as commits fill the WAL; the writer waits
/// for it only past 4,000 frames, which bounds the WAL); closing leaves the
/// WAL as it is, uncopied. store(), flush() and reader() are thread-safe.
class ScanCache {
 public:
  /// Rows that start a commit without waiting for the second to pass.
  static constexpr std::size_t kBatchRows = 1024;
  /// Rows queued at most: store() waits for the writer beyond this.
  static constexpr std::size_t kQueueRows = 16 * kBatchRows;

  /// Opens `path`, creating it (mode 0600, schema written) when it does not
  /// exist. Fails with a message naming the file and the reason when it is
  /// not an iocsweep cache (another SQLite database, or any other bytes),
  /// has another schema version, is a symlink, or cannot be opened or
  /// written; and when another user could edit its verdicts: the file (or an
  /// existing -wal, -shm or -journal file of it) is not owned by the
  /// effective user or is writable by group or others, its directory is
  /// writable by anyone but its owner, or a directory above it lets others
  /// rename entries (writable by group or others without the sticky bit), or
  /// one of them belongs to another user than root or the effective user.
  /// When it fails on a file it created, it removes that file and the -wal,
  /// -shm and -journal files it made; it never removes what existed before.
  static Result<std::unique_ptr<ScanCache>> open(const std::string& path);
  /// Commits what is queued, then stops the writer thread.
  ~ScanCache();
  ScanCache(const ScanCache&) = delete;
  ScanCache& operator=(const ScanCache&) = delete;

  /// A new connection for lookups (WAL readers do not block the writer);
  /// none, and a reader that answers nothing, while the cache holds no rows.
  Result<std::unique_ptr<ScanCacheReader>> reader() const;

  /// Records what was learnt about `path` at `key`, replacing any older
  /// entry: queues it for the writer thread, which commits it in a later
  /// batch (one row for each directory the batch holds). A path ending in
  /// '/' names no file and is not stored. Blocks while kQueueRows rows wait (the writer is behind:
  /// every verdict is kept rather than dropped by timing). Does nothing
  /// after a write error.
  void store(std::string path, const FileKey& key, CachedFile file);

  /// Waits until every row stored before the call is committed (or dropped
  /// by a write error). Fails when the database cannot be written (the
  /// error is also kept: see last_error()).
  Status flush();

  /// The first write error met, or "" (writes after one are dropped, the
  /// sweep goes on without caching).
  std::string last_error() const;

  const std::string& path() const { return path_; }

 private:
  struct Impl;
  struct Row;
  ScanCache(std::string path, std::string db_path);
  // The writer thread's loop, one batch's transaction, and the checkpointer
  // thread's loop.
  void write_loop();
  void checkpoint_loop();
  Status commit(const std::vector<Row>& rows);
  std::string path_;
  // The file as opened: its directory resolved once, when it was checked.
  std::string db_path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iocsweep
