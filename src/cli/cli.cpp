#include "cli/cli.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "cli/config_file.hpp"
#include "cli/progress.hpp"
#include "iocsweep/baseline.hpp"
#include "iocsweep/build_info.hpp"
#include "iocsweep/output_file.hpp"
#include "iocsweep/pipeline.hpp"
#include "iocsweep/throttle.hpp"
#include "iocsweep/version.hpp"
#include "iocsweep/walk.hpp"
#include "report/json_fields.hpp"

namespace iocsweep::cli {
namespace {

constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0  scan complete, nothing found\n"
    "  1  findings (even if some files could not be read)\n"
    "  2  fatal: bad arguments, rule compile error, bad or unreadable IOC file,\n"
    "     bad baseline, output cannot be written; nothing was scanned or no report was written\n"
    "  3  no findings, but the scan is not clean: some files could not be read\n"
    "     or scanned (errors[] in the report), content was skipped unscanned\n"
    "     (too large, archive limits, encrypted: stats.skipped_unscanned), or it\n"
    "     was interrupted\n"
    "  130  a second SIGINT/SIGTERM ended the scan at once: no report is written\n"
    "  With --fail-on, only findings of at least that severity count for 1 (and\n"
    "  against 3); findings accepted by --baseline never count.";

/// Flags as typed, before validation.
struct RawScanOptions {
  std::vector<std::string> paths;
  std::vector<std::string> rules;
  std::vector<std::string> iocs;
  std::vector<std::string> filename_iocs;
  std::vector<std::string> allow_hashes;
  std::vector<std::string> signature_base;
  bool no_builtin = false;
  std::string output;
  std::string format;
  unsigned threads = 0;
  std::string max_filesize = "256M";
  int timeout_s = 60;
  int min_score = 0;
  bool one_file_system = false;
  bool follow_symlinks = false;
  std::vector<std::string> excludes;
  std::vector<std::string> exclude_from;
  std::vector<std::string> include_fs;
  bool strict_atime = false;
  std::string archives = "on";
  unsigned archive_depth = 3;
  std::string rule_cache;
  bool no_rule_cache = false;
  bool no_prefilter = false;
  std::string cache;
  bool no_cache = false;
  bool verify_cache = false;
  double cache_min_age_s = -1;  // < 0: the kernel's writeback delay
  bool quiet = false;
  bool syslog = false;
  std::string syslog_socket = "/dev/log";
  std::string syslog_facility = "user";
  bool dump_config = false;
  std::string baseline;
  std::string write_baseline;
  std::string fail_on;
  int nice = -1;  // -1: leave alone
  bool io_idle = false;
  double max_rate_mb = 0;
  double max_load = 0;
  bool progress = false;
};

struct RawRulesOptions {
  std::vector<std::string> rules;
  bool no_builtin = false;
  bool json = false;
};

// A positive, finite decimal number no larger than `max` (CLI11's own
// range checks let "nan" through).
CLI::Validator positive_number_up_to(double max) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) || value <= 0 || value > max) {
          return "must be a number above 0 and at most " + CLI::detail::to_string(max) + ", not " + text;
        }
        return "";
      },
      "POSITIVE");
}

void add_pack_options(CLI::App& cmd, std::vector<std::string>& rules, bool& no_builtin) {
  cmd.add_option("--rules", rules,
                 "YARA rule file (.yar/.yara), or a directory whose .yar/.yara files are all loaded; "
                 "repeatable; added to the built-in pack")
      ->type_name("PATH")
      ->allow_extra_args(false);
  cmd.add_flag("--no-builtin", no_builtin, "Do not load the built-in rules and IOC lists");
}

/// Blocks SIGINT/SIGTERM in every thread and turns them into a stop request
/// from one dedicated thread (no work in a signal handler). A second signal
/// ends the process at once (exit 130), removing the unfinished temporary
/// files of the outputs in `remove_on_exit` first (never a device or FIFO
/// written in place): they exist before any signal and outlive this object,
/// so that takes only unlinkat() and _exit().
class SignalStopper {
 public:
  explicit SignalStopper(std::vector<const OutputFile*> remove_on_exit) : remove_on_exit_(std::move(remove_on_exit)) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR1);  // private: wakes the thread at shutdown
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] {
      bool stopping = false;
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0) continue;
        if (sig == SIGUSR1) return;
        if (stopping) {
          for (const OutputFile* file : remove_on_exit_) file->remove_unfinished();
          _exit(kExitForced);
        }
        stopping = true;
        source_.request_stop();
      }
    });
  }
  ~SignalStopper() {
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }
  SignalStopper(const SignalStopper&) = delete;
  SignalStopper& operator=(const SignalStopper&) = delete;
  std::stop_token token() const { return source_.get_token(); }

 private:
  const std::vector<const OutputFile*> remove_on_exit_;
  sigset_t set_;
  std::stop_source source_;
  std::thread thread_;
};

