#include "cli/cli.hpp"

#include <fnmatch.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "iocsweep/output_file.hpp"
#include "iocsweep/pipeline.hpp"
#include "iocsweep/version.hpp"

namespace iocsweep::cli {
namespace {

constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0  scan complete, nothing found\n"
    "  1  findings (even if some files could not be read)\n"
    "  2  fatal: bad arguments, rule compile error, bad or unreadable IOC file,\n"
    "     output cannot be written; nothing was scanned or no report was written\n"
    "  3  no findings, but the scan is not clean: some files could not be read\n"
    "     or scanned (see errors[] in the report), or it was interrupted";

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
  std::vector<std::string> include_fs;
  bool strict_atime = false;
  std::string archives = "on";
  unsigned archive_depth = 3;
  std::string rule_cache;
  bool no_rule_cache = false;
  bool quiet = false;
};

struct RawRulesOptions {
  std::vector<std::string> rules;
  bool no_builtin = false;
  bool json = false;
};

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
/// ends the process at once.
class SignalStopper {
 public:
  SignalStopper() {
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
        if (stopping) _exit(130);
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
  const std::string real_dir = canonical_or_ancestor(dir);
  // Excluded when the directory or one of its ancestors matches a glob (an
  // excluded directory takes its whole subtree out of the sweep).
  for (std::string p = real_dir; !p.empty(); p = p.substr(0, p.find_last_of('/'))) {
    for (const std::string& glob : raw.excludes) {
      if (::fnmatch(glob.c_str(), p.c_str(), 0) == 0) return dir;
    }
  }
  for (const std::string& root : raw.paths) {
    if (is_inside(real_dir, canonical_or_ancestor(root))) return "";
  }
  return dir;
}

void print_warnings(const Pack& pack, bool quiet) {
  if (quiet) return;
  if (pack.rules) {
    for (const std::string& w : pack.rules->warnings()) std::cerr << "iocsweep: warning: " << w << "\n";
  }
  for (const std::string& w : pack.warnings) std::cerr << "iocsweep: warning: " << escape_for_terminal(w) << "\n";
}

// Loads what `request` names; on failure prints the file:line message and
// returns nothing (the caller exits 2), otherwise prints the warnings.
std::optional<Pack> load_pack_or_report(const PackRequest& request, bool quiet) {
  auto pack = load_pack(request);
  if (!pack) {
    std::cerr << "iocsweep: " << pack.error().message << "\n";
    return std::nullopt;
  }
  print_warnings(*pack, quiet);
  return std::move(*pack);
}

int run_scan_command(const RawScanOptions& raw) {
  // Validate everything before anything is scanned or written.
  auto max_size = parse_size(raw.max_filesize);
  if (!max_size) {
    std::cerr << "iocsweep: --max-filesize: " << max_size.error().message << "\n";
    return kExitFatal;
  }
  const bool stdout_tty = ::isatty(STDOUT_FILENO) == 1;
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
  std::optional<Pack> pack = load_pack_or_report(request, raw.quiet);
  if (!pack) return kExitFatal;

  ScanConfig config;
  config.roots = raw.paths;
  config.pack = std::move(*pack);
  config.walk.one_file_system = raw.one_file_system;
  config.walk.follow_symlinks = raw.follow_symlinks;
  config.walk.excludes = raw.excludes;
  config.walk.include_fs = raw.include_fs;
  config.read.strict_atime = raw.strict_atime;
  config.read.max_filesize = *max_size;
  config.threads = raw.threads == 0 ? default_thread_count() : raw.threads;
  config.yara_timeout_s = raw.timeout_s;
  config.min_score = raw.min_score;
  config.archives = raw.archives == "on";
  config.archive.max_depth = raw.archive_depth;
  config.archive.max_member_bytes = *max_size;

  std::unique_ptr<AtomicOutputFile> out_file;
  if (!raw.output.empty()) {
    auto created = AtomicOutputFile::create(raw.output);
    if (!created) {
      std::cerr << "iocsweep: " << created.error().message << "\n";
      return kExitFatal;
    }
    out_file = std::move(*created);
  }
  std::ostream& out = out_file ? out_file->stream() : std::cout;
  auto sink = format == "text" ? make_text_sink(out) : format == "ndjson" ? make_ndjson_sink(out) : make_json_sink(out);

  raise_fd_limit();
  ScanOutcome outcome;
  {
    SignalStopper stopper;
    outcome = run_scan(config, *sink, stopper.token());
  }
  if (!outcome.write_error.empty()) {
    // A reader that went away (`| head`) is not worth a message.
    if (!(errno == EPIPE && !out_file)) std::cerr << "iocsweep: " << outcome.write_error << "\n";
    return kExitFatal;
  }
  if (out_file) {
    Status committed = out_file->commit();
    if (!committed) {
      std::cerr << "iocsweep: " << committed.error().message << "\n";
      return kExitFatal;
    }
  }
  if (!outcome.complete && !raw.quiet) std::cerr << "iocsweep: interrupted; the report covers what was done\n";
  if (outcome.stats.findings > 0) return kExitFindings;
  if (outcome.stats.errors > 0 || !outcome.complete) return kExitIncomplete;
  return kExitClean;
}

nlohmann::json rule_to_json(const RuleInfo& rule) {
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [key, value] : rule.meta) {
    meta[key] = std::visit([](const auto& x) { return nlohmann::json(x); }, value);
  }
  return {{"name", rule.name}, {"namespace", rule.ns}, {"tags", rule.tags}, {"meta", meta}, {"score", rule.score}};
}

int run_rules_list(const RawRulesOptions& raw) {
  YaraLibrary yara;
  PackRequest request;
  request.builtin = !raw.no_builtin;
  request.rule_paths = raw.rules;
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
    std::cerr << "iocsweep: " << checks.error().message << "\n";
    return kExitFatal;
  }
  std::size_t failed = 0;
  for (const RuleFileCheck& c : *checks) {
    if (c.ok) {
      std::cout << "OK     " << escape_for_terminal(c.path) << " (" << c.rules << " rules)\n";
      for (const std::string& m : c.messages) std::cout << "  warning: " << escape_for_terminal(m) << "\n";
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
                   "none below them)")
      ->required();
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
                   "come, for SIEMs and long sweeps) or text; default json, or text when stdout is a terminal")
      ->check(CLI::IsMember({"json", "ndjson", "text"}))
      ->type_name("json|ndjson|text");
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
  scan->add_flag("-x,--one-file-system", scan_opts.one_file_system,
                 "Do not descend into directories on other filesystems than their root");
  scan->add_flag("--follow-symlinks", scan_opts.follow_symlinks,
                 "Follow symbolic links below the roots (loops are detected and skipped)");
  scan->add_option("--exclude", scan_opts.excludes,
                   "Skip files and directories whose full path matches GLOB ('*' also matches '/'), "
                   "e.g. '/var/lib/docker/*' or '*.iso'; repeatable")
      ->type_name("GLOB")
      ->allow_extra_args(false);
  scan->add_option("--include-fs", scan_opts.include_fs,
                   "Also walk filesystems of TYPE, which are skipped by default: pseudo filesystems "
                   "(proc, sysfs, devtmpfs, cgroup, debugfs, ...) and network ones (nfs, cifs, smb3, "
                   "fuse.sshfs, ...); repeatable")
      ->type_name("TYPE")
      ->allow_extra_args(false);
  scan->add_flag("--strict-atime", scan_opts.strict_atime,
                 "Skip files that cannot be opened with O_NOATIME (not owned, no CAP_FOWNER) instead of "
                 "reading them and possibly updating their access time");
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
  scan->add_flag("-q,--quiet", scan_opts.quiet, "No warnings on stderr (errors are still printed)");
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
  iocs_list->add_option("--filename-iocs", iocs_opts.filename_iocs, "As for scan")
      ->type_name("PATH")
      ->allow_extra_args(false);
  iocs_list->add_option("--allow-hashes", iocs_opts.allow_hashes, "As for scan")
      ->type_name("PATH")
      ->allow_extra_args(false);
  iocs_list->add_flag("--no-builtin", iocs_opts.no_builtin, "Do not load the built-in indicator lists");
  iocs_list->add_flag("--json", iocs_opts.json, "Print a JSON array instead of text");

  CLI::App* version_cmd = app.add_subcommand("version", "Print the version of iocsweep, libyara and OpenSSL");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    // --help and --version exit 0; every usage error is fatal (2).
    return rc == 0 ? kExitClean : kExitFatal;
  }

  if (scan->parsed()) return run_scan_command(scan_opts);
  if (rules_list->parsed()) return run_rules_list(rules_opts);
  if (rules_check->parsed()) return run_rules_check(check_paths);
  if (iocs_list->parsed()) return run_iocs_list(iocs_opts);
  if (version_cmd->parsed()) {
    std::cout << kToolName << " " << version() << "\n"
              << "libyara " << yara_version() << "\n"
              << openssl_version() << "\n";
    return kExitClean;
  }
  return kExitFatal;
}

}  // namespace iocsweep::cli
