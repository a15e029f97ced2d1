#include "iocsweep/source.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace iocsweep {

Status stream_source(ByteSource& source, const std::function<void(ByteView)>& sink, std::size_t chunk_bytes) {
  const std::uint64_t size = source.size();
  // The buffer is never larger than the item: a source whose metadata
  // states a few bytes costs a few bytes, whatever chunk size is asked.
  const std::size_t chunk =
      static_cast<std::size_t>(std::min<std::uint64_t>(std::max<std::size_t>(chunk_bytes, 1), size));
  std::vector<std::uint8_t> buffer(chunk);
  std::uint64_t offset = 0;
  while (offset < size) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, size - offset));
    auto got = source.read_at(offset, std::span<std::uint8_t>(buffer.data(), want));
    if (!got) return got.error();
    if (*got == 0) {
      return Error{"ends at byte " + std::to_string(offset) + " of the " + std::to_string(size) +
                   " its metadata states"};
    }
    sink(ByteView(buffer.data(), *got));
    offset += *got;
  }
  return Ok{};
}

}  // namespace iocsweep
