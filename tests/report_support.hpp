#pragma once
// Reading reports in tests: the built binary's JSON report, CSV rows, and
// JSON Schema validation of a document (python3-jsonschema).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "iocsweep/disk_image.hpp"
#include "test_support.hpp"

namespace iocsweep::test {

/// The JSON report on `r`'s stdout; a test failure (and an empty object)
/// when it is not JSON.
inline nlohmann::json parse_report(const RunResult& r) {
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return nlohmann::json::object();
  }
}

/// The finding for file `path` (and, when given, archive member chain
/// `member`), or null.
inline const nlohmann::json* finding_for(const nlohmann::json& doc, const std::string& path,
                                         const std::vector<std::string>& member = {}) {
  for (const nlohmann::json& f : doc["findings"]) {
    if (f["path"] != path) continue;
    const std::vector<std::string> m =
        f.contains("member") ? f["member"].get<std::vector<std::string>>() : std::vector<std::string>{};
    if (m == member) return &f;
  }
  return nullptr;
}

/// A location in a disk image as the image walker reports it: `image`
/// "case/disk.E01", partition 2 at 1 MiB, NTFS (or, with `partition` -1,
/// "fat.img", a bare FAT32 filesystem at 0).
inline DiskLocation disk_location(std::string path, std::uint64_t inode, bool deleted = false, std::string stream = "",
                                  int partition = 2) {
  DiskLocation d;
  d.image = partition < 0 ? "fat.img" : "case/disk.E01";
  d.partition = partition;
  d.offset = partition < 0 ? 0 : 1048576;
  d.filesystem = partition < 0 ? "fat32" : "ntfs";
  d.path = std::move(path);
  d.inode = inode;
  d.deleted = deleted;
  d.stream = std::move(stream);
  return d;
}

/// RFC 4180 reader: rows of fields; a row ends with CRLF outside quotes.
/// `*crlf_only` is cleared when a bare CR or LF (or a last row without
/// CRLF) is met.
inline std::vector<std::vector<std::string>> parse_csv(const std::string& text, bool* crlf_only) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  *crlf_only = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      ++i;
    } else {
      if (c == '\n' || c == '\r') *crlf_only = false;
      field += c;
    }
  }
  if (!field.empty() || !row.empty()) {
    *crlf_only = false;  // last row without CRLF
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

/// Validates the JSON text `document` against the JSON Schema file
/// `schema` (with the validator for the draft it declares, and with Draft
/// 7 too when `also_draft7`). Exit code 0 when it validates; stderr says
/// why not.
inline RunResult validate_json_schema(const std::string& schema, const std::string& document,
                                      bool also_draft7 = false) {
  TempDir dir;
  write_file(dir / "document.json", document);
  const std::string script = std::string(
                                 "import json,sys,jsonschema\n"
                                 "s=json.load(open(sys.argv[1]))\n"
                                 "d=json.load(open(sys.argv[2]))\n"
                                 "jsonschema.validators.validator_for(s)(s).validate(d)\n") +
                             (also_draft7 ? "jsonschema.Draft7Validator(s).validate(d)\n" : "");
  return run({"/usr/bin/python3", "-c", script, schema, dir / "document.json"});
}

}  // namespace iocsweep::test
