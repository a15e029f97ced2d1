// minisign's key and signature formats, verified with OpenSSL (Ed25519,
// BLAKE2b-512), so that a team signs with the standard minisign tool and
// no minisign code is linked in. The formats, as minisign documents them:
//   public key: "untrusted comment: ..." line, then base64 of
//     "Ed" + key id (8 bytes) + Ed25519 public key (32 bytes);
//   signature:  "untrusted comment: ..." line, base64 of
//     "Ed" or "ED" + key id (8) + signature (64), where "ED" signs the
//     BLAKE2b-512 of the file; "trusted comment: ..." line; base64 of the
//     global signature, Ed25519 over signature (64) + trusted comment.

#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "iocsweep/pack.hpp"

namespace iocsweep {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr std::string_view kUntrusted = "untrusted comment: ";
constexpr std::string_view kTrusted = "trusted comment: ";
// A signature file is four short lines; anything much bigger is not one.
constexpr std::size_t kMaxSignatureBytes = 4096;

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict standard base64 with padding; nothing else is accepted, so one
// signature has one spelling.
bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return false;  // a digit after '='
      v[j] = base64_value(c);
      if (v[j] < 0) return false;
    }
    const std::uint32_t n =
        (std::uint32_t(v[0]) << 18) | (std::uint32_t(v[1]) << 12) | (std::uint32_t(v[2]) << 6) | std::uint32_t(v[3]);
    out.push_back(char(n >> 16));
    if (pad < 2) out.push_back(char((n >> 8) & 0xff));
    if (pad < 1) out.push_back(char(n & 0xff));
  }
  return true;
}

// The lines of `text` without their "\n" (or "\r\n"); a final newline
// does not start another line.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

bool ed25519_verify(const std::array<std::uint8_t, 32>& public_key, std::string_view signature,
                    std::string_view message) {
  PkeyPtr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!key || !ctx || signature.size() != 64) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

bool blake2b512(std::string_view message, std::string& out) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &len, EVP_blake2b512(), nullptr) != 1) return false;
  out.assign(reinterpret_cast<const char*>(digest), len);
  return true;
}

}  // namespace

std::string minisign_key_id_hex(const std::array<std::uint8_t, 8>& key_id) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = key_id.size(); i-- > 0;) {
    out.push_back(kHex[key_id[i] >> 4]);
    out.push_back(kHex[key_id[i] & 0xf]);
  }
  return out;
}

Result<MinisignKey> parse_minisign_public_key(std::string_view text, const std::string& origin) {
  const std::vector<std::string_view> lines = lines_of(text);
  std::string_view b64;
  if (lines.size() == 1) {
    b64 = lines[0];
  } else if (lines.size() == 2 && lines[0].starts_with(kUntrusted)) {
    b64 = lines[1];
  } else {
    return Error{origin + ": not a minisign public key (an untrusted comment line, then the base64 key)"};
  }
  std::string raw;
  if (!base64_decode(b64, raw) || raw.size() != 42 || raw.compare(0, 2, "Ed") != 0) {
    return Error{origin + ": not a minisign Ed25519 public key"};
  }
  MinisignKey key;
  std::memcpy(key.key_id.data(), raw.data() + 2, 8);
  std::memcpy(key.public_key.data(), raw.data() + 10, 32);
  key.origin = origin;
  return key;
}

Result<MinisignVerified> verify_minisign(std::string_view message, std::string_view signature,
                                         const std::vector<MinisignKey>& trusted) {
  if (signature.size() > kMaxSignatureBytes) return Error{"malformed signature: more than 4 KiB"};
  const std::vector<std::string_view> lines = lines_of(signature);
  if (lines.size() != 4 || !lines[0].starts_with(kUntrusted) || !lines[2].starts_with(kTrusted)) {
    return Error{
        "malformed signature: not minisign's four lines (untrusted comment, signature, trusted "
        "comment, global signature)"};
  }
  std::string sig;
  std::string global;
  if (!base64_decode(lines[1], sig) || sig.size() != 74) {
    return Error{"malformed signature: the signature line is not 74 bytes of base64"};
  }
  if (!base64_decode(lines[3], global) || global.size() != 64) {
    return Error{"malformed signature: the global signature line is not 64 bytes of base64"};
  }
  const std::string_view alg = std::string_view(sig).substr(0, 2);
  if (alg != "Ed" && alg != "ED") return Error{"malformed signature: unknown algorithm (not Ed or ED)"};
  std::array<std::uint8_t, 8> key_id{};
  std::memcpy(key_id.data(), sig.data() + 2, 8);
  const std::string id_hex = minisign_key_id_hex(key_id);
  const MinisignKey* key = nullptr;
  for (const MinisignKey& k : trusted) {
    if (k.key_id == key_id) key = &k;
  }
  if (key == nullptr) {
    return Error{"untrusted key: signed by key id " + id_hex +
                 (trusted.empty() ? ", and no key is trusted at all" : ", which no trusted key has")};
  }
  const bool prehashed = alg == "ED";
  std::string hashed;
  if (prehashed && !blake2b512(message, hashed)) return Error{"bad signature: BLAKE2b-512 is not available"};
  const std::string_view sig_bytes = std::string_view(sig).substr(10, 64);
  if (!ed25519_verify(key->public_key, sig_bytes, prehashed ? std::string_view(hashed) : message)) {
    return Error{"bad signature: the manifest's signature does not verify with key " + id_hex + " (" + key->origin +
                 ")"};
  }
  const std::string_view comment = lines[2].substr(kTrusted.size());
  std::string signed_part(sig_bytes);
  signed_part.append(comment);
  if (!ed25519_verify(key->public_key, global, signed_part)) {
    return Error{"bad signature: the trusted comment's global signature does not verify with key " + id_hex};
  }
  return MinisignVerified{id_hex, std::string(comment), prehashed};
}

}  // namespace iocsweep