// Directory descriptors are held while their entries are queued and while
// deep trees are walked: allow as many as the hard limit permits.
void raise_fd_limit() {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Canonical form of `path`, or of its nearest existing ancestor with the
// rest appended (the cache directory may not exist yet).
std::string canonical_or_ancestor(std::string path) {
  if (path.empty()) return path;
  if (path[0] != '/') {
    std::error_code ec;
    path = std::filesystem::current_path(ec).string() + "/" + path;
  }
  std::string head = path;
  std::string tail;
  for (;;) {
    if (char* real = ::realpath(head.c_str(), nullptr)) {
      std::string out(real);
      std::free(real);
      if (tail.empty()) return out;
      return (out == "/" ? "" : out) + "/" + tail;
    }
    const std::size_t slash = head.find_last_of('/');
    if (slash == std::string::npos || head == "/") return path;
    tail = head.substr(slash + 1) + (tail.empty() ? "" : "/" + tail);
    head = slash == 0 ? "/" : head.substr(0, slash);
  }
}

bool is_inside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root ||
         (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/');
}

// `real` (canonical) below `root`, spelt as the walk of `root` spells it
// (the root as given, then "/NAME" per level). `real` must be inside
// canonical_or_ancestor(root).
std::string walked_spelling(const std::string& real, const std::string& root) {
  const std::string real_root = canonical_or_ancestor(root);
  std::string rest = real_root == "/" ? real : real.substr(real_root.size());
  std::string walked = root;
  if (!rest.empty() && !walked.empty() && walked.back() == '/') rest.erase(0, 1);
  return walked + rest;
}

// Whether the walk of `root` can enter the filesystem holding `real` (a
// canonical path below it, or the nearest existing directory above a file
// not yet created): not with --one-file-system when that is another
// device, nor when it is a filesystem skipped by default (nfs, proc, ...)
// and not named by --include-fs. As the walker decides (walker.cpp, enter).
bool walk_reaches_device(const std::string& real, const std::string& root, const RawScanOptions& raw) {
  struct stat root_st {};
  if (::stat(root.c_str(), &root_st) != 0) return true;
  struct stat st {};
  std::string p = real;
  while (::stat(p.c_str(), &st) != 0) {
    const std::size_t slash = p.find_last_of('/');
    if (slash == std::string::npos || p == "/") return true;
    p = slash == 0 ? "/" : p.substr(0, slash);
  }
  if (st.st_dev == root_st.st_dev) return true;
  if (raw.one_file_system) return false;
  const std::string type = MountTable::current().type_of(st.st_dev);
  return !skip_by_default_fs(type) ||
         std::find(raw.include_fs.begin(), raw.include_fs.end(), type) != raw.include_fs.end();
}

// Forensic rule: the sweep never writes inside what it scans. A file it
// writes, `file` with each of `suffixes` appended (SQLite's companions, the
// temporary file a report is written to first), must lie outside every
// PATH or be taken out of the walk by an --exclude glob, matched as the
// walker matches it (ExcludeMatcher). Returns "" when it may be written,
// else a message naming `option` and the --exclude to add.
std::string placement_error(const std::string& option, const std::string& file,
                            std::initializer_list<const char*> suffixes, const RawScanOptions& raw) {
  const std::string real = canonical_or_ancestor(file);
  for (const std::string& root : raw.paths) {
    if (!is_inside(real, canonical_or_ancestor(root))) continue;
    if (!walk_reaches_device(real, root, raw)) continue;
    const std::string walked = walked_spelling(real, root);
    const ExcludeMatcher matcher(raw.excludes, root);
    for (const char* suffix : suffixes) {
      if (matcher.excludes_on_the_way(walked + suffix)) continue;
      return option + " " + file + " lies inside the scanned path " + root +
             ", and the sweep never writes inside what it scans: put it elsewhere, or exclude it with --exclude '" +
             walked + "*'";
    }
  }
  return "";
}

// Where compiled rule sets are cached, or "" for no cache. Forensic rule:
// the sweep never writes inside what it scans, so a cache directory inside
// a scan root (say ~/.cache when sweeping /) is not used unless an
// --exclude glob takes it out of the sweep.
std::string rule_cache_dir(const RawScanOptions& raw) {
  if (raw.no_rule_cache) return "";
  std::string dir = raw.rule_cache;
  if (dir.empty()) {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
      dir = std::string(xdg) + "/iocsweep";
    } else if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/') {
      dir = std::string(home) + "/.cache/iocsweep";
    } else {
      return "";
    }
  }
  return placement_error("--rule-cache", dir, {""}, raw).empty() ? dir : "";
}

// The files the sweep writes: a --cache file inside a scanned root, or an
// -o or --write-baseline file, each with what is written beside it, must
// be --exclude'd (or elsewhere). The first violation, or "".
std::string written_files_placement_error(const RawScanOptions& raw, bool use_cache) {
  // OutputFile writes FILE.tmp-XXXXXX first, then renames it; a device or
  // FIFO it writes in place changes no file.
  if (!raw.output.empty() && !output_written_in_place(raw.output)) {
    if (std::string e = placement_error("-o", raw.output, {"", ".tmp-XXXXXX"}, raw); !e.empty()) return e;
  }
  if (!raw.write_baseline.empty() && !output_written_in_place(raw.write_baseline)) {
    if (std::string e = placement_error("--write-baseline", raw.write_baseline, {"", ".tmp-XXXXXX"}, raw); !e.empty()) {
      return e;
    }
  }
  if (use_cache) return placement_error("--cache", raw.cache, {"", "-wal", "-shm", "-journal"}, raw);
  return "";
}

// The roots to walk: each existing path once (by canonical path), and none
// that lies inside another root whose walk reaches it (not --exclude'd on
// the way there, and on the same device with --one-file-system). A path
// that does not resolve is kept, so that its error is reported. Each
// dropped root gets a note on stderr (unless --quiet).
std::vector<std::string> distinct_roots(const RawScanOptions& raw) {
  const std::size_t n = raw.paths.size();
  std::vector<std::optional<std::string>> real(n);
  std::vector<dev_t> dev(n);
  for (std::size_t i = 0; i < n; ++i) {
    struct stat st {};
    char* resolved = ::realpath(raw.paths[i].c_str(), nullptr);
    if (resolved == nullptr) continue;
    real[i] = resolved;
    std::free(resolved);
    if (::stat(real[i]->c_str(), &st) == 0) dev[i] = st.st_dev;
  }
  // Outer roots first (shorter canonical paths; the user's order among
  // equals), each compared only with roots already kept: a root is never
  // dropped for lying inside one that is dropped itself.
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return (real[a] ? real[a]->size() : 0) < (real[b] ? real[b]->size() : 0);
  });
  std::vector<bool> kept(n, false);
  std::vector<std::string> why(n);
  for (const std::size_t i : order) {
    for (std::size_t j = 0; j < n && why[i].empty() && real[i]; ++j) {
      if (j == i || !kept[j] || !real[j]) continue;
      const std::string& inner = raw.paths[i];
      const std::string& outer = raw.paths[j];
      if (*real[i] == *real[j]) {
        why[i] = "PATH " + inner + " is the same as PATH " + outer + " and is scanned once";
        continue;
      }
      if (!is_inside(*real[i], *real[j])) continue;
      if (raw.one_file_system && dev[i] != dev[j]) continue;
      if (ExcludeMatcher(raw.excludes, outer).excludes_on_the_way(walked_spelling(*real[i], outer))) continue;
      why[i] = "PATH " + inner + " lies inside PATH " + outer + " and is scanned as part of it";
    }
    kept[i] = why[i].empty();
  }
  std::vector<std::string> roots;
  for (std::size_t i = 0; i < n; ++i) {
    if (kept[i]) {
      roots.push_back(raw.paths[i]);
    } else if (!raw.quiet) {
      std::cerr << "iocsweep: note: " << escape_for_terminal(why[i]) << "\n";
    }
  }
  return roots;
}

