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
json meta_to_json(const std::vector<std::pair<std::string, MetaValue>>& meta);
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
