#pragma once
// Shared by the STIX and MISP importers (internal to the ioc component):
// bounded JSON parsing, value checks and message helpers.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "iocsweep/common.hpp"
#include "iocsweep/filename_ioc.hpp"
#include "iocsweep/hash.hpp"
#include "iocsweep/ioc.hpp"
#include "iocsweep/ioc_formats.hpp"

namespace iocsweep::ioc_import {

using Json = nlohmann::json;

/// Parses `text` as one JSON document. Refuses nesting deeper than
/// kMaxJsonDepth before parsing; syntax errors become "NAME:LINE: invalid
/// JSON: ..." (the line of the byte where the parser stopped).
Result<Json> parse_json_document(std::string_view text, const std::string& name);

/// The member `key` of `object`, or null when `object` is not an object or
/// has no such member.
const Json* member(const Json& object, const char* key);

/// The member `key` of `object` when it is a string, else null.
const std::string* string_member(const Json& object, const char* key);

/// `s` in single quotes for a message: clipped to `max` bytes (on a UTF-8
/// boundary) and with control characters escaped.
std::string quoted(std::string_view s, std::size_t max = 100);

/// `s` on one line for a message or an indicator's description: valid
/// UTF-8, control characters as spaces, clipped to `max` bytes (on a UTF-8
/// boundary, marked "..."). Only the part shown is copied.
std::string one_line(std::string_view s, std::size_t max = 200);

/// Counts one unsupported item and keeps its text as an example while
/// there is room.
void add_unsupported(ImportedIocs& out, std::string what);

/// Why `value` is not a digest of `kind` in hex, or nothing.
std::optional<std::string> hash_value_problem(std::string_view value, DigestKind kind);

/// `text` as a file size in bytes: decimal digits only (no sign, no blanks)
/// that fit 64 bits; otherwise nothing.
std::optional<std::uint64_t> parse_byte_count(std::string_view text);

/// Why `value` cannot be a file-name indicator (empty, invalid UTF-8, NUL,
/// a pattern for it that RE2 refuses, too long, say), or nothing.
std::optional<std::string> file_name_problem(std::string_view value);

/// A hash indicator for an already checked `value`.
HashIoc make_hash_ioc(DigestKind kind, std::string_view value, int score, std::string description,
                      const std::string& source);

/// A file-name indicator matching paths whose last component is the already
/// checked `file_name`.
FilenameIoc make_filename_ioc(std::string_view file_name, int score, std::string description,
                              const std::string& source);

}  // namespace iocsweep::ioc_import