// Whether `a` and `b` lead to one character device (/dev/null twice):
// both may write there, nothing is replaced. A FIFO or a descriptor is
// not: two documents in one stream could not be told apart.
bool same_character_device(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && S_ISCHR(sa.st_mode) && S_ISCHR(sb.st_mode) &&
         sa.st_rdev == sb.st_rdev;
}

// Two of -o, --write-baseline and --cache (with its -wal, -shm and
// -journal files) naming the same file, or "". -o and --write-baseline may
// both name one character device.
std::string output_clash(const RawScanOptions& raw, bool use_cache) {
  std::vector<std::pair<std::string, std::string>> files;  // canonical path, option
  if (!raw.output.empty()) files.emplace_back(canonical_or_ancestor(raw.output), "-o");
  if (!raw.write_baseline.empty()) files.emplace_back(canonical_or_ancestor(raw.write_baseline), "--write-baseline");
  if (use_cache) {
    const std::string cache = canonical_or_ancestor(raw.cache);
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) files.emplace_back(cache + suffix, "--cache");
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    for (std::size_t j = i + 1; j < files.size(); ++j) {
      if (files[i].second == "-o" && files[j].second == "--write-baseline" &&
          same_character_device(raw.output, raw.write_baseline)) {
        continue;
      }
      if (files[i].first == files[j].first && files[i].second != files[j].second) {
        return files[i].second + " and " + files[j].second + " name the same file: " + files[i].first;
      }
    }
  }
  return "";
}

// `text` (paths, rule names, libyara's messages: outside text) escaped for
// the terminal line by line: the lines of a multi-error compile message stay
// lines, and no byte of it is a terminal escape.
std::string escape_lines(std::string_view text) {
  std::string out;
  for (std::size_t start = 0;;) {
    const std::size_t nl = text.find('\n', start);
    out += escape_for_terminal(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) return out;
    out += '\n';
    start = nl + 1;
  }
}

void print_warnings(const Pack& pack, bool quiet) {
  if (quiet) return;
  if (pack.rules) {
    for (const std::string& w : pack.rules->warnings()) {
      std::cerr << "iocsweep: warning: " << escape_lines(w) << "\n";
    }
  }
  for (const std::string& w : pack.warnings) std::cerr << "iocsweep: warning: " << escape_for_terminal(w) << "\n";
}

// Loads what `request` names; on failure prints the file:line message and
// returns nothing (the caller exits 2), otherwise prints the warnings.
std::optional<Pack> load_pack_or_report(const PackRequest& request, bool quiet) {
  auto pack = load_pack(request);
  if (!pack) {
    std::cerr << "iocsweep: " << escape_lines(pack.error().message) << "\n";
    return std::nullopt;
  }
  print_warnings(*pack, quiet);
  return std::move(*pack);
}

// Globs from an --exclude-from file: one per line, exactly as written
// (only a trailing CR is dropped); blank lines and lines starting with '#'
// are ignored.
Status read_exclude_file(const std::string& path, std::vector<std::string>& globs) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"--exclude-from " + path + ": cannot read the file"};
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find('\0') != std::string::npos) {
      return Error{path + ":" + std::to_string(number) + ": NUL byte in an exclude glob"};
    }
    if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
    globs.push_back(line);
  }
  if (in.bad()) return Error{"--exclude-from " + path + ": read error"};
  return Ok{};
}

int facility_code(const std::string& name) {
  if (name == "user") return 1;
  if (name == "daemon") return 3;
  if (name == "auth") return 4;
  if (name == "authpriv") return 10;
  if (name.size() == 6 && name.rfind("local", 0) == 0 && name[5] >= '0' && name[5] <= '7') return 16 + (name[5] - '0');
  return -1;
}

