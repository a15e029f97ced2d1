#include "iocsweep/report.hpp"
#include "report/json_fields.hpp"
#include "report/model.hpp"

namespace iocsweep {
namespace {

using report_detail::json;

// One JSON object per line, written and flushed as results come, in the
// order the scan produced them: memory stays flat however many findings a
// sweep has, and a SIEM can read the stream while the scan runs.
class NdjsonSink final : public ReportSink {
 public:
  explicit NdjsonSink(std::ostream& out) : out_(out) {}

  void begin(const ScanInfo& info) override {
    info_ = info;
    json rec = {{"record", "scan_started"},
                {"schema_version", kReportSchemaVersion},
                {"tool", report_detail::tool_json()},
                {"scan", report_detail::scan_json(info, nullptr)}};
    line(rec);
  }
  void finding(Finding f) override { line(tagged("finding", report_detail::finding_json(f))); }
  void error(FileError e) override { line(tagged("error", report_detail::error_json(e))); }
  void skipped(SkippedFile s) override { line(tagged("skipped", report_detail::skipped_json(s))); }
  void atime_not_preserved(std::string path) override {
    line(tagged("atime_not_preserved", report_detail::path_object(path)));
  }
  Status end(const ScanEnd& end) override {
    json rec = {{"record", "scan_finished"},
                {"scan", report_detail::scan_json(info_, &end)},
                {"stats", report_detail::stats_json(end.stats)}};
    line(rec);
    if (!out_) return Error{"cannot write the report"};
    return Ok{};
  }

 private:
  static json tagged(const char* record, json obj) {
    obj["record"] = record;
    return obj;
  }
  void line(const json& rec) {
    out_ << report_detail::dump(rec, -1) << '\n';
    out_.flush();
  }

  std::ostream& out_;
  ScanInfo info_;
};

}  // namespace

std::unique_ptr<ReportSink> make_ndjson_sink(std::ostream& out) { return std::make_unique<NdjsonSink>(out); }

}  // namespace iocsweep
