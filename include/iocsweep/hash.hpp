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

/// The three digests of one byte sequence.
struct Digests {
  std::array<std::uint8_t, 16> md5{};
  std::array<std::uint8_t, 20> sha1{};
  std::array<std::uint8_t, 32> sha256{};

  /// Raw digest bytes of one kind.
  ByteView get(DigestKind kind) const;
  /// Lower-case hex of one kind.
  std::string hex(DigestKind kind) const;
};

/// Computes all three digests in one pass. Each EVP_MD is fetched once per
/// Hasher and its contexts are reused between files. Not thread-safe: one
/// per worker thread.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  /// Digests of `bytes`.
  Digests digest(ByteView bytes);

  /// Streaming use, for input that arrives in pieces: begin(), update()
  /// any number of times, finish().
  void begin();
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
