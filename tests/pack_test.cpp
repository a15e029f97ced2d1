// Signed packs (src/pack): the minisign formats against the real minisign,
// and every refusal of verify_pack.

#include "iocsweep/pack.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "pack_fixture.hpp"

namespace iocsweep {
namespace {

using test::ArchiveItem;
using test::PackKit;

constexpr const char* kToday = "2026-06-01";

class PackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_MINISIGN();
    kit_.make_key("team");
    kit_.make_key("other");
    dir_ = kit_.make_pack_dir();
    auto key = parse_minisign_public_key(test::read_file(kit_.pub("team")), "team.pub");
    ASSERT_TRUE(key) << key.error().message;
    trusted_ = {*key};
  }

  Result<VerifiedPack> verify(const std::string& bytes, const std::string& today = kToday) {
    return verify_pack(bytes, trusted_, today);
  }

  // The entries of a pack with `manifest`, `signature` and the members of
  // dir_, plus `extra`, as a ustar.
  std::string tar_of(const std::string& manifest, const std::string& signature, std::vector<ArchiveItem> extra = {},
                     bool with_signature = true) {
    std::vector<ArchiveItem> items{{"manifest.json", manifest}};
    if (with_signature) items.emplace_back("manifest.json.minisig", signature);
    items.emplace_back("iocs/pack-hash-iocs.txt", test::read_file(dir_ + "/iocs/pack-hash-iocs.txt"));
    items.emplace_back("rules/marker.yar", test::read_file(dir_ + "/rules/marker.yar"));
    for (auto& e : extra) items.push_back(std::move(e));
    return test::make_archive("ustar", items);
  }

  static void expect_refused(const Result<VerifiedPack>& r, const std::string& reason) {
    ASSERT_FALSE(r) << "accepted, expected: " << reason;
    EXPECT_EQ(r.error().message.rfind(reason, 0), 0u) << r.error().message;
  }

  PackKit kit_;
  std::string dir_;
  std::vector<MinisignKey> trusted_;
};

TEST_F(PackTest, PrehashedSignatureFromMinisignVerifies) {
  const std::string pack = kit_.build(dir_, PackKit::header(3));
  auto v = verify(pack);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_TRUE(v->prehashed);  // minisign 0.10+ signs prehashed by default
  EXPECT_EQ(v->manifest.name, "bank-intel");
  EXPECT_EQ(v->manifest.version, 3u);
  EXPECT_EQ(v->key_id_hex, minisign_key_id_hex(trusted_[0].key_id));
  EXPECT_EQ(v->fingerprint, sha256_hex(pack));
  ASSERT_EQ(v->members.size(), 2u);
  EXPECT_EQ(v->members[1].first, "rules/marker.yar");
  EXPECT_EQ(v->members[1].second, test::kPackRule);
  // The key id iocsweep prints is the one minisign prints.
  EXPECT_TRUE(test::pub_names_key_id(kit_.pub("team"), v->key_id_hex)) << v->key_id_hex;
}

TEST_F(PackTest, LegacySignatureVerifies) {
  auto v = verify(kit_.build(dir_, PackKit::header(), "team", /*legacy=*/true));
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_FALSE(v->prehashed);
}

TEST_F(PackTest, BuildIsDeterministic) {
  const std::string a = kit_.build(dir_, PackKit::header());
  const std::string manifest = kit_.manifest_text();
  const std::string sig = kit_.signature();
  auto again = write_pack_archive(dir_, manifest, sig);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, a);
}

TEST_F(PackTest, PublicKeyAsBase64StringParses) {
  const std::string text = test::read_file(kit_.pub("team"));
  const std::string b64 = text.substr(text.find('\n') + 1, 56);
  auto key = parse_minisign_public_key(b64, "--trust");
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(key->public_key, trusted_[0].public_key);
  EXPECT_FALSE(parse_minisign_public_key("not a key", "x"));
}

TEST_F(PackTest, MissingSignatureIsRefused) {
  kit_.build(dir_, PackKit::header());
  expect_refused(verify(tar_of(kit_.manifest_text(), "", {}, /*with_signature=*/false)), "missing signature");
}

TEST_F(PackTest, FlippedSignatureByteIsRefused) {
  kit_.build(dir_, PackKit::header());
  std::string sig = kit_.signature();
  // A base64 digit of the signature proper (after "RU" + key id).
  const std::size_t line2 = sig.find('\n') + 1;
  char& c = sig[line2 + 40];
  c = c == 'A' ? 'B' : 'A';
  expect_refused(verify(tar_of(kit_.manifest_text(), sig)), "bad signature");
}

TEST_F(PackTest, ChangedManifestIsRefused) {
  kit_.build(dir_, PackKit::header());
  std::string manifest = kit_.manifest_text();
  manifest.replace(manifest.find("Threat intel team"), 6, "Evil!!");
  expect_refused(verify(tar_of(manifest, kit_.signature())), "bad signature");
}

