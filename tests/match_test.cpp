#include "iocsweep/match.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yara.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "iocsweep/pipeline.hpp"
#include "match/rule_cache.hpp"
#include "match/rule_gate.hpp"
#include "signature_base.hpp"
#include "test_support.hpp"
#include "yara_fixture.hpp"

namespace iocsweep {
namespace {

using test::bytes_of;

class MatchTest : public test::WithYaraLibrary {};

TEST_F(MatchTest, ScoreWrittenAsTextCountsOnlyWhenItIsAWholeNumber) {
  // Loki's rules write `score = "60"`; "60x" and "" are not a score.
  auto rules = CompiledRules::compile({{"s.yar",
                                        "rule text { meta: score = \"60\" condition: false }\n"
                                        "rule junk { meta: score = \"60x\" condition: false }\n"
                                        "rule empty { meta: score = \"\" condition: false }\n",
                                        ""}});
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ((*rules)->rules().size(), 3u);
  EXPECT_EQ((*rules)->rules()[0].score, 60);
  EXPECT_EQ((*rules)->rules()[1].score, kDefaultYaraScore);
  EXPECT_EQ((*rules)->rules()[2].score, kDefaultYaraScore);
}

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
  EXPECT_STREQ(std::get<const char*>(yes.meta[1].second), "me");
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

// Blocks held in memory, counting fetches.
class VectorBlocks : public MemoryBlocks {
 public:
  std::vector<std::pair<std::uint64_t, std::string>> blocks;
  std::size_t fetches = 0;
  std::size_t count() const override { return blocks.size(); }
  std::uint64_t base(std::size_t i) const override { return blocks[i].first; }
  std::size_t size(std::size_t i) const override { return blocks[i].second.size(); }
  ByteView fetch(std::size_t i) override {
    ++fetches;
    return bytes_of(blocks[i].second);
  }
};

TEST_F(MatchTest, MemoryIsScannedAsLibyaraScansAProcess) {
  auto rules = CompiledRules::compile(
      {{"m.yar",
        "rule marker { strings: $a = \"NEEDLE-ONE\" $b = \"NEEDLE-TWO\" condition: all of them }\n"
        "rule no_strings { condition: true }\n"
        // File-only tests: filesize is undefined and nothing lies at 0.
        "rule sized { strings: $a = \"NEEDLE-ONE\" condition: $a and filesize > 0 }\n"
        "rule mz { condition: uint16(0) == 0x5A4D }\n"
        "rule mz_at_match { strings: $a = \"NEEDLE-ONE\" condition: uint16(@a - 2) == 0x5A4D }\n",
        ""}});
  ASSERT_TRUE(rules) << rules.error().message;
  YaraScanner scanner(*rules);
  VectorBlocks mem;
  // The two strings lie in different blocks: the condition sees both, as
  // yara's scan of a pid does (never joined into one buffer).
  mem.blocks = {{0x10000, "MZ" + std::string(100, 'x')},
                {0x7f0000001000, "..MZNEEDLE-ONE.."},
                {0x7f0000400000, std::string(7, '-') + "NEEDLE-TWO"}};
  const auto r = scanner.scan_memory(mem, {});
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.first_address.size(), r.matched.size());
  std::map<std::string, std::optional<std::uint64_t>> got;
  for (std::size_t i = 0; i < r.matched.size(); ++i) got[(*rules)->rules()[r.matched[i]].name] = r.first_address[i];
  EXPECT_EQ(got.count("sized"), 0u);
  EXPECT_EQ(got.count("mz"), 0u);
  ASSERT_EQ(got.count("marker"), 1u);
  EXPECT_EQ(got["marker"], std::optional<std::uint64_t>{0x7f0000001004});
  ASSERT_EQ(got.count("no_strings"), 1u);
  EXPECT_FALSE(got["no_strings"].has_value());
  ASSERT_EQ(got.count("mz_at_match"), 1u);
  EXPECT_GE(mem.fetches, 3u);

