#include "iocsweep/pipeline.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <thread>
#include <variant>

#include "iocsweep/archive.hpp"
#include "iocsweep/disk_image.hpp"
#include "iocsweep/throttle.hpp"
#include "pipeline/archive_stage.hpp"
#include "pipeline/cache_policy.hpp"
#include "pipeline/finding_filter.hpp"
#include "pipeline/matcher.hpp"
#include "pipeline/process_stage.hpp"
#include "pipeline/scan_shared.hpp"

// The pipeline: sources -> bounded queue -> workers -> sink.
//
// Sources yield items on the walking thread: the descriptor-relative tree
// walker (FileWalker) yields WalkEntry, each disk image (DiskImage::walk)
// yields DiskItem. Each worker takes items from the queue and runs them
// through the stages, which know nothing of one another:
//   cache policy (walked files only) -> read -> matcher -> finding filter
//                                             -> archive stage -> matcher ...
// The worker is the only part that knows every stage; it owns one of each.

namespace iocsweep {
namespace {

// Entries in flight between the walker and the workers. Small: the walker
// only needs to stay a little ahead, and each entry pins a directory
// descriptor.
constexpr std::size_t kQueueCapacityPerThread = 64;

/// A file found in a disk image, for the workers.
struct DiskItem {
  std::shared_ptr<const DiskImage> image;
  DiskEntry entry;
};

/// What a source yields.
using ScanItem = std::variant<WalkEntry, DiskItem, ProcessItem>;

/// Publishes progress and waits for --max-load before an item is queued.
/// False when a stop was requested meanwhile.
bool admit(const Throttles& throttles, const std::stop_token& stop) {
  return throttles.load == nullptr || throttles.load->wait(stop);
}

/// The tree walker as a source.
class QueueingVisitor final : public WalkVisitor {
 public:
  QueueingVisitor(BoundedQueue<ScanItem>& queue, SharedSink& sink, const Throttles& throttles, std::stop_token stop)
      : queue_(queue), sink_(sink), throttles_(throttles), stop_(std::move(stop)) {}
  void on_file(WalkEntry entry) override {
    // The directory is published when the walk moves on (a pointer
    // compare per file), not per file.
    if (throttles_.progress != nullptr && entry.parent.get() != last_parent_) {
      last_parent_ = entry.parent.get();
      throttles_.progress->set_current_dir(entry.parent ? entry.parent->path() : entry.path);
    }
    if (!admit(throttles_, stop_)) return;
    queue_.push(std::move(entry));
  }
  void on_skipped(const std::string& path, const std::string& reason, const std::string& detail) override {
    sink_.skipped(path, reason, detail);
  }
  void on_error(const std::string& path, const std::string& error) override { sink_.error(path, error); }
  void on_symlink(const std::string&) override { sink_.symlink(); }
  void on_atime_not_preserved(const std::string& path) override { sink_.atime_not_preserved(path); }

 private:
  BoundedQueue<ScanItem>& queue_;
  SharedSink& sink_;
  const Throttles& throttles_;
  std::stop_token stop_;
  const DirHandle* last_parent_ = nullptr;
};

/// One disk image as a source.
class DiskQueueingVisitor final : public DiskImageVisitor {
 public:
  DiskQueueingVisitor(std::shared_ptr<const DiskImage> image, BoundedQueue<ScanItem>& queue, SharedSink& sink,
                      const Throttles& throttles, std::stop_token stop)
      : image_(std::move(image)), queue_(queue), sink_(sink), throttles_(throttles), stop_(std::move(stop)) {}
  void on_file(DiskEntry entry) override {
    if (!admit(throttles_, stop_)) return;
    queue_.push(DiskItem{image_, std::move(entry)});
  }
  void on_skipped(const DiskLocation& where, const std::string& reason, const std::string& detail) override {
    sink_.skipped(SkippedFile{disk_path(where), reason, detail, where});
  }
  void on_error(const DiskLocation& where, const std::string& error) override {
    sink_.error(FileError{disk_path(where), error, where});
  }

