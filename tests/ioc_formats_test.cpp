#include "iocsweep/ioc_formats.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <optional>

namespace iocsweep {
namespace {

const std::string kMd5 = "900150983cd24fb0d6963f7d28e17f72";                                     // "abc"
const std::string kSha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";                            // "abc"
const std::string kSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // "abc"

// A JSON string literal for `s` (enough for the texts in these tests).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string indicator(const std::string& id, const std::string& pattern, const std::string& extra = "") {
  return R"({"type": "indicator", "spec_version": "2.1", "id": ")" + id + R"(", "pattern_type": "stix", "pattern": )" +
         json_string(pattern) + extra + "}";
}

std::string bundle(const std::vector<std::string>& objects) {
  std::string out = R"({"type": "bundle", "id": "bundle--1", "objects": [)";
  for (std::size_t i = 0; i < objects.size(); ++i) out += (i ? ", " : "") + objects[i];
  return out + "]}";
}

ImportedIocs stix_ok(const std::string& text) {
  auto r = parse_stix_bundle(text, "feed.json");
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : ImportedIocs{};
}

std::string stix_error(const std::string& text) {
  auto r = parse_stix_bundle(text, "feed.json");
  return r ? std::string("(parsed)") : r.error().message;
}

// Compiles the imported name indicators and says which of them `path` hits.
std::vector<std::string> name_hits(const ImportedIocs& imported, std::string_view path) {
  FilenameIocDb db;
  EXPECT_TRUE(db.add_iocs(imported.filenames, IocSetInfo{"feed.json", "", 0, 0, 0, 0, 0}));
  EXPECT_TRUE(db.compile());
  std::vector<std::string> out;
  for (const FilenameIoc* ioc : db.match(path)) out.push_back(ioc->description);
  return out;
}

TEST(ParseStixBundle, ImportsHashesAndNamesInEverySpelling) {
  const std::string text = bundle({
      indicator("indicator--1", "[file:hashes.'MD5' = '" + kMd5 + "']", R"(, "name": "Bad MD5")"),
      indicator("indicator--2", "[file:hashes.'SHA-1' = '" + kSha1 + "']", R"(, "description": "Only a description")"),
      indicator("indicator--3", "[file:hashes.'SHA-256' = '" + kSha256 + "']"),
      indicator("indicator--4", "[file:hashes.MD5 = '" + kMd5 + "']"),
      indicator("indicator--5", "[file:hashes.SHA1 = '" + kSha1 + "']"),
      indicator("indicator--6", "[file:hashes.'SHA256' = '" + std::string(64, 'A') + "']"),
      indicator("indicator--7", "[file:name = 'evil.exe']", R"(, "name": "Evil dropper")"),
      R"({"type": "indicator", "id": "indicator--8", "pattern": "[file:name = 'stix20.exe']"})",  // STIX 2.0: no
                                                                                                  // pattern_type
  });
  const ImportedIocs r = stix_ok(text);
  ASSERT_EQ(r.hashes.size(), 6u);
  EXPECT_EQ(r.hashes[0].kind, DigestKind::kMd5);
  EXPECT_EQ(r.hashes[0].value, kMd5);
  EXPECT_EQ(r.hashes[0].score, 100);
  EXPECT_EQ(r.hashes[0].description, "Bad MD5 (indicator--1)");
  EXPECT_EQ(r.hashes[0].source, "feed.json");
  EXPECT_EQ(r.hashes[1].kind, DigestKind::kSha1);
  EXPECT_EQ(r.hashes[1].description, "Only a description (indicator--2)");
  EXPECT_EQ(r.hashes[2].kind, DigestKind::kSha256);
  EXPECT_EQ(r.hashes[2].description, "indicator--3");
  EXPECT_EQ(r.hashes[3].kind, DigestKind::kMd5);
  EXPECT_EQ(r.hashes[4].kind, DigestKind::kSha1);
  EXPECT_EQ(r.hashes[5].value, std::string(64, 'a'));  // lower-cased
  ASSERT_EQ(r.filenames.size(), 2u);
  EXPECT_EQ(r.filenames[0].score, kDefaultFilenameScore);
  EXPECT_EQ(r.filenames[0].description, "Evil dropper (indicator--7)");
  EXPECT_EQ(r.unsupported, 0u);
  EXPECT_EQ(name_hits(r, "/tmp/EVIL.exe"), std::vector<std::string>{"Evil dropper (indicator--7)"});
  EXPECT_TRUE(name_hits(r, "/tmp/not-evil.exe").empty());
}

TEST(ParseStixBundle, OrPatternsYieldSeveralIndicators) {
  const ImportedIocs r = stix_ok(bundle({
      indicator("indicator--or", "[file:hashes.MD5 = '" + kMd5 + "' OR file:hashes.'SHA-256' = '" + kSha256 +
                                     "' OR (file:name = 'a.exe' OR file:name = 'b.exe')] OR [file:name = 'c.exe']"),
  }));
  ASSERT_EQ(r.hashes.size(), 2u);
  ASSERT_EQ(r.filenames.size(), 3u);
  EXPECT_EQ(r.unsupported, 0u);
  EXPECT_EQ(name_hits(r, "/x/b.exe").size(), 1u);
  EXPECT_EQ(name_hits(r, "/x/c.exe").size(), 1u);
}

TEST(ParseStixBundle, QuotedValuesWithEscapes) {
  const ImportedIocs r = stix_ok(bundle({indicator("indicator--q", R"([file:name = 'it\'s a \\ name.exe'])")}));
  ASSERT_EQ(r.filenames.size(), 1u);
  EXPECT_EQ(name_hits(r, "/x/it's a /name.exe").size(), 0u);
  // The backslash inside the name is a separator once matched (see filename_ioc.hpp).
  EXPECT_EQ(name_hits(r, "/x/it's a / name.exe").size(), 1u);
}

TEST(ParseStixBundle, ConfidenceBecomesTheScore) {
  const ImportedIocs r = stix_ok(bundle({
      indicator("indicator--c", "[file:hashes.MD5 = '" + kMd5 + "' OR file:name = 'x.exe']", R"(, "confidence": 35)"),
  }));
  ASSERT_EQ(r.hashes.size(), 1u);
  EXPECT_EQ(r.hashes[0].score, 35);
  EXPECT_EQ(r.filenames[0].score, 35);
  EXPECT_EQ(stix_error(bundle({indicator("indicator--c", "[file:name = 'x']", R"(, "confidence": 101)")})),
            "feed.json: indicator--c: \"confidence\" is not an integer from 0 to 100");
}

TEST(ParseStixBundle, UnsupportedPatternsAreCountedAndListed) {
  const ImportedIocs r = stix_ok(bundle({
      indicator("indicator--ip", "[ipv4-addr:value = '1.2.3.4']"),
      indicator("indicator--and", "[file:name = 'a.exe' AND file:size = 3]"),
      indicator("indicator--fb", "[file:name = 'a.exe'] FOLLOWEDBY [file:name = 'b.exe']"),
      indicator("indicator--within", "[file:name = 'a.exe'] WITHIN 300 SECONDS"),
      indicator("indicator--like", "[file:name LIKE 'evil%']"),
      indicator("indicator--not", "[file:name NOT = 'a.exe']"),
      indicator("indicator--sha512", "[file:hashes.'SHA-512' = 'abcd']"),
      indicator("indicator--broken", "[file:name = 'unterminated]"),
      indicator("indicator--mixed",
                "[file:hashes.MD5 = '" + kMd5 + "' OR url:value = 'http://x/'] OR [domain-name:value IN ('a', 'b')]"),
      R"({"type": "indicator", "id": "indicator--yara", "pattern_type": "yara", "pattern": "rule x { condition: true }"})",
  }));
  ASSERT_EQ(r.hashes.size(), 1u);  // the MD5 alternative of indicator--mixed
  EXPECT_EQ(r.hashes[0].description, "indicator--mixed");
  EXPECT_TRUE(r.filenames.empty());
  EXPECT_EQ(r.unsupported, 11u);
  ASSERT_EQ(r.unsupported_examples.size(), kMaxUnsupportedExamples);
  EXPECT_EQ(r.unsupported_examples[0],
            "indicator--ip: pattern [ipv4-addr:value = '1.2.3.4'] not supported (not a file hash or file:name)");
  EXPECT_EQ(r.unsupported_examples[1],
            "indicator--and: pattern [file:name = 'a.exe' AND file:size = 3] not supported (AND without a file hash "
            "of MD5, SHA-1 or SHA-256)");
  EXPECT_EQ(r.unsupported_examples[2],
            "indicator--fb: pattern [file:name = 'a.exe'] FOLLOWEDBY [file:name = 'b.exe'] not supported (FOLLOWEDBY "
            "between observations)");
  EXPECT_EQ(r.unsupported_examples[3],
            "indicator--within: pattern [file:name = 'a.exe'] WITHIN 300 SECONDS not supported (qualifier WITHIN)");
  EXPECT_EQ(r.unsupported_examples[4],
            "indicator--like: pattern [file:name LIKE 'evil%'] not supported (operator LIKE)");
  EXPECT_EQ(r.unsupported_examples[5], "indicator--not: pattern [file:name NOT = 'a.exe'] not supported (NOT)");
  EXPECT_EQ(r.unsupported_examples[6],
            "indicator--sha512: pattern [file:hashes.'SHA-512' = 'abcd'] not supported (hash algorithm SHA-512 is not "
            "MD5, SHA-1 or SHA-256)");
  EXPECT_EQ(r.unsupported_examples[7],
            "indicator--broken: pattern [file:name = 'unterminated] not supported (unterminated string or bad escape "
            "at column 14)");
  EXPECT_EQ(r.unsupported_examples[8],
            "indicator--mixed: url:value = 'http://x/' in an OR pattern not supported (not a file hash or file:name)");
  EXPECT_EQ(r.unsupported_examples[9],
            "indicator--mixed: domain-name:value IN ('a', 'b') in an OR pattern not supported (not a file hash or "
            "file:name)");
  // The 11th (pattern_type yara) is counted but not listed.
}

// MISP's STIX export writes every fact of a file object into one
// observation joined by AND.
TEST(ParseStixBundle, AndOfFileFactsImportsEachHashWithTheSize) {
  std::string md5_upper = kMd5;
  for (char& c : md5_upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const ImportedIocs r = stix_ok(bundle({
      indicator("indicator--misp",
                "[file:hashes.MD5 = '" + kMd5 + "' AND file:hashes.SHA1 = '" + kSha1 + "' AND file:hashes.SHA256 = '" +
                    kSha256 + "' AND file:hashes.SSDEEP = '3:abc:def' AND file:name = 'abc.txt' AND file:size = '3' " +
                    "AND file:x_misp_entropy = '1.58' AND file:mime_type = 'text/plain']",
                R"(, "name": "File object")"),
      indicator("indicator--int", "[file:size = 3 AND file:hashes.'SHA-256' = '" + kSha256 + "']"),
      indicator("indicator--nosize", "[file:hashes.MD5 = '" + kMd5 + "' AND file:name = 'x.exe']"),
      indicator("indicator--dup", "[file:hashes.MD5 = '" + kMd5 + "' AND file:hashes.MD5 = '" + md5_upper + "']"),
      indicator("indicator--or", "[file:hashes.MD5 = '" + kMd5 + "' AND file:size = 3 OR (file:hashes.SHA1 = '" +
                                     kSha1 + "' AND file:size = 4) OR file:name = 'or.exe']"),
  }));
  ASSERT_EQ(r.hashes.size(), 8u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.hashes[i].size, std::optional<std::uint64_t>(3)) << i;
    EXPECT_EQ(r.hashes[i].description, "File object (indicator--misp)");
  }
  EXPECT_EQ(r.hashes[0].kind, DigestKind::kMd5);
  EXPECT_EQ(r.hashes[1].kind, DigestKind::kSha1);
  EXPECT_EQ(r.hashes[2].kind, DigestKind::kSha256);
  EXPECT_EQ(r.hashes[3].kind, DigestKind::kSha256);
  EXPECT_EQ(r.hashes[3].size, std::optional<std::uint64_t>(3));
  EXPECT_EQ(r.hashes[4].size, std::nullopt);  // indicator--nosize
  EXPECT_EQ(r.hashes[5].value, kMd5);         // indicator--dup: the same hash twice is one
  EXPECT_EQ(r.hashes[6].size, std::optional<std::uint64_t>(3));
  EXPECT_EQ(r.hashes[7].kind, DigestKind::kSha1);
  EXPECT_EQ(r.hashes[7].size, std::optional<std::uint64_t>(4));
  // The names ANDed with a hash are not required; a lone name in an OR is.
  ASSERT_EQ(r.filenames.size(), 1u);
  EXPECT_EQ(name_hits(r, "/x/or.exe").size(), 1u);
  EXPECT_EQ(r.unsupported, 0u);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0],
            "2 file:name comparison(s) ANDed with a file hash not required: the hash is imported and matches the file "
            "under any name (e.g. indicator--misp: file:name = 'abc.txt')");

  // A sized indicator matches only a file of that size.
  HashIocDb db;
  ASSERT_TRUE(db.add_iocs({r.hashes[0]}, IocSetInfo{"feed.json", "", 0, 0, 0, 0, 0}));
  Hasher h;
  const std::string abc = "abc";
  const Digests d = h.digest(ByteView(reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()));
  EXPECT_EQ(db.lookup(d, 3).size(), 1u);
  EXPECT_TRUE(db.lookup(d, 4).empty());
}

