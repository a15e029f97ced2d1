#include "iocsweep/filename_ioc.hpp"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "filename_reference.hpp"
#include "ioc/filename_patterns.hpp"
#include "iocsweep/hash.hpp"
#include "signature_base.hpp"

namespace iocsweep {
namespace {

std::string error_of(std::string_view text) {
  auto r = parse_filename_iocs(text, "names.txt");
  return r ? std::string("(parsed)") : r.error().message;
}

// Scores of the indicators matching `path`, in the order match() returns.
std::vector<int> scores(const FilenameIocDb& db, std::string_view path) {
  std::vector<int> out;
  for (const FilenameIoc* ioc : db.match(path)) out.push_back(ioc->score);
  return out;
}

FilenameIocDb compiled(std::string_view text) {
  FilenameIocDb db;
  const Status added = db.add_set(text, "names.txt");
  EXPECT_TRUE(added) << added.error().message;
  const Status built = db.compile();
  EXPECT_TRUE(built) << built.error().message;
  return db;
}

TEST(ParseFilenameIocs, AcceptsLineFormsAndDescriptions) {
  const std::string text =
      "\xEF\xBB\xBF# Header comment\n"
      "\n"
      "# Lazarus Group\r\n"
      "\\\\Windows\\\\msdtc\\.exe;80\r\n"
      "  \\\\Windows\\\\gpvc\\.exe ; 70 \n"
      "# Second block, same paragraph\n"
      "\\\\SxS\\\\[^\\\\]{1,20}\\.(exe|dll);50;\\\\eastoeb\\.exe\n"
      "\n"
      "\\\\no_description\\.exe;0\n"
      "### Hashes then text\n"
      "\\\\fp\\.exe;100;a;b\n";
  auto r = parse_filename_iocs(text, "names.txt");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 5u);
  EXPECT_EQ((*r)[0].pattern, "\\\\Windows\\\\msdtc\\.exe");
  EXPECT_EQ((*r)[0].score, 80);
  EXPECT_EQ((*r)[0].description, "Lazarus Group");
  EXPECT_EQ((*r)[0].line, 4u);
  EXPECT_EQ((*r)[0].source, "names.txt");
  EXPECT_EQ((*r)[0].false_positive, "");
  EXPECT_EQ((*r)[1].pattern, "\\\\Windows\\\\gpvc\\.exe");  // fields trimmed
  EXPECT_EQ((*r)[1].score, 70);
  EXPECT_EQ((*r)[1].description, "Lazarus Group");
  EXPECT_EQ((*r)[2].description, "Second block, same paragraph");
  EXPECT_EQ((*r)[2].false_positive, "\\\\eastoeb\\.exe");
  EXPECT_EQ((*r)[3].description, "");  // a blank line ends the description
  EXPECT_EQ((*r)[3].score, 0);
  EXPECT_EQ((*r)[4].description, "Hashes then text");
  EXPECT_EQ((*r)[4].false_positive, "a;b");  // everything after the second ';'
}

TEST(ParseFilenameIocs, EmptyAndCommentOnlyInputs) {
  auto empty = parse_filename_iocs("", "x");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  auto comments = parse_filename_iocs("# a\n#\n\n  # b\n", "x");
  ASSERT_TRUE(comments);
  EXPECT_TRUE(comments->empty());
}

TEST(ParseFilenameIocs, RejectsBadLinesWithFileAndLine) {
  EXPECT_EQ(error_of("\\\\evil\\.exe;101\n"), "names.txt:1: score '101' is not an integer from 0 to 100");
  EXPECT_EQ(error_of("\\\\evil\\.exe;-1\n"), "names.txt:1: score '-1' is not an integer from 0 to 100");
  EXPECT_EQ(error_of("\\\\evil\\.exe;+5\n"), "names.txt:1: score '+5' is not an integer from 0 to 100");
  EXPECT_EQ(error_of("\\\\evil\\.exe;99999999999\n"),
            "names.txt:1: score '99999999999' is not an integer from 0 to 100");
  EXPECT_EQ(error_of(" ;50\n"), "names.txt:1: missing pattern before ';'");
  EXPECT_EQ(error_of("\n(unclosed;50\n"), "names.txt:2: pattern rejected by RE2: missing ): (unclosed");
  EXPECT_EQ(error_of("\\\\evil\\.exe;50;[z-a]\n"),
            "names.txt:1: false-positive pattern rejected by RE2: invalid character class range: z-a");
  EXPECT_EQ(error_of("x*;50\n"), "names.txt:1: pattern matches the empty string, so every path");
  EXPECT_EQ(error_of(std::string("\\\\a;5\0\n", 7)), "names.txt:1: NUL byte (binary file?)");
  EXPECT_EQ(error_of("\\\\caf\xE9\\.exe;50\n"), "names.txt:1: pattern is not valid UTF-8");
  EXPECT_EQ(error_of("\\\\evil\\.exe;50;caf\xE9\n"), "names.txt:1: false-positive pattern is not valid UTF-8");
  EXPECT_EQ(error_of("# x\n" + std::string(70000, 'a') + ";50\n"),
            "names.txt:2: line longer than 64 KiB (not an IOC list?)");
  // RE2 compiles it on its own (238,807 instructions), but matched with
  // the others in an RE2::Set it would not fit: refused here, with its
  // line, rather than failing the whole database later.
  EXPECT_EQ(error_of("\\\\x\\\\\\pL{200};50\n"),
            "names.txt:1: pattern is too large: it does not fit the regex memory limit of 8 MiB");
  // Large but fitting, and the same size as a false-positive pattern (a
  // plain RE2 there): accepted.
  EXPECT_EQ(error_of("\\\\x\\\\\\pL{100};50;\\pL{200}\n"), "(parsed)");
}

TEST(ParseFilenameIocs, PatternsRe2RejectsNameFileAndLine) {
  // Python re features RE2 does not have: backreferences and lookaround.
  EXPECT_EQ(error_of("# ok\n\\\\(a)\\1\\.exe;50\n"),
            "names.txt:2: pattern rejected by RE2: invalid escape sequence: \\1");
  EXPECT_EQ(error_of("\\\\evil(?=\\.exe);50\n"), "names.txt:1: pattern rejected by RE2: invalid perl operator: (?=");
  // signature-base has carried this typo; Python 3.7+ rejects it too.
  EXPECT_EQ(error_of("\\\\regsys.\\exe ;60\n"), "names.txt:1: pattern rejected by RE2: invalid escape sequence: \\e");
}

TEST(FilenameIocDb, WindowsStylePatternMatchesBothSeparators) {
  const FilenameIocDb db = compiled("\\\\Windows\\\\msdtc\\.exe;80\n");
  EXPECT_EQ(scores(db, "/mnt/img/Windows/msdtc.exe"), std::vector<int>{80});
  EXPECT_EQ(scores(db, "C:\\Windows\\msdtc.exe"), std::vector<int>{80});
  EXPECT_EQ(scores(db, "/mnt/img/Windows\\msdtc.exe"), std::vector<int>{80});
  EXPECT_TRUE(scores(db, "/mnt/img/Windows_msdtc.exe").empty());
  EXPECT_TRUE(scores(db, "/mnt/img/WindowsXmsdtc.exe").empty());
}

// Loki expands %TEMP%, %APPDATA%, ... with the sweeping host's values,
// which say nothing of a mounted image or another user's profile: they
// stand for the usual locations instead, any user, either separator.
TEST(FilenameIocDb, WindowsEnvironmentVariablesStandForTheirUsualLocations) {
  const FilenameIocDb db = compiled(
      "%APPDATA%\\\\evil\\.exe;80\n"
      "%temp%\\\\drop\\.dll;81\n"
      "%SystemRoot%\\\\System32\\\\bad\\.sys;82\n"
      "%ProgramFiles%\\\\Foo\\\\x\\.exe;83\n"
      "%NOTAVAR%\\\\y\\.exe;84\n");
  EXPECT_EQ(scores(db, "/mnt/img/Users/alice/AppData/Roaming/evil.exe"), std::vector<int>{80});
  EXPECT_EQ(scores(db, "C:\\Documents and Settings\\bob\\Application Data\\evil.exe"), std::vector<int>{80});
  EXPECT_TRUE(scores(db, "/mnt/img/Users/alice/Desktop/evil.exe").empty());
  EXPECT_EQ(scores(db, "/mnt/img/Users/alice/AppData/Local/Temp/drop.dll"), std::vector<int>{81});
  EXPECT_EQ(scores(db, "C:\\Windows\\Temp\\drop.dll"), std::vector<int>{81});
  // [^\\]+ is one path component: the user name, not a deeper path.
  EXPECT_TRUE(scores(db, "/mnt/img/Users/a/b/AppData/Local/Temp/drop.dll").empty());
  EXPECT_EQ(scores(db, "/mnt/img/Windows/System32/bad.sys"), std::vector<int>{82});
  EXPECT_EQ(scores(db, "/mnt/img/Program Files (x86)/Foo/x.exe"), std::vector<int>{83});
  EXPECT_EQ(scores(db, "/mnt/img/Program Files/Foo/x.exe"), std::vector<int>{83});
  // An unknown name stays literal text.
  EXPECT_EQ(scores(db, "/x/%NOTAVAR%/y.exe"), std::vector<int>{84});
  EXPECT_TRUE(scores(db, "/x/NOTAVAR/y.exe").empty());
}

TEST(FilenameIocDb, SlashPatternMatchesBothSeparators) {
  const FilenameIocDb db = compiled(
      "/tmp/\\.gdm-socket;70\n"
      "\\/var\\/tmp\\/\\.ur-;71\n"
      "/Library/[^/]+\\.plist$;72\n"
      "\\Q/opt/x+y\\E;73\n");
  EXPECT_EQ(scores(db, "/tmp/.gdm-socket"), std::vector<int>{70});
  EXPECT_EQ(scores(db, "D:\\image\\tmp\\.gdm-socket"), std::vector<int>{70});
  EXPECT_EQ(scores(db, "/var/tmp/.ur-1234"), std::vector<int>{71});
  EXPECT_EQ(scores(db, "C:\\var\\tmp\\.ur-1234"), std::vector<int>{71});
  EXPECT_EQ(scores(db, "/Library/com.evil.plist"), std::vector<int>{72});
  // [^/] is "not a separator", whichever separator the path used.
  EXPECT_TRUE(scores(db, "/Library/sub/com.evil.plist").empty());
  EXPECT_TRUE(scores(db, "C:\\Library\\sub\\com.evil.plist").empty());
  EXPECT_EQ(scores(db, "/srv/opt/x+y"), std::vector<int>{73});
  EXPECT_EQ(scores(db, "C:\\opt\\X+Y"), std::vector<int>{73});
}

TEST(FilenameIocDb, MatchesCaseInsensitively) {
  const FilenameIocDb db = compiled("\\\\Windows\\\\msdtc\\.exe;80\n\\\\caf\xC3\xA9\\.exe;60\n");
  EXPECT_EQ(scores(db, "/MNT/IMG/WINDOWS/MSDTC.EXE"), std::vector<int>{80});
  EXPECT_EQ(scores(db, "/mnt/img/windows/msdtc.exe"), std::vector<int>{80});
  EXPECT_EQ(scores(db, "/home/x/CAF\xC3\x89.EXE"), std::vector<int>{60});  // Unicode folding
}

TEST(FilenameIocDb, FalsePositivePatternSuppressesMatch) {
  const FilenameIocDb db = compiled(
      "\\\\ProgramData\\\\SxS\\\\[^\\\\]{1,20}\\.(exe|dll|dat);50;\\\\eastoeb\\.exe\n"
      "\\\\nc\\.exe$;60;\\\\(bin|sbin)\\\\\n");
  EXPECT_EQ(scores(db, "/mnt/c/ProgramData/SxS/evil.dll"), std::vector<int>{50});
  EXPECT_TRUE(scores(db, "/mnt/c/ProgramData/SxS/eastoeb.exe").empty());
  EXPECT_TRUE(scores(db, "/mnt/c/ProgramData/SxS/EASTOEB.EXE").empty());
  EXPECT_EQ(scores(db, "/tmp/nc.exe"), std::vector<int>{60});
  EXPECT_TRUE(scores(db, "/usr/bin/nc.exe").empty());  // false-positive pattern is separator-agnostic too
}

TEST(FilenameIocDb, RewritesPythonSpellings) {
  // {,n} means {0,n} in Python; RE2 alone would read it as literal text.
  const FilenameIocDb db = compiled("\\\\cmd[0-9]{,3}\\\\cmd\\.jsp;60\n\\.kirbi\\Z;70\n");
  EXPECT_EQ(scores(db, "/srv/cmd/cmd.jsp"), std::vector<int>{60});
  EXPECT_EQ(scores(db, "/srv/cmd123/cmd.jsp"), std::vector<int>{60});
  EXPECT_TRUE(scores(db, "/srv/cmd1234/cmd.jsp").empty());
  EXPECT_EQ(scores(db, "/tmp/ticket.kirbi"), std::vector<int>{70});
  EXPECT_TRUE(scores(db, "/tmp/ticket.kirbi.txt").empty());
}

TEST(FilenameIocDb, MatchesInLoadOrderAcrossSetsAndCountsSets) {
  FilenameIocDb db;
  ASSERT_TRUE(db.add_set("\\\\evil\\.exe;10\n\\.exe$;20\n\\\\EVIL\\.exe;99\n", "a.txt"));
  ASSERT_TRUE(db.add_set("evil;30\n", "b.txt"));
  ASSERT_TRUE(db.compile());
  EXPECT_EQ(db.size(), 4u);
  ASSERT_EQ(db.sets().size(), 2u);
  EXPECT_EQ(db.sets()[0].name, "a.txt");
  EXPECT_EQ(db.sets()[0].count, 3u);
  EXPECT_EQ(db.sets()[0].filename, 3u);
  EXPECT_EQ(db.sets()[0].sha256.size(), 64u);
  EXPECT_EQ(db.sets()[1].filename, 1u);
  const auto hits = db.match("/x/evil.exe");
  ASSERT_EQ(hits.size(), 4u);
  EXPECT_EQ(hits[0]->score, 10);
  EXPECT_EQ(hits[1]->score, 20);
  EXPECT_EQ(hits[2]->score, 99);
  EXPECT_EQ(hits[3]->source, "b.txt");
  EXPECT_EQ(hits[3]->line, 1u);
}

TEST(FilenameIocDb, SamePatternTwiceInOneSetIsKeptOnce) {
  FilenameIocDb db;
  ASSERT_TRUE(db.add_set("\\\\dw20\\.dll;80\n\\\\dw20\\.dll;80\n\\\\dw20\\.dll;80;x\n", "a.txt"));
  ASSERT_TRUE(db.add_set("\\\\dw20\\.dll;80\n", "b.txt"));
  EXPECT_EQ(db.sets()[0].count, 2u);
  EXPECT_EQ(db.size(), 3u);
}

TEST(FilenameIocDb, LifecycleErrors) {
  FilenameIocDb db;
  EXPECT_TRUE(db.match("/x").empty());  // before compile(): nothing
  EXPECT_FALSE(db.add_set("\\\\a\\.exe;50\n(bad;50\n", "bad.txt"));
  EXPECT_EQ(db.size(), 0u);
  EXPECT_TRUE(db.sets().empty());
  ASSERT_TRUE(db.add_set("\\\\a\\.exe;50\n", "good.txt"));
  ASSERT_TRUE(db.compile());
  ASSERT_TRUE(db.compile());  // again: no-op
  const Status late = db.add_set("\\\\b\\.exe;50\n", "late.txt");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().message, "late.txt: file-name IOC sets must be added before they are compiled");
  EXPECT_EQ(scores(db, "/a.exe"), std::vector<int>{50});
}

