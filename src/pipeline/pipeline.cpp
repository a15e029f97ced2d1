#include "iocsweep/pipeline.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "iocsweep/archive.hpp"
#include "iocsweep/hash.hpp"

namespace iocsweep {
namespace {

// Entries in flight between the walker and the workers. Small: the walker
// only needs to stay a little ahead, and each entry pins a directory
// descriptor.
constexpr std::size_t kQueueCapacityPerThread = 64;

/// Blocking FIFO with a fixed capacity. close() wakes everyone: push()
/// then refuses and pop() drains what is left before returning nullopt.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

  bool push(T item) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  std::optional<T> pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
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
  bool closed_ = false;
};

/// Serialises every call into the sink and keeps the counters. The
/// per-file counters are atomics: a scan of tiny files would otherwise take
/// the lock once per file.
class SharedSink {
 public:
  explicit SharedSink(ReportSink& sink) : sink_(sink) {}

  void finding(Finding f) {
    std::lock_guard lock(mu_);
    ++stats_.findings;
    sink_.finding(std::move(f));
  }
  void error(std::string path, std::string error) {
    std::lock_guard lock(mu_);
    ++stats_.errors;
    sink_.error(FileError{std::move(path), std::move(error)});
  }
  void skipped(std::string path, std::string reason, std::string detail = {}) {
    std::lock_guard lock(mu_);
    ++stats_.files_skipped;
    sink_.skipped(SkippedFile{std::move(path), std::move(reason), std::move(detail)});
  }
  void scanned(const std::string& path, std::uint64_t bytes, bool noatime) {
    files_scanned_.fetch_add(1, std::memory_order_relaxed);
    bytes_scanned_.fetch_add(bytes, std::memory_order_relaxed);
    if (!noatime) {
      without_noatime_.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(mu_);
      sink_.atime_not_preserved(path);
    }
  }
  void symlink() { symlinks_.fetch_add(1, std::memory_order_relaxed); }
  void below_min_score() { below_min_.fetch_add(1, std::memory_order_relaxed); }
  void allowlisted() { allowlisted_.fetch_add(1, std::memory_order_relaxed); }
  ScanStats stats() {
    std::lock_guard lock(mu_);
    ScanStats s = stats_;
    s.files_scanned = files_scanned_.load();
    s.bytes_scanned = bytes_scanned_.load();
    s.files_read_without_noatime = without_noatime_.load();
    s.symlinks_not_followed = symlinks_.load();
    s.findings_below_min_score = below_min_.load();
    s.files_allowlisted = allowlisted_.load();
    return s;
  }

 private:
  std::mutex mu_;
  ReportSink& sink_;
  ScanStats stats_;  // findings, errors, files_skipped: changed under mu_
  std::atomic<std::uint64_t> files_scanned_{0}, bytes_scanned_{0}, without_noatime_{0}, symlinks_{0}, below_min_{0},
      allowlisted_{0};
};

class QueueingVisitor final : public WalkVisitor {
 public:
  QueueingVisitor(BoundedQueue<WalkEntry>& queue, SharedSink& sink) : queue_(queue), sink_(sink) {}
  void on_file(WalkEntry entry) override { queue_.push(std::move(entry)); }
  void on_skipped(const std::string& path, const std::string& reason, const std::string& detail) override {
    sink_.skipped(path, reason, detail);
  }
  void on_error(const std::string& path, const std::string& error) override { sink_.error(path, error); }
  void on_symlink(const std::string&) override { sink_.symlink(); }

 private:
  BoundedQueue<WalkEntry>& queue_;
  SharedSink& sink_;
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

std::string join_chain(const std::vector<std::string>& chain) {
  std::string out;
  for (const std::string& m : chain) {
    if (!out.empty()) out += " > ";
    out += m;
  }
  return out;
}

/// One worker's long-lived state: reader buffer, hash contexts, scanner.
class Worker {
 public:
  Worker(const ScanConfig& config, SharedSink& sink)
      : config_(config),
        sink_(sink),
        reader_(config.read),
        needed_(digests_needed_up_front(config.pack)),
        archives_(config.archive) {
    if (config.pack.rules) scanner_.emplace(config.pack.rules, config.yara_timeout_s);
  }

  // Digests every file needs before matching: the kinds the indicator sets
  // use, and MD5 when rules may read the `md5` external. The rest are
  // computed only for files that end up in findings.
  static DigestSet digests_needed_up_front(const Pack& pack) {
    DigestSet needed;
    if (pack.hash_iocs) needed = needed | pack.hash_iocs->kinds();
    if (pack.allow_hashes) needed = needed | pack.allow_hashes->kinds();
    if (pack.rules && pack.rules->uses_externals()) needed = needed.with(DigestKind::kMd5);
    return needed;
  }

