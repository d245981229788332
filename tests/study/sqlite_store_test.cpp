#include "abliterate/study/sqlite_store.hpp"

#include <sqlite3.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <regex>

#include <gtest/gtest.h>

#include "abliterate/common/error.hpp"
#include "abliterate/study/search_space.hpp"
#include "study/temp_dir.hpp"
#include "support/throws_with.hpp"

namespace abliterate::study {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

using Distributions = std::vector<std::pair<std::string, Distribution>>;

Distributions heretic_distributions(int64_t n_layers) {
  Distributions out;
  for (const ParamSpec& spec : heretic_search_space(n_layers)) out.emplace_back(spec.name, spec.distribution);
  return out;
}

const std::vector<double> kValues = {0, 10.5, 1.2, 14.0, 0.5, 3.0, 0.9, 12.0, 0.25, 5.0};

// Runs SQL on the file through a separate raw connection (a foreign writer).
void raw_exec(const fs::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

int64_t make_study(SqliteStore& store, const std::string& name = "heretic") {
  return store.create_study(name, {Direction::MINIMIZE, Direction::MINIMIZE}, json{{"settings", {{"n_trials", 5}}}});
}

void expect_same_trials(const std::vector<Trial>& a, const std::vector<Trial>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t idx = 0; idx < a.size(); ++idx) {
    EXPECT_EQ(a[idx].trial_id, b[idx].trial_id);
    EXPECT_EQ(a[idx].number, b[idx].number);
    EXPECT_EQ(a[idx].state, b[idx].state);
    EXPECT_EQ(a[idx].params, b[idx].params);
    EXPECT_EQ(a[idx].values, b[idx].values);
    EXPECT_EQ(a[idx].user_attrs, b[idx].user_attrs);
    EXPECT_EQ(a[idx].system_attrs, b[idx].system_attrs);
    EXPECT_EQ(a[idx].datetime_start, b[idx].datetime_start);
    EXPECT_EQ(a[idx].datetime_complete, b[idx].datetime_complete);
  }
}

const std::regex kDatetime(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6})");

}  // namespace

TEST(SqliteStore, CreatesStudiesWithDirectionsAndAttrs) {
  TempDir dir;
  auto store = SqliteStore::open(dir / "study.db");
  EXPECT_EQ(store->path(), dir / "study.db");
  EXPECT_FALSE(store->find_study("heretic").has_value());
  const int64_t id = store->create_study("heretic", {Direction::MINIMIZE, Direction::MAXIMIZE},
                                         json{{"settings", {{"model", "gemma"}}}, {"finished", false}});
  EXPECT_EQ(store->find_study("heretic"), id);
  EXPECT_EQ(store->study_names(), std::vector<std::string>{"heretic"});
  EXPECT_EQ(store->study_directions(id), (std::vector<Direction>{Direction::MINIMIZE, Direction::MAXIMIZE}));
  EXPECT_EQ(store->study_user_attrs(id), (json{{"settings", {{"model", "gemma"}}}, {"finished", false}}));

  store->set_study_user_attr(id, "finished", true);
  EXPECT_EQ(store->study_user_attrs(id).at("finished"), true);
  store->set_study_system_attr(id, "study:metric_names", json{"kl_score", "refusal_score"});
  EXPECT_EQ(store->study_system_attrs(id), (json{{"study:metric_names", {"kl_score", "refusal_score"}}}));

  ASSERT_THROWS_WITH(store->create_study("heretic", {Direction::MINIMIZE}, json::object()), InputError,
                     "study \"heretic\" already exists");
  ASSERT_THROWS_WITH(store->set_study_user_attr(id + 7, "x", 1), InputError, "no study with id");
}