int run_scan_command(RawScanOptions raw) {
  // Validate everything before anything is scanned or written.
  if (raw.paths.empty()) {
    std::cerr << "iocsweep: scan: PATH is required (on the command line or as PATH in the config file)\n";
    return kExitFatal;
  }
  for (const std::string& file : raw.exclude_from) {
    Status read = read_exclude_file(file, raw.excludes);
    if (!read) {
      std::cerr << "iocsweep: " << escape_for_terminal(read.error().message) << "\n";
      return kExitFatal;
    }
  }
  auto max_size = parse_size(raw.max_filesize);
  if (!max_size) {
    std::cerr << "iocsweep: --max-filesize: " << max_size.error().message << "\n";
    return kExitFatal;
  }
  // Before any thread exists (the signal thread, the workers): nice value
  // and I/O class are per thread on Linux and inherited at creation.
  if (raw.nice >= 0) {
    if (Status s = lower_cpu_priority(raw.nice); !s) {
      std::cerr << "iocsweep: --nice: " << s.error().message << "\n";
      return kExitFatal;
    }
  }
  if (raw.io_idle) {
    if (Status s = use_idle_io_priority(); !s) {
      std::cerr << "iocsweep: --io-idle: " << s.error().message << "\n";
      return kExitFatal;
    }
  }
  // Lowest finding score that makes the exit code 1 (--fail-on).
  const int fail_score = raw.fail_on == "alert" ? 80 : raw.fail_on == "warning" ? 60 : raw.fail_on == "notice" ? 40 : 0;
  std::shared_ptr<const Baseline> baseline;
  if (!raw.baseline.empty()) {
    auto loaded = Baseline::load(raw.baseline);
    if (!loaded) {
      std::cerr << "iocsweep: --baseline: " << escape_for_terminal(loaded.error().message) << "\n";
      return kExitFatal;
    }
    baseline = std::make_shared<const Baseline>(std::move(*loaded));
  }
  const bool use_cache = !raw.cache.empty() && !raw.no_cache;
  if (const std::string clash = output_clash(raw, use_cache); !clash.empty()) {
    std::cerr << "iocsweep: " << escape_for_terminal(clash) << "\n";
    return kExitFatal;
  }
  if (const std::string placement = written_files_placement_error(raw, use_cache); !placement.empty()) {
    std::cerr << "iocsweep: " << escape_for_terminal(placement) << "\n";
    return kExitFatal;
  }
  const bool stdout_tty = ::isatty(STDOUT_FILENO) == 1;
  const bool stderr_tty = ::isatty(STDERR_FILENO) == 1;
  const std::string format = !raw.format.empty() ? raw.format : (raw.output.empty() && stdout_tty ? "text" : "json");

  YaraLibrary yara;
  PackRequest request;
  request.builtin = !raw.no_builtin;
  request.rule_paths = raw.rules;
  request.ioc_paths = raw.iocs;
  request.filename_ioc_paths = raw.filename_iocs;
  request.allow_hash_paths = raw.allow_hashes;
  // A signature-base checkout, loaded as Loki does: every rule file in
  // yara/, the indicator lists in iocs/.
  for (const std::string& dir : raw.signature_base) {
    request.rule_paths.push_back(dir + "/yara");
    request.ioc_paths.push_back(dir + "/iocs");
  }
  request.rule_cache.dir = rule_cache_dir(raw);
  request.prefilter = !raw.no_prefilter;
  std::optional<Pack> pack = load_pack_or_report(request, raw.quiet);
  if (!pack) return kExitFatal;

  ScanConfig config;
  config.roots = distinct_roots(raw);
  config.pack = std::move(*pack);
  config.walk.one_file_system = raw.one_file_system;
  config.walk.follow_symlinks = raw.follow_symlinks;
  config.walk.excludes = raw.excludes;
  config.walk.include_fs = raw.include_fs;
  config.walk.strict_atime = raw.strict_atime;
  config.read.strict_atime = raw.strict_atime;
  config.read.max_filesize = *max_size;
  config.threads = raw.threads == 0 ? default_thread_count() : raw.threads;
  config.yara_timeout_s = raw.timeout_s;
  config.rule_gate = !raw.no_prefilter;
  config.min_score = raw.min_score;
  config.baseline = baseline;
  config.max_bytes_per_s = raw.max_rate_mb * 1e6;
  config.max_load = raw.max_load;
  if (raw.progress || (stderr_tty && !raw.quiet)) config.progress = std::make_shared<ScanProgress>();
  config.archives = raw.archives == "on";
  config.archive.max_depth = raw.archive_depth;
  config.archive.max_member_bytes = *max_size;

  // What creates files comes last, after everything that can still fail:
  // the syslog socket, then the report and baseline files, then the cache.
  std::unique_ptr<SyslogSink> syslog;
  if (raw.syslog) {
    SyslogOptions options;
    options.socket_path = raw.syslog_socket;
    options.facility = facility_code(raw.syslog_facility);
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) options.hostname = host;
    auto opened = SyslogSink::open(options);
    if (!opened) {
      std::cerr << "iocsweep: " << escape_for_terminal(opened.error().message) << "\n";
      return kExitFatal;
    }
    syslog = std::move(*opened);
  }
  std::unique_ptr<OutputFile> out_file;
  if (!raw.output.empty()) {
    auto created = OutputFile::create(raw.output);
    if (!created) {
      std::cerr << "iocsweep: -o: " << escape_for_terminal(created.error().message) << "\n";
      return kExitFatal;
    }
    out_file = std::move(*created);
  }
  std::unique_ptr<OutputFile> baseline_file;
  if (!raw.write_baseline.empty()) {
    auto created = OutputFile::create(raw.write_baseline);
    if (!created) {
      std::cerr << "iocsweep: --write-baseline: " << escape_for_terminal(created.error().message) << "\n";
      return kExitFatal;
    }
    baseline_file = std::move(*created);
    config.baseline_writer = std::make_shared<BaselineWriter>();
  }
  if (use_cache) {
    auto cache = ScanCache::open(raw.cache);
    if (!cache) {
      std::cerr << "iocsweep: " << escape_for_terminal(cache.error().message) << "\n";
      return kExitFatal;
    }
    config.cache = std::move(*cache);
    config.verify_cache = raw.verify_cache;
    if (raw.cache_min_age_s >= 0) config.cache_min_age_ns = static_cast<std::int64_t>(raw.cache_min_age_s * 1e9);
  }
  std::ostream& out = out_file ? out_file->stream() : std::cout;
  std::unique_ptr<ReportSink> report;
  if (format == "sarif") {
    std::error_code ec;
    report = make_sarif_sink(out, std::filesystem::current_path(ec).string());
  } else {
    report = format == "text"     ? make_text_sink(out)
             : format == "ndjson" ? make_ndjson_sink(out)
             : format == "csv"    ? make_csv_sink(out)
                                  : make_json_sink(out);
  }
  std::unique_ptr<ReportSink> tee;
  if (syslog) tee = make_tee_sink(*report, *syslog);
  ReportSink& sink = tee ? *tee : *report;

  raise_fd_limit();
  ScanOutcome outcome;
  {
    std::vector<const OutputFile*> unfinished;
    if (out_file) unfinished.push_back(out_file.get());
    if (baseline_file) unfinished.push_back(baseline_file.get());
    SignalStopper stopper(std::move(unfinished));
    if (config.progress) {
      // After the stopper: the drawing thread inherits the blocked signals.
      ProgressLine line(config.progress, STDERR_FILENO);
      auto aware = make_progress_aware_sink(sink, line, stdout_tty && stderr_tty && !out_file);
      outcome = run_scan(config, *aware, stopper.token());
    } else {
      outcome = run_scan(config, sink, stopper.token());
    }
  }
  if (syslog && syslog->messages_failed() > 0) {
    std::cerr << "iocsweep: warning: syslog: " << syslog->messages_failed() << " of "
              << syslog->messages_failed() + syslog->messages_sent()
              << " messages could not be sent (last error: " << syslog->last_error()
              << "); the report has every finding\n";
  }
  if (!outcome.write_error.empty()) {
    // A reader that went away (`| head`, also through -o /dev/stdout or a
    // FIFO) is not worth a message.
    const bool reader_gone = errno == EPIPE && (!out_file || out_file->in_place());
    if (!reader_gone) std::cerr << "iocsweep: " << outcome.write_error << "\n";
    return kExitFatal;
  }
  if (out_file) {
    Status committed = out_file->commit();
    if (!committed) {
      std::cerr << "iocsweep: -o: " << escape_for_terminal(committed.error().message) << "\n";
      return kExitFatal;
    }
  }
  const bool saw_everything = scan_saw_everything(ScanEnd{"", outcome.complete, outcome.stats});
  if (baseline_file && !saw_everything) {
    // A baseline is a complete replacement: from a partial scan it would
    // drop accepted findings in files that were not looked at.
    std::cerr << "iocsweep: --write-baseline: not written, the scan "
              << (outcome.complete ? "did not match every file (see errors[] and skipped[])" : "was interrupted")
              << "; " << escape_for_terminal(raw.write_baseline) << " is left as it was\n";
    baseline_file.reset();
  }
  if (baseline_file) {
    Status written = config.baseline_writer->write(baseline_file->stream());
    if (written) written = baseline_file->commit();
    if (!written) {
      std::cerr << "iocsweep: --write-baseline: " << escape_for_terminal(written.error().message) << "\n";
      return kExitFatal;
    }
  }
  if (!outcome.cache_error.empty() && !raw.quiet) {
    std::cerr << "iocsweep: warning: the scan cache was not fully updated: " << escape_for_terminal(outcome.cache_error)
              << "\n";
  }
  if (!outcome.complete && !raw.quiet) std::cerr << "iocsweep: interrupted; the report covers what was done\n";
  if (outcome.stats.findings > 0 && outcome.max_finding_score >= fail_score) return kExitFindings;
  if (!saw_everything) return kExitIncomplete;
  return kExitClean;
}

