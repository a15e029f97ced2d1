#include "iocsweep/report.hpp"
#include "report/collecting_sink.hpp"
#include "report/json_fields.hpp"
#include "report/model.hpp"

namespace iocsweep {
namespace {

using report_detail::json;

class JsonSink final : public report_detail::CollectingSink {
 public:
  explicit JsonSink(std::ostream& out) : out_(out) {}

  Status write(const ScanEnd& end) override {
    json doc;
    doc["schema_version"] = kReportSchemaVersion;
    doc["tool"] = report_detail::tool_json();
    doc["scan"] = report_detail::scan_json(info_, &end);
    doc["stats"] = report_detail::stats_json(end.stats);
    json findings = json::array();
    for (const Finding& f : findings_) findings.push_back(report_detail::finding_json(f));
    doc["findings"] = std::move(findings);
    json errors = json::array();
    for (const FileError& e : errors_) errors.push_back(report_detail::error_json(e));
    doc["errors"] = std::move(errors);
    json skipped = json::array();
    for (const SkippedFile& k : skipped_) skipped.push_back(report_detail::skipped_json(k));
    doc["skipped"] = std::move(skipped);
    json atime = json::array();
    for (const std::string& path : atime_changed_) atime.push_back(report_detail::path_object(path));
    doc["atime_not_preserved"] = std::move(atime);
    out_ << report_detail::dump(doc, 2) << '\n';
    out_.flush();
    if (!out_) return Error{"cannot write the report"};
    return Ok{};
  }

 private:
  std::ostream& out_;
};

}  // namespace

std::unique_ptr<ReportSink> make_json_sink(std::ostream& out) { return std::make_unique<JsonSink>(out); }

}  // namespace iocsweep
