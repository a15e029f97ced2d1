// libFuzzer main for fuzz_cache_body; the target itself is in targets.cpp.
#include <cstddef>
#include <cstdint>

#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return iocsweep::fuzz::fuzz_cache_body(data, size);
}
