#pragma once
// Where the tests find a signature-base snapshot (Neo23x0/signature-base,
// the rules responders load into Loki): IOCSWEEP_SIGNATURE_BASE when set,
// else ../shared/corpora/signature-base beside the checkout (or beside the
// directory of worktrees holding it). It is never part of the repository:
// a test that needs it skips, saying why, when it is not there.

#include <sys/stat.h>

#include <cstdlib>
#include <string>

namespace iocsweep::test {

/// The signature-base directory (one holding yara/), or "" when none is found.
inline std::string signature_base_dir() {
  const auto has_yara = [](const std::string& dir) {
    struct stat st {};
    return ::stat((dir + "/yara").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  if (const char* env = std::getenv("IOCSWEEP_SIGNATURE_BASE"); env != nullptr && *env != '\0') {
    return has_yara(env) ? env : "";
  }
  for (const char* rel : {"/../shared/corpora/signature-base", "/../../shared/corpora/signature-base"}) {
    const std::string dir = std::string(IOCSWEEP_SOURCE_DIR) + rel;
    if (has_yara(dir)) return dir;
  }
  return "";
}

/// Why a test that needs signature-base is skipped.
inline const char* kNoSignatureBase =
    "no signature-base snapshot (set IOCSWEEP_SIGNATURE_BASE, or put one at ../shared/corpora/signature-base)";

}  // namespace iocsweep::test
