// Reading reports back and the HTML page (src/report/report_reader.cpp,
// html_report.cpp), from documents made in memory: hostile names are text,
// never markup; merged reports round-trip; what is not a whole iocsweep
// report is refused with a message naming the file and the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string>

#include "report/html_report.hpp"
#include "report/report_reader.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;

// A minimal schema_version 1 report of `host` with no entries.
json report_of(const std::string& host) {
  return {{"schema_version", 1},
          {"tool", {{"name", "iocsweep"}, {"version", "0.1.0"}}},
          {"scan",
           {{"host", host},
            {"started_at", "2026-12-04T10:00:00.000Z"},
            {"finished_at", "2026-12-04T10:01:00.000Z"},
            {"roots", {"/srv"}},
            {"complete", true},
            {"rulesets", json::array()},
            {"ioc_sets", json::array()},
            {"allow_sets", json::array()},
            {"load_warnings", json::array()}}},
          {"stats",
           {{"files_scanned", 10},
            {"bytes_scanned", 1000},
            {"files_skipped", 0},
            {"skipped_unscanned", 0},
            {"errors", 0},
            {"findings", 0}}},
          {"findings", json::array()},
          {"errors", json::array()},
          {"skipped", json::array()},
          {"atime_not_preserved", json::array()}};
}

json yara_finding(const std::string& path, const std::string& rule, int score = 90) {
  return {{"path", path},
          {"size", 1234},
          {"sha256", std::string(64, 'a')},
          {"score", score},
          {"severity", score >= 80 ? "alert" : "warning"},
          {"matches",
           {{{"type", "yara"},
             {"rule", rule},
             {"namespace", "builtin:x.yar"},
             {"tags", json::array()},
             {"meta", {{"description", "synthesised"}}},
             {"score", score}}}}};
}

