#pragma once
// The file-name matcher checked against the straightforward one, for the
// unit tests (filename_ioc_test) and fuzz_filename_iocs alike.

#include <re2/re2.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ioc/filename_patterns.hpp"
#include "iocsweep/common.hpp"
#include "iocsweep/filename_ioc.hpp"

namespace iocsweep::test {

// The matcher checked against the straightforward one: every pattern (as
// compiled) tried on its own with RE2::PartialMatch on the normalised path,
// then its false-positive pattern. A prefilter that drops a pattern it
// should have run fails this.
struct Reference {
  struct Entry {
    std::unique_ptr<RE2> pattern;
    std::unique_ptr<RE2> false_positive;
    std::string id;  // pattern and false-positive pattern: what the database keeps once
  };
  std::vector<Entry> entries;

  explicit Reference(const std::vector<FilenameIoc>& iocs) {
    RE2::Options options;
    options.set_case_sensitive(false);
    options.set_log_errors(false);
    std::set<std::pair<std::string, std::string>> seen;
    for (const FilenameIoc& ioc : iocs) {
      if (!seen.emplace(ioc.pattern, ioc.false_positive).second) continue;
      Entry e;
      e.pattern = std::make_unique<RE2>(filename_pattern_as_compiled(ioc.pattern), options);
      if (!ioc.false_positive.empty()) {
        e.false_positive = std::make_unique<RE2>(filename_pattern_as_compiled(ioc.false_positive), options);
      }
      e.id = ioc.pattern + "\n" + ioc.false_positive;
      entries.push_back(std::move(e));
    }
  }

  std::vector<std::string> ids(std::string_view path) const {
    std::string normalised = to_valid_utf8(path);
    std::replace(normalised.begin(), normalised.end(), '/', '\\');
    std::vector<std::string> out;
    for (const Entry& e : entries) {
      if (!RE2::PartialMatch(normalised, *e.pattern)) continue;
      if (e.false_positive && RE2::PartialMatch(normalised, *e.false_positive)) continue;
      out.push_back(e.id);
    }
    return out;
  }
};

inline std::vector<std::string> ids_of(const FilenameIocDb& db, std::string_view path) {
  std::vector<std::string> out;
  for (const FilenameIoc* ioc : db.match(path)) out.push_back(ioc->pattern + "\n" + ioc->false_positive);
  return out;
}

}  // namespace iocsweep::test
