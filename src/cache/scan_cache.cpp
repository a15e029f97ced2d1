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
#include <deque>
#include <fstream>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cache/dir_entries.hpp"
#include "common/signal_free_thread.hpp"
#include "iocsweep/cache.hpp"

namespace iocsweep {
namespace {

constexpr const char* kFormatName = "iocsweep-scan-cache";
// Waits this long for a lock held by another process using the same file
// (a second sweep, a checkpoint) before a statement fails.
constexpr int kBusyTimeoutMs = 10000;
constexpr auto kBatchInterval = std::chrono::seconds(1);
// Frames the WAL holds before the checkpointer copies them into the file
// (SQLite's default for its own automatic checkpoints, which are off).
constexpr int kCheckpointFrames = 1000;
// Frames past which the writer waits for the checkpointer before its next
// commit: a checkpoint that runs while the writer commits copies what was
// there when it began, and the WAL starts over only when a commit finds
// all of it copied. So commits that come faster than checkpoints (an
// fdatasync under I/O load) would grow it without end. 4,000 pages of
// 16 KiB (65.5 MB).
constexpr int kMaxWalFrames = 4 * kCheckpointFrames;
// What the WAL file is cut back to when it starts over.
constexpr std::int64_t kWalSizeLimit = std::int64_t{kMaxWalFrames} * 16384;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// One row per directory and batch: the entries a batch (or a merge of
// rows) holds for files of that directory, as one body (dir_entries.hpp).
// A file's newest entry is in the row of highest seq that names it. One row
// a directory rather than one a file: SQLite's cost is per row, and a
// first sweep would pay it for every file (docs/performance.md, Scan cache).
constexpr const char* kSchema =
    "CREATE TABLE iocsweep_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE dir_entries("
    "  dir BLOB NOT NULL, seq INTEGER NOT NULL,"
    "  files INTEGER NOT NULL, body BLOB NOT NULL, stored_at INTEGER NOT NULL,"
    "  PRIMARY KEY(dir, seq)"
    ") WITHOUT ROWID;";

// A directory's rows, newest first.
constexpr const char* kSelectDir = "SELECT body, files FROM dir_entries WHERE dir = ?1 ORDER BY seq DESC";
constexpr const char* kDirRows =
    "SELECT count(*), coalesce(max(seq), 0), coalesce(sum(length(body)), 0) FROM dir_entries WHERE dir = ?1";
constexpr const char* kInsertDir =
    "INSERT INTO dir_entries(dir, seq, files, body, stored_at) VALUES(?1, ?2, ?3, ?4, ?5)";
constexpr const char* kDeleteDir = "DELETE FROM dir_entries WHERE dir = ?1 AND seq <= ?2";

std::string db_error(const std::string& path, sqlite3* db) {
  return path + ": scan cache: " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

// Closing the last connection neither checkpoints nor removes the WAL: the
// sweep would wait for the copy and two fdatasync calls at its end (0.4 s
// under I/O load). What the WAL holds is the cache's as much as the file
// is (a later connection reads both), and the checkpointer copies it in.
// Set only on a connection to a file known to be our cache: one refused is
// closed as SQLite does by default, which removes a WAL it made.
Status keep_wal_at_close(const std::string& path, sqlite3* db) {
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr) != SQLITE_OK) {
    return Error{db_error(path, db)};
  }
  return Ok{};
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
    // Pages of 16 KiB: a row's body spans fewer overflow pages (measured:
    // about a fifth less CPU a row than 4 KiB).
    // As open() sets it after: the schema's commit is not synced either.
    if (Status s = exec(path, db, "PRAGMA synchronous=NORMAL"); !s) return s;
    if (Status s = exec(path, db, "PRAGMA page_size=16384"); !s) return s;
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

std::string_view column_blob(sqlite3_stmt* stmt, int col) {
  const void* p = sqlite3_column_blob(stmt, col);
  const int n = sqlite3_column_bytes(stmt, col);
  if (p == nullptr || n <= 0) return {};
  return {static_cast<const char*>(p), static_cast<std::size_t>(n)};
}

// Binds `bytes` as a blob; an empty one as an empty blob, not NULL (as a
// null data pointer would).
int bind_bytes(sqlite3_stmt* st, int col, std::string_view bytes) {
  return sqlite3_bind_blob64(st, col, bytes.empty() ? "" : bytes.data(), bytes.size(), SQLITE_STATIC);
}

// Resets a prepared statement and clears its bindings when it goes out of
// scope, however the steps before ended.
struct Step {
  sqlite3_stmt* st;
  ~Step() {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
};

}  // namespace

FileKey file_key_of(const struct stat& st) {
  const auto ns = [](const timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + static_cast<std::int64_t>(t.tv_nsec);
  };
  return FileKey{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                 static_cast<std::uint64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

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

// One directory's rows as a reader read them: the bodies (newest first)
// and each name's newest entry.
struct LoadedDir {
  // A name, its entry (views into `bodies`) and the index of its body in
  // `indexes` (its string table).
  struct Named {
    std::string_view name;
    std::string_view entry;
    std::size_t body;
  };
  std::string dir;
  std::deque<std::string> bodies;
  // Each body's string table (the entries went to `names`).
  std::deque<DirBodyIndex> indexes;
  // Sorted by name, each name once (its newest entry): 40 bytes a name,
  // where a hash map and the indexes' entries took about 100.
  std::vector<Named> names;
  std::size_t bytes = 0;

  const Named* find(std::string_view name) const {
    const auto it = std::lower_bound(names.begin(), names.end(), name,
                                     [](const Named& n, std::string_view v) { return n.name < v; });
    return it != names.end() && it->name == name ? &*it : nullptr;
  }
};

struct ScanCacheReader::Impl {
  // Null when the cache held no rows as the reader was made.
  DbHandle db;
  StmtHandle select;
  // Most recently used first, found by name; at most kReaderDirs and
  // kReaderBytes (as load() counts them), but for the directories it keeps
  // whatever they cost.
  std::list<LoadedDir> dirs;
  std::unordered_map<std::string_view, std::list<LoadedDir>::iterator> by_dir;
  std::size_t bytes = 0;
  // What the last load that failed found (`failed_dir`): it answers the
  // lookups in that directory until one in another, then the directory is
  // read again; a directory whose rows cannot be read costs one read, not
  // one a file.
  LoadedDir failed;
  std::optional<std::string> failed_dir;

  const LoadedDir& load(std::string_view dir);
};

// Whether `other` is `dir` or one of its kKeptAncestors nearest parents
// (directories end in '/': a parent is a prefix).
bool near_ancestor(std::string_view other, std::string_view dir) {
  if (!dir.starts_with(other)) return false;
  return static_cast<std::size_t>(
             std::count(dir.begin() + static_cast<std::ptrdiff_t>(other.size()), dir.end(), '/')) <= kKeptAncestors;
}

// What a loaded directory costs a reader: its bodies, and about this much
// for each name and the directory itself.
constexpr std::size_t kReaderBytesPerName = 64;
constexpr std::size_t kReaderBytesPerDir = 256;

// Each directory's rows are read by one SELECT (its own read transaction:
// no snapshot outlives it, so checkpoints pass between directories). The
// walk visits a directory's files together, interrupted by its
// subdirectories' trees, so directories are evicted by what they cost, not
// by how many came since: a large one survives a visit to many small ones,
// and is read again only after as many bytes of others.
const LoadedDir& ScanCacheReader::Impl::load(std::string_view dir) {
  if (failed_dir && *failed_dir == dir) return failed;
  failed_dir.reset();
  if (const auto it = by_dir.find(dir); it != by_dir.end()) {
    dirs.splice(dirs.begin(), dirs, it->second);
    return dirs.front();
  }
  LoadedDir loaded;
  loaded.dir = std::string(dir);
  sqlite3_stmt* st = select.get();
  Step step{st};
  int rc = bind_bytes(st, 1, loaded.dir);
  // A writer keeps every row to kMaxDirBytes: this reads at most that and
  // one row more.
  while (rc == SQLITE_OK && loaded.bytes < kMaxDirBytes) {
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) break;
    const std::string& body = loaded.bodies.emplace_back(column_blob(st, 0));
    loaded.bytes += body.size();
    rc = SQLITE_OK;
    const std::size_t before = loaded.names.size();
    const std::int64_t files = sqlite3_column_int64(st, 1);
    // The row's count of files, so that the vector does not grow by copies;
    // a damaged count reserves no more than the body could hold (an entry
    // takes at least 26 bytes).
    // (Grown by half at least: a directory's rows do not each copy it.)
    if (files > 0 && static_cast<std::uint64_t>(files) <= body.size() / 26 &&
        before + static_cast<std::size_t>(files) > loaded.names.capacity()) {
      loaded.names.reserve(std::max(before + static_cast<std::size_t>(files), loaded.names.capacity() * 3 / 2));
    }
    auto index = index_dir_body(body, [&](std::string_view name, std::string_view entry) {
      loaded.names.push_back({name, entry, loaded.indexes.size()});
    });
    if (!index) {
      // Damaged: its entries are misses (an older row may answer, key checked).
      loaded.names.resize(before);
      continue;
    }
    loaded.indexes.push_back(std::move(*index));
  }
  // Rows newest first, each name once in a row: of a name's entries the
  // first one kept is its newest.
  std::stable_sort(loaded.names.begin(), loaded.names.end(),
                   [](const LoadedDir::Named& a, const LoadedDir::Named& b) { return a.name < b.name; });
  loaded.names.erase(std::unique(loaded.names.begin(), loaded.names.end(),
                                 [](const LoadedDir::Named& a, const LoadedDir::Named& b) { return a.name == b.name; }),
                     loaded.names.end());
  loaded.names.shrink_to_fit();
  loaded.bytes += kReaderBytesPerDir + kReaderBytesPerName * loaded.names.size();
  // A failed step (a lock held past the timeout, damage): what was read
  // answers the lookups in this directory until one in another, and is not
  // kept.
  if (rc != SQLITE_OK && rc != SQLITE_DONE) {
    failed = std::move(loaded);
    failed_dir = failed.dir;
    return failed;
  }
  // What the views point into stays where it is when the LoadedDir moves
  // (a moved deque keeps its elements).
  dirs.push_front(std::move(loaded));
  by_dir.emplace(dirs.front().dir, dirs.begin());
  bytes += dirs.front().bytes;
  // Least recently used first, but never this directory nor its nearest
  // kKeptAncestors parents: the walk comes back to those after this
  // subtree, however many bytes of other directories it holds.
  auto it = dirs.end();
  while ((dirs.size() > kReaderDirs || bytes > kReaderBytes) && it != dirs.begin()) {
    --it;
    if (near_ancestor(it->dir, dir)) continue;
    bytes -= it->bytes;
    by_dir.erase(it->dir);
    it = dirs.erase(it);
  }
  return dirs.front();
}

ScanCacheReader::ScanCacheReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ScanCacheReader::~ScanCacheReader() = default;

bool ScanCacheReader::answers_nothing() const { return !impl_->db; }

std::optional<CachedFile> ScanCacheReader::find(std::string_view path, const FileKey& key) {
  if (!impl_->db) return std::nullopt;
  const auto [dir, name] = split_dir_name(path);
  if (name.empty()) return std::nullopt;
  const LoadedDir& d = impl_->load(dir);
  const LoadedDir::Named* found = d.find(name);
  if (found == nullptr) return std::nullopt;
  auto entry = decode_dir_entry(d.indexes[found->body], found->entry);
  if (!entry || !(entry->key == key)) return std::nullopt;
  return std::move(entry->file);
}

struct ScanCache::Row {
  std::string path;
  FileKey key;
  CachedFile file;
};

namespace {

// What one commit takes from the queue at most (its first row whatever it
// takes), as row_bytes counts: with kMaxWalFrames, what bounds the WAL.
constexpr std::size_t kMaxCommitBytes = 16u << 20;

}  // namespace

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
  // The write connection and its statements: the writer thread's alone once
  // it runs.
  DbHandle db;
  StmtHandle dir_rows;
  StmtHandle insert;
  StmtHandle select;
  StmtHandle remove;
  std::thread writer;
  // The checkpointer: its own connection copies the WAL into the file,
  // woken (`checkpoint`) at the start (a WAL an earlier sweep left) and by
  // a commit that leaves kCheckpointFrames or more in the WAL, so that
  // neither the writer nor the end of the sweep waits for the copy and its
  // fdatasync calls. Under mu: whether one is asked for, the stop, and the
  // checkpoints begun and finished (the writer waits on `checkpointed` for
  // one when the WAL passes kMaxWalFrames).
  DbHandle checkpoint_db;
  std::condition_variable checkpoint;
  std::condition_variable checkpointed;
  bool checkpoint_wanted = true;
  // Under mu: the one wanted is the writer's, which waits for it: RESTART
  // (waits out readers still in the WAL, so the next commit starts it over).
  bool checkpoint_restart = false;
  bool checkpoint_stopping = false;
  std::uint64_t checkpoints_begun = 0;
  std::uint64_t checkpoints_done = 0;
  std::thread checkpointer;
  // The writer thread's: the WAL's frames after its last commit (the hook).
  int wal_frames = 0;
};

ScanCache::ScanCache(std::string path, std::string db_path)
    : path_(std::move(path)), db_path_(std::move(db_path)), impl_(std::make_unique<Impl>()) {}

ScanCache::~ScanCache() {
  Impl& s = *impl_;
  // The checkpointer is stopped first, so that the writer's last commits do
  // not start one the end would wait for. A checkpoint under way, or one
  // about to begin, stops at its next page (an fdatasync already called
  // runs to its end): the WAL keeps what was not copied.
  if (s.checkpointer.joinable()) {
    {
      std::lock_guard lock(s.mu);
      s.checkpoint_stopping = true;
    }
    s.checkpoint.notify_one();
    s.checkpointed.notify_all();
    sqlite3_interrupt(s.checkpoint_db.get());
  }
  if (s.writer.joinable()) {
    {
      std::lock_guard lock(s.mu);
      s.stopping = true;
    }
    s.work.notify_one();
    s.writer.join();  // commits what is queued first
  }
  if (s.checkpointer.joinable()) s.checkpointer.join();
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
  bool had_wal = false;
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    const std::string side = db_path + suffix;
    if (::lstat(side.c_str(), &st) == 0) {
      if (std::string hazard = file_hazard(path + suffix, st, euid); !hazard.empty()) return Error{hazard};
      had_wal = had_wal || std::string_view(suffix) == "-wal";
    } else if (errno != ENOENT) {
      return Error{path + suffix + ": " + std::strerror(errno)};
    } else if (made_db) {
      created.paths.push_back(side);
    }
  }
  std::unique_ptr<ScanCache> cache(new ScanCache(path, db_path));
  auto db = open_connection(db_path, path);
  if (!db) return db.error();
  // A WAL that was there is left as it was, also when the file is refused
  // (another program's database is not checkpointed by being looked at);
  // one this open makes is removed by SQLite at close when the file is
  // refused, as by default.
  if (had_wal) {
    if (Status s = keep_wal_at_close(path, db->get()); !s) return s.error();
  }
  if (Status s = check_or_create_schema(path, db->get()); !s) return s.error();
  if (Status s = keep_wal_at_close(path, db->get()); !s) return s.error();
  // WAL, synchronous=NORMAL: a commit is not synced (a power cut may lose the
  // last ones, never the file's consistency); a checkpoint is.
  if (Status s = exec(path, db->get(), "PRAGMA synchronous=NORMAL"); !s) return s.error();
  // The writer's commits never checkpoint: the hook wakes the checkpointer.
  sqlite3_wal_autocheckpoint(db->get(), 0);
  if (Status s = exec(path, db->get(), ("PRAGMA journal_size_limit=" + std::to_string(kWalSizeLimit)).c_str()); !s) {
    return s.error();
  }
  auto checkpoint_db = open_connection(db_path, path);
  if (!checkpoint_db) return checkpoint_db.error();
  if (Status s = keep_wal_at_close(path, checkpoint_db->get()); !s) return s.error();
  if (Status s = exec(path, checkpoint_db->get(), "PRAGMA synchronous=NORMAL"); !s) return s.error();
  auto dir_rows = prepare(path, db->get(), kDirRows);
  if (!dir_rows) return dir_rows.error();
  auto insert = prepare(path, db->get(), kInsertDir);
  if (!insert) return insert.error();
  auto select = prepare(path, db->get(), kSelectDir);
  if (!select) return select.error();
  auto remove = prepare(path, db->get(), kDeleteDir);
  if (!remove) return remove.error();
  auto any = prepare(path, db->get(), "SELECT EXISTS(SELECT 1 FROM dir_entries)");
  if (!any) return any.error();
  if (sqlite3_step(any->get()) != SQLITE_ROW) return Error{db_error(path, db->get())};
  cache->impl_->has_rows = sqlite3_column_int64(any->get(), 0) != 0;
  any->reset();
  cache->impl_->db = std::move(*db);
  cache->impl_->dir_rows = std::move(*dir_rows);
  cache->impl_->insert = std::move(*insert);
  cache->impl_->select = std::move(*select);
  cache->impl_->remove = std::move(*remove);
  cache->impl_->checkpoint_db = std::move(*checkpoint_db);
  sqlite3_wal_hook(
      cache->impl_->db.get(),
      [](void* impl, sqlite3*, const char*, int frames) {
        auto& s = *static_cast<Impl*>(impl);
        s.wal_frames = frames;
        if (frames >= kCheckpointFrames) {
          {
            std::lock_guard lock(s.mu);
            s.checkpoint_wanted = true;
          }
          s.checkpoint.notify_one();
        }
        return SQLITE_OK;
      },
      cache->impl_.get());
  // Neither thread takes a signal meant for the process (the sweep waits
  // for SIGINT and SIGTERM in a thread of its own, started after this).
  cache->impl_->checkpointer = start_signal_free_thread([c = cache.get()] { c->checkpoint_loop(); });
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
  if (Status s = keep_wal_at_close(path_, db->get()); !s) return s.error();
  // A reader reads a directory's rows once and keeps them itself (load()):
  // SQLite's page cache of them (2 MB a connection by default) would hold
  // the same bytes again. What is worth keeping is the B-tree's inner pages.
  if (Status s = exec(path_, db->get(), "PRAGMA cache_size=-512"); !s) return s.error();
  auto select = prepare(path_, db->get(), kSelectDir);
  if (!select) return select.error();
  impl->db = std::move(*db);
  impl->select = std::move(*select);
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
  // At least what a row takes in a body (the whole path counted as its
  // name; the fingerprints are stored once a body).
  const auto row_bytes = [](const Row& r) { return encoded_size_bound(DirEntryRef{r.path, &r.key, &r.file}); };
  std::vector<Row> batch;
  std::unique_lock lock(s.mu);
  for (;;) {
    s.work.wait(lock, [&] { return !s.queue.empty() || s.stopping; });
    if (s.queue.empty()) return;  // stopping, all committed
    // A batch is kBatchRows rows, or what came within a second of the
    // first of them; a flush or the stop commits at once.
    s.work.wait_until(lock, s.first_queued + kBatchInterval,
                      [&] { return s.queue.size() >= kBatchRows || s.flush_to > s.finished || s.stopping; });
    if (s.wal_frames >= kMaxWalFrames) {
      // A checkpoint begun now copies the whole WAL (nothing is added while
      // the writer waits) and, in RESTART mode, waits until no reader is in
      // the WAL, so the next commit starts it over, cut back to
      // kWalSizeLimit. The workers meanwhile fill the queue.
      s.checkpoint_wanted = true;
      s.checkpoint_restart = true;
      s.checkpoint.notify_one();
      const std::uint64_t after = s.checkpoints_begun + 1;
      s.checkpointed.wait(lock, [&] { return s.checkpoints_done >= after || s.checkpoint_stopping; });
    }
    // The queue, or as much of it as kMaxCommitBytes holds: a commit's frames
    // count towards the WAL's bound, and a queue of files that matched
    // hundreds of rules each can hold far more. (Taking it whole, as a swap,
    // when it fits: a commit of fewer rows a time would fall behind.)
    std::size_t take = 0;
    for (std::size_t bytes = 0; take < s.queue.size() && (take == 0 || bytes <= kMaxCommitBytes); ++take) {
      bytes += row_bytes(s.queue[take]);
    }
    if (take == s.queue.size()) {
      batch.swap(s.queue);
    } else {
      const auto end = s.queue.begin() + static_cast<std::ptrdiff_t>(take);
      batch.assign(std::make_move_iterator(s.queue.begin()), std::make_move_iterator(end));
      s.queue.erase(s.queue.begin(), end);
    }
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

void ScanCache::checkpoint_loop() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  for (;;) {
    s.checkpoint.wait(lock, [&] { return s.checkpoint_wanted || s.checkpoint_stopping; });
    if (s.checkpoint_stopping) return;
    s.checkpoint_wanted = false;
    const int mode = s.checkpoint_restart ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE;
    s.checkpoint_restart = false;
    const std::uint64_t number = ++s.checkpoints_begun;
    lock.unlock();
    // PASSIVE: copies what no reader still needs, never waits for a lock,
    // and the writer goes on committing meanwhile. RESTART (the writer is
    // waiting for it) also waits, to the busy timeout, for readers to leave
    // the WAL. A failure (the disk full, a reader past the timeout) leaves
    // the frames in the WAL, where they still count; the next checkpoint
    // tries again, and the writer reports write errors itself.
    sqlite3_wal_checkpoint_v2(s.checkpoint_db.get(), nullptr, mode, nullptr, nullptr);
    lock.lock();
    s.checkpoints_done = number;
    s.checkpointed.notify_all();
  }
}

// The bytes a body being filled takes at most: the entries' bounds, and
// each string they name once.
struct BodyBudget {
  std::size_t bytes = kDirBodyHeaderBytes;
  std::unordered_set<std::string_view> strings;

