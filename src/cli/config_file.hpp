#pragma once
// The scan configuration file (`--config FILE`): CLI11 reads it; this
// checks it first, so a mistake is reported with its file and line, and
// writes the effective configuration back out (`--dump-config`).

#include <CLI/CLI.hpp>
#include <map>
#include <set>
#include <string>

#include "iocsweep/common.hpp"

namespace iocsweep::cli {

/// Key -> line of every setting of a checked config file.
using ConfigLines = std::map<std::string, std::size_t>;

/// Checks the TOML / INI subset CLI11 reads: `[scan]` sections (or
/// `scan.KEY` outside one), `KEY = VALUE`, `KEY` alone (a flag), `#` or `;`
/// comment lines; arrays on one line. Fails with "FILE:LINE: ..." on an
/// unknown or repeated key, an unknown section, an unterminated quote, an
/// array split over lines, or a `#` inside a value (CLI11 would cut the
/// value there).
Result<ConfigLines> check_config_file(const std::string& path, const std::set<std::string>& known_keys);

/// The settings of `cmd` as a `[scan]` file that `--config` reads back to
/// the same effect: options given (on the command line or in a config
/// file) with their values, the others at their defaults or commented out.
/// Fails when a value cannot be written so that CLI11 reads it back
/// unchanged (it holds both quote characters, a `#`, or a control byte).
Result<std::string> dump_config(const CLI::App& cmd, const std::set<std::string>& skip);

}  // namespace iocsweep::cli
