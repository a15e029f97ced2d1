#pragma once
// Byte sources: the bytes of one item to be matched (a file on disk, a file
// in a disk image, an archive member, later a process's memory), read at an
// offset. A source owns whatever it reads from (a descriptor, a TSK file
// handle) and releases it when destroyed. Knows nothing of matching.

#include <cstdint>
#include <functional>
#include <span>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// The bytes of one item, read at an offset. Owns its handle (RAII). Not
/// thread-safe: one user at a time.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  ByteSource() = default;
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  /// The item's size in bytes, as its metadata states it.
  virtual std::uint64_t size() const = 0;

  /// Copies up to `out.size()` bytes at `offset` into `out`. Returns the
  /// count, which is smaller than asked only at the end of the item (0 at
  /// or past it); fails when the bytes cannot be read.
  virtual Result<std::size_t> read_at(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
};

/// Passes the bytes of `source` from offset 0 to its size, in order and in
/// chunks of at most `chunk_bytes`, to `sink`. Fails when a read fails or
/// the source ends before its size.
Status stream_source(ByteSource& source, const std::function<void(ByteView)>& sink,
                     std::size_t chunk_bytes = std::size_t{1} << 20);

}  // namespace iocsweep
