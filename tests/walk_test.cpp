#include "iocsweep/walk.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>

#include "test_support.hpp"
#include "walk/walk_rules.hpp"

namespace iocsweep {
namespace {

using test::TempDir;
using test::write_file;

struct Recorder : WalkVisitor {
  std::vector<WalkEntry> files;
  std::vector<std::pair<std::string, std::string>> skipped, errors;
  std::vector<std::string> details;
  std::vector<std::string> symlinks;
  std::vector<std::string> atime;
  void on_file(WalkEntry e) override { files.push_back(std::move(e)); }
  void on_skipped(const std::string& p, const std::string& r, const std::string& d) override {
    skipped.emplace_back(p, r);
    details.push_back(d);
  }
  void on_error(const std::string& p, const std::string& e) override { errors.emplace_back(p, e); }
  void on_symlink(const std::string& p) override { symlinks.push_back(p); }
  void on_atime_not_preserved(const std::string& p) override { atime.push_back(p); }
  std::vector<std::string> skipped_with(const std::string& reason) const {
    std::vector<std::string> out;
    for (const auto& [path, r] : skipped) {
      if (r == reason) out.push_back(path);
    }
    return out;
  }
  std::set<std::string> paths() const {
    std::set<std::string> out;
    for (const auto& f : files) out.insert(f.path);
    return out;
  }
};

TEST(FileWalker, FindsRegularFilesRecursively) {
  TempDir t;
  test::make_dir(t / "a");
  test::make_dir(t / "a/b");
  write_file(t / "top.txt", "1");
  write_file(t / "a/mid.txt", "2");
  write_file(t / "a/b/deep.txt", "3");
  Recorder r;
  FileWalker({}).walk({t.path()}, r, {});
  EXPECT_EQ(r.paths(), (std::set<std::string>{t / "top.txt", t / "a/mid.txt", t / "a/b/deep.txt"}));
  EXPECT_TRUE(r.errors.empty());
  for (const auto& f : r.files) {
    ASSERT_TRUE(f.parent);
    EXPECT_FALSE(f.follow);
    EXPECT_EQ(f.path, f.parent->path() + "/" + f.name);
  }
}

TEST(FileWalker, NeverFollowsSymlinksBelowARoot) {
  TempDir t, outside;
  write_file(outside / "secret.txt", "x");
  test::make_dir(t / "d");
  ASSERT_EQ(::symlink(outside.path().c_str(), (t / "d/link_to_dir").c_str()), 0);
  ASSERT_EQ(::symlink((outside / "secret.txt").c_str(), (t / "d/link_to_file").c_str()), 0);
  ASSERT_EQ(::symlink(".", (t / "d/loop").c_str()), 0);
  Recorder r;
  FileWalker({}).walk({t.path()}, r, {});
  EXPECT_TRUE(r.files.empty());
  EXPECT_EQ(r.symlinks.size(), 3u);
}

TEST(FileWalker, RootThatIsAFileOrSymlinkIsTakenAsNamed) {
  TempDir t;
  write_file(t / "f", "x");
  ASSERT_EQ(::symlink((t / "f").c_str(), (t / "l").c_str()), 0);
  Recorder r;
  FileWalker({}).walk({t / "f", t / "l"}, r, {});
  ASSERT_EQ(r.files.size(), 2u);
  EXPECT_FALSE(r.files[0].parent);
  EXPECT_TRUE(r.files[1].follow);
}

TEST(FileWalker, MissingRootIsAnError) {
  TempDir t;
  Recorder r;
  FileWalker({}).walk({t / "nope"}, r, {});
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].first, t / "nope");
  EXPECT_EQ(r.errors[0].second, "No such file or directory");
}

TEST(FileWalker, SpecialFilesAreSkippedNotOpened) {
  TempDir t;
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock = t / "sock";
  ASSERT_LT(sock.size(), sizeof(addr.sun_path));
  std::copy(sock.begin(), sock.end(), addr.sun_path);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(s);
  Recorder r;
  FileWalker({}).walk({t.path()}, r, {});
  EXPECT_TRUE(r.files.empty());
  ASSERT_EQ(r.skipped.size(), 2u);
  for (const auto& [path, reason] : r.skipped) EXPECT_EQ(reason, "special");
}

