// DiskImage over The Sleuth Kit's C API (libtsk 4.11).
//
// Threads. TSK 4.11 is built with TSK_MULTITHREAD_LIB (Debian's is: see
// tsk/tsk_incs.h): its error state is per thread, tsk_img_read() holds the
// image's cache_lock across the cache and the format's own read (so raw
// and EWF reads are serialised), and the NTFS, FAT, ext and HFS drivers
// lock their caches; TSK's own tests/fs_thread_test.cpp walks and reads one
// shared TSK_FS_INFO from many threads. But no TSK document promises that
// every driver (exFAT and ISO 9660 hold no lock at all) may be entered by
// two threads at once, so every TSK call made here runs under one mutex per
// image. Only TSK's own work is serialised: bytes are copied out under the
// lock and matched outside it, and the walk never holds the lock while it
// reports into the visitor (whose on_file may block on a full queue that
// the readers drain).
//
// The walk is our own recursion over tsk_fs_dir_open_meta() rather than
// tsk_fs_dir_walk(): the lock can then be dropped between directories, a
// damaged directory is one error and the walk goes on with the next, and
// depth, loops and the file budget are bounded here, whatever the metadata
// claims.

#include "iocsweep/disk_image.hpp"

#include <tsk/libtsk.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <mutex>
#include <unordered_set>
#include <utility>

