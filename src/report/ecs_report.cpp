// --format ecs: the NDJSON stream with its fields named as the Elastic
// Common Schema 8.x names them, so Elasticsearch, OpenSearch and the SIEMs
// that read ECS index a sweep without an ingest pipeline. docs/siem.md has
// the mapping; tests/data/ecs_fields.json lists every ECS field written here
// with its type, and tests/ecs_report_test.py holds the output to it.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iocsweep/report.hpp"
#include "iocsweep/version.hpp"
#include "report/json_fields.hpp"
#include "report/model.hpp"

namespace iocsweep {
namespace {

using report_detail::json;

/// The ECS release whose field reference this sink follows.
constexpr const char* kEcsVersion = "8.11.0";

// Elastic's detection rules tie severities to these risk scores (low 21,
// medium 47, high 73, critical 99); event.severity reuses them so that a
// higher number is worse, as Kibana sorts it.
int ecs_severity(int score) {
  const std::string_view s = severity_for(score);
  if (s == "alert") return 99;
  if (s == "warning") return 73;
  if (s == "notice") return 47;
  return 21;
}

// file.path / name / directory / extension of a path (readable text; the
// exact bytes, when they are not UTF-8, are in iocsweep.*.path_hex).
json file_fields(const std::string& raw_path) {
  const std::string path = path_for_json(raw_path);
  json file{{"path", path}};
  const std::size_t slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (!name.empty()) file["name"] = name;
  if (slash != std::string::npos) file["directory"] = slash == 0 ? "/" : path.substr(0, slash);
  const std::size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot != 0 && dot + 1 < name.size()) file["extension"] = name.substr(dot + 1);
  return file;
}

// The file on this host that a finding, error or skipped entry is about:
// for an archive member or a file in a container image the archive on disk,
// for a disk image the image, for a process its executable (none for its
// memory). What lies inside stays under iocsweep.* (docs/siem.md).
std::optional<std::string> host_file(const std::string& path, const std::optional<DiskLocation>& disk,
                                     const std::optional<ProcessLocation>& process) {
  if (disk) return disk->image;
  if (process) {
    if (process->memory || process->process.exe.empty()) return std::nullopt;
    return process->process.exe;
  }
  return path;
}

std::vector<std::string> meta_strings(const RuleInfo& rule, std::initializer_list<std::string_view> keys) {
  std::vector<std::string> out;
  for (const std::string_view key : keys) {
    for (const auto& [k, v] : rule.meta) {
      if (k == key && std::holds_alternative<const char*>(v)) out.push_back(to_valid_utf8(std::get<const char*>(v)));
    }
    if (!out.empty()) break;  // the first key present decides
  }
  return out;
}

// MITRE ATT&CK ids in a rule's mitre_attack meta ("G0082, T1565.001"):
// groups G####, techniques T#### or T####.###.
void attack_ids(const RuleInfo& rule, std::vector<std::string>& groups, std::vector<std::string>& techniques) {
  const auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  for (const std::string& text : meta_strings(rule, {"mitre_attack"})) {
    std::size_t i = 0;
    while (i < text.size()) {
      const std::size_t end = text.find_first_of(", ;", i);
      const std::string_view tok = std::string_view(text).substr(i, end == std::string::npos ? end : end - i);
      i = end == std::string::npos ? text.size() : end + 1;
      if (tok.size() == 5 && tok[0] == 'G' && digits(tok.substr(1))) groups.emplace_back(tok);
      const bool sub = tok.size() == 9 && tok[5] == '.' && digits(tok.substr(6));
      if ((tok.size() == 5 || sub) && tok[0] == 'T' && digits(tok.substr(1, 4))) techniques.emplace_back(tok);
    }
  }
}

// rule.* and threat.* of one YARA rule.
void add_yara(json& doc, const RuleInfo& rule) {
  json r{{"name", rule.name}, {"ruleset", rule.ns}, {"category", "yara"}};
  if (const auto id = meta_strings(rule, {"id"}); !id.empty()) r["id"] = id.front();
  if (const auto d = meta_strings(rule, {"description"}); !d.empty()) r["description"] = d.front();
  if (const auto ref = meta_strings(rule, {"reference"}); !ref.empty()) r["reference"] = ref.front();
  if (const auto author = meta_strings(rule, {"author"}); !author.empty()) r["author"] = author;
  doc["rule"] = std::move(r);

  json threat = json::object();
  if (const auto family = meta_strings(rule, {"malware_family", "family"}); !family.empty()) {
    threat["software"] = {{"name", family.front()}};
  }
  std::vector<std::string> groups;
  std::vector<std::string> techniques;
  attack_ids(rule, groups, techniques);
  json group = json::object();
  if (const auto actor = meta_strings(rule, {"threat_actor", "actor", "group"}); !actor.empty()) {
    group["name"] = actor.front();
  }
  if (!groups.empty()) group["id"] = groups.front();
  if (!group.empty()) threat["group"] = std::move(group);
  if (!techniques.empty()) threat["technique"] = {{"id", techniques}};
  if (!groups.empty() || !techniques.empty()) threat["framework"] = "MITRE ATT&CK";
  if (!threat.empty()) doc["threat"] = std::move(threat);
}

// What a path indicator was matched against, and the field of the
// document that holds it: the innermost member's name for an archive
// member, the path inside a container image, else the reported path.
std::pair<std::string, std::string> matched_path(const Finding& f) {
  if (f.image) return {path_for_json(f.image->path), "iocsweep.finding.image.path"};
  if (!f.member.empty()) return {path_for_json(f.member.back()), "iocsweep.finding.member"};
  if (f.disk || f.process) return {path_for_json(f.path), "iocsweep.finding.path"};
  return {path_for_json(f.path), "file.path"};
}

// An indicator from a list: rule.* names the list entry, threat.indicator
// the indicator, threat.enrichments what in the event it matched.
void add_indicator(json& doc, const std::string& identity, const std::string& source, const std::string& description,
                   const char* category, json indicator_file, const std::string& atomic, const std::string& field) {
  json r{{"name", identity}, {"ruleset", to_valid_utf8(source)}, {"category", category}};
  if (!description.empty()) r["description"] = to_valid_utf8(description);
  doc["rule"] = std::move(r);
  json indicator{{"type", "file"}, {"provider", to_valid_utf8(source)}};
  if (!description.empty()) indicator["description"] = to_valid_utf8(description);
  if (!indicator_file.empty()) indicator["file"] = std::move(indicator_file);
  doc["threat"] = {{"feed", {{"name", to_valid_utf8(source)}}},
                   {"indicator", indicator},
                   {"enrichments",
                    json::array({{{"indicator", indicator},
                                  {"matched", {{"atomic", atomic}, {"field", field}, {"type", "indicator_list"}}}}})}};
}

// One ECS document per match of a finding: rule.* and threat.* are then
// single values that line up, as a SIEM expects of an alert; the finding's
// file, host and score repeat on each, iocsweep.finding.matches counts them.
class EcsSink final : public ReportSink {
 public:
  explicit EcsSink(std::ostream& out) : out_(out) {}

