// plan_scan() straight from RawScanOptions: what a plan holds, the
// defaults it takes, and each class of mistake it refuses, with no scan
// run and no binary executed.
#include "cli/scan_plan.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "cli/scan_command.hpp"
#include "test_support.hpp"

namespace iocsweep::cli {
namespace {

using test::TempDir;
using test::write_file;

// A context that is no terminal and has no cache directory, so that
// plans do not depend on how the test is run.
PlanContext quiet_context() { return PlanContext{}; }

RawScanOptions scan_of(const std::string& path) {
  RawScanOptions raw;
  raw.paths = {path};
  return raw;
}

std::string error_of(const RawScanOptions& raw, const PlanContext& context = quiet_context()) {
  auto plan = plan_scan(raw, context);
  return plan ? std::string("(no error)") : plan.error().message;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ScanPlan, DefaultsComeFromTheCoreLibrary) {
  TempDir t;
  auto plan = plan_scan(scan_of(t.path()), quiet_context());
  ASSERT_TRUE(plan) << plan.error().message;
  const ScanConfig library;
  EXPECT_EQ(plan->scan.roots, std::vector<std::string>{t.path()});
  EXPECT_TRUE(plan->scan.images.empty());
  EXPECT_EQ(plan->scan.read.max_filesize, ReadOptions{}.max_filesize);
  EXPECT_EQ(plan->scan.archive.max_member_bytes, ReadOptions{}.max_filesize);
  EXPECT_EQ(plan->scan.archive.max_depth, ArchiveOptions{}.max_depth);
  EXPECT_EQ(plan->scan.yara_timeout_s, library.yara_timeout_s);
  EXPECT_EQ(plan->scan.min_score, library.min_score);
  EXPECT_EQ(plan->scan.archives, library.archives);
  EXPECT_EQ(plan->scan.rule_gate, library.rule_gate);
  EXPECT_EQ(plan->scan.max_bytes_per_s, library.max_bytes_per_s);
  EXPECT_EQ(plan->scan.max_load, library.max_load);
  EXPECT_FALSE(plan->scan.cache_min_age_ns);
  EXPECT_EQ(plan->scan.threads, default_thread_count());
  EXPECT_EQ(plan->format, "json");
  EXPECT_EQ(plan->fail_score, 0);
  EXPECT_FALSE(plan->nice);
  EXPECT_FALSE(plan->progress);
  EXPECT_TRUE(plan->cache.empty());
  EXPECT_TRUE(plan->output.empty());
  EXPECT_EQ(plan->syslog_socket, SyslogOptions{}.socket_path);
  EXPECT_EQ(plan->syslog_facility, SyslogOptions{}.facility);
  EXPECT_TRUE(plan->pack.builtin);
  EXPECT_TRUE(plan->pack.prefilter);
  EXPECT_TRUE(plan->pack.rule_cache.dir.empty());
  // What only the run makes is left to it.
  EXPECT_FALSE(plan->scan.pack.rules);
  EXPECT_FALSE(plan->scan.cache);
  EXPECT_FALSE(plan->scan.progress);
  EXPECT_FALSE(plan->scan.baseline_writer);
}

TEST(ScanPlan, SizeTextReadsBackToTheSameSize) {
  for (std::uint64_t bytes : {std::uint64_t{1}, std::uint64_t{1000}, std::uint64_t{4096}, std::uint64_t{256} << 20,
                              std::uint64_t{3} << 30, (std::uint64_t{1} << 20) + 1}) {
    auto parsed = parse_size(size_text(bytes));
    ASSERT_TRUE(parsed) << size_text(bytes);
    EXPECT_EQ(*parsed, bytes) << size_text(bytes);
  }
  EXPECT_EQ(size_text(std::uint64_t{256} << 20), "256M");
  EXPECT_EQ(RawScanOptions{}.max_filesize, "256M");
  EXPECT_EQ(RawScanOptions{}.syslog_facility, "user");
}

TEST(ScanPlan, TerminalsDecideFormatAndProgress) {
  TempDir t;
  PlanContext tty;
  tty.stdout_tty = true;
  tty.stderr_tty = true;
  auto plan = plan_scan(scan_of(t.path()), tty);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->format, "text");
  EXPECT_TRUE(plan->progress);
  RawScanOptions to_file = scan_of(t.path());
  to_file.output = "/dev/null";
  to_file.quiet = true;
  plan = plan_scan(to_file, tty);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->format, "json");
  EXPECT_FALSE(plan->progress);
  to_file.progress = true;
  to_file.format = "csv";
  plan = plan_scan(to_file, quiet_context());
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->format, "csv");
  EXPECT_TRUE(plan->progress);
}