TEST(FilenameIocDb, EmptyDatabaseMatchesNothing) {
  FilenameIocDb db;
  ASSERT_TRUE(db.compile());
  EXPECT_TRUE(db.match("/anything").empty());
}

TEST(FilenameIocDb, GroupsOverTheMemoryBudgetAreSplitAndAPatternTooBigAloneIsAClearError) {
  // 200 patterns of a few hundred instructions each: a group of 64 does not
  // fit 64 KiB, so the groups are split until they do, and every pattern
  // still matches.
  std::string text;
  for (int i = 0; i < 200; ++i) text += "\\\\dir" + std::to_string(i) + "\\\\[a-z]{1,20}[0-9]{2,8}\\.(exe|dll);50\n";
  {
    FilenameIocDb db(std::int64_t{64} << 10);
    ASSERT_TRUE(db.add_set(text, "many.txt"));
    ASSERT_TRUE(db.compile());
    EXPECT_GT(db.group_count(), 4u);  // more than 200 / 64 rounded up: split
    EXPECT_EQ(scores(db, "/dir1/abc12.exe"), std::vector<int>{50});
    EXPECT_EQ(scores(db, "/x/DIR199/q1234.DLL"), std::vector<int>{50});
    EXPECT_TRUE(db.match("/dir1/abc.exe").empty());
  }
  // One pattern that fits the 8 MiB it is checked against but not 64 KiB.
  FilenameIocDb db(std::int64_t{64} << 10);
  ASSERT_TRUE(db.add_set("\\\\ok\\.exe;50\n\\\\big\\\\(?:[a-z]{1,20}[0-9]{2,8}){40}\\.exe;50\n", "big.txt"));
  const Status built = db.compile();
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error().message,
            "file-name IOCs: big.txt:2: the pattern does not fit the regex memory limit of 64 KiB on its own; "
            "simplify it or leave it out");
  EXPECT_TRUE(db.match("/ok.exe").empty());
}

