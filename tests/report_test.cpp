#include "iocsweep/report.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "iocsweep/build_info.hpp"
#include "iocsweep/version.hpp"
#include "test_support.hpp"

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
                {},
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
  // The build facts come from build_info, the one place `iocsweep version` reads too.
  EXPECT_EQ(doc["tool"], tool_info_json());
  EXPECT_EQ(doc["tool"]["pack_fingerprint"].get<std::string>().size(), 64u);
  EXPECT_EQ(doc["tool"]["libraries"].size(), 5u);
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

TEST(JsonSink, RootThatIsNotUtf8KeepsItsBytesInRootsHex) {
  Fixture f;
  {
    std::ostringstream out;
    auto sink = make_json_sink(out);
    render(*sink, f);
    EXPECT_FALSE(json::parse(out.str())["scan"].contains("roots_hex")) << "all roots are UTF-8";
  }
  f.info.roots = {"/srv", "/ro\xFFot"};
  for (const bool ndjson : {false, true}) {
    std::ostringstream out;
    auto sink = ndjson ? make_ndjson_sink(out) : make_json_sink(out);
    render(*sink, f);
    const std::string text = out.str();
    const json doc = json::parse(ndjson ? text.substr(0, text.find('\n')) : text);
    EXPECT_EQ(doc["scan"]["roots"], json::array({"/srv", "/ro\uFFFDot"}));
    EXPECT_EQ(doc["scan"]["roots_hex"], json::array({to_hex(std::string("/srv")), "2f726fff6f74"}));
  }
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

/// A syslog sink connected to a datagram socket the test reads.
class SyslogCapture {
 public:
  SyslogCapture() {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = dir_ / "log";
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("bind");
    SyslogOptions options;
    options.socket_path = path;
    options.hostname = "host";
    auto opened = SyslogSink::open(options);
    if (!opened) throw std::runtime_error(opened.error().message);
    sink = std::move(*opened);
  }
  ~SyslogCapture() { ::close(fd_); }
  SyslogCapture(const SyslogCapture&) = delete;
  SyslogCapture& operator=(const SyslogCapture&) = delete;
  /// The next message; "" when none is waiting.
  std::string next() {
    std::string buf(65536, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    buf.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    return buf;
  }
  std::unique_ptr<SyslogSink> sink;

 private:
  test::TempDir dir_;
  int fd_ = -1;
};

Finding syslog_finding(const Fixture& f, std::string path) {
  Finding finding;
  finding.path = std::move(path);
  finding.size = 3;
  finding.matches = {YaraMatchRecord{&f.rule}, HashMatchRecord{&f.ioc}};
  finding.score = combine_scores(finding.matches);
  return finding;
}

constexpr std::size_t kSyslogCap = 16 * 1024;

TEST(SyslogSink, VeryLongPathIsCutButTheFirstMatchStays) {
  Fixture f;
  SyslogCapture capture;
  // 'x' then two-byte characters: a cut at an even byte count would leave
  // half of one.
  std::string path = "/root/x";
  for (int i = 0; i < 20000; ++i) path += "\xC3\xA9";
  capture.sink->finding(syslog_finding(f, path));
  const std::string m = capture.next();
  ASSERT_FALSE(m.empty());
  EXPECT_LE(m.size(), kSyslogCap);
  EXPECT_TRUE(is_valid_utf8(m)) << m.substr(m.size() - 40);
  EXPECT_NE(m.find(" path_truncated=\"true\""), std::string::npos);
  EXPECT_NE(m.find(" match=\"yara:builtin:x.yar:Evil_Rule\""), std::string::npos);
  EXPECT_NE(m.find(" match=\"hash:sha256:" + std::string(64, 'a') + "\""), std::string::npos);
  EXPECT_EQ(m.find(" truncated=\"true\""), std::string::npos);
  // MSG: the start of the path and the first match.
  EXPECT_NE(m.find("] alert score=100 /root/x\xC3\xA9"), std::string::npos);
  EXPECT_NE(m.find(" (yara:builtin:x.yar:Evil_Rule and 1 more)"), std::string::npos);
}

TEST(SyslogSink, ManyMatchesAreCutUnderTheCap) {
  Fixture f;
  SyslogCapture capture;
  std::vector<HashIoc> iocs;
  for (int i = 0; i < 400; ++i) {
    iocs.push_back(HashIoc{DigestKind::kSha256, std::string(60, 'a') + std::to_string(1000 + i), 50, "", "i.txt",
                           static_cast<std::size_t>(i), std::nullopt});
  }
  Finding finding = syslog_finding(f, "/root/" + std::string(4000, 'p'));
  for (const HashIoc& ioc : iocs) finding.matches.push_back(HashMatchRecord{&ioc});
  capture.sink->finding(finding);
  const std::string m = capture.next();
  EXPECT_LE(m.size(), kSyslogCap);
  EXPECT_GT(m.size(), kSyslogCap - 200);  // cut near the cap, not far below
  EXPECT_NE(m.find(" match=\"yara:builtin:x.yar:Evil_Rule\""), std::string::npos);
  EXPECT_NE(m.find(" truncated=\"true\"]"), std::string::npos);
  EXPECT_EQ(m.find("path_truncated"), std::string::npos);
}

TEST(SyslogSink, ControlCharactersInNamesCannotForgeLines) {
  Fixture f;
  SyslogCapture capture;
  ScanInfo info = f.info;
  info.roots = {"/ro\not"};
  capture.sink->begin(info);
  const std::string started = capture.next();
  EXPECT_NE(started.find(" root=\"/ro\\x0aot\""), std::string::npos) << started;
  capture.sink->finding(syslog_finding(f,
                                       "/root/a\nforged line\x1b[31m\xC2\x9b"
                                       "1m"));
  const std::string m = capture.next();
  for (const char c : m) {
    EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << "control byte " << int(c) << " in " << m;
  }
  EXPECT_EQ(m.find("\xC2\x9b"), std::string::npos) << m;
  const std::string escaped = "/root/a\\x0aforged line\\x1b[31m\\xc2\\x9b1m";
  EXPECT_NE(m.find(" path=\"" + escaped + "\""), std::string::npos) << m;
  // Escaped text is not the exact name: path_hex gives its bytes.
  EXPECT_NE(m.find(" path_hex=\"" +
                   to_hex(std::string("/root/a\nforged line\x1b[31m\xC2\x9b"
                                      "1m")) +
                   "\""),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("] alert score=100 " + escaped + " ("), std::string::npos) << m;
}

TEST(JsonSink, WriteFailureIsReported) {
  Fixture f;
  std::ostringstream out;
  out.setstate(std::ios::badbit);
  auto sink = make_json_sink(out);
  sink->begin(f.info);
  EXPECT_FALSE(sink->end(ScanEnd{}));
}

TEST(SkipReasons, OnlyWhatIsSkippedByDesignKeepsTheScanClean) {
  for (const char* harmless :
       {"special", "excluded", "other_filesystem", "filesystem", "symlink_loop", "already_visited"}) {
    EXPECT_FALSE(skip_hides_content(harmless)) << harmless;
  }
  // Content that was there and was not matched, and any reason this
  // table does not know yet.
  for (const char* hides : {"too_large", "archive_limit", "archive_depth", "encrypted", "changed_during_walk",
                            "atime_not_preservable", "timeout", "a-reason-added-later", ""}) {
    EXPECT_TRUE(skip_hides_content(hides)) << hides;
  }
}

TEST(SkipReasons, ASkippedMemberMakesTheScanIncomplete) {
  ScanEnd end;
  EXPECT_TRUE(scan_saw_everything(end));
  end.stats.skipped_unscanned = 1;
  EXPECT_FALSE(scan_saw_everything(end));
  end.stats.skipped_unscanned = 0;
  end.stats.errors = 1;
  EXPECT_FALSE(scan_saw_everything(end));
  end.stats.errors = 0;
  end.complete = false;
  EXPECT_FALSE(scan_saw_everything(end));
}

}  // namespace
}  // namespace iocsweep
