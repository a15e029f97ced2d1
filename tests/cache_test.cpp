// The scan cache component: creation, round trip, key checks, refusal of
// files that are not our cache.
#include "iocsweep/cache.hpp"

#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "cache/scan_cache.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using test::TempDir;

CachedFile sample_file() {
  Hasher h;
  CachedFile f;
  f.digests = h.digest(test::bytes_of("some bytes"));
  f.rules_fingerprint = "fp-1";
  f.yara_matches = {RuleId{"builtin:a.yar", "RuleA"}, RuleId{"/rules/b.yar", "RuleB"}};
  return f;
}

constexpr FileKey kKey{2049, 1234567, 10, 1700000000123456789, 1700000001987654321};

void sql(const std::string& db_path, const std::string& statement) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

TEST(ScanCache, CreatesPrivateFileAndRoundTripsAcrossReopen) {
  TempDir t;
  const std::string path = t / "cache.db";
  const std::string name("odd\xff\nname", 9);
  {
    auto cache = ScanCache::open(path);
    ASSERT_TRUE(cache) << cache.error().message;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    (*cache)->store(name, kKey, sample_file());
    ASSERT_TRUE((*cache)->flush());
  }
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache) << cache.error().message;
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader) << reader.error().message;
  std::optional<CachedFile> got = (*reader)->find(name, kKey);
  ASSERT_TRUE(got.has_value());
  const CachedFile want = sample_file();
  EXPECT_TRUE(got->digests.present == DigestSet::all());
  EXPECT_EQ(got->digests.hex(DigestKind::kSha256), want.digests.hex(DigestKind::kSha256));
  EXPECT_EQ(got->digests.hex(DigestKind::kMd5), want.digests.hex(DigestKind::kMd5));
  EXPECT_EQ(got->digests.hex(DigestKind::kSha1), want.digests.hex(DigestKind::kSha1));
  EXPECT_EQ(got->rules_fingerprint, "fp-1");
  EXPECT_EQ(got->yara_matches, want.yara_matches);
  EXPECT_FALSE((*reader)->find("other", kKey).has_value());
}

TEST(ScanCache, PartialDigestsAndNoVerdictRoundTrip) {
  TempDir t;
  auto cache = ScanCache::open(t / "c.db");
  ASSERT_TRUE(cache) << cache.error().message;
  Hasher h;
  CachedFile f;
  f.digests = h.digest(test::bytes_of("x"), DigestSet().with(DigestKind::kSha256));
  (*cache)->store("/a", kKey, f);
  ASSERT_TRUE((*cache)->flush());
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  auto got = (*reader)->find("/a", kKey);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->digests.present == DigestSet().with(DigestKind::kSha256));
  EXPECT_TRUE(got->rules_fingerprint.empty());
  EXPECT_TRUE(got->yara_matches.empty());
}

TEST(ScanCache, AnyKeyFieldChangeIsAMiss) {
  TempDir t;
  auto cache = ScanCache::open(t / "c.db");
  ASSERT_TRUE(cache) << cache.error().message;
  (*cache)->store("/f", kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  ASSERT_TRUE((*reader)->find("/f", kKey).has_value());
  std::vector<FileKey> changed(5, kKey);
  changed[0].device += 1;
  changed[1].inode += 1;
  changed[2].size += 1;
  changed[3].mtime_ns += 1;
  changed[4].ctime_ns += 1;
  for (std::size_t i = 0; i < changed.size(); ++i) {
    EXPECT_FALSE((*reader)->find("/f", changed[i]).has_value()) << "field " << i;
  }
}

TEST(ScanCache, NewerStoreReplacesEntry) {
  TempDir t;
  auto cache = ScanCache::open(t / "c.db");
  ASSERT_TRUE(cache);
  (*cache)->store("/f", kKey, sample_file());
  FileKey later = kKey;
  later.ctime_ns += 5;
  CachedFile second;
  second.rules_fingerprint = "fp-2";
  (*cache)->store("/f", later, second);
  ASSERT_TRUE((*cache)->flush());
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  EXPECT_FALSE((*reader)->find("/f", kKey).has_value());
  auto got = (*reader)->find("/f", later);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->rules_fingerprint, "fp-2");
}

