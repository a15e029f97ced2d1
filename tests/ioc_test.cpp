#include "iocsweep/ioc.hpp"

#include <gtest/gtest.h>

namespace iocsweep {
namespace {

const std::string kMd5 = "900150983cd24fb0d6963f7d28e17f72";                                     // "abc"
const std::string kSha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";                            // "abc"
const std::string kSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // "abc"

std::string error_of(std::string_view text) {
  auto r = parse_hash_iocs(text, "list.txt");
  return r ? std::string("(parsed)") : r.error().message;
}

TEST(ParseHashIocs, AcceptsAllLineForms) {
  const std::string text = "\xEF\xBB\xBF# comment\n\n  " + kMd5 + ";plain description\r\n" + kSha1 +
                           ";70;scored; description;with semicolons\n" + kSha256 + "\n" +
                           "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD;upper case\n";
  auto r = parse_hash_iocs(text, "list.txt");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].kind, DigestKind::kMd5);
  EXPECT_EQ((*r)[0].description, "plain description");
  EXPECT_EQ((*r)[0].score, kDefaultHashScore);
  EXPECT_EQ((*r)[0].line, 3u);
  EXPECT_EQ((*r)[1].kind, DigestKind::kSha1);
  EXPECT_EQ((*r)[1].score, 70);
  EXPECT_EQ((*r)[1].description, "scored; description;with semicolons");
  EXPECT_EQ((*r)[2].kind, DigestKind::kSha256);
  EXPECT_EQ((*r)[2].description, "");
  EXPECT_EQ((*r)[3].value, kSha256);  // lower-cased
  EXPECT_EQ((*r)[3].source, "list.txt");
}

TEST(ParseHashIocs, NumericOnlyDescriptionIsNotAScore) {
  auto r = parse_hash_iocs(kMd5 + ";2016\n", "x");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].description, "2016");
  EXPECT_EQ((*r)[0].score, kDefaultHashScore);
}

TEST(ParseHashIocs, RejectsBadLinesWithFileAndLine) {
  EXPECT_EQ(error_of("# ok\n" + kMd5.substr(1) + ";short\n"),
            "list.txt:2: hash has 31 hex digits; expected 32 (MD5), 40 (SHA-1) or 64 (SHA-256)");
  EXPECT_EQ(error_of("zz" + kMd5.substr(2) + ";x\n"),
            "list.txt:1: hash contains a character that is not a hex digit at column 1");
  EXPECT_EQ(error_of(";only description\n"), "list.txt:1: missing hash before ';'");
  EXPECT_EQ(error_of(kMd5 + ";101;too high\n"), "list.txt:1: score '101' is not an integer from 0 to 100");
  EXPECT_EQ(error_of(kMd5 + ";99999999999;overflow\n"),
            "list.txt:1: score '99999999999' is not an integer from 0 to 100");
  EXPECT_EQ(error_of(std::string("\x7f"
                                 "ELF\0\0\0",
                                 7)),
            "list.txt:1: NUL byte (binary file?)");
  EXPECT_EQ(error_of("\n\n" + std::string(70000, 'a')), "list.txt:3: line longer than 64 KiB (not an IOC list?)");
}

TEST(HashIocDb, LooksUpEveryKindAndRecordsSets) {
  HashIocDb db;
  ASSERT_TRUE(db.add_set(kMd5 + ";md5 of abc\n" + kSha256 + ";80;sha256 of abc\n" + kMd5 + ";duplicate\n", "a.txt"));
  ASSERT_TRUE(db.add_set(kSha1 + ";sha1 of abc\n", "b.txt"));
  ASSERT_EQ(db.sets().size(), 2u);
  EXPECT_EQ(db.sets()[0].count, 2u);  // duplicate in one set counted once
  EXPECT_EQ(db.sets()[0].md5, 1u);
  EXPECT_EQ(db.sets()[0].sha256_count, 1u);
  EXPECT_EQ(db.sets()[1].sha1, 1u);
  EXPECT_EQ(db.sets()[0].sha256.size(), 64u);

  Hasher h;
  const std::string abc = "abc";
  const Digests d = h.digest(ByteView(reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()));
  const auto hits = db.lookup(d, abc.size());
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0]->description, "md5 of abc");
  EXPECT_EQ(hits[1]->source, "b.txt");
  EXPECT_EQ(hits[2]->score, 80);

  const std::string other = "abd";
  EXPECT_TRUE(
      db.lookup(h.digest(ByteView(reinterpret_cast<const std::uint8_t*>(other.data()), other.size())), other.size())
          .empty());
}