TEST(ParseStixBundle, AndThatCannotBeSweptForIsCountedAndListed) {
  const std::string md5 = "file:hashes.MD5 = '" + kMd5 + "'";
  const ImportedIocs r = stix_ok(bundle({
      indicator("indicator--sizes", "[" + md5 + " AND file:size = 3 AND file:size = 4]"),
      indicator("indicator--md5s", "[" + md5 + " AND file:hashes.'MD5' = '" + std::string(32, '0') + "']"),
      indicator("indicator--across", "[" + md5 + "] AND [file:size = 3]"),
      indicator("indicator--nested", "[(" + md5 + " OR file:name = 'a.exe') AND file:size = 3]"),
      indicator("indicator--other", "[" + md5 + " AND process:name = 'a.exe']"),
      indicator("indicator--path", "[" + md5 + " AND file:parent_directory_ref.path = 'C:\\\\Temp']"),
      indicator("indicator--op", "[" + md5 + " AND file:size > 3]"),
      indicator("indicator--bad-size", "[" + md5 + " AND file:size = '-3']"),
      indicator("indicator--within", "[" + md5 + " AND file:size = 3] WITHIN 5 SECONDS"),
      indicator("indicator--mixed", "[file:hashes.SHA1 = '" + kSha1 + "' OR file:name = 'a.exe' AND file:size = 3]"),
  }));
  ASSERT_EQ(r.hashes.size(), 1u);  // the SHA-1 of indicator--mixed
  EXPECT_EQ(r.hashes[0].kind, DigestKind::kSha1);
  EXPECT_TRUE(r.filenames.empty());
  EXPECT_TRUE(r.notes.empty());
  EXPECT_EQ(r.unsupported, 10u);
  ASSERT_EQ(r.unsupported_examples.size(), 10u);
  const std::string pattern = "pattern [" + md5;
  EXPECT_EQ(r.unsupported_examples[0], "indicator--sizes: " + pattern +
                                           " AND file:size = 3 AND file:size = 4] not supported (AND of two "
                                           "different file:size values)");
  EXPECT_EQ(r.unsupported_examples[1], "indicator--md5s: " + pattern + " AND file:hashes.'MD5' = '" +
                                           std::string(32, '0') + "'] not supported (AND of two different md5 values)");
  EXPECT_EQ(r.unsupported_examples[2],
            "indicator--across: " + pattern + "] AND [file:size = 3] not supported (AND between observations)");
  EXPECT_EQ(r.unsupported_examples[3], "indicator--nested: pattern [(" + md5 +
                                           " OR file:name = 'a.exe') AND file:size = 3] not supported (OR inside AND)");
  EXPECT_EQ(r.unsupported_examples[4], "indicator--other: " + pattern +
                                           " AND process:name = 'a.exe'] not supported (AND with process:name = "
                                           "'a.exe' (not a file property))");
  EXPECT_EQ(r.unsupported_examples[5],
            "indicator--path: " + pattern +
                " AND file:parent_directory_ref.path = 'C:\\\\Temp'] not supported (AND with "
                "file:parent_directory_ref.path = 'C:\\\\Temp' (not a file hash, size, name or property the content "
                "fixes))");
  EXPECT_EQ(r.unsupported_examples[6],
            "indicator--op: " + pattern + " AND file:size > 3] not supported (AND with file:size > 3 (operator >))");
  EXPECT_EQ(r.unsupported_examples[7], "indicator--bad-size: " + pattern +
                                           " AND file:size = '-3'] not supported (AND with file:size = '-3' (not a "
                                           "whole number of bytes))");
  EXPECT_EQ(r.unsupported_examples[8],
            "indicator--within: " + pattern + " AND file:size = 3] WITHIN 5 SECONDS not supported (qualifier WITHIN)");
  EXPECT_EQ(r.unsupported_examples[9],
            "indicator--mixed: file:name = 'a.exe' AND file:size = 3 in an OR pattern not supported (AND without a "
            "file hash of MD5, SHA-1 or SHA-256)");
  // A bad hash in an AND fails the bundle like any other.
  EXPECT_EQ(stix_error(bundle({indicator("indicator--short", "[file:hashes.MD5 = 'abc' AND file:size = 3]")})),
            "feed.json: indicator--short: md5 value 'abc' is not 32 hex digits");
}

