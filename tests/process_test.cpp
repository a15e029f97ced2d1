// The /proc parsers against what a hostile process controls: its command
// name (any bytes, parentheses and spaces included) and the names of its
// mappings; and the reader against this test's own process.
#include "iocsweep/process.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "process/maps_parse.hpp"

namespace iocsweep {
namespace {

std::string stat_line(const std::string& comm, char state = 'S', unsigned long flags = 0x400000) {
  // pid (comm) state ppid pgrp session tty tpgid flags ... starttime (field 22)
  return "4242 (" + comm + ") " + state + " 17 4242 4242 0 -1 " + std::to_string(flags) +
         " 0 0 0 0 0 0 0 0 20 0 1 0 987654 12345 67 18446744073709551615\n";
}

TEST(ProcessParse, CommandNameEndsAtTheLastParenthesis) {
  for (const std::string comm : {"sshd", "a) S 1 (b", "x y", ")", "(", "\xff\n\x01"}) {
    Result<StatFields> f = parse_stat(stat_line(comm));
    ASSERT_TRUE(f) << comm << ": " << f.error().message;
    EXPECT_EQ(f->name, comm);
    EXPECT_EQ(f->state, 'S');
    EXPECT_EQ(f->ppid, 17);
    EXPECT_EQ(f->start_time, 987654u);
    EXPECT_FALSE(f->kernel_thread);
  }
  EXPECT_TRUE(parse_stat(stat_line("kworker/0:1", 'I', 0x00208040))->kernel_thread);
  EXPECT_EQ(parse_stat(stat_line("dead", 'Z'))->state, 'Z');
  EXPECT_FALSE(parse_stat("4242 (no end S 1 2 3"));
  EXPECT_FALSE(parse_stat("4242 (short) S 1 2 3\n"));
  EXPECT_FALSE(parse_stat(stat_line("x").replace(stat_line("x").find("987654"), 6, "98x654")));
}

TEST(ProcessParse, MapsLinesKeepPathsWithSpacesAndRefuseGarbage) {
  Result<MemoryRegion> r =
      parse_maps_line("55d4c3a00000-55d4c3a21000 rw-p 00001000 08:01 1234   /tmp/my dir/a b (deleted)");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->start, 0x55d4c3a00000u);
  EXPECT_EQ(r->end, 0x55d4c3a21000u);
  EXPECT_EQ(r->perms, "rw-p");
  EXPECT_EQ(r->offset, 0x1000u);
  EXPECT_EQ(r->inode, 1234u);
  EXPECT_EQ(r->path, "/tmp/my dir/a b (deleted)");
  EXPECT_TRUE(r->readable());
  Result<MemoryRegion> anon = parse_maps_line("7f0000000000-7f0000001000 ---p 00000000 00:00 0");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->path, "");
  EXPECT_FALSE(anon->readable());
  for (const char* bad : {"", "zz-10 r--p 0 00:00 0", "20-10 r--p 0 00:00 0", "10-20 r--p 0 0000 0",
                          "10-20 rp 0 00:00 0", "10-20 r--p 0 00:00 x"}) {
    EXPECT_FALSE(parse_maps_line(bad)) << bad;
  }
}

TEST(ProcessRead, OwnFactsMapAndMemory) {
  Result<ProcessInfo> me = read_process_info(::getpid());
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(me->pid, ::getpid());
  EXPECT_EQ(me->ppid, ::getppid());
  EXPECT_EQ(me->uid, ::getuid());
  EXPECT_FALSE(me->exe.empty());
  EXPECT_FALSE(me->exe_deleted);
  EXPECT_FALSE(me->kernel_thread);
  EXPECT_TRUE(still_running(*me));
  ProcessInfo reused = *me;
  reused.start_time += 1;
  EXPECT_FALSE(still_running(reused)) << "a reused pid is not the same process";

  static const char kHere[] = "a string in this process's data";
  Result<std::vector<MemoryRegion>> map = read_memory_map(::getpid());
  ASSERT_TRUE(map) << map.error().message;
  const auto at = reinterpret_cast<std::uint64_t>(kHere);
  bool inside = false;
  for (const MemoryRegion& r : *map) inside = inside || (r.start <= at && at < r.end && r.readable());
  EXPECT_TRUE(inside);
  Result<std::unique_ptr<ProcessMemory>> mem = ProcessMemory::open(::getpid());
  ASSERT_TRUE(mem) << mem.error().message;
  char got[sizeof kHere] = {};
  Result<std::size_t> n = (*mem)->read_at(at, std::span(reinterpret_cast<std::uint8_t*>(got), sizeof got));
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, sizeof kHere);
  EXPECT_STREQ(got, kHere);
  // Nothing is mapped at 0: a short read, not an error.
  Result<std::size_t> zero = (*mem)->read_at(0, std::span(reinterpret_cast<std::uint8_t*>(got), sizeof got));
  ASSERT_TRUE(zero);
  EXPECT_EQ(*zero, 0u);

  Result<std::unique_ptr<ByteSource>> exe = open_process_executable(::getpid());
  ASSERT_TRUE(exe) << exe.error().message;
  EXPECT_GT((*exe)->size(), 0u);
}

TEST(ProcessRead, KernelThreadAndMissingProcess) {
  Result<ProcessInfo> kthreadd = read_process_info(2);
  if (!kthreadd || kthreadd->name != "kthreadd") GTEST_SKIP() << "pid 2 is not kthreadd here (a pid namespace)";
  EXPECT_TRUE(kthreadd->kernel_thread);
  EXPECT_EQ(kthreadd->exe, "");
  Result<ProcessInfo> none = read_process_info(2147483646);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("/proc/2147483646/stat"), std::string::npos) << none.error().message;
}

}  // namespace
}  // namespace iocsweep
