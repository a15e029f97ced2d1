// SARIF 2.1.0 (OASIS) log of one scan, for code-scanning dashboards and CI
// gates. One run; one result per match; rules and indicators that fired
// become reportingDescriptors; files become artifacts with their digests.

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "iocsweep/baseline.hpp"
#include "iocsweep/build_info.hpp"
#include "iocsweep/report.hpp"
#include "iocsweep/version.hpp"
#include "report/collecting_sink.hpp"
#include "report/json_fields.hpp"
#include "report/model.hpp"

namespace iocsweep {
namespace {

using report_detail::json;

constexpr const char* kSarifSchemaUri =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
// The project has no public home yet; .invalid (RFC 2606) as in
// docs/report.schema.json's $id. Replace when it gets one.
constexpr const char* kInformationUri = "https://iocsweep.invalid/";

// Bytes left as they are in a URI: RFC 3986 unreserved characters and the
// path separator. Everything else, including every non-ASCII byte (so
// names that are not UTF-8 keep their exact bytes), is percent-encoded.
std::string percent_encode_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (const char ch : path) {
    const auto c = static_cast<unsigned char>(ch);
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~' || c == '/';
    if (keep) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string_view level_for(int score) {
  const std::string_view severity = severity_for(score);
  if (severity == "alert") return "error";
  if (severity == "warning") return "warning";
  return "note";
}

// GitHub code scanning ranks security alerts by this 0.0-10.0 number.
std::string security_severity(int score) { return std::to_string(score / 10) + "." + std::to_string(score % 10); }

std::string meta_string(const RuleInfo& rule, std::string_view key) {
  for (const auto& [k, v] : rule.meta) {
    if (k == key) {
      if (const auto* s = std::get_if<const char*>(&v)) return *s;
    }
  }
  return "";
}

bool is_http_url(std::string_view s) {
  return (s.starts_with("https://") || s.starts_with("http://")) && s.size() > 8 &&
         s.find_first_of(" \t\r\n\"<>\\^`{|}") == std::string_view::npos;
}

// Where a path lies: index of the root, and the path relative to it.
struct RootedPath {
  std::size_t root = 0;
  std::string relative;  ///< raw bytes, no leading '/'
  bool found = false;
};

class SarifSink final : public report_detail::CollectingSink {
 public:
  SarifSink(std::ostream& out, std::string cwd) : out_(out), cwd_(std::move(cwd)) {}

  Status write(const ScanEnd& end) override {
    prepare_roots();
    json results = json::array();
    for (const Finding& f : findings_) {
      const int artifact = add_artifacts(f);
      for (const MatchRecord& m : f.matches) results.push_back(result_json(f, m, artifact));
    }
    json run;
    json driver = {{"name", kToolName},
                   {"version", version()},
                   {"semanticVersion", version()},
                   {"informationUri", kInformationUri},
                   {"rules", rules_}};
    // The build facts of the JSON report's `tool` object, in the driver's
    // property bag (SARIF 2.1.0 section 3.8).
    json build = tool_info_json();
    build.erase("name");
    build.erase("version");
    driver["properties"] = std::move(build);
    run["tool"] = {{"driver", std::move(driver)}};
    run["invocations"] = json::array({invocation_json(end)});
    json bases = json::object();
    for (const Root& r : roots_) {
      json base = {{"uri", r.base_uri}};
      base["description"] = {{"text", r.description}};
      bases[r.id] = std::move(base);
    }
    if (!bases.empty()) run["originalUriBaseIds"] = std::move(bases);
    run["artifacts"] = std::move(artifacts_);
    run["results"] = std::move(results);
    // What the JSON report says about the scan (rule and IOC set
    // fingerprints, counters), for whoever reads the SARIF alone.
    run["properties"] = {
        {"iocsweep",
         {{"scan", report_detail::scan_json(info_, &end)}, {"stats", report_detail::stats_json(end.stats)}}}};
    json doc = {{"$schema", kSarifSchemaUri}, {"version", "2.1.0"}, {"runs", json::array({std::move(run)})}};
    out_ << report_detail::dump(doc, 2) << '\n';
    out_.flush();
    if (!out_) return Error{"cannot write the report"};
    return Ok{};
  }

 private:
  struct Root {
    std::string given;     // as on the command line
    std::string prefix;    // paths below it start with this (ends in '/')
    std::string id;        // uriBaseId
    std::string base_uri;  // absolute file URI of the directory, ends in '/'
    std::string description;
  };

  // A root that names a file is based at its directory, so every artifact
  // URI is relative (the file's own name).
  void prepare_roots() {
    const std::size_t n = info_.roots.size();
    for (std::size_t i = 0; i < n; ++i) {
      roots_.push_back(make_root(info_.roots[i], n == 1 ? "SCANROOT" : "SCANROOT" + std::to_string(i + 1),
                                 is_directory_root(i), "scan root as given: "));
    }
    // A disk image that no scan root holds (an --image FILE need not be
    // one) is based at its own directory, so its URIs stay relative too.
    std::vector<std::string> images;
    const auto note = [&](const std::optional<DiskLocation>& d) {
      if (d && !locate(d->image).found && std::find(images.begin(), images.end(), d->image) == images.end()) {
        images.push_back(d->image);
      }
    };
    for (const Finding& f : findings_) note(f.disk);
    for (const FileError& e : errors_) note(e.disk);
    for (std::size_t i = 0; i < images.size(); ++i) {
      roots_.push_back(make_root(images[i], images.size() == 1 ? "DISKIMAGE" : "DISKIMAGE" + std::to_string(i + 1),
                                 false, "disk image as given: "));
    }
  }

  Root make_root(const std::string& given, std::string id, bool directory, const char* description) const {
    Root r;
    r.given = given;
    r.id = std::move(id);
    r.description = description + to_valid_utf8(given);
    std::string dir = r.given;
    if (!directory) {
      const std::size_t slash = dir.rfind('/');
      dir = slash == std::string::npos ? "." : dir.substr(0, slash + 1);
    }
    r.prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
    if (r.prefix == "./" && r.given != "." && r.given.rfind("./", 0) != 0) r.prefix.clear();
    std::filesystem::path abs = std::filesystem::path(dir);
    if (abs.is_relative()) abs = std::filesystem::path(cwd_) / abs;
    std::string norm = abs.lexically_normal().string();
    if (norm.empty() || norm.back() != '/') norm += '/';
    r.base_uri = "file://" + percent_encode_path(norm);
    return r;
  }

  // A root is a directory unless a finding's path equals it exactly (only
  // a file root is reported under its own name).
  bool is_directory_root(std::size_t i) const {
    const std::string& root = info_.roots[i];
    for (const Finding& f : findings_) {
      if (f.path == root || (f.disk && f.disk->image == root)) return false;
    }
    for (const FileError& e : errors_) {
      if (e.path == root || (e.disk && e.disk->image == root)) return false;
    }
    return true;
  }

  // The root a path was found under: the longest prefix that matches (roots
  // may nest); a root named without any '/' ("file.exe") has no prefix.
  RootedPath locate(const std::string& path) const {
    RootedPath best;
    std::size_t best_len = 0;
    for (std::size_t i = 0; i < roots_.size(); ++i) {
      const std::string& prefix = roots_[i].prefix;
      const bool under = prefix.empty() ? !path.empty() && path[0] != '/'
                                        : path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0;
      if (under && (!best.found || prefix.size() > best_len)) {
        best = {i, path.substr(prefix.size()), true};
        best_len = prefix.size();
      }
    }
    // "a//b" below a root "a/": no empty first segment.
    if (best.found) {
      const std::size_t first = best.relative.find_first_not_of('/');
      best.relative.erase(0, first == std::string::npos ? best.relative.size() : first);
      if (best.relative.empty()) best.found = false;
    }
    return best;
  }

  json artifact_location(const std::string& path) const {
    const RootedPath where = locate(path);
    if (where.found) {
      return {{"uri", percent_encode_path(where.relative)}, {"uriBaseId", roots_[where.root].id}};
    }
    std::filesystem::path abs(path);
    if (abs.is_relative()) abs = std::filesystem::path(cwd_) / abs;
    return {{"uri", "file://" + percent_encode_path(abs.lexically_normal().string())}};
  }

  // The file on disk that holds what was found: the disk image for a file
  // found in one, else the file itself.
  static const std::string& outer_path(const Finding& f) { return f.disk ? f.disk->image : f.path; }

  // The artifact of the file (and, for a file in a disk image, of that file
  // nested in the image; for an archive member, of the members nested in
  // it); returns the index results point at: the outer file.
  // Artifacts are unique (the schema says so): a file with several member
  // findings, or with findings of its own too, is listed once.
  int add_artifacts(const Finding& f) {
    json hashes = json::object();
    if (f.digests.present.has(DigestKind::kMd5)) hashes["md5"] = f.digests.hex(DigestKind::kMd5);
    if (f.digests.present.has(DigestKind::kSha1)) hashes["sha-1"] = f.digests.hex(DigestKind::kSha1);
    if (f.digests.present.has(DigestKind::kSha256)) hashes["sha-256"] = f.digests.hex(DigestKind::kSha256);
    const int outer = artifact_index(-1, outer_path(f), [&] {
      return json{{"location", artifact_location(outer_path(f))}, {"roles", json::array({"analysisTarget"})}};
    });
    int parent = outer;
    if (f.disk) {
      // A deleted file may have the path of a live one: two artifacts.
      const std::string inside = report_detail::disk_inside(*f.disk);
      parent = artifact_index(parent, inside + (f.disk->deleted ? std::string("\0deleted", 8) : ""), [&] {
        json props = json::object();
        report_detail::add_disk_fields(props, f.disk);
        const std::size_t first = inside.find_first_not_of('/');
        return json{
            {"location", {{"uri", percent_encode_path(first == std::string::npos ? "" : inside.substr(first))}}},
            {"parentIndex", parent},
            {"properties", std::move(props)}};
      });
    }
    for (const std::string& member : f.member) {
      parent = artifact_index(parent, member, [&] {
        return json{{"location", {{"uri", percent_encode_path(member)}}}, {"parentIndex", parent}};
      });
    }
    json& innermost = artifacts_[static_cast<std::size_t>(parent)];
    innermost["length"] = f.size;
    if (!hashes.empty()) innermost["hashes"] = std::move(hashes);
    return outer;
  }

  template <typename Make>
  int artifact_index(int parent, const std::string& name, Make make) {
    const auto key = std::make_pair(parent, name);
    if (const auto it = artifact_by_key_.find(key); it != artifact_by_key_.end()) return it->second;
    const int index = static_cast<int>(artifacts_.size());
    artifacts_.push_back(make());
    artifact_by_key_.emplace(key, index);
    return index;
  }

  // Index of the descriptor of `m` in rules_, adding it on first use.
  std::size_t rule_index(const MatchRecord& m) {
    std::string key = match_identity(m);
    if (const auto* y = std::get_if<YaraMatchRecord>(&m)) key += '\0' + y->rule->ns;
    if (const auto it = rule_by_key_.find(key); it != rule_by_key_.end()) return it->second;
    json rule = descriptor_json(m);
    // Two rule sets may define rules of the same name: the later ones get
    // the namespace appended so every id stays unique within the run.
    std::string id = rule["id"];
    if (ids_.contains(id)) {
      const auto* y = std::get_if<YaraMatchRecord>(&m);
      id += "@" + (y != nullptr ? to_valid_utf8(y->rule->ns) : std::to_string(rules_.size()));
      rule["id"] = id;
    }
    ids_.insert(id);
    rules_.push_back(std::move(rule));
    return rule_by_key_[key] = rules_.size() - 1;
  }

  json descriptor_json(const MatchRecord& m) const {
    const int score = match_score(m);
    json props = {{"score", score}, {"severity", severity_for(score)}, {"security-severity", security_severity(score)}};
    json rule = {{"id", match_identity(m)}};
    std::string short_text, full_text;
    if (const auto* y = std::get_if<YaraMatchRecord>(&m)) {
      const RuleInfo& r = *y->rule;
      rule["name"] = r.name;
      const std::string description = meta_string(r, "description");
      short_text = description.empty() ? "YARA rule " + r.name : description;
      full_text = short_text + " (YARA rule " + r.name + " from " + r.ns + ")";
      const std::string reference = meta_string(r, "reference");
      if (is_http_url(reference)) rule["helpUri"] = reference;
      if (!reference.empty()) props["reference"] = to_valid_utf8(reference);
      json tags = json::array({"security", "yara"});
      for (const std::string& t : r.tags) tags.push_back(to_valid_utf8(t));
      props["tags"] = std::move(tags);
      props["namespace"] = to_valid_utf8(r.ns);
      if (const std::string id = meta_string(r, "id"); !id.empty()) props["rule_id"] = to_valid_utf8(id);
    } else if (const auto* h = std::get_if<HashMatchRecord>(&m)) {
      const HashIoc& ioc = *h->ioc;
      const std::string algorithm(digest_name(ioc.kind));
      rule["name"] = "HashIndicator_" + algorithm + "_" + ioc.value.substr(0, 12);
      short_text = ioc.description.empty() ? "Known-bad " + algorithm + " hash" : ioc.description;
      full_text = "File content has the " + algorithm + " " + ioc.value + " listed in " + ioc.source +
                  (ioc.line > 0 ? ":" + std::to_string(ioc.line) : "") +
                  (ioc.description.empty() ? "" : ": " + ioc.description);
      props["tags"] = json::array({"security", "ioc", "hash", algorithm});
      props["source"] = to_valid_utf8(ioc.source);
      props["line"] = ioc.line;
    } else if (const auto* o = std::get_if<ObservationMatchRecord>(&m)) {
      rule["name"] = "ProcessObservation_" + std::string(o->observation->id);
      short_text = std::string(o->observation->description);
      full_text = "Live process: " + short_text + " (docs/processes.md)";
      props["tags"] = json::array({"security", "process"});
    } else {
      const FilenameIoc& ioc = *std::get<FilenameMatchRecord>(m).ioc;
      rule["name"] = "PathIndicator";
      short_text = ioc.description.empty() ? "Path matches a known-bad name pattern" : ioc.description;
      full_text = "Path matches the indicator pattern " + ioc.pattern + " from " + ioc.source +
                  (ioc.line > 0 ? ":" + std::to_string(ioc.line) : "") +
                  (ioc.false_positive.empty() ? "" : " (false positives: " + ioc.false_positive + ")");
      props["tags"] = json::array({"security", "ioc", "filename"});
      props["source"] = to_valid_utf8(ioc.source);
      props["line"] = ioc.line;
      props["pattern"] = to_valid_utf8(ioc.pattern);
    }
    rule["shortDescription"] = {{"text", to_valid_utf8(short_text)}};
    rule["fullDescription"] = {{"text", to_valid_utf8(full_text)}};
    rule["defaultConfiguration"] = {{"level", level_for(score)}};
    rule["properties"] = std::move(props);
    return rule;
  }

  json result_json(const Finding& f, const MatchRecord& m, int artifact) {
    const std::size_t index = rule_index(m);
    const json& rule = rules_[index];
    const int score = match_score(m);
    json location = artifact_location(outer_path(f));
    location["index"] = artifact;
    const RootedPath where = locate(outer_path(f));
    std::string shown = to_valid_utf8(where.found ? where.relative : outer_path(f));
    if (f.disk) shown += "#" + to_valid_utf8(report_detail::disk_inside(*f.disk));
    const std::string joined = member_chain(f);
    if (!f.member.empty()) shown += "!/" + to_valid_utf8(joined);
    if (f.disk && f.disk->deleted) shown += " (deleted)";
    json loc = {{"physicalLocation",
                 // GitHub code scanning shows an alert only at a line: the
                 // whole file matched, so its first line stands for it.
                 {{"artifactLocation", std::move(location)}, {"region", {{"startLine", 1}}}}}};
    // Outermost first: the file in the disk image, then the member chain.
    json logical_locations = json::array();
    if (f.disk) logical_locations.push_back(disk_logical_location(*f.disk));
    if (!f.member.empty()) {
      json chain = json::array();
      for (const std::string& member : f.member) chain.push_back(to_valid_utf8(member));
      json logical = {{"name", to_valid_utf8(f.member.back())},
                      {"fullyQualifiedName", to_valid_utf8(joined)},
                      {"kind", "archiveMember"},
                      {"properties", {{"memberChain", std::move(chain)}}}};
      logical_locations.push_back(std::move(logical));
    }
    if (!logical_locations.empty()) loc["logicalLocations"] = std::move(logical_locations);
    const std::string sha256 = f.digests.hex(DigestKind::kSha256);
    // Same rule, same content (and member), same fingerprint: a moved file
    // stays one alert. Without a digest the path stands in for the content.
    // A deleted file or an alternate data stream is another alert than the
    // same bytes live or in a file's data (as for baselines: hiding is news).
    const std::string content = sha256.empty() ? "path:" + f.path : "sha256:" + sha256;
    const std::string fingerprint =
        sha256_hex(match_identity(m) + '\n' + content + '\n' + joined + report_detail::hiding_state(f.disk));
    json result = {{"ruleId", rule["id"]},
                   {"ruleIndex", index},
                   {"level", level_for(score)},
                   {"message",
                    {{"text", rule["shortDescription"]["text"].get<std::string>() + ": " + shown + " (score " +
                                  std::to_string(score) + "; file score " + std::to_string(f.score) + ", " +
                                  std::string(severity_for(f.score)) + ")"}}},
                   {"locations", json::array({std::move(loc)})},
                   {"fingerprints", {{"iocsweep/v1", fingerprint}}},
                   {"partialFingerprints", {{"iocsweepContent/v1", fingerprint}}}};
    json props = {{"score", score}, {"file_score", f.score}, {"file_severity", severity_for(f.score)}};
    if (!sha256.empty()) props["sha256"] = sha256;
    report_detail::add_disk_fields(props, f.disk);
    report_detail::add_process_fields(props, f.process);
    result["properties"] = std::move(props);
    return result;
  }

  // The file inside a disk image: its path there, as disk_path() writes it
  // after the '#', and the rest of the location in the property bag.
  static json disk_logical_location(const DiskLocation& d) {
    const std::string inside = report_detail::disk_inside(d);
    const std::size_t slash = d.path.rfind('/');
    std::string name = slash == std::string::npos ? d.path : d.path.substr(slash + 1);
    if (!d.stream.empty()) name += ":" + d.stream;
    json props = json::object();
    report_detail::add_disk_fields(props, d);
    return {{"name", to_valid_utf8(name)},
            {"fullyQualifiedName", to_valid_utf8(inside)},
            {"kind", "diskImageFile"},
            {"properties", std::move(props)}};
  }

  json invocation_json(const ScanEnd& end) const {
    json notifications = json::array();
    for (const FileError& e : errors_) {
      json loc = {{"physicalLocation", {{"artifactLocation", artifact_location(e.disk ? e.disk->image : e.path)}}}};
      if (e.disk) loc["logicalLocations"] = json::array({disk_logical_location(*e.disk)});
      notifications.push_back({{"level", "error"},
                               {"message", {{"text", to_valid_utf8(e.error)}}},
                               {"descriptor", {{"id", "file-error"}}},
                               {"locations", json::array({std::move(loc)})}});
    }
    json inv = {{"executionSuccessful", scan_saw_everything(end) && errors_.empty()},
                {"startTimeUtc", info_.started_at},
                {"endTimeUtc", end.finished_at},
                {"machine", to_valid_utf8(info_.host)},
                {"toolExecutionNotifications", std::move(notifications)}};
    inv["properties"] = {{"complete", end.complete}};
    return inv;
  }

  std::ostream& out_;
  std::string cwd_;
  std::vector<Root> roots_;
  json rules_ = json::array();
  json artifacts_ = json::array();
  std::map<std::string, std::size_t> rule_by_key_;
  std::map<std::pair<int, std::string>, int> artifact_by_key_;
  std::set<std::string> ids_;
};

}  // namespace

std::unique_ptr<ReportSink> make_sarif_sink(std::ostream& out, std::string cwd) {
  return std::make_unique<SarifSink>(out, std::move(cwd));
}

}  // namespace iocsweep