TEST(HashIocDb, BadSetLeavesDbUnchanged) {
  HashIocDb db;
  EXPECT_FALSE(db.add_set(kMd5 + ";fine\nnot-a-hash\n", "bad.txt"));
  EXPECT_EQ(db.size(), 0u);
  EXPECT_TRUE(db.sets().empty());
}

Digests digests_of(const std::string& s) {
  Hasher h;
  return h.digest(ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

TEST(ParseHashIocs, ReadsAnOptionalFileSizeAfterTheHash) {
  auto r = parse_hash_iocs(kSha1 + " size=3;90;sized\n" + kMd5 + "\tsize=0\n" + kSha256 + ";unsized\n", "list.txt");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].value, kSha1);
  EXPECT_EQ((*r)[0].size, std::optional<std::uint64_t>(3));
  EXPECT_EQ((*r)[0].score, 90);
  EXPECT_EQ((*r)[0].description, "sized");
  EXPECT_EQ((*r)[1].size, std::optional<std::uint64_t>(0));
  EXPECT_FALSE((*r)[2].size.has_value());
}

TEST(ParseHashIocs, RejectsAMalformedSizeWithFileAndLine) {
  EXPECT_EQ(error_of("# ok\n" + kMd5 + " size=12k;x\n"),
            "list.txt:2: after the hash, expected ';' or 'size=BYTES' (a whole number of bytes), found 'size=12k'");
  EXPECT_EQ(error_of(kMd5 + " size=;x\n"),
            "list.txt:1: after the hash, expected ';' or 'size=BYTES' (a whole number of bytes), found 'size='");
  EXPECT_EQ(error_of(kMd5 + " size=-1\n"),
            "list.txt:1: after the hash, expected ';' or 'size=BYTES' (a whole number of bytes), found 'size=-1'");
  EXPECT_EQ(error_of(kMd5 + " size=99999999999999999999\n"),
            "list.txt:1: after the hash, expected ';' or 'size=BYTES' (a whole number of bytes), found "
            "'size=99999999999999999999'");
  // Loki's HASH;DESCRIPTION written with a blank instead of ';', or
  // md5sum's output.
  EXPECT_EQ(error_of(kMd5 + " evil dropper\n"),
            "list.txt:1: after the hash, expected ';' or 'size=BYTES' (a whole number of bytes), found 'evil dropper'");
}

TEST(HashIocDb, ASizedIndicatorMatchesOnlyItsSizeAndIsHashedOnlyThere) {
  HashIocDb db;
  ASSERT_TRUE(db.add_set(kSha1 + " size=3;sized sha1\n" + kMd5 + ";unsized md5\n", "a.txt"));
  // SHA-1 only for files of 3 bytes; MD5 for every file.
  EXPECT_EQ(db.kinds_for_size(3), DigestSet().with(DigestKind::kSha1).with(DigestKind::kMd5));
  EXPECT_EQ(db.kinds_for_size(4), DigestSet().with(DigestKind::kMd5));
  EXPECT_EQ(db.kinds(), DigestSet().with(DigestKind::kSha1).with(DigestKind::kMd5));

  const Digests abc = digests_of("abc");
  auto hits = db.lookup(abc, 3);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0]->description, "unsized md5");
  EXPECT_EQ(hits[1]->description, "sized sha1");
  // The digests of "abc" said to come from a file of another size: the
  // size is part of the indicator.
  hits = db.lookup(abc, 4);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]->description, "unsized md5");
}

TEST(HashIocDb, OneHashGivenTwoSizesKeepsBoth) {
  HashIocDb db;
  ASSERT_TRUE(db.add_set(kSha1 + " size=3;right\n" + kSha1 + " size=7;wrong\n" + kSha1 + " size=3;again\n", "a.txt"));
  EXPECT_EQ(db.size(), 2u);
  EXPECT_TRUE(db.kinds_for_size(7).has(DigestKind::kSha1));
  const auto hits = db.lookup(digests_of("abc"), 3);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]->description, "right");
}

// A set holding one hash both sized and unsized (a MISP file object and a
// loose attribute) matches once, at the higher score: one indicator given
// twice is not corroboration. Two sets still match twice.
TEST(HashIocDb, OneSetMatchesAHashOnceEvenWhenGivenSizedAndUnsized) {
  HashIocDb db;
  ASSERT_TRUE(db.add_set(kSha1 + " size=3;70;sized\n" + kSha1 + ";80;unsized\n", "a.txt"));
  EXPECT_EQ(db.size(), 2u);
  auto hits = db.lookup(digests_of("abc"), 3);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]->description, "unsized");
  ASSERT_TRUE(db.add_set(kSha1 + " size=3;90;other set\n", "b.txt"));
  hits = db.lookup(digests_of("abc"), 3);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[1]->description, "other set");
}

