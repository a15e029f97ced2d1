// `iocsweep pack build|verify|list` and `scan --pack` on the built binary,
// with keys and signatures made by the real minisign.

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "pack_fixture.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::binary_under_test;
using test::PackKit;
using test::RunResult;

class PackCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_MINISIGN();
    kit_.make_key("team");
    kit_.make_key("other");
    src_ = kit_.make_pack_dir();
    tree_ = kit_.dir() / "tree";
    test::make_dir(tree_);
    test::write_file(tree_ + "/rule-positive.bin", test::kPackRulePositive);
    test::write_file(tree_ + "/hash-positive.txt", test::kPackHashPositive);
    test::write_file(tree_ + "/clean.txt", "nothing to see\n");
    state_ = kit_.dir() / "packs.json";
  }

  // The two-step flow of docs/packs.md: manifest, minisign -S, pack.
  std::string build(std::uint64_t version, const std::string& key = "team", const std::string& expires = "2099-12-31",
                    const std::string& created = "") {
    const std::string tag = std::to_string(version) + key + expires;
    const std::string manifest = kit_.dir() / ("manifest-" + tag + ".json");
    const std::string pack = kit_.dir() / ("pack-" + tag + ".iocpack");
    std::vector<std::string> args{binary_under_test(),
                                  "pack",
                                  "build",
                                  src_,
                                  "--manifest-only",
                                  "-o",
                                  manifest,
                                  "--name",
                                  "bank-intel",
                                  "--version",
                                  std::to_string(version),
                                  "--expires",
                                  expires,
                                  "--publisher",
                                  "Intel team"};
    if (!created.empty()) {
      args.push_back("--created");
      args.push_back(created);
    }
    RunResult r = test::run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("minisign -S"), std::string::npos) << r.err;
    kit_.sign(manifest, "iocsweep-pack name=bank-intel version=" + std::to_string(version), key);
    r = test::run({binary_under_test(), "pack", "build", src_, "--manifest", manifest, "--signature",
                   manifest + ".minisig", "-o", pack});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return pack;
  }

  RunResult scan(const std::vector<std::string>& packs, const std::string& format = "json",
                 const std::string& key = "team") {
    std::vector<std::string> args{binary_under_test(), "scan", "--format", format, "--pack-state", state_};
    for (const std::string& p : packs) {
      args.push_back("--pack");
      args.push_back(p);
    }
    if (!key.empty()) {
      args.push_back("--trust");
      args.push_back(kit_.pub(key));
    }
    args.push_back(tree_);
    return test::run(args);
  }

  static void expect_refused(const RunResult& r, const std::string& reason) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("refused: " + reason), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << "a refused pack must leave nothing scanned";
  }

  PackKit kit_;
  std::string src_, tree_, state_;
};

TEST_F(PackCliTest, ScanWithPackFindsItsRuleAndHashAndNamesThePack) {
  const std::string pack = build(4);
  RunResult r = scan({pack});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const json doc = json::parse(r.out);
  std::set<std::string> rules, hashed;
  for (const json& f : doc["findings"]) {
    for (const json& m : f["matches"]) {
      if (m.value("type", "") == "yara")
        rules.insert(f["path"].get<std::string>() + " " + m["rule"].get<std::string>());
      if (m.value("type", "") == "hash") hashed.insert(f["path"].get<std::string>());
    }
  }
  EXPECT_TRUE(rules.contains(tree_ + "/rule-positive.bin PackTest_Marker")) << r.out;
  EXPECT_TRUE(hashed.contains(tree_ + "/hash-positive.txt")) << r.out;
  ASSERT_EQ(doc["scan"]["packs"].size(), 1u) << r.out;
  const json& p = doc["scan"]["packs"][0];
  EXPECT_EQ(p["name"], "bank-intel");
  EXPECT_EQ(p["version"], 4);
  EXPECT_EQ(p["publisher"], "Intel team");
  EXPECT_EQ(p["fingerprint"], sha256_hex(test::read_file(pack)));
  EXPECT_TRUE(test::pub_names_key_id(kit_.pub("team"), p["key_id"].get<std::string>())) << p["key_id"];
  // The built-in pack is still loaded beside it.
  bool builtin = false;
  for (const json& rs : doc["scan"]["rulesets"]) {
    builtin = builtin || rs["name"].get<std::string>().starts_with("builtin:");
  }
  EXPECT_TRUE(builtin) << doc["scan"]["rulesets"].dump();
  // The accepted version is recorded.
  EXPECT_EQ(json::parse(test::read_file(state_))["packs"]["bank-intel"], 4);
}

TEST_F(PackCliTest, OtherFormatsNameThePack) {
  const std::string pack = build(2);
  RunResult text = scan({pack}, "text");
  EXPECT_EQ(text.exit_code, 1) << text.err;
  EXPECT_NE(text.out.find("Pack bank-intel version 2 key "), std::string::npos) << text.out;
  RunResult ndjson = scan({pack}, "ndjson");
  EXPECT_NE(ndjson.out.find("\"packs\""), std::string::npos);
  RunResult sarif = scan({pack}, "sarif");
  const json doc = json::parse(sarif.out);
  EXPECT_EQ(doc["runs"][0]["properties"]["iocsweep"]["scan"]["packs"][0]["name"], "bank-intel")
      << sarif.out.substr(0, 2000);
}

