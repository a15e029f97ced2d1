#include "cli/rules_command.hpp"

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/cli.hpp"
#include "cli/command_support.hpp"
#include "iocsweep/pipeline.hpp"
#include "report/json_fields.hpp"

namespace iocsweep::cli {
namespace {

// Meta as in reports: a key declared twice keeps both values.
nlohmann::json rule_to_json(const RuleInfo& rule) {
  return {{"name", rule.name},
          {"namespace", rule.ns},
          {"tags", rule.tags},
          {"meta", report_detail::meta_to_json(rule.meta)},
          {"score", rule.score}};
}

}  // namespace

RulesCommands add_rules_commands(CLI::App& app, RawRulesOptions& raw) {
  CLI::App* rules = app.add_subcommand("rules", "Inspect rule sets");
  rules->require_subcommand(1);
  CLI::App* rules_list = rules->add_subcommand("list", "List every loaded rule: name, namespace, tags, meta");
  add_pack_options(*rules_list, raw.rules, raw.no_builtin);
  rules_list->add_flag("--json", raw.json, "Print a JSON array instead of text");
  rules_list
      ->add_option("--signature-base", raw.signature_base,
                   "As for scan: the rules in DIR/yara (files that do not compile skipped with a warning)")
      ->type_name("DIR")
      ->allow_extra_args(false);

  CLI::App* rules_check =
      rules->add_subcommand("check",
                            "Compile rule files, each on its own, and report diagnostics; scans nothing. "
                            "Exit 0 when all compile, 2 otherwise");
  rules_check->add_option("PATH", raw.check_paths, "Rule files, or directories of .yar/.yara files")->required();

  return {rules_list, rules_check};
}

int run_rules_list(const RawRulesOptions& raw) {
  YaraLibrary yara;
  PackRequest request;
  request.builtin = !raw.no_builtin;
  request.rule_paths = raw.rules;
  // As scan loads a signature-base checkout's rules (after --rules).
  for (const std::string& dir : raw.signature_base) request.rule_paths.push_back(dir + "/yara");
  request.prefilter = false;  // listing scans nothing
  std::optional<Pack> pack = load_pack_or_report(request, false);
  if (!pack) return kExitFatal;
  const std::vector<RuleInfo> none;
  const auto& rules = pack->rules ? pack->rules->rules() : none;
  if (raw.json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const RuleInfo& r : rules) doc.push_back(rule_to_json(r));
    std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const RuleInfo& r : rules) {
      std::cout << escape_for_terminal(r.ns) << ":" << escape_for_terminal(r.name) << "  score=" << r.score;
      if (!r.tags.empty()) {
        std::cout << "  tags=";
        for (std::size_t i = 0; i < r.tags.size(); ++i) std::cout << (i ? "," : "") << escape_for_terminal(r.tags[i]);
      }
      std::cout << "\n";
      for (const auto& [key, value] : r.meta) {
        std::cout << "    " << escape_for_terminal(key) << " = ";
        std::visit(
            [](const auto& x) {
              using T = std::decay_t<decltype(x)>;
              if constexpr (std::is_same_v<T, const char*>) {
                std::cout << escape_for_terminal(x);
              } else if constexpr (std::is_same_v<T, bool>) {
                std::cout << (x ? "true" : "false");
              } else {
                std::cout << x;
              }
            },
            value);
        std::cout << "\n";
      }
    }
  }
  std::cout.flush();
  return std::cout ? kExitClean : kExitFatal;
}

int run_rules_check(const RawRulesOptions& raw) {
  YaraLibrary yara;
  auto checks = check_rule_files(raw.check_paths);
  if (!checks) {
    std::cerr << "iocsweep: " << escape_for_terminal(checks.error().message) << "\n";
    return kExitFatal;
  }
  std::size_t failed = 0;
  for (const RuleFileCheck& c : *checks) {
    if (c.ok) {
      std::cout << "OK     " << escape_for_terminal(c.path) << " (" << c.rules << " rules)\n";
      for (const std::string& m : c.messages) std::cout << "  warning: " << escape_for_terminal(m) << "\n";
      if (!c.prefilter_off.empty()) {
        std::cout << "  note: no prefilter, every file is YARA-scanned while this file is loaded: "
                  << escape_for_terminal(c.prefilter_off) << "\n";
      }
    } else {
      ++failed;
      std::cout << "ERROR  " << escape_for_terminal(c.path) << "\n";
      for (const std::string& m : c.messages) std::cout << "  " << escape_for_terminal(m) << "\n";
    }
  }
  std::cout << checks->size() << " files, " << failed << " with errors\n";
  if (checks->size() - failed > 1) {
    // The files together, as a scan loads them: what a file meets.
    auto set = check_rule_set_prefilter(*checks);
    if (!set) {
      std::cout << "prefilter: the files do not compile together: " << escape_for_terminal(set.error().message) << "\n";
      ++failed;
    } else {
      std::cout << "prefilter, the " << set->files << " files together (" << set->rules << " rules):\n";
      if (set->non_mz_rules < 0) {
        std::cout << "  every file meets every rule (fewer than " << kNonMzMinRules
                  << " rules, or a tenth of them, require MZ)\n";
      } else {
        std::cout << "  a file beginning with MZ meets all " << set->rules << " rules; any other file meets "
                  << set->non_mz_rules << "\n";
      }
      const auto gate_line = [](const char* who, const std::string& off) {
        std::cout << "  " << who << ": "
                  << (off.empty() ? std::string("size, header and name checks can rule files out")
                                  : "every one is YARA-scanned: " + escape_for_terminal(off))
                  << "\n";
      };
      gate_line(set->non_mz_rules < 0 ? "files" : "files beginning with MZ", set->gate_off);
      if (set->non_mz_rules >= 0) gate_line("other files", set->non_mz_gate_off);
    }
  }
  std::cout.flush();
  return failed == 0 ? kExitClean : kExitFatal;
}

}  // namespace iocsweep::cli
