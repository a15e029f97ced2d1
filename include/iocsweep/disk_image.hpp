#pragma once
// Disk images through The Sleuth Kit: raw (dd), split raw and EnCase E01
// images, with a DOS or GPT partition table or a bare filesystem (NTFS,
// FAT12/16/32, exFAT, ext2/3/4, HFS+, ISO 9660). Yields every allocated
// file, every deleted file whose metadata still says where its content
// lies, and every NTFS alternate data stream, each with a ByteSource over
// its content. The image is opened read-only and never written. Knows
// nothing of matching or reporting.

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/source.hpp"

namespace iocsweep {

/// Where a file found in a disk image lies (docs/report-format.md).
struct DiskLocation {
  /// The image as the user named it (for split raw and E01: the first segment).
  std::string image;
  /// The partition's address as TSK numbers the table's entries, the
  /// number `mmls` prints first (its own sectors and gaps count too: a DOS
  /// table's first partition is 2, a GPT's 4), so `mmls` and `fls -o` find
  /// it; -1 for a filesystem that fills the image (no table).
  int partition = -1;
  /// Byte offset of the filesystem from the start of the image.
  std::uint64_t offset = 0;
  /// Filesystem type as TSK names it, lower case: "ntfs", "fat12", "fat16",
  /// "fat32", "exfat", "ext2", "ext3", "ext4", "hfs", "iso9660".
  std::string filesystem;
  /// Path inside the filesystem, '/'-separated from its root ("/Windows/
  /// System32/lcsvsvc.dll"), names as the filesystem stores them (TSK gives
  /// UTF-8; invalid bytes are kept). "" for a location that is a whole
  /// volume (a partition that could not be opened).
  std::string path;
  /// Inode, or NTFS MFT entry number; 0 when not known.
  std::uint64_t inode = 0;
  /// The file's metadata (MFT record, inode, directory entry) is marked
  /// unallocated: deleted, its content read from where it last lay
  /// (possibly overwritten since).
  bool deleted = false;
  /// Name of the NTFS alternate data stream; "" for a file's default data.
  std::string stream;
};

/// `where` spelt as one path for reports: IMAGE, '#', "pN" for partition N
/// (nothing for a bare filesystem), the path inside the filesystem, and
/// ":STREAM" for an alternate data stream ("disk.E01#p2/Windows/x.dll",
/// "fat.img#/A.TXT:ads").
std::string disk_path(const DiskLocation& where);

/// One file found in an image, to be opened for its bytes.
struct DiskEntry {
  DiskLocation where;
  /// Size of the content (the stream's, for an ADS) as the metadata states
  /// it; may be larger than the image (a damaged or hostile record).
  std::uint64_t size = 0;
  /// Opaque to users: which filesystem, and which attribute of the file.
  std::size_t fs_index = 0;
  std::uint32_t attr_type = 0;
  std::uint16_t attr_id = 0;
  bool default_attr = true;
};

/// Receives what DiskImage::walk finds, in order, on the walking thread.
class DiskImageVisitor {
 public:
  virtual ~DiskImageVisitor() = default;
  /// A file (or stream) whose content can be opened with DiskImage::open.
  virtual void on_file(DiskEntry entry) = 0;
  /// Something not looked into, with a short reason: "encrypted_volume"
  /// (BitLocker, LUKS; `detail` says which), "unknown_filesystem" (a
  /// partition no filesystem driver recognises), "image_limit" (a bound in
  /// DiskImageOptions was reached; `detail` says which).
  virtual void on_skipped(const DiskLocation& where, const std::string& reason, const std::string& detail) = 0;
  /// Something that could not be read: a damaged directory, a partition
  /// table that points outside the image, an unreadable MFT record.
  virtual void on_error(const DiskLocation& where, const std::string& error) = 0;
};

/// Bounds on what one image may cost, whatever its metadata claims.
struct DiskImageOptions {
  /// Files (streams included) yielded per filesystem; beyond it the rest
  /// of that filesystem is skipped ("image_limit").
  std::uint64_t max_files_per_filesystem = 10'000'000;
  /// Directory depth below a filesystem's root.
  std::size_t max_depth = 512;
  /// Yield deleted files and NTFS streams (both on by default).
  bool deleted = true;
  bool streams = true;
};

/// An opened image. walk() runs on one thread; open() may be called from
/// any number of threads at once, also while walk() runs. Holds the image
/// file(s) open read-only until destroyed.
class DiskImage {
 public:
  /// Opens `path` read-only: a raw image, the first segment of a split raw
  /// image (NAME.001, NAME.aa: the rest are found by name), or an E01 (its
  /// E02... likewise). Fails with a message naming the file when it cannot
  /// be opened or is no image TSK can read.
  static Result<std::unique_ptr<DiskImage>> open(const std::string& path, DiskImageOptions options = {});
  ~DiskImage();
  DiskImage(const DiskImage&) = delete;
  DiskImage& operator=(const DiskImage&) = delete;

  /// The image format TSK detected: "raw", "split raw", "ewf".
  std::string format() const;
  /// Total bytes of the image's media (all segments).
  std::uint64_t media_size() const;

  /// Walks every volume and filesystem in order, reporting into `visitor`.
  /// Bounded in time and memory by the options, whatever the metadata
  /// claims (directory loops are detected and reported as errors). Returns
  /// early once `stop` is requested.
  void walk(DiskImageVisitor& visitor, std::stop_token stop) const;

  /// A source over the content of `entry` (one found by this image's
  /// walk). Thread-safe.
  Result<std::unique_ptr<ByteSource>> open(const DiskEntry& entry) const;

  struct Impl;

 private:
  explicit DiskImage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace iocsweep
