#include "pipeline/process_stage.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>

#include "pipeline/scan_shared.hpp"

namespace iocsweep {
namespace {

ProcessLocation location_of(const ProcessInfo& info, bool memory) {
  return ProcessLocation{info, std::nullopt, memory};
}

SkippedFile skipped_in(const ProcessLocation& where, std::string reason, std::string detail = {}) {
  SkippedFile s{process_path(where), std::move(reason), std::move(detail), std::nullopt};
  s.process = where;
  return s;
}

FileError error_in(const ProcessLocation& where, std::string error) {
  FileError e{process_path(where), std::move(error), std::nullopt};
  e.process = where;
  return e;
}

// A read that failed because the process ended is no error: there is
// nothing left to read. Anything else (permission denied) is.
void failed(SharedSink& sink, const ProcessLocation& where, const std::string& message) {
  if (!still_running(where.process)) {
    sink.skipped(skipped_in(where, "process_exited", message));
  } else {
    sink.error(error_in(where, message));
  }
}

/// The readable regions of one process, cut into libyara's blocks, read
/// one at a time through ProcessMemory into the stage's buffer.
class RegionBlocks final : public MemoryBlocks {
 public:
  struct Block {
    std::uint64_t base;
    std::size_t size;
  };
  RegionBlocks(ProcessMemory& memory, ReadBuffer& buffer, ArchiveHost& host)
      : memory_(memory), buffer_(buffer), host_(host) {}

  std::vector<Block> blocks;
  std::uint64_t bytes_read = 0;  // first fetch of each block only
  std::string error;             // a read refused or the process gone

  std::size_t count() const override { return blocks.size(); }
  std::uint64_t base(std::size_t i) const override { return blocks[i].base; }
  std::size_t size(std::size_t i) const override { return blocks[i].size; }
  ByteView fetch(std::size_t i) override {
    if (!error.empty() || host_.stop_requested()) return {};
    const Block& b = blocks[i];
    buffer_.make_room(b.size);
    std::size_t got = 0;
    while (got < b.size) {
      Result<std::size_t> n =
          memory_.read_at(b.base + got, std::span<std::uint8_t>(buffer_.data() + got, b.size - got));
      if (!n) {
        error = n.error().message;
        break;
      }
      if (*n == 0) break;  // unmapped meanwhile, or a page that cannot be read
      got += *n;
    }
    // libyara fetches a block again for a condition's uint32(address):
    // those reads are paid for and counted once.
    if (i >= fetched_.size()) fetched_.resize(blocks.size(), false);
    if (!fetched_[i]) {
      fetched_[i] = true;
      bytes_read += got;
      if (!host_.pay_rate(got)) return {};
    }
    return ByteView(buffer_.data(), got);
  }

