#pragma once
// The embedded built-in pack; the definitions are generated at build time
// by cmake/embed_pack.cmake from rules/*.yar and iocs/*.txt.

#include <string_view>
#include <vector>

namespace iocsweep::builtin_data {

/// One embedded file: its base name and bytes (static storage).
struct EmbeddedFile {
  std::string_view name;
  std::string_view data;
};

std::vector<EmbeddedFile> rule_files();
std::vector<EmbeddedFile> ioc_files();

}  // namespace iocsweep::builtin_data
