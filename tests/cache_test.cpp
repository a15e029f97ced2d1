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
#include <functional>
#include <limits>
#include <optional>
#include <thread>
#include <vector>

#include "cache/dir_entries.hpp"
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
    Status f = (*cache)->flush();
    ASSERT_TRUE(f) << f.error().message;
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

// Entries in the cache's rows, by a connection of its own (an entry
// replaced by a newer one in another row counts twice).
std::int64_t committed_rows(const std::string& db_path) {
  sqlite3* db = nullptr;
  std::int64_t n = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(sum(files), 0) FROM dir_entries", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

// The first row of `statement` (integers), by a connection of its own;
// `blob`, when given, bound as ?1. Empty when it fails.
std::vector<std::int64_t> sql_ints(const std::string& db_path, const std::string& statement,
                                   std::optional<std::string> blob = std::nullopt) {
  std::vector<std::int64_t> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, statement.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        (!blob ||
         sqlite3_bind_blob(st, 1, blob->data(), static_cast<int>(blob->size()), SQLITE_TRANSIENT) == SQLITE_OK) &&
        sqlite3_step(st) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(st); ++i) out.push_back(sqlite3_column_int64(st, i));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  EXPECT_FALSE(out.empty()) << statement;
  return out;
}

// Waits until `done` holds, for at most a minute: a bound on the wait for
// the cache's own threads (the writer, the checkpointer), not a timing
// assertion. The caller asserts what it waited for.
void eventually(const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// The size of `path`, or -1 when it cannot be stat'ed.
off_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

TEST(ScanCache, FullBatchIsCommittedWithoutFlush) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  for (std::size_t i = 0; i < ScanCache::kBatchRows; ++i) (*cache)->store("/f" + std::to_string(i), kKey, {});
  // The writer thread commits a full batch on its own, while the cache
  // stays open and nobody flushes: another connection sees it.
  eventually([&] { return committed_rows(path) >= static_cast<std::int64_t>(ScanCache::kBatchRows); });
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

// A reader reads a directory's rows at its first lookup there, and keeps
// them for the lookups after it while that directory is among the last
// few it looked in; rows committed meanwhile are seen once it reads the
// directory again.
TEST(ScanCache, ReaderReadsADirectoryAtItsFirstLookupThere) {
  TempDir t;
  const std::string path = t / "c.db";
  {
    auto cache = ScanCache::open(path);
    ASSERT_TRUE(cache);
    (*cache)->store("/d/old", kKey, sample_file());
  }
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  (*cache)->store("/d/before", kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  ASSERT_TRUE((*reader)->find("/d/old", kKey).has_value());  // an earlier sweep's entry
  EXPECT_TRUE((*reader)->find("/d/before", kKey).has_value());
  (*cache)->store("/d/after", kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  EXPECT_FALSE((*reader)->find("/d/after", kKey).has_value());
  for (std::size_t i = 0; i < kReaderDirs; ++i) (void)(*reader)->find("/other" + std::to_string(i) + "/f", kKey);
  EXPECT_TRUE((*reader)->find("/d/after", kKey).has_value());
  EXPECT_TRUE((*reader)->find("/d/old", kKey).has_value());
}

// Each batch adds a row for each directory it holds; once a directory has
// more than a few, they are merged into one, which keeps each name's newest
// entry, and entries no later batch replaced.
TEST(ScanCache, RowsOfADirectoryAreMergedKeepingEachNamesNewestEntry) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  (*cache)->store("/d/kept", kKey, sample_file());
  (*cache)->store("/e/other", kKey, sample_file());
  FileKey key = kKey;
  for (int batch = 0; batch < 30; ++batch) {
    key.ctime_ns = kKey.ctime_ns + batch;
    CachedFile f = sample_file();
    f.rules_fingerprint = "fp-" + std::to_string(batch);
    (*cache)->store("/d/changing", key, f);
    (*cache)->store("/d/new" + std::to_string(batch), kKey, f);
    ASSERT_TRUE((*cache)->flush());
  }
  const auto counts = sql_ints(path, "SELECT count(*), sum(files) FROM dir_entries WHERE dir = CAST('/d/' AS BLOB)");
  ASSERT_EQ(counts.size(), 2u);
  const std::int64_t rows = counts[0];
  const std::int64_t entries = counts[1];
  EXPECT_GE(rows, 1);
  EXPECT_LE(rows, kMergeRows);
  // 32 names (kept, changing, new0..new29) once each, plus what the rows
  // after the last merge repeat of "changing".
  EXPECT_GE(entries, 32);
  EXPECT_LT(entries, 32 + rows);

  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  auto newest = (*reader)->find("/d/changing", key);
  ASSERT_TRUE(newest.has_value());
  EXPECT_EQ(newest->rules_fingerprint, "fp-29");
  FileKey older = key;
  older.ctime_ns -= 1;
  EXPECT_FALSE((*reader)->find("/d/changing", older).has_value());
  EXPECT_TRUE((*reader)->find("/d/kept", kKey).has_value());
  EXPECT_TRUE((*reader)->find("/e/other", kKey).has_value());
  for (int batch = 0; batch < 30; ++batch) {
    auto got = (*reader)->find("/d/new" + std::to_string(batch), kKey);
    ASSERT_TRUE(got.has_value()) << batch;
    EXPECT_EQ(got->rules_fingerprint, "fp-" + std::to_string(batch));
  }
}

// A directory of more files than a reader reads (kMaxDirBytes of rows) is
// cached in part: its newest entries answer, and merges keep its rows from
// growing past that bound however many files it holds.
TEST(ScanCache, HugeDirectoryIsCachedInPartAndItsRowsStayBounded) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  constexpr int kFiles = 100000;
  for (int i = 0; i < kFiles; ++i) (*cache)->store("/big/f" + std::to_string(i), kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  const auto counts = sql_ints(path, "SELECT count(*), max(length(body)) FROM dir_entries");
  ASSERT_EQ(counts.size(), 2u);
  const std::int64_t rows = counts[0];
  const std::int64_t largest = counts[1];
  EXPECT_LE(rows, kMergeRows);
  // A merged row holds at most the limit; a batch's row, one batch (well
  // below it here: entries of about 130 bytes).
  EXPECT_LE(largest, static_cast<std::int64_t>(kMaxDirBytes)) << rows << " rows";
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  int found = 0;
  for (int i = 0; i < kFiles; ++i) found += (*reader)->find("/big/f" + std::to_string(i), kKey).has_value();
  EXPECT_LT(found, kFiles);
  EXPECT_GT(found, kFiles / 4);
  for (int i = kFiles - 1024; i < kFiles; ++i) {
    ASSERT_TRUE((*reader)->find("/big/f" + std::to_string(i), kKey).has_value()) << i;
  }
}

// A file that matched many rules: its entry takes about `rules` * 60
// bytes.
CachedFile matched_rules(int rules) {
  CachedFile f = sample_file();
  f.yara_matches.clear();
  for (int i = 0; i < rules; ++i) {
    f.yara_matches.push_back(RuleId{"/rules/some-long-rule-file-name.yar", "Rule_" + std::to_string(i)});
  }
  return f;
}

// No row passes kMaxDirBytes, however much one batch holds for one
// directory: it takes several rows. An entry above kMaxEntryBytes is
// stored as one that knows nothing, which replaces the older entry of its
// name (the file is read).
TEST(ScanCache, NoRowPassesTheLimitAndHugeEntriesAreNotStored) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  const CachedFile many = matched_rules(300);  // about 18 KB
  constexpr int kFiles = 600;                  // about 11 MB
  (*cache)->store("/d/huge", kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  for (int i = 0; i < kFiles; ++i) (*cache)->store("/d/f" + std::to_string(i), kKey, many);
  (*cache)->store("/d/huge", kKey, matched_rules(2000));  // about 120 KB
  ASSERT_TRUE((*cache)->flush());
  const auto counts = sql_ints(path, "SELECT count(*), max(length(body)) FROM dir_entries");
  ASSERT_EQ(counts.size(), 2u);
  const std::int64_t rows = counts[0];
  const std::int64_t largest = counts[1];
  EXPECT_GE(rows, 2);
  EXPECT_LE(largest, static_cast<std::int64_t>(kMaxDirBytes));
  EXPECT_GT(largest, static_cast<std::int64_t>(kMaxDirBytes / 2));
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  for (int i = 0; i < kFiles; ++i) {
    auto got = (*reader)->find("/d/f" + std::to_string(i), kKey);
    ASSERT_TRUE(got.has_value()) << i;
    ASSERT_EQ(got->yara_matches.size(), 300u);
  }
  auto huge = (*reader)->find("/d/huge", kKey);
  ASSERT_TRUE(huge.has_value());
  EXPECT_TRUE(huge->digests.present.empty());
  EXPECT_TRUE(huge->rules_fingerprint.empty());
  EXPECT_TRUE(huge->yara_matches.empty());
}

// A merge keeps a name's newest entry or none, never an older one: when
// the newest does not fit what is left, an older (smaller) one of the same
// name and key must not come back (found in review).
TEST(ScanCache, MergeNeverBringsBackAnOlderEntryOfAName) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  CachedFile old_verdict = sample_file();
  old_verdict.rules_fingerprint = "OLD";
  (*cache)->store("/m/x", kKey, old_verdict);
  ASSERT_TRUE((*cache)->flush());
  CachedFile new_verdict = matched_rules(900);  // about 55 KB: stored, but large
  new_verdict.rules_fingerprint = "NEW";
  (*cache)->store("/m/x", kKey, new_verdict);
  ASSERT_TRUE((*cache)->flush());
  // Newer filler that leaves the merge about 20 KB of room: less than the
  // newest /m/x needs, more than the older one.
  const CachedFile filler = matched_rules(300);
  const std::size_t each = encoded_size_bound(DirEntryRef{"f000", &kKey, &filler});
  const int fillers = static_cast<int>((kMaxDirBytes - 20000) / each);
  for (int i = 0; i < fillers; ++i) {
    const std::string n = std::to_string(i);
    (*cache)->store("/m/f" + std::string(3 - std::min<std::size_t>(3, n.size()), '0') + n, kKey, filler);
  }
  ASSERT_TRUE((*cache)->flush());
  for (int batch = 0; batch < static_cast<int>(kMergeRows) + 1; ++batch) {
    (*cache)->store("/m/n" + std::to_string(batch), kKey, sample_file());
    ASSERT_TRUE((*cache)->flush());
  }
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  EXPECT_TRUE((*reader)->find("/m/f000", kKey).has_value());  // the merge kept the filler
  auto got = (*reader)->find("/m/x", kKey);
  EXPECT_FALSE(got.has_value()) << "the merge kept an entry of fingerprint " << got->rules_fingerprint;
  EXPECT_TRUE((*reader)->find("/m/n0", kKey).has_value());
}

// A reader evicts the directories it looked in longest ago once what it
// keeps passes kReaderBytes, however few they are; an evicted directory is
// read again, with what was committed since.
TEST(ScanCache, ReaderEvictsByWhatItKeeps) {
  TempDir t;
  const std::string path = t / "c.db";
  {
    auto cache = ScanCache::open(path);
    ASSERT_TRUE(cache);
    (*cache)->store("/d/old", kKey, sample_file());
    for (const char* dir : {"/b1/", "/b2/", "/b3/"}) {
      for (int i = 0; i < 10; ++i) (*cache)->store(dir + std::to_string(i), kKey, sample_file());
    }
  }
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  ASSERT_TRUE((*reader)->find("/d/old", kKey).has_value());
  (*cache)->store("/d/new", kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  // Three small directories: /d is kept.
  for (const char* dir : {"/b1/", "/b2/", "/b3/"}) ASSERT_TRUE((*reader)->find(dir + std::string("0"), kKey));
  EXPECT_FALSE((*reader)->find("/d/new", kKey).has_value());
  // More than kReaderBytes of others since /d was last looked in (at the
  // miss above): /d is evicted.
  const CachedFile many = matched_rules(300);  // 120 of them: about 1.6 MB a directory
  const int dirs = static_cast<int>(kReaderBytes / (1u << 20)) + 2;
  for (int d = 0; d < dirs; ++d) {
    for (int i = 0; i < 120; ++i) (*cache)->store("/c" + std::to_string(d) + "/" + std::to_string(i), kKey, many);
  }
  ASSERT_TRUE((*cache)->flush());
  for (int d = 0; d < dirs; ++d) ASSERT_TRUE((*reader)->find("/c" + std::to_string(d) + "/0", kKey)) << d;
  EXPECT_TRUE((*reader)->find("/d/new", kKey).has_value());
}

// A walk interrupts a directory's files with its subdirectories' trees: a
// reader keeps the directory (and its nearest parents) through any number
// of bytes of subdirectories, while it evicts other directories.
TEST(ScanCache, ReaderKeepsTheDirectoriesAWalkComesBackTo) {
  TempDir t;
  const std::string path = t / "c.db";
  constexpr int kSubdirs = static_cast<int>(kReaderBytes / (1u << 20)) + 4;
  {
    auto cache = ScanCache::open(path);
    ASSERT_TRUE(cache);
    const CachedFile many = matched_rules(300);
    for (int i = 0; i < 120; ++i) (*cache)->store("/t/f" + std::to_string(i), kKey, many);  // about 1.6 MB
    (*cache)->store("/t/a/b/f", kKey, sample_file());
    (*cache)->store("/u/f", kKey, sample_file());
    for (int d = 0; d < kSubdirs; ++d) {
      for (int i = 0; i < 120; ++i) {
        (*cache)->store("/t/a/b/s" + std::to_string(d) + "/" + std::to_string(i), kKey, many);
      }
    }
  }
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  ASSERT_TRUE((*reader)->find("/u/f", kKey));
  ASSERT_TRUE((*reader)->find("/t/f0", kKey));
  ASSERT_TRUE((*reader)->find("/t/a/b/f", kKey));
  // Committed after each was read: seen only where a directory is read
  // again.
  for (const char* p : {"/u/new", "/t/new", "/t/a/b/new"}) (*cache)->store(p, kKey, sample_file());
  ASSERT_TRUE((*cache)->flush());
  for (int d = 0; d < kSubdirs; ++d) {
    ASSERT_TRUE((*reader)->find("/t/a/b/s" + std::to_string(d) + "/0", kKey)) << d;
    ASSERT_TRUE((*reader)->find("/t/f" + std::to_string(d), kKey)) << d;
  }
  EXPECT_FALSE((*reader)->find("/t/a/b/new", kKey).has_value());  // the parent of each subdirectory: kept
  EXPECT_FALSE((*reader)->find("/t/new", kKey).has_value());      // looked in throughout
  EXPECT_TRUE((*reader)->find("/u/new", kKey).has_value());       // evicted, read again
}

// Two sweeps writing one cache at once (each its own connection and writer
// thread), into the same directory: every entry of both is kept, the rows
// stay bounded and the file sound.
TEST(ScanCache, TwoWritersOfOneDirectoryKeepEveryEntry) {
  TempDir t;
  const std::string path = t / "c.db";
  auto first = ScanCache::open(path);
  ASSERT_TRUE(first);
  auto second = ScanCache::open(path);
  ASSERT_TRUE(second) << second.error().message;
  constexpr int kEach = 6000;
  std::thread a([&] {
    for (int i = 0; i < kEach; ++i) {
      (*first)->store("/d/a" + std::to_string(i), kKey, sample_file());
      if (i % 500 == 0) (void)(*first)->flush();
    }
  });
  std::thread b([&] {
    for (int i = 0; i < kEach; ++i) {
      (*second)->store("/d/b" + std::to_string(i), kKey, sample_file());
      if (i % 500 == 0) (void)(*second)->flush();
    }
  });
  a.join();
  b.join();
  ASSERT_TRUE((*first)->flush());
  ASSERT_TRUE((*second)->flush());
  EXPECT_EQ((*first)->last_error(), "");
  EXPECT_EQ((*second)->last_error(), "");
  auto reader = (*first)->reader();
  ASSERT_TRUE(reader);
  for (int i = 0; i < kEach; ++i) {
    ASSERT_TRUE((*reader)->find("/d/a" + std::to_string(i), kKey).has_value()) << i;
    ASSERT_TRUE((*reader)->find("/d/b" + std::to_string(i), kKey).has_value()) << i;
  }
  const auto rows = sql_ints(path, "SELECT count(*) FROM dir_entries");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_LE(rows[0], kMergeRows);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// One batch holding a path twice keeps the later entry; names at the root,
// without a directory, and in a directory of an odd name are kept apart.
TEST(ScanCache, PathsOfOneBatchAreKeptApartByDirectoryAndName) {
  TempDir t;
  auto cache = ScanCache::open(t / "c.db");
  ASSERT_TRUE(cache);
  FileKey later = kKey;
  later.size += 1;
  CachedFile second = sample_file();
  second.rules_fingerprint = "fp-2";
  (*cache)->store("/x/f", kKey, sample_file());
  (*cache)->store("/x/f", later, second);
  const std::string odd_dir("/odd\xff\n/", 7);
  for (const std::string& p : {std::string("/f"), std::string("f"), std::string("x/f"), odd_dir + "f"}) {
    CachedFile f = sample_file();
    f.rules_fingerprint = p;
    (*cache)->store(p, kKey, f);
  }
  (*cache)->store("/x/", kKey, sample_file());  // no name: not stored
  ASSERT_TRUE((*cache)->flush());
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  EXPECT_FALSE((*reader)->find("/x/f", kKey).has_value());
  auto got = (*reader)->find("/x/f", later);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->rules_fingerprint, "fp-2");
  for (const std::string& p : {std::string("/f"), std::string("f"), std::string("x/f"), odd_dir + "f"}) {
    auto e = (*reader)->find(p, kKey);
    ASSERT_TRUE(e.has_value()) << p;
    EXPECT_EQ(e->rules_fingerprint, p);
  }
  EXPECT_FALSE((*reader)->find("/x/", kKey).has_value());
  EXPECT_FALSE((*reader)->find("/", kKey).has_value());
}

// A body whose checksum holds, as only a writer could make it (the rest is
// the body after its version byte and checksum).
std::string with_checksum(const std::string& rest) { return seal_dir_body(rest); }

// A damaged row (the disk's doing, say) never crashes a lookup or gives
// another file's verdict. A body whose checksum fails is ignored whole: an
// older row's entry may answer, its key checked as always. An entry that
// fails to decode in a body that passes is a miss, never an older entry.
TEST(ScanCache, DamagedRowIsAMissAndTheOthersStillAnswer) {
  TempDir t;
  const std::string path = t / "c.db";
  FileKey b_key = kKey;
  b_key.inode += 1;
  {
    auto cache = ScanCache::open(path);
    ASSERT_TRUE(cache);
    (*cache)->store("/d/a", kKey, sample_file());
    (*cache)->store("/d/b", b_key, sample_file());
    (*cache)->store("/e/c", kKey, sample_file());
    ASSERT_TRUE((*cache)->flush());
  }
  const CachedFile full = sample_file();
  std::string newer = encode_dir_body({DirEntryRef{"a", &kKey, &full}, DirEntryRef{"b", &kKey, &full}});
  newer[newer.size() - 3] ^= 0x20;  // a bit of the last entry: the checksum fails
  // "c": no strings, one entry of a name and nothing after it.
  const std::string cut_entry =
      with_checksum(std::string("\x00\x02\x01"
                                "c",
                                4));
  const auto insert = [&](const std::string& dir, int seq, const std::string& body) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO dir_entries VALUES(?1, ?2, 1, ?3, 0)", -1, &st, nullptr), SQLITE_OK);
    sqlite3_bind_blob(st, 1, dir.data(), static_cast<int>(dir.size()), SQLITE_STATIC);
    sqlite3_bind_int(st, 2, seq);
    sqlite3_bind_blob(st, 3, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
  };
  insert("/d/", 100, newer);
  insert("/e/", 100, cut_entry);
  ASSERT_TRUE(index_dir_body(cut_entry).has_value());
  // Newest: "b" at kKey whole, then an entry cut short, under a checksum
  // that holds. The body is damaged whole: "b" at kKey, met before the
  // damage, must not answer either.
  const std::string b_then_cut =
      with_checksum(encode_dir_body({DirEntryRef{"b", &kKey, &full}}).substr(1 + 16) + std::string("\x05"
                                                                                                   "ab"));
  ASSERT_FALSE(index_dir_body(b_then_cut).has_value());
  insert("/d/", 101, b_then_cut);
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  EXPECT_TRUE((*reader)->find("/d/a", kKey).has_value());
  // The damaged body said "b" at kKey; the older row's entry is at b_key.
  EXPECT_FALSE((*reader)->find("/d/b", kKey).has_value());
  EXPECT_TRUE((*reader)->find("/d/b", b_key).has_value());
  EXPECT_FALSE((*reader)->find("/e/c", kKey).has_value());

  // A merge drops the damaged body and keeps the rest.
  for (int batch = 0; batch < static_cast<int>(kMergeRows) + 1; ++batch) {
    (*cache)->store("/d/n" + std::to_string(batch), kKey, sample_file());
    ASSERT_TRUE((*cache)->flush());
  }
  EXPECT_EQ(sql_ints(path, "SELECT count(*) FROM dir_entries WHERE body = ?1", newer), std::vector<std::int64_t>{0});
  auto after = (*cache)->reader();
  ASSERT_TRUE(after);
  EXPECT_TRUE((*after)->find("/d/a", kKey).has_value());
  EXPECT_TRUE((*after)->find("/d/b", b_key).has_value());
  EXPECT_TRUE((*after)->find("/d/n0", kKey).has_value());
}

CachedFile every_field() {
  CachedFile f = sample_file();
  f.not_archive = true;
  f.clean_members_fingerprint = "members-fp";
  f.yara_matches.push_back(RuleId{"", std::string("odd\0rule", 8)});
  return f;
}

TEST(DirEntries, BodyRoundTripsEveryField) {
  const FileKey negative{~0ull, 0, ~0ull >> 1, -1, std::numeric_limits<std::int64_t>::min()};
  const CachedFile full = every_field();
  CachedFile bare;
  Hasher h;
  bare.digests = h.digest(test::bytes_of("y"), DigestSet().with(DigestKind::kSha1));
  const std::string body = encode_dir_body(
      {DirEntryRef{"a", &kKey, &full}, DirEntryRef{"b\xff", &negative, &bare}, DirEntryRef{"c", &kKey, &full}});
  auto decoded = decode_dir_body(body);
  ASSERT_TRUE(decoded.has_value());
  ASSERT_EQ(decoded->size(), 3u);
  const auto same = [](const CachedFile& a, const CachedFile& b) {
    EXPECT_TRUE(a.digests.present == b.digests.present);
    for (const DigestKind k : {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256}) {
      EXPECT_EQ(a.digests.hex(k), b.digests.hex(k));
    }
    EXPECT_EQ(a.rules_fingerprint, b.rules_fingerprint);
    EXPECT_EQ(a.yara_matches, b.yara_matches);
    EXPECT_EQ(a.not_archive, b.not_archive);
    EXPECT_EQ(a.clean_members_fingerprint, b.clean_members_fingerprint);
  };
  EXPECT_EQ((*decoded)[0].name, "a");
  EXPECT_TRUE((*decoded)[0].key == kKey);
  same((*decoded)[0].file, full);
  EXPECT_EQ((*decoded)[1].name, "b\xff");
  EXPECT_TRUE((*decoded)[1].key == negative);
  same((*decoded)[1].file, bare);
  same((*decoded)[2].file, full);
  // The fingerprints are held once, not once an entry.
  std::size_t copies = 0;
  for (std::size_t at = body.find("members-fp"); at != std::string::npos; at = body.find("members-fp", at + 1)) {
    ++copies;
  }
  EXPECT_EQ(copies, 1u);
}

// Every cut of a body either fails to index or gives the entries before
// the cut, whole; a changed byte never gets past the bounds (ASan run).
TEST(DirEntries, CutOrChangedBodyNeverReadsPastItsEnd) {
  const CachedFile full = every_field();
  const std::string body = encode_dir_body({DirEntryRef{"first", &kKey, &full}, DirEntryRef{"second", &kKey, &full}});
  const auto whole = decode_dir_body(body);
  ASSERT_TRUE(whole.has_value());
  // The checksum: no cut and no changed byte indexes.
  for (std::size_t n = 0; n < body.size(); ++n) EXPECT_FALSE(index_dir_body(body.substr(0, n)).has_value()) << n;
  for (std::size_t at = 0; at < body.size(); ++at) {
    for (const unsigned char v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string changed = body;
      if (changed[at] == static_cast<char>(v)) continue;
      changed[at] = static_cast<char>(v);
      EXPECT_FALSE(index_dir_body(changed).has_value()) << at;
    }
  }
  // Past the checksum (a writer's bug): every cut of what it covers either
  // fails to index or gives the entries before the cut, whole.
  const std::string rest = body.substr(17);
  std::size_t cuts_that_index = 0;
  for (std::size_t n = 0; n < rest.size(); ++n) {
    const std::string cut = with_checksum(rest.substr(0, n));
    auto index = index_dir_body(cut);
    if (!index) continue;
    ++cuts_that_index;
    ASSERT_LT(index->entries.size(), 2u) << n;
    for (std::size_t i = 0; i < index->entries.size(); ++i) {
      auto e = decode_dir_entry(*index, index->entries[i].second);
      ASSERT_TRUE(e.has_value()) << n;
      EXPECT_EQ(e->name, (*whole)[i].name);
    }
  }
  // The strings alone, and the strings with the first entry.
  EXPECT_EQ(cuts_that_index, 2u);
  // Every changed byte past the checksum: decoded or refused, within bounds
  // (the ASan build checks the reads).
  for (std::size_t at = 0; at < rest.size(); ++at) {
    for (const unsigned char v : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string changed = rest;
      changed[at] = static_cast<char>(v);
      const std::string body_of_changed = with_checksum(changed);  // the index's views point into it
      if (auto index = index_dir_body(body_of_changed)) {
        for (const auto& entry : index->entries) (void)decode_dir_entry(*index, entry.second);
      }
    }
  }
  EXPECT_FALSE(index_dir_body(std::string("\x02\x00", 2)).has_value());  // another version
  EXPECT_FALSE(index_dir_body("").has_value());
}

// A write that fails is reported by flush() and last_error(), and later
// rows are dropped without blocking anyone.
TEST(ScanCache, WriteErrorIsKeptAndLaterRowsAreDropped) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  sql(path, "CREATE TRIGGER refuse BEFORE INSERT ON dir_entries BEGIN SELECT RAISE(ABORT, 'refused by test'); END");
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

// Closing copies nothing into the file and syncs nothing (the sweep would
// wait for that at its end): the WAL stays, and a cache opened later reads
// what it holds.
TEST(ScanCache, ClosingLeavesTheWalWhichALaterOpenReads) {
  TempDir t;
  const std::string path = t / "c.db";
  {
    auto cache = ScanCache::open(path);
    ASSERT_TRUE(cache);
    for (int i = 0; i < 100; ++i) (*cache)->store("/d" + std::to_string(i) + "/f", kKey, sample_file());
    ASSERT_TRUE((*cache)->flush());
  }
  struct stat st {};
  ASSERT_EQ(::stat((path + "-wal").c_str(), &st), 0) << "the WAL was removed at close: it was checkpointed";
  EXPECT_GT(st.st_size, 0);
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache) << cache.error().message;
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  EXPECT_FALSE((*reader)->answers_nothing());
  for (int i = 0; i < 100; ++i) EXPECT_TRUE((*reader)->find("/d" + std::to_string(i) + "/f", kKey).has_value()) << i;
}

// Commits that leave the WAL at 1,000 frames or more (16 MiB of pages) have
// it copied into the file while the cache stays open: the WAL does not grow
// with the sweep.
TEST(ScanCache, TheWalIsCopiedIntoTheFileWhileTheCacheIsOpen) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  const off_t created = file_size(path);
  ASSERT_GE(created, 0);
  const CachedFile many = matched_rules(300);                                                   // about 18 KB
  for (int i = 0; i < 1200; ++i) (*cache)->store("/d" + std::to_string(i) + "/f", kKey, many);  // about 22 MB
  ASSERT_TRUE((*cache)->flush());
  eventually([&] { return file_size(path) >= (16 << 20); });
  EXPECT_GE(file_size(path), 16 << 20) << "created at " << created << " bytes: the WAL was not copied in";
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  for (int i = 0; i < 1200; i += 100) {
    auto got = (*reader)->find("/d" + std::to_string(i) + "/f", kKey);
    ASSERT_TRUE(got.has_value()) << i;
    EXPECT_EQ(got->yara_matches.size(), 300u);
  }
}

