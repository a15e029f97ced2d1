#pragma once
// The finding filter stage: decides whether a file's matches become a
// finding in the report. Scores it, applies --min-score and --baseline, and
// feeds --write-baseline. Knows nothing of where the file came from.

#include <memory>

#include "iocsweep/baseline.hpp"
#include "iocsweep/report.hpp"

namespace iocsweep {

/// Thread-safe as far as its Baseline and BaselineWriter are (both are).
class FindingFilter {
 public:
  enum class Verdict {
    kReport,         ///< report it (the finding's score and matches are final)
    kBelowMinScore,  ///< scored below --min-score
    kSuppressed,     ///< the baseline accepts it (all its matches, or all that reach --min-score)
  };

  FindingFilter(int min_score, std::shared_ptr<const Baseline> baseline,
                std::shared_ptr<BaselineWriter> baseline_writer)
      : min_score_(min_score), baseline_(std::move(baseline)), writer_(std::move(baseline_writer)) {}

  /// Scores `finding` and judges it, removing the matches the baseline
  /// accepts. A finding that reaches min_score goes to the baseline writer
  /// before the baseline is applied.
  Verdict judge(Finding& finding) const {
    finding.score = combine_scores(finding.matches);
    if (finding.score < min_score_) return Verdict::kBelowMinScore;
    if (writer_) writer_->add(finding);
    if (baseline_ && baseline_->suppress(finding) > 0) {
      // What is left is judged on its own: accepted matches no longer
      // count, nor corroborate.
      finding.score = combine_scores(finding.matches);
      if (finding.matches.empty() || finding.score < min_score_) return Verdict::kSuppressed;
    }
    return Verdict::kReport;
  }

 private:
  int min_score_;
  std::shared_ptr<const Baseline> baseline_;
  std::shared_ptr<BaselineWriter> writer_;
};

}  // namespace iocsweep