namespace iocsweep {

namespace {

struct ImgCloser {
  void operator()(TSK_IMG_INFO* p) const { tsk_img_close(p); }
};
struct VsCloser {
  void operator()(TSK_VS_INFO* p) const { tsk_vs_close(p); }
};
struct FsCloser {
  void operator()(TSK_FS_INFO* p) const { tsk_fs_close(p); }
};
struct FileCloser {
  void operator()(TSK_FS_FILE* p) const { tsk_fs_file_close(p); }
};
struct DirCloser {
  void operator()(TSK_FS_DIR* p) const { tsk_fs_dir_close(p); }
};
using ImgPtr = std::unique_ptr<TSK_IMG_INFO, ImgCloser>;
using VsPtr = std::unique_ptr<TSK_VS_INFO, VsCloser>;
using FsPtr = std::unique_ptr<TSK_FS_INFO, FsCloser>;
using FilePtr = std::unique_ptr<TSK_FS_FILE, FileCloser>;
using DirPtr = std::unique_ptr<TSK_FS_DIR, DirCloser>;

// TSK's error state is per thread and is not cleared by a call that
// succeeds, so it is reset before each call whose error text is used.
std::string tsk_error_text() {
  const char* text = tsk_error_get();
  std::string out = text != nullptr && *text != '\0' ? text : "unknown TSK error";
  // TSK ends some messages with a newline and puts others inside.
  std::replace(out.begin(), out.end(), '\n', ' ');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// NTFS keeps its own metadata in fixed MFT records 0-11 ($MFT, $MFTMirr,
// $LogFile, $Volume, $AttrDef, the root (5), $Bitmap, $Boot, $BadClus whose
// $Bad stream claims the whole volume, $Secure, $UpCase, $Extend) and, in
// the $Extend directory, the files named below ($UsnJrnl, $ObjId...). They
// are not files anyone put there: their bytes are other files' records and
// the journal, a match in them would name no file, and they are the largest
// streams on a volume. They are left out, and nothing else is: a record
// from 12 on, or another name in $Extend, is an ordinary file (an intruder
// with raw access to the volume can put one there, and it is swept).
constexpr TSK_INUM_T kNtfsFirstFreeRecord = 12;
constexpr TSK_INUM_T kNtfsExtendRecord = 11;

bool is_ntfs_metadata_record(TSK_INUM_T inode, TSK_INUM_T root) {
  return inode < kNtfsFirstFreeRecord && inode != root && inode != kNtfsExtendRecord;
}

bool is_ntfs_extend_file(std::string_view name) {
  static constexpr std::string_view kNames[] = {"$ObjId",      "$Quota",   "$Reparse", "$UsnJrnl",
                                                "$RmMetadata", "$Deleted", "$TxfLog",  "$Txf"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// One opened volume: a filesystem, or why there is none.
struct Volume {
  int partition = -1;
  std::uint64_t offset = 0;
  std::string filesystem;
  FsPtr fs;
  // When fs is null: an on_skipped reason and detail, or (reason empty) an
  // on_error text.
  std::string skip_reason;
  std::string detail;
};

// Everything TSK: shared by the DiskImage and the sources it opened, so a
// source keeps the handles alive. Members close in reverse order:
// filesystems, then the volume system, then the image.
struct Tsk {
  std::mutex mutex;  // every TSK call (see the top of this file)
  ImgPtr img;
  VsPtr vs;
  std::vector<Volume> volumes;
};

std::string lower_fs_name(TSK_FS_TYPE_ENUM type) {
  const char* name = tsk_fs_type_toname(type);
  return ascii_lower(name != nullptr ? name : "unknown");
}

// Reads `n` bytes at `offset` of the image; empty when they cannot be read.
std::string read_img(TSK_IMG_INFO* img, std::uint64_t offset, std::size_t n) {
  std::string out(n, '\0');
  if (offset >= static_cast<std::uint64_t>(img->size)) return {};
  ssize_t got = tsk_img_read(img, static_cast<TSK_OFF_T>(offset), out.data(), n);
  if (got <= 0) return {};
  out.resize(static_cast<std::size_t>(got));
  return out;
}

// BitLocker writes "-FVE-FS-" as the OEM name of its boot sector (byte 3);
// LUKS1 and LUKS2 start with "LUKS\xba\xbe". Neither is a filesystem TSK
// reads, and both are worth naming rather than "unknown".
std::string encryption_at(TSK_IMG_INFO* img, std::uint64_t offset) {
  const std::string head = read_img(img, offset, 16);
  if (head.size() >= 11 && head.compare(3, 8, "-FVE-FS-") == 0) return "BitLocker";
  if (head.size() >= 6 && head.compare(0, 6, std::string("LUKS\xba\xbe", 6)) == 0) return "LUKS";
  return {};
}

// Opens the filesystem at `offset`, or says why not.
Volume open_volume(TSK_IMG_INFO* img, int partition, std::uint64_t offset) {
  Volume v;
  v.partition = partition;
  v.offset = offset;
  if (offset >= static_cast<std::uint64_t>(img->size)) {
    v.detail = "the partition starts at byte " + std::to_string(offset) + ", past the end of the image (" +
               std::to_string(img->size) + " bytes): truncated?";
    return v;
  }
  tsk_error_reset();
  v.fs.reset(tsk_fs_open_img(img, static_cast<TSK_OFF_T>(offset), TSK_FS_TYPE_DETECT));
  if (v.fs) {
    v.filesystem = lower_fs_name(v.fs->ftype);
    return v;
  }
  const std::string tsk_text = tsk_error_text();
  if (std::string kind = encryption_at(img, offset); !kind.empty()) {
    v.skip_reason = "encrypted_volume";
    v.detail = kind;
  } else {
    v.skip_reason = "unknown_filesystem";
    v.detail = tsk_text;
  }
  return v;
}

// The partition table: GPT, else DOS, else none. Asked for by type rather
// than with TSK_VS_TYPE_DETECT, which on a GPT disk also opens the
// protective MBR as a DOS table and leaks it (LeakSanitizer shows it). A
// GPT disk is tried first because its protective MBR is a valid DOS table.
VsPtr open_table(TSK_IMG_INFO* img) {
  for (TSK_VS_TYPE_ENUM type : {TSK_VS_TYPE_GPT, TSK_VS_TYPE_DOS}) {
    tsk_error_reset();
    if (VsPtr vs(tsk_vs_open(img, 0, type)); vs) return vs;
  }
  return nullptr;
}

// The allocated partitions of the volume system, each opened; the table's
// own sectors and the unallocated gaps are not volumes.
std::vector<Volume> open_partitions(TSK_IMG_INFO* img, TSK_VS_INFO* vs) {
  std::vector<Volume> out;
  for (TSK_PNUM_T i = 0; i < vs->part_count; ++i) {
    const TSK_VS_PART_INFO* part = tsk_vs_part_get(vs, i);
    if (part == nullptr) continue;
    if ((part->flags & TSK_VS_PART_FLAG_META) != 0 || (part->flags & TSK_VS_PART_FLAG_ALLOC) == 0) continue;
    const std::uint64_t offset = static_cast<std::uint64_t>(part->start) * vs->block_size;
    out.push_back(open_volume(img, static_cast<int>(part->addr), offset));
  }
  return out;
}

bool is_dot_entry(const char* name) {
  return name != nullptr && (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0);
}

// One directory entry as copied out of TSK under the lock.
struct Child {
  std::string name;
  TSK_INUM_T inode = 0;
  bool deleted = false;
  bool is_dir = false;
  bool is_file = false;
  bool reused = false;  // an unallocated name whose metadata another file holds now
  std::string error;    // why the entry cannot be read, if it cannot
  struct Attr {
    std::uint32_t type = 0;
    std::uint16_t id = 0;
    bool default_attr = true;
    std::string stream;
    std::uint64_t size = 0;
  };
  std::vector<Attr> attrs;
};

// TSK lists FAT's and exFAT's directory entries that are no file as
// regular files with names of its own: the volume label ("LABEL (Volume
// Label Entry)") and exFAT's allocation bitmap, up-case table and the like.
bool is_fat_pseudo_file(const Child& child) {
  static constexpr std::array<std::string_view, 6> kExfat = {"$VOLUME_LABEL_NONE", "$VOLUME_GUID", "$ALLOC_BITMAP",
                                                             "$UPCASE_TABLE",      "$TEX_FAT",     "$ACT"};
  return child.name.ends_with(" (Volume Label Entry)") ||
         std::find(kExfat.begin(), kExfat.end(), child.name) != kExfat.end();
}

// The content entries of a regular file: NTFS gives one per $DATA
// attribute (the unnamed one is the file, each named one an alternate data
// stream); the other filesystems give the file's one content.
void collect_attrs(TSK_FS_FILE* file, bool ntfs, Child& child) {
  if (!ntfs) {
    child.attrs.push_back({0, 0, true, {}, static_cast<std::uint64_t>(std::max<TSK_OFF_T>(file->meta->size, 0))});
    return;
  }
  const int count = tsk_fs_file_attr_getsize(file);
  for (int i = 0; i < count; ++i) {
    const TSK_FS_ATTR* attr = tsk_fs_file_attr_get_idx(file, i);
    if (attr == nullptr || attr->type != TSK_FS_ATTR_TYPE_NTFS_DATA) continue;
    // TSK names the unnamed $DATA attribute "$Data" (or leaves it nameless).
    std::string name = attr->name != nullptr ? attr->name : "";
    const bool is_default = name.empty() || name == "$Data";
    child.attrs.push_back({static_cast<std::uint32_t>(attr->type), attr->id, is_default,
                           is_default ? std::string() : name,
                           static_cast<std::uint64_t>(std::max<TSK_OFF_T>(attr->size, 0))});
  }
}

Child describe(TSK_FS_FILE* file, bool ntfs) {
  Child c;
  c.name = file->name->name != nullptr ? file->name->name : "";
  c.inode = file->name->meta_addr;
  const bool name_unalloc = (file->name->flags & TSK_FS_NAME_FLAG_UNALLOC) != 0;
  if (file->meta == nullptr) {
    c.deleted = name_unalloc;  // settle_missing_meta decides what it is
    return c;
  }
  const bool meta_unalloc = (file->meta->flags & TSK_FS_META_FLAG_UNALLOC) != 0;
  c.inode = file->meta->addr;
  c.deleted = name_unalloc || meta_unalloc;
  c.reused = name_unalloc && !meta_unalloc;
  c.is_dir = TSK_FS_IS_DIR_META(file->meta->type);
  c.is_file = file->meta->type == TSK_FS_META_TYPE_REG;
  // An NTFS directory can carry named $DATA streams too, a known place to
  // hide a payload ("C:\\ProgramData:x.exe").
  if (c.is_file || (ntfs && c.is_dir)) collect_attrs(file, ntfs, c);
  return c;
}

// A source over one file's content: owns its TSK_FS_FILE, re-opened by
// metadata address, and reads at most what is asked.
class TskFileSource final : public ByteSource {
 public:
  TskFileSource(std::shared_ptr<Tsk> tsk, FilePtr file, const DiskEntry& entry)
      : tsk_(std::move(tsk)), file_(std::move(file)), entry_(entry) {}
  ~TskFileSource() override {
    std::lock_guard lock(tsk_->mutex);
    file_.reset();
  }

  std::uint64_t size() const override { return entry_.size; }

  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset >= entry_.size || out.empty()) return std::size_t{0};
    // Bounded by the request: a record claiming 2^40 bytes costs only what
    // a caller asks for. TSK's offsets are signed.
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), entry_.size - offset));
    if (offset > static_cast<std::uint64_t>(INT64_MAX)) return Error{"offset out of range"};
    ssize_t got = 0;
    {
      std::lock_guard lock(tsk_->mutex);
      tsk_error_reset();
      char* buf = reinterpret_cast<char*>(out.data());
      const auto off = static_cast<TSK_OFF_T>(offset);
      // Deleted files are read with no flags too: TSK reads their content
      // from where the metadata last put it, overwritten or not.
      got = entry_.default_attr && entry_.attr_type == 0
                ? tsk_fs_file_read(file_.get(), off, buf, want, TSK_FS_FILE_READ_FLAG_NONE)
                : tsk_fs_file_read_type(file_.get(), static_cast<TSK_FS_ATTR_TYPE_ENUM>(entry_.attr_type),
                                        entry_.attr_id, off, buf, want, TSK_FS_FILE_READ_FLAG_NONE);
      if (got < 0) return Error{"read at byte " + std::to_string(offset) + ": " + tsk_error_text()};
    }
    return static_cast<std::size_t>(got);
  }

