#pragma once
// Hashing: MD5, SHA-1 and SHA-256 from one pass over the same bytes, through
// OpenSSL 3's EVP interface.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "iocsweep/common.hpp"

namespace iocsweep {

/// The digest algorithms iocsweep computes.
enum class DigestKind { kMd5, kSha1, kSha256 };

/// Lower-case name used in reports and IOC files: "md5", "sha1", "sha256".
std::string_view digest_name(DigestKind kind);

/// Length of a digest of `kind` in hex digits: 32, 40 or 64.
std::size_t digest_hex_length(DigestKind kind);

/// A set of digest kinds (bit i = DigestKind i).
class DigestSet {
 public:
  constexpr DigestSet() = default;
  static constexpr DigestSet all() { return DigestSet(0b111); }
  constexpr DigestSet with(DigestKind k) const { return DigestSet(bits_ | bit(k)); }
  constexpr bool has(DigestKind k) const { return (bits_ & bit(k)) != 0; }
  constexpr DigestSet operator|(DigestSet o) const { return DigestSet(bits_ | o.bits_); }
  /// Kinds in `this` that are not in `o`.
  constexpr DigestSet minus(DigestSet o) const { return DigestSet(bits_ & ~o.bits_); }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool operator==(const DigestSet&) const = default;

 private:
  constexpr explicit DigestSet(unsigned bits) : bits_(bits) {}
  static constexpr unsigned bit(DigestKind k) { return 1u << static_cast<unsigned>(k); }
  unsigned bits_ = 0;
};

/// Digests of one byte sequence; `present` says which were computed.
struct Digests {
  std::array<std::uint8_t, 16> md5{};
  std::array<std::uint8_t, 20> sha1{};
  std::array<std::uint8_t, 32> sha256{};
  DigestSet present;

  /// Raw digest bytes of one kind (zeros when not present).
  ByteView get(DigestKind kind) const;
  /// Lower-case hex of one kind, "" when not present.
  std::string hex(DigestKind kind) const;
  /// Copies the kinds present in `other` into this.
  void merge(const Digests& other);
};

/// Computes MD5, SHA-1 and SHA-256 (or any subset) in one pass over the
/// same bytes. Each EVP_MD is fetched once per Hasher and its contexts are
/// reused between files. Not thread-safe: one per worker thread.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  /// Digests of `bytes`, the kinds in `kinds` only.
  Digests digest(ByteView bytes, DigestSet kinds = DigestSet::all());

  /// Streaming use, for input that arrives in pieces: begin(), update()
  /// any number of times, finish().
  void begin(DigestSet kinds = DigestSet::all());
  void update(ByteView bytes);
  Digests finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// SHA-256 of `data` as lower-case hex (for fingerprints of rule and IOC
/// sources).
std::string sha256_hex(std::string_view data);

}  // namespace iocsweep
