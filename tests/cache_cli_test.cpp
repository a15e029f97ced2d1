// Incremental sweeps end to end: the built binary with --cache on trees
// made here.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "archive_builder.hpp"
#include "iocsweep/cache.hpp"
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

const std::string kBin = iocsweep::test::binary_under_test();
constexpr const char* kEngineRule = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine";

bool has_yara(const json& finding, const std::string& rule) {
  for (const json& m : finding["matches"]) {
    if (m["type"] == "yara" && m["rule"] == rule) return true;
  }
  return false;
}

// iocsweep does not cache a file changed within 100 ms of its stat (its
// ctime could still equal a following change's); wait that out. The
// writeback delay it also waits for by default (70 s) is turned off with
// kNoWritebackDelay where a test does not need it.
void let_ctime_settle() { std::this_thread::sleep_for(std::chrono::milliseconds(250)); }
const std::vector<std::string> kNoWritebackDelay{"--cache-min-age", "0"};

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
    args.insert(args.end(), kNoWritebackDelay.begin(), kNoWritebackDelay.end());
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

// The stat key the cache stores for `path`.
FileKey key_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return file_key_of(st);
}

// The entry a run stored for `path` under its current key, read through
// the cache's own interface (the file layout is the cache's business).
std::optional<CachedFile> cached_entry(const std::string& cache, const std::string& path) {
  auto c = ScanCache::open(cache);
  if (!c) {
    ADD_FAILURE() << c.error().message;
    return std::nullopt;
  }
  auto reader = (*c)->reader();
  if (!reader) {
    ADD_FAILURE() << reader.error().message;
    return std::nullopt;
  }
  return (*reader)->find(path, key_of(path));
}

// Replaces the entry for `path` (which must have one) by `edit` of it.
void edit_entry(const std::string& cache, const std::string& path, const std::function<void(CachedFile&)>& edit) {
  std::optional<CachedFile> entry = cached_entry(cache, path);
  ASSERT_TRUE(entry.has_value()) << path;
  edit(*entry);
  auto c = ScanCache::open(cache);
  ASSERT_TRUE(c) << c.error().message;
  (*c)->store(path, key_of(path), *entry);
  Status flushed = (*c)->flush();
  ASSERT_TRUE(flushed) << flushed.error().message;
}

// The digests a run computed for a file, as the cache holds them: which
// kinds are there ("" when the file has no entry).
std::string cached_kinds(const std::string& cache, const std::string& path) {
  std::string kinds;
  const std::optional<CachedFile> entry = cached_entry(cache, path);
  if (!entry) return kinds;
  if (entry->digests.present.has(DigestKind::kMd5)) kinds += "md5 ";
  if (entry->digests.present.has(DigestKind::kSha1)) kinds += "sha1 ";
  if (entry->digests.present.has(DigestKind::kSha256)) kinds += "sha256";
  return kinds;
}

// Files the cache holds entries for, by a connection of its own (an entry
// replaced by a newer one in another row counts twice).
std::int64_t stored_entries(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  std::int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT coalesce(sum(files), 0) FROM dir_entries", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return n;
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
  const std::string path = t.dir / "a.txt";
  edit_entry(t.cache(), path, [](CachedFile& f) {
    ASSERT_TRUE(f.digests.present.has(DigestKind::kSha256));
    f.digests.sha256.fill(0);
  });

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

std::int64_t ctime_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

// A file mapped MAP_SHARED and writable, as an attacker holds it: writes
// through it go to the page cache without a write() call.
class SharedMapping {
 public:
  explicit SharedMapping(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    struct stat st {};
    if (fd_ < 0 || ::fstat(fd_, &st) != 0) throw std::runtime_error("cannot open " + path);
    size_ = static_cast<std::size_t>(st.st_size);
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) throw std::runtime_error("cannot map " + path);
    map_ = static_cast<char*>(p);
  }
  ~SharedMapping() {
    ::munmap(map_, size_);
    ::close(fd_);
  }
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;
  // Replaces the whole content (same size) through the mapping.
  void overwrite(const std::string& bytes) {
    if (bytes.size() != size_) throw std::runtime_error("overwrite: size differs");
    std::memcpy(map_, bytes.data(), size_);
  }

 private:
  int fd_ = -1;
  std::size_t size_ = 0;
  char* map_ = nullptr;
};

