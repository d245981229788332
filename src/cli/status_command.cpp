#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/study/sqlite_store.hpp"
#include "abliterate/study/status_report.hpp"

namespace abliterate::cli {

int status_command(const StatusArgs& args) {
  ABL_CHECK(std::filesystem::exists(args.store_path), InputError, "{}: no such store", args.store_path);
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
  return 0;
}

}  // namespace abliterate::cli
