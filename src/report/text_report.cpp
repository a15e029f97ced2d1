#include <algorithm>
#include <cstdio>

#include "iocsweep/report.hpp"
#include "report/collecting_sink.hpp"

namespace iocsweep {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// "    in disk image IMG partition 2 (ntfs at offset 1048576), inode 64,
// deleted, stream NAME": what the headline's disk path does not say.
void write_disk_line(std::ostream& out, const std::optional<DiskLocation>& d) {
  if (!d) return;
  out << "    in disk image " << escape_for_terminal(d->image);
  if (d->partition >= 0) out << " partition " << d->partition;
  out << " (" << (d->filesystem.empty() ? "" : escape_for_terminal(d->filesystem) + " ") << "at offset " << d->offset
      << ")";
  if (d->inode != 0) out << ", inode " << d->inode;
  if (d->deleted) out << ", deleted";
  if (!d->stream.empty()) out << ", stream " << escape_for_terminal(d->stream);
  out << "\n";
}

// A live process: its facts, chosen by the process itself (escaped).
void write_process_line(std::ostream& out, const std::optional<ProcessLocation>& p) {
  if (!p) return;
  out << "    process " << p->process.pid << " (" << escape_for_terminal(p->process.name) << ") exe "
      << escape_for_terminal(p->process.exe) << (p->process.exe_deleted ? " (deleted)" : "") << ", uid "
      << p->process.uid;
  if (p->region) {
    char range[64];
    std::snprintf(range, sizeof range, "0x%llx-0x%llx", static_cast<unsigned long long>(p->region->start),
                  static_cast<unsigned long long>(p->region->end));
    out << ", region " << range << " " << escape_for_terminal(p->region->perms) << " "
        << escape_for_terminal(p->region->path);
  }
  out << "\n";
}

// Every string that came from the scanned tree or from rule and IOC files
// goes through escape_for_terminal: a file name must not be able to forge a
// report line or send escape sequences to the reader's terminal.
class TextSink final : public report_detail::CollectingSink {
 public:
  explicit TextSink(std::ostream& out) : out_(out) {}

  Status write(const ScanEnd& end) override {
    for (const Finding& f : findings_) {
      out_ << upper(severity_for(f.score)) << " score=" << f.score << " " << escape_for_terminal(f.path)
           << (f.cached ? " (cached)" : "") << "\n";
      write_disk_line(out_, f.disk);  // outermost first: the image, then the member chain
      write_process_line(out_, f.process);
      if (!f.member.empty()) {
        out_ << "    member";
        for (const std::string& m : f.member) out_ << " > " << escape_for_terminal(m);
        out_ << "\n";
      }
      if (f.image) {
        out_ << "    image " << escape_for_terminal(f.image->reference.empty() ? "-" : f.image->reference) << " layer "
             << f.image->layer_index << " " << escape_for_terminal(f.image->layer) << " path "
             << escape_for_terminal(f.image->path) << (f.image->in_final_image ? "" : " (not in final image)") << "\n";
      }
      if (f.digests.present.has(DigestKind::kSha256)) {
        out_ << "    sha256=" << f.digests.hex(DigestKind::kSha256) << " size=" << f.size << "\n";
      } else {
        out_ << "    size=" << f.size << " (not read)\n";
      }
      for (const MatchRecord& m : f.matches) {
        if (const auto* y = std::get_if<YaraMatchRecord>(&m)) {
          out_ << "    yara " << escape_for_terminal(y->rule->ns) << ":" << escape_for_terminal(y->rule->name)
               << " (score " << y->rule->score << ")\n";
        } else if (const auto* n = std::get_if<FilenameMatchRecord>(&m)) {
          const FilenameIoc& ioc = *n->ioc;
          out_ << "    name " << escape_for_terminal(ioc.pattern) << " (score " << ioc.score << ") "
               << escape_for_terminal(ioc.source) << ":" << ioc.line;
          if (!ioc.description.empty()) out_ << " " << escape_for_terminal(ioc.description);
          out_ << "\n";
        } else if (const auto* o = std::get_if<ObservationMatchRecord>(&m)) {
          out_ << "    process " << o->observation->id << " (score " << o->observation->score << ") "
               << o->observation->description << "\n";
        } else {
          const HashIoc& ioc = *std::get<HashMatchRecord>(m).ioc;
          out_ << "    hash " << digest_name(ioc.kind) << " " << ioc.value << " (score " << ioc.score << ") "
               << escape_for_terminal(ioc.source) << ":" << ioc.line;
          if (!ioc.description.empty()) out_ << " " << escape_for_terminal(ioc.description);
          out_ << "\n";
        }
      }
    }
    for (const FileError& e : errors_) {
      out_ << "ERROR " << escape_for_terminal(e.path) << ": " << escape_for_terminal(e.error) << "\n";
      write_disk_line(out_, e.disk);
      write_process_line(out_, e.process);
    }
    for (const SkippedFile& s : skipped_) {
      out_ << "SKIPPED " << escape_for_terminal(s.path) << " (" << s.reason;
      if (!s.detail.empty()) out_ << ": " << escape_for_terminal(s.detail);
      out_ << ")\n";
      write_disk_line(out_, s.disk);
    }
    for (const std::string& path : atime_changed_) {
      out_ << "ATIME-NOT-PRESERVED " << escape_for_terminal(path) << "\n";
    }
    const ScanStats& st = end.stats;
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.2f", st.elapsed_s);
    out_ << (end.complete ? "Scan complete: " : "Scan INTERRUPTED: ") << st.files_scanned << " files ("
         << human_bytes(st.bytes_scanned) << ") scanned";
    if (st.files_cached > 0) out_ << " (" << st.files_cached << " answered from the cache)";
    out_ << ", " << st.findings << " with findings, " << st.files_skipped << " skipped";
    if (st.skipped_unscanned > 0) out_ << " (" << st.skipped_unscanned << " with content not scanned)";
    out_ << ", " << st.errors << " errors, in " << elapsed << " s\n";
    if (end.complete && !scan_saw_everything(end)) {
      out_ << "INCOMPLETE: not every file could be read and scanned (see ERROR and SKIPPED above)\n";
    }
    if (st.findings_suppressed > 0) out_ << st.findings_suppressed << " findings left out: accepted by --baseline\n";
    for (const PackInfo& p : info_.packs) {
      out_ << "Pack " << escape_for_terminal(p.name) << " version " << p.version << " key " << p.key_id
           << " fingerprint " << p.fingerprint << " (" << escape_for_terminal(p.file) << ")\n";
    }
    out_.flush();
    if (!out_) return Error{"cannot write the report"};
    return Ok{};
  }

 private:
  std::ostream& out_;
};

}  // namespace

std::unique_ptr<ReportSink> make_text_sink(std::ostream& out) { return std::make_unique<TextSink>(out); }

}  // namespace iocsweep
