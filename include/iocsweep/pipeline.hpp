#pragma once
// The only component that knows all the others: it loads rules and
// indicators, and wires walker -> bounded queue -> workers -> sink.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "iocsweep/archive.hpp"
#include "iocsweep/baseline.hpp"
#include "iocsweep/cache.hpp"
#include "iocsweep/common.hpp"
#include "iocsweep/disk_image.hpp"
#include "iocsweep/file_types.hpp"
#include "iocsweep/filename_ioc.hpp"
#include "iocsweep/ioc.hpp"
#include "iocsweep/match.hpp"
#include "iocsweep/read.hpp"
#include "iocsweep/report.hpp"
#include "iocsweep/throttle.hpp"
#include "iocsweep/walk.hpp"

namespace iocsweep {

/// Where rules and indicators come from, as the user asked.
struct PackRequest {
  /// Include the embedded built-in rules and IOC lists.
  bool builtin = true;
  /// .yar/.yara files, or directories searched (not recursively) for them.
  /// A file named here must compile; a file found in a directory that
  /// does not compile is skipped with a warning.
  std::vector<std::string> rule_paths;
  /// Indicator files or directories, read by file name as the signature-base
  /// / Loki iocs/ layout says: *.json (or JSON content) are STIX 2.1 bundles
  /// or MISP events, names containing "falsepositive" are allow-lists,
  /// "filename" file-name indicator lists, "hash" hash lists. A file named
  /// otherwise is a hash list (or JSON, detected); in a directory it is
  /// ignored with a warning, and bad lines are skipped with a warning (as
  /// Loki does) where a named file fails. A file or directory that gives no
  /// indicator is a warning saying why.
  std::vector<std::string> ioc_paths;
  /// File-name / path indicator files (REGEX;SCORE[;FALSE_POSITIVE_REGEX]).
  /// Read as such also when in an ioc_paths directory or named there.
  std::vector<std::string> filename_ioc_paths;
  /// Known-good hash lists (Loki falsepositive format): files they list are
  /// never reported. Read as such also when in an ioc_paths directory or
  /// named there.
  std::vector<std::string> allow_hash_paths;
  /// Files given as bytes (members of verified signed packs, named
  /// "PACK:MEMBER" so that messages name pack, member and line): rule
  /// sources that must compile, and indicator files read by name as a file
  /// named by --iocs is (a bad line fails the load).
  std::vector<RuleSource> memory_rules;
  std::vector<std::pair<std::string, std::string>> memory_iocs;
  /// Cache of compiled rule sets; empty dir disables it.
  RuleCacheOptions rule_cache;
  /// Also compile the rule set for files not beginning with "MZ" (false
  /// with --no-prefilter, which would not use it).
  bool prefilter = true;
  /// Loki file-type signature tables (signature-base's
  /// misc/file-type-signatures.txt), read in order into one table that
  /// gives the `filetype` external instead of the built-in magic list. A
  /// path that does not exist is a warning (a checkout copied without
  /// misc/); a bad line fails with its `file:line`.
  std::vector<std::string> file_type_paths;
};

/// Compiled rules and indexed indicators, ready to be shared by workers.
struct Pack {
  std::shared_ptr<const CompiledRules> rules;
  std::shared_ptr<const HashIocDb> hash_iocs;
  std::shared_ptr<const FilenameIocDb> filename_iocs;
  std::shared_ptr<const HashAllowList> allow_hashes;
  /// The table the `filetype` external comes from; null: the built-in
  /// magic list.
  std::shared_ptr<const FileTypeTable> file_types;
  /// Things the user should hear about that did not stop loading: skipped
  /// lines and files, unsupported STIX/MISP indicators.
  std::vector<std::string> warnings;
};

/// Loads and compiles everything `request` names. Any unreadable file,
/// malformed indicator line or rule compile error fails with a message
/// naming the file (and line). Requires a live YaraLibrary.
Result<Pack> load_pack(const PackRequest& request);

/// The embedded rule sources (name "builtin:FILE").
std::vector<RuleSource> builtin_rule_sources();

/// Live counters of a running scan, for a progress display. run_scan
/// writes them (relaxed atomics, no lock per file); any thread may read a
/// snapshot at any time. Thread-safe.
class ScanProgress {
 public:
  struct Snapshot {
    std::uint64_t files_scanned = 0;
    std::uint64_t bytes_scanned = 0;
    std::uint64_t files_skipped = 0;
    std::uint64_t errors = 0;
    std::uint64_t findings = 0;
    /// The directory the walk is in (raw bytes), "" before the first one.
    std::string current_dir;
    /// True while --max-load holds the scan back; `load` is the load
    /// average that decided it.
    bool paused_for_load = false;
    double load = 0;
  };
  Snapshot snapshot() const;

  // Written by run_scan.
  std::atomic<std::uint64_t> files_scanned{0}, bytes_scanned{0}, files_skipped{0}, errors{0}, findings{0};
  std::atomic<bool> paused_for_load{false};
  std::atomic<double> load{0};
  /// Called by the walk when it moves to another directory (not per file).
  void set_current_dir(const std::string& dir);