  void begin(const ScanInfo& info) override {
    info_ = info;
    json doc = base(info.started_at, "event", "scan_started");
    doc["event"]["category"] = {"host"};
    doc["event"]["type"] = {"start"};
    doc["message"] = "iocsweep scan started";
    doc["iocsweep"]["schema_version"] = kReportSchemaVersion;
    doc["iocsweep"]["tool"] = report_detail::tool_json();
    doc["iocsweep"]["scan"] = report_detail::scan_json(info, nullptr);
    line(doc);
  }

  void finding(Finding f) override {
    json ours = report_detail::finding_json(f);
    json matches = std::move(ours["matches"]);
    ours.erase("matches");
    const std::optional<std::string> on_host = host_file(f.path, f.disk, f.process);
    json file = on_host ? file_fields(*on_host) : json::object();
    if (on_host && !f.digests.present.empty()) {
      for (const DigestKind kind : {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256}) {
        if (f.digests.present.has(kind)) file["hash"][std::string(digest_name(kind))] = f.digests.hex(kind);
      }
      // Not repeated under iocsweep: file.hash.* and file.size are the
      // bytes that matched (for a member, the member's).
      ours.erase("md5");
      ours.erase("sha1");
      ours.erase("sha256");
    }
    if (on_host) {
      file["size"] = f.size;
      ours.erase("size");
    }
    // The walked file's own facts (of the archive, for a member): ECS
    // keeps inode and uid as keywords.
    if (on_host && f.file) {
      file["inode"] = std::to_string(f.file->inode);
      file["mtime"] = rfc3339_from_ns(f.file->mtime_ns);
      if (f.file->uid) {
        file["uid"] = std::to_string(*f.file->uid);
        file["owner"] = path_for_json(f.file->owner);
      }
      ours.erase("file");
    }
    const std::string path = path_for_json(f.member.empty() ? f.path : f.path + "!/" + member_chain(f));
    ours["matches"] = f.matches.size();
    for (std::size_t i = 0; i < f.matches.size(); ++i) {
      const MatchRecord& m = f.matches[i];
      json doc = base(now_rfc3339(), "alert", "finding");
      doc["event"]["category"] = f.process ? json{"malware", "process"} : json{"malware", "file"};
      doc["event"]["type"] = {"info"};
      doc["event"]["severity"] = ecs_severity(f.score);
      doc["event"]["risk_score"] = static_cast<double>(f.score);
      doc["event"]["risk_score_norm"] = static_cast<double>(f.score);
      if (!file.empty()) doc["file"] = file;
      if (f.process) add_process(doc, *f.process);
      if (f.image && !f.image->reference.empty()) add_container_image(doc, to_valid_utf8(f.image->reference));
      const std::string identity = to_valid_utf8(match_identity(m));
      if (const auto* y = std::get_if<YaraMatchRecord>(&m)) {
        add_yara(doc, *y->rule);
      } else if (const auto* h = std::get_if<HashMatchRecord>(&m)) {
        const std::string alg(digest_name(h->ioc->kind));
        add_indicator(doc, identity, h->ioc->source, h->ioc->description, "hash indicator",
                      {{"hash", {{alg, h->ioc->value}}}}, h->ioc->value, "file.hash." + alg);
      } else if (const auto* n = std::get_if<FilenameMatchRecord>(&m)) {
        const auto [atomic, field] = matched_path(f);
        add_indicator(doc, identity, n->ioc->source, n->ioc->description, "filename indicator", json::object(), atomic,
                      field);
      } else if (const auto* o = std::get_if<ObservationMatchRecord>(&m)) {
        doc["rule"] = {{"name", std::string(o->observation->id)},
                       {"ruleset", "iocsweep process observations"},
                       {"category", "process observation"},
                       {"description", std::string(o->observation->description)}};
      }
      doc["message"] = std::string(severity_for(f.score)) + " score=" + std::to_string(f.score) + " " + identity +
                       " matched " + path;
      doc["iocsweep"]["finding"] = ours;
      doc["iocsweep"]["match"] = std::move(matches[i]);
      doc["iocsweep"]["match"]["index"] = i;
      line(doc);
    }
  }

