#pragma once
// Reading iocsweep's own reports back (`iocsweep report merge|html`): a JSON
// document, an NDJSON stream or a merged report of many hosts. Reports come
// from swept hosts, so they are hostile input: bounded in size and depth,
// and every field the merge and the HTML page use is checked for its type
// before anything is built from it. Internal to the report component and
// the CLI.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// Version of the merged layout ("iocsweep_merged_report";
/// docs/merged-report.schema.json).
inline constexpr int kMergedReportVersion = 1;

/// One host's sweep as read back from a report.
struct HostReport {
  /// The file the report was read from, as named (for a report that came
  /// through a merged report: the name it had when it was merged).
  std::string source;
  /// A schema_version 1 report document (docs/report-format.md) whose
  /// fields were checked; an NDJSON stream is turned into this form.
  nlohmann::json document;
  /// An NDJSON stream without its scan_finished line: the sweep was killed
  /// (or the machine went down) before it ended. `document` then holds what
  /// the stream had, with complete false and counters counted from it.
  bool cut_short = false;
};

/// How one host's sweep ended, worst first.
enum class HostStatus {
  kFailed,      ///< cut short: the sweep never finished
  kIncomplete,  ///< interrupted, errors, or content skipped unscanned (exit 3)
  kFindings,    ///< at least one finding, everything seen (exit 1)
  kClean,       ///< nothing found, everything seen (exit 0)
};

/// The status of `r`; findings with errors count as incomplete (the sweep
/// may have missed more).
HostStatus host_status(const HostReport& r);
/// "failed", "incomplete", "findings", "clean".
std::string_view status_name(HostStatus s);

/// The hosts' reports in `text`, the bytes of a report named `name` (for
/// messages): one for a JSON report or NDJSON stream, each entry of a merged
/// report. Fails with a message naming `name` and what is wrong (not JSON,
/// truncated, not an iocsweep report, a field of the wrong type). Pure:
/// reads nothing else.
Result<std::vector<HostReport>> parse_reports(std::string_view text, const std::string& name);

/// parse_reports() of the regular file `path` (at most 512 MiB).
Result<std::vector<HostReport>> read_reports(const std::string& path);

/// The merged report of `reports`, in their order.
nlohmann::json merged_report(const std::vector<HostReport>& reports);

}  // namespace iocsweep
