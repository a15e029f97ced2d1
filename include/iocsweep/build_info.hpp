#pragma once
// What this binary was built from, so a report can be tied to exactly what
// produced it: the library versions, architecture, static or dynamic link
// and the built-in pack's fingerprint. The one place `iocsweep version` and
// every report's `tool` object take these facts from.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace iocsweep {

/// One library linked into iocsweep.
struct LibraryVersion {
  std::string key;       ///< JSON key, e.g. "libyara"
  std::string name;      ///< display name, e.g. "libyara"
  std::string compiled;  ///< version of the headers built against, e.g. "4.2.3"
  std::string runtime;   ///< version the linked library reports now; empty where it cannot be asked
  std::string source;    ///< where `compiled` comes from, e.g. "yara.h YR_VERSION"
};

/// The facts of this build. Immutable after the first call; thread-safe.
struct BuildInfo {
  std::string arch;              ///< target architecture from the compiler's macros, e.g. "x86_64", "aarch64"
  std::string kind;              ///< "static" (IOCSWEEP_STATIC_BUILD) or "dynamic"
  std::string pack_fingerprint;  ///< SHA-256 hex of the built-in pack (cmake/embed_pack.cmake)
  std::vector<LibraryVersion> libraries;
};

/// This binary's build facts.
const BuildInfo& build_info();

/// The report's `tool` object: name, version, and the build_info() facts
/// (docs/report-format.md). `iocsweep version --json` prints the same object.
nlohmann::json tool_info_json();

/// `iocsweep version`'s text: "iocsweep VERSION", then one "NAME VALUE" line per fact.
std::string tool_info_text();

}  // namespace iocsweep