TEST_F(PackCliTest, VerifyAndList) {
  const std::string pack = build(1);
  RunResult r =
      test::run({binary_under_test(), "pack", "verify", pack, "--trust", kit_.pub("team"), "--pack-state", state_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("verified: bank-intel version 1"), std::string::npos) << r.out;
  r = test::run({binary_under_test(), "pack", "list", pack, "--trust", kit_.pub("team")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rules/marker.yar"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("signature verified"), std::string::npos) << r.out;
  r = test::run({binary_under_test(), "pack", "list", pack, "--trust", kit_.pub("other"), "--json"});
  EXPECT_EQ(r.exit_code, 2);
  const json doc = json::parse(r.out);
  EXPECT_EQ(doc["verified"], false);
  EXPECT_EQ(doc["members"].size(), 2u);
}

TEST_F(PackCliTest, UntrustedKeyIsRefusedAndNothingScanned) {
  expect_refused(scan({build(1, "other")}), "untrusted key");
}

TEST_F(PackCliTest, NoTrustedKeyAtAllIsRefused) {
  struct stat st {};
  if (::geteuid() == 0 && ::stat("/etc/iocsweep/trusted-keys", &st) == 0) {
    GTEST_SKIP() << "this host has /etc/iocsweep/trusted-keys, which root trusts";
  }
  const std::string pack = build(1);
  // No --trust and an empty trusted-keys directory.
  const std::string config = kit_.dir() / "config";
  test::make_dir(config);
  ::setenv("XDG_CONFIG_HOME", config.c_str(), 1);
  RunResult r = scan({pack}, "json", "");
  ::unsetenv("XDG_CONFIG_HOME");
  expect_refused(r, "untrusted key");
}

TEST_F(PackCliTest, TrustedKeysDirectoryIsUsedWithoutTrust) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "as root the directory is /etc/iocsweep/trusted-keys, which tests leave alone (pack_test "
                    "checks the directory rules through load_trusted_keys)";
  }
  const std::string pack = build(1);
  const std::string config = kit_.dir() / "config";
  test::make_dir(config);
  test::make_dir(config + "/iocsweep");
  test::make_dir(config + "/iocsweep/trusted-keys");
  test::write_file(config + "/iocsweep/trusted-keys/team.pub", test::read_file(kit_.pub("team")));
  ::chmod((config + "/iocsweep/trusted-keys").c_str(), 0755);
  ::chmod((config + "/iocsweep/trusted-keys/team.pub").c_str(), 0644);
  ::setenv("XDG_CONFIG_HOME", config.c_str(), 1);
  RunResult ok = scan({pack}, "json", "");
  ::chmod((config + "/iocsweep/trusted-keys/team.pub").c_str(), 0666);
  RunResult loose = scan({pack}, "json", "");
  ::unsetenv("XDG_CONFIG_HOME");
  EXPECT_EQ(ok.exit_code, 1) << ok.err;
  EXPECT_EQ(loose.exit_code, 2) << loose.err;
  EXPECT_NE(loose.err.find("writable by nobody else"), std::string::npos) << loose.err;
}

TEST_F(PackCliTest, ExpiredPackIsRefused) {
  expect_refused(scan({build(1, "team", "2020-12-31", "2020-01-01")}), "expired");
}

TEST_F(PackCliTest, RollbackIsRefusedEqualVersionAccepted) {
  const std::string v2 = build(2);
  const std::string v1 = build(1);
  EXPECT_EQ(scan({v2}).exit_code, 1);
  EXPECT_EQ(scan({v2}).exit_code, 1);  // equal: accepted
  expect_refused(scan({v1}), "rollback");
  RunResult r =
      test::run({binary_under_test(), "pack", "verify", v1, "--trust", kit_.pub("team"), "--pack-state", state_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("rollback"), std::string::npos) << r.err;
}

TEST_F(PackCliTest, TwoReleasesOfOnePackInOneSweepAreRefused) {
  // With no state yet (or one below both), each would pass on its own: the
  // older one's rules and allow-lists must not ride along with the newer.
  const std::string v2 = build(2);
  const std::string v3 = build(3);
  const RunResult r = scan({v2, v3});
  expect_refused(r, "given twice");
}

TEST_F(PackCliTest, TamperedPackFileIsRefused) {
  const std::string pack = build(1);
  std::string bytes = test::read_file(pack);
  const std::size_t at = bytes.find("IOCSWEEP-PACK-TEST-MARKER");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'X';
  test::write_file(pack, bytes);
  expect_refused(scan({pack}), "member hash differs");
  test::write_file(pack, bytes.substr(0, bytes.size() / 2));
  expect_refused(scan({pack}), "malformed pack");
}

TEST_F(PackCliTest, BuildRefusesASignatureForAnotherManifest) {
  const std::string manifest = kit_.dir() / "m.json";
  RunResult r = test::run({binary_under_test(), "pack", "build", src_, "--manifest-only", "-o", manifest, "--name",
                           "bank-intel", "--version", "3", "--expires", "2099-01-01"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  kit_.sign(manifest, "iocsweep-pack name=bank-intel version=2");
  r = test::run({binary_under_test(), "pack", "build", src_, "--manifest", manifest, "--signature",
                 manifest + ".minisig", "-o", kit_.dir() / "p.iocpack"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("trusted comment"), std::string::npos) << r.err;
  // A member changed after the manifest was made.
  kit_.sign(manifest, "iocsweep-pack name=bank-intel version=3");
  test::write_file(src_ + "/rules/marker.yar", std::string(test::kPackRule) + "// changed\n");
  r = test::run({binary_under_test(), "pack", "build", src_, "--manifest", manifest, "--signature",
                 manifest + ".minisig", "-o", kit_.dir() / "p.iocpack"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("differs from the manifest"), std::string::npos) << r.err;
}

TEST_F(PackCliTest, BadRuleInPackNamesPackAndMember) {
  test::write_file(src_ + "/rules/broken.yar", "rule broken {\n  condition: nonsense_identifier\n}\n");
  RunResult r = scan({build(1)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bank-intel:rules/broken.yar"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace iocsweep
