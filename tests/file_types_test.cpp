// Loki's file-type table (FileTypeTable) and the `extension` external as
// Loki gives it (loki_extension_of): parsed from memory, typed from bytes.
#include "iocsweep/file_types.hpp"

#include <gtest/gtest.h>

#include "pipeline/matcher.hpp"
#include "signature_base.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using test::bytes_of;

std::string type_of(const FileTypeTable& table, const std::string& head) {
  return std::string(table.type_of(bytes_of(head)));
}

TEST(FileTypes, FirstSignatureInFileOrderGivesTheType) {
  FileTypeTable table;
  ASSERT_TRUE(
      table.add("#\n# File Type Signatures\n#\n\n"
                "3C 3F 70 68 70;PHP\n"
                "40 65 63 68;BATCH\n"
                "40 65 63 68 6F;Batch\n"  // later and longer: never reached, as in Loki
                "4D 44 4D 50;MDMP\n"
                "no semicolon here\n"
                "7B5C7274;RTF\r\n"
                "3C 25;JSP\n"
                "3C 25 40;ASP\n",
                "ft.txt"));
  EXPECT_EQ(table.size(), 7u);
  EXPECT_EQ(type_of(table, "<?php echo 1;"), "PHP");
  EXPECT_EQ(type_of(table, "@echo off"), "BATCH");
  EXPECT_EQ(type_of(table, "MDMP\x93\xa7"), "MDMP");
  EXPECT_EQ(type_of(table, "{\\rtf1"), "RTF") << "a CR before the line end is not part of the type";
  EXPECT_EQ(type_of(table, "<%@ page %>"), "JSP");
  EXPECT_EQ(type_of(table, "<?ph"), "UNKNOWN") << "a file shorter than the signature";
  EXPECT_EQ(type_of(table, ""), "UNKNOWN");
  EXPECT_EQ(type_of(table, "MZ"), "UNKNOWN");
}

TEST(FileTypes, ASignatureListedTwiceKeepsItsPlaceAndTakesTheLastType) {
  FileTypeTable table;
  ASSERT_TRUE(table.add("43 57 53;SWF\n46 57;F\n43 57 53;CWS\n", "ft.txt"));
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(type_of(table, "CWS\x09"), "CWS");
  // A second table adds after the first, by the same rule.
  ASSERT_TRUE(table.add("46 57;FWS\n00;NUL\n", "more.txt"));
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(type_of(table, "FWS"), "FWS");
  EXPECT_EQ(type_of(table, std::string(1, '\0')), "NUL");
}

TEST(FileTypes, BadLinesFailWithFileAndLineAndAddNothing) {
  const std::pair<const char*, const char*> cases[] = {
      {"4D 5A;EXE\n4G 5A;BAD\n", "ft.txt:2: signature is not hex digits"},
      {"# c\n\n4D 5;ODD\n", "ft.txt:3: odd number of hex digits"},
      {" ;NOTHING\n", "ft.txt:1: empty signature"},
      {"4D 5A;EXE;MORE\n", "ft.txt:1: more than one ';'"},
  };
  for (const auto& [text, message] : cases) {
    FileTypeTable table;
    const Status st = table.add(text, "ft.txt");
    ASSERT_FALSE(st) << text;
    EXPECT_NE(st.error().message.find(message), std::string::npos) << st.error().message;
    EXPECT_EQ(table.size(), 0u) << "nothing of a bad table is kept: " << text;
  }
  std::string longest;
  for (std::size_t i = 0; i <= kMaxFileTypeSignatureBytes; ++i) longest += "41";
  FileTypeTable table;
  const Status st = table.add(longest + ";LONG\n", "ft.txt");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("ft.txt:1: signature longer than"), std::string::npos) << st.error().message;
}

TEST(FileTypes, DigestFollowsTheTexts) {
  FileTypeTable a, b;
  ASSERT_TRUE(a.add("4D 5A;EXE\n", "x"));
  ASSERT_TRUE(b.add("4D 5A;EXE \n", "x"));
  EXPECT_NE(a.sha256(), b.sha256());
  EXPECT_EQ(a.sha256().size(), 64u);
}

TEST(FileTypes, ExtensionIsLokisLowercasedSplitext) {
  EXPECT_EQ(loki_extension_of("SHELL.PHP"), ".php");
  EXPECT_EQ(loki_extension_of("a.tar.gz"), ".gz");
  EXPECT_EQ(loki_extension_of("a."), ".");
  EXPECT_EQ(loki_extension_of(".bashrc"), "");
  EXPECT_EQ(loki_extension_of("..x"), "");
  EXPECT_EQ(loki_extension_of("...."), "");
  EXPECT_EQ(loki_extension_of(".x.JSP"), ".jsp");
  EXPECT_EQ(loki_extension_of("noext"), "");
  EXPECT_EQ(loki_extension_of(""), "");
}

// The table signature-base ships, as Loki reads it.
TEST(FileTypes, SignatureBaseTableTypesAsLokiDoes) {
  const std::string sb = test::signature_base_dir();
  if (sb.empty()) GTEST_SKIP() << test::kNoSignatureBase;
  const std::string path = sb + "/misc/file-type-signatures.txt";
  FileTypeTable table;
  const Status st = table.add(test::read_file(path), path);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_GT(table.size(), 50u);
  EXPECT_EQ(type_of(table, "<?php system($_GET['c']);"), "PHP");
  EXPECT_EQ(type_of(table, "@echo off\r\n"), "BATCH");
  EXPECT_EQ(type_of(table, "{\\rtf1\\ansi"), "RTF");
  EXPECT_EQ(type_of(table, "Function Run()"), "VBS");
  EXPECT_EQ(type_of(table, "MDMP\x93\xa7"), "MDMP");
  EXPECT_EQ(type_of(table, "<%@ page import=\"java.io.*\" %>"), "JSP");
  EXPECT_EQ(type_of(table, std::string("MZ\x90\0", 4)), "EXE");
  EXPECT_EQ(type_of(table, "plain text"), "UNKNOWN");
  // 43 57 53 is listed as SWF, then again as CWS: Loki's dict says CWS.
  EXPECT_EQ(type_of(table, "CWS\x09"), "CWS");
}

}  // namespace
}  // namespace iocsweep