  void error(FileError e) override {
    json doc = entry("error", e.path, e.disk, e.process);
    doc["event"]["type"] = {"error"};
    doc["event"]["outcome"] = "failure";
    doc["error"] = {{"message", to_valid_utf8(e.error)}};
    doc["message"] = "cannot read " + path_for_json(e.path) + ": " + to_valid_utf8(e.error);
    doc["iocsweep"]["error"] = report_detail::error_json(e);
    line(doc);
  }

  void skipped(SkippedFile s) override {
    json doc = entry("skipped", s.path, s.disk, s.process);
    doc["event"]["type"] = {"info"};
    doc["event"]["outcome"] = "unknown";
    doc["event"]["reason"] = s.reason;
    doc["message"] = "skipped " + path_for_json(s.path) + ": " + s.reason;
    doc["iocsweep"]["skipped"] = report_detail::skipped_json(s);
    doc["iocsweep"]["skipped"]["hides_content"] = skip_hides_content(s.reason);
    line(doc);
  }

  void atime_not_preserved(std::string path) override {
    json doc = entry("atime_not_preserved", path, std::nullopt, std::nullopt);
    doc["event"]["type"] = {"access"};
    doc["message"] = "read without O_NOATIME: " + path_for_json(path);
    doc["iocsweep"]["atime_not_preserved"] = report_detail::path_object(path);
    line(doc);
  }