TEST(HashIocDb, WithoutSizesEveryFileIsHashedForEveryKind) {
  HashIocDb db;
  ASSERT_TRUE(db.add_set(kSha256 + ";x\n", "a.txt"));
  EXPECT_EQ(db.kinds_for_size(0), DigestSet().with(DigestKind::kSha256));
  EXPECT_EQ(db.kinds_for_size(123456), DigestSet().with(DigestKind::kSha256));
}

TEST(HashAllowList, ContainsAnyListedDigest) {
  HashAllowList allow;
  EXPECT_FALSE(allow.contains(digests_of("abc")));  // empty list
  ASSERT_TRUE(allow.add_set(
      "# Loki falsepositive-hashes.txt layout\n" + kSha1 + ";known good\n" + kSha1 + ";same again\n", "fp-a.txt"));
  ASSERT_TRUE(allow.add_set(kMd5 + "\n" + kSha1 + ";also in the first set\n", "fp-b.txt"));
  EXPECT_TRUE(allow.contains(digests_of("abc")));
  EXPECT_FALSE(allow.contains(digests_of("abd")));
  EXPECT_EQ(allow.size(), 2u);  // distinct hashes over all sets
  ASSERT_EQ(allow.sets().size(), 2u);
  EXPECT_EQ(allow.sets()[0].name, "fp-a.txt");
  EXPECT_EQ(allow.sets()[0].count, 1u);
  EXPECT_EQ(allow.sets()[0].sha1, 1u);
  EXPECT_EQ(allow.sets()[1].count, 2u);
  EXPECT_EQ(allow.sets()[1].md5, 1u);
  EXPECT_EQ(allow.sets()[1].sha256.size(), 64u);
}

TEST(HashAllowList, EachDigestKindIsLookedUp) {
  for (const std::string& hash : {kMd5, kSha1, kSha256}) {
    HashAllowList allow;
    ASSERT_TRUE(allow.add_set(hash + "\n", "fp.txt"));
    EXPECT_TRUE(allow.contains(digests_of("abc"))) << hash;
  }
}

TEST(HashAllowList, BadSetFailsWithLineAndLeavesListUnchanged) {
  HashAllowList allow;
  const Status bad = allow.add_set(kMd5 + "\nnot-a-hash\n", "fp.txt");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "fp.txt:2: hash contains a character that is not a hex digit at column 1");
  EXPECT_EQ(allow.size(), 0u);
  EXPECT_TRUE(allow.sets().empty());
  EXPECT_FALSE(allow.contains(digests_of("abc")));
}

TEST(HashIocDb, AddIocsChecksValuesAndCountsKinds) {
  HashIocDb db;
  std::vector<HashIoc> iocs(3);
  iocs[0].kind = DigestKind::kMd5;
  iocs[0].value = "900150983CD24FB0D6963F7D28E17F72";  // upper case is accepted and lowered
  iocs[1].kind = DigestKind::kSha256;
  iocs[1].value = kSha256;
  iocs[1].source = "feed.json";
  iocs[2] = iocs[0];  // duplicate within the set
  IocSetInfo info;
  info.name = "feed.json";
  info.sha256 = "given";
  info.count = 99;  // overwritten
  ASSERT_TRUE(db.add_iocs(iocs, info));
  ASSERT_EQ(db.sets().size(), 1u);
  EXPECT_EQ(db.sets()[0].count, 2u);
  EXPECT_EQ(db.sets()[0].md5, 1u);
  EXPECT_EQ(db.sets()[0].sha256_count, 1u);
  EXPECT_EQ(db.sets()[0].sha256, "given");
  const auto hits = db.lookup(digests_of("abc"), 3);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0]->value, kMd5);
  EXPECT_EQ(hits[0]->source, "feed.json");  // filled in from info.name

  std::vector<HashIoc> bad(1);
  bad[0].kind = DigestKind::kSha1;
  bad[0].value = kMd5;  // right hex, wrong length for SHA-1
  bad[0].source = "feed.json";
  bad[0].line = 4;
  const Status status = db.add_iocs(bad, info);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "feed.json:4: sha1 value is not 40 hex digits");
  bad[0].value = kSha1;
  bad[0].score = 101;
  EXPECT_EQ(db.add_iocs(bad, info).error().message, "feed.json:4: score is not an integer from 0 to 100");
  EXPECT_EQ(db.sets().size(), 1u);
  EXPECT_EQ(db.size(), 2u);
}

}  // namespace
}  // namespace iocsweep