TEST(ScanPlan, SettingsAreCarriedOver) {
  TempDir t;
  TempDir scanned;
  RawScanOptions raw = scan_of(scanned.path());
  raw.fail_on = "warning";
  raw.nice = 10;
  raw.io_idle = true;
  raw.threads = 3;
  raw.max_filesize = "1G";
  raw.max_rate_mb = 2.5;
  raw.archives = "off";
  raw.no_prefilter = true;
  raw.cache = t / "cache.db";
  raw.cache_min_age_s = 0.5;
  raw.verify_cache = true;
  raw.signature_base = {"/sb"};
  raw.syslog = true;
  raw.syslog_facility = "local3";
  auto plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->fail_score, 60);
  EXPECT_EQ(plan->nice, 10);
  EXPECT_TRUE(plan->io_idle);
  EXPECT_EQ(plan->scan.threads, 3u);
  EXPECT_EQ(plan->scan.read.max_filesize, std::uint64_t{1} << 30);
  EXPECT_EQ(plan->scan.max_bytes_per_s, 2.5e6);
  EXPECT_FALSE(plan->scan.archives);
  EXPECT_FALSE(plan->scan.rule_gate);
  EXPECT_FALSE(plan->pack.prefilter);
  EXPECT_EQ(plan->cache, t / "cache.db");
  EXPECT_EQ(plan->scan.cache_min_age_ns, 500000000);
  EXPECT_TRUE(plan->scan.verify_cache);
  EXPECT_EQ(plan->pack.rule_paths, std::vector<std::string>{"/sb/yara"});
  EXPECT_EQ(plan->pack.ioc_paths, std::vector<std::string>{"/sb/iocs"});
  EXPECT_EQ(plan->pack.file_type_paths, std::vector<std::string>{"/sb/misc/file-type-signatures.txt"});
  EXPECT_EQ(plan->syslog_facility, 19);
  // Planning opened nothing: the cache is not created yet.
  EXPECT_NE(::access((t / "cache.db").c_str(), F_OK), 0);
  raw.no_cache = true;
  plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->cache.empty());
  EXPECT_FALSE(plan->scan.verify_cache);
}

TEST(ScanPlan, SeverityThresholdsFollowTheReportsSeverities) {
  EXPECT_EQ(lowest_score_of("notice"), 40);
  EXPECT_EQ(lowest_score_of("warning"), 60);
  EXPECT_EQ(lowest_score_of("alert"), 80);
  EXPECT_EQ(lowest_score_of(""), 0);
  EXPECT_EQ(severity_for(lowest_score_of("alert")), "alert");
  EXPECT_NE(severity_for(lowest_score_of("alert") - 1), "alert");
}

TEST(ScanPlan, NeitherPathNorImageIsRefused) {
  EXPECT_EQ(error_of(RawScanOptions{}),
            "scan: PATH, --image, --processes or --pid is required (on the command line, or as PATH or image in the "
            "config file)");
}

TEST(ScanPlan, ProcessesAloneAreASweepAndPidsAreChecked) {
  RawScanOptions raw;
  raw.processes = true;
  raw.max_process_memory = "64M";
  Result<ScanPlan> plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->scan.all_processes);
  EXPECT_EQ(plan->scan.max_process_memory, std::uint64_t{64} << 20);
  raw = RawScanOptions{};
  raw.pids = {1, 42};
  plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_FALSE(plan->scan.all_processes);
  EXPECT_EQ(plan->scan.pids, (std::vector<int>{1, 42}));
  raw.pids = {0};
  EXPECT_EQ(error_of(raw), "--pid 0: a process id is a positive number");
  raw.pids = {1};
  raw.max_process_memory = "lots";
  EXPECT_EQ(error_of(raw).rfind("--max-process-memory: ", 0), 0u) << error_of(raw);
}

TEST(ScanPlan, BadValuesAreRefusedNamingTheOption) {
  TempDir t;
  RawScanOptions raw = scan_of(t.path());
  raw.max_filesize = "lots";
  EXPECT_EQ(error_of(raw).rfind("--max-filesize: ", 0), 0u) << error_of(raw);
  raw = scan_of(t.path());
  raw.exclude_from = {t / "missing.txt"};
  EXPECT_EQ(error_of(raw), "--exclude-from " + (t / "missing.txt") + ": cannot read the file");
  write_file(t / "nul.txt", std::string("ok\nbad\0glob\n", 12));
  raw.exclude_from = {t / "nul.txt"};
  EXPECT_EQ(error_of(raw), (t / "nul.txt") + ":2: NUL byte in an exclude glob");
  raw = scan_of(t.path());
  raw.baseline = t / "missing.json";
  EXPECT_EQ(error_of(raw).rfind("--baseline: ", 0), 0u) << error_of(raw);
  raw = scan_of(t.path());
  raw.syslog = true;
  raw.syslog_facility = "kern";
  EXPECT_TRUE(contains(error_of(raw), "--syslog-facility")) << error_of(raw);
}

