#include <string>
#include <string_view>

#include "iocsweep/report.hpp"
#include "report/model.hpp"

namespace iocsweep {
namespace {

// One header row, then one row per match of each finding, one per error,
// skipped entry and file read without O_NOATIME, and a closing
// scan_finished row: written and flushed as results come, like ndjson.
// RFC 4180: CRLF line ends; a field holding a comma or quote is quoted,
// with quotes doubled. Every cell is text a swept file can choose (its
// name, an archive member's), and a CSV file is read by spreadsheets and
// viewed in terminals, so a cell holds valid UTF-8 (invalid bytes
// replaced), control characters as \xNN (escape_controls: no terminal
// escapes, no CR or LF that a line-based reader would split a row at), and
// a ' before a leading =, +, - or @, which a spreadsheet would otherwise
// evaluate as a formula (CSV injection). path_hex keeps the exact bytes of
// any path whose cell is not them. The disk-image columns come after the
// original ones and the live-process columns last, so the columns readers
// already address keep their positions.
constexpr std::string_view kHeader =
    "record,path,path_hex,size,score,severity,md5,sha1,sha256,match_type,match,match_source,match_score,detail,"
    "member,cached,disk_image,partition,offset,filesystem,path_in_filesystem,inode,deleted,stream,"
    "pid,ppid,process_name,process_exe,process_cmdline,uid,exe_deleted,process_part,region_start,region_end,"
    "region_perms,region_path";

std::string cell_text(std::string_view raw) {
  std::string text = escape_controls(to_valid_utf8(raw));
  if (!text.empty() && std::string_view("=+-@").find(text.front()) != std::string_view::npos) text.insert(0, 1, '\'');
  return text;
}

std::string quoted_cell(std::string text) {
  if (text.find_first_of(",\"") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string field(std::string_view raw) { return quoted_cell(cell_text(raw)); }

// The last eight columns: where in a disk image, or empty for anything
// else. The exact bytes of the names are in path_hex (the whole disk
// path) and in the JSON report.
std::string disk_columns(const std::optional<DiskLocation>& d) {
  if (!d) return ",,,,,,,";
  return field(d->image) + "," + (d->partition < 0 ? "" : std::to_string(d->partition)) + "," +
         std::to_string(d->offset) + "," + field(d->filesystem) + "," + field(d->path) + "," +
         std::to_string(d->inode) + "," + (d->deleted ? "true" : "false") + "," + field(d->stream);
}

// The last twelve columns: which live process, and for a match in memory
// which region, or empty for anything else. Name, executable, command
// line and mapped file are text the process chose: cells as any other, the
// exact bytes in the JSON report.
std::string process_columns(const std::optional<ProcessLocation>& p) {
  if (!p) return ",,,,,,,,,,,";
  const ProcessInfo& info = p->process;
  std::string row = std::to_string(info.pid) + "," + std::to_string(info.ppid) + "," + field(info.name) + "," +
                    field(info.exe) + "," + field(info.cmdline) + "," + std::to_string(info.uid) + "," +
                    (info.exe_deleted ? "true" : "false") + "," + (p->memory ? "memory" : "executable") + ",";
  if (!p->region) return row + ",,,";
  return row + hex_address(p->region->start) + "," + hex_address(p->region->end) + "," + field(p->region->perms) + "," +
         field(p->region->path);
}

struct MatchColumns {
  std::string type, match, source, score, detail;
};

MatchColumns columns_of(const MatchRecord& m) {
  if (const auto* y = std::get_if<YaraMatchRecord>(&m)) {
    std::string description;
    for (const auto& [key, value] : y->rule->meta) {
      if (key == "description") {
        if (const auto* s = std::get_if<const char*>(&value)) description = *s;
      }
    }
    return {"yara", y->rule->name, y->rule->ns, std::to_string(y->rule->score), description};
  }
  if (const auto* f = std::get_if<FilenameMatchRecord>(&m)) {
    return {"filename", f->ioc->pattern, f->ioc->source + ":" + std::to_string(f->ioc->line),
            std::to_string(f->ioc->score), f->ioc->description};
  }
  if (const auto* o = std::get_if<ObservationMatchRecord>(&m)) {
    return {"process", std::string(o->observation->id), "iocsweep", std::to_string(o->observation->score),
            std::string(o->observation->description)};
  }
  const HashIoc& ioc = *std::get<HashMatchRecord>(m).ioc;
  return {"hash:" + std::string(digest_name(ioc.kind)), ioc.value, ioc.source + ":" + std::to_string(ioc.line),
          std::to_string(ioc.score), ioc.description};
}

class CsvSink final : public ReportSink {
 public:
  explicit CsvSink(std::ostream& out) : out_(out) {}

  void begin(const ScanInfo&) override { line(std::string(kHeader)); }

  void finding(Finding f) override {
    const std::string common = path_fields(f.path) + "," + std::to_string(f.size) + "," + std::to_string(f.score) +
                               "," + std::string(severity_for(f.score)) + "," + digest(f, DigestKind::kMd5) + "," +
                               digest(f, DigestKind::kSha1) + "," + digest(f, DigestKind::kSha256);
    const std::string member = field(member_chain(f));
    const std::string disk = disk_columns(f.disk);
    const std::string proc = process_columns(f.process);
    for (const MatchRecord& m : f.matches) {
      const MatchColumns c = columns_of(m);
      line("finding," + common + "," + field(c.type) + "," + field(c.match) + "," + field(c.source) + "," + c.score +
           "," + field(c.detail) + "," + member + "," + (f.cached ? "true" : "") + "," + disk + "," + proc);
    }
  }
  void error(FileError e) override {
    line("error," + path_fields(e.path) + ",,,,,,,,,,," + field(e.error) + ",,," + disk_columns(e.disk) + "," +
         process_columns(e.process));
  }
  void skipped(SkippedFile s) override {
    line("skipped," + path_fields(s.path) + ",,,,,,,,,,," +
         field(s.detail.empty() ? s.reason : s.reason + ": " + s.detail) + ",,," + disk_columns(s.disk) + "," +
         process_columns(s.process));
  }
  void atime_not_preserved(std::string path) override {
    line("atime_not_preserved," + path_fields(path) + ",,,,,,,,,,,,,," + disk_columns(std::nullopt) + "," +
         process_columns(std::nullopt));
  }
  Status end(const ScanEnd& end) override {
    const ScanStats& s = end.stats;
    line("scan_finished,,,,,,,,,,,,," +
         field("complete=" + std::string(end.complete ? "true" : "false") + " files_scanned=" +
               std::to_string(s.files_scanned) + " bytes_scanned=" + std::to_string(s.bytes_scanned) +
               " files_skipped=" + std::to_string(s.files_skipped) +
               " skipped_unscanned=" + std::to_string(s.skipped_unscanned) + " errors=" + std::to_string(s.errors) +
               " findings=" + std::to_string(s.findings) + " finished_at=" + end.finished_at) +
         ",,," + disk_columns(std::nullopt) + "," + process_columns(std::nullopt));
    if (!out_) return Error{"cannot write the report"};
    return Ok{};
  }

 private:
  static std::string path_fields(const std::string& path) {
    std::string text = cell_text(path);
    const bool exact = text == path;
    return quoted_cell(std::move(text)) + "," + (exact ? "" : to_hex(path));
  }
  static std::string digest(const Finding& f, DigestKind kind) {
    return f.digests.present.has(kind) ? f.digests.hex(kind) : "";
  }
  void line(const std::string& row) {
    out_ << row << "\r\n";
    out_.flush();
  }

  std::ostream& out_;
};

}  // namespace

std::unique_ptr<ReportSink> make_csv_sink(std::ostream& out) { return std::make_unique<CsvSink>(out); }

}  // namespace iocsweep