TEST(FilenameIocDb, AddIocsChecksEachAndIsAtomic) {
  FilenameIocDb db;
  IocSetInfo info;
  info.name = "feed.json";
  std::vector<FilenameIoc> iocs(2);
  iocs[0].pattern = filename_pattern_for_exact_name("evil.exe");
  iocs[0].score = 80;
  iocs[1].pattern = "(?<=x)y";
  iocs[1].score = 80;
  iocs[1].source = "feed.json";
  iocs[1].line = 7;
  const Status bad = db.add_iocs(iocs, info);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "feed.json:7: pattern rejected by RE2: invalid perl operator: (?<");
  EXPECT_EQ(db.size(), 0u);

  iocs[1].pattern = "\\\\ok";
  iocs[1].score = 101;
  EXPECT_EQ(db.add_iocs(iocs, info).error().message, "feed.json:7: score is not an integer from 0 to 100");

  iocs.pop_back();
  info.sha256 = "given";
  ASSERT_TRUE(db.add_iocs(iocs, info));
  ASSERT_EQ(db.sets().size(), 1u);
  EXPECT_EQ(db.sets()[0].sha256, "given");
  EXPECT_EQ(db.sets()[0].filename, 1u);
  ASSERT_TRUE(db.compile());
  const auto hits = db.match("/tmp/EVIL.EXE");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]->source, "feed.json");  // filled in from info.name
}

