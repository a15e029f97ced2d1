// DiskImage over images built at test time with Debian's tools (never
// mounted): every filesystem and container the issue lists, deleted files
// and NTFS streams read back byte for byte, and the bad inputs, each ending
// in an error or a skip with the image left unchanged.

#include "iocsweep/disk_image.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "disk_image_fixtures.hpp"
#include "iocsweep/source.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using test::FixtureFs;
using test::FixtureResult;
using test::FixtureSpec;
using test::TempDir;

// Everything a walk reported, in order.
struct Collected : DiskImageVisitor {
  std::vector<DiskEntry> files;
  std::vector<std::pair<DiskLocation, std::string>> skipped;  // reason + ": " + detail
  std::vector<std::pair<DiskLocation, std::string>> errors;
  void on_file(DiskEntry entry) override { files.push_back(std::move(entry)); }
  void on_skipped(const DiskLocation& where, const std::string& reason, const std::string& detail) override {
    skipped.emplace_back(where, reason + ": " + detail);
  }
  void on_error(const DiskLocation& where, const std::string& error) override { errors.emplace_back(where, error); }

  // The entry at `path` (and `stream`), or null.
  const DiskEntry* find(const std::string& path, const std::string& stream = "") const {
    for (const DiskEntry& e : files) {
      if (e.where.path == path && e.where.stream == stream) return &e;
    }
    return nullptr;
  }
  std::string all_paths() const {
    std::string out;
    for (const DiskEntry& e : files) out += disk_path(e.where) + (e.where.deleted ? " (deleted)" : "") + "\n";
    for (const auto& [w, s] : skipped) out += "skipped " + disk_path(w) + " " + s + "\n";
    for (const auto& [w, s] : errors) out += "error " + disk_path(w) + " " + s + "\n";
    return out;
  }
};

Collected walk(const DiskImage& image) {
  Collected c;
  image.walk(c, std::stop_token{});
  return c;
}

// The whole content of `entry`, or the error text prefixed "ERROR: ".
std::string content_of(const DiskImage& image, const DiskEntry& entry) {
  auto source = image.open(entry);
  if (!source) return "ERROR: " + source.error().message;
  std::string out;
  Status st = stream_source(
      **source, [&](ByteView b) { out.append(reinterpret_cast<const char*>(b.data()), b.size()); }, 4096);
  if (!st) return "ERROR: " + st.error().message;
  return out;
}

// Skips the test (with the builder's reason) when a tool is missing, fails
// it when the builder failed otherwise.
#define REQUIRE_FIXTURE(expr)                                          \
  do {                                                                 \
    const FixtureResult fixture_result_ = (expr);                      \
    if (fixture_result_.skip) GTEST_SKIP() << fixture_result_.message; \
    ASSERT_TRUE(fixture_result_.ok) << fixture_result_.message;        \
  } while (0)

// Distinct, recognisable bytes per file; larger than one cluster for some,
// so content spread over several blocks is read back too.
std::string payload(const std::string& tag, std::size_t bytes) {
  std::string out;
  while (out.size() < bytes) out += "iocsweep-disk-image-test " + tag + " " + std::to_string(out.size()) + "\n";
  out.resize(bytes);
  return out;
}

FixtureSpec common_spec(bool with_deleted) {
  FixtureSpec spec;
  spec.files = {{"README.TXT", payload("readme", 100)},
                {"WINDOWS/SYSTEM32/LCSVSVC.DLL", payload("dll", 20000)},
                {"DATA/GONE.BIN", payload("gone", 9000)}};
  if (with_deleted) spec.deleted = {"DATA/GONE.BIN"};
  return spec;
}

