// Incremental sweeps end to end: the built binary with --cache on trees
// made here.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "archive_builder.hpp"
#include "iocsweep/hash.hpp"
#include "report_support.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::finding_for;
using test::parse_report;
using test::run;
using test::RunResult;
using test::TempDir;
using test::write_file;

const std::string kBin = IOCSWEEP_BINARY;
constexpr const char* kEngineRule = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine";

bool has_yara(const json& finding, const std::string& rule) {
  for (const json& m : finding["matches"]) {
    if (m["type"] == "yara" && m["rule"] == rule) return true;
  }
  return false;
}

// iocsweep does not cache a file changed within 100 ms of its read (its
// ctime could still equal a following change's); wait that out.
void let_ctime_settle() { std::this_thread::sleep_for(std::chrono::milliseconds(250)); }

struct Tree {
  TempDir dir, cfg;
  std::string positive = test::synth_swift_engine();
  Tree() {
    write_file(dir / "evtdiag.exe", positive);
    write_file(dir / "a.txt", "alpha text");
    write_file(dir / "b.txt", "bravo text");
    write_file(dir / "empty", "");
    let_ctime_settle();
  }
  static constexpr int kFiles = 4;
  std::string cache() const { return cfg / "scan.db"; }
  RunResult scan(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{kBin, "scan", "--format", "json", "--cache", cache()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(dir.path());
    return run(args);
  }
};

// Sets a file's mtime (and atime) to `ns` since the epoch; ctime becomes now.
void set_mtime(const std::string& path, std::int64_t ns) {
  const timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  const timespec both[2] = {ts, ts};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), both, 0), 0);
}

std::int64_t mtime_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

TEST(CacheCli, SecondRunOverUnchangedTreeIsAnsweredFromCache) {
  Tree t;
  RunResult first = t.scan();
  ASSERT_EQ(first.exit_code, 1) << first.err;
  json d1 = parse_report(first);
  EXPECT_EQ(d1["stats"]["files_cached"], 0);
  const json* f1 = finding_for(d1, t.dir / "evtdiag.exe");
  ASSERT_NE(f1, nullptr);
  EXPECT_FALSE(f1->contains("cached"));

  RunResult second = t.scan();
  ASSERT_EQ(second.exit_code, 1) << second.err;
  json d2 = parse_report(second);
  EXPECT_EQ(d2["stats"]["files_scanned"], Tree::kFiles);
  EXPECT_EQ(d2["stats"]["files_cached"], Tree::kFiles);
  EXPECT_EQ(d2["stats"]["bytes_scanned"], 0);
  ASSERT_EQ(d2["findings"].size(), d1["findings"].size());
  const json* f2 = finding_for(d2, t.dir / "evtdiag.exe");
  ASSERT_NE(f2, nullptr);
  EXPECT_EQ((*f2)["cached"], true);
  EXPECT_EQ((*f2)["matches"], (*f1)["matches"]);
  EXPECT_EQ((*f2)["sha256"], (*f1)["sha256"]);
  EXPECT_EQ((*f2)["md5"], (*f1)["md5"]);
  EXPECT_EQ((*f2)["sha1"], (*f1)["sha1"]);
  EXPECT_EQ((*f2)["score"], (*f1)["score"]);
  EXPECT_TRUE(has_yara(*f2, kEngineRule));

  // The text report marks it too.
  RunResult text = run({kBin, "scan", "--format", "text", "--cache", t.cache(), t.dir.path()});
  EXPECT_NE(text.out.find("evtdiag.exe (cached)"), std::string::npos) << text.out;
}

TEST(CacheCli, TouchedFileIsReadAgain) {
  Tree t;
  ASSERT_EQ(t.scan().exit_code, 1);
  set_mtime(t.dir / "a.txt", mtime_of(t.dir / "a.txt") + 1000000000);
  json d = parse_report(t.scan());
  EXPECT_EQ(d["stats"]["files_cached"], Tree::kFiles - 1);
  EXPECT_EQ(d["stats"]["bytes_scanned"], std::string("alpha text").size());
}