TEST(FileWalker, DeeperThanPathMax) {
  TempDir t;
  // 40 levels of 200-byte names: about 8 KB of path, twice PATH_MAX.
  const std::string name(200, 'd');
  int dirfd = ::open(t.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dirfd, 0);
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(::mkdirat(dirfd, name.c_str(), 0755), 0);
    const int next = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY);
    ::close(dirfd);
    ASSERT_GE(next, 0);
    dirfd = next;
  }
  const int fd = ::openat(dirfd, "bottom.txt", O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "x", 1), 1);
  ::close(fd);
  ::close(dirfd);
  Recorder r;
  FileWalker({}).walk({t.path()}, r, {});
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_GT(r.files[0].path.size(), 4096u);
  EXPECT_EQ(r.files[0].name, "bottom.txt");
  EXPECT_TRUE(r.errors.empty());
}

TEST(FileWalker, StopsWhenAsked) {
  TempDir t;
  for (int i = 0; i < 50; ++i) write_file(t / ("f" + std::to_string(i)), "x");
  std::stop_source stop;
  struct StopAfterOne final : Recorder {
    std::stop_source* s = nullptr;
    void on_file(WalkEntry e) override {
      Recorder::on_file(std::move(e));
      s->request_stop();
    }
  } r;
  r.s = &stop;
  FileWalker({}).walk({t.path()}, r, stop.get_token());
  EXPECT_EQ(r.files.size(), 1u);
}

TEST(FileWalker, ExcludeGlobsPruneFilesAndSubtrees) {
  TempDir t;
  test::make_dir(t / "keep");
  test::make_dir(t / "cache");
  write_file(t / "keep/a.txt", "1");
  write_file(t / "keep/b.iso", "2");
  write_file(t / "cache/c.txt", "3");
  WalkOptions options;
  options.excludes = {"*.iso", t / "cache"};
  Recorder r;
  FileWalker(options).walk({t.path()}, r, {});
  EXPECT_EQ(r.paths(), (std::set<std::string>{t / "keep/a.txt"}));
  ASSERT_EQ(r.skipped.size(), 2u);
  for (const auto& [path, reason] : r.skipped) EXPECT_EQ(reason, "excluded");
}

TEST(FileWalker, AbsoluteExcludeGlobMatchesARootNotSpeltCanonically) {
  // The root is named through a symlink (as "tree" relative to the working
  // directory would be): a glob starting with '/' is also matched against
  // the absolute, resolved path, so both spellings exclude.
  TempDir t;
  test::make_dir(t / "real");
  test::make_dir(t / "real/cache");
  write_file(t / "real/cache/c.db", "1");
  write_file(t / "real/cache.db-wal", "2");
  write_file(t / "real/keep.txt", "3");
  ASSERT_EQ(::symlink("real", (t / "via").c_str()), 0);
  char* resolved = ::realpath((t / "real").c_str(), nullptr);
  ASSERT_NE(resolved, nullptr);
  const std::string real = resolved;
  std::free(resolved);
  WalkOptions options;
  options.excludes = {real + "/cache", real + "/cache.db*", "*/nothing"};
  Recorder r;
  FileWalker(options).walk({t / "via"}, r, {});
  EXPECT_EQ(r.paths(), (std::set<std::string>{t / "via/keep.txt"}));
  // Listed as walked, with the glob that matched.
  EXPECT_EQ(r.skipped_with("excluded").size(), 2u);
  const std::string root = t / "via";
  const ExcludeMatcher m(options.excludes, root);
  EXPECT_NE(m.match(root + "/cache"), nullptr);
  EXPECT_EQ(m.match(root + "/keep.txt"), nullptr);
  EXPECT_TRUE(m.excludes_on_the_way(root + "/cache/c.db"));
  EXPECT_FALSE(m.excludes_on_the_way(root + "/keep.txt"));
  // A glob not starting with '/' is matched against the walked spelling only.
  const ExcludeMatcher relative({"?" + real.substr(1) + "/keep.txt"}, root);
  EXPECT_EQ(relative.match(root + "/keep.txt"), nullptr);
}

