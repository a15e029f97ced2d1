#pragma once
// Account names by numeric id, read from passwd(5) / group(5) files by the
// project's own code. getpwuid() goes through NSS, which loads the modules
// nsswitch.conf names (files, LDAP, sssd) from the host's glibc: a static
// binary cannot do that safely, and a swept host's NSS configuration is
// the intruder's to change. Ids without an entry stay numeric.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace iocsweep {

/// Largest passwd or group file read; a bigger one is not an account
/// database a host logs in with, and its ids stay numeric.
inline constexpr std::uint64_t kMaxAccountFileBytes = 64ull << 20;

/// Names by id from one passwd(5) or group(5) file: both keep the name in
/// the first field and the numeric id in the third.
class AccountNames {
 public:
  AccountNames() = default;

  /// Parses `text`. Blank lines, `#` comments, NIS compat entries
  /// (`+name`, `-name`), lines with fewer than three fields, an empty name
  /// or an id that is not a decimal number below 2^32 are ignored. The
  /// first entry for an id wins, as glibc's files module answers.
  static AccountNames parse(std::string_view text);

  /// The table of the file at `path`; an empty table (every id numeric)
  /// when it cannot be read, is not a regular file or is over
  /// kMaxAccountFileBytes.
  static AccountNames load(const std::string& path);

  /// The name of `id`, or its decimal form when the table has none.
  std::string name_of(std::uint32_t id) const;

  /// SHA-256 of the text the table was parsed from (empty text when none
  /// was read), so a verdict that used names can be tied to them.
  const std::string& source_sha256() const { return sha256_; }

  std::size_t size() const { return names_.size(); }

 private:
  std::unordered_map<std::uint32_t, std::string> names_;
  std::string sha256_;
};

}  // namespace iocsweep
