#include "cli/scan_command.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <stop_token>
#include <thread>

#include "cli/cli.hpp"
#include "cli/command_support.hpp"
#include "cli/progress.hpp"
#include "iocsweep/baseline.hpp"
#include "iocsweep/output_file.hpp"
#include "iocsweep/pipeline.hpp"
#include "iocsweep/throttle.hpp"

namespace iocsweep::cli {
namespace {

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

// The severities with the lowest score of each, as severity_for() has
// them: "notice >= 40, ..." or, `score_first`, "40 notice, ...".
std::string severity_scale(const char* between, const char* joiner, bool score_first = false) {
  std::string out;
  for (const char* name : {"notice", "warning", "alert"}) {
    const std::string score = std::to_string(lowest_score_of(name));
    if (!out.empty()) out += joiner;
    out += score_first ? score + between + name : name + std::string(between) + score;
  }
  return out;
}

// "1 GiB" for 1 << 30, as the archive limits are described.
std::string iec_size(std::uint64_t bytes) {
  const std::string text = size_text(bytes);
  const char unit = text.back();
  if (unit < '0' || unit > '9') return text.substr(0, text.size() - 1) + " " + unit + "iB";
  return text + " bytes";
}

// Creates the output file `path` into `file`; false, with the reason on
// stderr naming `option`, when it cannot be.
bool create_output(const char* option, const std::string& path, std::unique_ptr<OutputFile>& file) {
  auto created = OutputFile::create(path);
  if (!created) {
    std::cerr << "iocsweep: " << option << ": " << escape_for_terminal(created.error().message) << "\n";
    return false;
  }
  file = std::move(*created);
  return true;
}

}  // namespace

CLI::App* add_scan_command(CLI::App& app, RawScanOptions& raw) {
  const ArchiveOptions& limits = scan_defaults().archive;
  CLI::App* scan = app.add_subcommand("scan", "Sweep files and directories for indicators");
  scan->add_option("PATH", raw.paths,
                   "Files or directories to sweep (symlinks named here are followed, "
                   "none below them; a path named twice or inside another is swept once); required unless --image, "
                   "--processes or --pid is given")
      ->type_name("PATH...");
  scan->add_option("--image", raw.images,
                   "Disk image to sweep: a regular file or a block device, opened read-only (disk images: see "
                   "docs/disk-images.md); repeatable, and combinable with PATHs")
      ->type_name("FILE")
      ->allow_extra_args(false);
  scan->add_flag("--processes", raw.processes,
                 "Sweep every live process too (Linux): its executable through /proc/PID/exe, deleted or not, and "
                 "its readable memory, as `yara RULES PID` reads it; never stopped or attached to (see "
                 "docs/processes.md). Reading another user's process needs root");
  scan->add_option("--pid", raw.pids, "Sweep this live process, as --processes does; repeatable")
      ->type_name("PID")
      ->allow_extra_args(false);
  scan->add_option("--max-process-memory", raw.max_process_memory,
                   "Readable memory scanned per process, at most (K, M, G suffixes); the rest is listed in "
                   "skipped[] as process_memory_limit and makes the sweep incomplete")
      ->type_name("SIZE")
      ->capture_default_str();
  add_pack_options(*scan, raw.rules, raw.no_builtin);
  scan->add_option("--iocs", raw.iocs,
                   "Indicator file: a hash list (HASH;DESCRIPTION or HASH;SCORE;DESCRIPTION per line, '#' "
                   "comments; MD5/SHA-1/SHA-256), a STIX 2.1 bundle or a MISP event export (JSON, detected); or a "
                   "directory in signature-base's iocs/ layout; repeatable")
      ->type_name("PATH")
      ->allow_extra_args(false);
  scan->add_option("--filename-iocs", raw.filename_iocs,
                   "File-name / path indicator file (REGEX;SCORE[;FALSE_POSITIVE_REGEX] per line, Loki layout; "
                   "matched on full paths, case-insensitive, either separator); repeatable")
      ->type_name("PATH")
      ->allow_extra_args(false);
  scan->add_option("--allow-hashes", raw.allow_hashes,
                   "Known-good hash list (Loki falsepositive format): files it lists are never reported; repeatable")
      ->type_name("PATH")
      ->allow_extra_args(false);
  scan->add_option("--signature-base", raw.signature_base,
                   "A signature-base checkout, loaded as Loki does: DIR/yara/*.yar (broken files skipped with a "
                   "warning), DIR/iocs (hash, filename and falsepositive lists, bad lines skipped) and "
                   "DIR/misc/file-type-signatures.txt (the filetype values rules compare)")
      ->type_name("DIR")
      ->allow_extra_args(false);
  scan->add_option("--pack", raw.packs,
                   "Signed rule pack (docs/packs.md): verified (signature, members, expiry, rollback) before "
                   "anything is scanned, refused with exit 2 otherwise; added to the built-in pack; repeatable")
      ->type_name("FILE")
      ->allow_extra_args(false);
  scan->add_option("--trust", raw.trust,
                   "Minisign public key (file or base64) packs may be signed with; repeatable (default: the keys "
                   "in /etc/iocsweep/trusted-keys as root, else $XDG_CONFIG_HOME/iocsweep/trusted-keys)")
      ->type_name("KEY")
      ->allow_extra_args(false);
  scan->add_option("--pack-state", raw.pack_state,
                   "File recording the highest pack versions accepted, against rollback (default: "
                   "/var/lib/iocsweep/packs.json as root, else $XDG_STATE_HOME/iocsweep/packs.json)")
      ->type_name("FILE");
  scan->add_option("-o,--output", raw.output,
                   "Write the report to FILE (atomically: a temporary file renamed into place); default stdout")
      ->type_name("FILE");
  scan->add_option("--format", raw.format,
                   "Report format: json (one document), ndjson (one JSON object per line, streamed as results "
                   "come, for SIEMs and long sweeps), csv (RFC 4180, one row per match, streamed), sarif "
                   "(SARIF 2.1.0, for code scanning and CI), ecs (ndjson in the Elastic Common Schema, for "
                   "Elasticsearch and OpenSearch) or text; default json, or text when stdout is a terminal")
      ->check(CLI::IsMember({"json", "ndjson", "csv", "sarif", "text", "ecs"}))
      ->type_name("json|ndjson|csv|sarif|text|ecs");
  scan->add_option("--threads", raw.threads, "Worker threads (default: number of CPUs)")
      ->check(CLI::Range(1u, 256u))
      ->type_name("N");
  scan->add_option("--max-filesize", raw.max_filesize,
                   "Skip (and list in skipped[]) files larger than SIZE, e.g. 64M, 1G")
      ->capture_default_str()
      ->type_name("SIZE");
  scan->add_option("--timeout", raw.timeout_s, "Per-file YARA scan timeout in seconds (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400))
      ->type_name("SECONDS");
  scan->add_option("--min-score", raw.min_score,
                   "Leave findings scoring below N out of the report and the exit code (" +
                       severity_scale(" ", ", ", true) + ")")
      ->check(CLI::Range(0, 100))
      ->type_name("N");
  scan->add_option("--baseline", raw.baseline,
                   "Leave out matches already accepted in FILE: an earlier JSON report of iocsweep or an "
                   "accepted-findings file (--write-baseline). A match is accepted by rule or indicator plus the "
                   "file's SHA-256, so a moved file stays accepted and a changed one is reported (docs/ci.md). "
                   "Default: none")
      ->type_name("FILE");
  scan->add_option("--write-baseline", raw.write_baseline,
                   "Also write an accepted-findings file for every finding of this scan (including ones --baseline "
                   "left out) to FILE, atomically; use it as --baseline later. Default: none")
      ->type_name("FILE");
  scan->add_option("--fail-on", raw.fail_on,
                   "Exit 1 only when a reported finding has at least this severity (" + severity_scale(" >= ", ", ") +
                       "); lesser findings are still reported. Default: any finding exits 1")
      ->check(CLI::IsMember({"notice", "warning", "alert"}))
      ->type_name("notice|warning|alert");
  scan->add_flag("-x,--one-file-system", raw.one_file_system,
                 "Do not descend into directories on other filesystems than their root");
  scan->add_flag("--follow-symlinks", raw.follow_symlinks,
                 "Follow symbolic links below the roots (loops are detected and skipped, and a directory is "
                 "entered through links only once)");
  scan->add_option("--exclude", raw.excludes,
                   "Skip files and directories whose full path matches GLOB ('*' also matches '/'), "
                   "e.g. '/var/lib/docker/*' or '*.iso'; a GLOB starting with '/' is also matched against the "
                   "absolute path when a root is given relative; repeatable")
      ->type_name("GLOB")
      ->allow_extra_args(false);
  scan->add_option("--exclude-from", raw.exclude_from,
                   "Read --exclude globs from FILE, one per line exactly as written ('#' comment and blank "
                   "lines ignored); repeatable")
      ->type_name("FILE")
      ->allow_extra_args(false);
  scan->add_option("--include-fs", raw.include_fs,
                   "Also walk filesystems of TYPE, which are skipped by default: pseudo filesystems "
                   "(proc, sysfs, devtmpfs, cgroup, debugfs, ...) and network ones (nfs, cifs, smb3, "
                   "fuse.sshfs, ...); repeatable")
      ->type_name("TYPE")
      ->allow_extra_args(false);
  scan->add_flag("--strict-atime", raw.strict_atime,
                 "Skip files and directories that cannot be opened with O_NOATIME (not owned, no CAP_FOWNER) "
                 "instead of reading them and possibly updating their access time");
  scan->add_option(
          "--archives", raw.archives,
          "Also scan the members of archives (zip, tar, tar.gz/.bz2/.xz/.zst, 7z, cpio, iso9660, cab, "
          "gzip/xz/bzip2/zstd single files) and the layers of container images (docker save tarball, "
          "OCI layout, as a tar or a directory), in memory, never extracted; findings name the member chain. Limits "
          "per file on disk: members up to --max-filesize, " +
              iec_size(limits.max_total_bytes) + " uncompressed in all, " + std::to_string(limits.max_members) +
              " members, compression ratio " + std::to_string(limits.max_ratio) + ":1 past " +
              iec_size(limits.ratio_floor_bytes) +
              "; beyond them, and for encrypted members, a skipped[] "
              "entry and the scan goes on. off: files only, as plain files")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}))
      ->type_name("on|off");
  scan->add_option("--archive-depth", raw.archive_depth,
                   "Open archives nested up to N deep (1: only the members of the file itself); a deeper one is "
                   "listed in skipped[] as archive_depth")
      ->capture_default_str()
      ->check(CLI::Range(1u, 32u))
      ->type_name("N");
  scan->add_option("--rule-cache", raw.rule_cache,
                   "Directory for compiled rule sets, so a large rule set compiles once (default "
                   "$XDG_CACHE_HOME/iocsweep or ~/.cache/iocsweep). Never used when it lies inside a scanned "
                   "PATH and is not --exclude'd: the sweep writes nothing in what it scans")
      ->type_name("DIR");
  scan->add_flag("--no-rule-cache", raw.no_rule_cache, "Compile the rules afresh; read and write no cache");
  scan->add_flag("--no-prefilter", raw.no_prefilter,
                 "YARA-scan every file. By default a file is not scanned when every rule's own condition "
                 "rules it out by its size, first bytes or name (e.g. `uint16(0) == 0x5A4D and filesize < "
                 "2MB`): the verdict is the same, no rule could match it. Likewise, in a set with 50 or "
                 "more rules that require MZ, a file not beginning with MZ is scanned without them. With "
                 "--cache, cached files are not scanned again either way. `iocsweep rules check` says "
                 "which rule, if any, keeps the first from working (docs/rules.md)");
  CLI::Option* cache_opt =
      scan->add_option("--cache", raw.cache,
                       "Incremental sweeps: keep in FILE (SQLite, created mode 0600) each file's stat key (device, "
                       "inode, size, mtime, ctime), digests and YARA verdict. A file on ext2/3/4, xfs, btrfs or f2fs "
                       "whose key is unchanged and whose rules are the same is not read again (files elsewhere, "
                       "as on tmpfs, are read every time): its cached result is matched against the current "
                       "indicators and reported with \"cached\": true. A rule change re-reads everything. Default: "
                       "no cache. FILE must not lie inside a scanned PATH unless --exclude'd (fatal otherwise). "
                       "See README, Incremental sweeps, for the trust model")
          ->type_name("FILE");
  scan->add_flag("--no-cache", raw.no_cache, "Ignore --cache: read every file, read and write no cache");
  scan->add_flag("--verify-cache", raw.verify_cache,
                 "With --cache: read every file anyway, report (in errors[]) each file whose digests differ from "
                 "its cache entry although its stat key is unchanged, and refresh the cache")
      ->needs(cache_opt);
  scan->add_option("--cache-min-age", raw.cache_min_age_s,
                   "With --cache: store a file only when its last change (ctime, mtime) is at least SECONDS "
                   "old (at least 0.1). Default: twice the kernel's writeback delay (vm.dirty_expire_centisecs "
                   "+ vm.dirty_writeback_centisecs; 70 s by default), within which a write through a shared "
                   "mapping can leave a file's times unchanged; below it such a write may go unseen. Files on "
                   "tmpfs and other filesystems the cache does not trust are never cached")
      ->type_name("SECONDS")
      ->check(CLI::Range(0.0, 3.2e9))
      ->needs(cache_opt);
  scan->add_flag("--syslog", raw.syslog,
                 "Also send each finding, and the scan's start and end, as an RFC 5424 message with structured "
                 "data to the local syslog socket (errors and skipped files stay in the report)");
  scan->add_option("--syslog-socket", raw.syslog_socket, "Unix socket --syslog writes to")
      ->capture_default_str()
      ->type_name("PATH");
  scan->add_option("--syslog-facility", raw.syslog_facility, "Facility of --syslog messages")
      ->capture_default_str()
      ->check(CLI::IsMember(facility_names()))
      ->type_name("user|daemon|auth|authpriv|local0..7");
  scan->add_option("--syslog-server", raw.syslog_server,
                   "Send the --syslog messages (implied) to a remote collector instead of the local socket: "
                   "tcp://HOST[:PORT] (default port 514) or tls://HOST[:PORT] (6514), octet-counted (RFC 6587, "
                   "RFC 5425). Queued in memory while the collector is away, reconnecting with backoff; what "
                   "is not delivered is counted in stats.syslog_undelivered and makes the exit code 3 when "
                   "nothing was found")
      ->type_name("URL");
  scan->add_option("--syslog-ca", raw.syslog_ca,
                   "With --syslog-server tls://: CA certificates (PEM) the collector's certificate must chain to "
                   "(default: the system's store); its host name or IP address is verified too")
      ->type_name("FILE");
  scan->add_option("--syslog-timeout", raw.syslog_timeout_s,
                   "With --syslog-server: how long the end of the scan waits for queued messages to be "
                   "delivered before counting the rest undelivered")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0))
      ->type_name("SECONDS");
  std::string config_help;
  scan->add_option("--config", config_help,
                   "Read settings from FILE (TOML or INI): a [scan] section with any option of this command "
                   "by its long name, e.g. threads = 2, exclude = [\"/proc/*\", \"/srv/*\"], quiet = true, "
                   "PATH = [\"/\"]. Options on the command line win. See --dump-config")
      ->type_name("FILE")
      ->configurable(false);
  scan->add_flag("--dump-config", raw.dump_config,
                 "Print the effective settings (command line and --config) as a config file and exit "
                 "without scanning")
      ->configurable(false);
  scan->add_flag("-q,--quiet", raw.quiet, "No warnings and no progress line on stderr (errors are still printed)");
  scan->add_option("--nice", raw.nice,
                   "Lower the CPU priority of every thread of the scan to nice value N (0-19, 19 lowest); a "
                   "process already nicer keeps its value (default: unchanged)")
      ->check(CLI::Range(0, 19))
      ->type_name("N");
  scan->add_flag("--io-idle", raw.io_idle,
                 "Use the idle I/O scheduling class: the disk serves the scan only when nothing else wants it "
                 "(default: off, the inherited class)");
  scan->add_option("--max-rate", raw.max_rate_mb,
                   "Read at most this many megabytes per second, all threads together (1 MB = 1,000,000 bytes; "
                   "decimals allowed, e.g. 0.5; default: no limit)")
      ->check(positive_number_up_to(1e9))
      ->type_name("MB/s");
  scan->add_option("--max-load", raw.max_load,
                   "Pause the walk and the workers while the 1-minute load average is above L (checked every "
                   "2 seconds; SIGINT still stops at once; default: never pause)")
      ->check(positive_number_up_to(1e9))
      ->type_name("L");
  scan->add_flag("--progress", raw.progress,
                 "Show progress on stderr even when it is not a terminal (one line per second) or with "
                 "--quiet (default: a single updating line when stderr is a terminal, unless --quiet)");
  scan->footer(kExitCodesHelp);
  return scan;
}

