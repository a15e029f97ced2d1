// The matcher stage on its own: bytes and path facts from memory in,
// matches out. No file, no walk, no report.
#include "pipeline/matcher.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>

#include "iocsweep/hash.hpp"
#include "yara_fixture.hpp"

namespace iocsweep {
namespace {

ByteView view(const std::string& s) { return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

class MatcherTest : public test::WithYaraLibrary {
 protected:
  // A pack with one rule (on a string, and on the `owner` and `filename`
  // externals), one SHA-256 indicator, one file-name indicator and an
  // allow-list entry.
  Pack make_pack(bool with_allow_list) {
    Pack pack;
    auto rules = CompiledRules::compile({RuleSource{"test.yar",
                                                    "rule marker { strings: $a = \"MATCHER-MARKER\" condition: $a }\n"
                                                    "rule root_owned { condition: owner == \"root\" and "
                                                    "filename == \"owned.bin\" }\n",
                                                    "", false}});
    EXPECT_TRUE(rules) << (rules ? "" : rules.error().message);
    pack.rules = *rules;
    auto hashes = std::make_shared<HashIocDb>();
    EXPECT_TRUE(hashes->add_set(sha256_hex("hash-indicator-bytes") + ";90;test hash\n", "hashes.txt"));
    pack.hash_iocs = hashes;
    auto names = std::make_shared<FilenameIocDb>();
    EXPECT_TRUE(names->add_set("\\\\System32\\\\lcsvsvc\\.dll$;80\n", "names.txt"));
    EXPECT_TRUE(names->compile());
    pack.filename_iocs = names;
    if (with_allow_list) {
      auto allow = std::make_shared<HashAllowList>();
      EXPECT_TRUE(allow->add_set(sha256_hex("known good MATCHER-MARKER") + "\n", "allow.txt"));
      pack.allow_hashes = allow;
    }
    return pack;
  }

  MatchOutcome match(Matcher& m, const std::string& bytes, std::string_view path, Finding& finding,
                     bool owner_known = true) {
    const Feed feed = feed_of(view(bytes));
    Subject s{view(bytes), false, view(bytes), &feed, path, 0};
    s.owner_known = owner_known;
    return m.match(s, m.needed_for(bytes.size()), finding);
  }

  static std::string rule_of(const MatchRecord& r) {
    const auto* y = std::get_if<YaraMatchRecord>(&r);
    return y != nullptr ? y->rule->name : "";
  }

  AccountNames accounts_ = AccountNames::parse("root:x:0:0::/root:/bin/sh\n");
};

TEST_F(MatcherTest, RuleAndHashMatchesComeFromTheBytesAlone) {
  const Pack pack = make_pack(false);
  Matcher m(pack, accounts_, 0, true);
  Finding f;
  const MatchOutcome out = match(m, "xx MATCHER-MARKER yy", "/any/where.txt", f);
  EXPECT_EQ(out.kind, MatchOutcome::Kind::kMatched);
  ASSERT_EQ(f.matches.size(), 1u);
  EXPECT_EQ(rule_of(f.matches[0]), "marker");

  Finding h;
  match(m, "hash-indicator-bytes", "/x", h);
  ASSERT_EQ(h.matches.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<HashMatchRecord>(h.matches[0]));
  // Only the digests the indicators need were computed, until asked.
  EXPECT_TRUE(h.digests.present.has(DigestKind::kSha256));
  ASSERT_TRUE(m.complete_digests(feed_of(view("hash-indicator-bytes")), h));
  EXPECT_EQ(h.digests.present, DigestSet::all());
  EXPECT_EQ(h.digests.hex(DigestKind::kSha256), sha256_hex("hash-indicator-bytes"));

  Finding none;
  match(m, "nothing to see", "/x", none);
  EXPECT_TRUE(none.matches.empty());
}

TEST_F(MatcherTest, PathIndicatorsMatchWindowsPathsInsideAnImageAndSlashPaths) {
  const Pack pack = make_pack(false);
  Matcher m(pack, accounts_, 0, true);
  Finding a, b, c;
  m.match_path("/Windows/System32/lcsvsvc.dll", a);
  m.match_path("C:\\Windows\\System32\\LCSVSVC.DLL", b);
  m.match_path("/Windows/System32/lcsvsvc.dll.txt", c);
  EXPECT_EQ(a.matches.size(), 1u);
  EXPECT_EQ(b.matches.size(), 1u);
  EXPECT_TRUE(c.matches.empty());
}

TEST_F(MatcherTest, AnAllowListedFileGetsNoMatchesAtAll) {
  const Pack pack = make_pack(true);
  Matcher m(pack, accounts_, 0, true);
  Finding f;
  const MatchOutcome out = match(m, "known good MATCHER-MARKER", "/x", f);
  EXPECT_EQ(out.kind, MatchOutcome::Kind::kAllowListed);
  EXPECT_TRUE(f.matches.empty());
}

TEST_F(MatcherTest, TheOwnerExternalIsEmptyWhenTheOwnerIsNotKnown) {
  const Pack pack = make_pack(false);
  Matcher m(pack, accounts_, 0, true);
  Finding known, unknown;
  match(m, "bytes", "/dir/owned.bin", known, true);
  match(m, "bytes", "/dir/owned.bin", unknown, false);
  ASSERT_EQ(known.matches.size(), 1u);
  EXPECT_EQ(rule_of(known.matches[0]), "root_owned");
  // uid 0 of a disk image's file is not this host's root.
  EXPECT_TRUE(unknown.matches.empty());
}

TEST_F(MatcherTest, AFeedThatFailsIsAnErrorWithNoVerdict) {
  const Pack pack = make_pack(false);
  Matcher m(pack, accounts_, 0, true);
  const Feed broken = [](const std::function<void(ByteView)>&) -> Status { return Error{"device gone"}; };
  const std::string bytes = "hash-indicator-bytes";
  Subject s{view(bytes), false, view(bytes), &broken, "/x", 0};
  Finding f;
  const MatchOutcome out = m.match(s, DigestSet().with(DigestKind::kSha256), f);
  EXPECT_EQ(out.kind, MatchOutcome::Kind::kError);
  EXPECT_EQ(out.error, "device gone");
  EXPECT_TRUE(f.matches.empty());
}

}  // namespace
}  // namespace iocsweep
