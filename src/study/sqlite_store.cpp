// The study store in Optuna's RDB schema (spec/optuna-compat.md §3): the
// reads and writes of studies and trials. Opening a file, and which files are
// accepted, is sqlite_store_open.cpp.
#include "abliterate/study/sqlite_store.hpp"

#include <sqlite3.h>

#include <cmath>
#include <ctime>
#include <limits>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/attribute_names.hpp"
#include "sqlite_handle.hpp"

namespace abliterate::study {
namespace {

using detail::Connection;
using detail::count_rows;
using detail::Statement;
using detail::WriteTransaction;
using nlohmann::json;

// Optuna's datetime text (§3.6): naive UTC with exactly six fraction digits.
std::string now_utc() {
  const auto now = std::chrono::system_clock::now();
  const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1'000'000);
}

// value_json text. nlohmann writes NaN and ±inf as null, which keeps the
// browser dashboard's JSON.parse working (§3.5); invalid UTF-8 (a model's
// garbled output in a fail reason) is replaced instead of throwing.
std::string dump_value(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

json parse_value(const std::string& text, const std::filesystem::path& path, std::string_view place) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ABL_CHECK(!value.is_discarded(), FormatError, "{}: {}: value_json is not valid JSON: {}", path.string(), place,
            text);
  return value;
}

void require_object(const json& attrs, std::string_view what) {
  ABL_CHECK(attrs.is_object() || attrs.is_null(), InputError, "{}: expected a JSON object, got {}", what,
            attrs.dump());
}

void upsert_trial_attr(const Connection& c, int64_t trial_id, const std::string& key, const json& value) {
  Statement(c,
            "INSERT INTO trial_user_attributes (trial_id, \"key\", value_json) VALUES (?, ?, ?) "
            "ON CONFLICT (trial_id, \"key\") DO UPDATE SET value_json = excluded.value_json")
      .bind(1, trial_id)
      .bind(2, key)
      .bind(3, dump_value(value))
      .run();
}

void require_study(const Connection& c, int64_t study_id) {
  Statement find(c, "SELECT 1 FROM studies WHERE study_id = ?");
  find.bind(1, study_id);
  ABL_CHECK(find.step(), InputError, "{}: no study with id {}", c.path.string(), study_id);
}

struct TrialRow {
  int64_t study_id = 0;
  int64_t number = 0;
  TrialState state = TrialState::RUNNING;
};

TrialRow read_trial_row(const Connection& c, int64_t trial_id) {
  Statement find(c, "SELECT study_id, number, state FROM trials WHERE trial_id = ?");
  find.bind(1, trial_id);
  ABL_CHECK(find.step(), InputError, "{}: no trial with id {}", c.path.string(), trial_id);
  return TrialRow{.study_id = find.column_int64(0),
                  .number = find.column_int64(1),
                  .state = trial_state_from_string(find.column_text(2))};
}

void check_param_value(const std::string& name, const Distribution& distribution, double value) {
  ABL_CHECK(std::isfinite(value), InputError, "parameter \"{}\": expected a finite value, got {}", name, value);
  if (const auto* c = std::get_if<CategoricalDistribution>(&distribution)) {
    ABL_CHECK(value >= 0 && value < static_cast<double>(c->choices.size()) && std::floor(value) == value,
              InputError, "parameter \"{}\": expected a choice index in [0, {}), got {}", name, c->choices.size(),
              value);
  }
}

}  // namespace

void SqliteStore::require_writable() const {
  ABL_CHECK(!is_read_only_, IoError, "{}: the store was opened read-only; it cannot be written", path_.string());
}

std::optional<int64_t> SqliteStore::find_study(const std::string& name) const {
  const Connection c{db_, path_, options_.busy_timeout};
  Statement find(c, "SELECT study_id FROM studies WHERE study_name = ?");
  find.bind(1, name);
  if (!find.step()) return std::nullopt;
  return find.column_int64(0);
}