// Meta as in reports: a key declared twice keeps both values.
nlohmann::json rule_to_json(const RuleInfo& rule) {
  return {{"name", rule.name},
          {"namespace", rule.ns},
          {"tags", rule.tags},
          {"meta", report_detail::meta_to_json(rule.meta)},
          {"score", rule.score}};
}

int run_rules_list(const RawRulesOptions& raw) {
  YaraLibrary yara;
  PackRequest request;
  request.builtin = !raw.no_builtin;
  request.rule_paths = raw.rules;
  request.prefilter = false;  // listing scans nothing
  std::optional<Pack> pack = load_pack_or_report(request, false);
  if (!pack) return kExitFatal;
  const std::vector<RuleInfo> none;
  const auto& rules = pack->rules ? pack->rules->rules() : none;
  if (raw.json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const RuleInfo& r : rules) doc.push_back(rule_to_json(r));
    std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const RuleInfo& r : rules) {
      std::cout << escape_for_terminal(r.ns) << ":" << escape_for_terminal(r.name) << "  score=" << r.score;
      if (!r.tags.empty()) {
        std::cout << "  tags=";
        for (std::size_t i = 0; i < r.tags.size(); ++i) std::cout << (i ? "," : "") << escape_for_terminal(r.tags[i]);
      }
      std::cout << "\n";
      for (const auto& [key, value] : r.meta) {
        std::cout << "    " << escape_for_terminal(key) << " = ";
        std::visit(
            [](const auto& x) {
              using T = std::decay_t<decltype(x)>;
              if constexpr (std::is_same_v<T, std::string>) {
                std::cout << escape_for_terminal(x);
              } else if constexpr (std::is_same_v<T, bool>) {
                std::cout << (x ? "true" : "false");
              } else {
                std::cout << x;
              }
            },
            value);
        std::cout << "\n";
      }
    }
  }
  std::cout.flush();
  return std::cout ? kExitClean : kExitFatal;
}

struct RawIocsOptions {
  std::vector<std::string> iocs;
  std::vector<std::string> signature_base;
  std::vector<std::string> filename_iocs;
  std::vector<std::string> allow_hashes;
  bool no_builtin = false;
  bool json = false;
};

int run_iocs_list(const RawIocsOptions& raw) {
  YaraLibrary yara;
  PackRequest request;
  request.builtin = !raw.no_builtin;
  request.ioc_paths = raw.iocs;
  request.filename_ioc_paths = raw.filename_iocs;
  request.allow_hash_paths = raw.allow_hashes;
  // As scan loads a signature-base checkout's indicator lists.
  for (const std::string& dir : raw.signature_base) request.ioc_paths.push_back(dir + "/iocs");
  std::optional<Pack> pack = load_pack_or_report(request, false);
  if (!pack) return kExitFatal;
  struct Row {
    const IocSetInfo* set;
    const char* kind;
  };
  std::vector<Row> rows;
  for (const IocSetInfo& s : pack->hash_iocs->sets()) rows.push_back({&s, "hash"});
  for (const IocSetInfo& s : pack->filename_iocs->sets()) rows.push_back({&s, "filename"});
  for (const IocSetInfo& s : pack->allow_hashes->sets()) rows.push_back({&s, "allow"});
  if (raw.json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const Row& r : rows) {
      doc.push_back({{"name", r.set->name},
                     {"kind", r.kind},
                     {"sha256", r.set->sha256},
                     {"count", r.set->count},
                     {"counts",
                      {{"md5", r.set->md5},
                       {"sha1", r.set->sha1},
                       {"sha256", r.set->sha256_count},
                       {"filename", r.set->filename}}}});
    }
    std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const Row& r : rows) {
      std::cout << escape_for_terminal(r.set->name) << "  " << r.kind << "  count=" << r.set->count
                << " md5=" << r.set->md5 << " sha1=" << r.set->sha1 << " sha256=" << r.set->sha256_count
                << " filename=" << r.set->filename << "  sha256:" << r.set->sha256 << "\n";
    }
  }
  std::cout.flush();
  return std::cout ? kExitClean : kExitFatal;
}

int run_rules_check(const std::vector<std::string>& paths) {
  YaraLibrary yara;
  auto checks = check_rule_files(paths);
  if (!checks) {
    std::cerr << "iocsweep: " << escape_for_terminal(checks.error().message) << "\n";
    return kExitFatal;
  }
  std::size_t failed = 0;
  for (const RuleFileCheck& c : *checks) {
    if (c.ok) {
      std::cout << "OK     " << escape_for_terminal(c.path) << " (" << c.rules << " rules)\n";
      for (const std::string& m : c.messages) std::cout << "  warning: " << escape_for_terminal(m) << "\n";
      if (!c.prefilter_off.empty()) {
        std::cout << "  note: no prefilter, every file is YARA-scanned while this file is loaded: "
                  << escape_for_terminal(c.prefilter_off) << "\n";
      }
    } else {
      ++failed;
      std::cout << "ERROR  " << escape_for_terminal(c.path) << "\n";
      for (const std::string& m : c.messages) std::cout << "  " << escape_for_terminal(m) << "\n";
    }
  }
  std::cout << checks->size() << " files, " << failed << " with errors\n";
  std::cout.flush();
  return failed == 0 ? kExitClean : kExitFatal;
}

