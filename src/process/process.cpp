// Live processes through /proc: no ptrace, nothing stopped. Everything read
// here was chosen by the process (its name, its arguments, the names of its
// mappings) or can change under us (it may exit at any time): every field
// is parsed defensively and every read may fail.

#include "iocsweep/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "process/maps_parse.hpp"

namespace iocsweep {
namespace {

constexpr std::size_t kMaxCmdline = 4096;
// Kernel threads carry PF_KTHREAD in /proc/PID/stat's flags (field 9).
constexpr unsigned long long kPfKthread = 0x00200000;

std::string proc_file(int pid, const char* name) { return "/proc/" + std::to_string(pid) + "/" + name; }

std::string errno_text(int err) {
  if (err == EACCES || err == EPERM) return "permission denied";
  if (err == ENOENT || err == ESRCH) return "process exited";
  return std::strerror(err);
}

// Reads at most `limit` bytes of a /proc file (they are generated: size 0
// in stat, so read until the end).
Result<std::string> read_small(const std::string& path, std::size_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path + ": " + errno_text(errno)};
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Error{path + ": " + errno_text(err)};
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The whitespace-separated fields of stat after the command name.
std::vector<std::string_view> split_fields(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const std::size_t j = s.find(' ', i);
    const std::size_t end = j == std::string_view::npos ? s.size() : j;
    if (end > i) out.push_back(s.substr(i, end - i));
    i = end;
  }
  return out;
}

}  // namespace

Result<StatFields> parse_stat(std::string_view stat) {
  // "PID (COMM) STATE PPID ...": COMM may hold spaces and ')' itself, so
  // it ends at the last ')'.
  const std::size_t open = stat.find('(');
  const std::size_t close = stat.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Error{"no command name"};
  }
  StatFields f;
  f.name = std::string(stat.substr(open + 1, close - open - 1));
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
  const std::vector<std::string_view> fields = split_fields(rest);
  // fields[0] is field 3 (state); field N is fields[N - 3].
  if (fields.size() < 20) return Error{"too few fields"};
  f.state = fields[0].empty() ? '?' : fields[0][0];
  std::uint64_t ppid = 0, flags = 0, start = 0;
  if (!parse_u64(fields[1], ppid) || !parse_u64(fields[6], flags) || !parse_u64(fields[19], start)) {
    return Error{"malformed field"};
  }
  f.ppid = static_cast<int>(ppid);
  f.kernel_thread = (flags & kPfKthread) != 0;
  f.start_time = start;
  return f;
}

Result<MemoryRegion> parse_maps_line(std::string_view line) {
  // START-END PERMS OFFSET DEV INODE [PATH]; PATH may hold spaces.
  std::size_t i = 0;
  const auto next = [&]() -> std::string_view {
    while (i < line.size() && line[i] == ' ') ++i;
    const std::size_t j = line.find(' ', i);
    const std::size_t end = j == std::string_view::npos ? line.size() : j;
    std::string_view f = line.substr(i, end - i);
    i = end;
    return f;
  };
  const std::string_view range = next(), perms = next(), offset = next(), dev = next(), inode = next();
  MemoryRegion r;
  const std::size_t dash = range.find('-');
  const auto hex = [](std::string_view s, std::uint64_t& out) {
    if (s.empty()) return false;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
    return ec == std::errc() && p == s.data() + s.size();
  };
  if (dash == std::string_view::npos || !hex(range.substr(0, dash), r.start) || !hex(range.substr(dash + 1), r.end) ||
      r.end < r.start || perms.size() != 4 || !hex(offset, r.offset) || dev.find(':') == std::string_view::npos ||
      !parse_u64(inode, r.inode)) {
    return Error{"malformed line"};
  }
  r.perms = std::string(perms);
  while (i < line.size() && line[i] == ' ') ++i;
  r.path = std::string(line.substr(i));
  return r;
}

Result<std::vector<int>> list_processes() {
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return Error{std::string("/proc: ") + std::strerror(errno)};
  std::vector<int> pids;
  while (const dirent* e = ::readdir(dir)) {
    std::uint64_t pid = 0;
    if (parse_u64(e->d_name, pid) && pid > 0 && pid <= 0x7fffffff) pids.push_back(static_cast<int>(pid));
  }
  ::closedir(dir);
  std::sort(pids.begin(), pids.end());
  return pids;
}

