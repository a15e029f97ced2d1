#pragma once
// YARA matching through libyara. Follows libyara's contract: the library is
// initialised once (YaraLibrary, on the main thread), rules are compiled
// once into one shared read-only CompiledRules, and each worker owns one
// long-lived YaraScanner with its per-file external variables. Knows
// nothing of files, walking or reports: it matches bytes it is given. The
// prefilter that rules files out before a scan is private to this
// component (src/match/rule_gate.hpp).

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// Version of the libyara this binary was built against, e.g. "4.2.3".
std::string_view yara_version();

/// Keeps libyara initialised for its lifetime. Create exactly one, on the
/// main thread, before compiling rules and before any other thread starts;
/// destroy it after every scanner and rule set is gone. The first one also
/// installs, for the rest of the process, the SIGBUS handler that guards
/// YaraScanner's scans of mapped files (libyara's own guard is not
/// thread-safe); a SIGBUS it does not own goes to the handler it replaced,
/// or kills the process as before.
class YaraLibrary {
 public:
  YaraLibrary();
  ~YaraLibrary();
  YaraLibrary(const YaraLibrary&) = delete;
  YaraLibrary& operator=(const YaraLibrary&) = delete;
};

/// YARA source text to compile. Rules of one source share a namespace,
/// named after the source, so equal rule names in two files do not clash.
struct RuleSource {
  std::string name;  ///< "builtin:lazarus_swift.yar" or the file path
  std::string text;
  /// The file it was read from (for include resolution); empty for
  /// embedded sources.
  std::string path;
  /// When true, a compile error in this source skips it with a warning
  /// instead of failing the set (files found by scanning a rule directory:
  /// one bad community rule must not stop a sweep).
  bool skip_if_broken = false;
};

/// How CompiledRules::compile may use a cache of compiled rule sets.
struct RuleCacheOptions {
  /// Directory for cached compiled sets; empty disables the cache. Only a
  /// directory and files owned by this user and writable by nobody else
  /// are trusted (compiled YARA rules are code for libyara's VM: never
  /// load one somebody else could have written).
  std::string dir;
};

/// A rule meta value as declared in the rule. A string is the compiled
/// set's own NUL-terminated copy (see RuleInfo::meta); `const char*`, not
/// std::string_view, so that a std::string cannot be stored by mistake
/// (it would not outlive the statement).
using MetaValue = std::variant<std::int64_t, const char*, bool>;

/// Description of one compiled rule.
struct RuleInfo {
  std::string name;
  std::string ns;  ///< namespace: the name of its RuleSource
  std::vector<std::string> tags;
  /// Keys and string values point into the compiled set, valid as long
  /// as the CompiledRules that describes the rule (as every RuleInfo* a
  /// report holds): a large set's metadata (signature-base: several MB of
  /// descriptions, references and hashes) is not held twice. A string
  /// value is never null.
  std::vector<std::pair<std::string_view, MetaValue>> meta;
  /// `score` meta when present and 0-100, otherwise kDefaultYaraScore.
  int score = 0;
};

/// Score of a rule that declares no `score` meta (Loki's habit).
inline constexpr int kDefaultYaraScore = 75;

/// Identity of one compiled rule source, as recorded in reports.
struct RulesetInfo {
  std::string name;
  std::string sha256;  ///< of the source text
  std::size_t rules = 0;
};

/// The external variables every compile defines, in the order of
/// ScanExternals::values(): Loki's / THOR's (signature-base rules use them),
/// then iocsweep's own `iocsweep_scope`, "file" for a file's bytes (archive
/// members and files in disk images too) and "memory" for a live process's
/// memory, so a rule can be written for one of them (docs/rules.md).
inline constexpr const char* kExternalNames[] = {"filename", "filepath", "extension",     "filetype",
                                                 "owner",    "md5",      "iocsweep_scope"};

/// Per-file values of the external variables that every rule may use.
struct ScanExternals {
  std::string filename;
  std::string filepath;
  std::string extension;
  std::string filetype;
  std::string owner;
  std::string md5;
  std::string scope = "file";

  /// The values in kExternalNames' order.
  std::array<const std::string*, std::size(kExternalNames)> values() const {
    return {&filename, &filepath, &extension, &filetype, &owner, &md5, &scope};
  }
};

// The prefilter's gate, which CompiledRules builds from its sources and
// YaraScanner asks before each scan; private to the match component
// (src/match/rule_gate.hpp).
class RuleGate;
struct RulePrefilter;

/// What the prefilter made of a rule set, for `rules check` and the scan's
/// summary: whether its gate rules any file out before a scan, and if not,
/// why. Immutable; thread-safe to read.
class GateSummary {
 public:
  /// True when the gate admits every file (no file is ruled out).
  bool admits_all() const { return admits_all_; }
  /// Why every file is admitted, e.g. "rules.yar:12: rule X: condition
  /// can be true without a file size, header or name test"; empty when not.
  const std::string& reason() const { return reason_; }