TEST(ParseStixBundle, OnlyTheLatestVersionOfAnIndicatorCounts) {
  const auto version = [](const std::string& id, const std::string& pattern, const std::string& modified,
                          const std::string& extra = "") {
    return indicator(id, pattern, R"(, "modified": ")" + modified + "\"" + extra);
  };
  const ImportedIocs r = stix_ok(bundle({
      version("indicator--v", "[file:name = 'v1.exe']", "2020-01-01T00:00:00.500Z"),
      version("indicator--v", "[file:name = 'v3.exe']", "2021-01-01T00:00:00Z", R"(, "revoked": true)"),
      version("indicator--v", "[file:name = 'v2.exe']", "2020-06-01T00:00:00Z"),
      // "...:00Z" is earlier than "...:00.001Z", though it sorts after it as text.
      version("indicator--f", "[file:name = 'late.exe']", "2022-01-01T00:00:00.001Z"),
      version("indicator--f", "[file:name = 'early.exe']", "2022-01-01T00:00:00Z"),
      // No modified: older than any version that has one.
      indicator("indicator--m", "[file:name = 'unversioned.exe']"),
      version("indicator--m", "[file:name = 'versioned.exe']", "2000-01-01T00:00:00Z"),
      version("indicator--single", "[file:name = 'single.exe']", "2019-01-01T00:00:00Z"),
  }));
  ASSERT_EQ(r.filenames.size(), 3u);
  EXPECT_EQ(name_hits(r, "/x/late.exe").size(), 1u);
  EXPECT_EQ(name_hits(r, "/x/versioned.exe").size(), 1u);
  EXPECT_EQ(name_hits(r, "/x/single.exe").size(), 1u);
  EXPECT_EQ(r.unsupported, 1u);
  ASSERT_EQ(r.unsupported_examples.size(), 1u);
  EXPECT_EQ(r.unsupported_examples[0], "indicator--v: revoked, not imported");
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0],
            "4 older indicator version(s) superseded by a later version with the same id, not imported (e.g. "
            "indicator--v modified 2020-01-01T00:00:00.500Z, replaced by modified 2021-01-01T00:00:00Z)");
  EXPECT_EQ(stix_error(bundle({version("indicator--t", "[file:name = 'a']", "yesterday")})),
            "feed.json: indicator--t: \"modified\" is not an RFC 3339 timestamp");
}

