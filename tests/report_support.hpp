#pragma once
// Reading the built binary's JSON report in integration tests.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace iocsweep::test {

/// The JSON report on `r`'s stdout; a test failure (and an empty object)
/// when it is not JSON.
inline nlohmann::json parse_report(const RunResult& r) {
  try {
    return nlohmann::json::parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return nlohmann::json::object();
  }
}

/// The finding for file `path` (and, when given, archive member chain
/// `member`), or null.
inline const nlohmann::json* finding_for(const nlohmann::json& doc, const std::string& path,
                                         const std::vector<std::string>& member = {}) {
  for (const nlohmann::json& f : doc["findings"]) {
    if (f["path"] != path) continue;
    const std::vector<std::string> m =
        f.contains("member") ? f["member"].get<std::vector<std::string>>() : std::vector<std::string>{};
    if (m == member) return &f;
  }
  return nullptr;
}

}  // namespace iocsweep::test
