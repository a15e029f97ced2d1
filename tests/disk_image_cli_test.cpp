// `iocsweep scan --image` end to end, on images the tests build with
// Debian's tools (tests/disk_image_fixtures.hpp): what a responder sees of
// a wiped host. Positives are synthesised bytes (synth_swift_engine) and
// names on the built-in file-name list; never real malware.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "disk_image_fixtures.hpp"
#include "iocsweep/hash.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::FixtureFs;
using test::FixtureResult;
using test::FixtureSpec;
using test::TempDir;

#define REQUIRE_BUILT(result)                \
  do {                                       \
    const FixtureResult r_ = (result);       \
    if (r_.skip) GTEST_SKIP() << r_.message; \
    ASSERT_TRUE(r_.ok) << r_.message;        \
  } while (0)

const std::string kBin = test::binary_under_test();

json scan_json(const std::vector<std::string>& extra, int& exit_code, std::string* err = nullptr) {
  std::vector<std::string> args{kBin, "scan", "--format", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const test::RunResult r = test::run(args);
  exit_code = r.exit_code;
  if (err != nullptr) *err = r.err;
  return json::parse(r.out);
}

// The findings whose disk_image.path_in_filesystem is `inside` (and whose
// stream is `stream`).
std::vector<json> findings_at(const json& doc, const std::string& inside, const std::string& stream = "") {
  std::vector<json> out;
  for (const json& f : doc["findings"]) {
    if (!f.contains("disk_image") || f["disk_image"]["path_in_filesystem"] != inside) continue;
    if (f.value("stream", std::string()) != stream) continue;
    out.push_back(f);
  }
  return out;
}

bool has_rule(const json& finding, const std::string& rule) {
  for (const json& m : finding["matches"]) {
    if (m["type"] == "yara" && m["rule"] == rule) return true;
  }
  return false;
}

// An NTFS volume as the intruder left it: a DLL under its listed name, the
// engine deleted from Temp, and a second copy hidden in a stream of an
// innocent text file.
FixtureSpec wiped_windows() {
  FixtureSpec spec;
  spec.files = {{"Windows/System32/lcsvsvc.dll", "not really a dll"},
                {"Windows/Temp/engine.exe", test::synth_swift_engine()},
                {"Users/Public/notes.txt", "meeting at ten"},
                {"Users/Public/clean.txt", "nothing here"}};
  spec.deleted = {"Windows/Temp/engine.exe"};
  spec.streams = {{"Users/Public/notes.txt:payload", test::synth_swift_engine()}};
  return spec;
}

TEST(DiskImageCli, NtfsDeletedFilesStreamsAndNamesAreFoundAndTheImageIsUnchanged) {
  TempDir t;
  const std::string img = t / "host.img";
  REQUIRE_BUILT(test::build_filesystem(FixtureFs::kNtfs, wiped_windows(), img));
  const std::string before = test::file_sha256(img);
  int code = -1;
  std::string err;
  const json doc = scan_json({"--image", img}, code, &err);
  EXPECT_EQ(code, 1) << err << doc.dump(1);
  EXPECT_EQ(test::file_sha256(img), before) << "the image was changed";
  EXPECT_EQ(doc["scan"]["images"], json::array({img}));

  // The name on the built-in list, on its Windows path inside the volume.
  const auto dll = findings_at(doc, "/Windows/System32/lcsvsvc.dll");
  ASSERT_EQ(dll.size(), 1u) << doc.dump(1);
  EXPECT_EQ(dll[0]["path"], img + "#/Windows/System32/lcsvsvc.dll");
  EXPECT_EQ(dll[0]["deleted"], false);
  EXPECT_EQ(dll[0]["disk_image"]["filesystem"], "ntfs");
  EXPECT_TRUE(dll[0]["disk_image"]["partition"].is_null());
  EXPECT_GT(dll[0]["disk_image"]["inode"].get<std::uint64_t>(), 0u);

  // The deleted engine: its content is still on disk and matches.
  const auto engine = findings_at(doc, "/Windows/Temp/engine.exe");
  ASSERT_EQ(engine.size(), 1u) << doc.dump(1);
  EXPECT_EQ(engine[0]["deleted"], true);
  EXPECT_TRUE(has_rule(engine[0], "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine")) << engine[0].dump(1);
  EXPECT_EQ(engine[0]["sha256"], sha256_hex(test::synth_swift_engine()));

  // The copy in the stream; the file's own data is clean.
  const auto stream = findings_at(doc, "/Users/Public/notes.txt", "payload");
  ASSERT_EQ(stream.size(), 1u) << doc.dump(1);
  EXPECT_EQ(stream[0]["path"], img + "#/Users/Public/notes.txt:payload");
  EXPECT_TRUE(findings_at(doc, "/Users/Public/notes.txt").empty());
  EXPECT_TRUE(findings_at(doc, "/Users/Public/clean.txt").empty());
  EXPECT_GE(doc["stats"]["files_scanned"].get<int>(), 4);
}

TEST(DiskImageCli, PartitionedImageNamesThePartitionAndOffsetOfEachFinding) {
  TempDir t;
  const std::string img = t / "disk.img";
  FixtureSpec fat, ext;
  fat.files = {{"WINDOWS/msdtc.exe", "dropper"}};
  ext.files = {{"opt/engine.bin", test::synth_swift_engine()}};
  REQUIRE_BUILT(test::build_partitioned(true, {{FixtureFs::kFat16, fat}, {FixtureFs::kExt4, ext}}, img));
  int code = -1;
  std::string err;
  const json doc = scan_json({"--image", img}, code, &err);
  EXPECT_EQ(code, 1) << err;
  const auto dropper = findings_at(doc, "/WINDOWS/msdtc.exe");
  const auto engine = findings_at(doc, "/opt/engine.bin");
  ASSERT_EQ(dropper.size(), 1u) << doc.dump(1);
  ASSERT_EQ(engine.size(), 1u) << doc.dump(1);
  EXPECT_EQ(dropper[0]["disk_image"]["filesystem"], "fat16");
  EXPECT_EQ(engine[0]["disk_image"]["filesystem"], "ext4");
  // 1 MiB-aligned, in table order.
  EXPECT_EQ(dropper[0]["disk_image"]["offset"], 1u << 20);
  EXPECT_GT(engine[0]["disk_image"]["offset"].get<std::uint64_t>(), 1u << 20);
  const int p1 = dropper[0]["disk_image"]["partition"].get<int>();
  const int p2 = engine[0]["disk_image"]["partition"].get<int>();
  EXPECT_LT(p1, p2);
  EXPECT_EQ(engine[0]["path"], img + "#p" + std::to_string(p2) + "/opt/engine.bin");
}

TEST(DiskImageCli, E01GivesTheSameFindingsAsTheRawImage) {
  TempDir t;
  const std::string raw = t / "fat.img";
  FixtureSpec spec;
  spec.files = {{"TEMP/ENGINE.EXE", test::synth_swift_engine()}, {"TEMP/evtchk.bat", "@echo off"}};
  spec.deleted = {"TEMP/ENGINE.EXE"};
  REQUIRE_BUILT(test::build_filesystem(FixtureFs::kFat16, spec, raw));
  REQUIRE_BUILT(test::to_e01(raw, t / "fat"));
  int raw_code = -1, e01_code = -1;
  const json a = scan_json({"--image", raw}, raw_code);
  const json b = scan_json({"--image", t / "fat.E01"}, e01_code);
  EXPECT_EQ(raw_code, 1);
  EXPECT_EQ(e01_code, 1);
  ASSERT_EQ(a["findings"].size(), b["findings"].size()) << a.dump(1) << b.dump(1);
  ASSERT_GE(a["findings"].size(), 2u) << a.dump(1);
  for (std::size_t i = 0; i < a["findings"].size(); ++i) {
    EXPECT_EQ(a["findings"][i]["disk_image"]["path_in_filesystem"],
              b["findings"][i]["disk_image"]["path_in_filesystem"]);
    EXPECT_EQ(a["findings"][i]["sha256"], b["findings"][i]["sha256"]);
    EXPECT_EQ(a["findings"][i]["deleted"], b["findings"][i]["deleted"]);
  }
}

TEST(DiskImageCli, AnEncryptedVolumeIsSkippedAndMakesTheScanIncomplete) {
  TempDir t;
  const std::string luks = t / "luks.img";
  REQUIRE_BUILT(test::build_luks(luks));
  int code = -1;
  const json doc = scan_json({"--image", luks}, code);
  EXPECT_EQ(code, 3) << doc.dump(1);
  ASSERT_EQ(doc["skipped"].size(), 1u) << doc.dump(1);
  EXPECT_EQ(doc["skipped"][0]["reason"], "encrypted_volume");
  EXPECT_EQ(doc["skipped"][0]["detail"], "LUKS");
  EXPECT_EQ(doc["stats"]["skipped_unscanned"], 1);
}

TEST(DiskImageCli, AFileThatIsNoImageIsAnErrorAndTheTreeIsStillSwept) {
  TempDir t;
  test::make_dir(t / "tree");
  test::write_file(t / "tree/engine.exe", test::synth_swift_engine());
  test::write_file(t / "junk.img", std::string(4096, 'x'));
  int code = -1;
  const json doc = scan_json({"--image", t / "junk.img", t / "tree"}, code);
  // Findings decide the exit code; the error is in the report.
  EXPECT_EQ(code, 1);
  ASSERT_EQ(doc["findings"].size(), 1u);
  ASSERT_GE(doc["errors"].size(), 1u);
  EXPECT_EQ(doc["errors"][0]["path"], t / "junk.img");
  int alone = -1;
  scan_json({"--image", t / "junk.img"}, alone);
  EXPECT_EQ(alone, 3);
}

TEST(DiskImageCli, ATerabyteClaimIsSkippedAsTooLargeWithoutReadingIt) {
  TempDir t;
  const std::string img = t / "ext.img";
  FixtureSpec spec;
  spec.files = {{"big.bin", "tiny"}, {"ok.txt", "fine"}};
  REQUIRE_BUILT(test::build_filesystem(FixtureFs::kExt4, spec, img));
  REQUIRE_BUILT(test::ext_set_size(img, "big.bin", 1ull << 40));
  int code = -1;
  const json doc = scan_json({"--image", img}, code);
  EXPECT_EQ(code, 3) << doc.dump(1);
  bool too_large = false;
  for (const json& s : doc["skipped"]) {
    too_large = too_large || (s["reason"] == "too_large" && s["disk_image"]["path_in_filesystem"] == "/big.bin");
  }
  EXPECT_TRUE(too_large) << doc.dump(1);
}

}  // namespace
}  // namespace iocsweep
