#pragma once
// Base of the sinks that write one document at the end: keeps what the scan
// reported and hands it over sorted by path, so two runs over the same tree
// give the same report whatever order the workers finished in.

#include <algorithm>
#include <tuple>

#include "iocsweep/report.hpp"

namespace iocsweep::report_detail {

class CollectingSink : public ReportSink {
 public:
  void begin(const ScanInfo& info) final { info_ = info; }
  void finding(Finding f) final { findings_.push_back(std::move(f)); }
  void error(FileError e) final { errors_.push_back(std::move(e)); }
  void skipped(SkippedFile s) final { skipped_.push_back(std::move(s)); }
  void atime_not_preserved(std::string path) final { atime_changed_.push_back(std::move(path)); }

  Status end(const ScanEnd& end) final {
    const auto by_path = [](const auto& a, const auto& b) { return a.path < b.path; };
    // An archive has one finding per matching member: path, then member
    // chain. Several errors or skips of one archive keep the order they
    // came in (one worker reads a whole archive).
    // In a disk image a deleted file may share its path with a live one
    // (or with another deleted one): live first, then by inode, so the
    // order stays the same from run to run.
    std::sort(findings_.begin(), findings_.end(), [](const Finding& a, const Finding& b) {
      const auto disk_key = [](const Finding& f) {
        return f.disk ? std::make_pair(f.disk->deleted, f.disk->inode) : std::make_pair(false, std::uint64_t{0});
      };
      return std::tie(a.path, a.member) < std::tie(b.path, b.member) ||
             (std::tie(a.path, a.member) == std::tie(b.path, b.member) && disk_key(a) < disk_key(b));
    });
    std::stable_sort(errors_.begin(), errors_.end(), by_path);
    std::stable_sort(skipped_.begin(), skipped_.end(), by_path);
    std::sort(atime_changed_.begin(), atime_changed_.end());
    return write(end);
  }

 protected:
  /// Writes the whole document; members hold everything, sorted.
  virtual Status write(const ScanEnd& end) = 0;

  ScanInfo info_;
  std::vector<Finding> findings_;
  std::vector<FileError> errors_;
  std::vector<SkippedFile> skipped_;
  std::vector<std::string> atime_changed_;
};

}  // namespace iocsweep::report_detail