  // A block that can no longer be read is passed over, not an error.
  VectorBlocks gone;
  gone.blocks = {{0x1000, ""}, {0x2000, "NEEDLE-ONE NEEDLE-TWO"}};
  const auto g = scanner.scan_memory(gone, {});
  EXPECT_TRUE(g.error.empty()) << g.error;
  EXPECT_EQ(g.matched.size(), 2u);  // marker and no_strings (no MZ before the match)
  // File scans are unchanged by a memory scan before them.
  EXPECT_TRUE(scanner.scan(bytes_of("NEEDLE-ONE"), {}).first_address.empty());
}

// libyara's fast mode (StringMatches::kWhatConditionsNeed, the default)
// stops a string at its first match only when the condition needs no
// more. Conditions that count, locate, measure or loop over matches, and
// hex strings long enough to be matched in chained pieces, must give the
// verdicts of a scan that records every match.
TEST_F(MatchTest, FirstMatchOnlyWhereConditionsNeedNoMore) {
  const std::string base =
      "rule count_two { strings: $a = \"ab\" condition: $a and #a == 2 }\n"
      "rule count_three { strings: $a = \"ab\" condition: $a and #a == 3 }\n"
      "rule second_at { strings: $a = \"ab\" condition: $a and @a[2] == 10 }\n"
      "rule at_ten { strings: $a = \"ab\" condition: $a at 10 }\n"
      "rule in_range { strings: $a = \"ab\" condition: $a in (5..12) }\n"
      "rule loop { strings: $a = \"ab\" condition: for any i in (1..#a) : (@a[i] == 10) }\n"
      "rule of_loop { strings: $a = \"ab\" $b = \"cd\" condition: for all of them : (# >= 2) }\n"
      "rule length { strings: $r = /ab+/ condition: $r and !r[2] == 4 }\n"
      "rule chain_count { strings: $c = { 61 62 [250-300] 63 64 } condition: #c == 2 }\n"
      "rule chain_found { strings: $c = { 61 62 [250-300] 63 64 } condition: $c }\n"
      "rule found { strings: $a = \"ab\" condition: $a }\n";
  // libyara 4.2 leaves these strings single-match: fast mode is off for a
  // set holding such a rule, or it would miss "ab" at 10 (yara -f does).
  const std::string located_sets =
      "rule set_in { strings: $a = \"ab\" condition: any of ($a) in (5..12) }\n"
      "rule them_in { strings: $a = \"ab\" condition: all of them in (5..12) }\n";
  // "ab" at 0 and "abbb" at 10 (two matches of $a; /ab+/ is 4 long at
  // 10), "cd" at 280 and 290: $c matches from each "ab", twice.
  std::string data(600, '.');
  data.replace(0, 2, "ab");
  data.replace(10, 4, "abbb");
  data.replace(280, 2, "cd");
  data.replace(290, 2, "cd");
  std::set<std::string> expected = {"count_two", "second_at", "at_ten",      "in_range",    "loop",
                                    "of_loop",   "length",    "chain_count", "chain_found", "found"};
  for (const std::string& text : {base, base + located_sets}) {
    auto rules = CompiledRules::compile({{"fast.yar", text, ""}});
    ASSERT_TRUE(rules) << rules.error().message;
    if (text != base) expected.insert({"set_in", "them_in"});
    for (const StringMatches mode : {StringMatches::kWhatConditionsNeed, StringMatches::kEvery}) {
      YaraScanner scanner(*rules, 0, true, mode);
      const auto r = scanner.scan(bytes_of(data), {});
      ASSERT_TRUE(r.error.empty()) << r.error;
      std::set<std::string> got;
      for (const std::size_t i : r.matched) got.insert((*rules)->rules()[i].name);
      EXPECT_EQ(got, expected) << (mode == StringMatches::kEvery ? "every match" : "fast mode");
    }
  }
}

// The same on generated rules and files: each rule's strings used through
// a random mix of the forms above, over files of few distinct bytes (so
// strings match many times), scanned both ways.
TEST_F(MatchTest, FirstMatchOnlyGivesTheVerdictsOfEveryMatch) {
  std::mt19937 r(20261207);
  const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(r); };
  static const char* kStrings[] = {"$a = \"ab\"",        "$b = \"b\" nocase", "$c = { 61 62 [210-260] 61 }",
                                   "$d = /a[ab]{1,3}b/", "$e = \"ab\" wide",  "$f = \"ba\" xor(1-2)"};
  const auto term = [&](char s) -> std::string {
    const std::string id(1, s);
    const std::string k = std::to_string(pick(4));
    switch (pick(10)) {
      case 0:
        return "#" + id + (pick(2) ? " == " : " > ") + k;
      case 1:
        return "@" + id + "[" + std::to_string(1 + pick(3)) + "] < " + std::to_string(pick(300));
      case 2:
        return "$" + id + " at " + std::to_string(pick(40));
      case 3:
        return "$" + id + " in (" + k + ".." + std::to_string(pick(300)) + ")";
      case 4:
        return "!" + id + "[1] == " + std::to_string(1 + pick(5));
      case 5:
        return "for any i in (1..#" + id + ") : (@" + id + "[i] % 5 == " + std::to_string(pick(5)) + ")";
      default:
        return (pick(5) == 0 ? "not $" : "$") + id;
    }
  };
  int rules_matched = 0, rules_not = 0, checked = 0;
  for (int set = 0; set < (test::kSanitizerBuild ? 40 : 150); ++set) {
    std::string text;
    for (int i = 0; i < 6; ++i) {
      // Two or three of the strings, each used once or twice.
      std::vector<int> ids;
      while (ids.size() < 2u + static_cast<unsigned>(pick(2))) {
        const int id = pick(static_cast<int>(std::size(kStrings)));
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
      }
      std::string strings, condition;
      for (const int id : ids) {
        strings += std::string(kStrings[id]) + " ";
        for (int use = 0; use < 1 + pick(2); ++use) {
          if (!condition.empty()) condition += pick(2) ? " and " : " or ";
          condition += "(" + term(kStrings[id][1]) + ")";
        }
      }
      if (pick(4) == 0) condition = "(" + condition + ") or " + std::to_string(1 + pick(2)) + " of them";
      if (pick(6) == 0) condition = "(" + condition + ") or any of them in (" + std::to_string(pick(300)) + "..400)";
      text += "rule g" + std::to_string(i) + " { strings: " + strings + "condition: " + condition + " }\n";
    }
    auto rules = CompiledRules::compile({{"gen.yar", text, ""}});
    ASSERT_TRUE(rules) << rules.error().message << "\n" << text;
    YaraScanner fast(*rules);
    YaraScanner every(*rules, 0, true, StringMatches::kEvery);
    for (int f = 0; f < 20; ++f) {
      std::string data;
      const int len = pick(700);
      static const char kBytes[] = {'a', 'b', 'B', '.', '\0', 'a' ^ 1, 'b' ^ 2};
      for (int i = 0; i < len; ++i) data += kBytes[pick(static_cast<int>(std::size(kBytes)))];
      const auto expected = every.scan(bytes_of(data), {});
      const auto got = fast.scan(bytes_of(data), {});
      ASSERT_TRUE(expected.error.empty()) << expected.error;
      ASSERT_TRUE(got.error.empty()) << got.error;
      ASSERT_EQ(got.matched, expected.matched) << text << "file of " << data.size() << " bytes: " << to_hex(data);
      ++checked;
      rules_matched += static_cast<int>(expected.matched.size());
      rules_not += 6 - static_cast<int>(expected.matched.size());
    }
  }
  // Both verdicts, often.
  EXPECT_GT(rules_matched, checked);
  EXPECT_GT(rules_not, checked);
  std::printf("%d files, %d rule matches, %d rules not matching\n", checked, rules_matched, rules_not);
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

namespace iocsweep {
namespace {

using test::bytes_of;

class RuleCacheTest : public test::WithYaraLibrary {};

std::vector<RuleSource> two_sources() {
  return {{"a.yar", "rule a { strings: $s = \"alpha\" condition: $s }", ""},
          {"b.yar", "rule b : t { meta: score = 55 condition: filesize == 3 }", ""}};
}

// The compiled sets in a cache directory (not its key file).
std::vector<std::filesystem::path> cache_entries(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".yarc") out.push_back(e.path());
  }
  return out;
}

// A set whose one rule matches everything: what an attacker would plant.
YR_RULES* planted_rules() {
  YR_COMPILER* compiler = nullptr;
  if (yr_compiler_create(&compiler) != ERROR_SUCCESS) return nullptr;
  YR_RULES* rules = nullptr;
  if (yr_compiler_add_string(compiler, "rule planted { condition: true }", nullptr) != 0 ||
      yr_compiler_get_rules(compiler, &rules) != ERROR_SUCCESS) {
    rules = nullptr;
  }
  yr_compiler_destroy(compiler);
  return rules;
}

// A set from the cache is freed before the gate reads the sources (the
// load's peak); one that is not split is loaded again to scan with, its
// meta read from it.
TEST_F(RuleCacheTest, ASetNotSplitIsLoadedAgainWithItsMeta) {
  const std::vector<RuleSource> sources = {
      {"t.yar",
       "rule yes : tagA { meta: score = 42 author = \"me\" strings: $a = \"needle\" condition: $a }\n"
       "rule no { condition: false }\n",
       ""}};
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  auto first = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(first) << first.error().message;
  auto second = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE((*second)->from_cache());
  EXPECT_LT((*second)->non_mz_rules(), 0);  // no split
  ASSERT_EQ((*second)->rules().size(), 2u);
  const RuleInfo& yes = (*second)->rules()[0];
  EXPECT_EQ(yes.score, 42);
  ASSERT_EQ(yes.meta.size(), 2u);
  EXPECT_STREQ(std::get<const char*>(yes.meta[1].second), "me");
  YaraScanner scanner(*second);
  const YaraScanResult r = scanner.scan(bytes_of("a needle"), {});
  EXPECT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.matched.size(), 1u);
  EXPECT_EQ((*second)->rules()[r.matched[0]].name, "yes");
}