TEST(SqliteStore, TrialLifecycleSurvivesReopen) {
  TempDir dir;
  const fs::path path = dir / "study.db";
  std::vector<Trial> before;
  {
    auto store = SqliteStore::open(path);
    const int64_t id = make_study(*store);
    const Distributions dists = heretic_distributions(18);
    const json attrs = ablation_user_attrs(decode_params(heretic_search_space(18), kValues));
    Trial t0 = store->create_running_trial(id, dists, kValues, attrs);
    Trial t1 = store->create_running_trial(id, dists, kValues, json::object());
    Trial t2 = store->create_running_trial(id, dists, kValues, json{{"index", 3}});
    EXPECT_EQ(t0.number, 0);
    EXPECT_EQ(t1.number, 1);
    EXPECT_EQ(t2.number, 2);
    EXPECT_EQ(t0.state, TrialState::RUNNING);
    EXPECT_TRUE(std::regex_match(t0.datetime_start, kDatetime)) << t0.datetime_start;
    EXPECT_EQ(t0.params.size(), 10u);
    EXPECT_EQ(t0.params[1], (std::pair<std::string, double>{"direction_index", 10.5}));

    store->set_trial_user_attr(t0.trial_id, "worker_rank", 1);
    store->complete_trial(t0.trial_id, {0.25, 0.5}, json{{"kl_divergence", 0.25}, {"refusals", 40}});
    store->fail_trial(t1.trial_id, "NaN logits at prompt 3");
    EXPECT_EQ(store->count_trials(id, TrialState::COMPLETE), 1);
    EXPECT_EQ(store->count_trials(id, TrialState::FAIL), 1);
    EXPECT_EQ(store->count_trials(id, TrialState::RUNNING), 1);

    before = store->load_trials(id);
    ASSERT_EQ(before.size(), 3u);
    EXPECT_EQ(before[0].state, TrialState::COMPLETE);
    EXPECT_EQ(before[0].values, (std::vector<double>{0.25, 0.5}));
    EXPECT_EQ(before[0].params, t0.params);
    EXPECT_EQ(before[0].user_attrs.at("refusals"), 40);
    EXPECT_EQ(before[0].user_attrs.at("worker_rank"), 1);
    EXPECT_EQ(before[0].user_attrs.at("parameters"), attrs.at("parameters"));
    EXPECT_TRUE(std::regex_match(before[0].datetime_complete, kDatetime)) << before[0].datetime_complete;
    EXPECT_GE(before[0].datetime_complete, before[0].datetime_start);
    EXPECT_EQ(before[1].state, TrialState::FAIL);
    EXPECT_TRUE(before[1].values.empty());
    EXPECT_EQ(before[1].user_attrs.at("fail_reason"), "NaN logits at prompt 3");
    EXPECT_EQ(before[2].state, TrialState::RUNNING);
    EXPECT_EQ(before[2].user_attrs, (json{{"index", 3}}));
    EXPECT_TRUE(before[2].datetime_complete.empty());
  }
  auto reopened = SqliteStore::open(path);
  const int64_t id = *reopened->find_study("heretic");
  expect_same_trials(reopened->load_trials(id), before);
  // Numbering continues after the reopen.
  EXPECT_EQ(reopened->create_running_trial(id, heretic_distributions(18), kValues, json::object()).number, 3);

  auto read_only = SqliteStore::open_read_only(path);
  EXPECT_EQ(read_only->load_trials(id).size(), 4u);
  ASSERT_THROWS_WITH(read_only->set_study_user_attr(id, "x", 1), IoError, "opened read-only");
}

TEST(SqliteStore, NumbersAreDensePerStudy) {
  TempDir dir;
  auto store = SqliteStore::open(dir / "study.db");
  const int64_t a = make_study(*store, "a");
  const int64_t b = make_study(*store, "b");
  const Distributions dists = heretic_distributions(4);
  const std::vector<double> values = {1, 2.0, 1.0, 2.5, 0.5, 1.5, 1.0, 2.5, 0.5, 1.5};
  EXPECT_EQ(store->create_running_trial(a, dists, values, {}).number, 0);
  EXPECT_EQ(store->create_running_trial(b, dists, values, {}).number, 0);
  const Trial a1 = store->create_running_trial(a, dists, values, {});
  EXPECT_EQ(a1.number, 1);
  store->fail_trial(a1.trial_id, "x");  // failed trials keep their number
  EXPECT_EQ(store->create_running_trial(a, dists, values, {}).number, 2);
  EXPECT_EQ(store->create_running_trial(b, dists, values, {}).number, 1);
  const std::vector<Trial> trials = store->load_trials(a);
  ASSERT_EQ(trials.size(), 3u);
  for (size_t idx = 0; idx < trials.size(); ++idx) EXPECT_EQ(trials[idx].number, static_cast<int64_t>(idx));
}