TEST(FilenamePatternForExactName, MatchesOnlyTheWholeLastComponent) {
  FilenameIocDb db;
  std::vector<FilenameIoc> iocs;
  for (const char* name : {"evil.exe", "a+b (1).exe", "Windows\\tasks\\x.job", "caf\xC3\xA9.txt"}) {
    FilenameIoc ioc;
    ioc.pattern = filename_pattern_for_exact_name(name);
    ioc.score = static_cast<int>(iocs.size());
    iocs.push_back(ioc);
  }
  ASSERT_TRUE(db.add_iocs(iocs, IocSetInfo{"exact", "", 0, 0, 0, 0, 0}));
  ASSERT_TRUE(db.compile());
  EXPECT_EQ(scores(db, "/tmp/evil.exe"), std::vector<int>{0});
  EXPECT_EQ(scores(db, "evil.exe"), std::vector<int>{0});
  EXPECT_EQ(scores(db, "C:\\Temp\\EVIL.EXE"), std::vector<int>{0});
  EXPECT_TRUE(scores(db, "/tmp/notevil.exe").empty());
  EXPECT_TRUE(scores(db, "/tmp/evil.exe.txt").empty());
  EXPECT_TRUE(scores(db, "/tmp/evil.exe/other").empty());
  EXPECT_EQ(scores(db, "/x/a+b (1).exe"), std::vector<int>{1});
  EXPECT_TRUE(scores(db, "/x/aab (1).exe").empty());
  EXPECT_EQ(scores(db, "/mnt/img/Windows/Tasks/x.job"), std::vector<int>{2});
  EXPECT_TRUE(scores(db, "/mnt/img/Windows/x.job").empty());
  EXPECT_EQ(scores(db, "/x/CAF\xC3\x89.TXT"), std::vector<int>{3});
}