 private:
  std::shared_ptr<const DiskImage> image_;
  BoundedQueue<ScanItem>& queue_;
  SharedSink& sink_;
  const Throttles& throttles_;
  std::stop_token stop_;
};

/// Walks the disk images the scan names, one after the other, into the queue.
void sweep_images(const ScanConfig& config, BoundedQueue<ScanItem>& queue, SharedSink& sink, const Throttles& throttles,
                  const std::stop_token& stop) {
  for (const std::string& path : config.images) {
    if (stop.stop_requested()) return;
    if (throttles.progress != nullptr) throttles.progress->set_current_dir(path);
    Result<std::unique_ptr<DiskImage>> opened = DiskImage::open(path, config.disk);
    if (!opened) {
      sink.error(path, opened.error().message);
      continue;
    }
    std::shared_ptr<const DiskImage> image = std::move(*opened);
    DiskQueueingVisitor visitor(image, queue, sink, throttles, stop);
    image->walk(visitor, stop);
  }
}

/// One worker: one of each stage, and the reader's buffers, for its life.
class Worker final : public ArchiveHost {
 public:
  Worker(const ScanConfig& config, const CacheContext& cache, SharedSink& sink, const Throttles& throttles,
         OciLayouts& layouts)
      : config_(config),
        sink_(sink),
        throttles_(throttles),
        matcher_(config.pack, cache.accounts, config.yara_timeout_s, config.rule_gate),
        cache_(config, cache),
        filter_(config.min_score, config.baseline, config.baseline_writer),
        reader_(config.read),
        archives_(config, layouts, *this, archive_options(config)),
        processes_(config, *this) {}

  void run(BoundedQueue<ScanItem>& queue, const std::stop_token& stop) {
    stop_ = &stop;
    while (auto item = queue.pop()) {
      if (stop.stop_requested()) return;
      if (throttles_.load != nullptr && !throttles_.load->wait(stop)) return;
      std::visit([this](const auto& i) { process(i); }, *item);
    }
  }

  // ArchiveHost.
  Matcher& matcher() override { return matcher_; }
  SharedSink& sink() override { return sink_; }
  void report(Finding finding) override {
    switch (filter_.judge(finding)) {
      case FindingFilter::Verdict::kBelowMinScore:
        sink_.below_min_score();
        return;
      case FindingFilter::Verdict::kSuppressed:
        sink_.suppressed();
        return;
      case FindingFilter::Verdict::kReport:
        // A finding of the walked file, or of a member inside it, carries
        // the file's own facts (what the archive stage reports knows none).
        // The owner's name is looked up here, for findings only, not for
        // every file read.
        if (!finding.file && current_file_ && !finding.disk && !finding.process) {
          finding.file = current_file_;
          if (finding.file->uid) finding.file->owner = matcher_.owner_name(*finding.file->uid);
        }
        sink_.finding(std::move(finding));
        return;
    }
  }
  // Pays for `bytes` read to --max-rate, counting the time it sleeps;
  // false when a stop was requested meanwhile.
  bool pay_rate(std::uint64_t bytes) override {
    if (throttles_.rate == nullptr) return true;
    const auto t0 = std::chrono::steady_clock::now();
    const bool paid = throttles_.rate->acquire(bytes, *stop_);
    throttled_ += std::chrono::steady_clock::now() - t0;
    return paid;
  }
  bool rate_limited() const override { return throttles_.rate != nullptr; }
  bool stop_requested() const override { return stop_ != nullptr && stop_->stop_requested(); }

 private:
  // --timeout bounds a file's archive work (its members' matching
  // included) as it bounds one YARA scan; time asleep in --max-rate is not
  // work.
  ArchiveOptions archive_options(const ScanConfig& config) {
    ArchiveOptions options = config.archive;
    if (config.yara_timeout_s > 0) options.time_limit = std::chrono::seconds(config.yara_timeout_s);
    options.idle_time = [this] { return throttled_; };
    return options;
  }

