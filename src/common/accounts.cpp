#include "iocsweep/accounts.hpp"

#include <charconv>

#include "iocsweep/hash.hpp"
#include "iocsweep/input_file.hpp"

namespace iocsweep {

namespace {

// The `index`th colon-separated field of `line`, or nothing.
bool field(std::string_view line, std::size_t index, std::string_view& out) {
  for (std::size_t i = 0; i < index; ++i) {
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    line.remove_prefix(colon + 1);
  }
  out = line.substr(0, line.find(':'));
  return true;
}

}  // namespace

AccountNames AccountNames::parse(std::string_view text) {
  AccountNames table;
  table.sha256_ = sha256_hex(text);
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-') continue;
    std::string_view name, id_text;
    if (!field(line, 0, name) || !field(line, 2, id_text) || name.empty() || id_text.empty()) continue;
    std::uint32_t id = 0;
    const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || end != id_text.data() + id_text.size()) continue;
    table.names_.try_emplace(id, name);
  }
  return table;
}

AccountNames AccountNames::load(const std::string& path) {
  Result<std::string> text = read_input_file(path, kMaxAccountFileBytes);
  if (!text) return parse({});
  return parse(*text);
}

std::string AccountNames::name_of(std::uint32_t id) const {
  const auto it = names_.find(id);
  return it != names_.end() ? it->second : std::to_string(id);
}

}  // namespace iocsweep
