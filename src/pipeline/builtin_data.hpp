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
/// SHA-256 (hex) of the pack's manifest: "SHA256  rules/NAME" lines, then
/// "SHA256  iocs/NAME" lines, each in byte order of NAME, as `sha256sum`
/// prints them (cmake/embed_pack.cmake).
std::string_view pack_fingerprint();

}  // namespace iocsweep::builtin_data