std::vector<HostReport> parse_ok(const json& doc, const std::string& name = "r.json") {
  auto r = parse_reports(doc.dump(), name);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? std::move(*r) : std::vector<HostReport>{};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Markup a hostile name could smuggle into the page if it were not escaped.
void expect_no_injected_markup(const std::string& page) {
  const std::string l = lower(page);
  EXPECT_EQ(l.find("<script"), std::string::npos);
  EXPECT_EQ(l.find("<img"), std::string::npos);
  EXPECT_EQ(l.find("<iframe"), std::string::npos);
  // An attribute value a quote could have closed early.
  EXPECT_EQ(l.find("\"><img"), std::string::npos);
}

TEST(HtmlEscape, EscapesTheFiveCharactersAndShowsControls) {
  EXPECT_EQ(html_escape("<a href=\"x\" title='y'>&</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
  EXPECT_EQ(html_text("a\nb\x1b[31m"), "a\\x0ab\\x1b[31m");
  // U+202E (right-to-left override) would show a name reversed.
  EXPECT_EQ(html_text("x\xe2\x80\xae"
                      "exe.txt"),
            "x\\xe2\\x80\\xaeexe.txt");
}

TEST(HtmlReport, HostileNamesEverywhereAreTextNotMarkup) {
  const std::string img = "\"><img src=x onerror=alert(1)>";
  const std::string script = "<script>alert(1)</script>";
  json doc = report_of(script + ".example");
  json f = yara_finding("/srv/" + img + ".txt", "Rule_" + script);
  f["member"] = {"outer.zip", img + "/inner" + script + ".exe"};
  f["matches"][0]["meta"]["description"] = script;
  f["matches"][0]["tags"] = {img};
  f["disk_image"] = {{"path", "/case/" + img + ".img"}, {"partition", 2}, {"offset", 1048576}, {"filesystem", script},
                     {"path_in_filesystem", "/" + img}, {"inode", 64}};
  f["deleted"] = true;
  f["stream"] = script;
  doc["findings"].push_back(f);
  doc["errors"].push_back({{"path", "/srv/" + script}, {"error", img}});
  doc["skipped"].push_back({{"path", "/srv/" + img}, {"reason", script}, {"detail", img}});
  doc["scan"]["roots"] = {"/srv/" + img};
  doc["scan"]["load_warnings"] = {script};
  const std::string page = render_html_report(parse_ok(doc, "/tmp/" + img + ".json"));
  expect_no_injected_markup(page);
  EXPECT_NE(page.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("&quot;&gt;&lt;img"), std::string::npos);
}

TEST(HtmlReport, HasAPolicyThatForbidsScriptAndEveryFetch) {
  const std::string page = render_html_report(parse_ok(report_of("host1")));
  const auto csp = page.find("Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'");
  ASSERT_NE(csp, std::string::npos);
  // Before the title, the first text a report supplies.
  EXPECT_LT(csp, page.find("<title>"));
  // Nothing that would fetch or run anything.
  for (const char* bad : {"<script", "<link", "src=", "http://", "https://", "@import", "url("}) {
    EXPECT_EQ(lower(page).find(bad), std::string::npos) << bad;
  }
}

TEST(HtmlReport, NamesNotUtf8ShowTheirExactBytes) {
  json doc = report_of("h");
  json f = yara_finding("/srv/bad\xef\xbf\xbd.exe", "R");
  f["path_hex"] = "2f7372762f626164ff2e657865";
  doc["findings"].push_back(f);
  doc["scan"]["roots"] = {"/srv", "/srv/bad\xef\xbf\xbd"};
  doc["scan"]["roots_hex"] = {"2f737276", "2f7372762f626164ff"};
  const std::string page = render_html_report(parse_ok(doc));
  EXPECT_NE(page.find("exact bytes (hex): 2f7372762f626164ff2e657865"), std::string::npos);
  EXPECT_NE(page.find("exact bytes (hex): 2f7372762f626164ff<"), std::string::npos);
  // A root that is UTF-8 needs no hex line.
  EXPECT_EQ(page.find("exact bytes (hex): 2f737276<"), std::string::npos);
}

TEST(HtmlReport, GroupsFindingsBySeverityRuleAndHostWithStatus) {
  json a = report_of("alpha");
  a["findings"].push_back(yara_finding("/srv/one.exe", "Rule_Shared", 90));
  a["findings"].push_back(yara_finding("/srv/two.dll", "Rule_Only_A", 65));
  json b = report_of("bravo");
  b["findings"].push_back(yara_finding("/opt/three.exe", "Rule_Shared", 90));
  b["errors"].push_back({{"path", "/opt/locked"}, {"error", "Permission denied"}});
  json c = report_of("charlie");
  std::vector<HostReport> all = parse_ok(a, "a.json");
  for (const json& d : {b, c}) all.push_back(parse_ok(d, "x.json").at(0));
  EXPECT_EQ(host_status(all[0]), HostStatus::kFindings);
  EXPECT_EQ(host_status(all[1]), HostStatus::kIncomplete);
  EXPECT_EQ(host_status(all[2]), HostStatus::kClean);
  const std::string page = render_html_report(all);
  for (const char* text : {"alpha", "bravo", "charlie", "/srv/one.exe", "/srv/two.dll", "/opt/three.exe", "Rule_Shared",
                           "Rule_Only_A", "Permission denied", "st-incomplete", "st-clean", "st-findings",
                           "Findings by severity", "Findings by rule", "Findings by host"}) {
    EXPECT_NE(page.find(text), std::string::npos) << text;
  }
  // Rule_Shared: one row, two files on two hosts.
  EXPECT_NE(
      page.find("<code>Rule_Shared</code></td><td>yara</td><td>builtin:x.yar</td><td>90</td><td>2</td><td>2</td>"),
      std::string::npos);
  // Deterministic: the same reports give the same bytes.
  EXPECT_EQ(page, render_html_report(all));
}

TEST(MergedReport, TwoHostsRoundTrip) {
  json a = report_of("alpha");
  a["findings"].push_back(yara_finding("/srv/one.exe", "R1"));
  std::vector<HostReport> all = parse_ok(a, "a.json");
  all.push_back(parse_ok(report_of("bravo"), "b.json").at(0));
  const json merged = merged_report(all);
  EXPECT_EQ(merged["iocsweep_merged_report"], 1);
  ASSERT_EQ(merged["reports"].size(), 2u);
  EXPECT_EQ(merged["reports"][0]["source"], "a.json");
  EXPECT_EQ(merged["reports"][1]["report"]["scan"]["host"], "bravo");
  auto back = parse_reports(merged.dump(), "merged.json");
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].source, "a.json");
  EXPECT_EQ((*back)[0].document, a);
  // A merge of merged reports flattens.
  std::vector<HostReport> twice = *back;
  twice.insert(twice.end(), back->begin(), back->end());
  EXPECT_EQ(merged_report(twice)["reports"].size(), 4u);
}

TEST(ReportReader, NdjsonStreamBecomesADocumentAndACutShortOneFailed) {
  const json doc = report_of("nd");
  json started = {{"record", "scan_started"}, {"schema_version", 1}, {"tool", doc["tool"]}, {"scan", doc["scan"]}};
  started["scan"].erase("finished_at");
  started["scan"].erase("complete");
  json finding = yara_finding("/srv/x.exe", "R");
  finding["record"] = "finding";
  const json finished = {{"record", "scan_finished"}, {"scan", doc["scan"]}, {"stats", doc["stats"]}};
  const std::string head = started.dump() + "\n" + finding.dump() + "\n";
  auto whole = parse_reports(head + finished.dump() + "\n", "s.ndjson");
  ASSERT_TRUE(whole) << whole.error().message;
  ASSERT_EQ(whole->size(), 1u);
  EXPECT_FALSE((*whole)[0].cut_short);
  EXPECT_EQ((*whole)[0].document["findings"].size(), 1u);
  EXPECT_FALSE((*whole)[0].document["findings"][0].contains("record"));
  EXPECT_EQ(host_status((*whole)[0]), HostStatus::kFindings);
  // Killed mid-line: what came before is kept, the sweep failed.
  auto cut = parse_reports(head + "{\"record\":\"fin", "s.ndjson");
  ASSERT_TRUE(cut) << cut.error().message;
  EXPECT_TRUE((*cut)[0].cut_short);
  EXPECT_EQ(host_status((*cut)[0]), HostStatus::kFailed);
  EXPECT_EQ((*cut)[0].document["stats"]["findings"], 1);
  EXPECT_NE(render_html_report(*cut).find("st-failed"), std::string::npos);
  // A line that does not parse in the middle is an error, with its line.
  auto bad = parse_reports(started.dump() + "\n{oops\n" + finished.dump() + "\n", "s.ndjson");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("s.ndjson:2:"), std::string::npos) << bad.error().message;
}

