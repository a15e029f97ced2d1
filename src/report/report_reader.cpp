#include "report/report_reader.hpp"

#include <cstdint>
#include <initializer_list>
#include <optional>

#include "iocsweep/input_file.hpp"
#include "report/model.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;

// As for baselines: a parsed document is walked recursively, so nesting is
// bounded before anything is built. A report nests about 8 levels.
constexpr std::size_t kMaxJsonDepth = 64;

// Checks one document's fields, remembering the first thing wrong with the
// place it was found ("findings[3].matches[0].rule"). A report is hostile:
// a field the HTML page or the merge reads must have the type the schema
// gives it, so that nothing downstream has to guess.
class Checker {
 public:
  explicit Checker(std::string name) : name_(std::move(name)) {}

  bool failed() const { return failure_.has_value(); }
  Error error() const { return Error{failure_.value_or(name_ + ": not a valid report")}; }

  bool fail(const std::string& where, const std::string& what) {
    if (!failure_) failure_ = name_ + ": " + (where.empty() ? "" : where + ": ") + what;
    return false;
  }

  // Field `key` of `obj` when present (null when absent); fails when it is
  // required and absent.
  const json* field(const json& obj, const std::string& where, const char* key, bool required) {
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (required) fail(join(where, key), "missing");
      return nullptr;
    }
    return &*it;
  }

  bool object(const json& j, const std::string& where) { return j.is_object() || fail(where, "expected an object"); }
  bool string(const json& obj, const std::string& where, const char* key, bool required) {
    const json* j = field(obj, where, key, required);
    return j == nullptr ? !required : (j->is_string() || fail(join(where, key), "expected a string"));
  }
  bool boolean(const json& obj, const std::string& where, const char* key, bool required) {
    const json* j = field(obj, where, key, required);
    return j == nullptr ? !required : (j->is_boolean() || fail(join(where, key), "expected true or false"));
  }
  bool count(const json& obj, const std::string& where, const char* key, bool required, std::int64_t max = INT64_MAX) {
    const json* j = field(obj, where, key, required);
    if (j == nullptr) return !required;
    if (!j->is_number_integer() || (!j->is_number_unsigned() && j->get<std::int64_t>() < 0) ||
        (j->is_number_unsigned() && j->get<std::uint64_t>() > static_cast<std::uint64_t>(max))) {
      return fail(join(where, key), "expected an integer from 0 to " + std::to_string(max));
    }
    return true;
  }
  // Lower-case hex, `digits` long when not 0.
  bool hex(const json& obj, const std::string& where, const char* key, std::size_t digits = 0) {
    const json* j = field(obj, where, key, false);
    if (j == nullptr) return true;
    return hex_value(*j, join(where, key), digits);
  }
  bool hex_value(const json& j, const std::string& where, std::size_t digits = 0) {
    if (!j.is_string()) return fail(where, "expected a hex string");
    const std::string& s = j.get_ref<const std::string&>();
    bool ok = s.size() % 2 == 0 && (digits == 0 || s.size() == digits);
    for (char c : s) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    return ok || fail(where, "expected lower-case hex" + (digits ? " of " + std::to_string(digits) + " digits" : ""));
  }
  bool one_of(const json& obj, const std::string& where, const char* key, std::initializer_list<const char*> values) {
    if (!string(obj, where, key, true)) return false;
    const std::string& s = obj.at(key).get_ref<const std::string&>();
    for (const char* v : values) {
      if (s == v) return true;
    }
    return fail(join(where, key), "unknown value");
  }
  // An array at `key` (each element checked by `each(element, where)`).
  template <typename F>
  bool array(const json& obj, const std::string& where, const char* key, bool required, F each) {
    const json* j = field(obj, where, key, required);
    if (j == nullptr) return !required;
    if (!j->is_array()) return fail(join(where, key), "expected an array");
    for (std::size_t i = 0; i < j->size(); ++i) {
      if (!each((*j)[i], join(where, key) + "[" + std::to_string(i) + "]")) return false;
    }
    return true;
  }
  bool strings(const json& obj, const std::string& where, const char* key, bool required) {
    return array(obj, where, key, required,
                 [this](const json& e, const std::string& w) { return e.is_string() || fail(w, "expected a string"); });
  }
  bool hexes(const json& obj, const std::string& where, const char* key) {
    return array(obj, where, key, false, [this](const json& e, const std::string& w) { return hex_value(e, w); });
  }

  static std::string join(const std::string& where, const char* key) {
    return where.empty() ? std::string(key) : where + "." + key;
  }

 private:
  std::string name_;
  std::optional<std::string> failure_;
};

