// Report-level tests of the SARIF sink and of baselines (parsing, matching,
// writing), on findings made here; no scan, no files.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "iocsweep/baseline.hpp"
#include "iocsweep/report.hpp"
#include "iocsweep/version.hpp"
#include "report/model.hpp"
#include "report_support.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;

const std::string kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kSarifSchema = std::string(IOCSWEEP_SOURCE_DIR) + "/tests/schemas/sarif-schema-2.1.0.json";

struct Fixture {
  RuleInfo rule{"Evil_Rule",
                "builtin:x.yar",
                {"apt"},
                {{"score", std::int64_t{90}}, {"description", "Evil thing"}, {"reference", "https://example.org/evil"}},
                90};
  RuleInfo weak{"Weak_Rule", "rules/weak.yar", {}, {{"reference", "a report, 2020"}}, 65};
  RuleInfo info_rule{"Info_Rule", "rules/weak.yar", {}, {}, 20};
  HashIoc ioc{DigestKind::kSha256, std::string(64, 'a'), 100, "known bad", "iocs.txt", 7, std::nullopt};
  FilenameIoc name_ioc{"\\\\evil\\.exe$", 45, "", "dropper name", "names.txt", 3};
  ScanInfo info{"host",
                "2026-01-01T00:00:00.000Z",
                {"/root"},
                {{"builtin:x.yar", std::string(64, 'b'), 1}},
                {{"iocs.txt", std::string(64, 'c'), 1, 0, 0, 1}},
                {},
                {}};

  Finding abc_finding(std::string path, std::vector<MatchRecord> matches) const {
    Finding f;
    f.path = std::move(path);
    f.size = 3;
    Hasher hasher;
    f.digests = hasher.digest(ByteView(reinterpret_cast<const std::uint8_t*>("abc"), 3));
    f.matches = std::move(matches);
    f.score = combine_scores(f.matches);
    return f;
  }
};

json render_sarif(const ScanInfo& info, std::vector<Finding> findings, std::vector<FileError> errors = {},
                  const std::string& cwd = "/cwd") {
  std::ostringstream out;
  auto sink = make_sarif_sink(out, cwd);
  sink->begin(info);
  for (Finding& f : findings) sink->finding(std::move(f));
  for (FileError& e : errors) sink->error(std::move(e));
  sink->skipped({"/root/big", "too_large", ""});
  ScanEnd end;
  end.finished_at = "2026-01-01T00:00:01.000Z";
  end.stats.findings = findings.size();
  EXPECT_TRUE(sink->end(end));
  return json::parse(out.str());  // throws on invalid JSON or UTF-8
}

const json& only_run(const json& doc) { return doc["runs"][0]; }

// ruleIndex must name the descriptor whose id is the ruleId.
void expect_rule_indexes_consistent(const json& run) {
  for (const json& r : run["results"]) {
    const std::size_t i = r["ruleIndex"];
    ASSERT_LT(i, run["tool"]["driver"]["rules"].size());
    EXPECT_EQ(run["tool"]["driver"]["rules"][i]["id"], r["ruleId"]);
  }
}

