#pragma once
// What the subcommands share: the rule-pack options, loading a pack with
// its messages on stderr, and escaping outside text for the terminal.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "iocsweep/pipeline.hpp"

namespace iocsweep::cli {

/// `text` (paths, rule names, libyara's messages: outside text) escaped for
/// the terminal line by line: the lines of a multi-error compile message
/// stay lines, and no byte of it is a terminal escape.
std::string escape_lines(std::string_view text);

/// Loads what `request` names; on failure prints the file:line message and
/// returns nothing (the caller exits 2), otherwise prints the load warnings
/// unless `quiet`. Requires a live YaraLibrary.
std::optional<Pack> load_pack_or_report(const PackRequest& request, bool quiet);

/// Adds --rules and --no-builtin to `cmd`, stored in `rules` and
/// `no_builtin` (which must outlive the parse).
void add_pack_options(CLI::App& cmd, std::vector<std::string>& rules, bool& no_builtin);

/// A CLI11 check for a positive, finite decimal number no larger than
/// `max` (CLI11's own range checks let "nan" through).
CLI::Validator positive_number_up_to(double max);

}  // namespace iocsweep::cli
