#include "iocsweep/report.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "iocsweep/build_info.hpp"
#include "iocsweep/version.hpp"
#include "report/model.hpp"
#include "report_support.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;

struct Fixture {
  RuleInfo rule{"Evil_Rule",
                "builtin:x.yar",
                {"apt"},
                {{"score", std::int64_t{90}}, {"author", "a"}, {"ref", "r1"}, {"ref", "r2"}},
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
  f.rule.meta = {{"description", "bad \xC0 byte"}};
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

// A remote collector that is away: what does not fit the queue is counted
// at once, the rest when the flush deadline is over, and the report sink
// teed with it gets both counts in its stats.
TEST(SyslogSink, RemoteQueueOverflowAndAnAbsentCollectorAreCounted) {
  Fixture f;
  // A port nothing listens on: bound, never listened on, closed.
  const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::close(probe);
  SyslogOptions options;
  options.transport = SyslogTransport::kTcp;
  options.host = "127.0.0.1";
  options.port = std::to_string(ntohs(a.sin_port));
  options.queue_max_messages = 3;
  options.flush_timeout_s = 0;
  auto opened = SyslogSink::open(options);
  ASSERT_TRUE(opened) << opened.error().message;
  std::ostringstream out;
  auto json_sink = make_json_sink(out);
  auto tee = make_syslog_tee_sink(*json_sink, **opened);
  tee->begin(ScanInfo{});
  for (int i = 0; i < 5; ++i) tee->finding(syslog_finding(f, "/srv/f" + std::to_string(i)));
  ScanEnd end;
  end.stats.findings = 5;
  ASSERT_TRUE(tee->end(end));
  // begin, five findings and the end: seven, none delivered, none lost.
  EXPECT_EQ((*opened)->messages_sent(), 0u);
  EXPECT_EQ((*opened)->messages_failed(), 7u);
  const nlohmann::json report = nlohmann::json::parse(out.str());
  EXPECT_EQ(report["stats"]["syslog_sent"], 0);
  EXPECT_EQ(report["stats"]["syslog_undelivered"], 7);
  // Without syslog the stats keep their shape.
  std::ostringstream plain;
  auto plain_sink = make_json_sink(plain);
  plain_sink->begin(ScanInfo{});
  ASSERT_TRUE(plain_sink->end(end));
  EXPECT_FALSE(nlohmann::json::parse(plain.str())["stats"].contains("syslog_sent"));
}

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

// --- disk images -----------------------------------------------------------

// What a sweep of two disk images reports, plus one plain file: a live file
// and a deleted file of the same path (sent deleted first), an alternate
// data stream, a file in a bare filesystem, an archive member in an image,
// names that are not UTF-8; an encrypted volume skipped, a damaged
// directory. Paths are disk_path() of the location, written out.
void render_disk(ReportSink& sink, const Fixture& f) {
  sink.begin(f.info);
  const auto finding = [&](std::string path, std::optional<DiskLocation> disk, std::vector<std::string> member = {}) {
    Finding out = syslog_finding(f, std::move(path));
    Hasher hasher;
    out.digests = hasher.digest(ByteView(reinterpret_cast<const std::uint8_t*>("abc"), 3));
    out.disk = std::move(disk);
    out.member = std::move(member);
    sink.finding(std::move(out));
  };
  finding("/root/plain", std::nullopt);
  finding("case/disk.E01#p2/Windows/System32/lcsvsvc.dll",
          test::disk_location("/Windows/System32/lcsvsvc.dll", 70, true));
  finding("case/disk.E01#p2/Windows/System32/lcsvsvc.dll", test::disk_location("/Windows/System32/lcsvsvc.dll", 64));
  finding("case/disk.E01#p2/Users/x/report.doc:evil.exe",
          test::disk_location("/Users/x/report.doc", 71, false, "evil.exe"));
  finding("fat.img#/A.TXT", test::disk_location("/A.TXT", 5, false, "", -1));
  finding("case/disk.E01#p2/tmp/pkg.zip", test::disk_location("/tmp/pkg.zip", 80), {"dir/evil.exe"});
  finding("fat.img#/B\xFF.TXT:s\xFE", test::disk_location("/B\xFF.TXT", 6, true, "s\xFE", -1));
  DiskLocation volume = test::disk_location("", 0, false, "", 3);
  volume.offset = 525336576;
  volume.filesystem = "";
  sink.skipped({"case/disk.E01#p3", "encrypted_volume", "BitLocker", volume});
  sink.error({"fat.img#/DIR", "cannot read directory", test::disk_location("/DIR", 9, false, "", -1)});
  ScanEnd end;
  end.finished_at = "2026-01-01T00:00:01.000Z";
  end.stats.findings = 7;
  EXPECT_TRUE(sink.end(end));
}

std::string render_disk_to(std::unique_ptr<ReportSink> (*make)(std::ostream&), const Fixture& f) {
  std::ostringstream out;
  auto sink = make(out);
  render_disk(*sink, f);
  return out.str();
}

TEST(DiskImageReport, JsonCarriesTheLocationOfEachFinding) {
  Fixture f;
  const json doc = json::parse(render_disk_to(make_json_sink, f));
  const json& findings = doc["findings"];
  ASSERT_EQ(findings.size(), 7u);
  const json ntfs = {
      {"path", "case/disk.E01"}, {"partition", 2}, {"offset", 1048576},
      {"filesystem", "ntfs"},    {"inode", 64},    {"path_in_filesystem", "/Windows/System32/lcsvsvc.dll"}};
  // A plain file has none of the fields.
  EXPECT_EQ(findings[0]["path"], "/root/plain");
  for (const char* key : {"disk_image", "deleted", "stream", "stream_hex"}) EXPECT_FALSE(findings[0].contains(key));
  // Sorted by path, then live before deleted.
  EXPECT_EQ(findings[1]["path"], "case/disk.E01#p2/Users/x/report.doc:evil.exe");
  EXPECT_EQ(findings[1]["stream"], "evil.exe");
  EXPECT_EQ(findings[1]["deleted"], false);
  EXPECT_EQ(findings[1]["disk_image"]["path_in_filesystem"], "/Users/x/report.doc");
  EXPECT_EQ(findings[2]["path"], "case/disk.E01#p2/Windows/System32/lcsvsvc.dll");
  EXPECT_EQ(findings[2]["disk_image"], ntfs);
  EXPECT_EQ(findings[2]["deleted"], false);
  EXPECT_FALSE(findings[2].contains("stream"));
  EXPECT_EQ(findings[3]["path"], findings[2]["path"]);
  json deleted = ntfs;
  deleted["inode"] = 70;
  EXPECT_EQ(findings[3]["disk_image"], deleted);
  EXPECT_EQ(findings[3]["deleted"], true);
  // An archive in an image: both the image location and the member chain.
  EXPECT_EQ(findings[4]["path"], "case/disk.E01#p2/tmp/pkg.zip");
  EXPECT_EQ(findings[4]["member"], json::array({"dir/evil.exe"}));
  EXPECT_EQ(findings[4]["disk_image"]["path_in_filesystem"], "/tmp/pkg.zip");
  EXPECT_EQ(findings[4]["disk_image"]["inode"], 80);
  // A bare filesystem has no partition: null, not absent.
  const json fat = {{"path", "fat.img"},     {"partition", nullptr}, {"offset", 0},
                    {"filesystem", "fat32"}, {"inode", 5},           {"path_in_filesystem", "/A.TXT"}};
  EXPECT_EQ(findings[5]["disk_image"], fat);
  // Names that are not UTF-8: readable text, and the exact bytes in _hex.
  const json& odd = findings[6];
  EXPECT_EQ(odd["path_hex"], to_hex(std::string("fat.img#/B\xFF.TXT:s\xFE")));
  EXPECT_EQ(odd["disk_image"]["path_in_filesystem"], "/B\xEF\xBF\xBD.TXT");
  EXPECT_EQ(odd["disk_image"]["path_in_filesystem_hex"], to_hex(std::string("/B\xFF.TXT")));
  EXPECT_FALSE(odd["disk_image"].contains("path_hex")) << "the image's own name is UTF-8";
  EXPECT_EQ(odd["stream"], "s\xEF\xBF\xBD");
  EXPECT_EQ(odd["stream_hex"], "73fe");
  EXPECT_EQ(odd["deleted"], true);
  // Skipped volumes and errors say where they lie the same way.
  ASSERT_EQ(doc["skipped"].size(), 1u);
  const json volume = {{"path", "case/disk.E01"}, {"partition", 3},           {"offset", 525336576},
                       {"filesystem", ""},        {"path_in_filesystem", ""}, {"inode", 0}};
  EXPECT_EQ(doc["skipped"][0], json({{"path", "case/disk.E01#p3"},
                                     {"reason", "encrypted_volume"},
                                     {"detail", "BitLocker"},
                                     {"disk_image", volume},
                                     {"deleted", false}}));
  ASSERT_EQ(doc["errors"].size(), 1u);
  EXPECT_EQ(doc["errors"][0]["disk_image"]["path_in_filesystem"], "/DIR");
  EXPECT_EQ(doc["errors"][0]["disk_image"]["partition"], nullptr);
  EXPECT_EQ(doc["errors"][0]["deleted"], false);
}

TEST(DiskImageReport, NdjsonRecordsAreTheDocumentsEntries) {
  Fixture f;
  const json doc = json::parse(render_disk_to(make_json_sink, f));
  std::istringstream lines(render_disk_to(make_ndjson_sink, f));
  std::map<std::string, int> seen;
  for (std::string line; std::getline(lines, line);) {
    json rec = json::parse(line);
    const std::string record = rec["record"];
    rec.erase("record");
    const char* list = record == "finding" ? "findings" : record == "skipped" ? "skipped" : "errors";
    if (record != "finding" && record != "skipped" && record != "error") continue;
    const json& entries = doc[list];
    EXPECT_NE(std::find(entries.begin(), entries.end(), rec), entries.end()) << rec.dump();
    ++seen[record];
  }
  EXPECT_EQ(seen["finding"], 7);
  EXPECT_EQ(seen["skipped"], 1);
  EXPECT_EQ(seen["error"], 1);
}

TEST(DiskImageReport, JsonValidatesAgainstTheSchemaWhichRequiresDeletedWithTheImage) {
  Fixture f;
  const std::string schema = std::string(IOCSWEEP_SOURCE_DIR) + "/docs/report.schema.json";
  json doc = json::parse(render_disk_to(make_json_sink, f));
  test::RunResult r = test::validate_json_schema(schema, doc.dump());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // The schema is no rubber stamp: a disk finding without "deleted", a
  // plain one with it, and a partition that is no number are refused.
  json broken = doc;
  broken["findings"][2].erase("deleted");
  EXPECT_NE(test::validate_json_schema(schema, broken.dump()).exit_code, 0);
  broken = doc;
  broken["findings"][0]["deleted"] = false;
  EXPECT_NE(test::validate_json_schema(schema, broken.dump()).exit_code, 0);
  broken = doc;
  broken["skipped"][0]["disk_image"]["partition"] = "p3";
  EXPECT_NE(test::validate_json_schema(schema, broken.dump()).exit_code, 0);
}

TEST(DiskImageReport, CsvAddsEightColumnsAtTheEnd) {
  Fixture f;
  bool crlf_only = false;
  const auto rows = test::parse_csv(render_disk_to(make_csv_sink, f), &crlf_only);
  EXPECT_TRUE(crlf_only);
  ASSERT_GE(rows.size(), 2u);
  const std::vector<std::string> header = {
      "record", "path", "path_hex", "size", "score", "severity", "md5", "sha1", "sha256", "match_type", "match",
      "match_source", "match_score", "detail", "member", "cached", "disk_image", "partition", "offset", "filesystem",
      "path_in_filesystem", "inode", "deleted", "stream",
      // The live-process columns come after the disk-image ones.
      "pid", "ppid", "process_name", "process_exe", "process_cmdline", "uid", "exe_deleted", "process_part",
      "region_start", "region_end", "region_perms", "region_path"};
  EXPECT_EQ(rows[0], header);
  std::map<std::string, std::vector<std::string>> by_key;  // record + path + deleted
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), header.size()) << row[0];
    by_key[row[0] + " " + row[1] + " " + row[22]] = std::vector<std::string>(row.begin() + 16, row.begin() + 24);
    if (row[0] != "record") {
      EXPECT_EQ(std::vector<std::string>(row.begin() + 24, row.end()), std::vector<std::string>(12, ""))
          << "no process columns for a disk image";
    }
  }
  using Cells = std::vector<std::string>;
  EXPECT_EQ(by_key["finding /root/plain "], Cells(8, ""));
  EXPECT_EQ(by_key["finding case/disk.E01#p2/Windows/System32/lcsvsvc.dll false"],
            (Cells{"case/disk.E01", "2", "1048576", "ntfs", "/Windows/System32/lcsvsvc.dll", "64", "false", ""}));
  EXPECT_EQ(by_key["finding case/disk.E01#p2/Windows/System32/lcsvsvc.dll true"],
            (Cells{"case/disk.E01", "2", "1048576", "ntfs", "/Windows/System32/lcsvsvc.dll", "70", "true", ""}));
  EXPECT_EQ(by_key["finding case/disk.E01#p2/Users/x/report.doc:evil.exe false"],
            (Cells{"case/disk.E01", "2", "1048576", "ntfs", "/Users/x/report.doc", "71", "false", "evil.exe"}));
  EXPECT_EQ(by_key["finding fat.img#/A.TXT false"], (Cells{"fat.img", "", "0", "fat32", "/A.TXT", "5", "false", ""}));
  EXPECT_EQ(by_key["skipped case/disk.E01#p3 false"],
            (Cells{"case/disk.E01", "3", "525336576", "", "", "0", "false", ""}));
  EXPECT_EQ(by_key["error fat.img#/DIR false"], (Cells{"fat.img", "", "0", "fat32", "/DIR", "9", "false", ""}));
  // The member column still holds the chain for an archive in an image.
  for (const auto& row : rows) {
    if (row[1] == "case/disk.E01#p2/tmp/pkg.zip") {
      EXPECT_EQ(row[14], "dir/evil.exe");
    }
  }
}