 private:
  std::shared_ptr<Tsk> tsk_;
  FilePtr file_;
  DiskEntry entry_;
};

// The walk of one filesystem: its bounds and where it is.
class FsWalker {
 public:
  FsWalker(Tsk& tsk, const Volume& volume, std::size_t fs_index, const std::string& image,
           const DiskImageOptions& options, DiskImageVisitor& visitor, std::stop_token stop)
      : tsk_(tsk), volume_(volume), fs_index_(fs_index), options_(options), visitor_(visitor), stop_(std::move(stop)) {
    base_.image = image;
    base_.partition = volume.partition;
    base_.offset = volume.offset;
    base_.filesystem = volume.filesystem;
    ntfs_ = TSK_FS_TYPE_ISNTFS(volume.fs->ftype);
    fat_ = TSK_FS_TYPE_ISFAT(volume.fs->ftype);
  }

  void run() {
    report_truncation();
    const TSK_INUM_T root = volume_.fs->root_inum;
    visited_.insert(root);
    on_path_.insert(root);
    if (ntfs_) yield_root_streams(root);
    walk_dir(root, "", 0);
  }

 private:
  // Reads past the end of a cut image fail one by one, each with TSK's
  // offset arithmetic; the cause is said once here, in words.
  void report_truncation() {
    const TSK_FS_INFO& fs = *volume_.fs;
    if (fs.last_block_act >= fs.last_block) return;
    const auto have = static_cast<std::uint64_t>(fs.last_block_act + 1) * fs.block_size;
    const auto want = static_cast<std::uint64_t>(fs.last_block + 1) * fs.block_size;
    visitor_.on_error(at(""), "the image ends " + std::to_string(have) + " bytes into this filesystem of " +
                                  std::to_string(want) + ": truncated; what lay past the end cannot be read");
  }