// The symlink tests run twice: with d_type from readdir, and ignoring it as
// on filesystems that leave it DT_UNKNOWN (iso9660, udf, xfs ftype=0).
class FollowSymlinks : public ::testing::TestWithParam<bool> {
 protected:
  WalkOptions options() const {
    WalkOptions o;
    o.follow_symlinks = true;
    o.ignore_d_type = GetParam();
    return o;
  }
};

INSTANTIATE_TEST_SUITE_P(DType, FollowSymlinks, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Unknown" : "FromReaddir"; });

TEST_P(FollowSymlinks, FollowsLinksAndStopsLoops) {
  TempDir t, outside;
  write_file(outside / "secret.txt", "x");
  test::make_dir(t / "d");
  ASSERT_EQ(::symlink(outside.path().c_str(), (t / "d/link_to_dir").c_str()), 0);
  ASSERT_EQ(::symlink((outside / "secret.txt").c_str(), (t / "d/link_to_file").c_str()), 0);
  ASSERT_EQ(::symlink("..", (t / "d/loop").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere", (t / "d/dangling").c_str()), 0);
  Recorder r;
  FileWalker(options()).walk({t.path()}, r, {});
  EXPECT_EQ(r.paths(), (std::set<std::string>{t / "d/link_to_dir/secret.txt", t / "d/link_to_file"}));
  for (const WalkEntry& f : r.files) EXPECT_EQ(f.follow, f.path == t / "d/link_to_file") << f.path;
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].first, t / "d/loop");
  EXPECT_EQ(r.skipped[0].second, "symlink_loop");
  EXPECT_EQ(r.symlinks, std::vector<std::string>{t / "d/dangling"});
  EXPECT_TRUE(r.errors.empty());
}

TEST_P(FollowSymlinks, LinkThatResolvesToItselfIsALoopNotAnError) {
  TempDir t;
  write_file(t / "f", "x");
  ASSERT_EQ(::symlink("self", (t / "self").c_str()), 0);
  ASSERT_EQ(::symlink("pong", (t / "ping").c_str()), 0);
  ASSERT_EQ(::symlink("ping", (t / "pong").c_str()), 0);
  Recorder r;
  FileWalker(options()).walk({t.path()}, r, {});
  EXPECT_EQ(r.paths(), (std::set<std::string>{t / "f"}));
  EXPECT_TRUE(r.errors.empty());
  std::vector<std::string> loops = r.skipped_with("symlink_loop");
  std::sort(loops.begin(), loops.end());
  EXPECT_EQ(loops, (std::vector<std::string>{t / "ping", t / "pong", t / "self"}));
}

TEST_P(FollowSymlinks, DagOfLinksIsWalkedOncePerDirectoryNotOncePerWay) {
  // d0 .. d16, each with a file and two links to the next: 2^16 ways to
  // reach d16 through links. Each directory is entered through a link at
  // most once, besides its own place in the tree.
  TempDir t;
  constexpr int kLevels = 16;
  for (int i = 0; i <= kLevels; ++i) {
    const std::string d = t / ("d" + std::to_string(i));
    test::make_dir(d);
    write_file(d + "/f", "x");
    if (i == kLevels) continue;
    const std::string next = "../d" + std::to_string(i + 1);
    ASSERT_EQ(::symlink(next.c_str(), (d + "/a").c_str()), 0);
    ASSERT_EQ(::symlink(next.c_str(), (d + "/b").c_str()), 0);
  }
  Recorder r;
  FileWalker(options()).walk({t.path()}, r, {});
  EXPECT_TRUE(r.errors.empty());
  EXPECT_GE(r.files.size(), static_cast<std::size_t>(kLevels + 1));
  EXPECT_LE(r.files.size(), static_cast<std::size_t>(2 * kLevels + 1));
  for (int i = 0; i <= kLevels; ++i) EXPECT_EQ(r.paths().count(t / ("d" + std::to_string(i) + "/f")), 1u);
  const std::vector<std::string> again = r.skipped_with("already_visited");
  EXPECT_GE(again.size(), static_cast<std::size_t>(kLevels));
  for (std::size_t i = 0; i < r.skipped.size(); ++i) {
    // The detail names where the directory was walked.
    if (r.skipped[i].second == "already_visited") {
      EXPECT_FALSE(r.details[i].empty());
    }
  }
}

// A followed link to a file is held to the filesystem rules a directory
// entered is: a link planted in the tree must not lead the sweep onto
// /proc (or a network mount) that the walk itself skips.
TEST_P(FollowSymlinks, LinkToAFileOnASkippedFilesystemIsSkipped) {
  struct stat st {};
  if (::stat("/proc/version", &st) != 0) GTEST_SKIP() << "no /proc here";
  const MountTable mounts = MountTable::current();
  if (mounts.type_of(st.st_dev) != "proc") GTEST_SKIP() << "/proc is not procfs here";
  TempDir t;
  write_file(t / "f", "x");
  ASSERT_EQ(::symlink("/proc/version", (t / "version").c_str()), 0);
  Recorder skipped;
  FileWalker(options(), mounts).walk({t.path()}, skipped, {});
  EXPECT_EQ(skipped.paths(), (std::set<std::string>{t / "f"}));
  ASSERT_EQ(skipped.skipped.size(), 1u);
  EXPECT_EQ(skipped.skipped[0], (std::pair<std::string, std::string>{t / "version", "filesystem"}));
  EXPECT_EQ(skipped.details[0], "proc");

  WalkOptions included = options();
  included.include_fs = {"proc"};
  Recorder read;
  FileWalker(included, mounts).walk({t.path()}, read, {});
  EXPECT_EQ(read.paths(), (std::set<std::string>{t / "f", t / "version"}));
  EXPECT_TRUE(read.skipped.empty());

  // --one-file-system: the link leaves the root's filesystem.
  included.one_file_system = true;
  Recorder other;
  FileWalker(included, mounts).walk({t.path()}, other, {});
  EXPECT_EQ(other.paths(), (std::set<std::string>{t / "f"}));
  ASSERT_EQ(other.skipped.size(), 1u);
  EXPECT_EQ(other.skipped[0], (std::pair<std::string, std::string>{t / "version", "other_filesystem"}));
  EXPECT_EQ(other.details[0], "proc");
}

TEST_P(FollowSymlinks, LinkToAFileOnTheSameFilesystemIsReadWithItsDevice) {
  TempDir t;
  write_file(t / "f", "x");
  ASSERT_EQ(::symlink("f", (t / "l").c_str()), 0);
  Recorder r;
  FileWalker(options()).walk({t.path()}, r, {});
  EXPECT_EQ(r.paths(), (std::set<std::string>{t / "f", t / "l"}));
  struct stat st {};
  ASSERT_EQ(::stat((t / "f").c_str(), &st), 0);
  for (const WalkEntry& e : r.files) {
    // The reader refuses a followed link whose target is then elsewhere.
    if (e.path == t / "l") {
      EXPECT_EQ(e.device, std::optional<dev_t>(st.st_dev));
    } else {
      EXPECT_EQ(e.device, std::nullopt);
    }
  }
}

TEST(FileWalker, UnknownDTypeWithoutFollowCountsLinksAndFindsFiles) {
  TempDir t;
  test::make_dir(t / "d");
  write_file(t / "d/f", "x");
  ASSERT_EQ(::symlink("d/f", (t / "l").c_str()), 0);
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);
  WalkOptions options;
  options.ignore_d_type = true;
  Recorder r;
  FileWalker(options).walk({t.path()}, r, {});
  EXPECT_EQ(r.paths(), (std::set<std::string>{t / "d/f"}));
  EXPECT_EQ(r.symlinks, std::vector<std::string>{t / "l"});
  EXPECT_EQ(r.skipped_with("special"), std::vector<std::string>{t / "fifo"});
}