TEST(SqliteStore, InfiniteValuesAndBadValues) {
  TempDir dir;
  auto store = SqliteStore::open(dir / "study.db");
  const int64_t id = make_study(*store);
  const Distributions dists = heretic_distributions(18);
  const Trial t = store->create_running_trial(id, dists, kValues, {});
  const double inf = std::numeric_limits<double>::infinity();
  ASSERT_THROWS_WITH(store->complete_trial(t.trial_id, {0.1, std::nan("")}, {}), InputError, "NaN");
  ASSERT_THROWS_WITH(store->complete_trial(t.trial_id, {0.1}, {}), InputError, "expected 2 objective values, got 1");
  store->complete_trial(t.trial_id, {inf, -inf}, json{{"kl_divergence", inf}});
  const Trial loaded = store->load_trials(id).at(0);
  EXPECT_EQ(loaded.values, (std::vector<double>{inf, -inf}));
  // nlohmann writes non-finite attrs as null: the browser dashboard cannot parse NaN/Infinity.
  EXPECT_TRUE(loaded.user_attrs.at("kl_divergence").is_null());

  ASSERT_THROWS_WITH(store->complete_trial(t.trial_id, {0.1, 0.2}, {}), InternalError, "trial 0 is COMPLETE");
  ASSERT_THROWS_WITH(store->fail_trial(t.trial_id, "late"), InternalError, "only a RUNNING trial");
  ASSERT_THROWS_WITH(store->set_trial_user_attr(t.trial_id, "k", 1), InternalError, "finished trial");
  ASSERT_THROWS_WITH(store->fail_trial(9999, "x"), InputError, "no trial with id 9999");
  // The failed calls rolled back: still exactly one value row per objective.
  EXPECT_EQ(store->load_trials(id).at(0).values.size(), 2u);

  ASSERT_THROWS_WITH(store->create_running_trial(id, dists, {0, 1}, {}), InputError,
                     "expected one value per parameter (10), got 2");
  std::vector<double> bad_choice = kValues;
  bad_choice[0] = 2;
  ASSERT_THROWS_WITH(store->create_running_trial(id, dists, bad_choice, {}), InputError,
                     "\"direction_scope\": expected a choice index in [0, 2), got 2");
  EXPECT_EQ(store->load_trials(id).size(), 1u);
}

TEST(SqliteStore, RefusesIncompatibleDistributions) {
  TempDir dir;
  auto store = SqliteStore::open(dir / "study.db");
  const int64_t id = make_study(*store);
  store->create_running_trial(id, heretic_distributions(18), kValues, {});
  // Different ranges are fine (another layer count), a different type is not.
  store->create_running_trial(id, heretic_distributions(4), {0, 1.5, 1.0, 2.5, 0.5, 1.5, 1.0, 2.5, 0.5, 1.5}, {});
  Distributions changed = heretic_distributions(18);
  changed[0].second = CategoricalDistribution{{"per layer", "global"}};
  ASSERT_THROWS_WITH(store->create_running_trial(id, changed, kValues, {}), InputError,
                     "parameter \"direction_scope\": distribution");
  EXPECT_EQ(store->load_trials(id).size(), 2u);
}

TEST(SqliteStore, FailRunningTrialsReturnsThemWithParams) {
  TempDir dir;
  auto store = SqliteStore::open(dir / "study.db");
  const int64_t id = make_study(*store);
  const Distributions dists = heretic_distributions(18);
  const Trial t0 = store->create_running_trial(id, dists, kValues, {});
  std::vector<double> other = kValues;
  other[1] = 8.25;
  const Trial t1 = store->create_running_trial(id, dists, other, {});
  const Trial t2 = store->create_running_trial(id, dists, kValues, {});
  store->complete_trial(t1.trial_id, {0.1, 0.2}, {});

  const std::vector<Trial> failed = store->fail_running_trials(id, "interrupted");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].number, t0.number);
  EXPECT_EQ(failed[1].number, t2.number);
  for (const Trial& t : failed) {
    EXPECT_EQ(t.state, TrialState::FAIL);
    EXPECT_EQ(t.params, t0.params);
    EXPECT_EQ(t.user_attrs.at("fail_reason"), "interrupted");
    EXPECT_TRUE(std::regex_match(t.datetime_complete, kDatetime));
  }
  EXPECT_EQ(store->count_trials(id, TrialState::RUNNING), 0);
  EXPECT_EQ(store->count_trials(id, TrialState::COMPLETE), 1);
  EXPECT_TRUE(store->fail_running_trials(id, "interrupted").empty());
}

