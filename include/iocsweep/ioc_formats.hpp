#pragma once
// Indicator exchange formats: STIX 2.x bundles and MISP event exports (both
// JSON), turned into the hash and file-name indicators iocsweep can sweep
// for. Whatever cannot be swept for (network indicators, most AND patterns,
// attributes not meant for detection) is counted and listed, never silently
// dropped. Parsers take bytes from memory, so tests and fuzzers need no
// files.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/filename_ioc.hpp"
#include "iocsweep/ioc.hpp"

namespace iocsweep {

/// JSON nested deeper than this is refused before it is parsed (a hostile
/// `[[[[...` must not exhaust the stack of anything that walks it).
inline constexpr std::size_t kMaxJsonDepth = 512;

/// A JSON string (key or value) longer than this fails the document while
/// it is parsed, before the string is copied into it: no field iocsweep
/// reads is near this long, and a hostile one must not cost memory and
/// time before it is refused. Generous, so that an embedded artifact (STIX
/// payload_bin, a MISP attachment) iocsweep does not read still loads.
inline constexpr std::size_t kMaxJsonStringBytes = std::size_t{16} << 20;

/// A file name (STIX file:name, MISP filename) longer than this fails the
/// document before any regex is built for it; PATH_MAX, so no name a file
/// can have is refused.
inline constexpr std::size_t kMaxImportedFileNameBytes = 4096;

/// A STIX pattern longer than this is not parsed: the indicator is counted
/// as unsupported. About 20,000 hash comparisons ORed together.
inline constexpr std::size_t kMaxStixPatternBytes = std::size_t{1} << 20;

/// How many ImportedIocs::unsupported_examples are kept.
inline constexpr std::size_t kMaxUnsupportedExamples = 10;

/// What one STIX bundle or MISP export yields. Hash indicators go to
/// HashIocDb::add_iocs, file-name indicators to FilenameIocDb::add_iocs.
struct ImportedIocs {
  std::vector<HashIoc> hashes;         ///< source = the name given, line = 0
  std::vector<FilenameIoc> filenames;  ///< patterns matching the exact file name, in any case
  /// Indicators (STIX indicator, MISP attribute) or OR-alternatives of a
  /// STIX pattern that were not imported: other observables, AND without a
  /// file hash or across observations, qualifiers, other operators, revoked
  /// or expired STIX indicators, MISP attributes with to_ids false, deleted
  /// or in a deleted object, and MISP sizes that could not be used.
  std::size_t unsupported = 0;
  /// The first kMaxUnsupportedExamples of those, each saying what and why,
  /// e.g. "indicator--abc: pattern [ipv4-addr:value = '1.2.3.4'] not supported".
  std::vector<std::string> unsupported_examples;
  /// STIX objects that are not indicators (identity, malware, relationship,
  /// ...): not indicators, so not counted as unsupported. Always 0 for MISP.
  std::size_t ignored_objects = 0;
  /// What was imported differently from how the source wrote it, one line
  /// each with a count and a first example: older STIX indicator versions
  /// superseded by a later one, file names ANDed with a hash that are not
  /// required. Informational; the loader shows them as warnings.
  std::vector<std::string> notes;
};

/// Parses a STIX 2.0 / 2.1 bundle (`{"type": "bundle", "objects": [...]}`).
/// Objects of type "indicator" whose `pattern` (pattern_type "stix" or
/// absent) is one comparison, or comparisons and observations joined by OR,
/// of `file:hashes.'MD5'` / `'SHA-1'` / `'SHA-256'` (also MD5, SHA1, SHA256,
/// any case, quoted or not) or `file:name` with `=` yield one indicator per
/// comparison. Inside one observation, comparisons ANDed together (AND binds
/// tighter than OR) are one alternative about one file; it is imported when
/// it has a file hash of those kinds: each such hash becomes an indicator,
/// sized (HashIoc::size) when a `file:size = N` (an integer, or digits in
/// quotes as MISP writes it) is in the AND too. A `file:name` in the AND is
/// not required (the hash identifies the file; this widening is counted in
/// ImportedIocs::notes), and facts the file's content fixes (other hash
/// algorithms, mime_type, magic_number_hex, x_misp_entropy, the
/// windows-pebinary-ext extension) are not checked. An AND with anything
/// else, with two different sizes or two different values of one hash kind,
/// or without such a hash, is unsupported, as is an OR inside an AND.
/// In an OR, the alternatives that are not supported (other observables,
/// NOT, other operators, ...) are counted one by one; a pattern with none
/// supported, with AND or FOLLOWEDBY between observations, with qualifiers
/// (WITHIN, REPEATS, START/STOP) or that the small parser here does not
/// understand counts as one unsupported indicator, as does a revoked indicator or one whose valid_until has
/// passed (STIX says it is no longer valid; sweeping for it would report
/// what its producer withdrew). Versions of one indicator (same `id`) are
/// not taken on their own: only the one with the latest `modified` (RFC
/// 3339; one without counts as oldest; ties go to the later object) is
/// read, revoked and valid_until included, and the older ones are counted
/// in ImportedIocs::notes. Descriptions are "NAME (indicator--id)" (NAME
/// from `name`, else `description`); scores are `confidence` when present
/// (0-100), else 100 for hashes and kDefaultFilenameScore for names. Every
/// hash (hex, length of its algorithm) and name (non-empty UTF-8 without
/// NUL, at most kMaxImportedFileNameBytes) is checked; a bad one, invalid
/// JSON, JSON deeper than kMaxJsonDepth, a string longer than
/// kMaxJsonStringBytes or a malformed indicator (also a `modified` that is
/// not a timestamp) fails the whole bundle with "NAME: ..." naming the
/// indicator id (or "NAME:LINE: ..." for JSON syntax errors and strings too
/// long). A pattern longer than kMaxStixPatternBytes is unsupported.
Result<ImportedIocs> parse_stix_bundle(std::string_view json_text, const std::string& name);

/// Parses a MISP event export: `{"Event": {...}}`, a restSearch answer
/// `{"response": [{"Event": {...}}, ...]}` or an array of `{"Event": ...}`.
/// Attributes in Event.Attribute and Event.Object[].Attribute of type md5,
/// sha1, sha256, filename, filename|md5, filename|sha1, filename|sha256 are
/// imported; a composite "name|hash" value (split at its last '|') yields a
/// file-name and a hash indicator. Attributes with to_ids false (MISP's
/// "not for detection"; an absent to_ids counts as true), deleted, or in an
/// Object that is deleted, and attributes of any other type, are counted as
/// unsupported with the reason. In a "file" Object, one size-in-bytes
/// attribute (not deleted; its to_ids is not asked) whose value is a whole
/// number of bytes sizes the Object's hash indicators (HashIoc::size); two
/// or more, or one that is not a whole number, size nothing and are counted
/// as unsupported.
/// Descriptions are "EVENT_INFO: COMMENT (attribute UUID)", EVENT_INFO and
/// COMMENT clipped to 200 bytes each (every indicator repeats the info);
/// scores 100 for
/// hashes and kDefaultFilenameScore for names. Bad values fail the whole
/// export like parse_stix_bundle, naming the attribute uuid (or its JSON
/// path when it has none).
Result<ImportedIocs> parse_misp_event(std::string_view json_text, const std::string& name);

/// The kinds of IOC file iocsweep reads.
enum class IocFileFormat { kLokiHash, kLokiFilename, kStixBundle, kMispEvent };

/// Tells JSON exchange formats from text lists: a JSON object with
/// "type": "bundle" is kStixBundle; JSON with "Event" (or
/// "response": [{"Event": ...}]) is kMispEvent; other text starting with '{'
/// or '[' is kStixBundle too, so that its parser explains what is wrong;
/// everything else is kLokiHash. Never returns kLokiFilename: whether a text
/// list holds file names is the caller's choice (option or file name).
IocFileFormat detect_ioc_format(std::string_view text);

}  // namespace iocsweep
