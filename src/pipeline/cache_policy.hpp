#pragma once
// The cache policy stage: when the scan cache (--cache) may answer for a
// file without reading it, and what is stored once it has been read. Knows
// the cache's rules of trust (stat key, filesystem type, settle time, rule
// and member fingerprints); knows nothing of matching beyond the matcher's
// interface, nor of reporting.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "iocsweep/accounts.hpp"
#include "iocsweep/cache.hpp"
#include "iocsweep/pipeline.hpp"
#include "iocsweep/read.hpp"
#include "iocsweep/walk.hpp"
#include "pipeline/matcher.hpp"

namespace iocsweep {

/// What every worker needs to use the scan cache; immutable.
struct CacheContext {
  ScanCache* cache = nullptr;
  bool verify = false;
  /// "" when there are no rules (no YARA verdict is needed or stored).
  std::string fingerprint;
  /// "namespace\0name" -> index into CompiledRules::rules().
  std::unordered_map<std::string, std::size_t> rule_index;
  /// members_fingerprint(); "" when archives are off.
  std::string members;
  /// How old a file's last change must be, at its stat, for it to be
  /// stored; nothing: store nothing (the writeback delay is unknown).
  std::optional<std::int64_t> min_age_ns;
  /// Names for the `owner` external, read once per scan from /etc/passwd
  /// when the rules use externals. They are part of the fingerprint: a
  /// renamed account changes an owner rule's verdict, not the file's ctime.
  AccountNames accounts;

  /// Reads what the scan's cache use needs, once per scan: the kernel's
  /// writeback delay, the account names, the fingerprints.
  static CacheContext make(const ScanConfig& config);
};

/// One worker's use of the cache: its own connection. Not thread-safe.
class CachePolicy {
 public:
  CachePolicy(const ScanConfig& config, const CacheContext& context);

  /// True when the cache can be asked (there is one, and this worker has a
  /// connection: without one a worker just reads every file).
  bool active() const { return reader_ != nullptr; }
  /// --verify-cache: read every file and compare.
  bool verifying() const { return ctx_.verify; }
  /// members_fingerprint() of the scan; "" when archives are off.
  const std::string& members_fingerprint() const { return ctx_.members; }

  /// Stored with a file found not to be an archive, in place of a members
  /// fingerprint: which recognition decided it (bumped when it changes).
  static constexpr const char* kNotArchiveMark = "not-archive recognition 2";
  static std::string not_archive_mark(bool not_archive) { return not_archive ? kNotArchiveMark : ""; }

  /// What the cache knows of a walked file, without opening it.
  struct Lookup {
    /// The file's stat key; unset when it cannot be stat'ed, is no regular
    /// file, or lies on a filesystem the cache does not trust.
    std::optional<FileKey> key;
    /// Its entry, when the key matches one (and the file is not above
    /// --max-filesize).
    std::optional<CachedFile> cached;
    /// When the key was taken (CLOCK_REALTIME ns).
    std::int64_t stat_ns = 0;
    /// The cache can answer nothing (a first sweep): the file was not
    /// stat'ed, and its key is taken from the reader's fstat instead
    /// (key_from_read), one system call fewer per file.
    bool key_after_read = false;
  };
  Lookup lookup(const WalkEntry& entry);
  /// For a lookup that left the key to the read: the key from the fstat of
  /// the descriptor that was read (`info`), when the cache trusts its
  /// filesystem. The fstat came after `stat_ns` and before any byte was
  /// read, so the settle check in remember() holds as for a stat key.
  void key_from_read(const WalkEntry& entry, const FileInfo& info, Lookup& look);

  enum class Answer {
    kRead,         ///< the entry does not hold all this run needs: read the file
    kClean,        ///< answered: nothing matched
    kAllowListed,  ///< answered: on an allow-list
    kFinding,      ///< answered: `finding` holds the matches (finding.cached)
  };
  /// Answers for a file from its entry when that holds everything this run
  /// needs: the digest kinds `matcher` uses, and a YARA verdict from the same
  /// rules. Indicators are matched afresh (cheap, and the sets may have
  /// changed); `finding` may already hold path matches.
  Answer answer(const FileKey& key, const CachedFile& entry, const Matcher& matcher, Finding& finding) const;

  /// Stores what was learnt about a file read without error. `yara` is null
  /// when no YARA verdict was made (allow-listed); `checked_not_archive`
  /// when archives were looked for and the file is none. `stat_ns`: when
  /// `key` was taken. Stores nothing without a key or when the file changed
  /// too recently.
  void remember(const std::string& path, const std::optional<FileKey>& key, std::int64_t stat_ns,
                const Digests& digests, const YaraScanResult* yara, bool checked_not_archive,
                const std::string& clean_members);

  /// --verify-cache: the file's key says unchanged; its bytes must agree.
  /// The error to report, or "".
  static std::string verify(const CachedFile& entry, const Digests& now);

 private:
  bool trusts_device(const WalkEntry& entry, const FileKey& key);
  const ScanConfig& config_;
  const CacheContext& ctx_;
  std::unique_ptr<ScanCacheReader> reader_;
  /// Device -> the cache trusts its filesystem (trusts_device).
  std::unordered_map<std::uint64_t, bool> trusted_devices_;
};

}  // namespace iocsweep
