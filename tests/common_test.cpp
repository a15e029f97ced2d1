#include "iocsweep/common.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "iocsweep/input_file.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

TEST(Utf8, AcceptsValidAndRejectsInvalid) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
}

TEST(Utf8, ReplacesInvalidBytes) {
  EXPECT_EQ(to_valid_utf8("a\xFF"
                          "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(to_valid_utf8("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(Hex, EncodesBytes) {
  EXPECT_EQ(to_hex(std::string_view("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(to_hex(std::string_view("")), "");
}

TEST(EscapeControls, EscapesControlsButNotBackslash) {
  // For CSV cells: every control character as \xNN, a backslash as it is.
  EXPECT_EQ(escape_controls("a\nb\r\tc\x1b[31m\x07\x7f"), "a\\x0ab\\x0d\\x09c\\x1b[31m\\x07\\x7f");
  EXPECT_EQ(escape_controls("C:\\Windows\\evil\\.exe"), "C:\\Windows\\evil\\.exe");
  EXPECT_EQ(escape_controls("invoice\xE2\x80\xAE"
                            "fdp.exe"),
            "invoice\\xe2\\x80\\xaefdp.exe");
  EXPECT_EQ(escape_controls("\xC2\x9B \xE2\x80\x94"), "\\xc2\\x9b \xE2\x80\x94");
  EXPECT_EQ(escape_controls("\xFF"), "\\xff");
}

TEST(EscapeForTerminal, NeutralisesControlCharacters) {
  EXPECT_EQ(escape_for_terminal("a\nFAKE LINE"), "a\\nFAKE LINE");
  EXPECT_EQ(escape_for_terminal("esc\x1b[31m"), "esc\\x1b[31m");
  EXPECT_EQ(escape_for_terminal("back\\slash"), "back\\\\slash");
  EXPECT_EQ(escape_for_terminal("\xFF"), "\\xff");
  // U+202E RIGHT-TO-LEFT OVERRIDE would show "invoice\u202Efdp.exe" as
  // "invoiceexe.pdf"; LRM, the isolates and ALM are escaped too. Other
  // three-byte characters are left alone.
  EXPECT_EQ(escape_for_terminal("invoice\xE2\x80\xAE"
                                "fdp.exe"),
            "invoice\\xe2\\x80\\xaefdp.exe");
  EXPECT_EQ(escape_for_terminal("\xE2\x80\x8E\xE2\x81\xA6\xD8\x9C"), "\\xe2\\x80\\x8e\\xe2\\x81\\xa6\\xd8\\x9c");
  EXPECT_EQ(escape_for_terminal("\xE2\x80\x94 dash \xE2\x82\xAC"), "\xE2\x80\x94 dash \xE2\x82\xAC");
  EXPECT_EQ(escape_for_terminal("\xC2\x9B"), "\\xc2\\x9b");  // C1 CSI
  EXPECT_EQ(escape_for_terminal("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(ParseSize, UnitsAndErrors) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("64K"), 64u << 10);
  EXPECT_EQ(*parse_size("64M"), 64u << 20);
  EXPECT_EQ(*parse_size("64MB"), 64u << 20);
  EXPECT_EQ(*parse_size("64MiB"), 64u << 20);
  EXPECT_EQ(*parse_size("1G"), 1ull << 30);
  EXPECT_EQ(*parse_size("0"), 0u);
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("-1"));
  EXPECT_FALSE(parse_size("12Q"));
  EXPECT_FALSE(parse_size("M"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_FALSE(parse_size("17179869184T"));
}

TEST(Rfc3339, LooksLikeUtcTimestamp) {
  const std::string t = now_rfc3339();
  ASSERT_EQ(t.size(), 24u) << t;
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t.back(), 'Z');
}

}  // namespace
}  // namespace iocsweep

namespace iocsweep {
namespace {

// Input files (rules, indicator lists, baselines, reports, packs) are read
// through one descriptor: what is checked is what is read, a FIFO is refused
// without waiting for a writer, and the size limit holds.
TEST(InputFile, ReadsRegularFilesAndRefusesTheRestWithoutWaiting) {
  test::TempDir t;
  test::write_file(t / "rules.yar", "rule a { condition: true }\n");
  auto ok = read_input_file(t / "rules.yar");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, "rule a { condition: true }\n");
  test::write_file(t / "empty.txt", "");
  auto empty = read_input_file(t / "empty.txt");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
  auto dir = read_input_file(t.path());
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().message, t.path() + ": is a directory");
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);
  auto fifo = read_input_file(t / "fifo");  // would block forever if opened for a blocking read
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().message, t / "fifo" + ": not a regular file");
  test::write_file(t / "big.txt", std::string(3 << 20, 'x'));
  auto big = read_input_file(t / "big.txt", 2 << 20);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("larger than 2 MiB"), std::string::npos) << big.error().message;
  auto missing = read_input_file(t / "missing");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos) << missing.error().message;
}

// A file under /proc says it is empty and is not: what it holds is read.
TEST(InputFile, FileLargerThanItsSizeSaysIsReadToTheLimit) {
  auto self = read_input_file("/proc/self/status");
  ASSERT_TRUE(self) << self.error().message;
  EXPECT_NE(self->find("Pid:"), std::string::npos);
  auto cut = read_input_file("/proc/self/status", 16);
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().message.find("larger than"), std::string::npos) << cut.error().message;
}

}  // namespace
}  // namespace iocsweep