  std::size_t cost(const DirEntryRef& e) const {
    std::size_t size = encoded_size_bound(e);
    for (const std::string* fp : {&e.file->rules_fingerprint, &e.file->clean_members_fingerprint}) {
      if (!fp->empty() && strings.count(*fp) == 0) size += 10 + fp->size();
    }
    return size;
  }
  // Counts `e` in when it fits; false (nothing counted) when it does not.
  bool take(const DirEntryRef& e) {
    const std::size_t size = cost(e);
    if (bytes + size > kMaxDirBytes) return false;
    bytes += size;
    for (const std::string* fp : {&e.file->rules_fingerprint, &e.file->clean_members_fingerprint}) {
      if (!fp->empty()) strings.insert(*fp);
    }
    return true;
  }
};

// One transaction a batch: the batch's rows grouped by directory (a name
// stored twice keeps its last entry), each directory's as one row, or as
// several when they pass kMaxDirBytes; a directory that then holds more than
// kMergeRows rows has them merged into one (newest entry of each name, to
// kMaxDirBytes). An entry above kMaxEntryBytes is not stored.
Status ScanCache::commit(const std::vector<Row>& rows) {
  if (rows.empty()) return Ok{};
  Impl& s = *impl_;
  sqlite3* db = s.db.get();
  const auto fail = [&]() -> Status {
    std::string message = db_error(path_, db);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return Error{message};
  };
  struct Named {
    std::string_view dir;
    std::string_view name;
    const Row* row;
  };
  std::vector<Named> order;
  order.reserve(rows.size());
  for (const Row& r : rows) {
    const auto [dir, name] = split_dir_name(r.path);
    if (!name.empty()) order.push_back(Named{dir, name, &r});
  }
  // By directory, then name; the later of two rows for one path last.
  std::stable_sort(order.begin(), order.end(), [](const Named& a, const Named& b) {
    const int by_dir = a.dir.compare(b.dir);  // once: directories share long prefixes
    return by_dir != 0 ? by_dir < 0 : a.name < b.name;
  });
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return fail();
  const std::int64_t now = static_cast<std::int64_t>(::time(nullptr));
  // Writes `entries` of `dir` as rows of at most kMaxDirBytes, from seq
  // `next` on; false on failure.
  std::size_t written = 0;  // bytes of the bodies write_rows wrote
  const auto write_rows = [&](std::string_view dir, const std::vector<DirEntryRef>& entries, std::int64_t& next) {
    std::vector<DirEntryRef> chunk;
    BodyBudget budget;
    const auto flush_chunk = [&]() {
      if (chunk.empty()) return true;
      const std::string body = encode_dir_body(chunk);
      written += body.size();
      Step step{s.insert.get()};
      const bool ok = bind_bytes(step.st, 1, dir) == SQLITE_OK && sqlite3_bind_int64(step.st, 2, next) == SQLITE_OK &&
                      sqlite3_bind_int64(step.st, 3, static_cast<std::int64_t>(chunk.size())) == SQLITE_OK &&
                      bind_bytes(step.st, 4, body) == SQLITE_OK && sqlite3_bind_int64(step.st, 5, now) == SQLITE_OK &&
                      sqlite3_step(step.st) == SQLITE_DONE;
      ++next;
      chunk.clear();
      budget = BodyBudget{};
      return ok;
    };
    for (const DirEntryRef& e : entries) {
      // An entry of at most kMaxEntryBytes fits an empty chunk.
      if (!budget.take(e) && (!flush_chunk() || !budget.take(e))) return false;
      chunk.push_back(e);
    }
    return flush_chunk();
  };
  std::vector<DirEntryRef> group;
  for (std::size_t i = 0; i < order.size();) {
    const std::string_view dir = order[i].dir;
    group.clear();
    for (; i < order.size() && order[i].dir == dir; ++i) {
      if (i + 1 < order.size() && order[i + 1].dir == dir && order[i + 1].name == order[i].name) continue;
      // One too large to store still replaces the older entry of its name:
      // by one that holds nothing (its file is read).
      static const CachedFile kNothingKnown;
      const DirEntryRef e{order[i].name, &order[i].row->key, &order[i].row->file};
      group.push_back(BodyBudget{}.cost(e) <= kMaxEntryBytes ? e : DirEntryRef{e.name, e.key, &kNothingKnown});
    }
    if (group.empty()) continue;
    std::int64_t held = 0;
    std::int64_t last_seq = 0;
    std::int64_t held_bytes = 0;
    {
      Step step{s.dir_rows.get()};
      if (bind_bytes(step.st, 1, dir) != SQLITE_OK || sqlite3_step(step.st) != SQLITE_ROW) return fail();
      held = sqlite3_column_int64(step.st, 0);
      last_seq = sqlite3_column_int64(step.st, 1);
      held_bytes = sqlite3_column_int64(step.st, 2);
    }
    std::int64_t next = last_seq + 1;
    written = 0;
    if (!write_rows(dir, group, next)) return fail();
    if (held + (next - last_seq - 1) <= kMergeRows && static_cast<std::uint64_t>(held_bytes) + written <= kMergeBytes) {
      continue;
    }
    // Merge: every row of the directory, newest first, read to
    // kMaxDirBytes, into one of at most that much.
    std::vector<DirEntry> entries;
    {
      Step step{s.select.get()};
      if (bind_bytes(step.st, 1, dir) != SQLITE_OK) return fail();
      std::size_t read = 0;
      int rc = SQLITE_OK;
      while (read < kMaxDirBytes && (rc = sqlite3_step(step.st)) == SQLITE_ROW) {
        const std::string_view b = column_blob(step.st, 0);
        read += b.size();
        // A damaged body is dropped with the merge: its entries were
        // misses already.
        auto decoded = decode_dir_body(b);
        if (!decoded) continue;
        for (DirEntry& e : *decoded) entries.push_back(std::move(e));
      }
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail();
    }
    // `entries` no longer grows: views into it hold.
    std::vector<DirEntryRef> merged;
    std::unordered_set<std::string_view> names;
    BodyBudget budget;
    for (const DirEntry& e : entries) {
      // A name's newest entry is kept, or none: never an older one.
      if (!names.insert(e.name).second) continue;
      const DirEntryRef ref{e.name, &e.key, &e.file};
      if (!budget.take(ref)) continue;  // the oldest are dropped
      merged.push_back(ref);
    }
    const std::int64_t newest = next - 1;
    {
      Step step{s.remove.get()};
      if (bind_bytes(step.st, 1, dir) != SQLITE_OK || sqlite3_bind_int64(step.st, 2, newest) != SQLITE_OK ||
          sqlite3_step(step.st) != SQLITE_DONE) {
        return fail();
      }
    }
    std::int64_t at = newest;
    if (!write_rows(dir, merged, at)) return fail();
  }
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail();
  return Ok{};
}

}  // namespace iocsweep
