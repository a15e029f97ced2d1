#include "cache/scan_cache.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/signal_free_thread.hpp"
#include "iocsweep/cache.hpp"

namespace iocsweep {
namespace {

constexpr const char* kFormatName = "iocsweep-scan-cache";
// Waits this long for a lock held by another process using the same file
// (a second sweep, a checkpoint) before a statement fails.
constexpr int kBusyTimeoutMs = 10000;
constexpr auto kBatchInterval = std::chrono::seconds(1);

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

constexpr const char* kSchema =
    "CREATE TABLE iocsweep_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE files("
    "  path BLOB PRIMARY KEY,"
    "  dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,"
    "  md5 BLOB, sha1 BLOB, sha256 BLOB,"
    "  rules_fp TEXT NOT NULL, yara BLOB NOT NULL, not_archive INTEGER NOT NULL, members_fp TEXT NOT NULL,"
    "  stored_at INTEGER NOT NULL"
    ") WITHOUT ROWID;";

constexpr const char* kSelect =
    "SELECT dev, ino, size, mtime_ns, ctime_ns, md5, sha1, sha256, rules_fp, yara, not_archive, members_fp FROM files "
    "WHERE path = ?1";
constexpr const char* kInsert =
    "INSERT OR REPLACE INTO files(path, dev, ino, size, mtime_ns, ctime_ns, md5, sha1, sha256, rules_fp, yara, "
    "stored_at, not_archive, members_fp) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

std::string db_error(const std::string& path, sqlite3* db) {
  return path + ": scan cache: " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

// Opens `db_path`; messages name the file as the user spelt it (`path`).
Result<DbHandle> open_connection(const std::string& db_path, const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(db_path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) return Error{db_error(path, db.get())};
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  return db;
}

Result<StmtHandle> prepare(const std::string& path, sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
    return Error{db_error(path, db)};
  }
  return StmtHandle(raw);
}

Status exec(const std::string& path, sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return Error{db_error(path, db)};
  return Ok{};
}

// Checks that `db` is an iocsweep cache of our schema version, or an empty
// database (then writes the schema).
Status check_or_create_schema(const std::string& path, sqlite3* db) {
  auto count = prepare(path, db, "SELECT count(*) FROM sqlite_master");
  if (!count) {
    const int code = sqlite3_errcode(db) & 0xff;
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
      return Error{path + ": not an iocsweep scan cache (" + sqlite3_errmsg(db) +
                   "); it is left untouched: delete it or name another file"};
    }
    return count.error();
  }
  if (sqlite3_step(count->get()) != SQLITE_ROW) return Error{db_error(path, db)};
  const bool empty = sqlite3_column_int64(count->get(), 0) == 0;
  count->reset();
  if (empty) {
    // WAL: readers do not block the writer, and a killed writer leaves a
    // consistent database (the uncommitted tail of the log is ignored).
    if (Status s = exec(path, db, "PRAGMA journal_mode=WAL"); !s) return s;
    const std::string create = std::string("BEGIN IMMEDIATE;") + kSchema +
                               "INSERT INTO iocsweep_meta VALUES('format', '" + kFormatName +
                               "'), ('schema_version', " + std::to_string(kScanCacheSchemaVersion) + ");COMMIT;";
    if (Status s = exec(path, db, create.c_str()); !s) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return s;
    }
    return Ok{};
  }
  sqlite3_stmt* raw = nullptr;
  const char* sql =
      "SELECT (SELECT value FROM iocsweep_meta WHERE key = 'format'), "
      "(SELECT value FROM iocsweep_meta WHERE key = 'schema_version')";
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    return Error{path +
                 ": not an iocsweep scan cache (an SQLite database without its tables); it is left "
                 "untouched: delete it or name another file"};
  }
  StmtHandle meta(raw);
  if (sqlite3_step(meta.get()) != SQLITE_ROW) return Error{db_error(path, db)};
  const unsigned char* format = sqlite3_column_text(meta.get(), 0);
  if (format == nullptr || std::strcmp(reinterpret_cast<const char*>(format), kFormatName) != 0) {
    return Error{path +
                 ": not an iocsweep scan cache (an SQLite database of another kind); it is left "
                 "untouched: delete it or name another file"};
  }
  const auto version = sqlite3_column_int64(meta.get(), 1);
  if (version != kScanCacheSchemaVersion) {
    return Error{path + ": scan cache has schema version " + std::to_string(version) + ", this iocsweep uses " +
                 std::to_string(kScanCacheSchemaVersion) + "; delete the file to start a new cache"};
  }
  return exec(path, db, "PRAGMA journal_mode=WAL");
}

