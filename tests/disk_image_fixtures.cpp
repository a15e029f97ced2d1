// The test image builders (disk_image_fixtures.hpp). Every filesystem is
// written by its own Debian tool on a plain file, run with an argv vector
// (never a shell); the few things no tool does without mounting (an NTFS
// delete, a damaged MFT, files on exFAT) are done here by editing the
// image's bytes, which those layouts make a few dozen lines each. The
// images are small (tens of MiB), so those edits hold the whole image in
// memory.

#include "disk_image_fixtures.hpp"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <utility>

#include "test_support.hpp"

namespace iocsweep::test {
namespace {

FixtureResult ok() { return {true, false, ""}; }
FixtureResult fail(std::string why) { return {false, false, std::move(why)}; }
FixtureResult skip(std::string why) { return {false, true, std::move(why)}; }

/// The Debian package that ships `tool`, for the skip reason.
std::string package_of(const std::string& tool) {
  static const std::pair<const char*, const char*> kPackages[] = {
      {"mkntfs", "ntfs-3g"},    {"ntfscp", "ntfs-3g"},       {"wimcapture", "wimtools"},
      {"wimapply", "wimtools"}, {"mkfs.fat", "dosfstools"},  {"mmd", "mtools"},
      {"mcopy", "mtools"},      {"mdel", "mtools"},          {"mkfs.exfat", "exfatprogs"},
      {"mke2fs", "e2fsprogs"},  {"debugfs", "e2fsprogs"},    {"genisoimage", "genisoimage"},
      {"sfdisk", "fdisk"},      {"ewfacquire", "ewf-tools"}, {"cryptsetup", "cryptsetup-bin"}};
  for (const auto& [name, package] : kPackages)
    if (tool == name) return package;
  return tool;
}

/// `tool`'s full path from $PATH or the sbin directories (a CI shell's PATH
/// may lack them), empty when it is not installed.
std::string find_tool(const std::string& tool) {
  const char* env = std::getenv("PATH");
  std::string dirs = std::string(env != nullptr ? env : "") + ":/usr/sbin:/sbin:/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string candidate = dirs.substr(start, end - start) + "/" + tool;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

/// Runs a tool with `args` (args[0] is its name) and `input` on stdin;
/// nothing when it succeeded, else why not (a missing tool is a skip).
/// `stderr_out`, when given, receives what it wrote to stderr.
std::optional<FixtureResult> tool(std::vector<std::string> args, const std::string& input = "",
                                  std::string* stderr_out = nullptr) {
  const std::string path = find_tool(args[0]);
  if (path.empty()) return skip(args[0] + " not found (install " + package_of(args[0]) + ")");
  const std::string name = args[0];
  // Names are UTF-8 whatever the caller's locale: mtools and genisoimage
  // convert them by the locale's charset, and messages stay in English.
  args[0] = path;
  args.insert(args.begin(), {find_tool("env"), "LC_ALL=C.UTF-8"});
  TempDir io;
  write_file(io / "stdin", input);
  RunResult r;
  try {
    r = run(args, io / "stdin");
  } catch (const std::exception& e) {
    return fail(name + ": " + e.what());
  }
  if (r.exit_code != 0) return fail(name + " exited with " + std::to_string(r.exit_code) + ": " + r.err + r.out);
  if (stderr_out != nullptr) *stderr_out = r.err;
  return std::nullopt;
}

/// debugfs -w with one request naming `path` (quoted: debugfs splits its
/// requests at spaces). debugfs exits 0 even when the request fails, so
/// anything on stderr but its version banner is the error.
std::optional<FixtureResult> debugfs_write(const std::string& image, const std::string& command,
                                           const std::string& path, const std::string& rest = "") {
  const std::string request = command + " \"" + (path.front() == '/' ? path : "/" + path) + "\"" + rest;
  std::string err;
  if (auto r = tool({"debugfs", "-w", "-R", request, image}, "", &err)) return r;
  std::string errors;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("debugfs ", 0) != 0) errors += line + "\n";
  if (!errors.empty()) return fail("debugfs " + request + ": " + errors);
  return std::nullopt;
}

/// Makes `out` a file of exactly `size` bytes (all zero).
std::optional<FixtureResult> sized_file(const std::string& out, std::uint64_t size) {
  std::error_code ec;
  std::filesystem::remove(out, ec);
  { std::ofstream create(out, std::ios::binary); }
  if (::truncate(out.c_str(), static_cast<off_t>(size)) != 0) return fail("cannot size " + out);
  return std::nullopt;
}

/// The directories above `path` ("a/b/c" -> "a", "a/b"), shallowest first.
std::vector<std::string> parents_of(const std::string& path) {
  std::vector<std::string> dirs;
  for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
    dirs.push_back(path.substr(0, slash));
  return dirs;
}

/// Writes `spec.files` under `dir`, making their directories.
void stage(const FixtureSpec& spec, const std::string& dir) {
  for (const FixtureFile& f : spec.files) {
    std::filesystem::create_directories(std::filesystem::path(dir + "/" + f.path).parent_path());
    write_file(dir + "/" + f.path, f.content);
  }
}

// ---- NTFS by hand: the MFT, located from the boot sector ----------------

std::uint64_t le(const std::string& b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<std::uint8_t>(b[at + i]);
  return v;
}

void put_le(std::string& b, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + i] = static_cast<char>(v >> (8 * i));
}

/// One run of a non-resident attribute: `clusters` clusters at `lcn`.
struct Run {
  std::uint64_t lcn, clusters;
};

/// The MFT of an NTFS image held in memory.
struct Mft {
  std::uint64_t cluster = 0, record = 0, records = 0;
  std::vector<Run> runs;  // $MFT's own $DATA