// Opens `path`, walks it and checks the common spec's files: content,
// paths, flags, inode; the image's bytes unchanged afterwards. FAT marks a
// deleted entry by overwriting its name's first byte, which TSK shows as
// '_': `deleted_path` is the path as it reads after deletion.
void check_common(const std::string& path, const std::string& filesystem, const std::string& deleted_path,
                  int partition = -1) {
  const std::string before = test::file_sha256(path);
  {
    auto image = DiskImage::open(path);
    ASSERT_TRUE(image) << image.error().message;
    Collected c = walk(**image);
    SCOPED_TRACE(c.all_paths());
    EXPECT_TRUE(c.errors.empty());
    for (const auto& [file, content] : std::map<std::string, std::string>{
             {"/README.TXT", payload("readme", 100)}, {"/WINDOWS/SYSTEM32/LCSVSVC.DLL", payload("dll", 20000)}}) {
      const DiskEntry* e = c.find(file);
      ASSERT_NE(e, nullptr) << file;
      EXPECT_FALSE(e->where.deleted) << file;
      EXPECT_EQ(e->where.filesystem, filesystem);
      EXPECT_EQ(e->where.partition, partition);
      EXPECT_EQ(e->where.image, path);
      EXPECT_NE(e->where.inode, 0u);
      EXPECT_EQ(e->size, content.size());
      EXPECT_EQ(content_of(**image, *e), content) << file;
    }
    // Each file once (TSK also lists a deleted NTFS file in $OrphanFiles),
    // and nothing else: no metadata file, volume label or TSK pseudo-file.
    std::set<std::pair<std::uint64_t, std::string>> seen;
    const std::size_t fs_index = c.find("/README.TXT")->fs_index;
    for (const DiskEntry& e : c.files) {
      if (e.fs_index != fs_index) continue;
      EXPECT_TRUE(seen.emplace(e.where.inode, e.where.stream).second) << e.where.path;
      EXPECT_TRUE(e.where.path == "/README.TXT" || e.where.path == "/WINDOWS/SYSTEM32/LCSVSVC.DLL" ||
                  e.where.path == deleted_path)
          << e.where.path;
    }
    const DiskEntry* gone = c.find(deleted_path);
    ASSERT_NE(gone, nullptr);
    EXPECT_TRUE(gone->where.deleted);
    EXPECT_EQ(content_of(**image, *gone), payload("gone", 9000));
  }
  EXPECT_EQ(test::file_sha256(path), before) << "the image was changed";
}

// One filesystem per run: the common files, one of them deleted, read back.
struct FsCase {
  FixtureFs fs;
  const char* name;  // TSK's name, as DiskLocation::filesystem gives it
  std::uint64_t size;
  const char* deleted_path;
};

class DiskImageFs : public ::testing::TestWithParam<FsCase> {};

TEST_P(DiskImageFs, FilesAndDeletedFileReadBack) {
  const FsCase& p = GetParam();
  TempDir dir;
  const std::string img = dir / "fs.img";
  REQUIRE_FIXTURE(test::build_filesystem(p.fs, common_spec(true), img, p.size));
  check_common(img, p.name, p.deleted_path);
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image);
  EXPECT_EQ((*image)->format(), "raw");
  EXPECT_EQ((*image)->media_size(), std::filesystem::file_size(img));
}

INSTANTIATE_TEST_SUITE_P(Filesystems, DiskImageFs,
                         ::testing::Values(FsCase{FixtureFs::kFat12, "fat12", 4ull << 20, "/DATA/_ONE.BIN"},
                                           FsCase{FixtureFs::kFat16, "fat16", 32ull << 20, "/DATA/_ONE.BIN"},
                                           FsCase{FixtureFs::kFat32, "fat32", 64ull << 20, "/DATA/_ONE.BIN"},
                                           FsCase{FixtureFs::kExt2, "ext2", 16ull << 20, "/DATA/GONE.BIN"},
                                           FsCase{FixtureFs::kExt3, "ext3", 16ull << 20, "/DATA/GONE.BIN"},
                                           FsCase{FixtureFs::kExt4, "ext4", 16ull << 20, "/DATA/GONE.BIN"},
                                           FsCase{FixtureFs::kExfat, "exfat", 16ull << 20, "/DATA/GONE.BIN"},
                                           FsCase{FixtureFs::kNtfs, "ntfs", 16ull << 20, "/DATA/GONE.BIN"}),
                         [](const ::testing::TestParamInfo<FsCase>& info) { return std::string(info.param.name); });

