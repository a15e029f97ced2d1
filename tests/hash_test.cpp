#include "iocsweep/hash.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace iocsweep {
namespace {

using test::bytes_of;

TEST(Hasher, KnownVectorsEmpty) {
  Hasher h;
  const Digests d = h.digest(bytes_of(""));
  EXPECT_EQ(d.hex(DigestKind::kMd5), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(d.hex(DigestKind::kSha1), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(d.hex(DigestKind::kSha256), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Hasher, KnownVectorsAbc) {
  Hasher h;
  const Digests d = h.digest(bytes_of("abc"));
  EXPECT_EQ(d.hex(DigestKind::kMd5), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(d.hex(DigestKind::kSha1), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(d.hex(DigestKind::kSha256), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hasher, MillionAs) {
  // FIPS 180 long-message vector: one million 'a'.
  Hasher h;
  const Digests d = h.digest(bytes_of(std::string(1000000, 'a')));
  EXPECT_EQ(d.hex(DigestKind::kSha1), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  EXPECT_EQ(d.hex(DigestKind::kSha256), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(d.hex(DigestKind::kMd5), "7707d6ae4e027c70eea2a935c2296f21");
}

TEST(Hasher, ReuseAndStreamingGiveSameResult) {
  Hasher h;
  const std::string data(300000, 'x');
  const Digests once = h.digest(bytes_of(data));
  (void)h.digest(bytes_of("something else in between"));
  h.begin();
  for (std::size_t i = 0; i < data.size(); i += 7777) {
    h.update(bytes_of(data.substr(i, 7777)));
  }
  const Digests streamed = h.finish();
  EXPECT_EQ(once.hex(DigestKind::kSha256), streamed.hex(DigestKind::kSha256));
  EXPECT_EQ(once.hex(DigestKind::kMd5), streamed.hex(DigestKind::kMd5));
  EXPECT_EQ(once.hex(DigestKind::kSha1), streamed.hex(DigestKind::kSha1));
}

TEST(Hasher, Sha256HexHelper) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestName, Names) {
  EXPECT_EQ(digest_name(DigestKind::kMd5), "md5");
  EXPECT_EQ(digest_name(DigestKind::kSha1), "sha1");
  EXPECT_EQ(digest_name(DigestKind::kSha256), "sha256");
}

}  // namespace
}  // namespace iocsweep
