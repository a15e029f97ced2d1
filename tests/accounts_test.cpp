#include "iocsweep/accounts.hpp"

#include <gtest/gtest.h>

#include "iocsweep/hash.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

TEST(AccountNames, ReadsNameAndIdOfEachEntry) {
  const AccountNames t = AccountNames::parse(
      "root:x:0:0:root:/root:/bin/bash\n"
      "swiftop:x:4242:4242:SWIFT operator:/home/swiftop:/bin/sh\n"
      "wheel:x:10:root,swiftop\n");  // group(5) has the id in the same field
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.name_of(0), "root");
  EXPECT_EQ(t.name_of(4242), "swiftop");
  EXPECT_EQ(t.name_of(10), "wheel");
}

TEST(AccountNames, UnknownIdsStayNumeric) {
  const AccountNames t = AccountNames::parse("root:x:0:0::/:/bin/sh\n");
  EXPECT_EQ(t.name_of(1000), "1000");
  EXPECT_EQ(t.name_of(4294967295u), "4294967295");
  EXPECT_EQ(AccountNames().name_of(0), "0");
}

TEST(AccountNames, IgnoresWhatIsNotAnEntry) {
  const AccountNames t = AccountNames::parse(
      "# comment:x:1:1\n"
      "\n"
      "+nisuser:x:2:2::/:/bin/sh\n"
      "-nisgroup:x:3:3\n"
      "short:x\n"
      ":x:4:4::/:/bin/sh\n"
      "neg:x:-5:5\n"
      "hex:x:0x6:6\n"
      "big:x:4294967296:7\n"
      "blank:x::8\n"
      "trail:x:9z:9\n"
      "dos:x:11:11\r\n"
      "last:x:12:12");  // no final newline
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.name_of(11), "dos");
  EXPECT_EQ(t.name_of(12), "last");
  for (std::uint32_t id : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u}) EXPECT_EQ(t.name_of(id), std::to_string(id));
}

TEST(AccountNames, FirstEntryOfAnIdWins) {
  const AccountNames t = AccountNames::parse("root:x:0:0\ntoor:x:0:0\n");
  EXPECT_EQ(t.name_of(0), "root");
}

TEST(AccountNames, LoadReadsAFileAndFingerprintsItsText) {
  test::TempDir d;
  const std::string text = "swiftop:x:4242:4242::/:/bin/sh\n";
  test::write_file(d / "passwd", text);
  const AccountNames t = AccountNames::load(d / "passwd");
  EXPECT_EQ(t.name_of(4242), "swiftop");
  EXPECT_EQ(t.source_sha256(), sha256_hex(text));
  // Missing, or not a regular file: every id numeric, never an error.
  EXPECT_EQ(AccountNames::load(d / "absent").size(), 0u);
  EXPECT_EQ(AccountNames::load(d.path()).size(), 0u);
  EXPECT_NE(AccountNames::load(d / "absent").source_sha256(), t.source_sha256());
}

}  // namespace
}  // namespace iocsweep