TEST(DiskImage, NtfsAlternateDataStreamsAndNoMetadataFiles) {
  TempDir dir;
  const std::string img = dir / "ntfs.img";
  FixtureSpec spec = common_spec(false);
  spec.streams = {{"README.TXT:Zone.Identifier", "[ZoneTransfer]\r\nZoneId=3\r\n"},
                  {"WINDOWS/SYSTEM32/LCSVSVC.DLL:hidden", payload("ads", 70000)}};
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kNtfs, spec, img));
  const std::string before = test::file_sha256(img);
  {
    auto image = DiskImage::open(img);
    ASSERT_TRUE(image) << image.error().message;
    Collected c = walk(**image);
    SCOPED_TRACE(c.all_paths());
    const DiskEntry* zone = c.find("/README.TXT", "Zone.Identifier");
    ASSERT_NE(zone, nullptr);
    EXPECT_EQ(content_of(**image, *zone), "[ZoneTransfer]\r\nZoneId=3\r\n");
    EXPECT_EQ(disk_path(zone->where), img + "#/README.TXT:Zone.Identifier");
    EXPECT_FALSE(zone->default_attr);
    const DiskEntry* hidden = c.find("/WINDOWS/SYSTEM32/LCSVSVC.DLL", "hidden");
    ASSERT_NE(hidden, nullptr);
    EXPECT_EQ(hidden->size, 70000u);
    EXPECT_EQ(content_of(**image, *hidden), payload("ads", 70000));
    // The default stream is still the file's own content, and the same MFT entry.
    const DiskEntry* dll = c.find("/WINDOWS/SYSTEM32/LCSVSVC.DLL");
    ASSERT_NE(dll, nullptr);
    EXPECT_EQ(dll->where.inode, hidden->where.inode);
    EXPECT_EQ(content_of(**image, *dll), payload("dll", 20000));
    // NTFS's own metadata files are not yielded (src/image/disk_image.cpp says why).
    for (const DiskEntry& e : c.files) {
      EXPECT_NE(e.where.path.rfind("/$", 0) == 0 && e.where.path.rfind("/$OrphanFiles/", 0) != 0, true) << e.where.path;
    }
    DiskImageOptions no_streams;
    no_streams.streams = false;
    auto plain = DiskImage::open(img, no_streams);
    ASSERT_TRUE(plain);
    Collected p = walk(**plain);
    EXPECT_EQ(p.find("/README.TXT", "Zone.Identifier"), nullptr);
    EXPECT_NE(p.find("/README.TXT"), nullptr);
  }
  EXPECT_EQ(test::file_sha256(img), before);
}

TEST(DiskImage, NtfsFilesNamedLikeMetadataFilesAreYielded) {
  // Only NTFS's own metadata is left out: a name of theirs elsewhere is an
  // ordinary file. (An intruder's file inside $Extend is yielded too, but no
  // tool here writes into $Extend without mounting, so that is untested.)
  TempDir dir;
  const std::string img = dir / "ntfs.img";
  FixtureSpec spec;
  spec.files = {{"Users/$UsnJrnl", payload("named", 2000)}, {"Users/$MFT", payload("mft", 1000)}};
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kNtfs, spec, img));
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  const DiskEntry* named = c.find("/Users/$UsnJrnl");
  ASSERT_NE(named, nullptr);
  EXPECT_EQ(content_of(**image, *named), payload("named", 2000));
  const DiskEntry* mft = c.find("/Users/$MFT");
  ASSERT_NE(mft, nullptr);
  EXPECT_EQ(content_of(**image, *mft), payload("mft", 1000));
  // The metadata files themselves are still not yielded.
  EXPECT_EQ(c.find("/$Extend/$ObjId"), nullptr);
  EXPECT_EQ(c.find("/$MFT"), nullptr);
}

// Whether `tool` is on PATH.
bool have_tool(const std::string& tool) {
  return test::run({"/bin/sh", "-c", "command -v " + tool + " >/dev/null"}).exit_code == 0;
}

