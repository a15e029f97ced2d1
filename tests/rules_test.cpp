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

#include "iocsweep/filename_ioc.hpp"
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
const std::string kFastCash = "IOCSWEEP_Lazarus_FASTCash_AIX_Injector";
const std::string kImeklmg = "IOCSWEEP_Lazarus_Bluenoroff_IMEKLMG_RAT";
const std::string kImeklmgHive = "IOCSWEEP_Lazarus_Bluenoroff_IMEKLMG_RunKey_Hive";
const std::string kRatankba = "IOCSWEEP_Lazarus_Ratankba";
const std::string kPowerRatankba = "IOCSWEEP_Lazarus_PowerRatankba_Task";
const std::string kEngineMemory = "IOCSWEEP_Lazarus_SWIFT_Evtdiag_Engine_Memory";
const std::string kRatankbaMemory = "IOCSWEEP_Lazarus_Ratankba_Memory";

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

// FASTCash AIX injector: tier 1, tier 2, and the ISO 8583 library symbols.
const Strings kFastCashTier1 = {"/tmp/.ICE-unix/TMPENG%X.dat", "/tmp/.ICE-unix/DUMP%X.dat", "[main] Inject OK(%llX)"};
const Strings kFastCashTier2 = {"[main] Inject Start", "[main] Eject OK", "/tmp/.ICE-unix/config_%d", "eng64.c"};
const Strings kIso8583 = {"DL_ISO8583_MSG_Unpack", "CheckPan", "BlacklistCheck"};

// Bluenoroff IMEKLMG RAT: documented size and Run value text.
constexpr std::size_t kImeklmgSize = 487424;
const std::string kImeklmgRun = "C:\\Users\\bob\\AppData\\Roaming\\IMEKLMG.exe -s";

// Ratankba: verified request formats, then the single-source strings.
const Strings kRatankbaRequests = {"%s?action=What&u=%I64u", "%s?action=BaseInfo&u=%I64u"};
const Strings kRatankbaTier2 = {"action=CmdRes&u=",
                                "www.eye-watch.in",
                                "cmd.exe /c \"hostname > %s\"",
                                "cmd.exe /c \"whoami >> %s\"",
                                "cmd.exe /c \"net view /domain >> %s\"",
                                "cmd.exe /c \"tasklist /svc >> %s\""};

// PowerRatankba script path and task name.
const std::string kPrScript = "C:\\Users\\Public\\Documents\\ProxyAutoUpdate.ps1";
const std::string kPrTask = "ProxyServerUpdater";

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

/// An XCOFF64 executable (AIX): the 24-byte file header, magic 0x01F7
/// big-endian, then `parts` as a string table.
std::string xcoff64(const Strings& parts) {
  std::string out("\x01\xF7", 2);
  out.resize(24, '\0');
  return out + table(parts);
}

/// A registry hive file: the "regf" base block (4 KiB), then `payload`.
std::string hive(const std::string& payload) {
  std::string out("regf", 4);
  out.resize(4096, '\0');
  return out + payload;
}

/// The strings of every PE-gated rule, enough to fire each one inside a PE.
Strings every_pe_gated_string() {
  return kEngineTier1 + kEngineTier2 + kEngineTier3 + kNroffTier2 + kNroffTier3 + kNroffDirs +
         Strings{kRc4Key, kRatName, kCmd21a8b293, kCmd23fae29c, kCmd91b93485, kFwAdd, kFwDel, kRunAppend, kRunErrors} +
         kCryptoFiles + kRatankbaRequests + kRatankbaTier2;
}