  /// Byte offset in the image of `pos` in the stream laid out by `rs`.
  std::optional<std::uint64_t> map(const std::vector<Run>& rs, std::uint64_t pos) const {
    std::uint64_t vcn = pos / cluster;
    for (const Run& r : rs) {
      if (vcn < r.clusters) return (r.lcn + vcn) * cluster + pos % cluster;
      vcn -= r.clusters;
    }
    return std::nullopt;
  }
  std::optional<std::uint64_t> record_offset(std::uint64_t n) const { return map(runs, n * record); }
};

/// A record (or index block) with its update sequence applied (the last two bytes of each
/// 512-byte sector restored), so attributes read as they are.
std::string fixed_up(const std::string& img, std::uint64_t at, std::uint64_t size) {
  std::string rec = img.substr(at, size);
  if (rec.compare(0, 4, "FILE") != 0 && rec.compare(0, 4, "INDX") != 0) return "";
  const std::size_t usa = le(rec, 4, 2), count = le(rec, 6, 2);
  for (std::size_t i = 1; i < count && i * 512 <= rec.size(); ++i) {
    rec[i * 512 - 2] = rec[usa + 2 * i];
    rec[i * 512 - 1] = rec[usa + 2 * i + 1];
  }
  return rec;
}

/// Where byte `pos` of the record at `at` really is on disk: a sector's
/// last two bytes live in the update sequence array.
std::uint64_t on_disk(const std::string& img, std::uint64_t at, std::uint64_t pos) {
  if (pos % 512 < 510) return at + pos;
  return at + le(img, at + 4, 2) + 2 * (pos / 512 + 1) + pos % 512 - 510;
}

/// The attribute of `type` in a fixed-up record: its offset, or nothing.
std::optional<std::size_t> find_attribute(const std::string& rec, std::uint32_t type, std::size_t from = 0) {
  for (std::size_t a = from != 0 ? from : le(rec, 0x14, 2); a + 8 <= rec.size();) {
    const std::uint64_t t = le(rec, a, 4), len = le(rec, a + 4, 4);
    if (t == 0xFFFFFFFF || len == 0) break;
    if (t == type) return a;
    a += len;
  }
  return std::nullopt;
}

std::vector<Run> runlist(const std::string& rec, std::size_t attr) {
  std::vector<Run> runs;
  std::int64_t lcn = 0;
  for (std::size_t p = attr + le(rec, attr + 0x20, 2); p < rec.size() && rec[p] != 0;) {
    const int len_bytes = rec[p] & 0xF, off_bytes = (rec[p] >> 4) & 0xF;
    const std::uint64_t clusters = le(rec, p + 1, len_bytes);
    std::int64_t delta = static_cast<std::int64_t>(le(rec, p + 1 + len_bytes, off_bytes));
    if (off_bytes > 0 && off_bytes < 8 && (delta >> (8 * off_bytes - 1)) & 1)
      delta -= std::int64_t{1} << (8 * off_bytes);
    lcn += delta;
    runs.push_back({static_cast<std::uint64_t>(lcn), clusters});
    p += 1 + len_bytes + off_bytes;
  }
  return runs;
}

std::optional<Mft> read_mft(const std::string& img) {
  if (img.size() < 512 || img.compare(3, 8, "NTFS    ") != 0) return std::nullopt;
  Mft m;
  m.cluster = le(img, 0x0B, 2) * le(img, 0x0D, 1);
  const auto per_record = static_cast<std::int8_t>(img[0x40]);
  m.record = per_record > 0 ? per_record * m.cluster : std::uint64_t{1} << -per_record;
  const std::uint64_t at = le(img, 0x30, 8) * m.cluster;
  if (m.cluster == 0 || at + m.record > img.size()) return std::nullopt;
  const std::string rec0 = fixed_up(img, at, m.record);
  const auto data = find_attribute(rec0, 0x80);
  if (!data || rec0[*data + 8] == 0) return std::nullopt;
  m.runs = runlist(rec0, *data);
  m.records = le(rec0, *data + 0x30, 8) / m.record;
  return m;
}

/// UTF-16LE of a UTF-8 name, as $FILE_NAME stores it.
std::string utf16le(const std::string& utf8) {
  std::string out;
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<std::uint8_t>(utf8[i]);
    const int extra = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    std::uint32_t cp = extra == 0 ? c : c & (0x3F >> extra);
    for (int k = 1; k <= extra && i + k < utf8.size(); ++k) cp = cp << 6 | (utf8[i + k] & 0x3F);
    i += 1 + extra;
    auto unit = [&out](std::uint32_t u) {
      out += static_cast<char>(u & 0xFF);
      out += static_cast<char>(u >> 8);
    };
    if (cp >= 0x10000) {
      unit(0xD800 + ((cp - 0x10000) >> 10));
      unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      unit(cp);
    }
  }
  return out;
}

