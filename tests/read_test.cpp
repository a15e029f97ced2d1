#include "iocsweep/read.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <cstring>

#include "test_support.hpp"

namespace iocsweep {
namespace {

using test::TempDir;
using test::write_file;

std::shared_ptr<const DirHandle> open_dir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("open dir");
  return std::make_shared<const DirHandle>(fd, path);
}

WalkEntry entry_in(const std::shared_ptr<const DirHandle>& dir, const std::string& name) {
  return WalkEntry{dir, name, dir->path() + "/" + name, false};
}

std::string as_string(ByteView b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

TEST(FileReader, ReadsWholeFileAndFacts) {
  TempDir t;
  write_file(t / "f", "hello world");
  FileReader reader({});
  auto dir = open_dir(t.path());
  ReadOutcome out = reader.read(entry_in(dir, "f"));
  ASSERT_EQ(out.kind, ReadOutcome::Kind::kRead) << out.reason;
  EXPECT_EQ(as_string(out.bytes), "hello world");
  EXPECT_EQ(out.info.size, 11u);
  struct stat st {};
  ASSERT_EQ(::stat((t / "f").c_str(), &st), 0);
  EXPECT_EQ(out.info.inode, st.st_ino);
}

TEST(FileReader, EmptyFile) {
  TempDir t;
  write_file(t / "empty", "");
  FileReader reader({});
  ReadOutcome out = reader.read(entry_in(open_dir(t.path()), "empty"));
  ASSERT_EQ(out.kind, ReadOutcome::Kind::kRead);
  EXPECT_TRUE(out.bytes.empty());
}

TEST(FileReader, TooLargeIsSkippedWithoutReading) {
  TempDir t;
  write_file(t / "big", std::string(1000, 'x'));
  FileReader reader({.max_filesize = 999});
  ReadOutcome out = reader.read(entry_in(open_dir(t.path()), "big"));
  EXPECT_EQ(out.kind, ReadOutcome::Kind::kSkipped);
  EXPECT_EQ(out.reason, "too_large");
  FileReader exact({.max_filesize = 1000});
  EXPECT_EQ(exact.read(entry_in(open_dir(t.path()), "big")).kind, ReadOutcome::Kind::kRead);
}

TEST(FileReader, SmallAfterLargeGivesOnlySmallBytes) {
  TempDir t;
  write_file(t / "big", std::string(20u << 20, 'B'));
  write_file(t / "small", "s");
  FileReader reader({});
  auto dir = open_dir(t.path());
  ASSERT_EQ(reader.read(entry_in(dir, "big")).bytes.size(), 20u << 20);
  EXPECT_EQ(as_string(reader.read(entry_in(dir, "small")).bytes), "s");
}

TEST(FileReader, GrowingFilesGiveTheirOwnBytes) {
  // The buffer grows without clearing or copying: each file must still
  // read as exactly its own bytes, also after a larger one.
  TempDir t;
  const std::size_t sizes[] = {1, 100, 70000, 5, 3u << 20, 200000, static_cast<std::size_t>(kMapThreshold)};
  FileReader reader({});
  auto dir = open_dir(t.path());
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    const std::string name = "f" + std::to_string(i);
    const std::string data(sizes[i], static_cast<char>('a' + i));
    write_file(t / name, data);
    ReadOutcome out = reader.read(entry_in(dir, name));
    ASSERT_EQ(out.kind, ReadOutcome::Kind::kRead) << out.reason;
    EXPECT_FALSE(out.mapped) << sizes[i];
    EXPECT_TRUE(as_string(out.bytes) == data) << sizes[i];
  }
}

TEST(FileReader, BufferGrownForALargeFileGoesBackAtTheNextRead) {
  // A worker holds about the file it is on, not the largest it has met:
  // also when the next file is mapped and never touches the buffer.
  TempDir t;
  write_file(t / "mid", std::string(3u << 20, 'm'));
  write_file(t / "big", std::string(static_cast<std::size_t>(kMapThreshold) + 1, 'b'));
  write_file(t / "small", "s");
  FileReader reader({});
  auto dir = open_dir(t.path());

  ASSERT_EQ(reader.read(entry_in(dir, "mid")).kind, ReadOutcome::Kind::kRead);
  EXPECT_GE(reader.buffer_bytes(), 3u << 20);
  ReadOutcome big = reader.read(entry_in(dir, "big"));
  ASSERT_EQ(big.kind, ReadOutcome::Kind::kRead) << big.reason;
  ASSERT_TRUE(big.mapped);
  EXPECT_LE(reader.buffer_bytes(), kKeptReadBufferBytes);

  ASSERT_EQ(reader.read(entry_in(dir, "mid")).kind, ReadOutcome::Kind::kRead);
  ReadOutcome small = reader.read(entry_in(dir, "small"));
  EXPECT_EQ(as_string(small.bytes), "s");
  EXPECT_LE(reader.buffer_bytes(), kKeptReadBufferBytes);
}

TEST(ReadBuffer, MovesItsBytesAlong) {
  ReadBuffer a;
  a.make_room(4);
  std::memcpy(a.data(), "abcd", 4);
  ReadBuffer b(std::move(a));
  EXPECT_EQ(a.capacity(), 0u);
  ASSERT_GE(b.capacity(), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), 4), "abcd");
  ReadBuffer c;
  c.make_room(100);
  c = std::move(b);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(c.data()), 4), "abcd");
}

