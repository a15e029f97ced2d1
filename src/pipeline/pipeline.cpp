#include "iocsweep/pipeline.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "iocsweep/accounts.hpp"
#include "iocsweep/archive.hpp"
#include "iocsweep/hash.hpp"
#include "iocsweep/throttle.hpp"

namespace iocsweep {
namespace {

// Entries in flight between the walker and the workers. Small: the walker
// only needs to stay a little ahead, and each entry pins a directory
// descriptor.
constexpr std::size_t kQueueCapacityPerThread = 64;

// A file whose ctime or mtime is less than this before the moment it was
// stat'ed is never cached: far above the kernel's timestamp granularity
// (one jiffy, at most 10 ms). The writeback delay (CacheContext) is
// usually far longer.
constexpr std::int64_t kRacyWindowNs = 100'000'000;

/// Blocking FIFO with a fixed capacity. close() wakes everyone: push()
/// then refuses and pop() drains what is left before returning nullopt.
/// A full queue lets its producer sleep until it has drained to half, and
/// a wake-up is only signalled to a thread that sleeps: on trees of tiny
/// files a wake-up per item cost four futex calls per file.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 2)) {}

  bool push(T item) {
    std::unique_lock lock(mu_);
    if (!closed_ && items_.size() >= capacity_) {
      ++producers_waiting_;
      not_full_.wait(lock, [&] { return closed_ || items_.size() <= capacity_ / 2; });
      --producers_waiting_;
    }
    if (closed_) return false;
    items_.push_back(std::move(item));
    if (consumers_waiting_ > 0) not_empty_.notify_one();
    return true;
  }

  std::optional<T> pop() {
    std::unique_lock lock(mu_);
    if (!closed_ && items_.empty()) {
      ++consumers_waiting_;
      not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
      --consumers_waiting_;
    }
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    if (producers_waiting_ > 0 && items_.size() <= capacity_ / 2) not_full_.notify_all();
    return item;
  }

  /// Stops accepting; `discard` also drops what is queued (cancellation).
  void close(bool discard) {
    std::lock_guard lock(mu_);
    closed_ = true;
    if (discard) items_.clear();
    not_full_.notify_all();
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  std::size_t capacity_;
  std::size_t producers_waiting_ = 0;
  std::size_t consumers_waiting_ = 0;
  bool closed_ = false;
};

/// Serialises every call into the sink and keeps the counters. The
/// per-file counters are atomics: a scan of tiny files would otherwise take
/// the lock once per file. The ones a progress display shows live in a
/// ScanProgress, so publishing progress costs nothing more.
class SharedSink {
 public:
  SharedSink(ReportSink& sink, ScanProgress& progress) : sink_(sink), progress_(progress) {}

  void finding(Finding f) {
    std::lock_guard lock(mu_);
    ++stats_.findings;
    max_score_ = std::max(max_score_, f.score);
    progress_.findings.fetch_add(1, std::memory_order_relaxed);
    sink_.finding(std::move(f));
  }
  void error(std::string path, std::string error) {
    std::lock_guard lock(mu_);
    ++stats_.errors;
    progress_.errors.fetch_add(1, std::memory_order_relaxed);
    sink_.error(FileError{std::move(path), std::move(error)});
  }
  void skipped(std::string path, std::string reason, std::string detail = {}) {
    std::lock_guard lock(mu_);
    ++stats_.files_skipped;
    if (skip_hides_content(reason)) ++stats_.skipped_unscanned;
    progress_.files_skipped.fetch_add(1, std::memory_order_relaxed);
    sink_.skipped(SkippedFile{std::move(path), std::move(reason), std::move(detail)});
  }
  void scanned_from_cache() {
    progress_.files_scanned.fetch_add(1, std::memory_order_relaxed);
    cached_.fetch_add(1, std::memory_order_relaxed);
  }
  void scanned(const std::string& path, std::uint64_t bytes, bool noatime) {
    progress_.files_scanned.fetch_add(1, std::memory_order_relaxed);
    progress_.bytes_scanned.fetch_add(bytes, std::memory_order_relaxed);
    if (!noatime) atime_not_preserved(path);
  }
  // A file read, or a directory listed, without O_NOATIME.
  void atime_not_preserved(const std::string& path) {
    without_noatime_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    sink_.atime_not_preserved(path);
  }
  void symlink() { symlinks_.fetch_add(1, std::memory_order_relaxed); }
  void below_min_score() { below_min_.fetch_add(1, std::memory_order_relaxed); }
  void allowlisted() { allowlisted_.fetch_add(1, std::memory_order_relaxed); }
  void suppressed() { suppressed_.fetch_add(1, std::memory_order_relaxed); }
  void prefiltered() { prefiltered_.fetch_add(1, std::memory_order_relaxed); }
  int max_score() {
    std::lock_guard lock(mu_);
    return max_score_;
  }
  ScanStats stats() {
    std::lock_guard lock(mu_);
    ScanStats s = stats_;
    s.files_scanned = progress_.files_scanned.load();
    s.bytes_scanned = progress_.bytes_scanned.load();
    s.files_read_without_noatime = without_noatime_.load();
    s.symlinks_not_followed = symlinks_.load();
    s.findings_below_min_score = below_min_.load();
    s.files_allowlisted = allowlisted_.load();
    s.findings_suppressed = suppressed_.load();
    s.files_cached = cached_.load();
    s.yara_prefiltered = prefiltered_.load();
    return s;
  }