TEST_F(RuleCacheTest, TheSetForNonMzFilesIsCachedAndMapsBackAfterLoading) {
  // Two sources: PE rules in one, a text rule between PE rules in the
  // other, so the non-MZ set's rule index differs from the whole set's.
  std::string pe;
  for (std::size_t i = 0; i < kNonMzMinRules; ++i) {
    pe += "rule pe" + std::to_string(i) + " { strings: $a = \"p\" condition: uint16(0) == 0x5A4D and $a }\n";
  }
  const std::vector<RuleSource> sources = {{"pe.yar", pe, ""},
                                           {"mixed.yar",
                                            "rule exe { strings: $a = \"q\" condition: uint16(0) == 0x5A4D and $a }\n"
                                            "rule text { strings: $a = \"needle\" condition: $a }\n",
                                            ""}};
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  auto first = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ((*first)->non_mz_rules(), 1);
  auto second = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE((*second)->from_cache());
  EXPECT_EQ((*second)->non_mz_rules(), 1);
  EXPECT_EQ((*second)->mz_rules(), static_cast<long>(kNonMzMinRules) + 1);
  // Every set was cached: the directory holds three compiled files (the
  // whole set, loaded for its rules' names and errors, and the two split
  // sets kept for scanning).
  EXPECT_EQ(cache_entries(t / "cache").size(), 3u);
  const std::string text = "a needle";
  YaraScanner scanner(*second);
  const YaraScanResult r = scanner.scan(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()), {});
  ASSERT_EQ(r.matched.size(), 1u);
  EXPECT_EQ((*second)->rules()[r.matched[0]].name, "text");
  EXPECT_EQ((*second)->rules()[r.matched[0]].ns, "mixed.yar");
  // An MZ file takes both split sets; what each reports maps back to the
  // whole set's rules, in its order.
  const YaraScanResult mz = scanner.scan(bytes_of("MZ p q needle"), {});
  ASSERT_EQ(mz.matched.size(), kNonMzMinRules + 2);
  EXPECT_TRUE(std::is_sorted(mz.matched.begin(), mz.matched.end()));
  EXPECT_EQ((*second)->rules()[mz.matched[kNonMzMinRules]].name, "exe");
  EXPECT_EQ((*second)->rules()[mz.matched[kNonMzMinRules + 1]].name, "text");
}

// Without the whole set (freed once both split sets are made), each rule's
// meta still reads: it points into the set that keeps the rule. (Under
// ASan, a pointer into the freed set fails here.)
TEST_F(RuleCacheTest, MetaOutlivesTheWholeSet) {
  std::string pe;
  for (std::size_t i = 0; i < kNonMzMinRules; ++i) {
    pe += "rule pe" + std::to_string(i) + " { meta: description = \"pe rule " + std::to_string(i) +
          "\" n = 7 strings: $a = \"p\" condition: uint16(0) == 0x5A4D and $a }\n";
  }
  pe += "rule both { meta: description = \"either\" strings: $a = \"b\" condition: pe.is_pe or $a }\n";
  auto rules = CompiledRules::compile({{"pe.yar", "import \"pe\"\n" + pe, ""}});
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ((*rules)->non_mz_rules(), 1);
  ASSERT_EQ((*rules)->mz_rules(), static_cast<long>(kNonMzMinRules) + 1);
  ASSERT_EQ((*rules)->rules().size(), kNonMzMinRules + 1);
  for (std::size_t i = 0; i < kNonMzMinRules; ++i) {
    const RuleInfo& r = (*rules)->rules()[i];
    ASSERT_EQ(r.meta.size(), 2u);
    EXPECT_EQ(r.meta[0].first, "description");
    EXPECT_EQ(std::string(std::get<const char*>(r.meta[0].second)), "pe rule " + std::to_string(i));
    EXPECT_EQ(std::get<std::int64_t>(r.meta[1].second), 7);
  }
  EXPECT_EQ(std::string(std::get<const char*>((*rules)->rules().back().meta[0].second)), "either");
  // `both` is in both sets, its pe term written as false in the non-MZ
  // one: an MZ file that is not a PE and holds no "b" matches nothing,
  // and a text file with "b" matches it once.
  YaraScanner scanner(*rules);
  EXPECT_TRUE(scanner.scan(bytes_of("MZ x"), {}).matched.empty());
  EXPECT_EQ(scanner.scan(bytes_of("MZ b"), {}).matched, std::vector<std::size_t>{kNonMzMinRules});
  EXPECT_EQ(scanner.scan(bytes_of("text b"), {}).matched, std::vector<std::size_t>{kNonMzMinRules});
}