/// The MFT entry of the in-use file or directory at `path` (from the root,
/// entry 5), found by its $FILE_NAME attributes' names and parents.
std::optional<std::uint64_t> find_entry(const std::string& img, const Mft& m, const std::string& path) {
  std::uint64_t dir = 5;
  std::istringstream parts(path);
  for (std::string name; std::getline(parts, name, '/');) {
    if (name.empty()) continue;
    const std::string wanted = utf16le(name);
    std::optional<std::uint64_t> found;
    for (std::uint64_t n = 0; n < m.records && !found; ++n) {
      const auto at = m.record_offset(n);
      if (!at || *at + m.record > img.size()) continue;
      const std::string rec = fixed_up(img, *at, m.record);
      if (rec.empty() || (le(rec, 0x16, 2) & 1) == 0) continue;
      for (auto a = find_attribute(rec, 0x30); a; a = find_attribute(rec, 0x30, *a + le(rec, *a + 4, 4))) {
        const std::size_t v = *a + le(rec, *a + 0x14, 2);
        if ((le(rec, v, 8) & 0xFFFFFFFFFFFF) == dir && rec.compare(v + 0x42, le(rec, v + 0x40, 1) * 2, wanted) == 0 &&
            le(rec, v + 0x40, 1) * 2 == wanted.size())
          found = n;
      }
    }
    if (!found) return std::nullopt;
    dir = *found;
  }
  return dir;
}

/// Writes the fixed-up record `rec` back at `at`: each sector's last two
/// bytes go to the update sequence array, the sequence number in their place.
void write_record(std::string& img, std::uint64_t at, std::string rec) {
  const std::size_t usa = le(rec, 4, 2), count = le(rec, 6, 2);
  for (std::size_t i = 1; i < count && i * 512 <= rec.size(); ++i) {
    rec[usa + 2 * i] = rec[i * 512 - 2];
    rec[usa + 2 * i + 1] = rec[i * 512 - 1];
    rec[i * 512 - 2] = rec[usa];
    rec[i * 512 - 1] = rec[usa + 1];
  }
  img.replace(at, rec.size(), rec);
}

/// Removes the leaf entry for MFT entry `n` from the index node whose
/// header is at `header` in `buf`: the entries after it move up, the
/// node's length shrinks. False when the node has no such leaf entry.
bool remove_index_entry(std::string& buf, std::size_t header, std::uint64_t n) {
  const std::size_t used = le(buf, header + 4, 4);
  for (std::size_t e = header + le(buf, header, 4); e + 16 <= header + used;) {
    const std::size_t len = le(buf, e + 8, 2), flags = le(buf, e + 12, 2);
    if ((flags & 2) != 0 || len == 0) return false;  // the last (empty) entry
    if ((le(buf, e, 8) & 0xFFFFFFFFFFFF) == n && (flags & 1) == 0) {
      buf.erase(e, len);
      buf.insert(header + used - len, len, '\0');
      put_le(buf, header + 4, used - len, 4);
      return true;
    }
    e += len;
  }
  return false;
}

/// Takes entry `n`'s name out of its parent directory's $I30 index, as
/// Windows does on delete: from $INDEX_ROOT, or from the $INDEX_ALLOCATION
/// block that holds it (a large directory such as the root).
std::optional<FixtureResult> unindex(std::string& img, const Mft& m, std::uint64_t parent, std::uint64_t n) {
  const std::uint64_t at = *m.record_offset(parent);
  std::string rec = fixed_up(img, at, m.record);
  const auto root = find_attribute(rec, 0x90);
  if (!root) return fail("directory entry " + std::to_string(parent) + " has no $INDEX_ROOT");
  const std::size_t value = *root + le(rec, *root + 0x14, 2);
  if (remove_index_entry(rec, value + 0x10, n)) {
    write_record(img, at, rec);
    return std::nullopt;
  }
  const auto alloc = find_attribute(rec, 0xA0);
  const std::uint64_t block = le(rec, value + 8, 4);
  if (alloc && rec[*alloc + 8] != 0 && block != 0) {
    const std::vector<Run> runs = runlist(rec, *alloc);
    for (std::uint64_t pos = 0; pos + block <= le(rec, *alloc + 0x30, 8); pos += block) {
      const auto disk = m.map(runs, pos);
      if (!disk || *disk + block > img.size()) break;
      std::string buf = fixed_up(img, *disk, block);
      if (!buf.empty() && remove_index_entry(buf, 0x18, n)) {
        write_record(img, *disk, buf);
        return std::nullopt;
      }
    }
  }
  return fail("entry " + std::to_string(n) + " is not a leaf of directory " + std::to_string(parent) + "'s index");
}

