#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/study/sqlite_store.hpp"
#include "abliterate/study/status_report.hpp"
#include "abliterate/study/store_run_lock.hpp"

namespace abliterate::cli {

int status_command(const StatusArgs& args) {
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
