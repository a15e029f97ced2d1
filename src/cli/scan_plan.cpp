#include "cli/scan_plan.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <utility>

#include "iocsweep/baseline.hpp"
#include "iocsweep/output_file.hpp"
#include "iocsweep/walk.hpp"

namespace iocsweep::cli {

const ScanConfig& scan_defaults() {
  static const ScanConfig defaults;
  return defaults;
}

std::string size_text(std::uint64_t bytes) {
  for (const auto& [shift, suffix] : {std::pair{30u, "G"}, std::pair{20u, "M"}, std::pair{10u, "K"}}) {
    if (bytes != 0 && bytes % (std::uint64_t{1} << shift) == 0) return std::to_string(bytes >> shift) + suffix;
  }
  return std::to_string(bytes);
}

namespace {

// RFC 5424 facility codes of the names --syslog-facility takes.
constexpr std::pair<const char*, int> kFacilities[] = {{"user", 1},    {"daemon", 3},  {"auth", 4},    {"authpriv", 10},
                                                       {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19},
                                                       {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23}};

int facility_code(const std::string& name) {
  for (const auto& [n, code] : kFacilities) {
    if (name == n) return code;
  }
  return -1;
}

}  // namespace

std::string facility_name(int code) {
  for (const auto& [name, c] : kFacilities) {
    if (c == code) return name;
  }
  return "";
}

std::vector<std::string> facility_names() {
  std::vector<std::string> names;
  for (const auto& [name, code] : kFacilities) names.emplace_back(name);
  return names;
}

int lowest_score_of(std::string_view name) {
  if (name != "notice" && name != "warning" && name != "alert") return 0;
  for (int score = 0; score <= 100; ++score) {
    if (severity_for(score) == name) return score;
  }
  return 0;
}

PlanContext PlanContext::current() {
  PlanContext context;
  context.stdout_tty = ::isatty(STDOUT_FILENO) == 1;
  context.stderr_tty = ::isatty(STDERR_FILENO) == 1;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME")) context.xdg_cache_home = xdg;
  if (const char* home = std::getenv("HOME")) context.home = home;
  return context;
}

namespace {

// What plan_scan's checks share: the raw flags (with the --exclude-from
// globs read into excludes) and the walker's answers about them.
struct Checker {
  const RawScanOptions& raw;
  const WalkPlanner& walk;

  // Forensic rule: the sweep never writes inside what it scans. A file it
  // writes, `file` with each of `suffixes` appended (SQLite's companions,
  // the temporary file a report is written to first), must lie where the
  // walk of no PATH reaches (another filesystem with -x, an --exclude'd
  // directory, outside). Returns "" when it may be written, else a message
  // naming `option` and the --exclude to add.
  std::string placement_error(const std::string& option, const std::string& file,
                              std::initializer_list<const char*> suffixes) const {
    const std::string real = canonical_or_ancestor(file);
    for (const std::string& root : raw.paths) {
      for (const char* suffix : suffixes) {
        if (!walk.would_walk(real + suffix, root)) continue;
        const std::string walked = walk.reach(real, root).spelling;
        return option + " " + file + " lies inside the scanned path " + root +
               ", and the sweep never writes inside what it scans: put it elsewhere, or exclude it with --exclude '" +
               walked + "*'";
      }
    }
    return "";
  }

  // Where compiled rule sets are cached, or "" for no cache. A cache
  // directory inside a scan root (say ~/.cache when sweeping /) is not used
  // unless an --exclude glob takes it out of the sweep.
  std::string rule_cache_dir(const PlanContext& context) const {
    if (raw.no_rule_cache) return "";
    std::string dir = raw.rule_cache;
    if (dir.empty()) {
      if (!context.xdg_cache_home.empty() && context.xdg_cache_home[0] == '/') {
        dir = context.xdg_cache_home + "/iocsweep";
      } else if (!context.home.empty() && context.home[0] == '/') {
        dir = context.home + "/.cache/iocsweep";
      } else {
        return "";
      }
    }
    return placement_error("--rule-cache", dir, {""}).empty() ? dir : "";
  }