// Rows in the cache's files table, by a connection of its own.
std::int64_t committed_rows(const std::string& db_path) {
  sqlite3* db = nullptr;
  std::int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM files", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

TEST(ScanCache, FullBatchIsCommittedWithoutFlush) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  for (std::size_t i = 0; i < ScanCache::kBatchRows; ++i) (*cache)->store("/f" + std::to_string(i), kKey, {});
  // The writer thread commits a full batch on its own, while the cache
  // stays open and nobody flushes: another connection sees it. (A bound
  // on the wait, not a timing assertion: a commit takes milliseconds.)
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (committed_rows(path) < static_cast<std::int64_t>(ScanCache::kBatchRows) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(committed_rows(path), static_cast<std::int64_t>(ScanCache::kBatchRows));
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  EXPECT_TRUE((*reader)->find("/f0", kKey).has_value());
  EXPECT_TRUE((*reader)->find("/f" + std::to_string(ScanCache::kBatchRows - 1), kKey).has_value());
}

// Many workers storing at once, more rows than the writer's queue holds:
// every row is committed, by flush() and by the destructor alike.
TEST(ScanCache, RowsStoredFromManyThreadsAreAllCommitted) {
  constexpr int kThreads = 8;
  constexpr std::size_t kPerThread = ScanCache::kQueueRows / 4;  // twice what the queue holds
  for (const bool by_flush : {true, false}) {
    TempDir t;
    const std::string path = t / "c.db";
    {
      auto cache = ScanCache::open(path);
      ASSERT_TRUE(cache) << cache.error().message;
      std::vector<std::thread> workers;
      for (int w = 0; w < kThreads; ++w) {
        workers.emplace_back([&, w] {
          for (std::size_t i = 0; i < kPerThread; ++i) {
            (*cache)->store("/t" + std::to_string(w) + "/f" + std::to_string(i), kKey, sample_file());
          }
        });
      }
      for (std::thread& w : workers) w.join();
      if (by_flush) {
        ASSERT_TRUE((*cache)->flush());
        EXPECT_EQ(committed_rows(path), static_cast<std::int64_t>(kThreads * kPerThread));
      }
      EXPECT_EQ((*cache)->last_error(), "");
    }
    EXPECT_EQ(committed_rows(path), static_cast<std::int64_t>(kThreads * kPerThread)) << "flush: " << by_flush;
    auto cache = ScanCache::open(path);
    ASSERT_TRUE(cache);
    auto reader = (*cache)->reader();
    ASSERT_TRUE(reader);
    auto got = (*reader)->find("/t" + std::to_string(kThreads - 1) + "/f" + std::to_string(kPerThread - 1), kKey);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->yara_matches, sample_file().yara_matches);
  }
}

// A first sweep's lookups cost nothing: a reader made while the cache holds
// no rows answers nothing, even for a row committed after it was made (a
// sweep never needs its own writes); a reader made later finds it.
TEST(ScanCache, ReaderOfAnEmptyCacheAnswersNothing) {
  TempDir t;
  auto cache = ScanCache::open(t / "c.db");
  ASSERT_TRUE(cache);
  auto before = (*cache)->reader();
  ASSERT_TRUE(before);
  (*cache)->store("/f", kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  EXPECT_FALSE((*before)->find("/f", kKey).has_value());
  auto after = (*cache)->reader();
  ASSERT_TRUE(after);
  EXPECT_TRUE((*after)->find("/f", kKey).has_value());
}

// A reader answers from one snapshot for kLookupsPerSnapshot lookups (no
// lock calls per lookup), then takes a new one that sees later commits.
TEST(ScanCache, ReaderSnapshotIsRenewed) {
  TempDir t;
  const std::string path = t / "c.db";
  {
    auto cache = ScanCache::open(path);
    ASSERT_TRUE(cache);
    (*cache)->store("/old", kKey, sample_file());
  }
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  ASSERT_TRUE((*reader)->find("/old", kKey).has_value());  // an earlier sweep's entry
  (*cache)->store("/new", kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  EXPECT_FALSE((*reader)->find("/new", kKey).has_value());  // same snapshot
  // A miss ends the snapshot (the worker reads the file next: a snapshot
  // held meanwhile would keep checkpoints from passing it, and the WAL
  // would grow with every commit; found in review).
  EXPECT_TRUE((*reader)->find("/new", kKey).has_value());
  // Hits keep it, up to kLookupsPerSnapshot lookups.
  (*cache)->store("/newer", kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  for (std::size_t i = 1; i < ScanCacheReader::kLookupsPerSnapshot; ++i) (void)(*reader)->find("/old", kKey);
  EXPECT_TRUE((*reader)->find("/newer", kKey).has_value());
  EXPECT_TRUE((*reader)->find("/old", kKey).has_value());
}

// A write that fails is reported by flush() and last_error(), and later
// rows are dropped without blocking anyone.
TEST(ScanCache, WriteErrorIsKeptAndLaterRowsAreDropped) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  sql(path, "CREATE TRIGGER refuse BEFORE INSERT ON files BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
  (*cache)->store("/f", kKey, sample_file());
  Status flushed = (*cache)->flush();
  ASSERT_FALSE(flushed);
  EXPECT_NE(flushed.error().message.find("refused by test"), std::string::npos) << flushed.error().message;
  EXPECT_EQ((*cache)->last_error(), flushed.error().message);
  for (std::size_t i = 0; i < 2 * ScanCache::kQueueRows; ++i) (*cache)->store("/g" + std::to_string(i), kKey, {});
  EXPECT_FALSE((*cache)->flush());
  EXPECT_EQ(committed_rows(path), 0);
}

TEST(ScanCache, CorruptFileIsRefusedAndLeftUntouched) {
  TempDir t;
  const std::string path = t / "c.db";
  const std::string garbage(8192, '\x5a');
  test::write_file(path, garbage);
  auto cache = ScanCache::open(path);
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.error().message.find(path), std::string::npos) << cache.error().message;
  EXPECT_NE(cache.error().message.find("not an iocsweep scan cache"), std::string::npos) << cache.error().message;
  EXPECT_EQ(test::read_file(path), garbage);
}

TEST(ScanCache, ForeignSqliteDatabaseIsRefused) {
  TempDir t;
  const std::string path = t / "other.db";
  sql(path, "CREATE TABLE notes(x); INSERT INTO notes VALUES(1);");
  auto cache = ScanCache::open(path);
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.error().message.find(path + ": not an iocsweep scan cache"), std::string::npos)
      << cache.error().message;
}

TEST(ScanCache, OtherSchemaVersionIsRefused) {
  TempDir t;
  const std::string path = t / "c.db";
  ASSERT_TRUE(ScanCache::open(path));
  sql(path, "UPDATE iocsweep_meta SET value = 99 WHERE key = 'schema_version'");
  auto cache = ScanCache::open(path);
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.error().message.find("schema version 99"), std::string::npos) << cache.error().message;
  EXPECT_NE(cache.error().message.find(path), std::string::npos);
}

