#include "ioc/import_common.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include "ioc/filename_patterns.hpp"
#include "iocsweep/input_file.hpp"

namespace iocsweep::ioc_import {
namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::size_t line_at(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 +
         static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

// nlohmann's messages start with "[json.exception.parse_error.101] parse
// error at line 1, column 2: "; the location is given separately.
std::string strip_json_prefix(std::string message) {
  if (message.starts_with("[json.exception.")) {
    const std::size_t end = message.find("] ");
    if (end != std::string::npos) message.erase(0, end + 2);
  }
  if (message.starts_with("parse error at line ")) {
    const std::size_t colon = message.find(": ");
    if (colon != std::string::npos) message.erase(0, colon + 2);
  }
  return to_valid_utf8(message);
}

// Offset of the opening quote of string number `index` (keys and values,
// from 0, in document order) in JSON `text`, or text.size(). Only asked
// after a string was refused, so it need not be fast.
std::size_t string_offset(std::string_view text, std::size_t index) {
  std::size_t seen = 0;
  for (std::size_t open = text.find('"'); open != std::string_view::npos;) {
    if (seen++ == index) return open;
    // The closing quote is the first one not escaped by a backslash.
    std::size_t close = text.find_first_of("\"\\", open + 1);
    while (close != std::string_view::npos && text[close] == '\\') close = text.find_first_of("\"\\", close + 2);
    if (close == std::string_view::npos) break;
    open = text.find('"', close + 1);
  }
  return text.size();
}

// nlohmann's DOM builder, refusing a string (key or value) longer than
// `max_bytes` the moment the lexer hands it over: before it is copied into
// the document, and before an importer spends time on it (a 50 MB "file
// name" once cost seconds of RE2 and most of a GiB).
class BoundedDomBuilder : public nlohmann::detail::json_sax_dom_parser<Json> {
 public:
  BoundedDomBuilder(Json& root, std::size_t max_bytes) : json_sax_dom_parser(root), max_bytes_(max_bytes) {}
  // Hide the base's: sax_parse() calls them through this type.
  bool key(std::string& value) { return admit(value) && json_sax_dom_parser::key(value); }
  bool string(std::string& value) { return admit(value) && json_sax_dom_parser::string(value); }
  /// Index (as string_offset() counts) and size of the string refused.
  std::optional<std::pair<std::size_t, std::size_t>> refused() const { return refused_; }

 private:
  bool admit(const std::string& value) {
    if (value.size() > max_bytes_) {
      refused_.emplace(strings_, value.size());
      return false;
    }
    ++strings_;
    return true;
  }
  std::size_t max_bytes_;
  std::size_t strings_ = 0;
  std::optional<std::pair<std::size_t, std::size_t>> refused_;
};

}  // namespace

Result<Json> parse_json_document(std::string_view text, const std::string& name) {
  if (const auto at = json_too_deep_at(text, kMaxJsonDepth)) {
    return Error{name + ":" + std::to_string(line_at(text, *at)) + ": JSON nested deeper than " +
                 std::to_string(kMaxJsonDepth) + " levels (byte " + std::to_string(*at + 1) + ")"};
  }
  try {
    Json root;
    BoundedDomBuilder builder(root, kMaxJsonStringBytes);
    if (!Json::sax_parse(text.begin(), text.end(), &builder)) {
      const auto refused = builder.refused();
      if (!refused) return Error{name + ": invalid JSON"};  // not reached: errors throw
      const std::size_t at = string_offset(text, refused->first);
      return Error{name + ":" + std::to_string(line_at(text, at)) + ": JSON string of " +
                   std::to_string(refused->second) + " bytes at byte " + std::to_string(at + 1) +
                   ", more than the limit of " + std::to_string(kMaxJsonStringBytes >> 20) + " MiB for one string"};
    }
    return root;
  } catch (const Json::parse_error& e) {
    const std::size_t byte = e.byte > 0 ? e.byte - 1 : 0;
    return Error{name + ":" + std::to_string(line_at(text, byte)) + ": invalid JSON at byte " + std::to_string(e.byte) +
                 ": " + strip_json_prefix(e.what())};
  } catch (const Json::exception& e) {
    return Error{name + ": invalid JSON: " + strip_json_prefix(e.what())};
  }
}

const Json* member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const std::string* string_member(const Json& object, const char* key) {
  const Json* value = member(object, key);
  return value != nullptr && value->is_string() ? value->get_ptr<const std::string*>() : nullptr;
}

std::string quoted(std::string_view s, std::size_t max) {
  // Only what is shown is copied: `s` may be megabytes.
  const std::string valid = to_valid_utf8(s.substr(0, max + 4));
  std::string_view view = valid;
  bool clipped = false;
  if (view.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(view[cut]) & 0xC0) == 0x80) --cut;
    view = view.substr(0, cut);
    clipped = true;
  }
  std::string out = "'";
  for (const char c : view) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  out += clipped ? "...'" : "'";
  return out;
}

std::string one_line(std::string_view s, std::size_t max) {
  std::string out = to_valid_utf8(s.substr(0, max + 4));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  if (out.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
  }
  return out;
}

void add_unsupported(ImportedIocs& out, std::string what) {
  ++out.unsupported;
  if (out.unsupported_examples.size() < kMaxUnsupportedExamples) out.unsupported_examples.push_back(std::move(what));
}

std::optional<std::string> hash_value_problem(std::string_view value, DigestKind kind) {
  const std::size_t want = digest_hex_length(kind);
  if (value.size() != want || !std::all_of(value.begin(), value.end(), is_hex)) {
    return std::string(digest_name(kind)) + " value " + quoted(value) + " is not " + std::to_string(want) +
           " hex digits";
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_byte_count(std::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::string> file_name_problem(std::string_view value) {
  if (value.empty()) return std::string("file name is empty");
  // Before anything copies it or builds a regex from it.
  if (value.size() > kMaxImportedFileNameBytes) {
    return "file name " + quoted(value) + " is " + std::to_string(value.size()) + " bytes, longer than " +
           std::to_string(kMaxImportedFileNameBytes);
  }
  if (!is_valid_utf8(value)) return "file name " + quoted(value) + " is not valid UTF-8";
  if (value.find('\0') != std::string_view::npos) return "file name " + quoted(value) + " contains a NUL character";
  // Checked here, where the indicator is known, rather than when the set is
  // added, which could only name the file.
  if (auto problem = filename_pattern_problem(filename_pattern_for_exact_name(value))) {
    return "file name " + quoted(value) + ": " + *problem;
  }
  return std::nullopt;
}

HashIoc make_hash_ioc(DigestKind kind, std::string_view value, int score, std::string description,
                      const std::string& source) {
  HashIoc ioc;
  ioc.kind = kind;
  ioc.value.reserve(value.size());
  for (const char c : value) ioc.value += (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
  ioc.score = score;
  ioc.description = std::move(description);
  ioc.source = source;
  return ioc;
}

FilenameIoc make_filename_ioc(std::string_view file_name, int score, std::string description,
                              const std::string& source) {
  FilenameIoc ioc;
  ioc.pattern = filename_pattern_for_exact_name(file_name);
  ioc.score = score;
  ioc.description = std::move(description);
  ioc.source = source;
  return ioc;
}

}  // namespace iocsweep::ioc_import