  void run(BoundedQueue<WalkEntry>& queue, const std::stop_token& stop) {
    stop_ = &stop;
    while (auto entry = queue.pop()) {
      if (stop.stop_requested()) return;
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
    const Feed* feed = nullptr;
    /// Path for the filepath/filename externals.
    std::string_view path;
    std::uint32_t uid = 0;
  };

  /// Hashes `s`, looks the digests up and runs the rules, adding matches to
  /// `finding`. False when the bytes are allow-listed (never reported) or
  /// could not be hashed (`error` says why).
  bool match_bytes(const Subject& s, Finding& finding, std::string& error) {
    // Hash first, through the feed: for a mapped file this reads with
    // pread (safe against truncation) and leaves the pages in the page
    // cache for the YARA scan of the mapping.
    // The first bytes, kept for the file type: a mapped file's bytes must
    // not be touched outside libyara's guarded scan.
    std::array<std::uint8_t, 8> head{};
    std::size_t head_size = 0;
    if (!needed_.empty()) {
      hasher_.begin(needed_);
      Status streamed = (*s.feed)([&](ByteView chunk) {
        if (head_size == 0) {
          head_size = std::min(head.size(), chunk.size());
          std::copy_n(chunk.begin(), head_size, head.begin());
        }
        hasher_.update(chunk);
      });
      if (!streamed) {
        error = streamed.error().message;
        return false;
      }
      finding.digests = hasher_.finish();
    }
    if (config_.pack.allow_hashes && config_.pack.allow_hashes->contains(finding.digests)) {
      // Known good: not matched, not reported (Loki's false-positive list).
      sink_.allowlisted();
      return false;
    }
    if (config_.pack.hash_iocs) {
      for (const HashIoc* ioc : config_.pack.hash_iocs->lookup(finding.digests)) {
        finding.matches.emplace_back(HashMatchRecord{ioc});
      }
    }
    if (scanner_) {
      ScanExternals ext;
      if (config_.pack.rules->uses_externals()) {
        if (!s.mapped && head_size == 0) {
          head_size = std::min(head.size(), s.bytes.size());
          std::copy_n(s.bytes.begin(), head_size, head.begin());
        }
        ext.filename = std::string(base_name(s.path));
        ext.filepath = std::string(s.path);
        ext.extension = extension_of(ext.filename);
        ext.filetype = file_type_of(ByteView(head.data(), head_size));
        ext.owner = owner_name(s.uid);
        ext.md5 = finding.digests.hex(DigestKind::kMd5);
      }
      YaraScanResult result = scanner_->scan(s.bytes, ext, s.mapped);
      for (const std::size_t index : result.matched) {
        finding.matches.emplace_back(YaraMatchRecord{&config_.pack.rules->rules()[index]});
      }
      if (!result.error.empty()) error = result.error;
    }
    return true;
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
    ReadOutcome read = reader_.read(entry);
    if (read.kind != ReadOutcome::Kind::kRead) {
      if (read.kind == ReadOutcome::Kind::kSkipped) {
        sink_.skipped(entry.path, read.reason);
      } else {
        sink_.error(entry.path, read.reason);
      }
      if (!finding.matches.empty()) report(entry.path, read.info.size, std::move(finding));
      return;
    }
    const Feed feed = [this](const std::function<void(ByteView)>& sink) { return reader_.stream(sink); };
    const Subject subject{read.bytes, read.mapped, &feed, entry.path, read.info.uid};
    std::string error;
    const bool matched = match_bytes(subject, finding, error);
    if (!matched && !error.empty()) {
      sink_.error(entry.path, error);
      return;
    }
    sink_.scanned(entry.path, read.bytes.size(), read.info.noatime);
    if (!matched) return;  // allow-listed
    if (!error.empty()) sink_.error(entry.path, error);
    if (!finding.matches.empty()) {
      error.clear();
      complete_digests(feed, finding, error);
      if (!error.empty()) sink_.error(entry.path, error);
      report(entry.path, read.bytes.size(), std::move(finding));
    }
    if (!config_.archives) return;
    if (entry.parent && base_name(entry.path) == "oci-layout") {
      scan_oci_layout(entry, subject.uid);
    } else if (!is_oci_blob_path(entry.path) || !in_oci_layout(entry)) {
      scan_members(entry, read, subject);
    }
  }

  // A blob of an OCI layout directory is read as part of the image, when
  // the walk meets the layout's oci-layout file; its bytes are still
  // matched as a file, but it is not also opened as a plain archive.
  static bool in_oci_layout(const WalkEntry& entry) {
    if (!entry.parent) return false;
    const int dir = entry.parent->fd();
    return ::faccessat(dir, "../../oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
           ::faccessat(dir, "../../index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0;
  }

  void scan_oci_layout(const WalkEntry& entry, std::uint32_t uid) {
    const int dir = entry.parent->fd();
    MemberVisitor visitor(*this, entry.parent->path(), uid);
    archives_.scan_oci_layout([dir](const std::string& relative) { return open_below(dir, relative); }, visitor);
  }

  /// Reports archive members into the scan, for one file on disk.
  class MemberVisitor final : public ArchiveVisitor {
   public:
    /// `path`: the file on disk (or image layout directory) findings name.
    MemberVisitor(Worker& worker, const std::string& path, std::uint32_t uid) : w_(worker), path_(path), uid_(uid) {}

    void on_member(const std::vector<std::string>& chain, ByteView bytes, const ImageLocation* image) override {
      Finding finding;
      match_path(chain.back(), image, finding);
      const Feed feed = [&bytes](const std::function<void(ByteView)>& sink) -> Status {
        sink(bytes);
        return Ok{};
      };
      const Subject subject{bytes, false, &feed, chain.back(), uid_};
      std::string error;
      const bool matched = w_.match_bytes(subject, finding, error);
      if (!error.empty()) w_.sink_.error(path_, "archive member " + join_chain(chain) + ": " + error);
      if (!matched || finding.matches.empty()) return;
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
      w_.sink_.skipped(path_, std::string(reason),
                       chain.empty() ? detail : "member " + join_chain(chain) + ": " + detail);
    }
    void on_error(const std::vector<std::string>& chain, std::string error) override {
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
  };

  void scan_members(const WalkEntry& entry, const ReadOutcome& read, const Subject& subject) {
    // Plain files stop at a few byte compares on what is already in
    // memory; a mapped file (large) costs one pread of its head.
    if (!read.mapped) {
      if (!looks_like_archive(read.bytes.first(std::min(read.bytes.size(), kArchiveSniffBytes)))) return;
      MemberVisitor visitor(*this, entry.path, subject.uid);
      archives_.scan(read.bytes, base_name(entry.path), visitor);
      return;
    }
    std::vector<std::uint8_t> head(kArchiveSniffBytes);
    Result<std::size_t> got = reader_.read_at(0, std::span<std::uint8_t>(head));
    if (!got || !looks_like_archive(ByteView(head.data(), *got))) return;
    MemberVisitor visitor(*this, entry.path, subject.uid);
    const ReadAtFn read_at = [this](std::uint64_t offset, std::span<std::uint8_t> out) {
      return reader_.read_at(offset, out);
    };
    archives_.scan(read.info.size, read_at, base_name(entry.path), visitor);
  }

  void report(const std::string& path, std::uint64_t size, Finding finding) {
    finding.path = path;
    finding.size = size;
    finding.score = combine_scores(finding.matches);
    if (finding.score < config_.min_score) {
      sink_.below_min_score();
      return;
    }
    sink_.finding(std::move(finding));
  }

  const std::string& owner_name(std::uint32_t uid) {
    auto it = owners_.find(uid);
    if (it != owners_.end()) return it->second;
    std::string name = std::to_string(uid);
    struct passwd pw {};
    struct passwd* found = nullptr;
    char buf[1024];
    if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr) name = found->pw_name;
    return owners_.emplace(uid, std::move(name)).first->second;
  }

  const ScanConfig& config_;
  SharedSink& sink_;
  FileReader reader_;
  DigestSet needed_;
  Hasher hasher_;
  std::optional<YaraScanner> scanner_;
  ArchiveScanner archives_;
  const std::stop_token* stop_ = nullptr;
  std::unordered_map<std::uint32_t, std::string> owners_;
};

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

}  // namespace

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
  sink.begin(info);

  SharedSink shared(sink);
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
        Worker worker(config, shared);
        worker.run(queue, stop);
      });
    }
    QueueingVisitor visitor(queue, shared);
    FileWalker(config.walk, MountTable::current()).walk(config.roots, visitor, stop);
    queue.close(false);
  }  // joins the workers

  ScanEnd end;
  end.finished_at = now_rfc3339();
  end.complete = !stop.stop_requested();
  end.stats = shared.stats();
  end.stats.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ScanOutcome outcome;
  outcome.stats = end.stats;
  outcome.complete = end.complete;
  Status written = sink.end(end);
  if (!written) outcome.write_error = written.error().message;
  return outcome;
}

}  // namespace iocsweep
