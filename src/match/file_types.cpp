#include "iocsweep/file_types.hpp"

#include <algorithm>

#include "iocsweep/hash.hpp"

namespace iocsweep {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One table line after Loki's skips: its signature's hex text (spaces
// removed, the dict key Loki uses), bytes and type.
struct Line {
  std::string key;
  std::vector<std::uint8_t> magic;
  std::string type;
};

Result<Line> parse_line(std::string_view line, const std::string& where) {
  const std::size_t semi = line.find(';');
  if (line.find(';', semi + 1) != std::string_view::npos) {
    return Error{where + ": more than one ';' (expected HEX;TYPE)"};
  }
  Line out;
  out.type = std::string(line.substr(semi + 1));
  for (const char c : line.substr(0, semi)) {
    if (c == ' ' || c == '\t') continue;
    if (hex_value(c) < 0) return Error{where + ": signature is not hex digits (expected HEX;TYPE)"};
    out.key += c;
  }
  if (out.key.empty()) return Error{where + ": empty signature (it would type every file)"};
  if (out.key.size() % 2 != 0) return Error{where + ": odd number of hex digits in the signature"};
  if (out.key.size() / 2 > kMaxFileTypeSignatureBytes) {
    return Error{where + ": signature longer than " + std::to_string(kMaxFileTypeSignatureBytes) + " bytes"};
  }
  for (std::size_t i = 0; i < out.key.size(); i += 2) {
    out.magic.push_back(static_cast<std::uint8_t>(hex_value(out.key[i]) * 16 + hex_value(out.key[i + 1])));
  }
  return out;
}

}  // namespace

Status FileTypeTable::add(std::string_view text, const std::string& name) {
  std::vector<Line> lines;
  std::size_t number = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    const bool blank = std::all_of(line.begin(), line.end(),
                                   [](char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; });
    if (line.starts_with('#') || blank || line.find(';') == std::string_view::npos) continue;
    auto parsed = parse_line(line, name + ":" + std::to_string(number));
    if (!parsed) return parsed.error();
    lines.push_back(std::move(*parsed));
  }
  for (Line& l : lines) {
    if (const auto it = index_.find(l.key); it != index_.end()) {
      entries_[it->second].type = std::move(l.type);
      continue;
    }
    index_.emplace(std::move(l.key), entries_.size());
    entries_.push_back(Entry{std::move(l.magic), std::move(l.type)});
  }
  sha256_ = sha256_hex(sha256_ + "\n" + sha256_hex(text));
  return Ok{};
}

std::string_view FileTypeTable::type_of(ByteView head) const {
  for (const Entry& e : entries_) {
    if (head.size() >= e.magic.size() && std::equal(e.magic.begin(), e.magic.end(), head.begin())) return e.type;
  }
  return kUnknownFileType;
}

}  // namespace iocsweep
