#include "report/html_report.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <sstream>

#include "iocsweep/common.hpp"
#include "iocsweep/version.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;

// Long lists are cut on the page (the report has them all): a host with a
// million excluded files should not make a page no browser opens.
constexpr std::size_t kMaxErrorsShown = 1000;
constexpr std::size_t kMaxSkippedShown = 200;

constexpr std::array<const char*, 4> kSeverities = {"alert", "warning", "notice", "info"};

// The reports were checked (report_reader.cpp): a field is either absent or
// of its schema type. These still never throw, whatever they are given.
const std::string& str(const json& obj, const char* key) {
  static const std::string kEmpty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get_ref<const std::string&>() : kEmpty;
}
bool has(const json& obj, const char* key) { return obj.is_object() && obj.contains(key); }
std::string num(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return "";
  return it->is_number_unsigned() ? std::to_string(it->get<std::uint64_t>()) : std::to_string(it->get<std::int64_t>());
}
std::uint64_t count(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}
const json& sub(const json& obj, const char* key) {
  static const json kNull;
  auto it = obj.find(key);
  return it != obj.end() ? *it : kNull;
}

// A host's name for headings: "(no host name)" rather than nothing.
std::string host_label(const HostReport& r) {
  const std::string& host = str(sub(r.document, "scan"), "host");
  return host.empty() ? "(no host name)" : html_text(host);
}

// A path (or any name with a _hex twin): the readable text, and, when the
// name is not UTF-8, its exact bytes in hex below it.
std::string path_html(const json& obj, const char* key, const char* hex_key) {
  std::string out = "<span class=\"path\">" + html_text(str(obj, key)) + "</span>";
  if (has(obj, hex_key)) out += "<div class=\"hex\">exact bytes (hex): " + html_text(str(obj, hex_key)) + "</div>";
  return out;
}

// What a match is, for grouping and for the tables: the rule name, or the
// indicator.
std::string match_label(const json& m) {
  const std::string& type = str(m, "type");
  if (type == "yara") return str(m, "rule");
  if (type == "hash") return "hash " + str(m, "algorithm") + " " + str(m, "value");
  if (type == "filename") return "path indicator " + str(m, "pattern");
  return "process " + str(m, "observation");
}

std::string match_source(const json& m) {
  const std::string& type = str(m, "type");
  if (type == "yara") return str(m, "namespace");
  if (type == "hash" || type == "filename") return str(m, "source") + ":" + num(m, "line");
  return "";
}

std::string match_description(const json& m) {
  if (str(m, "type") == "yara") {
    const json& meta = sub(m, "meta");
    return meta.is_object() ? str(meta, "description") : "";
  }
  return str(m, "description");
}

std::string member_chain_text(const json& f) {
  const json& member = sub(f, "member");
  std::string out;
  if (!member.is_array()) return out;
  for (const json& name : member) out += (out.empty() ? "" : " ! ") + (name.is_string() ? name.get<std::string>() : "");
  return out;
}

// One row of a definition list; `value_html` is already escaped.
void row(std::ostringstream& out, const char* label, const std::string& value_html) {
  out << "<tr><th>" << label << "</th><td>" << value_html << "</td></tr>\n";
}

void disk_rows(std::ostringstream& out, const json& obj) {
  const json& d = sub(obj, "disk_image");
  if (!d.is_object()) return;
  std::string where = "image " + path_html(d, "path", "path_hex");
  const json& part = sub(d, "partition");
  where += part.is_number_integer() ? ", partition " + num(d, "partition") : std::string(", whole image");
  where += " (" + html_text(str(d, "filesystem")) + " at offset " + num(d, "offset") + "), inode " + num(d, "inode");
  row(out, "Disk image", where);
  row(out, "Path in filesystem", path_html(d, "path_in_filesystem", "path_in_filesystem_hex"));
  const json& deleted = sub(obj, "deleted");
  if (deleted.is_boolean() && deleted.get<bool>()) row(out, "Deleted", "yes: read from where its content last lay");
  if (has(obj, "stream")) row(out, "Alternate data stream", path_html(obj, "stream", "stream_hex"));
}

