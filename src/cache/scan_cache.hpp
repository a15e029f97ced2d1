#pragma once
// What only the scan cache itself needs: the version of its file layout and
// how the writeback delay is read from the kernel's settings (the public
// side is iocsweep/cache.hpp). Knows nothing of walking, reading or
// matching.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace iocsweep {

/// Version of the cache file layout. A file of another version is refused
/// (the user deletes it), never converted or overwritten.
inline constexpr int kScanCacheSchemaVersion = 3;

/// A directory holding more rows than this after a batch has them merged
/// into one (each name's newest entry kept): a directory whose files change
/// between sweeps gains a row a sweep, and its lookups read every row.
inline constexpr std::int64_t kMergeRows = 8;

/// A row holds at most this much (a batch's entries of one directory take
/// several rows when they need more), a merge keeps each name's newest
/// entries to this much (some 45,000 files, the oldest dropped), and a
/// lookup reads a directory's rows, newest first, until it has read this
/// much: an entry beyond is not found (its file is read and stored again,
/// newer).
inline constexpr std::size_t kMaxDirBytes = 8u << 20;

/// A directory whose rows hold more than this after a batch (or more than
/// kMergeRows rows) has them merged. So after any commit a directory holds
/// at most kMergeRows rows and kMergeBytes, and a lookup reads at most
/// kMaxDirBytes and one row more (the rows it reads up to the limit).
inline constexpr std::size_t kMergeBytes = 2 * kMaxDirBytes;

/// An entry that would take more than this (a file that matched hundreds of
/// rules, say) is stored as an entry that knows nothing: its file is read
/// on every sweep, and no older entry of its name answers.
inline constexpr std::size_t kMaxEntryBytes = 64u << 10;

/// Directories a reader keeps indexed (the most recently looked in), and
/// what they cost at most (their rows, and a little for each name and
/// directory). The directory looked in and its kKeptAncestors nearest
/// parents are kept whatever they cost: a walk interrupts a directory's
/// files with its subdirectories' trees, and would otherwise read a large
/// directory again after each. Other directories are seldom looked in again
/// (a walk leaves a directory for good once its files and subtrees are
/// done), so few are kept.
inline constexpr std::size_t kReaderDirs = 4096;
inline constexpr std::size_t kReaderBytes = 2u << 20;
inline constexpr std::size_t kKeptAncestors = 3;

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