// --syslog-server: its URL forms, its defaults, and what it refuses.
TEST(ScanPlan, SyslogServerUrlsAndTheirDefaults) {
  TempDir t;
  RawScanOptions raw = scan_of(t.path());
  raw.syslog_server = "tls://siem.example.org";
  raw.syslog_ca = t / "ca.pem";
  raw.syslog_timeout_s = 5;
  auto plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->syslog);  // implied
  EXPECT_EQ(plan->syslog_transport, SyslogTransport::kTls);
  EXPECT_EQ(plan->syslog_host, "siem.example.org");
  EXPECT_EQ(plan->syslog_port, "6514");
  EXPECT_EQ(plan->syslog_ca, t / "ca.pem");
  EXPECT_EQ(plan->syslog_timeout_s, 5);
  const auto tcp = parse_syslog_server("tcp://10.0.0.1:1514");
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->transport, SyslogTransport::kTcp);
  EXPECT_EQ(tcp->host, "10.0.0.1");
  EXPECT_EQ(tcp->port, "1514");
  EXPECT_EQ(parse_syslog_server("tcp://logs")->port, "514");
  const auto v6 = parse_syslog_server("tls://[::1]:6515");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "6515");
  for (const char* bad : {"udp://logs:514", "logs:514", "tcp://", "tcp://:514", "tcp://logs:", "tcp://logs:0",
                          "tcp://logs:65536", "tcp://logs:5x", "tcp://[::1", "tcp://[::1]x", "tcp://user@logs",
                          "tcp://::1", "tls://2001:db8::5:6514", "tcp://::1:514"}) {
    EXPECT_FALSE(parse_syslog_server(bad)) << bad;
  }
  raw = scan_of(t.path());
  raw.syslog_server = "udp://logs";
  EXPECT_EQ(error_of(raw).rfind("--syslog-server: ", 0), 0u) << error_of(raw);
  raw = scan_of(t.path());
  raw.syslog_server = "tcp://logs";
  raw.syslog_ca = t / "ca.pem";
  EXPECT_EQ(error_of(raw).rfind("--syslog-ca: ", 0), 0u) << error_of(raw);
  raw = scan_of(t.path());
  raw.syslog = true;
  plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->syslog_transport, SyslogTransport::kUnix);  // plain --syslog: the local socket
}

TEST(ScanPlan, WrittenFileInsideTheScanIsRefusedUnlessExcluded) {
  TempDir t;
  const std::vector<std::pair<std::string, void (*)(RawScanOptions&, const std::string&)>> options = {
      {"-o", [](RawScanOptions& r, const std::string& f) { r.output = f; }},
      {"--write-baseline", [](RawScanOptions& r, const std::string& f) { r.write_baseline = f; }},
      {"--cache", [](RawScanOptions& r, const std::string& f) { r.cache = f; }},
  };
  for (const auto& [option, set] : options) {
    RawScanOptions raw = scan_of(t.path());
    set(raw, t / "out.file");
    EXPECT_EQ(error_of(raw), option + " " + (t / "out.file") + " lies inside the scanned path " + t.path() +
                                 ", and the sweep never writes inside what it scans: put it elsewhere, or exclude "
                                 "it with --exclude '" +
                                 (t / "out.file") + "*'")
        << option;
    raw.excludes = {t / "out.file*"};
    EXPECT_TRUE(plan_scan(raw, quiet_context())) << option;
    // Through --exclude-from as well.
    raw.excludes.clear();
    TempDir lists;
    write_file(lists / "x.txt", "# written files\n" + (t / "out.file*") + "\n");
    raw.exclude_from = {lists / "x.txt"};
    EXPECT_TRUE(plan_scan(raw, quiet_context())) << option;
    // Nothing was created while planning.
    EXPECT_NE(::access((t / "out.file").c_str(), F_OK), 0) << option;
  }
  // Excluding only the file leaves its temporary file inside the scan.
  RawScanOptions raw = scan_of(t.path());
  raw.output = t / "out.json";
  raw.excludes = {t / "out.json"};
  EXPECT_TRUE(contains(error_of(raw), "lies inside the scanned path")) << error_of(raw);
  // A character device is written in place: no file lands in the tree.
  raw = scan_of("/dev");
  raw.output = "/dev/null";
  raw.include_fs = {"devtmpfs"};
  EXPECT_TRUE(plan_scan(raw, quiet_context()));
}