TEST(SarifSink, DocumentShapeRulesResultsAndArtifacts) {
  Fixture fx;
  const json doc =
      render_sarif(fx.info,
                   {fx.abc_finding("/root/z\xFFname", {YaraMatchRecord{&fx.rule}, HashMatchRecord{&fx.ioc}}),
                    fx.abc_finding("/root/a\nforged line", {YaraMatchRecord{&fx.rule}})},
                   {{"/root/err", "Permission denied"}});
  EXPECT_EQ(doc["version"], "2.1.0");
  ASSERT_EQ(doc["runs"].size(), 1u);
  const json& run = only_run(doc);
  const json& driver = run["tool"]["driver"];
  EXPECT_EQ(driver["name"], "iocsweep");
  EXPECT_EQ(driver["version"], std::string(version()));
  EXPECT_TRUE(driver["informationUri"].get<std::string>().starts_with("https://"));
  // Two descriptors: each rule or indicator that fired, once.
  ASSERT_EQ(driver["rules"].size(), 2u);
  const json& yara = driver["rules"][0];  // first fired: sorted findings, "/root/a\n..." first
  EXPECT_EQ(yara["id"], "Evil_Rule");
  EXPECT_EQ(yara["name"], "Evil_Rule");
  EXPECT_EQ(yara["shortDescription"]["text"], "Evil thing");
  EXPECT_NE(yara["fullDescription"]["text"].get<std::string>().find("builtin:x.yar"), std::string::npos);
  EXPECT_EQ(yara["helpUri"], "https://example.org/evil");
  EXPECT_EQ(yara["properties"]["score"], 90);
  EXPECT_EQ(yara["properties"]["severity"], "alert");
  EXPECT_EQ(yara["properties"]["security-severity"], "9.0");
  EXPECT_EQ(yara["properties"]["tags"], json::array({"security", "yara", "apt"}));
  const json& hash = driver["rules"][1];
  EXPECT_EQ(hash["id"], "hash:sha256:" + std::string(64, 'a'));
  EXPECT_EQ(hash["shortDescription"]["text"], "known bad");
  EXPECT_FALSE(hash.contains("helpUri"));
  EXPECT_EQ(hash["properties"]["source"], "iocs.txt");
  EXPECT_EQ(hash["properties"]["line"], 7);

  ASSERT_EQ(run["results"].size(), 3u);
  expect_rule_indexes_consistent(run);
  const json& first = run["results"][0];
  EXPECT_EQ(first["level"], "error");
  const json& where = first["locations"][0]["physicalLocation"]["artifactLocation"];
  EXPECT_EQ(where["uri"], "a%0Aforged%20line");
  EXPECT_EQ(where["uriBaseId"], "SCANROOT");
  // The name is in the message with its control character intact (JSON
  // escapes it), never as a raw line break that could forge text.
  EXPECT_NE(first["message"]["text"].get<std::string>().find("a\nforged line"), std::string::npos);
  const json& odd = run["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"];
  EXPECT_EQ(odd["uri"], "z%FFname");  // the exact byte, percent-encoded
  EXPECT_EQ(run["originalUriBaseIds"]["SCANROOT"]["uri"], "file:///root/");

  // One artifact per file, with its digests; results point at it.
  ASSERT_EQ(run["artifacts"].size(), 2u);
  const json& artifact = run["artifacts"][odd["index"].get<std::size_t>()];
  EXPECT_EQ(artifact["location"]["uri"], "z%FFname");
  EXPECT_EQ(artifact["hashes"]["sha-256"], kAbcSha256);
  EXPECT_EQ(artifact["hashes"]["md5"], "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(artifact["hashes"]["sha-1"], "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(artifact["length"], 3);
  // Same rule on the same content: the same fingerprint, whatever the path.
  EXPECT_EQ(run["results"][0]["fingerprints"], run["results"][1]["fingerprints"]);
  EXPECT_NE(run["results"][1]["fingerprints"], run["results"][2]["fingerprints"]);
  EXPECT_EQ(run["results"][2]["properties"]["sha256"], kAbcSha256);

  // Unreadable files are tool notifications; the run was not clean.
  const json& inv = run["invocations"][0];
  EXPECT_EQ(inv["executionSuccessful"], false);
  ASSERT_EQ(inv["toolExecutionNotifications"].size(), 1u);
  const json& note = inv["toolExecutionNotifications"][0];
  EXPECT_EQ(note["level"], "error");
  EXPECT_EQ(note["message"]["text"], "Permission denied");
  EXPECT_EQ(note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "err");
}

TEST(SarifSink, LevelsFollowTheMatchSeverity) {
  Fixture fx;
  const json doc = render_sarif(fx.info, {fx.abc_finding("/root/f", {YaraMatchRecord{&fx.weak}}),
                                          fx.abc_finding("/root/g", {FilenameMatchRecord{&fx.name_ioc}}),
                                          fx.abc_finding("/root/h", {YaraMatchRecord{&fx.info_rule}})});
  const json& run = only_run(doc);
  ASSERT_EQ(run["results"].size(), 3u);
  EXPECT_EQ(run["results"][0]["level"], "warning");  // 65
  EXPECT_EQ(run["results"][1]["level"], "note");     // 45: notice
  EXPECT_EQ(run["results"][2]["level"], "note");     // 20: info
  expect_rule_indexes_consistent(run);
  // A reference that is not a URL is kept as a property, not a helpUri.
  const json& weak = run["tool"]["driver"]["rules"][0];
  EXPECT_FALSE(weak.contains("helpUri"));
  EXPECT_EQ(weak["properties"]["reference"], "a report, 2020");
  EXPECT_EQ(weak["shortDescription"]["text"], "YARA rule Weak_Rule");
  const json& path_rule = run["tool"]["driver"]["rules"][1];
  EXPECT_TRUE(path_rule["id"].get<std::string>().starts_with("filename:"));
  EXPECT_EQ(path_rule["shortDescription"]["text"], "dropper name");
  EXPECT_EQ(run["invocations"][0]["executionSuccessful"], true);
}

TEST(SarifSink, ArchiveMembersAreLogicalLocations) {
  Fixture fx;
  Finding f = fx.abc_finding("/root/pkg.zip", {YaraMatchRecord{&fx.rule}});
  f.member = {"inner.tar", "dir/evil\xFF.exe"};
  const json doc = render_sarif(fx.info, {f});
  const json& run = only_run(doc);
  ASSERT_EQ(run["results"].size(), 1u);
  const json& loc = run["results"][0]["locations"][0];
  EXPECT_EQ(loc["physicalLocation"]["artifactLocation"]["uri"], "pkg.zip");
  ASSERT_EQ(loc["logicalLocations"].size(), 1u);
  EXPECT_EQ(loc["logicalLocations"][0]["fullyQualifiedName"], "inner.tar!/dir/evil\xEF\xBF\xBD.exe");
  EXPECT_EQ(loc["logicalLocations"][0]["name"], "dir/evil\xEF\xBF\xBD.exe");
  EXPECT_EQ(loc["logicalLocations"][0]["kind"], "archiveMember");
  // The archive, the member inside it and the member inside that: the
  // digests belong to the innermost one.
  ASSERT_EQ(run["artifacts"].size(), 3u);
  EXPECT_FALSE(run["artifacts"][0].contains("hashes"));
  EXPECT_EQ(run["artifacts"][1]["parentIndex"], 0);
  EXPECT_EQ(run["artifacts"][1]["location"]["uri"], "inner.tar");
  EXPECT_EQ(run["artifacts"][2]["parentIndex"], 1);
  EXPECT_EQ(run["artifacts"][2]["location"]["uri"], "dir/evil%FF.exe");
  EXPECT_EQ(run["artifacts"][2]["hashes"]["sha-256"], kAbcSha256);
  // The member is part of the fingerprint: the same bytes as a plain file
  // are another alert.
  const json plain = render_sarif(fx.info, {fx.abc_finding("/root/pkg.zip", {YaraMatchRecord{&fx.rule}})});
  EXPECT_NE(only_run(plain)["results"][0]["fingerprints"], run["results"][0]["fingerprints"]);
  EXPECT_FALSE(only_run(plain)["results"][0]["locations"][0].contains("logicalLocations"));
}

TEST(SarifSink, ArtifactsAreListedOnceAndMemberLogsValidate) {
  Fixture fx;
  Finding a = fx.abc_finding("/root/pkg.zip", {YaraMatchRecord{&fx.rule}});
  a.member = {"a.exe"};
  Finding b = fx.abc_finding("/root/pkg.zip", {HashMatchRecord{&fx.ioc}});
  b.member = {"b.exe"};
  Finding whole = fx.abc_finding("/root/pkg.zip", {FilenameMatchRecord{&fx.name_ioc}});
  std::ostringstream out;
  auto sink = make_sarif_sink(out, "/cwd");
  sink->begin(fx.info);
  for (Finding* f : {&a, &b, &whole}) sink->finding(*f);
  ASSERT_TRUE(sink->end(ScanEnd{}));
  const json doc = json::parse(out.str());
  const json& run = only_run(doc);
  // The archive once (with its own digests, from its own finding), each member once.
  ASSERT_EQ(run["artifacts"].size(), 3u) << run["artifacts"].dump(2);
  EXPECT_EQ(run["artifacts"][0]["location"]["uri"], "pkg.zip");
  EXPECT_EQ(run["artifacts"][0]["hashes"]["sha-256"], kAbcSha256);
  EXPECT_EQ(run["artifacts"][1]["parentIndex"], 0);
  EXPECT_EQ(run["artifacts"][2]["parentIndex"], 0);
  for (const json& r : run["results"]) {
    EXPECT_EQ(r["locations"][0]["physicalLocation"]["artifactLocation"]["index"], 0);
  }
  // The binary cannot produce member findings yet (another branch adds
  // archives): validate this log against the vendored OASIS schema here.
  const test::RunResult r = test::validate_json_schema(kSarifSchema, out.str(), true);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// A disk image named as a scan root, two files in it (one live, one
// deleted at the same path, same content), a stream, an archive member in
// the image, and an unreadable directory in it.
TEST(SarifSink, DiskImageFilesAreNestedArtifactsWithLogicalLocations) {
  Fixture fx;
  ScanInfo info = fx.info;
  info.roots = {"/cases/disk.E01"};
  const std::string inside = "/cases/disk.E01#p2/Windows/System32/lcsvsvc.dll";
  Finding live = fx.abc_finding(inside, {YaraMatchRecord{&fx.rule}});
  live.disk = test::disk_location("/Windows/System32/lcsvsvc.dll", 64);
  live.disk->image = "/cases/disk.E01";
  Finding deleted = live;
  deleted.disk->deleted = true;
  deleted.disk->inode = 70;
  Finding ads = fx.abc_finding("/cases/disk.E01#p2/Users/x/report.doc:evil.exe", {YaraMatchRecord{&fx.rule}});
  ads.disk = test::disk_location("/Users/x/report.doc", 71, false, "evil.exe");
  ads.disk->image = "/cases/disk.E01";
  Finding member = fx.abc_finding("/cases/disk.E01#p2/tmp/pkg.zip", {HashMatchRecord{&fx.ioc}});
  member.disk = test::disk_location("/tmp/pkg.zip", 80);
  member.disk->image = "/cases/disk.E01";
  member.member = {"dir/evil.exe"};
  FileError broken{"/cases/disk.E01#p2/Windows/Temp", "cannot read directory",
                   test::disk_location("/Windows/Temp", 90)};
  broken.disk->image = "/cases/disk.E01";
  std::ostringstream out;
  auto sink = make_sarif_sink(out, "/cwd");
  sink->begin(info);
  for (const Finding* f : {&deleted, &live, &ads, &member}) sink->finding(*f);
  sink->error(broken);
  ASSERT_TRUE(sink->end(ScanEnd{}));
  const json doc = json::parse(out.str());
  const json& run = only_run(doc);
  // The image is the analysis target, based at its directory; each file
  // in it a nested artifact (a deleted one apart from the live one).
  EXPECT_EQ(run["originalUriBaseIds"]["SCANROOT"]["uri"], "file:///cases/");
  const json& artifacts = run["artifacts"];
  ASSERT_EQ(artifacts.size(), 6u) << artifacts.dump(2);
  EXPECT_EQ(artifacts[0]["location"], json({{"uri", "disk.E01"}, {"uriBaseId", "SCANROOT"}}));
  EXPECT_EQ(artifacts[0]["roles"], json::array({"analysisTarget"}));
  std::map<std::string, const json*> by_uri;
  for (const json& a : artifacts) {
    if (!a.contains("parentIndex")) continue;
    const bool is_deleted = a.contains("properties") && a["properties"].value("deleted", false);
    by_uri[a["location"]["uri"].get<std::string>() + (is_deleted ? " deleted" : "")] = &a;
  }
  ASSERT_TRUE(by_uri.count("p2/Windows/System32/lcsvsvc.dll")) << artifacts.dump(2);
  ASSERT_TRUE(by_uri.count("p2/Windows/System32/lcsvsvc.dll deleted"));
  ASSERT_TRUE(by_uri.count("p2/Users/x/report.doc%3Aevil.exe"));
  ASSERT_TRUE(by_uri.count("p2/tmp/pkg.zip"));
  ASSERT_TRUE(by_uri.count("dir/evil.exe"));
  const json& live_artifact = *by_uri["p2/Windows/System32/lcsvsvc.dll"];
  EXPECT_EQ(live_artifact["parentIndex"], 0);
  EXPECT_EQ(live_artifact["hashes"]["sha-256"], kAbcSha256);
  const json ntfs = {
      {"path", "/cases/disk.E01"}, {"partition", 2}, {"offset", 1048576},
      {"filesystem", "ntfs"},      {"inode", 64},    {"path_in_filesystem", "/Windows/System32/lcsvsvc.dll"}};
  EXPECT_EQ(live_artifact["properties"], json({{"disk_image", ntfs}, {"deleted", false}}));
  EXPECT_EQ((*by_uri["p2/Users/x/report.doc%3Aevil.exe"])["properties"]["stream"], "evil.exe");
  // The member nests in the file of the image that holds it.
  const json& zip = *by_uri["p2/tmp/pkg.zip"];
  EXPECT_EQ(zip["parentIndex"], 0);
  EXPECT_FALSE(zip.contains("hashes"));
  EXPECT_EQ(&artifacts[(*by_uri["dir/evil.exe"])["parentIndex"].get<std::size_t>()], &zip);

  ASSERT_EQ(run["results"].size(), 4u);
  expect_rule_indexes_consistent(run);
  std::map<std::string, const json*> result_by_name;
  for (const json& r : run["results"]) {
    const json& loc = r["locations"][0];
    EXPECT_EQ(loc["physicalLocation"]["artifactLocation"],
              json({{"uri", "disk.E01"}, {"uriBaseId", "SCANROOT"}, {"index", 0}}));
    ASSERT_GE(loc["logicalLocations"].size(), 1u);
    const json& file = loc["logicalLocations"][0];
    EXPECT_EQ(file["kind"], "diskImageFile");
    result_by_name[file["fullyQualifiedName"].get<std::string>() + (r["properties"]["deleted"] ? " deleted" : "")] = &r;
  }
  const json& live_result = *result_by_name.at("p2/Windows/System32/lcsvsvc.dll");
  const json& deleted_result = *result_by_name.at("p2/Windows/System32/lcsvsvc.dll deleted");
  EXPECT_EQ(live_result["locations"][0]["logicalLocations"][0]["name"], "lcsvsvc.dll");
  EXPECT_EQ(live_result["properties"]["disk_image"], ntfs);
  EXPECT_EQ(live_result["properties"]["deleted"], false);
  EXPECT_NE(
      deleted_result["message"]["text"].get<std::string>().find("disk.E01#p2/Windows/System32/lcsvsvc.dll (deleted)"),
      std::string::npos)
      << deleted_result["message"];
  const json& ads_result = *result_by_name.at("p2/Users/x/report.doc:evil.exe");
  EXPECT_EQ(ads_result["locations"][0]["logicalLocations"][0]["name"], "report.doc:evil.exe");
  EXPECT_EQ(ads_result["properties"]["stream"], "evil.exe");
  // Disk file first, then the member chain.
  const json& member_locations = (*result_by_name.at("p2/tmp/pkg.zip"))["locations"][0]["logicalLocations"];
  ASSERT_EQ(member_locations.size(), 2u);
  EXPECT_EQ(member_locations[1]["kind"], "archiveMember");
  EXPECT_EQ(member_locations[1]["fullyQualifiedName"], "dir/evil.exe");
  // Same rule, same bytes: live in the image or as a plain file, one alert;
  // deleted or in a stream, another.
  const json plain = render_sarif(fx.info, {fx.abc_finding("/root/lcsvsvc.dll", {YaraMatchRecord{&fx.rule}})});
  EXPECT_EQ(live_result["fingerprints"], only_run(plain)["results"][0]["fingerprints"]);
  EXPECT_NE(live_result["fingerprints"], deleted_result["fingerprints"]);
  EXPECT_NE(live_result["fingerprints"], ads_result["fingerprints"]);
  EXPECT_NE(deleted_result["fingerprints"], ads_result["fingerprints"]);
  // The unreadable directory: a notification at the image, with its place inside.
  const json& note = run["invocations"][0]["toolExecutionNotifications"][0];
  EXPECT_EQ(note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "disk.E01");
  EXPECT_EQ(note["locations"][0]["logicalLocations"][0]["fullyQualifiedName"], "p2/Windows/Temp");
  const test::RunResult r = test::validate_json_schema(kSarifSchema, out.str(), true);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// An --image FILE need not be a scan root: each image no root holds gets a
// base of its own, so its URIs are relative as well.
TEST(SarifSink, DiskImagesOutsideTheRootsGetBasesOfTheirOwn) {
  Fixture fx;
  Finding in_image = fx.abc_finding("/cases/disk.E01#p2/x.dll", {YaraMatchRecord{&fx.rule}});
  in_image.disk = test::disk_location("/x.dll", 64);
  in_image.disk->image = "/cases/disk.E01";
  FileError broken{"rel/b.img#/DIR", "cannot read directory", test::disk_location("/DIR", 9, false, "", -1)};
  broken.disk->image = "rel/b.img";
  const json doc = render_sarif(fx.info, {in_image, fx.abc_finding("/root/plain", {YaraMatchRecord{&fx.rule}})},
                                {broken}, "/home/u");
  const json& run = only_run(doc);
  const json& bases = run["originalUriBaseIds"];
  EXPECT_EQ(bases["SCANROOT"]["uri"], "file:///root/");
  EXPECT_EQ(bases["DISKIMAGE1"]["uri"], "file:///cases/");
  EXPECT_EQ(bases["DISKIMAGE1"]["description"]["text"], "disk image as given: /cases/disk.E01");
  EXPECT_EQ(bases["DISKIMAGE2"]["uri"], "file:///home/u/rel/");
  std::map<std::string, std::string> got;
  for (const json& r : run["results"]) {
    const json& a = r["locations"][0]["physicalLocation"]["artifactLocation"];
    got[a["uri"]] = a["uriBaseId"];
  }
  EXPECT_EQ(got["disk.E01"], "DISKIMAGE1");
  EXPECT_EQ(got["plain"], "SCANROOT");
  const json& where =
      run["invocations"][0]["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
  EXPECT_EQ(where, json({{"uri", "b.img"}, {"uriBaseId", "DISKIMAGE2"}}));
}

TEST(SarifSink, UrisAreRelativeToTheirRoot) {
  Fixture fx;
  ScanInfo info = fx.info;
  info.roots = {".", "/abs/dir/", "/abs/dir/nested", "rel/file.exe", "plain"};
  const json doc = render_sarif(info,
                                {fx.abc_finding("./a b/x", {YaraMatchRecord{&fx.rule}}),
                                 fx.abc_finding("/abs/dir/y", {YaraMatchRecord{&fx.rule}}),
                                 fx.abc_finding("/abs/dir/nested/z", {YaraMatchRecord{&fx.rule}}),
                                 fx.abc_finding("rel/file.exe", {YaraMatchRecord{&fx.rule}}),
                                 fx.abc_finding("plain", {YaraMatchRecord{&fx.rule}})},
                                {}, "/home/u");
  const json& run = only_run(doc);
  const json& bases = run["originalUriBaseIds"];
  EXPECT_EQ(bases["SCANROOT1"]["uri"], "file:///home/u/");
  EXPECT_EQ(bases["SCANROOT2"]["uri"], "file:///abs/dir/");
  EXPECT_EQ(bases["SCANROOT3"]["uri"], "file:///abs/dir/nested/");
  EXPECT_EQ(bases["SCANROOT4"]["uri"], "file:///home/u/rel/");  // a file root: its directory
  EXPECT_EQ(bases["SCANROOT5"]["uri"], "file:///home/u/");
  std::map<std::string, std::string> got;
  for (const json& r : run["results"]) {
    const json& a = r["locations"][0]["physicalLocation"]["artifactLocation"];
    got[a["uri"]] = a["uriBaseId"];
  }
  EXPECT_EQ(got["a%20b/x"], "SCANROOT1");
  EXPECT_EQ(got["y"], "SCANROOT2");
  EXPECT_EQ(got["z"], "SCANROOT3");  // the innermost root wins
  EXPECT_EQ(got["file.exe"], "SCANROOT4");
  EXPECT_EQ(got["plain"], "SCANROOT5");
}

TEST(SarifSink, SameRuleNameInTwoRuleSetsGetsTwoIds) {
  Fixture fx;
  RuleInfo other = fx.rule;
  other.ns = "rules/other.yar";
  const json doc = render_sarif(fx.info, {fx.abc_finding("/root/a", {YaraMatchRecord{&fx.rule}}),
                                          fx.abc_finding("/root/b", {YaraMatchRecord{&other}}),
                                          fx.abc_finding("/root/c", {YaraMatchRecord{&fx.rule}})});
  const json& run = only_run(doc);
  ASSERT_EQ(run["tool"]["driver"]["rules"].size(), 2u);
  EXPECT_EQ(run["tool"]["driver"]["rules"][0]["id"], "Evil_Rule");
  EXPECT_EQ(run["tool"]["driver"]["rules"][1]["id"], "Evil_Rule@rules/other.yar");
  expect_rule_indexes_consistent(run);
  EXPECT_EQ(run["results"][2]["ruleIndex"], 0);
}

TEST(SarifSink, InvalidUtf8InRuleMetaStillGivesValidJson) {
  Fixture fx;
  fx.rule.meta = {{"description", "bad \xC0 byte"}, {"reference", "https://x/\xC0"}};
  std::ostringstream out;
  auto sink = make_sarif_sink(out, "/");
  sink->begin(fx.info);
  sink->finding(fx.abc_finding("/root/f", {YaraMatchRecord{&fx.rule}}));
  EXPECT_TRUE(sink->end(ScanEnd{}));
  EXPECT_TRUE(json::accept(out.str()));
}

TEST(SarifSink, WriteFailureIsReported) {
  Fixture fx;
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  auto sink = make_sarif_sink(out, "/");
  sink->begin(fx.info);
  EXPECT_FALSE(sink->end(ScanEnd{}));
}

// --- baselines -------------------------------------------------------------

Baseline parse_ok(const std::string& text) {
  auto b = Baseline::parse(text, "base.json");
  EXPECT_TRUE(b) << (b ? "" : b.error().message);
  return b ? std::move(*b) : Baseline{};
}

std::string parse_error(const std::string& text) {
  auto b = Baseline::parse(text, "base.json");
  EXPECT_FALSE(b);
  return b ? "" : b.error().message;
}

TEST(Baseline, IdentitiesAreStable) {
  Fixture fx;
  EXPECT_EQ(match_identity(YaraMatchRecord{&fx.rule}), "Evil_Rule");
  EXPECT_EQ(match_identity(HashMatchRecord{&fx.ioc}), "hash:sha256:" + std::string(64, 'a'));
  const std::string id = match_identity(FilenameMatchRecord{&fx.name_ioc});
  EXPECT_EQ(id, filename_identity(fx.name_ioc.pattern, ""));
  EXPECT_EQ(id.size(), std::string("filename:").size() + 16);
  EXPECT_NE(id, filename_identity(fx.name_ioc.pattern, "x"));
}

TEST(Baseline, AcceptedMatchesAreDroppedByContentNotPath) {
  Fixture fx;
  const Baseline b = parse_ok(R"({"iocsweep_baseline": 1, "accepted": [
      {"match": "Evil_Rule", "sha256": ")" +
                              kAbcSha256 + R"(", "path": "/old/place"}]})");
  EXPECT_EQ(b.size(), 1u);
  // Moved: same content, other path -> still accepted.
  Finding moved = fx.abc_finding("/elsewhere/new-name", {YaraMatchRecord{&fx.rule}});
  EXPECT_EQ(b.suppress(moved), 1u);
  EXPECT_TRUE(moved.matches.empty());
  // A new rule match on the same content is not accepted; the old one is.
  Finding both = fx.abc_finding("/x", {YaraMatchRecord{&fx.rule}, YaraMatchRecord{&fx.weak}});
  EXPECT_EQ(b.suppress(both), 1u);
  ASSERT_EQ(both.matches.size(), 1u);
  EXPECT_EQ(std::get<YaraMatchRecord>(both.matches[0]).rule, &fx.weak);
  // Changed content: reported.
  Finding changed = fx.abc_finding("/old/place", {YaraMatchRecord{&fx.rule}});
  changed.digests.sha256[0] ^= 1;
  EXPECT_EQ(b.suppress(changed), 0u);
  EXPECT_EQ(changed.matches.size(), 1u);
}

TEST(Baseline, FilesWithoutDigestAreMatchedByPath) {
  Fixture fx;
  const std::string id = match_identity(FilenameMatchRecord{&fx.name_ioc});
  const Baseline b = parse_ok(R"({"iocsweep_baseline": 1, "accepted": [{"match": ")" + id +
                              R"(", "path_hex": "2f6269672f65766996ff2e657865"}]})");
  Finding f;
  f.path = "/big/evi\x96\xFF.exe";
  f.matches = {FilenameMatchRecord{&fx.name_ioc}};
  EXPECT_EQ(b.suppress(f), 1u);
  Finding elsewhere;
  elsewhere.path = "/other/evil.exe";
  elsewhere.matches = {FilenameMatchRecord{&fx.name_ioc}};
  EXPECT_EQ(b.suppress(elsewhere), 0u);
}

