// Model::load of the two real GGUF files (spec/model-runtime.md §5): they load
// in fp32 on the CPU, their config and chat template come from the metadata,
// and greedy generation says what a working model says. scripts/setup puts the
// files in models/ (CI included).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

#include "abliterate/model/model.hpp"

namespace abliterate::model {
namespace {

std::filesystem::path real_model(const char* file) {
  return std::filesystem::path(ABL_SOURCE_DIR) / "models" / file;
}

// Loads `file` once per test process (fp32, CPU) and reports the time taken.
const Model& load_once(const char* file, std::unique_ptr<Model>& slot) {
  if (!slot) {
    const auto path = real_model(file);
    if (!std::filesystem::exists(path)) {
      throw std::runtime_error(path.string() + " is missing: run scripts/setup to download the test models");
    }
    const auto start = std::chrono::steady_clock::now();
    slot = Model::load(path, LoadOptions{});
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "[ load     ] " << file << ": " << load_s << " s\n";
  }
  return *slot;
}

const Model& smollm2() {
  static std::unique_ptr<Model> model;
  return load_once("SmolLM2-135M-Instruct.Q4_1.gguf", model);
}

const Model& gemma3() {
  static std::unique_ptr<Model> model;
  return load_once("gemma-3-270m-q4_k_m.gguf", model);
}

// Greedy continuation of already rendered prompt text.
std::string continue_text(const Model& model, const std::string& rendered, int64_t max_new_tokens) {
  const PromptBatch batch = model.tokenize({rendered});
  const std::vector<std::vector<int64_t>> ids = model.generate(batch, max_new_tokens, /*hook=*/nullptr);
  return model.tokenizer().decode(ids.at(0));
}

TEST(GgufModelTest, SmolLm2LoadsWithItsOwnTemplate) {
  const Model& model = smollm2();
  EXPECT_EQ(model.config().architecture, Architecture::llama);
  EXPECT_EQ(model.config().n_layers, 30);
  EXPECT_EQ(model.config().hidden_size, 576);
  EXPECT_TRUE(model.is_chat_template_from_model());
  EXPECT_EQ(model.tokenizer().vocab_size(), 49152);
  EXPECT_EQ(model.projection_weight(Projection::attn_o_proj, 29).sizes(), (c10::IntArrayRef{576, 576}));
}

TEST(GgufModelTest, SmolLm2AnswersAChatQuestion) {
  const Model& model = smollm2();
  const std::string prompt = model.format_chat("You are a helpful assistant.", "What is the capital of France?");
  EXPECT_EQ(prompt,
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is the capital of "
            "France?<|im_end|>\n<|im_start|>assistant\n");
  const std::string answer = continue_text(model, prompt, 24);
  std::cout << "[ smollm2  ] " << answer << "\n";
  EXPECT_NE(answer.find("Paris"), std::string::npos) << answer;
}

TEST(GgufModelTest, Gemma3LoadsWithTheBuiltInTemplate) {
  const Model& model = gemma3();
  EXPECT_EQ(model.config().architecture, Architecture::gemma3);
  EXPECT_EQ(model.config().n_layers, 18);
  EXPECT_EQ(model.config().hidden_size, 640);
  EXPECT_FALSE(model.is_chat_template_from_model());  // the base model's file has none
  EXPECT_EQ(model.format_chat("", "Hi").rfind("<bos><start_of_turn>user\n", 0), 0u);
}

// The base model does not say "Paris" here; what it says instead is what HF
// transformers 5.24.0 (torch 2.15, gguf 0.19.0) says for the same file in
// fp32: AutoModelForCausalLM.from_pretrained(models/, gguf_file=...), greedy
// generate of 8 tokens, run once by hand. The exact reference comparisons live
// in reference_logits_test.cpp.
TEST(GgufModelTest, Gemma3BaseModelContinuesTextAsTransformers) {
  const Model& model = gemma3();
  const PromptBatch batch = model.tokenize({"<bos>The capital of France is"});
  EXPECT_TRUE(torch::equal(batch.input_ids, torch::tensor({{2, 818, 5279, 529, 7001, 563}}, torch::kInt64)))
      << batch.input_ids;
  const std::string answer = continue_text(model, "<bos>The capital of France is", 8);
  std::cout << "[ gemma3   ] " << answer << "\n";
  EXPECT_EQ(answer, " the capital of the country of France.");
}

}  // namespace
}  // namespace abliterate::model