TEST(MountTable, ParsesMountinfo) {
  const MountTable table = MountTable::parse(
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
      "garbage line\n"
      "30 27 8:1 / /mnt/win rw - fuseblk /dev/sdb1 rw\n"
      "31 27 0:50 / /mnt/remote rw - fuse.sshfs host:/ rw\n");
  EXPECT_EQ(table.type_of(makedev(0, 21)), "proc");
  EXPECT_EQ(table.type_of(makedev(8, 1)), "fuseblk");
  EXPECT_EQ(table.type_of(makedev(0, 50)), "fuse.sshfs");
  EXPECT_EQ(table.type_of(makedev(9, 9)), "");
}

TEST(SkipByDefaultFs, PseudoAndNetworkButNotLocal) {
  for (const char* t : {"proc", "sysfs", "devtmpfs", "cgroup2", "debugfs", "tracefs", "nfs4", "cifs", "fuse.sshfs"}) {
    EXPECT_TRUE(skip_by_default_fs(t)) << t;
  }
  for (const char* t : {"ext4", "xfs", "btrfs", "tmpfs", "overlay", "fuseblk", "vfat", "ntfs3", ""}) {
    EXPECT_FALSE(skip_by_default_fs(t)) << t;
  }
}

TEST(FileWalker, SkipsPseudoFilesystemsUnlessIncluded) {
  TempDir t;
  write_file(t / "f", "x");
  struct stat st {};
  ASSERT_EQ(::stat(t.path().c_str(), &st), 0);
  // Pretend the temporary directory's filesystem is procfs.
  const std::string mountinfo =
      "1 1 " + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) + " / /x rw - proc proc rw\n";
  Recorder skipped;
  FileWalker({}, MountTable::parse(mountinfo)).walk({t.path()}, skipped, {});
  EXPECT_TRUE(skipped.files.empty());
  ASSERT_EQ(skipped.skipped.size(), 1u);
  EXPECT_EQ(skipped.skipped[0].second, "filesystem");
  EXPECT_EQ(skipped.details[0], "proc");

  WalkOptions options;
  options.include_fs = {"proc"};
  Recorder included;
  FileWalker(options, MountTable::parse(mountinfo)).walk({t.path()}, included, {});
  EXPECT_EQ(included.files.size(), 1u);
}