TEST(Baseline, AJsonReportIsABaseline) {
  Fixture fx;
  // What the JSON sink writes is what the baseline reads.
  std::ostringstream out;
  auto sink = make_json_sink(out);
  sink->begin(fx.info);
  sink->finding(fx.abc_finding("/root/z\xFFname", {YaraMatchRecord{&fx.rule}, HashMatchRecord{&fx.ioc}}));
  Finding unread;
  unread.path = "/root/big/evil.exe";
  unread.matches = {FilenameMatchRecord{&fx.name_ioc}};
  unread.score = 45;
  sink->finding(unread);
  ASSERT_TRUE(sink->end(ScanEnd{}));
  const Baseline b = parse_ok(out.str());
  EXPECT_EQ(b.size(), 3u);
  Finding again = fx.abc_finding("/moved", {HashMatchRecord{&fx.ioc}, YaraMatchRecord{&fx.rule}});
  EXPECT_EQ(b.suppress(again), 2u);
  Finding unread_again = unread;
  EXPECT_EQ(b.suppress(unread_again), 1u);
}

TEST(Baseline, WriterOutputRoundTrips) {
  Fixture fx;
  BaselineWriter writer;
  writer.add(fx.abc_finding("/a", {YaraMatchRecord{&fx.rule}, HashMatchRecord{&fx.ioc}}));
  writer.add(fx.abc_finding("/copy-of-a", {YaraMatchRecord{&fx.rule}}));  // same content: one entry
  Finding unread;
  unread.path = "/n\xFF";
  unread.matches = {FilenameMatchRecord{&fx.name_ioc}};
  writer.add(unread);
  std::ostringstream out;
  ASSERT_TRUE(writer.write(out));
  const json doc = json::parse(out.str());
  EXPECT_EQ(doc["iocsweep_baseline"], 1);
  ASSERT_EQ(doc["accepted"].size(), 3u);
  const Baseline b = parse_ok(out.str());
  EXPECT_EQ(b.size(), 3u);
  Finding a = fx.abc_finding("/renamed", {YaraMatchRecord{&fx.rule}, HashMatchRecord{&fx.ioc}});
  EXPECT_EQ(b.suppress(a), 2u);
  EXPECT_EQ(b.suppress(unread), 1u);
}