  // The files the sweep writes: a --cache file inside a scanned root, or an
  // -o or --write-baseline file, each with what is written beside it, must
  // be --exclude'd (or elsewhere). The first violation, or "".
  std::string written_files_placement_error(bool use_cache) const {
    // OutputFile writes FILE.tmp-XXXXXX first, then renames it; a device or
    // FIFO it writes in place changes no file.
    if (!raw.output.empty() && !output_written_in_place(raw.output)) {
      if (std::string e = placement_error("-o", raw.output, {"", ".tmp-XXXXXX"}); !e.empty()) return e;
    }
    if (!raw.write_baseline.empty() && !output_written_in_place(raw.write_baseline)) {
      if (std::string e = placement_error("--write-baseline", raw.write_baseline, {"", ".tmp-XXXXXX"}); !e.empty()) {
        return e;
      }
    }
    if (use_cache) return placement_error("--cache", raw.cache, {"", "-wal", "-shm", "-journal"});
    return "";
  }

  // The roots to walk: each existing path once (by canonical path), and
  // none that lies inside another root whose walk reaches it (or meets it
  // on a filesystem it skips, as the root's own walk would). A path that
  // does not resolve is kept, so that its error is reported. Each dropped
  // root gets a note.
  std::vector<std::string> distinct_roots(std::vector<std::string>& notes) const {
    const std::size_t n = raw.paths.size();
    std::vector<std::optional<std::string>> real(n);
    for (std::size_t i = 0; i < n; ++i) {
      char* resolved = ::realpath(raw.paths[i].c_str(), nullptr);
      if (resolved == nullptr) continue;
      real[i] = resolved;
      std::free(resolved);
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
        const WalkReach reach = walk.reach(*real[i], outer).reach;
        if (reach != WalkReach::kWalked && reach != WalkReach::kSkippedFilesystem) continue;
        why[i] = "PATH " + inner + " lies inside PATH " + outer + " and is scanned as part of it";
      }
      kept[i] = why[i].empty();
    }
    std::vector<std::string> roots;
    for (std::size_t i = 0; i < n; ++i) {
      if (kept[i]) {
        roots.push_back(raw.paths[i]);
      } else {
        notes.push_back(why[i]);
      }
    }
    return roots;
  }
};

// Whether `a` and `b` lead to one character device (/dev/null twice):
// both may write there, nothing is replaced. A FIFO or a descriptor is
// not: two documents in one stream could not be told apart.
bool same_character_device(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && S_ISCHR(sa.st_mode) && S_ISCHR(sb.st_mode) &&
         sa.st_rdev == sb.st_rdev;
}

// Two of -o, --write-baseline, --cache (with its -wal, -shm and -journal
// files) and an --image naming the same file, or "": nothing the sweep
// writes may replace another output or an image it reads. -o and
// --write-baseline may both name one character device.
std::string output_clash(const RawScanOptions& raw, bool use_cache) {
  std::vector<std::pair<std::string, std::string>> files;  // canonical path, option
  if (!raw.output.empty()) files.emplace_back(canonical_or_ancestor(raw.output), "-o");
  if (!raw.write_baseline.empty()) files.emplace_back(canonical_or_ancestor(raw.write_baseline), "--write-baseline");
  if (use_cache) {
    const std::string cache = canonical_or_ancestor(raw.cache);
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) files.emplace_back(cache + suffix, "--cache");
  }
  for (const std::string& image : raw.images) files.emplace_back(canonical_or_ancestor(image), "--image");
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

const char* kind_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// An --image must be a regular file or a block device this process can
// open for reading. Opened (non-blocking, never read) and closed at once:
// the image is opened read-only again when it is swept.
Status check_image(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error{"--image " + path + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    return Error{"--image " + path + ": is " + kind_name(st.st_mode) +
                 "; an image is a regular file or a block device"};
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return Error{"--image " + path + ": cannot be read: " + std::strerror(errno)};
  ::close(fd);
  return Ok{};
}

// The images to sweep, each once (by canonical path); a repeated one gets
// a note.
Result<std::vector<std::string>> distinct_images(const std::vector<std::string>& images,
                                                 std::vector<std::string>& notes) {
  std::vector<std::string> kept;
  std::vector<std::string> kept_real;
  for (const std::string& image : images) {
    if (Status checked = check_image(image); !checked) return checked.error();
    const std::string real = canonical_or_ancestor(image);
    const auto seen = std::find(kept_real.begin(), kept_real.end(), real);
    if (seen != kept_real.end()) {
      notes.push_back("--image " + image + " is the same as --image " + kept[seen - kept_real.begin()] +
                      " and is scanned once");
      continue;
    }
    kept.push_back(image);
    kept_real.push_back(real);
  }
  return kept;
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

}  // namespace

Result<SyslogOptions> parse_syslog_server(std::string_view url) {
  SyslogOptions out;
  std::string_view rest = url;
  if (rest.substr(0, 6) == "tcp://") {
    out.transport = SyslogTransport::kTcp;
    out.port = "514";
  } else if (rest.substr(0, 6) == "tls://") {
    out.transport = SyslogTransport::kTls;
    out.port = "6514";  // RFC 5425
  } else {
    return Error{std::string(url) + ": expected tcp://HOST[:PORT] or tls://HOST[:PORT]"};
  }
  rest.remove_prefix(6);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view host = rest;
  std::string_view port;
  if (rest.substr(0, 1) == "[") {  // [IPv6]:PORT
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return Error{std::string(url) + ": unterminated [ in the host"};
    host = rest.substr(1, close - 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':') return Error{std::string(url) + ": expected :PORT after ]"};
    if (!after.empty()) port = after.substr(1);
    if (!after.empty() && port.empty()) return Error{std::string(url) + ": empty port"};
  } else if (const std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return Error{std::string(url) + ": empty port"};
  }
  if (host.empty() || host.find_first_of("/@?# ") != std::string_view::npos) {
    return Error{std::string(url) + ": bad host name"};
  }
  // tcp://::1 would read as host ":" and port 1.
  if (rest.substr(0, 1) != "[" && host.find(':') != std::string_view::npos) {
    return Error{std::string(url) + ": an IPv6 address goes in brackets: [ADDRESS]:PORT"};
  }
  if (!port.empty()) {
    unsigned value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9' || value > 65535) return Error{std::string(url) + ": bad port"};
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return Error{std::string(url) + ": bad port"};
    out.port = std::to_string(value);
  }
  out.host = std::string(host);
  return out;
}

Result<ScanPlan> plan_scan(const RawScanOptions& given, const PlanContext& context) {
  if (given.paths.empty() && given.images.empty() && !given.processes && given.pids.empty()) {
    return Error{
        "scan: PATH, --image, --processes or --pid is required (on the command line, or as PATH or image in the "
        "config file)"};
  }
  for (const int pid : given.pids) {
    if (pid <= 0) return Error{"--pid " + std::to_string(pid) + ": a process id is a positive number"};
  }
  auto max_memory = parse_size(given.max_process_memory);
  if (!max_memory) return Error{"--max-process-memory: " + max_memory.error().message};
  RawScanOptions raw = given;
  for (const std::string& file : raw.exclude_from) {
    if (Status read = read_exclude_file(file, raw.excludes); !read) return read.error();
  }
  auto max_size = parse_size(raw.max_filesize);
  if (!max_size) return Error{"--max-filesize: " + max_size.error().message};
  const int facility = facility_code(raw.syslog_facility);
  if ((raw.syslog || !raw.syslog_server.empty()) && facility < 0) {
    return Error{"--syslog-facility: unknown facility " + raw.syslog_facility};
  }
  SyslogOptions server;
  if (!raw.syslog_server.empty()) {
    auto parsed = parse_syslog_server(raw.syslog_server);
    if (!parsed) return Error{"--syslog-server: " + parsed.error().message};
    server = std::move(*parsed);
  }
  if (!raw.syslog_ca.empty() && server.transport != SyslogTransport::kTls) {
    return Error{"--syslog-ca: needs --syslog-server tls://HOST:PORT"};
  }

  ScanPlan plan;
  ScanConfig& config = plan.scan;
  auto images = distinct_images(raw.images, plan.notes);
  if (!images) return images.error();
  if (!raw.baseline.empty()) {
    auto loaded = Baseline::load(raw.baseline);
    if (!loaded) return Error{"--baseline: " + loaded.error().message};
    config.baseline = std::make_shared<const Baseline>(std::move(*loaded));
  }
  const bool use_cache = !raw.cache.empty() && !raw.no_cache;
  if (std::string clash = output_clash(raw, use_cache); !clash.empty()) return Error{std::move(clash)};

  config.walk.one_file_system = raw.one_file_system;
  config.walk.follow_symlinks = raw.follow_symlinks;
  config.walk.excludes = raw.excludes;
  config.walk.include_fs = raw.include_fs;
  config.walk.strict_atime = raw.strict_atime;
  const WalkPlanner walk(config.walk);
  const Checker checker{raw, walk};
  if (std::string placement = checker.written_files_placement_error(use_cache); !placement.empty()) {
    return Error{std::move(placement)};
  }

  plan.pack.builtin = !raw.no_builtin;
  plan.pack.rule_paths = raw.rules;
  plan.pack.ioc_paths = raw.iocs;
  plan.pack.filename_ioc_paths = raw.filename_iocs;
  plan.pack.allow_hash_paths = raw.allow_hashes;
  // A signature-base checkout, loaded as Loki does: every rule file in
  // yara/, the indicator lists in iocs/, the file types in misc/.
  for (const std::string& dir : raw.signature_base) {
    plan.pack.rule_paths.push_back(dir + "/yara");
    plan.pack.ioc_paths.push_back(dir + "/iocs");
    plan.pack.file_type_paths.push_back(dir + "/misc/file-type-signatures.txt");
  }
  plan.signed_packs = SignedPackOptions{raw.packs, raw.trust, raw.pack_state};
  if (raw.packs.empty() && (!raw.trust.empty() || !raw.pack_state.empty())) {
    return Error{"--trust and --pack-state go with --pack"};
  }
  plan.pack.rule_cache.dir = checker.rule_cache_dir(context);
  plan.pack.prefilter = !raw.no_prefilter;

  config.roots = checker.distinct_roots(plan.notes);
  config.images = std::move(*images);
  config.all_processes = raw.processes;
  config.pids = raw.pids;
  config.max_process_memory = *max_memory;
  config.read.strict_atime = raw.strict_atime;
  config.read.max_filesize = *max_size;
  config.threads = raw.threads == 0 ? default_thread_count() : raw.threads;
  config.yara_timeout_s = raw.timeout_s;
  config.rule_gate = !raw.no_prefilter;
  config.min_score = raw.min_score;
  config.max_bytes_per_s = raw.max_rate_mb * 1e6;
  config.max_load = raw.max_load;
  config.archives = raw.archives == "on";
  config.archive.max_depth = raw.archive_depth;
  config.archive.max_member_bytes = *max_size;
  if (use_cache) {
    plan.cache = raw.cache;
    config.verify_cache = raw.verify_cache;
    if (raw.cache_min_age_s >= 0) config.cache_min_age_ns = static_cast<std::int64_t>(raw.cache_min_age_s * 1e9);
  }

  plan.output = raw.output;
  plan.format = !raw.format.empty() ? raw.format : (raw.output.empty() && context.stdout_tty ? "text" : "json");
  plan.write_baseline = raw.write_baseline;
  plan.fail_score = lowest_score_of(raw.fail_on);
  if (raw.nice >= 0) plan.nice = raw.nice;
  plan.io_idle = raw.io_idle;
  plan.progress = raw.progress || (context.stderr_tty && !raw.quiet);
  plan.syslog = raw.syslog || !raw.syslog_server.empty();
  plan.syslog_socket = raw.syslog_socket;
  plan.syslog_facility = facility;
  plan.syslog_transport = server.transport;
  plan.syslog_host = server.host;
  plan.syslog_port = server.port;
  plan.syslog_ca = raw.syslog_ca;
  plan.syslog_timeout_s = raw.syslog_timeout_s;
  plan.quiet = raw.quiet;
  return plan;
}

}  // namespace iocsweep::cli