/// Marks `path` deleted as Windows leaves a deleted file: its name out of
/// the parent's index, its MFT record's in-use flag and its bit in $MFT's
/// $BITMAP cleared, its content and the rest of its record left in place
/// (TSK then lists it under its parent as a deleted name).
std::optional<FixtureResult> ntfs_delete(const std::string& image, const std::string& path) {
  std::string img = read_file(image);
  const auto m = read_mft(img);
  if (!m) return fail(image + ": no NTFS MFT found");
  const auto n = find_entry(img, *m, path);
  const std::size_t slash = path.rfind('/');
  const auto parent =
      slash == std::string::npos ? std::optional<std::uint64_t>(5) : find_entry(img, *m, path.substr(0, slash));
  if (!n || !parent) return fail(image + ": no MFT entry for " + path);
  if (auto r = unindex(img, *m, *parent, *n)) return r;
  const std::uint64_t at = *m->record_offset(*n);
  img[at + 0x16] = static_cast<char>(img[at + 0x16] & ~1);  // in the first sector: never fixed up

  const std::uint64_t mft0 = *m->record_offset(0);
  const std::string rec0 = fixed_up(img, mft0, m->record);
  const auto bitmap = find_attribute(rec0, 0xB0);
  if (!bitmap) return fail(image + ": $MFT has no $BITMAP");
  std::uint64_t byte = 0;
  if (rec0[*bitmap + 8] == 0) {
    byte = on_disk(img, mft0, *bitmap + le(rec0, *bitmap + 0x14, 2) + *n / 8);
  } else {
    const auto mapped = m->map(runlist(rec0, *bitmap), *n / 8);
    if (!mapped) return fail(image + ": $MFT $BITMAP does not cover entry " + std::to_string(*n));
    byte = *mapped;
  }
  img[byte] = static_cast<char>(img[byte] & ~(1 << (*n % 8)));
  write_file(image, img);
  return std::nullopt;
}

// ---- one builder per family ---------------------------------------------

std::optional<FixtureResult> no_streams(const FixtureSpec& spec, const char* fs) {
  if (!spec.streams.empty()) return fail(std::string("alternate data streams are NTFS only, not ") + fs);
  return std::nullopt;
}

FixtureResult build_ntfs(const FixtureSpec& spec, const std::string& out, std::uint64_t size) {
  if (auto r = sized_file(out, size)) return *r;
  if (auto r = tool({"mkntfs", "-F", "-Q", "-q", "-s", "512", "-c", "4096", out})) return *r;
  // ntfs-3g's tools copy a file only into an existing directory and none
  // makes one without mounting; wimlib applies a whole tree straight onto an
  // unmounted NTFS volume through libntfs-3g.
  if (!spec.files.empty()) {
    TempDir work;
    stage(spec, work / "tree");
    if (auto r = tool({"wimcapture", work / "tree", work / "tree.wim", "--compress=none"})) return *r;
    if (auto r = tool({"wimapply", work / "tree.wim", "1", out})) return *r;
  }
  for (const FixtureFile& s : spec.streams) {
    const std::size_t colon = s.path.rfind(':');
    if (colon == std::string::npos) return fail("stream " + s.path + " is not FILE:STREAM");
    TempDir work;
    write_file(work / "stream", s.content);
    if (auto r = tool({"ntfscp", "-q", "-N", s.path.substr(colon + 1), out, work / "stream", s.path.substr(0, colon)}))
      return *r;
  }
  for (const std::string& path : spec.deleted)
    if (auto r = ntfs_delete(out, path)) return *r;
  return ok();
}

