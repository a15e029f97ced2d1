#pragma once
// Baselines: findings someone has already looked at and accepted, so a CI
// gate fails only on what is new. A baseline is an earlier JSON report of
// iocsweep or an accepted-findings file (docs/ci.md, docs/baseline.schema.json).
// A match is accepted by its identity (the rule name, or the indicator's
// kind and value) plus the SHA-256 of the file's content, so moving or
// renaming a file keeps it accepted while a changed file or a new rule
// match is reported. Matches on files that were not read (no digest) are
// accepted by path instead. A deleted file or an NTFS alternate data stream
// found in a disk image is accepted only by an entry for a deleted file (or
// a stream): the same bytes or path live do not accept it. Match identities
// and the file's layout version are private to the report component
// (src/report/model.hpp).

#include <cstddef>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "iocsweep/common.hpp"
#include "iocsweep/report.hpp"

namespace iocsweep {

/// A set of accepted matches. Read-only after loading; safe to share
/// between threads.
class Baseline {
 public:
  /// Parses an accepted-findings file or a JSON report of iocsweep (told
  /// apart by their top-level keys). `name` is used in messages: "NAME:
  /// accepted[3]: sha256 is not 64 hex digits". Nothing is half-loaded.
  static Result<Baseline> parse(std::string_view text, const std::string& name);
  /// Reads and parses the file at `path` (at most 512 MiB).
  static Result<Baseline> load(const std::string& path);

  /// Removes from `finding` the matches the baseline accepts; returns how
  /// many were removed. Uses the finding's SHA-256 when present, else its
  /// path (the raw bytes), and for a file in a disk image whether it is
  /// deleted or a stream. Does not touch the score.
  std::size_t suppress(Finding& finding) const;

  /// Number of accepted (identity, content or path) pairs.
  std::size_t size() const { return keys_.size(); }

 private:
  std::unordered_set<std::string> keys_;  // identity NUL ('s' sha256 | 'p' path) [NUL 'd'] [NUL 'a']
};

/// Collects the matches of a scan's findings and writes them as an
/// accepted-findings file (--write-baseline). add() is thread-safe.
class BaselineWriter {
 public:
  /// Records every match of `finding` (before any baseline suppression).
  void add(const Finding& finding);
  /// Writes the document: entries sorted and without duplicates, each with
  /// "match", "sha256" when the file was read, "path" (plus "path_hex"
  /// for a name that is not UTF-8), and "deleted": true / "stream" for a
  /// deleted file or a stream in a disk image. Fails when `out` fails.
  Status write(std::ostream& out) const;

 private:
  struct Entry {
    std::string match;
    std::string sha256;
    std::string path;
    std::string note;
    bool deleted = false;  ///< a deleted file in a disk image
    std::string stream;    ///< an NTFS alternate data stream's name; "" for a file's data
    bool operator<(const Entry& o) const;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

}  // namespace iocsweep
