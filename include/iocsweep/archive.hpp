#pragma once
// Archive and container-image members, read into memory through libarchive
// (never extracted to disk) and handed to a visitor. Knows nothing of
// matching or reporting. Every archive is hostile input: sizes, ratios,
// member counts and nesting are bounded, member names are data that is
// reported as it is and never used to open anything.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// Bounds on what one archive (the file on disk and everything nested in
/// it) may cost. Exceeding one is reported as a skipped entry
/// ("archive_limit", or "archive_depth" for nesting) and the scan goes on.
struct ArchiveOptions {
  /// Nesting depth read: 1 reads the members of the file itself, 2 also
  /// the members of archives among them, and so on.
  unsigned max_depth = 3;
  /// Largest member read into memory (the scan's --max-filesize).
  std::uint64_t max_member_bytes = 256ull << 20;
  /// Uncompressed bytes read from one file on disk, nested levels included.
  std::uint64_t max_total_bytes = 1ull << 30;
  /// Members (all levels) of one file on disk.
  std::uint64_t max_members = 100000;
  /// A member whose output exceeds max_ratio times the archive bytes its
  /// reading consumed, once past ratio_floor_bytes, is skipped as a
  /// decompression bomb; the members after it are still read.
  std::uint64_t max_ratio = 100;
  std::uint64_t ratio_floor_bytes = 8ull << 20;
  /// Wall-clock budget for the members of one file on disk, their matching
  /// by the visitor included (the scan's --timeout); checked between
  /// members and between chunks of one, and once it is spent the rest of
  /// the file is skipped ("archive_limit"). Zero: no limit.
  std::chrono::milliseconds time_limit{0};
  /// When set, the caller's time spent waiting rather than working so far
  /// (a --max-rate throttle sleeping in a read), which time_limit does not
  /// count; called on the scanning thread.
  std::function<std::chrono::nanoseconds()> idle_time;
};

/// Bytes of the start of a file that looks_like_archive() can use (the
/// iso9660 signature sits at 0x8001).
inline constexpr std::size_t kArchiveSniffBytes = 0x8006;

/// Bytes of the end of a file that looks_like_archive() can use: where
/// libarchive's zip reader looks for the end-of-central-directory record
/// (it searches the last 16 KiB, no further).
inline constexpr std::size_t kArchiveTailBytes = 16 * 1024;

/// True when libarchive, as ArchiveScanner sets it up, would open the file
/// as an archive or a compressed stream: the tests its format and filter
/// bidders make, on the first bytes (`head`, up to kArchiveSniffBytes: zip,
/// gzip, bzip2, xz, lzma, zstd, 7z, cab, rar, rar5, cpio, ar, lha, xar, tar
/// of any vintage by its header checksum, iso9660) and on the last
/// (`tail`: the final tail.size() bytes, up to kArchiveTailBytes, of a file
/// of `size` bytes: a zip's end-of-central-directory record, which finds a
/// zip after any prefix such as a self-extractor's stub). An empty tail
/// leaves that test out. Cheap enough for every file of a sweep: a few
/// compares, a 512-byte checksum when the tar fields fit, a backwards scan
/// of the tail; no allocation.
bool looks_like_archive(ByteView head, ByteView tail, std::uint64_t size);
/// Same for bytes wholly in memory (a buffered file, a member).
bool looks_like_archive(ByteView whole);

/// Where a member of a container image sits.
struct ImageLocation {
  /// The image's first repo tag ("name:tag"), empty when it has none.
  std::string reference;
  /// Digest of the layer, "sha256:HEX".
  std::string layer;
  /// Index of the layer, 0 = the base layer.
  std::size_t layer_index = 0;
  /// Path inside the image, "/usr/bin/x" (bytes as stored).
  std::string path;
};

/// What each layer of an image adds and deletes, to tell whether a file
/// seen in one layer is still there in the final image.
class ImageLayers {
 public:
  /// Records the entries of layer `index` (layers may come in any order).
  /// Whiteout names are recorded as deletions, not as entries.
  void add_entry(std::size_t index, std::string_view path_in_layer);
  /// False when a later layer replaced, deleted (".wh.NAME") or hid
  /// (".wh..wh..opq" in a parent) `path` of layer `index`.
  bool in_final_image(std::size_t index, std::string_view path) const;
  /// True for whiteout entries (".wh.*" names), which are not scanned when
  /// empty (the marker they should be).
  static bool is_whiteout(std::string_view path_in_layer);
  /// "/a/b" for "./a/b", "a/b/", "/a//b".
  static std::string normalise(std::string_view path_in_layer);

 private:
  struct Layer {
    std::unordered_set<std::string> entries;
    std::unordered_set<std::string> deleted;
    std::unordered_set<std::string> opaque_dirs;
  };
  std::vector<Layer> layers_;
};

