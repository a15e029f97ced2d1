#pragma once
// Parsers of /proc text, private to the process component (and its tests):
// what a hostile process controls (its name, its mappings' names) must not
// shift the fields around it.

#include <cstdint>
#include <string>
#include <string_view>

#include "iocsweep/common.hpp"
#include "iocsweep/process.hpp"

namespace iocsweep {

/// The fields of /proc/PID/stat that ProcessInfo needs.
struct StatFields {
  std::string name;  ///< between the first '(' and the last ')'
  char state = '?';
  int ppid = 0;
  bool kernel_thread = false;
  std::uint64_t start_time = 0;
};

/// Parses one /proc/PID/stat line.
Result<StatFields> parse_stat(std::string_view stat);

/// Parses one /proc/PID/maps line ("START-END PERMS OFFSET DEV INODE
/// [PATH]"; the path may hold spaces and is kept as printed).
Result<MemoryRegion> parse_maps_line(std::string_view line);

}  // namespace iocsweep