TEST_F(PackTest, TamperedTrustedCommentIsRefused) {
  kit_.build(dir_, PackKit::header(5));
  std::string sig = kit_.signature();
  sig.replace(sig.find("version=5"), 9, "version=9");
  expect_refused(verify(tar_of(kit_.manifest_text(), sig)), "bad signature");
}

TEST_F(PackTest, TrustedCommentOfAnotherVersionIsRefused) {
  // Signed properly, but the comment does not say this manifest's version.
  auto r = verify(kit_.build(dir_, PackKit::header(5), "team", false, "iocsweep-pack name=bank-intel version=6"));
  expect_refused(r, "trusted comment mismatch");
}

TEST_F(PackTest, UntrustedKeyIsRefused) {
  expect_refused(verify(kit_.build(dir_, PackKit::header(), "other")), "untrusted key");
  EXPECT_NE(verify_pack(kit_.build(dir_, PackKit::header()), {}, kToday).error().message.find("untrusted key"),
            std::string::npos);
}

TEST_F(PackTest, MemberWhoseHashDiffersIsRefused) {
  kit_.build(dir_, PackKit::header());
  std::vector<ArchiveItem> items{{"manifest.json", kit_.manifest_text()},
                                 {"manifest.json.minisig", kit_.signature()},
                                 {"iocs/pack-hash-iocs.txt", test::read_file(dir_ + "/iocs/pack-hash-iocs.txt")},
                                 {"rules/marker.yar", std::string(test::kPackRule).replace(5, 4, "Evil")}};
  expect_refused(verify(test::make_archive("ustar", items)), "member hash differs");
}

TEST_F(PackTest, MemberNotInManifestIsRefused) {
  kit_.build(dir_, PackKit::header());
  expect_refused(
      verify(tar_of(kit_.manifest_text(), kit_.signature(), {{"rules/extra.yar", "rule x {condition: true}"}})),
      "member not in manifest");
}

TEST_F(PackTest, ListedMemberMissingIsRefused) {
  kit_.build(dir_, PackKit::header());
  std::vector<ArchiveItem> items{{"manifest.json", kit_.manifest_text()},
                                 {"manifest.json.minisig", kit_.signature()},
                                 {"rules/marker.yar", test::kPackRule}};
  expect_refused(verify(test::make_archive("ustar", items)), "member missing");
}

TEST_F(PackTest, ExpiredPackIsRefusedAndTheLastDayAccepted) {
  const std::string pack = kit_.build(dir_, PackKit::header(1, "2026-05-31"));
  EXPECT_TRUE(verify(pack, "2026-05-31"));
  expect_refused(verify(pack, "2026-06-01"), "expired");
}

TEST_F(PackTest, MalformedPacksAreRefused) {
  const std::string pack = kit_.build(dir_, PackKit::header());
  expect_refused(verify(""), "malformed pack");
  expect_refused(verify("this is not a tar archive at all, just some text that goes on for a while"), "malformed pack");
  expect_refused(verify(pack.substr(0, 700)), "malformed pack");  // truncated inside a member
  std::string garbage = pack;
  for (std::size_t i = 0; i < 512; ++i) garbage[i] = static_cast<char>(i * 7);
  expect_refused(verify(garbage), "malformed pack");
  for (const char* bad : {"../evil.yar", "/etc/evil.yar", "rules/../../evil"}) {
    expect_refused(verify(tar_of(kit_.manifest_text(), kit_.signature(), {{bad, "x"}})), "malformed pack");
  }
  expect_refused(verify(tar_of(kit_.manifest_text(), kit_.signature(), {{"rules/link.yar", "", false, "/etc/passwd"}})),
                 "malformed pack");
  expect_refused(verify(tar_of(kit_.manifest_text(), kit_.signature(), {{"rules/marker.yar", test::kPackRule}})),
                 "malformed pack");  // a name twice
}

TEST_F(PackTest, EntryClaimingMoreThanTheFileHoldsIsRefusedBeforeAnyAllocation) {
  // A 200 MiB size in the first header of a small file: refused from the
  // header, before 200 MiB are set aside for it or the signature is read.
  std::string pack = kit_.build(dir_, PackKit::header());
  ASSERT_GE(pack.size(), 512u);
  const std::string size = "01440000000";  // 200 MiB in octal, as ustar writes sizes
  std::copy(size.begin(), size.end(), pack.begin() + 124);
  pack[135] = '\0';
  std::fill(pack.begin() + 148, pack.begin() + 156, ' ');
  unsigned sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(pack[i]);
  char field[8];
  std::snprintf(field, sizeof field, "%06o", sum);
  std::copy(field, field + 6, pack.begin() + 148);
  pack[154] = '\0';
  const auto r = verify(pack);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("claims more bytes than the file holds"), std::string::npos) << r.error().message;
}

