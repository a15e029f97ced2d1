// `iocsweep report merge` and `report html` on the built binary: two real
// sweeps of synthesised positives (one a JSON report, one an NDJSON
// stream, one holding a file whose name is markup), merged, written as a
// page; refused inputs leave nothing written. The page is then rendered in
// headless Chromium (skipped when it is not installed): every finding's
// path and rule are on the rendered page, the hostile name is text, and no
// script ran, with and without the page's Content-Security-Policy.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::run;
using test::RunResult;
using test::TempDir;
using test::write_file;

const std::string kBin = test::binary_under_test();
const std::string kRule = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine";
// A page that ran this name's handler would change its own title.
const std::string kHostileName = "<img src=x onerror=\"document.title='pwned'\">.exe";

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Two hosts' reports in `dir`: a.json (the host renamed "web-01", as if it
// came from another machine) with the hostile name, b.ndjson (a stream).
struct Sweeps {
  TempDir a_tree, b_tree, dir;
  std::string a_report = dir / "a.json";
  std::string b_report = dir / "b.ndjson";
  std::string a_path = a_tree / kHostileName;
  std::string b_path = b_tree / "evtdiag.exe";

  Sweeps() {
    write_file(a_path, test::synth_swift_engine());
    write_file(a_tree / "clean.txt", "nothing here");
    write_file(b_path, test::synth_swift_engine());
    const RunResult a = run({kBin, "scan", "--quiet", "-o", a_report, a_tree.path()});
    EXPECT_EQ(a.exit_code, 1) << a.err;
    json doc = json::parse(test::read_file(a_report));
    doc["scan"]["host"] = "web-01";
    write_file(a_report, doc.dump(2));
    const RunResult b = run({kBin, "scan", "--quiet", "--format", "ndjson", "-o", b_report, b_tree.path()});
    EXPECT_EQ(b.exit_code, 1) << b.err;
  }
};