 private:
  mutable std::mutex dir_mu_;
  std::string current_dir_;
};

/// Everything a scan needs, validated. Immutable once built.
struct ScanConfig {
  std::vector<std::string> roots;
  /// Disk images to sweep (--image), after the roots: regular files or
  /// block devices, each once; their files are matched as files are
  /// (docs/disk-images.md).
  std::vector<std::string> images;
  /// Live processes to sweep after the images (docs/processes.md): every
  /// one (--processes), and/or the pids given (--pid).
  bool all_processes = false;
  std::vector<int> pids;
  /// Bytes of readable memory scanned per process, at most; the rest is
  /// skipped ("process_memory_limit").
  std::uint64_t max_process_memory = std::uint64_t{1} << 30;
  /// Bounds on what one disk image may cost.
  DiskImageOptions disk;
  Pack pack;
  WalkOptions walk;
  ReadOptions read;
  /// Worker threads, >= 1.
  unsigned threads = 1;
  /// Per-file YARA timeout in seconds, 0 for none.
  int yara_timeout_s = 60;
  /// Skip the YARA scan of files the rules' own size, header and name
  /// checks rule out (RuleGate); false (--no-prefilter) scans every file.
  bool rule_gate = true;
  /// Findings scoring below this are left out of the report (counted in
  /// stats.findings_below_min_score).
  int min_score = 0;
  /// Accepted matches (--baseline): removed from findings before they are
  /// reported; a finding left with no match, or only with matches scoring
  /// below min_score, is counted in stats.findings_suppressed. Null: none.
  std::shared_ptr<const Baseline> baseline;
  /// When set (--write-baseline), receives every finding that reaches
  /// min_score, before the baseline is applied.
  std::shared_ptr<BaselineWriter> baseline_writer;
  /// Bytes per second all workers together may read (counted when a file's
  /// bytes reach the pipeline, read or mapped); 0 for no limit.
  double max_bytes_per_s = 0;
  /// Hold the walk and the workers back while the 1-minute load average is
  /// above this; 0 for never.
  double max_load = 0;
  /// The clock the two throttles above measure and sleep with; null for
  /// the steady clock. Tests inject one.
  Clock* clock = nullptr;
  /// Optional: where run_scan publishes its progress. Costs nothing per
  /// file beyond the counters the scan keeps anyway.
  std::shared_ptr<ScanProgress> progress;
  /// Scan cache, or null. A file on a filesystem the cache trusts
  /// (cache_trusts_filesystem) whose stat key and rule fingerprint match its
  /// entry is answered from it without being read; a file read there without
  /// error is stored into it once its last change is cache_min_age_ns old.
  std::shared_ptr<ScanCache> cache;
  /// How long before its stat a file must have last changed (ctime and
  /// mtime) to be stored; never less than 0.1 s. Unset: the kernel's
  /// writeback delay (current_writeback_settle_ns), and nothing is stored
  /// when that is unknown.
  std::optional<std::int64_t> cache_min_age_ns;
  /// With a cache: read every file anyway, report as an error a file whose
  /// digests differ from its cache entry although its stat key does not,
  /// and refresh the entries.
  bool verify_cache = false;
  /// The signed packs the rules and indicators came from (--pack), for the
  /// report.
  std::vector<PackInfo> signed_packs;
  /// Read the members of archives and container images (--archives on).
  bool archives = true;
  /// Limits on archives; max_member_bytes is the scan's max_filesize.
  ArchiveOptions archive;
};

/// Result of run_scan, for the exit code.
struct ScanOutcome {
  ScanStats stats;
  bool complete = true;
  /// Set when the sink could not write the report.
  std::string write_error;
  /// Highest score among the reported findings; -1 when none (--fail-on).
  int max_finding_score = -1;
  /// Set when the scan cache could not be written (the scan itself went
  /// on; later runs just read more).
  std::string cache_error;
};

/// Runs one scan, reporting into `sink`. Stops promptly when `stop` is
/// requested: the report is still ended, with complete = false.
ScanOutcome run_scan(const ScanConfig& config, ReportSink& sink, std::stop_token stop);

/// Outcome of compiling one rule file on its own (`iocsweep rules check`).
struct RuleFileCheck {
  std::string path;
  bool ok = false;
  std::size_t rules = 0;
  /// "FILE:LINE: message" lines; errors when !ok, else warnings.
  std::vector<std::string> messages;
  /// When ok: why the file's rules leave the prefilter nothing to check
  /// (RuleGate::reason), so that every file is YARA-scanned while it is
  /// loaded; empty when they do not.
  std::string prefilter_off;
  /// When ok: the text that compiled (what check_rule_set_prefilter reads).
  std::string text;
};

/// Compiles every rule file `paths` name (files, or the .yar/.yara files
/// of directories) each on its own, scanning nothing. Fails only when a
/// path cannot be read at all.
Result<std::vector<RuleFileCheck>> check_rule_files(const std::vector<std::string>& paths);

/// What the prefilter makes of rule files loaded together, as a scan
/// loads them: how many rules a file not beginning with "MZ" meets, and
/// whether each set's gate can rule files out.
struct RuleSetPrefilter {
  std::size_t files = 0;
  std::size_t rules = 0;
  /// Rules in the set for files not beginning with "MZ"; -1 when there is
  /// no such set (every file meets every rule).
  long non_mz_rules = -1;
  /// Why the gate admits every file beginning with "MZ" (every file, when
  /// there is no split); empty when it can rule files out.
  std::string gate_off;
  /// The same for files not beginning with "MZ", when there is a split.
  std::string non_mz_gate_off;
};

/// Compiles the files of `checks` that compiled alone, together (each in
/// its own namespace, as a scan does, from the text each was checked
/// with), and says what the prefilter made of them. Fails when they do not
/// compile together.
Result<RuleSetPrefilter> check_rule_set_prefilter(const std::vector<RuleFileCheck>& checks);

/// Worker count when the user names none: the number of online CPUs.
unsigned default_thread_count();

}  // namespace iocsweep
