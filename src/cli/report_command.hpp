#pragma once
// `iocsweep report merge` and `iocsweep report html`: read reports back
// (JSON, NDJSON, merged) and write one merged JSON document or one static
// HTML page for many hosts.

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace iocsweep::cli {

/// The flags of `report merge` and `report html`, as typed (one of the two
/// is parsed).
struct RawReportOptions {
  std::vector<std::string> inputs;
  std::string output;
};

/// The two subcommands add_report_commands() made, to see which was parsed.
struct ReportCommands {
  CLI::App* merge = nullptr;
  CLI::App* html = nullptr;
};

/// Adds `report` with `merge` and `html` to `app`; their flags land in
/// `raw`, which must outlive the parse.
ReportCommands add_report_commands(CLI::App& app, RawReportOptions& raw);

/// Reads every raw.inputs report and writes the merged report to
/// raw.output; returns 0, or 2 (with a message) when a report is refused
/// or the output cannot be written (nothing is written then).
int run_report_merge(const RawReportOptions& raw);

/// As run_report_merge(), writing the HTML page instead.
int run_report_html(const RawReportOptions& raw);

}  // namespace iocsweep::cli