TEST(ReportCli, MergeTwoHostsThenHtmlOfTheMergedReport) {
  Sweeps s;
  const std::string merged = s.dir / "merged.json";
  const RunResult m = run({kBin, "report", "merge", s.a_report, s.b_report, "-o", merged});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const json doc = json::parse(test::read_file(merged));
  EXPECT_EQ(doc["iocsweep_merged_report"], 1);
  ASSERT_EQ(doc["reports"].size(), 2u);
  EXPECT_EQ(doc["reports"][0]["source"], s.a_report);
  EXPECT_EQ(doc["reports"][0]["report"]["scan"]["host"], "web-01");
  EXPECT_EQ(doc["reports"][0]["report"]["findings"][0]["path"], s.a_path);
  EXPECT_EQ(doc["reports"][1]["cut_short"], false);
  EXPECT_EQ(doc["reports"][1]["report"]["findings"][0]["path"], s.b_path);
  EXPECT_EQ(doc["reports"][1]["report"]["stats"]["findings"], 1);

  const std::string page_path = s.dir / "page.html";
  const RunResult h = run({kBin, "report", "html", merged, "-o", page_path});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  const std::string page = test::read_file(page_path);
  EXPECT_NE(page.find("web-01"), std::string::npos);
  EXPECT_NE(page.find(kRule), std::string::npos);
  EXPECT_NE(page.find(s.b_path), std::string::npos);
  EXPECT_NE(page.find("&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;.exe"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);

  // The page of the two reports given directly is the page of their merge.
  const RunResult direct = run({kBin, "report", "html", s.a_report, s.b_report, "-o", s.dir / "direct.html"});
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  const std::string direct_page = test::read_file(s.dir / "direct.html");
  EXPECT_EQ(direct_page.size() > 0, true);
  EXPECT_NE(direct_page.find(s.b_path), std::string::npos);
}

TEST(ReportCli, RefusedReportsExitTwoAndWriteNothing) {
  Sweeps s;
  const std::string whole = test::read_file(s.a_report);
  write_file(s.dir / "cut.json", whole.substr(0, whole.size() / 2));
  write_file(s.dir / "other.json", "{\"runs\": []}");
  const std::string out = s.dir / "out.html";
  write_file(out, "previous page");
  for (const std::string& bad : {s.dir / "cut.json", s.dir / "other.json", s.dir / "missing.json"}) {
    for (const char* sub : {"html", "merge"}) {
      const RunResult r = run({kBin, "report", sub, s.a_report, bad, "-o", out});
      EXPECT_EQ(r.exit_code, 2) << sub << " " << bad;
      EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
      EXPECT_EQ(test::read_file(out), "previous page") << sub << " " << bad;
    }
  }
  EXPECT_NE(run({kBin, "report", "html", s.dir / "cut.json", "-o", out}).err.find("truncated"), std::string::npos);
  EXPECT_NE(run({kBin, "report", "html", s.dir / "other.json", "-o", out}).err.find("not an iocsweep report"),
            std::string::npos);
  // -o is required; nothing is written to stdout by default.
  EXPECT_EQ(run({kBin, "report", "html", s.a_report}).exit_code, 2);
  EXPECT_FALSE(exists(s.dir / "new.html"));
}

// `chromium` on PATH, or "".
std::string find_chromium() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    const std::string candidate = d + "/chromium";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Chromium's headless run of `url`, with `extra` (--dump-dom,
// --screenshot=FILE); bounded by timeout(1), its profile in `profile`.
RunResult chromium(const std::string& bin, const std::string& profile, const std::string& url,
                   const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"timeout",
                                   "60",
                                   bin,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--no-first-run",
                                   "--disable-extensions",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--disable-dev-shm-usage",
                                   "--user-data-dir=" + profile,
                                   "--window-size=1280,2000"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(url);
  return run(args);
}

TEST(ReportCli, RenderedInHeadlessChromiumEveryFindingShowsAndNoScriptRuns) {
  const std::string bin = find_chromium();
  if (bin.empty()) GTEST_SKIP() << "no chromium on PATH (Debian package chromium): the page is not rendered";
  if (std::getenv("IOCSWEEP_TEST_BINARY") != nullptr && *std::getenv("IOCSWEEP_TEST_BINARY") != '\0') {
    GTEST_SKIP() << "the page is rendered once, with the dev build (scripts/test-build.sh runs the rest)";
  }
  Sweeps s;
  const std::string page_path = s.dir / "page.html";
  const RunResult h = run({kBin, "report", "html", s.a_report, s.b_report, "-o", page_path});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  const std::string page = test::read_file(page_path);
  // The same page without its policy: the escaping alone must hold.
  std::string bare = page;
  const std::string csp_start = "<meta http-equiv=\"Content-Security-Policy\"";
  const auto at = bare.find(csp_start);
  ASSERT_NE(at, std::string::npos);
  bare.erase(at, bare.find('>', at) + 1 - at);
  write_file(s.dir / "bare.html", bare);

  TempDir profile;
  const std::string shot = s.dir / "page.png";
  const RunResult png = chromium(bin, profile.path(), "file://" + page_path, {"--screenshot=" + shot});
  ASSERT_EQ(png.exit_code, 0) << png.err;
  const std::string image = test::read_file(shot);
  ASSERT_GT(image.size(), 8u) << png.err;
  EXPECT_EQ(image.substr(1, 3), "PNG");

  for (const std::string& file : {page_path, s.dir / "bare.html"}) {
    const RunResult dom = chromium(bin, profile.path(), "file://" + file, {"--dump-dom"});
    ASSERT_EQ(dom.exit_code, 0) << dom.err;
    // The rendered document: each finding's path and rule as text.
    EXPECT_NE(dom.out.find(s.b_path), std::string::npos) << file;
    EXPECT_NE(dom.out.find(kRule), std::string::npos) << file;
    EXPECT_NE(dom.out.find("web-01"), std::string::npos) << file;
    EXPECT_NE(dom.out.find("&lt;img src=x onerror=\"document.title='pwned'\"&gt;.exe"), std::string::npos)
        << file << "\n"
        << dom.out.substr(0, 2000);
    // Not an element, and its handler never ran.
    EXPECT_EQ(dom.out.find("<img"), std::string::npos) << file;
    EXPECT_EQ(dom.out.find("pwned</title>"), std::string::npos) << file;
    EXPECT_NE(dom.out.find("<title>iocsweep report: 2 hosts</title>"), std::string::npos) << file;
  }
}

}  // namespace
}  // namespace iocsweep
