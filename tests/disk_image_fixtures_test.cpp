// The test image builders, checked with The Sleuth Kit's own command-line
// tools (fls, icat, istat, mmls, img_cat) and ewfverify: independent of
// iocsweep's code, so a sweep test that fails on these images fails because
// of the sweep, not the image.

#include "disk_image_fixtures.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "test_support.hpp"

namespace iocsweep::test {
namespace {

/// Skips the test when a builder could not run for want of a tool.
#define ASSERT_BUILT(expr)                           \
  do {                                               \
    const FixtureResult built_ = (expr);             \
    if (built_.skip) GTEST_SKIP() << built_.message; \
    ASSERT_TRUE(built_.ok) << built_.message;        \
  } while (0)

/// Skips the test unless Sleuth Kit's `tool` is installed.
#define REQUIRE_TOOL(tool) \
  if (!std::filesystem::exists("/usr/bin/" tool)) GTEST_SKIP() << tool " not found (install sleuthkit)"

/// What `fls -r -p` (with `extra` flags) lists: path -> metadata address
/// ("66-128-2", "15"), deleted names marked by fls with "*".
struct Listing {
  std::map<std::string, std::string> live, deleted;
};

Listing fls(const std::string& image, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"fls", "-r", "-p"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(image);
  const RunResult r = run(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Listing l;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    // "r/r * 15:\tpath" or "d/d 64-144-2:\tpath"
    const std::size_t tab = line.find(":\t");
    if (tab == std::string::npos) continue;
    std::string addr = line.substr(line.find(' ') + 1, tab - line.find(' ') - 1);
    const bool deleted = addr.rfind("* ", 0) == 0;
    if (deleted) addr = addr.substr(2);
    (deleted ? l.deleted : l.live)[line.substr(tab + 2)] = addr;
  }
  return l;
}

std::string icat(const std::string& image, const std::string& addr, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"icat"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {image, addr});
  const RunResult r = run(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

/// Bytes that differ per file and span several clusters, so content read
/// back from the wrong place or cut short shows.
std::string content(const std::string& seed, std::size_t size = 9000) {
  std::string s;
  while (s.size() < size) s += seed + ":" + std::to_string(s.size()) + ";";
  s.resize(size);
  return s;
}

FixtureSpec windows_spec() {
  FixtureSpec spec;
  spec.files = {{"Windows/System32/lcsvsvc.dll", synth_pe("lcsvsvc") + content("dll")},
                {"Users/Public/evtsys.exe", content("evtsys")},
                {"Users/Public/Документы/отчёт.txt", content("utf-8 name")},
                {"readme.txt", "small, resident in its MFT record\n"}};
  return spec;
}

/// Equal bytes, without printing kilobytes of them when they differ.
::testing::AssertionResult same_bytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << got.size() << " bytes, not the " << want.size() << " expected";
}

/// Every file of `spec` not deleted is listed at its path with its bytes
/// (`extra`: fls/icat's -o for a partition).
void expect_files(const std::string& image, const FixtureSpec& spec, std::vector<std::string> extra = {}) {
  const Listing l = fls(image, extra);
  for (const FixtureFile& f : spec.files) {
    if (std::find(spec.deleted.begin(), spec.deleted.end(), f.path) != spec.deleted.end()) {
      EXPECT_FALSE(l.live.count(f.path)) << f.path << " still listed as allocated";
      continue;
    }
    ASSERT_TRUE(l.live.count(f.path)) << f.path << " not listed in " << image;
    EXPECT_TRUE(same_bytes(icat(image, l.live.at(f.path), extra), f.content)) << f.path;
  }
}

/// `deleted_path` is listed by fls -d as deleted, and icat reads `want`.
void expect_deleted(const std::string& image, const std::string& deleted_path, const std::string& want) {
  const Listing gone = fls(image, {"-d"});
  ASSERT_TRUE(gone.deleted.count(deleted_path)) << deleted_path << " not listed as deleted in " << image;
  EXPECT_TRUE(same_bytes(icat(image, gone.deleted.at(deleted_path)), want)) << deleted_path;
  const RunResult stat = run({"istat", image, gone.deleted.at(deleted_path)});
  EXPECT_NE(stat.out.find("Not Allocated"), std::string::npos) << stat.out;
  if (stat.out.find("$FILE_NAME") != std::string::npos) {
    // NTFS: the entry's bit in $MFT's $BITMAP attribute (type 176) is free.
    const std::uint64_t entry = std::stoull(gone.deleted.at(deleted_path));
    const std::string bitmap = icat(image, "0-176");
    ASSERT_GT(bitmap.size(), entry / 8);
    EXPECT_EQ((bitmap[entry / 8] >> (entry % 8)) & 1, 0) << "entry " << entry << " still in use in $MFT's bitmap";
  }
}

TEST(DiskImageFixtures, NtfsFilesInDirectoriesDeletedAndStreams) {
  REQUIRE_TOOL("fls");
  TempDir dir;
  FixtureSpec spec = windows_spec();
  spec.files.push_back({"Windows/Temp/wiped.bat", content("self-delete")});
  spec.deleted = {"Windows/Temp/wiped.bat"};
  spec.streams = {{"readme.txt:hidden", content("ads", 5000)}};
  ASSERT_BUILT(build_filesystem(FixtureFs::kNtfs, spec, dir / "ntfs.img"));

  expect_files(dir / "ntfs.img", spec);
  // Listed under its parent, as TSK shows a file Windows deleted.
  expect_deleted(dir / "ntfs.img", "Windows/Temp/wiped.bat", content("self-delete"));
  const Listing l = fls(dir / "ntfs.img");
  ASSERT_TRUE(l.live.count("readme.txt:hidden")) << "stream not listed";
  EXPECT_TRUE(same_bytes(icat(dir / "ntfs.img", l.live.at("readme.txt:hidden")), content("ads", 5000)));
}

/// Builds `fs` holding windows_spec() and `gone`, then deletes `gone`:
/// the others are listed with their bytes, `gone` is listed by fls -d as
/// `listed_as` with its bytes still readable.
void expect_deleted_file(FixtureFs fs, const std::string& gone, const std::string& listed_as) {
  TempDir dir;
  FixtureSpec spec = windows_spec();
  spec.files.push_back({gone, content(gone)});
  spec.deleted = {gone};
  ASSERT_BUILT(build_filesystem(fs, spec, dir / "fs.img"));
  expect_files(dir / "fs.img", spec);
  expect_deleted(dir / "fs.img", listed_as, content(gone));
}

TEST(DiskImageFixtures, NtfsDeletedInTheRoot) {
  REQUIRE_TOOL("fls");
  // The root's index lives in $INDEX_ALLOCATION blocks, not in its record.
  expect_deleted_file(FixtureFs::kNtfs, "evtsys.exe", "evtsys.exe");
}

TEST(DiskImageFixtures, FatFilesAndDeleted) {
  REQUIRE_TOOL("fls");
  for (FixtureFs fs : {FixtureFs::kFat12, FixtureFs::kFat16, FixtureFs::kFat32}) {
    TempDir dir;
    ASSERT_BUILT(build_filesystem(fs, windows_spec(), dir / "fat.img"));
    const std::string type = run({"fsstat", dir / "fat.img"}).out;
    const char* want = fs == FixtureFs::kFat12 ? "FAT12" : fs == FixtureFs::kFat16 ? "FAT16" : "FAT32";
    EXPECT_NE(type.find(std::string("File System Type: ") + want), std::string::npos) << type;
    // FAT overwrites a deleted entry's first byte (TSK shows "_"); an
    // all-lowercase 8.3 name has no long name to recover it from.
    expect_deleted_file(fs, "Windows/Temp/wiped.bat", "Windows/Temp/_iped.bat");
    expect_deleted_file(fs, "Windows/Temp/Long Name.dll", "Windows/Temp/Long Name.dll");
  }
}

TEST(DiskImageFixtures, ExtFilesAndDeleted) {
  REQUIRE_TOOL("fls");
  for (FixtureFs fs : {FixtureFs::kExt2, FixtureFs::kExt3, FixtureFs::kExt4}) {
    expect_deleted_file(fs, "tmp/.hidden/implant", "tmp/.hidden/implant");
    expect_deleted_file(fs, "tmp/a name with spaces", "tmp/a name with spaces");
  }
}

TEST(DiskImageFixtures, Iso9660Files) {
  REQUIRE_TOOL("fls");
  TempDir dir;
  const FixtureSpec spec = windows_spec();
  ASSERT_BUILT(build_filesystem(FixtureFs::kIso9660, spec, dir / "cd.iso"));
  expect_files(dir / "cd.iso", spec);
  FixtureSpec bad = spec;
  bad.deleted = {"readme.txt"};
  EXPECT_FALSE(build_filesystem(FixtureFs::kIso9660, bad, dir / "bad.iso").ok);
}

TEST(DiskImageFixtures, ExfatFilesAndDeleted) {
  REQUIRE_TOOL("fls");
  // Written by hand (no tool writes exFAT without mounting): exfatprogs'
  // own checker must find the volume consistent, and TSK read it.
  TempDir dir;
  FixtureSpec spec = windows_spec();
  spec.files.push_back({"Windows/Temp/a file with a name longer than fifteen.bin", content("long")});
  ASSERT_BUILT(build_filesystem(FixtureFs::kExfat, spec, dir / "exfat.img"));
  if (std::filesystem::exists("/usr/sbin/fsck.exfat")) {
    const RunResult fsck = run({"/usr/sbin/fsck.exfat", "-n", dir / "exfat.img"});
    EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
    EXPECT_NE(fsck.out.find("clean"), std::string::npos) << fsck.out;
  }
  expect_files(dir / "exfat.img", spec);
  expect_deleted_file(FixtureFs::kExfat, "Windows/Temp/wiped.bat", "Windows/Temp/wiped.bat");
  ASSERT_BUILT(build_filesystem(FixtureFs::kExfat, {}, dir / "empty.img"));
}

TEST(DiskImageFixtures, PartitionTables) {
  REQUIRE_TOOL("mmls");
  for (bool gpt : {true, false}) {
    TempDir dir;
    FixtureSpec first = windows_spec();
    FixtureSpec second;
    second.files = {{"etc/cron.d/job", content("cron")}};
    ASSERT_BUILT(
        build_partitioned(gpt, {{FixtureFs::kNtfs, first}, {FixtureFs::kExt4, second, 8ull << 20}}, dir / "disk.img"));
    const RunResult mm = run({"mmls", dir / "disk.img"});
    ASSERT_EQ(mm.exit_code, 0) << mm.err;
    EXPECT_NE(mm.out.find(gpt ? "GUID Partition Table" : "DOS Partition Table"), std::string::npos) << mm.out;
    // 1 MiB aligned, one after the other: sectors 2048 and 2048 + 16 MiB.
    EXPECT_NE(mm.out.find("0000002048   0000034815   0000032768"), std::string::npos) << mm.out;
    EXPECT_NE(mm.out.find("0000034816   0000051199   0000016384"), std::string::npos) << mm.out;
    expect_files(dir / "disk.img", first, {"-o", "2048"});
    expect_files(dir / "disk.img", second, {"-o", "34816"});
  }
}

TEST(DiskImageFixtures, E01AndSplitRawHoldTheRawBytes) {
  REQUIRE_TOOL("img_cat");
  TempDir dir;
  ASSERT_BUILT(build_filesystem(FixtureFs::kFat12, windows_spec(), dir / "raw.img", 4ull << 20));
  const std::string raw = read_file(dir / "raw.img");

  ASSERT_BUILT(to_e01(dir / "raw.img", dir / "evidence", 1ull << 20));
  EXPECT_TRUE(std::filesystem::exists(dir / "evidence.E02")) << "not split into segments";
  if (std::filesystem::exists("/usr/bin/ewfverify")) {
    const RunResult v = run({"ewfverify", "-q", dir / "evidence.E01"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }
  const RunResult e01 = run({"img_cat", dir / "evidence.E01"});
  ASSERT_EQ(e01.exit_code, 0) << e01.err;
  EXPECT_TRUE(e01.out == raw) << "E01 content differs from the raw image";

  ASSERT_BUILT(to_e01(dir / "raw.img", dir / "whole"));
  EXPECT_TRUE(std::filesystem::exists(dir / "whole.E01"));
  EXPECT_FALSE(std::filesystem::exists(dir / "whole.E02")) << "split without a segment size";
  EXPECT_FALSE(to_e01(dir / "raw.img", dir / "tiny", 4096).ok) << "segments below ewfacquire's 1 MiB";

  ASSERT_BUILT(split_raw(dir / "raw.img", dir / "split", 1500000));
  EXPECT_EQ(std::filesystem::file_size(dir / "split.001"), 1500000u);
  EXPECT_EQ(std::filesystem::file_size(dir / "split.003"), raw.size() - 3000000);
  EXPECT_FALSE(std::filesystem::exists(dir / "split.004"));
  const RunResult split = run({"img_cat", dir / "split.001"});
  ASSERT_EQ(split.exit_code, 0) << split.err;
  EXPECT_TRUE(split.out == raw) << "split segments differ from the raw image";
}

TEST(DiskImageFixtures, TruncatedAndDamagedMft) {
  REQUIRE_TOOL("istat");
  TempDir dir;
  ASSERT_BUILT(build_filesystem(FixtureFs::kNtfs, windows_spec(), dir / "ntfs.img"));
  const std::string before = file_sha256(dir / "ntfs.img");
  EXPECT_EQ(before.size(), 64u);
  const Listing l = fls(dir / "ntfs.img");
  ASSERT_TRUE(l.live.count("readme.txt"));
  const std::string entry = l.live.at("readme.txt").substr(0, l.live.at("readme.txt").find('-'));
  ASSERT_EQ(run({"istat", dir / "ntfs.img", entry}).exit_code, 0);

  ASSERT_BUILT(corrupt_mft(dir / "ntfs.img", std::stoull(entry), std::stoull(entry)));
  EXPECT_NE(file_sha256(dir / "ntfs.img"), before);
  EXPECT_NE(run({"istat", dir / "ntfs.img", entry}).exit_code, 0) << "the record still reads";
  EXPECT_EQ(run({"istat", dir / "ntfs.img", "0"}).exit_code, 0) << "more than the one record was damaged";

  ASSERT_BUILT(truncate_image(dir / "ntfs.img", 1ull << 20));
  EXPECT_EQ(std::filesystem::file_size(dir / "ntfs.img"), 1ull << 20);
}

TEST(DiskImageFixtures, ExtLoopAndHugeSize) {
  REQUIRE_TOOL("istat");
  TempDir dir;
  FixtureSpec spec;
  spec.files = {{"a/b/file", "x"}, {"big file", content("big")}};
  ASSERT_BUILT(build_filesystem(FixtureFs::kExt4, spec, dir / "ext.img"));
  ASSERT_BUILT(ext_directory_loop(dir / "ext.img", "a/b"));
  ASSERT_BUILT(ext_set_size(dir / "ext.img", "big file", 1ull << 40));
  EXPECT_FALSE(ext_set_size(dir / "ext.img", "missing", 1).ok) << "a failed debugfs request passed";

  // a/b/loop is the inode of a: a directory holding its own ancestor.
  const Listing top = fls(dir / "ext.img", {"-D"});
  ASSERT_TRUE(top.live.count("a")) << "fls -r -D lists no a";
  const RunResult inner = run({"ifind", "-n", "/a/b/loop", dir / "ext.img"});
  ASSERT_EQ(inner.exit_code, 0) << inner.err;
  EXPECT_EQ(std::stoull(inner.out), std::stoull(top.live.at("a")));
  const RunResult deeper = run({"ifind", "-n", "/a/b/loop/b/loop/b/file", dir / "ext.img"});
  EXPECT_EQ(deeper.exit_code, 0) << "no cycle: " << deeper.err;

  const RunResult st =
      run({"istat", dir / "ext.img", std::to_string(std::stoull(fls(dir / "ext.img").live.at("big file")))});
  EXPECT_NE(st.out.find("size: 1099511627776"), std::string::npos) << st.out;
}

TEST(DiskImageFixtures, EncryptedVolumes) {
  TempDir dir;
  ASSERT_BUILT(build_luks(dir / "luks.img", 16ull << 20));
  const std::string luks = read_file(dir / "luks.img");
  EXPECT_EQ(luks.size(), 16ull << 20);
  EXPECT_EQ(luks.substr(0, 6), std::string("LUKS\xBA\xBE", 6));
  EXPECT_EQ(luks.substr(6, 2), std::string("\0\x02", 2)) << "not LUKS2";

  ASSERT_BUILT(build_bitlocker_like(dir / "bl.img", 1ull << 20));
  const std::string bl = read_file(dir / "bl.img");
  EXPECT_EQ(bl.size(), 1ull << 20);
  EXPECT_EQ(bl.substr(0, 11), "\xEB\x58\x90-FVE-FS-");
  EXPECT_EQ(bl.substr(510, 2), "\x55\xAA");
  if (std::filesystem::exists("/usr/bin/fsstat")) {
    EXPECT_NE(run({"fsstat", dir / "bl.img"}).exit_code, 0) << "TSK opened the BitLocker-like volume";
  }
}

TEST(DiskImageFixtures, Sha256OfAFile) {
  TempDir dir;
  write_file(dir / "abc", "abc");
  EXPECT_EQ(file_sha256(dir / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(file_sha256(dir / "missing"), "");
}

}  // namespace
}  // namespace iocsweep::test