  // The matcher, with the counters its outcome feeds.
  MatchOutcome match(const Subject& subject, DigestSet kinds, Finding& finding) {
    MatchOutcome out = matcher_.match(subject, kinds, finding);
    if (out.kind == MatchOutcome::Kind::kAllowListed) sink_.allowlisted();
    if (out.yara.gated) sink_.prefiltered();
    return out;
  }

  void report(const std::string& path, std::uint64_t size, Finding finding) {
    finding.path = path;
    finding.size = size;
    report(std::move(finding));
  }

  // Answers a walked file from the cache; false, having reported nothing,
  // when it must be read.
  bool answer_from_cache(const std::string& path, const FileKey& key, const CachedFile& entry, Finding& finding) {
    switch (cache_.answer(key, entry, matcher_, finding)) {
      case CachePolicy::Answer::kRead:
        return false;
      case CachePolicy::Answer::kAllowListed:
        sink_.scanned_from_cache();
        sink_.allowlisted();
        return true;
      case CachePolicy::Answer::kClean:
        sink_.scanned_from_cache();
        return true;
      case CachePolicy::Answer::kFinding:
        sink_.scanned_from_cache();
        report(path, key.size, std::move(finding));
        return true;
    }
    return false;
  }

  /// A file of the tree walk.
  void process(const WalkEntry& entry) {
    current_file_.reset();
    Finding finding;
    // Names first: they need no read, so a matching file is reported even
    // when it is too large or cannot be read.
    matcher_.match_path(entry.path, finding);
    // The oci-layout file of an image layout directory stands for the
    // image: never answered from the cache, whose entries know nothing of
    // members.
    const bool layout = config_.archives && entry.parent && base_name(entry.path) == "oci-layout";
    CachePolicy::Lookup look;
    if (cache_.active() && !layout) {
      look = cache_.lookup(entry);
      if (look.cached && !cache_.verifying()) {
        current_file_ = FileFacts{look.key->inode, std::nullopt, "", look.key->mtime_ns};
      }
      if (look.cached && !cache_.verifying() && answer_from_cache(entry.path, *look.key, *look.cached, finding)) {
        return;
      }
    }
    std::optional<FileKey>& key = look.key;
    const std::optional<CachedFile>& cached = look.cached;
    ReadOutcome read = reader_.read(entry);
    if (read.info.inode != 0) {
      current_file_ = FileFacts{read.info.inode, read.info.uid, "", read.info.mtime_ns};
    }
    if (read.kind == ReadOutcome::Kind::kRead) cache_.key_from_read(entry, read.info, look);
    // Only a key that names the file actually read may be stored with
    // what was learnt from it (a file replaced in between is not cached;
    // a key from the read's own fstat names it, and only a size 0 file that
    // grew by the read differs).
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
    FileContent& content = *read.content;
    const Feed feed = [&content](const std::function<void(ByteView)>& sink) { return content.stream(sink); };
    const Subject subject{read.bytes, read.mapped, head_of(read), &feed, entry.path, read.info.uid};
    // --verify-cache also computes every kind the entry holds, to compare.
    const DigestSet needed = matcher_.needed_for(read.bytes.size());
    const DigestSet kinds = cached && cache_.verifying() ? needed | cached->digests.present : needed;
    const MatchOutcome matched = match(subject, kinds, finding);
    if (matched.kind == MatchOutcome::Kind::kError) {
      sink_.error(entry.path, matched.error);
      // As for a file that could not be read: its name still matched.
      if (!finding.matches.empty()) report(entry.path, read.bytes.size(), std::move(finding));
      return;
    }
    sink_.scanned(entry.path, read.bytes.size(), read.info.noatime);
    if (cached && cache_.verifying() && key) {
      if (std::string differs = CachePolicy::verify(*cached, finding.digests); !differs.empty()) {
        sink_.error(entry.path, differs);
      }
    }
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
      image = archives_.layout_at(entry.parent->fd());
    } else if (sniffed) {
      image = archives_.layout_reading_as_layer(entry, feed, finding.digests, layout_dir);
    }
    const bool archive = sniffed && (layout || !image);
    const bool not_archive = config_.archives && !sniffed;
    if (layout) key.reset();
    const std::string not_archive_mark = CachePolicy::not_archive_mark(not_archive);
    if (matched.kind == MatchOutcome::Kind::kAllowListed) {
      // Known good: its members are not looked at either.
      cache_.remember(entry.path, key, look.stat_ns, finding.digests, nullptr, not_archive, not_archive_mark);
      return;
    }
    if (!matched.error.empty()) {
      sink_.error(entry.path, matched.error);
      key.reset();  // an unfinished verdict is not cached
    }
    if (!finding.matches.empty()) {
      if (Status done = matcher_.complete_digests(feed, finding); !done) {
        sink_.error(entry.path, done.error().message);
        key.reset();
      }
    }
    const Digests digests = finding.digests;
    if (!archive) {
      cache_.remember(entry.path, key, look.stat_ns, digests, &matched.yara, not_archive, not_archive_mark);
    }
    if (!finding.matches.empty()) report(entry.path, read.bytes.size(), std::move(finding));
    const bool image_clean = image ? archives_.read_layout_image(*layout_dir, *image, subject.uid) : true;
    if (!archive) return;
    const bool members_clean = scan_members(entry, read, subject) && image_clean;
    if (members_clean && !stop_requested()) {
      cache_.remember(entry.path, key, look.stat_ns, digests, &matched.yara, false, cache_.members_fingerprint());
    }
  }

