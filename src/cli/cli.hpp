#pragma once
// The command line: parses flags into a raw struct, validates them into an
// immutable ScanConfig, installs the signal handling, runs the pipeline and
// maps the outcome to an exit code.

namespace iocsweep::cli {

/// Exit codes (documented in README.md and `iocsweep --help`).
enum ExitCode : int {
  kExitClean = 0,       ///< scan complete, nothing found
  kExitFindings = 1,    ///< at least one finding (even if some files failed)
  kExitFatal = 2,       ///< bad arguments, rule or IOC error, unwritable output
  kExitIncomplete = 3,  ///< no findings, but errors or an interrupted scan
  kExitForced = 130,    ///< a second SIGINT/SIGTERM ended the scan at once
};

/// Runs the command line and returns the process exit code.
int run(int argc, char** argv);

}  // namespace iocsweep::cli
