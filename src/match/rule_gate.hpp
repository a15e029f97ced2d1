#pragma once
// The prefilter: what a rule set's conditions require of a file before any
// string can matter (RuleGate), and the smaller set for files that do not
// begin with "MZ". Private to the match component: CompiledRules builds
// both from its sources and YaraScanner asks the gate before each scan;
// other components see only GateSummary (iocsweep/match.hpp). Reads YARA
// source text only; knows nothing of libyara, files or reports.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/match.hpp"

namespace iocsweep {

/// A cheap check before a scan, read from the rules' own conditions: the
/// file size and header tests (`filesize < 3MB`, `uint16(0) == 0x5A4D`,
/// ...) and external-variable comparisons (`filename == "x.exe"`) that a
/// rule requires whatever its strings match. A file that fails every
/// rule's check cannot match any rule, so scanning it can be skipped.
///
/// Conservative by construction: only `and`, `or`, parentheses and the
/// shapes listed in docs/rules.md are read; anything else in a condition
/// (strings, `not`, modules, loops) counts as "may be true". A rule named
/// in a condition stands for its own check (`IsPE and $a` requires what
/// IsPE does), and a global rule's check is required by every rule of its
/// source. Private rules are left out (they are never reported). One
/// public rule whose condition leaves nothing to check (e.g. `any of
/// them`), or an `include`, makes the gate admit every file.
struct RulePrefilter;

class RuleGate {
 public:
  /// Admits every file.
  RuleGate();
  ~RuleGate();
  RuleGate(const RuleGate&);
  RuleGate& operator=(const RuleGate&);
  RuleGate(RuleGate&&) noexcept;
  RuleGate& operator=(RuleGate&&) noexcept;

  /// Reads the conditions of every rule in `sources` (YARA source text
  /// that compiles).
  static RuleGate analyse(const std::vector<RuleSource>& sources);

  /// True when the gate admits every file.
  bool admits_all() const;
  /// Why every file is admitted, e.g. "rules.yar:12: rule X: condition
  /// can be true without a file size, header or name test"; empty when not.
  const std::string& reason() const;
  /// Number of distinct checks (rules with equal checks share one).
  std::size_t checks() const;

  /// Whether a rule could match a file of `size` bytes whose first bytes
  /// are `head` (the whole file, or a prefix: a test beyond the prefix
  /// counts as passed) and whose externals are `externals` (compared the
  /// way libyara sees them: each value up to its first NUL).
  bool admits(std::uint64_t size, ByteView head, const ScanExternals& externals) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  static RuleGate everything(std::string reason);
  friend RulePrefilter read_prefilter(const std::vector<RuleSource>&, std::optional<std::size_t>);
};

/// The rule sources a file that does not begin with "MZ" needs: `sources`
/// without the rules whose condition requires `uint16(0) == 0x5A4D` (as
/// RuleGate reads conditions, a global rule's check included), and
/// without the imports no rule left uses (libyara builds every imported
/// module's objects for each file). Most rules of signature-base's shape
/// are such Windows-executable rules. Rules that must be compiled together
/// are left out together or not at all: a global rule with its whole
/// source, a rule with the rules it names (directly or by a wildcard such
/// as `all of (Foo*)`), across sources. nullopt when no rule can be left
/// out, or the text cannot be read (an `include`, text RuleGate does not
/// read). Also nullopt when fewer than `min_left_out` rules (or a tenth of
/// the set) would be left out.
std::optional<std::vector<RuleSource>> sources_for_non_mz_files(const std::vector<RuleSource>& sources,
                                                                std::size_t min_left_out = 1);

/// What the prefilter reads from a rule set: its gate, and the sources for
/// files not beginning with "MZ" (nullopt as sources_for_non_mz_files
/// says, or when not asked for).
struct RulePrefilter {
  /// For the whole set: what every file meets without the split.
  RuleGate gate;
  std::optional<std::vector<RuleSource>> non_mz_sources;
  /// For the non-MZ set, when there is one: the checks of its rules only,
  /// so a rule with nothing to check among the MZ rules does not make it
  /// scan every file.
  RuleGate non_mz_gate;
  /// With non_mz_sources: what a file beginning with "MZ" needs besides
  /// the non-MZ set, so that the two sets together hold every rule once
  /// and no whole set need be kept. The rules left out of the non-MZ set,
  /// and the closures whose pe terms it writes as `false` (those are in
  /// both; their results from the non-MZ set do not count for an MZ file),
  /// as written.
  std::optional<std::vector<RuleSource>> mz_sources;
  /// The checks of the rules in mz_sources.
  RuleGate mz_gate;
  /// Whether a condition may locate a string set (`any of them in (0..10)`,
  /// `any of ($a*) at 0`); also true when the sources were not read. libyara
  /// 4.2 leaves those strings single-match, so its fast mode would see only
  /// their first match and miss one in the range: a set for which this is
  /// true is scanned without fast mode.
  bool locates_string_sets = true;
};

/// RuleGate::analyse and, with `non_mz_min_left_out`,
/// sources_for_non_mz_files, reading each source once.
RulePrefilter read_prefilter(const std::vector<RuleSource>& sources, std::optional<std::size_t> non_mz_min_left_out);

/// Whether YARA source `text` has an `include` directive: the word
/// `include` as libyara's lexer reads it (not inside a comment, a text
/// string, a regular expression or a hex string, nor part of a longer
/// name such as `include_x`) followed by a text string. Also true when
/// the text cannot be followed (an unterminated literal), so a caller that
/// must not miss an include (the compiled-rule cache, whose key does not
/// cover included files) errs on the safe side. Pure; thread-safe.
bool has_include_directive(std::string_view text);

/// Whether YARA source `text` may read the external variable `name`: the
/// word as libyara's lexer reads it (not in a comment or a literal, not a
/// string identifier such as `$name`), and neither a meta key (followed
/// by `=`) nor a module field (`hash.name`). Also true when the text cannot
/// be followed, the safe side for a caller that skips computing the value
/// (MD5 for `md5`) when no source reads it. Pure; thread-safe.
bool may_read_external(std::string_view text, std::string_view name);

/// The gate `rules` read from its sources, which YaraScanner asks before
/// each scan (CompiledRules::gate() is its summary). Lives as long as
/// `rules`.
const RuleGate& compiled_gate(const CompiledRules& rules);

/// Relocation entries libyara still keeps for `rules`' compiled sets (the
/// whole set, or the ones for non-MZ and MZ files), which CompiledRules frees once
/// each set is complete and saved: for tests.
std::size_t relocation_entries(const CompiledRules& rules);

}  // namespace iocsweep