  DiskLocation at(const std::string& path, std::uint64_t inode = 0) const {
    DiskLocation where = base_;
    where.path = path;
    where.inode = inode;
    return where;
  }

  // Copies the entries of directory `inode` out of TSK; false (reported)
  // when the directory cannot be read.
  bool list_dir(TSK_INUM_T inode, const std::string& path, std::vector<Child>& out) {
    std::lock_guard lock(tsk_.mutex);
    tsk_error_reset();
    DirPtr dir(tsk_fs_dir_open_meta(volume_.fs.get(), inode));
    if (!dir) {
      error_ = "cannot read directory " + (path.empty() ? std::string("/") : path) + ": " + tsk_error_text();
      return false;
    }
    const std::size_t n = tsk_fs_dir_getsize(dir.get());
    // TSK has loaded the whole directory already; the copy is no larger.
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      tsk_error_reset();
      FilePtr file(tsk_fs_dir_get(dir.get(), i));
      if (!file || file->name == nullptr) {
        out.push_back(unreadable_entry(dir.get(), i));
        continue;
      }
      if (is_dot_entry(file->name->name)) continue;
      out.push_back(describe(file.get(), ntfs_));
      if (file->meta == nullptr) settle_missing_meta(*file->name, out.back());
    }
    return true;
  }

  // An entry TSK could not give: named for the error if its name is known.
  static Child unreadable_entry(const TSK_FS_DIR* dir, std::size_t index) {
    Child c;
    const TSK_FS_NAME* name = tsk_fs_dir_get_name(dir, index);
    c.name = name != nullptr && name->name != nullptr ? name->name : "entry " + std::to_string(index);
    c.error = tsk_error_text();
    return c;
  }

  // A name whose metadata TSK did not give with it: an NTFS index entry
  // whose MFT record is free (TSK drops a record whose sequence number,
  // less one for the deletion Windows counts, differs from the entry's),
  // or an entry of TSK's $OrphanFiles. The metadata is loaded by address:
  // free, it is a deleted file (or directory) at the path the name gives;
  // in use, it is another file's now and the name is stale. An allocated
  // name whose metadata cannot be read is damage, and is reported.
  // Called with the lock held.
  void settle_missing_meta(const TSK_FS_NAME& name, Child& child) {
    child.is_dir = child.is_file = false;  // nothing, unless settled below
    if (ntfs_ && is_ntfs_metadata_record(name.meta_addr, volume_.fs->root_inum)) return;
    const bool name_alloc = (name.flags & TSK_FS_NAME_FLAG_ALLOC) != 0;
    tsk_error_reset();
    FilePtr file(tsk_fs_file_open_meta(volume_.fs.get(), nullptr, name.meta_addr));
    if (!file || file->meta == nullptr) {
      if (name_alloc) {
        child.error = (ntfs_ ? "MFT record " : "inode ") + std::to_string(name.meta_addr) +
                      " cannot be read: " + tsk_error_text();
      }
      return;
    }
    if ((file->meta->flags & TSK_FS_META_FLAG_UNALLOC) == 0) return;
    child.inode = name.meta_addr;
    child.deleted = true;
    child.is_file = file->meta->type == TSK_FS_META_TYPE_REG;
    child.is_dir = TSK_FS_IS_DIR_META(file->meta->type);
    if (child.is_file || (ntfs_ && child.is_dir)) collect_attrs(file.get(), ntfs_, child);
  }

  // The root directory's own streams: TSK lists them only on its "."
  // entry, which the walk passes over. Spelt "/:NAME".
  void yield_root_streams(TSK_INUM_T root) {
    Child child;
    {
      std::lock_guard lock(tsk_.mutex);
      tsk_error_reset();
      FilePtr file(tsk_fs_file_open_meta(volume_.fs.get(), nullptr, root));
      if (!file || file->meta == nullptr) return;  // the walk reports the root's damage
      collect_attrs(file.get(), true, child);
    }
    child.inode = root;
    yield_file(child, "/");
  }

  bool stopped() const { return stop_.stop_requested() || budget_spent_; }

  void walk_dir(TSK_INUM_T inode, const std::string& path, std::size_t depth) {
    std::vector<Child> children;
    if (!list_dir(inode, path, children)) {
      visitor_.on_error(at(path, inode), error_);
      return;
    }
    for (const Child& child : children) {
      if (stopped()) return;
      if (child.name.empty()) continue;
      if (child.reused || (child.deleted && !options_.deleted)) continue;
      if (ntfs_ && inode == kNtfsExtendRecord && is_ntfs_extend_file(child.name)) continue;
      const std::string child_path = path + "/" + child.name;
      if (!child.error.empty()) {
        visitor_.on_error(at(child_path, child.inode), "cannot read " + child_path + ": " + child.error);
      } else if (child.is_dir) {
        yield_file(child, child_path);  // its streams, if any
        enter_dir(child, child_path, depth + 1);
      } else if (child.is_file) {
        yield_file(child, child_path);
      }
    }
  }

  void enter_dir(const Child& child, const std::string& path, std::size_t depth) {
    if (ntfs_ && is_ntfs_metadata_record(child.inode, volume_.fs->root_inum)) return;
    // TSK's $OrphanFiles holds only deleted files; listing it makes TSK
    // search the whole filesystem for them, which is wasted when they are
    // not wanted.
    if (!options_.deleted && child.inode == TSK_FS_ORPHANDIR_INUM(volume_.fs.get())) return;
    if (depth > options_.max_depth) {
      visitor_.on_skipped(at(path, child.inode), "image_limit", "max_depth " + std::to_string(options_.max_depth));
      return;
    }
    if (on_path_.contains(child.inode) || visited_.contains(child.inode)) {
      visitor_.on_error(at(path, child.inode),
                        "directory loop at " + path + ": inode " + std::to_string(child.inode) + " was already walked");
      return;
    }
    visited_.insert(child.inode);
    on_path_.insert(child.inode);
    walk_dir(child.inode, path, depth);
    on_path_.erase(child.inode);
  }

  void yield_file(const Child& child, const std::string& path) {
    if (ntfs_ && (is_ntfs_metadata_record(child.inode, volume_.fs->root_inum) || child.inode == kNtfsExtendRecord)) {
      return;
    }
    // A deleted file found under its name is listed again in TSK's
    // $OrphanFiles when its metadata is free (NTFS); once is enough, and
    // the name's path says more.
    if (child.deleted && !deleted_seen_.insert(child.inode).second) return;
    if (fat_ && is_fat_pseudo_file(child)) return;
    for (const Child::Attr& attr : child.attrs) {
      if (!attr.default_attr && !options_.streams) continue;
      if (yielded_ >= options_.max_files_per_filesystem) {
        budget_spent_ = true;
        visitor_.on_skipped(at(path, child.inode), "image_limit",
                            "max_files_per_filesystem " + std::to_string(options_.max_files_per_filesystem));
        return;
      }
      DiskEntry entry;
      entry.where = at(path, child.inode);
      entry.where.deleted = child.deleted;
      entry.where.stream = attr.stream;
      entry.size = attr.size;
      entry.fs_index = fs_index_;
      entry.attr_type = attr.type;
      entry.attr_id = attr.id;
      entry.default_attr = attr.default_attr;
      ++yielded_;
      visitor_.on_file(std::move(entry));
    }
  }

  Tsk& tsk_;
  const Volume& volume_;
  std::size_t fs_index_;
  const DiskImageOptions& options_;
  DiskImageVisitor& visitor_;
  std::stop_token stop_;
  DiskLocation base_;
  bool ntfs_ = false;
  bool fat_ = false;
  std::unordered_set<TSK_INUM_T> visited_;
  std::unordered_set<TSK_INUM_T> on_path_;
  std::unordered_set<TSK_INUM_T> deleted_seen_;
  std::uint64_t yielded_ = 0;
  bool budget_spent_ = false;
  std::string error_;
};

