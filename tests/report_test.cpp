#include "iocsweep/report.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "iocsweep/version.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;

struct Fixture {
  RuleInfo rule{"Evil_Rule",
                "builtin:x.yar",
                {"apt"},
                {{"score", std::int64_t{90}},
                 {"author", std::string("a")},
                 {"ref", std::string("r1")},
                 {"ref", std::string("r2")}},
                90};
  HashIoc ioc{DigestKind::kSha256, std::string(64, 'a'), 100, "known bad", "iocs.txt", 7, std::nullopt};
  ScanInfo info{"host",
                "2026-01-01T00:00:00.000Z",
                {"/root"},
                {{"builtin:x.yar", std::string(64, 'b'), 1}},
                {{"iocs.txt", std::string(64, 'c'), 1, 0, 0, 1}},
                {}};
};

std::string render(ReportSink& sink, const Fixture& f) {
  sink.begin(f.info);
  Finding finding;
  finding.path = "/root/z\xFFname";
  finding.size = 3;
  Hasher hasher;
  finding.digests = hasher.digest(ByteView(reinterpret_cast<const std::uint8_t*>("abc"), 3));
  finding.matches = {YaraMatchRecord{&f.rule}, HashMatchRecord{&f.ioc}};
  finding.score = combine_scores(finding.matches);
  sink.finding(finding);
  Finding second = finding;
  second.path = "/root/a\nforged line";
  sink.finding(second);
  sink.error({"/root/err", "Permission denied"});
  sink.skipped({"/root/big", "too_large", ""});
  sink.skipped({"/proc", "filesystem", "proc"});
  sink.atime_not_preserved("/root/other-owner");
  ScanEnd end;
  end.finished_at = "2026-01-01T00:00:01.000Z";
  end.stats.files_scanned = 5;
  end.stats.findings = 2;
  EXPECT_TRUE(sink.end(end));
  return "";
}

TEST(Scores, CombineAndSeverity) {
  Fixture f;
  EXPECT_EQ(combine_scores({}), 0);
  EXPECT_EQ(combine_scores({YaraMatchRecord{&f.rule}}), 90);
  EXPECT_EQ(combine_scores({YaraMatchRecord{&f.rule}, HashMatchRecord{&f.ioc}}), 100);
  RuleInfo weak = f.rule;
  weak.score = 40;
  EXPECT_EQ(combine_scores({YaraMatchRecord{&weak}, YaraMatchRecord{&weak}, YaraMatchRecord{&weak}}), 50);
  EXPECT_EQ(severity_for(100), "alert");
  EXPECT_EQ(severity_for(80), "alert");
  EXPECT_EQ(severity_for(79), "warning");
  EXPECT_EQ(severity_for(60), "warning");
  EXPECT_EQ(severity_for(40), "notice");
  EXPECT_EQ(severity_for(39), "info");
}

TEST(JsonSink, DocumentShape) {
  Fixture f;
  std::ostringstream out;
  auto sink = make_json_sink(out);
  render(*sink, f);
  const json doc = json::parse(out.str());  // throws on invalid JSON or UTF-8
  EXPECT_EQ(doc["schema_version"], kReportSchemaVersion);
  EXPECT_EQ(doc["tool"]["name"], "iocsweep");
  EXPECT_EQ(doc["tool"]["version"], std::string(version()));
  EXPECT_EQ(doc["scan"]["roots"][0], "/root");
  EXPECT_EQ(doc["scan"]["complete"], true);
  EXPECT_EQ(doc["scan"]["rulesets"][0]["rules"], 1);
  EXPECT_EQ(doc["scan"]["ioc_sets"][0]["counts"]["sha256"], 1);
  EXPECT_EQ(doc["stats"]["files_scanned"], 5);
  ASSERT_EQ(doc["findings"].size(), 2u);
  // Sorted by path bytes: "/root/a\n..." before "/root/z\xFF...".
  EXPECT_EQ(doc["findings"][0]["path"], "/root/a\nforged line");
  EXPECT_FALSE(doc["findings"][0].contains("path_hex"));
  const json& f1 = doc["findings"][1];
  EXPECT_EQ(f1["path"], "/root/z\xEF\xBF\xBDname");
  EXPECT_EQ(f1["path_hex"], "2f726f6f742f7aff6e616d65");
  EXPECT_EQ(f1["score"], 100);
  EXPECT_EQ(f1["severity"], "alert");
  EXPECT_EQ(f1["size"], 3);
  EXPECT_EQ(f1["sha256"], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(f1["md5"], "900150983cd24fb0d6963f7d28e17f72");
  const json& y = f1["matches"][0];
  EXPECT_EQ(y["type"], "yara");
  EXPECT_EQ(y["rule"], "Evil_Rule");
  EXPECT_EQ(y["namespace"], "builtin:x.yar");
  EXPECT_EQ(y["tags"], json::array({"apt"}));
  EXPECT_EQ(y["meta"]["score"], 90);
  EXPECT_EQ(y["meta"]["ref"], json::array({"r1", "r2"}));
  const json& h = f1["matches"][1];
  EXPECT_EQ(h["type"], "hash");
  EXPECT_EQ(h["algorithm"], "sha256");
  EXPECT_EQ(h["value"], std::string(64, 'a'));
  EXPECT_EQ(h["source"], "iocs.txt");
  EXPECT_EQ(h["line"], 7);
  EXPECT_EQ(h["description"], "known bad");
  EXPECT_EQ(doc["errors"][0]["error"], "Permission denied");
  ASSERT_EQ(doc["atime_not_preserved"].size(), 1u);
  EXPECT_EQ(doc["atime_not_preserved"][0]["path"], "/root/other-owner");
  ASSERT_EQ(doc["skipped"].size(), 2u);
  EXPECT_EQ(doc["skipped"][0]["path"], "/proc");  // sorted by path
  EXPECT_EQ(doc["skipped"][0]["reason"], "filesystem");
  EXPECT_EQ(doc["skipped"][0]["detail"], "proc");
  EXPECT_EQ(doc["skipped"][1]["reason"], "too_large");
  EXPECT_FALSE(doc["skipped"][1].contains("detail"));
}

TEST(JsonSink, InvalidUtf8InRuleMetaStillGivesValidJson) {
  Fixture f;
  f.rule.meta = {{"description", std::string("bad \xC0 byte")}};
  std::ostringstream out;
  auto sink = make_json_sink(out);
  render(*sink, f);
  EXPECT_TRUE(json::accept(out.str()));
}

TEST(TextSink, EscapesNamesSoTheyCannotForgeLines) {
  Fixture f;
  std::ostringstream out;
  auto sink = make_text_sink(out);
  render(*sink, f);
  const std::string text = out.str();
  EXPECT_NE(text.find("ALERT score=100 /root/a\\nforged line\n"), std::string::npos) << text;
  EXPECT_NE(text.find("/root/z\\xffname"), std::string::npos) << text;
  EXPECT_EQ(text.find("\nforged line"), std::string::npos) << text;
  EXPECT_NE(text.find("ERROR /root/err: Permission denied"), std::string::npos);
  EXPECT_NE(text.find("SKIPPED /root/big (too_large)"), std::string::npos);
  EXPECT_NE(text.find("SKIPPED /proc (filesystem: proc)"), std::string::npos);
  EXPECT_NE(text.find("Scan complete: 5 files"), std::string::npos) << text;
}

TEST(JsonSink, WriteFailureIsReported) {
  Fixture f;
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  auto sink = make_json_sink(out);
  sink->begin(f.info);
  EXPECT_FALSE(sink->end(ScanEnd{}));
}

}  // namespace
}  // namespace iocsweep