bool check_disk_image(Checker& c, const json& obj, const std::string& where) {
  const json* d = c.field(obj, where, "disk_image", false);
  if (d == nullptr) return c.boolean(obj, where, "deleted", false);
  const std::string w = where + ".disk_image";
  if (!c.object(*d, w) || !c.string(*d, w, "path", true) || !c.hex(*d, w, "path_hex") ||
      !c.count(*d, w, "offset", true) || !c.string(*d, w, "filesystem", true) ||
      !c.string(*d, w, "path_in_filesystem", true) || !c.hex(*d, w, "path_in_filesystem_hex") ||
      !c.count(*d, w, "inode", true)) {
    return false;
  }
  const json* part = c.field(*d, w, "partition", true);
  if (part == nullptr) return false;
  if (!part->is_null() && !c.count(*d, w, "partition", true)) return false;
  return c.boolean(obj, where, "deleted", true) && c.string(obj, where, "stream", false) &&
         c.hex(obj, where, "stream_hex");
}

bool check_process(Checker& c, const json& obj, const std::string& where) {
  const json* p = c.field(obj, where, "process", false);
  if (p == nullptr) return true;
  const std::string w = where + ".process";
  if (!c.object(*p, w) || !c.count(*p, w, "pid", true) || !c.count(*p, w, "ppid", true) ||
      !c.string(*p, w, "name", true) || !c.hex(*p, w, "name_hex") || !c.string(*p, w, "exe", true) ||
      !c.hex(*p, w, "exe_hex") || !c.string(*p, w, "cmdline", true) || !c.hex(*p, w, "cmdline_hex") ||
      !c.count(*p, w, "uid", true) || !c.one_of(*p, w, "part", {"executable", "memory"})) {
    return false;
  }
  const json* r = c.field(*p, w, "region", false);
  if (r == nullptr) return true;
  const std::string rw = w + ".region";
  return c.object(*r, rw) && c.string(*r, rw, "start", true) && c.string(*r, rw, "end", true) &&
         c.string(*r, rw, "perms", true) && c.count(*r, rw, "offset", true) && c.string(*r, rw, "path", true) &&
         c.hex(*r, rw, "path_hex");
}

bool check_match(Checker& c, const json& m, const std::string& w) {
  if (!c.object(m, w) || !c.one_of(m, w, "type", {"yara", "hash", "filename", "process"}) ||
      !c.count(m, w, "score", true, 100)) {
    return false;
  }
  const std::string& type = m.at("type").get_ref<const std::string&>();
  if (type == "yara") {
    if (!c.string(m, w, "rule", true) || !c.string(m, w, "namespace", true) || !c.strings(m, w, "tags", true)) {
      return false;
    }
    const json* meta = c.field(m, w, "meta", true);
    return meta != nullptr && c.object(*meta, w + ".meta");
  }
  if (type == "hash") {
    return c.one_of(m, w, "algorithm", {"md5", "sha1", "sha256"}) && c.hex(m, w, "value") &&
           c.string(m, w, "value", true) && c.string(m, w, "source", true) && c.count(m, w, "line", true) &&
           c.string(m, w, "description", true);
  }
  if (type == "filename") {
    return c.string(m, w, "pattern", true) && c.string(m, w, "false_positive", false) &&
           c.string(m, w, "source", true) && c.count(m, w, "line", true) && c.string(m, w, "description", true);
  }
  return c.string(m, w, "observation", true) && c.string(m, w, "description", true);
}

