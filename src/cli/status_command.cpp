#include <algorithm>
#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/runner/sweep_run.hpp"
#include "abliterate/study/sqlite_store.hpp"
#include "abliterate/study/status_report.hpp"
#include "abliterate/study/study_overview.hpp"
#include "abliterate/study/store_run_lock.hpp"

namespace abliterate::cli {

namespace {

// One row per study under `folder`: its own *.db files, and those of its
// subfolders (a sweep's entries: <out_dir>/<entry>/study.db). A subfolder
// whose last run failed before it made a store still gets a row.
int print_folder_status(const std::filesystem::path& folder) {
  std::vector<std::pair<std::string, std::filesystem::path>> stores;  // (name, store), by name
  std::vector<std::string> failed_without_store;
  for (const auto& item : std::filesystem::directory_iterator(folder)) {
    if (item.is_regular_file() && item.path().extension() == ".db") {
      stores.emplace_back(item.path().stem().string(), item.path());
    } else if (item.is_directory()) {
      bool has_store = false;
      for (const auto& inner : std::filesystem::directory_iterator(item.path())) {
        if (!inner.is_regular_file() || inner.path().extension() != ".db") continue;
        const std::string stem = inner.path().stem().string();
        stores.emplace_back(stem == "study" ? item.path().filename().string()
                                            : fmt::format("{}/{}", item.path().filename().string(), stem),
                            inner.path());
        has_store = true;
      }
      if (!has_store && std::filesystem::exists(item.path() / runner::kEntryErrorFile)) {
        failed_without_store.push_back(item.path().filename().string());
      }
    }
  }
  ABL_CHECK(!stores.empty() || !failed_without_store.empty(), InputError,
            "{}: no studies here (no *.db file in it or its subfolders)", folder.string());
  std::vector<study::StudyOverview> rows;
  for (const std::string& name : failed_without_store) {
    study::StudyOverview row;
    row.name = name;
    row.state = study::StudyState::failed;
    rows.push_back(std::move(row));
  }
  for (const auto& [name, store] : stores) {
    const bool has_failed = std::filesystem::exists(store.parent_path() / runner::kEntryErrorFile) &&
                            store.parent_path() != folder;
    // Probed before SQLite opens the file (StoreRunLock::is_held).
    const bool is_run_active = study::StoreRunLock::is_held(store);
    rows.push_back(study::read_study_overview(store, name, is_run_active, has_failed));
  }
  std::sort(rows.begin(), rows.end(),
            [](const study::StudyOverview& a, const study::StudyOverview& b) { return a.name < b.name; });
  fmt::print("{}", study::format_study_overviews(rows));
  return 0;
}

}  // namespace

int status_command(const StatusArgs& args) {
  if (std::filesystem::is_directory(args.store_path)) return print_folder_status(args.store_path);
  ABL_CHECK(std::filesystem::exists(args.store_path), InputError, "{}: no such store", args.store_path);
  // Probed before SQLite opens the file (StoreRunLock::is_held).
  const bool is_run_active = study::StoreRunLock::is_held(args.store_path);
  std::unique_ptr<study::SqliteStore> store = study::SqliteStore::open_read_only(args.store_path);
  std::string name;
  if (args.study_name) {
    name = *args.study_name;
  } else {
    const std::vector<std::string> names = store->study_names();
    ABL_CHECK(!names.empty(), InputError, "{}: the store holds no study", args.store_path);
    ABL_CHECK(names.size() == 1, InputError, "{}: the store holds {} studies ({}); choose one with --study",
              args.store_path, names.size(), fmt::join(names, ", "));
    name = names.front();
  }
  fmt::print("{}", study::format_status(*store, name));
  if (is_run_active) {
    fmt::print("An `abliterate run` holds this store now: RUNNING trials are in progress.\n");
  } else if (const auto study_id = store->find_study(name);
             study_id && store->count_trials(*study_id, study::TrialState::RUNNING) > 0) {
    fmt::print("No run holds this store: its RUNNING trials are left from a run that died; the next `abliterate run` "
               "marks them FAIL (interrupted) and runs their parameters again first.\n");
  }
  return 0;
}

}  // namespace abliterate::cli