// The whole set is freed before the split sets are made (so the three are
// never in memory at once). When one of them cannot be used, here a cache
// entry under its key that loads but holds other rules, its rules must
// not go unscanned: the whole set is made again, with its meta, and a
// warning says why.
TEST_F(RuleCacheTest, WholeSetIsMadeAgainWhenASplitSetCannotBeUsed) {
  std::string text = "import \"pe\"\n";
  for (std::size_t i = 0; i < kNonMzMinRules; ++i) {
    text += "rule pe" + std::to_string(i) + " { meta: n = " + std::to_string(i) +
            " strings: $a = \"p\" condition: uint16(0) == 0x5A4D and $a }\n";
  }
  text += "rule both { meta: description = \"either\" strings: $a = \"b\" condition: pe.is_pe or $a }\n";
  // Not in the MZ set (which would otherwise hold every rule in its own
  // text: the whole set's entry).
  text += "rule plain { strings: $a = \"t\" condition: $a }\n";
  const std::vector<RuleSource> sources = {{"pe.yar", text, ""}};
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  // The whole set alone first, to tell its entry from the split sets'.
  ASSERT_TRUE(CompiledRules::compile(sources, cache, std::nullopt));
  const auto whole = cache_entries(cache.dir);
  ASSERT_EQ(whole.size(), 1u);
  ASSERT_TRUE(CompiledRules::compile(sources, cache));
  std::vector<std::filesystem::path> split;
  for (const auto& e : cache_entries(cache.dir)) {
    if (e != whole[0]) split.push_back(e);
  }
  ASSERT_EQ(split.size(), 2u);
  std::set<long> non_mz_states;
  for (const auto& entry : split) {
    const std::string original = test::read_file(entry.string());
    const std::string key = entry.stem().string().substr(std::strlen("rules-"));
    YR_RULES* planted = planted_rules();
    ASSERT_NE(planted, nullptr);
    std::vector<std::string> ignored;
    rule_cache::save(cache.dir, key, planted, ignored);
    yr_rules_destroy(planted);
    auto rules = CompiledRules::compile(sources, cache);
    ASSERT_TRUE(rules) << rules.error().message;
    EXPECT_TRUE((*rules)->from_cache());
    EXPECT_EQ((*rules)->mz_rules(), -1) << entry;
    non_mz_states.insert((*rules)->non_mz_rules());
    const auto& warnings = (*rules)->warnings();
    EXPECT_TRUE(std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
      return w.find("hold a rule the rule set does not (default:planted)") != std::string::npos;
    })) << entry;
    ASSERT_EQ((*rules)->rules().size(), kNonMzMinRules + 2);
    EXPECT_EQ(std::get<std::int64_t>((*rules)->rules()[3].meta.at(0).second), 3);
    EXPECT_EQ(std::string(std::get<const char*>((*rules)->rules()[kNonMzMinRules].meta.at(0).second)), "either");
    // Every rule still scanned: an MZ file with "p" meets the pe rules.
    YaraScanner scanner(*rules);
    EXPECT_EQ(scanner.scan(bytes_of("MZ p"), {}).matched.size(), kNonMzMinRules);
    EXPECT_EQ(scanner.scan(bytes_of("MZ b"), {}).matched, std::vector<std::size_t>{kNonMzMinRules});
    EXPECT_EQ(scanner.scan(bytes_of("ascii b"), {}).matched, std::vector<std::size_t>{kNonMzMinRules});
    EXPECT_TRUE(scanner.scan(bytes_of("ascii p"), {}).matched.empty());
    EXPECT_EQ(scanner.scan(bytes_of("MZ t"), {}).matched, std::vector<std::size_t>{kNonMzMinRules + 1});
    test::write_file(entry.string(), original);
  }
  // One entry was the non-MZ set (none kept), the other the MZ set (the
  // non-MZ set kept, beside the whole set).
  EXPECT_EQ(non_mz_states, (std::set<long>{-1, 2}));
}

TEST_F(RuleCacheTest, SecondCompileLoadsTheSameRulesFromTheCache) {
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  auto first = CompiledRules::compile(two_sources(), cache);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE((*first)->from_cache());
  auto second = CompiledRules::compile(two_sources(), cache);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE((*second)->from_cache());
  ASSERT_EQ((*second)->rules().size(), 2u);
  EXPECT_EQ((*second)->rules()[1].score, 55);
  EXPECT_EQ((*second)->rules()[1].tags, std::vector<std::string>{"t"});
  EXPECT_EQ((*second)->rulesets()[1].rules, 1u);
  EXPECT_EQ((*second)->rulesets()[0].sha256, (*first)->rulesets()[0].sha256);
  YaraScanner scanner(*second);
  EXPECT_EQ(scanner.scan(bytes_of("alpha!"), {}).matched.size(), 1u);
  EXPECT_EQ(scanner.scan(bytes_of("abc"), {}).matched.size(), 1u);

  // A changed source is a different key: compiled, not loaded.
  auto changed = two_sources();
  changed[0].text += "\n";
  auto third = CompiledRules::compile(changed, cache);
  ASSERT_TRUE(third);
  EXPECT_FALSE((*third)->from_cache());
}

TEST_F(RuleCacheTest, UntrustedDirectoryOrFileIsNeverLoaded) {
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  ASSERT_TRUE(CompiledRules::compile(two_sources(), cache));
  // World-writable directory: anyone could have planted bytecode there.
  ASSERT_EQ(::chmod((t / "cache").c_str(), 0777), 0);
  auto loaded = CompiledRules::compile(two_sources(), cache);
  ASSERT_TRUE(loaded);
  EXPECT_FALSE((*loaded)->from_cache());
  ASSERT_EQ(::chmod((t / "cache").c_str(), 0700), 0);
  // Group-writable cache file.
  for (const auto& e : cache_entries(t / "cache")) ASSERT_EQ(::chmod(e.c_str(), 0660), 0);
  auto again = CompiledRules::compile(two_sources(), cache);
  ASSERT_TRUE(again);
  EXPECT_FALSE((*again)->from_cache());
}

TEST_F(RuleCacheTest, CorruptCacheFileIsIgnored) {
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  ASSERT_TRUE(CompiledRules::compile(two_sources(), cache));
  for (const auto& e : cache_entries(t / "cache")) {
    test::write_file(e, "garbage, not compiled rules");
    ::chmod(e.c_str(), 0600);
  }
  auto loaded = CompiledRules::compile(two_sources(), cache);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_FALSE((*loaded)->from_cache());
  EXPECT_EQ((*loaded)->rules().size(), 2u);
}