 private:
  std::mutex mu_;
  ReportSink& sink_;
  ScanProgress& progress_;
  ScanStats stats_;  // findings, errors, files_skipped: changed under mu_
  int max_score_ = -1;
  std::atomic<std::uint64_t> without_noatime_{0}, symlinks_{0}, below_min_{0}, allowlisted_{0}, suppressed_{0},
      cached_{0}, prefiltered_{0};
};

/// What a scan shares besides the sink: the optional throttles and the
/// optional progress the walk publishes into. Null members are off.
struct Throttles {
  RateLimiter* rate = nullptr;
  LoadGate* load = nullptr;
  ScanProgress* progress = nullptr;
};

class QueueingVisitor final : public WalkVisitor {
 public:
  QueueingVisitor(BoundedQueue<WalkEntry>& queue, SharedSink& sink, const Throttles& throttles, std::stop_token stop)
      : queue_(queue), sink_(sink), throttles_(throttles), stop_(std::move(stop)) {}
  void on_file(WalkEntry entry) override {
    // The directory is published when the walk moves on (a pointer
    // compare per file), not per file.
    if (throttles_.progress != nullptr && entry.parent.get() != last_parent_) {
      last_parent_ = entry.parent.get();
      throttles_.progress->set_current_dir(entry.parent ? entry.parent->path() : entry.path);
    }
    if (throttles_.load != nullptr && !throttles_.load->wait(stop_)) return;
    queue_.push(std::move(entry));
  }
  void on_skipped(const std::string& path, const std::string& reason, const std::string& detail) override {
    sink_.skipped(path, reason, detail);
  }
  void on_error(const std::string& path, const std::string& error) override { sink_.error(path, error); }
  void on_symlink(const std::string&) override { sink_.symlink(); }
  void on_atime_not_preserved(const std::string& path) override { sink_.atime_not_preserved(path); }

