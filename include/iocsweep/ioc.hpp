#pragma once
// Indicators of compromise: hash lists in the Loki / signature-base layout
// (`HASH;DESCRIPTION` or `HASH;SCORE;DESCRIPTION`). Parsers take bytes from
// memory, so tests and fuzzers need no files.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/hash.hpp"

namespace iocsweep {

/// Score given to a hash IOC line that names none: an exact hash match is
/// as strong as evidence gets.
inline constexpr int kDefaultHashScore = 100;

/// One hash indicator.
struct HashIoc {
  DigestKind kind = DigestKind::kSha256;
  std::string value;  ///< lower-case hex
  int score = kDefaultHashScore;
  std::string description;  ///< may be empty
  std::string source;       ///< name of the set it came from
  std::size_t line = 0;     ///< line in that set
  /// The file's size in bytes, when the source gives it. A sized indicator
  /// matches only a file of that size, and files of other sizes need not
  /// be hashed for it.
  std::optional<std::uint64_t> size;
};

/// Identity of one loaded indicator set, as recorded in reports.
struct IocSetInfo {
  std::string name;    ///< "builtin:lazarus_hashes.txt" or the path given
  std::string sha256;  ///< of the set's bytes
  std::size_t count = 0;
  std::size_t md5 = 0, sha1 = 0, sha256_count = 0;
  std::size_t filename = 0;  ///< file-name / path indicators (see filename_ioc.hpp)
};

/// Parses one hash IOC list. Accepted per line, after trimming white space:
/// blank, `# comment`, `HASH`, `HASH;DESCRIPTION`, `HASH;SCORE;DESCRIPTION`
/// (SCORE an integer 0-100). The hash kind is told from its length (32, 40,
/// 64 hex digits), case-insensitively. The hash may be followed, after
/// white space, by `size=N`: the file's size in bytes (HashIoc::size). A UTF-8 byte-order mark and CRLF
/// line ends are accepted; a description that is not valid UTF-8 (Latin-1,
/// say) has its bad bytes replaced by U+FFFD. A UTF-16 list (byte-order
/// mark FF FE or FE FF) fails, saying so. The first bad line fails the
/// whole set with "NAME:LINE: reason"; nothing is half-loaded.
/// With `skipped_lines`, bad lines are recorded there ("NAME:LINE: reason")
/// and skipped instead (lenient mode, for community lists loaded by
/// directory, as Loki does).
Result<std::vector<HashIoc>> parse_hash_iocs(std::string_view text, const std::string& name,
                                             std::vector<std::string>* skipped_lines = nullptr);

/// Checks indicators from elsewhere (STIX, MISP) as HashIocDb::add_iocs
/// does, without adding them: hex of the length its kind needs, score
/// 0-100, description valid UTF-8. The first bad one fails, naming its
/// source (or `set_name`) and line.
Status check_hash_iocs(const std::vector<HashIoc>& iocs, const std::string& set_name);

/// All hash indicator sets of a scan, indexed for lookup. Built once before
/// the scan, then read-only and safe to share between threads.
class HashIocDb {
 public:
  /// Parses `text` as a set named `name` and adds it (add_iocs).
  /// With `skipped_lines`, bad lines are skipped and recorded there
  /// instead of failing the set (lenient mode).
  Status add_set(std::string_view text, const std::string& name, std::vector<std::string>* skipped_lines = nullptr,
                 std::vector<std::string>* notes = nullptr);
  /// Adds indicators that came from elsewhere (STIX, MISP) as one set
  /// described by `info`. Each is checked (check_hash_iocs) and the first
  /// bad one fails the whole set; nothing is half-loaded. The MD5, SHA-1
  /// and SHA-256 of empty content and of a lone line break ("\n", "\r\n") are never added (they
  /// would flag every empty file): each is skipped, in strict mode too,
  /// with a note "SOURCE:LINE: ..." appended to `notes` when given. The
  /// same hash and size twice in the set is kept once, with the highest
  /// score given and that indicator's description and line. `info.name`
  /// and `info.sha256` are kept as given; its count, md5, sha1 and
  /// sha256_count are set to what was added here.
  Status add_iocs(std::vector<HashIoc> iocs, IocSetInfo info, std::vector<std::string>* notes = nullptr);
  /// Every indicator matching one of `digests` of a file of `size` bytes
  /// (a sized indicator matches only that size), in load order.
  std::vector<const HashIoc*> lookup(const Digests& digests, std::uint64_t size) const;
  /// The sets in load order.
  const std::vector<IocSetInfo>& sets() const { return sets_; }
  /// Total number of indicators.
  std::size_t size() const { return entries_.size(); }
  /// The digest kinds any indicator uses.
  DigestSet kinds() const { return kinds_; }
  /// The digest kinds a file of `size` bytes must be hashed with before
  /// lookup: those of indicators without a size, and those of indicators
  /// of exactly this size. A kind all of whose indicators carry sizes
  /// costs nothing for files of other sizes.
  DigestSet kinds_for_size(std::uint64_t size) const;

 private:
  std::vector<IocSetInfo> sets_;
  std::vector<HashIoc> entries_;
  std::vector<std::size_t> entry_set_;  // index into sets_ of each entry
  DigestSet kinds_;
  DigestSet unsized_kinds_;
  std::unordered_map<std::uint64_t, DigestSet> sized_kinds_;
  // key: kind as one byte + raw digest bytes -> indexes into entries_.
  std::unordered_map<std::string, std::vector<std::size_t>> index_;
};

/// Known-good hashes: Loki's falsepositive-hashes.txt and lists like it, in
/// the same line format as hash IOC lists (parsed by parse_hash_iocs; score,
/// size and description are read but not used). What a listed file is spared is
/// the caller's decision. Built once before the scan, then read-only and
/// safe to share between threads.
class HashAllowList {
 public:
  /// Parses `text` as a set named `name` and adds it; a bad line fails the
  /// whole set with "NAME:LINE: reason" and leaves the list unchanged.
  /// With `skipped_lines`, bad lines are skipped and recorded there
  /// instead of failing the set (lenient mode).
  Status add_set(std::string_view text, const std::string& name, std::vector<std::string>* skipped_lines = nullptr);
  /// True when any of the three digests is listed.
  bool contains(const Digests& d) const;
  /// The sets in load order (count = distinct hashes of that set).
  const std::vector<IocSetInfo>& sets() const { return sets_; }
  /// Number of distinct listed hashes over all sets.
  std::size_t size() const { return keys_.size(); }
  /// The digest kinds the listed hashes use.
  DigestSet kinds() const { return kinds_; }

 private:
  std::vector<IocSetInfo> sets_;
  DigestSet kinds_;
  // kind as one byte + raw digest bytes.
  std::unordered_set<std::string> keys_;
};

}  // namespace iocsweep
