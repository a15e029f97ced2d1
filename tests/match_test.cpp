#include <gtest/gtest.h>

#include "iocsweep/match.hpp"
#include "iocsweep/pipeline.hpp"

namespace iocsweep {
namespace {

ByteView bytes_of(const std::string& s) { return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

class MatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { library_ = new YaraLibrary(); }
  static void TearDownTestSuite() {
    delete library_;
    library_ = nullptr;
  }
  static YaraLibrary* library_;
};
YaraLibrary* MatchTest::library_ = nullptr;

TEST_F(MatchTest, AlwaysTrueAndAlwaysFalse) {
  auto rules = CompiledRules::compile({{"t.yar",
                                        "rule yes : tagA tagB { meta: score = 42 author = \"me\" flag = true "
                                        "condition: true }\n"
                                        "rule no { condition: false }\n",
                                        ""}});
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ((*rules)->rules().size(), 2u);
  const RuleInfo& yes = (*rules)->rules()[0];
  EXPECT_EQ(yes.name, "yes");
  EXPECT_EQ(yes.ns, "t.yar");
  EXPECT_EQ(yes.tags, (std::vector<std::string>{"tagA", "tagB"}));
  EXPECT_EQ(yes.score, 42);
  ASSERT_EQ(yes.meta.size(), 3u);
  EXPECT_EQ(std::get<std::string>(yes.meta[1].second), "me");
  EXPECT_EQ(std::get<bool>(yes.meta[2].second), true);
  EXPECT_EQ((*rules)->rules()[1].score, kDefaultYaraScore);
  ASSERT_EQ((*rules)->rulesets().size(), 1u);
  EXPECT_EQ((*rules)->rulesets()[0].rules, 2u);

  YaraScanner scanner(*rules);
  const auto result = scanner.scan(bytes_of("anything"), {});
  EXPECT_TRUE(result.error.empty());
  ASSERT_EQ(result.matched.size(), 1u);
  EXPECT_EQ((*rules)->rules()[result.matched[0]].name, "yes");
  // The scanner is reused: a second scan starts from a clean slate.
  EXPECT_EQ(scanner.scan(bytes_of(""), {}).matched.size(), 1u);
}

TEST_F(MatchTest, StringRuleAndNamespacesKeepEqualNamesApart) {
  auto rules = CompiledRules::compile({{"a.yar", "rule same { strings: $s = \"needle\" condition: $s }", ""},
                                       {"b.yar", "rule same { strings: $s = \"other\" condition: $s }", ""}});
  ASSERT_TRUE(rules) << rules.error().message;
  YaraScanner scanner(*rules);
  auto r = scanner.scan(bytes_of("hay needle hay"), {});
  ASSERT_EQ(r.matched.size(), 1u);
  EXPECT_EQ((*rules)->rules()[r.matched[0]].ns, "a.yar");
  EXPECT_TRUE(scanner.scan(bytes_of("hay"), {}).matched.empty());
}

TEST_F(MatchTest, InvalidRuleReportsSourceAndLine) {
  auto rules = CompiledRules::compile({{"good.yar", "rule ok { condition: true }", ""},
                                       {"bad.yar", "// comment\n\nrule ok2 { condition: $undefined }\n", ""}});
  ASSERT_FALSE(rules);
  EXPECT_NE(rules.error().message.find("bad.yar:3: "), std::string::npos) << rules.error().message;
  EXPECT_NE(rules.error().message.find("undefined string"), std::string::npos) << rules.error().message;
}

TEST_F(MatchTest, SyntaxErrorIsAnError) {
  auto rules = CompiledRules::compile({{"x.yar", "rule {", ""}});
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().message.rfind("x.yar:1: ", 0), 0u) << rules.error().message;
}

TEST_F(MatchTest, ExternalVariablesAreSetPerFile) {
  auto rules = CompiledRules::compile(
      {{"ext.yar",
        "rule by_name { condition: filename == \"evil.exe\" and extension == \".exe\" and filepath contains "
        "\"/dir/\" }\n"
        "rule by_type { condition: filetype == \"EXE\" and owner == \"root\" and md5 == \"abc\" }\n",
        ""}});
  ASSERT_TRUE(rules) << rules.error().message;
  YaraScanner scanner(*rules);
  ScanExternals ext;
  ext.filename = "evil.exe";
  ext.extension = ".exe";
  ext.filepath = "/x/dir/evil.exe";
  EXPECT_EQ(scanner.scan(bytes_of("x"), ext).matched.size(), 1u);
  ScanExternals other;
  other.filetype = "EXE";
  other.owner = "root";
  other.md5 = "abc";
  auto r = scanner.scan(bytes_of("x"), other);
  ASSERT_EQ(r.matched.size(), 1u);
  EXPECT_EQ((*rules)->rules()[r.matched[0]].name, "by_type");
  EXPECT_TRUE(scanner.scan(bytes_of("x"), {}).matched.empty());
}

TEST_F(MatchTest, TimeoutIsReportedNotFatal) {
  // A loop over every byte of a large buffer, with a 1 s timeout.
  auto rules = CompiledRules::compile(
      {{"slow.yar",
        "rule slow { condition: for all i in (0..filesize) : ( for all j in (0..filesize) : (uint8(i) != 0xFF or "
        "uint8(j) != 0xFE) ) }",
        ""}});
  ASSERT_TRUE(rules) << rules.error().message;
  YaraScanner scanner(*rules, 1);
  const std::string data(200000, 'a');
  auto r = scanner.scan(bytes_of(data), {});
  EXPECT_EQ(r.error, "YARA scan timed out after 1 s");
  // And the scanner still works afterwards.
  EXPECT_TRUE(scanner.scan(bytes_of("a"), {}).error.empty());
}

TEST_F(MatchTest, BuiltinPackCompiles) {
  auto rules = CompiledRules::compile(builtin_rule_sources());
  ASSERT_TRUE(rules) << rules.error().message;
  EXPECT_GE((*rules)->rules().size(), 1u);
  EXPECT_TRUE((*rules)->warnings().empty());
  for (const RuleInfo& r : (*rules)->rules()) {
    EXPECT_EQ(r.ns.rfind("builtin:", 0), 0u);
  }
}

}  // namespace
}  // namespace iocsweep