  /// True when no member of the walked archive matched, was skipped or failed.
  bool scan_members(const WalkEntry& entry, const ReadOutcome& read, const Subject& subject) {
    const MemberOrigin origin{entry.path, subject.uid, nullptr};
    if (!read.mapped) return archives_.scan_members(origin, read.bytes, base_name(entry.path));
    // A mapped archive is read from disk a second time for its members:
    // those reads are paid for to --max-rate too.
    FileContent& content = *read.content;
    const ReadAtFn read_at = [this, &content](std::uint64_t offset,
                                              std::span<std::uint8_t> out) -> Result<std::size_t> {
      Result<std::size_t> got = content.read_at(offset, out);
      if (got && !pay_rate(*got)) return Error{"interrupted"};
      return got;
    };
    return archives_.scan_members(origin, read.info.size, read_at, base_name(entry.path));
  }

  /// A file in a disk image: read whole into the worker's buffer (at most
  /// --max-filesize), then matched as any file, its members included. The
  /// cache is not used (an image file has no stat key), nor OCI layouts.
  void process(const DiskItem& item) {
    current_file_.reset();
    const DiskLocation& where = item.entry.where;
    const std::string path = disk_path(where);
    Finding finding;
    finding.disk = where;
    // Path indicators see the path inside the filesystem, as they would
    // on the mounted volume.
    matcher_.match_path(where.path, finding);
    const std::uint64_t size = item.entry.size;
    const auto names_only = [&] {
      if (!finding.matches.empty()) report(path, size, std::move(finding));
    };
    if (size > config_.read.max_filesize) {
      sink_.skipped(SkippedFile{path, "too_large", "", where});
      return names_only();
    }
    Result<std::unique_ptr<ByteSource>> source = item.image->open(item.entry);
    if (!source) {
      sink_.error(FileError{path, source.error().message, where});
      return names_only();
    }
    std::string read_error;
    const ByteView bytes = read_whole(**source, size, read_error);
    // Content that could only be read in part is still matched (a deleted
    // file's blocks may be gone), and the error says what was missed.
    if (!read_error.empty()) sink_.error(FileError{path, read_error, where});
    if (!pay_rate(bytes.size())) return;
    const Feed feed = feed_of(bytes);
    Subject subject{bytes, false, bytes, &feed, where.path, 0};
    subject.owner_known = false;
    const MatchOutcome matched = match(subject, matcher_.needed_for(bytes.size()), finding);
    sink_.scanned(path, bytes.size(), true);
    if (matched.kind == MatchOutcome::Kind::kAllowListed) return;
    if (!matched.error.empty()) sink_.error(FileError{path, matched.error, where});
    if (!finding.matches.empty()) {
      if (Status done = matcher_.complete_digests(feed, finding); !done) {
        sink_.error(FileError{path, done.error().message, where});
      }
      report(path, bytes.size(), std::move(finding));
    }
    if (config_.archives && looks_like_archive(bytes.first(std::min(bytes.size(), kArchiveSniffBytes)),
                                               bytes.last(std::min(bytes.size(), kArchiveTailBytes)), bytes.size())) {
      archives_.scan_members(MemberOrigin{path, 0, &where}, bytes, base_name(where.path));
    }
  }