// A deleted file or a stream hides; the live file of the same content or
// path was accepted: that does not accept what hides (docs/ci.md).
TEST(Baseline, DeletedFilesAndStreamsAreNotAcceptedByTheLiveFilesEntry) {
  Fixture fx;
  const std::string path = "case/disk.E01#p2/Windows/System32/lcsvsvc.dll";
  const auto in_image = [&](bool deleted, std::string stream) {
    Finding f = fx.abc_finding(path + (stream.empty() ? "" : ":" + stream), {YaraMatchRecord{&fx.rule}});
    f.disk = test::disk_location("/Windows/System32/lcsvsvc.dll", 64, deleted, std::move(stream));
    return f;
  };
  const Baseline live_entry = parse_ok(R"({"iocsweep_baseline": 1, "accepted": [
      {"match": "Evil_Rule", "sha256": ")" +
                                       kAbcSha256 + R"(", "path": ")" + path + R"("}]})");
  Finding live = in_image(false, "");
  EXPECT_EQ(live_entry.suppress(live), 1u) << "a live file in an image is accepted by content, as any file";
  Finding deleted = in_image(true, "");
  EXPECT_EQ(live_entry.suppress(deleted), 0u);
  Finding ads = in_image(false, "evil.exe");
  EXPECT_EQ(live_entry.suppress(ads), 0u);
  // An entry for the deleted file accepts the deleted file only.
  const Baseline deleted_entry = parse_ok(R"({"iocsweep_baseline": 1, "accepted": [
      {"match": "Evil_Rule", "sha256": ")" +
                                          kAbcSha256 + R"(", "deleted": true}]})");
  Finding deleted_again = in_image(true, "");
  EXPECT_EQ(deleted_entry.suppress(deleted_again), 1u);
  Finding live_again = in_image(false, "");
  EXPECT_EQ(deleted_entry.suppress(live_again), 0u);
  Finding deleted_ads = in_image(true, "evil.exe");
  EXPECT_EQ(deleted_entry.suppress(deleted_ads), 0u) << "deleted and a stream: needs both";
  // Files that were not read are accepted by path: the disk path, and
  // whether the file is deleted.
  const std::string id = match_identity(FilenameMatchRecord{&fx.name_ioc});
  const Baseline by_path =
      parse_ok(R"({"iocsweep_baseline": 1, "accepted": [{"match": ")" + id + R"(", "path": ")" + path + R"("}]})");
  Finding unread_live;
  unread_live.path = path;
  unread_live.matches = {FilenameMatchRecord{&fx.name_ioc}};
  unread_live.disk = test::disk_location("/Windows/System32/lcsvsvc.dll", 64);
  Finding unread_deleted = unread_live;
  unread_deleted.disk->deleted = true;
  EXPECT_EQ(by_path.suppress(unread_live), 1u);
  EXPECT_EQ(by_path.suppress(unread_deleted), 0u);
}

