#pragma once
// How the scan cache lays out one directory's entries in one row: the
// entries of one batch (or of a merge) for files of one directory, as one
// byte string. Private to the cache component; knows nothing of SQLite.
//
// A row body is
//   u8 version (kDirBodyVersion; a body of another is damaged: the layout
//     changes only with the cache's schema version)
//   16 bytes: the first 16 hex digits of the SHA-256 of the rest of the
//     body, so that a damaged byte (a disk's, say) makes the whole body a
//     miss rather than, among other things, an entry that names another
//     fingerprint of the string table
//   varint n, then n strings (varint length, bytes): the fingerprints the
//     entries name, each once
//   entries to the end, each: varint length, then that many bytes:
//     varint name length, name (non-empty, no '/')
//     varint device, varint inode, varint size
//     mtime_ns, ctime_ns: 8 bytes each, little-endian two's complement
//     u8 flags: 1 md5, 2 sha1, 4 sha256 (present, in that order after the
//       flags), 8 not an archive
//     varint rules fingerprint, varint members fingerprint: 0 for "", else
//       1 + an index into the strings
//     varint rule count, then each rule: varint length, namespace, varint
//       length, name
// Varints are LEB128 (7 bits a byte, low first), at most 10 bytes.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iocsweep/cache.hpp"

namespace iocsweep {

inline constexpr unsigned char kDirBodyVersion = 1;

/// One file of a directory, as a writer hands it to encode_dir_body().
struct DirEntryRef {
  std::string_view name;
  const FileKey* key = nullptr;
  const CachedFile* file = nullptr;
};

/// One file of a directory, decoded.
struct DirEntry {
  std::string name;
  FileKey key;
  CachedFile file;
};

/// The body holding `entries` (names unique and valid: the caller's
/// promise; encode_dir_body keeps them as given).
std::string encode_dir_body(const std::vector<DirEntryRef>& entries);

/// A body of `rest` (the strings and entries, as encode_dir_body lays
/// them out): the version byte and the checksum of `rest` before it.
std::string seal_dir_body(std::string_view rest);

/// At least the bytes `entry` takes in a body, the strings it names left
/// out (a body holds each once, with a length of at most 10 bytes).
std::size_t encoded_size_bound(const DirEntryRef& entry);
/// Bytes of a body before its strings at most.
inline constexpr std::size_t kDirBodyHeaderBytes = 1 + 16 + 10;

/// A body's framing checked, its entries not yet decoded: views into the
/// body, which must outlive this.
struct DirBodyIndex {
  std::vector<std::string_view> strings;
  /// Name and the whole entry (its length prefix excluded), in body order.
  std::vector<std::pair<std::string_view, std::string_view>> entries;
};

/// Indexes a body; nothing when its version is another or its framing is
/// damaged (anything but whole entries to the end).
std::optional<DirBodyIndex> index_dir_body(std::string_view body);

/// The same, but each entry (name, then the whole entry) is handed to
/// `each`, in body order, instead of kept in `entries` (left empty). When
/// it gives nothing (damage found further on), the entries handed over
/// before are the caller's to drop.
std::optional<DirBodyIndex> index_dir_body(std::string_view body,
                                           const std::function<void(std::string_view, std::string_view)>& each);

/// Decodes one entry of `index` (as index_dir_body gave it); nothing when
/// it is damaged.
std::optional<DirEntry> decode_dir_entry(const DirBodyIndex& index, std::string_view entry);

/// Every entry of a body, or nothing when any part of it is damaged.
std::optional<std::vector<DirEntry>> decode_dir_body(std::string_view body);

/// Splits a path at its last '/': the directory part keeps the slash ("/a"
/// gives "/" and "a", "a" gives "" and "a"). The name is empty when the
/// path ends in '/'.
std::pair<std::string_view, std::string_view> split_dir_name(std::string_view path);

}  // namespace iocsweep