TEST(ParseStixBundle, RevokedAndExpiredAreSkippedAndCounted) {
  const ImportedIocs r = stix_ok(bundle({
      indicator("indicator--revoked", "[file:name = 'a.exe']", R"(, "revoked": true)"),
      indicator("indicator--expired", "[file:name = 'b.exe']", R"(, "valid_until": "2001-02-03T04:05:06.789Z")"),
      indicator("indicator--future", "[file:name = 'c.exe']", R"(, "valid_until": "2999-01-01T00:00:00Z")"),
      indicator("indicator--live", "[file:name = 'd.exe']", R"(, "revoked": false)"),
  }));
  EXPECT_EQ(r.filenames.size(), 2u);
  EXPECT_EQ(r.unsupported, 2u);
  ASSERT_EQ(r.unsupported_examples.size(), 2u);
  EXPECT_EQ(r.unsupported_examples[0], "indicator--revoked: revoked, not imported");
  EXPECT_EQ(r.unsupported_examples[1],
            "indicator--expired: expired (valid_until 2001-02-03T04:05:06.789Z), not imported");
  EXPECT_EQ(stix_error(bundle({indicator("indicator--t", "[file:name = 'a']", R"(, "valid_until": "soon")")})),
            "feed.json: indicator--t: \"valid_until\" is not an RFC 3339 timestamp");
}

TEST(ParseStixBundle, OtherObjectsAreIgnoredNotUnsupported) {
  const ImportedIocs r = stix_ok(bundle({
      R"({"type": "identity", "id": "identity--1", "name": "CERT"})",
      R"({"type": "malware", "id": "malware--1", "name": "X", "is_family": true})",
      R"({"type": "relationship", "id": "relationship--1"})",
      indicator("indicator--1", "[file:name = 'a.exe']"),
  }));
  EXPECT_EQ(r.ignored_objects, 3u);
  EXPECT_EQ(r.unsupported, 0u);
  EXPECT_EQ(r.filenames.size(), 1u);
  const ImportedIocs empty = stix_ok(R"({"type": "bundle", "id": "bundle--2"})");
  EXPECT_TRUE(empty.hashes.empty());
}

TEST(ParseStixBundle, BadValuesFailTheBundleNamingTheIndicator) {
  EXPECT_EQ(stix_error(bundle({indicator("indicator--short", "[file:hashes.MD5 = '" + kMd5.substr(1) + "']")})),
            "feed.json: indicator--short: md5 value '" + kMd5.substr(1) + "' is not 32 hex digits");
  EXPECT_EQ(stix_error(bundle({indicator("indicator--hex", "[file:hashes.'SHA-1' = '" + std::string(40, 'g') + "']")})),
            "feed.json: indicator--hex: sha1 value '" + std::string(40, 'g') + "' is not 40 hex digits");
  EXPECT_EQ(stix_error(bundle({indicator("indicator--empty", "[file:name = '']")})),
            "feed.json: indicator--empty: file name is empty");
  EXPECT_EQ(
      stix_error(bundle({R"({"type": "indicator", "id": "indicator--nul", "pattern": "[file:name = 'a\u0000b']"})"})),
      "feed.json: indicator--nul: file name 'a\\x00b' contains a NUL character");
  EXPECT_EQ(stix_error(bundle({R"({"type": "indicator", "id": "indicator--np"})"})),
            "feed.json: indicator--np: indicator has no \"pattern\" string");
  EXPECT_EQ(stix_error(bundle({R"({"type": "indicator", "pattern": "[file:name = '']"})"})),
            "feed.json: objects[0]: file name is empty");
  EXPECT_EQ(stix_error(bundle({"42"})), "feed.json: objects[0] is not a JSON object");
  EXPECT_EQ(stix_error(R"({"type": "bundle", "objects": {}})"), "feed.json: the bundle's \"objects\" is not an array");
}