/// Receives members as the scanner reads them, on the calling thread.
class ArchiveVisitor {
 public:
  virtual ~ArchiveVisitor() = default;
  /// A regular member read whole. `chain`: member paths from the outermost
  /// archive in; `bytes` are valid during the call only; `image` is set
  /// for a file inside a container image layer.
  virtual void on_member(const std::vector<std::string>& chain, ByteView bytes, const ImageLocation* image) = 0;
  /// A member or (part of an) archive deliberately not read: reason is
  /// "archive_limit", "archive_depth" or "encrypted"; `chain` names where.
  virtual void on_skipped(const std::vector<std::string>& chain, std::string_view reason, std::string detail) = 0;
  /// An archive that is corrupt or truncated at `chain` (empty: the file
  /// itself); what was read before the problem has been reported.
  virtual void on_error(const std::vector<std::string>& chain, std::string error) = 0;
  /// Every layer of an image has been read: `layers` answers
  /// in_final_image for each member reported with an ImageLocation.
  virtual void on_image_end(const ImageLayers& layers) { (void)layers; }
  /// Polled between members: true stops the scan early.
  virtual bool stop_requested() { return false; }
};

/// A container image: the layers a scan reads, each once, in the order
/// they are applied (a layer listed more than once is read once, at its
/// last place in the list: where it is applied last, which decides what the
/// final image holds).
struct ImagePlan {
  /// The first repo tag (docker) or ref.name annotation (OCI); "" if none.
  std::string reference;
  struct Layer {
    /// Path of the layer blob inside the tar or layout directory.
    std::string member;
    /// "sha256:HEX", or "" when unknown.
    std::string digest;
  };
  std::vector<Layer> layers;
};

/// Reads up to `out.size()` bytes at `offset` of a file; returns the count
/// (0 at the end) or an error. Used for files that must not be touched
/// through a mapping.
using ReadAtFn = std::function<Result<std::size_t>(std::uint64_t offset, std::span<std::uint8_t> out)>;

/// Opens a file of a directory by its path relative to it ("index.json",
/// "blobs/sha256/HEX"), read-only and following no symlink; returns a
/// descriptor, which the caller of this function then owns, or an error.
using OpenBelowFn = std::function<Result<int>(const std::string& relative)>;

/// True for ".../blobs/sha256/<64 hex digits>": the path of a blob in an
/// OCI image layout. A string test only.
bool is_oci_blob_path(std::string_view path);

/// Sees the bytes of each layer blob scan_oci_layout() reads, exactly as
/// read, so a layer read from a layout directory is known to be the blob
/// its name promises. Called on the scanning thread.
class BlobDigest {
 public:
  virtual ~BlobDigest() = default;
  /// A blob starts.
  virtual void begin() = 0;
  virtual void update(ByteView bytes) = 0;
  /// Every byte of the blob has been seen: its digest, "sha256:HEX".
  virtual std::string finish() = 0;
};

/// Walks the members of archives and images. Holds no state between
/// scans; not thread-safe (one per worker).
class ArchiveScanner {
 public:
  explicit ArchiveScanner(ArchiveOptions options) : options_(options) {}

  /// Reads the archive in `bytes` (the whole file, in memory). `name` (the
  /// file's base name) names the member of a single compressed stream
  /// ("x.gz" -> "x"). A file that turns out not to be an archive gives no
  /// callback. An uncompressed tar whose `docker save` manifest.json or OCI
  /// layout (oci-layout, index.json, blobs/) describes it (every listed
  /// layer, and the config or manifest blob, is exactly one regular member;
  /// at least one layer) is read as an image, in one pass: each layer blob
  /// as a layer (its files reported with an ImageLocation, whiteouts
  /// honoured), every other member as an ordinary one, on_image_end() last.
  void scan(ByteView bytes, std::string_view name, ArchiveVisitor& visitor) const;
  /// Same, for a file of `size` bytes read through `read_at` (pread).
  void scan(std::uint64_t size, const ReadAtFn& read_at, std::string_view name, ArchiveVisitor& visitor) const;
  /// The image an OCI image layout directory describes, its files opened
  /// through `open`: an `oci-layout` file, an `index.json` whose first
  /// manifest names a manifest blob (blobs/sha256/HEX) that lists at least
  /// one layer, every digest well-formed. nullopt for anything else (the
  /// directory is then no image and its blobs are ordinary files).
  std::optional<ImagePlan> oci_layout_plan(const OpenBelowFn& open) const;
  /// Reads the layers of `plan` (from oci_layout_plan) in order, each blob
  /// opened through `open`, as scan() reads an image tar. Member chains
  /// start with the layer blob's relative path; a layer that cannot be
  /// opened or read is an error, and so, with `digest`, is a blob whose
  /// bytes (read to its end) are not those its digest names.
  void scan_oci_layout(const ImagePlan& plan, const OpenBelowFn& open, ArchiveVisitor& visitor,
                       BlobDigest* digest = nullptr) const;

 private:
  ArchiveOptions options_;
};

}  // namespace iocsweep
