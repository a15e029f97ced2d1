#pragma once
// File-name / path indicators in the Loki / signature-base layout
// (iocs/filename-iocs.txt): `REGEX;SCORE` or `REGEX;SCORE;FALSE_POSITIVE_REGEX`
// (or, without a score, `REGEX` and `REGEX;DESCRIPTION`),
// matched with RE2 against the full path of each file. Parsers take bytes
// from memory, so tests and fuzzers need no files. How the importers make
// and check exact-name patterns is internal to the ioc component
// (src/ioc/filename_patterns.hpp).
//
// Separators. signature-base writes its patterns for Windows paths, with an
// escaped backslash `\\` as the separator; iocsweep also sweeps Windows
// images mounted on Linux (/mnt/img/Windows/msdtc.exe) and Linux hosts. One
// rule makes both work: the path to be matched has every `/` turned into `\`
// (and any invalid UTF-8 replaced by U+FFFD), so `\\` in a pattern matches
// either separator of the original path; and a pattern that itself uses `/`
// as a separator is rewritten before it is compiled: `/` and `\/` outside a
// character class become `\\`, and a character class that contains `/`
// (such as `[^/]`) also gets `\`. So `\\Windows\\msdtc\.exe` and
// `/Windows/msdtc\.exe` both match /mnt/img/Windows/msdtc.exe and
// C:\Windows\msdtc.exe. The price: a literal backslash inside a Linux file
// name is read as a separator, a `/` written as a hex escape (`\x2f`) or only
// inside a range (`[!-0]`) is not rewritten, and a pattern anchored on a
// drive letter (`[Cc]:\\Windows`) matches only paths given with one.
//
// Matching is case-insensitive (RE2 Unicode simple case folding) and
// unanchored: a pattern matches anywhere in the path unless it says `^`/`$`.
// Two Python `re` spellings common in Loki lists are rewritten to their RE2
// meaning: `{,n}` (RE2 reads it literally) becomes `{0,n}`, and `\Z` becomes
// `\z`. Anything else RE2 does not support (backreferences, lookaround) is an
// error naming the file and line.
//
// Windows environment variables. Loki expands `%TEMP%`, `%APPDATA%`, ...
// with the sweeping host's own values, which say nothing of a mounted image
// or of another user. Here a known one (SYSTEMROOT, WINDIR, SYSTEMDRIVE,
// TEMP, TMP, APPDATA, LOCALAPPDATA, USERPROFILE, HOMEPATH, PUBLIC,
// PROGRAMDATA, ALLUSERSPROFILE, PROGRAMFILES, PROGRAMFILES(X86),
// COMMONPROGRAMFILES; any case) outside a character class stands for its
// usual locations, for any user: `%APPDATA%` matches
// `\Users\NAME\AppData\Roaming` and the XP-era `\Documents and
// Settings\NAME\Application Data`. An unknown `%NAME%` stays literal.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/ioc.hpp"