TEST_F(RuleCacheTest, SourcesWithIncludeAreNotCached) {
  test::TempDir t;
  test::write_file(t / "inc.yar", "rule included { condition: true }");
  const RuleCacheOptions cache{t / "cache"};
  std::vector<RuleSource> sources{{t / "main.yar", "include \"inc.yar\"\nrule m { condition: true }", t / "main.yar"}};
  ASSERT_TRUE(CompiledRules::compile(sources, cache));
  auto second = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE((*second)->from_cache());
  EXPECT_EQ((*second)->rules().size(), 2u);
}

// An embedded source (the built-in pack, a signed pack's member: no file
// path) holds every rule it uses: libyara is not let read an included file
// for it, however the directive is spelt. A source read from a file still
// includes relative to itself, in the same set.
TEST_F(MatchTest, IncludeIsDisabledForSourcesNotReadFromAFile) {
  test::TempDir t;
  test::write_file(t / "inc.yar", "rule included { condition: true }");
  for (const std::string& text :
       {"include \"" + t / "inc.yar" + "\"\n", "/* shared */ include \"" + t / "inc.yar" + "\"\n",
        "rule benign { condition: false }\rinclude \"" + t / "inc.yar" + "\"\n"}) {
    auto embedded = CompiledRules::compile({RuleSource{"pack:rules/a.yar", text, ""}});
    ASSERT_FALSE(embedded) << text;
    EXPECT_NE(embedded.error().message.find("includes are disabled"), std::string::npos) << embedded.error().message;
  }
  auto mixed = CompiledRules::compile(
      {RuleSource{"pack:rules/a.yar", "rule a { condition: true }", ""},
       RuleSource{t / "main.yar", "include \"inc.yar\"\nrule m { condition: true }", t / "main.yar"},
       RuleSource{"pack:rules/b.yar", "rule b { condition: true }", ""}});
  ASSERT_TRUE(mixed) << mixed.error().message;
  EXPECT_EQ((*mixed)->rules().size(), 4u);
}

// The word alone is no include: signature-base has it in comments, meta
// values and strings, and such sets are cached like any other.
TEST_F(RuleCacheTest, IncludeOnlyInCommentsStringsMetaOrNamesIsCached) {
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  const std::vector<RuleSource> sources{
      {"words.yar",
       "// include \"line-comment.yar\"\n"
       "/* include \"block-comment.yar\"\n include \"second-line.yar\" */\n"
       "rule include_x : include_tag {\n"
       "  meta: description = \"include \\\"meta.yar\\\"\" include = \"not a directive\"\n"
       "  strings: $include = \"include \\\"string.yar\\\"\" $re = /include \"re.yar\"/ $hex = { 69 6E [1-2] 63 }\n"
       "  condition: any of them or filename == \"include\"\n"
       "}\n",
       ""},
      {"other.yar", "rule y { condition: filesize == 1 }  // include \"z.yar\"", ""}};
  auto first = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE((*first)->from_cache());
  auto second = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE((*second)->from_cache()) << "a set that only mentions include was compiled again";
  EXPECT_EQ((*second)->rules().size(), 2u);
}

// `md5` read as the external in a condition, and not as a meta key, a
// module field, a string identifier or inside a literal or comment
// (signature-base spells it only as a meta key: MD5 would be computed for
// every file for nothing).
TEST_F(MatchTest, TheMd5ExternalIsToldFromMetaKeysFieldsAndLiterals) {
  EXPECT_TRUE(may_read_external("rule r { condition: md5 == \"abc\" }", "md5"));
  EXPECT_TRUE(may_read_external("rule r { condition: md5 matches /^0/ }", "md5"));
  EXPECT_FALSE(may_read_external("rule r { meta: md5 = \"abc\" condition: true }", "md5"));
  EXPECT_FALSE(may_read_external("import \"hash\"\nrule r { condition: hash.md5(0, filesize) == \"abc\" }", "md5"));
  EXPECT_FALSE(may_read_external("rule r { strings: $md5 = \"md5\" condition: $md5 }", "md5"));
  EXPECT_FALSE(may_read_external("// md5 == \"x\"\nrule r { condition: true /* md5 */ }", "md5"));
  EXPECT_FALSE(may_read_external("rule r { condition: true }", "md5"));
  EXPECT_TRUE(may_read_external("rule r { strings: $a = \"md5 \n condition: $a }", "md5"));

  auto meta_only =
      CompiledRules::compile({{"m.yar", "rule m { meta: md5 = \"abc\" condition: filename == \"x\" }", ""}});
  ASSERT_TRUE(meta_only) << meta_only.error().message;
  EXPECT_TRUE((*meta_only)->uses_externals());
  EXPECT_FALSE((*meta_only)->reads_md5());
  auto reads = CompiledRules::compile({{"c.yar", "rule c { condition: md5 == \"abc\" }", ""}});
  ASSERT_TRUE(reads) << reads.error().message;
  EXPECT_TRUE((*reads)->reads_md5());
}

// The directive is the word followed by a text string, outside comments
// and literals; text the lexer cannot follow counts as one (never cached,
// and libyara refuses it anyway).
TEST_F(RuleCacheTest, IncludeDirectiveIsToldFromTheWord) {
  EXPECT_TRUE(has_include_directive("include \"a.yar\"\nrule r { condition: true }"));
  EXPECT_TRUE(has_include_directive("rule r { condition: true }\n/* c */ include\t\"b.yar\""));
  EXPECT_FALSE(has_include_directive("rule r { condition: true }"));
  EXPECT_FALSE(has_include_directive("rule include_x { meta: a = \"include \\\"x\\\"\" condition: true }"));
  EXPECT_FALSE(has_include_directive("// include \"a.yar\"\nrule r { condition: true }"));
  EXPECT_FALSE(has_include_directive("rule r { meta: include = \"x\" condition: true }"));
  EXPECT_TRUE(has_include_directive("rule r { strings: $a = \"include \n condition: $a }"));
}

