#pragma once
// `iocsweep rules list` and `iocsweep rules check`: inspect rule sets
// without scanning.

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace iocsweep::cli {

/// The flags of `rules list` and `rules check`, as typed.
struct RawRulesOptions {
  std::vector<std::string> rules;
  bool no_builtin = false;
  bool json = false;
  /// `rules check PATH...`
  std::vector<std::string> check_paths;
  /// `rules list --signature-base DIR`: the rules in DIR/yara, as scan loads them.
  std::vector<std::string> signature_base;
};

/// The two subcommands add_rules_commands() made, to see which was parsed.
struct RulesCommands {
  CLI::App* list = nullptr;
  CLI::App* check = nullptr;
};

/// Adds `rules` with `list` and `check` to `app`; their flags land in
/// `raw`, which must outlive the parse.
RulesCommands add_rules_commands(CLI::App& app, RawRulesOptions& raw);

/// Prints every rule the pack `raw` names loads; returns the exit code.
int run_rules_list(const RawRulesOptions& raw);

/// Compiles each of raw.check_paths on its own and prints the
/// diagnostics; returns 0 when all compile, 2 otherwise.
int run_rules_check(const RawRulesOptions& raw);

}  // namespace iocsweep::cli
