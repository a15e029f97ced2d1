#pragma once
// The process stage: one live process in, findings out. Its executable
// (read through /proc/PID/exe, so a deleted file is still read) is matched
// as a file is, and its memory is scanned with the rules region by region,
// the way `yara RULES PID` scans it. Reports through the worker's
// ArchiveHost (matcher, sink, --max-rate, stop), as the archive stage does.

#include <cstdint>
#include <functional>
#include <stop_token>
#include <vector>

#include "iocsweep/pipeline.hpp"
#include "iocsweep/process.hpp"
#include "iocsweep/read.hpp"
#include "pipeline/archive_stage.hpp"

namespace iocsweep {

/// A process to sweep, as the process source found it.
struct ProcessItem {
  ProcessInfo info;
};

/// Blocks of libyara's memory scan: a region is cut into blocks of at most
/// this many bytes (each read whole before it is scanned), so a string
/// lying across a cut within one region is not seen, as with yara's own
/// chunks (1 GiB there).
inline constexpr std::size_t kProcessBlockBytes = std::size_t{32} << 20;

/// The process stage of one worker. Not thread-safe: one per worker.
class ProcessStage {
 public:
  ProcessStage(const ScanConfig& config, ArchiveHost& host) : config_(config), host_(host) {}

  /// Sweeps one process: its executable, then its memory.
  void sweep(const ProcessInfo& info);

  /// The observation a process's executable shows, if any: deleted with
  /// nothing at its path now, replaced by another file, or a memfd.
  static const ProcessObservation* observe(const ProcessInfo& info);

 private:
  void sweep_executable(const ProcessInfo& info);
  void sweep_memory(const ProcessInfo& info);

  const ScanConfig& config_;
  ArchiveHost& host_;
  ReadBuffer buffer_;  // the executable's bytes, then memory blocks
};

/// Sweeps the processes the scan names (every one, or the --pid list),
/// yielding them to `yield`; what cannot be swept at all (gone, a kernel
/// thread, a zombie, iocsweep itself) goes to `sink`.
void list_scan_processes(const ScanConfig& config, SharedSink& sink, const std::function<void(ProcessItem)>& yield,
                         const std::stop_token& stop);

}  // namespace iocsweep