TEST(ScanCache, SymlinkIsRefused) {
  TempDir t;
  ASSERT_TRUE(ScanCache::open(t / "real.db"));
  ASSERT_EQ(::symlink((t / "real.db").c_str(), (t / "link.db").c_str()), 0);
  auto cache = ScanCache::open(t / "link.db");
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.error().message.find("symbolic link"), std::string::npos) << cache.error().message;
}

TEST(ScanCache, DatabaseIsInWalMode) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(CacheTrust, OnlyDiskFilesystemsThatStampMappedWritesAreTrusted) {
  EXPECT_TRUE(cache_trusts_filesystem(EXT4_SUPER_MAGIC));
  EXPECT_TRUE(cache_trusts_filesystem(XFS_SUPER_MAGIC));
  EXPECT_TRUE(cache_trusts_filesystem(BTRFS_SUPER_MAGIC));
  EXPECT_TRUE(cache_trusts_filesystem(F2FS_SUPER_MAGIC));
  EXPECT_FALSE(cache_trusts_filesystem(TMPFS_MAGIC));
  EXPECT_FALSE(cache_trusts_filesystem(RAMFS_MAGIC));
  EXPECT_FALSE(cache_trusts_filesystem(OVERLAYFS_SUPER_MAGIC));
  EXPECT_FALSE(cache_trusts_filesystem(FUSE_SUPER_MAGIC));
  EXPECT_FALSE(cache_trusts_filesystem(NFS_SUPER_MAGIC));
  EXPECT_FALSE(cache_trusts_filesystem(MSDOS_SUPER_MAGIC));
  EXPECT_FALSE(cache_trusts_filesystem(0));
}

TEST(CacheTrust, SettleDelayIsTwiceTheWritebackDelay) {
  EXPECT_EQ(writeback_settle_ns("3000\n", "500\n"), 70'000'000'000);
  EXPECT_EQ(writeback_settle_ns("1", "1"), 40'000'000);
  // Periodic writeback off: a dirty page has no deadline.
  EXPECT_EQ(writeback_settle_ns("3000\n", "0\n"), std::nullopt);
  EXPECT_EQ(writeback_settle_ns("", "500"), std::nullopt);
  EXPECT_EQ(writeback_settle_ns("30s", "500"), std::nullopt);
  EXPECT_EQ(writeback_settle_ns("-1", "500"), std::nullopt);
  EXPECT_EQ(writeback_settle_ns("99999999999999999999", "500"), std::nullopt);
}

constexpr uid_t kNobody = 65534;

// Tests run as root (CI too); handing a file to another user needs it.
#define NEED_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown files to another user"

TEST(ScanCache, CacheOwnedByAnotherUserIsRefused) {
  NEED_ROOT();
  TempDir t;
  const std::string path = t / "c.db";
  ASSERT_TRUE(ScanCache::open(path));
  ASSERT_EQ(::chown(path.c_str(), kNobody, kNobody), 0);
  auto cache = ScanCache::open(path);
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.error().message.find(path + ": scan cache belongs to uid 65534"), std::string::npos)
      << cache.error().message;
  EXPECT_EQ(::access(path.c_str(), F_OK), 0) << "a refused cache is left alone";
}

