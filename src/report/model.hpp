#pragma once
// What the report sinks and baselines share and nothing outside the report
// component needs: the layout versions they write and read, one match's
// score and stable identity, and how paths and archive member chains are
// written. Knows the report model only.

#include <cstdint>
#include <string>
#include <string_view>

#include "iocsweep/report.hpp"

namespace iocsweep {

/// Version of the JSON report layout (docs/report-format.md). Bumped on any
/// incompatible change.
inline constexpr int kReportSchemaVersion = 1;

/// Score of one match (0-100).
int match_score(const MatchRecord& match);

/// The archive member chain of `f` joined with "!/", as SARIF and jar: URLs
/// write it (raw bytes); "" for a plain file.
std::string member_chain(const Finding& f);

/// JSON value of a path: valid UTF-8 text; callers add "path_hex" when
/// !is_valid_utf8(path).
std::string path_for_json(const std::string& path);

/// Version of the accepted-findings file layout ("iocsweep_baseline").
inline constexpr int kBaselineFormatVersion = 1;

/// Stable identity of what matched, independent of where the rule or list
/// was loaded from: the rule name for YARA ("IOCSWEEP_Lazarus_..."),
/// "hash:ALGORITHM:VALUE" for a hash indicator, "filename:" + the first 16
/// hex digits of SHA-256(pattern NUL false_positive) for a path indicator.
/// Also the SARIF ruleId (made unique there when two rule sets define a
/// rule of the same name).
std::string match_identity(const MatchRecord& match);

/// Identity of a path indicator from its pattern and false-positive
/// pattern (as match_identity; for reading JSON reports).
std::string filename_identity(std::string_view pattern, std::string_view false_positive);

/// A memory address as reports write it: "0x" and lower-case hex, no
/// padding ("0x55d4c3a00000").
std::string hex_address(std::uint64_t address);

}  // namespace iocsweep
