// Integration tests: run the built iocsweep binary on trees made here.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "iocsweep/hash.hpp"
#include "iocsweep/match.hpp"
#include "iocsweep/read.hpp"
#include "report_support.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::finding_for;
using test::parse_report;
using test::run;
using test::RunResult;
using test::TempDir;
using test::write_file;

const std::string kBin = iocsweep::test::binary_under_test();
constexpr const char* kEngineRule = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine";

std::string sha256_of(const std::string& data) { return sha256_hex(data); }

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

TEST(Cli, SynthesisedPositiveFoundByBuiltinRuleAndHashInOneRun) {
  TempDir t, cfg;
  const std::string positive = test::synth_swift_engine();
  write_file(t / "evtdiag.exe", positive);
  write_file(t / "readme.txt", "an ordinary text file");
  write_file(t / "empty", "");
  write_file(cfg / "iocs.txt", "# test list\n" + sha256_of(positive) + ";95;synthesised engine\n");

  RunResult r = run({kBin, "scan", "--iocs", cfg / "iocs.txt", "--format", "json", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  EXPECT_EQ(doc["stats"]["files_scanned"], 3);
  EXPECT_EQ(doc["stats"]["findings"], 1);
  EXPECT_EQ(doc["scan"]["complete"], true);
  ASSERT_EQ(doc["findings"].size(), 1u);
  const json* f = finding_for(doc, t / "evtdiag.exe");
  ASSERT_NE(f, nullptr) << r.out;
  bool yara = false, hash = false;
  for (const json& m : (*f)["matches"]) {
    if (m["type"] == "yara" && m["rule"] == kEngineRule) yara = true;
    if (m["type"] == "hash" && m["algorithm"] == "sha256" && m["source"] == cfg / "iocs.txt") hash = true;
  }
  EXPECT_TRUE(yara) << f->dump(2);
  EXPECT_TRUE(hash) << f->dump(2);
  EXPECT_EQ((*f)["severity"], "alert");
  EXPECT_EQ((*f)["sha256"], sha256_of(positive));
  // The built-in hash and path lists and the user list are all recorded.
  EXPECT_EQ(doc["scan"]["ioc_sets"].size(), 3u);
}

TEST(Cli, BenignTreeExitsZero) {
  TempDir t;
  write_file(t / "a.txt", "hello");
  write_file(t / "b.bin", std::string("MZ\0\0not really", 14));
  write_file(t / "empty", "");
  RunResult r = run({kBin, "scan", t.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json doc = parse_report(r);  // not a TTY: JSON by default
  EXPECT_TRUE(doc["findings"].empty());
  EXPECT_EQ(doc["stats"]["files_scanned"], 3);
}

TEST(Cli, MalformedIocLineIsFatalWithFileAndLine) {
  TempDir t, cfg;
  write_file(t / "a", "x");
  write_file(cfg / "bad.txt", "# header\nd41d8cd98f00b204e9800998ecf8427e;ok\nnothex;desc\n");
  RunResult r = run({kBin, "scan", "--iocs", cfg / "bad.txt", "-o", cfg / "report.json", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(cfg / "bad.txt" + ":3: "), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  // Nothing was scanned and no report (or temporary file) was left behind.
  EXPECT_EQ(list_dir(cfg.path()), std::vector<std::string>{"bad.txt"});
}

TEST(Cli, RuleCompileErrorIsFatal) {
  TempDir t, cfg;
  write_file(t / "a", "x");
  write_file(cfg / "bad.yar", "rule fine { condition: true }\n\nrule broken { condition: $nope }\n");
  RunResult r = run({kBin, "scan", "--rules", cfg / "bad.yar", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(cfg / "bad.yar:3: "), std::string::npos) << r.err;
}

TEST(Cli, UnreadableIocFileIsFatal) {
  TempDir t;
  RunResult r = run({kBin, "scan", "--iocs", t / "missing.txt", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.txt: No such file or directory"), std::string::npos) << r.err;
}

TEST(Cli, PerFileErrorsWithoutFindingsExitThree) {
  TempDir t;
  write_file(t / "ok", "fine");
  RunResult r = run({kBin, "scan", t.path(), t / "does-not-exist"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["errors"].size(), 1u);
  EXPECT_EQ(doc["errors"][0]["path"], t / "does-not-exist");
  EXPECT_EQ(doc["stats"]["errors"], 1);
}

TEST(Cli, FindingsWinOverErrorsForTheExitCode) {
  TempDir t;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  RunResult r = run({kBin, "scan", t.path(), t / "does-not-exist"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

TEST(Cli, OutputFileIsWrittenWholeAndNoTemporaryRemains) {
  TempDir t, out;
  write_file(t / "a", "x");
  RunResult r = run({kBin, "scan", "-o", out / "report.json", t.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(list_dir(out.path()), std::vector<std::string>{"report.json"});
  json doc = json::parse(test::read_file(out / "report.json"));
  EXPECT_EQ(doc["stats"]["files_scanned"], 1);
}

TEST(Cli, ReportOrBaselineInsideAScannedRootIsFatalUnlessExcluded) {
  TempDir t;
  write_file(t / "a", "x");
  for (const std::string option : {"-o", "--write-baseline"}) {
    const std::string target = t / "a";  // would even replace a scanned file
    RunResult r = run({kBin, "scan", option, target, t.path()});
    EXPECT_EQ(r.exit_code, 2) << option;
    EXPECT_NE(r.err.find(option + " " + target + " lies inside the scanned path"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--exclude '" + target + "*'"), std::string::npos) << r.err;
    EXPECT_EQ(list_dir(t.path()), std::vector<std::string>{"a"});
    EXPECT_EQ(test::read_file(target), "x");
  }
  // With the suggested exclude it is written, and neither it nor its
  // temporary file is swept.
  RunResult ok = run({kBin, "scan", "-o", t / "report.json", "--exclude", t / "report.json*", "--write-baseline",
                      t / "base.json", "--exclude", t / "base.json*", t.path()});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  json doc = json::parse(test::read_file(t / "report.json"));
  EXPECT_EQ(doc["stats"]["files_scanned"], 1);
  EXPECT_TRUE(std::filesystem::exists(t / "base.json"));
}

TEST(Cli, AbsoluteExcludeOfWrittenFilesWorksWithARelativeRoot) {
  TempDir w, cfg;
  test::make_dir(w / "t1");
  write_file(w / "t1/a.txt", "alpha");
  write_file(cfg / "r.yar", "rule user_rule { strings: $a = \"user_rule\" condition: $a }");
  // As `--exclude "$PWD/t1/rc"` with the root given as `t1`.
  RunResult r = run({kBin, "scan", "--rules", cfg / "r.yar", "--rule-cache", "t1/rc", "--exclude", w / "t1/rc",
                     "--cache", "t1/c.db", "--exclude", w / "t1/c.db*", "--", "t1"},
                    "/dev/null", w.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json doc = parse_report(r);
  EXPECT_EQ(doc["stats"]["files_scanned"], 1);
  EXPECT_TRUE(doc["findings"].empty()) << doc["findings"].dump();
  std::set<std::string> excluded;
  for (const json& s : doc["skipped"]) {
    if (s["reason"] == "excluded") excluded.insert(s["path"]);
  }
  EXPECT_TRUE(excluded.count("t1/rc") == 1 && excluded.count("t1/c.db") == 1) << doc["skipped"].dump();
  // The compiled set and the cache's key file.
  EXPECT_EQ(list_dir(w / "t1/rc").size(), 2u) << "the excluded rule cache is used";
}

TEST(Cli, SameRootTwiceOrARootInsideAnotherIsScannedOnce) {
  TempDir t, other;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  write_file(t / "a.txt", "alpha");
  write_file(other / "b.txt", "bravo");
  RunResult r = run({kBin, "scan", t.path(), other.path(), t.path() + "/", t / "evtdiag.exe"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  EXPECT_EQ(doc["stats"]["files_scanned"], 3);
  EXPECT_EQ(doc["stats"]["findings"], 1);
  EXPECT_EQ(doc["findings"].size(), 1u);
  EXPECT_EQ(doc["scan"]["roots"], (json{t.path(), other.path()}));
  EXPECT_NE(r.err.find("note: PATH " + t.path() + "/ is the same as PATH " + t.path()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("note: PATH " + (t / "evtdiag.exe") + " lies inside PATH " + t.path()), std::string::npos)
      << r.err;
  // Order does not matter: the covering root is kept.
  RunResult rev = run({kBin, "scan", "--quiet", t / "evtdiag.exe", t.path()});
  ASSERT_EQ(rev.exit_code, 1) << rev.err;
  EXPECT_EQ(parse_report(rev)["stats"]["files_scanned"], 2);
  EXPECT_TRUE(rev.err.empty()) << rev.err;
}

// A root is dropped only for lying inside a root that is kept. Here the
// outer root (absolute) spells the innermost one ".../tree/a/b", which the
// glob excludes; the middle and innermost roots are spelt relative, so the
// glob matches neither there. The middle root lies inside the outer one
// and is dropped; the innermost must still be swept, not dropped for lying
// inside the middle one.
TEST(Cli, RootIsNotDroppedForLyingInsideARootThatIsItselfDropped) {
  TempDir t;
  std::filesystem::create_directories(t / "tree/a/b");
  write_file(t / "tree/a/b/evtdiag.exe", test::synth_swift_engine());
  RunResult r = run({kBin, "scan", "--exclude", "*/tree/a/b", t / "tree", "tree/a", "tree/a/b"}, "/dev/null", t.path());
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const json doc = parse_report(r);
  EXPECT_EQ(doc["findings"].size(), 1u) << r.out;
  EXPECT_EQ(doc["scan"]["roots"], (json{t / "tree", "tree/a/b"}));
  EXPECT_NE(r.err.find("note: PATH tree/a lies inside PATH " + (t / "tree")), std::string::npos) << r.err;
}

// An output on another filesystem that --one-file-system keeps the walk out
// of is not "inside what is scanned" (the usual `scan -x / -o /mnt/usb/...`).
TEST(Cli, OutputOnAFilesystemTheWalkDoesNotEnterIsAllowed) {
  struct stat dev {
  }, shm{};
  if (::stat("/dev", &dev) != 0 || ::stat("/dev/shm", &shm) != 0 || dev.st_dev == shm.st_dev ||
      ::access("/dev/shm", W_OK) != 0) {
    GTEST_SKIP() << "needs a writable /dev/shm on its own filesystem";
  }
  const std::string out = "/dev/shm/iocsweep-cli-test-" + std::to_string(::getpid()) + ".json";
  // /dev is devtmpfs, skipped by default: --include-fs makes it walked.
  RunResult r = run({kBin, "scan", "--no-builtin", "-q", "--include-fs", "devtmpfs", "-x", "-o", out, "/dev"});
  const bool written = ::access(out.c_str(), F_OK) == 0;
  ::unlink(out.c_str());
  EXPECT_NE(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.find("lies inside the scanned path"), std::string::npos) << r.err;
  EXPECT_TRUE(written);
  // Without -x the walk would enter /dev/shm: refused, naming the fix.
  RunResult refused = run({kBin, "scan", "--no-builtin", "-q", "--include-fs", "devtmpfs", "-o", out, "/dev"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("lies inside the scanned path /dev"), std::string::npos) << refused.err;
  EXPECT_NE(::access(out.c_str(), F_OK), 0);
}

// A --quiet run (cron) prints no warnings; the report keeps them.
TEST(Cli, LoadWarningsAreInTheReportEvenWhenQuiet) {
  TempDir t, cfg;
  write_file(t / "a.txt", "alpha");
  std::filesystem::create_directories(cfg / "iocs");
  write_file(cfg / "iocs/hash-iocs.txt", "not-a-hash;bad line\n" + sha256_hex("alpha") + ";80;good line\n");
  RunResult r = run({kBin, "scan", "--quiet", "--no-builtin", "--iocs", cfg / "iocs", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const json doc = parse_report(r);
  ASSERT_EQ(doc["scan"]["load_warnings"].size(), 1u) << doc["scan"].dump();
  EXPECT_NE(doc["scan"]["load_warnings"][0].get<std::string>().find("hash-iocs.txt:1"), std::string::npos)
      << doc["scan"]["load_warnings"].dump();
  // Without --quiet the same line is on stderr.
  RunResult loud = run({kBin, "scan", "--no-builtin", "--iocs", cfg / "iocs", t.path()});
  EXPECT_NE(loud.err.find("hash-iocs.txt:1"), std::string::npos) << loud.err;
}

// --image is checked before anything is loaded or written: it must be a
// readable regular file or block device, no output may name it, and a scan
// needs a PATH or an image.
TEST(Cli, ImageIsCheckedBeforeScanning) {
  TempDir t, out;
  write_file(t / "disk.dd", std::string(512, '\0'));
  RunResult neither = run({kBin, "scan", "--no-builtin"});
  EXPECT_EQ(neither.exit_code, 2);
  EXPECT_NE(neither.err.find("scan: PATH, --image, --processes or --pid is required"), std::string::npos)
      << neither.err;
  RunResult missing = run({kBin, "scan", "--no-builtin", "-o", out / "r.json", "--image", t / "missing.dd"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--image " + (t / "missing.dd") + ": No such file or directory"), std::string::npos)
      << missing.err;
  RunResult directory = run({kBin, "scan", "--no-builtin", "--image", t.path(), t.path()});
  EXPECT_EQ(directory.exit_code, 2);
  EXPECT_NE(directory.err.find("is a directory; an image is a regular file or a block device"), std::string::npos)
      << directory.err;
  RunResult clash = run({kBin, "scan", "--no-builtin", "--image", t / "disk.dd", "-o", t / "disk.dd", out.path()});
  EXPECT_EQ(clash.exit_code, 2);
  EXPECT_NE(clash.err.find("-o and --image name the same file: "), std::string::npos) << clash.err;
  EXPECT_EQ(test::read_file(t / "disk.dd"), std::string(512, '\0'));
  EXPECT_NE(::access((out / "r.json").c_str(), F_OK), 0);
  // An image alone (or several, each once) is a valid scan.
  RunResult alone = run({kBin, "scan", "--no-builtin", "--image", t / "disk.dd", "--image", t / "disk.dd"});
  EXPECT_NE(alone.exit_code, 2) << alone.err;
  EXPECT_NE(alone.err.find("note: --image " + (t / "disk.dd") + " is the same as --image"), std::string::npos)
      << alone.err;
}

TEST(Cli, UnwritableOutputIsFatalBeforeScanning) {
  TempDir t, out;
  write_file(t / "a", "x");
  RunResult r = run({kBin, "scan", "-o", out / "no/such/dir/report.json", t.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot create the output file"), std::string::npos) << r.err;
}

TEST(Cli, NonUtf8NameKeepsItsBytes) {
  TempDir t;
  const std::string name = "bad\xFF\xFEname.exe";
  write_file(t / name, test::synth_swift_engine());
  RunResult r = run({kBin, "scan", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["findings"].size(), 1u);
  EXPECT_EQ(doc["findings"][0]["path_hex"], to_hex(std::string_view(t / name)));
}

// `owner` comes from /etc/passwd, read by iocsweep itself (no NSS): an id
// with an entry is its name, one without stays numeric.
TEST(Cli, OwnerExternalIsTheAccountNameFromEtcPasswd) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file an owner with no account";
  TempDir t, rules;
  write_file(t / "by-root.bin", "owned by root");
  write_file(t / "by-nobody-known.bin", "owned by an id with no account");
  ASSERT_EQ(::chown((t / "by-nobody-known.bin").c_str(), 4242424, 0), 0);
  write_file(rules / "r.yar",
             "rule owner_root { condition: owner == \"root\" }\n"
             "rule owner_numeric { condition: owner == \"4242424\" }\n");
  RunResult r = run({kBin, "scan", "--no-builtin", "--no-rule-cache", "--rules", rules / "r.yar", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  const json* root = finding_for(doc, t / "by-root.bin");
  const json* numeric = finding_for(doc, t / "by-nobody-known.bin");
  ASSERT_NE(root, nullptr) << r.out;
  ASSERT_NE(numeric, nullptr) << r.out;
  EXPECT_EQ((*root)["matches"][0]["rule"], "owner_root");
  EXPECT_EQ((*numeric)["matches"][0]["rule"], "owner_numeric");
}

// openssl.cnf can load providers and engines from the host: iocsweep
// never reads it (OPENSSL_CONF or the default), so one that would break
// every digest changes nothing.
TEST(Cli, OpensslConfigurationIsNeverRead) {
  TempDir t, cfg;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  write_file(cfg / "openssl.cnf",
             "config_diagnostics = 1\nopenssl_conf = conf\n[conf]\nproviders = prov\n"
             "[prov]\nbroken = broken_sect\n[broken_sect]\nmodule = /nonexistent.so\nactivate = 1\n");
  ::setenv("OPENSSL_CONF", (cfg / "openssl.cnf").c_str(), 1);
  RunResult r = run({kBin, "scan", "--no-rule-cache", t.path()});
  ::unsetenv("OPENSSL_CONF");
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  const json* f = finding_for(doc, t / "evtdiag.exe");
  ASSERT_NE(f, nullptr) << r.out;
  EXPECT_EQ((*f)["sha256"], sha256_of(test::synth_swift_engine()));
}

TEST(Cli, TextFormatIsReadable) {
  TempDir t;
  write_file(t / "evt\ndiag.exe", test::synth_swift_engine());
  RunResult r = run({kBin, "scan", "--format", "text", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("ALERT score="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("evt\\ndiag.exe"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(kEngineRule), std::string::npos) << r.out;
}

// --follow-symlinks: a link planted in the tree does not lead the sweep onto
// /proc, which the walk skips; --include-fs proc lets it.
TEST(Cli, FollowedLinkToProcIsSkippedUnlessIncluded) {
  if (::access("/proc/version", R_OK) != 0) GTEST_SKIP() << "no /proc/version here";
  TempDir t, cfg;
  ASSERT_EQ(::symlink("/proc/version", (t / "version").c_str()), 0);
  write_file(cfg / "r.yar", "rule proc_version { strings: $a = \"Linux version\" condition: $a }");
  RunResult r =
      run({kBin, "scan", "--no-builtin", "--no-rule-cache", "--rules", cfg / "r.yar", "--follow-symlinks", t.path()});
  ASSERT_NE(r.exit_code, 2) << r.err;
  json doc = parse_report(r);
  EXPECT_TRUE(doc["findings"].empty()) << doc["findings"].dump();
  ASSERT_EQ(doc["skipped"].size(), 1u) << doc["skipped"].dump();
  EXPECT_EQ(doc["skipped"][0]["path"], t / "version");
  EXPECT_EQ(doc["skipped"][0]["reason"], "filesystem");
  EXPECT_EQ(doc["skipped"][0]["detail"], "proc");
  RunResult included = run({kBin, "scan", "--no-builtin", "--no-rule-cache", "--rules", cfg / "r.yar",
                            "--follow-symlinks", "--include-fs", "proc", t.path()});
  EXPECT_EQ(included.exit_code, 1) << included.err;
  const json read = parse_report(included);
  EXPECT_NE(finding_for(read, t / "version"), nullptr) << included.out;
}

TEST(Cli, MaxFilesizeSkipsAndReports) {
  TempDir t;
  write_file(t / "big", std::string(5000, 'x'));
  RunResult r = run({kBin, "scan", "--max-filesize", "4K", t.path()});
  // Its bytes were never matched: the sweep is not clean (exit 3).
  EXPECT_EQ(r.exit_code, 3) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["skipped"].size(), 1u);
  EXPECT_EQ(doc["skipped"][0]["reason"], "too_large");
  EXPECT_EQ(doc["stats"]["files_skipped"], 1);
  EXPECT_EQ(doc["stats"]["skipped_unscanned"], 1);
}

TEST(Cli, SkippedByDesignLeavesTheSweepClean) {
  // A FIFO is never opened and an --exclude'd file is left out as asked:
  // listed in skipped[], but nothing the user asked to sweep was hidden.
  TempDir t;
  ASSERT_EQ(::mkfifo((t / "pipe").c_str(), 0600), 0);
  write_file(t / "left-out", "x");
  RunResult r = run({kBin, "scan", "--exclude", "*/left-out", t.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json doc = parse_report(r);
  EXPECT_EQ(doc["stats"]["files_skipped"], 2);
  EXPECT_EQ(doc["stats"]["skipped_unscanned"], 0);
}

TEST(Cli, SkippedContentFailsTheGateWithFindingsToo) {
  // A finding still exits 1; the text report says the sweep is incomplete.
  TempDir t;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  write_file(t / "big", std::string(5u << 20, 'x'));
  RunResult r = run({kBin, "scan", "--max-filesize", "4M", "--format", "text", t.path()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("1 with content not scanned"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("INCOMPLETE"), std::string::npos) << r.out;
}

TEST(Cli, NoBuiltinDropsThePack) {
  TempDir t;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  RunResult r = run({kBin, "scan", "--no-builtin", t.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json doc = parse_report(r);
  EXPECT_TRUE(doc["scan"]["rulesets"].empty());
  EXPECT_TRUE(doc["scan"]["ioc_sets"].empty());
}

TEST(Cli, BadArgumentsExitTwo) {
  TempDir t;
  EXPECT_EQ(run({kBin, "scan", "--threads", "0", t.path()}).exit_code, 2);
  EXPECT_EQ(run({kBin, "scan", "--max-filesize", "lots", t.path()}).exit_code, 2);
  EXPECT_EQ(run({kBin, "scan", "--format", "xml", t.path()}).exit_code, 2);
  EXPECT_EQ(run({kBin, "scan"}).exit_code, 2);
  EXPECT_EQ(run({kBin, "frobnicate"}).exit_code, 2);
  EXPECT_EQ(run({kBin}).exit_code, 2);
}

TEST(Cli, HelpDocumentsExitCodes) {
  RunResult r = run({kBin, "scan", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Exit codes:"), std::string::npos);
  EXPECT_NE(r.out.find("3  no findings, but the scan is not clean"), std::string::npos) << r.out;
}

TEST(Cli, VersionAndRulesList) {
  RunResult v = run({kBin, "version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("iocsweep ", 0), 0u);
  EXPECT_NE(v.out.find("\nlibyara 4."), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("\nOpenSSL 3."), std::string::npos) << v.out;
  RunResult l = run({kBin, "rules", "list", "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  json rules = json::parse(l.out);
  bool found = false;
  for (const json& rule : rules) {
    if (rule["name"] == kEngineRule) {
      found = true;
      EXPECT_EQ(rule["namespace"], "builtin:lazarus_swift_evtdiag.yar");
      EXPECT_TRUE(rule["meta"].contains("reference"));
      EXPECT_EQ(rule["score"], rule["meta"]["score"]);
    }
  }
  EXPECT_TRUE(found);
}

TEST(Cli, RulesListKeepsEveryValueOfARepeatedMetaKeyAsReportsDo) {
  TempDir t;
  write_file(t / "r.yar",
             "rule twice { meta: reference = \"https://a.example\" reference = \"https://b.example\" "
             "condition: false }");
  RunResult l = run({kBin, "rules", "list", "--json", "--no-builtin", "--rules", t / "r.yar"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  const json rules = json::parse(l.out);
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0]["meta"]["reference"], json::array({"https://a.example", "https://b.example"}));
}

// A cached set that fails its HMAC is said on stderr and in the report's
// load warnings, and the scan goes on with the rules compiled again.
TEST(Cli, TamperedRuleCacheFileIsWarnedAboutAndRebuilt) {
  TempDir t, cfg;
  write_file(cfg / "r.yar", "rule user_rule { strings: $a = \"user_rule\" condition: $a }");
  write_file(t / "a", "user_rule");
  const std::vector<std::string> args = {kBin,          "scan",         "--no-builtin", "--rules",
                                         cfg / "r.yar", "--rule-cache", cfg / "rc",     t.path()};
  ASSERT_EQ(run(args).exit_code, 1);
  std::string entry;
  for (const std::string& n : list_dir(cfg / "rc")) {
    if (n.ends_with(".yarc")) entry = cfg / ("rc/" + n);
  }
  ASSERT_FALSE(entry.empty());
  std::string bytes = test::read_file(entry);
  bytes.back() ^= 1;
  write_file(entry, bytes);
  RunResult r = run(args);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("HMAC does not verify"), std::string::npos) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["scan"]["load_warnings"].size(), 1u) << doc["scan"].dump();
  EXPECT_NE(doc["scan"]["load_warnings"][0].get<std::string>().find("HMAC does not verify"), std::string::npos);
  EXPECT_EQ(doc["findings"].size(), 1u);
  // Rebuilt: the third run has nothing to say.
  RunResult third = run(args);
  EXPECT_EQ(third.err.find("HMAC"), std::string::npos) << third.err;
}

TEST(Cli, RuleCacheIsWrittenOutsideTheScannedTreeOnly) {
  TempDir t, outside;
  write_file(outside / "r.yar", "rule user_rule { condition: false }");
  write_file(t / "a", "x");
  // Cache directory inside the scanned tree: never created.
  ::setenv("XDG_CACHE_HOME", (t / "cache").c_str(), 1);
  RunResult inside = run({kBin, "scan", "--rules", outside / "r.yar", t.path()});
  EXPECT_EQ(inside.exit_code, 0) << inside.err;
  EXPECT_EQ(list_dir(t.path()), std::vector<std::string>{"a"});
  // Excluded from the sweep: allowed.
  RunResult excluded = run({kBin, "scan", "--rules", outside / "r.yar", "--exclude", t / "cache", t.path()});
  EXPECT_EQ(excluded.exit_code, 0) << excluded.err;
  EXPECT_EQ(list_dir(t / "cache/iocsweep").size(), 2u);  // the compiled set and the key file
  // Outside the tree: used; and --no-rule-cache writes nothing.
  ::setenv("XDG_CACHE_HOME", (outside / "cache").c_str(), 1);
  RunResult none = run({kBin, "scan", "--no-rule-cache", "--rules", outside / "r.yar", t / "a"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_FALSE(std::filesystem::exists(outside / "cache"));
  RunResult used = run({kBin, "scan", "--rules", outside / "r.yar", t / "a"});
  EXPECT_EQ(used.exit_code, 0) << used.err;
  EXPECT_EQ(list_dir(outside / "cache/iocsweep").size(), 2u);
  // The built-in pack alone never writes a cache.
  ::setenv("XDG_CACHE_HOME", (outside / "cache2").c_str(), 1);
  EXPECT_EQ(run({kBin, "scan", t / "a"}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(outside / "cache2"));
}

TEST(Cli, BrokenRuleInADirectoryIsSkippedWithAWarning) {
  TempDir t, rules;
  write_file(rules / "good.yar", "rule good_rule { strings: $a = \"GOODNEEDLE\" condition: $a }");
  write_file(rules / "bad.yar", "rule bad_rule { condition: $missing }");
  write_file(t / "f", "xx GOODNEEDLE xx");
  RunResult r = run({kBin, "scan", "--no-rule-cache", "--rules", rules.path(), t.path()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("warning: " + rules / "bad.yar: skipped, it does not compile: " + rules / "bad.yar:1: "),
            std::string::npos)
      << r.err;
  RunResult named = run({kBin, "scan", "--no-rule-cache", "--rules", rules / "bad.yar", t.path()});
  EXPECT_EQ(named.exit_code, 2);
}

// A rule file's name (or text quoted by libyara) is outside text: a name
// carrying an ANSI sequence must not reach the terminal as one, neither in
// a load warning, nor in a fatal load error, nor in `rules check`.
TEST(Cli, RuleLoadMessagesCarryNoRawEscapeBytes) {
  TempDir t, rules;
  const std::string evil = "bad\x1b]0;owned\x07\x1b[2J.yar";
  write_file(rules / "good.yar", "rule good_rule { strings: $a = \"GOODNEEDLE\" condition: $a }");
  write_file(rules / evil, "rule bad_rule { condition: $missing }");
  write_file(t / "f", "xx GOODNEEDLE xx");
  const auto expect_clean = [](const std::string& text) {
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << escape_for_terminal(text);
    EXPECT_EQ(text.find('\x07'), std::string::npos) << escape_for_terminal(text);
    EXPECT_NE(text.find("bad\\x1b]0;owned\\x07\\x1b[2J.yar"), std::string::npos) << escape_for_terminal(text);
  };
  RunResult warned = run({kBin, "scan", "--no-rule-cache", "--rules", rules.path(), t.path()});
  EXPECT_EQ(warned.exit_code, 1) << warned.err;
  expect_clean(warned.err);
  RunResult fatal = run({kBin, "scan", "--no-rule-cache", "--rules", rules / evil, t.path()});
  EXPECT_EQ(fatal.exit_code, 2);
  expect_clean(fatal.err);
  RunResult missing = run({kBin, "rules", "check", rules / ("none-" + evil)});
  EXPECT_EQ(missing.exit_code, 2);
  expect_clean(missing.err);
  RunResult checked = run({kBin, "rules", "check", rules.path()});
  EXPECT_EQ(checked.exit_code, 2);
  expect_clean(checked.out);
}

TEST(Cli, RepeatableOptionsTakeOneValueEachAndFilesLoadOnce) {
  TempDir t, rules;
  write_file(rules / "r.yar", "rule only_once { condition: false }");
  write_file(t / "a", "x");
  test::make_dir(t / "sub");
  write_file(t / "sub/b", "y");
  // Paths after --rules DIR are scan roots, not more rule locations; the
  // same rule file reached twice is loaded once.
  RunResult r = run({kBin, "scan", "--no-rule-cache", "--rules", rules.path(), "--rules", rules / "r.yar", "--exclude",
                     "*.none", t / "a", t / "sub"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json doc = parse_report(r);
  EXPECT_EQ(doc["scan"]["roots"], json::array({t / "a", t / "sub"}));
  EXPECT_EQ(doc["stats"]["files_scanned"], 2);
  int user_sets = 0;
  for (const json& set : doc["scan"]["rulesets"]) user_sets += set["name"] == rules / "r.yar" ? 1 : 0;
  EXPECT_EQ(user_sets, 1);
}

TEST(Cli, BuiltinPathIndicatorsMatchAMountedWindowsImage) {
  TempDir t;
  test::make_dir(t / "Windows");
  test::make_dir(t / "Windows/System32");
  write_file(t / "Windows/gpvc.exe", "benign bytes in a suspicious place");
  write_file(t / "Windows/System32/msdtc.exe", "the genuine location");
  write_file(t / "big_msdtc.bat", "x");
  RunResult r = run({kBin, "scan", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["findings"].size(), 1u) << doc["findings"].dump(2);
  const json& f = doc["findings"][0];
  EXPECT_EQ(f["path"], t / "Windows/gpvc.exe");
  EXPECT_EQ(f["matches"][0]["type"], "filename");
  EXPECT_EQ(f["matches"][0]["source"], "builtin:lazarus_filenames.txt");
  EXPECT_EQ(f["matches"][0]["score"], 80);
  EXPECT_FALSE(f["matches"][0]["description"].get<std::string>().empty());
}

// The IMEKLMG rule tests the path the pipeline gives the filepath external:
// a mounted image's /.../AppData/Roaming/IMEKLMG.exe, of the documented size.
TEST(Cli, BuiltinImeklmgRuleSeesTheScannedPathAndSize) {
  TempDir t;
  test::make_dir(t / "Users");
  test::make_dir(t / "Users/bob");
  test::make_dir(t / "Users/bob/AppData");
  test::make_dir(t / "Users/bob/AppData/Roaming");
  test::make_dir(t / "Users/bob/AppData/Local");
  std::string sample = test::synth_pe("benign");
  sample.resize(487424, '\0');
  write_file(t / "Users/bob/AppData/Roaming/IMEKLMG.exe", sample);
  write_file(t / "Users/bob/AppData/Local/IMEKLMG.exe", sample);  // not %APPDATA%
  RunResult r = run({kBin, "scan", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["findings"].size(), 1u) << doc["findings"].dump(2);
  const json& f = doc["findings"][0];
  EXPECT_EQ(f["path"], t / "Users/bob/AppData/Roaming/IMEKLMG.exe");
  std::set<std::string> kinds;
  for (const json& m : f["matches"])
    kinds.insert(m["type"].get<std::string>() + ":" + m.value("rule", m.value("pattern", "")));
  EXPECT_TRUE(kinds.contains("yara:IOCSWEEP_Lazarus_Bluenoroff_IMEKLMG_RAT")) << f["matches"].dump(2);
  EXPECT_EQ(f["matches"].size(), 2u) << "the rule and the path indicator";
}

TEST(Cli, IocsListShowsEverySetWithCounts) {
  TempDir cfg;
  write_file(cfg / "names.txt", "\\\\Windows\\\\gpvc\\.exe;80\n");
  RunResult r = run({kBin, "iocs", "list", "--json", "--filename-iocs", cfg / "names.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json sets = json::parse(r.out);
  ASSERT_EQ(sets.size(), 3u);
  EXPECT_EQ(sets[0]["name"], "builtin:lazarus_hashes.txt");
  EXPECT_EQ(sets[0]["kind"], "hash");
  EXPECT_GE(sets[0]["counts"]["md5"].get<int>(), 1);
  EXPECT_EQ(sets[0]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(sets[1]["name"], "builtin:lazarus_filenames.txt");
  EXPECT_EQ(sets[1]["kind"], "filename");
  EXPECT_GE(sets[1]["counts"]["filename"].get<int>(), 10);
  EXPECT_EQ(sets[2]["name"], cfg / "names.txt");
  EXPECT_EQ(sets[2]["counts"]["filename"], 1);
}

// iocs list shows what scan --signature-base would load from DIR/iocs.
TEST(Cli, IocsListTakesASignatureBaseCheckout) {
  TempDir sb;
  std::filesystem::create_directories(sb / "iocs");
  write_file(sb / "iocs/hash-iocs.txt", sha256_hex("alpha") + ";80;x\n");
  write_file(sb / "iocs/filename-iocs.txt", "\\\\evil\\.exe;70\n");
  RunResult r = run({kBin, "iocs", "list", "--json", "--no-builtin", "--signature-base", sb.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json sets = json::parse(r.out);
  ASSERT_EQ(sets.size(), 2u) << r.out;
  EXPECT_EQ(sets[0]["kind"], "hash");
  EXPECT_EQ(sets[0]["counts"]["sha256"], 1);
  EXPECT_EQ(sets[1]["kind"], "filename");
  EXPECT_EQ(sets[1]["counts"]["filename"], 1);
}

TEST(Cli, NdjsonStreamsOneRecordPerLine) {
  TempDir t;
  write_file(t / "evtdiag.exe", test::synth_swift_engine());
  write_file(t / "big", std::string(5000, 'x'));
  RunResult r = run({kBin, "scan", "--format", "ndjson", "--max-filesize", "4K", t.path(), t / "missing"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  std::vector<json> records;
  std::size_t start = 0;
  while (start < r.out.size()) {
    const std::size_t nl = r.out.find('\n', start);
    ASSERT_NE(nl, std::string::npos) << "every record ends its line";
    records.push_back(json::parse(r.out.substr(start, nl - start)));  // throws if a line is not JSON
    start = nl + 1;
  }
  ASSERT_GE(records.size(), 5u);
  EXPECT_EQ(records.front()["record"], "scan_started");
  EXPECT_EQ(records.front()["schema_version"], 1);
  EXPECT_FALSE(records.front()["scan"].contains("complete"));
  EXPECT_EQ(records.back()["record"], "scan_finished");
  EXPECT_EQ(records.back()["scan"]["complete"], true);
  EXPECT_EQ(records.back()["stats"]["findings"], 1);
  std::map<std::string, int> kinds;
  for (const json& rec : records) ++kinds[rec["record"].get<std::string>()];
  EXPECT_EQ(kinds["finding"], 1);
  EXPECT_EQ(kinds["error"], 1);
  EXPECT_EQ(kinds["skipped"], 1);
  for (const json& rec : records) {
    if (rec["record"] == "finding") {
      EXPECT_EQ(rec["path"], t / "evtdiag.exe");
      bool engine = false;
      for (const json& m : rec["matches"]) engine = engine || m.value("rule", "") == kEngineRule;
      EXPECT_TRUE(engine) << rec.dump();
    }
  }
}

TEST(Cli, RulesCheckReportsEachFile) {
  TempDir rules;
  write_file(rules / "good.yar", "rule good_rule { condition: true }\nrule second { condition: false }");
  write_file(rules / "bad.yar", "rule fine { condition: true }\n\nrule bad_rule { condition: $missing }\n");
  RunResult r = run({kBin, "rules", "check", rules.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("ERROR  " + rules / "bad.yar\n  " + rules / "bad.yar:3: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("OK     " + rules / "good.yar (2 rules)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 files, 1 with errors"), std::string::npos) << r.out;
  RunResult ok = run({kBin, "rules", "check", rules / "good.yar"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  // `condition: true` leaves the prefilter nothing to check: said, with
  // the rule at fault.
  EXPECT_NE(
      ok.out.find("note: no prefilter, every file is YARA-scanned while this file is loaded: " +
                  rules / "good.yar:1: rule good_rule: condition can be true without a file size, header or name test"),
      std::string::npos)
      << ok.out;
  write_file(rules / "gated.yar", "rule pe { strings: $a = \"x\" condition: uint16(0) == 0x5A4D and $a }");
  RunResult gated = run({kBin, "rules", "check", rules / "gated.yar"});
  EXPECT_EQ(gated.exit_code, 0) << gated.out;
  EXPECT_EQ(gated.out.find("prefilter"), std::string::npos) << gated.out;
}

TEST(Cli, RulesCheckSaysWhatTheFilesTogetherCostEachFile) {
  // Files checked alone, then together as a scan loads them: what a file
  // not beginning with MZ meets, and what each set's gate can do.
  TempDir rules;
  std::string pe;
  for (std::size_t i = 0; i < kNonMzMinRules; ++i) {
    pe += "rule pe" + std::to_string(i) + " { strings: $a = \"P" + std::to_string(i) +
          "\" condition: uint16(0) == 0x5A4D and $a }\n";
  }
  write_file(rules / "pe.yar", pe);
  write_file(rules / "text.yar", "rule text { strings: $a = \"t\" condition: filesize < 10 and $a }");
  RunResult r = run({kBin, "rules", "check", rules.path()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("prefilter, the 2 files together (" + std::to_string(kNonMzMinRules + 1) + " rules):\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("a file beginning with MZ meets all " + std::to_string(kNonMzMinRules + 1) +
                       " rules; any other file meets 1\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  other files: size, header and name checks can rule files out\n"), std::string::npos) << r.out;
  // A rule naming an MZ rule requires MZ too: both are left out, and the
  // gate for other files still has only the text rule's check.
  write_file(rules / "any.yar",
             "rule pe_anything { strings: $a = \"x\" condition: uint16(0) == 0x5A4D and $a }\n"
             "rule any_pe { strings: $a = \"y\" condition: pe_anything and ($a or true) }\n");
  RunResult mixed = run({kBin, "rules", "check", rules.path()});
  EXPECT_EQ(mixed.exit_code, 0) << mixed.out;
  EXPECT_NE(mixed.out.find("any other file meets 1\n"), std::string::npos) << mixed.out;
  EXPECT_NE(mixed.out.find("  other files: size, header and name checks can rule files out\n"), std::string::npos)
      << mixed.out;
}

TEST(Cli, PrefilterKeepsEveryFinding) {
  // Files on both sides of each check: the same findings with and without
  // the prefilter, and a large (mapped) file's header is read for it.
  TempDir t, rules;
  // Enough rules requiring MZ for the second set (for other files), which
  // must report rules by their index in the whole set.
  std::string text;
  for (std::size_t i = 0; i < kNonMzMinRules; ++i) {
    text += "rule pe_filler" + std::to_string(i) + " { strings: $a = \"FILLER" + std::to_string(i) +
            "\" condition: uint16(0) == 0x5A4D and $a }\n";
  }
  write_file(rules / "r.yar",
             text +
                 "rule pe_needle { strings: $a = \"GATENEEDLE\" condition: uint16(0) == 0x5A4D and filesize < 40MB "
                 "and $a }\n"
                 "rule small_needle { strings: $a = \"GATENEEDLE\" condition: filesize < 100 and $a }\n");
  write_file(t / "pe_small", "MZ GATENEEDLE");
  write_file(t / "text_small", "xx GATENEEDLE");
  write_file(t / "pe_big", "MZ" + std::string(200, ' ') + "GATENEEDLE");
  write_file(t / "text_big", "ZM" + std::string(200, ' ') + "GATENEEDLE");
  // Above kMapThreshold: mapped, so the gate reads a pread copy of the head.
  write_file(t / "pe_mapped", "MZ" + std::string(kMapThreshold, ' ') + "GATENEEDLE");
  write_file(t / "text_mapped", "ZM" + std::string(kMapThreshold, ' ') + "GATENEEDLE");
  const auto findings = [&](bool prefilter) {
    std::vector<std::string> args = {kBin, "scan", "--no-builtin", "--no-rule-cache", "--rules", rules / "r.yar"};
    if (!prefilter) args.push_back("--no-prefilter");
    args.push_back(t.path());
    RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    std::set<std::string> out;
    const json doc = parse_report(r);
    // The prefilter did its work (text_big and text_mapped never reach
    // libyara), or none with --no-prefilter.
    EXPECT_EQ(doc["stats"]["files_scanned"], 6);
    EXPECT_EQ(doc["stats"]["yara_prefiltered"], prefilter ? 2 : 0) << doc["stats"].dump();
    for (const json& f : doc["findings"]) {
      for (const json& m : f["matches"]) out.insert(f["path"].get<std::string>() + " " + m.value("rule", ""));
    }
    return out;
  };
  const std::set<std::string> expected = {t / "pe_small" + " pe_needle", t / "pe_small" + " small_needle",
                                          t / "text_small" + " small_needle", t / "pe_big" + " pe_needle",
                                          t / "pe_mapped" + " pe_needle"};
  EXPECT_EQ(findings(true), expected);
  EXPECT_EQ(findings(false), expected);
}

TEST(Cli, MinScoreFiltersWeakFindings) {
  TempDir t, rules;
  write_file(rules / "weak.yar", "rule weak { meta: score = 30 strings: $a = \"WEAKNEEDLE\" condition: $a }");
  write_file(t / "f", "WEAKNEEDLE");
  RunResult all = run({kBin, "scan", "--no-builtin", "--no-rule-cache", "--rules", rules / "weak.yar", t.path()});
  EXPECT_EQ(all.exit_code, 1);
  RunResult filtered = run(
      {kBin, "scan", "--no-builtin", "--no-rule-cache", "--rules", rules / "weak.yar", "--min-score", "40", t.path()});
  EXPECT_EQ(filtered.exit_code, 0) << filtered.err;
  json doc = parse_report(filtered);
  EXPECT_TRUE(doc["findings"].empty());
  EXPECT_EQ(doc["stats"]["findings_below_min_score"], 1);
  EXPECT_EQ(run({kBin, "scan", "--min-score", "101", t.path()}).exit_code, 2);
}

}  // namespace
}  // namespace iocsweep
