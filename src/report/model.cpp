#include <algorithm>

#include "iocsweep/report.hpp"

namespace iocsweep {

int match_score(const MatchRecord& match) {
  if (const auto* y = std::get_if<YaraMatchRecord>(&match)) return y->rule->score;
  if (const auto* f = std::get_if<FilenameMatchRecord>(&match)) return f->ioc->score;
  return std::get<HashMatchRecord>(match).ioc->score;
}

int combine_scores(const std::vector<MatchRecord>& matches) {
  int best = 0;
  for (const MatchRecord& m : matches) best = std::max(best, match_score(m));
  if (matches.empty()) return 0;
  const int corroboration = 5 * static_cast<int>(matches.size() - 1);
  return std::min(100, best + corroboration);
}

std::string_view severity_for(int score) {
  if (score >= 80) return "alert";
  if (score >= 60) return "warning";
  if (score >= 40) return "notice";
  return "info";
}

std::string member_chain(const Finding& f) {
  std::string chain;
  for (const std::string& m : f.member) chain += (chain.empty() ? "" : "!/") + m;
  return chain;
}

std::string path_for_json(const std::string& path) { return to_valid_utf8(path); }

}  // namespace iocsweep