TEST(ReadBuffer, GrowsKeepingOnlyWhatIsAskedFor) {
  ReadBuffer b;
  b.make_room(0);
  ASSERT_NE(b.data(), nullptr);
  b.make_room(10);
  ASSERT_GE(b.capacity(), 10u);
  std::memcpy(b.data(), "0123456789", 10);
  b.grow_keeping(1000, 10);
  ASSERT_GE(b.capacity(), 1000u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), 10), "0123456789");
  const std::size_t cap = b.capacity();
  b.make_room(5);
  EXPECT_EQ(b.capacity(), cap);  // never shrinks by itself
  b.release();
  EXPECT_EQ(b.capacity(), 0u);
}

// A followed link the walk admitted on one device and that leads elsewhere
// when read (swapped for a link to /proc meanwhile) is an error, not read.
TEST(FileReader, FollowedLinkNowOnAnotherDeviceIsRefused) {
  TempDir t;
  write_file(t / "f", "content");
  ASSERT_EQ(::symlink("/proc/self/status", (t / "l").c_str()), 0);
  struct stat st {};
  ASSERT_EQ(::stat((t / "f").c_str(), &st), 0);
  const auto dir = open_dir(t.path());
  FileReader reader({});
  const ReadOutcome swapped = reader.read(WalkEntry{dir, "l", t / "l", true, st.st_dev});
  EXPECT_EQ(swapped.kind, ReadOutcome::Kind::kFailed);
  EXPECT_NE(swapped.reason.find("replaced during the scan"), std::string::npos) << swapped.reason;
  ASSERT_EQ(::unlink((t / "l").c_str()), 0);
  ASSERT_EQ(::symlink("f", (t / "l").c_str()), 0);
  const ReadOutcome same = reader.read(WalkEntry{dir, "l", t / "l", true, st.st_dev});
  ASSERT_EQ(same.kind, ReadOutcome::Kind::kRead) << same.reason;
  EXPECT_EQ(as_string(same.bytes), "content");
}

// A root as the walk hands it over: a path, no directory descriptor.
WalkEntry root_entry(const std::string& path) { return WalkEntry{nullptr, path, path, true}; }

TEST(FileReader, ProcFileWithSizeZeroIsReadUntilEof) {
  // st_size 0, and some hundred bytes when read.
  struct stat st {};
  ASSERT_EQ(::stat("/proc/self/status", &st), 0);
  ASSERT_EQ(st.st_size, 0);
  FileReader reader({});
  ReadOutcome out = reader.read(root_entry("/proc/self/status"));
  ASSERT_EQ(out.kind, ReadOutcome::Kind::kRead) << out.reason;
  const std::string text = as_string(out.bytes);
  EXPECT_EQ(text.rfind("Name:", 0), 0u) << text;
  EXPECT_NE(text.find("\nPid:"), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(out.info.size, out.bytes.size());
  EXPECT_TRUE(out.info.pseudo_fs);
  // What stream() and read_at() serve is what was read.
  std::string streamed;
  ASSERT_TRUE(out.content->stream([&](ByteView b) { streamed += as_string(b); }));
  EXPECT_EQ(streamed, text);
  std::vector<std::uint8_t> tail(16);
  auto got = out.content->read_at(out.info.size - 4, tail);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, 4u);
}

TEST(FileReader, ProcFileLongerThanTheLimitIsSkippedAsTooLarge) {
  FileReader reader({.max_filesize = 10});
  ReadOutcome out = reader.read(root_entry("/proc/self/status"));
  EXPECT_EQ(out.kind, ReadOutcome::Kind::kSkipped);
  EXPECT_EQ(out.reason, "too_large");
  // The next file is read whole all the same.
  TempDir t;
  write_file(t / "small", "0123456789");
  ReadOutcome small = reader.read(entry_in(open_dir(t.path()), "small"));
  ASSERT_EQ(small.kind, ReadOutcome::Kind::kRead) << small.reason;
  EXPECT_EQ(as_string(small.bytes), "0123456789");
  EXPECT_FALSE(small.info.pseudo_fs);
}