TEST_F(PackTest, RuleWithIncludeIsNotPacked) {
  // A pack must hold every rule it uses: an include would read a file
  // from outside the signed pack.
  test::write_file(dir_ + "/rules/inc.yar", "// fine: include \"x\" in a comment mid-line\n  include \"/etc/x.yar\"\n");
  auto m = manifest_of_directory(dir_, PackKit::header());
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("rules/inc.yar: include"), std::string::npos) << m.error().message;
  // As libyara's lexer reads it: after a comment on the same line, or after
  // a lone CR, the directive is still one.
  for (const char* text :
       {"/* shared */ include \"/etc/x.yar\"\n", "rule benign { condition: false }\rinclude \"/etc/x.yar\"\n"}) {
    test::write_file(dir_ + "/rules/inc.yar", text);
    EXPECT_FALSE(manifest_of_directory(dir_, PackKit::header())) << text;
  }
  // A comment or a string that only names it is not.
  test::write_file(dir_ + "/rules/inc.yar",
                   "// include \"x\"\nrule r { strings: $a = \"include \\\"y\\\"\" condition: $a }\n");
  EXPECT_TRUE(manifest_of_directory(dir_, PackKit::header()));
}

TEST_F(PackTest, SignedRuleWithIncludeIsRefused) {
  const std::string rule = "include \"/etc/x.yar\"\n";
  PackManifest m = PackKit::header();
  m.members = {{"rules/inc.yar", "rules", rule.size(), sha256_hex(rule)}};
  const std::string text = manifest_bytes(m);
  const std::string path = kit_.dir() / "inc.json";
  test::write_file(path, text);
  const std::string sig = kit_.sign(path, pack_trusted_comment(m));
  expect_refused(verify(test::make_archive(
                     "ustar", {{"manifest.json", text}, {"manifest.json.minisig", sig}, {"rules/inc.yar", rule}})),
                 "malformed pack");
}

TEST_F(PackTest, SignedButMalformedManifestIsRefused) {
  const std::string mpath = kit_.dir() / "bad-manifest.json";
  const std::string manifest = "{\"format\": 1, \"name\": \"x\"}\n";
  test::write_file(mpath, manifest);
  const std::string sig = kit_.sign(mpath, "iocsweep-pack name=x version=1");
  expect_refused(verify(test::make_archive("ustar", {{"manifest.json", manifest}, {"manifest.json.minisig", sig}})),
                 "malformed pack");
}

TEST_F(PackTest, RollbackStateRefusesOlderVersionsOnly) {
  test::TempDir tmp;
  const std::string path = tmp / "packs.json";
  auto state = PackState::load(path);
  ASSERT_TRUE(state) << state.error().message;
  PackManifest m = PackKit::header(7);
  EXPECT_TRUE(state->check(m));
  state->record(m);
  ASSERT_TRUE(state->save(path));
  auto again = PackState::load(path);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->check(m));  // equal: accepted
  m.version = 8;
  EXPECT_TRUE(again->check(m));
  m.version = 6;
  ASSERT_FALSE(again->check(m));
  EXPECT_EQ(again->check(m).error().message.rfind("rollback", 0), 0u);
  m.name = "another-pack";
  EXPECT_TRUE(again->check(m));
  test::write_file(path, "garbage");
  EXPECT_FALSE(PackState::load(path));
}

TEST_F(PackTest, TrustedKeyDirectoryMustNotBeWritableByOthers) {
  test::TempDir keys;
  test::write_file(keys / "team.pub", test::read_file(kit_.pub("team")));
  ::chmod((keys / "team.pub").c_str(), 0644);
  ::chmod(keys.path().c_str(), 0755);
  auto loaded = load_trusted_keys({}, keys.path());
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(loaded->size(), 1u);
  ::chmod((keys / "team.pub").c_str(), 0666);
  EXPECT_FALSE(load_trusted_keys({}, keys.path()));
  ::chmod((keys / "team.pub").c_str(), 0644);
  ::chmod(keys.path().c_str(), 0777);
  EXPECT_FALSE(load_trusted_keys({}, keys.path()));
  // --trust wins over the directory.
  auto given = load_trusted_keys({kit_.pub("other")}, keys.path());
  ASSERT_TRUE(given) << given.error().message;
  EXPECT_EQ(given->size(), 1u);
}

TEST(PackManifestTest, DatesAndHeadersAreChecked) {
  EXPECT_TRUE(is_pack_date("2024-02-29"));
  EXPECT_FALSE(is_pack_date("2023-02-29"));
  EXPECT_FALSE(is_pack_date("2023-13-01"));
  EXPECT_FALSE(is_pack_date("20230101"));
  test::TempDir tmp;
  test::make_dir(tmp / "rules");
  test::write_file(tmp / "rules/a.yar", "rule a { condition: true }");
  PackManifest h = PackKit::header();
  EXPECT_TRUE(manifest_of_directory(tmp.path(), h));
  h.name = "bad name";
  EXPECT_FALSE(manifest_of_directory(tmp.path(), h));
  h = PackKit::header();
  h.expires = "2025-01-01";  // before created
  EXPECT_FALSE(manifest_of_directory(tmp.path(), h));
  test::write_file(tmp / "rules/.hidden.yar", "x");
  EXPECT_FALSE(manifest_of_directory(tmp.path(), PackKit::header()));
  EXPECT_FALSE(parse_manifest("{}"));
  EXPECT_FALSE(parse_manifest("[1, 2"));
}

}  // namespace
}  // namespace iocsweep
