#pragma once
// Live processes on Linux, read through /proc without attaching to or
// stopping them: the list of processes, each one's facts (/proc/PID/stat,
// status, cmdline, exe), its memory map (/proc/PID/maps), its memory (pread
// on /proc/PID/mem, region by region) and its executable (/proc/PID/exe,
// readable even when its file was deleted). No ptrace: a target is never
// stopped, and reading it needs what the kernel asks for a ptrace read
// (root, or the same user with Yama's ptrace_scope allowing it). Knows
// nothing of matching or reporting.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/source.hpp"

namespace iocsweep {

/// What /proc says of one process at the time it was read.
struct ProcessInfo {
  int pid = 0;
  int ppid = 0;
  /// The kernel's command name (comm: at most 15 bytes, chosen by the
  /// process itself; raw bytes).
  std::string name;
  /// Where its executable was when it started (readlink of /proc/PID/exe),
  /// the kernel's " (deleted)" suffix removed; "" for a kernel thread or
  /// when the link cannot be read. Raw bytes.
  std::string exe;
  /// The kernel says the executable's file was deleted (or replaced, e.g. by
  /// a package upgrade) since the process started; or it runs from a memfd.
  bool exe_deleted = false;
  /// Its arguments (/proc/PID/cmdline) joined with single spaces, at most
  /// 4096 bytes; raw bytes; chosen by the process itself.
  std::string cmdline;
  /// Real user id.
  std::uint32_t uid = 0;
  /// Start time in clock ticks after boot (/proc/PID/stat field 22): with
  /// the pid, identifies the process across pid reuse.
  std::uint64_t start_time = 0;
  /// A kernel thread (no memory of its own, no executable).
  bool kernel_thread = false;
  /// Exited, not yet reaped (state Z or X): no memory left to read.
  bool zombie = false;
};

/// One line of /proc/PID/maps.
struct MemoryRegion {
  std::uint64_t start = 0;  ///< first address
  std::uint64_t end = 0;    ///< one past the last address
  /// As the kernel prints them: "r-xp", "rw-s", ...
  std::string perms;
  /// Offset into the mapped file; 0 for anonymous memory.
  std::uint64_t offset = 0;
  /// The mapped file's path (" (deleted)" kept, as the kernel prints it),
  /// a pseudo name ("[heap]", "[stack]", "[vdso]"), or "" for anonymous
  /// memory. Raw bytes.
  std::string path;
  std::uint64_t inode = 0;

  std::uint64_t size() const { return end - start; }
  bool readable() const { return !perms.empty() && perms[0] == 'r'; }
};

/// Where something found in a live process lies (docs/report-format.md,
/// `process`).
struct ProcessLocation {
  ProcessInfo process;
  /// For a match in memory: the region holding the first matching string
  /// of the rules reported together; unset for the executable, and for a
  /// rule that matched in memory without a string (its condition alone).
  std::optional<MemoryRegion> region = std::nullopt;
  /// True for what was found in memory; false for the executable.
  bool memory = false;
};

/// `where` spelt as one path for reports: "/proc/PID/exe" for the
/// executable, "/proc/PID/mem" for memory, with "@0xSTART" (lower-case
/// hex) when a region is named ("/proc/812/mem@0x55d4c3a00000").
std::string process_path(const ProcessLocation& where);

/// The pids in /proc, ascending. Fails only when /proc cannot be listed.
Result<std::vector<int>> list_processes();

/// Reads the facts of `pid`. Fails (message naming the pid and the file)
/// when the process is gone or /proc/PID cannot be read.
Result<ProcessInfo> read_process_info(int pid);

/// True while the process `info` describes still runs: the pid exists
/// and has the same start time (so a reused pid is not taken for it).
bool still_running(const ProcessInfo& info);

/// Reads /proc/PID/maps. Fails when the process is gone or the map is not
/// readable to this user ("permission denied").
Result<std::vector<MemoryRegion>> read_memory_map(int pid);

/// One process's memory, opened once (/proc/PID/mem, read-only). Reads
/// never stop the target. Not thread-safe: one user at a time.
class ProcessMemory {
 public:
  /// Fails with "permission denied" (EACCES/EPERM: not root, another
  /// user's process, Yama ptrace_scope) or when the process is gone.
  static Result<std::unique_ptr<ProcessMemory>> open(int pid);
  ~ProcessMemory();
  ProcessMemory(const ProcessMemory&) = delete;
  ProcessMemory& operator=(const ProcessMemory&) = delete;

  /// Copies up to `out.size()` bytes at `address` into `out`. Returns the
  /// count, smaller than asked where the mapping ends or a page cannot be
  /// read (e.g. unmapped meanwhile); 0 when nothing at `address` can be read.
  /// Fails only when the process is gone or reading is refused.
  Result<std::size_t> read_at(std::uint64_t address, std::span<std::uint8_t> out);

 private:
  ProcessMemory(int fd, int pid) : fd_(fd), pid_(pid) {}
  int fd_ = -1;
  int pid_ = 0;
};

/// A source over the executable of `pid`, opened through /proc/PID/exe
/// (so a deleted file's bytes are still read). Fails with "permission
/// denied", when the process is gone, or for a kernel thread.
Result<std::unique_ptr<ByteSource>> open_process_executable(int pid);

}  // namespace iocsweep