TEST(DiskImage, NtfsStreamsOnDirectoriesAndTheRoot) {
  TempDir dir;
  const std::string img = dir / "ntfs.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kNtfs, common_spec(false), img));
  if (!have_tool("ntfsinfo") || !have_tool("ntfscp")) GTEST_SKIP() << "ntfsinfo or ntfscp (ntfs-3g) not installed";
  // ntfscp writes a stream onto a directory only by its MFT record number.
  const test::RunResult info = test::run({"ntfsinfo", "-F", "/DATA", img});
  const auto at = info.out.find("Dumping Inode ");
  ASSERT_NE(at, std::string::npos) << info.out;
  const std::string data_record = std::to_string(std::stoull(info.out.substr(at + 14)));
  test::write_file(dir / "payload", payload("dir-ads", 5000));
  test::write_file(dir / "root-payload", payload("root-ads", 700));
  for (const auto& [stream, file, record] : {std::tuple{"hidden", dir / "payload", data_record},
                                             std::tuple{"rootkit", dir / "root-payload", std::string("5")}}) {
    const test::RunResult r = test::run({"ntfscp", "-q", "-f", "-N", stream, "-i", img, file, record});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  const DiskEntry* on_dir = c.find("/DATA", "hidden");
  ASSERT_NE(on_dir, nullptr);
  EXPECT_EQ(std::to_string(on_dir->where.inode), data_record);
  EXPECT_EQ(content_of(**image, *on_dir), payload("dir-ads", 5000));
  const DiskEntry* on_root = c.find("/", "rootkit");
  ASSERT_NE(on_root, nullptr);
  EXPECT_EQ(disk_path(on_root->where), img + "#/:rootkit");
  EXPECT_EQ(content_of(**image, *on_root), payload("root-ads", 700));
  // A directory's (absent) default stream is not a file.
  EXPECT_EQ(c.find("/DATA"), nullptr);
}

TEST(DiskImage, OrphanFilesAreYieldedUnderOrphanFiles) {
  TempDir dir;
  const std::string img = dir / "ext4.img";
  FixtureSpec spec;
  spec.files = {{"DATA/GONE.BIN", payload("orphan", 7000)}, {"README.TXT", payload("readme", 100)}};
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kExt4, spec, img));
  if (!have_tool("debugfs")) GTEST_SKIP() << "debugfs (e2fsprogs) not installed";
  // Free the file's inode, then wipe its directory's only block: no name
  // is left that points to the inode, so only TSK's orphan search finds it.
  const test::RunResult stat = test::run({"debugfs", "-R", "stat /DATA/GONE.BIN", img});
  const auto at = stat.out.find("Inode: ");
  ASSERT_NE(at, std::string::npos) << stat.out << stat.err;
  const std::string inode = std::to_string(std::stoull(stat.out.substr(at + 7)));
  ASSERT_EQ(test::run({"debugfs", "-w", "-R", "kill_file /DATA/GONE.BIN", img}).exit_code, 0);
  const test::RunResult blocks = test::run({"debugfs", "-R", "blocks /DATA", img});
  ASSERT_EQ(blocks.exit_code, 0) << blocks.err;
  const std::uint64_t block = std::stoull(blocks.out);
  {
    std::fstream f(img, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(block * 1024));  // mke2fs's block size for 16 MiB
    const std::string zeros(1024, '\0');
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    ASSERT_TRUE(f.flush());
  }
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  const DiskEntry* orphan = c.find("/$OrphanFiles/OrphanFile-" + inode);
  ASSERT_NE(orphan, nullptr);
  EXPECT_TRUE(orphan->where.deleted);
  EXPECT_EQ(std::to_string(orphan->where.inode), inode);
  EXPECT_EQ(content_of(**image, *orphan), payload("orphan", 7000));
  EXPECT_EQ(content_of(**image, *c.find("/README.TXT")), payload("readme", 100));
}

TEST(DiskImage, DeletedFilesLeftOutWhenNotWanted) {
  TempDir dir;
  const std::string img = dir / "ext4.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kExt4, common_spec(true), img));
  DiskImageOptions options;
  options.deleted = false;
  auto image = DiskImage::open(img, options);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  EXPECT_NE(c.find("/README.TXT"), nullptr);
  for (const DiskEntry& e : c.files) EXPECT_FALSE(e.where.deleted) << e.where.path;
}

TEST(DiskImage, Iso9660) {
  TempDir dir;
  const std::string img = dir / "cd.iso";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kIso9660, common_spec(false), img));
  const std::string before = test::file_sha256(img);
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  EXPECT_TRUE(c.errors.empty());
  const DiskEntry* dll = c.find("/WINDOWS/SYSTEM32/LCSVSVC.DLL");
  ASSERT_NE(dll, nullptr);
  EXPECT_EQ(dll->where.filesystem, "iso9660");
  EXPECT_EQ(content_of(**image, *dll), payload("dll", 20000));
  EXPECT_EQ(test::file_sha256(img), before);
}

// The partitions' byte offsets as the table itself states them, read here
// without TSK, so the test does not take TSK's word for what it checks.
std::vector<std::uint64_t> table_offsets(const std::string& image, bool gpt) {
  const std::string bytes = test::read_file(image);
  auto le = [&](std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<std::uint8_t>(bytes.at(at + i));
    return v;
  };
  std::vector<std::uint64_t> out;
  if (!gpt) {
    for (int i = 0; i < 4; ++i) {
      if (bytes.at(446 + 16 * i + 4) != 0) out.push_back(le(446 + 16 * i + 8, 4) * 512);
    }
    return out;
  }
  const std::uint64_t entries = le(512 + 72, 8) * 512, count = le(512 + 80, 4), size = le(512 + 84, 4);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t at = entries + i * size;
    if (le(at, 8) != 0 || le(at + 8, 8) != 0) out.push_back(le(at + 32, 8) * 512);
  }
  return out;
}

