// Integration tests of what a CI gate uses: --format sarif, --baseline,
// --write-baseline and --fail-on, on the built binary and trees made here.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "iocsweep/hash.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::run;
using test::RunResult;
using test::TempDir;
using test::write_file;

const std::string kBin = iocsweep::test::binary_under_test();
constexpr const char* kEngineRule = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine";

json parse_json(const std::string& text, const RunResult& r) {
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return json::object();
  }
}

std::vector<std::string> rules_matched(const json& finding) {
  std::vector<std::string> out;
  for (const json& m : finding["matches"]) out.push_back(m["type"] == "yara" ? m["rule"] : m["type"]);
  return out;
}

// A hash list giving `content` the score `score`, and a tree holding it.
struct ScoredTree {
  TempDir tree, cfg;
  explicit ScoredTree(int score, const std::string& content = "scored content\n") {
    write_file(tree / "sample.bin", content);
    write_file(cfg / "iocs.txt", sha256_hex(content) + ";" + std::to_string(score) + ";test indicator\n");
  }
  RunResult scan(std::vector<std::string> extra) const {
    std::vector<std::string> args = {kBin, "scan", "--no-builtin", "--iocs", cfg / "iocs.txt"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(tree.path());
    return run(args);
  }
};

TEST(FailOn, ExitOneOnlyAtOrAboveTheLevel) {
  struct Case {
    int score;
    int default_rc, notice_rc, warning_rc, alert_rc;
  };
  for (const Case c : {Case{45, 1, 1, 0, 0}, Case{65, 1, 1, 1, 0}, Case{85, 1, 1, 1, 1}, Case{20, 1, 0, 0, 0}}) {
    SCOPED_TRACE("score " + std::to_string(c.score));
    ScoredTree t(c.score);
    EXPECT_EQ(t.scan({}).exit_code, c.default_rc);
    const RunResult notice = t.scan({"--fail-on", "notice"});
    EXPECT_EQ(notice.exit_code, c.notice_rc) << notice.err;
    EXPECT_EQ(t.scan({"--fail-on", "warning"}).exit_code, c.warning_rc);
    const RunResult alert = t.scan({"--fail-on", "alert"});
    EXPECT_EQ(alert.exit_code, c.alert_rc);
    // Below the level the finding is still reported.
    const json doc = parse_json(alert.out, alert);
    EXPECT_EQ(doc["findings"].size(), 1u);
  }
}

TEST(FailOn, LesserFindingsWithErrorsExitThree) {
  ScoredTree t(45);
  RunResult r = t.scan({"--fail-on", "warning", t.tree / "does-not-exist"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(t.scan({"--fail-on", "notice", t.tree / "does-not-exist"}).exit_code, 1);
}

TEST(FailOn, RejectsUnknownLevels) {
  ScoredTree t(45);
  RunResult r = t.scan({"--fail-on", "info"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--fail-on"), std::string::npos) << r.err;
}

TEST(FailOn, HelpDocumentsTheNewOptions) {
  RunResult r = run({kBin, "scan", "--help"});
  ASSERT_EQ(r.exit_code, 0);
  for (const char* option : {"--fail-on", "--baseline", "--write-baseline", "sarif"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option;
  }
  EXPECT_NE(r.out.find("With --fail-on, only findings of at least that severity count"), std::string::npos) << r.out;
}

TEST(Baseline, MovedFileStaysSuppressedChangedFileAndNewMatchAreReported) {
  TempDir t, cfg, work;
  const std::string positive = test::synth_swift_engine();
  test::make_dir(t / "bin");
  write_file(t / "bin/engine.bin", positive);  // a name no path indicator knows
  const std::string base = work / "accepted.json";

  RunResult first = run({kBin, "scan", "--write-baseline", base, t.path()});
  ASSERT_EQ(first.exit_code, 1) << first.err;
  const json accepted = json::parse(test::read_file(base));
  ASSERT_EQ(accepted["accepted"].size(), 1u) << accepted.dump(2);
  EXPECT_EQ(accepted["accepted"][0]["match"], kEngineRule);
  EXPECT_EQ(accepted["accepted"][0]["sha256"], sha256_hex(positive));

  // Moved and renamed: still accepted.
  test::make_dir(t / "elsewhere");
  ASSERT_EQ(std::rename((t / "bin/engine.bin").c_str(), (t / "elsewhere/renamed.dat").c_str()), 0);
  RunResult moved = run({kBin, "scan", "--baseline", base, t.path()});
  EXPECT_EQ(moved.exit_code, 0) << moved.out << moved.err;
  json doc = parse_json(moved.out, moved);
  EXPECT_TRUE(doc["findings"].empty());
  EXPECT_EQ(doc["stats"]["findings_suppressed"], 1);
  EXPECT_EQ(doc["stats"]["findings"], 0);
  RunResult text = run({kBin, "scan", "--baseline", base, "--format", "text", t.path()});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("1 findings left out: accepted by --baseline"), std::string::npos) << text.out;

  // A new indicator matching the same content: reported, with only the
  // new match (the accepted one is dropped).
  write_file(cfg / "iocs.txt", sha256_hex(positive) + ";70;new indicator\n");
  RunResult new_match = run({kBin, "scan", "--baseline", base, "--iocs", cfg / "iocs.txt", t.path()});
  EXPECT_EQ(new_match.exit_code, 1) << new_match.err;
  doc = parse_json(new_match.out, new_match);
  ASSERT_EQ(doc["findings"].size(), 1u);
  EXPECT_EQ(rules_matched(doc["findings"][0]), std::vector<std::string>{"hash"});
  EXPECT_EQ(doc["findings"][0]["score"], 70);  // judged on what remains
  EXPECT_EQ(doc["stats"]["findings_suppressed"], 0);

  // Changed content that still matches the rule: reported.
  write_file(t / "elsewhere/renamed.dat", positive + "changed");
  RunResult changed = run({kBin, "scan", "--baseline", base, t.path()});
  EXPECT_EQ(changed.exit_code, 1) << changed.err;
  doc = parse_json(changed.out, changed);
  ASSERT_EQ(doc["findings"].size(), 1u);
  EXPECT_EQ(rules_matched(doc["findings"][0]), std::vector<std::string>{kEngineRule});
}

TEST(Baseline, AnEarlierJsonReportIsABaseline) {
  TempDir t, work;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  RunResult first = run({kBin, "scan", "-o", work / "report.json", t.path()});
  ASSERT_EQ(first.exit_code, 1) << first.err;
  write_file(t / "copy.exe", test::synth_swift_engine());  // same content, new name
  RunResult again = run({kBin, "scan", "--baseline", work / "report.json", "--format", "sarif", t.path()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  const json sarif = parse_json(again.out, again);
  EXPECT_TRUE(sarif["runs"][0]["results"].empty());
  EXPECT_EQ(sarif["runs"][0]["properties"]["iocsweep"]["stats"]["findings_suppressed"], 2);
}

TEST(Baseline, WriteBaselineRoundTripKeepsEarlierAcceptances) {
  TempDir t, work;
  const std::string positive = test::synth_swift_engine();
  write_file(t / "a.exe", positive);
  ASSERT_EQ(run({kBin, "scan", "--write-baseline", work / "b1.json", t.path()}).exit_code, 1);
  // Rewritten while suppressing: the new file still lists what was
  // accepted, so it can replace the old one.
  RunResult second =
      run({kBin, "scan", "--baseline", work / "b1.json", "--write-baseline", work / "b2.json", t.path()});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  const json b1 = json::parse(test::read_file(work / "b1.json"));
  const json b2 = json::parse(test::read_file(work / "b2.json"));
  EXPECT_EQ(b1["accepted"], b2["accepted"]);
  EXPECT_EQ(run({kBin, "scan", "--baseline", work / "b2.json", t.path()}).exit_code, 0);
  // Only the baseline file appears: written atomically, no temporary left.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(work.path())) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"b1.json", "b2.json"}));
}

TEST(Baseline, BadBaselineIsFatalWithTheFileName) {
  TempDir t, work;
  write_file(t / "a", "x");
  write_file(work / "broken.json", "{\"iocsweep_baseline\": 1, \"accepted\": [{\"match\": \"R\"}]}");
  write_file(work / "not-json.txt", "hello");
  for (const std::string& file : {work / "broken.json", work / "not-json.txt", work / "missing.json"}) {
    SCOPED_TRACE(file);
    RunResult r = run({kBin, "scan", "--baseline", file, "-o", work / "report.json", t.path()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(file + ": "), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
    EXPECT_FALSE(std::filesystem::exists(work / "report.json"));  // nothing scanned, nothing written
  }
  RunResult r = run({kBin, "scan", "--baseline", work / "broken.json", t.path()});
  EXPECT_NE(r.err.find("accepted[0]"), std::string::npos) << r.err;
}

TEST(Baseline, WriteBaselineAndReportMustBeTwoFiles) {
  TempDir t;
  write_file(t / "a", "x");
  RunResult r = run({kBin, "scan", "--write-baseline", t / "same.json", "-o", t / "./same.json", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("same file"), std::string::npos) << r.err;
}

TEST(Baseline, UnwritableWriteBaselineIsFatalBeforeScanning) {
  TempDir t;
  write_file(t / "a", "x");
  RunResult r = run({kBin, "scan", "--write-baseline", t / "no/such/dir/b.json", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--write-baseline"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Sarif, BinaryWritesOneRunWithRelativeUris) {
  TempDir t, work;
  test::make_dir(t / "sub dir");
  write_file(t / "sub dir/engine.bin", test::synth_swift_engine());
  RunResult r = run({kBin, "scan", "--format", "sarif", "-o", work / "out.sarif", t.path(), t / "missing"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const json doc = parse_json(test::read_file(work / "out.sarif"), r);
  ASSERT_EQ(doc["runs"].size(), 1u);
  const json& run0 = doc["runs"][0];
  ASSERT_FALSE(run0["results"].empty());
  const json& result = run0["results"][0];
  EXPECT_EQ(result["ruleId"], kEngineRule);
  EXPECT_EQ(result["level"], "error");
  const json& where = result["locations"][0]["physicalLocation"]["artifactLocation"];
  EXPECT_EQ(where["uri"], "sub%20dir/engine.bin");
  EXPECT_EQ(run0["originalUriBaseIds"][where["uriBaseId"].get<std::string>()]["uri"], "file://" + t.path() + "/");
  EXPECT_EQ(run0["invocations"][0]["executionSuccessful"], false);
  EXPECT_EQ(run0["invocations"][0]["toolExecutionNotifications"].size(), 1u);
}

}  // namespace
}  // namespace iocsweep
