// `abliterate status DIR`: one row per study in a folder of studies (a
// sweep's out_dir): model, progress, R0, the best front points, state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "abliterate/study/sqlite_store.hpp"

namespace abliterate::study {

enum class StudyState { not_started, running, interrupted, failed, done };

const char* to_string(StudyState state);

struct FrontPoint {
  int64_t refusals = 0;
  double kl_divergence = 0.0;
};

struct StudyOverview {
  std::string name;  // the folder holding the store (a sweep entry's name)
  std::string model;
  int64_t n_complete = 0;
  int64_t n_trials = 0;                     // the stored budget; 0 when unknown
  std::optional<int64_t> base_refusals;     // R0
  std::optional<int64_t> n_bad_prompts;
  std::vector<FrontPoint> front;            // fewest refusals first, at most kFrontPointsShown
  StudyState state = StudyState::not_started;
};

inline constexpr size_t kFrontPointsShown = 3;

// True when the study's `finished` user attr says its run completed the budget.
bool is_study_finished(const SqliteStore& store, int64_t study_id);

// The overview of the store's only study. `is_run_active`: a run holds the
// store now (StoreRunLock::is_held); `has_failed`: the last run of it ended
// in an error. Throws FormatError for a store that is not one.
StudyOverview read_study_overview(const std::filesystem::path& store_path, const std::string& name,
                                  bool is_run_active, bool has_failed);

// The rows as an aligned text table with a header.
std::string format_study_overviews(const std::vector<StudyOverview>& rows);

}  // namespace abliterate::study