 private:
  BoundedQueue<WalkEntry>& queue_;
  SharedSink& sink_;
  const Throttles& throttles_;
  std::stop_token stop_;
  const DirHandle* last_parent_ = nullptr;
};

std::string_view base_name(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string extension_of(std::string_view name) {
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  return std::string(name.substr(dot));
}

// A coarse type from magic bytes, in the words Loki rules compare
// `filetype` with.
std::string file_type_of(ByteView bytes) {
  const auto starts = [&](std::string_view magic) {
    return bytes.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), bytes.begin(),
                      [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
  };
  if (starts("MZ")) return "EXE";
  if (starts("\x7f"
             "ELF"))
    return "ELF";
  if (starts("PK\x03\x04")) return "ZIP";
  if (starts("Rar!")) return "RAR";
  if (starts("\x1f\x8b")) return "GZIP";
  if (starts("%PDF")) return "PDF";
  if (starts("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")) return "OLE";
  return "UNKNOWN";
}

// Fingerprint of everything that decides a YARA verdict besides the
// file: the rule sources and the libyara that runs them. The externals
// come from the path (part of the cache key), from the owner and the
// bytes (a change of either changes ctime) and from the account names
// (`accounts`: the text they were read from, when rules use them).
std::string rules_fingerprint(const Pack& pack, const AccountNames& accounts) {
  std::string text = "iocsweep rules fingerprint 1\nlibyara ";
  text += yara_version();
  text += '\n';
  for (const RulesetInfo& r : pack.rules->rulesets()) {
    text += r.name;
    text += '\0';
    text += r.sha256;
    text += '\n';
  }
  if (pack.rules->uses_externals()) text += "accounts " + accounts.source_sha256() + "\n";
  return sha256_hex(text);
}

// Everything an archive's members are matched with: a clean archive stays
// clean while this holds.
std::string members_fingerprint(const ScanConfig& config, const std::string& rules_fp) {
  // Bumped when the same indicator files can load differently (2: sized
  // hashes, STIX AND patterns, lists classified by name, REGEX;DESCRIPTION
  // lines) or archives are read differently (3: members once hidden by a
  // ratio skip, a NUL-led stream or a dropped name are read), so an archive
  // found clean before is looked at again.
  std::string text = "iocsweep members fingerprint 3\nrules " + rules_fp + "\n";
  const auto sets = [&](const char* kind, const std::vector<IocSetInfo>& infos) {
    for (const IocSetInfo& s : infos) text += std::string(kind) + " " + s.name + '\0' + s.sha256 + "\n";
  };
  if (config.pack.hash_iocs) sets("hash", config.pack.hash_iocs->sets());
  if (config.pack.filename_iocs) sets("filename", config.pack.filename_iocs->sets());
  if (config.pack.allow_hashes) sets("allow", config.pack.allow_hashes->sets());
  const ArchiveOptions& a = config.archive;
  text += "archive " + std::to_string(a.max_depth) + " " + std::to_string(a.max_member_bytes) + " " +
          std::to_string(a.max_total_bytes) + " " + std::to_string(a.max_members) + " " + std::to_string(a.max_ratio) +
          " " + std::to_string(a.ratio_floor_bytes) + "\n";
  return sha256_hex(text);
}

/// What every worker needs to use the scan cache; immutable.
struct CacheContext {
  ScanCache* cache = nullptr;
  bool verify = false;
  /// "" when there are no rules (no YARA verdict is needed or stored).
  std::string fingerprint;
  /// "namespace\0name" -> index into CompiledRules::rules().
  std::unordered_map<std::string, std::size_t> rule_index;
  /// members_fingerprint(); "" when archives are off.
  std::string members;
  /// How old a file's last change must be, at its stat, for it to be
  /// stored; nothing: store nothing (the writeback delay is unknown).
  std::optional<std::int64_t> min_age_ns;
  /// Names for the `owner` external, read once per scan from /etc/passwd
  /// when the rules use externals. They are part of the fingerprint: a
  /// renamed account changes an owner rule's verdict, not the file's ctime.
  AccountNames accounts;

  static CacheContext make(const ScanConfig& config) {
    CacheContext ctx;
    if (config.pack.rules && config.pack.rules->uses_externals()) ctx.accounts = AccountNames::load("/etc/passwd");
    ctx.cache = config.cache.get();
    ctx.verify = config.verify_cache;
    // Read once per scan: the kernel's settings, unless the user chose.
    if (ctx.cache != nullptr) {
      ctx.min_age_ns = config.cache_min_age_ns ? config.cache_min_age_ns : current_writeback_settle_ns();
      if (ctx.min_age_ns) ctx.min_age_ns = std::max(*ctx.min_age_ns, kRacyWindowNs);
    }
    if (ctx.cache != nullptr && config.pack.rules) {
      ctx.fingerprint = rules_fingerprint(config.pack, ctx.accounts);
      const auto& rules = config.pack.rules->rules();
      for (std::size_t i = 0; i < rules.size(); ++i) ctx.rule_index.emplace(rules[i].ns + '\0' + rules[i].name, i);
    }
    if (ctx.cache != nullptr && config.archives) ctx.members = members_fingerprint(config, ctx.fingerprint);
    return ctx;
  }
};

std::int64_t realtime_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

// The stat identity of `entry`, without opening it (so a cache hit costs
// no open, no read and no atime change); nothing when it is not a
// regular file or cannot be stat'ed (the read will say why).
std::optional<FileKey> stat_key(const WalkEntry& entry) {
  struct stat st {};
  const int dir = entry.parent ? entry.parent->fd() : AT_FDCWD;
  if (::fstatat(dir, entry.name.c_str(), &st, entry.follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  const auto ns = [](const timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + static_cast<std::int64_t>(t.tv_nsec);
  };
  return FileKey{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                 static_cast<std::uint64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

std::string join_chain(const std::vector<std::string>& chain) {
  std::string out;
  for (const std::string& m : chain) {
    if (!out.empty()) out += " > ";
    out += m;
  }
  return out;
}

/// The OCI image layout directories the sweep met, shared by the workers
/// (thread-safe). A layout's plan (index.json -> manifest -> layers) is
/// read once, and its image read once, by the first worker that needs it:
/// at its oci-layout file or at one of its layer blobs. A blob is not also
/// opened as a plain archive only when that same plan reads it as a layer,
/// so the two can never disagree, whatever index.json does meanwhile, and
/// the image is read even when the walk never reaches the oci-layout file.
class OciLayouts {
 public:
  struct Layout {
    std::once_flag parsed;
    /// Set once, under `parsed`; nullopt when the directory is no image.
    std::optional<ImagePlan> plan;
    /// The plan's layer blob paths ("blobs/sha256/HEX").
    std::unordered_set<std::string> layers;
    /// Its image is being, or has been, read.
    std::atomic<bool> claimed{false};
  };

  /// The layout of the directory (device, inode), made on first use.
  std::shared_ptr<Layout> at(dev_t device, ino_t inode) {
    std::lock_guard lock(mu_);
    std::shared_ptr<Layout>& layout = layouts_[{static_cast<std::uint64_t>(device), static_cast<std::uint64_t>(inode)}];
    if (!layout) layout = std::make_shared<Layout>();
    return layout;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::shared_ptr<Layout>> layouts_;
};

/// One worker's long-lived state: reader buffer, hash contexts, scanner.
class Worker {
 public:
  Worker(const ScanConfig& config, const CacheContext& cache, SharedSink& sink, const Throttles& throttles,
         OciLayouts& layouts)
      : config_(config),
        cache_(cache),
        sink_(sink),
        throttles_(throttles),
        layouts_(layouts),
        reader_(config.read),
        needed_always_(digests_needed_by_every_file(config.pack)),
        archives_(archive_options(config)) {
    if (config.pack.rules) scanner_.emplace(config.pack.rules, config.yara_timeout_s, config.rule_gate);
    // Without its own connection a worker just reads every file.
    if (cache.cache != nullptr) {
      if (auto r = cache.cache->reader()) cache_reader_ = std::move(*r);
    }
  }

  // --timeout bounds a file's archive work (its members' matching
  // included) as it bounds one YARA scan; time asleep in --max-rate is not
  // work.
  ArchiveOptions archive_options(const ScanConfig& config) {
    ArchiveOptions options = config.archive;
    if (config.yara_timeout_s > 0) options.time_limit = std::chrono::seconds(config.yara_timeout_s);
    options.idle_time = [this] { return throttled_; };
    return options;
  }

  // Pays for `bytes` read to --max-rate, counting the time it sleeps;
  // false when a stop was requested meanwhile.
  bool pay_rate(std::uint64_t bytes) {
    if (throttles_.rate == nullptr) return true;
    const auto t0 = std::chrono::steady_clock::now();
    const bool paid = throttles_.rate->acquire(bytes, *stop_);
    throttled_ += std::chrono::steady_clock::now() - t0;
    return paid;
  }

  // Digests every file needs before matching whatever its size: the kinds
  // the allow-lists use, and MD5 when rules may read the `md5` external.
  static DigestSet digests_needed_by_every_file(const Pack& pack) {
    DigestSet needed;
    if (pack.allow_hashes) needed = needed | pack.allow_hashes->kinds();
    if (pack.rules && pack.rules->uses_externals()) needed = needed.with(DigestKind::kMd5);
    return needed;
  }

  // Digests a file of `size` bytes needs before matching: the above, and
  // the kinds of the hash indicators that can match that size. The rest are
  // computed only for files that end up in findings.
  DigestSet needed_for(std::uint64_t size) const {
    return config_.pack.hash_iocs ? needed_always_ | config_.pack.hash_iocs->kinds_for_size(size) : needed_always_;
  }

  void run(BoundedQueue<WalkEntry>& queue, const std::stop_token& stop) {
    stop_ = &stop;
    while (auto entry = queue.pop()) {
      if (stop.stop_requested()) return;
      if (throttles_.load != nullptr && !throttles_.load->wait(stop)) return;
      process(*entry);
    }
  }

 private:
  /// Passes the bytes being matched, in order, to a sink: the reader's
  /// stream for a file on disk, the buffer for an archive member.
  using Feed = std::function<Status(const std::function<void(ByteView)>&)>;

  /// The bytes being matched: a file on disk or one archive member.
  struct Subject {
    ByteView bytes;
    /// `bytes` is a file mapping: only libyara's guarded scan may read it.
    bool mapped = false;
    /// The first bytes, safe to read: `bytes` itself (the whole file or
    /// member), or for a mapped file a copy of up to kHeadBytes read with
    /// pread.
    ByteView head;
    const Feed* feed = nullptr;
    /// Path for the filepath/filename externals.
    std::string_view path;
    std::uint32_t uid = 0;
  };

  enum class Matched { kError, kAllowListed, kMatched };

  /// Hashes `s` (the digest `kinds`), looks the digests up and runs the
  /// rules, adding matches to `finding` and the verdict to `yara`. kError
  /// when the bytes could not be hashed (`error` says why); a YARA error
  /// (timeout) is put in `error` with kMatched.
  Matched match_bytes(const Subject& s, DigestSet kinds, Finding& finding, std::string& error, YaraScanResult& yara) {
    // Hash first, through the feed: for a mapped file this reads with
    // pread (safe against truncation) and leaves the pages in the page
    // cache for the YARA scan of the mapping.
    if (!kinds.empty()) {
      hasher_.begin(kinds);
      Status streamed = (*s.feed)([&](ByteView chunk) { hasher_.update(chunk); });
      if (!streamed) {
        error = streamed.error().message;
        return Matched::kError;
      }
      finding.digests = hasher_.finish();
    }
    if (config_.pack.allow_hashes && config_.pack.allow_hashes->contains(finding.digests)) {
      // Known good: not matched, not reported (Loki's false-positive list).
      sink_.allowlisted();
      return Matched::kAllowListed;
    }
    if (config_.pack.hash_iocs) {
      for (const HashIoc* ioc : config_.pack.hash_iocs->lookup(finding.digests, s.bytes.size())) {
        finding.matches.emplace_back(HashMatchRecord{ioc});
      }
    }
    if (scanner_) {
      ScanExternals ext;
      if (config_.pack.rules->uses_externals()) {
        ext.filename = std::string(base_name(s.path));
        ext.filepath = std::string(s.path);
        ext.extension = extension_of(ext.filename);
        ext.filetype = file_type_of(s.head);
        ext.owner = cache_.accounts.name_of(s.uid);
        ext.md5 = finding.digests.hex(DigestKind::kMd5);
      }
      yara = scanner_->scan(s.bytes, ext, s.mapped, s.head);
      if (yara.gated) sink_.prefiltered();
      for (const std::size_t index : yara.matched) {
        finding.matches.emplace_back(YaraMatchRecord{&config_.pack.rules->rules()[index]});
      }
      if (!yara.error.empty()) error = yara.error;
    }
    return Matched::kMatched;
  }

  // A finding carries all three digests: the missing ones come from the
  // same bytes (the buffer, or the page cache for a mapped file).
  void complete_digests(const Feed& feed, Finding& finding, std::string& error) {
    const DigestSet missing = DigestSet::all().minus(finding.digests.present);
    if (missing.empty()) return;
    hasher_.begin(missing);
    Status streamed = feed([&](ByteView chunk) { hasher_.update(chunk); });
    if (streamed) {
      finding.digests.merge(hasher_.finish());
    } else {
      error = streamed.error().message;
    }
  }

  void match_path(std::string_view path, Finding& finding) {
    if (config_.pack.filename_iocs && config_.pack.filename_iocs->size() > 0) {
      for (const FilenameIoc* ioc : config_.pack.filename_iocs->match(path)) {
        finding.matches.emplace_back(FilenameMatchRecord{ioc});
      }
    }
  }

  void process(const WalkEntry& entry) {
    Finding finding;
    // Names first: they need no read, so a matching file is reported even
    // when it is too large or cannot be read.
    match_path(entry.path, finding);
    // The oci-layout file of an image layout directory stands for the
    // image: never answered from the cache, whose entries know nothing of
    // members.
    const bool layout = config_.archives && entry.parent && base_name(entry.path) == "oci-layout";
    std::optional<FileKey> key;
    std::optional<CachedFile> cached;
    std::int64_t stat_ns = 0;
    if (cache_reader_ && !layout) {
      stat_ns = realtime_ns();
      key = stat_key(entry);
      // On a filesystem whose times a write through a mapping may leave
      // alone, the key proves nothing: neither answered nor stored.
      if (key && !cache_trusts_device(entry, *key)) key.reset();
      if (key) cached = cache_reader_->find(entry.path, *key);
      // A file now above --max-filesize is skipped by the reader, as any.
      if (key && key->size > config_.read.max_filesize) cached.reset();
      if (cached && !cache_.verify && answer_from_cache(entry, *key, *cached, finding)) return;
    }
    ReadOutcome read = reader_.read(entry);
    // Only a key that names the file actually read may be stored with
    // what was learnt from it (a file replaced in between is not cached).
    // Nor is a generated file (proc, sysfs), whose bytes change while its
    // key does not.
    if (key && (read.info.device != key->device || read.info.inode != key->inode || read.info.size != key->size ||
                read.info.pseudo_fs)) {
      key.reset();
    }
    if (read.kind != ReadOutcome::Kind::kRead) {
      if (read.kind == ReadOutcome::Kind::kSkipped) {
        sink_.skipped(entry.path, read.reason);
      } else {
        sink_.error(entry.path, read.reason);
      }
      if (!finding.matches.empty()) report(entry.path, read.info.size, std::move(finding));
      return;
    }
    // Paid for here, once the bytes are ours (read, or mapped and about to
    // be touched): the sleep keeps the long-run rate, and a stop request
    // ends it at once (the file is then left out, as the scan is partial).
    if (!pay_rate(read.bytes.size())) return;
    const Feed feed = [this](const std::function<void(ByteView)>& sink) { return reader_.stream(sink); };
    const Subject subject{read.bytes, read.mapped, head_of(read), &feed, entry.path, read.info.uid};
    // --verify-cache also computes every kind the entry holds, to compare.
    const DigestSet needed = needed_for(read.bytes.size());
    const DigestSet kinds = cached && cache_.verify ? needed | cached->digests.present : needed;
    std::string error;
    YaraScanResult yara;
    const Matched matched = match_bytes(subject, kinds, finding, error, yara);
    if (matched == Matched::kError) {
      sink_.error(entry.path, error);
      // As for a file that could not be read: its name still matched.
      if (!finding.matches.empty()) report(entry.path, read.bytes.size(), std::move(finding));
      return;
    }
    sink_.scanned(entry.path, read.bytes.size(), read.info.noatime);
    if (cached && cache_.verify && key) verify_against_cache(entry, *cached, finding.digests);
    // An archive is cached only when its members turn out clean (below); an
    // image layout never. A layer blob of a layout is read with the layout's
    // image instead of as a plain archive, and is not cached as "no archive"
    // either: the layout may stop naming it. `image` is the layout whose
    // image this file leads to (its oci-layout file, or a layer of it).
    const bool sniffed = config_.archives && opens_as_archive(read, subject.head);
    std::shared_ptr<const DirHandle> layout_dir;
    std::shared_ptr<OciLayouts::Layout> image;
    if (layout) {
      layout_dir = entry.parent;
      image = layout_at(entry.parent->fd());
    } else if (sniffed) {
      image = layout_reading_as_layer(entry, feed, finding.digests, layout_dir);
    }
    const bool archive = sniffed && (layout || !image);
    const bool not_archive = config_.archives && !sniffed;
    if (layout) key.reset();
    if (matched == Matched::kAllowListed) {
      // Known good: its members are not looked at either.
      remember(entry, key, stat_ns, finding.digests, nullptr, not_archive, not_archive_mark(not_archive));
      return;
    }
    if (!error.empty()) {
      sink_.error(entry.path, error);
      key.reset();  // an unfinished verdict is not cached
    }
    if (!finding.matches.empty()) {
      std::string digest_error;
      complete_digests(feed, finding, digest_error);
      if (!digest_error.empty()) {
        sink_.error(entry.path, digest_error);
        key.reset();
      }
    }
    const Digests digests = finding.digests;
    if (!archive) remember(entry, key, stat_ns, digests, &yara, not_archive, not_archive_mark(not_archive));
    if (!finding.matches.empty()) report(entry.path, read.bytes.size(), std::move(finding));
    const bool image_clean = image ? read_layout_image(*layout_dir, *image, subject.uid) : true;
    if (!archive) return;
    const bool members_clean = scan_members(entry, read, subject) && image_clean;
    const bool finished = stop_ == nullptr || !stop_->stop_requested();
    if (members_clean && finished) remember(entry, key, stat_ns, digests, &yara, false, cache_.members);
  }

  // The first bytes of a file read, safe to touch: the buffer itself, or
  // for a mapped file (whose pages only libyara's guarded scan may read)
  // up to kHeadBytes read with pread. A failed pread leaves it empty: the
  // file type is then unknown and the gate's header tests pass.
  ByteView head_of(const ReadOutcome& read) {
    if (!read.mapped) return read.bytes;
    Result<std::size_t> got = reader_.read_at(0, std::span<std::uint8_t>(head_));
    return got ? ByteView(head_.data(), *got) : ByteView();
  }

  // Whether the file is an archive to open: what libarchive would bid on,
  // tested on its head (Subject::head) and its last bytes, where a zip
  // behind a prefix keeps its directory. A blob of an OCI layout directory
  // that the layout's image reads as a layer is not also opened as a plain
  // archive (layout_reading_as_layer).
  bool opens_as_archive(const ReadOutcome& read, ByteView head) {
    // The head read for the subject: the buffer, or for a mapped file the
    // pread copy head_of made; the tail likewise.
    return looks_like_archive(head.first(std::min(head.size(), kArchiveSniffBytes)), tail_of(read), read.bytes.size());
  }

  // The last kArchiveTailBytes of a file read (fewer when it is smaller): a
  // slice of the buffer, or for a mapped file a pread copy. A failed or
  // short pread (the file shrank) gives none: the bytes would not end
  // where the record's offsets are counted from.
  ByteView tail_of(const ReadOutcome& read) {
    const std::size_t n = std::min(read.bytes.size(), kArchiveTailBytes);
    if (!read.mapped) return read.bytes.last(n);
    Result<std::size_t> got = reader_.read_at(read.bytes.size() - n, std::span<std::uint8_t>(tail_.data(), n));
    return got && *got == n ? ByteView(tail_.data(), n) : ByteView();
  }

  // Opens the files of the layout directory `dir`, each paid for to
  // --max-rate when opened (blobs are read from disk again for the image).
  OpenBelowFn layout_opener(int dir) {
    return [this, dir](const std::string& relative) -> Result<int> {
      Result<int> fd = open_below(dir, relative);
      struct stat st {};
      if (fd && throttles_.rate != nullptr && ::fstat(*fd, &st) == 0 &&
          !pay_rate(static_cast<std::uint64_t>(st.st_size))) {
        ::close(*fd);
        return Error{"interrupted"};
      }
      return fd;
    };
  }

  // The layout of the open directory `dir`, its plan read on first use
  // (once per sweep, whichever worker asks first).
  std::shared_ptr<OciLayouts::Layout> layout_at(int dir) {
    struct stat st {};
    if (::fstat(dir, &st) != 0) return nullptr;
    std::shared_ptr<OciLayouts::Layout> layout = layouts_.at(st.st_dev, st.st_ino);
    std::call_once(layout->parsed, [&] {
      layout->plan = archives_.oci_layout_plan(layout_opener(dir));
      if (!layout->plan) return;
      for (const ImagePlan::Layer& l : layout->plan->layers) layout->layers.insert(l.member);
    });
    return layout;
  }

  // For a file that looks like an archive, at .../blobs/sha256/HEX: the
  // layout (two directories up) whose image reads it as a layer, with that
  // directory in `dir`; null when it is to be opened as a plain archive (no
  // valid layout there, one that does not name it as a layer, or bytes
  // that are not the blob its name promises). The image checks the bytes
  // it reads against the same name, so a blob changed between the two
  // reads is an error, never a layer read by neither.
  std::shared_ptr<OciLayouts::Layout> layout_reading_as_layer(const WalkEntry& entry, const Feed& feed,
                                                              const Digests& digests,
                                                              std::shared_ptr<const DirHandle>& dir) {
    if (!entry.parent || !is_oci_blob_path(entry.path)) return nullptr;
    constexpr std::size_t kBlobTail = std::string_view("/blobs/sha256/").size() + 64;
    std::string layout_path = entry.path.substr(0, entry.path.size() - kBlobTail);
    if (!under_a_root(layout_path)) return nullptr;
    // ".." is the directory's real parent, whatever its path says.
    const int fd = ::openat(entry.parent->fd(), "../..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    auto handle = std::make_shared<const DirHandle>(fd, std::move(layout_path));
    std::shared_ptr<OciLayouts::Layout> layout = layout_at(fd);
    if (!layout || !layout->layers.contains(entry.path.substr(entry.path.size() - kBlobTail + 1))) return nullptr;
    if (sha256_of(feed, digests) != entry.path.substr(entry.path.size() - 64)) return nullptr;
    dir = std::move(handle);
    return layout;
  }

  // Whether `path` (spelt as the walk spells paths) is a scan root or lies
  // below one. A layout above the roots was not named: it is not read, and
  // its blobs are plain files.
  bool under_a_root(std::string_view path) const {
    for (std::string_view root : config_.roots) {
      while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
      if (path == root || (path.starts_with(root) && (root == "/" || path[root.size()] == '/'))) return true;
    }
    return false;
  }

  // SHA-256 (hex) of the bytes being matched: from `digests`, or hashed
  // from `feed`; "" when they cannot be read.
  std::string sha256_of(const Feed& feed, const Digests& digests) {
    if (digests.present.has(DigestKind::kSha256)) return digests.hex(DigestKind::kSha256);
    hasher_.begin(DigestSet().with(DigestKind::kSha256));
    if (!feed([&](ByteView chunk) { hasher_.update(chunk); })) return "";
    return hasher_.finish().hex(DigestKind::kSha256);
  }

  // The digest of each layer blob a layout's image reads, from the bytes
  // read. Its own hasher: the members' matching uses the worker's.
  class LayerSha256 final : public BlobDigest {
   public:
    void begin() override { hasher_.begin(DigestSet().with(DigestKind::kSha256)); }
    void update(ByteView bytes) override { hasher_.update(bytes); }
    std::string finish() override { return "sha256:" + hasher_.finish().hex(DigestKind::kSha256); }

   private:
    Hasher hasher_;
  };

  /// Reads the image of `layout` (directory `dir`) unless another file of
  /// it already did. True when no member matched, was skipped or failed.
  bool read_layout_image(const DirHandle& dir, OciLayouts::Layout& layout, std::uint32_t uid) {
    if (!layout.plan || layout.claimed.exchange(true)) return true;
    MemberVisitor visitor(*this, dir.path(), uid);
    LayerSha256 digest;
    archives_.scan_oci_layout(*layout.plan, layout_opener(dir.fd()), visitor, &digest);
    return visitor.clean();
  }

  /// Reports archive members into the scan, for one file on disk.
  class MemberVisitor final : public ArchiveVisitor {
   public:
    /// `path`: the file on disk (or image layout directory) findings name.
    MemberVisitor(Worker& worker, const std::string& path, std::uint32_t uid) : w_(worker), path_(path), uid_(uid) {}

    /// Nothing to report came from the members: no match (of any score),
    /// no skipped member, no error.
    bool clean() const { return clean_; }

    void on_member(const std::vector<std::string>& chain, ByteView bytes, const ImageLocation* image) override {
      Finding finding;
      match_path(chain.back(), image, finding);
      const Feed feed = [&bytes](const std::function<void(ByteView)>& sink) -> Status {
        sink(bytes);
        return Ok{};
      };
      const Subject subject{bytes, false, bytes, &feed, chain.back(), uid_};
      std::string error;
      YaraScanResult yara;
      const Matched matched = w_.match_bytes(subject, w_.needed_for(bytes.size()), finding, error, yara);
      if (!error.empty()) {
        clean_ = false;
        w_.sink_.error(path_, "archive member " + join_chain(chain) + ": " + error);
      }
      if (matched != Matched::kMatched || finding.matches.empty()) return;
      clean_ = false;
      w_.complete_digests(feed, finding, error);
      finding.member = chain;
      finding.path = path_;
      finding.size = bytes.size();
      if (image != nullptr) {
        finding.image = FindingImage{image->reference, image->layer, image->layer_index, image->path, true};
        held_.push_back(std::move(finding));
        return;
      }
      w_.report(path_, bytes.size(), std::move(finding));
    }
    void on_skipped(const std::vector<std::string>& chain, std::string_view reason, std::string detail) override {
      clean_ = false;
      w_.sink_.skipped(path_, std::string(reason),
                       chain.empty() ? detail : "member " + join_chain(chain) + ": " + detail);
    }
    void on_error(const std::vector<std::string>& chain, std::string error) override {
      clean_ = false;
      w_.sink_.error(path_, chain.empty() ? "archive: " + error : "archive member " + join_chain(chain) + ": " + error);
    }
    void on_image_end(const ImageLayers& layers) override {
      for (Finding& f : held_) {
        f.image->in_final_image = layers.in_final_image(f.image->layer_index, f.image->path);
        const std::uint64_t size = f.size;
        w_.report(path_, size, std::move(f));
      }
      held_.clear();
    }
    bool stop_requested() override { return w_.stop_ != nullptr && w_.stop_->stop_requested(); }

   private:
    // Path indicators see the member's own path, and for an image file its
    // path inside the image.
    void match_path(const std::string& name, const ImageLocation* image, Finding& finding) {
      w_.match_path(image != nullptr ? std::string_view(image->path) : std::string_view(name), finding);
    }
    Worker& w_;
    const std::string& path_;
    std::uint32_t uid_;
    std::vector<Finding> held_;  // image findings wait for in_final_image
    bool clean_ = true;
  };

  /// True when no member matched, was skipped or failed.
  bool scan_members(const WalkEntry& entry, const ReadOutcome& read, const Subject& subject) {
    MemberVisitor visitor(*this, entry.path, subject.uid);
    if (!read.mapped) {
      archives_.scan(read.bytes, base_name(entry.path), visitor);
      return visitor.clean();
    }
    // A mapped archive is read from disk a second time for its members:
    // those reads are paid for to --max-rate too.
    const ReadAtFn read_at = [this](std::uint64_t offset, std::span<std::uint8_t> out) -> Result<std::size_t> {
      Result<std::size_t> got = reader_.read_at(offset, out);
      if (got && !pay_rate(*got)) {
        return Error{"interrupted"};
      }
      return got;
    };
    archives_.scan(read.info.size, read_at, base_name(entry.path), visitor);
    return visitor.clean();
  }

  // Stored with a file found not to be an archive, in place of a members
  // fingerprint: which recognition decided it (bumped when it changes).
  static constexpr const char* kNotArchiveMark = "not-archive recognition 2";
  static std::string not_archive_mark(bool not_archive) { return not_archive ? kNotArchiveMark : ""; }

  // Answers `entry` from its cache entry when that holds everything this
  // run needs: the digest kinds the indicator sets use, and a YARA verdict
  // from the same rules. Indicators are matched afresh (cheap, and the sets
  // may have changed). Returns false, having reported nothing, when the
  // file must be read.
  bool answer_from_cache(const WalkEntry& entry, const FileKey& key, const CachedFile& c, Finding& finding) {
    if (!needed_for(key.size).minus(c.digests.present).empty()) return false;
    const Pack& pack = config_.pack;
    // Known good, archive or not (its members are not looked at when read
    // either).
    if (pack.allow_hashes && pack.allow_hashes->contains(c.digests)) {
      sink_.scanned_from_cache();
      sink_.allowlisted();
      return true;
    }
    // Stored by a sweep that did not look for members, it may be an
    // archive; an archive answers only when its members were clean under
    // the same rules, indicators and limits.
    // "Not an archive" holds only as far as the recognition that said so:
    // one stored before looks_like_archive() followed libarchive's bidders
    // (a zip behind a prefix, a v7 tar) does not answer.
    const bool not_archive = c.not_archive && c.clean_members_fingerprint == kNotArchiveMark;
    if (config_.archives && !not_archive &&
        (c.clean_members_fingerprint.empty() || c.clean_members_fingerprint != cache_.members)) {
      return false;
    }
    std::vector<MatchRecord> matches = finding.matches;
    if (pack.hash_iocs) {
      for (const HashIoc* ioc : pack.hash_iocs->lookup(c.digests, key.size)) matches.emplace_back(HashMatchRecord{ioc});
    }
    if (scanner_) {
      if (c.rules_fingerprint.empty() || c.rules_fingerprint != cache_.fingerprint) return false;
      for (const RuleId& id : c.yara_matches) {
        const auto it = cache_.rule_index.find(id.ns + '\0' + id.name);
        if (it == cache_.rule_index.end()) return false;
        matches.emplace_back(YaraMatchRecord{&pack.rules->rules()[it->second]});
      }
    }
    // A finding carries every digest; an entry that lacks some is read.
    if (!matches.empty() && c.digests.present != DigestSet::all()) return false;
    sink_.scanned_from_cache();
    if (matches.empty()) return true;
    finding.matches = std::move(matches);
    finding.digests = c.digests;
    finding.cached = true;
    report(entry.path, key.size, std::move(finding));
    return true;
  }

  // Whether the cache may answer for and store `entry`, by the type of the
  // filesystem on its device: one O_PATH open and fstatfs per device and
  // worker (no read, no atime change), remembered only when the descriptor
  // is the file that was stat'ed.
  bool cache_trusts_device(const WalkEntry& entry, const FileKey& key) {
    if (const auto it = trusted_devices_.find(key.device); it != trusted_devices_.end()) return it->second;
    const int dir = entry.parent ? entry.parent->fd() : AT_FDCWD;
    const int fd = ::openat(dir, entry.name.c_str(), O_PATH | O_CLOEXEC | (entry.follow ? 0 : O_NOFOLLOW));
    if (fd < 0) return false;
    struct stat st {};
    struct statfs fs {};
    const bool known = ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_dev) == key.device &&
                       static_cast<std::uint64_t>(st.st_ino) == key.inode && ::fstatfs(fd, &fs) == 0;
    ::close(fd);
    if (!known) return false;
    const bool trusted = cache_trusts_filesystem(static_cast<std::uint64_t>(fs.f_type));
    trusted_devices_.emplace(key.device, trusted);
    return trusted;
  }

  // Stores what was learnt about a file read without error. `yara` is null
  // when no YARA verdict was made (allow-listed); `checked_not_archive`
  // when archives were looked for and the file is none. `stat_ns`: when
  // `key` was taken.
  void remember(const WalkEntry& entry, const std::optional<FileKey>& key, std::int64_t stat_ns, const Digests& digests,
                const YaraScanResult* yara, bool checked_not_archive, const std::string& clean_members) {
    if (!key || cache_.cache == nullptr || !cache_.min_age_ns) return;
    // A file changed less than min_age_ns before its stat is not stored.
    // Racy clean (as git's index): the kernel stamps ctime from a coarse
    // clock, so a write just after the stat could leave the key unchanged.
    // Writeback: a page dirtied through a shared mapping is rewritten
    // without a fault, so without a time update, until it is written back;
    // the fault that dirtied it moved ctime, so a file whose ctime is older
    // than the writeback delay has no such page, and any later write
    // through a mapping faults and moves ctime. An entry stored so stays
    // true for as long as its key does: lookups need no such check.
    const std::int64_t settled_before = stat_ns - *cache_.min_age_ns;
    if (key->ctime_ns > settled_before || key->mtime_ns > settled_before) return;
    CachedFile file;
    file.digests = digests;
    file.not_archive = checked_not_archive;
    file.clean_members_fingerprint = clean_members;
    if (scanner_ && yara != nullptr) {
      file.rules_fingerprint = cache_.fingerprint;
      for (const std::size_t index : yara->matched) {
        const RuleInfo& rule = config_.pack.rules->rules()[index];
        file.yara_matches.push_back(RuleId{rule.ns, rule.name});
      }
    }
    cache_.cache->store(entry.path, *key, std::move(file));
  }

  // --verify-cache: the file's key says unchanged; its bytes must agree.
  void verify_against_cache(const WalkEntry& entry, const CachedFile& c, const Digests& now) {
    for (const DigestKind kind : {DigestKind::kSha256, DigestKind::kSha1, DigestKind::kMd5}) {
      if (!c.digests.present.has(kind) || !now.present.has(kind)) continue;
      if (c.digests.hex(kind) != now.hex(kind)) {
        sink_.error(entry.path, std::string("content differs from the scan cache although device, inode, size, "
                                            "mtime and ctime are unchanged (cached ") +
                                    std::string(digest_name(kind)) + " " + c.digests.hex(kind) + ", now " +
                                    now.hex(kind) + ")");
      }
      return;
    }
  }

  void report(const std::string& path, std::uint64_t size, Finding finding) {
    finding.path = path;
    finding.size = size;
    finding.score = combine_scores(finding.matches);
    if (finding.score < config_.min_score) {
      sink_.below_min_score();
      return;
    }
    if (config_.baseline_writer) config_.baseline_writer->add(finding);
    if (config_.baseline && config_.baseline->suppress(finding) > 0) {
      // What is left is judged on its own: accepted matches no longer
      // count, nor corroborate.
      finding.score = combine_scores(finding.matches);
      if (finding.matches.empty() || finding.score < config_.min_score) {
        sink_.suppressed();
        return;
      }
    }
    sink_.finding(std::move(finding));
  }

  const ScanConfig& config_;
  const CacheContext& cache_;
  SharedSink& sink_;
  const Throttles& throttles_;
  OciLayouts& layouts_;
  std::unique_ptr<ScanCacheReader> cache_reader_;
  FileReader reader_;
  DigestSet needed_always_;
  Hasher hasher_;
  std::optional<YaraScanner> scanner_;
  // A mapped file's first bytes (head_of): what opens_as_archive looks at,
  // and plenty for the file type and the header tests rules make in
  // practice (magic numbers, the PE header offset at 0x3C).
  static constexpr std::size_t kHeadBytes = kArchiveSniffBytes;
  std::array<std::uint8_t, kHeadBytes> head_{};
  std::array<std::uint8_t, kArchiveTailBytes> tail_{};  // tail_of, for a mapped file
  ArchiveScanner archives_;
  const std::stop_token* stop_ = nullptr;
  // Time asleep in --max-rate so far (ArchiveOptions::idle_time).
  std::chrono::nanoseconds throttled_{0};
  /// Device -> the cache trusts its filesystem (cache_trusts_device).
  std::unordered_map<std::uint64_t, bool> trusted_devices_;
};

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

}  // namespace

ScanProgress::Snapshot ScanProgress::snapshot() const {
  Snapshot s;
  s.files_scanned = files_scanned.load(std::memory_order_relaxed);
  s.bytes_scanned = bytes_scanned.load(std::memory_order_relaxed);
  s.files_skipped = files_skipped.load(std::memory_order_relaxed);
  s.errors = errors.load(std::memory_order_relaxed);
  s.findings = findings.load(std::memory_order_relaxed);
  s.paused_for_load = paused_for_load.load(std::memory_order_relaxed);
  s.load = load.load(std::memory_order_relaxed);
  std::lock_guard lock(dir_mu_);
  s.current_dir = current_dir_;
  return s;
}

void ScanProgress::set_current_dir(const std::string& dir) {
  std::lock_guard lock(dir_mu_);
  current_dir_ = dir;
}

unsigned default_thread_count() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

ScanOutcome run_scan(const ScanConfig& config, ReportSink& sink, std::stop_token stop) {
  const auto t0 = std::chrono::steady_clock::now();
  ScanInfo info;
  info.host = host_name();
  info.started_at = now_rfc3339();
  info.roots = config.roots;
  if (config.pack.rules) info.rulesets = config.pack.rules->rulesets();
  if (config.pack.hash_iocs) info.ioc_sets = config.pack.hash_iocs->sets();
  if (config.pack.filename_iocs) {
    info.ioc_sets.insert(info.ioc_sets.end(), config.pack.filename_iocs->sets().begin(),
                         config.pack.filename_iocs->sets().end());
  }
  if (config.pack.allow_hashes) info.allow_sets = config.pack.allow_hashes->sets();
  if (config.pack.rules) info.load_warnings = config.pack.rules->warnings();
  info.load_warnings.insert(info.load_warnings.end(), config.pack.warnings.begin(), config.pack.warnings.end());
  sink.begin(info);

  // Counters live here even when nobody watches, so the hot path is the
  // same either way.
  const std::shared_ptr<ScanProgress> progress = config.progress ? config.progress : std::make_shared<ScanProgress>();
  SharedSink shared(sink, *progress);
  std::optional<RateLimiter> rate;
  Clock& clock = config.clock != nullptr ? *config.clock : steady_clock_source();
  if (config.max_bytes_per_s > 0) rate.emplace(config.max_bytes_per_s, clock);
  std::optional<LoadGate> load;
  if (config.max_load > 0) {
    load.emplace(config.max_load, system_load_source(), clock, std::chrono::seconds(2),
                 [p = progress.get()](bool paused, double value) {
                   p->load.store(value, std::memory_order_relaxed);
                   p->paused_for_load.store(paused, std::memory_order_relaxed);
                 });
  }
  const Throttles throttles{rate ? &*rate : nullptr, load ? &*load : nullptr,
                            config.progress ? config.progress.get() : nullptr};
  const CacheContext cache_context = CacheContext::make(config);
  OciLayouts layouts;
  const unsigned threads = std::max(1u, config.threads);
  BoundedQueue<WalkEntry> queue(kQueueCapacityPerThread * threads);
  // Cancellation empties the queue so workers stop after their current
  // file, and unblocks a walker waiting for room.
  std::stop_callback on_stop(stop, [&] { queue.close(true); });
  {
    std::vector<std::jthread> workers;
    workers.reserve(threads);
    // Worker construction (hash contexts, YARA scanner) happens on the
    // worker's own thread, so a slow start-up overlaps with the walk.
    for (unsigned i = 0; i < threads; ++i) {
      workers.emplace_back([&] {
        Worker worker(config, cache_context, shared, throttles, layouts);
        worker.run(queue, stop);
      });
    }
    QueueingVisitor visitor(queue, shared, throttles, stop);
    FileWalker(config.walk, MountTable::current()).walk(config.roots, visitor, stop);
    queue.close(false);
  }  // joins the workers

  ScanOutcome outcome;
  if (config.cache) {
    if (Status flushed = config.cache->flush(); !flushed) outcome.cache_error = flushed.error().message;
  }
  ScanEnd end;
  end.finished_at = now_rfc3339();
  end.complete = !stop.stop_requested();
  end.stats = shared.stats();
  end.stats.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  outcome.stats = end.stats;
  outcome.complete = end.complete;
  outcome.max_finding_score = shared.max_score();
  Status written = sink.end(end);
  if (!written) outcome.write_error = written.error().message;
  return outcome;
}

}  // namespace iocsweep