class DiskImageTable : public ::testing::TestWithParam<bool> {};

TEST_P(DiskImageTable, TwoPartitionsWithIndexAndOffset) {
  const bool gpt = GetParam();
  TempDir dir;
  const std::string img = dir / "disk.img";
  FixtureSpec second;
  second.files = {{"etc/motd", payload("motd", 300)}};
  REQUIRE_FIXTURE(test::build_partitioned(
      gpt, {{FixtureFs::kFat16, common_spec(true), 32ull << 20}, {FixtureFs::kExt4, second, 16ull << 20}}, img));
  const std::vector<std::uint64_t> offsets = table_offsets(img, gpt);
  ASSERT_EQ(offsets.size(), 2u);
  check_common(img, "fat16", "/DATA/_ONE.BIN", gpt ? 4 : 2);
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  const DiskEntry* readme = c.find("/README.TXT");
  const DiskEntry* motd = c.find("/etc/motd");
  ASSERT_NE(readme, nullptr);
  ASSERT_NE(motd, nullptr);
  EXPECT_EQ(readme->where.offset, offsets[0]);
  EXPECT_EQ(motd->where.offset, offsets[1]);
  // TSK's partition address, as mmls numbers the table's entries.
  EXPECT_EQ(motd->where.partition, readme->where.partition + 1);
  EXPECT_EQ(motd->where.filesystem, "ext4");
  EXPECT_EQ(disk_path(motd->where), img + "#p" + std::to_string(motd->where.partition) + "/etc/motd");
  EXPECT_EQ(content_of(**image, *motd), payload("motd", 300));
  EXPECT_NE(readme->fs_index, motd->fs_index);
}

INSTANTIATE_TEST_SUITE_P(Tables, DiskImageTable, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Gpt" : "Dos"; });

TEST(DiskImage, UnknownAndEncryptedPartitionsAreSkippedOthersWalked) {
  TempDir dir;
  const std::string img = dir / "disk.img";
  FixtureSpec empty;
  REQUIRE_FIXTURE(test::build_partitioned(false,
                                          {{FixtureFs::kFat16, common_spec(false), 32ull << 20},
                                           {FixtureFs::kExt4, empty, 16ull << 20},
                                           {FixtureFs::kExt4, empty, 16ull << 20}},
                                          img));
  const std::vector<std::uint64_t> offsets = table_offsets(img, false);
  ASSERT_EQ(offsets.size(), 3u);
  {
    // Partition 2: noise; partition 3: a BitLocker boot sector over noise.
    std::fstream f(img, std::ios::binary | std::ios::in | std::ios::out);
    std::string noise = payload("noise", 1 << 20);
    for (char& ch : noise) ch = static_cast<char>(ch * 31 + 7);
    f.seekp(static_cast<std::streamoff>(offsets[1]));
    f.write(noise.data(), static_cast<std::streamsize>(noise.size()));
    f.seekp(static_cast<std::streamoff>(offsets[2]));
    f.write(noise.data(), static_cast<std::streamsize>(noise.size()));
    f.seekp(static_cast<std::streamoff>(offsets[2] + 3));
    f.write("-FVE-FS-", 8);
    ASSERT_TRUE(f.flush());
  }
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  EXPECT_NE(c.find("/README.TXT"), nullptr);
  ASSERT_EQ(c.skipped.size(), 2u);
  EXPECT_EQ(c.skipped[0].first.offset, offsets[1]);
  EXPECT_EQ(c.skipped[0].second.rfind("unknown_filesystem: ", 0), 0u) << c.skipped[0].second;
  EXPECT_GT(c.skipped[0].second.size(), std::string("unknown_filesystem: ").size());
  EXPECT_EQ(c.skipped[1].first.offset, offsets[2]);
  EXPECT_EQ(c.skipped[1].second, "encrypted_volume: BitLocker");
  EXPECT_EQ(c.skipped[1].first.path, "");
}

TEST(DiskImage, PartitionPastTheEndOfACutImageIsAnError) {
  TempDir dir;
  const std::string img = dir / "disk.img";
  FixtureSpec empty;
  REQUIRE_FIXTURE(test::build_partitioned(
      false, {{FixtureFs::kFat16, common_spec(false), 32ull << 20}, {FixtureFs::kExt4, empty, 16ull << 20}}, img));
  const std::vector<std::uint64_t> offsets = table_offsets(img, false);
  ASSERT_EQ(offsets.size(), 2u);
  REQUIRE_FIXTURE(test::truncate_image(img, offsets[1]));
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  EXPECT_EQ(content_of(**image, *c.find("/README.TXT")), payload("readme", 100));
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].first.offset, offsets[1]);
  EXPECT_NE(c.errors[0].second.find("past the end of the image"), std::string::npos) << c.errors[0].second;
}