TEST(FileWalker, RealProcIsSkipped) {
  struct stat st {};
  if (::stat("/proc/self", &st) != 0) GTEST_SKIP() << "no /proc here";
  Recorder r;
  FileWalker({}, MountTable::current()).walk({"/proc"}, r, {});
  EXPECT_TRUE(r.files.empty());
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].second, "filesystem");
}

// The mountinfo line that makes `path`'s filesystem look like `type`.
std::string mountinfo_as(const std::string& path, const std::string& type) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return "1 1 " + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) + " / /x rw - " + type +
         " " + type + " rw\n";
}

TEST(WalkPlanner, SpellsPathsBelowTheRootAsTheWalkDoes) {
  TempDir t;
  test::make_dir(t / "a");
  write_file(t / "a/f", "x");
  const WalkPlanner planner({}, MountTable{});
  WalkAnswer f = planner.reach(t / "a/f", t.path());
  EXPECT_EQ(f.reach, WalkReach::kWalked);
  EXPECT_EQ(f.spelling, t / "a/f");
  // A trailing slash on the root is kept once, as the walk joins names.
  EXPECT_EQ(planner.reach(t / "a/f", t.path() + "/").spelling, t / "a/f");
  // A file not created yet is placed where it will be.
  WalkAnswer later = planner.reach(t / "a/report.json.tmp-XXXXXX", t.path());
  EXPECT_EQ(later.reach, WalkReach::kWalked);
  EXPECT_EQ(later.spelling, t / "a/report.json.tmp-XXXXXX");
  // The root itself, and what lies elsewhere (a sibling sharing a prefix).
  EXPECT_TRUE(planner.would_walk(t.path(), t.path()));
  EXPECT_EQ(planner.reach(t.path() + "-other/f", t.path()).reach, WalkReach::kNotBelow);
  EXPECT_EQ(planner.reach(t / "a/f", t / "a/f/g").reach, WalkReach::kNotBelow);
}

TEST(WalkPlanner, RootGivenThroughASymlinkSpellsThroughIt) {
  TempDir t;
  test::make_dir(t / "real");
  ASSERT_EQ(::symlink((t / "real").c_str(), (t / "link").c_str()), 0);
  const WalkPlanner planner({}, MountTable{});
  WalkAnswer a = planner.reach(t / "real/out.json", t / "link");
  EXPECT_EQ(a.reach, WalkReach::kWalked);
  EXPECT_EQ(a.spelling, t / "link/out.json");
}

