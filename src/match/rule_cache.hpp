#pragma once
// On-disk cache of compiled rule sets (yr_rules_save / yr_rules_load).
// Private to the match component.

#include <string>

namespace iocsweep::rule_cache {

/// Loads the set cached under `key` in `dir`, or returns null (no entry, an
/// untrusted directory or file, or a load error). Returns a YR_RULES*.
void* load(const std::string& dir, const std::string& key);

/// Saves `rules` (a YR_RULES*) under `key` in `dir`, creating `dir` (0700)
/// if needed; written to a temporary file and renamed. Failures are
/// ignored: the cache only saves time.
void save(const std::string& dir, const std::string& key, void* rules);

}  // namespace iocsweep::rule_cache