TEST(ParseStixBundle, NotABundleOrNotJson) {
  EXPECT_EQ(stix_error(R"({"type": "indicator"})"),
            "feed.json: not a STIX bundle (expected a JSON object with \"type\": \"bundle\")");
  EXPECT_EQ(stix_error("[1, 2]"), "feed.json: not a STIX bundle (expected a JSON object with \"type\": \"bundle\")");
  EXPECT_EQ(stix_error("{\n  \"type\": \"bundle\",\n  \"objects\": [,]\n}"),
            "feed.json:3: invalid JSON at byte 37: syntax error while parsing value - unexpected ','; expected '[', "
            "'{', or a literal");
  EXPECT_EQ(stix_error(""),
            "feed.json:1: invalid JSON at byte 1: syntax error while parsing value - unexpected end of input; "
            "expected '[', '{', or a literal");
  const std::string bad_utf8 = "{\"type\": \"bundle\", \"x\": \"\xFF\"}";
  EXPECT_TRUE(
      stix_error(bad_utf8).starts_with("feed.json:1: invalid JSON at byte 26: syntax error while parsing "
                                       "value - invalid string: ill-formed UTF-8 byte"))
      << stix_error(bad_utf8);
}

TEST(ParseJson, DeepNestingIsRefusedWithoutCrashing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(stix_error(deep), "feed.json:1: JSON nested deeper than 512 levels (byte 513)");
  auto misp = parse_misp_event("{\"Event\": " + std::string(100000, '{'), "event.json");
  ASSERT_FALSE(misp);
  EXPECT_EQ(misp.error().message, "event.json:1: JSON nested deeper than 512 levels (byte 522)");
  EXPECT_EQ(detect_ioc_format(deep), IocFileFormat::kStixBundle);
  // Brackets inside strings do not count, and 512 levels are fine.
  const std::string in_string = R"({"type": "bundle", "x": ")" + std::string(1000, '[') + R"("})";
  EXPECT_TRUE(parse_stix_bundle(in_string, "s.json"));
  const std::string ok_depth = R"({"type": "bundle", "x": )" + std::string(511, '[') + std::string(511, ']') + "}";
  EXPECT_TRUE(parse_stix_bundle(ok_depth, "s.json"));
}

std::string misp_attribute(const std::string& type, const std::string& value, const std::string& uuid,
                           const std::string& extra = "") {
  return R"({"type": ")" + type + R"(", "value": )" + json_string(value) + R"(, "uuid": ")" + uuid + "\"" + extra + "}";
}

std::string misp_event(const std::vector<std::string>& attributes,
                       const std::vector<std::string>& object_attributes = {}) {
  std::string out = R"({"Event": {"info": "Lazarus SWIFT", "uuid": "ev-1", "Attribute": [)";
  for (std::size_t i = 0; i < attributes.size(); ++i) out += (i ? ", " : "") + attributes[i];
  out += R"(], "Object": [{"name": "file", "Attribute": [)";
  for (std::size_t i = 0; i < object_attributes.size(); ++i) out += (i ? ", " : "") + object_attributes[i];
  return out + "]}]}}";
}

ImportedIocs misp_ok(const std::string& text) {
  auto r = parse_misp_event(text, "event.json");
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : ImportedIocs{};
}

std::string misp_error(const std::string& text) {
  auto r = parse_misp_event(text, "event.json");
  return r ? std::string("(parsed)") : r.error().message;
}

TEST(ParseMispEvent, ImportsAttributesAndObjectAttributes) {
  const ImportedIocs r = misp_ok(misp_event(
      {
          misp_attribute("md5", kMd5, "a-1", R"(, "to_ids": true, "comment": "dropper")"),
          misp_attribute("sha1", kSha1, "a-2"),
          misp_attribute("filename", "evtdiag.exe", "a-3", R"(, "to_ids": "1")"),
      },
      {misp_attribute("sha256", " " + kSha256 + " ", "o-1", R"(, "to_ids": 1)")}));
  ASSERT_EQ(r.hashes.size(), 3u);
  EXPECT_EQ(r.hashes[0].kind, DigestKind::kMd5);
  EXPECT_EQ(r.hashes[0].score, 100);
  EXPECT_EQ(r.hashes[0].description, "Lazarus SWIFT: dropper (attribute a-1)");
  EXPECT_EQ(r.hashes[1].description, "Lazarus SWIFT (attribute a-2)");
  EXPECT_EQ(r.hashes[2].kind, DigestKind::kSha256);
  EXPECT_EQ(r.hashes[2].value, kSha256);
  ASSERT_EQ(r.filenames.size(), 1u);
  EXPECT_EQ(r.filenames[0].score, kDefaultFilenameScore);
  EXPECT_EQ(name_hits(r, "/mnt/img/Windows/EvtDiag.exe"), std::vector<std::string>{"Lazarus SWIFT (attribute a-3)"});
  EXPECT_EQ(r.unsupported, 0u);
}

