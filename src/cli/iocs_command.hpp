#pragma once
// `iocsweep iocs list`: the loaded indicator sets, without scanning.

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace iocsweep::cli {

/// The flags of `iocs list`, as typed.
struct RawIocsOptions {
  std::vector<std::string> iocs;
  std::vector<std::string> signature_base;
  std::vector<std::string> filename_iocs;
  std::vector<std::string> allow_hashes;
  bool no_builtin = false;
  bool json = false;
};

/// Adds `iocs` with `list` to `app` and returns `list`; its flags land in
/// `raw`, which must outlive the parse.
CLI::App* add_iocs_command(CLI::App& app, RawIocsOptions& raw);

/// Prints the indicator sets `raw` names: kind, counts, SHA-256; returns
/// the exit code.
int run_iocs_list(const RawIocsOptions& raw);

}  // namespace iocsweep::cli
