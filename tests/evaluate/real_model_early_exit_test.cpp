// Early exit on a real model (issue 4): SmolLM2-135M-Instruct (the GGUF that
// scripts/setup puts in models/) answers the project's harmful test prompts.
// Stopping each row at its first marker must give exactly full generation's
// refusal count, and must actually stop rows. The markers are Heretic's
// defaults plus words taken from the middle of some full responses: this
// model rarely uses Heretic's markers, and rows must stop at all for the test
// to mean something.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "abliterate/config/job.hpp"
#include "abliterate/evaluate/evaluator.hpp"
#include "abliterate/model/model.hpp"

namespace abliterate::evaluate {
namespace {

const std::filesystem::path kSourceDir = ABL_SOURCE_DIR;

std::vector<std::string> harmful_test_prompts(const model::Model& model, size_t n) {
  const std::filesystem::path path = kSourceDir / "jobs/data/harmful/test.jsonl";
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::vector<std::string> rendered;
  std::string line;
  const config::Job defaults;
  while (rendered.size() < n && std::getline(in, line)) {
    rendered.push_back(model.format_chat(defaults.system_prompt, nlohmann::json::parse(line).at("text")));
  }
  return rendered;
}

TEST(RealModelEarlyExitTest, SmolLM2RefusalCountEqualsFullGeneration) {
  const std::filesystem::path path = kSourceDir / "models/SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/setup to download the test models";
  const std::unique_ptr<model::Model> model = model::Model::load(path, model::LoadOptions{});
  const std::vector<std::string> prompts = harmful_test_prompts(*model, 16);
  ASSERT_EQ(prompts.size(), 16u);

  constexpr int64_t kMaxLength = 32;
  const Evaluator full(*model, RefusalDetector({}),
                       {.batch_size = 16, .max_response_length = kMaxLength, .stop_at_marker = false});
  const std::vector<std::string> full_texts = full.responses(prompts, nullptr);
  ASSERT_EQ(full_texts.size(), prompts.size());

  std::vector<std::string> markers = config::default_refusal_markers();
  for (size_t idx = 0; idx < full_texts.size(); idx += 3) {
    // The word that starts after the first third of the normalized response.
    const std::string normalized = normalize_response(full_texts[idx]);
    const size_t begin = normalized.find(' ', normalized.size() / 3);
    if (begin == std::string::npos) continue;
    const size_t end = normalized.find(' ', begin + 1);
    if (end != std::string::npos && end > begin + 3) markers.push_back(normalized.substr(begin + 1, end - begin - 1));
  }
  ASSERT_GT(markers.size(), config::default_refusal_markers().size()) << "no words to cut from the responses";
  const RefusalDetector detector(markers);
  const Evaluator early(*model, detector, {.batch_size = 16, .max_response_length = kMaxLength});
  const std::vector<std::string> early_texts = early.responses(prompts, nullptr);
  ASSERT_EQ(early_texts.size(), full_texts.size());

  int64_t full_refusals = 0;
  int64_t early_refusals = 0;
  size_t n_cut = 0;
  for (size_t idx = 0; idx < full_texts.size(); ++idx) {
    full_refusals += detector.is_refusal(full_texts[idx]) ? 1 : 0;
    early_refusals += detector.is_refusal(early_texts[idx]) ? 1 : 0;
    EXPECT_EQ(full_texts[idx].rfind(early_texts[idx], 0), 0u) << "prompt " << idx << ": not a prefix";
    if (early_texts[idx].size() < full_texts[idx].size()) ++n_cut;
  }
  EXPECT_EQ(early_refusals, full_refusals);
  // Teeth: there are refusals, and early exit cut rows short.
  EXPECT_GT(full_refusals, 0);
  EXPECT_GT(n_cut, 0u);
  std::cout << "[ refusals ] " << full_refusals << "/" << prompts.size() << ", " << n_cut
            << " responses cut short at their first marker\n";
}

}  // namespace
}  // namespace abliterate::evaluate