FixtureResult build_fat(const char* bits, const FixtureSpec& spec, const std::string& out, std::uint64_t size) {
  if (auto r = no_streams(spec, "FAT")) return *r;
  std::vector<std::string> mkfs{"mkfs.fat", "-F", bits};
  if (std::string(bits) == "32") {
    // FAT32 needs 65525 clusters: one sector each, and at least 34 MiB, or
    // the tools write a volume that readers (TSK too) call FAT16 or refuse.
    size = std::max<std::uint64_t>(size, 34ull << 20);
    mkfs.insert(mkfs.end(), {"-S", "512", "-s", "1"});
  }
  mkfs.push_back(out);
  if (auto r = sized_file(out, size)) return *r;
  if (auto r = tool(mkfs)) return *r;
  TempDir work;
  stage(spec, work.path());
  std::set<std::string> made;
  for (const FixtureFile& f : spec.files) {
    for (const std::string& dir : parents_of(f.path))
      if (made.insert(dir).second)
        if (auto r = tool({"mmd", "-i", out, "::/" + dir})) return *r;
    if (auto r = tool({"mcopy", "-i", out, work / f.path, "::/" + f.path})) return *r;
  }
  for (const std::string& path : spec.deleted)
    if (auto r = tool({"mdel", "-i", out, "::/" + path})) return *r;
  return ok();
}

FixtureResult build_ext(const char* type, const FixtureSpec& spec, const std::string& out, std::uint64_t size) {
  if (auto r = no_streams(spec, type)) return *r;
  TempDir work;
  stage(spec, work / "tree");
  std::filesystem::create_directories(work / "tree");
  if (auto r = sized_file(out, size)) return *r;
  if (auto r = tool({"mke2fs", "-q", "-F", "-t", type, "-d", work / "tree", out})) return *r;
  for (const std::string& path : spec.deleted)
    if (auto r = debugfs_write(out, "rm", path)) return *r;
  return ok();
}

// exFAT by hand: exfatprogs only formats, and nothing else writes exFAT
// without mounting. Files go in as Windows writes small ones: contiguous
// clusters marked in the allocation bitmap, "no FAT chain" in the stream
// entry, so the FAT itself stays as mkfs.exfat left it.
class Exfat {
 public:
  explicit Exfat(std::string img) : img_(std::move(img)) {}
  std::string& bytes() { return img_; }

  /// Reads the geometry and finds the bitmap; false when not exFAT.
  bool open() {
    if (img_.size() < 512 || img_.compare(3, 8, "EXFAT   ") != 0) return false;
    const std::uint64_t sector = std::uint64_t{1} << img_[0x6C];
    cluster_ = sector << img_[0x6D];
    heap_ = le(img_, 0x58, 4) * sector;
    clusters_ = le(img_, 0x5C, 4);
    dirs_[""] = at(le(img_, 0x60, 4));
    if (heap_ + clusters_ * cluster_ > img_.size()) return false;
    for (std::uint32_t c = 0; c < upcase_.size(); ++c) upcase_[c] = static_cast<std::uint16_t>(c);
    for (std::uint64_t e = dirs_[""]; e < dirs_[""] + cluster_; e += 32) {
      const auto type = static_cast<std::uint8_t>(img_[e]);
      if (type == 0x81) bitmap_ = at(le(img_, e + 20, 4));
      if (type == 0x82) read_upcase(at(le(img_, e + 20, 4)), le(img_, e + 24, 8));
    }
    return bitmap_ != 0;
  }

  /// Adds a file (or, `dir`, an empty directory) at `path`; its parents
  /// must have been added.
  std::optional<FixtureResult> add(const std::string& path, const std::string& content, bool dir) {
    const std::size_t slash = path.rfind('/');
    const std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
    const std::uint64_t size = dir ? cluster_ : content.size();
    const std::uint64_t count = (size + cluster_ - 1) / cluster_;
    const std::uint64_t first = count == 0 ? 0 : allocate(count);
    if (count != 0 && first == 0) return fail("exFAT volume full at " + path);
    if (count != 0) img_.replace(at(first), dir ? cluster_ : size, dir ? std::string(cluster_, '\0') : content);
    const std::string set = entry_set(path.substr(slash + 1), dir ? 0x10 : 0x20, first, size);
    const auto slot = free_slots(dirs_[parent], set.size() / 32);
    if (!slot) return fail("exFAT directory /" + parent + " full at " + path);
    img_.replace(*slot, set.size(), set);
    if (dir) dirs_[path] = at(first);
    files_[path] = {*slot, set.size() / 32, first, count};
    return std::nullopt;
  }

  /// Deletes `path` as exFAT does: the in-use bit of each of its directory
  /// entries and its clusters' bitmap bits cleared, the data left.
  std::optional<FixtureResult> remove(const std::string& path) {
    const auto f = files_.find(path);
    if (f == files_.end()) return fail("no exFAT file " + path);
    const auto [slot, entries, first, count] = f->second;
    for (std::uint64_t e = 0; e < entries; ++e) img_[slot + 32 * e] = static_cast<char>(img_[slot + 32 * e] & 0x7F);
    for (std::uint64_t c = first; c < first + count; ++c) mark(c, false);
    return std::nullopt;
  }