TEST(ScanCache, CacheWritableByOthersIsRefused) {
  TempDir t;
  const std::string path = t / "c.db";
  ASSERT_TRUE(ScanCache::open(path));
  for (const mode_t mode : {0666, 0620}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto cache = ScanCache::open(path);
    ASSERT_FALSE(cache) << std::oct << mode;
    EXPECT_NE(cache.error().message.find(path + ": scan cache is writable by group or others"), std::string::npos)
        << cache.error().message;
  }
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_TRUE(ScanCache::open(path));
}

// SQLite opens the -wal and -shm files by name: one planted by another
// user would let them feed verdicts in.
TEST(ScanCache, WalOrShmFileOfAnotherUserIsRefused) {
  NEED_ROOT();
  TempDir t;
  const std::string path = t / "c.db";
  ASSERT_TRUE(ScanCache::open(path));
  for (const char* suffix : {"-wal", "-shm"}) {
    const std::string side = path + suffix;
    test::write_file(side, "");
    ASSERT_EQ(::chown(side.c_str(), kNobody, kNobody), 0);
    auto cache = ScanCache::open(path);
    ASSERT_FALSE(cache) << suffix;
    EXPECT_NE(cache.error().message.find(side + ": scan cache belongs to uid 65534"), std::string::npos)
        << cache.error().message;
    ASSERT_EQ(::unlink(side.c_str()), 0);
  }
  ASSERT_EQ(::symlink((t / "elsewhere").c_str(), (path + "-wal").c_str()), 0);
  auto cache = ScanCache::open(path);
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.error().message.find(path + "-wal: scan cache is a symbolic link"), std::string::npos)
      << cache.error().message;
}

// Another user who may write the cache's directory can swap the cache or
// create its -wal file before SQLite does; a sticky bit stops the first
// only. Above it, a sticky directory (/tmp) is fine: no one else can
// rename our directory out of it.
TEST(ScanCache, DirectoryOthersCanWriteIsRefused) {
  TempDir t;
  const std::string dir = t / "shared";
  test::make_dir(dir);
  for (const mode_t mode : {0777, 01777, 0770}) {
    ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
    auto cache = ScanCache::open(dir + "/c.db");
    ASSERT_FALSE(cache) << std::oct << mode;
    EXPECT_NE(cache.error().message.find("directory " + dir + " is writable by group or others"), std::string::npos)
        << cache.error().message;
    EXPECT_NE(::access((dir + "/c.db").c_str(), F_OK), 0) << "nothing is created in it";
  }
  // Below a sticky shared directory, in one of our own, it is fine.
  ASSERT_EQ(::chmod(dir.c_str(), 01777), 0);
  test::make_dir(dir + "/mine");
  EXPECT_TRUE(ScanCache::open(dir + "/mine/c.db"));
  // Below a non-sticky one, it is not: the inner directory can be renamed away.
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  auto cache = ScanCache::open(dir + "/mine/c.db");
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.error().message.find("directory " + dir + " is writable"), std::string::npos)
      << cache.error().message;
}

TEST(ScanCache, DirectoryOfAnotherUserIsRefused) {
  NEED_ROOT();
  TempDir t;
  const std::string dir = t / "theirs";
  test::make_dir(dir);
  ASSERT_EQ(::chown(dir.c_str(), kNobody, kNobody), 0);
  auto cache = ScanCache::open(dir + "/c.db");
  ASSERT_FALSE(cache);
  EXPECT_NE(cache.error().message.find("directory " + dir + " belongs to uid 65534"), std::string::npos)
      << cache.error().message;
}

// A file size limit (a full disk or a quota behaves alike): the schema
// cannot be written, so the open fails after creating the cache file.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);  // writes fail with EFBIG instead
    const rlimit lim{bytes, old_.rlim_max};
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_ = SIG_DFL;
};

TEST(ScanCache, FailedCreationRemovesWhatItCreated) {
  TempDir t;
  const std::string path = t / "c.db";
  {
    FileSizeLimit limit(512);
    auto cache = ScanCache::open(path);
    ASSERT_FALSE(cache);
    EXPECT_NE(cache.error().message.find(path), std::string::npos) << cache.error().message;
  }
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    EXPECT_NE(::access((path + suffix).c_str(), F_OK), 0) << path + suffix << " left behind";
  }
}

TEST(ScanCache, FailedOpenNeverRemovesAFileItDidNotCreate) {
  TempDir t;
  const std::string path = t / "c.db";
  test::write_file(path, "");  // someone's empty file: taken as a new cache
  {
    FileSizeLimit limit(512);
    ASSERT_FALSE(ScanCache::open(path));
  }
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace iocsweep