// signature-base as responders load it: none of its files holds an include
// directive, so a sweep with it compiles once and loads from the cache
// after. The files that spell the word are compiled twice to see it.
TEST_F(RuleCacheTest, SignatureBaseRulesAreCacheable) {
  const std::string sb = test::signature_base_dir();
  if (sb.empty()) GTEST_SKIP() << test::kNoSignatureBase;
  std::vector<RuleSource> mentioning;
  for (const auto& e : std::filesystem::directory_iterator(sb + "/yara")) {
    const std::string name = e.path().string();
    if (!name.ends_with(".yar") && !name.ends_with(".yara")) continue;
    const std::string text = test::read_file(name);
    EXPECT_FALSE(has_include_directive(text)) << name;
    if (text.find("include") == std::string::npos) continue;
    // Each on its own: a file that does not compile alone (it needs
    // externals or modules libyara lacks here) is left out.
    if (!CompiledRules::compile({{name, text, name}})) continue;
    mentioning.push_back(RuleSource{name, text, name});
  }
  ASSERT_FALSE(mentioning.empty()) << "no file of " << sb << " mentions include: the test checks nothing";
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  auto first = CompiledRules::compile(mentioning, cache);
  ASSERT_TRUE(first) << first.error().message;
  auto second = CompiledRules::compile(mentioning, cache);
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE((*second)->from_cache()) << mentioning.size() << " files mentioning include were compiled again";
}

// libyara's bytecode is trusted: the cache directory is checked and used
// through one descriptor. Another user who can rename entries beside it
// swaps it with a link to a directory of theirs (renameat2 exchange,
// over and over); nothing is ever saved there and nothing planted there
// is ever loaded.
TEST_F(RuleCacheTest, DirectorySwappedForASymlinkIsNeitherWrittenNorRead) {
  YR_RULES* rules = planted_rules();
  ASSERT_NE(rules, nullptr);

  test::TempDir t;
  const std::string cache = t / "cache", victim = t / "victim", swap = t / "swap";
  ASSERT_EQ(::mkdir(cache.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(victim.c_str(), 0700), 0);
  std::vector<std::string> warnings;
  rule_cache::save(victim, "planted", rules, warnings);
  ASSERT_EQ(std::distance(std::filesystem::directory_iterator(victim), std::filesystem::directory_iterator{}), 2);
  ASSERT_EQ(::symlink(victim.c_str(), swap.c_str()), 0);

  std::atomic<bool> stop = false;
  std::atomic<long> exchanges = 0;
  std::thread attacker([&] {
    while (!stop) {
      if (::renameat2(AT_FDCWD, cache.c_str(), AT_FDCWD, swap.c_str(), RENAME_EXCHANGE) == 0) ++exchanges;
    }
  });
  int loaded = 0;
  for (int i = 0; i < 400; ++i) {
    // Also spelt with a trailing slash, which would follow a link.
    const std::string dir = i % 2 == 0 ? cache : cache + "/";
    rule_cache::save(dir, "k" + std::to_string(i), rules, warnings);
    if (void* got = rule_cache::load(dir, "planted", warnings)) {
      ++loaded;
      yr_rules_destroy(static_cast<YR_RULES*>(got));
    }
  }
  stop = true;
  attacker.join();
  yr_rules_destroy(rules);
  EXPECT_GT(exchanges, 0);
  EXPECT_EQ(loaded, 0) << "bytecode loaded from the directory swapped in";
  std::set<std::string> in_victim;
  for (const auto& e : std::filesystem::directory_iterator(victim)) in_victim.insert(e.path().filename());
  EXPECT_EQ(in_victim, (std::set<std::string>{"rules-planted.yarc", rule_cache::kKeyFileName}))
      << "written into the swapped-in directory";
}

// A link another user planted on the way to the cache directory is not
// followed: not even the missing directory is created where it leads.
TEST_F(RuleCacheTest, LinkOfAnotherUserOnTheWayIsNotFollowed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (lchown to another user)";
  test::TempDir t;
  const std::string victim = t / "victim";
  ASSERT_EQ(::mkdir(victim.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (t / "theirs").c_str()), 0);
  ASSERT_EQ(::lchown((t / "theirs").c_str(), 65534, 65534), 0);
  auto rules = CompiledRules::compile(two_sources(), RuleCacheOptions{t / "theirs/cache"});
  ASSERT_TRUE(rules) << rules.error().message;
  EXPECT_TRUE(std::filesystem::is_empty(victim)) << "created in the directory the link leads to";
  // The same link made by this user is followed.
  ASSERT_EQ(::lchown((t / "theirs").c_str(), ::geteuid(), ::getegid()), 0);
  ASSERT_TRUE(CompiledRules::compile(two_sources(), RuleCacheOptions{t / "theirs/cache"}));
  auto again = CompiledRules::compile(two_sources(), RuleCacheOptions{t / "theirs/cache"});
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->from_cache());
  EXPECT_TRUE(std::filesystem::is_directory(victim + "/cache"));
}

// The cached set for two_sources() in `dir`, made by a first compile, and
// the cache key it is named by.
std::filesystem::path cached_entry(const std::filesystem::path& dir, std::string* key = nullptr) {
  auto first = CompiledRules::compile(two_sources(), RuleCacheOptions{dir});
  EXPECT_TRUE(first && !(*first)->from_cache());
  const auto entries = cache_entries(dir);
  EXPECT_EQ(entries.size(), 1u);
  if (entries.empty()) return {};
  if (key) *key = entries[0].stem().string().substr(std::string("rules-").size());
  return entries[0];
}

bool warned(const CompiledRules& rules, const std::string& what) {
  return std::any_of(rules.warnings().begin(), rules.warnings().end(),
                     [&](const std::string& w) { return w.find(what) != std::string::npos; });
}

// Compiles two_sources() from `dir` after its entry was tampered with: the
// tampered file must not be loaded, the warning must say so, and the rules
// must be the real ones (rule a matches "alpha"; nothing matches "zzzz",
// which the planted rule would).
void expect_rebuilt(const std::filesystem::path& dir, const std::string& why) {
  SCOPED_TRACE(why);
  auto again = CompiledRules::compile(two_sources(), RuleCacheOptions{dir});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE((*again)->from_cache()) << "a tampered cache file was loaded";
  EXPECT_TRUE(warned(**again, "HMAC does not verify")) << "no warning";
  ASSERT_EQ((*again)->rules().size(), 2u);
  EXPECT_EQ((*again)->rules()[0].name, "a");
  YaraScanner scanner(*again);
  EXPECT_TRUE(scanner.scan(bytes_of("zzzz"), {}).matched.empty()) << "the planted rule ran";
  EXPECT_EQ(scanner.scan(bytes_of("alpha!"), {}).matched.size(), 1u);
  // Rebuilt: the next compile loads a valid file again, without a warning.
  auto third = CompiledRules::compile(two_sources(), RuleCacheOptions{dir});
  ASSERT_TRUE(third);
  EXPECT_TRUE((*third)->from_cache());
  EXPECT_TRUE((*third)->warnings().empty());
}