 private:
  std::uint64_t at(std::uint64_t cluster) const { return heap_ + (cluster - 2) * cluster_; }
  bool used(std::uint64_t c) const { return (img_[bitmap_ + (c - 2) / 8] >> ((c - 2) % 8)) & 1; }
  void mark(std::uint64_t c, bool on) {
    char& byte = img_[bitmap_ + (c - 2) / 8];
    byte = static_cast<char>(on ? byte | 1 << ((c - 2) % 8) : byte & ~(1 << ((c - 2) % 8)));
  }
  /// The volume's up-case table, which the name hash is taken over: pairs
  /// of 0xFFFF and a count stand for that many characters left as they are.
  void read_upcase(std::uint64_t at, std::uint64_t size) {
    std::uint32_t c = 0;
    for (std::uint64_t i = 0; i + 1 < size && at + i + 1 < img_.size() && c < upcase_.size(); i += 2) {
      const auto v = static_cast<std::uint16_t>(le(img_, at + i, 2));
      if (v == 0xFFFF && i + 3 < size) {
        i += 2;
        c += static_cast<std::uint32_t>(le(img_, at + i, 2));
      } else {
        upcase_[c++] = v;
      }
    }
  }
  /// `count` free clusters in a row, marked used; 0 when there are none.
  std::uint64_t allocate(std::uint64_t count) {
    for (std::uint64_t c = 2, run = 0; c < clusters_ + 2; ++c) {
      run = used(c) ? 0 : run + 1;
      if (run == count) {
        for (std::uint64_t k = c + 1 - count; k <= c; ++k) mark(k, true);
        return c + 1 - count;
      }
    }
    return 0;
  }
  /// `n` unused entries in a row in the one-cluster directory at `dir`.
  std::optional<std::uint64_t> free_slots(std::uint64_t dir, std::size_t n) const {
    for (std::uint64_t e = dir, run = 0; e < dir + cluster_; e += 32) {
      run = static_cast<std::uint8_t>(img_[e]) >= 0x80 ? 0 : run + 1;
      if (run == n) return e + 32 - 32 * n;
    }
    return std::nullopt;
  }
  /// A File entry, its Stream Extension and File Name entries, checksummed.
  std::string entry_set(const std::string& name, std::uint16_t attributes, std::uint64_t first, std::uint64_t size) {
    const std::string units = utf16le(name);
    const std::size_t chars = units.size() / 2, names = (chars + 14) / 15;
    std::string set(32 * (2 + names), '\0');
    set[0] = static_cast<char>(0x85);
    set[1] = static_cast<char>(1 + names);
    put_le(set, 4, attributes, 2);
    for (std::size_t t : {8, 12, 16}) put_le(set, t, (44u << 25) | (1u << 21) | (1u << 16), 4);  // 2024-01-01
    set[32] = static_cast<char>(0xC0);
    set[33] = 0x03;  // allocation possible, no FAT chain
    set[35] = static_cast<char>(chars);
    std::uint16_t hash = 0;
    for (std::size_t i = 0; i < units.size(); i += 2) {
      const std::uint16_t up = upcase_[le(units, i, 2)];
      for (const std::uint8_t byte : {up & 0xFF, up >> 8})
        hash = static_cast<std::uint16_t>(((hash & 1) ? 0x8000 : 0) + (hash >> 1) + byte);
    }
    put_le(set, 36, hash, 2);
    put_le(set, 40, size, 8);  // valid data length
    put_le(set, 52, first, 4);
    put_le(set, 56, size, 8);
    for (std::size_t i = 0; i < names; ++i) {
      set[64 + 32 * i] = static_cast<char>(0xC1);
      set.replace(64 + 32 * i + 2, std::min<std::size_t>(30, units.size() - 30 * i), units, 30 * i, 30);
    }
    std::uint16_t sum = 0;
    for (std::size_t i = 0; i < set.size(); ++i)
      if (i != 2 && i != 3)
        sum = static_cast<std::uint16_t>(((sum & 1) ? 0x8000 : 0) + (sum >> 1) + static_cast<std::uint8_t>(set[i]));
    put_le(set, 2, sum, 2);
    return set;
  }

  struct Placed {
    std::uint64_t slot, entries, first, count;
  };
  std::string img_;
  std::uint64_t cluster_ = 0, heap_ = 0, clusters_ = 0, bitmap_ = 0;
  std::vector<std::uint16_t> upcase_ = std::vector<std::uint16_t>(65536);
  std::map<std::string, std::uint64_t> dirs_;  // path -> its cluster's offset
  std::map<std::string, Placed> files_;
};

