#pragma once
// `iocsweep version`: what this binary is and what it was built with.

#include <CLI/CLI.hpp>

namespace iocsweep::cli {

/// The flags of `version`, as typed.
struct RawVersionOptions {
  bool json = false;
};

/// Adds `version` to `app` and returns it; its flags land in `raw`, which
/// must outlive the parse.
CLI::App* add_version_command(CLI::App& app, RawVersionOptions& raw);

/// Prints the version facts (text, or the report's `tool` object as JSON);
/// returns the exit code.
int run_version(const RawVersionOptions& raw);

}  // namespace iocsweep::cli
