#pragma once
// Loki's file-type signatures: the table signature-base keeps in
// misc/file-type-signatures.txt, from which Loki sets the `filetype`
// external (PHP, JSP, BATCH, RTF, VBS, MDMP, ...) that its rules compare.
// Parses text from memory; knows nothing of files on disk or of libyara.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// The longest signature a table line may give, in bytes: files are typed
/// from their first bytes only (the pipeline reads 32 KiB of each head).
inline constexpr std::size_t kMaxFileTypeSignatureBytes = 256;

/// What a file of no listed signature is typed as (Loki's word).
inline constexpr std::string_view kUnknownFileType = "UNKNOWN";

/// An ordered list of `HEX;TYPE` signatures, typed as Loki types a file:
/// the first signature in file order that the file begins with gives its
/// type. A signature listed twice keeps its first place and takes the last
/// type given (Loki reads the table into a dict keyed by the hex text).
/// Immutable once loaded; thread-safe to read.
class FileTypeTable {
 public:
  /// Adds the lines of `text` (named `name` in errors) after those already
  /// added. A line is `HEX;TYPE`: HEX the leading bytes as hex digits, with
  /// spaces or tabs between them as signature-base writes them; TYPE the
  /// rest of the line (a trailing CR dropped). Lines starting with `#`,
  /// blank lines and lines without `;` are skipped, as Loki skips them.
  /// A bad line (odd or non-hex digits, no digits, more than
  /// kMaxFileTypeSignatureBytes bytes, a second `;`) fails with
  /// `name:LINE: ...`, and nothing of `text` is added.
  Status add(std::string_view text, const std::string& name);

  /// The type of a file whose first bytes are `head` (at least the longest
  /// signature's length of them, or the whole file): kUnknownFileType when
  /// no signature matches.
  std::string_view type_of(ByteView head) const;

  /// Number of distinct signatures.
  std::size_t size() const { return entries_.size(); }
  /// SHA-256 (hex) chained over every text added, in order ("" before
  /// the first): what decides the types.
  const std::string& sha256() const { return sha256_; }

 private:
  struct Entry {
    std::vector<std::uint8_t> magic;
    std::string type;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::size_t, std::less<>> index_;  // hex text -> entry
  std::string sha256_;
};

}  // namespace iocsweep