namespace iocsweep {
namespace {

TEST(ParseHashIocs, LenientModeSkipsAndRecordsBadLines) {
  std::vector<std::string> skipped;
  auto r = parse_hash_iocs("nothex;x\n" + kMd5 + ";good\n" + kMd5.substr(1) + ";short\n", "list.txt", &skipped);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].line, 2u);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0], "list.txt:1: hash contains a character that is not a hex digit at column 1");
  EXPECT_EQ(skipped[1].rfind("list.txt:3: hash has 31 hex digits", 0), 0u);
}

}  // namespace
}  // namespace iocsweep

namespace iocsweep {
namespace {

// The hex digests of `content`, computed by the scanner's own Hasher.
std::vector<std::string> hex_digests_of(std::string_view content) {
  Hasher hasher;
  const Digests d = hasher.digest(ByteView(reinterpret_cast<const std::uint8_t*>(content.data()), content.size()));
  return {d.hex(DigestKind::kMd5), d.hex(DigestKind::kSha1), d.hex(DigestKind::kSha256)};
}

TEST(HashIocDb, DigestsOfEmptyContentAreSkippedWithANoteEvenWhenStrict) {
  std::string text = "# OTX export\n";
  std::size_t empty_lines = 0;
  for (const std::string_view content : {"", "\n", "\r\n"}) {
    for (const std::string& hex : hex_digests_of(content)) {
      text += hex + ";in every OTX pulse\n";
      ++empty_lines;
    }
  }
  text += kSha256 + ";real indicator\n";
  HashIocDb db;
  std::vector<std::string> notes;
  ASSERT_TRUE(db.add_set(text, "otx.txt", nullptr, &notes));
  EXPECT_EQ(db.size(), 1u);
  EXPECT_EQ(db.sets()[0].count, 1u);
  ASSERT_EQ(notes.size(), empty_lines);
  EXPECT_EQ(notes[0],
            "otx.txt:2: md5 of an empty file (or of a lone line break) skipped: it would flag every such file");
  EXPECT_EQ(notes[4].rfind("otx.txt:6: sha1 of an empty file", 0), 0u) << notes[4];
  EXPECT_TRUE(db.lookup(digests_of(""), 0).empty());
  EXPECT_EQ(db.lookup(digests_of("abc"), 3).size(), 1u);

  // Imported indicators too; the note names the indicator by its description.
  std::vector<HashIoc> imported(1);
  imported[0].kind = DigestKind::kSha256;
  imported[0].value = hex_digests_of("")[2];
  imported[0].description = "empty (indicator--e)";
  IocSetInfo info;
  info.name = "bundle.json";
  notes.clear();
  ASSERT_TRUE(db.add_iocs(imported, info, &notes));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("bundle.json: sha256 of an empty file"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("indicator--e"), std::string::npos) << notes[0];
  EXPECT_EQ(db.size(), 1u);
}

TEST(HashIocDb, DuplicateInOneSetKeepsTheHighestScoreAndItsDescription) {
  HashIocDb db;
  ASSERT_TRUE(db.add_set(
      kSha256 + ";40;low\n" + kSha256 + ";100;high\n" + kSha256 + ";70;middle\n" + kSha256 + " size=3;10;sized\n",
      "dups.txt"));
  // The sized one is another indicator, but a set matches a file once.
  EXPECT_EQ(db.sets()[0].count, 2u);
  const auto hits = db.lookup(digests_of("abc"), 3);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]->score, 100);
  EXPECT_EQ(hits[0]->description, "high");
  EXPECT_EQ(hits[0]->line, 2u);
}

TEST(ParseHashIocs, Latin1DescriptionIsRepairedNotRejected) {
  auto r = parse_hash_iocs(kMd5 + ";Caf\xE9 dropper\n", "list.txt");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].description, "Caf\xEF\xBF\xBD dropper");
  EXPECT_TRUE(is_valid_utf8((*r)[0].description));
}

TEST(ParseHashIocs, Utf16ListIsRefusedSayingSoEvenWhenLenient) {
  const std::string line = kMd5 + ";x\r\n";
  std::string le("\xFF\xFE", 2);
  std::string be("\xFE\xFF", 2);
  for (const char c : line) {
    le += c;
    le += '\0';
    be += '\0';
    be += c;
  }
  const std::string want = "list.txt:1: UTF-16 text: convert to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)";
  EXPECT_EQ(error_of(le), want);
  EXPECT_EQ(error_of(be), want);
  std::vector<std::string> skipped;
  auto lenient = parse_hash_iocs(le, "list.txt", &skipped);
  ASSERT_FALSE(lenient);
  EXPECT_EQ(lenient.error().message, want);
}

}  // namespace
}  // namespace iocsweep