TEST_F(RuleCacheTest, FileWithOneByteFlippedIsNotLoaded) {
  test::TempDir t;
  const auto entry = cached_entry(t / "cache");
  std::string bytes = test::read_file(entry);
  // Flip a byte of the rule's string: libyara would load the altered set
  // without complaint, and it would match "alphq".
  const std::size_t at = bytes.find("alpha");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 4] = 'q';
  test::write_file(entry, bytes);
  expect_rebuilt(t / "cache", "string byte flipped");
  // And a byte of the MAC itself.
  bytes = test::read_file(entry);
  bytes.back() ^= 1;
  test::write_file(entry, bytes);
  expect_rebuilt(t / "cache", "MAC byte flipped");
}

// A set of several MB, so the cache file is read in several pieces (1 MB
// each): rule i matches "needle-i-" followed by 400 bytes of its own.
std::vector<RuleSource> large_sources(std::size_t rules) {
  std::string text;
  for (std::size_t i = 0; i < rules; ++i) {
    const std::string tail(400, static_cast<char>('a' + i % 26));
    text += "rule r" + std::to_string(i) + " { strings: $a = \"needle-" + std::to_string(i) + "-" + tail +
            "\" condition: $a }\n";
  }
  return {{"large.yar", text, ""}};
}

TEST_F(RuleCacheTest, SetReadInSeveralPiecesLoadsWholeAndOnlyWhenEveryPieceVerifies) {
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  const auto sources = large_sources(6000);
  auto first = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(first) << first.error().message;
  const auto entries = cache_entries(t / "cache");
  ASSERT_EQ(entries.size(), 1u);
  const std::string bytes = test::read_file(entries[0]);
  ASSERT_GT(bytes.size(), 3u << 20) << "the set should span several pieces";
  auto second = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE((*second)->from_cache());
  EXPECT_TRUE((*second)->warnings().empty());
  // The last rule's string lies in the file's last pieces.
  YaraScanner scanner(*second);
  const std::string last = "x needle-5999-" + std::string(400, static_cast<char>('a' + 5999 % 26));
  const YaraScanResult r = scanner.scan(bytes_of(last), {});
  ASSERT_EQ(r.matched.size(), 1u);
  EXPECT_EQ((*second)->rules()[r.matched[0]].name, "r5999");
  const std::size_t at = bytes.find("needle-3000-");
  ASSERT_NE(at, std::string::npos);
  ASSERT_GT(at, std::size_t{1} << 20) << "in a piece after the first";

  // libyara reads the file a second time after its HMAC was checked: a
  // piece written over in between (same file, same size) is never handed
  // to libyara, and the set is not loaded. Also when the change is in the
  // last piece, the relocation table, which libyara reads until the stream
  // ends: a short read there is a success to it, with pointers left
  // unrelocated.
  const std::string key = entries[0].filename().string().substr(6, 64);  // rules-KEY.yarc
  std::vector<std::string> warnings;
  void* unchanged = rule_cache::load(t / "cache", key, warnings, [] {});
  ASSERT_NE(unchanged, nullptr) << "the key is read from the file name: " << key;
  yr_rules_destroy(static_cast<YR_RULES*>(unchanged));
  EXPECT_TRUE(warnings.empty());
  const std::size_t mac_bytes = 32;
  for (const std::size_t offset : {at + 7, bytes.size() - mac_bytes - 5}) {
    SCOPED_TRACE(offset);
    test::write_file(entries[0], bytes);
    warnings.clear();
    bool ran = false;
    void* loaded = rule_cache::load(t / "cache", key, warnings, [&] {
      ran = true;
      const int fd = ::open(entries[0].c_str(), O_WRONLY | O_CLOEXEC);
      ASSERT_GE(fd, 0);
      const char flipped = static_cast<char>(bytes[offset] ^ 0x40);
      ASSERT_EQ(::pwrite(fd, &flipped, 1, static_cast<off_t>(offset)), 1);
      ::close(fd);
    });
    EXPECT_TRUE(ran);
    EXPECT_EQ(loaded, nullptr);
    if (loaded != nullptr) yr_rules_destroy(static_cast<YR_RULES*>(loaded));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("changed while it was read"), std::string::npos) << warnings[0];
  }

  // A byte flipped in the middle of the file (a piece after the first) is
  // caught: the set is rebuilt and said.
  std::string altered = bytes;
  altered[at + 7] = '4';
  test::write_file(entries[0], altered);
  auto third = CompiledRules::compile(sources, cache);
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_FALSE((*third)->from_cache());
  EXPECT_TRUE(warned(**third, "HMAC does not verify"));
}

// libyara's relocation entries (one per pointer in a set: 490,000 for
// signature-base) are needed only to build and save a set; CompiledRules
// frees them, whether the set was compiled, saved or loaded.
TEST_F(RuleCacheTest, CompiledAndLoadedSetsKeepNoRelocationEntries) {
#if YR_MAJOR_VERSION == 4 && YR_MINOR_VERSION == 2
  std::string pe;
  for (std::size_t i = 0; i < kNonMzMinRules; ++i) {
    pe += "rule pe" + std::to_string(i) + " { strings: $a = \"p\" condition: uint16(0) == 0x5A4D and $a }\n";
  }
  const std::vector<RuleSource> sources = {{"pe.yar", pe, ""},
                                           {"text.yar", "rule text { strings: $a = \"needle\" condition: $a }", ""}};
  test::TempDir t;
  const RuleCacheOptions cache{t / "cache"};
  for (const char* how : {"compiled without a cache", "compiled and saved", "loaded"}) {
    SCOPED_TRACE(how);
    const bool with_cache = std::string(how) != "compiled without a cache";
    auto rules = CompiledRules::compile(sources, with_cache ? cache : RuleCacheOptions{});
    ASSERT_TRUE(rules) << rules.error().message;
    EXPECT_EQ((*rules)->from_cache(), std::string(how) == "loaded");
    ASSERT_EQ((*rules)->non_mz_rules(), 1);
    EXPECT_EQ(relocation_entries(**rules), 0u);
    // The sets still scan: the non-MZ set, and both split sets for an MZ
    // file.
    YaraScanner scanner(*rules);
    EXPECT_EQ(scanner.scan(bytes_of("a needle"), {}).matched.size(), 1u);
    EXPECT_EQ(scanner.scan(bytes_of("MZ p needle"), {}).matched.size(), 1u + kNonMzMinRules);
  }
  // What was saved loads in full (the entries were freed after saving).
  EXPECT_EQ(cache_entries(t / "cache").size(), 3u);
#else
  GTEST_SKIP() << "relocation entries are freed only with libyara 4.2 (this is " YR_VERSION ")";
#endif
}

