#include "cli/version_command.hpp"

#include <iostream>

#include "cli/cli.hpp"
#include "iocsweep/build_info.hpp"

namespace iocsweep::cli {

CLI::App* add_version_command(CLI::App& app, RawVersionOptions& raw) {
  CLI::App* version_cmd = app.add_subcommand(
      "version",
      "Print the version of iocsweep, the libyara, OpenSSL, RE2, libarchive and SQLite versions it was built "
      "with, its architecture, static or dynamic link, and the built-in pack's fingerprint");
  version_cmd->add_flag("--json", raw.json,
                        "Print the same facts as a JSON object, the report's `tool` object (docs/report-format.md)");
  return version_cmd;
}

int run_version(const RawVersionOptions& raw) {
  std::cout << (raw.json ? tool_info_json().dump(2) + "\n" : tool_info_text());
  std::cout.flush();
  return std::cout ? kExitClean : kExitFatal;
}

}  // namespace iocsweep::cli