int64_t SqliteStore::create_study(const std::string& name, const std::vector<Direction>& directions,
                                  const json& user_attrs) {
  require_writable();
  ABL_CHECK(!name.empty(), InputError, "{}: a study needs a name", path_.string());
  ABL_CHECK(!directions.empty(), InputError, "{}: study \"{}\": expected at least one direction", path_.string(),
            name);
  require_object(user_attrs, "study user attrs");
  const Connection c{db_, path_, options_.busy_timeout};
  WriteTransaction tx(c);
  {
    Statement find(c, "SELECT 1 FROM studies WHERE study_name = ?");
    find.bind(1, name);
    ABL_CHECK(!find.step(), InputError, "{}: study \"{}\" already exists", path_.string(), name);
  }
  Statement(c, "INSERT INTO studies (study_name) VALUES (?)").bind(1, name).run();
  const int64_t study_id = sqlite3_last_insert_rowid(db_);
  // Objective order: Optuna reads these rows without ORDER BY and the browser
  // dashboard orders them by id (§3.7 step 2).
  for (size_t objective = 0; objective < directions.size(); ++objective) {
    Statement(c, "INSERT INTO study_directions (direction, study_id, objective) VALUES (?, ?, ?)")
        .bind(1, std::string_view(to_string(directions[objective])))
        .bind(2, study_id)
        .bind(3, objective)
        .run();
  }
  if (user_attrs.is_object()) {
    for (const auto& [key, value] : user_attrs.items()) {
      Statement(c, "INSERT INTO study_user_attributes (study_id, \"key\", value_json) VALUES (?, ?, ?)")
          .bind(1, study_id)
          .bind(2, key)
          .bind(3, dump_value(value))
          .run();
    }
  }
  tx.commit();
  return study_id;
}

std::vector<std::string> SqliteStore::study_names() const {
  const Connection c{db_, path_, options_.busy_timeout};
  Statement list(c, "SELECT study_name FROM studies ORDER BY study_id");
  std::vector<std::string> names;
  while (list.step()) names.push_back(list.column_text(0));
  return names;
}

std::vector<Direction> SqliteStore::study_directions(int64_t study_id) const {
  const Connection c{db_, path_, options_.busy_timeout};
  Statement list(c, "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective");
  list.bind(1, study_id);
  std::vector<Direction> directions;
  while (list.step()) directions.push_back(direction_from_string(list.column_text(0)));
  return directions;
}

json SqliteStore::study_attrs(const char* table, int64_t study_id) const {
  const Connection c{db_, path_, options_.busy_timeout};
  Statement list(c, fmt::format("SELECT \"key\", value_json FROM {} WHERE study_id = ? ORDER BY \"key\"", table));
  list.bind(1, study_id);
  json attrs = json::object();
  while (list.step()) {
    const std::string key = list.column_text(0);
    attrs[key] = parse_value(list.column_text(1), path_, fmt::format("{} \"{}\"", table, key));
  }
  return attrs;
}

void SqliteStore::set_study_attr(const char* table, int64_t study_id, const std::string& key, const json& value) {
  require_writable();
  const Connection c{db_, path_, options_.busy_timeout};
  WriteTransaction tx(c);
  require_study(c, study_id);
  Statement(c, fmt::format("INSERT INTO {} (study_id, \"key\", value_json) VALUES (?, ?, ?) "
                           "ON CONFLICT (study_id, \"key\") DO UPDATE SET value_json = excluded.value_json",
                           table))
      .bind(1, study_id)
      .bind(2, key)
      .bind(3, dump_value(value))
      .run();
  tx.commit();
}

json SqliteStore::study_user_attrs(int64_t study_id) const { return study_attrs("study_user_attributes", study_id); }

void SqliteStore::set_study_user_attr(int64_t study_id, const std::string& key, const json& value) {
  set_study_attr("study_user_attributes", study_id, key, value);
}

json SqliteStore::study_system_attrs(int64_t study_id) const {
  return study_attrs("study_system_attributes", study_id);
}

void SqliteStore::set_study_system_attr(int64_t study_id, const std::string& key, const json& value) {
  set_study_attr("study_system_attributes", study_id, key, value);
}