// TSK's own detection (TSK_IMG_TYPE_DETECT) tries every format it was
// built with, and its VMDK and VHD probes leak their handles when the file
// is neither (LeakSanitizer shows it on every raw image). The formats read
// here are told apart by their first bytes instead: EWF's segment
// signature (EWF1 "EVF\x09\x0d\x0a\xff\x00", EWF2 "EVF2\r\n\x81\x00"),
// else raw, split or not.
TSK_IMG_TYPE_ENUM image_type_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, 8> head{};
  if (!in.read(head.data(), head.size())) return TSK_IMG_TYPE_RAW;
  const std::string_view h(head.data(), head.size());
  if (h == std::string_view("EVF\x09\x0d\x0a\xff\x00", 8) || h == std::string_view("EVF2\r\n\x81\x00", 8)) {
    return TSK_IMG_TYPE_EWF_EWF;
  }
  return TSK_IMG_TYPE_RAW;
}

std::string format_name(const TSK_IMG_INFO* img) {
  if (TSK_IMG_TYPE_ISRAW(img->itype)) return img->num_img > 1 ? "split raw" : "raw";
  if (TSK_IMG_TYPE_ISEWF(img->itype)) return "ewf";
  const char* name = tsk_img_type_toname(img->itype);
  return name != nullptr ? name : "unknown";
}

}  // namespace