TEST(ParseMispEvent, CompositeAttributesYieldNameAndHash) {
  const ImportedIocs r = misp_ok(misp_event({
      misp_attribute("filename|md5", "evil.exe|" + kMd5, "c-1"),
      misp_attribute("filename|sha1", "odd|name.dll|" + kSha1, "c-2"),
      misp_attribute("filename|sha256", "x.bin|" + kSha256, "c-3"),
  }));
  ASSERT_EQ(r.hashes.size(), 3u);
  ASSERT_EQ(r.filenames.size(), 3u);
  EXPECT_EQ(r.hashes[0].kind, DigestKind::kMd5);
  EXPECT_EQ(r.hashes[1].kind, DigestKind::kSha1);
  EXPECT_EQ(r.hashes[2].kind, DigestKind::kSha256);
  EXPECT_EQ(name_hits(r, "/x/evil.exe").size(), 1u);
  EXPECT_EQ(name_hits(r, "/x/odd|name.dll").size(), 1u);  // split at the last '|'
  EXPECT_EQ(misp_error(misp_event({misp_attribute("filename|md5", "evil.exe", "c-4")})),
            "event.json: attribute c-4: value of a filename|md5 attribute has no '|'");
  EXPECT_EQ(misp_error(misp_event({misp_attribute("filename|md5", "|" + kMd5, "c-5")})),
            "event.json: attribute c-5: file name is empty");
}

TEST(ParseMispEvent, NotForDetectionDeletedAndOtherTypesAreCounted) {
  const ImportedIocs r = misp_ok(misp_event({
      misp_attribute("md5", kMd5, "n-1", R"(, "to_ids": false)"),
      misp_attribute("filename", "a.exe", "n-2", R"(, "to_ids": "0")"),
      misp_attribute("sha1", kSha1, "n-3", R"(, "deleted": true)"),
      misp_attribute("ip-dst", "1.2.3.4", "n-4"),
      misp_attribute("filename|sha512", "a.exe|abcd", "n-5"),
      misp_attribute("md5", "not checked: not imported", "n-6", R"(, "to_ids": false)"),
  }));
  EXPECT_TRUE(r.hashes.empty());
  EXPECT_TRUE(r.filenames.empty());
  EXPECT_EQ(r.unsupported, 6u);
  ASSERT_EQ(r.unsupported_examples.size(), 6u);
  EXPECT_EQ(r.unsupported_examples[0], "attribute n-1: to_ids is false (not for detection), not imported");
  EXPECT_EQ(r.unsupported_examples[1], "attribute n-2: to_ids is false (not for detection), not imported");
  EXPECT_EQ(r.unsupported_examples[2], "attribute n-3: deleted, not imported");
  EXPECT_EQ(r.unsupported_examples[3], "attribute n-4: type 'ip-dst' not supported");
  EXPECT_EQ(r.unsupported_examples[4], "attribute n-5: type 'filename|sha512' not supported");
}

std::string misp_object(const std::string& name, const std::vector<std::string>& attributes,
                        const std::string& extra = "") {
  std::string out = R"({"name": ")" + name + "\"" + extra + R"(, "Attribute": [)";
  for (std::size_t i = 0; i < attributes.size(); ++i) out += (i ? ", " : "") + attributes[i];
  return out + "]}";
}

std::string misp_objects_event(const std::vector<std::string>& objects) {
  std::string out = R"({"Event": {"info": "E", "Object": [)";
  for (std::size_t i = 0; i < objects.size(); ++i) out += (i ? ", " : "") + objects[i];
  return out + "]}}";
}

TEST(ParseMispEvent, AttributesOfADeletedObjectAreCountedNotImported) {
  const ImportedIocs r = misp_ok(misp_objects_event({
      misp_object("file", {misp_attribute("md5", kMd5, "d-1"), misp_attribute("filename", "gone.exe", "d-2")},
                  R"(, "uuid": "obj-1", "deleted": true)"),
      misp_object("file", {misp_attribute("sha1", kSha1, "k-1")}, R"(, "deleted": "0")"),
  }));
  ASSERT_EQ(r.hashes.size(), 1u);
  EXPECT_EQ(r.hashes[0].kind, DigestKind::kSha1);
  EXPECT_TRUE(r.filenames.empty());
  EXPECT_EQ(r.unsupported, 2u);
  ASSERT_EQ(r.unsupported_examples.size(), 2u);
  EXPECT_EQ(r.unsupported_examples[0], "attribute d-1: in a deleted object, not imported");
  EXPECT_EQ(r.unsupported_examples[1], "attribute d-2: in a deleted object, not imported");
  EXPECT_EQ(misp_error(misp_objects_event({misp_object("file", {}, R"(, "uuid": "obj-2", "deleted": [])")})),
            "event.json: object obj-2: \"deleted\" is not a boolean");
}

TEST(ParseMispEvent, FileObjectSizeGoesToTheObjectsHashes) {
  const std::string size3 = misp_attribute("size-in-bytes", "3", "s-1", R"(, "to_ids": false)");
  const ImportedIocs r = misp_ok(misp_objects_event({
      misp_object("file", {misp_attribute("md5", kMd5, "h-1"), size3, misp_attribute("sha256", kSha256, "h-2"),
                           misp_attribute("filename", "abc.txt", "h-3"),
                           misp_attribute("size-in-bytes", "99", "s-0", R"(, "deleted": true)")}),
      misp_object("file", {misp_attribute("sha1", kSha1, "h-4")}),
  }));
  ASSERT_EQ(r.hashes.size(), 3u);
  EXPECT_EQ(r.hashes[0].size, std::optional<std::uint64_t>(3));
  EXPECT_EQ(r.hashes[1].size, std::optional<std::uint64_t>(3));
  EXPECT_EQ(r.hashes[2].size, std::nullopt);  // another object
  EXPECT_EQ(r.filenames.size(), 1u);
  EXPECT_EQ(r.unsupported, 1u);
  ASSERT_EQ(r.unsupported_examples.size(), 1u);
  EXPECT_EQ(r.unsupported_examples[0], "attribute s-0: deleted, not imported");

  // Two sizes, a size that is not a whole number, a size outside a file
  // object: the hashes stay unsized and the size is reported.
  const ImportedIocs unsized = misp_ok(misp_objects_event({
      misp_object("file", {misp_attribute("md5", kMd5, "u-1"), size3, misp_attribute("size-in-bytes", "4", "s-2")}),
      misp_object("file", {misp_attribute("md5", kMd5, "u-2"), misp_attribute("size-in-bytes", "-3", "s-3")}),
      misp_object("file", {misp_attribute("md5", kMd5, "u-3"), misp_attribute("size-in-bytes", "3.5", "s-4")}),
      misp_object("pe", {misp_attribute("md5", kMd5, "u-4"), misp_attribute("size-in-bytes", "3", "s-5")}),
  }));
  ASSERT_EQ(unsized.hashes.size(), 4u);
  for (const HashIoc& ioc : unsized.hashes) EXPECT_EQ(ioc.size, std::nullopt) << ioc.description;
  ASSERT_EQ(unsized.unsupported_examples.size(), 5u);
  EXPECT_EQ(unsized.unsupported_examples[0],
            "attribute s-1: size-in-bytes '3' not used (the object has 2 size-in-bytes values)");
  EXPECT_EQ(unsized.unsupported_examples[1],
            "attribute s-2: size-in-bytes '4' not used (the object has 2 size-in-bytes values)");
  EXPECT_EQ(unsized.unsupported_examples[2],
            "attribute s-3: size-in-bytes '-3' not used (not a whole number of bytes)");
  EXPECT_EQ(unsized.unsupported_examples[3],
            "attribute s-4: size-in-bytes '3.5' not used (not a whole number of bytes)");
  EXPECT_EQ(unsized.unsupported_examples[4], "attribute s-5: type 'size-in-bytes' not supported");
}