TEST(DiskImage, SplitRaw) {
  TempDir dir;
  const std::string raw = dir / "whole.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kFat16, common_spec(true), raw, 32ull << 20));
  REQUIRE_FIXTURE(test::split_raw(raw, dir / "split", 5ull << 20));
  const std::string first = dir / "split.001";
  check_common(first, "fat16", "/DATA/_ONE.BIN");
  auto image = DiskImage::open(first);
  ASSERT_TRUE(image);
  EXPECT_EQ((*image)->format(), "split raw");
  EXPECT_EQ((*image)->media_size(), 32ull << 20);
}

TEST(DiskImage, E01InSegments) {
  TempDir dir;
  const std::string raw = dir / "whole.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kNtfs, common_spec(true), raw, 16ull << 20));
  REQUIRE_FIXTURE(test::to_e01(raw, dir / "evidence", 4ull << 20));
  ASSERT_TRUE(std::filesystem::exists(dir / "evidence.E02")) << "expected more than one segment";
  const std::string e01 = dir / "evidence.E01";
  check_common(e01, "ntfs", "/DATA/GONE.BIN");
  auto image = DiskImage::open(e01);
  ASSERT_TRUE(image);
  EXPECT_EQ((*image)->format(), "ewf");
  EXPECT_EQ((*image)->media_size(), 16ull << 20);
}

TEST(DiskImage, ConcurrentOpensWhileWalking) {
  TempDir dir;
  const std::string img = dir / "fat32.img";
  FixtureSpec spec;
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 40; ++i) {
    const std::string name = "D" + std::to_string(i % 4) + "/F" + std::to_string(i) + ".BIN";
    spec.files.push_back({name, payload(name, 3000 + 997 * i)});
    expected["/" + name] = spec.files.back().content;
  }
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kFat32, spec, img, 64ull << 20));
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;

  // The walk hands entries to reader threads as it finds them, as the
  // pipeline's workers do.
  struct Queue : DiskImageVisitor {
    std::mutex m;
    std::condition_variable cv;
    std::vector<DiskEntry> entries;
    bool done = false;
    void on_file(DiskEntry e) override {
      std::lock_guard lock(m);
      entries.push_back(std::move(e));
      cv.notify_one();
    }
    void on_skipped(const DiskLocation&, const std::string&, const std::string&) override {}
    void on_error(const DiskLocation&, const std::string&) override {}
  } queue;
  std::mutex results_mutex;
  std::map<std::string, std::string> got;
  auto reader = [&] {
    for (;;) {
      DiskEntry e;
      {
        std::unique_lock lock(queue.m);
        queue.cv.wait(lock, [&] { return queue.done || !queue.entries.empty(); });
        if (queue.entries.empty()) return;
        e = std::move(queue.entries.back());
        queue.entries.pop_back();
      }
      std::string content = content_of(**image, e);
      std::lock_guard lock(results_mutex);
      got[e.where.path] = std::move(content);
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) readers.emplace_back(reader);
  (*image)->walk(queue, std::stop_token{});
  {
    std::lock_guard lock(queue.m);
    queue.done = true;
  }
  queue.cv.notify_all();
  for (auto& t : readers) t.join();
  EXPECT_EQ(got, expected);
}