TEST(WalkPlanner, ExcludedPathOrDirectoryOnTheWayIsNotWalked) {
  TempDir t;
  test::make_dir(t / "keep");
  test::make_dir(t / "out");
  WalkOptions options;
  options.excludes = {t / "out", "*.iso"};
  const WalkPlanner planner(options, MountTable{});
  EXPECT_EQ(planner.reach(t / "out/report.json", t.path()).reach, WalkReach::kExcluded);
  EXPECT_EQ(planner.reach(t / "keep/disk.iso", t.path()).reach, WalkReach::kExcluded);
  EXPECT_TRUE(planner.would_walk(t / "keep/report.json", t.path()));
  // The spelling is given all the same, to name the --exclude to add.
  EXPECT_EQ(planner.reach(t / "out/report.json", t.path()).spelling, t / "out/report.json");
}

TEST(WalkPlanner, FilesystemRulesAreTheWalkersOwn) {
  TempDir t;
  write_file(t / "f", "x");
  const MountTable as_proc = MountTable::parse(mountinfo_as(t.path(), "proc"));
  EXPECT_EQ(WalkPlanner({}, as_proc).reach(t / "f", t.path()).reach, WalkReach::kSkippedFilesystem);
  WalkOptions include;
  include.include_fs = {"proc"};
  EXPECT_TRUE(WalkPlanner(include, as_proc).would_walk(t / "f", t.path()));
  // And the walker agrees on both.
  Recorder skipped, walked;
  FileWalker({}, as_proc).walk({t.path()}, skipped, {});
  FileWalker(include, as_proc).walk({t.path()}, walked, {});
  EXPECT_TRUE(skipped.files.empty());
  EXPECT_EQ(walked.paths(), std::set<std::string>{t / "f"});
}

TEST(WalkPlanner, OneFileSystemKeepsOtherDevicesOut) {
  struct stat root {
  }, proc{};
  if (::stat("/", &root) != 0 || ::stat("/proc/self", &proc) != 0 || root.st_dev == proc.st_dev) {
    GTEST_SKIP() << "needs /proc on its own filesystem";
  }
  WalkOptions one;
  one.one_file_system = true;
  EXPECT_EQ(WalkPlanner(one, MountTable::current()).reach("/proc/self/status", "/").reach, WalkReach::kOtherFilesystem);
  // Without -x, /proc is met and skipped by its type.
  EXPECT_EQ(WalkPlanner({}, MountTable::current()).reach("/proc/self/status", "/").reach,
            WalkReach::kSkippedFilesystem);
}

TEST(WalkPlanner, AgreesWithTheWalkOnEveryFileOfATree) {
  TempDir t;
  test::make_dir(t / "a");
  test::make_dir(t / "a/skip");
  test::make_dir(t / "b");
  for (const char* f : {"top", "a/one", "a/skip/two", "a/x.log", "b/three"}) write_file(t / f, f);
  WalkOptions options;
  options.excludes = {"*/skip", "*.log"};
  Recorder r;
  FileWalker(options, MountTable{}).walk({t.path()}, r, {});
  const WalkPlanner planner(options, MountTable{});
  for (const char* f : {"top", "a/one", "a/skip/two", "a/x.log", "b/three"}) {
    EXPECT_EQ(planner.would_walk(t / f, t.path()), r.paths().count(t / f) == 1) << f;
  }
  EXPECT_EQ(r.paths().size(), 3u);
}

TEST(CanonicalOrAncestor, ResolvesWhatExistsAndAppendsTheRest) {
  TempDir t;
  test::make_dir(t / "real");
  ASSERT_EQ(::symlink((t / "real").c_str(), (t / "link").c_str()), 0);
  char* real = ::realpath(t.path().c_str(), nullptr);
  ASSERT_NE(real, nullptr);
  const std::string base = real;
  std::free(real);
  EXPECT_EQ(canonical_or_ancestor(t / "link"), base + "/real");
  EXPECT_EQ(canonical_or_ancestor(t / "link/new/deeper.json"), base + "/real/new/deeper.json");
  EXPECT_EQ(canonical_or_ancestor(""), "");
  EXPECT_EQ(canonical_or_ancestor("/"), "/");
}

}  // namespace
}  // namespace iocsweep
