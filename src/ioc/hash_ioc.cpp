#include <algorithm>
#include <charconv>

#include "ioc/import_common.hpp"
#include "ioc/indicator_lines.hpp"
#include "iocsweep/ioc.hpp"

namespace iocsweep {
namespace {

// One more distinct indicator of `kind` in the set `info` describes.
void count_indicator(IocSetInfo& info, DigestKind kind) {
  switch (kind) {
    case DigestKind::kMd5:
      ++info.md5;
      break;
    case DigestKind::kSha1:
      ++info.sha1;
      break;
    case DigestKind::kSha256:
      ++info.sha256_count;
      break;
  }
  ++info.count;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool is_all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string index_key(DigestKind kind, std::string_view raw) {
  std::string key(1, static_cast<char>(kind));
  key.append(raw);
  return key;
}

std::string index_key(DigestKind kind, ByteView raw) {
  return index_key(kind, std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

std::string hex_to_raw(const std::string& hex) {
  std::string raw(hex.size() / 2, '\0');
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i < raw.size(); ++i) {
    raw[i] = static_cast<char>((nibble(hex[2 * i]) << 4) | nibble(hex[2 * i + 1]));
  }
  return raw;
}

// Index keys of the MD5, SHA-1 and SHA-256 of empty content and of a lone
// line break ("\n", "\r\n"), as Loki's list: OTX exports carry them, and as
// indicators they would flag every empty file.
const std::unordered_set<std::string>& empty_content_keys() {
  static const std::unordered_set<std::string> keys = [] {
    std::unordered_set<std::string> out;
    Hasher hasher;
    for (const std::string_view content : {std::string_view(""), std::string_view("\n"), std::string_view("\r\n")}) {
      const Digests d = hasher.digest(ByteView(reinterpret_cast<const std::uint8_t*>(content.data()), content.size()));
      for (const DigestKind kind : {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256}) {
        out.insert(index_key(kind, d.get(kind)));
      }
    }
    return out;
  }();
  return keys;
}

std::string where_of(const HashIoc& ioc, const std::string& set_name) {
  return (ioc.source.empty() ? set_name : ioc.source) + (ioc.line > 0 ? ":" + std::to_string(ioc.line) : "");
}

}  // namespace

Status check_hash_iocs(const std::vector<HashIoc>& iocs, const std::string& set_name) {
  for (const HashIoc& ioc : iocs) {
    const std::string where = where_of(ioc, set_name);
    if (ioc.value.size() != digest_hex_length(ioc.kind) || !std::all_of(ioc.value.begin(), ioc.value.end(), is_hex)) {
      return Error{where + ": " + std::string(digest_name(ioc.kind)) + " value is not " +
                   std::to_string(digest_hex_length(ioc.kind)) + " hex digits"};
    }
    if (ioc.score < 0 || ioc.score > 100) return Error{where + ": score is not an integer from 0 to 100"};
    if (!is_valid_utf8(ioc.description)) return Error{where + ": description is not valid UTF-8"};
  }
  return Ok{};
}

Result<std::vector<HashIoc>> parse_hash_iocs(std::string_view text, const std::string& name,
                                             std::vector<std::string>* skipped_lines) {
  using Outcome = ioc_lines::LineOutcome<HashIoc>;
  return ioc_lines::parse_lines<HashIoc>(
      text, name, skipped_lines, [&](std::string_view line, std::size_t line_no) -> Outcome {
        if (line.empty() || line.front() == '#') return std::monostate{};
        const std::size_t semi = line.find(';');
        std::string_view hash = ioc_lines::trim(line.substr(0, semi));
        std::string_view rest = semi == std::string_view::npos ? std::string_view{} : line.substr(semi + 1);

        if (hash.empty()) return std::string("missing hash before ';'");
        // `HASH size=N`: the file's size, after white space.
        std::optional<std::uint64_t> size;
        if (const std::size_t blank = hash.find_first_of(" \t"); blank != std::string_view::npos) {
          const std::string_view attribute = ioc_lines::trim(hash.substr(blank));
          hash = hash.substr(0, blank);
          constexpr std::string_view kSize = "size=";
          if (attribute.starts_with(kSize)) size = ioc_import::parse_byte_count(attribute.substr(kSize.size()));
          if (!size) {
            return "after the hash, expected ';' or 'size=BYTES' (a whole number of bytes), found '" +
                   std::string(attribute.substr(0, 40)) + "'";
          }
        }
        const auto bad_char = std::find_if_not(hash.begin(), hash.end(), is_hex);
        if (bad_char != hash.end()) {
          return "hash contains a character that is not a hex digit at column " +
                 std::to_string(bad_char - hash.begin() + 1);
        }
        HashIoc ioc;
        switch (hash.size()) {
          case 32:
            ioc.kind = DigestKind::kMd5;
            break;
          case 40:
            ioc.kind = DigestKind::kSha1;
            break;
          case 64:
            ioc.kind = DigestKind::kSha256;
            break;
          default:
            return "hash has " + std::to_string(hash.size()) +
                   " hex digits; expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256)";
        }
        ioc.value = ascii_lower(hash);
        // HASH;SCORE;DESCRIPTION when the second field is a number and a
        // third field follows; otherwise everything after the hash is
        // description.
        const std::size_t semi2 = rest.find(';');
        if (semi2 != std::string_view::npos && is_all_digits(ioc_lines::trim(rest.substr(0, semi2)))) {
          const std::string_view score_text = ioc_lines::trim(rest.substr(0, semi2));
          int score = 0;
          const auto [ptr, ec] = std::from_chars(score_text.data(), score_text.data() + score_text.size(), score);
          if (ec != std::errc() || ptr != score_text.data() + score_text.size() || score > 100) {
            return "score '" + std::string(score_text) + "' is not an integer from 0 to 100";
          }
          ioc.score = score;
          rest = rest.substr(semi2 + 1);
        }
        // A description in Latin-1 (or any other stray bytes) costs its
        // odd characters (U+FFFD), not the hash.
        ioc.description = to_valid_utf8(ioc_lines::trim(rest));
        ioc.source = name;
        ioc.line = line_no;
        ioc.size = size;
        return ioc;
      });
}

Status HashIocDb::add_set(std::string_view text, const std::string& name, std::vector<std::string>* skipped_lines,
                          std::vector<std::string>* notes) {
  auto parsed = parse_hash_iocs(text, name, skipped_lines);
  if (!parsed) return parsed.error();
  IocSetInfo info;
  info.name = name;
  info.sha256 = sha256_hex(text);
  return add_iocs(std::move(*parsed), std::move(info), notes);
}

Status HashIocDb::add_iocs(std::vector<HashIoc> iocs, IocSetInfo info, std::vector<std::string>* notes) {
  // Check everything first so a bad indicator leaves the database as it was.
  Status valid = check_hash_iocs(iocs, info.name);
  if (!valid) return valid;
  info.count = info.md5 = info.sha1 = info.sha256_count = 0;
  // The same hash (and size) twice in one set is one indicator, with the
  // highest score given (and that line's description), so that a low-score
  // duplicate never hides a high-score one; the same hash in two sets is
  // two, each with its own source, and so is one hash given two sizes (one
  // of them is wrong; neither is lost). Sets are told apart by their
  // position, so two sets with one name stay two sets.
  const std::size_t first_of_set = entries_.size();
  for (HashIoc& ioc : iocs) {
    ioc.value = ascii_lower(ioc.value);
    if (ioc.source.empty()) ioc.source = info.name;
    const std::string key = index_key(ioc.kind, std::string_view(hex_to_raw(ioc.value)));
    if (empty_content_keys().contains(key)) {
      if (notes != nullptr) {
        notes->push_back(where_of(ioc, info.name) + ": " + std::string(digest_name(ioc.kind)) +
                         " of an empty file (or of a lone line break) skipped: it would flag every such file" +
                         (ioc.line == 0 && !ioc.description.empty() ? " (" + ioc.description + ")" : ""));
      }
      continue;
    }
    auto& slots = index_[key];
    const auto duplicate = std::find_if(
        slots.begin(), slots.end(), [&](std::size_t i) { return i >= first_of_set && entries_[i].size == ioc.size; });
    if (duplicate != slots.end()) {
      HashIoc& kept = entries_[*duplicate];
      if (ioc.score > kept.score) {
        kept.score = ioc.score;
        kept.description = std::move(ioc.description);
        kept.line = ioc.line;
      }
      continue;
    }
    count_indicator(info, ioc.kind);
    kinds_ = kinds_.with(ioc.kind);
    if (ioc.size) {
      DigestSet& at_size = sized_kinds_[*ioc.size];
      at_size = at_size.with(ioc.kind);
    } else {
      unsized_kinds_ = unsized_kinds_.with(ioc.kind);
    }
    slots.push_back(entries_.size());
    entries_.push_back(std::move(ioc));
    entry_set_.push_back(sets_.size());
  }
  sets_.push_back(std::move(info));
  return Ok{};
}

std::vector<const HashIoc*> HashIocDb::lookup(const Digests& digests, std::uint64_t size) const {
  std::vector<const HashIoc*> hits;
  if (index_.empty()) return hits;
  for (const DigestKind kind : {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256}) {
    if (!digests.present.has(kind)) continue;
    const auto it = index_.find(index_key(kind, digests.get(kind)));
    if (it == index_.end()) continue;
    // One match per set: a set may hold the hash sized and unsized (a MISP
    // file object and a loose attribute), which is one indicator twice, not
    // corroboration; the higher score counts.
    const std::size_t first_hit = hits.size();
    std::vector<std::size_t> hit_sets;
    for (const std::size_t i : it->second) {
      if (entries_[i].size && *entries_[i].size != size) continue;
      const auto same = std::find(hit_sets.begin(), hit_sets.end(), entry_set_[i]);
      if (same == hit_sets.end()) {
        hit_sets.push_back(entry_set_[i]);
        hits.push_back(&entries_[i]);
      } else if (const HashIoc*& kept = hits[first_hit + static_cast<std::size_t>(same - hit_sets.begin())];
                 entries_[i].score > kept->score) {
        kept = &entries_[i];
      }
    }
  }
  return hits;
}

DigestSet HashIocDb::kinds_for_size(std::uint64_t size) const {
  if (sized_kinds_.empty()) return unsized_kinds_;
  const auto it = sized_kinds_.find(size);
  return it == sized_kinds_.end() ? unsized_kinds_ : unsized_kinds_ | it->second;
}

Status HashAllowList::add_set(std::string_view text, const std::string& name, std::vector<std::string>* skipped_lines) {
  auto parsed = parse_hash_iocs(text, name, skipped_lines);
  if (!parsed) return parsed.error();
  IocSetInfo info;
  info.name = name;
  info.sha256 = sha256_hex(text);
  std::unordered_set<std::string> keys_of_set;
  for (const HashIoc& ioc : *parsed) {
    std::string key = index_key(ioc.kind, std::string_view(hex_to_raw(ioc.value)));
    if (!keys_of_set.insert(key).second) continue;
    kinds_ = kinds_.with(ioc.kind);
    count_indicator(info, ioc.kind);
  }
  keys_.insert(keys_of_set.begin(), keys_of_set.end());
  sets_.push_back(std::move(info));
  return Ok{};
}

bool HashAllowList::contains(const Digests& d) const {
  if (keys_.empty()) return false;
  for (const DigestKind kind : {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256}) {
    if (d.present.has(kind) && keys_.contains(index_key(kind, d.get(kind)))) return true;
  }
  return false;
}

}  // namespace iocsweep