namespace iocsweep {

/// Score of a file-name indicator imported from a format that carries none
/// (STIX without confidence, MISP): a name alone is weaker evidence than a
/// hash.
inline constexpr int kDefaultFilenameScore = 80;

/// Score of a line of a file-name list that gives none (`REGEX` alone or
/// `REGEX;DESCRIPTION`, as in signature-base's otx-filename-iocs.txt and
/// older blocks of filename-iocs.txt): Loki's default for such lines, a
/// warning rather than an alert, since these lists were never curated.
inline constexpr int kDefaultFilenameListScore = 60;

/// Memory budget (bytes) of each compiled group of file-name patterns (up
/// to 64 patterns, one RE2::Set): bounds both its program and its DFA state
/// cache. Patterns are checked against it when they load, so any pattern
/// that loads fits a group alone.
inline constexpr std::int64_t kFilenameGroupMaxMem = std::int64_t{8} << 20;

/// One file-name / path indicator.
struct FilenameIoc {
  std::string pattern;         ///< RE2 pattern as written (before the separator rewrite)
  int score = 0;               ///< 0-100
  std::string false_positive;  ///< RE2 pattern; a path it matches is not reported. Empty: none
  std::string description;     ///< the `# comment` before its block; may be empty
  std::string source;          ///< name of the set it came from
  std::size_t line = 0;        ///< line in that set; 0 when imported from JSON
};

/// Parses one file-name IOC list. Accepted per line, after trimming white
/// space: blank, `# comment`, `REGEX;SCORE`, `REGEX;SCORE;FALSE_POSITIVE_REGEX`
/// (SCORE an integer 0-100; fields are trimmed; the false-positive regex is
/// everything after the second `;`), and, scored kDefaultFilenameListScore,
/// `REGEX` alone and `REGEX;DESCRIPTION` (a second field that is not a
/// number: then everything after the first `;` is the description). The
/// text of the last comment line before an indicator (leading `#`s and
/// blanks removed) is its description unless the line gives one; a blank
/// line ends it, a later comment line replaces it. Bytes of a description
/// that are not valid UTF-8 (Latin-1, say) become U+FFFD. A UTF-8
/// byte-order mark and CRLF line ends are accepted; UTF-16 is refused,
/// saying so. Each pattern is checked with RE2 as written and as rewritten
/// for separators (see the top of this header); a pattern that matches the
/// empty string (and so every path) is refused. The first bad line (a
/// number out of 0-100 as score, pattern RE2 rejects or not valid UTF-8,
/// NUL byte, line over 64 KiB) fails the whole set with "NAME:LINE:
/// reason"; nothing is half-loaded.
/// With `skipped_lines`, bad lines are recorded there and skipped instead
/// (lenient mode, for community lists loaded by directory, as Loki does).
Result<std::vector<FilenameIoc>> parse_filename_iocs(std::string_view text, const std::string& name,
                                                     std::vector<std::string>* skipped_lines = nullptr);

/// Checks indicators from elsewhere as FilenameIocDb::add_iocs does,
/// without adding them: score 0-100, patterns, description valid UTF-8. The
/// first bad one fails, naming its source (or `set_name`) and line.
Status check_filename_iocs(const std::vector<FilenameIoc>& iocs, const std::string& set_name);

/// All file-name indicator sets of a scan. Sets are added first, then
/// compile() puts the patterns in groups of up to 64, each one RE2::Set,
/// and works out the literals each pattern needs (RE2's prefilter). An ASCII
/// path meets only the groups holding a pattern whose literals all occur in
/// the lowercased path, and the groups of patterns that have none; any other
/// path meets every group. After compile() the database is read-only and
/// match() is safe to call from many threads at once.
class FilenameIocDb {
 public:
  /// `max_mem` bounds the memory of each group (see kFilenameGroupMaxMem);
  /// smaller values are for tests.
  explicit FilenameIocDb(std::int64_t max_mem = kFilenameGroupMaxMem);
  /// Frees the compiled patterns; pointers from match() die with it.
  ~FilenameIocDb();
  /// Moves; a moved-from database may only be destroyed or assigned to.
  FilenameIocDb(FilenameIocDb&&) noexcept;
  /// Moves; a moved-from database may only be destroyed or assigned to.
  FilenameIocDb& operator=(FilenameIocDb&&) noexcept;
  /// Not copyable: it owns compiled regexes.
  FilenameIocDb(const FilenameIocDb&) = delete;
  /// Not copyable: it owns compiled regexes.
  FilenameIocDb& operator=(const FilenameIocDb&) = delete;

  /// Parses `text` (parse_filename_iocs) as a set named `name` and adds it.
  /// Fails after compile().
  /// With `skipped_lines`, bad lines are skipped and recorded there
  /// instead of failing the set (lenient mode).
  Status add_set(std::string_view text, const std::string& name, std::vector<std::string>* skipped_lines = nullptr);
  /// Adds indicators that came from elsewhere (STIX, MISP) as one set
  /// described by `info`. Each is checked like a parsed line (patterns,
  /// score 0-100, UTF-8) and the first bad one fails the whole set, naming
  /// its source (or info.name) and line; nothing is half-loaded. The same
  /// pattern and false-positive pair twice in one set is kept once, with
  /// the highest score given and that line's description and line (so in
  /// add_set too). `info.name` and `info.sha256` are kept as given; its count and
  /// filename counters are set to what was added here. Fails after compile().
  Status add_iocs(std::vector<FilenameIoc> iocs, IocSetInfo info);
  /// Builds the groups; call once, after all sets are added. A group that
  /// does not fit the memory budget is split; a pattern that does not fit
  /// it alone fails, naming its set and line. Calling it again is a no-op.
  Status compile();
  /// Every indicator whose pattern matches `path` and whose false-positive
  /// pattern (if any) does not, in load order. Empty before compile().
  /// Pointers stay valid for the life of the database. Thread-safe after
  /// compile().
  std::vector<const FilenameIoc*> match(std::string_view path) const;
  /// The sets in load order.
  const std::vector<IocSetInfo>& sets() const { return sets_; }
  /// Total number of indicators.
  std::size_t size() const { return entries_.size(); }
  /// Number of compiled groups (0 before compile()); for tests.
  std::size_t group_count() const;

 private:
  Status add_entries(std::vector<FilenameIoc> iocs, IocSetInfo info, bool checked);
  // The entries whose pattern matches `normalised` (an ASCII path) through
  // the literal prefilter, appended to `matched` in no order.
  void match_prefiltered(const std::string& normalised, std::vector<int>& matched) const;
  // The same for any path, through every group.
  void match_all(const std::string& normalised, std::vector<int>& matched) const;
  // The entries of group `g` whose pattern matches `normalised`.
  void run_group(std::size_t g, const std::string& normalised, std::vector<int>& matched) const;

  struct Regexes;  // RE2 objects, kept out of this header (<re2/*.h> stays in ioc/)
  std::int64_t max_mem_;
  std::vector<IocSetInfo> sets_;
  std::vector<FilenameIoc> entries_;
  std::vector<std::string> rewritten_;  // per entry: pattern after the separator rewrite
  std::unique_ptr<Regexes> regexes_;
};

}  // namespace iocsweep