// argv with `--config FILE` (or `--config=FILE`) given after `scan` moved
// to the front, where CLI11 reads config files; nothing after `--` moves.
std::vector<std::string> hoist_config_option(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> hoisted;
  std::vector<std::string> rest;
  bool after_scan = false;
  bool literal = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!literal && after_scan && a == "--config" && i + 1 < args.size()) {
      hoisted = {a, args[++i]};
    } else if (!literal && after_scan && a.rfind("--config=", 0) == 0) {
      hoisted = {"--config", a.substr(9)};
    } else {
      if (a == "--") literal = true;
      if (a == "scan" && !after_scan && !literal) after_scan = true;
      rest.push_back(a);
    }
  }
  std::vector<std::string> out{args.empty() ? std::string("iocsweep") : args[0]};
  out.insert(out.end(), hoisted.begin(), hoisted.end());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

bool given_on_command_line(const std::vector<std::string>& args, const std::string& key) {
  for (const std::string& a : args) {
    if (a == "--" + key || a.rfind("--" + key + "=", 0) == 0) return true;
  }
  return false;
}

}  // namespace

int run(int argc, char** argv) {
  // Output errors are reported by checking the stream, not by dying.
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "iocsweep: offline IOC sweep scanner (YARA rules, hash indicators) with a built-in\n"
      "Lazarus bank-heist pack. Reads every file once; never writes to the scanned tree.",
      "iocsweep"};
  app.footer(kExitCodesHelp);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(version()));

  RawScanOptions scan_opts;
  CLI::App* scan = app.add_subcommand("scan", "Sweep files and directories for indicators");
  scan->add_option("PATH", scan_opts.paths,
                   "Files or directories to sweep (symlinks named here are followed, "
                   "none below them; a path named twice or inside another is swept once); required")
      ->type_name("PATH...");
  add_pack_options(*scan, scan_opts.rules, scan_opts.no_builtin);
  scan->add_option("--iocs", scan_opts.iocs,
                   "Indicator file: a hash list (HASH;DESCRIPTION or HASH;SCORE;DESCRIPTION per line, '#' "
                   "comments; MD5/SHA-1/SHA-256), a STIX 2.1 bundle or a MISP event export (JSON, detected); or a "
                   "directory in signature-base's iocs/ layout; repeatable")
      ->type_name("PATH")
      ->allow_extra_args(false);
  scan->add_option("--filename-iocs", scan_opts.filename_iocs,
                   "File-name / path indicator file (REGEX;SCORE[;FALSE_POSITIVE_REGEX] per line, Loki layout; "
                   "matched on full paths, case-insensitive, either separator); repeatable")
      ->type_name("PATH")
      ->allow_extra_args(false);
  scan->add_option("--allow-hashes", scan_opts.allow_hashes,
                   "Known-good hash list (Loki falsepositive format): files it lists are never reported; repeatable")
      ->type_name("PATH")
      ->allow_extra_args(false);
  scan->add_option("--signature-base", scan_opts.signature_base,
                   "A signature-base checkout, loaded as Loki does: DIR/yara/*.yar (broken files skipped with a "
                   "warning) and DIR/iocs (hash, filename and falsepositive lists, bad lines skipped)")
      ->type_name("DIR")
      ->allow_extra_args(false);
  scan->add_option("-o,--output", scan_opts.output,
                   "Write the report to FILE (atomically: a temporary file renamed into place); default stdout")
      ->type_name("FILE");
  scan->add_option("--format", scan_opts.format,
                   "Report format: json (one document), ndjson (one JSON object per line, streamed as results "
                   "come, for SIEMs and long sweeps), csv (RFC 4180, one row per match, streamed), sarif "
                   "(SARIF 2.1.0, for code scanning and CI) or text; default json, or text when stdout is a terminal")
      ->check(CLI::IsMember({"json", "ndjson", "csv", "sarif", "text"}))
      ->type_name("json|ndjson|csv|sarif|text");
  scan->add_option("--threads", scan_opts.threads, "Worker threads (default: number of CPUs)")
      ->check(CLI::Range(1u, 256u))
      ->type_name("N");
  scan->add_option("--max-filesize", scan_opts.max_filesize,
                   "Skip (and list in skipped[]) files larger than SIZE, e.g. 64M, 1G")
      ->capture_default_str()
      ->type_name("SIZE");
  scan->add_option("--timeout", scan_opts.timeout_s, "Per-file YARA scan timeout in seconds (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400))
      ->type_name("SECONDS");
  scan->add_option("--min-score", scan_opts.min_score,
                   "Leave findings scoring below N out of the report and the exit code "
                   "(40 notice, 60 warning, 80 alert)")
      ->check(CLI::Range(0, 100))
      ->type_name("N");
  scan->add_option("--baseline", scan_opts.baseline,
                   "Leave out matches already accepted in FILE: an earlier JSON report of iocsweep or an "
                   "accepted-findings file (--write-baseline). A match is accepted by rule or indicator plus the "
                   "file's SHA-256, so a moved file stays accepted and a changed one is reported (docs/ci.md). "
                   "Default: none")
      ->type_name("FILE");
  scan->add_option("--write-baseline", scan_opts.write_baseline,
                   "Also write an accepted-findings file for every finding of this scan (including ones --baseline "
                   "left out) to FILE, atomically; use it as --baseline later. Default: none")
      ->type_name("FILE");
  scan->add_option("--fail-on", scan_opts.fail_on,
                   "Exit 1 only when a reported finding has at least this severity (notice >= 40, warning >= 60, "
                   "alert >= 80); lesser findings are still reported. Default: any finding exits 1")
      ->check(CLI::IsMember({"notice", "warning", "alert"}))
      ->type_name("notice|warning|alert");
  scan->add_flag("-x,--one-file-system", scan_opts.one_file_system,
                 "Do not descend into directories on other filesystems than their root");
  scan->add_flag("--follow-symlinks", scan_opts.follow_symlinks,
                 "Follow symbolic links below the roots (loops are detected and skipped, and a directory is "
                 "entered through links only once)");
  scan->add_option("--exclude", scan_opts.excludes,
                   "Skip files and directories whose full path matches GLOB ('*' also matches '/'), "
                   "e.g. '/var/lib/docker/*' or '*.iso'; a GLOB starting with '/' is also matched against the "
                   "absolute path when a root is given relative; repeatable")
      ->type_name("GLOB")
      ->allow_extra_args(false);
  scan->add_option("--exclude-from", scan_opts.exclude_from,
                   "Read --exclude globs from FILE, one per line exactly as written ('#' comment and blank "
                   "lines ignored); repeatable")
      ->type_name("FILE")
      ->allow_extra_args(false);
  scan->add_option("--include-fs", scan_opts.include_fs,
                   "Also walk filesystems of TYPE, which are skipped by default: pseudo filesystems "
                   "(proc, sysfs, devtmpfs, cgroup, debugfs, ...) and network ones (nfs, cifs, smb3, "
                   "fuse.sshfs, ...); repeatable")
      ->type_name("TYPE")
      ->allow_extra_args(false);
  scan->add_flag("--strict-atime", scan_opts.strict_atime,
                 "Skip files and directories that cannot be opened with O_NOATIME (not owned, no CAP_FOWNER) "
                 "instead of reading them and possibly updating their access time");
  scan->add_option(
          "--archives", scan_opts.archives,
          "Also scan the members of archives (zip, tar, tar.gz/.bz2/.xz/.zst, 7z, cpio, iso9660, cab, "
          "gzip/xz/bzip2/zstd single files) and the layers of container images (docker save tarball, "
          "OCI layout, as a tar or a directory), in memory, never extracted; findings name the member chain. Limits "
          "per file on disk: members up to --max-filesize, 1 GiB uncompressed in all, 100000 members, "
          "compression ratio 100:1 past 8 MiB; beyond them, and for encrypted members, a skipped[] "
          "entry and the scan goes on. off: files only, as plain files")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}))
      ->type_name("on|off");
  scan->add_option("--archive-depth", scan_opts.archive_depth,
                   "Open archives nested up to N deep (1: only the members of the file itself); a deeper one is "
                   "listed in skipped[] as archive_depth")
      ->capture_default_str()
      ->check(CLI::Range(1u, 32u))
      ->type_name("N");
  scan->add_option("--rule-cache", scan_opts.rule_cache,
                   "Directory for compiled rule sets, so a large rule set compiles once (default "
                   "$XDG_CACHE_HOME/iocsweep or ~/.cache/iocsweep). Never used when it lies inside a scanned "
                   "PATH and is not --exclude'd: the sweep writes nothing in what it scans")
      ->type_name("DIR");
  scan->add_flag("--no-rule-cache", scan_opts.no_rule_cache, "Compile the rules afresh; read and write no cache");
  scan->add_flag("--no-prefilter", scan_opts.no_prefilter,
                 "YARA-scan every file. By default a file is not scanned when every rule's own condition "
                 "rules it out by its size, first bytes or name (e.g. `uint16(0) == 0x5A4D and filesize < "
                 "2MB`): the verdict is the same, no rule could match it. Likewise, in a set with 50 or "
                 "more rules that require MZ, a file not beginning with MZ is scanned without them. With "
                 "--cache, cached files are not scanned again either way. `iocsweep rules check` says "
                 "which rule, if any, keeps the first from working (docs/rules.md)");
  CLI::Option* cache_opt =
      scan->add_option("--cache", scan_opts.cache,
                       "Incremental sweeps: keep in FILE (SQLite, created mode 0600) each file's stat key (device, "
                       "inode, size, mtime, ctime), digests and YARA verdict. A file on ext2/3/4, xfs, btrfs or f2fs "
                       "whose key is unchanged and whose rules are the same is not read again (files elsewhere, "
                       "as on tmpfs, are read every time): its cached result is matched against the current "
                       "indicators and reported with \"cached\": true. A rule change re-reads everything. Default: "
                       "no cache. FILE must not lie inside a scanned PATH unless --exclude'd (fatal otherwise). "
                       "See README, Incremental sweeps, for the trust model")
          ->type_name("FILE");
  scan->add_flag("--no-cache", scan_opts.no_cache, "Ignore --cache: read every file, read and write no cache");
  scan->add_flag("--verify-cache", scan_opts.verify_cache,
                 "With --cache: read every file anyway, report (in errors[]) each file whose digests differ from "
                 "its cache entry although its stat key is unchanged, and refresh the cache")
      ->needs(cache_opt);
  scan->add_option("--cache-min-age", scan_opts.cache_min_age_s,
                   "With --cache: store a file only when its last change (ctime, mtime) is at least SECONDS "
                   "old (at least 0.1). Default: twice the kernel's writeback delay (vm.dirty_expire_centisecs "
                   "+ vm.dirty_writeback_centisecs; 70 s by default), within which a write through a shared "
                   "mapping can leave a file's times unchanged; below it such a write may go unseen. Files on "
                   "tmpfs and other filesystems the cache does not trust are never cached")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 3.2e9))
      ->needs(cache_opt);
  scan->add_flag("--syslog", scan_opts.syslog,
                 "Also send each finding, and the scan's start and end, as an RFC 5424 message with structured "
                 "data to the local syslog socket (errors and skipped files stay in the report)");
  scan->add_option("--syslog-socket", scan_opts.syslog_socket, "Unix socket --syslog writes to")
      ->capture_default_str()
      ->type_name("PATH");
  scan->add_option("--syslog-facility", scan_opts.syslog_facility, "Facility of --syslog messages")
      ->capture_default_str()
      ->check(CLI::IsMember({"user", "daemon", "auth", "authpriv", "local0", "local1", "local2", "local3", "local4",
                             "local5", "local6", "local7"}))
      ->type_name("user|daemon|auth|authpriv|local0..7");
  std::string config_help;
  scan->add_option("--config", config_help,
                   "Read settings from FILE (TOML or INI): a [scan] section with any option of this command "
                   "by its long name, e.g. threads = 2, exclude = [\"/proc/*\", \"/srv/*\"], quiet = true, "
                   "PATH = [\"/\"]. Options on the command line win. See --dump-config")
      ->type_name("FILE")
      ->configurable(false);
  scan->add_flag("--dump-config", scan_opts.dump_config,
                 "Print the effective settings (command line and --config) as a config file and exit "
                 "without scanning")
      ->configurable(false);
  scan->add_flag("-q,--quiet", scan_opts.quiet,
                 "No warnings and no progress line on stderr (errors are still printed)");
  scan->add_option("--nice", scan_opts.nice,
                   "Lower the CPU priority of every thread of the scan to nice value N (0-19, 19 lowest); a "
                   "process already nicer keeps its value (default: unchanged)")
      ->check(CLI::Range(0, 19))
      ->type_name("N");
  scan->add_flag("--io-idle", scan_opts.io_idle,
                 "Use the idle I/O scheduling class: the disk serves the scan only when nothing else wants it "
                 "(default: off, the inherited class)");
  scan->add_option("--max-rate", scan_opts.max_rate_mb,
                   "Read at most this many megabytes per second, all threads together (1 MB = 1,000,000 bytes; "
                   "decimals allowed, e.g. 0.5; default: no limit)")
      ->check(positive_number_up_to(1e9))
      ->type_name("MB/s");
  scan->add_option("--max-load", scan_opts.max_load,
                   "Pause the walk and the workers while the 1-minute load average is above L (checked every "
                   "2 seconds; SIGINT still stops at once; default: never pause)")
      ->check(positive_number_up_to(1e9))
      ->type_name("L");
  scan->add_flag("--progress", scan_opts.progress,
                 "Show progress on stderr even when it is not a terminal (one line per second) or with "
                 "--quiet (default: a single updating line when stderr is a terminal, unless --quiet)");
  scan->footer(kExitCodesHelp);

  CLI::App* rules = app.add_subcommand("rules", "Inspect rule sets");
  rules->require_subcommand(1);
  RawRulesOptions rules_opts;
  CLI::App* rules_list = rules->add_subcommand("list", "List every loaded rule: name, namespace, tags, meta");
  add_pack_options(*rules_list, rules_opts.rules, rules_opts.no_builtin);
  rules_list->add_flag("--json", rules_opts.json, "Print a JSON array instead of text");

  std::vector<std::string> check_paths;
  CLI::App* rules_check =
      rules->add_subcommand("check",
                            "Compile rule files, each on its own, and report diagnostics; scans nothing. "
                            "Exit 0 when all compile, 2 otherwise");
  rules_check->add_option("PATH", check_paths, "Rule files, or directories of .yar/.yara files")->required();

  CLI::App* iocs = app.add_subcommand("iocs", "Inspect indicator sets");
  iocs->require_subcommand(1);
  RawIocsOptions iocs_opts;
  CLI::App* iocs_list =
      iocs->add_subcommand("list", "List the loaded indicator sets: kind, counts per type, SHA-256 of each set");
  iocs_list->add_option("--iocs", iocs_opts.iocs, "As for scan")->type_name("PATH")->allow_extra_args(false);
  iocs_list->add_option("--signature-base", iocs_opts.signature_base, "As for scan: the lists in DIR/iocs")
      ->type_name("DIR")
      ->allow_extra_args(false);
  iocs_list->add_option("--filename-iocs", iocs_opts.filename_iocs, "As for scan")
      ->type_name("PATH")
      ->allow_extra_args(false);
  iocs_list->add_option("--allow-hashes", iocs_opts.allow_hashes, "As for scan")
      ->type_name("PATH")
      ->allow_extra_args(false);
  iocs_list->add_flag("--no-builtin", iocs_opts.no_builtin, "Do not load the built-in indicator lists");
  iocs_list->add_flag("--json", iocs_opts.json, "Print a JSON array instead of text");

  CLI::App* version_cmd = app.add_subcommand(
      "version",
      "Print the version of iocsweep, the libyara, OpenSSL, RE2, libarchive and SQLite versions it was built "
      "with, its architecture, static or dynamic link, and the built-in pack's fingerprint");
  bool version_json = false;
  version_cmd->add_flag("--json", version_json,
                        "Print the same facts as a JSON object, the report's `tool` object (docs/report-format.md)");

  // CLI11 reads config files at the top level (settings under [scan]):
  // `scan --config FILE` is moved there before parsing, and the file is
  // checked first so that a mistake is reported with its line.
  std::vector<std::string> args = hoist_config_option(argc, argv);
  std::string config_path;
  ConfigLines config_lines;
  if (args.size() > 2 && args[1] == "--config") {
    config_path = args[2];
    std::set<std::string> keys;
    for (const CLI::Option* opt : scan->get_options()) {
      if (opt->get_configurable() && !opt->get_single_name().empty()) keys.insert(opt->get_single_name());
    }
    auto checked = check_config_file(config_path, keys);
    if (!checked) {
      std::cerr << "iocsweep: " << escape_for_terminal(checked.error().message) << "\n";
      return kExitFatal;
    }
    config_lines = std::move(*checked);
  }
  app.set_config("--config", "", "Settings file; see iocsweep scan --help")->type_name("FILE");
  app.allow_config_extras(CLI::config_extras_mode::error);
  scan->allow_config_extras(CLI::config_extras_mode::error);

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    // A bad value that came from the config file: name its line.
    const std::string what = e.what();
    if (!config_path.empty() && what.rfind("--", 0) == 0) {
      const std::string key = what.substr(2, what.find_first_of(": ") - 2);
      if (auto it = config_lines.find(key); it != config_lines.end() && !given_on_command_line(args, key)) {
        std::cerr << "iocsweep: " << escape_for_terminal(config_path) << ":" << it->second << ": "
                  << escape_for_terminal(what) << "\n";
        return kExitFatal;
      }
    }
    const int rc = app.exit(e);
    // --help and --version exit 0; every usage error is fatal (2).
    return rc == 0 ? kExitClean : kExitFatal;
  }

  if (scan->parsed() && scan_opts.dump_config) {
    auto text = dump_config(*scan, {"help", "config", "dump-config"});
    if (!text) {
      std::cerr << "iocsweep: " << escape_for_terminal(text.error().message) << "\n";
      return kExitFatal;
    }
    std::cout << *text;
    std::cout.flush();
    return std::cout ? kExitClean : kExitFatal;
  }
  if (scan->parsed()) return run_scan_command(scan_opts);
  if (rules_list->parsed()) return run_rules_list(rules_opts);
  if (rules_check->parsed()) return run_rules_check(check_paths);
  if (iocs_list->parsed()) return run_iocs_list(iocs_opts);
  if (version_cmd->parsed()) {
    std::cout << (version_json ? tool_info_json().dump(2) + "\n" : tool_info_text());
    std::cout.flush();
    return std::cout ? kExitClean : kExitFatal;
  }
  return kExitFatal;
}

}  // namespace iocsweep::cli