TEST(DiskImage, BoundsOnFilesAndDepthAndStop) {
  TempDir dir;
  const std::string img = dir / "ext4.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kExt4, common_spec(false), img));
  {
    DiskImageOptions options;
    options.max_files_per_filesystem = 1;
    auto image = DiskImage::open(img, options);
    ASSERT_TRUE(image);
    Collected c = walk(**image);
    EXPECT_EQ(c.files.size(), 1u) << c.all_paths();
    ASSERT_EQ(c.skipped.size(), 1u) << c.all_paths();
    EXPECT_EQ(c.skipped[0].second, "image_limit: max_files_per_filesystem 1");
  }
  {
    DiskImageOptions options;
    options.max_depth = 1;
    auto image = DiskImage::open(img, options);
    ASSERT_TRUE(image);
    Collected c = walk(**image);
    SCOPED_TRACE(c.all_paths());
    EXPECT_NE(c.find("/DATA/GONE.BIN"), nullptr);
    EXPECT_EQ(c.find("/WINDOWS/SYSTEM32/LCSVSVC.DLL"), nullptr);
    ASSERT_EQ(c.skipped.size(), 1u);
    EXPECT_EQ(c.skipped[0].first.path, "/WINDOWS/SYSTEM32");
    EXPECT_EQ(c.skipped[0].second, "image_limit: max_depth 1");
  }
  {
    auto image = DiskImage::open(img);
    ASSERT_TRUE(image);
    std::stop_source stop;
    stop.request_stop();
    Collected c;
    (*image)->walk(c, stop.get_token());
    EXPECT_TRUE(c.files.empty());
  }
}

TEST(DiskImage, TruncatedImageIsAnErrorAndWhatRemainsIsRead) {
  TempDir dir;
  const std::string img = dir / "ext4.img";
  FixtureSpec spec = common_spec(false);
  spec.files.push_back({"BIG.BIN", payload("big", 6u << 20)});
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kExt4, spec, img, 16ull << 20));
  REQUIRE_FIXTURE(test::truncate_image(img, 4ull << 20));
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  ASSERT_FALSE(c.errors.empty());
  EXPECT_NE(c.errors[0].second.find("truncated"), std::string::npos) << c.errors[0].second;
  EXPECT_EQ(c.errors[0].second.find("the image ends 4194304 bytes into this filesystem of 16777216"), 0u);
  // Each file reads back whole or fails with TSK's reason: never other bytes.
  for (const auto& [path, want] : std::map<std::string, std::string>{
           {"/README.TXT", payload("readme", 100)}, {"/WINDOWS/SYSTEM32/LCSVSVC.DLL", payload("dll", 20000)}}) {
    const DiskEntry* e = c.find(path);
    if (e == nullptr) continue;  // its directory lay past the cut (an error above)
    const std::string content = content_of(**image, *e);
    EXPECT_TRUE(content == want || content.rfind("ERROR: ", 0) == 0) << path << ": " << content.substr(0, 80);
  }
  const DiskEntry* big = c.find("/BIG.BIN");
  ASSERT_NE(big, nullptr);
  // 6 MiB cannot all lie within the 4 MiB left.
  const std::string content = content_of(**image, *big);
  EXPECT_EQ(content.rfind("ERROR: ", 0), 0u) << content.substr(0, 80);
}

TEST(DiskImage, DamagedMftEndsInErrorsOtherFilesRead) {
  TempDir dir;
  const std::string img = dir / "ntfs.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kNtfs, common_spec(false), img));
  std::uint64_t dll_record = 0;
  {
    auto image = DiskImage::open(img);
    ASSERT_TRUE(image);
    Collected c = walk(**image);
    ASSERT_NE(c.find("/WINDOWS/SYSTEM32/LCSVSVC.DLL"), nullptr) << c.all_paths();
    dll_record = c.find("/WINDOWS/SYSTEM32/LCSVSVC.DLL")->where.inode;
  }
  REQUIRE_FIXTURE(test::corrupt_mft(img, dll_record, dll_record));
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  EXPECT_EQ(content_of(**image, *c.find("/README.TXT")), payload("readme", 100));
  // The damaged record is an error naming the file, not a silent gap, and
  // its old content is not presented as good.
  EXPECT_EQ(c.find("/WINDOWS/SYSTEM32/LCSVSVC.DLL"), nullptr);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].first.path, "/WINDOWS/SYSTEM32/LCSVSVC.DLL");
  EXPECT_EQ(c.errors[0].second.rfind("cannot read /WINDOWS/SYSTEM32/LCSVSVC.DLL: MFT record " +
                                         std::to_string(dll_record) + " cannot be read: ",
                                     0),
            0u)
      << c.errors[0].second;
}

TEST(DiskImage, ExtDirectoryLoopIsAnErrorAndTheWalkEnds) {
  TempDir dir;
  const std::string img = dir / "ext4.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kExt4, common_spec(false), img));
  REQUIRE_FIXTURE(test::ext_directory_loop(img, "DATA"));
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  SCOPED_TRACE(c.all_paths());
  ASSERT_FALSE(c.errors.empty());
  EXPECT_NE(c.errors[0].second.find("directory loop at /DATA/"), std::string::npos) << c.errors[0].second;
  EXPECT_NE(c.find("/DATA/GONE.BIN"), nullptr);
  EXPECT_NE(c.find("/WINDOWS/SYSTEM32/LCSVSVC.DLL"), nullptr);
}

