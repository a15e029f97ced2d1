#include "cache/dir_entries.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "iocsweep/hash.hpp"

namespace iocsweep {
namespace {

constexpr unsigned char kMd5 = 1;
constexpr unsigned char kSha1 = 2;
constexpr unsigned char kSha256 = 4;
constexpr unsigned char kNotArchive = 8;
constexpr unsigned char kKnownFlags = kMd5 | kSha1 | kSha256 | kNotArchive;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_varint(out, bytes.size());
  out.append(bytes);
}

void put_i64(std::string& out, std::int64_t v) {
  std::uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

// Reads from the front of `in`, consuming what it reads; every read fails
// (and leaves `ok` false) past the end.
struct Cursor {
  std::string_view in;
  bool ok = true;

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (in.empty()) break;
      const auto byte = static_cast<unsigned char>(in.front());
      in.remove_prefix(1);
      // The tenth byte may carry only the top bit of 64.
      if (shift == 63 && byte > 1) break;
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    ok = false;
    return 0;
  }
  std::string_view bytes(std::uint64_t n) {
    if (!ok || n > in.size()) {
      ok = false;
      return {};
    }
    std::string_view out = in.substr(0, static_cast<std::size_t>(n));
    in.remove_prefix(static_cast<std::size_t>(n));
    return out;
  }
  std::string_view counted() { return bytes(varint()); }
  std::int64_t i64() {
    const std::string_view b = bytes(8);
    if (!ok) return 0;
    std::uint64_t u = 0;
    for (int i = 0; i < 8; ++i) u |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[i])) << (8 * i);
    std::int64_t v;
    std::memcpy(&v, &u, sizeof v);
    return v;
  }
};

}  // namespace

std::pair<std::string_view, std::string_view> split_dir_name(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), path};
  return {path.substr(0, slash + 1), path.substr(slash + 1)};
}

std::size_t encoded_size_bound(const DirEntryRef& entry) {
  // Length prefixes and varints at most 10 bytes each.
  const CachedFile& f = *entry.file;
  std::size_t n = 10 + 10 + entry.name.size() + 3 * 10 + 2 * 8 + 1 + 16 + 20 + 32 + 2 * 10 + 10;
  for (const RuleId& r : f.yara_matches) n += 2 * 10 + r.ns.size() + r.name.size();
  return n;
}

namespace {

// The checksum a body carries after its version byte: of what follows it.
std::string body_checksum(std::string_view rest) { return sha256_hex(rest).substr(0, 16); }

}  // namespace

std::string encode_dir_body(const std::vector<DirEntryRef>& entries) {
  // The fingerprints first: in a sweep every entry names the same one or two.
  std::vector<std::string_view> strings;
  std::unordered_map<std::string_view, std::uint64_t> string_no;
  std::size_t bound = kDirBodyHeaderBytes;
  for (const DirEntryRef& e : entries) {
    for (const std::string* fp : {&e.file->rules_fingerprint, &e.file->clean_members_fingerprint}) {
      if (!fp->empty() && string_no.emplace(*fp, strings.size() + 1).second) {
        strings.push_back(*fp);
        bound += 10 + fp->size();
      }
    }
    bound += encoded_size_bound(e);
  }
  const auto number = [&](const std::string& s) -> std::uint64_t { return s.empty() ? 0 : string_no.find(s)->second; };
  // Written in place, once: the checksum's 16 bytes are filled in last.
  std::string out;
  out.reserve(bound);
  out.push_back(static_cast<char>(kDirBodyVersion));
  out.append(16, '0');
  put_varint(out, strings.size());
  for (const std::string_view s : strings) put_bytes(out, s);
  std::string fields;
  for (const DirEntryRef& e : entries) {
    const FileKey& k = *e.key;
    const CachedFile& f = *e.file;
    fields.clear();
    put_bytes(fields, e.name);
    put_varint(fields, k.device);
    put_varint(fields, k.inode);
    put_varint(fields, k.size);
    put_i64(fields, k.mtime_ns);
    put_i64(fields, k.ctime_ns);
    const DigestSet present = f.digests.present;
    unsigned char flags = 0;
    if (present.has(DigestKind::kMd5)) flags |= kMd5;
    if (present.has(DigestKind::kSha1)) flags |= kSha1;
    if (present.has(DigestKind::kSha256)) flags |= kSha256;
    if (f.not_archive) flags |= kNotArchive;
    fields.push_back(static_cast<char>(flags));
    for (const DigestKind kind : {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256}) {
      if (!present.has(kind)) continue;
      const ByteView b = f.digests.get(kind);
      fields.append(reinterpret_cast<const char*>(b.data()), b.size());
    }
    put_varint(fields, number(f.rules_fingerprint));
    put_varint(fields, number(f.clean_members_fingerprint));
    put_varint(fields, f.yara_matches.size());
    for (const RuleId& r : f.yara_matches) {
      put_bytes(fields, r.ns);
      put_bytes(fields, r.name);
    }
    put_bytes(out, fields);
  }
  out.replace(1, 16, body_checksum(std::string_view(out).substr(1 + 16)));
  return out;
}