TEST(ScanPlan, RuleCacheInsideTheScanIsNotUsed) {
  TempDir t;
  TempDir elsewhere;
  PlanContext context;
  context.xdg_cache_home = t / "cache";
  auto plan = plan_scan(scan_of(t.path()), context);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->pack.rule_cache.dir.empty());
  context.xdg_cache_home = elsewhere.path();
  plan = plan_scan(scan_of(t.path()), context);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->pack.rule_cache.dir, elsewhere / "iocsweep");
  context.xdg_cache_home = "relative";
  context.home = elsewhere.path();
  plan = plan_scan(scan_of(t.path()), context);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->pack.rule_cache.dir, elsewhere / ".cache/iocsweep");
  RawScanOptions raw = scan_of(t.path());
  raw.no_rule_cache = true;
  plan = plan_scan(raw, context);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->pack.rule_cache.dir.empty());
}

TEST(ScanPlan, OutputsNamingOneFileClash) {
  TempDir t;
  TempDir scanned;
  RawScanOptions raw = scan_of(scanned.path());
  raw.output = t / "same";
  raw.write_baseline = t / "same";
  EXPECT_TRUE(contains(error_of(raw), "-o and --write-baseline name the same file: ")) << error_of(raw);
  raw = scan_of(scanned.path());
  raw.output = t / "c.db-wal";
  raw.cache = t / "c.db";
  EXPECT_TRUE(contains(error_of(raw), "-o and --cache name the same file: ")) << error_of(raw);
  // One character device for both is fine.
  raw = scan_of(scanned.path());
  raw.output = "/dev/null";
  raw.write_baseline = "/dev/null";
  EXPECT_TRUE(plan_scan(raw, quiet_context()));
}

TEST(ScanPlan, ImagesAreCheckedAndMayStandAlone) {
  TempDir t;
  write_file(t / "disk.dd", std::string(4096, '\0'));
  RawScanOptions raw;
  raw.images = {t / "disk.dd"};
  auto plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->scan.roots.empty());
  EXPECT_EQ(plan->scan.images, std::vector<std::string>{t / "disk.dd"});
  // With PATHs too, and the same image named twice is swept once.
  TempDir tree;
  raw.paths = {tree.path()};
  raw.images = {t / "disk.dd", t.path() + "/./disk.dd"};
  plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->scan.roots, std::vector<std::string>{tree.path()});
  EXPECT_EQ(plan->scan.images, std::vector<std::string>{t / "disk.dd"});
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_EQ(plan->notes[0],
            "--image " + t.path() + "/./disk.dd is the same as --image " + (t / "disk.dd") + " and is scanned once");
}

TEST(ScanPlan, ImageThatIsNoFileOrBlockDeviceIsRefused) {
  TempDir t;
  RawScanOptions raw;
  raw.images = {t / "missing.dd"};
  EXPECT_EQ(error_of(raw), "--image " + (t / "missing.dd") + ": No such file or directory");
  raw.images = {t.path()};
  EXPECT_EQ(error_of(raw), "--image " + t.path() + ": is a directory; an image is a regular file or a block device");
  raw.images = {"/dev/null"};
  EXPECT_EQ(error_of(raw), "--image /dev/null: is a character device; an image is a regular file or a block device");
  ASSERT_EQ(::mkfifo((t / "fifo").c_str(), 0600), 0);
  raw.images = {t / "fifo"};
  EXPECT_EQ(error_of(raw), "--image " + (t / "fifo") + ": is a FIFO; an image is a regular file or a block device");
}

TEST(ScanPlan, UnreadableImageIsRefused) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file: an unreadable image needs another user";
  TempDir t;
  write_file(t / "disk.dd", "x");
  ASSERT_EQ(::chmod((t / "disk.dd").c_str(), 0), 0);
  RawScanOptions raw;
  raw.images = {t / "disk.dd"};
  EXPECT_EQ(error_of(raw), "--image " + (t / "disk.dd") + ": cannot be read: Permission denied");
}