  /// A live process: its executable and its memory.
  void process(const ProcessItem& item) {
    current_file_.reset();
    processes_.sweep(item.info);
  }

  // Reads `size` bytes of `source` into disk_buffer_: all of them, or as
  // many as could be read with `error` saying why not.
  ByteView read_whole(ByteSource& source, std::uint64_t size, std::string& error) {
    // A buffer grown past what the file reader keeps is given back before
    // the next file, whichever way the last one ended.
    if (disk_buffer_.capacity() > kKeptReadBufferBytes) disk_buffer_.release();
    disk_buffer_.make_room(static_cast<std::size_t>(size));
    std::size_t got = 0;
    while (got < size) {
      Result<std::size_t> n = source.read_at(got, std::span<std::uint8_t>(disk_buffer_.data() + got, size - got));
      if (!n) {
        error = n.error().message;
        break;
      }
      if (*n == 0) {
        error = "content ends after " + std::to_string(got) + " of " + std::to_string(size) + " bytes";
        break;
      }
      got += *n;
    }
    return ByteView(disk_buffer_.data(), got);
  }

  // The first bytes of a file read, safe to touch: the buffer itself, or
  // for a mapped file (whose pages only libyara's guarded scan may read)
  // up to kHeadBytes read with pread. A failed pread leaves it empty: the
  // file type is then unknown and the gate's header tests pass.
  ByteView head_of(const ReadOutcome& read) {
    if (!read.mapped) return read.bytes;
    Result<std::size_t> got = read.content->read_at(0, std::span<std::uint8_t>(head_));
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
    Result<std::size_t> got = read.content->read_at(read.bytes.size() - n, std::span<std::uint8_t>(tail_.data(), n));
    return got && *got == n ? ByteView(tail_.data(), n) : ByteView();
  }

  const ScanConfig& config_;
  SharedSink& sink_;
  const Throttles& throttles_;
  // Time asleep in --max-rate so far (ArchiveOptions::idle_time).
  std::chrono::nanoseconds throttled_{0};
  const std::stop_token* stop_ = nullptr;
  Matcher matcher_;
  // The facts of the walked file being processed, for its findings and its
  // members' (report()); unset for other items.
  std::optional<FileFacts> current_file_;
  CachePolicy cache_;
  FindingFilter filter_;
  FileReader reader_;
  ArchiveStage archives_;
  ProcessStage processes_;
  ReadBuffer disk_buffer_;  // the bytes of the current disk image file
  // A mapped file's first bytes (head_of): what opens_as_archive looks at,
  // and plenty for the file type and the header tests rules make in
  // practice (magic numbers, the PE header offset at 0x3C).
  static constexpr std::size_t kHeadBytes = kArchiveSniffBytes;
  std::array<std::uint8_t, kHeadBytes> head_{};
  std::array<std::uint8_t, kArchiveTailBytes> tail_{};  // tail_of, for a mapped file
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
  info.images = config.images;
  info.all_processes = config.all_processes;
  info.pids = config.pids;
  info.packs = config.signed_packs;
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
  BoundedQueue<ScanItem> queue(kQueueCapacityPerThread * threads);
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
    sweep_images(config, queue, shared, throttles, stop);
    if (config.all_processes || !config.pids.empty()) {
      list_scan_processes(
          config, shared,
          [&](ProcessItem item) {
            if (admit(throttles, stop)) queue.push(std::move(item));
          },
          stop);
    }
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