  Status end(const ScanEnd& end) override {
    json doc = base(end.finished_at, "event", "scan_finished");
    doc["event"]["category"] = {"host"};
    doc["event"]["type"] = {"end"};
    doc["event"]["start"] = info_.started_at;
    doc["event"]["end"] = end.finished_at;
    doc["event"]["duration"] = static_cast<std::int64_t>(end.stats.elapsed_s * 1e9);  // ECS: nanoseconds
    doc["event"]["outcome"] = scan_saw_everything(end) ? "success" : "failure";
    doc["message"] = std::string("iocsweep scan finished: ") + std::to_string(end.stats.findings) + " findings, " +
                     (scan_saw_everything(end) ? "complete" : "incomplete");
    doc["iocsweep"]["scan"] = report_detail::scan_json(info_, &end);
    doc["iocsweep"]["stats"] = report_detail::stats_json(end.stats);
    line(doc);
    if (!out_) return Error{"cannot write the report"};
    return Ok{};
  }

 private:
  // What every document carries: when, what kind, where it was made, by what.
  json base(const std::string& timestamp, const char* kind, const char* record) const {
    return {{"@timestamp", timestamp},
            {"ecs", {{"version", kEcsVersion}}},
            {"event", {{"kind", kind}, {"action", record}, {"dataset", "iocsweep." + std::string(record)}}},
            {"host", {{"name", to_valid_utf8(info_.host)}, {"os", {{"type", "linux"}}}}},
            {"observer", {{"product", "iocsweep"}, {"vendor", "iocsweep"}, {"version", std::string(version())}}},
            {"iocsweep", {{"record", record}}}};
  }

  // An error, skipped entry or unpreserved access time: an event about a
  // file or a process.
  json entry(const char* record, const std::string& path, const std::optional<DiskLocation>& disk,
             const std::optional<ProcessLocation>& process) const {
    json doc = base(now_rfc3339(), "event", record);
    doc["event"]["category"] = {process ? "process" : "file"};
    if (const auto on_host = host_file(path, disk, process)) doc["file"] = file_fields(*on_host);
    if (process) add_process(doc, *process);
    return doc;
  }

  static void add_process(json& doc, const ProcessLocation& where) {
    const ProcessInfo& p = where.process;
    json proc{{"pid", p.pid}, {"parent", {{"pid", p.ppid}}}, {"name", path_for_json(p.name)}};
    if (!p.exe.empty()) proc["executable"] = path_for_json(p.exe);
    if (!p.cmdline.empty()) proc["command_line"] = path_for_json(p.cmdline);
    doc["process"] = std::move(proc);
    doc["user"] = {{"id", std::to_string(p.uid)}};
  }

  // "registry/repo:tag" -> container.image.name and .tag.
  static void add_container_image(json& doc, const std::string& reference) {
    const std::size_t colon = reference.find_last_of(':');
    const std::size_t slash = reference.find_last_of('/');
    json image{{"name", reference}};
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash) && colon + 1 < reference.size()) {
      image["name"] = reference.substr(0, colon);
      image["tag"] = {reference.substr(colon + 1)};
    }
    doc["container"] = {{"image", std::move(image)}};
  }

  void line(const json& doc) {
    out_ << report_detail::dump(doc, -1) << '\n';
    out_.flush();
  }

  std::ostream& out_;
  ScanInfo info_;
};

}  // namespace

std::unique_ptr<ReportSink> make_ecs_sink(std::ostream& out) { return std::make_unique<EcsSink>(out); }

}  // namespace iocsweep