void process_rows(std::ostringstream& out, const json& obj) {
  const json& p = sub(obj, "process");
  if (!p.is_object()) return;
  row(out, "Process",
      "pid " + num(p, "pid") + ", parent " + num(p, "ppid") + ", uid " + num(p, "uid") + ", " +
          html_text(str(p, "part")));
  row(out, "Process name", path_html(p, "name", "name_hex"));
  row(out, "Executable", path_html(p, "exe", "exe_hex"));
  row(out, "Command line", path_html(p, "cmdline", "cmdline_hex"));
  const json& r = sub(p, "region");
  if (r.is_object()) {
    row(out, "Memory region",
        html_text(str(r, "start")) + "-" + html_text(str(r, "end")) + " " + html_text(str(r, "perms")) + " offset " +
            num(r, "offset") + " " + path_html(r, "path", "path_hex"));
  }
}

class Page {
 public:
  explicit Page(const std::vector<HostReport>& reports) : reports_(reports) {}

  std::string render() {
    head();
    summary();
    by_severity();
    by_rule();
    by_host();
    out_ << "</body>\n</html>\n";
    return out_.str();
  }

 private:
  static std::string anchor(std::size_t host, std::size_t finding) {
    return "h" + std::to_string(host) + "-f" + std::to_string(finding);
  }
  const json& findings(std::size_t host) const { return reports_[host].document["findings"]; }

  void head() {
    std::size_t total = 0;
    for (std::size_t h = 0; h < reports_.size(); ++h) total += findings(h).size();
    const std::string title = reports_.size() == 1 ? "iocsweep report: " + host_label(reports_[0])
                                                   : "iocsweep report: " + std::to_string(reports_.size()) + " hosts";
    // The policy comes first, before any text from a report: no script,
    // no fetch of any kind (default-src 'none' covers img, font, frame,
    // connect), inline style only; no form can post anywhere.
    out_ << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'none'; base-uri 'none'\">\n"
         << "<meta name=\"referrer\" content=\"no-referrer\">\n"
         << "<title>" << title << "</title>\n<style>\n"
         << "body{font-family:sans-serif;margin:1em 2em;color:#222}\n"
         << "table{border-collapse:collapse;margin:.5em 0}\n"
         << "th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\n"
         << "th{background:#f3f3f3}\n"
         << ".path,.hex,code{font-family:monospace;word-break:break-all}\n"
         << ".hex{color:#666;font-size:90%}\n"
         << ".finding{border-left:.4em solid #999;padding:.2em .8em;margin:1em 0}\n"
         << ".sev-alert{border-color:#b00020}.sev-warning{border-color:#e07000}\n"
         << ".sev-notice{border-color:#c9a400}.sev-info{border-color:#4a7}\n"
         << ".badge{padding:0 .4em;border-radius:.3em;color:#fff;font-weight:bold}\n"
         << ".b-alert,.st-failed{background:#b00020}.b-warning,.st-incomplete{background:#e07000}\n"
         << ".b-notice,.st-findings{background:#c9a400}.b-info,.st-clean{background:#3a7}\n"
         << "</style>\n</head>\n<body>\n"
         << "<h1>" << title << "</h1>\n<p>" << reports_.size() << (reports_.size() == 1 ? " host, " : " hosts, ")
         << total << (total == 1 ? " finding" : " findings") << ". Page written by iocsweep " << html_escape(version())
         << " (iocsweep report html); the reports hold every detail.</p>\n";
  }

  void summary() {
    out_ << "<h2 id=\"summary\">Hosts</h2>\n<table>\n<tr><th>Host</th><th>Status</th><th>Findings</th>"
            "<th>alert</th><th>warning</th><th>notice</th><th>info</th><th>Errors</th><th>Skipped</th>"
            "<th>Skipped unscanned</th><th>Files scanned</th><th>Started</th><th>Finished</th><th>Report</th></tr>\n";
    for (std::size_t h = 0; h < reports_.size(); ++h) {
      const HostReport& r = reports_[h];
      const json& scan = r.document["scan"];
      const json& stats = r.document["stats"];
      std::map<std::string, std::size_t> per_severity;
      for (const json& f : findings(h)) ++per_severity[str(f, "severity")];
      const std::string_view status = status_name(host_status(r));
      out_ << "<tr><td><a href=\"#h" << h << "\">" << host_label(r) << "</a></td><td><span class=\"badge st-" << status
           << "\">" << status << "</span></td><td>" << findings(h).size() << "</td>";
      for (const char* s : kSeverities) out_ << "<td>" << per_severity[s] << "</td>";
      out_ << "<td>" << r.document["errors"].size() << "</td><td>" << r.document["skipped"].size() << "</td><td>"
           << num(stats, "skipped_unscanned") << "</td><td>" << num(stats, "files_scanned") << "</td><td>"
           << html_text(str(scan, "started_at")) << "</td><td>"
           << (r.cut_short ? std::string("never (cut short)") : html_text(str(scan, "finished_at"))) << "</td><td>"
           << "<span class=\"path\">" << html_text(r.source) << "</span></td></tr>\n";
    }
    out_ << "</table>\n<p>Status: <b>clean</b> nothing found and everything read; <b>findings</b> something "
            "found, everything read; <b>incomplete</b> the sweep was interrupted, could not read something or "
            "skipped content unscanned (exit code 3, or 1 with findings); <b>failed</b> the sweep never finished "
            "(its NDJSON stream has no scan_finished).</p>\n";
  }

