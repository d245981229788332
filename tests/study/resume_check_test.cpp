#include "abliterate/study/resume_check.hpp"

#include <gtest/gtest.h>

#include "abliterate/study/sqlite_store.hpp"
#include "study/temp_dir.hpp"

namespace abliterate::study {
namespace {

using nlohmann::json;

json tiny_settings() {
  return json{{"model", "models/tiny"},
              {"dtypes", {"float32"}},
              {"max_response_length", 6},
              {"n_trials", 10},
              {"batch_size", 4},
              {"seed", 7},
              {"system_prompt", "You are a helpful assistant."},
              {"refusal_markers", {"sorry", "i can't"}},
              {"good_prompts",
               {{"dataset", "data/harmless"}, {"split", "train[:12]"}, {"column", "text"}, {"prefix", ""},
                {"suffix", ""}, {"residual_plot_label", "good"}}},
              {"bad_prompts",
               {{"dataset", "data/harmful"}, {"split", "train[:12]"}, {"column", "text"}, {"prefix", ""},
                {"suffix", ""}}}};
}

std::vector<std::string> keys_of(const std::vector<SettingsDifference>& differences) {
  std::vector<std::string> keys;
  for (const SettingsDifference& d : differences) keys.push_back(d.key);
  return keys;
}

}  // namespace

TEST(ResumeCheck, IdenticalSettingsHaveNoDifference) {
  EXPECT_TRUE(settings_differences(tiny_settings(), tiny_settings()).empty());
}

TEST(ResumeCheck, BudgetBatchSeedAndPlotLabelsMayChange) {
  json current = tiny_settings();
  current["n_trials"] = 50;
  current["batch_size"] = 16;
  current["seed"] = 8;
  current["store"] = "other.db";
  current["good_prompts"]["residual_plot_label"] = "harmless";
  EXPECT_TRUE(settings_differences(tiny_settings(), current).empty());
}

TEST(ResumeCheck, NamesEachDifferenceWithBothValues) {
  json current = tiny_settings();
  current["model"] = "models/other";
  current["good_prompts"]["split"] = "train[:10]";
  current["bad_prompts"]["system_prompt"] = "Be terse.";
  current["refusal_markers"] = {"sorry"};
  current.erase("max_response_length");
  const std::vector<SettingsDifference> differences = settings_differences(tiny_settings(), current);
  ASSERT_EQ(keys_of(differences), (std::vector<std::string>{"model", "max_response_length", "refusal_markers",
                                                             "good_prompts.split", "bad_prompts.system_prompt"}));
  EXPECT_EQ(differences[0].stored, "\"models/tiny\"");
  EXPECT_EQ(differences[0].current, "\"models/other\"");
  EXPECT_EQ(differences[1].stored, "6");
  EXPECT_EQ(differences[1].current, "(absent)");
  EXPECT_EQ(differences[2].stored, "[\"sorry\",\"i can't\"]");
  EXPECT_EQ(differences[3].stored, "\"train[:12]\"");
  EXPECT_EQ(differences[3].current, "\"train[:10]\"");
  EXPECT_EQ(differences[4].stored, "(absent)");
  EXPECT_EQ(differences[4].current, "\"Be terse.\"");
}

TEST(ResumeCheck, LongValuesAreCut) {
  json current = tiny_settings();
  current["system_prompt"] = std::string(1000, 'x');
  const auto differences = settings_differences(tiny_settings(), current);
  ASSERT_EQ(differences.size(), 1u);
  EXPECT_LE(differences[0].current.size(), 160u);
  EXPECT_TRUE(differences[0].current.ends_with("...")) << differences[0].current;
}

TEST(ResumeCheck, SearchSpaceOfAnotherLayerCount) {
  std::vector<std::pair<std::string, Distribution>> stored;
  for (const ParamSpec& spec : heretic_search_space(4)) stored.emplace_back(spec.name, spec.distribution);
  EXPECT_TRUE(search_space_differences(stored, heretic_search_space(4)).empty());
  EXPECT_TRUE(search_space_differences({}, heretic_search_space(4)).empty()) << "no trials yet: nothing to compare";

  const std::vector<SettingsDifference> differences = search_space_differences(stored, heretic_search_space(18));
  ASSERT_FALSE(differences.empty());
  for (const SettingsDifference& d : differences) {
    EXPECT_TRUE(d.key.starts_with("search space: ")) << d.key;
    EXPECT_NE(d.stored, d.current);
  }

  // A parameter only on one side.
  stored.emplace_back("extra", FloatDistribution{.low = 0, .high = 1, .log = false, .step = std::nullopt});
  std::vector<ParamSpec> space = heretic_search_space(4);
  space.erase(space.begin());
  const auto one_sided = search_space_differences(stored, space);
  ASSERT_EQ(one_sided.size(), 2u);
  EXPECT_EQ(one_sided[0].key, "search space: " + heretic_search_space(4).front().name);
  EXPECT_EQ(one_sided[0].current, "(absent)");
  EXPECT_EQ(one_sided[1].key, "search space: extra");
  EXPECT_EQ(one_sided[1].stored,
            "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": 0.0, \"high\": 1.0, "
            "\"log\": false}}");
  EXPECT_EQ(one_sided[1].current, "(absent)");
}

TEST(ResumeCheck, RefusalMessageNamesStoreJobAndEveryDifference) {
  const std::string message =
      format_resume_refusal("runs/study.db", "tiny", "jobs/tiny.yaml",
                            {{"model", "\"a\"", "\"b\""}, {"good_prompts.split", "\"train[:12]\"", "\"train[:10]\""}});
  EXPECT_EQ(message,
            "runs/study.db: study \"tiny\" was started with other settings than jobs/tiny.yaml (2 differences); its "
            "trials would not be comparable with new ones:\n"
            "  model: stored \"a\", new \"b\"\n"
            "  good_prompts.split: stored \"train[:12]\", new \"train[:10]\"\n"
            "Run with --force to continue the study with the new settings anyway, or set another study_name or "
            "store.");
}

TEST(ResumeCheck, StoreReturnsFirstDistributionOfEachParameter) {
  testing::TempDir dir;
  auto store = SqliteStore::open(dir / "study.db");
  const int64_t id = store->create_study("s", {Direction::MINIMIZE, Direction::MINIMIZE}, json::object());
  EXPECT_TRUE(store->study_distributions(id).empty());
  const std::vector<std::pair<std::string, Distribution>> first = {
      {"b", FloatDistribution{.low = 0, .high = 1, .log = false, .step = std::nullopt}}, {"a", IntDistribution{.low = 1, .high = 4, .log = false, .step = 1}}};
  store->create_running_trial(id, first, {0.5, 2}, json::object());
  // A later trial with a wider (still compatible) range does not replace the first row.
  store->create_running_trial(id, {{"b", FloatDistribution{.low = 0, .high = 2, .log = false, .step = std::nullopt}}}, {1.5}, json::object());
  const auto stored = store->study_distributions(id);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].first, "b");
  EXPECT_EQ(stored[0].second, first[0].second);
  EXPECT_EQ(stored[1].first, "a");
  EXPECT_EQ(stored[1].second, first[1].second);
}

}  // namespace abliterate::study