Trial SqliteStore::create_running_trial(int64_t study_id,
                                        const std::vector<std::pair<std::string, Distribution>>& distributions,
                                        const std::vector<double>& values, const json& user_attrs,
                                        const json& system_attrs) {
  require_writable();
  ABL_CHECK(distributions.size() == values.size(), InputError,
            "{}: expected one value per parameter ({}), got {}", path_.string(), distributions.size(),
            values.size());
  require_object(user_attrs, "trial user attrs");
  require_object(system_attrs, "trial system attrs");
  for (size_t idx = 0; idx < values.size(); ++idx) {
    check_param_value(distributions[idx].first, distributions[idx].second, values[idx]);
  }
  const Connection c{db_, path_, options_.busy_timeout};
  WriteTransaction tx(c);
  require_study(c, study_id);

  // Optuna's compatibility rule (§3.4): each param must match the first row of
  // that name in the study, or Optuna's own writers would reject the study.
  for (const auto& [name, distribution] : distributions) {
    auto known = first_distribution_json_.find({study_id, name});
    if (known == first_distribution_json_.end()) {
      Statement first(c,
                      "SELECT p.distribution_json FROM trial_params p JOIN trials t ON t.trial_id = p.trial_id "
                      "WHERE t.study_id = ? AND p.param_name = ? ORDER BY p.param_id LIMIT 1");
      first.bind(1, study_id).bind(2, name);
      if (!first.step()) continue;
      known = first_distribution_json_.emplace(std::pair{study_id, name}, first.column_text(0)).first;
    }
    const std::string& stored = known->second;
    const Distribution stored_distribution =
        with_context(fmt::format("{}: parameter \"{}\"", path_.string(), name),
                     [&] { return distribution_from_json_text(stored); });
    ABL_CHECK(distributions_compatible(stored_distribution, distribution), InputError,
              "{}: parameter \"{}\": distribution {} is not compatible with the study's {} (Optuna needs the "
              "same type, log flag and choices)",
              path_.string(), name, distribution_to_json_text(distribution), stored);
  }

  Trial trial;
  // Dense per-study number = count of the study's earlier trials, computed
  // under the write lock so no other writer can take the same number (§3.7).
  trial.number = count_rows(c, "SELECT COUNT(*) FROM trials WHERE study_id = ?", {study_id});
  trial.state = TrialState::RUNNING;
  trial.datetime_start = now_utc();
  Statement(c, "INSERT INTO trials (number, study_id, state, datetime_start) VALUES (?, ?, ?, ?)")
      .bind(1, trial.number)
      .bind(2, study_id)
      .bind(3, std::string_view(to_string(TrialState::RUNNING)))
      .bind(4, trial.datetime_start)
      .run();
  trial.trial_id = sqlite3_last_insert_rowid(db_);

  for (size_t idx = 0; idx < distributions.size(); ++idx) {
    const auto& [name, distribution] = distributions[idx];
    Statement(c, "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?, ?, ?, ?)")
        .bind(1, trial.trial_id)
        .bind(2, name)
        .bind(3, values[idx])
        .bind(4, distribution_to_json_text(distribution))
        .run();
    trial.params.emplace_back(name, values[idx]);
  }
  if (user_attrs.is_object()) {
    for (const auto& [key, value] : user_attrs.items()) {
      upsert_trial_attr(c, trial.trial_id, key, value);
      trial.user_attrs[key] = value;
    }
  }
  if (system_attrs.is_object()) {
    for (const auto& [key, value] : system_attrs.items()) {
      Statement(c, "INSERT INTO trial_system_attributes (trial_id, \"key\", value_json) VALUES (?, ?, ?)")
          .bind(1, trial.trial_id)
          .bind(2, key)
          .bind(3, dump_value(value))
          .run();
      trial.system_attrs[key] = value;
    }
  }
  tx.commit();
  return trial;
}