TEST(ReportReader, RefusesWhatIsNotAWholeIocsweepReport) {
  struct Case {
    std::string text;
    std::string message;
  };
  json wrong_type = report_of("h");
  wrong_type["findings"].push_back(yara_finding("/x", "R"));
  wrong_type["findings"][0]["matches"][0]["rule"] = 42;
  json bad_severity = report_of("h");
  bad_severity["findings"].push_back(yara_finding("/x", "R"));
  bad_severity["findings"][0]["severity"] = "<b>";
  json bad_hex = report_of("h");
  bad_hex["findings"].push_back(yara_finding("/x", "R"));
  bad_hex["findings"][0]["path_hex"] = "\"><img";
  json no_host = report_of("h");
  no_host["scan"].erase("host");
  json newer = report_of("h");
  newer["schema_version"] = 2;
  json other_tool = report_of("h");
  other_tool["tool"]["name"] = "loki";
  const std::string whole = report_of("h").dump(2);
  const std::vector<Case> cases = {
      {"", "empty"},
      {whole.substr(0, whole.size() / 2), "truncated"},
      {"{\"version\": \"2.1.0\", \"runs\": []}", "not an iocsweep report"},
      {"[1, 2, 3]", "not an iocsweep report"},
      {other_tool.dump(), "not an iocsweep report"},
      {newer.dump(), "schema_version"},
      {no_host.dump(), "scan.host: missing"},
      {wrong_type.dump(), "findings[0].matches[0].rule: expected a string"},
      {bad_severity.dump(), "findings[0].severity: unknown value"},
      {bad_hex.dump(), "findings[0].path_hex: expected lower-case hex"},
      {std::string(100, '[') + std::string(100, ']'), "nested deeper"},
      {"{\"schema_version\": 1, \"tool\": {\"name\": \"iocsweep\", \"version\": \"1\xff\"}}", "not JSON"},
      {"{\"iocsweep_merged_report\": 1, \"reports\": [{\"source\": \"a\", \"cut_short\": false, \"report\": {}}]}",
       "reports[0].report"},
  };
  for (const Case& c : cases) {
    auto r = parse_reports(c.text, "in/report.json");
    ASSERT_FALSE(r) << c.text.substr(0, 80);
    EXPECT_EQ(r.error().message.rfind("in/report.json", 0), 0u) << r.error().message;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace iocsweep
