#pragma once
// `iocsweep report html`: one static page for one or many hosts' reports.
// Self-contained (inline CSS, no script, no image, no font, nothing
// fetched) and with a Content-Security-Policy that forbids all of those, so
// even an escaping mistake could neither run script nor load anything.
// Every string from a report is text a swept host chose: it is escaped
// for HTML, and its control and bidi characters are shown as \xNN.
// Internal to the report component and the CLI.

#include <string>
#include <string_view>
#include <vector>

#include "report/report_reader.hpp"

namespace iocsweep {

/// `s` with & < > " ' written as character references: safe as element
/// text and inside a quoted attribute value.
std::string html_escape(std::string_view s);

/// Text from a report for the page: control characters, the Unicode bidi
/// controls and invalid UTF-8 as \xNN (escape_controls), then html_escape.
std::string html_text(std::string_view s);

/// The whole page (UTF-8) for `reports` (as parse_reports() gives them,
/// checked), in their order: a summary per host
/// with its status, findings by severity, by rule and by host, each
/// finding's details, and each host's errors and skipped entries. The same
/// reports give the same bytes.
std::string render_html_report(const std::vector<HostReport>& reports);

}  // namespace iocsweep
