#pragma once
// The report model and its sinks. The pipeline reports into a ReportSink;
// sinks know nothing of walking, reading or matching. What only the sinks
// share (schema version, match scores, path fields) is private to the
// component (src/report/model.hpp).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/disk_image.hpp"
#include "iocsweep/filename_ioc.hpp"
#include "iocsweep/hash.hpp"
#include "iocsweep/ioc.hpp"
#include "iocsweep/match.hpp"
#include "iocsweep/process.hpp"

namespace iocsweep {

/// A YARA rule that matched.
struct YaraMatchRecord {
  const RuleInfo* rule = nullptr;  ///< owned by the CompiledRules of the scan
};

/// A hash indicator that matched.
struct HashMatchRecord {
  const HashIoc* ioc = nullptr;  ///< owned by the HashIocDb of the scan
};

/// A file-name / path indicator that matched.
struct FilenameMatchRecord {
  const FilenameIoc* ioc = nullptr;  ///< owned by the FilenameIocDb of the scan
};

/// Something a sweep observed about a live process, not matched in its
/// bytes (docs/report-format.md, "Process observations").
struct ProcessObservation {
  std::string_view id;  ///< stable name, e.g. "process_exe_deleted"
  std::string_view description;
  int score = 0;
};

/// The process's executable was deleted and no file is at its path now:
/// what an intruder who wipes its implant after starting it leaves behind.
inline constexpr ProcessObservation kObservationExeDeleted{
    "process_exe_deleted", "process runs from an executable that was deleted; no file is at its path now", 70};
/// The executable's file was deleted or replaced and another file is at its
/// path now: most often a package upgrade without a restart.
inline constexpr ProcessObservation kObservationExeReplaced{
    "process_exe_replaced", "process runs from an executable that was replaced on disk since it started", 40};
/// The process runs from a memfd (memfd_create): its code never was a file.
inline constexpr ProcessObservation kObservationExeMemfd{
    "process_exe_memfd", "process runs from an anonymous memory file (memfd), never from a file on disk", 80};

/// A process observation that was made.
struct ObservationMatchRecord {
  const ProcessObservation* observation = nullptr;  ///< one of the kObservation constants
};

using MatchRecord = std::variant<YaraMatchRecord, HashMatchRecord, FilenameMatchRecord, ObservationMatchRecord>;

/// Where a finding inside a container image sits (docs/report-format.md).
struct FindingImage {
  std::string reference;        ///< the image's repo tag or ref name; may be empty
  std::string layer;            ///< layer digest "sha256:HEX"; empty when unknown
  std::size_t layer_index = 0;  ///< 0 = base layer
  std::string path;             ///< path inside the image, raw bytes
  /// False when a later layer deleted (whiteout) or replaced the file.
  bool in_final_image = true;
};

/// A file with at least one match.
/// What the filesystem said of a swept file of the tree walk when it was
/// read (for an archive member or a file in a container image: of the
/// archive on disk).
struct FileFacts {
  std::uint64_t inode = 0;
  /// Unset for a finding answered from the scan cache (its key holds no
  /// owner).
  std::optional<std::uint32_t> uid = std::nullopt;
  /// The account name of `uid` (as the `owner` external gives it).
  std::string owner;
  std::int64_t mtime_ns = 0;  ///< nanoseconds after the epoch
};

struct Finding {
  std::string path;                 ///< raw bytes
  std::vector<std::string> member;  ///< archive member chain, outermost first; empty for a plain file
  std::uint64_t size = 0;
  /// Empty (present is empty) when the file was not read: a file-name
  /// match on a file that was too large or unreadable.
  Digests digests;
  std::vector<MatchRecord> matches;
  int score = 0;  ///< combine_scores(matches)
  /// True when the file was not read: its digests and YARA verdict came
  /// from the scan cache (--cache), the indicators were matched afresh.
  bool cached = false;
  /// Set for a file found inside a container image.
  std::optional<FindingImage> image;
  /// Set for a file (or alternate data stream) found in a disk image;
  /// `path` is then disk_path(*disk). A member of an archive found in a
  /// disk image has both `disk` (where the archive lies) and `member`.
  std::optional<DiskLocation> disk = std::nullopt;
  /// Set for what was found in a live process (its executable, read
  /// through /proc/PID/exe, or its memory); `path` is then
  /// process_path(*process). `size` is the executable's size, or for memory
  /// the bytes of the region (0 when none is named).
  std::optional<ProcessLocation> process = std::nullopt;
  /// Set for a file of the tree walk (and what was found inside it); unset
  /// for disk images and live processes, which carry their own facts.
  std::optional<FileFacts> file = std::nullopt;
};

/// Finding score: the highest match score, plus 5 for each further match,
/// capped at 100. One strong indicator decides; corroboration raises it.
int combine_scores(const std::vector<MatchRecord>& matches);

/// "alert" (>= 80), "warning" (>= 60), "notice" (>= 40) or "info".
std::string_view severity_for(int score);

/// A file or directory that could not be read.
struct FileError {
  std::string path;
  std::string error;
  /// Set when what could not be read lies in a disk image (a file, a
  /// directory, a whole volume); `path` is then disk_path(*disk).
  std::optional<DiskLocation> disk = std::nullopt;
  /// Set when what could not be read is a live process (its memory map,
  /// its memory, its executable); `path` is then process_path(*process).
  std::optional<ProcessLocation> process = std::nullopt;
};

/// A file deliberately not read, with a short reason.
struct SkippedFile {
  std::string path;
  std::string reason;  ///< see docs/report-format.md for the list
  std::string detail;  ///< e.g. the filesystem type or exclude glob; may be empty
  /// Set when what was skipped lies in a disk image (an encrypted or
  /// unknown volume, the rest of a filesystem past a limit); `path` is
  /// then disk_path(*disk).
  std::optional<DiskLocation> disk = std::nullopt;
  /// Set when what was skipped is a live process or part of its memory
  /// (reasons process_exited, kernel_thread, zombie, self,
  /// process_memory_limit); `path` is then process_path(*process).
  std::optional<ProcessLocation> process = std::nullopt;
};

/// True when a skipped[] entry with this reason leaves content that the
/// rules and indicators never saw (too_large, archive_limit, encrypted, a
/// directory changed during the walk, an encrypted or unknown volume in a
/// disk image, ...): the scan is then incomplete
/// (exit code 3, or 1 with findings). False only for what is skipped by
/// design and hides nothing the user asked to sweep: FIFOs and devices,
/// --exclude, --one-file-system, pseudo and network filesystems, symlink
/// loops and directories already walked under another path. A reason not
/// known here counts as hiding content. docs/report-format.md has the table.
bool skip_hides_content(std::string_view reason);

/// What is known when a scan starts.
/// A signed rule pack a scan loaded (--pack, docs/packs.md).
struct PackInfo {
  std::string name;
  std::uint64_t version = 0;
  std::string publisher;
  /// The minisign key id that signed it, as minisign prints it.
  std::string key_id;
  /// SHA-256 of the pack file, lower-case hex.
  std::string fingerprint;
  /// The pack file as named.
  std::string file;
};

struct ScanInfo {
  std::string host;
  std::string started_at;
  std::vector<std::string> roots;
  std::vector<RulesetInfo> rulesets;
  std::vector<IocSetInfo> ioc_sets;
  /// Known-good hash lists (allow-lists).
  std::vector<IocSetInfo> allow_sets;
  /// What loading the rules and indicator sets warned about (skipped lines,
  /// indicators not imported, rule files that did not compile), as on
  /// stderr, so that a --quiet run keeps them in its report.
  std::vector<std::string> load_warnings;
  /// Disk images swept (--image), as named.
  std::vector<std::string> images{};
  /// Live processes were swept: every process (--processes), or the pids
  /// given with --pid (empty when neither).
  bool all_processes = false;
  std::vector<int> pids{};
  /// Signed packs loaded (--pack), in the order named.
  std::vector<PackInfo> packs{};
};

/// Counters of a scan. files_scanned + files_skipped + errors (on files)
/// account for every non-directory entry that is not a symlink.
struct ScanStats {
  std::uint64_t files_scanned = 0;
  std::uint64_t bytes_scanned = 0;
  std::uint64_t files_skipped = 0;
  /// The skipped[] entries for which skip_hides_content() holds: content
  /// the rules never saw. Non-zero makes the scan incomplete (exit 3).
  std::uint64_t skipped_unscanned = 0;
  std::uint64_t errors = 0;
  std::uint64_t findings = 0;
  /// Files that matched but scored below --min-score (not in findings).
  std::uint64_t findings_below_min_score = 0;
  /// Files whose hash is on an allow-list: never reported.
  std::uint64_t files_allowlisted = 0;
  /// Findings left out because --baseline accepts every match (or all but
  /// matches scoring below --min-score); see docs/ci.md.
  std::uint64_t findings_suppressed = 0;
  std::uint64_t symlinks_not_followed = 0;
  std::uint64_t files_read_without_noatime = 0;
  /// Files answered from the scan cache without being read (also counted
  /// in files_scanned; their bytes are not in bytes_scanned).
  std::uint64_t files_cached = 0;
  /// Files and archive members the prefilter kept from libyara: no rule
  /// could match them (docs/rules.md). Also counted in files_scanned.
  std::uint64_t yara_prefiltered = 0;
  /// Live processes whose executable or memory was read (--processes,
  /// --pid), and the bytes of memory read from them (not in bytes_scanned).
  std::uint64_t processes_scanned = 0;
  std::uint64_t process_memory_bytes = 0;
  double elapsed_s = 0;
  /// Set when --syslog was used: messages delivered and not delivered
  /// (stats.syslog_sent / syslog_undelivered in the report).
  struct SyslogCounts {
    std::uint64_t sent = 0;
    std::uint64_t undelivered = 0;
  };
  std::optional<SyslogCounts> syslog = std::nullopt;
};

/// What is known when a scan ends.
struct ScanEnd {
  std::string finished_at;
  /// False when the scan was interrupted before every root was walked.
  bool complete = true;
  ScanStats stats;
};

/// True when the scan looked at everything it was asked to: not
/// interrupted, no errors[] entry, and no skipped[] entry that hid content
/// (ScanStats::skipped_unscanned). What exit code 3 and every output's
/// "clean" or "incomplete" rest on.
bool scan_saw_everything(const ScanEnd& end);

/// Receives the results of one scan. The pipeline calls it from one thread
/// at a time (it serialises calls), begin() first and end() last.
class ReportSink {
 public:
  virtual ~ReportSink() = default;
  virtual void begin(const ScanInfo& info) = 0;
  virtual void finding(Finding finding) = 0;
  virtual void error(FileError error) = 0;
  virtual void skipped(SkippedFile skipped) = 0;
  /// A file that was read without O_NOATIME (the kernel refused it): its
  /// access time may have changed. Evidence handlers need the list.
  virtual void atime_not_preserved(std::string path) = 0;
  /// Writes whatever is pending. Fails when the output cannot be written.
  virtual Status end(const ScanEnd& end) = 0;
};

/// JSON report (one document, findings sorted by path) written to `out` on
/// end(). `out` must outlive the sink.
std::unique_ptr<ReportSink> make_json_sink(std::ostream& out);

/// JSON Lines: one object per line ("record": "scan_started", "finding",
/// "error", "skipped", "atime_not_preserved", "scan_finished"), written and
/// flushed as results come; memory does not grow with the findings.
std::unique_ptr<ReportSink> make_ndjson_sink(std::ostream& out);

/// NDJSON in the Elastic Common Schema 8.x (docs/siem.md): one document per
/// match of each finding (event.kind "alert"), one per error, skipped entry
/// and unpreserved access time, and the scan's start and end (event.kind
/// "event"); what ECS has no field for goes under `iocsweep.*`. Streamed and
/// flushed like ndjson. `out` must outlive the sink.
std::unique_ptr<ReportSink> make_ecs_sink(std::ostream& out);

/// SARIF 2.1.0 log (one run; docs/report-format.md, "SARIF"), written to
/// `out` on end(). Artifact URIs are relative to the scan root they lie
/// under (uriBaseId "SCANROOT", or "SCANROOT1".. with several roots);
/// `cwd` (absolute) resolves relative roots in run.originalUriBaseIds.
/// `out` must outlive the sink.
std::unique_ptr<ReportSink> make_sarif_sink(std::ostream& out, std::string cwd);

/// Human-readable report, control characters escaped, written on end().
std::unique_ptr<ReportSink> make_text_sink(std::ostream& out);

/// CSV (RFC 4180: CRLF, quoted fields), streamed and flushed per row: a
/// header, one row per match of each finding, one per error, skipped entry
/// and file read without O_NOATIME, and a closing scan_finished row. Columns
/// in docs/report-format.md.
std::unique_ptr<ReportSink> make_csv_sink(std::ostream& out);

/// Forwards every call to `primary` and `secondary` (both must outlive
/// it). end() ends both and returns the first failure, primary's first.
std::unique_ptr<ReportSink> make_tee_sink(ReportSink& primary, ReportSink& secondary);

/// How syslog messages travel: to the local socket, or to a remote
/// collector over TCP (RFC 6587) or TLS (RFC 5425), octet-counted.
enum class SyslogTransport { kUnix, kTcp, kTls };

/// Where and how findings go to syslog.
struct SyslogOptions {
  SyslogTransport transport = SyslogTransport::kUnix;
  std::string socket_path = "/dev/log";
  /// kTcp / kTls: the collector (a name or an IP address) and its port.
  std::string host;
  std::string port;
  /// kTls: the CA certificates (PEM) the collector's certificate must chain
  /// to; "" for the system's store.
  std::string ca_file;
  /// kTcp / kTls: how long the end of the scan waits for queued messages to
  /// be delivered (reconnecting as needed); what is left is undelivered.
  double flush_timeout_s = 30;
  /// kTcp / kTls: the most messages and bytes held while the collector is
  /// away; a message beyond either is counted undelivered at once.
  std::size_t queue_max_messages = 100000;
  std::size_t queue_max_bytes = 16 * 1024 * 1024;
  /// RFC 5424 facility code: 1 user, 3 daemon, 4 auth, 10 authpriv, 16-23 local0-7.
  int facility = 1;
  std::string app_name = "iocsweep";
  std::string hostname;
};

/// Sends RFC 5424 messages to a local syslog socket (datagram, or stream
/// with octet counting) or a remote collector (TCP or TLS, octet
/// counting): one per finding with structured data
/// [iocsweep@32473 path=... score=... severity=... md5/sha1/sha256=...
/// match=...], one when the scan starts and one with its counters when it
/// ends. Errors and skipped entries stay in the report. A message that
/// cannot be sent is counted, never retried forever. A remote collector is
/// fed by a thread of the sink's own through a bounded queue: the scan never
/// waits for the network, and end() waits at most flush_timeout_s.
class SyslogSink : public ReportSink {
 public:
  /// Local socket: connects now, so a missing socket is a start-up error.
  /// Remote: loads the TLS settings now (a bad --syslog-ca is a start-up
  /// error) and connects in the background; a collector that is away is
  /// retried with backoff.
  static Result<std::unique_ptr<SyslogSink>> open(SyslogOptions options);
  /// Messages delivered (remote: known read by the collector, docs/siem-syslog.md).
  virtual std::uint64_t messages_sent() const = 0;
  /// Messages that could not be delivered; final once end() returned.
  virtual std::uint64_t messages_failed() const = 0;
  /// Why the last message failed, or "".
  virtual std::string last_error() const = 0;
};

/// As make_tee_sink(report, syslog), but end() ends `syslog` first (its
/// delivery deadline included) and gives `report` the stats with
/// ScanStats::syslog filled in.
std::unique_ptr<ReportSink> make_syslog_tee_sink(ReportSink& report, SyslogSink& syslog);

}  // namespace iocsweep
