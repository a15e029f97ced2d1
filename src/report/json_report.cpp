#include <algorithm>
#include <nlohmann/json.hpp>

#include "iocsweep/report.hpp"
#include "iocsweep/version.hpp"
#include "report/collecting_sink.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;

// Adds "path" (always valid UTF-8) and, when the name is not UTF-8,
// "path_hex" with its exact bytes, so nothing about the name is lost.
void put_path(json& obj, const std::string& path) {
  obj["path"] = path_for_json(path);
  if (!is_valid_utf8(path)) obj["path_hex"] = to_hex(path);
}

json meta_to_json(const std::vector<std::pair<std::string, MetaValue>>& meta) {
  json out = json::object();
  for (const auto& [key, value] : meta) {
    json v = std::visit([](const auto& x) { return json(x); }, value);
    // YARA allows a meta key more than once; keep every value.
    if (out.contains(key)) {
      if (!out[key].is_array()) out[key] = json::array({out[key]});
      out[key].push_back(std::move(v));
    } else {
      out[key] = std::move(v);
    }
  }
  return out;
}

json match_to_json(const MatchRecord& match) {
  if (const auto* y = std::get_if<YaraMatchRecord>(&match)) {
    return json{{"type", "yara"},
                {"rule", y->rule->name},
                {"namespace", y->rule->ns},
                {"tags", y->rule->tags},
                {"meta", meta_to_json(y->rule->meta)},
                {"score", y->rule->score}};
  }
  if (const auto* f = std::get_if<FilenameMatchRecord>(&match)) {
    const FilenameIoc& ioc = *f->ioc;
    json out{{"type", "filename"}, {"pattern", ioc.pattern},         {"source", ioc.source},
             {"line", ioc.line},   {"description", ioc.description}, {"score", ioc.score}};
    if (!ioc.false_positive.empty()) out["false_positive"] = ioc.false_positive;
    return out;
  }
  const HashIoc& ioc = *std::get<HashMatchRecord>(match).ioc;
  return json{{"type", "hash"},   {"algorithm", digest_name(ioc.kind)}, {"value", ioc.value}, {"source", ioc.source},
              {"line", ioc.line}, {"description", ioc.description},     {"score", ioc.score}};
}

class JsonSink final : public report_detail::CollectingSink {
 public:
  explicit JsonSink(std::ostream& out) : out_(out) {}

  Status write(const ScanEnd& end) override {
    json doc;
    doc["schema_version"] = kReportSchemaVersion;
    doc["tool"] = {{"name", kToolName}, {"version", version()}};
    json rulesets = json::array();
    for (const RulesetInfo& r : info_.rulesets) {
      rulesets.push_back({{"name", r.name}, {"sha256", r.sha256}, {"rules", r.rules}});
    }
    json ioc_sets = json::array();
    for (const IocSetInfo& s : info_.ioc_sets) {
      ioc_sets.push_back(
          {{"name", s.name},
           {"sha256", s.sha256},
           {"count", s.count},
           {"counts", {{"md5", s.md5}, {"sha1", s.sha1}, {"sha256", s.sha256_count}, {"filename", s.filename}}}});
    }
    json allow_sets = json::array();
    for (const IocSetInfo& s : info_.allow_sets) {
      allow_sets.push_back({{"name", s.name}, {"sha256", s.sha256}, {"count", s.count}});
    }
    json roots = json::array();
    for (const std::string& r : info_.roots) roots.push_back(path_for_json(r));
    doc["scan"] = {{"host", to_valid_utf8(info_.host)}, {"started_at", info_.started_at},
                   {"finished_at", end.finished_at},    {"roots", std::move(roots)},
                   {"complete", end.complete},          {"rulesets", std::move(rulesets)},
                   {"ioc_sets", std::move(ioc_sets)},   {"allow_sets", std::move(allow_sets)}};
    const ScanStats& s = end.stats;
    doc["stats"] = {{"files_scanned", s.files_scanned},
                    {"bytes_scanned", s.bytes_scanned},
                    {"files_skipped", s.files_skipped},
                    {"errors", s.errors},
                    {"findings", s.findings},
                    {"findings_below_min_score", s.findings_below_min_score},
                    {"files_allowlisted", s.files_allowlisted},
                    {"symlinks_not_followed", s.symlinks_not_followed},
                    {"files_read_without_noatime", s.files_read_without_noatime},
                    {"elapsed_s", s.elapsed_s}};
    json findings = json::array();
    for (const Finding& f : findings_) {
      json obj;
      put_path(obj, f.path);
      obj["size"] = f.size;
      for (const DigestKind kind : {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256}) {
        if (f.digests.present.has(kind)) obj[std::string(digest_name(kind))] = f.digests.hex(kind);
      }
      obj["score"] = f.score;
      obj["severity"] = severity_for(f.score);
      json matches = json::array();
      for (const MatchRecord& m : f.matches) matches.push_back(match_to_json(m));
      obj["matches"] = std::move(matches);
      findings.push_back(std::move(obj));
    }
    doc["findings"] = std::move(findings);
    json errors = json::array();
    for (const FileError& e : errors_) {
      json obj;
      put_path(obj, e.path);
      obj["error"] = to_valid_utf8(e.error);
      errors.push_back(std::move(obj));
    }
    doc["errors"] = std::move(errors);
    json skipped = json::array();
    for (const SkippedFile& k : skipped_) {
      json obj;
      put_path(obj, k.path);
      obj["reason"] = k.reason;
      if (!k.detail.empty()) obj["detail"] = to_valid_utf8(k.detail);
      skipped.push_back(std::move(obj));
    }
    doc["skipped"] = std::move(skipped);
    json atime = json::array();
    for (const std::string& path : atime_changed_) {
      json obj;
      put_path(obj, path);
      atime.push_back(std::move(obj));
    }
    doc["atime_not_preserved"] = std::move(atime);

    // Rule metadata and descriptions come from outside: any invalid UTF-8
    // left in them is replaced rather than allowed to break the document.
    out_ << doc.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    out_.flush();
    if (!out_) return Error{"cannot write the report"};
    return Ok{};
  }

 private:
  std::ostream& out_;
};

}  // namespace

std::unique_ptr<ReportSink> make_json_sink(std::ostream& out) { return std::make_unique<JsonSink>(out); }

}  // namespace iocsweep
