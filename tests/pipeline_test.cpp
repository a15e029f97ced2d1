#include "iocsweep/pipeline.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>

#include "test_support.hpp"
#include "yara_fixture.hpp"

namespace iocsweep {
namespace {

using test::TempDir;
using test::write_file;

struct CapturingSink final : ReportSink {
  ScanInfo info;
  std::vector<Finding> findings;
  std::vector<FileError> errors_seen;
  std::vector<SkippedFile> skipped_seen;
  std::vector<std::string> atime_seen;
  ScanEnd end_state;
  void begin(const ScanInfo& i) override { info = i; }
  void finding(Finding f) override { findings.push_back(std::move(f)); }
  void error(FileError e) override { errors_seen.push_back(std::move(e)); }
  void skipped(SkippedFile s) override { skipped_seen.push_back(std::move(s)); }
  void atime_not_preserved(std::string path) override { atime_seen.push_back(std::move(path)); }
  Status end(const ScanEnd& e) override {
    end_state = e;
    return Ok{};
  }
  std::map<std::string, const Finding*> by_path() const {
    std::map<std::string, const Finding*> out;
    for (const auto& f : findings) out[f.path] = &f;
    return out;
  }
};

PackRequest request(bool builtin, std::vector<std::string> rules, std::vector<std::string> iocs) {
  PackRequest r;
  r.builtin = builtin;
  r.rule_paths = std::move(rules);
  r.ioc_paths = std::move(iocs);
  return r;
}

class PipelineTest : public test::WithYaraLibrary {
 protected:
  ScanConfig config_for(const std::string& root, const std::vector<std::string>& rule_files,
                        const std::vector<std::string>& ioc_files, unsigned threads) {
    auto pack = load_pack(request(false, rule_files, ioc_files));
    EXPECT_TRUE(pack) << pack.error().message;
    ScanConfig c;
    c.roots = {root};
    c.pack = std::move(*pack);
    c.threads = threads;
    return c;
  }
};

TEST_F(PipelineTest, YaraAndHashFindingsInOneTreeWalk) {
  TempDir rules_dir, tree;
  write_file(rules_dir / "r.yar", "rule needle { meta: score = 70 strings: $a = \"NEEDLE\" condition: $a }");
  // sha256("abc")
  write_file(rules_dir / "h.txt", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad;90;abc file\n");
  write_file(tree / "hash_only", "abc");
  write_file(tree / "yara_only", "xx NEEDLE xx");
  write_file(tree / "clean", "nothing");
  write_file(tree / "empty", "");
  CapturingSink sink;
  auto config = config_for(tree.path(), {rules_dir / "r.yar"}, {rules_dir / "h.txt"}, 2);
  ScanOutcome outcome = run_scan(config, sink, {});
  EXPECT_TRUE(outcome.complete);
  EXPECT_EQ(outcome.stats.files_scanned, 4u);
  EXPECT_EQ(outcome.stats.bytes_scanned, 3u + 12u + 7u);
  EXPECT_EQ(outcome.stats.findings, 2u);
  auto found = sink.by_path();
  ASSERT_TRUE(found.count(tree / "hash_only"));
  ASSERT_TRUE(found.count(tree / "yara_only"));
  const Finding& both = *found[tree / "hash_only"];
  ASSERT_EQ(both.matches.size(), 1u);
  EXPECT_EQ(std::get<HashMatchRecord>(both.matches[0]).ioc->description, "abc file");
  EXPECT_EQ(both.score, 90);
  const Finding& y = *found[tree / "yara_only"];
  EXPECT_EQ(std::get<YaraMatchRecord>(y.matches[0]).rule->name, "needle");
  EXPECT_EQ(y.score, 70);
  EXPECT_EQ(y.size, 12u);
  EXPECT_EQ(sink.info.rulesets.size(), 1u);
  EXPECT_EQ(sink.info.ioc_sets.size(), 1u);
}

TEST_F(PipelineTest, FindingsCarryAllDigestsEvenWhenNoIndicatorNeedsThem) {
  TempDir rules_dir, tree;
  write_file(rules_dir / "r.yar", "rule abc { strings: $a = \"abc\" condition: $a }");
  write_file(tree / "f", "abc");
  for (const bool with_sha256_list : {false, true}) {
    std::vector<std::string> iocs;
    if (with_sha256_list) {
      // An unrelated SHA-256: only SHA-256 is needed before matching.
      write_file(rules_dir / "h.txt", std::string(64, 'e') + ";other\n");
      iocs.push_back(rules_dir / "h.txt");
    }
    CapturingSink sink;
    run_scan(config_for(tree.path(), {rules_dir / "r.yar"}, iocs, 1), sink, {});
    ASSERT_EQ(sink.findings.size(), 1u);
    const Digests& d = sink.findings[0].digests;
    EXPECT_EQ(d.hex(DigestKind::kMd5), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(d.hex(DigestKind::kSha1), "a9993e364706816aba3e25717850c26c9cd0d89d");
    EXPECT_EQ(d.hex(DigestKind::kSha256), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
}

TEST_F(PipelineTest, SameResultsWithOneAndManyThreads) {
  TempDir rules_dir, tree;
  write_file(rules_dir / "r.yar", "rule seven { strings: $a = \"7\" condition: $a }");
  for (int d = 0; d < 10; ++d) {
    test::make_dir(tree / ("d" + std::to_string(d)));
    for (int i = 0; i < 30; ++i) {
      write_file(tree / ("d" + std::to_string(d) + "/f" + std::to_string(i)), std::to_string(d * 100 + i));
    }
  }
  std::vector<std::vector<std::string>> results;
  for (unsigned threads : {1u, 2u, 8u}) {
    CapturingSink sink;
    ScanOutcome o = run_scan(config_for(tree.path(), {rules_dir / "r.yar"}, {}, threads), sink, {});
    EXPECT_EQ(o.stats.files_scanned, 300u);
    std::vector<std::string> paths;
    for (const auto& f : sink.findings) paths.push_back(f.path);
    std::sort(paths.begin(), paths.end());
    results.push_back(paths);
  }
  EXPECT_FALSE(results[0].empty());
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST_F(PipelineTest, DigestsOfFileLargerThanAnyBuffer) {
  TempDir rules_dir, tree;
  // 40 MiB of 'a': larger than the buffer kept between files.
  write_file(tree / "big", std::string(40u << 20, 'a'));
  // sha256 of 40 MiB of 'a', computed independently with Python hashlib.
  write_file(rules_dir / "h.txt", "a1fde4d201c91a880700f22adb3de5cf17d3e73db0c002fd7cbc721b17571f66;big\n");
  CapturingSink sink;
  ScanOutcome o = run_scan(config_for(tree.path(), {}, {rules_dir / "h.txt"}, 2), sink, {});
  ASSERT_EQ(sink.findings.size(), 1u);
  EXPECT_EQ(sink.findings[0].size, 40u << 20);
  EXPECT_EQ(o.stats.bytes_scanned, 40u << 20);
}

TEST_F(PipelineTest, MappedLargeFileIsHashedAndScanned) {
  TempDir rules_dir, tree;
  // Above kMapThreshold, with the needle at the very end of the mapping.
  std::string big(static_cast<std::size_t>(kMapThreshold) + 4096, 'b');
  big.replace(big.size() - 6, 6, "NEEDLE");
  write_file(tree / "big", big);
  write_file(rules_dir / "r.yar", "rule needle { strings: $a = \"NEEDLE\" condition: $a at filesize - 6 }");
  write_file(rules_dir / "h.txt", sha256_hex(big) + ";big\n");
  CapturingSink sink;
  ScanOutcome o = run_scan(config_for(tree.path(), {rules_dir / "r.yar"}, {rules_dir / "h.txt"}, 1), sink, {});
  EXPECT_TRUE(sink.errors_seen.empty());
  ASSERT_EQ(sink.findings.size(), 1u);
  EXPECT_EQ(sink.findings[0].matches.size(), 2u);  // hash and YARA
  EXPECT_EQ(sink.findings[0].digests.hex(DigestKind::kSha256), sha256_hex(big));
  EXPECT_EQ(o.stats.bytes_scanned, big.size());
}

TEST_F(PipelineTest, MappedFileTruncatedUnderTheYaraScanIsAnErrorNotACrash) {
#if defined(__SANITIZE_THREAD__)
  // libyara recovers from SIGBUS by siglongjmp out of its handler and then
  // frees memory, which TSan reports as a signal-unsafe call. That is
  // libyara's design, not a race; the ASan and plain runs cover this test.
  GTEST_SKIP() << "libyara's SIGBUS recovery is reported by TSan as signal-unsafe";
#endif
  TempDir tree;
  write_file(tree / "big", std::string(static_cast<std::size_t>(kMapThreshold) + 1, 'a'));
  auto rules = CompiledRules::compile({{"r.yar", "rule last { condition: uint8(filesize - 1) == 0x61 }", ""}});
  ASSERT_TRUE(rules) << rules.error().message;
  const int dirfd = ::open(tree.path().c_str(), O_RDONLY | O_DIRECTORY);
  auto dir = std::make_shared<const DirHandle>(dirfd, tree.path());
  FileReader reader({});
  ReadOutcome out = reader.read(WalkEntry{dir, "big", tree / "big", false});
  ASSERT_TRUE(out.mapped);
  ASSERT_EQ(::truncate((tree / "big").c_str(), 0), 0);
  YaraScanner scanner(*rules);
  YaraScanResult r = scanner.scan(out.bytes, {}, /*mapped=*/true);
  EXPECT_EQ(r.error, "file shrank while being scanned");
}

/// A clock whose first sleep truncates a file: the rate limiter sleeps after
/// a file is mapped and before it is hashed, so the hash then finds it shrunk.
class TruncatingClock final : public Clock {
 public:
  explicit TruncatingClock(std::string path) : path_(std::move(path)) {}
  TimePoint now() override { return TimePoint{}; }
  bool sleep_until(TimePoint, const std::stop_token&) override {
    if (!truncated_.exchange(true)) truncate_ok_ = ::truncate(path_.c_str(), 0) == 0;
    return true;
  }
  bool truncated() const { return truncate_ok_; }

 private:
  std::string path_;
  std::atomic<bool> truncated_{false};
  bool truncate_ok_ = false;
};

TEST_F(PipelineTest, NameMatchIsReportedWhenHashingAShrunkFileFails) {
  TempDir rules_dir, tree;
  write_file(tree / "big", std::string(static_cast<std::size_t>(kMapThreshold) + 4096, 'b'));
  write_file(rules_dir / "names.txt", "/big$;70\n");
  // Any SHA-256 indicator: the file must be hashed before it is matched.
  write_file(rules_dir / "h.txt", std::string(64, 'e') + ";other\n");
  PackRequest req = request(false, {}, {rules_dir / "h.txt"});
  req.filename_ioc_paths = {rules_dir / "names.txt"};
  auto pack = load_pack(req);
  ASSERT_TRUE(pack) << pack.error().message;
  ScanConfig config;
  config.roots = {tree.path()};
  config.pack = std::move(*pack);
  TruncatingClock clock(tree / "big");
  config.clock = &clock;
  config.max_bytes_per_s = 1;  // every file sleeps, after it is mapped
  CapturingSink sink;
  ScanOutcome o = run_scan(config, sink, {});
  ASSERT_TRUE(clock.truncated());
  ASSERT_EQ(sink.errors_seen.size(), 1u);
  EXPECT_EQ(sink.errors_seen[0].path, tree / "big");
  EXPECT_EQ(sink.errors_seen[0].error.rfind("file shrank while being read", 0), 0u) << sink.errors_seen[0].error;
  ASSERT_EQ(sink.findings.size(), 1u);
  EXPECT_EQ(sink.findings[0].path, tree / "big");
  ASSERT_EQ(sink.findings[0].matches.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<FilenameMatchRecord>(sink.findings[0].matches[0]));
  EXPECT_EQ(sink.findings[0].score, 70);
  EXPECT_EQ(o.stats.findings, 1u);
  EXPECT_EQ(o.stats.files_scanned, 0u);
}

TEST_F(PipelineTest, ProcFileIsScannedWithItsGeneratedBytes) {
  TempDir rules_dir;
  write_file(rules_dir / "r.yar", "rule status { strings: $a = \"\\nPid:\" condition: $a }");
  CapturingSink sink;
  auto config = config_for("/proc/self/status", {rules_dir / "r.yar"}, {}, 1);
  ScanOutcome o = run_scan(config, sink, {});
  EXPECT_TRUE(sink.errors_seen.empty()) << sink.errors_seen[0].error;
  EXPECT_EQ(o.stats.files_scanned, 1u);
  EXPECT_GT(o.stats.bytes_scanned, 0u);
  ASSERT_EQ(sink.findings.size(), 1u);
  EXPECT_EQ(sink.findings[0].path, "/proc/self/status");
  EXPECT_EQ(sink.findings[0].size, o.stats.bytes_scanned);
}

TEST_F(PipelineTest, TooLargeFilesAreSkippedAndCounted) {
  TempDir tree;
  write_file(tree / "big", std::string(2000, 'x'));
  write_file(tree / "small", "x");
  CapturingSink sink;
  auto config = config_for(tree.path(), {}, {}, 1);
  config.read.max_filesize = 1000;
  ScanOutcome o = run_scan(config, sink, {});
  EXPECT_EQ(o.stats.files_scanned, 1u);
  EXPECT_EQ(o.stats.files_skipped, 1u);
  ASSERT_EQ(sink.skipped_seen.size(), 1u);
  EXPECT_EQ(sink.skipped_seen[0].path, tree / "big");
  EXPECT_EQ(sink.skipped_seen[0].reason, "too_large");
}

TEST_F(PipelineTest, StopRequestedBeforeStartGivesIncompleteReport) {
  TempDir tree;
  for (int i = 0; i < 100; ++i) write_file(tree / ("f" + std::to_string(i)), "x");
  std::stop_source stop;
  stop.request_stop();
  CapturingSink sink;
  ScanOutcome o = run_scan(config_for(tree.path(), {}, {}, 2), sink, stop.get_token());
  EXPECT_FALSE(o.complete);
  EXPECT_FALSE(sink.end_state.complete);
  EXPECT_LT(o.stats.files_scanned, 100u);
}

TEST_F(PipelineTest, LoadPackErrorsNameTheFile) {
  TempDir d;
  write_file(d / "bad.txt", "abc;not a hash\n");
  auto pack = load_pack(request(false, {}, {d / "bad.txt"}));
  ASSERT_FALSE(pack);
  EXPECT_EQ(pack.error().message,
            d / "bad.txt" + ":1: hash has 3 hex digits; expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256)");
  auto missing = load_pack(request(false, {d / "nope.yar"}, {}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, d / "nope.yar" + ": No such file or directory");
  test::make_dir(d / "empty");
  auto empty_dir = load_pack(request(false, {d / "empty"}, {}));
  ASSERT_FALSE(empty_dir);
  EXPECT_NE(empty_dir.error().message.find("no .yar or .yara files"), std::string::npos);
}

TEST_F(PipelineTest, RuleDirectoryLoadsEveryRuleFileInOrder) {
  TempDir d;
  write_file(d / "b.yara", "rule b { condition: false }");
  write_file(d / "a.yar", "rule a { condition: false }");
  write_file(d / "notes.txt", "not rules");
  auto pack = load_pack(request(false, {d.path()}, {}));
  ASSERT_TRUE(pack) << pack.error().message;
  ASSERT_EQ(pack->rules->rulesets().size(), 2u);
  EXPECT_EQ(pack->rules->rulesets()[0].name, d / "a.yar");
  EXPECT_EQ(pack->rules->rulesets()[1].name, d / "b.yara");
}

TEST_F(PipelineTest, BuiltinPackLoads) {
  auto pack = load_pack(request(true, {}, {}));
  ASSERT_TRUE(pack) << pack.error().message;
  ASSERT_TRUE(pack->rules);
  EXPECT_GE(pack->rules->rules().size(), 1u);
  EXPECT_GE(pack->hash_iocs->size(), 10u);
  for (const auto& set : pack->hash_iocs->sets()) EXPECT_EQ(set.name.rfind("builtin:", 0), 0u);
}

// True when one of `warnings` contains `text`.
bool warned(const std::vector<std::string>& warnings, const std::string& text) {
  return std::any_of(warnings.begin(), warnings.end(),
                     [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

std::string all_of(const std::vector<std::string>& warnings) {
  std::string out;
  for (const std::string& w : warnings) out += w.substr(0, 300) + "\n";
  return out;
}

const std::string kAbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kAbcMd5 = "900150983cd24fb0d6963f7d28e17f72";

TEST_F(PipelineTest, NamedListsInsideAnIocsDirectoryAreLoadedAsTheirOptionSays) {
  TempDir d;
  write_file(d / "hash-iocs.txt", kAbcSha256 + ";evil\n");
  write_file(d / "known-good-hashes.txt", kAbcMd5 + ";known good\n");
  write_file(d / "custom.txt", "\\\\evil\\.exe;80\n");
  PackRequest r = request(false, {}, {d.path()});
  r.allow_hash_paths = {d / "known-good-hashes.txt"};
  r.filename_ioc_paths = {d / "custom.txt"};
  auto pack = load_pack(r);
  ASSERT_TRUE(pack) << pack.error().message;
  ASSERT_EQ(pack->hash_iocs->sets().size(), 1u);
  EXPECT_EQ(pack->hash_iocs->sets()[0].name, d / "hash-iocs.txt");
  ASSERT_EQ(pack->allow_hashes->sets().size(), 1u);
  EXPECT_EQ(pack->allow_hashes->sets()[0].name, d / "known-good-hashes.txt");
  ASSERT_EQ(pack->filename_iocs->sets().size(), 1u);
  EXPECT_EQ(pack->filename_iocs->sets()[0].name, d / "custom.txt");
  EXPECT_FALSE(warned(pack->warnings, "ignored")) << all_of(pack->warnings);

  // Named by --iocs too: the more specific option still decides.
  PackRequest both = request(false, {}, {d / "known-good-hashes.txt"});
  both.allow_hash_paths = {d / "known-good-hashes.txt"};
  auto pack2 = load_pack(both);
  ASSERT_TRUE(pack2) << pack2.error().message;
  EXPECT_EQ(pack2->hash_iocs->size(), 0u);
  EXPECT_EQ(pack2->allow_hashes->size(), 1u);
}

TEST_F(PipelineTest, AnIocsFileIsClassifiedByItsNameAsInADirectory) {
  TempDir d;
  write_file(d / "filename-iocs.txt", "\\\\evil\\.exe;80\n");
  write_file(d / "falsepositive-hashes.txt", kAbcMd5 + ";known good\n");
  auto pack = load_pack(request(false, {}, {d / "filename-iocs.txt", d / "falsepositive-hashes.txt"}));
  ASSERT_TRUE(pack) << pack.error().message;
  EXPECT_EQ(pack->filename_iocs->size(), 1u);
  EXPECT_EQ(pack->allow_hashes->size(), 1u);
  EXPECT_EQ(pack->hash_iocs->size(), 0u);

  // In a directory, a JSON export whose name says "hash" is still JSON.
  TempDir dir;
  write_file(dir / "misp-hashes.json",
             R"({"Event": {"info": "e", "Attribute": [{"uuid": "a1", "type": "md5", "value": ")" + kAbcMd5 +
                 R"(", "to_ids": true}]}})");
  write_file(dir / "stix-hashes.txt",
             R"({"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "id": "indicator--a",)"
             R"( "pattern": "[file:hashes.'SHA-256' = ')" +
                 kAbcSha256 + R"(']"}]})");
  auto from_dir = load_pack(request(false, {}, {dir.path()}));
  ASSERT_TRUE(from_dir) << from_dir.error().message;
  EXPECT_EQ(from_dir->hash_iocs->size(), 2u) << all_of(from_dir->warnings);
  EXPECT_FALSE(warned(from_dir->warnings, "skipped")) << all_of(from_dir->warnings);
}

TEST_F(PipelineTest, ASkippedJsonFileInADirectoryLeavesNothingBehind) {
  TempDir d;
  write_file(d / "feed.json", R"({"type": "bundle", "id": "bundle--1", "objects": [)"
                              R"({"type": "indicator", "id": "indicator--h", "pattern": "[file:hashes.MD5 = ')" +
                                  kAbcMd5 +
                                  R"(']"}, {"type": "indicator", "id": "indicator--long", "pattern": "[file:name = ')" +
                                  std::string(300000, 'k') + R"(']"}]})");
  auto pack = load_pack(request(false, {}, {d.path()}));
  ASSERT_TRUE(pack) << pack.error().message;
  EXPECT_EQ(pack->hash_iocs->size(), 0u);
  EXPECT_TRUE(pack->hash_iocs->sets().empty());
  EXPECT_EQ(pack->filename_iocs->size(), 0u);
  EXPECT_TRUE(warned(pack->warnings, d / "feed.json: indicator--long: file name 'kkk")) << all_of(pack->warnings);
  EXPECT_TRUE(warned(pack->warnings, "(file skipped)")) << all_of(pack->warnings);
}

TEST_F(PipelineTest, FilesAndDirectoriesGivingNoIndicatorsAreWarnedAbout) {
  TempDir d;
  write_file(d / "observables.json",
             R"({"type": "bundle", "id": "bundle--2", "objects": [)"
             R"({"type": "file", "id": "file--1", "name": "evil.exe", "hashes": {"SHA-256": ")" +
                 kAbcSha256 +
                 R"("}}, {"type": "observed-data", "id": "observed-data--1", "object_refs": ["file--1"]}]})");
  write_file(d / "comments.txt", "# nothing yet\n\n");
  write_file(d / "empty-allow.txt", "");
  test::make_dir(d / "empty");
  test::make_dir(d / "other");
  write_file(d / "other/README.md", "not a list\n");
  PackRequest r = request(false, {}, {d / "observables.json", d / "comments.txt", d / "empty", d / "other"});
  r.allow_hash_paths = {d / "empty-allow.txt"};
  auto pack = load_pack(r);
  ASSERT_TRUE(pack) << pack.error().message;
  const auto& w = pack->warnings;
  EXPECT_TRUE(warned(w, d / "observables.json: no indicators loaded: the STIX bundle holds no indicator objects, "
                            "only 2 other object(s)"))
      << all_of(w);
  EXPECT_TRUE(warned(w, d / "comments.txt: no indicators loaded: it holds only comments and blank lines")) << all_of(w);
  EXPECT_TRUE(warned(w, d / "empty-allow.txt: no indicators loaded: the file is empty")) << all_of(w);
  EXPECT_TRUE(warned(w, d / "empty: no indicators loaded: the directory holds no files")) << all_of(w);
  EXPECT_TRUE(warned(w, d / "other: no indicators loaded: no file name in it says")) << all_of(w);

  // A STIX bundle whose indicators all point elsewhere says so.
  write_file(d / "network.json", R"({"type": "bundle", "id": "bundle--3", "objects": [{"type": "indicator", )"
                                 R"("id": "indicator--n", "pattern": "[ipv4-addr:value = '203.0.113.7']"}]})");
  auto network = load_pack(request(false, {}, {d / "network.json"}));
  ASSERT_TRUE(network) << network.error().message;
  EXPECT_TRUE(warned(network->warnings, d / "network.json: 1 indicator(s) not imported")) << all_of(network->warnings);
  EXPECT_TRUE(warned(network->warnings, d / "network.json: no indicators loaded: none of the STIX bundle's"))
      << all_of(network->warnings);
}

TEST_F(PipelineTest, EmptyFileDigestsInANamedHashListAreSkippedWithAWarning) {
  TempDir d;
  Hasher hasher;
  const Digests empty = hasher.digest({});
  write_file(d / "otx.txt", empty.hex(DigestKind::kMd5) + ";OTX\n" + kAbcMd5 + ";real\n");
  auto pack = load_pack(request(false, {}, {d / "otx.txt"}));
  ASSERT_TRUE(pack) << pack.error().message;
  EXPECT_EQ(pack->hash_iocs->size(), 1u);
  EXPECT_TRUE(warned(pack->warnings, d / "otx.txt:1: md5 of an empty file")) << all_of(pack->warnings);
}

}  // namespace
}  // namespace iocsweep
