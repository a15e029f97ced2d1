// The built-in rule pack (rules/*.yar), rule by rule: synthesised positives
// (the full set of strings, minimal qualifying subsets, UTF-16 forms) and
// near misses that must stay silent. Every sample is built here in memory;
// none is real malware, and none could run.

#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "iocsweep/ioc.hpp"
#include "iocsweep/match.hpp"
#include "iocsweep/pipeline.hpp"
#include "pipeline/builtin_data.hpp"
#include "test_support.hpp"

namespace iocsweep {
namespace {

using Names = std::set<std::string>;
using Strings = std::vector<std::string>;

const std::string kEngine = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine";
const std::string kEvtsys = "IOCSWEEP_Lazarus_SWIFT_Evtsys_Helper";
const std::string kNroff = "IOCSWEEP_Lazarus_SWIFT_Nroff_Splitter";
const std::string kRat = "IOCSWEEP_Lazarus_Alreay_TClient_RAT";
const std::string kCrypto = "IOCSWEEP_Lazarus_Crypto_Sector_Backdoor_2020";
const std::string kBatch = "IOCSWEEP_Lazarus_SWIFT_SelfDelete_Batch";
const std::string kLure = "IOCSWEEP_Lazarus_BlockVerify_Lure_Document";

// --- Indicator strings, as the rules spell them ------------------------------

// SWIFT toolkit RC4 key (evtdiag and evtsys).
const std::string kRc4Key("\x4E\x38\x1F\xA7\x7F\x08\xCC\xAA\x0D\x56\xED\xEF\xF9\xED\x08\xEF", 16);

// Engine, tier 1 (text), tier 2 and tier 3.
const Strings kEngineTier1 = {"PI (found, patched)", "PU (found, unpatched)", "diagsysevt"};
const Strings kEngineTier2 = {"set linesize 32567", "Allians", "recas.dat"};
const Strings kEngineTier3 = {"%c:\\Users\\%s\\AppData\\Local\\%s",
                              "liboradb.dll",
                              "gpca.dat",
                              "-S / as sysdba",
                              "SET FEEDBACK OFF",
                              "FEDERAL RESERVE BANK",
                              ".\\\" \" _DO_NOT_USE_MM_",
                              "FIN 900 Confirmation of Debit",
                              "[%02d:%02d:%02d] %s\r\n"};

// nroff_b print-stream component.
const Strings kNroffTier2 = {"nroff.exe.bak", "rnoff"};
const Strings kNroffTier3 = {"_DO_NOT_USE_MM_", "FIN 900 Confirmation of Debit", "FEDERAL RESERVE BANK",
                             "0016%04d.prt"};
const Strings kNroffDirs = {"mcm\\", "mcp\\", "mcs\\", "mcf\\"};

// Alreay RAT: internal name and little-endian command identifiers.
const std::string kRatName = "t_client_dll.dll";
const std::string kCmd21a8b293("\x93\xB2\xA8\x21", 4);
const std::string kCmd23fae29c("\x9C\xE2\xFA\x23", 4);
const std::string kCmd91b93485("\x85\x34\xB9\x91", 4);

// 2020 cryptocurrency-sector backdoor.
const std::string kFwAdd = "netsh firewall add portopening TCP %d";
const std::string kFwDel = "netsh firewall delete portopening TCP %d";
const std::string kRunAppend = "cmd.exe /c \"%s >> %s 2>&1\"";
const std::string kRunErrors = "cmd.exe /c \"%s 2>> %s\"";
const Strings kCryptoFiles = {"perflog.dat", "perflog.evt", "cbstc.log", "NTUSER.cat"};

// Self-delete batch script: the whole thing, as a responder might find it.
const std::string kBatchFull =
    "@echo off\r\n"
    ":loop\r\n"
    "del /f /q evtdiag.exe\r\n"
    "del /f /q evtsys.exe\r\n"
    "del /f /q nroff_b.exe\r\n"
    "del gpca.dat\r\n"
    "del recas.dat\r\n"
    "if exist evtdiag.exe goto loop\r\n"
    "del evchk.bat\r\n"
    "del %0\r\n";

const std::string kLureTitle = "BlockVerify Group Job Description";

// --- Sample builders ---------------------------------------------------------

/// Strings laid out like a PE string table: each NUL-terminated.
std::string table(const Strings& parts) {
  std::string out(1, '\0');
  for (const auto& p : parts) out += p + std::string(1, '\0');
  return out;
}

/// The same, every string in UTF-16LE (NUL-terminated with a wide NUL).
std::string wide_table(const Strings& parts) {
  std::string out(2, '\0');
  for (const auto& p : parts) out += test::wide(p) + std::string(2, '\0');
  return out;
}

Strings operator+(Strings a, const Strings& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string pe(const Strings& parts) { return test::synth_pe(table(parts)); }
std::string wide_pe(const Strings& parts) { return test::synth_pe(wide_table(parts)); }

/// A PE padded with zeros to exactly `size` bytes.
std::string pe_of_size(const Strings& parts, std::size_t size) {
  std::string out = pe(parts);
  if (out.size() < size) out.resize(size, '\0');
  return out;
}

/// An OLE2 compound file header (legacy .doc) followed by `payload`.
std::string ole(const std::string& payload) {
  std::string out("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
  out.resize(512, '\0');
  return out + payload;
}

/// Every indicator string of the pack, one after another.
Strings every_indicator() {
  return kEngineTier1 + kEngineTier2 + kEngineTier3 + kNroffTier2 + kNroffTier3 + kNroffDirs +
         Strings{kRc4Key, kRatName, kCmd21a8b293, kCmd23fae29c, kCmd91b93485, kFwAdd, kFwDel, kRunAppend, kRunErrors} +
         kCryptoFiles + Strings{"evchk.bat", "evtchk.bat", kLureTitle};
}

/// The strings of every PE-gated rule, enough to fire each one inside a PE.
Strings every_pe_gated_string() {
  return kEngineTier1 + kEngineTier2 + kEngineTier3 + kNroffTier2 + kNroffTier3 + kNroffDirs +
         Strings{kRc4Key, kRatName, kCmd21a8b293, kCmd23fae29c, kCmd91b93485, kFwAdd, kFwDel, kRunAppend, kRunErrors} +
         kCryptoFiles;
}

// --- Fixture -----------------------------------------------------------------

class RulesTest : public ::testing::Test {
 protected:
  struct Suite {
    YaraLibrary library;  // declared first: destroyed last
    std::shared_ptr<const CompiledRules> rules;
    std::unique_ptr<YaraScanner> scanner;
    std::string error;
  };

  static void SetUpTestSuite() {
    suite_ = new Suite();
    auto compiled = CompiledRules::compile(builtin_rule_sources());
    if (!compiled) {
      suite_->error = compiled.error().message;
      return;
    }
    suite_->rules = *compiled;
    suite_->scanner = std::make_unique<YaraScanner>(suite_->rules);
  }
  static void TearDownTestSuite() {
    delete suite_;
    suite_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(suite_->rules) << suite_->error; }

  /// Names of the built-in rules that match `bytes`.
  static Names matches(const std::string& bytes) {
    const ByteView view(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    const YaraScanResult result = suite_->scanner->scan(view, {});
    EXPECT_TRUE(result.error.empty()) << result.error;
    Names names;
    for (std::size_t i : result.matched) names.insert(suite_->rules->rules()[i].name);
    return names;
  }

  static const std::vector<RuleInfo>& rules() { return suite_->rules->rules(); }

  static Suite* suite_;
};
RulesTest::Suite* RulesTest::suite_ = nullptr;

// --- The pack as a whole -----------------------------------------------------

TEST_F(RulesTest, PackHoldsOneRulePerFamilyFile) {
  // Every rule below has its positives and near misses in this file; a new
  // rule must be added here, with its tests.
  const std::map<std::string, std::string> expected = {
      {kEngine, "builtin:lazarus_swift_evtdiag.yar"},        {kEvtsys, "builtin:lazarus_swift_evtsys.yar"},
      {kNroff, "builtin:lazarus_swift_nroff_b.yar"},         {kRat, "builtin:lazarus_alreay_rat.yar"},
      {kCrypto, "builtin:lazarus_crypto_backdoor_2020.yar"}, {kBatch, "builtin:lazarus_selfdelete_batch.yar"},
      {kLure, "builtin:lazarus_blockverify_lure.yar"},
  };
  std::map<std::string, std::string> actual;
  for (const RuleInfo& r : rules()) actual[r.name] = r.ns;
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(rules().size(), expected.size());
  EXPECT_TRUE(suite_->rules->warnings().empty());
}

TEST_F(RulesTest, EveryRuleCarriesTheRequiredMeta) {
  const std::regex id_re("IOCSWEEP-LZ-[0-9]{4}");
  const std::regex date_re("20[0-9]{2}-[01][0-9]-[0-3][0-9]");
  const std::regex attack_re("(G[0-9]{4}|T[0-9]{4}(\\.[0-9]{3})?)(, (G[0-9]{4}|T[0-9]{4}(\\.[0-9]{3})?))*");
  const std::regex hash_re("[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}");
  std::set<std::string> builtin_hashes;
  for (const auto& file : builtin_data::ioc_files()) {
    auto parsed = parse_hash_iocs(file.data, std::string(file.name));
    if (!parsed) continue;  // the file-name list
    for (const HashIoc& ioc : *parsed) builtin_hashes.insert(ioc.value);
  }
  ASSERT_FALSE(builtin_hashes.empty());

  std::set<std::string> ids;
  for (const RuleInfo& r : rules()) {
    SCOPED_TRACE(r.name);
    EXPECT_EQ(r.name.rfind("IOCSWEEP_Lazarus_", 0), 0u);
    std::map<std::string, MetaValue> meta;
    for (const auto& [key, value] : r.meta) {
      EXPECT_TRUE(meta.emplace(key, value).second) << "duplicate meta " << key;
    }
    auto text = [&](const std::string& key) -> std::string {
      auto it = meta.find(key);
      if (it == meta.end()) {
        ADD_FAILURE() << "missing meta " << key;
        return {};
      }
      const auto* s = std::get_if<std::string>(&it->second);
      if (s == nullptr) {
        ADD_FAILURE() << "meta " << key << " is not text";
        return {};
      }
      return *s;
    };
    EXPECT_GE(text("description").size(), 20u);
    EXPECT_FALSE(text("family").empty());
    EXPECT_EQ(text("author"), "iocsweep project");
    EXPECT_TRUE(std::regex_match(text("date"), date_re));
    EXPECT_GE(text("reference").size(), 10u);
    const std::string id = text("id");
    EXPECT_TRUE(std::regex_match(id, id_re)) << id;
    EXPECT_TRUE(ids.insert(id).second) << "id used twice: " << id;
    const std::string attack = text("mitre_attack");
    EXPECT_TRUE(std::regex_match(attack, attack_re)) << attack;
    EXPECT_TRUE(attack.find("G0082") != std::string::npos || attack.find("G0032") != std::string::npos) << attack;

    ASSERT_TRUE(meta.count("score"));
    const auto* score = std::get_if<std::int64_t>(&meta.at("score"));
    ASSERT_NE(score, nullptr) << "score must be an integer";
    EXPECT_GE(*score, 0);
    EXPECT_LE(*score, 100);
    EXPECT_EQ(r.score, *score);

    // A sample hash is optional, but when given it is a full hash that the
    // built-in IOC list also carries (so both come from the intel file).
    if (meta.count("hash")) {
      const std::string hash = text("hash");
      EXPECT_TRUE(std::regex_match(hash, hash_re)) << hash;
      EXPECT_TRUE(builtin_hashes.contains(hash)) << hash << " is not in iocs/";
    }
  }
}

// --- SWIFT toolkit: evtdiag engine -------------------------------------------

TEST_F(RulesTest, EngineFullSetAsciiAndWide) {
  const Strings all = Strings{kRc4Key} + kEngineTier1 + kEngineTier2 + kEngineTier3;
  EXPECT_EQ(matches(pe(all)), Names{kEngine});
  EXPECT_EQ(matches(wide_pe(kEngineTier1 + kEngineTier2 + kEngineTier3)), Names{kEngine});
}

TEST_F(RulesTest, EngineTier1StringsDecideAlone) {
  for (const std::string& s : kEngineTier1) {
    EXPECT_EQ(matches(pe({s})), Names{kEngine}) << s;
    EXPECT_EQ(matches(wide_pe({s})), Names{kEngine}) << "wide " << s;
  }
  EXPECT_EQ(matches(pe({"DiagSysEvt"})), Names{kEngine}) << "service name is case-insensitive";
  // The helper other tests (and the CLI tests) rely on.
  EXPECT_EQ(matches(test::synth_swift_engine()), Names{kEngine});
}

TEST_F(RulesTest, EngineKeyDecidesInAnEngineSizedPeOrWithAnEngineString) {
  EXPECT_EQ(matches(pe_of_size({kRc4Key}, 65536)), Names{kEngine});
  EXPECT_EQ(matches(pe({kRc4Key, "recas.dat"})), Names{kEngine});
  EXPECT_EQ(matches(pe({kRc4Key, "PU (found, unpatched)"})), Names{kEngine});
}

TEST_F(RulesTest, EngineMinimalTier2Combinations) {
  EXPECT_EQ(matches(pe({"Allians", "%c:\\Users\\%s\\AppData\\Local\\%s"})), Names{kEngine});
  EXPECT_EQ(matches(wide_pe({"Allians", "%c:\\Users\\%s\\AppData\\Local\\%s"})), Names{kEngine});
  EXPECT_EQ(matches(pe({"SET LINESIZE 32567", "recas.dat"})), Names{kEngine});
  EXPECT_EQ(matches(pe({"recas.dat", "liboradb.dll", "-S / as sysdba", "SET FEEDBACK OFF"})), Names{kEngine});
  EXPECT_EQ(matches(wide_pe({"recas.dat", "liboradb.dll", "-S / as sysdba", "SET FEEDBACK OFF"})), Names{kEngine});
}

TEST_F(RulesTest, EngineWeakStringsAloneDoNotMatch) {
  for (const std::string& s : kEngineTier2 + kEngineTier3) {
    EXPECT_EQ(matches(pe({s})), Names{}) << s;
    EXPECT_EQ(matches(wide_pe({s})), Names{}) << "wide " << s;
  }
  EXPECT_EQ(matches(pe(kEngineTier3)), Names{}) << "every tier-3 string together";
  EXPECT_EQ(matches(pe({"recas.dat", "liboradb.dll", "gpca.dat"})), Names{}) << "tier 2 with only two tier 3";
  // Near spellings: the ordinary linesize, and a Swedish word that merely starts with "Allians".
  EXPECT_EQ(matches(pe({"set linesize 32767", "recas.dat"})), Names{});
  EXPECT_EQ(matches(pe({"Alliansen", "%c:\\Users\\%s\\AppData\\Local\\%s"})), Names{});
}

// --- SWIFT toolkit: evtsys helper --------------------------------------------

TEST_F(RulesTest, EvtsysKeyInSmallPe) {
  EXPECT_EQ(matches(pe({kRc4Key})), Names{kEvtsys});
  EXPECT_EQ(matches(pe_of_size({kRc4Key}, 16384)), Names{kEvtsys}) << "the documented size";
  // Tier-3 SWIFT words do not move a small key-bearing PE to the engine.
  EXPECT_EQ(matches(pe({kRc4Key, "gpca.dat", "liboradb.dll"})), Names{kEvtsys});
}

TEST_F(RulesTest, EvtsysGivesWayToTheEngine) {
  EXPECT_EQ(matches(pe_of_size({kRc4Key}, 40 * 1024)), Names{kEngine});
  EXPECT_EQ(matches(pe({kRc4Key, "recas.dat"})), Names{kEngine});
  EXPECT_EQ(matches(pe({kRc4Key, "diagsysevt"})), Names{kEngine});
}

TEST_F(RulesTest, EvtsysKeyOutsideAPeDoesNotMatch) {
  EXPECT_EQ(matches(table({kRc4Key})), Names{});
  // A key split by one byte is no key.
  EXPECT_EQ(matches(pe({kRc4Key.substr(0, 8), kRc4Key.substr(8)})), Names{});
}

// --- SWIFT toolkit: nroff_b print-stream component ---------------------------

TEST_F(RulesTest, NroffFullSetAsciiAndWide) {
  const Strings all = kNroffTier2 + kNroffTier3 + kNroffDirs;
  EXPECT_EQ(matches(pe(all)), Names{kNroff});
  EXPECT_EQ(matches(wide_pe(all)), Names{kNroff});
}

TEST_F(RulesTest, NroffMinimalCombinations) {
  EXPECT_EQ(matches(pe({"nroff.exe.bak", "rnoff"})), Names{kNroff});
  EXPECT_EQ(matches(wide_pe({"nroff.exe.bak", "rnoff"})), Names{kNroff});
  EXPECT_EQ(matches(pe({"rnoff.exe", "_DO_NOT_USE_MM_", "FIN 900 Confirmation of Debit"})), Names{kNroff});
  EXPECT_EQ(matches(pe({"NROFF.EXE.BAK", "0016%04d.prt", "mcm\\", "mcp\\", "mcs\\"})), Names{kNroff});
  for (const std::string prt : {"00161234.prt", "0016*.prt", "0016%04d.PRT"}) {
    EXPECT_EQ(matches(pe({"nroff.exe.bak", prt, "FEDERAL RESERVE BANK"})), Names{kNroff}) << prt;
  }
}

TEST_F(RulesTest, NroffWeakStringsAloneDoNotMatch) {
  for (const std::string& s : kNroffTier2 + kNroffTier3 + kNroffDirs) {
    EXPECT_EQ(matches(pe({s})), Names{}) << s;
  }
  // A genuine SWIFT print component: all the print vocabulary, no toolkit names.
  EXPECT_EQ(matches(pe(kNroffTier3 + kNroffDirs + Strings{"nroff.exe"})), Names{});
  EXPECT_EQ(matches(wide_pe(kNroffTier3 + kNroffDirs + Strings{"nroff.exe"})), Names{});
  // "rnoff" inside another word is not the file name.
  EXPECT_EQ(matches(pe({"turnoff", "_DO_NOT_USE_MM_", "FIN 900 Confirmation of Debit"})), Names{});
  EXPECT_EQ(matches(pe({"nroff.exe.bak", "mcm\\", "mcp\\", "mcs\\", "mcf\\"})), Names{}) << "folders alone";
  EXPECT_EQ(matches(pe({"nroff.exe.bak", "FEDERAL RESERVE BANK"})), Names{}) << "one tier-3 only";
}

// --- Alreay RAT / t_client ---------------------------------------------------

TEST_F(RulesTest, AlreayRatFullSetAndMinimalSubsets) {
  EXPECT_EQ(matches(pe({kRatName, kCmd21a8b293, kCmd23fae29c, kCmd91b93485})), Names{kRat});
  for (const std::string& cmd : {kCmd21a8b293, kCmd23fae29c, kCmd91b93485}) {
    EXPECT_EQ(matches(pe({kRatName, cmd})), Names{kRat});
    EXPECT_EQ(matches(test::synth_pe(wide_table({kRatName}) + table({cmd}))), Names{kRat}) << "wide name";
  }
  EXPECT_EQ(matches(pe({kCmd21a8b293, kCmd23fae29c, kCmd91b93485})), Names{kRat}) << "all three ids";
}

TEST_F(RulesTest, AlreayRatNearMisses) {
  EXPECT_EQ(matches(pe({kRatName})), Names{});
  EXPECT_EQ(matches(wide_pe({kRatName})), Names{});
  EXPECT_EQ(matches(pe({kCmd21a8b293})), Names{});
  EXPECT_EQ(matches(pe({kCmd21a8b293, kCmd91b93485})), Names{});
  // The identifiers stored big-endian are not how the binary holds them.
  EXPECT_EQ(matches(pe({kRatName, "\x21\xA8\xB2\x93", "\x23\xFA\xE2\x9C", "\x91\xB9\x34\x85"})), Names{});
  EXPECT_EQ(matches(pe({"t_client.dll", kCmd23fae29c})), Names{});
}

// --- 2020 cryptocurrency-sector backdoor -------------------------------------

TEST_F(RulesTest, CryptoBackdoorFullSetAsciiAndWide) {
  const Strings all = Strings{kFwAdd, kFwDel, kRunAppend, kRunErrors} + kCryptoFiles;
  EXPECT_EQ(matches(pe(all)), Names{kCrypto});
  EXPECT_EQ(matches(wide_pe(all)), Names{kCrypto});
}

TEST_F(RulesTest, CryptoBackdoorMinimalCombinations) {
  EXPECT_EQ(matches(pe({kFwAdd, kFwDel, "cbstc.log"})), Names{kCrypto});
  EXPECT_EQ(matches(pe({kRunAppend, kRunErrors, "NTUSER.cat"})), Names{kCrypto});
  EXPECT_EQ(matches(wide_pe({kFwAdd, kRunErrors, "perflog.evt"})), Names{kCrypto});
  EXPECT_EQ(matches(pe({kFwDel, "perflog.dat", "PERFLOG.EVT", "cbstc.log"})), Names{kCrypto});
}

TEST_F(RulesTest, CryptoBackdoorNearMisses) {
  for (const std::string& s : Strings{kFwAdd, kFwDel, kRunAppend, kRunErrors} + kCryptoFiles) {
    EXPECT_EQ(matches(pe({s})), Names{}) << s;
  }
  EXPECT_EQ(matches(pe({kFwAdd, kFwDel})), Names{}) << "a firewall helper";
  EXPECT_EQ(matches(pe({kRunAppend, kRunErrors})), Names{}) << "a command runner";
  EXPECT_EQ(matches(pe(kCryptoFiles)), Names{}) << "file names only";
  EXPECT_EQ(matches(pe({kRunAppend, "perflog.dat", "cbstc.log"})), Names{}) << "one behaviour, two names";
  EXPECT_EQ(matches(pe({kFwAdd, kFwDel, "NTUSER.DAT", "perflog.txt"})), Names{}) << "the ordinary names";
}

// --- Self-delete batch script ------------------------------------------------

TEST_F(RulesTest, SelfDeleteBatchPositives) {
  EXPECT_EQ(matches(kBatchFull), Names{kBatch});
  EXPECT_EQ(matches(":l\r\ndel evtsys.exe\r\ndel evtchk.bat\r\n"), Names{kBatch});
  EXPECT_EQ(matches("DEL NROFF_B.EXE\nDEL \"%~f0\"\n"), Names{kBatch});
  EXPECT_EQ(matches("echo cleaning\r\nerase C:\\Users\\x\\evtdiag.exe\r\nerase evchk.bat\r\n"), Names{kBatch});
  EXPECT_EQ(matches("if exist evtdiag.exe del evtdiag.exe\r\ndel %~dpnx0\r\n"), Names{kBatch});
  EXPECT_EQ(matches("@echo off\r\ndel evtdiag.exe & del /f /q \"%~f0\" & exit\r\n"), Names{kBatch});
  EXPECT_EQ(matches("@echo off\r\ndel evtdiag.exe\r\n(goto) 2>nul & del \"%~f0\""), Names{kBatch}) << "at EOF";
}

TEST_F(RulesTest, SelfDeleteBatchNearMisses) {
  EXPECT_EQ(matches("@echo off\r\ndel setup.tmp\r\ndel %0\r\n"), Names{}) << "an installer cleaning up";
  EXPECT_EQ(matches("@echo off\r\ndel gpca.dat\r\ndel recas.dat\r\ndel %0\r\n"), Names{}) << "data names only";
  EXPECT_EQ(matches("@echo off\r\ndel evtdiag.exe\r\n"), Names{}) << "does not delete itself";
  EXPECT_EQ(matches("@echo off\r\ncopy evtdiag.exe x\r\ndel %0\r\n"), Names{}) << "no deletion of the tool";
  EXPECT_EQ(matches("@echo off\r\nremodel evtdiag.exe\r\nmodel %0\r\n"), Names{}) << "'del' inside words";
  // Format strings in message catalogues ("del ... %08x") are not "del %0".
  EXPECT_EQ(matches("@echo off\r\ndel evtdiag.exe\r\necho del byte 0x%08x\r\n"), Names{});
  EXPECT_EQ(matches("@echo off\r\ndel evtdiag.exe\r\ndel %0.tmp\r\n"), Names{}) << "not its own path";
  // The same script quoted in a report is a document, not a script.
  EXPECT_EQ(matches("Notes on the clean-up script found on the host:\r\n\r\n" + kBatchFull), Names{});
  // Over the size cap, and in UTF-16 (which cmd.exe does not run).
  EXPECT_EQ(matches(kBatchFull + "rem " + std::string(9000, 'x') + "\r\n"), Names{});
  EXPECT_EQ(matches(test::wide(kBatchFull)), Names{});
}

// --- BlockVerify lure document -----------------------------------------------

TEST_F(RulesTest, LureDocumentPositives) {
  EXPECT_EQ(matches(ole(table({kLureTitle}))), Names{kLure});
  EXPECT_EQ(matches(ole(wide_table({kLureTitle}))), Names{kLure});
  EXPECT_EQ(matches("{\\rtf1\\ansi{\\info{\\title " + kLureTitle + "}}Dear candidate}"), Names{kLure});
  EXPECT_EQ(matches("%PDF-1.4\n1 0 obj\n<< /Title (" + kLureTitle + ") >>\nendobj\n%%EOF\n"), Names{kLure});
}

TEST_F(RulesTest, LureDocumentNearMisses) {
  EXPECT_EQ(matches(kLureTitle + "\n"), Names{}) << "plain text naming the lure";
  EXPECT_EQ(matches(test::wide(kLureTitle)), Names{});
  EXPECT_EQ(matches(pe({kLureTitle})), Names{}) << "not a document";
  EXPECT_EQ(matches(ole(table({"BlockVerify"}))), Names{});
  EXPECT_EQ(matches(ole(table({"Job Description", "BlockVerify Group"}))), Names{});
  EXPECT_EQ(matches(ole(table({"blockverify group job description"}))), Names{}) << "case as documented";
}

// --- Near misses across the whole pack ---------------------------------------

TEST_F(RulesTest, BenignSqlplusAndSwiftToolDoesNotMatch) {
  // What a bank's own SWIFT / Oracle tooling may hold: genuine component
  // names, ordinary DBA usage, SWIFT print vocabulary, generic helpers.
  const Strings tool = {"liboradb.dll",
                        "nroff.exe",
                        "sqlplus.exe",
                        "-S / as sysdba",
                        "SET FEEDBACK OFF",
                        "set linesize 32767",
                        "set pagesize 0",
                        "FEDERAL RESERVE BANK",
                        "FIN 900 Confirmation of Debit",
                        "_DO_NOT_USE_MM_",
                        "0016%04d.prt",
                        "mcm\\",
                        "mcp\\",
                        "mcs\\",
                        "mcf\\",
                        "gpca.dat",
                        "[%02d:%02d:%02d] %s\r\n",
                        "%c:\\Users\\%s\\AppData\\Local\\%s",
                        kRunAppend,
                        kFwAdd,
                        kFwDel,
                        "NTUSER.DAT",
                        "CBS.log",
                        "Administrator"};
  EXPECT_EQ(matches(pe(tool)), Names{});
  EXPECT_EQ(matches(wide_pe(tool)), Names{});
}

TEST_F(RulesTest, PlainTextQuotingEveryIndicatorDoesNotMatch) {
  std::string doc = "Lazarus SWIFT toolkit and related tooling: indicators for the response team\n\n";
  for (const std::string& s : every_indicator()) doc += "  - " + s + "\n";
  doc += "\nClean-up script as recovered:\n" + kBatchFull;
  EXPECT_EQ(matches(doc), Names{});
  EXPECT_EQ(matches(test::wide(doc)), Names{}) << "UTF-16 notes";
}

TEST_F(RulesTest, NonPeFilesWithPeGatedStringsDoNotMatch) {
  const std::string payload = table(every_pe_gated_string());
  const std::string wide_payload = wide_table(every_pe_gated_string());
  // Sanity: inside a PE the same bytes fire every PE-gated rule but evtsys
  // (which steps aside when engine strings are present).
  EXPECT_EQ(matches(test::synth_pe(payload)), (Names{kEngine, kNroff, kRat, kCrypto}));

  EXPECT_EQ(matches(payload), Names{}) << "no header";
  EXPECT_EQ(matches(wide_payload), Names{}) << "no header, UTF-16";
  EXPECT_EQ(matches(std::string("\x7F"
                                "ELF\x01\x01\x01",
                                7) +
                    std::string(57, '\0') + payload),
            Names{})
      << "ELF";
  // An MZ header whose e_lfanew does not lead to "PE\0\0" (a DOS program).
  std::string dos(0x80, '\0');
  dos[0] = 'M';
  dos[1] = 'Z';
  dos[0x3C] = 0x40;
  dos.replace(0x40, 4, std::string("NE\0\0", 4));
  EXPECT_EQ(matches(dos + payload), Names{}) << "MZ without PE signature";
  // And "PE\0\0" present, but not where e_lfanew points.
  std::string misplaced = test::synth_pe(payload);
  misplaced[0x3C] = 0x60;
  EXPECT_EQ(matches(misplaced), Names{}) << "PE signature not at e_lfanew";
}

}  // namespace
}  // namespace iocsweep