FixtureResult build_exfat(const FixtureSpec& spec, const std::string& out, std::uint64_t size) {
  if (auto r = no_streams(spec, "exFAT")) return *r;
  if (auto r = sized_file(out, size)) return *r;
  if (auto r = tool({"mkfs.exfat", out})) return *r;
  if (spec.files.empty()) return ok();
  Exfat fs(read_file(out));
  if (!fs.open()) return fail(out + ": mkfs.exfat wrote no exFAT volume this builder can read");
  std::set<std::string> made;
  for (const FixtureFile& f : spec.files) {
    for (const std::string& dir : parents_of(f.path))
      if (made.insert(dir).second)
        if (auto r = fs.add(dir, "", true)) return *r;
    if (auto r = fs.add(f.path, f.content, false)) return *r;
  }
  for (const std::string& path : spec.deleted)
    if (auto r = fs.remove(path)) return *r;
  write_file(out, fs.bytes());
  return ok();
}

FixtureResult build_iso(const FixtureSpec& spec, const std::string& out) {
  if (auto r = no_streams(spec, "ISO 9660")) return *r;
  if (!spec.deleted.empty()) return fail("ISO 9660 is written once: it has no deleted files");
  TempDir work;
  stage(spec, work / "tree");
  std::filesystem::create_directories(work / "tree");
  if (auto r = tool({"genisoimage", "-quiet", "-input-charset", "utf-8", "-R", "-J", "-o", out, work / "tree"}))
    return *r;
  return ok();
}

}  // namespace

FixtureResult build_filesystem(FixtureFs fs, const FixtureSpec& spec, const std::string& out,
                               std::uint64_t size_bytes) {
  switch (fs) {
    case FixtureFs::kNtfs:
      return build_ntfs(spec, out, size_bytes);
    case FixtureFs::kFat12:
      return build_fat("12", spec, out, size_bytes);
    case FixtureFs::kFat16:
      return build_fat("16", spec, out, size_bytes);
    case FixtureFs::kFat32:
      return build_fat("32", spec, out, size_bytes);
    case FixtureFs::kExfat:
      return build_exfat(spec, out, size_bytes);
    case FixtureFs::kExt2:
      return build_ext("ext2", spec, out, size_bytes);
    case FixtureFs::kExt3:
      return build_ext("ext3", spec, out, size_bytes);
    case FixtureFs::kExt4:
      return build_ext("ext4", spec, out, size_bytes);
    case FixtureFs::kIso9660:
      return build_iso(spec, out);
  }
  return fail("unknown filesystem");
}

FixtureResult build_partitioned(bool gpt, const std::vector<FixturePartition>& parts, const std::string& out) {
  constexpr std::uint64_t kMiB = 1ull << 20;
  if (!gpt && parts.size() > 4) return fail("a DOS table holds 4 primary partitions");
  TempDir work;
  std::string script = gpt ? "label: gpt\nunit: sectors\n" : "label: dos\nunit: sectors\n";
  std::vector<std::pair<std::string, std::uint64_t>> placed;  // file, offset
  std::uint64_t next = kMiB;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string fs_file = work / ("part" + std::to_string(i));
    if (FixtureResult r = build_filesystem(parts[i].fs, parts[i].spec, fs_file, parts[i].size_bytes); !r.ok) return r;
    // The built size, not the asked one: ISO 9660 sizes itself, FAT32 grows.
    const std::uint64_t size = (std::filesystem::file_size(fs_file) + kMiB - 1) / kMiB * kMiB;
    const bool linux_fs = parts[i].fs == FixtureFs::kExt2 || parts[i].fs == FixtureFs::kExt3 ||
                          parts[i].fs == FixtureFs::kExt4 || parts[i].fs == FixtureFs::kIso9660;
    const char* dos_type = linux_fs                           ? "83"
                           : parts[i].fs == FixtureFs::kFat12 ? "1"
                           : parts[i].fs == FixtureFs::kFat16 ? "6"
                           : parts[i].fs == FixtureFs::kFat32 ? "c"
                                                              : "7";
    const char* gpt_type = linux_fs ? "0FC63DAF-8483-4772-8E79-3D69D8477DE4" : "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";
    script += "start=" + std::to_string(next / 512) + ", size=" + std::to_string(size / 512) +
              ", type=" + (gpt ? gpt_type : dos_type) + "\n";
    placed.emplace_back(fs_file, next);
    next += size;
  }
  // GPT keeps a backup table in the last 33 sectors.
  if (auto r = sized_file(out, next + (gpt ? kMiB : 0))) return *r;
  if (auto r = tool({"sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", out}, script)) return *r;
  std::fstream image(out, std::ios::binary | std::ios::in | std::ios::out);
  for (const auto& [file, offset] : placed) {
    const std::string bytes = read_file(file);
    image.seekp(static_cast<std::streamoff>(offset));
    image.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  if (!image.flush()) return fail("cannot write " + out);
  return ok();
}