std::string octal_mode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Why `file` (an existing cache file or one of its -wal, -shm, -journal
// files, by lstat) could carry verdicts another user wrote, or "".
std::string file_hazard(const std::string& file, const struct stat& st, uid_t euid) {
  if (S_ISLNK(st.st_mode)) return file + ": scan cache is a symbolic link; name the file itself";
  if (!S_ISREG(st.st_mode)) return file + ": scan cache is not a regular file";
  if (st.st_uid != euid) {
    return file + ": scan cache belongs to uid " + std::to_string(st.st_uid) + ", not to the sweeping user (uid " +
           std::to_string(euid) + "), who could not trust its verdicts; remove it or name another file";
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return file + ": scan cache is writable by group or others (mode " + octal_mode(st.st_mode) +
           "), who could edit its verdicts; remove it or name another file";
  }
  return "";
}

// Why another user could replace the cache in `dir` (absolute, resolved)
// or plant its -wal or -shm file there, or "". The cache's own directory
// must be writable by its owner only: a sticky bit stops others renaming
// the cache, not creating the -wal file SQLite will open. Above it, a
// directory writable by others must be sticky (as /tmp), so that no one
// renames the directory below away; and every one must belong to root or
// the sweeping user, whom nothing here protects against anyway.
std::string directory_hazard(const std::string& dir, uid_t euid) {
  std::string current = dir;
  for (bool own = true;; own = false) {
    struct stat st {};
    if (::lstat(current.c_str(), &st) != 0) return "cannot check directory " + current + ": " + std::strerror(errno);
    if (st.st_uid != euid && st.st_uid != 0) {
      return "directory " + current + " belongs to uid " + std::to_string(st.st_uid) +
             ", who could replace the scan cache; keep it where only you (or root) can write";
    }
    const bool shared = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    if (shared && (own || (st.st_mode & S_ISVTX) == 0)) {
      return "directory " + current + " is writable by group or others (mode " + octal_mode(st.st_mode) +
             "), who could replace the scan cache or plant its -wal file; keep it where only you (or root) can "
             "write";
    }
    if (current == "/") return "";
    const std::size_t slash = current.find_last_of('/');
    current = slash == 0 ? "/" : current.substr(0, slash);
  }
}

// The files one open created, removed again unless the open succeeds:
// the cache itself (made with O_EXCL) and those of its -wal, -shm and
// -journal files that did not exist before. Declared before the
// connection, so SQLite has closed them by the time they are removed.
struct CreatedFiles {
  std::vector<std::string> paths;
  bool keep = false;
  ~CreatedFiles() {
    if (keep) return;
    for (const std::string& p : paths) ::unlink(p.c_str());
  }
};

std::int64_t as_db_int(std::uint64_t v) {
  std::int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

std::uint64_t from_db_int(std::int64_t v) {
  std::uint64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

// Rule identities as "ns\0name\0" pairs: neither part can hold a NUL.
std::string encode_rules(const std::vector<RuleId>& rules) {
  std::string out;
  for (const RuleId& r : rules) {
    out += r.ns;
    out += '\0';
    out += r.name;
    out += '\0';
  }
  return out;
}

std::optional<std::vector<RuleId>> decode_rules(std::string_view blob) {
  std::vector<RuleId> out;
  while (!blob.empty()) {
    const std::size_t a = blob.find('\0');
    if (a == std::string_view::npos) return std::nullopt;
    const std::size_t b = blob.find('\0', a + 1);
    if (b == std::string_view::npos) return std::nullopt;
    out.push_back(RuleId{std::string(blob.substr(0, a)), std::string(blob.substr(a + 1, b - a - 1))});
    blob.remove_prefix(b + 1);
  }
  return out;
}

std::string_view column_blob(sqlite3_stmt* stmt, int col) {
  const void* p = sqlite3_column_blob(stmt, col);
  const int n = sqlite3_column_bytes(stmt, col);
  if (p == nullptr || n <= 0) return {};
  return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}

}  // namespace

bool cache_trusts_filesystem(std::uint64_t f_type) {
  // From linux/magic.h, spelled out so the build does not depend on the
  // kernel headers' version. Each calls file_update_time() from its
  // page_mkwrite handler, which runs on the first write to a clean page.
  static constexpr std::uint64_t kTrusted[] = {
      0xEF53,      // ext2, ext3, ext4
      0x58465342,  // xfs
      0x9123683E,  // btrfs
      0xF2F52010,  // f2fs
  };
  return std::find(std::begin(kTrusted), std::end(kTrusted), f_type) != std::end(kTrusted);
}

std::optional<std::int64_t> writeback_settle_ns(std::string_view dirty_expire_centisecs,
                                                std::string_view dirty_writeback_centisecs) {
  const auto parse = [](std::string_view text) -> std::optional<std::int64_t> {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    // Above a year is as good as never.
    if (ec != std::errc() || end != text.data() + text.size() || v < 0 || v > 3'153'600'000) return std::nullopt;
    return v;
  };
  const auto expire = parse(dirty_expire_centisecs);
  const auto interval = parse(dirty_writeback_centisecs);
  // An interval of 0 turns periodic writeback off: a dirty page may stay
  // dirty for as long as memory allows.
  if (!expire || !interval || *interval == 0) return std::nullopt;
  return 2 * (*expire + *interval) * 10'000'000;
}

std::optional<std::int64_t> current_writeback_settle_ns() {
  const auto slurp = [](const char* path) -> std::optional<std::string> {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const auto expire = slurp("/proc/sys/vm/dirty_expire_centisecs");
  const auto interval = slurp("/proc/sys/vm/dirty_writeback_centisecs");
  if (!expire || !interval) return std::nullopt;
  return writeback_settle_ns(*expire, *interval);
}

struct ScanCacheReader::Impl {
  // Null when the cache held no rows as the reader was made.
  DbHandle db;
  StmtHandle select;
  StmtHandle begin;
  StmtHandle end;
  // Lookups left in the open read transaction; 0: none is open.
  std::size_t snapshot_left = 0;
  // When the open read transaction began.
  std::chrono::steady_clock::time_point snapshot_since;

  // Ends the open read transaction, if any.
  void end_snapshot() {
    if (sqlite3_get_autocommit(db.get()) == 0) {
      sqlite3_step(end.get());
      sqlite3_reset(end.get());
    }
    snapshot_left = 0;
  }
  std::optional<CachedFile> lookup(std::string_view path, const FileKey& key);
};

ScanCacheReader::ScanCacheReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ScanCacheReader::~ScanCacheReader() = default;

bool ScanCacheReader::answers_nothing() const { return !impl_->db; }

std::optional<CachedFile> ScanCacheReader::find(std::string_view path, const FileKey& key) {
  if (!impl_->db) return std::nullopt;
  // One read transaction for many lookups: each transaction of its own
  // would take and drop the database's and the WAL index's locks (fcntl
  // calls) around every lookup. But while a reader holds a snapshot, no
  // checkpoint can pass it and the WAL grows with every commit, so it is
  // ended when the worker is about to read a file (a miss: the cache cannot
  // answer for it), when it is older than kSnapshotMaxAge, and after
  // kLookupsPerSnapshot lookups.
  if (impl_->snapshot_left == 0) {
    // A failed BEGIN leaves autocommit on: lookups then run on their own.
    sqlite3_step(impl_->begin.get());
    sqlite3_reset(impl_->begin.get());
    impl_->snapshot_left = kLookupsPerSnapshot;
    impl_->snapshot_since = std::chrono::steady_clock::now();
  }
  --impl_->snapshot_left;
  std::optional<CachedFile> found = impl_->lookup(path, key);
  if (impl_->snapshot_left == 0 || !found ||
      std::chrono::steady_clock::now() - impl_->snapshot_since > kSnapshotMaxAge) {
    impl_->end_snapshot();
  }
  return found;
}

std::optional<CachedFile> ScanCacheReader::Impl::lookup(std::string_view path, const FileKey& key) {
  sqlite3_stmt* st = select.get();
  struct Reset {
    sqlite3_stmt* st;
    ~Reset() {
      sqlite3_reset(st);
      sqlite3_clear_bindings(st);
    }
  } reset{st};
  if (sqlite3_bind_blob64(st, 1, path.data(), path.size(), SQLITE_STATIC) != SQLITE_OK) return std::nullopt;
  if (sqlite3_step(st) != SQLITE_ROW) return std::nullopt;
  const FileKey stored{from_db_int(sqlite3_column_int64(st, 0)), from_db_int(sqlite3_column_int64(st, 1)),
                       from_db_int(sqlite3_column_int64(st, 2)), sqlite3_column_int64(st, 3),
                       sqlite3_column_int64(st, 4)};
  if (!(stored == key)) return std::nullopt;
  CachedFile out;
  const auto take = [&](int col, DigestKind kind, auto& dest) {
    const std::string_view b = column_blob(st, col);
    if (b.size() != dest.size()) return;  // absent (or damaged: treated as absent)
    std::memcpy(dest.data(), b.data(), dest.size());
    out.digests.present = out.digests.present.with(kind);
  };
  take(5, DigestKind::kMd5, out.digests.md5);
  take(6, DigestKind::kSha1, out.digests.sha1);
  take(7, DigestKind::kSha256, out.digests.sha256);
  if (const unsigned char* fp = sqlite3_column_text(st, 8)) out.rules_fingerprint = reinterpret_cast<const char*>(fp);
  auto rules = decode_rules(column_blob(st, 9));
  if (!rules) return std::nullopt;
  out.yara_matches = std::move(*rules);
  out.not_archive = sqlite3_column_int64(st, 10) != 0;
  if (const unsigned char* fp = sqlite3_column_text(st, 11)) {
    out.clean_members_fingerprint = reinterpret_cast<const char*>(fp);
  }
  return out;
}

struct ScanCache::Row {
  std::string path;
  FileKey key;
  CachedFile file;
};

struct ScanCache::Impl {
  std::mutex mu;
  // The writer waits on `work` for rows, a flush or the stop; store() and
  // flush() wait on `done` for room and for commits.
  std::condition_variable work;
  std::condition_variable done;
  // Under mu: rows waiting for the writer, when the first of them came.
  std::vector<Row> queue;
  std::chrono::steady_clock::time_point first_queued;
  // Under mu: rows ever queued; rows committed or dropped; what flush()
  // waits for.
  std::uint64_t queued = 0;
  std::uint64_t finished = 0;
  std::uint64_t flush_to = 0;
  bool stopping = false;
  // Under mu: the file holds committed rows (at open, or committed since).
  bool has_rows = false;
  std::string error;
  // The write connection and its statement: the writer thread's alone once
  // it runs.
  DbHandle db;
  StmtHandle insert;
  std::thread writer;
};

ScanCache::ScanCache(std::string path, std::string db_path)
    : path_(std::move(path)), db_path_(std::move(db_path)), impl_(std::make_unique<Impl>()) {}

ScanCache::~ScanCache() {
  if (!impl_->writer.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->work.notify_one();
  impl_->writer.join();  // commits what is queued first
}

Result<std::unique_ptr<ScanCache>> ScanCache::open(const std::string& path) {
  // SQLite's memory statistics take one process-wide mutex around every
  // allocation, which the readers' lookups contend for. Only possible
  // before SQLite's first use in the process; harmless (refused) after.
  static std::once_flag no_memstatus;
  std::call_once(no_memstatus, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  if (path.empty()) return Error{"scan cache: empty file name"};
  const std::size_t slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty()) return Error{path + ": scan cache: not a file name"};
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  // The directory is resolved and checked once, and the cache opened below
  // the resolved path: a symlink on the way, retargeted after the check,
  // cannot send the open elsewhere.
  char* resolved = ::realpath(dir.c_str(), nullptr);
  if (resolved == nullptr) return Error{path + ": scan cache: " + dir + ": " + std::strerror(errno)};
  const std::string real_dir = resolved;
  std::free(resolved);
  const uid_t euid = ::geteuid();
  if (std::string hazard = directory_hazard(real_dir, euid); !hazard.empty()) {
    return Error{path + ": scan cache refused: " + hazard};
  }
  const std::string db_path = (real_dir == "/" ? "" : real_dir) + "/" + name;

  CreatedFiles created;
  struct stat st {};
  if (::lstat(db_path.c_str(), &st) == 0) {
    if (std::string hazard = file_hazard(path, st, euid); !hazard.empty()) return Error{hazard};
  } else if (errno == ENOENT) {
    // Created here, not by SQLite, so that it is private from the start;
    // SQLite gives the -wal and -shm files the same mode.
    const int fd = ::open(db_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return Error{path + ": cannot create the scan cache: " + std::strerror(errno)};
    if (fd >= 0) {
      ::close(fd);
      created.paths.push_back(db_path);
    } else if (::lstat(db_path.c_str(), &st) != 0) {
      return Error{path + ": " + std::strerror(errno)};
    } else if (std::string hazard = file_hazard(path, st, euid); !hazard.empty()) {
      return Error{hazard};  // made meanwhile by another sweep of ours, or refused as any
    }
  } else {
    return Error{path + ": " + std::strerror(errno)};
  }
  // SQLite opens these by name (O_CREAT, without O_NOFOLLOW): one left by
  // someone else would hand them the verdicts. Only we can create them now
  // that the directory is ours.
  const bool made_db = !created.paths.empty();
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    const std::string side = db_path + suffix;
    if (::lstat(side.c_str(), &st) == 0) {
      if (std::string hazard = file_hazard(path + suffix, st, euid); !hazard.empty()) return Error{hazard};
    } else if (errno != ENOENT) {
      return Error{path + suffix + ": " + std::strerror(errno)};
    } else if (made_db) {
      created.paths.push_back(side);
    }
  }
  std::unique_ptr<ScanCache> cache(new ScanCache(path, db_path));
  auto db = open_connection(db_path, path);
  if (!db) return db.error();
  if (Status s = check_or_create_schema(path, db->get()); !s) return s.error();
  if (Status s = exec(path, db->get(), "PRAGMA synchronous=NORMAL"); !s) return s.error();
  auto insert = prepare(path, db->get(), kInsert);
  if (!insert) return insert.error();
  auto any = prepare(path, db->get(), "SELECT EXISTS(SELECT 1 FROM files)");
  if (!any) return any.error();
  if (sqlite3_step(any->get()) != SQLITE_ROW) return Error{db_error(path, db->get())};
  cache->impl_->has_rows = sqlite3_column_int64(any->get(), 0) != 0;
  any->reset();
  cache->impl_->db = std::move(*db);
  cache->impl_->insert = std::move(*insert);
  // The writer never takes a signal meant for the process (the sweep waits
  // for SIGINT and SIGTERM in a thread of its own, started after this).
  cache->impl_->writer = start_signal_free_thread([c = cache.get()] { c->write_loop(); });
  created.keep = true;
  return cache;
}

Result<std::unique_ptr<ScanCacheReader>> ScanCache::reader() const {
  auto impl = std::make_unique<ScanCacheReader::Impl>();
  {
    std::lock_guard lock(impl_->mu);
    // Nothing to find: a first sweep's lookups cost nothing. Rows this
    // sweep commits later are never needed by its own lookups.
    if (!impl_->has_rows) return std::unique_ptr<ScanCacheReader>(new ScanCacheReader(std::move(impl)));
  }
  auto db = open_connection(db_path_, path_);
  if (!db) return db.error();
  auto select = prepare(path_, db->get(), kSelect);
  if (!select) return select.error();
  auto begin = prepare(path_, db->get(), "BEGIN");
  if (!begin) return begin.error();
  auto end = prepare(path_, db->get(), "COMMIT");
  if (!end) return end.error();
  impl->db = std::move(*db);
  impl->select = std::move(*select);
  impl->begin = std::move(*begin);
  impl->end = std::move(*end);
  return std::unique_ptr<ScanCacheReader>(new ScanCacheReader(std::move(impl)));
}

void ScanCache::store(std::string path, const FileKey& key, CachedFile file) {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  s.done.wait(lock, [&] { return s.queue.size() < kQueueRows || !s.error.empty(); });
  if (!s.error.empty()) return;
  if (s.queue.empty()) s.first_queued = std::chrono::steady_clock::now();
  s.queue.push_back(Row{std::move(path), key, std::move(file)});
  ++s.queued;
  // Woken for the first row (its second starts) and for a full batch
  // only: not a wake-up per row.
  if (s.queue.size() == 1 || s.queue.size() == kBatchRows) s.work.notify_one();
}

Status ScanCache::flush() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  if (!s.writer.joinable()) return Error{path_ + ": scan cache is not open"};
  const std::uint64_t target = s.queued;
  s.flush_to = std::max(s.flush_to, target);
  s.work.notify_one();
  s.done.wait(lock, [&] { return s.finished >= target; });
  if (!s.error.empty()) return Error{s.error};
  return Ok{};
}

std::string ScanCache::last_error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->error;
}

void ScanCache::write_loop() {
  Impl& s = *impl_;
  std::vector<Row> batch;
  std::unique_lock lock(s.mu);
  for (;;) {
    s.work.wait(lock, [&] { return !s.queue.empty() || s.stopping; });
    if (s.queue.empty()) return;  // stopping, all committed
    // A batch is kBatchRows rows, or what came within a second of the
    // first of them; a flush or the stop commits at once.
    s.work.wait_until(lock, s.first_queued + kBatchInterval,
                      [&] { return s.queue.size() >= kBatchRows || s.flush_to > s.finished || s.stopping; });
    batch.swap(s.queue);
    lock.unlock();
    s.done.notify_all();  // room again
    Status committed = commit(batch);
    lock.lock();
    s.finished += batch.size();
    batch.clear();
    if (committed) {
      s.has_rows = true;
    } else {
      // Writes after an error are dropped: the sweep goes on without caching.
      if (s.error.empty()) s.error = committed.error().message;
      s.finished += s.queue.size();
      s.queue.clear();
    }
    s.done.notify_all();
  }
}

Status ScanCache::commit(const std::vector<Row>& rows) {
  if (rows.empty()) return Ok{};
  sqlite3* db = impl_->db.get();
  const auto fail = [&]() -> Status {
    std::string message = db_error(path_, db);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return Error{message};
  };
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return fail();
  sqlite3_stmt* st = impl_->insert.get();
  const std::int64_t now = static_cast<std::int64_t>(::time(nullptr));
  for (const Row& r : rows) {
    const auto bind_digest = [&](int col, DigestKind kind) {
      if (!r.file.digests.present.has(kind)) return sqlite3_bind_null(st, col);
      const ByteView b = r.file.digests.get(kind);
      return sqlite3_bind_blob(st, col, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
    };
    const std::string rules = encode_rules(r.file.yara_matches);
    const bool bound =
        sqlite3_bind_blob64(st, 1, r.path.data(), r.path.size(), SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int64(st, 2, as_db_int(r.key.device)) == SQLITE_OK &&
        sqlite3_bind_int64(st, 3, as_db_int(r.key.inode)) == SQLITE_OK &&
        sqlite3_bind_int64(st, 4, as_db_int(r.key.size)) == SQLITE_OK &&
        sqlite3_bind_int64(st, 5, r.key.mtime_ns) == SQLITE_OK &&
        sqlite3_bind_int64(st, 6, r.key.ctime_ns) == SQLITE_OK && bind_digest(7, DigestKind::kMd5) == SQLITE_OK &&
        bind_digest(8, DigestKind::kSha1) == SQLITE_OK && bind_digest(9, DigestKind::kSha256) == SQLITE_OK &&
        sqlite3_bind_text64(st, 10, r.file.rules_fingerprint.data(), r.file.rules_fingerprint.size(), SQLITE_STATIC,
                            SQLITE_UTF8) == SQLITE_OK &&
        sqlite3_bind_blob64(st, 11, rules.data(), rules.size(), SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int64(st, 12, now) == SQLITE_OK &&
        sqlite3_bind_int64(st, 13, r.file.not_archive ? 1 : 0) == SQLITE_OK &&
        sqlite3_bind_text64(st, 14, r.file.clean_members_fingerprint.data(), r.file.clean_members_fingerprint.size(),
                            SQLITE_STATIC, SQLITE_UTF8) == SQLITE_OK;
    const int rc = bound ? sqlite3_step(st) : SQLITE_ERROR;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return fail();
  }
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail();
  return Ok{};
}

}  // namespace iocsweep