TEST(Baseline, ReportsAndWrittenBaselinesKeepTheDeletedAndStreamState) {
  Fixture fx;
  const auto in_image = [&](bool deleted, std::string stream) {
    Finding f =
        fx.abc_finding("case/disk.E01#p2/x.dll" + (stream.empty() ? "" : ":" + stream), {YaraMatchRecord{&fx.rule}});
    f.disk = test::disk_location("/x.dll", 64, deleted, std::move(stream));
    return f;
  };
  // A JSON report whose only finding is a deleted stream.
  std::ostringstream report;
  auto sink = make_json_sink(report);
  sink->begin(fx.info);
  sink->finding(in_image(true, "evil.exe"));
  ASSERT_TRUE(sink->end(ScanEnd{}));
  const Baseline from_report = parse_ok(report.str());
  Finding same = in_image(true, "other-name");  // a stream's name is not part of the key
  EXPECT_EQ(from_report.suppress(same), 1u);
  Finding live = in_image(false, "");
  EXPECT_EQ(from_report.suppress(live), 0u);
  // --write-baseline: live and deleted copies of the same bytes are two
  // entries, the deleted one marked, the stream named.
  BaselineWriter writer;
  writer.add(in_image(false, ""));
  writer.add(in_image(true, ""));
  writer.add(in_image(true, ""));  // a duplicate
  writer.add(in_image(false, "evil.exe"));
  std::ostringstream out;
  ASSERT_TRUE(writer.write(out));
  const json doc = json::parse(out.str());
  ASSERT_EQ(doc["accepted"].size(), 3u) << doc.dump(2);
  int deleted_entries = 0, stream_entries = 0;
  for (const json& e : doc["accepted"]) {
    if (e.value("deleted", false)) ++deleted_entries;
    if (e.contains("stream")) {
      ++stream_entries;
      EXPECT_EQ(e["stream"], "evil.exe");
    }
  }
  EXPECT_EQ(deleted_entries, 1);
  EXPECT_EQ(stream_entries, 1);
  const test::RunResult valid =
      test::validate_json_schema(std::string(IOCSWEEP_SOURCE_DIR) + "/docs/baseline.schema.json", out.str());
  EXPECT_EQ(valid.exit_code, 0) << valid.err;
  const Baseline b = parse_ok(out.str());
  for (const bool deleted : {false, true}) {
    Finding f = in_image(deleted, "");
    EXPECT_EQ(b.suppress(f), 1u) << deleted;
  }
  Finding ads = in_image(false, "x");
  EXPECT_EQ(b.suppress(ads), 1u);
  Finding deleted_ads = in_image(true, "x");
  EXPECT_EQ(b.suppress(deleted_ads), 0u);
}