bool check_finding(Checker& c, const json& f, const std::string& w) {
  if (!c.object(f, w) || !c.string(f, w, "path", true) || !c.hex(f, w, "path_hex") ||
      !c.strings(f, w, "member", false) || !c.hexes(f, w, "member_hex") || !c.count(f, w, "size", true) ||
      !c.count(f, w, "score", true, 100) || !c.one_of(f, w, "severity", {"info", "notice", "warning", "alert"}) ||
      !c.hex(f, w, "md5", 32) || !c.hex(f, w, "sha1", 40) || !c.hex(f, w, "sha256", 64) ||
      !c.boolean(f, w, "cached", false) || !check_disk_image(c, f, w) || !check_process(c, f, w)) {
    return false;
  }
  if (const json* img = c.field(f, w, "image", false)) {
    const std::string iw = w + ".image";
    if (!c.object(*img, iw) || !c.string(*img, iw, "reference", true) || !c.string(*img, iw, "layer", true) ||
        !c.count(*img, iw, "layer_index", true) || !c.string(*img, iw, "path", true) || !c.hex(*img, iw, "path_hex") ||
        !c.boolean(*img, iw, "in_final_image", true)) {
      return false;
    }
  }
  const json* matches = c.field(f, w, "matches", true);
  if (matches == nullptr) return false;
  if (!matches->is_array() || matches->empty()) return c.fail(w + ".matches", "expected a non-empty array");
  return c.array(f, w, "matches", true, [&c](const json& m, const std::string& mw) { return check_match(c, m, mw); });
}

bool check_error(Checker& c, const json& e, const std::string& w) {
  return c.object(e, w) && c.string(e, w, "path", true) && c.hex(e, w, "path_hex") && c.string(e, w, "error", true) &&
         check_disk_image(c, e, w) && check_process(c, e, w);
}

bool check_skipped(Checker& c, const json& s, const std::string& w) {
  return c.object(s, w) && c.string(s, w, "path", true) && c.hex(s, w, "path_hex") && c.string(s, w, "reason", true) &&
         c.string(s, w, "detail", false) && check_disk_image(c, s, w) && check_process(c, s, w);
}

bool check_path_object(Checker& c, const json& a, const std::string& w) {
  return c.object(a, w) && c.string(a, w, "path", true) && c.hex(a, w, "path_hex");
}

// The identity of the document first, so that something else (a SARIF log,
// a baseline, any JSON) is refused as "not an iocsweep report" rather than
// for its first odd field.
bool check_identity(Checker& c, const json& doc) {
  const json* version = doc.is_object() ? c.field(doc, "", "schema_version", false) : nullptr;
  const json* tool = doc.is_object() ? c.field(doc, "", "tool", false) : nullptr;
  if (version == nullptr || tool == nullptr || !tool->is_object() || !tool->contains("name") ||
      (*tool)["name"] != "iocsweep") {
    return c.fail("", "not an iocsweep report (no schema_version and tool.name \"iocsweep\")");
  }
  if (*version != kReportSchemaVersion) {
    return c.fail("schema_version", "this iocsweep reads schema_version " + std::to_string(kReportSchemaVersion));
  }
  return c.string(*tool, "tool", "version", true);
}

bool check_scan(Checker& c, const json& doc, bool finished) {
  const json* scan = c.field(doc, "", "scan", true);
  if (scan == nullptr || !c.object(*scan, "scan")) return false;
  return c.string(*scan, "scan", "host", true) && c.string(*scan, "scan", "started_at", true) &&
         c.string(*scan, "scan", "finished_at", finished) && c.boolean(*scan, "scan", "complete", finished) &&
         c.strings(*scan, "scan", "roots", true) && c.hexes(*scan, "scan", "roots_hex") &&
         c.strings(*scan, "scan", "images", false) && c.hexes(*scan, "scan", "images_hex");
}

bool check_stats(Checker& c, const json& obj) {
  const json* stats = c.field(obj, "", "stats", true);
  if (stats == nullptr || !c.object(*stats, "stats")) return false;
  for (const char* key :
       {"files_scanned", "bytes_scanned", "files_skipped", "skipped_unscanned", "errors", "findings"}) {
    if (!c.count(*stats, "stats", key, true)) return false;
  }
  return true;
}

bool check_entries(Checker& c, const json& doc) {
  return c.array(doc, "", "findings", true,
                 [&c](const json& f, const std::string& w) { return check_finding(c, f, w); }) &&
         c.array(doc, "", "errors", true, [&c](const json& e, const std::string& w) { return check_error(c, e, w); }) &&
         c.array(doc, "", "skipped", true,
                 [&c](const json& s, const std::string& w) { return check_skipped(c, s, w); }) &&
         c.array(doc, "", "atime_not_preserved", false,
                 [&c](const json& a, const std::string& w) { return check_path_object(c, a, w); });
}