/// Every indicator string of the pack, one after another.
Strings every_indicator() {
  return every_pe_gated_string() + Strings{"evchk.bat", "evtchk.bat", kLureTitle} + kFastCashTier1 + kFastCashTier2 +
         kIso8583 + Strings{kImeklmgRun, "IMEKLMG.exe", kPrScript, kPrTask};
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

  /// Names of the built-in rules that match `bytes`, scanned as the file
  /// at `path` (the filepath external; empty by default).
  static Names matches(const std::string& bytes, const std::string& path = {}) {
    const ByteView view(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ScanExternals ext;
    ext.filepath = path;
    const YaraScanResult result = suite_->scanner->scan(view, ext);
    EXPECT_TRUE(result.error.empty()) << result.error;
    Names names;
    for (std::size_t i : result.matched) names.insert(suite_->rules->rules()[i].name);
    return names;
  }

  /// Names of the built-in rules that match a process memory holding
  /// `blocks`, one region each (at made-up addresses, 1 MiB apart), as
  /// ProcessStage scans it: the memory scope, no file facts.
  static Names memory_matches(const Strings& blocks) {
    class Blocks final : public MemoryBlocks {
     public:
      explicit Blocks(const Strings& b) : b_(b) {}
      std::size_t count() const override { return b_.size(); }
      std::uint64_t base(std::size_t i) const override { return 0x7f0000000000 + (i << 20); }
      std::size_t size(std::size_t i) const override { return b_[i].size(); }
      ByteView fetch(std::size_t i) override {
        return ByteView(reinterpret_cast<const std::uint8_t*>(b_[i].data()), b_[i].size());
      }

     private:
      const Strings& b_;
    } mem(blocks);
    ScanExternals ext;
    ext.scope = "memory";
    const YaraScanResult result = suite_->scanner->scan_memory(mem, ext);
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
      {kLure, "builtin:lazarus_blockverify_lure.yar"},       {kFastCash, "builtin:lazarus_fastcash_aix.yar"},
      {kImeklmg, "builtin:lazarus_bluenoroff_imeklmg.yar"},  {kImeklmgHive, "builtin:lazarus_bluenoroff_imeklmg.yar"},
      {kRatankba, "builtin:lazarus_ratankba.yar"},           {kPowerRatankba, "builtin:lazarus_ratankba.yar"},
      {kEngineMemory, "builtin:lazarus_memory.yar"},         {kRatankbaMemory, "builtin:lazarus_memory.yar"},
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
      const auto* s = std::get_if<const char*>(&it->second);
      if (s == nullptr) {
        ADD_FAILURE() << "meta " << key << " is not text";
        return {};
      }
      return std::string(*s);
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

// --- FASTCash AIX injector ---------------------------------------------------

TEST_F(RulesTest, FastCashFullSetAndTier1Alone) {
  EXPECT_EQ(matches(xcoff64(kFastCashTier1 + kFastCashTier2 + kIso8583)), Names{kFastCash});
  for (const std::string& s : kFastCashTier1) EXPECT_EQ(matches(xcoff64({s})), Names{kFastCash}) << s;
}

TEST_F(RulesTest, FastCashMinimalTier2Combinations) {
  EXPECT_EQ(matches(xcoff64({"[main] Inject Start", "[main] Eject OK"})), Names{kFastCash});
  EXPECT_EQ(matches(xcoff64({"/tmp/.ICE-unix/config_%d", "eng64.c"})), Names{kFastCash});
  EXPECT_EQ(matches(xcoff64({"eng64.c", "DL_ISO8583_MSG_Unpack", "CheckPan"})), Names{kFastCash});
}

TEST_F(RulesTest, FastCashIso8583LibraryAloneDoesNotMatch) {
  // A genuine payment-switch program linking the open-source DL ISO8583
  // library, with the modules' function names: no evidence.
  EXPECT_EQ(matches(xcoff64(kIso8583 + Strings{"DL_ISO8583_MSG_Pack", "DL_ISO8583_DEFS_1987_GetHandler"})), Names{});
  for (const std::string& s : kFastCashTier2) {
    EXPECT_EQ(matches(xcoff64({s})), Names{}) << s;
    EXPECT_EQ(matches(xcoff64({s, "CheckPan"})), Names{}) << s << " with one library symbol";
  }
  EXPECT_EQ(matches(xcoff64({"eng64.cpp", "[main] Eject OKAY"})), Names{}) << "near spellings";
}

TEST_F(RulesTest, FastCashStringsOutsideAnXcoff64DoNotMatch) {
  const std::string payload = table(kFastCashTier1 + kFastCashTier2);
  EXPECT_EQ(matches(payload), Names{}) << "no header";
  EXPECT_EQ(matches(std::string("\xF7\x01", 2) + std::string(22, '\0') + payload), Names{}) << "magic little-endian";
  EXPECT_EQ(matches(std::string("\x01\xDF", 2) + std::string(18, '\0') + payload), Names{}) << "XCOFF32";
  EXPECT_EQ(matches(test::synth_pe(payload)), Names{}) << "a PE";
}

// --- Bluenoroff IMEKLMG RAT --------------------------------------------------

TEST_F(RulesTest, ImeklmgPeOfTheDocumentedSizeInAppData) {
  const std::string sample = pe_of_size({"benign"}, kImeklmgSize);
  EXPECT_EQ(matches(sample, "/mnt/img/Users/bob/AppData/Roaming/IMEKLMG.exe"), Names{kImeklmg});
  EXPECT_EQ(matches(sample, "C:\\Users\\bob\\AppData\\Roaming\\imeklmg.exe"), Names{kImeklmg}) << "any case";
  EXPECT_EQ(matches(sample, "/mnt/xp/Documents and Settings/bob/Application Data/IMEKLMG.exe"), Names{kImeklmg});
}

TEST_F(RulesTest, ImeklmgNearMisses) {
  const std::string sample = pe_of_size({"benign"}, kImeklmgSize);
  const std::string path = "/mnt/img/Users/bob/AppData/Roaming/IMEKLMG.exe";
  EXPECT_EQ(matches(sample), Names{}) << "no path";
  EXPECT_EQ(matches(pe_of_size({"benign"}, kImeklmgSize + 1), path), Names{}) << "another size";
  EXPECT_EQ(matches(std::string(kImeklmgSize, '\0'), path), Names{}) << "not a PE";
  EXPECT_EQ(matches(sample, "/mnt/img/Users/bob/AppData/Local/IMEKLMG.exe"), Names{}) << "not %APPDATA%";
  EXPECT_EQ(matches(sample, "/mnt/img/Users/bob/AppData/Roaming/XIMEKLMG.exe"), Names{}) << "another name";
  EXPECT_EQ(matches(sample, "/mnt/img/Users/bob/AppData/Roaming/IMEKLMG.exe.txt"), Names{});
}

TEST_F(RulesTest, ImeklmgRunValueInsideAHive) {
  // A Run value's REG_SZ data is UTF-16LE in the hive.
  EXPECT_EQ(matches(hive(test::wide(kImeklmgRun) + std::string(2, '\0'))), Names{kImeklmgHive});
  EXPECT_EQ(matches(hive(test::wide("\"%APPDATA%\\imeklmg.EXE -s\""))), Names{kImeklmgHive}) << "any case";
}

TEST_F(RulesTest, ImeklmgRunValueNearMisses) {
  EXPECT_EQ(matches(test::wide(kImeklmgRun)), Names{}) << "UTF-16 text that is no hive";
  EXPECT_EQ(matches(kImeklmgRun), Names{});
  EXPECT_EQ(matches(hive(kImeklmgRun)), Names{}) << "ASCII: not how a hive stores REG_SZ data";
  EXPECT_EQ(matches(hive(test::wide("C:\\Users\\bob\\AppData\\Roaming\\IMEKLMG.exe"))), Names{}) << "no -s";
  EXPECT_EQ(matches(hive(test::wide("C:\\Tools\\NotIMEKLMG.exe -s"))), Names{}) << "another program";
}

// --- Ratankba and PowerRatankba ----------------------------------------------

TEST_F(RulesTest, RatankbaRequestFormatsDecideAlone) {
  for (const std::string& s : kRatankbaRequests) {
    EXPECT_EQ(matches(pe({s})), Names{kRatankba}) << s;
    EXPECT_EQ(matches(wide_pe({s})), Names{kRatankba}) << "wide " << s;
  }
  EXPECT_EQ(matches(pe(kRatankbaRequests + kRatankbaTier2)), Names{kRatankba});
}

TEST_F(RulesTest, RatankbaSingleSourceStringsNeedThree) {
  EXPECT_EQ(matches(pe({"action=CmdRes&u=", "cmd.exe /c \"hostname > %s\"", "cmd.exe /c \"whoami >> %s\""})),
            Names{kRatankba});
  EXPECT_EQ(matches(wide_pe(
                {"CMD.EXE /c \"net view /domain >> %s\"", "cmd.exe /c \"tasklist /svc >> %s\"", "www.eye-watch.in"})),
            Names{kRatankba});
  for (std::size_t i = 0; i + 1 < kRatankbaTier2.size(); ++i) {
    EXPECT_EQ(matches(pe({kRatankbaTier2[i], kRatankbaTier2[i + 1]})), Names{}) << "two: " << kRatankbaTier2[i];
  }
  EXPECT_EQ(matches(pe({"%s?action=What&u=%d", "%s?action=Info&u=%I64u"})), Names{}) << "near formats";
  EXPECT_EQ(matches(table(kRatankbaRequests + kRatankbaTier2)), Names{}) << "not a PE";
}

TEST_F(RulesTest, PowerRatankbaSchedulingScripts) {
  const std::string ps1 = "$a = New-ScheduledTaskAction -Execute powershell.exe -Argument '-w hidden -f " + kPrScript +
                          "'\r\nRegister-ScheduledTask -TaskName " + kPrTask + " -Action $a\r\n";
  EXPECT_EQ(matches(ps1, "C:\\Users\\Public\\Documents\\install.ps1"), Names{kPowerRatankba});
  // A script is known by its name: the same text in a file of another name
  // is not looked at (the prefilter keeps other small text files from libyara).
  EXPECT_EQ(matches(ps1, "/srv/notes/readme"), Names{});
  EXPECT_EQ(matches("schtasks /create /tn " + kPrTask + " /sc minute /mo 30 /tr \"powershell -f x.ps1\"\r\n",
                    "/mnt/img/Users/x/AppData/Local/Temp/u.cmd"),
            Names{kPowerRatankba});
  EXPECT_EQ(matches("@echo off\r\nSCHTASKS.EXE /Create /TN Updater /TR \"powershell -f " + kPrScript + "\"\r\n"),
            Names{kPowerRatankba});
  // The file Task Scheduler keeps in System32\Tasks: UTF-16LE XML with a BOM.
  const std::string task_xml =
      "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n"
      "<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">"
      "<RegistrationInfo><URI>\\" +
      kPrTask +
      "</URI></RegistrationInfo><Actions><Exec>"
      "<Command>powershell.exe</Command><Arguments>-f " +
      kPrScript + "</Arguments></Exec></Actions></Task>\r\n";
  EXPECT_EQ(matches(std::string("\xFF\xFE", 2) + test::wide(task_xml)), Names{kPowerRatankba});
}

TEST_F(RulesTest, PowerRatankbaNearMisses) {
  EXPECT_EQ(matches("Indicators: the script " + kPrScript + " runs as the scheduled task " + kPrTask + ".\n"), Names{})
      << "a text naming both";
  EXPECT_EQ(matches(test::wide("IOC: " + kPrScript + ", task " + kPrTask)), Names{});
  EXPECT_EQ(matches("It persists with Register-ScheduledTask (or schtasks /create).\r\nTask name: " + kPrTask +
                        "\r\nScript: " + kPrScript + "\r\n",
                    "notes.txt"),
            Names{})
      << "scheduling and names on separate lines";
  EXPECT_EQ(matches("schtasks /create /tn ProxyUpdater /tr \"powershell -f C:\\Users\\Public\\x.ps1\"\r\n", "a.bat"),
            Names{})
      << "another task";
  EXPECT_EQ(matches("schtasks /delete /tn " + kPrTask + " /f\r\n", "a.bat"), Names{}) << "a clean-up, not a schedule";
  EXPECT_EQ(matches(pe({"schtasks /create /tn " + kPrTask}), "a.bat"), Names{}) << "an executable: not this rule";
  EXPECT_EQ(matches("Register-ScheduledTask -TaskName " + kPrTask + " " + std::string(1 << 20, ' '), "a.ps1"), Names{})
      << "over the size cap";
  const std::string xml =
      "<?xml version=\"1.0\"?><Task xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">"
      "<RegistrationInfo><URI>\\" +
      kPrTask + "</URI></RegistrationInfo></Task>";
  EXPECT_EQ(matches(xml), Names{kPowerRatankba}) << "sanity: an ASCII task definition";
  EXPECT_EQ(matches("Recovered task definition:\n" + xml), Names{}) << "quoted in a text";
  EXPECT_EQ(matches("<?xml version=\"1.0\"?><Task><URI>\\" + kPrTask + "</URI></Task>"), Names{}) << "no namespace";
}

TEST_F(RulesTest, RuleSourcesThemselvesDoNotMatch) {
  // A source checkout, or a copy of rules/ on the swept host, holds every
  // string of the pack as text.
  for (const RuleSource& src : builtin_rule_sources()) EXPECT_EQ(matches(src.text), Names{}) << src.name;
}

// --- The path indicator list -------------------------------------------------

TEST_F(RulesTest, PathListCoversTheAdditionsAndSparesGenuineLocations) {
  FilenameIocDb db;
  for (const auto& file : builtin_data::ioc_files()) {
    if (std::string_view(file.name).find("filename") == std::string_view::npos) continue;
    ASSERT_TRUE(db.add_set(file.data, std::string(file.name)));
  }
  ASSERT_TRUE(db.compile());
  auto scores = [&](const std::string& path) {
    std::vector<int> out;
    for (const FilenameIoc* ioc : db.match(path)) out.push_back(ioc->score);
    return out;
  };
  using V = std::vector<int>;
  // The hijacker names in all four spellings.
  for (const std::string name : {"msdtc.exe", "mstdc.exe", "gpvc.exe", "gpsvc.exe"}) {
    EXPECT_EQ(scores("/mnt/img/Windows/" + name), V{80}) << name;
    EXPECT_EQ(scores("/mnt/img/Users/bob/AppData/Local/Temp/" + name), V{70}) << name;
    EXPECT_EQ(scores("C:\\ProgramData\\" + name), V{70}) << name;
    // Where Windows keeps the genuine msdtc.exe (and nothing of the others).
    EXPECT_EQ(scores("/mnt/img/Windows/System32/" + name), V{}) << name;
    EXPECT_EQ(scores("C:\\WINDOWS\\SysWOW64\\" + name), V{}) << name;
    EXPECT_EQ(scores("/mnt/img/Windows/WinSxS/amd64_microsoft-windows-msdtc-x_31bf3856ad364e35_10.0.1_none/" + name),
              V{})
        << name;
  }
  EXPECT_EQ(scores("/mnt/img/Windows/System32/gpsvc.dll"), V{}) << "the Group Policy service DLL";
  EXPECT_EQ(scores("/mnt/img/Users/bob/AppData/Roaming/IMEKLMG.exe"), V{75});
  EXPECT_EQ(scores("/mnt/img/Users/bob/AppData/Local/IMEKLMG.exe"), V{});
  EXPECT_EQ(scores("/mnt/img/Users/Public/Documents/ProxyAutoUpdate.ps1"), V{70});
  EXPECT_EQ(scores("/mnt/img/Windows/System32/Tasks/ProxyServerUpdater"), V{70});
  EXPECT_EQ(scores("/tmp/.ICE-unix/TMPENG1F2A.dat"), V{70});
  EXPECT_EQ(scores("/tmp/.ICE-unix/DUMP0.dat"), V{70});
  EXPECT_EQ(scores("/tmp/.ICE-unix/config_3"), V{60});
  EXPECT_EQ(scores("/tmp/.ICE-unix/1234"), V{}) << "an X11 session socket";
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

// --- Process memory (lazarus_memory.yar) -----------------------------------

TEST_F(RulesTest, EngineInMemoryNeedsTheKeyWithAnotherFactOrBothStatusLines) {
  const std::string junk(4096, 'x');
  // Each fact in a region of its own, as a running engine's heap and data
  // would hold them.
  for (const std::string& s : kEngineTier1) {
    EXPECT_EQ(memory_matches({junk + kRc4Key, junk, s + junk}), Names{kEngineMemory}) << s;
    EXPECT_EQ(memory_matches({test::wide(s), kRc4Key}), Names{kEngineMemory}) << "wide " << s;
    EXPECT_EQ(memory_matches({junk + s + junk}), Names{}) << "alone: " << s;
  }
  EXPECT_EQ(memory_matches({kEngineTier1[0], test::wide(kEngineTier1[1])}), Names{kEngineMemory});
  EXPECT_EQ(memory_matches({junk + kRc4Key + junk}), Names{}) << "the key alone";
  EXPECT_EQ(memory_matches({kEngineTier1[2], "diagsysevt2"}), Names{}) << "the service name twice";
  EXPECT_EQ(memory_matches({"PI (found, patchd)", kRc4Key}), Names{}) << "a near status line";
}

TEST_F(RulesTest, RatankbaInMemoryNeedsBothRequestFormats) {
  EXPECT_EQ(memory_matches({kRatankbaRequests[0], std::string(100, '\0'), kRatankbaRequests[1]}),
            Names{kRatankbaMemory});
  EXPECT_EQ(memory_matches({test::wide(kRatankbaRequests[0]) + test::wide(kRatankbaRequests[1])}),
            Names{kRatankbaMemory});
  for (const std::string& s : kRatankbaRequests) EXPECT_EQ(memory_matches({s, s}), Names{}) << "alone: " << s;
  EXPECT_EQ(memory_matches(kRatankbaTier2), Names{}) << "the single-source strings are not memory evidence";
}

TEST_F(RulesTest, MemoryRulesNeverMatchAFile) {
  // The same bytes as a file (the file scope), inside a PE or not: only
  // the file rules may answer, and the memory rules never do.
  const Strings both = {kRc4Key, kEngineTier1[0], kEngineTier1[1], kRatankbaRequests[0], kRatankbaRequests[1]};
  EXPECT_EQ(matches(table(both)), Names{});
  EXPECT_EQ(matches(pe(both)), (Names{kEngine, kRatankba}));
  EXPECT_EQ(matches(table(both), "C:\\Users\\Public\\dump.bin"), Names{});
}

TEST_F(RulesTest, FileRulesNeverMatchInMemory) {
  // A whole synthesised PE in one region, a PE-shaped head in another:
  // header and size tests do not hold in memory, so only the memory rules
  // answer (docs/rules.md, "Files and process memory").
  const Strings blocks = {pe(every_pe_gated_string()), wide_pe(every_pe_gated_string()), kBatchFull};
  EXPECT_EQ(memory_matches(blocks), (Names{kEngineMemory, kRatankbaMemory}));
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
  EXPECT_EQ(matches(test::synth_pe(payload)), (Names{kEngine, kNroff, kRat, kCrypto, kRatankba}));

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
