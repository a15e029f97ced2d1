#pragma once
// On-disk cache of compiled rule sets (yr_rules_save / yr_rules_load),
// authenticated: libyara executes compiled rules without validating them
// (yara#999), so only bytes this installation wrote are ever loaded.
// Private to the match component.

#include <functional>
#include <string>
#include <vector>

namespace iocsweep::rule_cache {

/// Name of the per-user HMAC key file inside the cache directory.
inline constexpr const char* kKeyFileName = "rule-cache.key";

/// Loads the set cached under `key` in `dir`, or returns null (no entry, an
/// untrusted directory or file, a refused key file, a file whose HMAC does
/// not verify, or a load error). The file's HMAC-SHA256 (under the key
/// file's key, over `key` and the compiled bytes) is checked before libyara
/// sees a byte, and libyara is then given only bytes identical to those
/// checked (read again a piece at a time, each compared by its SHA-256), so
/// the set is never held in memory twice. Why an existing entry was not used
/// is appended to `warnings`. Returns a YR_RULES*. `between_reads`, when
/// set, runs after the check and before libyara's read (for tests: the
/// file changing in between).
void* load(const std::string& dir, const std::string& key, std::vector<std::string>& warnings,
           const std::function<void()>& between_reads = {});

/// Saves `rules` (a YR_RULES*) under `key` in `dir`, creating `dir` (0700)
/// and the key file (0600, 32 random bytes) if needed; written to a
/// temporary file and renamed. Failures are ignored (the cache only saves
/// time), except a refused key file, which is appended to `warnings`.
void save(const std::string& dir, const std::string& key, void* rules, std::vector<std::string>& warnings);

}  // namespace iocsweep::rule_cache