TEST_F(RuleCacheTest, FileCopiedFromACacheUnderAnotherKeyIsNotLoaded) {
  test::TempDir t;
  std::string key;
  const auto entry = cached_entry(t / "cache", &key);
  // The attacker's own cache (its own key file) holds a planted set under
  // the very name this cache uses; it loads there, so it is a valid file.
  YR_RULES* planted = planted_rules();
  ASSERT_NE(planted, nullptr);
  std::vector<std::string> warnings;
  rule_cache::save(t / "theirs", key, planted, warnings);
  yr_rules_destroy(planted);
  void* loaded_there = rule_cache::load(t / "theirs", key, warnings);
  ASSERT_NE(loaded_there, nullptr) << "the planted file is not a valid cache file where it was made";
  yr_rules_destroy(static_cast<YR_RULES*>(loaded_there));
  std::filesystem::copy_file(t / "theirs" / entry.filename(), entry, std::filesystem::copy_options::overwrite_existing);
  expect_rebuilt(t / "cache", "copied from another key");
}

TEST_F(RuleCacheTest, FileWithATruncatedOrNoMacIsNotLoaded) {
  test::TempDir t;
  std::string key;
  const auto entry = cached_entry(t / "cache", &key);
  std::string bytes = test::read_file(entry);
  test::write_file(entry, bytes.substr(0, bytes.size() - 1));
  expect_rebuilt(t / "cache", "MAC truncated");
  // A file of the format before the MAC (yr_rules_save's bytes alone), of
  // a set that would match.
  YR_RULES* planted = planted_rules();
  ASSERT_NE(planted, nullptr);
  ASSERT_EQ(yr_rules_save(planted, entry.c_str()), ERROR_SUCCESS);
  yr_rules_destroy(planted);
  ASSERT_EQ(::chmod(entry.c_str(), 0600), 0);
  expect_rebuilt(t / "cache", "no MAC (old cache file)");
}

// The key authenticates all that is loaded: one others could read (forge
// with) or write (replace), or not this user's, or a link, is refused and
// the cache is not used.
TEST_F(RuleCacheTest, KeyFileOfWrongModeOwnerOrTypeIsRefused) {
  test::TempDir t;
  const std::filesystem::path dir = t / "cache", key = dir / rule_cache::kKeyFileName;
  cached_entry(dir);
  struct stat st {};
  ASSERT_EQ(::lstat(key.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto expect_refused = [&](const std::string& why) {
    SCOPED_TRACE(why);
    auto again = CompiledRules::compile(two_sources(), RuleCacheOptions{dir});
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_FALSE((*again)->from_cache()) << "the cache was used with a refused key";
    EXPECT_TRUE(warned(**again, "key file")) << "no warning";
    EXPECT_EQ((*again)->rules().size(), 2u);
  };
  for (const auto& [mode, name] :
       {std::pair<mode_t, const char*>{0640, "0640"}, {0604, "0604"}, {0620, "0620"}, {0602, "0602"}}) {
    ASSERT_EQ(::chmod(key.c_str(), mode), 0);
    expect_refused(std::string("mode ") + name);
  }
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  auto valid = CompiledRules::compile(two_sources(), RuleCacheOptions{dir});
  ASSERT_TRUE(valid && (*valid)->from_cache());
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(key.c_str(), 65534, 65534), 0);
    expect_refused("owned by another user");
    ASSERT_EQ(::chown(key.c_str(), 0, 0), 0);
  }
  // A link to a copy of the right key, of the right mode.
  ASSERT_EQ(::rename(key.c_str(), (t / "key-copy").c_str()), 0);
  ASSERT_EQ(::symlink((t / "key-copy").c_str(), key.c_str()), 0);
  expect_refused("a symlink");
  if (::geteuid() != 0) GTEST_SKIP() << "the other owner case needs root (chown)";
}

TEST_F(RuleCacheTest, SecondRunUsesTheValidCacheWithoutRewritingIt) {
  test::TempDir t;
  const auto entry = cached_entry(t / "cache");
  struct stat before {};
  ASSERT_EQ(::stat(entry.c_str(), &before), 0);
  auto second = CompiledRules::compile(two_sources(), RuleCacheOptions{t / "cache"});
  ASSERT_TRUE(second);
  EXPECT_TRUE((*second)->from_cache());
  EXPECT_TRUE((*second)->warnings().empty());
  struct stat after {};
  ASSERT_EQ(::stat(entry.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "rewritten: it was compiled again";
}

TEST_F(RuleCacheTest, BrokenSourceFromADirectoryIsSkippedWithAWarning) {
  std::vector<RuleSource> sources{{"good.yar", "rule good { condition: true }", "", true},
                                  {"bad.yar", "rule bad { condition: $nope }", "", true},
                                  {"also_good.yar", "rule also_good { condition: true }", "", true}};
  auto rules = CompiledRules::compile(sources);
  ASSERT_TRUE(rules) << rules.error().message;
  EXPECT_EQ((*rules)->rules().size(), 2u);
  ASSERT_EQ((*rules)->rulesets().size(), 2u);
  ASSERT_EQ((*rules)->warnings().size(), 1u);
  EXPECT_EQ((*rules)->warnings()[0].rfind("bad.yar: skipped, it does not compile: bad.yar:1: ", 0), 0u)
      << (*rules)->warnings()[0];
  // Named on its own (not skip_if_broken) the same file is fatal.
  sources[1].skip_if_broken = false;
  EXPECT_FALSE(CompiledRules::compile(sources));
}

}  // namespace
}  // namespace iocsweep