 private:
  friend class CompiledRules;
  bool admits_all_ = true;
  std::string reason_;
};

/// How many rules requiring "MZ" a set needs before CompiledRules compiles
/// the second set without them: each compiled set costs libyara at least
/// 10 MB, even a small one, which a handful of rules does not repay.
inline constexpr std::size_t kNonMzMinRules = 50;

/// Rules compiled once, shared read-only by every scanner.
class CompiledRules {
 public:
  /// Compiles `sources` in order. An error fails the whole set with
  /// "SOURCE:LINE: message" lines, except in a source marked
  /// skip_if_broken, which is left out with a warning. With a cache, a set
  /// compiled before from the same sources (same names and bytes, same
  /// libyara) is loaded instead of compiled, once its HMAC under the cache
  /// directory's per-user key verifies (else it is rebuilt, with a warning);
  /// sets using `include` are never cached (the included files are not part
  /// of the key).
  /// `non_mz_min_rules`: also compile the set for files not beginning
  /// with "MZ" (without the rules whose condition requires "MZ", and the
  /// imports no rule left uses), which YaraScanner uses when its
  /// gate is on, if at least that many rules can be left out of it;
  /// nullopt never does (nothing would use it).
  static Result<std::shared_ptr<const CompiledRules>> compile(
      const std::vector<RuleSource>& sources, const RuleCacheOptions& cache = {},
      std::optional<std::size_t> non_mz_min_rules = kNonMzMinRules);
  ~CompiledRules();
  CompiledRules(const CompiledRules&) = delete;
  CompiledRules& operator=(const CompiledRules&) = delete;

  const std::vector<RuleInfo>& rules() const { return rules_; }
  const std::vector<RulesetInfo>& rulesets() const { return rulesets_; }
  /// Compiler warnings ("SOURCE:LINE: message"), skipped sources and
  /// cached sets or key files refused, for the user's attention.
  const std::vector<std::string>& warnings() const { return warnings_; }
  /// True when the set was loaded from the cache rather than compiled.
  bool from_cache() const { return from_cache_; }
  /// False when no rule source mentions any of the external variables, so
  /// scanners need not compute or set them per file.
  bool uses_externals() const { return uses_externals_; }
  /// False when no rule source can read the `md5` external (signature-base
  /// spells md5 only as a meta key), so files need no MD5 for the rules.
  bool reads_md5() const { return reads_md5_; }
  /// What the check that tells files no rule can match made of the set.
  const GateSummary& gate() const { return gate_summary_; }
  /// Rules in the set compiled for files that do not begin with "MZ"
  /// (see compile), or -1 when there is no such set and every
  /// file is scanned with all of them.
  long non_mz_rules() const { return non_mz_handle_ == nullptr ? -1 : static_cast<long>(non_mz_index_.size()); }
  /// What the check made of the rules in that set, which is all a file not
  /// beginning with "MZ" meets; admits every file when there is no such
  /// set.
  const GateSummary& non_mz_gate() const { return non_mz_gate_summary_; }
  /// Rules in the set compiled beside the non-MZ one for files that begin
  /// with "MZ" (those left out of it, and those whose pe terms it writes as
  /// false), or -1 when there is none. With both sets, the whole set is
  /// not kept: an MZ file is scanned with both (two passes), any other
  /// file with the non-MZ set alone.
  long mz_rules() const { return mz_handle_ == nullptr ? -1 : static_cast<long>(mz_index_.size()); }

 private:
  CompiledRules() = default;
  friend class YaraScanner;
  friend const RuleGate& compiled_gate(const CompiledRules& rules);
  friend std::size_t relocation_entries(const CompiledRules& rules);
  void* rules_handle_ = nullptr;  // YR_RULES*, kept opaque so <yara.h> stays in match/
  std::vector<RuleInfo> rules_;
  std::vector<RulesetInfo> rulesets_;
  std::vector<std::string> warnings_;
  bool from_cache_ = false;
  bool uses_externals_ = true;
  bool reads_md5_ = true;
  // Set by prepare_prefilter: no source may locate a string set (see
  // RulePrefilter::locates_string_sets), so fast mode keeps every verdict.
  bool fast_mode_ = false;
  // Set by prepare_prefilter, on every path that makes a CompiledRules.
  std::unique_ptr<const RuleGate> gate_;
  GateSummary gate_summary_;
  // The set for non-MZ files (YR_RULES*) and, for each of its rules, the
  // index of the same rule in rules_.
  void* non_mz_handle_ = nullptr;
  std::vector<std::size_t> non_mz_index_;
  // The gate of the non-MZ set's rules, with non_mz_handle_.
  std::unique_ptr<const RuleGate> non_mz_gate_;
  GateSummary non_mz_gate_summary_;
  // The set for MZ files beside the non-MZ one (YR_RULES*), its rules'
  // indexes in rules_ and its gate; with it, rules_handle_ is null (freed
  // before the split sets were made).
  // in_mz_set_[i]: rules_[i] is in it (what the non-MZ set reports of
  // such a rule does not count for an MZ file).
  void* mz_handle_ = nullptr;
  std::vector<std::size_t> mz_index_;
  std::vector<bool> in_mz_set_;
  std::unique_ptr<const RuleGate> mz_gate_;
  // Takes the gate the sources were read for (`prefilter`, read_prefilter
  // of `sources`) and makes the split sets (the non-MZ set, and the MZ set
  // beside it), in place of the whole set. The whole set may have been
  // freed already (rules_handle_ null): it is made again when there is no
  // split. False when the whole set, needed without a split or after a
  // split set failed, could not be made again.
  bool prepare_prefilter(RulePrefilter&& prefilter, const std::vector<RuleSource>& sources,
                         const RuleCacheOptions& cache);
  // Frees the whole set (rules_handle_, not null), and the meta of rules_
  // that points into it.
  void free_whole_set();
  // Loads or compiles the whole set again (rules_ as they are, meta read
  // from it); false if it cannot, or holds other rules.
  bool restore_whole_set(const std::vector<RuleSource>& sources, const RuleCacheOptions& cache);
  // Fills rules_ and the rule counts of rulesets_ from rules_handle_.
  void describe();
};