int run_scan_plan(const ScanPlan& plan) {
  // Before any thread exists (the signal thread, the workers): nice value
  // and I/O class are per thread on Linux and inherited at creation.
  if (plan.nice) {
    if (Status s = lower_cpu_priority(*plan.nice); !s) {
      std::cerr << "iocsweep: --nice: " << s.error().message << "\n";
      return kExitFatal;
    }
  }
  if (plan.io_idle) {
    if (Status s = use_idle_io_priority(); !s) {
      std::cerr << "iocsweep: --io-idle: " << s.error().message << "\n";
      return kExitFatal;
    }
  }
  const bool stdout_tty = ::isatty(STDOUT_FILENO) == 1;
  const bool stderr_tty = ::isatty(STDERR_FILENO) == 1;
  YaraLibrary yara;
  PackRequest request = plan.pack;
  std::optional<SignedPacks> signed_packs;
  if (!plan.signed_packs.files.empty()) {
    auto loaded = load_signed_packs(plan.signed_packs, request);
    if (!loaded) {
      std::cerr << "iocsweep: " << escape_lines(loaded.error().message) << "\n";
      return kExitFatal;
    }
    signed_packs = std::move(*loaded);
  }
  std::optional<Pack> pack = load_pack_or_report(request, plan.quiet);
  if (!pack) return kExitFatal;
  // Recorded once the packs' rules and indicators have loaded, before the
  // scan: a pack accepted here is never rolled back from on this host.
  if (signed_packs) {
    if (Status recorded = record_signed_packs(*signed_packs); !recorded) {
      std::cerr << "iocsweep: " << escape_lines(recorded.error().message) << "\n";
      return kExitFatal;
    }
  }
  if (!plan.quiet) {
    for (const std::string& note : plan.notes) std::cerr << "iocsweep: note: " << escape_for_terminal(note) << "\n";
  }
  ScanConfig config = plan.scan;
  config.pack = std::move(*pack);
  if (signed_packs) config.signed_packs = signed_packs->infos;
  if (plan.progress) config.progress = std::make_shared<ScanProgress>();

  // What creates files comes last, after everything that can still fail:
  // the syslog socket, then the report and baseline files, then the cache.
  std::unique_ptr<SyslogSink> syslog;
  if (plan.syslog) {
    SyslogOptions options;
    options.socket_path = plan.syslog_socket;
    options.facility = plan.syslog_facility;
    options.transport = plan.syslog_transport;
    options.host = plan.syslog_host;
    options.port = plan.syslog_port;
    options.ca_file = plan.syslog_ca;
    options.flush_timeout_s = plan.syslog_timeout_s;
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
  if (!plan.output.empty() && !create_output("-o", plan.output, out_file)) return kExitFatal;
  std::unique_ptr<OutputFile> baseline_file;
  if (!plan.write_baseline.empty()) {
    if (!create_output("--write-baseline", plan.write_baseline, baseline_file)) return kExitFatal;
    config.baseline_writer = std::make_shared<BaselineWriter>();
  }
  if (!plan.cache.empty()) {
    auto cache = ScanCache::open(plan.cache);
    if (!cache) {
      std::cerr << "iocsweep: " << escape_for_terminal(cache.error().message) << "\n";
      return kExitFatal;
    }
    config.cache = std::move(*cache);
  }
  std::ostream& out = out_file ? out_file->stream() : std::cout;
  std::unique_ptr<ReportSink> report;
  const std::string& format = plan.format;
  if (format == "sarif") {
    std::error_code ec;
    report = make_sarif_sink(out, std::filesystem::current_path(ec).string());
  } else {
    report = format == "text"     ? make_text_sink(out)
             : format == "ndjson" ? make_ndjson_sink(out)
             : format == "csv"    ? make_csv_sink(out)
             : format == "ecs"    ? make_ecs_sink(out)
                                  : make_json_sink(out);
  }
  std::unique_ptr<ReportSink> tee;
  if (syslog) tee = make_syslog_tee_sink(*report, *syslog);
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
  // A finding is never lost silently: the syslog copy being incomplete
  // makes a scan without findings exit 3, as an incomplete sweep does.
  const bool syslog_incomplete = syslog && syslog->messages_failed() > 0;
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
              << "; " << escape_for_terminal(plan.write_baseline) << " is left as it was\n";
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
  if (!outcome.cache_error.empty() && !plan.quiet) {
    std::cerr << "iocsweep: warning: the scan cache was not fully updated: " << escape_for_terminal(outcome.cache_error)
              << "\n";
  }
  if (!outcome.complete && !plan.quiet) std::cerr << "iocsweep: interrupted; the report covers what was done\n";
  if (outcome.stats.findings > 0 && outcome.max_finding_score >= plan.fail_score) return kExitFindings;
  if (!saw_everything || syslog_incomplete) return kExitIncomplete;
  return kExitClean;
}

int run_scan_command(const RawScanOptions& raw) {
  // Validate everything before anything is scanned or written.
  auto plan = plan_scan(raw);
  if (!plan) {
    std::cerr << "iocsweep: " << escape_for_terminal(plan.error().message) << "\n";
    return kExitFatal;
  }
  return run_scan_plan(*plan);
}

}  // namespace iocsweep::cli