void SqliteStore::finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                               const json& user_attrs) {
  require_writable();
  require_object(user_attrs, "trial user attrs");
  for (double value : values) {
    // Optuna refuses NaN objectives (§4.1); ±inf are stored as NULL + type.
    ABL_CHECK(!std::isnan(value), InputError, "{}: trial {}: an objective value is NaN", path_.string(), trial_id);
  }
  const Connection c{db_, path_, options_.busy_timeout};
  WriteTransaction tx(c);
  const TrialRow row = read_trial_row(c, trial_id);
  ABL_CHECK(row.state == TrialState::RUNNING, InternalError,
            "{}: trial {} is {}; only a RUNNING trial can become {} (please report a bug)", path_.string(),
            row.number, to_string(row.state), to_string(state));

  if (state == TrialState::COMPLETE) {
    const int64_t n_objectives =
        count_rows(c, "SELECT COUNT(*) FROM study_directions WHERE study_id = ?", {row.study_id});
    ABL_CHECK(static_cast<int64_t>(values.size()) == n_objectives, InputError,
              "{}: trial {}: expected {} objective values, got {}", path_.string(), row.number, n_objectives,
              values.size());
  }
  for (size_t objective = 0; objective < values.size(); ++objective) {
    const double value = values[objective];
    Statement insert(c, "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)");
    insert.bind(1, trial_id).bind(2, objective);
    if (std::isfinite(value)) {
      insert.bind(3, value).bind(4, kValueTypeFinite);
    } else {
      insert.bind(3, nullptr).bind(4, value > 0 ? kValueTypeInfPos : kValueTypeInfNeg);
    }
    insert.run();
  }
  if (user_attrs.is_object()) {
    for (const auto& [key, value] : user_attrs.items()) upsert_trial_attr(c, trial_id, key, value);
  }
  // State last, in the same transaction: Optuna never re-reads a trial it has
  // seen finished (§3.7 step 4).
  Statement(c, "UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ?")
      .bind(1, std::string_view(to_string(state)))
      .bind(2, now_utc())
      .bind(3, trial_id)
      .run();
  tx.commit();
}

void SqliteStore::complete_trial(int64_t trial_id, const std::vector<double>& values, const json& user_attrs) {
  finish_trial(trial_id, TrialState::COMPLETE, values, user_attrs);
}

void SqliteStore::fail_trial(int64_t trial_id, const std::string& reason) {
  finish_trial(trial_id, TrialState::FAIL, {}, json{{std::string(kFailReasonAttr), reason}});
}

std::vector<Trial> SqliteStore::fail_running_trials(int64_t study_id, const std::string& reason) {
  require_writable();
  const Connection c{db_, path_, options_.busy_timeout};
  std::set<int64_t> failed_ids;
  {
    WriteTransaction tx(c);
    Statement running(c, "SELECT trial_id FROM trials WHERE study_id = ? AND state = ?");
    running.bind(1, study_id).bind(2, std::string_view(to_string(TrialState::RUNNING)));
    while (running.step()) failed_ids.insert(running.column_int64(0));
    const std::string now = now_utc();
    for (int64_t trial_id : failed_ids) {
      upsert_trial_attr(c, trial_id, std::string(kFailReasonAttr), reason);
      Statement(c, "UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ?")
          .bind(1, std::string_view(to_string(TrialState::FAIL)))
          .bind(2, now)
          .bind(3, trial_id)
          .run();
    }
    tx.commit();
  }
  std::vector<Trial> failed;
  if (failed_ids.empty()) return failed;
  for (Trial& trial : load_trials(study_id)) {
    if (failed_ids.contains(trial.trial_id)) failed.push_back(std::move(trial));
  }
  return failed;
}

void SqliteStore::set_trial_user_attr(int64_t trial_id, const std::string& key, const json& value) {
  require_writable();
  const Connection c{db_, path_, options_.busy_timeout};
  WriteTransaction tx(c);
  const TrialRow row = read_trial_row(c, trial_id);
  ABL_CHECK(row.state == TrialState::RUNNING, InternalError,
            "{}: trial {} is {}; a finished trial cannot change (please report a bug)", path_.string(), row.number,
            to_string(row.state));
  upsert_trial_attr(c, trial_id, key, value);
  tx.commit();
}

int64_t SqliteStore::count_trials(int64_t study_id, TrialState state) const {
  const Connection c{db_, path_, options_.busy_timeout};
  Statement count(c, "SELECT COUNT(*) FROM trials WHERE study_id = ? AND state = ?");
  count.bind(1, study_id).bind(2, std::string_view(to_string(state)));
  ABL_ASSERT(count.step(), "COUNT(*) returned no row");
  return count.column_int64(0);
}

