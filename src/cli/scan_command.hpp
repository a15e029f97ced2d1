#pragma once
// `iocsweep scan`: its flags (added to the CLI11 app), and the run of a
// validated ScanPlan: priorities, rules, outputs, signals, the scan, the
// exit code.

#include <CLI/CLI.hpp>

#include "cli/scan_plan.hpp"

namespace iocsweep::cli {

/// Adds `scan` and its flags to `app` and returns it; the flags land in
/// `raw`, which must outlive the parse. Defaults shown in --help are the
/// member initialisers of RawScanOptions.
CLI::App* add_scan_command(CLI::App& app, RawScanOptions& raw);

/// Carries out `plan`: lowers the priorities it names, loads the pack,
/// opens syslog, the outputs and the cache (in that order, so that nothing
/// is created while something can still fail), runs the scan with signal
/// handling and writes the results. Prints every message; returns the exit
/// code.
int run_scan_plan(const ScanPlan& plan);

/// plan_scan(raw), printing its error (exit 2), then run_scan_plan.
int run_scan_command(const RawScanOptions& raw);

}  // namespace iocsweep::cli
