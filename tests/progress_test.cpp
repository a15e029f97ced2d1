// Unit tests of the progress line's text (the drawing is tested end to end
// under a pseudo-terminal by progress_tty_test.py).
#include "cli/progress.hpp"

#include <gtest/gtest.h>

#include "iocsweep/common.hpp"

namespace iocsweep::cli {
namespace {

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

ScanProgress::Snapshot sample() {
  ScanProgress::Snapshot s;
  s.files_scanned = 1204;
  s.bytes_scanned = 52'100'000;
  s.errors = 3;
  s.findings = 1;
  s.current_dir = "/srv/www/html";
  return s;
}

TEST(ProgressLine, ShowsCountersRateAndDirectory) {
  const std::string line = format_progress_line(sample(), 2e6, 200);
  EXPECT_EQ(line, "1204 files  52.1 MB  2.0 MB/s  3 errors  1 finding  /srv/www/html");
}

TEST(ProgressLine, UnknownRateIsLeftOut) {
  ScanProgress::Snapshot s;
  s.files_scanned = 1;
  EXPECT_EQ(format_progress_line(s, -1, 200), "1 file  0 B  0 errors  0 findings");
}

TEST(ProgressLine, PausedForLoadSaysSo) {
  ScanProgress::Snapshot s = sample();
  s.paused_for_load = true;
  s.load = 3.5;
  const std::string line = format_progress_line(s, 0, 200);
  EXPECT_EQ(line.rfind("paused, load 3.50  1204 files", 0), 0u) << line;
}

TEST(ProgressLine, LongDirectoryKeepsItsTailWithinTheWidth) {
  ScanProgress::Snapshot s = sample();
  s.current_dir = "/very/long/" + std::string(300, 'x') + "/the-end";
  for (std::size_t width : {72u, 80u, 120u}) {
    const std::string line = format_progress_line(s, 2e6, width);
    EXPECT_EQ(code_points(line), width - 1) << line;
    EXPECT_NE(line.find("  ..."), std::string::npos) << line;
    EXPECT_EQ(line.substr(line.size() - 8), "/the-end") << line;
  }
}

TEST(ProgressLine, NarrowTerminalCutsTheCounters) {
  const std::string line = format_progress_line(sample(), 2e6, 12);
  EXPECT_EQ(line, "1204 files ");
}

TEST(ProgressLine, DirectoryIsEscapedAndCutOnCodePoints) {
  ScanProgress::Snapshot s = sample();
  s.current_dir = "/tmp/\x1b]0;owned\x07/\xff/";
  const std::string line = format_progress_line(s, 2e6, 200);
  EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
  EXPECT_EQ(line.find('\x07'), std::string::npos) << line;
  EXPECT_NE(line.find(escape_for_terminal(s.current_dir)), std::string::npos) << line;
  // Multi-byte names are cut between code points, never inside one.
  s.current_dir = "/" + std::string(100, 'a');
  for (int i = 0; i < 60; ++i) s.current_dir += "\xc3\xa9";  // é
  for (std::size_t width = 60; width < 90; ++width) {
    const std::string cut = format_progress_line(s, 2e6, width);
    EXPECT_TRUE(is_valid_utf8(cut)) << cut;
    EXPECT_EQ(code_points(cut), width - 1) << cut;
  }
}

}  // namespace
}  // namespace iocsweep::cli
