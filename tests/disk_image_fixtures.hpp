#pragma once
// Test disk images, built with Debian's own tools and never mounted:
// mkntfs/ntfscp (ntfs-3g) with wimcapture/wimapply (wimtools: the only tool
// that makes NTFS directories without mounting), mkfs.fat/mmd/mcopy/mdel
// (dosfstools, mtools), mkfs.exfat (exfatprogs; files by hand), mke2fs -d/debugfs -w
// (e2fsprogs), genisoimage, sfdisk (fdisk), ewfacquire (ewf-tools),
// cryptsetup (cryptsetup-bin). Every builder returns an error or a skip
// reason as text so a test can GTEST_SKIP() with it when a tool is missing.
// Contents are the caller's synthesised bytes; never real malware.
// tests/disk_image_fixtures_test.cpp proves each builder with Sleuth Kit's
// command-line tools.

#include <cstdint>
#include <string>
#include <vector>

namespace iocsweep::test {

/// One file to put into a filesystem: `path` is '/'-separated from the
/// root ("Windows/System32/x.dll"); directories are made as needed.
struct FixtureFile {
  std::string path;
  std::string content;
};

/// What a filesystem image holds.
struct FixtureSpec {
  std::vector<FixtureFile> files;
  /// Paths of `files` to delete after writing, so their content stays on
  /// disk with their metadata marked free (NTFS: by hand, as Windows does:
  /// the name taken out of the parent's $I30 index, the MFT record's in-use
  /// flag and its $MFT $Bitmap bit cleared, the record and data left, so
  /// TSK lists "-/r * 68-128-2: dir/name" under its parent; FAT: mdel, and
  /// TSK shows the name with its first byte as "_" unless a long name
  /// survives ("Temp/wiped.bat" -> "Temp/_iped.bat"); ext2/3/4: debugfs rm,
  /// blocks freed, inode's block map kept; exFAT: entries' in-use bits and
  /// bitmap bits cleared, name kept). Not on ISO 9660.
  std::vector<std::string> deleted;
  /// NTFS only: alternate data streams, path "dir/file:stream" of a file in
  /// `files`.
  std::vector<FixtureFile> streams;
};

enum class FixtureFs { kNtfs, kFat12, kFat16, kFat32, kExfat, kExt2, kExt3, kExt4, kIso9660 };

/// Outcome of a builder: ok, or why not (a missing tool sets `skip`).
struct FixtureResult {
  bool ok = false;
  bool skip = false;
  std::string message;
};

/// Builds a bare filesystem of `fs` holding `spec` into the file `out`
/// (`size_bytes` of it; ISO 9660 sizes itself; FAT32 is made at least
/// 34 MiB, the least that holds the 65525 clusters it needs). exFAT:
/// mkfs.exfat, then files written by hand (no tool writes exFAT without
/// mounting), contiguous with "no FAT chain", each directory one cluster.
FixtureResult build_filesystem(FixtureFs fs, const FixtureSpec& spec, const std::string& out,
                               std::uint64_t size_bytes = 16ull << 20);

/// A partition of a partitioned image.
struct FixturePartition {
  FixtureFs fs;
  FixtureSpec spec;
  std::uint64_t size_bytes = 16ull << 20;
};

/// Builds a partitioned image (`gpt` or a DOS table) into `out`: the
/// partitions in order, each filesystem built with build_filesystem and
/// copied in at its partition's offset (1 MiB aligned).
FixtureResult build_partitioned(bool gpt, const std::vector<FixturePartition>& parts, const std::string& out);

/// Converts the raw image `raw` into an EnCase E01 at `out_base` + ".E01"
/// (ewfacquire -u -t out_base), split into segments of `segment_bytes`
/// (0: one segment).
FixtureResult to_e01(const std::string& raw, const std::string& out_base, std::uint64_t segment_bytes = 0);

/// Splits `raw` into `out_prefix` + ".001", ".002", ... of `segment_bytes`.
FixtureResult split_raw(const std::string& raw, const std::string& out_prefix, std::uint64_t segment_bytes);

// Bad input, made from a good image in place:
/// Cuts `image` to `bytes`.
FixtureResult truncate_image(const std::string& image, std::uint64_t bytes);
/// Overwrites the NTFS image's MFT records for entries `first`..`last` with
/// garbage (a damaged MFT).
FixtureResult corrupt_mft(const std::string& ntfs_image, std::uint64_t first, std::uint64_t last);
/// In an ext2/3/4 image: a directory `dir` that holds an entry linking back
/// to its own parent inode (a directory loop), made with debugfs.
FixtureResult ext_directory_loop(const std::string& ext_image, const std::string& dir);
/// In an ext2/3/4 image: sets the size of file `path` to `size` (2^40 for
/// the "claims a terabyte" case) with debugfs sif.
FixtureResult ext_set_size(const std::string& ext_image, const std::string& path, std::uint64_t size);
/// A LUKS2 volume of `size_bytes` in `out` (cryptsetup luksFormat on the
/// file, passphrase from stdin; no mapping, no root needed beyond file access).
FixtureResult build_luks(const std::string& out, std::uint64_t size_bytes = 32ull << 20);
/// A volume that starts with a BitLocker boot sector ("-FVE-FS-" at offset
/// 3) and is otherwise random bytes: what TSK cannot open and the sweep
/// must name as encrypted.
FixtureResult build_bitlocker_like(const std::string& out, std::uint64_t size_bytes = 16ull << 20);

/// SHA-256 (hex) of the file `path`, for "the image was never changed".
std::string file_sha256(const std::string& path);

}  // namespace iocsweep::test