// Memory stays bounded on an endless generated file (/proc/PID/pagemap is
// hundreds of GB): the pseudo-filesystem cap applies below --max-filesize.
TEST(FileReader, ProcFileLongerThanThePseudoFileCapIsSkippedWhateverMaxFilesize) {
  FileReader reader({.max_filesize = 1ull << 40, .max_pseudo_file_bytes = 100});
  ReadOutcome out = reader.read(root_entry("/proc/self/status"));
  EXPECT_EQ(out.kind, ReadOutcome::Kind::kSkipped);
  EXPECT_EQ(out.reason, "too_large");
  EXPECT_TRUE(out.info.pseudo_fs);
  EXPECT_LE(out.info.size, 101u);
  // A file on disk is not capped by it.
  TempDir t;
  write_file(t / "big", std::string(1000, 'x'));
  ReadOutcome big = reader.read(entry_in(open_dir(t.path()), "big"));
  ASSERT_EQ(big.kind, ReadOutcome::Kind::kRead) << big.reason;
  EXPECT_EQ(big.bytes.size(), 1000u);
}

TEST(FileReader, SysfsFileShorterThanItsSizeIsReadNotAnError) {
  // sysfs gives every attribute st_size 4096 and a few bytes of content.
  std::string path;
  for (const char* candidate :
       {"/sys/kernel/uevent_seqnum", "/sys/devices/system/cpu/online", "/sys/class/net/lo/mtu"}) {
    struct stat st {};
    if (::stat(candidate, &st) == 0 && st.st_size == 4096 && ::access(candidate, R_OK) == 0) {
      path = candidate;
      break;
    }
  }
  if (path.empty()) GTEST_SKIP() << "no readable sysfs attribute here";
  FileReader reader({});
  ReadOutcome out = reader.read(root_entry(path));
  ASSERT_EQ(out.kind, ReadOutcome::Kind::kRead) << out.reason;
  EXPECT_GT(out.bytes.size(), 0u);
  EXPECT_LT(out.bytes.size(), 4096u);
  EXPECT_EQ(out.info.size, out.bytes.size());
  EXPECT_EQ(as_string(out.bytes).back(), '\n');
}

TEST(FileReader, LargeFileIsMappedAndStreamedInOrder) {
  TempDir t;
  std::string data(static_cast<std::size_t>(kMapThreshold) + 12345, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  write_file(t / "big", data);
  FileReader reader({});
  ReadOutcome out = reader.read(entry_in(open_dir(t.path()), "big"));
  ASSERT_EQ(out.kind, ReadOutcome::Kind::kRead) << out.reason;
  EXPECT_TRUE(out.mapped);
  EXPECT_EQ(out.bytes.size(), data.size());
  std::string streamed;
  std::size_t chunks = 0;
  ASSERT_TRUE(out.content->stream([&](ByteView b) {
    streamed.append(reinterpret_cast<const char*>(b.data()), b.size());
    ++chunks;
  }));
  EXPECT_GT(chunks, 1u);
  EXPECT_TRUE(streamed == data);
}

TEST(FileReader, MappedFileTruncatedBeforeStreamingIsAnErrorNotACrash) {
  TempDir t;
  write_file(t / "big", std::string(static_cast<std::size_t>(kMapThreshold) + 1, 'z'));
  FileReader reader({});
  ReadOutcome out = reader.read(entry_in(open_dir(t.path()), "big"));
  ASSERT_TRUE(out.mapped);
  ASSERT_EQ(::truncate((t / "big").c_str(), 1000), 0);
  Status st = out.content->stream([](ByteView) {});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message.rfind("file shrank while being read", 0), 0u) << st.error().message;
}

TEST(FileReader, SmallFileStreamsInOnePiece) {
  TempDir t;
  write_file(t / "s", "small");
  FileReader reader({});
  ReadOutcome out = reader.read(entry_in(open_dir(t.path()), "s"));
  ASSERT_FALSE(out.mapped);
  std::vector<std::string> pieces;
  ASSERT_TRUE(out.content->stream([&](ByteView b) { pieces.push_back(as_string(b)); }));
  EXPECT_EQ(pieces, std::vector<std::string>{"small"});
}