  // A short line for a finding in the overview tables, linking to its
  // details.
  std::string finding_link(std::size_t h, std::size_t i) const {
    const json& f = findings(h)[i];
    std::string chain = member_chain_text(f);
    return "<a href=\"#" + anchor(h, i) + "\"><span class=\"path\">" + html_text(str(f, "path")) +
           (chain.empty() ? "" : " ! " + html_text(chain)) + "</span></a>";
  }

  void by_severity() {
    out_ << "<h2 id=\"by-severity\">Findings by severity</h2>\n";
    bool any = false;
    for (const char* severity : kSeverities) {
      std::vector<std::pair<std::size_t, std::size_t>> list;
      for (std::size_t h = 0; h < reports_.size(); ++h) {
        for (std::size_t i = 0; i < findings(h).size(); ++i) {
          if (str(findings(h)[i], "severity") == severity) list.emplace_back(h, i);
        }
      }
      if (list.empty()) continue;
      any = true;
      out_ << "<h3><span class=\"badge b-" << severity << "\">" << severity << "</span> " << list.size()
           << "</h3>\n<table>\n<tr><th>Host</th><th>File</th><th>Score</th><th>Matches</th></tr>\n";
      for (const auto& [h, i] : list) {
        const json& f = findings(h)[i];
        std::string labels;
        for (const json& m : f["matches"]) labels += (labels.empty() ? "" : "<br>") + html_text(match_label(m));
        out_ << "<tr><td>" << host_label(reports_[h]) << "</td><td>" << finding_link(h, i) << "</td><td>"
             << num(f, "score") << "</td><td>" << labels << "</td></tr>\n";
      }
      out_ << "</table>\n";
    }
    if (!any) out_ << "<p>No findings.</p>\n";
  }