TEST(CacheCli, ContentChangeWithMtimeRestoredIsReadAgain) {
  Tree t;
  ASSERT_EQ(t.scan().exit_code, 1);
  // An attacker swaps a cached benign file for the engine and sets its
  // mtime back: ctime still moves, so the file is read and found.
  const std::string target = t.dir / "b.txt";
  const std::int64_t old_mtime = mtime_of(target);
  write_file(target, t.positive);
  set_mtime(target, old_mtime);
  ASSERT_EQ(mtime_of(target), old_mtime);
  RunResult r = t.scan();
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json d = parse_report(r);
  EXPECT_EQ(d["stats"]["files_cached"], Tree::kFiles - 1);
  const json* f = finding_for(d, target);
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_FALSE(f->contains("cached"));
  EXPECT_TRUE(has_yara(*f, kEngineRule));
}

TEST(CacheCli, RuleChangeRescansEverything) {
  Tree t;
  ASSERT_EQ(t.scan().exit_code, 1);
  write_file(t.cfg / "extra.yar", "rule Test_Alpha { strings: $a = \"alpha text\" condition: $a }\n");
  RunResult r = t.scan({"--rules", t.cfg / "extra.yar"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json d = parse_report(r);
  EXPECT_EQ(d["stats"]["files_cached"], 0);
  const json* f = finding_for(d, t.dir / "a.txt");
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_TRUE(has_yara(*f, "Test_Alpha"));
  // Same rules again: everything from the cache, the new verdict included.
  json again = parse_report(t.scan({"--rules", t.cfg / "extra.yar"}));
  EXPECT_EQ(again["stats"]["files_cached"], Tree::kFiles);
  const json* g = finding_for(again, t.dir / "a.txt");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ((*g)["cached"], true);
  EXPECT_TRUE(has_yara(*g, "Test_Alpha"));
  // A changed rule file (same path) is a different rule set.
  write_file(t.cfg / "extra.yar", "rule Test_Bravo { strings: $a = \"bravo text\" condition: $a }\n");
  json changed = parse_report(t.scan({"--rules", t.cfg / "extra.yar"}));
  EXPECT_EQ(changed["stats"]["files_cached"], 0);
  EXPECT_EQ(finding_for(changed, t.dir / "a.txt"), nullptr);
  EXPECT_NE(finding_for(changed, t.dir / "b.txt"), nullptr);
}

// New indicators are matched against the cached digests: no file is read
// again except the new finding, whose entry lacks the SHA-1 (the built-in
// pack needs none for a file of its size) that every finding carries.
TEST(CacheCli, IndicatorChangeUsesCachedDigestsAndRereadsOnlyTheNewFinding) {
  Tree t;
  ASSERT_EQ(t.scan().exit_code, 1);
  write_file(t.cfg / "iocs.txt", sha256_hex("bravo text") + ";90;new indicator\n");
  RunResult r = t.scan({"--iocs", t.cfg / "iocs.txt"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json d = parse_report(r);
  EXPECT_EQ(d["stats"]["files_cached"], Tree::kFiles - 1);
  EXPECT_EQ(d["stats"]["bytes_scanned"], std::string("bravo text").size());
  const json* f = finding_for(d, t.dir / "b.txt");
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_FALSE(f->value("cached", false));
  EXPECT_EQ((*f)["sha1"].get<std::string>().size(), 40u);
  EXPECT_EQ((*f)["sha256"], sha256_hex("bravo text"));
  ASSERT_EQ((*f)["matches"].size(), 1u);
  EXPECT_EQ((*f)["matches"][0]["type"], "hash");
  EXPECT_EQ((*f)["matches"][0]["description"], "new indicator");
}

// The digests a run computed for a file, as the cache holds them: which
// kinds are there ("" when the file has no entry).
std::string cached_kinds(const std::string& cache, const std::string& path) {
  sqlite3* db = nullptr;
  std::string kinds;
  if (sqlite3_open_v2(cache.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return "(no db)";
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT md5 IS NOT NULL, sha1 IS NOT NULL, sha256 IS NOT NULL FROM files WHERE path = ?1",
                         -1, &st, nullptr) == SQLITE_OK) {
    sqlite3_bind_blob(st, 1, path.data(), static_cast<int>(path.size()), SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      if (sqlite3_column_int(st, 0) != 0) kinds += "md5 ";
      if (sqlite3_column_int(st, 1) != 0) kinds += "sha1 ";
      if (sqlite3_column_int(st, 2) != 0) kinds += "sha256";
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return kinds;
}

// The built-in pack's SHA-1 indicators all carry the file size its source
// gives, so files of other sizes are not hashed with SHA-1 (MD5 and SHA-256
// indicators have no size: every file gets those). A finding still gets all
// three. A sized indicator of the user's matches only its size, and a cache
// entry without the kind it now needs makes the file be read again.
TEST(CacheCli, SizedHashIndicatorsAreHashedOnlyForFilesOfTheirSize) {
  Tree t;
  ASSERT_EQ(t.scan().exit_code, 1);
  EXPECT_EQ(cached_kinds(t.cache(), t.dir / "a.txt"), "md5 sha256");
  EXPECT_EQ(cached_kinds(t.cache(), t.dir / "empty"), "md5 sha256");

  const std::string sha1_alpha = "d2b77760623c9a5e27cc5cced16f1609fc04158d";  // of "alpha text" (10 bytes)
  Hasher hasher;
  const std::string alpha = "alpha text";
  ASSERT_EQ(
      hasher.digest(ByteView(reinterpret_cast<const std::uint8_t*>(alpha.data()), alpha.size())).hex(DigestKind::kSha1),
      sha1_alpha);
  write_file(t.cfg / "wrong-size.txt", sha1_alpha + " size=11;90;sized, wrong size\n");
  RunResult wrong = t.scan({"--iocs", t.cfg / "wrong-size.txt"});
  ASSERT_EQ(wrong.exit_code, 1) << wrong.err;
  EXPECT_EQ(finding_for(parse_report(wrong), t.dir / "a.txt"), nullptr) << wrong.out;
  EXPECT_EQ(parse_report(wrong)["stats"]["files_cached"], Tree::kFiles);  // no file of 11 bytes: nothing re-read

  write_file(t.cfg / "right-size.txt", sha1_alpha + " size=10;90;sized, right size\n");
  RunResult right = t.scan({"--iocs", t.cfg / "right-size.txt"});
  ASSERT_EQ(right.exit_code, 1) << right.err;
  const json d = parse_report(right);
  const json* f = finding_for(d, t.dir / "a.txt");
  ASSERT_NE(f, nullptr) << right.out;
  EXPECT_FALSE(f->value("cached", false));  // its entry had no SHA-1: read again
  EXPECT_EQ((*f)["sha1"], sha1_alpha);
  EXPECT_EQ((*f)["sha256"], sha256_hex("alpha text"));
  ASSERT_EQ((*f)["matches"].size(), 1u);
  EXPECT_EQ((*f)["matches"][0]["description"], "sized, right size");
  EXPECT_EQ(cached_kinds(t.cache(), t.dir / "a.txt"), "md5 sha1 sha256");
  EXPECT_EQ(cached_kinds(t.cache(), t.dir / "b.txt"), "md5 sha1 sha256");  // also 10 bytes
  EXPECT_EQ(cached_kinds(t.cache(), t.dir / "empty"), "md5 sha256");
}

// --max-filesize applies to cached files too: an entry from a sweep with a
// larger limit does not turn a now too large file into a scanned one.
TEST(CacheCli, FileAboveTheCurrentMaxFilesizeIsSkippedNotAnsweredFromCache) {
  Tree t;
  ASSERT_EQ(t.scan().exit_code, 1);
  json d = parse_report(t.scan({"--max-filesize", "8"}));         // a.txt, b.txt and evtdiag.exe are larger
  EXPECT_EQ(d["stats"]["files_cached"], 1) << d["stats"].dump();  // only "empty"
  std::set<std::string> too_large;
  for (const json& s : d["skipped"]) {
    if (s["reason"] == "too_large") too_large.insert(s["path"].get<std::string>());
  }
  EXPECT_EQ(too_large, (std::set<std::string>{t.dir / "a.txt", t.dir / "b.txt", t.dir / "evtdiag.exe"}));
}

TEST(CacheCli, NoCacheIgnoresCacheFile) {
  Tree t;
  json d = parse_report(t.scan({"--no-cache"}));
  EXPECT_EQ(d["stats"]["files_cached"], 0);
  EXPECT_NE(::access(t.cache().c_str(), F_OK), 0) << "no cache file may be created";
  ASSERT_EQ(t.scan().exit_code, 1);
  json again = parse_report(t.scan({"--no-cache"}));
  EXPECT_EQ(again["stats"]["files_cached"], 0);
  EXPECT_EQ(again["stats"]["files_scanned"], Tree::kFiles);
}

TEST(CacheCli, VerifyCacheReportsContentThatChangedUnderAnUnchangedKey) {
  Tree t;
  ASSERT_EQ(t.scan().exit_code, 1);
  // Simulates content changed behind an unchanged stat key (what only a
  // privileged writer, or a raw-device edit, could do): the cache entry
  // for a.txt claims other bytes.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(t.cache().c_str(), &db), SQLITE_OK);
  const std::string path = t.dir / "a.txt";
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE files SET sha256 = zeroblob(32) WHERE path = ?1", -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(st, 1, path.data(), static_cast<int>(path.size()), SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);

  RunResult r = t.scan({"--verify-cache"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json d = parse_report(r);
  EXPECT_EQ(d["stats"]["files_cached"], 0);
  EXPECT_EQ(d["stats"]["files_scanned"], Tree::kFiles);
  ASSERT_EQ(d["errors"].size(), 1u) << r.out;
  EXPECT_EQ(d["errors"][0]["path"], path);
  EXPECT_NE(d["errors"][0]["error"].get<std::string>().find("content differs from the scan cache"), std::string::npos);
  // The entry was refreshed: verifying again finds nothing wrong.
  json again = parse_report(t.scan({"--verify-cache"}));
  EXPECT_TRUE(again["errors"].empty()) << again.dump(2);
  EXPECT_EQ(parse_report(t.scan())["stats"]["files_cached"], Tree::kFiles);
}

TEST(CacheCli, VerifyCacheNeedsCache) {
  Tree t;
  RunResult r = run({kBin, "scan", "--verify-cache", t.dir.path()});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(CacheCli, CacheInsideScannedRootIsFatalAndNamesTheFix) {
  Tree t;
  const std::string inside = t.dir / "scan.db";
  RunResult r = run({kBin, "scan", "--cache", inside, t.dir.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--exclude '" + inside + "*'"), std::string::npos) << r.err;
  EXPECT_NE(::access(inside.c_str(), F_OK), 0) << "nothing may be written in the scanned tree";
  // With the suggested exclude, it is allowed, and the cache files are
  // not swept.
  RunResult ok = run({kBin, "scan", "--cache", inside, "--exclude", inside + "*", t.dir.path()});
  EXPECT_EQ(ok.exit_code, 1) << ok.err;
  json d = parse_report(ok);
  EXPECT_EQ(d["stats"]["files_scanned"], Tree::kFiles);
}

TEST(CacheCli, CorruptCacheFileIsFatalAndUntouched) {
  Tree t;
  write_file(t.cache(), "this is not a database, but somebody's notes\n");
  RunResult r = t.scan();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(t.cache()), std::string::npos) << r.err;
  EXPECT_EQ(test::read_file(t.cache()), "this is not a database, but somebody's notes\n");
}

// Runs iocsweep in the background; SIGKILLs it once its cache has a
// committed batch; the cache must stay sound and usable.
TEST(CacheCli, KilledRunLeavesSoundCache) {
  TempDir tree, cfg;
  constexpr int kDirs = 60, kPerDir = 500;
  for (int d = 0; d < kDirs; ++d) {
    const std::string dir = tree / ("d" + std::to_string(d));
    test::make_dir(dir);
    for (int i = 0; i < kPerDir; ++i) write_file(dir + "/f" + std::to_string(i), "file " + std::to_string(i));
  }
  let_ctime_settle();
  const std::string cache = cfg / "scan.db";
  const std::vector<std::string> args{kBin,  "scan", "--threads",    "2",        "--cache",
                                      cache, "-o",   cfg / "r.json", tree.path()};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  // The first batch is committed after ScanCache::kBatchRows files or a
  // second: wait (reading beside the writer, as WAL allows) until one is.
  sqlite3* watcher = nullptr;
  bool exited = false;
  int status = 0;
  for (;;) {
    if (watcher == nullptr && ::access(cache.c_str(), F_OK) == 0) {
      ASSERT_EQ(sqlite3_open_v2(cache.c_str(), &watcher, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
      sqlite3_busy_timeout(watcher, 1000);
    }
    if (watcher != nullptr) {
      sqlite3_stmt* count = nullptr;
      std::int64_t n = 0;
      if (sqlite3_prepare_v2(watcher, "SELECT count(*) FROM files", -1, &count, nullptr) == SQLITE_OK &&
          sqlite3_step(count) == SQLITE_ROW) {
        n = sqlite3_column_int64(count, 0);
      }
      sqlite3_finalize(count);
      if (n > 0) break;
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  sqlite3_close(watcher);
  ASSERT_FALSE(exited) << "iocsweep finished before a batch was seen";
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  // If it finished all the same, the test proves less: say so.
  ASSERT_TRUE(WIFSIGNALED(status)) << "iocsweep finished before it could be killed";

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(cache.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM files", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  const auto rows = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_GT(rows, 0);
  EXPECT_LT(rows, kDirs * kPerDir);

  // The next run works and re-uses what the killed one committed.
  RunResult r = run({kBin, "scan", "--cache", cache, tree.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json d = parse_report(r);
  EXPECT_EQ(d["stats"]["files_scanned"], kDirs * kPerDir);
  EXPECT_EQ(d["stats"]["files_cached"], rows);
  EXPECT_EQ(parse_report(run({kBin, "scan", "--cache", cache, tree.path()}))["stats"]["files_cached"], kDirs * kPerDir);
}

TEST(CacheCli, NotAnArchiveVerdictOfAnOlderRecognitionDoesNotAnswer) {
  // A zip behind one junk byte, which recognition by magic at offset 0 took
  // for a plain file: the row such a sweep stored ("checked, not an
  // archive", no recognition mark) must not hide its members now.
  Tree t;
  const std::string zip = test::make_archive("zip", {{"bin/evtdiag.exe", t.positive}});
  write_file(t.dir / "junk.zip", "J" + zip);
  let_ctime_settle();
  ASSERT_EQ(t.scan({"--archives", "off"}).exit_code, 1);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(t.cache().c_str(), &db), SQLITE_OK);
  const std::string path = t.dir / "junk.zip";
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(db, "UPDATE files SET not_archive = 1, members_fp = '' WHERE path = ?1", -1, &st, nullptr),
      SQLITE_OK);
  sqlite3_bind_blob(st, 1, path.data(), static_cast<int>(path.size()), SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_close(db);

  RunResult r = t.scan();
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(test::finding_for(parse_report(r), path, {"bin/evtdiag.exe"}), nullptr) << r.out;
}

}  // namespace
}  // namespace iocsweep