TEST(SqliteStore, LockedByAnotherWriterIsAnIoError) {
  TempDir dir;
  const fs::path path = dir / "study.db";
  auto store = SqliteStore::open(path, StoreOptions{.busy_timeout = std::chrono::milliseconds(50)});
  const int64_t id = make_study(*store);

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_THROWS_WITH(store->set_study_user_attr(id, "finished", true), IoError, "locked by another writer");
  ASSERT_THROWS_WITH(store->create_running_trial(id, heretic_distributions(18), kValues, {}), IoError,
                     path.string());
  // Readers are not blocked in WAL mode.
  EXPECT_EQ(store->load_trials(id).size(), 0u);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  store->set_study_user_attr(id, "finished", true);
  EXPECT_EQ(store->study_user_attrs(id).at("finished"), true);
}

TEST(SqliteStore, OpenChecksThePath) {
  TempDir dir;
  ASSERT_THROWS_WITH(SqliteStore::open_read_only(dir / "missing.db"), IoError, "no such study store");
  EXPECT_FALSE(fs::exists(dir / "missing.db"));
  ASSERT_THROWS_WITH(SqliteStore::open(dir / "no" / "such" / "study.db"), IoError, "does not exist");
  ASSERT_THROWS_WITH(SqliteStore::open(dir.path()), IoError, "expected a study store file");
  // An empty file is an empty database: the store is created in it.
  write_bytes(dir / "empty.db", "");
  auto store = SqliteStore::open(dir / "empty.db");
  EXPECT_TRUE(store->study_names().empty());
}

// Each refused file: FormatError naming the path, and not one byte changed.
class ForeignFile : public ::testing::Test {
 protected:
  void expect_refused(const fs::path& path, const std::string& message) {
    const std::string before = read_bytes(path);
    ASSERT_THROWS_WITH(SqliteStore::open(path), FormatError, path.string() + ": " + message);
    EXPECT_EQ(read_bytes(path), before) << "the file changed";
    EXPECT_FALSE(fs::exists(path.string() + "-wal")) << "after open";
    ASSERT_THROWS_WITH(SqliteStore::open_read_only(path), FormatError, path.string() + ": " + message);
    EXPECT_EQ(read_bytes(path), before) << "the file changed";
    EXPECT_FALSE(fs::exists(path.string() + "-wal")) << "after open_read_only";
  }
  TempDir dir_;
};

TEST_F(ForeignFile, NotSqlite) {
  const fs::path path = dir_ / "notes.txt";
  write_bytes(path, "study: gemma\nn_trials: 200\n");
  expect_refused(path, "not a SQLite database (expected the header \"SQLite format 3\\x00\", got \"study: gemma\\x0an_t\")");
}

TEST_F(ForeignFile, HeaderThenGarbage) {
  const fs::path path = dir_ / "garbage.db";
  std::mt19937 rng(1234);
  std::string bytes("SQLite format 3\0", 16);
  for (int idx = 0; idx < 8192; ++idx) bytes += static_cast<char>(rng() & 0xff);
  write_bytes(path, bytes);
  expect_refused(path, "corrupt SQLite database");
}

TEST_F(ForeignFile, TruncatedStore) {
  const fs::path path = dir_ / "study.db";
  {
    auto store = SqliteStore::open(path);
    const int64_t id = make_study(*store);
    for (int idx = 0; idx < 40; ++idx) store->create_running_trial(id, heretic_distributions(18), kValues, {});
  }
  std::string bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), 8192u);
  write_bytes(path, bytes.substr(0, bytes.size() / 2));
  expect_refused(path, "corrupt SQLite database");
}