TEST(ParseMispEvent, BadValuesFailNamingTheAttribute) {
  EXPECT_EQ(misp_error(misp_event({misp_attribute("sha256", kSha1, "b-1")})),
            "event.json: attribute b-1: sha256 value '" + kSha1 + "' is not 64 hex digits");
  EXPECT_EQ(misp_error(misp_event({}, {R"({"type": "md5", "value": "xyz"})"})),
            "event.json: Event.Object[0].Attribute[0]: md5 value 'xyz' is not 32 hex digits");
  EXPECT_EQ(misp_error(misp_event({misp_attribute("filename", "", "b-2")})),
            "event.json: attribute b-2: file name is empty");
  EXPECT_EQ(misp_error(misp_event({R"({"type": "md5", "uuid": "b-3"})"})),
            "event.json: attribute b-3: no \"value\" string");
  EXPECT_EQ(misp_error(misp_event({misp_attribute("md5", kMd5, "b-4", R"(, "to_ids": [])")})),
            "event.json: attribute b-4: \"to_ids\" is not a boolean");
  EXPECT_EQ(misp_error(R"({"Event": {"Attribute": {}}})"), "event.json: Event.Attribute is not an array");
  EXPECT_EQ(misp_error(R"({"type": "bundle"})"),
            "event.json: not a MISP event export (expected {\"Event\": ...}, {\"response\": [{\"Event\": ...}]} or "
            "[{\"Event\": ...}])");
  EXPECT_EQ(misp_error(R"({"response": [{"Event": {}}, {"x": 1}]})"), "event.json: response[1] has no \"Event\"");
}

TEST(ParseMispEvent, RestSearchAndArrayShapes) {
  const std::string event_a = R"({"Event": {"info": "A", "Attribute": [)" + misp_attribute("md5", kMd5, "r-1") + "]}}";
  const std::string event_b =
      R"({"Event": {"info": "B", "Attribute": [)" + misp_attribute("sha1", kSha1, "r-2") + "]}}";
  const ImportedIocs response = misp_ok(R"({"response": [)" + event_a + ", " + event_b + "]}");
  ASSERT_EQ(response.hashes.size(), 2u);
  EXPECT_EQ(response.hashes[1].description, "B (attribute r-2)");
  const ImportedIocs array = misp_ok("[" + event_a + ", " + event_b + "]");
  EXPECT_EQ(array.hashes.size(), 2u);
}

TEST(DetectIocFormat, SeparatesJsonKindsFromText) {
  EXPECT_EQ(detect_ioc_format(kMd5 + ";x\n"), IocFileFormat::kLokiHash);
  EXPECT_EQ(detect_ioc_format("# comment\n\\\\evil\\.exe;80\n"), IocFileFormat::kLokiHash);
  EXPECT_EQ(detect_ioc_format(""), IocFileFormat::kLokiHash);
  EXPECT_EQ(detect_ioc_format("\xEF\xBB\xBF  \n" + bundle({})), IocFileFormat::kStixBundle);
  EXPECT_EQ(detect_ioc_format(misp_event({})), IocFileFormat::kMispEvent);
  EXPECT_EQ(detect_ioc_format(R"({"response": []})"), IocFileFormat::kMispEvent);
  EXPECT_EQ(detect_ioc_format(R"([{"Event": {}}])"), IocFileFormat::kMispEvent);
  EXPECT_EQ(detect_ioc_format(R"({"Event": {"info": )"), IocFileFormat::kMispEvent);  // broken, but MISP-shaped
  EXPECT_EQ(detect_ioc_format(R"({"something": "else"})"), IocFileFormat::kStixBundle);
  EXPECT_EQ(detect_ioc_format("{not json"), IocFileFormat::kStixBundle);
}

TEST(ImportedIocs, LoadIntoTheDatabases) {
  const ImportedIocs r = stix_ok(bundle({
      indicator("indicator--1", "[file:hashes.MD5 = '" + kMd5 + "' OR file:name = 'evil.exe']", R"(, "name": "N")"),
  }));
  HashIocDb hashes;
  IocSetInfo info{"feed.json", "digest", 0, 0, 0, 0, 0};
  ASSERT_TRUE(hashes.add_iocs(r.hashes, info));
  EXPECT_EQ(hashes.sets()[0].md5, 1u);
  Hasher h;
  const std::string abc = "abc";
  const auto hits =
      hashes.lookup(h.digest(ByteView(reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size())), abc.size());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]->description, "N (indicator--1)");
  EXPECT_EQ(name_hits(r, "C:\\Users\\x\\evil.exe"), std::vector<std::string>{"N (indicator--1)"});
}

}  // namespace
}  // namespace iocsweep