TEST(Baseline, BadFilesAreRefusedWithTheNameAndReason) {
  EXPECT_NE(parse_error("{").find("base.json: invalid JSON"), std::string::npos);
  EXPECT_NE(parse_error("[]").find("base.json: not a JSON object"), std::string::npos);
  EXPECT_NE(parse_error(R"({"something": 1})").find("neither"), std::string::npos);
  EXPECT_NE(parse_error(R"({"iocsweep_baseline": 2, "accepted": []})").find("unsupported version"), std::string::npos);
  EXPECT_NE(parse_error(R"({"iocsweep_baseline": 1})").find("accepted: missing"), std::string::npos);
  EXPECT_NE(parse_error(R"({"iocsweep_baseline": 1, "accepted": [{"match": "R", "sha256": "ABC"}]})")
                .find("base.json: accepted[0]: sha256 is not 64"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"iocsweep_baseline": 1, "accepted": [{"match": "R"}]})").find("needs \"sha256\""),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"iocsweep_baseline": 1, "accepted": [{"match": "R", "sha265": "x"}]})")
                .find("unknown key 'sha265'"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"iocsweep_baseline": 1, "accepted": [{"sha256": ")" + kAbcSha256 + R"("}]})")
                .find("\"match\" missing"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"schema_version": 1, "findings": [{"path": "/x", "matches": [{"type": "odd"}]}]})")
                .find("findings[0].matches[0]"),
            std::string::npos);
  EXPECT_NE(parse_error(std::string(100, '[') + std::string(100, ']')).find("nested deeper"), std::string::npos);
  EXPECT_NE(parse_error(R"({"iocsweep_baseline": 1, "accepted": [{"match": "R", "sha256": ")" + kAbcSha256 +
                        R"(", "deleted": "yes"}]})")
                .find("accepted[0]: deleted is not true or false"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"iocsweep_baseline": 1, "accepted": [{"match": "R", "sha256": ")" + kAbcSha256 +
                        R"(", "stream": ""}]})")
                .find("accepted[0]: stream is not a non-empty string"),
            std::string::npos);
  EXPECT_TRUE(Baseline::parse(R"({"iocsweep_baseline": 1, "accepted": []})", "x"));
}

}  // namespace
}  // namespace iocsweep
