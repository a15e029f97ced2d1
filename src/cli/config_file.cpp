#include "cli/config_file.hpp"

#include <fstream>
#include <sstream>

namespace iocsweep::cli {
namespace {

std::string trim(std::string_view s) {
  const std::size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return "";
  const std::size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// Quotes open at the end of `value`, scanning left to right.
bool quotes_balanced(std::string_view value) {
  char open = 0;
  for (const char c : value) {
    if (open == 0 && (c == '"' || c == '\'')) {
      open = c;
    } else if (c == open) {
      open = 0;
    }
  }
  return open == 0;
}

// Why `value` cannot be written to a config file for CLI11 to read back
// unchanged, or "".
std::string unwritable(const std::string& value) {
  if (value.find('#') != std::string::npos) return "it holds '#', which CLI11 reads as a comment";
  if (value.find('"') != std::string::npos && value.find('\'') != std::string::npos) {
    return "it holds both quote characters";
  }
  for (const char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "it holds a control character";
  }
  return "";
}

std::string toml_string(const std::string& value) {
  return value.find('"') == std::string::npos ? "\"" + value + "\"" : "'" + value + "'";
}

}  // namespace

Result<ConfigLines> check_config_file(const std::string& path, const std::set<std::string>& known_keys) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot read the config file"};
  ConfigLines lines;
  std::string raw;
  std::size_t number = 0;
  bool in_scan = false;
  while (std::getline(in, raw)) {
    ++number;
    const std::string where = path + ":" + std::to_string(number) + ": ";
    if (raw.find('\0') != std::string::npos) return Error{where + "NUL byte"};
    if (!is_valid_utf8(raw)) return Error{where + "not valid UTF-8"};
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') return Error{where + "unterminated section header"};
      const std::string section = trim(line.substr(1, line.size() - 2));
      if (section != "scan") return Error{where + "unknown section [" + section + "]; settings go in [scan]"};
      in_scan = true;
      continue;
    }
    const std::size_t eq = line.find('=');
    std::string key = trim(line.substr(0, eq));
    if (!in_scan) {
      if (key.rfind("scan.", 0) != 0) {
        return Error{where + "'" + key + "' is outside a [scan] section (write it under [scan], or as scan." + key +
                     ")"};
      }
      key = key.substr(5);
    }
    if (known_keys.count(key) == 0) return Error{where + "unknown setting '" + key + "' (see iocsweep scan --help)"};
    if (lines.count(key) != 0) {
      return Error{where + "'" + key + "' is set twice (also on line " + std::to_string(lines[key]) + ")"};
    }
    lines[key] = number;
    if (eq == std::string::npos) continue;
    const std::string value = trim(line.substr(eq + 1));
    if (value.empty()) return Error{where + "'" + key + "' has no value"};
    if (value.find('#') != std::string::npos) {
      return Error{where + "'#' inside the value of '" + key + "' (CLI11 reads the rest as a comment)"};
    }
    if (!quotes_balanced(value)) return Error{where + "unterminated quote in the value of '" + key + "'"};
    // CLI11 2.1 misreads an array split over lines.
    if (value.front() == '[' && value.back() != ']') {
      return Error{where + "the array of '" + key + "' must be written on one line"};
    }
  }
  if (in.bad()) return Error{path + ": read error"};
  return lines;
}

Result<std::string> dump_config(const CLI::App& cmd, const std::set<std::string>& skip) {
  std::ostringstream out;
  out << "# iocsweep scan configuration; read it with: iocsweep scan --config FILE\n"
      << "# Command-line options override these settings.\n[scan]\n";
  for (const CLI::Option* opt : cmd.get_options()) {
    const std::string key = opt->get_single_name();
    if (key.empty() || skip.count(key) != 0 || !opt->get_configurable()) continue;
    out << "\n# " << opt->get_description() << "\n";
    const bool flag = opt->get_expected_min() == 0;
    if (flag) {
      // An unset flag stays a comment: `--verify-cache` needs `--cache`
      // even when set to false.
      const bool set = opt->count() > 0 && opt->as<bool>();
      out << (set ? "" : "# ") << key << " = " << (set ? "true" : "false") << "\n";
      continue;
    }
    std::vector<std::string> values = opt->count() > 0 ? opt->results() : std::vector<std::string>{};
    if (values.empty() && !opt->get_default_str().empty()) values.push_back(opt->get_default_str());
    if (values.empty()) {
      out << "# " << key << " =\n";
      continue;
    }
    for (const std::string& v : values) {
      if (std::string why = unwritable(v); !why.empty()) {
        return Error{"--dump-config: the value of '" + key + "' cannot be written to a config file: " + why};
      }
    }
    out << key << " = ";
    if (opt->get_expected_max() > 1) {
      out << "[";
      for (std::size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << toml_string(values[i]);
      out << "]\n";
    } else {
      out << toml_string(values.back()) << "\n";
    }
  }
  return out.str();
}

}  // namespace iocsweep::cli
