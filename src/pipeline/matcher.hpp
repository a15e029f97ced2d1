#pragma once
// The matcher stage: bytes and the facts of their path in, matches out.
// Hashes, looks the digests up in the indicator sets and the allow-lists,
// runs the YARA rules, and matches the path against the file-name
// indicators. Knows nothing of where the bytes came from (a file on disk, an
// archive member, a file in a disk image), of the cache or of the report:
// tests drive it from memory.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "iocsweep/accounts.hpp"
#include "iocsweep/common.hpp"
#include "iocsweep/hash.hpp"
#include "iocsweep/match.hpp"
#include "iocsweep/pipeline.hpp"
#include "iocsweep/report.hpp"

namespace iocsweep {

/// Passes the bytes being matched, in order, to a sink: a reader's stream
/// for a file on disk, the buffer for a member or an image file.
using Feed = std::function<Status(const std::function<void(ByteView)>&)>;

/// A Feed over bytes in memory.
Feed feed_of(ByteView bytes);

/// The bytes being matched, and what the rules may ask about them.
struct Subject {
  ByteView bytes;
  /// `bytes` is a file mapping: only libyara's guarded scan may read it.
  bool mapped = false;
  /// The first bytes, safe to read: `bytes` itself, or for a mapped file a
  /// copy of its head read with pread.
  ByteView head;
  /// Streams the same bytes as `bytes`, safely (for hashing).
  const Feed* feed = nullptr;
  /// Path for the filepath/filename externals.
  std::string_view path;
  std::uint32_t uid = 0;
  /// False when the owner is not known (a file in a disk image, whose
  /// accounts are not this host's): the `owner` external is then "".
  bool owner_known = true;
};

/// What match() found, besides the matches it added to the finding.
struct MatchOutcome {
  enum class Kind {
    kError,        ///< the bytes could not be hashed; `error` says why
    kAllowListed,  ///< known good: no match added, nothing to report
    kMatched,      ///< matched (perhaps nothing); a YARA error is in `error`
  };
  Kind kind = Kind::kMatched;
  std::string error;
  YaraScanResult yara;
};

/// One worker's matcher: its hash contexts and YARA scanner live as long
/// as it does. Not thread-safe: one per worker thread.
class Matcher {
 public:
  /// `pack` and `accounts` must outlive the matcher.
  Matcher(const Pack& pack, const AccountNames& accounts, int yara_timeout_s, bool rule_gate);

  /// Digests a file of `size` bytes needs before matching: those the
  /// allow-lists and the `md5` external use, and the kinds of the hash
  /// indicators that can match that size. The rest are computed only for
  /// files that end up in findings (complete_digests).
  DigestSet needed_for(std::uint64_t size) const;

  /// True when a YARA verdict is part of matching (the pack has rules).
  bool has_rules() const { return scanner_.has_value(); }

  /// Adds the file-name indicators `path` matches to `finding`.
  void match_path(std::string_view path, Finding& finding) const;

  /// Hashes `s` (the digest `kinds`, into finding.digests), checks the
  /// allow-lists, looks the digests up and runs the rules, adding matches
  /// to `finding`.
  MatchOutcome match(const Subject& s, DigestSet kinds, Finding& finding);

  /// Runs the rules over a live process's memory (YaraScanner::scan_memory:
  /// no gate, `filesize` undefined). `path` (its executable's) and `uid`
  /// give the externals; `filetype` and `md5` are "" in memory. Nothing is
  /// matched when the pack has no rules.
  YaraScanResult match_memory(MemoryBlocks& blocks, std::string_view path, std::uint32_t uid);

  /// The account name of `uid`, as the `owner` external gives it.
  std::string owner_name(std::uint32_t uid) const { return accounts_.name_of(uid); }

  /// Computes the digests `finding` lacks from `feed` (a finding carries
  /// all three).
  Status complete_digests(const Feed& feed, Finding& finding);

  /// SHA-256 (hex) of the bytes of `feed`: from `digests` when it has it;
  /// "" when they cannot be read.
  std::string sha256_of(const Feed& feed, const Digests& digests);

 private:
  const Pack& pack_;
  const AccountNames& accounts_;
  DigestSet needed_always_;
  Hasher hasher_;
  std::optional<YaraScanner> scanner_;
};

/// The last path component of `path`.
std::string_view base_name(std::string_view path);

/// The `extension` external of a file named `name` (its last path
/// component), as Loki gives it: os.path.splitext(name)[1].lower(), the
/// last dot and what follows, lowercased ("x.PHP" -> ".php", "a.tar.gz" ->
/// ".gz"); "" when no dot follows a character other than a dot (".bashrc").
std::string loki_extension_of(std::string_view name);

}  // namespace iocsweep
