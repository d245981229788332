// ChatTemplate against Python jinja2 (spec/model-runtime.md §2-3): every case
// of tests/fixtures/chat_template_renders.json, written by
// tests/reference/make_chat_fixtures.py, must render byte for byte (or fail
// with the same raise_exception message).
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "abliterate/chat/chat_template.hpp"
#include "abliterate/common/error.hpp"

namespace abliterate::model {
namespace {

const std::filesystem::path kFixtures = std::filesystem::path(ABL_SOURCE_DIR) / "tests" / "fixtures";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(ChatTemplateFixturesTest, RendersLikeJinja2) {
  const nlohmann::json document = nlohmann::json::parse(read_file(kFixtures / "chat_template_renders.json"));
  ASSERT_EQ(document.at("generated_by"), "tests/reference/make_chat_fixtures.py");
  const nlohmann::json& cases = document.at("cases");
  ASSERT_GE(cases.size(), 60u);
  std::set<std::string> templates;
  size_t errors = 0;
  for (const nlohmann::json& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    const std::string file = c.at("template").get<std::string>();
    templates.insert(file);
    const chat::ChatTemplate chat(read_file(kFixtures / "chat_templates" / file), c.at("bos_token").get<std::string>(),
                            c.at("eos_token").get<std::string>());
    std::vector<chat::ChatMessage> messages;
    for (const auto& message : c.at("messages"))
      messages.push_back({message.at("role").get<std::string>(), message.at("content").get<std::string>()});
    const bool add_generation_prompt = c.at("add_generation_prompt").get<bool>();
    if (c.contains("error")) {
      ++errors;
      const std::string expected = c.at("error").get<std::string>();
      try {
        chat.render(messages, add_generation_prompt, c.at("variables"));
        ADD_FAILURE() << "expected an InputError containing: " << expected;
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << "message: " << e.what();
      }
      continue;
    }
    try {
      EXPECT_EQ(chat.render(messages, add_generation_prompt, c.at("variables")), c.at("expected").get<std::string>());
    } catch (const Error& e) {
      ADD_FAILURE() << "threw: " << e.what();
    }
  }
  EXPECT_EQ(templates.size(), 6u);
  EXPECT_GE(errors, 8u);
}

}  // namespace
}  // namespace abliterate::model
