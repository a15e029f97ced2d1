// End to end: the built binary on trees holding archives and container
// images made here with libarchive's writer.
#include <gtest/gtest.h>
#include <locale.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "archive_builder.hpp"
#include "iocsweep/common.hpp"
#include "iocsweep/hash.hpp"
#include "report_support.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::finding_for;
using test::make_archive;
using test::make_archive_utf8_names;
using test::parse_report;
using test::run;
using test::RunResult;
using test::TempDir;
using test::write_file;

const std::string kBin = iocsweep::test::binary_under_test();
constexpr const char* kEngineRule = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine";
const std::string kPositive = test::synth_swift_engine();

bool has_rule(const json& finding, const std::string& rule) {
  for (const json& m : finding["matches"]) {
    if (m["type"] == "yara" && m["rule"] == rule) return true;
  }
  return false;
}

std::vector<const json*> skipped_for(const json& doc, const std::string& path, const std::string& reason) {
  std::vector<const json*> out;
  for (const json& s : doc["skipped"]) {
    if (s["path"] == path && s["reason"] == reason) out.push_back(&s);
  }
  return out;
}

// Writes an OCI image layout directory: oci-layout, `index` as index.json,
// and each of `blobs` as blobs/sha256/<its sha256>.
void write_layout(const std::string& dir, const std::string& index, const std::vector<std::string>& blobs) {
  test::make_dir(dir);
  test::make_dir(dir + "/blobs");
  test::make_dir(dir + "/blobs/sha256");
  write_file(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  write_file(dir + "/index.json", index);
  for (const std::string& blob : blobs) write_file(dir + "/blobs/sha256/" + sha256_hex(blob), blob);
}

// index.json naming the manifest `manifest`.
std::string index_of(const std::string& manifest) {
  return R"({"schemaVersion":2,"manifests":[{"digest":"sha256:)" + sha256_hex(manifest) + R"("}]})";
}

TEST(ArchiveCli, PositivesFoundInEveryFormatWithMemberChainAndDigests) {
  TempDir t;
  const std::string inner = make_archive("zip", {{"deep/evtdiag.exe", kPositive}});
  const std::string middle = make_archive("ustar", {{"pkg/inner.zip", inner}});
  write_file(t / "nested.zip", make_archive("zip", {{"middle.tar", middle}, {"note.txt", "hello"}}));
  write_file(t / "a.tar.gz", make_archive({"ustar", {"gzip"}}, {{"bin/evtdiag.exe", kPositive}}));
  write_file(t / "a.tar.xz", make_archive({"ustar", {"xz"}}, {{"bin/evtdiag.exe", kPositive}}));
  write_file(t / "a.7z", make_archive("7zip", {{"bin/evtdiag.exe", kPositive}}));
  write_file(t / "a.cpio", make_archive("cpio", {{"bin/evtdiag.exe", kPositive}}));
  write_file(t / "a.iso", make_archive({"iso9660", {}, "iso9660:rockridge"}, {{"bin/evtdiag.exe", kPositive}}));
  write_file(t / "evtdiag.exe.gz", make_archive({"raw", {"gzip"}}, {{"x", kPositive}}));
  write_file(t / "plain.txt", "nothing here");

  RunResult r = run({kBin, "scan", "--format", "json", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  EXPECT_TRUE(doc["errors"].empty()) << doc["errors"].dump(2);
  EXPECT_TRUE(doc["skipped"].empty()) << doc["skipped"].dump(2);
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"nested.zip", {"middle.tar", "pkg/inner.zip", "deep/evtdiag.exe"}},
      {"a.tar.gz", {"bin/evtdiag.exe"}},
      {"a.tar.xz", {"bin/evtdiag.exe"}},
      {"a.7z", {"bin/evtdiag.exe"}},
      {"a.cpio", {"bin/evtdiag.exe"}},
      {"a.iso", {"bin/evtdiag.exe"}},
      {"evtdiag.exe.gz", {"evtdiag.exe"}},
  };
  Hasher hasher;
  const Digests d = hasher.digest(test::bytes_of(kPositive));
  for (const auto& [file, chain] : expected) {
    SCOPED_TRACE(file);
    const json* f = finding_for(doc, t / file, chain);
    ASSERT_NE(f, nullptr) << doc["findings"].dump(1);
    EXPECT_TRUE(has_rule(*f, kEngineRule));
    EXPECT_EQ((*f)["size"], kPositive.size());
    EXPECT_EQ((*f)["sha256"], d.hex(DigestKind::kSha256));
    EXPECT_EQ((*f)["sha1"], d.hex(DigestKind::kSha1));
    EXPECT_EQ((*f)["md5"], d.hex(DigestKind::kMd5));
    EXPECT_FALSE(f->contains("image"));
  }
  EXPECT_EQ(doc["findings"].size(), expected.size());
  // Files are counted once each, members are not files.
  EXPECT_EQ(doc["stats"]["files_scanned"], 8);
}

TEST(ArchiveCli, BombAndDeepNestingAreSkippedAndTheScanGoesOn) {
  TempDir t;
  write_file(t / "a_bomb.zip", make_archive("zip", {{"zeros.bin", std::string(32u << 20, '\0')}}));
  std::string deep = make_archive("zip", {{"evtdiag.exe", kPositive}});
  for (int i = 0; i < 3; ++i) deep = make_archive("zip", {{"l" + std::to_string(i) + ".zip", deep}});
  write_file(t / "b_deep.zip", deep);
  write_file(t / "c_later.exe", kPositive);

  RunResult r = run({kBin, "scan", "--archive-depth", "2", "--threads", "1", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  const auto bomb = skipped_for(doc, t / "a_bomb.zip", "archive_limit");
  ASSERT_EQ(bomb.size(), 1u) << doc["skipped"].dump(2);
  EXPECT_NE((*bomb[0])["detail"].get<std::string>().find("zeros.bin"), std::string::npos);
  EXPECT_NE((*bomb[0])["detail"].get<std::string>().find("ratio"), std::string::npos);
  const auto depth = skipped_for(doc, t / "b_deep.zip", "archive_depth");
  ASSERT_EQ(depth.size(), 1u) << doc["skipped"].dump(2);
  EXPECT_NE((*depth[0])["detail"].get<std::string>().find("l2.zip > l1.zip"), std::string::npos)
      << (*depth[0])["detail"];
  EXPECT_NE(finding_for(doc, t / "c_later.exe", {}), nullptr);
  EXPECT_EQ(doc["stats"]["files_skipped"], 2);
  // With the default depth (3) the positive four levels down is still too
  // deep; with 4 it is found.
  RunResult r4 = run({kBin, "scan", "--archive-depth", "4", t / "b_deep.zip"});
  ASSERT_EQ(r4.exit_code, 1) << r4.err;
  EXPECT_NE(finding_for(parse_report(r4), t / "b_deep.zip", {"l2.zip", "l1.zip", "l0.zip", "evtdiag.exe"}), nullptr)
      << r4.out;
}

TEST(ArchiveCli, EncryptedMembersAreSkippedNotIgnored) {
  TempDir t;
  write_file(t / "locked.zip",
             make_archive({"zip", {}, "zip:encryption=zipcrypt", "infected"}, {{"evtdiag.exe", kPositive}}));
  RunResult r = run({kBin, "scan", t.path()});
  // The member was never matched: not clean, exit 3.
  EXPECT_EQ(r.exit_code, 3) << r.err;
  json doc = parse_report(r);
  EXPECT_EQ(doc["stats"]["skipped_unscanned"], 1);
  const auto enc = skipped_for(doc, t / "locked.zip", "encrypted");
  ASSERT_EQ(enc.size(), 1u) << r.out;
  EXPECT_NE((*enc[0])["detail"].get<std::string>().find("evtdiag.exe"), std::string::npos);
  EXPECT_TRUE(doc["findings"].empty());
}

TEST(ArchiveCli, OddMemberNamesAreReportedVerbatim) {
  TempDir t, cfg;
  const std::string bad = std::string("odd\xff") + "name.exe";
  write_file(t / "names.tar", make_archive("gnutar", {{"../x", kPositive}, {bad, kPositive}}));
  // A path indicator sees the member's own path.
  write_file(cfg / "names.txt", "odd.name\\.exe$;70;odd member\n");
  RunResult r = run({kBin, "scan", "--filename-iocs", cfg / "names.txt", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  const json* dots = finding_for(doc, t / "names.tar", {"../x"});
  ASSERT_NE(dots, nullptr) << r.out;
  EXPECT_FALSE(dots->contains("member_hex"));
  const json* odd = nullptr;
  for (const json& f : doc["findings"]) {
    if (f.contains("member_hex")) odd = &f;
  }
  ASSERT_NE(odd, nullptr) << r.out;
  EXPECT_EQ((*odd)["member_hex"], json::array({to_hex(bad)}));
  EXPECT_EQ((*odd)["member"][0], to_valid_utf8(bad));
  bool name_match = false;
  for (const json& m : (*odd)["matches"]) name_match = name_match || m["type"] == "filename";
  EXPECT_TRUE(name_match) << odd->dump(2);
  // Nothing was written anywhere near the names.
  EXPECT_FALSE(std::ifstream(t.path() + "/../x").good());
}

TEST(ArchiveCli, ArchivesOffKeepsPlainFileBehaviour) {
  TempDir t;
  write_file(t / "a.zip", make_archive("zip", {{"evtdiag.exe", kPositive}}));
  write_file(t / "bomb.zip", make_archive("zip", {{"zeros.bin", std::string(16u << 20, '\0')}}));
  write_file(t / "evtdiag.exe", kPositive);
  RunResult off = run({kBin, "scan", "--archives", "off", t.path()});
  ASSERT_EQ(off.exit_code, 1) << off.err;
  json doc = parse_report(off);
  ASSERT_EQ(doc["findings"].size(), 1u);
  EXPECT_EQ(doc["findings"][0]["path"], t / "evtdiag.exe");
  EXPECT_FALSE(doc["findings"][0].contains("member"));
  EXPECT_TRUE(doc["skipped"].empty());
  RunResult on = run({kBin, "scan", t.path()});
  EXPECT_EQ(parse_report(on)["findings"].size(), 2u);
  RunResult bad = run({kBin, "scan", "--archive-depth", "0", t.path()});
  EXPECT_EQ(bad.exit_code, 2);
  RunResult bad2 = run({kBin, "scan", "--archives", "maybe", t.path()});
  EXPECT_EQ(bad2.exit_code, 2);
}

TEST(ArchiveCli, HashIndicatorMatchesAMemberAndTextNamesIt) {
  TempDir t, cfg;
  const std::string payload = "benign bytes that an indicator list names";
  write_file(t / "bundle.tar.gz", make_archive({"ustar", {"gzip"}}, {{"dir/tool.bin", payload}}));
  write_file(cfg / "iocs.txt", sha256_hex(payload) + ";90;listed member\n");
  RunResult r = run({kBin, "scan", "--iocs", cfg / "iocs.txt", "--format", "text", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("member > dir/tool.bin"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sha256=" + sha256_hex(payload)), std::string::npos) << r.out;
}

TEST(ArchiveCli, DockerSaveTarballWithWhiteoutInALaterLayer) {
  TempDir t;
  const std::string layer0 =
      make_archive("ustar", {{"usr/", "", true}, {"usr/bin/evtdiag.exe", kPositive}, {"etc/hostname", "x"}});
  const std::string layer1 = make_archive({"ustar", {"gzip"}}, {{"usr/bin/.wh.evtdiag.exe", ""}, {"app/run.sh", "x"}});
  const std::string d0 = "sha256:" + sha256_hex(layer0);
  const std::string d1 = "sha256:" + sha256_hex(layer1);
  const std::string config = R"({"rootfs":{"type":"layers","diff_ids":[")" + d0 + R"(",")" + d1 + R"("]}})";
  const std::string manifest =
      R"([{"Config":"c0ffee.json","RepoTags":["lazarus/implant:latest"],"Layers":["l0/layer.tar","l1/layer.tar"]}])";
  write_file(t / "image.tar", make_archive("ustar", {{"l0/layer.tar", layer0},
                                                     {"l1/layer.tar", layer1},
                                                     {"c0ffee.json", config},
                                                     {"manifest.json", manifest}}));
  RunResult r = run({kBin, "scan", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["findings"].size(), 1u) << r.out;
  const json& f = doc["findings"][0];
  EXPECT_EQ(f["path"], t / "image.tar");
  EXPECT_EQ(f["member"], json::array({"l0/layer.tar", "usr/bin/evtdiag.exe"}));
  ASSERT_TRUE(f.contains("image")) << f.dump(2);
  EXPECT_EQ(f["image"]["reference"], "lazarus/implant:latest");
  EXPECT_EQ(f["image"]["layer"], d0);
  EXPECT_EQ(f["image"]["layer_index"], 0);
  EXPECT_EQ(f["image"]["path"], "/usr/bin/evtdiag.exe");
  EXPECT_EQ(f["image"]["in_final_image"], false);
  EXPECT_TRUE(has_rule(f, kEngineRule));
  EXPECT_TRUE(doc["errors"].empty()) << doc["errors"].dump(2);
}

TEST(ArchiveCli, OciLayoutTarballIsScannedAsAnImage) {
  TempDir t;
  const std::string layer = make_archive({"ustar", {"gzip"}}, {{"opt/evtdiag.exe", kPositive}});
  const std::string ld = "sha256:" + sha256_hex(layer);
  const std::string manifest = R"({"schemaVersion":2,"layers":[{"digest":")" + ld + R"("}]})";
  const std::string md = "sha256:" + sha256_hex(manifest);
  const std::string index = R"({"schemaVersion":2,"manifests":[{"digest":")" + md + R"("}]})";
  write_file(t / "oci.tar", make_archive("ustar", {{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"},
                                                   {"index.json", index},
                                                   {"blobs/sha256/" + md.substr(7), manifest},
                                                   {"blobs/sha256/" + ld.substr(7), layer}}));
  RunResult r = run({kBin, "scan", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["findings"].size(), 1u) << r.out;
  const json& f = doc["findings"][0];
  EXPECT_EQ(f["image"]["layer"], ld);
  EXPECT_EQ(f["image"]["reference"], "");
  EXPECT_EQ(f["image"]["in_final_image"], true);
  EXPECT_EQ(f["member"], json::array({"blobs/sha256/" + ld.substr(7), "opt/evtdiag.exe"}));
}

TEST(ArchiveCli, OciLayoutDirectoryIsScannedOnceAsAnImage) {
  TempDir t;
  const std::string base = make_archive({"ustar", {"gzip"}}, {{"usr/bin/evtdiag.exe", kPositive}, {"etc/a", "a"}});
  const std::string top = make_archive({"ustar", {"gzip"}}, {{"usr/bin/.wh.evtdiag.exe", ""}});
  const std::string d0 = "sha256:" + sha256_hex(base), d1 = "sha256:" + sha256_hex(top);
  const std::string manifest =
      R"({"schemaVersion":2,"layers":[{"digest":")" + d0 + R"("},{"digest":")" + d1 + R"("}]})";
  const std::string md = "sha256:" + sha256_hex(manifest);
  const std::string index = R"({"schemaVersion":2,"manifests":[{"digest":")" + md +
                            R"(","annotations":{"org.opencontainers.image.ref.name":"1.0"}}]})";
  const std::string dir = t / "layout";
  test::make_dir(dir);
  test::make_dir(dir + "/blobs");
  test::make_dir(dir + "/blobs/sha256");
  write_file(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  write_file(dir + "/index.json", index);
  write_file(dir + "/blobs/sha256/" + md.substr(7), manifest);
  write_file(dir + "/blobs/sha256/" + d0.substr(7), base);
  write_file(dir + "/blobs/sha256/" + d1.substr(7), top);
  // The same layer as a loose file elsewhere is an ordinary archive.
  write_file(t / "loose.tar.gz", base);
  RunResult r = run({kBin, "scan", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  EXPECT_TRUE(doc["errors"].empty()) << doc["errors"].dump(2);
  ASSERT_EQ(doc["findings"].size(), 2u) << r.out;
  const json* image = finding_for(doc, dir, {"blobs/sha256/" + d0.substr(7), "usr/bin/evtdiag.exe"});
  ASSERT_NE(image, nullptr) << r.out;
  EXPECT_EQ((*image)["image"]["layer"], d0);
  EXPECT_EQ((*image)["image"]["reference"], "1.0");
  EXPECT_EQ((*image)["image"]["in_final_image"], false);
  EXPECT_NE(finding_for(doc, t / "loose.tar.gz", {"usr/bin/evtdiag.exe"}), nullptr) << r.out;
  // --archives off: neither.
  RunResult off = run({kBin, "scan", "--archives", "off", t.path()});
  EXPECT_EQ(off.exit_code, 0) << off.out;
}

// A tar with a docker-save manifest.json is an image only when the
// manifest describes it; either way a planted member (a rule positive, a
// listed hash) is found.
TEST(ArchiveCli, ImageManifestNeverHidesTheOtherMembers) {
  TempDir t, cfg;
  const std::string payload = "bytes an indicator list names, planted next to the layers";
  write_file(cfg / "iocs.txt", sha256_hex(payload) + ";90;planted member\n");
  const std::string layer = make_archive("ustar", {{"etc/hostname", "x"}});
  const std::vector<std::pair<std::string, std::string>> manifests = {
      {"empty.tar", R"([{"Config":"c.json","RepoTags":["a:1"],"Layers":[]}])"},
      {"missing.tar", R"([{"Config":"c.json","Layers":["gone/layer.tar","l0/layer.tar"]}])"},
      {"real.tar", R"([{"Config":"c.json","RepoTags":["a:1"],"Layers":["l0/layer.tar"]}])"},
  };
  for (const auto& [file, manifest] : manifests) {
    write_file(t / file, make_archive("ustar", {{"l0/layer.tar", layer},
                                                {"c.json", "{}"},
                                                {"manifest.json", manifest},
                                                {"evil.exe", kPositive},
                                                {"tool.bin", payload}}));
  }
  RunResult r = run({kBin, "scan", "--iocs", cfg / "iocs.txt", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  EXPECT_TRUE(doc["errors"].empty()) << doc["errors"].dump(2);
  for (const auto& [file, manifest] : manifests) {
    SCOPED_TRACE(file);
    const json* exe = finding_for(doc, t / file, {"evil.exe"});
    ASSERT_NE(exe, nullptr) << doc["findings"].dump(1);
    EXPECT_TRUE(has_rule(*exe, kEngineRule));
    EXPECT_FALSE(exe->contains("image"));
    const json* listed = finding_for(doc, t / file, {"tool.bin"});
    ASSERT_NE(listed, nullptr) << doc["findings"].dump(1);
    EXPECT_EQ((*listed)["matches"][0]["type"], "hash");
  }
  EXPECT_EQ(doc["findings"].size(), 2 * manifests.size());
}

// A manifest naming one layer 10,000 times: the layer is read once, so its
// file is one finding (and the sweep stays linear in the input).
TEST(ArchiveCli, LayerListedTenThousandTimesIsReadOnce) {
  TempDir t;
  std::string layers;
  for (int i = 0; i < 10000; ++i) layers += std::string(i == 0 ? "" : ",") + "\"l/layer.tar\"";
  write_file(t / "image.tar",
             make_archive("ustar", {{"l/layer.tar", make_archive("ustar", {{"evtdiag.exe", kPositive}})},
                                    {"c.json", "{}"},
                                    {"manifest.json", R"([{"Config":"c.json","Layers":[)" + layers + "]}]"}}));
  RunResult r = run({kBin, "scan", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["findings"].size(), 1u) << doc["findings"].dump(1);
  const json& f = doc["findings"][0];
  EXPECT_EQ(f["member"], json::array({"l/layer.tar", "evtdiag.exe"}));
  EXPECT_EQ(f["image"]["layer_index"], 0);
  EXPECT_EQ(f["image"]["in_final_image"], true);
}

// A directory that only looks like an OCI layout (oci-layout, an index.json
// that names nothing) has its blobs opened as archives; so does a blob of
// a real layout that no manifest names as a layer.
TEST(ArchiveCli, OciLookingDirectoryStillOpensItsBlobsAsArchives) {
  TempDir t;
  const std::string zip = make_archive("zip", {{"evtdiag.exe", kPositive}});
  const std::string zip_hex = sha256_hex(zip);
  write_layout(t / "junk", "not json at all", {zip});
  write_layout(t / "empty", R"({"schemaVersion":2,"manifests":[]})", {zip});
  // A real layout whose one layer is another blob.
  const std::string base = make_archive({"ustar", {"gzip"}}, {{"etc/a", "a"}});
  const std::string manifest = R"({"schemaVersion":2,"layers":[{"digest":"sha256:)" + sha256_hex(base) + R"("}]})";
  write_layout(t / "real", index_of(manifest), {zip, manifest, base});
  RunResult r = run({kBin, "scan", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  EXPECT_TRUE(doc["errors"].empty()) << doc["errors"].dump(2);
  for (const std::string dir : {"junk", "empty", "real"}) {
    SCOPED_TRACE(dir);
    const json* f = finding_for(doc, t / dir + "/blobs/sha256/" + zip_hex, {"evtdiag.exe"});
    ASSERT_NE(f, nullptr) << doc["findings"].dump(1);
    EXPECT_TRUE(has_rule(*f, kEngineRule));
  }
  EXPECT_EQ(doc["findings"].size(), 3u) << doc["findings"].dump(1);
}

// A layout whose image reads its blobs as layers: the image is read once,
// by whichever of its files the sweep meets first, so excluding the
// oci-layout file does not leave the layers unread; a layer listed many
// times is read once.
TEST(ArchiveCli, OciLayoutImageIsReadEvenWhenTheWalkSkipsItsOciLayoutFile) {
  TempDir t;
  const std::string base = make_archive({"ustar", {"gzip"}}, {{"usr/bin/evtdiag.exe", kPositive}});
  const std::string d0 = sha256_hex(base);
  std::string layers;
  for (int i = 0; i < 1000; ++i) layers += std::string(i == 0 ? "" : ",") + R"({"digest":"sha256:)" + d0 + R"("})";
  const std::string manifest = R"({"schemaVersion":2,"layers":[)" + layers + "]}";
  const std::string dir = t / "layout";
  write_layout(dir, index_of(manifest), {manifest, base});
  for (const bool exclude : {false, true}) {
    SCOPED_TRACE(exclude ? "oci-layout excluded" : "whole tree");
    std::vector<std::string> args = {kBin, "scan"};
    if (exclude) args.insert(args.end(), {"--exclude", "*/oci-layout"});
    args.push_back(t.path());
    RunResult r = run(args);
    ASSERT_EQ(r.exit_code, 1) << r.err;
    json doc = parse_report(r);
    EXPECT_TRUE(doc["errors"].empty()) << doc["errors"].dump(2);
    ASSERT_EQ(doc["findings"].size(), 1u) << doc["findings"].dump(1);
    const json* f = finding_for(doc, dir, {"blobs/sha256/" + d0, "usr/bin/evtdiag.exe"});
    ASSERT_NE(f, nullptr) << doc["findings"].dump(1);
    EXPECT_EQ((*f)["image"]["layer_index"], 0);
    EXPECT_EQ((*f)["image"]["in_final_image"], true);
  }
}

// A layer blob read with its layout's image is not cached as "not an
// archive": once the layout stops naming it, a cached sweep opens it.
TEST(ArchiveCli, LayerBlobIsOpenedOnceItsLayoutStopsNamingIt) {
  TempDir t, cfg;
  const std::string base = make_archive({"ustar", {"gzip"}}, {{"usr/bin/evtdiag.exe", kPositive}});
  const std::string d0 = sha256_hex(base);
  const std::string manifest = R"({"schemaVersion":2,"layers":[{"digest":"sha256:)" + d0 + R"("}]})";
  const std::string dir = t / "layout";
  write_layout(dir, index_of(manifest), {manifest, base});
  ::usleep(250'000);  // files changed in the last 100 ms are not cached
  const std::string db = cfg / "scan.db";
  RunResult first = run({kBin, "scan", "--cache", db, t.path()});
  ASSERT_EQ(first.exit_code, 1) << first.err;
  EXPECT_NE(finding_for(parse_report(first), dir, {"blobs/sha256/" + d0, "usr/bin/evtdiag.exe"}), nullptr) << first.out;
  write_file(dir + "/index.json", "{}");
  RunResult second = run({kBin, "scan", "--cache", db, t.path()});
  ASSERT_EQ(second.exit_code, 1) << second.err;
  json doc = parse_report(second);
  EXPECT_NE(finding_for(doc, dir + "/blobs/sha256/" + d0, {"usr/bin/evtdiag.exe"}), nullptr) << doc["findings"].dump(1);
}

// A blob a layout names as a layer whose bytes are not the blob its name
// promises is opened as a plain archive too, and the image says so.
TEST(ArchiveCli, LayerBlobNotMatchingItsNameIsOpenedAsAnArchive) {
  TempDir t;
  const std::string genuine = make_archive({"ustar", {"gzip"}}, {{"etc/a", "a"}});
  const std::string d0 = sha256_hex(genuine);
  const std::string manifest = R"({"schemaVersion":2,"layers":[{"digest":"sha256:)" + d0 + R"("}]})";
  const std::string dir = t / "layout";
  write_layout(dir, index_of(manifest), {manifest});
  write_file(dir + "/blobs/sha256/" + d0, make_archive("zip", {{"evtdiag.exe", kPositive}}));
  RunResult r = run({kBin, "scan", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  EXPECT_NE(finding_for(doc, dir + "/blobs/sha256/" + d0, {"evtdiag.exe"}), nullptr) << doc["findings"].dump(1);
  ASSERT_EQ(doc["errors"].size(), 1u) << doc["errors"].dump(2);
  EXPECT_EQ(doc["errors"][0]["path"], dir);
  EXPECT_NE(doc["errors"][0]["error"].get<std::string>().find("not the one its name promises"), std::string::npos)
      << doc["errors"][0];
}

// A sweep of a layout's blobs/sha256 directory alone does not read the
// layout above it: its layer blobs are opened as the archives they are.
TEST(ArchiveCli, LayerBlobsSweptWithoutTheirLayoutAreOpenedAsArchives) {
  TempDir t;
  const std::string base = make_archive({"ustar", {"gzip"}}, {{"usr/bin/evtdiag.exe", kPositive}});
  const std::string manifest = R"({"schemaVersion":2,"layers":[{"digest":"sha256:)" + sha256_hex(base) + R"("}]})";
  const std::string dir = t / "layout";
  write_layout(dir, index_of(manifest), {manifest, base});
  RunResult r = run({kBin, "scan", dir + "/blobs/sha256"});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  ASSERT_EQ(doc["findings"].size(), 1u) << doc["findings"].dump(1);
  EXPECT_NE(finding_for(doc, dir + "/blobs/sha256/" + sha256_hex(base), {"usr/bin/evtdiag.exe"}), nullptr)
      << doc["findings"].dump(1);
}

TEST(ArchiveCli, CorruptArchiveIsAnErrorButTheOuterFileStillMatches) {
  TempDir t, cfg;
  const std::string z = make_archive({"zip", {}, "zip:compression=store"},
                                     {{"evtdiag.exe", kPositive}, {"second", std::string(100000, 's')}});
  const std::string cut = z.substr(0, z.size() - 60000);
  write_file(t / "cut.zip", cut);
  // The file itself is on a hash list: its own match is reported whatever
  // happens inside it.
  write_file(cfg / "iocs.txt", sha256_hex(cut) + ";85;cut archive\n");
  RunResult r = run({kBin, "scan", "--iocs", cfg / "iocs.txt", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  const json* outer = finding_for(doc, t / "cut.zip", {});
  ASSERT_NE(outer, nullptr) << r.out;
  EXPECT_EQ((*outer)["matches"][0]["type"], "hash");
  // The member before the damage is still found; the damage is an error.
  EXPECT_NE(finding_for(doc, t / "cut.zip", {"evtdiag.exe"}), nullptr) << r.out;
  ASSERT_EQ(doc["errors"].size(), 1u) << r.out;
  EXPECT_EQ(doc["errors"][0]["path"], t / "cut.zip");
  EXPECT_NE(doc["errors"][0]["error"].get<std::string>().find("archive member second: "), std::string::npos);
}

// ---- Members an attacker could hide (issue 13) ----------------------------

TEST(ArchiveCli, RatioLimitSkipsTheBombMemberAndFindsItsSibling) {
  TempDir t;
  write_file(t / "bomb.zip",
             make_archive("zip", {{"zeros.bin", std::string(9u << 20, '\0')}, {"bin/evtdiag.exe", kPositive}}));
  RunResult r = run({kBin, "scan", "--format", "json", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  EXPECT_NE(finding_for(doc, t / "bomb.zip", {"bin/evtdiag.exe"}), nullptr) << doc["findings"].dump(1);
  const auto skipped = skipped_for(doc, t / "bomb.zip", "archive_limit");
  ASSERT_EQ(skipped.size(), 1u) << doc["skipped"].dump(2);
  EXPECT_NE((*skipped[0])["detail"].get<std::string>().find("member zeros.bin: compression ratio"), std::string::npos)
      << (*skipped[0])["detail"];
}

TEST(ArchiveCli, CompressedFileStartingWithNulBlocksIsScanned) {
  TempDir t, cfg;
  // Read as an empty tar by libarchive: the content an indicator names.
  const std::string content = std::string(1024, '\0') + "bytes that an indicator list names";
  write_file(t / "payload.bin.gz", make_archive({"raw", {"gzip"}}, {{"x", content}}));
  write_file(t / "payload.bin.xz", make_archive({"raw", {"xz"}}, {{"x", content}}));
  write_file(cfg / "iocs.txt", sha256_hex(content) + ";90;listed content\n");
  RunResult r = run({kBin, "scan", "--format", "json", "--iocs", cfg / "iocs.txt", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  for (const char* file : {"payload.bin.gz", "payload.bin.xz"}) {
    const json* f = finding_for(doc, t / file, {"payload.bin"});
    ASSERT_NE(f, nullptr) << file << doc["findings"].dump(1);
    EXPECT_EQ((*f)["size"], content.size());
  }
}

TEST(ArchiveCli, ZipBehindAPrefixAndOldTarAreOpened) {
  TempDir t;
  const std::string zip = make_archive("zip", {{"bin/evtdiag.exe", kPositive}});
  write_file(t / "sfx.exe", test::synth_pe("self-extractor stub") + zip);
  write_file(t / "junk.zip", "J" + zip);
  write_file(t / "old.tar", make_archive("v7tar", {{"bin/evtdiag.exe", kPositive}}));
  // Mapped (over 16 MiB): the end-of-central-directory record is found
  // with a read of the file's tail.
  write_file(t / "big_sfx.bin", std::string(17u << 20, 'x') + zip);
  RunResult r = run({kBin, "scan", "--format", "json", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  json doc = parse_report(r);
  for (const char* file : {"sfx.exe", "junk.zip", "old.tar", "big_sfx.bin"}) {
    const json* f = finding_for(doc, t / file, {"bin/evtdiag.exe"});
    ASSERT_NE(f, nullptr) << file << doc["findings"].dump(1);
    EXPECT_TRUE(has_rule(*f, kEngineRule));
  }
}

TEST(ArchiveCli, InvalidUtf8ZipNameKeepsItsBytesForNameIndicators) {
  TempDir t, cfg;
  std::string zip =
      make_archive_utf8_names({"zip", {}, "zip:hdrcharset=UTF-8"}, {{"dropper\xc3\xa9.exe", "harmless bytes"}});
  for (std::size_t i = zip.find("dropper\xc3\xa9"); i != std::string::npos; i = zip.find("dropper\xc3\xa9", i)) {
    zip.replace(i + 7, 2, "\xff\xfe");
  }
  write_file(t / "names.zip", zip);
  write_file(cfg / "names.txt", "^dropper..\\.exe$;70;odd member\n");
  RunResult r = run({kBin, "scan", "--format", "json", "--filename-iocs", cfg / "names.txt", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err << r.out;
  json doc = parse_report(r);
  const std::string raw = "dropper\xff\xfe.exe";
  const json* f = finding_for(doc, t / "names.zip", {to_valid_utf8(raw)});
  ASSERT_NE(f, nullptr) << doc["findings"].dump(1);
  EXPECT_EQ((*f)["member_hex"], json::array({to_hex(raw)}));
  EXPECT_TRUE(doc["errors"].empty()) << doc["errors"].dump(1);
}

}  // namespace
}  // namespace iocsweep

namespace iocsweep {
namespace {

// The scan cache keeps one verdict per file on disk, no member results: an
// archive with something to report inside must be read again on every
// sweep, or a cached sweep would lose the findings inside it.
TEST(ArchiveCli, ArchiveWithAMemberFindingIsNotAnsweredFromTheScanCache) {
  TempDir t, cfg;
  write_file(t / "pkg.zip", make_archive("zip", {{"bin/evtdiag.exe", kPositive}}));
  write_file(t / "plain.txt", "nothing here");
  ::usleep(250'000);  // files changed in the last 100 ms are not cached
  const std::string db = cfg / "scan.db";
  for (int pass = 0; pass < 2; ++pass) {
    RunResult r = run({kBin, "scan", "--format", "json", "--cache", db, "--cache-min-age", "0", t.path()});
    ASSERT_EQ(r.exit_code, 1) << "pass " << pass << ": " << r.err;
    json doc = parse_report(r);
    const json* f = finding_for(doc, t / "pkg.zip", {"bin/evtdiag.exe"});
    ASSERT_NE(f, nullptr) << "pass " << pass << ": " << doc["findings"].dump(2);
    EXPECT_FALSE(f->contains("cached"));
    // The plain file is answered from the cache on the second pass.
    EXPECT_EQ(doc["stats"]["files_cached"], pass == 0 ? 0 : 1) << doc["stats"].dump();
  }
}

// An entry stored by an --archives off sweep says nothing of members: a
// later sweep that opens archives must read the file again.
TEST(ArchiveCli, CacheFromAnArchivesOffSweepDoesNotHideMembers) {
  TempDir t, cfg;
  write_file(t / "pkg.zip", make_archive("zip", {{"bin/evtdiag.exe", kPositive}}));
  ::usleep(250'000);  // files changed in the last 100 ms are not cached
  const std::string db = cfg / "scan.db";
  RunResult off =
      run({kBin, "scan", "--format", "json", "--archives", "off", "--cache", db, "--cache-min-age", "0", t.path()});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  RunResult on = run({kBin, "scan", "--format", "json", "--cache", db, "--cache-min-age", "0", t.path()});
  ASSERT_EQ(on.exit_code, 1) << on.err;
  json doc = parse_report(on);
  EXPECT_NE(finding_for(doc, t / "pkg.zip", {"bin/evtdiag.exe"}), nullptr) << doc["findings"].dump(2);
  EXPECT_EQ(doc["stats"]["files_cached"], 0);
}

// A mapped (large) archive is read twice from disk: once as a file, once
// for its members. --max-rate must pay for both. A lower bound on the
// elapsed time only: a throttle that leaks makes the sweep too fast.
TEST(ArchiveCli, MaxRateAlsoPaysForReadingALargeArchivesMembers) {
  TempDir t;
  constexpr std::size_t kBig = 34'000'000;  // above the 16 MiB mapping threshold
  write_file(t / "big.tar",
             make_archive("ustar", {{"evtdiag.exe", kPositive}, {"zeros.bin", std::string(kBig, '\0')}}));
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r = run({kBin, "scan", "--format", "json", "--threads", "1", "--max-rate", "40", t.path()});
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(finding_for(parse_report(r), t / "big.tar", {"evtdiag.exe"}), nullptr);
  EXPECT_GE(elapsed, 2.0 * kBig / (1.2 * 40e6)) << "the second read of the archive was not rate-limited";
}

// A clean archive (no member matched, was skipped or failed) is answered
// from the cache while the rules, indicator sets and archive limits are
// the same; an indicator added for a member makes it read again.
TEST(ArchiveCli, CleanArchiveIsCachedUntilTheIndicatorsChange) {
  TempDir t, cfg;
  const std::string member = "harmless member bytes";
  write_file(t / "docs.zip", make_archive("zip", {{"doc/readme.txt", member}}));
  ::usleep(250'000);  // files changed in the last 100 ms are not cached
  const std::string db = cfg / "scan.db";
  RunResult first = run({kBin, "scan", "--format", "json", "--cache", db, "--cache-min-age", "0", t.path()});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  RunResult second = run({kBin, "scan", "--format", "json", "--cache", db, "--cache-min-age", "0", t.path()});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(parse_report(second)["stats"]["files_cached"], 1);
  write_file(cfg / "iocs.txt", sha256_hex(member) + ";90;the member\n");
  RunResult third = run(
      {kBin, "scan", "--format", "json", "--cache", db, "--cache-min-age", "0", "--iocs", cfg / "iocs.txt", t.path()});
  ASSERT_EQ(third.exit_code, 1) << third.err;
  json doc = parse_report(third);
  EXPECT_EQ(doc["stats"]["files_cached"], 0);
  EXPECT_NE(finding_for(doc, t / "docs.zip", {"doc/readme.txt"}), nullptr) << doc["findings"].dump(2);
}

TEST(ArchiveCli, CsvNamesTheMemberChain) {
  TempDir t;
  const std::string inner = make_archive("zip", {{"deep/evtdiag.exe", kPositive}});
  write_file(t / "outer.tar", make_archive("ustar", {{"pkg/inner.zip", inner}}));
  RunResult r = run({kBin, "scan", "--format", "csv", t.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  // path,...,member,cached, then the eight (empty) disk-image and twelve
  // (empty) process columns at the end of the finding row (no field here
  // needs quoting).
  EXPECT_NE(r.out.find("finding," + t / "outer.tar" + ","), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(",pkg/inner.zip!/deep/evtdiag.exe," + std::string(8 + 12, ',') + "\r\n"), std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace iocsweep