  void by_rule() {
    out_ << "<h2 id=\"by-rule\">Findings by rule</h2>\n";
    struct Group {
      std::string type;
      std::string source;
      std::uint64_t score = 0;
      std::vector<std::pair<std::size_t, std::size_t>> where;
    };
    std::map<std::string, Group> groups;
    for (std::size_t h = 0; h < reports_.size(); ++h) {
      for (std::size_t i = 0; i < findings(h).size(); ++i) {
        for (const json& m : findings(h)[i]["matches"]) {
          Group& g = groups[str(m, "type") + "\n" + match_label(m)];
          g.type = str(m, "type");
          g.source = match_source(m);
          g.score = std::max(g.score, count(m, "score"));
          if (g.where.empty() || g.where.back() != std::make_pair(h, i)) g.where.emplace_back(h, i);
        }
      }
    }
    if (groups.empty()) {
      out_ << "<p>No findings.</p>\n";
      return;
    }
    // Highest score first, then by name: the rules that matter most on top.
    std::vector<std::pair<std::string, const Group*>> sorted;
    for (const auto& [key, g] : groups) sorted.emplace_back(key.substr(key.find('\n') + 1), &g);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second->score > b.second->score; });
    out_ << "<table>\n<tr><th>Rule or indicator</th><th>Kind</th><th>Source</th><th>Score</th><th>Files</th>"
            "<th>Hosts</th><th>Where</th></tr>\n";
    for (const auto& [label, g] : sorted) {
      std::vector<std::size_t> hosts;
      std::string where;
      for (const auto& [h, i] : g->where) {
        if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
        where += (where.empty() ? "" : "<br>") + host_label(reports_[h]) + ": " + finding_link(h, i);
      }
      out_ << "<tr><td><code>" << html_text(label) << "</code></td><td>" << html_text(g->type) << "</td><td>"
           << html_text(g->source) << "</td><td>" << g->score << "</td><td>" << g->where.size() << "</td><td>"
           << hosts.size() << "</td><td>" << where << "</td></tr>\n";
    }
    out_ << "</table>\n";
  }

  void finding_details(std::size_t h, std::size_t i) {
    const json& f = findings(h)[i];
    const std::string& severity = str(f, "severity");
    out_ << "<div class=\"finding sev-" << html_escape(severity) << "\" id=\"" << anchor(h, i) << "\">\n<h4>"
         << "<span class=\"badge b-" << html_escape(severity) << "\">" << html_escape(severity) << "</span> score "
         << num(f, "score") << " <span class=\"path\">" << html_text(str(f, "path")) << "</span></h4>\n<table>\n";
    row(out_, "File", path_html(f, "path", "path_hex"));
    const json& member = sub(f, "member");
    if (member.is_array()) {
      std::string chain = "<ol>";
      for (std::size_t k = 0; k < member.size(); ++k) {
        chain += "<li><span class=\"path\">" + html_text(member[k].is_string() ? member[k].get<std::string>() : "") +
                 "</span>";
        const json& hex = sub(f, "member_hex");
        if (hex.is_array() && k < hex.size() && hex[k].is_string()) {
          chain += "<div class=\"hex\">exact bytes (hex): " + html_text(hex[k].get<std::string>()) + "</div>";
        }
        chain += "</li>";
      }
      row(out_, "Archive member chain", chain + "</ol>");
    }
    const json& image = sub(f, "image");
    if (image.is_object()) {
      row(out_, "Container image",
          html_text(str(image, "reference")) + ", layer " + num(image, "layer_index") + " <code>" +
              html_text(str(image, "layer")) + "</code>");
      const json& final_image = sub(image, "in_final_image");
      row(out_, "Path in image",
          path_html(image, "path", "path_hex") +
              (final_image.is_boolean() && !final_image.get<bool>() ? " (not in the final image)" : ""));
    }
    disk_rows(out_, f);
    process_rows(out_, f);
    row(out_, "Size", num(f, "size") + " bytes");
    for (const auto& [key, label] : {std::pair{"md5", "MD5"}, {"sha1", "SHA-1"}, {"sha256", "SHA-256"}}) {
      if (has(f, key)) row(out_, label, "<code>" + html_text(str(f, key)) + "</code>");
    }
    if (!has(f, "sha256")) row(out_, "Digests", "none: the file was not read");
    if (has(f, "cached")) row(out_, "Cached", "yes: digests and YARA verdict from the scan cache");
    out_ << "</table>\n<table>\n<tr><th>Match</th><th>Rule or indicator</th><th>Source</th><th>Score</th>"
            "<th>Description</th><th>Tags</th></tr>\n";
    for (const json& m : f["matches"]) {
      std::string tags;
      const json& t = sub(m, "tags");
      if (t.is_array()) {
        for (const json& tag : t)
          tags += (tags.empty() ? "" : ", ") + html_text(tag.is_string() ? tag.get<std::string>() : "");
      }
      out_ << "<tr><td>" << html_text(str(m, "type")) << "</td><td><code>" << html_text(match_label(m))
           << "</code></td><td>" << html_text(match_source(m)) << "</td><td>" << num(m, "score") << "</td><td>"
           << html_text(match_description(m)) << "</td><td>" << tags << "</td></tr>\n";
    }
    out_ << "</table>\n</div>\n";
  }

  void errors_and_skipped(std::size_t h) {
    const json& doc = reports_[h].document;
    const json& errors = doc["errors"];
    out_ << "<h4>Errors: " << errors.size() << "</h4>\n";
    if (!errors.empty()) {
      out_ << "<table>\n<tr><th>Path</th><th>Error</th></tr>\n";
      for (std::size_t i = 0; i < errors.size() && i < kMaxErrorsShown; ++i) {
        out_ << "<tr><td>" << path_html(errors[i], "path", "path_hex") << "</td><td>"
             << html_text(str(errors[i], "error")) << "</td></tr>\n";
      }
      out_ << "</table>\n";
      if (errors.size() > kMaxErrorsShown) {
        out_ << "<p>and " << errors.size() - kMaxErrorsShown << " more (in the report).</p>\n";
      }
    }
    const json& skipped = doc["skipped"];
    out_ << "<h4>Skipped: " << skipped.size() << " (" << num(doc["stats"], "skipped_unscanned")
         << " whose content was not scanned)</h4>\n";
    if (skipped.empty()) return;
    std::map<std::string, std::size_t> reasons;
    for (const json& s : skipped) ++reasons[str(s, "reason")];
    out_ << "<table>\n<tr><th>Reason</th><th>Entries</th></tr>\n";
    for (const auto& [reason, n] : reasons)
      out_ << "<tr><td>" << html_text(reason) << "</td><td>" << n << "</td></tr>\n";
    out_ << "</table>\n<table>\n<tr><th>Path</th><th>Reason</th><th>Detail</th></tr>\n";
    for (std::size_t i = 0; i < skipped.size() && i < kMaxSkippedShown; ++i) {
      out_ << "<tr><td>" << path_html(skipped[i], "path", "path_hex") << "</td><td>"
           << html_text(str(skipped[i], "reason")) << "</td><td>" << html_text(str(skipped[i], "detail"))
           << "</td></tr>\n";
    }
    out_ << "</table>\n";
    if (skipped.size() > kMaxSkippedShown) {
      out_ << "<p>and " << skipped.size() - kMaxSkippedShown << " more (in the report).</p>\n";
    }
  }

  void by_host() {
    out_ << "<h2 id=\"by-host\">Findings by host</h2>\n";
    for (std::size_t h = 0; h < reports_.size(); ++h) {
      const HostReport& r = reports_[h];
      const json& scan = r.document["scan"];
      const json& stats = r.document["stats"];
      const std::string_view status = status_name(host_status(r));
      out_ << "<section id=\"h" << h << "\">\n<h3>" << host_label(r) << " <span class=\"badge st-" << status << "\">"
           << status << "</span></h3>\n<table>\n";
      row(out_, "Report", "<span class=\"path\">" + html_text(r.source) + "</span>");
      row(out_, "Started", html_text(str(scan, "started_at")));
      row(out_, "Finished",
          r.cut_short ? std::string("never: the stream was cut short")
                      : html_text(str(scan, "finished_at")) + (sub(scan, "complete") == true ? "" : " (interrupted)"));
      std::string roots;
      const json& list = sub(scan, "roots");
      const json& hex = sub(scan, "roots_hex");
      for (std::size_t k = 0; list.is_array() && k < list.size(); ++k) {
        roots += (roots.empty() ? "" : "<br>") + std::string("<span class=\"path\">") +
                 html_text(list[k].is_string() ? list[k].get<std::string>() : "") + "</span>";
        // roots_hex holds every root's bytes once any root is not UTF-8.
        if (hex.is_array() && k < hex.size() && hex[k].is_string() &&
            hex[k].get_ref<const std::string&>() != to_hex(list[k].is_string() ? list[k].get<std::string>() : "")) {
          roots += "<div class=\"hex\">exact bytes (hex): " + html_text(hex[k].get<std::string>()) + "</div>";
        }
      }
      row(out_, "Roots", roots.empty() ? std::string("(none)") : roots);
      const json& images = sub(scan, "images");
      for (std::size_t k = 0; images.is_array() && k < images.size(); ++k) {
        row(out_, "Disk image",
            "<span class=\"path\">" + html_text(images[k].is_string() ? images[k].get<std::string>() : "") + "</span>");
      }
      row(out_, "iocsweep", html_text(str(sub(r.document, "tool"), "version")));
      row(out_, "Files scanned", num(stats, "files_scanned") + " (" + num(stats, "bytes_scanned") + " bytes)");
      const json& warnings = sub(scan, "load_warnings");
      for (std::size_t k = 0; warnings.is_array() && k < warnings.size(); ++k) {
        row(out_, "Load warning", html_text(warnings[k].is_string() ? warnings[k].get<std::string>() : ""));
      }
      out_ << "</table>\n<h4>Findings: " << findings(h).size() << "</h4>\n";
      for (std::size_t i = 0; i < findings(h).size(); ++i) finding_details(h, i);
      errors_and_skipped(h);
      out_ << "</section>\n";
    }
  }

  const std::vector<HostReport>& reports_;
  std::ostringstream out_;
};

}  // namespace

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string html_text(std::string_view s) { return html_escape(escape_controls(s)); }

std::string render_html_report(const std::vector<HostReport>& reports) { return Page(reports).render(); }

}  // namespace iocsweep