TEST(DiskImageReport, TextSaysWhereInTheImage) {
  Fixture f;
  const std::string text = render_disk_to(make_text_sink, f);
  const std::string p2 = "    in disk image case/disk.E01 partition 2 (ntfs at offset 1048576)";
  for (const std::string& line : {
           "ALERT score=100 case/disk.E01#p2/Windows/System32/lcsvsvc.dll\n" + p2 + ", inode 64\n",
           "ALERT score=100 case/disk.E01#p2/Windows/System32/lcsvsvc.dll\n" + p2 + ", inode 70, deleted\n",
           p2 + ", inode 71, stream evil.exe\n",
           std::string("ALERT score=100 fat.img#/A.TXT\n    in disk image fat.img (fat32 at offset 0), inode 5\n"),
           std::string("    in disk image fat.img (fat32 at offset 0), inode 6, deleted, stream s\\xfe\n"),
           "case/disk.E01#p2/tmp/pkg.zip\n" + p2 + ", inode 80\n    member > dir/evil.exe\n",
           std::string("SKIPPED case/disk.E01#p3 (encrypted_volume: BitLocker)\n"
                       "    in disk image case/disk.E01 partition 3 (at offset 525336576)\n"),
           std::string("ERROR fat.img#/DIR: cannot read directory\n"
                       "    in disk image fat.img (fat32 at offset 0), inode 9\n"),
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing:\n" << line << "\nin:\n" << text;
  }
  // The live file comes before the deleted one of the same path.
  EXPECT_LT(text.find(p2 + ", inode 64\n"), text.find(p2 + ", inode 70, deleted\n"));
  EXPECT_EQ(text.find("ALERT score=100 /root/plain\n    in disk"), std::string::npos);
}

TEST(DiskImageReport, SyslogStructuredDataCarriesTheLocation) {
  Fixture f;
  SyslogCapture capture;
  Finding live = syslog_finding(f, "case/disk.E01#p2/Windows/System32/lcsvsvc.dll");
  live.disk = test::disk_location("/Windows/System32/lcsvsvc.dll", 64);
  capture.sink->finding(live);
  const std::string m = capture.next();
  EXPECT_NE(m.find(" path=\"case/disk.E01#p2/Windows/System32/lcsvsvc.dll\" score=\"100\""), std::string::npos) << m;
  EXPECT_NE(m.find(" partition=\"2\" offset=\"1048576\" filesystem=\"ntfs\" inode=\"64\" deleted=\"false\""
                   " disk_image=\"case/disk.E01\" path_in_filesystem=\"/Windows/System32/lcsvsvc.dll\" match=\""),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find(" stream="), std::string::npos) << m;
  EXPECT_EQ(m.find("disk_truncated"), std::string::npos) << m;
  // Bare filesystem: no partition parameter; a stream and a deleted file.
  Finding ads = syslog_finding(f, "fat.img#/B\xFF.TXT:s]");
  ads.disk = test::disk_location("/B\xFF.TXT", 6, true, "s]", -1);
  capture.sink->finding(ads);
  const std::string n = capture.next();
  EXPECT_EQ(n.find(" partition="), std::string::npos) << n;
  EXPECT_NE(n.find(" offset=\"0\" filesystem=\"fat32\" inode=\"6\" deleted=\"true\" disk_image=\"fat.img\""
                   " path_in_filesystem=\"/B\xEF\xBF\xBD.TXT\" stream=\"s\\]\""),
            std::string::npos)
      << n;
  // A plain file has none of them.
  capture.sink->finding(syslog_finding(f, "/root/plain"));
  const std::string plain = capture.next();
  for (const char* key : {" disk_image=", " offset=", " deleted=", " inode="}) {
    EXPECT_EQ(plain.find(key), std::string::npos) << key;
  }
}

TEST(DiskImageReport, SyslogCutsLongImageNamesUnderTheCapKeepingTheFirstMatch) {
  Fixture f;
  SyslogCapture capture;
  Finding finding = syslog_finding(f, std::string(20000, 'p'));
  finding.member = {std::string(6000, 'm')};
  finding.disk = test::disk_location("/" + std::string(20000, 'i'), 64, true, std::string(3000, 's'));
  finding.disk->image = std::string(20000, 'd');
  capture.sink->finding(finding);
  const std::string m = capture.next();
  ASSERT_FALSE(m.empty());
  EXPECT_LE(m.size(), kSyslogCap);
  EXPECT_NE(m.find(" match=\"yara:builtin:x.yar:Evil_Rule\""), std::string::npos);
  EXPECT_NE(m.find(" disk_truncated=\"true\""), std::string::npos);
  EXPECT_NE(m.find(" partition=\"2\" offset=\"1048576\" filesystem=\"ntfs\" inode=\"64\" deleted=\"true\""),
            std::string::npos);
  EXPECT_NE(m.find(" disk_image=\"ddd"), std::string::npos) << "the image's name is cut, not dropped";
}

TEST(SkipReasons, OnlyWhatIsSkippedByDesignKeepsTheScanClean) {
  for (const char* harmless :
       {"special", "excluded", "other_filesystem", "filesystem", "symlink_loop", "already_visited"}) {
    EXPECT_FALSE(skip_hides_content(harmless)) << harmless;
  }
  // Content that was there and was not matched, and any reason this
  // table does not know yet.
  for (const char* hides : {"too_large", "archive_limit", "archive_depth", "encrypted", "changed_during_walk",
                            "atime_not_preservable", "timeout", "a-reason-added-later", "",
                            // disk images: a volume or the rest of a filesystem unread
                            "encrypted_volume", "unknown_filesystem", "image_limit"}) {
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