Status check_document(const json& doc, const std::string& name) {
  Checker c(name);
  if (!check_identity(c, doc) || !check_scan(c, doc, true) || !check_stats(c, doc) || !check_entries(c, doc)) {
    return c.error();
  }
  return Ok{};
}

Result<json> parse_json(std::string_view text, const std::string& name) {
  if (const auto at = json_too_deep_at(text, kMaxJsonDepth)) {
    return Error{name + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (byte " +
                 std::to_string(*at + 1) + ")"};
  }
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // A file cut short fails where its bytes end (mid-string, mid-object).
    const bool truncated = e.byte >= text.size();
    return Error{name + ": " + (truncated ? "truncated or " : "") + "not JSON: " + to_valid_utf8(e.what())};
  } catch (const json::exception& e) {
    return Error{name + ": not JSON: " + to_valid_utf8(e.what())};
  }
}

// An NDJSON stream (docs/report-format.md, NDJSON stream) as the document
// the JSON format writes. The last line of a killed sweep may be half
// written: without scan_finished that line is dropped and the stream is
// cut short; any other line that does not parse is an error.
Result<HostReport> parse_ndjson(std::string_view text, const std::string& name) {
  HostReport r;
  r.source = name;
  json& doc = r.document;
  doc = json::object();
  for (const char* key : {"findings", "errors", "skipped", "atime_not_preserved"}) doc[key] = json::array();
  bool finished = false;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const bool last = nl == std::string_view::npos;
    std::string_view line = text.substr(pos, last ? std::string_view::npos : nl - pos);
    pos = last ? text.size() : nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = name + ":" + std::to_string(line_no);
    if (finished) return Error{where + ": a record after scan_finished"};
    auto rec = parse_json(line, where);
    if (!rec) {
      if (last && line_no > 1) break;  // the half-written line of a killed sweep
      return rec.error();
    }
    Checker c(where);
    if (!rec->is_object() || !rec->contains("record") || !(*rec)["record"].is_string()) {
      if (line_no == 1) return Error{name + ": not an iocsweep report (no schema_version and tool.name \"iocsweep\")"};
      return Error{where + ": expected an object with a \"record\" field"};
    }
    const std::string kind = (*rec)["record"].get<std::string>();
    rec->erase("record");
    if (line_no == 1) {
      if (kind != "scan_started" || !check_identity(c, *rec) || !check_scan(c, *rec, false)) {
        return kind != "scan_started" ? Error{where + ": the first record is not scan_started"} : c.error();
      }
      doc["schema_version"] = (*rec)["schema_version"];
      doc["tool"] = (*rec)["tool"];
      doc["scan"] = (*rec)["scan"];
    } else if (kind == "finding" || kind == "error" || kind == "skipped" || kind == "atime_not_preserved") {
      const bool ok = kind == "finding"   ? check_finding(c, *rec, kind)
                      : kind == "error"   ? check_error(c, *rec, kind)
                      : kind == "skipped" ? check_skipped(c, *rec, kind)
                                          : check_path_object(c, *rec, kind);
      if (!ok) return c.error();
      const char* array = kind == "finding" ? "findings" : kind == "error" ? "errors" : kind.c_str();
      doc[array].push_back(std::move(*rec));
    } else if (kind == "scan_finished") {
      json probe = {{"scan", (*rec)["scan"]}};
      if (!check_scan(c, probe, true) || !check_stats(c, *rec)) return c.error();
      doc["scan"] = (*rec)["scan"];
      doc["stats"] = (*rec)["stats"];
      finished = true;
    } else {
      return Error{where + ": unknown record \"" + to_valid_utf8(kind) + "\""};
    }
  }
  if (line_no == 0) return Error{name + ": empty, not an iocsweep report"};
  if (!finished) {
    // What a report of the sweep so far would say: not complete, counted.
    r.cut_short = true;
    doc["scan"]["finished_at"] = doc["scan"]["started_at"];
    doc["scan"]["complete"] = false;
    // Every counter the schema has: what the records say, 0 for the rest.
    json& stats = doc["stats"] = json::object();
    for (const char* key :
         {"files_scanned", "bytes_scanned", "skipped_unscanned", "findings_below_min_score", "files_allowlisted",
          "findings_suppressed", "yara_prefiltered", "processes_scanned", "process_memory_bytes",
          "symlinks_not_followed", "files_read_without_noatime", "files_cached"}) {
      stats[key] = 0;
    }
    stats["files_skipped"] = doc["skipped"].size();
    stats["errors"] = doc["errors"].size();
    stats["findings"] = doc["findings"].size();
    stats["elapsed_s"] = 0;
  }
  return r;
}

