#include "report/model.hpp"

#include <algorithm>
#include <cstdio>

#include "iocsweep/report.hpp"

namespace iocsweep {

int match_score(const MatchRecord& match) {
  if (const auto* y = std::get_if<YaraMatchRecord>(&match)) return y->rule->score;
  if (const auto* f = std::get_if<FilenameMatchRecord>(&match)) return f->ioc->score;
  if (const auto* o = std::get_if<ObservationMatchRecord>(&match)) return o->observation->score;
  return std::get<HashMatchRecord>(match).ioc->score;
}

int combine_scores(const std::vector<MatchRecord>& matches) {
  int best = 0;
  for (const MatchRecord& m : matches) best = std::max(best, match_score(m));
  if (matches.empty()) return 0;
  const int corroboration = 5 * static_cast<int>(matches.size() - 1);
  return std::min(100, best + corroboration);
}

std::string_view severity_for(int score) {
  if (score >= 80) return "alert";
  if (score >= 60) return "warning";
  if (score >= 40) return "notice";
  return "info";
}

bool skip_hides_content(std::string_view reason) {
  // Skipped by design, hiding nothing the user asked to sweep.
  static constexpr std::string_view kByDesign[] = {
      "special",           // FIFO, socket, device: never opened
      "excluded",          // --exclude
      "other_filesystem",  // --one-file-system
      "filesystem",        // pseudo and network filesystems (--include-fs)
      "symlink_loop",      // a link to a directory above it, or to itself
      "already_visited",   // walked under another path
      "process_exited",    // a process that ended before or while it was read
      "kernel_thread",     // no memory or executable of its own
      "zombie",            // exited, not reaped: no memory left
      "self",              // iocsweep itself
  };
  // Content that was there and that no rule or indicator saw. Listed so
  // that a reason cannot drift into kByDesign unnoticed; any reason in
  // neither list (one added later) is treated the same way.
  static constexpr std::string_view kHidesContent[] = {
      "too_large",
      "changed_during_walk",
      "atime_not_preservable",
      "archive_limit",
      "archive_depth",
      "encrypted",             // an encrypted archive member
      "encrypted_volume",      // BitLocker, LUKS in a disk image: a whole volume unread
      "unknown_filesystem",    // a partition no filesystem driver recognises
      "image_limit",           // the rest of a filesystem past a DiskImageOptions bound
      "process_memory_limit",  // a process's memory past --max-process-memory
  };
  if (std::find(std::begin(kHidesContent), std::end(kHidesContent), reason) != std::end(kHidesContent)) return true;
  return std::find(std::begin(kByDesign), std::end(kByDesign), reason) == std::end(kByDesign);
}

bool scan_saw_everything(const ScanEnd& end) {
  return end.complete && end.stats.errors == 0 && end.stats.skipped_unscanned == 0;
}

std::string member_chain(const Finding& f) {
  std::string chain;
  for (const std::string& m : f.member) chain += (chain.empty() ? "" : "!/") + m;
  return chain;
}

std::string path_for_json(const std::string& path) { return to_valid_utf8(path); }

std::string hex_address(std::uint64_t address) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(address));
  return buf;
}

}  // namespace iocsweep
