#pragma once
// The archive stage: opens what looks like an archive or a container image
// and matches its members through the matcher, reporting them as members
// of the item they came from (a file on disk, a file in a disk image). Also
// reads OCI image layout directories, once per sweep whichever worker meets
// them first (OciLayouts). Knows nothing of walking or of the cache.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "iocsweep/archive.hpp"
#include "iocsweep/disk_image.hpp"
#include "iocsweep/pipeline.hpp"
#include "iocsweep/walk.hpp"
#include "pipeline/matcher.hpp"
#include "pipeline/scan_shared.hpp"

namespace iocsweep {

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

/// What the archive stage reports into: the worker that owns it.
class ArchiveHost {
 public:
  virtual ~ArchiveHost() = default;
  virtual Matcher& matcher() = 0;
  virtual SharedSink& sink() = 0;
  /// Judges (FindingFilter) and reports `finding`, whose path and size are set.
  virtual void report(Finding finding) = 0;
  /// Pays for `bytes` read again from disk to --max-rate; false when a stop
  /// was requested meanwhile.
  virtual bool pay_rate(std::uint64_t bytes) = 0;
  /// True when --max-rate is set (pay_rate may sleep), so the size of what
  /// is read need only be found then.
  virtual bool rate_limited() const = 0;
  virtual bool stop_requested() const = 0;
};

/// The item whose members are being read, as findings name it.
struct MemberOrigin {
  /// The file on disk, image layout directory, or disk_path() of a file in
  /// a disk image.
  const std::string& path;
  /// Owner, for the `owner` external of its members.
  std::uint32_t uid = 0;
  /// Set for a file in a disk image: its members' findings say where.
  const DiskLocation* disk = nullptr;
};

/// One worker's archive stage. Not thread-safe: one per worker.
class ArchiveStage {
 public:
  ArchiveStage(const ScanConfig& config, OciLayouts& layouts, ArchiveHost& host, ArchiveOptions options)
      : config_(config), layouts_(layouts), host_(host), archives_(std::move(options)) {}

  /// Reads the members of the archive `bytes` (named `name`). True when no
  /// member matched, was skipped or failed.
  bool scan_members(const MemberOrigin& origin, ByteView bytes, std::string_view name);
  /// The same for an archive of `size` bytes read through `read_at`.
  bool scan_members(const MemberOrigin& origin, std::uint64_t size, const ReadAtFn& read_at, std::string_view name);

  /// The layout of the open directory `dir`, its plan read on first use
  /// (once per sweep, whichever worker asks first).
  std::shared_ptr<OciLayouts::Layout> layout_at(int dir);

  /// For a file that looks like an archive, at .../blobs/sha256/HEX: the
  /// layout (two directories up) whose image reads it as a layer, with that
  /// directory in `dir`; null when it is to be opened as a plain archive (no
  /// valid layout there, one that does not name it as a layer, or bytes
  /// that are not the blob its name promises). The image checks the bytes
  /// it reads against the same name, so a blob changed between the two
  /// reads is an error, never a layer read by neither.
  std::shared_ptr<OciLayouts::Layout> layout_reading_as_layer(const WalkEntry& entry, const Feed& feed,
                                                              const Digests& digests,
                                                              std::shared_ptr<const DirHandle>& dir);

  /// Reads the image of `layout` (directory `dir`) unless another file of
  /// it already did. True when no member matched, was skipped or failed.
  bool read_layout_image(const DirHandle& dir, OciLayouts::Layout& layout, std::uint32_t uid);

 private:
  class MemberVisitor;
  OpenBelowFn layout_opener(int dir);
  bool under_a_root(std::string_view path) const;
  const ScanConfig& config_;
  OciLayouts& layouts_;
  ArchiveHost& host_;
  ArchiveScanner archives_;
};

}  // namespace iocsweep
