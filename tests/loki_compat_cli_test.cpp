// Integration tests of Loki compatibility: a signature-base checkout's
// misc/file-type-signatures.txt gives `filetype`, `extension` is Loki's,
// and `rules list --signature-base` lists what scan loads. Run the built
// binary on trees made here.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "report_support.hpp"
#include "signature_base.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using nlohmann::json;
using test::run;
using test::RunResult;
using test::TempDir;
using test::write_file;

const std::string kBin = test::binary_under_test();

// A checkout with rules on `filetype` and `extension` and a file-type
// table in Loki's layout (none of signature-base's text).
void make_checkout(const TempDir& sb, const std::string& table) {
  std::filesystem::create_directories(sb / "yara");
  std::filesystem::create_directories(sb / "misc");
  std::filesystem::create_directories(sb / "iocs");
  write_file(sb / "yara/types.yar",
             "rule php_by_type { condition: filetype == \"PHP\" }\n"
             "rule batch_by_type { condition: filetype == \"BATCH\" }\n"
             "rule php_by_extension { condition: extension == \".php\" }\n"
             "rule unknown_type { condition: filetype == \"UNKNOWN\" and extension == \".txt\" }\n");
  write_file(sb / "yara/zz_broken.yar", "rule broken { condition: nonsense }\n");
  write_file(sb / "misc/file-type-signatures.txt", table);
}

std::set<std::string> rules_matched(const json& doc, const std::string& path) {
  std::set<std::string> out;
  const json* f = test::finding_for(doc, path);
  if (f == nullptr) return out;
  for (const json& m : (*f)["matches"]) {
    if (m.contains("rule")) out.insert(m["rule"].get<std::string>());
  }
  return out;
}

TEST(LokiCompat, FiletypeComesFromTheCheckoutsTableAndExtensionIsLokis) {
  TempDir sb, tree;
  make_checkout(sb, "# File Type Signatures\n3C 3F 70 68 70;PHP\n40 65 63 68;BATCH\n");
  write_file(tree / "SHELL.PHP", "<?php echo 1; ?>");
  write_file(tree / "run.cmd", "@echo off\r\n");
  write_file(tree / "notes.txt", "<?ph");  // shorter than the PHP signature
  RunResult r = run({kBin, "scan", "--no-builtin", "--signature-base", sb.path(), "--format", "json", tree.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  const json doc = test::parse_report(r);
  EXPECT_EQ(rules_matched(doc, tree / "SHELL.PHP"), (std::set<std::string>{"php_by_type", "php_by_extension"}));
  EXPECT_EQ(rules_matched(doc, tree / "run.cmd"), (std::set<std::string>{"batch_by_type"}));
  EXPECT_EQ(rules_matched(doc, tree / "notes.txt"), (std::set<std::string>{"unknown_type"}));
}

TEST(LokiCompat, BadFileTypeLineStopsBeforeScanningNamingFileAndLine) {
  TempDir sb, tree;
  make_checkout(sb, "3C 3F 70 68 70;PHP\n3C 3F 7Z;BAD\n");
  write_file(tree / "a.php", "<?php");
  RunResult r = run({kBin, "scan", "--no-builtin", "--signature-base", sb.path(), tree.path()});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find(sb / "misc/file-type-signatures.txt:2: signature is not hex digits"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "") << "nothing is scanned or reported";
}

TEST(LokiCompat, CheckoutWithoutMiscIsAWarning) {
  TempDir sb, tree;
  make_checkout(sb, "");
  std::filesystem::remove_all(sb / "misc");
  write_file(tree / "a.txt", "x");
  RunResult r = run({kBin, "scan", "--no-builtin", "--signature-base", sb.path(), "--format", "json", tree.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("file-type-signatures.txt: not found"), std::string::npos) << r.err;
  // The built-in magic list types a text file UNKNOWN too.
  EXPECT_EQ(rules_matched(test::parse_report(r), tree / "a.txt"), (std::set<std::string>{"unknown_type"}));
}

TEST(LokiCompat, RulesListTakesASignatureBaseCheckoutAsScanDoes) {
  TempDir sb;
  make_checkout(sb, "");
  RunResult r = run({kBin, "rules", "list", "--json", "--no-builtin", "--signature-base", sb.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> names;
  for (const json& rule : json::parse(r.out)) names.insert(rule["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"php_by_type", "batch_by_type", "php_by_extension", "unknown_type"}));
  EXPECT_NE(r.err.find("zz_broken.yar: skipped, it does not compile"), std::string::npos) << r.err;
}

// signature-base's own table: a PHP web shell is typed PHP, as under Loki.
TEST(LokiCompat, SignatureBaseTableTypesPhp) {
  const std::string real = test::signature_base_dir();
  if (real.empty()) GTEST_SKIP() << test::kNoSignatureBase;
  TempDir sb, tree;
  make_checkout(sb, test::read_file(real + "/misc/file-type-signatures.txt"));
  write_file(tree / "x.PhP", "<?php echo 1; ?>");
  RunResult r = run({kBin, "scan", "--no-builtin", "--signature-base", sb.path(), "--format", "json", tree.path()});
  ASSERT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(rules_matched(test::parse_report(r), tree / "x.PhP"),
            (std::set<std::string>{"php_by_type", "php_by_extension"}));
}

// Loki's `md5` external is the file's MD5 when a condition reads it; a set
// that spells md5 only as a meta key (as signature-base does) needs no MD5
// and still matches on the other externals.
TEST(LokiCompat, Md5ExternalIsTheFilesMd5WhenAConditionReadsIt) {
  TempDir rules, tree;
  write_file(rules / "by_md5.yar",
             "rule by_md5 { condition: md5 == \"161d85a9ca2d4ea57481e63ab9e6bd27\" }\n"
             "rule other_md5 { condition: md5 == \"00000000000000000000000000000000\" }\n");
  write_file(rules / "meta_only.yar",
             "rule by_name { meta: md5 = \"161d85a9ca2d4ea57481e63ab9e6bd27\" condition: filename == \"f.bin\" }\n");
  write_file(tree / "f.bin", "md5 bytes here");  // MD5 161d85a9...
  for (const bool with_md5_rule : {true, false}) {
    SCOPED_TRACE(with_md5_rule);
    std::vector<std::string> args = {kBin, "scan", "--no-builtin", "--no-rule-cache", "--format", "json"};
    if (with_md5_rule) args.insert(args.end(), {"--rules", rules / "by_md5.yar"});
    args.insert(args.end(), {"--rules", rules / "meta_only.yar", tree.path()});
    RunResult r = run(args);
    ASSERT_EQ(r.exit_code, 1) << r.err;
    const json doc = test::parse_report(r);
    const std::set<std::string> expected =
        with_md5_rule ? std::set<std::string>{"by_md5", "by_name"} : std::set<std::string>{"by_name"};
    EXPECT_EQ(rules_matched(doc, tree / "f.bin"), expected);
  }
}

}  // namespace
}  // namespace iocsweep