TEST(ScanPlan, NoOutputMayBeAnImage) {
  TempDir t;
  TempDir scanned;
  write_file(t / "disk.dd", "x");
  RawScanOptions raw = scan_of(scanned.path());
  raw.images = {t / "disk.dd"};
  raw.output = t / "disk.dd";
  EXPECT_TRUE(contains(error_of(raw), "-o and --image name the same file: ")) << error_of(raw);
  raw.output.clear();
  raw.write_baseline = t / "disk.dd";
  EXPECT_TRUE(contains(error_of(raw), "--write-baseline and --image name the same file: ")) << error_of(raw);
  raw.write_baseline.clear();
  raw.cache = t / "disk.dd";
  EXPECT_TRUE(contains(error_of(raw), "--cache and --image name the same file: ")) << error_of(raw);
  // The image itself is left as it was.
  EXPECT_EQ(test::read_file(t / "disk.dd"), "x");
}

TEST(ScanPlan, RootsAreKeptOnceAndNestedOnesDropWithANote) {
  TempDir t;
  test::make_dir(t / "a");
  test::make_dir(t / "skip");
  RawScanOptions raw;
  raw.paths = {t / "a", t.path(), t.path() + "/", t / "skip", t / "missing"};
  raw.excludes = {t / "skip"};
  auto plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan) << plan.error().message;
  // The outer root, the excluded one (its walk is its own) and the one
  // that does not resolve (its error is reported by the walk).
  EXPECT_EQ(plan->scan.roots, (std::vector<std::string>{t.path(), t / "skip", t / "missing"}));
  EXPECT_EQ(plan->notes, (std::vector<std::string>{
                             "PATH " + (t / "a") + " lies inside PATH " + t.path() + " and is scanned as part of it",
                             "PATH " + t.path() + "/ is the same as PATH " + t.path() + " and is scanned once"}));
}

// The flags as CLI11 parses them land in RawScanOptions, untouched ones
// keep the struct's defaults, and --help shows those defaults.
TEST(ScanPlan, ParsedFlagsMakeThePlanWithoutAScan) {
  TempDir t;
  write_file(t / "disk.dd", "x");
  CLI::App app;
  RawScanOptions raw;
  CLI::App* scan = add_scan_command(app, raw);
  const std::vector<std::string> given = {"scan", "--image", t / "disk.dd", "--fail-on", "alert", "-x", t.path()};
  std::vector<std::string> args(given.rbegin(), given.rend());  // CLI11 takes them from the back
  app.parse(args);
  ASSERT_TRUE(scan->parsed());
  EXPECT_EQ(raw.paths, std::vector<std::string>{t.path()});
  EXPECT_EQ(raw.images, std::vector<std::string>{t / "disk.dd"});
  EXPECT_TRUE(raw.one_file_system);
  const RawScanOptions defaults;
  EXPECT_EQ(raw.max_filesize, defaults.max_filesize);
  EXPECT_EQ(raw.timeout_s, defaults.timeout_s);
  EXPECT_EQ(raw.archive_depth, defaults.archive_depth);
  EXPECT_EQ(raw.syslog_socket, defaults.syslog_socket);
  auto plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->fail_score, 80);
  EXPECT_TRUE(plan->scan.walk.one_file_system);
  EXPECT_EQ(plan->scan.images, std::vector<std::string>{t / "disk.dd"});
  const std::string help = scan->help();
  EXPECT_TRUE(contains(help, "=" + defaults.max_filesize)) << help;
  EXPECT_TRUE(contains(help, "=" + std::to_string(ScanConfig{}.yara_timeout_s))) << help;
  EXPECT_TRUE(contains(help, std::to_string(ArchiveOptions{}.max_members) + " members")) << help;
}

// Signed packs are verified when the scan runs (cli/pack_command); the
// plan carries them and refuses their options without --pack.
TEST(ScanPlan, SignedPackOptionsAreCarriedAndNeedPack) {
  TempDir t;
  RawScanOptions raw = scan_of(t.path());
  raw.trust = {"team.pub"};
  auto refused = plan_scan(raw, quiet_context());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("--pack"), std::string::npos) << refused.error().message;
  raw.packs = {"a.iocpack", "b.iocpack"};
  raw.pack_state = t / "state.json";
  auto plan = plan_scan(raw, quiet_context());
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->signed_packs.files, raw.packs);
  EXPECT_EQ(plan->signed_packs.trust, raw.trust);
  EXPECT_EQ(plan->signed_packs.state, raw.pack_state);
  EXPECT_TRUE(plan->pack.builtin);  // the built-in pack stays loaded beside them
}

}  // namespace
}  // namespace iocsweep::cli