TEST(FilenameIocDb, InvalidUtf8PathStillMatches) {
  const FilenameIocDb db = compiled("\\\\drop\\\\[^\\\\]+\\.exe$;50\n");
  EXPECT_EQ(scores(db, "/tmp/drop/\xFF\xFE.exe"), std::vector<int>{50});
}

TEST(FilenameIocDb, MatchIsSafeFromManyThreads) {
  const FilenameIocDb db = compiled("\\\\Windows\\\\msdtc\\.exe;80\n\\.exe$;20;\\\\System32\\\\\n");
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (scores(db, "/mnt/img/Windows/msdtc.exe") != std::vector<int>{80, 20}) ++bad[t];
        if (!scores(db, "/mnt/img/Windows/System32/cmd.exe").empty()) ++bad[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace iocsweep

namespace iocsweep {
namespace {

TEST(ParseFilenameIocs, LenientModeSkipsAndRecordsBadLines) {
  std::vector<std::string> skipped;
  auto r =
      parse_filename_iocs("# block\n\\\\Temp\\\\x[0-9]+\\.tmp;101\n\\\\evil\\.exe;80\n(a;70\n", "names.txt", &skipped);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].line, 3u);
  EXPECT_EQ((*r)[0].description, "block");
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0].rfind("names.txt:2: score '101'", 0), 0u) << skipped[0];
  EXPECT_EQ(skipped[1].rfind("names.txt:4: ", 0), 0u) << skipped[1];
}

}  // namespace
}  // namespace iocsweep

