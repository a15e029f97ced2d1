#include <openssl/evp.h>

#include <stdexcept>

#include "iocsweep/hash.hpp"

namespace iocsweep {
namespace {

struct MdFree {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct CtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdPtr = std::unique_ptr<EVP_MD, MdFree>;
using CtxPtr = std::unique_ptr<EVP_MD_CTX, CtxFree>;

constexpr DigestKind kAllKinds[] = {DigestKind::kMd5, DigestKind::kSha1, DigestKind::kSha256};

const char* evp_name(DigestKind kind) {
  switch (kind) {
    case DigestKind::kMd5:
      return "MD5";
    case DigestKind::kSha1:
      return "SHA1";
    case DigestKind::kSha256:
      return "SHA256";
  }
  return "";
}

MdPtr fetch(DigestKind kind) {
  // Explicit fetch once, instead of EVP_md5() per call: avoids a provider
  // lookup on every file (OpenSSL 3 performance guidance).
  MdPtr md(EVP_MD_fetch(nullptr, evp_name(kind), nullptr));
  if (!md) throw std::runtime_error(std::string("OpenSSL cannot provide ") + evp_name(kind));
  return md;
}

std::uint8_t* out_of(Digests& d, DigestKind kind) {
  switch (kind) {
    case DigestKind::kMd5:
      return d.md5.data();
    case DigestKind::kSha1:
      return d.sha1.data();
    case DigestKind::kSha256:
      return d.sha256.data();
  }
  return nullptr;
}

}  // namespace

std::string_view digest_name(DigestKind kind) {
  switch (kind) {
    case DigestKind::kMd5:
      return "md5";
    case DigestKind::kSha1:
      return "sha1";
    case DigestKind::kSha256:
      return "sha256";
  }
  return "";
}

void Digests::merge(const Digests& other) {
  for (const DigestKind kind : kAllKinds) {
    if (!other.present.has(kind)) continue;
    const ByteView src = other.get(kind);
    std::copy(src.begin(), src.end(), out_of(*this, kind));
    present = present.with(kind);
  }
}

std::size_t digest_hex_length(DigestKind kind) {
  switch (kind) {
    case DigestKind::kMd5:
      return 32;
    case DigestKind::kSha1:
      return 40;
    case DigestKind::kSha256:
      return 64;
  }
  return 0;
}

ByteView Digests::get(DigestKind kind) const {
  switch (kind) {
    case DigestKind::kMd5:
      return md5;
    case DigestKind::kSha1:
      return sha1;
    case DigestKind::kSha256:
      return sha256;
  }
  return {};
}

std::string Digests::hex(DigestKind kind) const { return present.has(kind) ? to_hex(get(kind)) : std::string(); }

struct Hasher::Impl {
  MdPtr md[3];
  CtxPtr ctx[3];
  DigestSet kinds;
};

Hasher::Hasher() : impl_(std::make_unique<Impl>()) {
  for (int i = 0; i < 3; ++i) {
    impl_->md[i] = fetch(kAllKinds[i]);
    impl_->ctx[i].reset(EVP_MD_CTX_new());
    if (!impl_->ctx[i]) throw std::bad_alloc();
  }
}

Hasher::~Hasher() = default;

void Hasher::begin(DigestSet kinds) {
  impl_->kinds = kinds;
  for (int i = 0; i < 3; ++i) {
    if (!kinds.has(kAllKinds[i])) continue;
    if (EVP_DigestInit_ex2(impl_->ctx[i].get(), impl_->md[i].get(), nullptr) != 1) {
      throw std::runtime_error("EVP_DigestInit_ex2 failed");
    }
  }
}

void Hasher::update(ByteView bytes) {
  if (bytes.empty()) return;
  for (int i = 0; i < 3; ++i) {
    if (!impl_->kinds.has(kAllKinds[i])) continue;
    if (EVP_DigestUpdate(impl_->ctx[i].get(), bytes.data(), bytes.size()) != 1) {
      throw std::runtime_error("EVP_DigestUpdate failed");
    }
  }
}

Digests Hasher::finish() {
  Digests d;
  d.present = impl_->kinds;
  for (int i = 0; i < 3; ++i) {
    if (!impl_->kinds.has(kAllKinds[i])) continue;
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(impl_->ctx[i].get(), out_of(d, kAllKinds[i]), &len) != 1) {
      throw std::runtime_error("EVP_DigestFinal_ex failed");
    }
  }
  return d;
}

Digests Hasher::digest(ByteView bytes, DigestSet kinds) {
  begin(kinds);
  update(bytes);
  return finish();
}

std::string sha256_hex(std::string_view data) {
  // Fetching the algorithms is the expensive part of a Hasher: one per
  // thread serves every call.
  thread_local Hasher hasher;
  return hasher
      .digest(ByteView(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()),
              DigestSet().with(DigestKind::kSha256))
      .hex(DigestKind::kSha256);
}

}  // namespace iocsweep
