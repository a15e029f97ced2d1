#pragma once
// The command line: cli.cpp assembles the CLI11 app from the subcommands
// (scan_command, rules_command, iocs_command, version_command), parses,
// and runs the one given. `scan` parses its flags into RawScanOptions,
// validates them into an immutable ScanPlan (scan_plan.hpp), then carries
// the plan out and maps the outcome to an exit code.

namespace iocsweep::cli {

/// Exit codes (documented in README.md and `iocsweep --help`).
enum ExitCode : int {
  kExitClean = 0,       ///< scan complete, nothing found
  kExitFindings = 1,    ///< at least one finding (even if some files failed)
  kExitFatal = 2,       ///< bad arguments, rule or IOC error, unwritable output
  kExitIncomplete = 3,  ///< no findings, but errors, an interrupted scan or undelivered syslog messages
  kExitForced = 130,    ///< a second SIGINT/SIGTERM ended the scan at once
};

/// The exit codes as `iocsweep --help` and `iocsweep scan --help` list them.
inline constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0  scan complete, nothing found\n"
    "  1  findings (even if some files could not be read)\n"
    "  2  fatal: bad arguments, rule compile error, bad or unreadable IOC file,\n"
    "     bad baseline, output cannot be written; nothing was scanned or no report was written\n"
    "  3  no findings, but the scan is not clean: some files could not be read\n"
    "     or scanned (errors[] in the report), content was skipped unscanned\n"
    "     (too large, archive limits, encrypted: stats.skipped_unscanned), or it\n"
    "     was interrupted, or syslog messages could not be delivered\n"
    "     (stats.syslog_undelivered)\n"
    "  130  a second SIGINT/SIGTERM ended the scan at once: no report is written\n"
    "  With --fail-on, only findings of at least that severity count for 1 (and\n"
    "  against 3); findings accepted by --baseline never count.";

/// Runs the command line and returns the process exit code.
int run(int argc, char** argv);

}  // namespace iocsweep::cli
