#pragma once
// `iocsweep scan` as data: the flags as typed (RawScanOptions), and the
// validated, immutable plan they make (ScanPlan). plan_scan() checks
// everything that can be checked before a scan (values, the files the
// sweep will write, where they lie, the roots and images) without loading
// rules, creating an output or scanning; scan_command.cpp carries a plan
// out. Tests build plans straight from RawScanOptions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/pack_command.hpp"
#include "iocsweep/common.hpp"
#include "iocsweep/pipeline.hpp"

namespace iocsweep::cli {

/// The defaults of the core library (ScanConfig, ReadOptions,
/// ArchiveOptions, SyslogOptions), which the command line's are taken from:
/// each setting has its default in one place.
const ScanConfig& scan_defaults();

/// A size as --max-filesize reads it back: "256M" for 256 MiB, "1G", or
/// the number of bytes when no suffix divides it.
std::string size_text(std::uint64_t bytes);

/// The syslog facility name of RFC 5424 facility `code` ("user" for 1),
/// "" when --syslog-facility has no name for it.
std::string facility_name(int code);

/// Every name --syslog-facility takes, in RFC 5424 code order.
std::vector<std::string> facility_names();

/// --syslog-server: "tcp://HOST[:PORT]" (port 514 by default) or
/// "tls://HOST[:PORT]" (6514, RFC 5425); an IPv6 address in brackets.
/// Sets transport, host and port.
Result<SyslogOptions> parse_syslog_server(std::string_view url);

/// The lowest score with severity `name` ("notice", "warning", "alert":
/// 40, 60, 80, as severity_for() says); 0 for any other name.
int lowest_score_of(std::string_view name);

/// `iocsweep scan`'s flags as typed, before validation. The member
/// initialisers are the command line's defaults (CLI11 shows them and
/// --dump-config writes them); where the core library has the same setting
/// they come from scan_defaults().
struct RawScanOptions {
  std::vector<std::string> paths;
  std::vector<std::string> images;
  bool processes = false;
  std::vector<int> pids;
  std::string max_process_memory = size_text(scan_defaults().max_process_memory);
  std::vector<std::string> rules;
  std::vector<std::string> iocs;
  std::vector<std::string> filename_iocs;
  std::vector<std::string> allow_hashes;
  std::vector<std::string> signature_base;
  /// Signed packs (--pack), their keys (--trust), the rollback state file.
  std::vector<std::string> packs;
  std::vector<std::string> trust;
  std::string pack_state;  ///< "": default_pack_state_path()
  bool no_builtin = false;
  std::string output;    ///< "": stdout
  std::string format;    ///< "": json, or text when stdout is a terminal and there is no -o
  unsigned threads = 0;  ///< 0: default_thread_count()
  std::string max_filesize = size_text(scan_defaults().read.max_filesize);
  int timeout_s = scan_defaults().yara_timeout_s;
  int min_score = scan_defaults().min_score;
  bool one_file_system = scan_defaults().walk.one_file_system;
  bool follow_symlinks = scan_defaults().walk.follow_symlinks;
  std::vector<std::string> excludes;
  std::vector<std::string> exclude_from;
  std::vector<std::string> include_fs;
  bool strict_atime = scan_defaults().walk.strict_atime;
  std::string archives = scan_defaults().archives ? "on" : "off";
  unsigned archive_depth = scan_defaults().archive.max_depth;
  std::string rule_cache;  ///< "": $XDG_CACHE_HOME/iocsweep or ~/.cache/iocsweep
  bool no_rule_cache = false;
  bool no_prefilter = !scan_defaults().rule_gate;
  std::string cache;  ///< "": no scan cache
  bool no_cache = false;
  bool verify_cache = scan_defaults().verify_cache;
  double cache_min_age_s = -1;  ///< < 0: the kernel's writeback delay
  bool quiet = false;
  bool syslog = false;
  std::string syslog_socket = SyslogOptions{}.socket_path;
  std::string syslog_facility = facility_name(SyslogOptions{}.facility);
  std::string syslog_server;  ///< "": the local socket; else tcp://HOST[:PORT] or tls://HOST[:PORT]
  std::string syslog_ca;      ///< "": the system's CA store
  double syslog_timeout_s = SyslogOptions{}.flush_timeout_s;
  bool dump_config = false;
  std::string baseline;
  std::string write_baseline;
  std::string fail_on;  ///< "": any finding exits 1
  int nice = -1;        ///< -1: leave alone
  bool io_idle = false;
  double max_rate_mb = scan_defaults().max_bytes_per_s / 1e6;  ///< 0: no limit
  double max_load = scan_defaults().max_load;                  ///< 0: never pause
  bool progress = false;
};

/// What plan_scan() reads of the process's surroundings, so that tests can
/// give their own.
struct PlanContext {
  bool stdout_tty = false;
  bool stderr_tty = false;
  /// $XDG_CACHE_HOME and $HOME ("" when unset).
  std::string xdg_cache_home;
  std::string home;
  /// This process's: isatty(1), isatty(2) and the environment.
  static PlanContext current();
};

/// A validated `iocsweep scan`: everything the run needs to know, nothing
/// opened yet. Immutable once made.
struct ScanPlan {
  /// The scan itself: roots (each once, see `notes`), images, walk, read,
  /// threads, timeout, prefilter, scores, baseline (loaded), throttles,
  /// archives. What only the run creates is left empty: pack,
  /// baseline_writer, cache, progress.
  ScanConfig scan;
  /// The rules and indicators to load, rule cache included ("" when none
  /// may be used).
  PackRequest pack;
  /// The signed packs to verify and add to `pack` (docs/packs.md).
  SignedPackOptions signed_packs;
  /// Report file ("": stdout) and its format (json, ndjson, csv, sarif,
  /// text).
  std::string output;
  std::string format;
  /// The accepted-findings file to write (--write-baseline), or "".
  std::string write_baseline;
  /// Scan cache file, or "" for none (no --cache, or --no-cache).
  std::string cache;
  /// Exit 1 only for a reported finding of at least this score (--fail-on).
  int fail_score = 0;
  /// Process priority, applied before any thread is made: nice value
  /// (nullopt: unchanged) and the idle I/O class.
  std::optional<int> nice;
  bool io_idle = false;
  /// Show the progress line on stderr.
  bool progress = false;
  /// --syslog: socket and RFC 5424 facility code.
  bool syslog = false;
  std::string syslog_socket;
  int syslog_facility = 1;
  /// --syslog-server: transport (kUnix without it), collector, CA file and
  /// flush timeout.
  SyslogTransport syslog_transport = SyslogTransport::kUnix;
  std::string syslog_host;
  std::string syslog_port;
  std::string syslog_ca;
  double syslog_timeout_s = SyslogOptions{}.flush_timeout_s;
  /// No warnings or notes on stderr.
  bool quiet = false;
  /// What the user should hear (unless quiet) about how the plan reads
  /// the command line: PATHs and images dropped as duplicates.
  std::vector<std::string> notes;
};

/// Validates `raw` into a plan. Values CLI11 checks as it parses (ranges,
/// choices) are taken as checked. Reads what validation needs (--exclude-from
/// files, the --baseline file, the places of the roots, images and output
/// files) but loads no rule or indicator, creates no file and scans
/// nothing. Fails with the message the user sees (without "iocsweep: ").
Result<ScanPlan> plan_scan(const RawScanOptions& raw, const PlanContext& context = PlanContext::current());

}  // namespace iocsweep::cli