namespace iocsweep {
namespace {

TEST(ParseFilenameIocs, LinesWithoutAScoreGetTheListDefault) {
  EXPECT_EQ(kDefaultFilenameListScore, 60);
  // otx-filename-iocs.txt: REGEX;DESCRIPTION. filename-iocs.txt: a bare
  // REGEX under a block comment.
  const std::string text =
      "C:\\\\ProgramData\\\\ManagerApp\\\\d3d9\\.dll;BlackOasis APT - Securelist https://securelist.com/x\n"
      "%LocalAppData%\\\\del\\.bat;7ev3n Ransomware https://example.org/a;b\n"
      "# Cisco JBoss Webshell Names\n"
      "\\\\zecmd\\\\zecmd\\.jsp\n"
      "\\\\jboss\\\\x\\.jsp;;\\\\fp\\.jsp\n";
  auto r = parse_filename_iocs(text, "otx-filename-iocs.txt");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].score, kDefaultFilenameListScore);
  EXPECT_EQ((*r)[0].description, "BlackOasis APT - Securelist https://securelist.com/x");
  EXPECT_EQ((*r)[0].false_positive, "");
  EXPECT_EQ((*r)[1].score, kDefaultFilenameListScore);  // a description may start with a digit
  EXPECT_EQ((*r)[1].description, "7ev3n Ransomware https://example.org/a;b");
  EXPECT_EQ((*r)[1].false_positive, "");
  EXPECT_EQ((*r)[2].pattern, "\\\\zecmd\\\\zecmd\\.jsp");
  EXPECT_EQ((*r)[2].score, kDefaultFilenameListScore);
  EXPECT_EQ((*r)[2].description, "Cisco JBoss Webshell Names");
  EXPECT_EQ((*r)[3].score, kDefaultFilenameListScore);
  EXPECT_EQ((*r)[3].false_positive, "\\\\fp\\.jsp");
  // A number is still a score and must be one.
  EXPECT_EQ(error_of("\\\\evil\\.exe;250;x\n"), "names.txt:1: score '250' is not an integer from 0 to 100");
}

TEST(ParseFilenameIocs, Latin1DescriptionsAreRepairedNotRejected) {
  auto r = parse_filename_iocs("# Caf\xE9 group\n\\\\a\\.exe;50\n\\\\b\\.exe;Caf\xE9 tool\n", "names.txt");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].description, "Caf\xEF\xBF\xBD group");
  EXPECT_EQ((*r)[1].description, "Caf\xEF\xBF\xBD tool");
}

TEST(ParseFilenameIocs, Utf16ListIsRefusedSayingSo) {
  std::string le("\xFF\xFE", 2);
  for (const char c : std::string("\\\\a\\.exe;50\r\n")) {
    le += c;
    le += '\0';
  }
  std::vector<std::string> skipped;
  auto r = parse_filename_iocs(le, "names.txt", &skipped);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "names.txt:1: UTF-16 text: convert to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)");
}

TEST(FilenameIocDb, DuplicateInOneSetKeepsTheHighestScoreAndItsDescription) {
  FilenameIocDb db;
  ASSERT_TRUE(
      db.add_set("# generic\n\\\\evil\\.exe;40\n# APT X confirmed\n\\\\evil\\.exe;95\n# again\n"
                 "\\\\evil\\.exe;70\n",
                 "names.txt"));
  ASSERT_TRUE(db.compile());
  const auto hits = db.match("/tmp/evil.exe");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]->score, 95);
  EXPECT_EQ(hits[0]->description, "APT X confirmed");
  EXPECT_EQ(hits[0]->line, 4u);
  EXPECT_EQ(db.sets()[0].count, 1u);
}

TEST(CheckFilenameIocs, NamesTheBadIndicatorWithoutAddingAnything) {
  std::vector<FilenameIoc> iocs(2);
  iocs[0].pattern = "\\\\ok\\.exe";
  iocs[0].score = 50;
  iocs[1].pattern = "(unclosed";
  iocs[1].score = 50;
  iocs[1].source = "feed.json";
  const Status st = check_filename_iocs(iocs, "feed.json");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "feed.json: pattern rejected by RE2: missing ): (unclosed");
  EXPECT_FALSE(filename_pattern_problem("\\\\ok\\.exe"));
  EXPECT_TRUE(filename_pattern_problem(std::string(300000, 'k')));
}

