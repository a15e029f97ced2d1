#include "cli/command_support.hpp"

#include <cmath>
#include <iostream>

namespace iocsweep::cli {
namespace {

void print_warnings(const Pack& pack, bool quiet) {
  if (quiet) return;
  if (pack.rules) {
    for (const std::string& w : pack.rules->warnings()) {
      std::cerr << "iocsweep: warning: " << escape_lines(w) << "\n";
    }
  }
  for (const std::string& w : pack.warnings) std::cerr << "iocsweep: warning: " << escape_for_terminal(w) << "\n";
}

}  // namespace

std::string escape_lines(std::string_view text) {
  std::string out;
  for (std::size_t start = 0;;) {
    const std::size_t nl = text.find('\n', start);
    out += escape_for_terminal(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    if (nl == std::string_view::npos) return out;
    out += '\n';
    start = nl + 1;
  }
}

std::optional<Pack> load_pack_or_report(const PackRequest& request, bool quiet) {
  auto pack = load_pack(request);
  if (!pack) {
    std::cerr << "iocsweep: " << escape_lines(pack.error().message) << "\n";
    return std::nullopt;
  }
  print_warnings(*pack, quiet);
  return std::move(*pack);
}

void add_pack_options(CLI::App& cmd, std::vector<std::string>& rules, bool& no_builtin) {
  cmd.add_option("--rules", rules,
                 "YARA rule file (.yar/.yara), or a directory whose .yar/.yara files are all loaded; "
                 "repeatable; added to the built-in pack")
      ->type_name("PATH")
      ->allow_extra_args(false);
  cmd.add_flag("--no-builtin", no_builtin, "Do not load the built-in rules and IOC lists");
}

CLI::Validator positive_number_up_to(double max) {
  return CLI::Validator(
      [max](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) || value <= 0 || value > max) {
          return "must be a number above 0 and at most " + CLI::detail::to_string(max) + ", not " + text;
        }
        return "";
      },
      "POSITIVE");
}

}  // namespace iocsweep::cli
