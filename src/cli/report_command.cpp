#include "cli/report_command.hpp"

#include <iostream>
#include <optional>

#include "cli/cli.hpp"
#include "iocsweep/output_file.hpp"
#include "report/html_report.hpp"
#include "report/report_reader.hpp"

namespace iocsweep::cli {
namespace {

// Every input is read and checked before the output is created: a refused
// report leaves no file behind, not even an empty one.
std::optional<std::vector<HostReport>> read_all(const std::vector<std::string>& inputs) {
  std::vector<HostReport> all;
  for (const std::string& path : inputs) {
    auto reports = read_reports(path);
    if (!reports) {
      std::cerr << "iocsweep: " << escape_for_terminal(reports.error().message) << "\n";
      return std::nullopt;
    }
    for (HostReport& r : *reports) all.push_back(std::move(r));
  }
  return all;
}

int write_output(const std::string& path, const std::string& text) {
  auto out = OutputFile::create(path);
  if (!out) {
    std::cerr << "iocsweep: " << escape_for_terminal(out.error().message) << "\n";
    return kExitFatal;
  }
  (*out)->stream() << text;
  Status done = (*out)->commit();
  if (!done) {
    std::cerr << "iocsweep: " << escape_for_terminal(path) << ": " << escape_for_terminal(done.error().message) << "\n";
    return kExitFatal;
  }
  return kExitClean;
}

void add_common(CLI::App& cmd, RawReportOptions& raw) {
  cmd.add_option("REPORT", raw.inputs,
                 "Reports iocsweep wrote: JSON (--format json), NDJSON (--format ndjson) or merged")
      ->required();
  cmd.add_option("-o,--output", raw.output, "Write to FILE (whole or not at all; /dev/stdout for stdout)")
      ->required()
      ->type_name("FILE");
}

}  // namespace

ReportCommands add_report_commands(CLI::App& app, RawReportOptions& raw) {
  CLI::App* report = app.add_subcommand("report", "Combine hosts' reports: one JSON document or one HTML page");
  report->require_subcommand(1);
  CLI::App* merge = report->add_subcommand(
      "merge", "Merge reports of one or many hosts into one JSON document (docs/merged-report.schema.json)");
  add_common(*merge, raw);
  CLI::App* html = report->add_subcommand(
      "html",
      "Write one self-contained HTML page (no script, nothing fetched) for reports of one or many hosts: "
      "status per host, findings by severity, by rule and by host, errors and skipped entries");
  add_common(*html, raw);
  return {merge, html};
}

int run_report_merge(const RawReportOptions& raw) {
  auto reports = read_all(raw.inputs);
  if (!reports) return kExitFatal;
  return write_output(raw.output,
                      merged_report(*reports).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

int run_report_html(const RawReportOptions& raw) {
  auto reports = read_all(raw.inputs);
  if (!reports) return kExitFatal;
  return write_output(raw.output, render_html_report(*reports));
}

}  // namespace iocsweep::cli
