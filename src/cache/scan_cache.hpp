#pragma once
// What only the scan cache itself needs: the version of its file layout and
// how the writeback delay is read from the kernel's settings (the public
// side is iocsweep/cache.hpp). Knows nothing of walking, reading or
// matching.

#include <cstdint>
#include <optional>
#include <string_view>

namespace iocsweep {

/// Version of the cache file layout. A file of another version is refused
/// (the user deletes it), never converted or overwritten.
inline constexpr int kScanCacheSchemaVersion = 2;

/// How long after its last change a file on a trusted filesystem must be
/// before its verdict is stored, from the values of
/// /proc/sys/vm/dirty_expire_centisecs and dirty_writeback_centisecs:
/// twice their sum (70 s with the kernel's defaults), the delay within
/// which a dirty page is written back, with as much again as margin. A page
/// dirtied through a shared mapping can be rewritten without any time
/// update until it is written back; one dirtied that long ago is clean
/// again, and writing it moves the times. Nothing when a value is not a
/// number or periodic writeback is off (no such delay exists).
std::optional<std::int64_t> writeback_settle_ns(std::string_view dirty_expire_centisecs,
                                                std::string_view dirty_writeback_centisecs);

}  // namespace iocsweep