// The attack: DIR/report.bin, benign, is mapped and written once (the write
// fault moves its times and dirties the page), swept into the cache after
// the racy window, then rewritten with the engine through the same mapping
// (no fault: the page is still dirty). The next sweep must read it and find
// the engine. Skips when this kernel moved the key after all.
void expect_rewrite_through_mapping_found(const std::string& dir, const std::vector<std::string>& options) {
  TempDir cfg;
  const std::string positive = test::synth_swift_engine();
  const std::string target = dir + "/report.bin";
  write_file(target, std::string(positive.size(), 'A'));
  SharedMapping mapping(target);
  mapping.overwrite(std::string(positive.size(), 'B'));
  let_ctime_settle();
  std::vector<std::string> args{kBin, "scan", "--format", "json", "--cache", cfg / "scan.db"};
  args.insert(args.end(), options.begin(), options.end());
  args.push_back(dir);
  ASSERT_EQ(run(args).exit_code, 0);

  const std::int64_t ctime = ctime_of(target), mtime = mtime_of(target);
  mapping.overwrite(positive);
  ASSERT_EQ(test::read_file(target), positive);
  if (ctime_of(target) != ctime || mtime_of(target) != mtime) GTEST_SKIP() << "the write moved the file's times";
  RunResult r = run(args);
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  json d = parse_report(r);
  EXPECT_EQ(d["stats"]["files_cached"], 0);
  const json* f = finding_for(d, target);
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_TRUE(has_yara(*f, kEngineRule));
}

// tmpfs pages are never written back, so never write-protected again:
// after the first write through a mapping no later one moves the times.
// Without the writeback delay, the filesystem type alone must keep the
// file out of the cache.
TEST(CacheCli, FileOnTmpfsRewrittenThroughASharedMappingIsFound) {
  struct statfs fs {};
  if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) GTEST_SKIP() << "/dev/shm is not a tmpfs";
  TempDir shm("/dev/shm");
  expect_rewrite_through_mapping_found(shm.path(), kNoWritebackDelay);
}

// On a disk filesystem a write fault updates the times only when the page
// is clean (written back): a page dirtied through a mapping before the
// sweep read the file can be rewritten without a trace until writeback.
TEST(CacheCli, FileRewrittenThroughAStillDirtyMappingIsFound) {
  TempDir tree;
  struct statfs fs {};
  if (::statfs(tree.path().c_str(), &fs) != 0 || fs.f_type != EXT4_SUPER_MAGIC) {
    GTEST_SKIP() << "needs the test directory on ext4";
  }
  expect_rewrite_through_mapping_found(tree.path(), {});
}

TEST(CacheCli, CacheOthersCouldEditIsFatal) {
  Tree t;
  ASSERT_EQ(t.scan().exit_code, 1);
  ASSERT_EQ(::chmod(t.cache().c_str(), 0666), 0);
  RunResult r = t.scan();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(t.cache() + ": scan cache is writable by group or others (mode 0666)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
  ASSERT_EQ(::chmod(t.cache().c_str(), 0600), 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(t.cache().c_str(), 65534, 65534), 0);
    RunResult other = t.scan();
    EXPECT_EQ(other.exit_code, 2);
    EXPECT_NE(other.err.find(t.cache() + ": scan cache belongs to uid 65534"), std::string::npos) << other.err;
  }
}

// The schema cannot be written (here a file size limit; a full disk or a
// quota alike): exit 2, and the cache file and its -wal are gone again.
TEST(CacheCli, CacheThatCannotBeCreatedIsRemovedAgain) {
  Tree t;
  const std::string command = "trap '' XFSZ; ulimit -f 1; exec \"$0\" \"$@\"";
  // The words after the script are $0 and $@: the binary, or the emulator and the binary.
  std::vector<std::string> args{"/bin/sh", "-c", command};
  for (std::string& w : test::command_line({kBin, "scan", "--no-rule-cache", "--cache", t.cache(), t.dir.path()})) {
    args.push_back(std::move(w));
  }
  RunResult r = run(std::move(args));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(t.cache()), std::string::npos) << r.err;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    EXPECT_NE(::access((t.cache() + suffix).c_str(), F_OK), 0) << t.cache() + suffix << " left behind";
  }
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
  std::vector<std::string> args = test::command_line(
      {kBin, "scan", "--threads", "2", "--cache", cache, "--cache-min-age", "0", "-o", cfg / "r.json", tree.path()});
  std::vector<char*> argv = test::exec_argv(args);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
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
    if (watcher != nullptr && stored_entries(watcher) > 0) break;
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
  const std::int64_t rows = stored_entries(db);
  sqlite3_close(db);
  EXPECT_GT(rows, 0);
  EXPECT_LT(rows, kDirs * kPerDir);

  // The next run works and re-uses what the killed one committed.
  RunResult r = run({kBin, "scan", "--cache", cache, "--cache-min-age", "0", tree.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json d = parse_report(r);
  EXPECT_EQ(d["stats"]["files_scanned"], kDirs * kPerDir);
  EXPECT_EQ(d["stats"]["files_cached"], rows);
  EXPECT_EQ(
      parse_report(run({kBin, "scan", "--cache", cache, "--cache-min-age", "0", tree.path()}))["stats"]["files_cached"],
      kDirs * kPerDir);
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
  const std::string path = t.dir / "junk.zip";
  edit_entry(t.cache(), path, [](CachedFile& f) {
    f.not_archive = true;
    f.clean_members_fingerprint.clear();
  });

  RunResult r = t.scan();
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(test::finding_for(parse_report(r), path, {"bin/evtdiag.exe"}), nullptr) << r.out;
}

}  // namespace
}  // namespace iocsweep