namespace iocsweep {
namespace {

TEST(ParseStixBundle, AFileNameLongerThanAnyPathFailsNamingTheIndicator) {
  // Refused before a regex is built for it (RE2 spent seconds and most of
  // a GiB on a name of megabytes), naming the indicator.
  const std::string error =
      stix_error(bundle({indicator("indicator--h", "[file:hashes.MD5 = '" + kMd5 + "']"),
                         indicator("indicator--long", "[file:name = '" + std::string(300000, 'k') + "']")}));
  EXPECT_EQ(error.rfind("feed.json: indicator--long: file name 'kkk", 0), 0u) << error.substr(0, 200);
  EXPECT_NE(error.find("is 300000 bytes, longer than 4096"), std::string::npos) << error.substr(0, 200);
  // A name as long as a path may be is still an indicator.
  const std::string longest(kMaxImportedFileNameBytes, 'k');
  EXPECT_EQ(stix_ok(bundle({indicator("indicator--max", "[file:name = '" + longest + "']")})).filenames.size(), 1u);
}

// A 50 MB "file name" once cost 40 s and 890 MB before it was refused: a
// string that long is refused while the JSON is parsed, with its line,
// before the document holds a copy of it.
TEST(ParseStixBundle, AHugeStringIsRefusedWhileParsing) {
  const std::string text = "{\"type\": \"bundle\",\n \"objects\": [\n" +
                           indicator("indicator--huge", "[file:name = '" + std::string(50u << 20, 'k') + "']") + "]}";
  const std::string error = stix_error(text);
  EXPECT_EQ(error.rfind("feed.json:3: JSON string of ", 0), 0u) << error.substr(0, 300);
  EXPECT_NE(error.find("more than the limit of 16 MiB for one string"), std::string::npos) << error.substr(0, 300);
  // Keys count too.
  const std::string key = "{\"type\": \"bundle\", " + json_string(std::string(kMaxJsonStringBytes + 1, 'x')) + ": 1}";
  EXPECT_EQ(stix_error(key).rfind(
                "feed.json:1: JSON string of " + std::to_string(kMaxJsonStringBytes + 1) + " bytes at byte 20,", 0),
            0u)
      << stix_error(key).substr(0, 300);
}

TEST(ParseStixBundle, APatternLongerThanTheLimitIsUnsupportedNotParsed) {
  std::string pattern = "[file:hashes.MD5 = '" + kMd5 + "'";
  while (pattern.size() <= kMaxStixPatternBytes) pattern += " OR file:hashes.MD5 = '" + kMd5 + "'";
  pattern += "]";
  const ImportedIocs r = stix_ok(
      bundle({indicator("indicator--big", pattern), indicator("indicator--ok", "[file:hashes.MD5 = '" + kMd5 + "']")}));
  EXPECT_EQ(r.hashes.size(), 1u);
  EXPECT_EQ(r.unsupported, 1u);
  ASSERT_EQ(r.unsupported_examples.size(), 1u);
  EXPECT_EQ(r.unsupported_examples[0].rfind("indicator--big: pattern of ", 0), 0u) << r.unsupported_examples[0];
  EXPECT_NE(r.unsupported_examples[0].find("not parsed (longer than 1 MiB)"), std::string::npos);
}

TEST(ParseMispEvent, HugeValuesAreRefusedAndLongTextsClipped) {
  const std::string huge = misp_error(misp_event({misp_attribute("filename", std::string(20u << 20, 'k'), "a-1")}));
  EXPECT_EQ(huge.rfind("event.json:1: JSON string of ", 0), 0u) << huge.substr(0, 300);
  const std::string longer = misp_error(misp_event({misp_attribute("filename", std::string(5000, 'k'), "a-2")}));
  EXPECT_EQ(longer.rfind("event.json: attribute a-2: file name 'kkk", 0), 0u) << longer.substr(0, 300);
  EXPECT_NE(longer.find("is 5000 bytes, longer than 4096"), std::string::npos) << longer.substr(0, 300);
  // Every indicator's description repeats the event's info: a long info
  // (or comment) is clipped, so it cannot multiply into gigabytes.
  std::string text =
      misp_event({misp_attribute("md5", kMd5, "a-3", R"(, "comment": ")" + std::string(100000, 'c') + "\""),
                  misp_attribute("sha1", kSha1, "a-4")});
  const std::string info = R"("info": "Lazarus SWIFT")";
  text.replace(text.find(info), info.size(), "\"info\": \"" + std::string(100000, 'i') + "\"");
  const ImportedIocs r = misp_ok(text);
  ASSERT_EQ(r.hashes.size(), 2u);
  for (const HashIoc& h : r.hashes) {
    EXPECT_LT(h.description.size(), 500u);
    EXPECT_EQ(h.description.rfind("iii", 0), 0u) << h.description;
  }
}

// Loki-format file-name lists: a regex RE2 would need too much memory or
// time for fails fast, with its file and line.
TEST(FilenameIocs, PathologicalRegexesFailWithFileAndLine) {
  std::string too_big;  // each repetition is accepted; together, over RE2's memory budget
  for (int i = 0; i < 20; ++i) too_big += "\\pL{1000}";
  for (const std::string& regex : {std::string("((a{100}){100}){100}"), std::string("(\\w{1000}){1000}"), too_big}) {
    FilenameIocDb db;
    const Status st = db.add_set("\\\\ok\\.exe;50\n" + regex + ";50\n", "names.txt");
    ASSERT_FALSE(st) << regex;
    EXPECT_EQ(st.error().message.rfind("names.txt:2: pattern ", 0), 0u) << st.error().message;
  }
}

}  // namespace
}  // namespace iocsweep