Result<ProcessInfo> read_process_info(int pid) {
  const std::string stat_path = proc_file(pid, "stat");
  Result<std::string> stat = read_small(stat_path, 4096);
  if (!stat) return stat.error();
  Result<StatFields> fields = parse_stat(*stat);
  if (!fields) return Error{stat_path + ": " + fields.error().message};
  ProcessInfo info;
  info.pid = pid;
  info.ppid = fields->ppid;
  info.name = std::move(fields->name);
  info.start_time = fields->start_time;
  info.kernel_thread = fields->kernel_thread;
  info.zombie = fields->state == 'Z' || fields->state == 'X';
  // Real uid: the first number on status's "Uid:" line.
  if (Result<std::string> status = read_small(proc_file(pid, "status"), 16384)) {
    const std::size_t at = status->find("\nUid:");
    if (at != std::string::npos) {
      std::size_t i = at + 5;
      while (i < status->size() && ((*status)[i] == '\t' || (*status)[i] == ' ')) ++i;
      std::size_t j = i;
      while (j < status->size() && (*status)[j] >= '0' && (*status)[j] <= '9') ++j;
      std::uint64_t uid = 0;
      if (parse_u64(std::string_view(*status).substr(i, j - i), uid)) info.uid = static_cast<std::uint32_t>(uid);
    }
  }
  if (Result<std::string> cmd = read_small(proc_file(pid, "cmdline"), kMaxCmdline)) {
    std::string c = std::move(*cmd);
    while (!c.empty() && c.back() == '\0') c.pop_back();
    std::replace(c.begin(), c.end(), '\0', ' ');
    info.cmdline = std::move(c);
  }
  if (!info.kernel_thread) {
    char link[4096];
    const std::string exe = proc_file(pid, "exe");
    const ssize_t n = ::readlink(exe.c_str(), link, sizeof link);
    if (n > 0 && static_cast<std::size_t>(n) < sizeof link) {
      std::string target(link, static_cast<std::size_t>(n));
      constexpr std::string_view kDeleted = " (deleted)";
      if (target.size() > kDeleted.size() &&
          target.compare(target.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
        target.resize(target.size() - kDeleted.size());
        info.exe_deleted = true;
      }
      if (target.rfind("/memfd:", 0) == 0) info.exe_deleted = true;
      info.exe = std::move(target);
    }
  }
  return info;
}

bool still_running(const ProcessInfo& info) {
  Result<std::string> stat = read_small(proc_file(info.pid, "stat"), 4096);
  if (!stat) return false;
  Result<StatFields> fields = parse_stat(*stat);
  return fields && fields->start_time == info.start_time && fields->state != 'Z' && fields->state != 'X';
}

Result<std::vector<MemoryRegion>> read_memory_map(int pid) {
  const std::string path = proc_file(pid, "maps");
  // A map is a few hundred lines; a process with a million mappings is
  // bounded here (64 MiB of text) rather than read without end.
  Result<std::string> text = read_small(path, std::size_t{64} << 20);
  if (!text) return text.error();
  std::vector<MemoryRegion> regions;
  std::string_view rest = *text;
  std::size_t line_no = 0;
  while (!rest.empty()) {
    ++line_no;
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty()) continue;
    Result<MemoryRegion> r = parse_maps_line(line);
    if (!r) return Error{path + ":" + std::to_string(line_no) + ": " + r.error().message};
    regions.push_back(std::move(*r));
  }
  return regions;
}

Result<std::unique_ptr<ProcessMemory>> ProcessMemory::open(int pid) {
  const std::string path = proc_file(pid, "mem");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path + ": " + errno_text(errno)};
  return std::unique_ptr<ProcessMemory>(new ProcessMemory(fd, pid));
}

ProcessMemory::~ProcessMemory() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::size_t> ProcessMemory::read_at(std::uint64_t address, std::span<std::uint8_t> out) {
  std::size_t got = 0;
  while (got < out.size()) {
    // Addresses above 2^63 are not valid off_t: nothing can be read there.
    if (address + got > static_cast<std::uint64_t>(INT64_MAX)) break;
    const ssize_t n = ::pread(fd_, out.data() + got, out.size() - got, static_cast<off_t>(address + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      // EIO/EFAULT: a page that cannot be read (unmapped meanwhile, a
      // guard page, device memory): the read ends there.
      if (errno == EIO || errno == EFAULT) break;
      return Error{proc_file(pid_, "mem") + " at " + std::to_string(address + got) + ": " + errno_text(errno)};
    }
    if (n == 0) break;  // the address space of a process that exited
    got += static_cast<std::size_t>(n);
  }
  return got;
}

namespace {

class ExecutableSource final : public ByteSource {
 public:
  ExecutableSource(int fd, std::uint64_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  ~ExecutableSource() override { ::close(fd_); }
  std::uint64_t size() const override { return size_; }
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    for (;;) {
      const ssize_t n = ::pread(fd_, out.data(), out.size(), static_cast<off_t>(offset));
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) return Error{path_ + ": " + std::strerror(errno)};
    }
  }

 private:
  int fd_;
  std::uint64_t size_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> open_process_executable(int pid) {
  const std::string path = proc_file(pid, "exe");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Error{path + ": " + errno_text(errno)};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    return Error{path + ": " + (S_ISREG(st.st_mode) ? errno_text(err) : "not a regular file")};
  }
  return std::unique_ptr<ByteSource>(new ExecutableSource(fd, static_cast<std::uint64_t>(st.st_size), path));
}

}  // namespace iocsweep