std::string seal_dir_body(std::string_view rest) {
  std::string out;
  out.reserve(1 + 16 + rest.size());
  out.push_back(static_cast<char>(kDirBodyVersion));
  out += body_checksum(rest);
  out += rest;
  return out;
}

std::optional<DirBodyIndex> index_dir_body(std::string_view body) {
  DirBodyIndex out;
  auto index = index_dir_body(
      body, [&](std::string_view name, std::string_view entry) { out.entries.emplace_back(name, entry); });
  if (!index) return std::nullopt;
  out.strings = std::move(index->strings);
  return out;
}

std::optional<DirBodyIndex> index_dir_body(std::string_view body,
                                           const std::function<void(std::string_view, std::string_view)>& each) {
  Cursor c{body};
  const std::string_view version = c.bytes(1);
  if (!c.ok || static_cast<unsigned char>(version[0]) != kDirBodyVersion) return std::nullopt;
  const std::string_view checksum = c.bytes(16);
  if (!c.ok || checksum != body_checksum(c.in)) return std::nullopt;
  DirBodyIndex out;
  const std::uint64_t n = c.varint();
  // Each string takes at least its length byte: a count above what is left
  // is damage, not a reason to reserve.
  if (!c.ok || n > c.in.size()) return std::nullopt;
  out.strings.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, 16)));
  for (std::uint64_t i = 0; i < n; ++i) {
    out.strings.push_back(c.counted());
    if (!c.ok) return std::nullopt;
  }
  while (!c.in.empty()) {
    const std::string_view entry = c.counted();
    if (!c.ok) return std::nullopt;
    Cursor e{entry};
    const std::string_view name = e.counted();
    if (!e.ok || name.empty() || name.find('/') != std::string_view::npos) return std::nullopt;
    each(name, entry);
  }
  return out;
}

std::optional<DirEntry> decode_dir_entry(const DirBodyIndex& index, std::string_view entry) {
  Cursor c{entry};
  DirEntry out;
  out.name = std::string(c.counted());
  out.key.device = c.varint();
  out.key.inode = c.varint();
  out.key.size = c.varint();
  out.key.mtime_ns = c.i64();
  out.key.ctime_ns = c.i64();
  const std::string_view flag_byte = c.bytes(1);
  if (!c.ok) return std::nullopt;
  const auto flags = static_cast<unsigned char>(flag_byte[0]);
  if ((flags & ~kKnownFlags) != 0) return std::nullopt;
  Digests& d = out.file.digests;
  const auto take = [&](unsigned char bit, DigestKind kind, auto& dest) {
    if ((flags & bit) == 0) return;
    const std::string_view b = c.bytes(dest.size());
    if (!c.ok) return;
    std::memcpy(dest.data(), b.data(), dest.size());
    d.present = d.present.with(kind);
  };
  take(kMd5, DigestKind::kMd5, d.md5);
  take(kSha1, DigestKind::kSha1, d.sha1);
  take(kSha256, DigestKind::kSha256, d.sha256);
  out.file.not_archive = (flags & kNotArchive) != 0;
  const auto string_at = [&](std::uint64_t no, std::string& dest) {
    if (no == 0) return;
    if (no > index.strings.size()) {
      c.ok = false;
      return;
    }
    dest = std::string(index.strings[static_cast<std::size_t>(no - 1)]);
  };
  string_at(c.varint(), out.file.rules_fingerprint);
  string_at(c.varint(), out.file.clean_members_fingerprint);
  const std::uint64_t rules = c.varint();
  // Each rule takes at least two bytes.
  if (!c.ok || rules > c.in.size() / 2) return std::nullopt;
  out.file.yara_matches.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(rules, 16)));
  for (std::uint64_t i = 0; i < rules; ++i) {
    std::string ns(c.counted());
    std::string name(c.counted());
    if (!c.ok) return std::nullopt;
    out.file.yara_matches.push_back(RuleId{std::move(ns), std::move(name)});
  }
  if (!c.ok || !c.in.empty()) return std::nullopt;
  return out;
}

std::optional<std::vector<DirEntry>> decode_dir_body(std::string_view body) {
  auto index = index_dir_body(body);
  if (!index) return std::nullopt;
  std::vector<DirEntry> out;
  out.reserve(index->entries.size());
  for (const auto& [name, entry] : index->entries) {
    auto e = decode_dir_entry(*index, entry);
    if (!e) return std::nullopt;
    out.push_back(std::move(*e));
  }
  return out;
}

}  // namespace iocsweep
