#pragma once
// Helpers shared by the tests: temporary trees that clean up after
// themselves, running the built binary, and synthesised (harmless) PE files.

#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace iocsweep::test {

/// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() : TempDir(default_base()) {}
  /// A fresh directory under `base` (a filesystem a test needs, /dev/shm).
  explicit TempDir(const std::string& base) {
    std::string tmpl = base + "/iocsweep-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~TempDir() {
    // Make everything removable first (tests chmod things away).
    ::nftw(
        path_.c_str(),
        [](const char* p, const struct stat* sb, int type, struct FTW*) {
          if (type == FTW_D || type == FTW_DNR) ::chmod(p, 0700);
          (void)sb;
          return 0;
        },
        64, FTW_PHYS);
    ::nftw(
        path_.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 64,
        FTW_DEPTH | FTW_PHYS);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  static std::string default_base() {
    const char* base = std::getenv("TMPDIR");
    return base && *base ? base : "/tmp";
  }
  std::string path_;
};

inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// In one piece through the stream buffer: a character at a time took
// seconds per 100 MB in the unoptimised sanitizer builds.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();  // inserts nothing (and marks `out` failed) for an empty or missing file
  return std::move(out).str();
}

/// True in a sanitizer build. Randomised equivalence checks that take
/// seconds in the dev build (minutes under a sanitizer) run fewer rounds
/// there; the dev build runs them all.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

inline void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) throw std::runtime_error("mkdir " + path);
}

/// Bytes of `s`, for APIs that take a ByteView.
inline std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// The iocsweep binary the integration tests run: the one this build made,
/// or IOCSWEEP_TEST_BINARY when set, so the same tests check another build
/// of the same source (the static binary, a cross-built one).
inline std::string binary_under_test() {
  const char* other = std::getenv("IOCSWEEP_TEST_BINARY");
  return other != nullptr && *other != '\0' ? other : IOCSWEEP_BINARY;
}

/// The command that runs a binary of another architecture here
/// (IOCSWEEP_TEST_EMULATOR, e.g. qemu-aarch64-static), empty when native.
inline std::string test_emulator() {
  const char* emu = std::getenv("IOCSWEEP_TEST_EMULATOR");
  return emu != nullptr ? emu : "";
}

/// `args` as the argv to exec: when args[0] is the binary under test and an
/// emulator is set, the emulator's words (split at spaces) go first. Every
/// test that starts the binary goes through this; exec the result with a
/// PATH search (posix_spawnp, execvp): the emulator may be a bare name.
inline std::vector<std::string> command_line(std::vector<std::string> args) {
  if (args.empty() || args[0] != binary_under_test()) return args;
  std::vector<std::string> prefix;
  std::istringstream words(test_emulator());
  for (std::string w; words >> w;) prefix.push_back(w);
  args.insert(args.begin(), prefix.begin(), prefix.end());
  return args;
}

/// A NULL-terminated argv pointing into `args`, which must outlive it.
/// Built before a fork, so the child only execs.
inline std::vector<char*> exec_argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

/// True when the binary under test runs under an emulator; the few tests
/// that watch the process itself (its threads, its scheduling) skip then.
inline bool under_emulator() { return !test_emulator().empty(); }

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `args[0]` with `args`, capturing stdout and stderr (through files,
/// so large output cannot deadlock), in the directory `cwd` if not empty.
/// The binary under test runs through test_emulator() when one is set.
inline RunResult run(std::vector<std::string> args, const std::string& stdin_path = "/dev/null",
                     const std::string& cwd = "") {
  args = command_line(std::move(args));
  TempDir io;
  const std::string out_path = io / "out", err_path = io / "err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<char*> argv = exec_argv(args);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("posix_spawn " + args[0] + " failed");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

/// A minimal, harmless PE file: DOS header, "PE\0\0" at e_lfanew, a
/// COFF header for i386, then `payload` (the strings a rule looks for).
/// It does nothing and cannot run; it only has the shape rules gate on.
inline std::string synth_pe(const std::string& payload) {
  std::string pe(0x80, '\0');
  pe[0] = 'M';
  pe[1] = 'Z';
  pe[0x3C] = 0x40;  // e_lfanew
  pe.replace(0x40, 4, std::string("PE\0\0", 4));
  pe[0x44] = 0x4C;  // Machine: i386
  pe[0x45] = 0x01;
  pe += payload;
  pe.resize(pe.size() + 64, '\0');
  return pe;
}

/// UTF-16LE form of ASCII text, as Windows binaries store wide strings.
inline std::string wide(const std::string& ascii) {
  std::string out;
  for (char c : ascii) {
    out += c;
    out += '\0';
  }
  return out;
}

/// Bytes that satisfy the built-in SWIFT engine rule through its tier-1
/// strings (RC4 key and patch status line), wrapped in a harmless PE.
inline std::string synth_swift_engine() {
  const std::string key("\x4E\x38\x1F\xA7\x7F\x08\xCC\xAA\x0D\x56\xED\xEF\xF9\xED\x08\xEF", 16);
  return synth_pe(std::string("\0", 1) + key + std::string("\0", 1) + "PI (found, patched)" + std::string("\0", 1));
}

}  // namespace iocsweep::test