// A WAL an earlier sweep left is copied into the file by the next open's
// checkpointer, even when that sweep writes nothing (a re-sweep).
TEST(ScanCache, AWalLeftBehindIsCopiedInByTheNextOpen) {
  TempDir t;
  const std::string path = t / "c.db";
  {
    auto cache = ScanCache::open(path);
    ASSERT_TRUE(cache);
    const CachedFile many = matched_rules(300);  // about 18 KB
    for (int i = 0; i < 200; ++i) (*cache)->store("/d" + std::to_string(i) + "/f", kKey, many);
    ASSERT_TRUE((*cache)->flush());
  }
  // The WAL left behind, made by a connection that neither checkpoints nor
  // removes it: everything copied in first, then the rows again under other
  // directories (3.6 MB), in the WAL only.
  struct stat st {};
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_wal_autocheckpoint(db, 0);
    ASSERT_EQ(sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr), SQLITE_OK);
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    ASSERT_EQ(
        sqlite3_exec(
            db,
            "INSERT INTO dir_entries SELECT CAST(dir || 'copy/' AS BLOB), seq, files, body, stored_at FROM dir_entries",
            nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  const off_t before = st.st_size;
  ASSERT_EQ(file_size(path), before) << "the rows were copied in already";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  eventually([&] { return file_size(path) >= before + (2 << 20); });
  EXPECT_GE(file_size(path), before + (2 << 20)) << "the WAL left behind was not copied in";
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  EXPECT_TRUE((*reader)->find("/d7/copy/f", kKey).has_value());
}

// Commits faster than checkpoints (here: batches back to back, 140 MB in
// all) never grow the WAL past 4,000 frames and a batch: the writer waits
// for a whole checkpoint there (RESTART: until no reader is in the WAL),
// a commit takes at most 16 MiB of rows, and the WAL then starts over, cut
// back to 4,000 pages. (Where checkpoints keep up anyway, the bound holds without the
// wait too: this catches its loss only on a machine where they lag.)
TEST(ScanCache, TheWalStaysBoundedWhenCommitsOutpaceCheckpoints) {
  TempDir t;
  const std::string path = t / "c.db";
  auto cache = ScanCache::open(path);
  ASSERT_TRUE(cache);
  const CachedFile many = matched_rules(800);  // about 48 KB
  off_t largest = 0;
  struct stat st {};
  for (int i = 0; i < 3000; ++i) {
    (*cache)->store("/d" + std::to_string(i) + "/f", kKey, many);
    if (i % 256 == 0 && ::stat((path + "-wal").c_str(), &st) == 0) largest = std::max(largest, st.st_size);
  }
  ASSERT_TRUE((*cache)->flush());
  ASSERT_EQ(::stat((path + "-wal").c_str(), &st), 0);
  largest = std::max(largest, st.st_size);
  // 4,000 frames of 16 KiB, and a batch of 1,024 rows of 48 KB (its pages
  // and the B-tree's), with the frames' headers.
  EXPECT_LE(largest, off_t{(4000 + 3500) * (16384 + 24)});
  auto reader = (*cache)->reader();
  ASSERT_TRUE(reader);
  for (int i = 0; i < 3000; i += 250)
    EXPECT_TRUE((*reader)->find("/d" + std::to_string(i) + "/f", kKey).has_value()) << i;
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