/// Outcome of scanning one buffer.
struct YaraScanResult {
  /// Indexes into CompiledRules::rules() of the rules that matched.
  std::vector<std::size_t> matched;
  /// Empty on success; otherwise why the scan did not finish (e.g.
  /// "scan timed out"). Matches found before the problem are kept.
  std::string error;
  /// The rules' gate ruled the file out: libyara did not scan it.
  bool gated = false;
  /// Filled by YaraScanner::scan_memory only, one per `matched`: the lowest
  /// address at which a (non-private) string of that rule matched; unset
  /// for a rule that matched on its condition alone.
  std::vector<std::optional<std::uint64_t>> first_address{};
};

/// Memory scanned the way libyara scans a process (`yara RULES PID`):
/// blocks at their own addresses, read one at a time, never joined into one
/// buffer. `filesize` is undefined, and offsets are addresses (so a rule's
/// test of `uint16(0)` sees no block at 0 and does not hold).
class MemoryBlocks {
 public:
  virtual ~MemoryBlocks() = default;
  /// Number of blocks, each a run of readable addresses.
  virtual std::size_t count() const = 0;
  /// Address of block `i`'s first byte, and its size in bytes.
  virtual std::uint64_t base(std::size_t i) const = 0;
  virtual std::size_t size(std::size_t i) const = 0;
  /// The bytes of block `i`, valid until the next fetch; fewer than size(i)
  /// (or none) when part of it cannot be read any more. libyara may fetch
  /// a block again (for a condition's uint32(address), say).
  virtual ByteView fetch(std::size_t i) = 0;
};

/// How many matches of each string a file scan records.
enum class StringMatches {
  /// libyara's fast mode: a string that its rule's condition uses only for
  /// whether it matched (`$a`, `any of them`; never counted, located or
  /// measured, nor in a `for ... of` loop, as libyara's compiler marks it)
  /// stops at its first match. The verdicts are kEvery's; the match notebook
  /// and the work are smaller on files where such a string matches often.
  kWhatConditionsNeed,
  /// Every match, as plain `yara` records them (the tests' reference).
  kEvery,
};

/// One worker's scanner: a YR_SCANNER kept for the life of the worker.
/// Not thread-safe; one per thread.
class YaraScanner {
 public:
  /// `timeout_s` of 0 means no per-file timeout. With `use_gate`, files
  /// the rules' gate rules out are not scanned (the verdict is the same:
  /// no rule matches them). `matches` applies to scan(); scan_memory()
  /// records every match (it reports where the first one is).
  explicit YaraScanner(std::shared_ptr<const CompiledRules> rules, int timeout_s = 0, bool use_gate = true,
                       StringMatches matches = StringMatches::kWhatConditionsNeed);
  ~YaraScanner();
  YaraScanner(const YaraScanner&) = delete;
  YaraScanner& operator=(const YaraScanner&) = delete;

  /// Sets the externals and scans `bytes`. `mapped` says the bytes are a
  /// file mapping: the scan is then guarded against the SIGBUS of a file
  /// truncated meanwhile, and ends with the error "file shrank while being
  /// scanned" instead (heap buffers skip that guard, which costs a
  /// system call).
  /// `head`: for a mapped file, its first bytes read safely (the gate does
  /// not touch a mapping); ignored otherwise.
  YaraScanResult scan(ByteView bytes, const ScanExternals& externals, bool mapped = false, ByteView head = {});

  /// Scans `blocks` with every rule (the gate and the non-MZ split are for
  /// files: neither applies), under the same timeout. Fills
  /// YaraScanResult::first_address.
  YaraScanResult scan_memory(MemoryBlocks& blocks, const ScanExternals& externals);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iocsweep
