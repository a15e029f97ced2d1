// Interim builders (FAT and ext only) until tests/disk_image_fixtures.cpp lands.
#include <sys/stat.h>

#include "disk_image_fixtures.hpp"
#include "test_support.hpp"

namespace iocsweep::test {
namespace {
FixtureResult sh(const std::string& cmd) {
  RunResult r = run({"/bin/sh", "-c", cmd});
  if (r.exit_code != 0) return {false, false, cmd + ": " + r.err};
  return {true, false, ""};
}
std::string q(const std::string& s) { return "'" + s + "'"; }
FixtureResult interim();
}  // namespace

FixtureResult build_filesystem(FixtureFs fs, const FixtureSpec& spec, const std::string& out, std::uint64_t size) {
  TempDir tree;
  for (const auto& f : spec.files) {
    std::string p = tree.path();
    std::string rel = f.path;
    for (std::size_t s; (s = rel.find('/')) != std::string::npos; rel = rel.substr(s + 1)) {
      p += "/" + rel.substr(0, s);
      ::mkdir(p.c_str(), 0755);
    }
    write_file(p + "/" + rel, f.content);
  }
  if (fs == FixtureFs::kNtfs || fs == FixtureFs::kExfat || fs == FixtureFs::kIso9660) return interim();
  bool fat = fs == FixtureFs::kFat12 || fs == FixtureFs::kFat16 || fs == FixtureFs::kFat32;
  if (fat) {
    std::string bits = fs == FixtureFs::kFat12 ? "12" : fs == FixtureFs::kFat16 ? "16" : "32";
    auto r = sh("truncate -s " + std::to_string(size) + " " + q(out) + " && mkfs.fat -F " + bits + " " + q(out) +
                " >/dev/null && mcopy -s -i " + q(out) + " " + q(tree.path()) + "/* ::/");
    if (!r.ok) return r;
    for (const auto& d : spec.deleted) {
      if (auto r2 = sh("mdel -i " + q(out) + " ::/" + q(d)); !r2.ok) return r2;
    }
    return {true, false, ""};
  }
  std::string t = fs == FixtureFs::kExt2 ? "ext2" : fs == FixtureFs::kExt3 ? "ext3" : "ext4";
  auto r = sh("mke2fs -q -F -t " + t + " -d " + q(tree.path()) + " " + q(out) + " " + std::to_string(size / 1024));
  if (!r.ok) return r;
  for (const auto& d : spec.deleted) {
    if (auto r2 = sh("debugfs -w -R " + q("rm /" + d) + " " + q(out) + " 2>&1"); !r2.ok) return r2;
  }
  return {true, false, ""};
}

std::string file_sha256(const std::string& path) { return run({"sha256sum", path}).out.substr(0, 64); }

namespace {
FixtureResult interim() { return {false, true, "interim: builder not yet merged"}; }
}  // namespace
FixtureResult build_partitioned(bool, const std::vector<FixturePartition>&, const std::string&) { return interim(); }
FixtureResult to_e01(const std::string&, const std::string&, std::uint64_t) { return interim(); }
FixtureResult split_raw(const std::string&, const std::string&, std::uint64_t) { return interim(); }
FixtureResult truncate_image(const std::string&, std::uint64_t) { return interim(); }
FixtureResult corrupt_mft(const std::string&, std::uint64_t, std::uint64_t) { return interim(); }
FixtureResult ext_directory_loop(const std::string&, const std::string&) { return interim(); }
FixtureResult ext_set_size(const std::string&, const std::string&, std::uint64_t) { return interim(); }
FixtureResult build_luks(const std::string&, std::uint64_t) { return interim(); }
FixtureResult build_bitlocker_like(const std::string&, std::uint64_t) { return interim(); }
}  // namespace iocsweep::test
