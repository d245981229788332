#include <chrono>
#include <gtest/gtest.h>
#include "abliterate/model/model.hpp"
#include "model/model_test_support.hpp"
namespace abliterate::model {
TEST(Scratch, Timing) {
  auto model = Model::load(testing::tiny_model_folder(), LoadOptions{});
  const std::vector<std::string> prompts = {model->format_chat("", "Write a short story."),
                                            model->format_chat("Be helpful.", "How does a computer work?")};
  auto t0 = std::chrono::steady_clock::now();
  auto batch = model->tokenize(prompts);
  auto t1 = std::chrono::steady_clock::now();
  auto g = model->generate(batch, 20, nullptr);
  auto t2 = std::chrono::steady_clock::now();
  auto g2 = model->generate(batch, 20, nullptr);
  auto t3 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) model->prefill(batch, nullptr, false);
  auto t4 = std::chrono::steady_clock::now();
  auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("tokenize %.1f gen %.1f gen2 %.1f prefill10 %.1f len %zu %zu T=%ld threads %d\n", ms(t0,t1), ms(t1,t2), ms(t2,t3), ms(t3,t4), g[0].size(), g[1].size(), batch.input_ids.size(1), torch::get_num_threads());
}
}
