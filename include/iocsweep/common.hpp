#pragma once
// Small shared vocabulary of the core library: errors carried as values,
// byte views, and text helpers for names that may be any byte sequence.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace iocsweep {

/// Read-only view of bytes being hashed or scanned.
using ByteView = std::span<const std::uint8_t>;

/// A configuration or input problem, already phrased for the user
/// (e.g. "iocs/x.txt:12: hash has 31 hex digits").
struct Error {
  std::string message;
};

/// Either a value or an Error. The core returns these instead of throwing;
/// exceptions only cross into main() and for bugs.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

/// Result for operations that produce nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

/// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view s);

/// `s` with every invalid UTF-8 sequence replaced by U+FFFD; valid input is
/// returned unchanged.
std::string to_valid_utf8(std::string_view s);

/// Lowercase hex of the bytes of `s`.
std::string to_hex(std::string_view s);
std::string to_hex(ByteView bytes);

/// `s` with control characters (C0, C1 and the Unicode bidi controls),
/// backslash and invalid UTF-8 escaped as \xNN per byte (and \n, \t, \r),
/// so a file name cannot forge lines in text output or display reversed.
std::string escape_for_terminal(std::string_view s);

/// `s` with control characters (C0 including tab, CR and LF, DEL, C1, the
/// Unicode bidi controls) and invalid UTF-8 escaped as \xNN per byte, and
/// everything else, backslash included, as is: for formats such as CSV where
/// a backslash is an ordinary character (Windows paths, regex patterns).
std::string escape_controls(std::string_view s);

/// `s` with the ASCII letters A-Z lower-cased; other bytes unchanged.
std::string ascii_lower(std::string_view s);

/// Parses a size such as "4096", "64K", "64M", "1G" (binary multiples,
/// optional trailing "B" or "iB"). Fails on garbage, negatives and overflow.
Result<std::uint64_t> parse_size(std::string_view text);

/// Current time as RFC 3339 UTC with millisecond precision.
std::string now_rfc3339();

/// `ns` nanoseconds after the epoch (a file's mtime) in the same form, with
/// nanoseconds: "2026-12-04T19:40:11.123456789Z".
std::string rfc3339_from_ns(std::int64_t ns);

}  // namespace iocsweep