TEST(DiskImage, TerabyteClaimCostsOnlyWhatIsRead) {
  TempDir dir;
  const std::string img = dir / "ext4.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kExt4, common_spec(false), img));
  constexpr std::uint64_t kTiB = 1ull << 40;
  REQUIRE_FIXTURE(test::ext_set_size(img, "README.TXT", kTiB));
  auto image = DiskImage::open(img);
  ASSERT_TRUE(image) << image.error().message;
  Collected c = walk(**image);
  const DiskEntry* readme = c.find("/README.TXT");
  ASSERT_NE(readme, nullptr) << c.all_paths();
  EXPECT_EQ(readme->size, kTiB);
  auto source = (*image)->open(*readme);
  ASSERT_TRUE(source) << source.error().message;
  EXPECT_EQ((*source)->size(), kTiB);
  std::vector<std::uint8_t> buf(4096);
  auto head = (*source)->read_at(0, buf);
  ASSERT_TRUE(head) << head.error().message;
  ASSERT_LE(*head, buf.size());
  ASSERT_GE(*head, 100u);
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + 100), payload("readme", 100));
  auto tail = (*source)->read_at(kTiB - 10, buf);
  if (tail) {
    EXPECT_LE(*tail, 10u);
  }
  auto past = (*source)->read_at(kTiB, buf);
  ASSERT_TRUE(past);
  EXPECT_EQ(*past, 0u);
}

TEST(DiskImage, EncryptedBareVolumesAreSkipped) {
  TempDir dir;
  struct Case {
    const char* detail;
    FixtureResult (*build)(const std::string&, std::uint64_t);
    std::uint64_t size;
  };
  for (const Case& k :
       {Case{"LUKS", test::build_luks, 32ull << 20}, Case{"BitLocker", test::build_bitlocker_like, 16ull << 20}}) {
    SCOPED_TRACE(k.detail);
    const std::string img = dir / (std::string(k.detail) + ".img");
    REQUIRE_FIXTURE(k.build(img, k.size));
    const std::string before = test::file_sha256(img);
    auto image = DiskImage::open(img);
    ASSERT_TRUE(image) << image.error().message;
    Collected c = walk(**image);
    EXPECT_TRUE(c.files.empty());
    ASSERT_EQ(c.skipped.size(), 1u) << c.all_paths();
    EXPECT_EQ(c.skipped[0].second, std::string("encrypted_volume: ") + k.detail);
    EXPECT_EQ(c.skipped[0].first.partition, -1);
    EXPECT_EQ(test::file_sha256(img), before);
  }
}

TEST(DiskImage, NotAnImageFailsWithAClearMessage) {
  TempDir dir;
  const std::string garbage = dir / "garbage.bin";
  std::string noise = payload("garbage", 1 << 20);
  for (char& ch : noise) ch = static_cast<char>(ch * 131 + 17);
  test::write_file(garbage, noise);
  auto image = DiskImage::open(garbage);
  ASSERT_FALSE(image);
  EXPECT_EQ(image.error().message.rfind(garbage + ": ", 0), 0u) << image.error().message;
  EXPECT_NE(image.error().message.find("no partition table or filesystem"), std::string::npos) << image.error().message;

  auto missing = DiskImage::open(dir / "absent.img");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message.rfind(dir / "absent.img: ", 0), 0u) << missing.error().message;

  const std::string empty = dir / "empty.img";
  test::write_file(empty, "");
  EXPECT_FALSE(DiskImage::open(empty));
}

TEST(DiskImage, DiskPathSpelling) {
  DiskLocation where;
  where.image = "disk.E01";
  where.partition = 2;
  where.path = "/Windows/x.dll";
  EXPECT_EQ(disk_path(where), "disk.E01#p2/Windows/x.dll");
  where.partition = -1;
  where.image = "fat.img";
  where.path = "/A.TXT";
  where.stream = "ads";
  EXPECT_EQ(disk_path(where), "fat.img#/A.TXT:ads");
  where.path = "";
  where.stream = "";
  where.partition = 3;
  EXPECT_EQ(disk_path(where), "fat.img#p3");
}

}  // namespace
}  // namespace iocsweep
