#include "iocsweep/baseline.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "iocsweep/hash.hpp"
#include "iocsweep/input_file.hpp"
#include "iocsweep/version.hpp"
#include "report/json_fields.hpp"
#include "report/model.hpp"

namespace iocsweep {
namespace {

using report_detail::json;

constexpr std::size_t kMaxJsonDepth = 64;

// `hiding` is report_detail::hiding_state(): a deleted file or an alternate
// data stream is accepted only by an entry for one, never by the entry of
// the same content (or path) live in a file's data.
std::string content_key(const std::string& identity, const std::string& sha256, const std::string& hiding) {
  return identity + '\0' + 's' + sha256 + hiding;
}
std::string path_key(const std::string& identity, const std::string& path, const std::string& hiding) {
  return identity + '\0' + 'p' + path + hiding;
}

bool is_lower_hex(std::string_view s, std::size_t length) {
  return s.size() == length &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

const json* member_of(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

const std::string* string_of(const json& object, const char* key) {
  const json* v = member_of(object, key);
  return v != nullptr && v->is_string() ? v->get_ptr<const std::string*>() : nullptr;
}

/// Builds a Baseline from either document shape; the first problem stops it.
class Loader {
 public:
  explicit Loader(std::string name) : name_(std::move(name)) {}

  Status load(const json& doc, std::unordered_set<std::string>& keys) {
    if (!doc.is_object()) return fail("", "not a JSON object (expected an iocsweep report or accepted-findings file)");
    if (member_of(doc, "iocsweep_baseline") != nullptr) return load_accepted(doc, keys);
    if (member_of(doc, "schema_version") != nullptr && member_of(doc, "findings") != nullptr) {
      return load_report(doc, keys);
    }
    return fail("", "neither an accepted-findings file (\"iocsweep_baseline\") nor an iocsweep JSON report");
  }

 private:
  Status fail(const std::string& where, const std::string& why) const {
    return Error{name_ + ": " + (where.empty() ? "" : where + ": ") + why};
  }

  // "path" (UTF-8) or, when present, the exact bytes of "path_hex".
  std::optional<std::string> path_of(const json& obj, const std::string& where, std::optional<Error>& error) const {
    if (const std::string* hex = string_of(obj, "path_hex")) {
      auto bytes = from_hex(*hex);
      if (!bytes) {
        error = Error{fail(where, "path_hex is not hex").error()};
        return std::nullopt;
      }
      return bytes;
    }
    if (const json* p = member_of(obj, "path")) {
      if (!p->is_string()) {
        error = Error{fail(where, "path is not a string").error()};
        return std::nullopt;
      }
      return p->get<std::string>();
    }
    return std::nullopt;
  }

  // "deleted" (a boolean) and "stream" (a non-empty string) of a finding or
  // an accepted entry, as report_detail::hiding_state() spells them.
  std::optional<std::string> hiding_of(const json& obj, const std::string& where, std::optional<Error>& error) const {
    bool deleted = false;
    if (const json* d = member_of(obj, "deleted")) {
      if (!d->is_boolean()) {
        error = Error{fail(where, "deleted is not true or false").error()};
        return std::nullopt;
      }
      deleted = d->get<bool>();
    }
    const json* stream = member_of(obj, "stream");
    if (stream != nullptr && (!stream->is_string() || stream->get_ptr<const std::string*>()->empty())) {
      error = Error{fail(where, "stream is not a non-empty string").error()};
      return std::nullopt;
    }
    return report_detail::hiding_state(deleted, stream != nullptr);
  }

  Status load_accepted(const json& doc, std::unordered_set<std::string>& keys) {
    const json& version = doc["iocsweep_baseline"];
    if (!version.is_number_integer() || version.get<std::int64_t>() != kBaselineFormatVersion) {
      return fail("iocsweep_baseline",
                  "unsupported version (this iocsweep reads " + std::to_string(kBaselineFormatVersion) + ")");
    }
    for (const auto& [key, value] : doc.items()) {
      if (key != "iocsweep_baseline" && key != "tool" && key != "created_at" && key != "accepted") {
        return fail("", "unknown key '" + to_valid_utf8(key) + "'");
      }
    }
    const json* accepted = member_of(doc, "accepted");
    if (accepted == nullptr || !accepted->is_array()) return fail("accepted", "missing or not an array");
    for (std::size_t i = 0; i < accepted->size(); ++i) {
      const json& entry = (*accepted)[i];
      const std::string where = "accepted[" + std::to_string(i) + "]";
      if (!entry.is_object()) return fail(where, "not an object");
      for (const auto& [key, value] : entry.items()) {
        if (key != "match" && key != "sha256" && key != "path" && key != "path_hex" && key != "note" &&
            key != "deleted" && key != "stream") {
          return fail(where, "unknown key '" + to_valid_utf8(key) + "'");
        }
      }
      const std::string* match = string_of(entry, "match");
      if (match == nullptr || match->empty()) return fail(where, "\"match\" missing, empty or not a string");
      if (const json* note = member_of(entry, "note"); note != nullptr && !note->is_string()) {
        return fail(where, "note is not a string");
      }
      std::optional<Error> error;
      const std::optional<std::string> path = path_of(entry, where, error);
      if (error) return *error;
      const std::optional<std::string> hiding = hiding_of(entry, where, error);
      if (error) return *error;
      if (const json* sha = member_of(entry, "sha256")) {
        if (!sha->is_string() || !is_lower_hex(sha->get<std::string>(), 64)) {
          return fail(where, "sha256 is not 64 lower-case hex digits");
        }
        keys.insert(content_key(*match, sha->get<std::string>(), *hiding));
      } else if (path) {
        keys.insert(path_key(*match, *path, *hiding));
      } else {
        return fail(where, "needs \"sha256\" (or \"path\" / \"path_hex\" for a file that was not read)");
      }
    }
    return Ok{};
  }

  Status load_report(const json& doc, std::unordered_set<std::string>& keys) {
    const json& findings = doc["findings"];
    if (!findings.is_array()) return fail("findings", "not an array");
    for (std::size_t i = 0; i < findings.size(); ++i) {
      const json& f = findings[i];
      const std::string where = "findings[" + std::to_string(i) + "]";
      if (!f.is_object()) return fail(where, "not an object");
      std::optional<Error> error;
      const std::optional<std::string> path = path_of(f, where, error);
      if (error) return *error;
      const std::optional<std::string> hiding = hiding_of(f, where, error);
      if (error) return *error;
      const std::string* sha = string_of(f, "sha256");
      if (sha != nullptr && !is_lower_hex(*sha, 64)) return fail(where, "sha256 is not 64 lower-case hex digits");
      if (sha == nullptr && !path) return fail(where, "has neither sha256 nor path");
      const json* matches = member_of(f, "matches");
      if (matches == nullptr || !matches->is_array()) return fail(where + ".matches", "missing or not an array");
      for (std::size_t m = 0; m < matches->size(); ++m) {
        const std::string mwhere = where + ".matches[" + std::to_string(m) + "]";
        auto identity = identity_of((*matches)[m]);
        if (!identity) return fail(mwhere, "not a yara, hash or filename match this iocsweep understands");
        keys.insert(sha != nullptr ? content_key(*identity, *sha, *hiding) : path_key(*identity, *path, *hiding));
      }
    }
    return Ok{};
  }

  // The identity of a match object of a JSON report (docs/report-format.md).
  static std::optional<std::string> identity_of(const json& m) {
    const std::string* type = string_of(m, "type");
    if (type == nullptr) return std::nullopt;
    if (*type == "yara") {
      const std::string* rule = string_of(m, "rule");
      if (rule == nullptr || rule->empty()) return std::nullopt;
      return *rule;
    }
    if (*type == "hash") {
      const std::string* algorithm = string_of(m, "algorithm");
      const std::string* value = string_of(m, "value");
      if (algorithm == nullptr || value == nullptr) return std::nullopt;
      return "hash:" + *algorithm + ":" + *value;
    }
    if (*type == "filename") {
      const std::string* pattern = string_of(m, "pattern");
      if (pattern == nullptr) return std::nullopt;
      const std::string* fp = string_of(m, "false_positive");
      return filename_identity(*pattern, fp != nullptr ? *fp : "");
    }
    return std::nullopt;
  }

  std::string name_;
};

}  // namespace

std::string filename_identity(std::string_view pattern, std::string_view false_positive) {
  std::string text(pattern);
  text += '\0';
  text += false_positive;
  return "filename:" + sha256_hex(text).substr(0, 16);
}

std::string match_identity(const MatchRecord& match) {
  if (const auto* y = std::get_if<YaraMatchRecord>(&match)) return y->rule->name;
  if (const auto* f = std::get_if<FilenameMatchRecord>(&match)) {
    return filename_identity(f->ioc->pattern, f->ioc->false_positive);
  }
  if (const auto* o = std::get_if<ObservationMatchRecord>(&match)) return "process:" + std::string(o->observation->id);
  const HashIoc& ioc = *std::get<HashMatchRecord>(match).ioc;
  return "hash:" + std::string(digest_name(ioc.kind)) + ":" + ioc.value;
}

Result<Baseline> Baseline::parse(std::string_view text, const std::string& name) {
  if (const auto at = json_too_deep_at(text, kMaxJsonDepth)) {
    return Error{name + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (byte " +
                 std::to_string(*at + 1) + ")"};
  }
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return Error{name + ": invalid JSON: " + to_valid_utf8(e.what())};
  }
  Baseline baseline;
  Status loaded = Loader(name).load(doc, baseline.keys_);
  if (!loaded) return loaded.error();
  return baseline;
}

Result<Baseline> Baseline::load(const std::string& path) {
  auto text = read_input_file(path);
  if (!text) return text.error();
  return parse(*text, path);
}

std::size_t Baseline::suppress(Finding& finding) const {
  if (keys_.empty()) return 0;
  const std::string sha256 = finding.digests.hex(DigestKind::kSha256);
  const std::string hiding = report_detail::hiding_state(finding.disk);
  const auto accepted = [&](const MatchRecord& m) {
    const std::string identity = match_identity(m);
    return keys_.contains(sha256.empty() ? path_key(identity, finding.path, hiding)
                                         : content_key(identity, sha256, hiding));
  };
  const auto before = finding.matches.size();
  std::erase_if(finding.matches, accepted);
  return before - finding.matches.size();
}

bool BaselineWriter::Entry::operator<(const Entry& o) const {
  return std::tie(match, sha256, deleted, stream, path) < std::tie(o.match, o.sha256, o.deleted, o.stream, o.path);
}

void BaselineWriter::add(const Finding& finding) {
  std::vector<Entry> entries;
  const std::string sha256 = finding.digests.hex(DigestKind::kSha256);
  for (const MatchRecord& m : finding.matches) {
    std::string note;
    if (const auto* y = std::get_if<YaraMatchRecord>(&m)) {
      note = "YARA rule " + y->rule->name + " (" + y->rule->ns + ")";
    } else if (const auto* h = std::get_if<HashMatchRecord>(&m)) {
      note = h->ioc->description.empty() ? "hash indicator from " + h->ioc->source : h->ioc->description;
    } else if (const auto* o = std::get_if<ObservationMatchRecord>(&m)) {
      note = "process observation " + std::string(o->observation->id);
    } else {
      const FilenameIoc& ioc = *std::get<FilenameMatchRecord>(m).ioc;
      note = "path indicator " + ioc.pattern;
    }
    entries.push_back(Entry{match_identity(m), sha256, finding.path, std::move(note),
                            finding.disk && finding.disk->deleted, finding.disk ? finding.disk->stream : ""});
  }
  std::lock_guard lock(mu_);
  entries_.insert(entries_.end(), std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
}

Status BaselineWriter::write(std::ostream& out) const {
  std::vector<Entry> entries;
  {
    std::lock_guard lock(mu_);
    entries = entries_;
  }
  std::sort(entries.begin(), entries.end());
  // With a digest the path (and a stream's name) is only informative: one
  // entry per (match, content, hiding state).
  entries.erase(std::unique(entries.begin(), entries.end(),
                            [](const Entry& a, const Entry& b) {
                              return a.match == b.match && a.sha256 == b.sha256 && a.deleted == b.deleted &&
                                     a.stream.empty() == b.stream.empty() && (!a.sha256.empty() || a.path == b.path);
                            }),
                entries.end());
  json accepted = json::array();
  for (const Entry& e : entries) {
    json obj = report_detail::path_object(e.path);
    obj["match"] = e.match;
    if (!e.sha256.empty()) obj["sha256"] = e.sha256;
    if (e.deleted) obj["deleted"] = true;
    // Only its presence counts (an ADS): the name is for the reviewer.
    if (!e.stream.empty()) obj["stream"] = to_valid_utf8(e.stream);
    obj["note"] = to_valid_utf8(e.note);
    accepted.push_back(std::move(obj));
  }
  json doc;
  doc["iocsweep_baseline"] = kBaselineFormatVersion;
  doc["tool"] = report_detail::tool_json();
  doc["created_at"] = now_rfc3339();
  doc["accepted"] = std::move(accepted);
  out << report_detail::dump(doc, 2) << '\n';
  out.flush();
  if (!out) return Error{"cannot write the baseline"};
  return Ok{};
}

}  // namespace iocsweep
