#include "cli/cli.hpp"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "cli/config_file.hpp"
#include "cli/iocs_command.hpp"
#include "cli/pack_command.hpp"
#include "cli/report_command.hpp"
#include "cli/rules_command.hpp"
#include "cli/scan_command.hpp"
#include "cli/version_command.hpp"
#include "iocsweep/common.hpp"
#include "iocsweep/version.hpp"

// The CLI11 app: each subcommand adds its flags (one file each), the
// config file is hoisted and checked, then the parsed subcommand runs.

namespace iocsweep::cli {
namespace {

// argv with `--config FILE` (or `--config=FILE`) given after `scan` moved
// to the front, where CLI11 reads config files; nothing after `--` moves.
std::vector<std::string> hoist_config_option(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> hoisted;
  std::vector<std::string> rest;
  bool after_scan = false;
  bool literal = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!literal && after_scan && a == "--config" && i + 1 < args.size()) {
      hoisted = {a, args[++i]};
    } else if (!literal && after_scan && a.rfind("--config=", 0) == 0) {
      hoisted = {"--config", a.substr(9)};
    } else {
      if (a == "--") literal = true;
      if (a == "scan" && !after_scan && !literal) after_scan = true;
      rest.push_back(a);
    }
  }
  std::vector<std::string> out{args.empty() ? std::string("iocsweep") : args[0]};
  out.insert(out.end(), hoisted.begin(), hoisted.end());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

bool given_on_command_line(const std::vector<std::string>& args, const std::string& key) {
  for (const std::string& a : args) {
    if (a == "--" + key || a.rfind("--" + key + "=", 0) == 0) return true;
  }
  return false;
}

}  // namespace

int run(int argc, char** argv) {
  // Output errors are reported by checking the stream, not by dying.
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "iocsweep: offline IOC sweep scanner (YARA rules, hash indicators) with a built-in\n"
      "Lazarus bank-heist pack. Reads every file once; never writes to the scanned tree.",
      "iocsweep"};
  app.footer(kExitCodesHelp);
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(version()));

  RawScanOptions scan_opts;
  CLI::App* scan = add_scan_command(app, scan_opts);
  RawRulesOptions rules_opts;
  const RulesCommands rules = add_rules_commands(app, rules_opts);
  RawIocsOptions iocs_opts;
  CLI::App* iocs_list = add_iocs_command(app, iocs_opts);
  RawVersionOptions version_opts;
  CLI::App* version_cmd = add_version_command(app, version_opts);
  RawPackOptions pack_opts;
  const PackCommands pack_cmds = add_pack_commands(app, pack_opts);
  RawReportOptions report_opts;
  const ReportCommands report = add_report_commands(app, report_opts);

  // CLI11 reads config files at the top level (settings under [scan]):
  // `scan --config FILE` is moved there before parsing, and the file is
  // checked first so that a mistake is reported with its line.
  std::vector<std::string> args = hoist_config_option(argc, argv);
  std::string config_path;
  ConfigLines config_lines;
  if (args.size() > 2 && args[1] == "--config") {
    config_path = args[2];
    std::set<std::string> keys;
    for (const CLI::Option* opt : scan->get_options()) {
      if (opt->get_configurable() && !opt->get_single_name().empty()) keys.insert(opt->get_single_name());
    }
    auto checked = check_config_file(config_path, keys);
    if (!checked) {
      std::cerr << "iocsweep: " << escape_for_terminal(checked.error().message) << "\n";
      return kExitFatal;
    }
    config_lines = std::move(*checked);
  }
  app.set_config("--config", "", "Settings file; see iocsweep scan --help")->type_name("FILE");
  app.allow_config_extras(CLI::config_extras_mode::error);
  scan->allow_config_extras(CLI::config_extras_mode::error);

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    // A bad value that came from the config file: name its line.
    const std::string what = e.what();
    if (!config_path.empty() && what.rfind("--", 0) == 0) {
      const std::string key = what.substr(2, what.find_first_of(": ") - 2);
      if (auto it = config_lines.find(key); it != config_lines.end() && !given_on_command_line(args, key)) {
        std::cerr << "iocsweep: " << escape_for_terminal(config_path) << ":" << it->second << ": "
                  << escape_for_terminal(what) << "\n";
        return kExitFatal;
      }
    }
    const int rc = app.exit(e);
    // --help and --version exit 0; every usage error is fatal (2).
    return rc == 0 ? kExitClean : kExitFatal;
  }

  if (scan->parsed() && scan_opts.dump_config) {
    auto text = dump_config(*scan, {"help", "config", "dump-config"});
    if (!text) {
      std::cerr << "iocsweep: " << escape_for_terminal(text.error().message) << "\n";
      return kExitFatal;
    }
    std::cout << *text;
    std::cout.flush();
    return std::cout ? kExitClean : kExitFatal;
  }
  if (scan->parsed()) return run_scan_command(scan_opts);
  if (rules.list->parsed()) return run_rules_list(rules_opts);
  if (rules.check->parsed()) return run_rules_check(rules_opts);
  if (iocs_list->parsed()) return run_iocs_list(iocs_opts);
  if (version_cmd->parsed()) return run_version(version_opts);
  if (pack_cmds.build->parsed()) return run_pack_build(pack_opts);
  if (pack_cmds.verify->parsed()) return run_pack_verify(pack_opts);
  if (pack_cmds.list->parsed()) return run_pack_list(pack_opts);
  if (report.merge->parsed()) return run_report_merge(report_opts);
  if (report.html->parsed()) return run_report_html(report_opts);
  return kExitFatal;
}

}  // namespace iocsweep::cli