// The text a pattern spells, roughly: escapes and operators dropped, so
// that a path built from it is near what the pattern matches (or a near
// miss), in mixed case.
std::string literal_text_of(std::string_view pattern, std::mt19937& rng) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == '\\') out += '\\';
      if (next == '.' || next == '$' || next == '(' || next == ')' || next == '-' || next == ' ') out += next;
      if (next == 'd') out += '7';
      continue;
    }
    if (std::string_view("^$()[]{}|?*+").find(c) != std::string_view::npos) continue;
    out += (rng() % 3 == 0 && c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

using test::ids_of;
using test::Reference;

// Paths around `patterns`: each one's literal text inside Windows and
// Linux prefixes, cut short, with a character changed, and some with
// non-ASCII and case-folding characters, plus ordinary paths.
std::vector<std::string> paths_around(const std::vector<std::string>& patterns, std::size_t count) {
  std::mt19937 rng(1234);
  const std::vector<std::string> prefixes = {"C:\\Windows\\System32\\",
                                             "/mnt/img/Windows/",
                                             "/home/u/",
                                             "C:\\Users\\Bob\\AppData\\Roaming\\",
                                             "/usr/share/doc/x/",
                                             "",
                                             "/tmp/\xc3\xa9t\xc3\xa9/",
                                             "C:\\ProgramData\\"};
  std::vector<std::string> paths = {"/usr/share/doc/libc6/README", "/etc/passwd",
                                    "C:\\Windows\\explorer.exe",   "/tmp/\xe2\x84\xaa\x65y.exe",
                                    "/tmp/\xc5\xbfvchost.exe",     "/opt/\xff\xfe.bin"};
  for (std::size_t n = 0; paths.size() < count && !patterns.empty(); ++n) {
    const std::string& pattern = patterns[rng() % patterns.size()];
    std::string text = literal_text_of(pattern, rng);
    switch (rng() % 5) {
      case 0:
        if (!text.empty()) text.erase(rng() % text.size(), 1);
        break;
      case 1:
        if (!text.empty()) text[rng() % text.size()] = 'q';
        break;
      case 2:
        text += ".bak";
        break;
      default:
        break;
    }
    std::string path = prefixes[rng() % prefixes.size()] + text;
    if (rng() % 2 == 0) std::replace(path.begin(), path.end(), '\\', '/');
    paths.push_back(std::move(path));
  }
  return paths;
}

void expect_same_as_reference(std::string_view list, std::size_t path_count) {
  auto parsed = parse_filename_iocs(list, "names.txt", nullptr);
  ASSERT_TRUE(parsed) << parsed.error().message;
  FilenameIocDb db;
  ASSERT_TRUE(db.add_set(list, "names.txt"));
  ASSERT_TRUE(db.compile());
  const Reference reference(*parsed);
  std::vector<std::string> patterns;
  for (const FilenameIoc& ioc : *parsed) patterns.push_back(ioc.pattern);
  std::size_t matched = 0;
  for (const std::string& path : paths_around(patterns, path_count)) {
    const std::vector<std::string> want = reference.ids(path);
    ASSERT_EQ(ids_of(db, path), want) << path;
    matched += want.empty() ? 0 : 1;
  }
  // The paths must exercise matches, not only misses.
  EXPECT_GT(matched, path_count / 10);
}

TEST(FilenameIocDbPrefilter, SameMatchesAsEachPatternOnItsOwn) {
  // Literals long and short, none at all, anchors, false positives, `/`
  // separators, environment variables, a long s (U+017F, which folds to
  // ASCII 's'), a Kelvin sign (U+212A, 'k'), hex and octal escapes.
  const std::string list =
      "\\\\Windows\\\\svchost\\.exe;70;\\\\System32\\\\\n"
      "\\\\Windows\\\\System32\\\\[a-z]{3}\\.dll$;60\n"
      "^[a-z]:\\\\[0-9]{2}\\\\;50\n"
      "\\.(?:ps1|vbs|hta)$;40\n"
      "%APPDATA%\\\\[^\\\\]+\\.exe$;75\n"
      "/tmp/\\.[a-z]+/[a-z]{1,2}$;65\n"
      "\\\\\xc5\xbfvchost\\.exe;90\n"
      "\\\\\\x{17f}cvhost\\.exe;91\n"
      "\\\\\\x{212a}ey\\.exe;92\n"
      "\\\\\\x65vil\\.exe;93\n"
      "\\\\\\145xe\\.dat;94\n"
      "\\\\\xc3\xa9t\xc3\xa9\\\\;30\n"
      "mimikatz;95;\\\\Tools\\\\\n"
      "\\\\[0-9]{8}\\.tmp$;55\n"
      "ab;20\n"
      "\\.js$;45\n";
  expect_same_as_reference(list, 3000);
  FilenameIocDb db = compiled(list);
  // Letters whose case folding reaches beyond ASCII lowercasing.
  EXPECT_EQ(scores(db, "/tmp/svchost.exe"), (std::vector<int>{90}));
  EXPECT_EQ(scores(db, "/tmp/SCVHOST.EXE"), (std::vector<int>{91}));
  EXPECT_EQ(scores(db, "/tmp/key.exe"), (std::vector<int>{92}));
  EXPECT_EQ(scores(db, "/tmp/\xe2\x84\xaa\x65y.exe"), (std::vector<int>{92}));
  // A literal at the very end of the path, and one in a path of its length.
  EXPECT_EQ(scores(db, "/tmp/MimiKatz"), (std::vector<int>{95}));
  EXPECT_EQ(scores(db, "ab"), (std::vector<int>{20}));
  EXPECT_EQ(scores(db, "/tmp/x.JS"), (std::vector<int>{45}));
}

TEST(FilenameIocDbPrefilter, ManyGroupsAndLiteralsThatMustAllBeThere) {
  // 300 patterns make several groups; a path meets only the group of the
  // pattern whose literals it has, and a non-ASCII path meets all of them.
  std::string list;
  for (int i = 0; i < 300; ++i)
    list += "\\\\tool" + std::to_string(i) + "\\\\run\\.exe$;" + std::to_string(i % 90 + 1) + "\n";
  // Two literals that must both be there, in either order of discovery.
  list += "\\\\stage\\\\.*\\\\loader\\.dll$;95\n";
  // Fourteen literals, more than the formula is worked out for: any one
  // lets the pattern through, RE2 then decides.
  std::string many = "^";
  for (int i = 0; i < 14; ++i) many += "\\\\part" + std::string(1, static_cast<char>('a' + i)) + "x.*";
  list += many + ";96\n";
  FilenameIocDb db = compiled(list);
  EXPECT_GT(db.group_count(), 4u);
  EXPECT_EQ(scores(db, "/opt/tool7/run.exe"), std::vector<int>{8});
  EXPECT_EQ(scores(db, "C:\\TOOL299\\Run.EXE"), std::vector<int>{299 % 90 + 1});
  EXPECT_EQ(scores(db, "/opt/tool299/\xc3\xa9t\xc3\xa9/tool150/run.exe"), std::vector<int>{150 % 90 + 1});
  EXPECT_EQ(scores(db, "/\xc3\xa9/tool42/run.exe"), std::vector<int>{43});
  EXPECT_TRUE(db.match("/opt/tool7/run.exe.bak").empty());
  EXPECT_EQ(scores(db, "/x/stage/y/loader.dll"), std::vector<int>{95});
  EXPECT_TRUE(db.match("/x/stage/y/loader.exe").empty());
  EXPECT_TRUE(db.match("/x/stag/y/loader.dll").empty());
  EXPECT_EQ(scores(db, "/\xc3\xa9/stage/x/loader.dll"), std::vector<int>{95});
  std::string all;
  for (int i = 0; i < 14; ++i) all += "/part" + std::string(1, static_cast<char>('a' + i)) + "x";
  EXPECT_EQ(scores(db, all), std::vector<int>{96});
  EXPECT_TRUE(db.match(all.substr(0, all.size() - 7)).empty());  // the last literal missing
  EXPECT_TRUE(db.match("/partax").empty());
}

TEST(FilenameIocDbPrefilter, LiteralsSharedByManyAndsStillLetThePatternThrough) {
  // RE2's prefilter prunes the children of an AND that many nodes share,
  // by an estimate that starts from the number of patterns. Asked about
  // this pattern alone (found by a random search) it leaves the branch
  // that needs only "bbi" with nothing to trigger it, and a path that has
  // only that literal would never reach its group.
  const std::string list =
      "(?:ccj.*bbi.*ccj|.*bbi.*aah.*bbi|.*bbi.*aah.*ccj.*ccj|.*aah.*bbi|bbi.*bbi.*ccj|bbi.*bbi.*bbi.*bbi|"
      ".*ccj.*bbi|bbi.*ccj.*ccj.*aah|aah.*bbi.*bbi);70\n";
  expect_same_as_reference(list, 400);
  FilenameIocDb db = compiled(list);
  EXPECT_EQ(scores(db, "/x/bbi/bbi/bbi/bbi"), std::vector<int>{70});
  EXPECT_EQ(scores(db, "/x/aah/bbi"), std::vector<int>{70});
  EXPECT_TRUE(db.match("/x/bbi/bbi/bbi").empty());
}

TEST(FilenameIocDbPrefilter, SameMatchesAsEachPatternOnItsOwnWithSignatureBase) {
  const std::string dir = test::signature_base_dir();
  if (dir.empty()) GTEST_SKIP() << test::kNoSignatureBase;
  std::ifstream in(dir + "/iocs/filename-iocs.txt", std::ios::binary);
  if (!in) GTEST_SKIP() << "no iocs/filename-iocs.txt in " << dir;
  std::stringstream text;
  text << in.rdbuf();
  // Its own lines that the strict parser refuses are left out (a scan
  // loads the list leniently).
  std::vector<std::string> skipped;
  auto parsed = parse_filename_iocs(text.str(), "filename-iocs.txt", &skipped);
  ASSERT_TRUE(parsed) << parsed.error().message;
  std::string kept;
  for (const FilenameIoc& ioc : *parsed) {
    kept += ioc.pattern + ";" + std::to_string(ioc.score);
    if (!ioc.false_positive.empty()) kept += ";" + ioc.false_positive;
    kept += "\n";
  }
  expect_same_as_reference(kept, 1500);
}
}  // namespace
}  // namespace iocsweep
