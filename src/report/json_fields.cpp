#include "report/json_fields.hpp"

#include "iocsweep/build_info.hpp"
#include "iocsweep/version.hpp"
#include "report/model.hpp"

namespace iocsweep::report_detail {
json meta_to_json(const std::vector<std::pair<std::string_view, MetaValue>>& meta) {
  json out = json::object();
  for (const auto& [name, value] : meta) {
    const std::string key(name);
    json v = std::visit([](const auto& x) { return json(x); }, value);
    // YARA allows a meta key more than once; keep every value.
    if (out.contains(key)) {
      if (!out[key].is_array()) out[key] = json::array({out[key]});
      out[key].push_back(std::move(v));
    } else {
      out[key] = std::move(v);
    }
  }
  return out;
}

namespace {

json match_to_json(const MatchRecord& match) {
  if (const auto* y = std::get_if<YaraMatchRecord>(&match)) {
    return json{{"type", "yara"},
                {"rule", y->rule->name},
                {"namespace", y->rule->ns},
                {"tags", y->rule->tags},
                {"meta", meta_to_json(y->rule->meta)},
                {"score", y->rule->score}};
  }
  if (const auto* f = std::get_if<FilenameMatchRecord>(&match)) {
    const FilenameIoc& ioc = *f->ioc;
    json out{{"type", "filename"}, {"pattern", ioc.pattern},         {"source", ioc.source},
             {"line", ioc.line},   {"description", ioc.description}, {"score", ioc.score}};
    if (!ioc.false_positive.empty()) out["false_positive"] = ioc.false_positive;
    return out;
  }
  if (const auto* o = std::get_if<ObservationMatchRecord>(&match)) {
    return json{{"type", "process"},
                {"observation", std::string(o->observation->id)},
                {"description", std::string(o->observation->description)},
                {"score", o->observation->score}};
  }
  const HashIoc& ioc = *std::get<HashMatchRecord>(match).ioc;
  return json{{"type", "hash"},   {"algorithm", digest_name(ioc.kind)}, {"value", ioc.value}, {"source", ioc.source},
              {"line", ioc.line}, {"description", ioc.description},     {"score", ioc.score}};
}

}  // namespace

// "path" is always valid UTF-8; when the name is not, "path_hex" keeps its
// exact bytes, so nothing about the name is lost.
json path_object(const std::string& path) {
  json obj;
  obj["path"] = path_for_json(path);
  if (!is_valid_utf8(path)) obj["path_hex"] = to_hex(path);
  return obj;
}

// Names inside a disk image are the filesystem's bytes: as for a path, the
// text is readable and the _hex twin, when the text is not them, exact.
json disk_image_json(const DiskLocation& d) {
  json obj = path_object(d.image);
  obj["partition"] = d.partition < 0 ? json(nullptr) : json(d.partition);
  obj["offset"] = d.offset;
  obj["filesystem"] = to_valid_utf8(d.filesystem);
  obj["path_in_filesystem"] = path_for_json(d.path);
  if (!is_valid_utf8(d.path)) obj["path_in_filesystem_hex"] = to_hex(d.path);
  obj["inode"] = d.inode;
  return obj;
}

void add_disk_fields(json& obj, const std::optional<DiskLocation>& d) {
  if (!d) return;
  obj["disk_image"] = disk_image_json(*d);
  obj["deleted"] = d->deleted;
  if (!d->stream.empty()) {
    obj["stream"] = path_for_json(d->stream);
    if (!is_valid_utf8(d->stream)) obj["stream_hex"] = to_hex(d->stream);
  }
}

// Text a hostile process chose (its name, its arguments, its mappings'
// names) as a field, readable, with the NAME_hex twin when not UTF-8.
void add_text(json& obj, const char* name, const std::string& value) {
  obj[name] = path_for_json(value);
  if (!is_valid_utf8(value)) obj[std::string(name) + "_hex"] = to_hex(value);
}

void add_process_fields(json& obj, const std::optional<ProcessLocation>& where) {
  if (!where) return;
  const ProcessInfo& p = where->process;
  json proc{{"pid", p.pid}, {"ppid", p.ppid}};
  add_text(proc, "name", p.name);
  add_text(proc, "exe", p.exe);
  add_text(proc, "cmdline", p.cmdline);
  proc["uid"] = p.uid;
  proc["exe_deleted"] = p.exe_deleted;
  proc["start_time"] = p.start_time;
  proc["part"] = where->memory ? "memory" : "executable";
  if (where->region) {
    const MemoryRegion& r = *where->region;
    json region{{"start", hex_address(r.start)},
                {"end", hex_address(r.end)},
                {"perms", to_valid_utf8(r.perms)},
                {"offset", r.offset}};
    add_text(region, "path", r.path);
    proc["region"] = std::move(region);
  }
  obj["process"] = std::move(proc);
}

std::string disk_inside(const DiskLocation& d) {
  std::string inside = d.partition < 0 ? "" : "p" + std::to_string(d.partition);
  inside += d.path;
  if (!d.stream.empty()) inside += ":" + d.stream;
  return inside;
}

std::string hiding_state(bool deleted, bool stream) {
  std::string state;
  if (deleted) state += std::string("\0d", 2);
  if (stream) state += std::string("\0a", 2);
  return state;
}

std::string hiding_state(const std::optional<DiskLocation>& d) {
  return d ? hiding_state(d->deleted, !d->stream.empty()) : "";
}

json finding_json(const Finding& f) {
  json obj = path_object(f.path);
  if (!f.member.empty()) {
    // Member names are data from the archive: any bytes, "../", absolute.
    // "member" is readable, "member_hex" (when any is not UTF-8) exact.
    json member = json::array();
    bool all_utf8 = true;
    for (const std::string& m : f.member) {
      member.push_back(path_for_json(m));
      all_utf8 = all_utf8 && is_valid_utf8(m);
    }
    obj["member"] = std::move(member);
    if (!all_utf8) {
      json hex = json::array();
      for (const std::string& m : f.member) hex.push_back(to_hex(m));
      obj["member_hex"] = std::move(hex);
    }
  }
  if (f.image) {
    json image = path_object(f.image->path);
    image["reference"] = to_valid_utf8(f.image->reference);
    image["layer"] = to_valid_utf8(f.image->layer);
    image["layer_index"] = f.image->layer_index;
    image["in_final_image"] = f.image->in_final_image;
    obj["image"] = std::move(image);
  }
  add_disk_fields(obj, f.disk);
  add_process_fields(obj, f.process);
  if (f.file) {
    json file{{"inode", f.file->inode}, {"mtime", rfc3339_from_ns(f.file->mtime_ns)}};
    if (f.file->uid) {
      file["uid"] = *f.file->uid;
      file["owner"] = path_for_json(f.file->owner);
    }
    obj["file"] = std::move(file);
  }
  obj["size"] = f.size;
  for (const DigestKind kind : {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256}) {
    if (f.digests.present.has(kind)) obj[std::string(digest_name(kind))] = f.digests.hex(kind);
  }
  obj["score"] = f.score;
  obj["severity"] = severity_for(f.score);
  if (f.cached) obj["cached"] = true;
  json matches = json::array();
  for (const MatchRecord& m : f.matches) matches.push_back(match_to_json(m));
  obj["matches"] = std::move(matches);
  return obj;
}

json error_json(const FileError& e) {
  json obj = path_object(e.path);
  obj["error"] = to_valid_utf8(e.error);
  add_disk_fields(obj, e.disk);
  add_process_fields(obj, e.process);
  return obj;
}

json skipped_json(const SkippedFile& k) {
  json obj = path_object(k.path);
  obj["reason"] = k.reason;
  if (!k.detail.empty()) obj["detail"] = to_valid_utf8(k.detail);
  add_disk_fields(obj, k.disk);
  add_process_fields(obj, k.process);
  return obj;
}

json scan_json(const ScanInfo& info, const ScanEnd* end) {
  json rulesets = json::array();
  for (const RulesetInfo& r : info.rulesets) {
    rulesets.push_back({{"name", r.name}, {"sha256", r.sha256}, {"rules", r.rules}});
  }
  json ioc_sets = json::array();
  for (const IocSetInfo& s : info.ioc_sets) {
    ioc_sets.push_back(
        {{"name", s.name},
         {"sha256", s.sha256},
         {"count", s.count},
         {"counts", {{"md5", s.md5}, {"sha1", s.sha1}, {"sha256", s.sha256_count}, {"filename", s.filename}}}});
  }
  json allow_sets = json::array();
  for (const IocSetInfo& s : info.allow_sets) {
    allow_sets.push_back({{"name", s.name}, {"sha256", s.sha256}, {"count", s.count}});
  }
  json scan = {{"host", to_valid_utf8(info.host)},
               {"started_at", info.started_at},
               {"rulesets", std::move(rulesets)},
               {"ioc_sets", std::move(ioc_sets)},
               {"allow_sets", std::move(allow_sets)}};
  // As "path_hex" for a path: NAME_hex holds the exact bytes of every
  // entry, in order, when the text cannot give them.
  const auto paths = [&scan](const char* name, const std::vector<std::string>& list) {
    json text = json::array();
    json hex = json::array();
    bool any_not_utf8 = false;
    for (const std::string& p : list) {
      text.push_back(path_for_json(p));
      hex.push_back(to_hex(p));
      any_not_utf8 = any_not_utf8 || !is_valid_utf8(p);
    }
    scan[name] = std::move(text);
    if (any_not_utf8) scan[std::string(name) + "_hex"] = std::move(hex);
  };
  paths("roots", info.roots);
  json warnings = json::array();
  for (const std::string& w : info.load_warnings) warnings.push_back(to_valid_utf8(w));
  scan["load_warnings"] = std::move(warnings);
  // Present only when --image was given, so reports of tree sweeps keep
  // their shape.
  if (!info.images.empty()) paths("images", info.images);
  // Likewise only when processes were swept (--processes, --pid).
  if (info.all_processes || !info.pids.empty()) scan["processes"] = {{"all", info.all_processes}, {"pids", info.pids}};
  // Signed packs (--pack, docs/packs.md), only when one was loaded.
  if (!info.packs.empty()) {
    json packs = json::array();
    for (const PackInfo& p : info.packs) {
      packs.push_back({{"name", p.name},
                       {"version", p.version},
                       {"publisher", to_valid_utf8(p.publisher)},
                       {"key_id", p.key_id},
                       {"fingerprint", p.fingerprint},
                       {"file", path_for_json(p.file)}});
    }
    scan["packs"] = std::move(packs);
  }
  if (end != nullptr) {
    scan["finished_at"] = end->finished_at;
    scan["complete"] = end->complete;
  }
  return scan;
}

json stats_json(const ScanStats& s) {
  json out = {{"files_scanned", s.files_scanned},
              {"bytes_scanned", s.bytes_scanned},
              {"files_skipped", s.files_skipped},
              {"skipped_unscanned", s.skipped_unscanned},
              {"errors", s.errors},
              {"findings", s.findings},
              {"findings_below_min_score", s.findings_below_min_score},
              {"files_allowlisted", s.files_allowlisted},
              {"findings_suppressed", s.findings_suppressed},
              {"symlinks_not_followed", s.symlinks_not_followed},
              {"files_read_without_noatime", s.files_read_without_noatime},
              {"files_cached", s.files_cached},
              {"yara_prefiltered", s.yara_prefiltered},
              {"processes_scanned", s.processes_scanned},
              {"process_memory_bytes", s.process_memory_bytes},
              {"elapsed_s", s.elapsed_s}};
  // Only with --syslog, so other reports keep their shape.
  if (s.syslog) {
    out["syslog_sent"] = s.syslog->sent;
    out["syslog_undelivered"] = s.syslog->undelivered;
  }
  return out;
}

json tool_json() { return tool_info_json(); }

std::string dump(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

}  // namespace iocsweep::report_detail