std::vector<Trial> SqliteStore::load_trials(int64_t study_id) const {
  const Connection c{db_, path_, options_.busy_timeout};
  std::vector<Trial> trials;
  std::unordered_map<int64_t, size_t> index_of;  // trial_id -> position in `trials`

  // One query per table, joined on the study: a few thousand trials load in
  // milliseconds without N+1 queries.
  Statement rows(c,
                 "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
                 "WHERE study_id = ? ORDER BY number, trial_id");
  rows.bind(1, study_id);
  while (rows.step()) {
    Trial trial;
    trial.trial_id = rows.column_int64(0);
    trial.number = rows.column_int64(1);
    trial.state = with_context(fmt::format("{}: trial {}", path_.string(), trial.number),
                               [&] { return trial_state_from_string(rows.column_text(2)); });
    trial.datetime_start = rows.column_text(3);
    trial.datetime_complete = rows.column_text(4);
    index_of[trial.trial_id] = trials.size();
    trials.push_back(std::move(trial));
  }
  if (trials.empty()) return trials;

  Statement params(c,
                   "SELECT p.trial_id, p.param_name, p.param_value FROM trial_params p "
                   "JOIN trials t ON t.trial_id = p.trial_id WHERE t.study_id = ? ORDER BY p.param_id");
  params.bind(1, study_id);
  while (params.step()) {
    Trial& trial = trials[index_of.at(params.column_int64(0))];
    const std::string name = params.column_text(1);
    ABL_CHECK(!params.is_null(2), FormatError, "{}: trial {}: parameter \"{}\" has no value", path_.string(),
              trial.number, name);
    trial.params.emplace_back(name, params.column_double(2));
  }

  Statement values(c,
                   "SELECT v.trial_id, v.objective, v.value, v.value_type FROM trial_values v "
                   "JOIN trials t ON t.trial_id = v.trial_id WHERE t.study_id = ? ORDER BY v.trial_id, v.objective");
  values.bind(1, study_id);
  while (values.step()) {
    Trial& trial = trials[index_of.at(values.column_int64(0))];
    const int64_t objective = values.column_int64(1);
    ABL_CHECK(objective == static_cast<int64_t>(trial.values.size()), FormatError,
              "{}: trial {}: expected objective {}, got {}", path_.string(), trial.number, trial.values.size(),
              objective);
    const std::string type = values.column_text(3);
    if (type == kValueTypeFinite) {
      ABL_CHECK(!values.is_null(2), FormatError, "{}: trial {}: objective {} is FINITE but NULL", path_.string(),
                trial.number, objective);
      trial.values.push_back(values.column_double(2));
    } else if (type == kValueTypeInfPos) {
      trial.values.push_back(std::numeric_limits<double>::infinity());
    } else if (type == kValueTypeInfNeg) {
      trial.values.push_back(-std::numeric_limits<double>::infinity());
    } else {
      throw FormatError(fmt::format("{}: trial {}: objective {}: expected value_type FINITE, INF_POS or INF_NEG, "
                                    "got \"{}\"",
                                    path_.string(), trial.number, objective, type));
    }
  }

  for (const auto& [table, member] : {std::pair{"trial_user_attributes", &Trial::user_attrs},
                                      std::pair{"trial_system_attributes", &Trial::system_attrs}}) {
    Statement attrs(c, fmt::format("SELECT a.trial_id, a.\"key\", a.value_json FROM {} a "
                                   "JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = ? "
                                   "ORDER BY a.trial_id, a.\"key\"",
                                   table));
    attrs.bind(1, study_id);
    while (attrs.step()) {
      Trial& trial = trials[index_of.at(attrs.column_int64(0))];
      const std::string key = attrs.column_text(1);
      (trial.*member)[key] =
          parse_value(attrs.column_text(2), path_, fmt::format("trial {}: {} \"{}\"", trial.number, table, key));
    }
  }
  return trials;
}

std::vector<std::pair<std::string, Distribution>> SqliteStore::study_distributions(int64_t study_id) const {
  const Connection c{db_, path_, options_.busy_timeout};
  // The first row of each name, by param_id: MIN(param_id) per name.
  Statement rows(c,
                 "SELECT p.param_name, p.distribution_json FROM trial_params p WHERE p.param_id IN ("
                 "SELECT MIN(q.param_id) FROM trial_params q JOIN trials t ON t.trial_id = q.trial_id "
                 "WHERE t.study_id = ? GROUP BY q.param_name) ORDER BY p.param_id");
  rows.bind(1, study_id);
  std::vector<std::pair<std::string, Distribution>> distributions;
  while (rows.step()) {
    const std::string name = rows.column_text(0);
    distributions.emplace_back(name, with_context(fmt::format("{}: parameter \"{}\"", path_.string(), name), [&] {
                                 return distribution_from_json_text(rows.column_text(1));
                               }));
  }
  return distributions;
}

}  // namespace abliterate::study