TEST_F(ForeignFile, DamagedPage) {
  const fs::path path = dir_ / "study.db";
  {
    auto store = SqliteStore::open(path);
    const int64_t id = make_study(*store);
    for (int idx = 0; idx < 40; ++idx) store->create_running_trial(id, heretic_distributions(18), kValues, {});
  }
  std::string bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), 3 * 4096u);
  // Scribble over the middle of the file, where table b-tree pages live.
  for (size_t idx = bytes.size() / 2; idx < bytes.size() / 2 + 2048; ++idx) bytes[idx] = static_cast<char>(0xa5);
  write_bytes(path, bytes);
  expect_refused(path, "corrupt SQLite database");
}

TEST_F(ForeignFile, UnrelatedTables) {
  const fs::path path = dir_ / "inventory.db";
  raw_exec(path, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items (name) VALUES ('a');");
  expect_refused(path, "not an abliterate/Optuna store (missing tables: studies, version_info");
  // Nothing was added to it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM sqlite_master", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(ForeignFile, OlderOptunaRevision) {
  const fs::path path = dir_ / "old.db";
  { SqliteStore::open(path); }
  raw_exec(path, "UPDATE alembic_version SET version_num = 'v3.0.0.d'");
  expect_refused(path, "not an abliterate/Optuna store of schema v3.2.0.a (alembic_version is 'v3.0.0.d')");
}

// Python's own sqlite3 module reads what we wrote the way Optuna's ORM does.
TEST(SqliteStore, PythonSeesAnOptunaStore) {
  TempDir dir;
  const fs::path path = dir / "study.db";
  {
    auto store = SqliteStore::open(path);
    const int64_t id = make_study(*store);
    store->set_study_system_attr(id, "study:metric_names", json{"kl_score", "refusal_score"});
    const Distributions dists = heretic_distributions(18);
    const Trial t0 = store->create_running_trial(id, dists, kValues, {});
    const Trial t1 = store->create_running_trial(id, dists, kValues, {});
    store->create_running_trial(id, dists, kValues, {});
    store->complete_trial(t0.trial_id, {0.125, std::numeric_limits<double>::infinity()}, json{{"refusals", 7}});
    store->fail_trial(t1.trial_id, "interrupted");
  }
  const fs::path script = dir / "check.py";
  write_bytes(script, R"PY(
import json, sqlite3, sys
from datetime import datetime
db = sqlite3.connect(sys.argv[1])
q = lambda sql: db.execute(sql).fetchall()
assert q("SELECT version_num FROM alembic_version") == [("v3.2.0.a",)], q("SELECT * FROM alembic_version")
assert q("SELECT * FROM version_info") == [(1, 12, "5.0.0")]
assert q("PRAGMA journal_mode") == [("wal",)]
assert ("ix_trials_study_id",) in q("SELECT name FROM sqlite_master WHERE type = 'index'")
assert q("SELECT study_id, study_name FROM studies") == [(1, "heretic")]
assert q("SELECT direction, objective FROM study_directions ORDER BY study_direction_id") == \
    [("MINIMIZE", 0), ("MINIMIZE", 1)]
assert json.loads(q("SELECT value_json FROM study_system_attributes")[0][0]) == ["kl_score", "refusal_score"]
rows = q("SELECT number, state, datetime_start, datetime_complete FROM trials ORDER BY trial_id")
assert [(r[0], r[1]) for r in rows] == [(0, "COMPLETE"), (1, "FAIL"), (2, "RUNNING")], rows
for r in rows:
    datetime.strptime(r[2], "%Y-%m-%d %H:%M:%S.%f")
assert rows[2][3] is None
params = q("SELECT param_name, param_value, distribution_json FROM trial_params WHERE trial_id = 1 ORDER BY param_id")
assert params[0][0] == "direction_scope" and params[0][1] == 0.0
assert json.loads(params[0][2]) == {"name": "CategoricalDistribution", "attributes": {"choices": ["global", "per layer"]}}
assert json.loads(params[1][2])["name"] == "FloatDistribution" and params[1][1] == 10.5
assert q("SELECT objective, value, value_type FROM trial_values ORDER BY objective") == \
    [(0, 0.125, "FINITE"), (1, None, "INF_POS")]
attrs = dict(q("SELECT key, value_json FROM trial_user_attributes WHERE trial_id = 2"))
assert json.loads(attrs["fail_reason"]) == "interrupted"
print("ok")
)PY");
  const std::string command = fmt::format("python3 '{}' '{}'", script.string(), path.string());
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace abliterate::study