std::string disk_path(const DiskLocation& where) {
  std::string out = where.image + "#";
  if (where.partition >= 0) out += "p" + std::to_string(where.partition);
  out += where.path;
  if (!where.stream.empty()) out += ":" + where.stream;
  return out;
}

struct DiskImage::Impl {
  std::string path;
  DiskImageOptions options;
  std::string format;
  std::shared_ptr<Tsk> tsk;
};

DiskImage::DiskImage(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DiskImage::~DiskImage() = default;

Result<std::unique_ptr<DiskImage>> DiskImage::open(const std::string& path, DiskImageOptions options) {
  auto tsk = std::make_shared<Tsk>();
  std::lock_guard lock(tsk->mutex);
  // TSK opens every image file O_RDONLY; given the first segment of a
  // split raw image or an E01 it finds the other segments by name itself
  // (raw: NAME.002.. or NAME.ab..; EWF: libewf's glob of E02..).
  tsk_error_reset();
  tsk->img.reset(tsk_img_open_utf8_sing(path.c_str(), image_type_of(path), 0));
  if (!tsk->img) return Error{path + ": cannot open as a disk image: " + tsk_error_text()};

  tsk->vs = open_table(tsk->img.get());
  if (tsk->vs) tsk->volumes = open_partitions(tsk->img.get(), tsk->vs.get());
  if (tsk->volumes.empty()) {
    // No partition table (or one with no partition): a bare filesystem.
    tsk->vs.reset();
    Volume bare = open_volume(tsk->img.get(), -1, 0);
    if (!bare.fs && bare.skip_reason != "encrypted_volume") {
      return Error{path + ": no partition table or filesystem that TSK recognises (" + bare.detail + ")"};
    }
    tsk->volumes.push_back(std::move(bare));
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->format = format_name(tsk->img.get());
  impl->tsk = std::move(tsk);
  return std::unique_ptr<DiskImage>(new DiskImage(std::move(impl)));
}

std::string DiskImage::format() const { return impl_->format; }

std::uint64_t DiskImage::media_size() const { return static_cast<std::uint64_t>(impl_->tsk->img->size); }

void DiskImage::walk(DiskImageVisitor& visitor, std::stop_token stop) const {
  Tsk& tsk = *impl_->tsk;
  for (std::size_t i = 0; i < tsk.volumes.size(); ++i) {
    if (stop.stop_requested()) return;
    const Volume& volume = tsk.volumes[i];
    if (!volume.fs) {
      DiskLocation where;
      where.image = impl_->path;
      where.partition = volume.partition;
      where.offset = volume.offset;
      if (volume.skip_reason.empty()) {
        visitor.on_error(where, volume.detail);
      } else {
        visitor.on_skipped(where, volume.skip_reason, volume.detail);
      }
      continue;
    }
    FsWalker(tsk, volume, i, impl_->path, impl_->options, visitor, stop).run();
  }
}

Result<std::unique_ptr<ByteSource>> DiskImage::open(const DiskEntry& entry) const {
  const std::shared_ptr<Tsk>& tsk = impl_->tsk;
  if (entry.fs_index >= tsk->volumes.size() || !tsk->volumes[entry.fs_index].fs) {
    return Error{disk_path(entry.where) + ": not a file of this image"};
  }
  FilePtr file;
  {
    std::lock_guard lock(tsk->mutex);
    tsk_error_reset();
    file.reset(tsk_fs_file_open_meta(tsk->volumes[entry.fs_index].fs.get(), nullptr, entry.where.inode));
    if (!file) return Error{disk_path(entry.where) + ": cannot open: " + tsk_error_text()};
  }
  return std::unique_ptr<ByteSource>(new TskFileSource(tsk, std::move(file), entry));
}

}  // namespace iocsweep