 private:
  ProcessMemory& memory_;
  ReadBuffer& buffer_;
  ArchiveHost& host_;
  std::vector<bool> fetched_;
};

// Reads `size` bytes of `source` into `buffer`: all, or as many as could be
// read with `error` saying why not.
ByteView read_into(ByteSource& source, std::uint64_t size, ReadBuffer& buffer, std::string& error) {
  buffer.make_room(static_cast<std::size_t>(size));
  std::size_t got = 0;
  while (got < size) {
    Result<std::size_t> n = source.read_at(got, std::span<std::uint8_t>(buffer.data() + got, size - got));
    if (!n) {
      error = n.error().message;
      break;
    }
    if (*n == 0) {
      error = "content ends after " + std::to_string(got) + " of " + std::to_string(size) + " bytes";
      break;
    }
    got += *n;
  }
  return ByteView(buffer.data(), got);
}

}  // namespace

const ProcessObservation* ProcessStage::observe(const ProcessInfo& info) {
  if (!info.exe_deleted) return nullptr;
  if (info.exe.rfind("/memfd:", 0) == 0) return &kObservationExeMemfd;
  // Looked up in the process's own root: in a container, its path means
  // the container's file, not the host's. When that cannot be looked at,
  // nothing is known to be there.
  struct stat st {};
  const std::string there = "/proc/" + std::to_string(info.pid) + "/root" + info.exe;
  if (!info.exe.empty() && info.exe[0] == '/' && ::lstat(there.c_str(), &st) == 0) return &kObservationExeReplaced;
  return &kObservationExeDeleted;
}

void ProcessStage::sweep(const ProcessInfo& info) {
  sweep_executable(info);
  if (host_.stop_requested()) return;
  sweep_memory(info);
  host_.sink().process_scanned();
}

void ProcessStage::sweep_executable(const ProcessInfo& info) {
  const ProcessLocation where = location_of(info, false);
  const std::string path = process_path(where);
  Matcher& matcher = host_.matcher();
  Finding finding;
  finding.process = where;
  // Path indicators see where the executable was started from.
  matcher.match_path(info.exe, finding);
  const ProcessObservation* seen = observe(info);
  const auto without_bytes = [&](std::uint64_t size) {
    if (seen != nullptr) finding.matches.emplace_back(ObservationMatchRecord{seen});
    if (finding.matches.empty()) return;
    finding.path = path;
    finding.size = size;
    host_.report(std::move(finding));
  };
  Result<std::unique_ptr<ByteSource>> source = open_process_executable(info.pid);
  if (!source) {
    failed(host_.sink(), where, source.error().message);
    return without_bytes(0);
  }
  const std::uint64_t size = (*source)->size();
  if (size > config_.read.max_filesize) {
    host_.sink().skipped(skipped_in(where, "too_large"));
    return without_bytes(size);
  }
  if (buffer_.capacity() > kKeptReadBufferBytes) buffer_.release();
  std::string read_error;
  const ByteView bytes = read_into(**source, size, buffer_, read_error);
  if (!read_error.empty()) failed(host_.sink(), where, read_error);
  if (!host_.pay_rate(bytes.size())) return;
  const Feed feed = feed_of(bytes);
  Subject subject{bytes, false, bytes, &feed, info.exe, 0};
  // The owner external is the file's owner, which /proc/PID/exe does not
  // give without a second open; "" rather than the process's user.
  subject.owner_known = false;
  const MatchOutcome matched = matcher.match(subject, matcher.needed_for(bytes.size()), finding);
  if (matched.kind == MatchOutcome::Kind::kError) {
    host_.sink().error(error_in(where, matched.error));
    return without_bytes(bytes.size());
  }
  if (matched.kind == MatchOutcome::Kind::kAllowListed) {
    // Known-good bytes: a replaced executable of a known package is not
    // worth a finding either.
    host_.sink().allowlisted();
    return;
  }
  if (matched.yara.gated) host_.sink().prefiltered();
  if (!matched.error.empty()) host_.sink().error(error_in(where, matched.error));
  if (seen != nullptr) finding.matches.emplace_back(ObservationMatchRecord{seen});
  if (finding.matches.empty()) return;
  if (Status done = matcher.complete_digests(feed, finding); !done) {
    host_.sink().error(error_in(where, done.error().message));
  }
  finding.path = path;
  finding.size = bytes.size();
  host_.report(std::move(finding));
}

void ProcessStage::sweep_memory(const ProcessInfo& info) {
  Matcher& matcher = host_.matcher();
  if (!matcher.has_rules()) return;
  const ProcessLocation where = location_of(info, true);
  Result<std::vector<MemoryRegion>> map = read_memory_map(info.pid);
  if (!map) return failed(host_.sink(), where, map.error().message);
  Result<std::unique_ptr<ProcessMemory>> memory = ProcessMemory::open(info.pid);
  if (!memory) return failed(host_.sink(), where, memory.error().message);

  std::vector<MemoryRegion> regions;
  for (MemoryRegion& r : *map) {
    // [vvar] is the kernel's data page: readable in the map, never through
    // /proc/PID/mem.
    if (r.readable() && r.end > r.start && r.path != "[vvar]") regions.push_back(std::move(r));
  }
  std::sort(regions.begin(), regions.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  // Within --max-process-memory, the smallest regions first: code, heap,
  // stacks and most of what an implant allocates are small, while the
  // largest regions are mostly reserved and untouched (a JVM's heap, a
  // sanitizer's shadow). The blocks are then scanned in address order.
  std::vector<std::size_t> by_size(regions.size());
  for (std::size_t k = 0; k < by_size.size(); ++k) by_size[k] = k;
  std::stable_sort(by_size.begin(), by_size.end(),
                   [&](std::size_t a, std::size_t b) { return regions[a].size() < regions[b].size(); });
  std::vector<std::uint64_t> take(regions.size(), 0);
  std::uint64_t budget = config_.max_process_memory;
  std::uint64_t left_out = 0;
  for (const std::size_t k : by_size) {
    take[k] = std::min(regions[k].size(), budget);
    budget -= take[k];
    left_out += regions[k].size() - take[k];
  }
  RegionBlocks blocks(**memory, buffer_, host_);
  for (std::size_t k = 0; k < regions.size(); ++k) {
    for (std::uint64_t at = regions[k].start; at < regions[k].start + take[k];) {
      const std::uint64_t n = std::min<std::uint64_t>(regions[k].start + take[k] - at, kProcessBlockBytes);
      blocks.blocks.push_back({at, static_cast<std::size_t>(n)});
      at += n;
    }
  }
  if (left_out > 0) {
    host_.sink().skipped(skipped_in(where, "process_memory_limit",
                                    std::to_string(left_out) + " bytes of readable memory past --max-process-memory " +
                                        std::to_string(config_.max_process_memory)));
  }
  const YaraScanResult result = matcher.match_memory(blocks, info.exe, info.uid);
  if (buffer_.capacity() > kKeptReadBufferBytes) buffer_.release();
  host_.sink().process_memory(blocks.bytes_read);
  if (!blocks.error.empty()) failed(host_.sink(), where, blocks.error);
  if (!result.error.empty()) host_.sink().error(error_in(where, result.error));

  // One finding per region holding a rule's first string match, and one
  // for the rules that matched on their condition alone.
  std::map<std::optional<std::size_t>, std::vector<std::size_t>> by_region;
  for (std::size_t k = 0; k < result.matched.size(); ++k) {
    std::optional<std::size_t> region;
    if (k < result.first_address.size() && result.first_address[k]) {
      const std::uint64_t a = *result.first_address[k];
      auto it = std::upper_bound(regions.begin(), regions.end(), a,
                                 [](std::uint64_t x, const MemoryRegion& r) { return x < r.start; });
      if (it != regions.begin() && a < std::prev(it)->end)
        region = static_cast<std::size_t>(std::prev(it) - regions.begin());
    }
    by_region[region].push_back(result.matched[k]);
  }
  const auto& rules = config_.pack.rules->rules();
  for (const auto& [region, matched] : by_region) {
    Finding finding;
    ProcessLocation at = where;
    if (region) at.region = regions[*region];
    finding.path = process_path(at);
    finding.size = at.region ? at.region->size() : 0;
    finding.process = std::move(at);
    for (const std::size_t i : matched) finding.matches.emplace_back(YaraMatchRecord{&rules[i]});
    host_.report(std::move(finding));
  }
}

void list_scan_processes(const ScanConfig& config, SharedSink& sink, const std::function<void(ProcessItem)>& yield,
                         const std::stop_token& stop) {
  std::vector<int> pids = config.pids;
  if (config.all_processes) {
    Result<std::vector<int>> all = list_processes();
    if (!all) {
      sink.error("/proc", all.error().message);
      return;
    }
    pids.insert(pids.end(), all->begin(), all->end());
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  const int self = static_cast<int>(::getpid());
  for (const int pid : pids) {
    if (stop.stop_requested()) return;
    const bool named = std::find(config.pids.begin(), config.pids.end(), pid) != config.pids.end();
    ProcessInfo bare;
    bare.pid = pid;
    if (pid == self) {
      sink.skipped(skipped_in(location_of(bare, false), "self"));
      continue;
    }
    Result<ProcessInfo> info = read_process_info(pid);
    if (!info) {
      // A pid the user named that is not there is an error, as a missing
      // PATH is; one that ended between the listing and now is not.
      if (named) {
        sink.error(error_in(location_of(bare, false), info.error().message));
      } else {
        sink.skipped(skipped_in(location_of(bare, false), "process_exited", info.error().message));
      }
      continue;
    }
    if (info->kernel_thread) {
      sink.skipped(skipped_in(location_of(*info, false), "kernel_thread"));
      continue;
    }
    if (info->zombie) {
      sink.skipped(skipped_in(location_of(*info, false), "zombie"));
      continue;
    }
    yield(ProcessItem{std::move(*info)});
  }
}

}  // namespace iocsweep