TEST(FileReader, AMappedFileStaysReadableAfterTheNextRead) {
  // The content owns its mapping and descriptor: reading another file does
  // not take it away (nor does the reader hold "the last file" for it).
  TempDir t;
  write_file(t / "big", std::string(static_cast<std::size_t>(kMapThreshold) + 1, 'b'));
  write_file(t / "s", "small");
  FileReader reader({});
  const auto dir = open_dir(t.path());
  ReadOutcome big = reader.read(entry_in(dir, "big"));
  ASSERT_TRUE(big.mapped);
  ReadOutcome small = reader.read(entry_in(dir, "s"));
  ASSERT_EQ(small.kind, ReadOutcome::Kind::kRead);
  std::uint8_t last = 0;
  auto got = big.content->read_at(kMapThreshold, std::span<std::uint8_t>(&last, 1));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 1u);
  EXPECT_EQ(last, 'b');
  EXPECT_EQ(as_string(small.bytes), "small");
}

TEST(FileReader, VanishedFileIsAnError) {
  TempDir t;
  FileReader reader({});
  ReadOutcome out = reader.read(entry_in(open_dir(t.path()), "gone"));
  EXPECT_EQ(out.kind, ReadOutcome::Kind::kFailed);
  EXPECT_EQ(out.reason, "No such file or directory");
}

TEST(FileReader, FileSwappedForSymlinkIsNotFollowed) {
  TempDir t;
  write_file(t / "target", "secret");
  ASSERT_EQ(::symlink((t / "target").c_str(), (t / "swapped").c_str()), 0);
  FileReader reader({});
  ReadOutcome out = reader.read(entry_in(open_dir(t.path()), "swapped"));
  EXPECT_EQ(out.kind, ReadOutcome::Kind::kFailed);
  EXPECT_EQ(out.reason, "is a symbolic link now (replaced during the scan)");
}

TEST(FileReader, FileSwappedForFifoDoesNotHang) {
  TempDir t;
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);
  FileReader reader({});
  ReadOutcome out = reader.read(entry_in(open_dir(t.path()), "fifo"));
  EXPECT_EQ(out.kind, ReadOutcome::Kind::kSkipped);
  EXPECT_EQ(out.reason, "special");
}

TEST(FileReader, KeepsAccessTime) {
  TempDir t;
  write_file(t / "old", "evidence");
  struct utimbuf times {};
  times.actime = 1000000000;  // 2001
  times.modtime = 1000000000;
  ASSERT_EQ(::utime((t / "old").c_str(), &times), 0);
  FileReader reader({});
  ReadOutcome out = reader.read(entry_in(open_dir(t.path()), "old"));
  ASSERT_EQ(out.kind, ReadOutcome::Kind::kRead);
  struct stat st {};
  ASSERT_EQ(::stat((t / "old").c_str(), &st), 0);
  if (out.info.noatime) {
    EXPECT_EQ(st.st_atime, 1000000000);
  } else {
    GTEST_SKIP() << "O_NOATIME not permitted here (not the owner); atime not guaranteed";
  }
}

TEST(OpenBelow, OpensRegularFilesAndRefusesSymlinksAndClimbing) {
  TempDir t;
  test::make_dir(t / "layout");
  test::make_dir(t / "layout/blobs");
  write_file(t / "layout/blobs/b", "blob");
  write_file(t / "secret", "outside");
  ASSERT_EQ(::symlink((t / "secret").c_str(), (t / "layout/blobs/link").c_str()), 0);
  ASSERT_EQ(::symlink((t / "layout/blobs").c_str(), (t / "layout/dirlink").c_str()), 0);
  const int dir = ::open((t / "layout").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  Result<int> ok = open_below(dir, "blobs/b");
  ASSERT_TRUE(ok) << ok.error().message;
  char buf[8] = {};
  EXPECT_EQ(::read(*ok, buf, sizeof buf), 4);
  EXPECT_EQ(std::string(buf, 4), "blob");
  ::close(*ok);
  EXPECT_FALSE(open_below(dir, "blobs/link"));  // symlink as the file
  EXPECT_FALSE(open_below(dir, "dirlink/b"));   // symlink as a directory
  EXPECT_FALSE(open_below(dir, "../secret"));   // climbing out
  EXPECT_FALSE(open_below(dir, "blobs//b"));    // empty component
  EXPECT_FALSE(open_below(dir, "blobs"));       // not a regular file
  EXPECT_FALSE(open_below(dir, "blobs/missing"));
  ::close(dir);
}

}  // namespace
}  // namespace iocsweep
