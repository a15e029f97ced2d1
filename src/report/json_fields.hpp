#pragma once
// The JSON objects of a report, shared by the document sink (json) and the
// streaming sink (ndjson) so both say the same thing the same way.
// Internal to the report component.

#include <nlohmann/json.hpp>

#include "iocsweep/report.hpp"

namespace iocsweep::report_detail {

using nlohmann::json;

/// {"path": ..., ["path_hex": ...]}, plus whatever the caller adds.
json path_object(const std::string& path);
/// A rule's metadata; a key YARA saw more than once becomes an array of
/// its values, in order.
json meta_to_json(const std::vector<std::pair<std::string_view, MetaValue>>& meta);
/// The "disk_image" object of something found in a disk image: {path,
/// [path_hex], partition (null for a bare filesystem), offset, filesystem,
/// path_in_filesystem, [path_in_filesystem_hex], inode}.
json disk_image_json(const DiskLocation& d);
/// Adds "disk_image", "deleted" and, for an alternate data stream,
/// "stream" (and "stream_hex") to `obj`; nothing when `d` is empty.
void add_disk_fields(json& obj, const std::optional<DiskLocation>& d);
/// Adds `process` (pid, name, exe, cmdline, region...: docs/report-format.md)
/// to `obj` when `where` is set; the texts the process chose get _hex twins.
void add_process_fields(json& obj, const std::optional<ProcessLocation>& where);
/// What disk_path() writes after the image's '#': "p2/Windows/x.dll:ads",
/// "/A.TXT" (raw bytes). For SARIF and the text report.
std::string disk_inside(const DiskLocation& d);
/// What a baseline key and a SARIF fingerprint add for a file that hides:
/// "" for anything live in a file's default data, else NUL 'd' (deleted)
/// and/or NUL 'a' (an alternate data stream). docs/ci.md, "Baselines".
std::string hiding_state(bool deleted, bool stream);
std::string hiding_state(const std::optional<DiskLocation>& d);
json finding_json(const Finding& f);
json error_json(const FileError& e);
json skipped_json(const SkippedFile& s);
/// The "scan" object; `end` is null while the scan runs (no finished_at,
/// no complete).
json scan_json(const ScanInfo& info, const ScanEnd* end);
json stats_json(const ScanStats& s);
json tool_json();
/// One line or document: invalid UTF-8 that came from outside (rule
/// metadata, descriptions) is replaced rather than allowed to break it.
std::string dump(const json& j, int indent);

}  // namespace iocsweep::report_detail
