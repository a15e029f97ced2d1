// How a place in a live process is spelt in reports.

#include <cstdio>

#include "iocsweep/process.hpp"

namespace iocsweep {

std::string process_path(const ProcessLocation& where) {
  std::string out = "/proc/" + std::to_string(where.process.pid) + (where.memory ? "/mem" : "/exe");
  if (where.memory && where.region) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "@0x%llx", static_cast<unsigned long long>(where.region->start));
    out += buf;
  }
  return out;
}

}  // namespace iocsweep