FixtureResult to_e01(const std::string& raw, const std::string& out_base, std::uint64_t segment_bytes) {
  std::vector<std::string> args{"ewfacquire", "-u", "-q", "-t", out_base, "-f", "encase6", "-c", "none"};
  if (segment_bytes != 0) {
    if (segment_bytes < (1ull << 20)) return fail("ewfacquire's smallest segment is 1 MiB");
    args.insert(args.end(), {"-S", std::to_string(segment_bytes)});
  }
  args.push_back(raw);
  if (auto r = tool(args)) return *r;
  if (!std::filesystem::exists(out_base + ".E01")) return fail("ewfacquire wrote no " + out_base + ".E01");
  return ok();
}

FixtureResult split_raw(const std::string& raw, const std::string& out_prefix, std::uint64_t segment_bytes) {
  if (segment_bytes == 0) return fail("segment size 0");
  std::ifstream in(raw, std::ios::binary);
  if (!in) return fail("cannot read " + raw);
  std::string chunk(segment_bytes, '\0');
  for (int n = 1; in.read(chunk.data(), static_cast<std::streamsize>(segment_bytes)) || in.gcount() > 0; ++n) {
    const std::string suffix = std::to_string(n);
    write_file(out_prefix + "." + std::string(3 - std::min<std::size_t>(3, suffix.size()), '0') + suffix,
               chunk.substr(0, static_cast<std::size_t>(in.gcount())));
  }
  return ok();
}

FixtureResult truncate_image(const std::string& image, std::uint64_t bytes) {
  if (::truncate(image.c_str(), static_cast<off_t>(bytes)) != 0) return fail("cannot truncate " + image);
  return ok();
}

FixtureResult corrupt_mft(const std::string& ntfs_image, std::uint64_t first, std::uint64_t last) {
  std::string img = read_file(ntfs_image);
  const auto m = read_mft(img);
  if (!m) return fail(ntfs_image + ": no NTFS MFT found");
  std::mt19937 garbage(static_cast<std::uint32_t>(first));  // the same damage every run
  for (std::uint64_t n = first; n <= last; ++n) {
    const auto at = m->record_offset(n);
    if (!at || *at + m->record > img.size()) return fail(ntfs_image + ": no MFT record " + std::to_string(n));
    for (std::uint64_t i = 0; i < m->record; ++i) img[*at + i] = static_cast<char>(garbage());
  }
  write_file(ntfs_image, img);
  return ok();
}

FixtureResult ext_directory_loop(const std::string& ext_image, const std::string& dir) {
  const std::string d = dir.front() == '/' ? dir : "/" + dir;
  const std::string parent = d.substr(0, std::max<std::size_t>(1, d.rfind('/')));
  // A raw directory entry: debugfs link neither checks for cycles nor
  // counts links, which is how a damaged filesystem looks.
  if (auto r = debugfs_write(ext_image, "link", parent, " \"" + d + "/loop\"")) return *r;
  return ok();
}

FixtureResult ext_set_size(const std::string& ext_image, const std::string& path, std::uint64_t size) {
  if (auto r = debugfs_write(ext_image, "sif", path, " size " + std::to_string(size))) return *r;
  return ok();
}

FixtureResult build_luks(const std::string& out, std::uint64_t size_bytes) {
  if (auto r = sized_file(out, size_bytes)) return *r;
  // luksFormat writes the header into the file itself: no mapping, no loop
  // device. pbkdf2 with few iterations keeps it fast; the key never matters.
  if (auto r = tool({"cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2",
                     "--pbkdf-force-iterations", "1000", "--key-file", "-", out},
                    "iocsweep-test-passphrase"))
    return *r;
  return ok();
}

FixtureResult build_bitlocker_like(const std::string& out, std::uint64_t size_bytes) {
  std::string bytes(size_bytes, '\0');
  std::mt19937 noise(0xB17);
  for (char& c : bytes) c = static_cast<char>(noise());
  std::string boot(512, '\0');
  boot.replace(0, 11, "\xEB\x58\x90-FVE-FS-");
  boot[0x0B] = 0x00;  // 512 bytes per sector
  boot[0x0C] = 0x02;
  boot[0x0D] = 0x08;  // sectors per cluster
  boot[0x15] = static_cast<char>(0xF8);
  // The BitLocker GUID {4967D63B-2E29-4AD8-8399-F6A339E3D001}, little-endian.
  boot.replace(0xA0, 16, "\x3B\xD6\x67\x49\x29\x2E\xD8\x4A\x83\x99\xF6\xA3\x39\xE3\xD0\x01");
  boot[510] = 0x55;
  boot[511] = static_cast<char>(0xAA);
  bytes.replace(0, std::min<std::size_t>(512, bytes.size()), boot, 0, std::min<std::size_t>(512, bytes.size()));
  write_file(out, bytes);
  return ok();
}

std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::array<char, 1 << 16> buf;
  while (in.read(buf.data(), buf.size()) || in.gcount() > 0)
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(in.gcount()));
  std::array<unsigned char, EVP_MAX_MD_SIZE> md;
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md.data(), &len);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 0xF];
  }
  return hex;
}

}  // namespace iocsweep::test
