// Module study: the study: search space, samplers (random, TPE), objectives, Pareto front, SQLite store.
// Must not know: torch, models or MPI: trials are numbers and parameters.
//
// The study store: a SQLite file in Optuna's RDB schema v3.2.0.a
// (spec/optuna-compat.md §3), so optuna.load_study and optuna-dashboard open it.
//
// Only rank 0 (the coordinator) may hold a SqliteStore; it is the only writer.
// The file runs in WAL mode with synchronous=FULL; every state change is one
// BEGIN IMMEDIATE transaction, durable when the call returns. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/study/distribution.hpp"
#include "abliterate/study/store_schema.hpp"
#include "abliterate/study/trial.hpp"

struct sqlite3;

namespace abliterate::study {

// (Direction, the schema constants and the enum spellings live in
// store_schema.hpp.)

struct StoreOptions {
  // How long a statement waits for another connection's lock (a second
  // writer, a checkpoint) before the call throws IoError.
  std::chrono::milliseconds busy_timeout{10'000};
};

class SqliteStore {
 public:
  // Opens `path`, creating the file and Optuna's schema when it does not
  // exist (or is an empty file). Throws FormatError naming the path when the
  // file is not SQLite, is corrupt (`PRAGMA quick_check`), or is a database
  // that is not an Optuna store of schema v3.2.0.a; IoError when it cannot be
  // opened or is locked by another writer. Validation only reads: a file that
  // is refused is left byte-for-byte unchanged, and tables are never created
  // in a non-empty database. Sets WAL + synchronous=FULL on success.
  static std::unique_ptr<SqliteStore> open(const std::filesystem::path& path, const StoreOptions& options = {});
  // Opens an existing store read-only (for `abliterate status`), with the same
  // checks; IoError when the file does not exist. Writes throw IoError.
  static std::unique_ptr<SqliteStore> open_read_only(const std::filesystem::path& path,
                                                     const StoreOptions& options = {});

  ~SqliteStore();
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // The study id of `name`, or nullopt.
  std::optional<int64_t> find_study(const std::string& name) const;
  // Creates a study with its directions (objective order) and user attrs, in
  // one transaction. Throws InputError when the name exists.
  int64_t create_study(const std::string& name, const std::vector<Direction>& directions,
                       const nlohmann::json& user_attrs);
  std::vector<std::string> study_names() const;
  // The study's directions in objective order.
  std::vector<Direction> study_directions(int64_t study_id) const;
  // All user attrs as one JSON object (key -> parsed value_json).
  nlohmann::json study_user_attrs(int64_t study_id) const;
  // Inserts or replaces one attr, in one transaction.
  void set_study_user_attr(int64_t study_id, const std::string& key, const nlohmann::json& value);
  // System attrs (e.g. Optuna's `study:metric_names`), same contract.
  nlohmann::json study_system_attrs(int64_t study_id) const;
  void set_study_system_attr(int64_t study_id, const std::string& key, const nlohmann::json& value);

  // Inserts a RUNNING trial with its params (internal repr + distribution)
  // and user and system attrs (e.g. Optuna's `failed_trial` of a retried
  // trial), numbered densely, in one transaction. Returns it.
  Trial create_running_trial(int64_t study_id,
                             const std::vector<std::pair<std::string, Distribution>>& distributions,
                             const std::vector<double>& values, const nlohmann::json& user_attrs,
                             const nlohmann::json& system_attrs = nlohmann::json::object());

  // Values, user attrs, state COMPLETE and datetime_complete in one transaction.
  // Throws InputError when a value is NaN or the count differs from the
  // study's directions, InternalError when the trial is not RUNNING.
  void complete_trial(int64_t trial_id, const std::vector<double>& values, const nlohmann::json& user_attrs);

  // State FAIL with user attr fail_reason, in one transaction. InternalError
  // when the trial is not RUNNING.
  void fail_trial(int64_t trial_id, const std::string& reason);

  // Marks every RUNNING trial of the study FAIL with user attr fail_reason
  // (a dead run's leftovers, DESIGN.md §5), in one transaction. Returns those
  // trials, now FAIL, by number, with their params so they can be re-run.
  std::vector<Trial> fail_running_trials(int64_t study_id, const std::string& reason);

  // Inserts or replaces one user attr of a RUNNING trial, in one transaction
  // (Optuna never re-reads a finished trial, so finished ones are frozen:
  // InternalError).
  void set_trial_user_attr(int64_t trial_id, const std::string& key, const nlohmann::json& value);

  // How many trials of the study are in `state`.
  int64_t count_trials(int64_t study_id, TrialState state) const;

  // Every trial of the study, by number.
  std::vector<Trial> load_trials(int64_t study_id) const;

  // Each parameter name of the study with its distribution as first stored
  // (the row Optuna's compatibility rule checks against, §3.4); empty when the
  // study has no trial with parameters. Used to compare a resumed job's search
  // space with the study's.
  std::vector<std::pair<std::string, Distribution>> study_distributions(int64_t study_id) const;

 private:
  SqliteStore(std::filesystem::path path, sqlite3* db, bool is_read_only, StoreOptions options);
  static std::unique_ptr<SqliteStore> open_impl(const std::filesystem::path& path, bool is_read_only,
                                                const StoreOptions& options);
  void set_study_attr(const char* table, int64_t study_id, const std::string& key, const nlohmann::json& value);
  nlohmann::json study_attrs(const char* table, int64_t study_id) const;
  void finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                    const nlohmann::json& user_attrs);
  void require_writable() const;

  // Constant after construction.
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;  // owned; closed by the destructor
  bool is_read_only_ = false;
  StoreOptions options_;

  // The distribution_json of each parameter's first row, by (study, name),
  // as create_running_trial has read it. A first row never changes once
  // written (Optuna deletes no trial), so reading it once per run saves a
  // query per parameter per trial that grows with the study.
  std::map<std::pair<int64_t, std::string>, std::string> first_distribution_json_;
};

}  // namespace abliterate::study