Result<std::vector<HostReport>> parse_merged(const json& doc, const std::string& name) {
  Checker c(name);
  if (doc["iocsweep_merged_report"] != kMergedReportVersion) {
    return Error{name + ": iocsweep_merged_report: this iocsweep reads version " +
                 std::to_string(kMergedReportVersion)};
  }
  const json* reports = c.field(doc, "", "reports", true);
  if (reports == nullptr) return c.error();
  if (!reports->is_array()) return Error{name + ": reports: expected an array"};
  std::vector<HostReport> out;
  for (std::size_t i = 0; i < reports->size(); ++i) {
    const json& entry = (*reports)[i];
    const std::string w = "reports[" + std::to_string(i) + "]";
    if (!c.object(entry, w) || !c.string(entry, w, "source", true) || !c.boolean(entry, w, "cut_short", true)) {
      return c.error();
    }
    const json* report = c.field(entry, w, "report", true);
    if (report == nullptr) return c.error();
    Status ok = check_document(*report, name + ": " + w + ".report");
    if (!ok) return ok.error();
    out.push_back({entry["source"].get<std::string>(), *report, entry["cut_short"].get<bool>()});
  }
  return out;
}

// NDJSON when the first line alone is an object with a "record" field (a
// JSON report is written indented, and a compact one has no "record").
bool looks_like_ndjson(std::string_view text) {
  const std::string_view first = text.substr(0, text.find('\n'));
  if (first.find("\"record\"") == std::string_view::npos || json_too_deep_at(first, kMaxJsonDepth)) return false;
  const json j = json::parse(first.begin(), first.end(), nullptr, false);
  return j.is_object() && j.contains("record");
}

}  // namespace

HostStatus host_status(const HostReport& r) {
  if (r.cut_short) return HostStatus::kFailed;
  const json& doc = r.document;
  const json& stats = doc["stats"];
  const bool incomplete = !doc["scan"]["complete"].get<bool>() || !doc["errors"].empty() ||
                          stats["skipped_unscanned"].get<std::uint64_t>() > 0;
  if (incomplete) return HostStatus::kIncomplete;
  return doc["findings"].empty() ? HostStatus::kClean : HostStatus::kFindings;
}

std::string_view status_name(HostStatus s) {
  switch (s) {
    case HostStatus::kFailed:
      return "failed";
    case HostStatus::kIncomplete:
      return "incomplete";
    case HostStatus::kFindings:
      return "findings";
    case HostStatus::kClean:
      return "clean";
  }
  return "failed";
}

Result<std::vector<HostReport>> parse_reports(std::string_view text, const std::string& name) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Error{name + ": empty, not an iocsweep report"};
  }
  if (looks_like_ndjson(text)) {
    auto r = parse_ndjson(text, name);
    if (!r) return r.error();
    return std::vector<HostReport>{std::move(*r)};
  }
  auto doc = parse_json(text, name);
  if (!doc) return doc.error();
  if (doc->is_object() && doc->contains("iocsweep_merged_report")) return parse_merged(*doc, name);
  Status ok = check_document(*doc, name);
  if (!ok) return ok.error();
  return std::vector<HostReport>{{name, std::move(*doc), false}};
}

Result<std::vector<HostReport>> read_reports(const std::string& path) {
  auto text = read_input_file(path);
  if (!text) return text.error();
  return parse_reports(*text, path);
}

json merged_report(const std::vector<HostReport>& reports) {
  json entries = json::array();
  for (const HostReport& r : reports) {
    entries.push_back({{"source", to_valid_utf8(r.source)}, {"cut_short", r.cut_short}, {"report", r.document}});
  }
  return {{"iocsweep_merged_report", kMergedReportVersion}, {"reports", std::move(entries)}};
}

}  // namespace iocsweep
