#pragma once
// File-name patterns as the importers (STIX, MISP) make and check them, and
// the memory budget of a pattern compiled on its own. Internal to the ioc
// component; the pattern syntax is described in iocsweep/filename_ioc.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace iocsweep {

/// Memory budget (bytes) of one pattern compiled on its own (validation and
/// false-positive regexes). RE2's default.
inline constexpr std::int64_t kFilenamePatternMaxMem = std::int64_t{8} << 20;

/// Why `pattern` (as FilenameIoc::pattern holds it) cannot be an indicator
/// (empty, not UTF-8, rejected by RE2 as written or as rewritten, matches
/// every path), or nothing. For importers, to name the indicator at fault.
std::optional<std::string> filename_pattern_problem(std::string_view pattern);

/// A pattern (in the syntax FilenameIoc::pattern uses) that matches a path
/// whose last component equals `file_name`, case-insensitively, whichever
/// separator the path uses; for STIX `file:name` and MISP `filename`. A
/// `file_name` that contains separators matches a path ending in those
/// components ("Windows\\evil.exe" matches /mnt/img/Windows/evil.exe).
/// `file_name` must be non-empty valid UTF-8.
std::string filename_pattern_for_exact_name(std::string_view file_name);

/// `pattern` as it is compiled: after the separator, environment-variable
/// and Python-spelling rewrites described in iocsweep/filename_ioc.hpp. For
/// tests that check the matcher against RE2 run pattern by pattern.
std::string filename_pattern_as_compiled(std::string_view pattern);

}  // namespace iocsweep
