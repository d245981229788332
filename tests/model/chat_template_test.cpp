// ChatTemplate (spec/model-runtime.md §2); tests/model/chat_template_fixtures_test.cpp
// covers the other families against jinja2. Expected strings were rendered by
// Python jinja2 3.1.6 from the tiny model's chat_template.jinja (HF's Gemma 3
// template) with trim_blocks and lstrip_blocks, as transformers renders it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "abliterate/chat/chat_template.hpp"
#include "abliterate/common/error.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::TempDir;

const chat::ChatTemplate& gemma_template() {
  static const chat::ChatTemplate chat = chat::ChatTemplate::from_model_folder(testing::tiny_model_folder());
  return chat;
}

TEST(ChatTemplateTest, FixtureTemplateIsTheTinyModelOne) {
  // chat_template_fixtures_test.cpp checks tests/fixtures/chat_templates/gemma3.jinja
  // against jinja2; it must be the template the tiny model ships.
  EXPECT_EQ(testing::read_bytes(std::filesystem::path(ABL_SOURCE_DIR) / "tests/fixtures/chat_templates/gemma3.jinja"),
            gemma_template().source());
}

TEST(ChatTemplateTest, SpecExampleSystemFoldedIntoFirstUserTurn) {
  EXPECT_EQ(gemma_template().render({{"system", "Be helpful."}, {"user", "Hello"}}, true),
            "<bos><start_of_turn>user\nBe helpful.\n\nHello<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatTemplateTest, EmptySystemStillAddsTheSeparatorAndUserTextIsTrimmed) {
  // Heretic always sends a system message, even an empty one (method spec §3.2).
  EXPECT_EQ(gemma_template().render({{"system", ""}, {"user", "  Hi there \n"}}, true),
            "<bos><start_of_turn>user\n\n\nHi there<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatTemplateTest, MultiTurnWithoutGenerationPrompt) {
  EXPECT_EQ(gemma_template().render({{"user", "Hi"}, {"assistant", " Yo "}, {"user", "More"}}, false),
            "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nYo<end_of_turn>\n"
            "<start_of_turn>user\nMore<end_of_turn>\n");
}

TEST(ChatTemplateTest, TrimRemovesUnicodeSpacesLikePython) {
  // U+00A0 and U+3000 around the user text; the system text is not trimmed.
  EXPECT_EQ(gemma_template().render({{"system", "S "}, {"user", "\xC2\xA0x\xE3\x80\x80"}}, true),
            "<bos><start_of_turn>user\nS \n\nx<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatTemplateTest, RolesMustAlternate) {
  ASSERT_THROWS_WITH(gemma_template().render({{"user", "a"}, {"user", "b"}}, true), InputError,
                     "Conversation roles must alternate user/assistant/user/assistant/...");
  ASSERT_THROWS_WITH(gemma_template().render({{"system", "s"}, {"assistant", "a"}}, true), InputError,
                     "Conversation roles must alternate");
}

TEST(ChatTemplateTest, SeparatorComesFromTheTemplate) {
  // Google's QAT GGUFs fold the system prompt with a single newline (spec §2):
  // the same template with '\n' instead of a two-newline literal.
  std::string source = gemma_template().source();
  const std::string two_newlines = "+ '\n\n'";
  for (size_t pos = source.find(two_newlines); pos != std::string::npos; pos = source.find(two_newlines))
    source.replace(pos, two_newlines.size(), "+ '\\n'");
  ASSERT_NE(source, gemma_template().source());
  const chat::ChatTemplate chat(source);
  EXPECT_EQ(chat.render({{"system", "S"}, {"user", "U"}}, true),
            "<bos><start_of_turn>user\nS\nU<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatTemplateTest, AnyTemplateRendersAndSpecialTokensDefaultPerFamily) {
  const chat::ChatTemplate chatml(
      "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
      "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");
  EXPECT_EQ(chatml.bos_token(), "");
  EXPECT_EQ(chatml.render({{"user", "Hi"}}, true), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(gemma_template().bos_token(), "<bos>");
  EXPECT_EQ(gemma_template().eos_token(), "<eos>");
  const chat::ChatTemplate with_tokens("{{ bos_token }}|{{ eos_token }}|{{ enable_thinking }}", "<s>", "</s>");
  EXPECT_EQ(with_tokens.render({}, false, {{"enable_thinking", false}}), "<s>|</s>|False");
}

TEST(ChatTemplateTest, SyntaxErrorNamesTheFile) {
  TempDir dir("chat_syntax");
  testing::write_bytes(dir.path() / "chat_template.jinja", "{% if x %}");
  ASSERT_THROWS_WITH(chat::ChatTemplate::from_model_folder(dir.path()), FormatError, "chat_template.jinja");
}

TEST(ChatTemplateTest, SpecialTokensComeFromTokenizerConfig) {
  TempDir dir("chat_special_tokens");
  testing::write_bytes(dir.path() / "chat_template.jinja", "{{ bos_token }}{{ eos_token }}");
  testing::write_bytes(dir.path() / "tokenizer_config.json",
                       nlohmann::json{{"bos_token", "<|begin_of_text|>"},
                                      {"eos_token", {{"content", "<|eot_id|>"}, {"lstrip", false}}}}
                           .dump());
  EXPECT_EQ(chat::ChatTemplate::from_model_folder(dir.path()).render({}, false), "<|begin_of_text|><|eot_id|>");
}

TEST(ChatTemplateTest, FallsBackToTokenizerConfig) {
  TempDir dir("chat_tokenizer_config");
  testing::write_bytes(dir.path() / "tokenizer_config.json",
                       nlohmann::json{{"chat_template", gemma_template().source()}}.dump());
  EXPECT_EQ(chat::ChatTemplate::from_model_folder(dir.path()).source(), gemma_template().source());

  // Named templates: the "default" one is used.
  testing::write_bytes(dir.path() / "tokenizer_config.json",
                       nlohmann::json{{"chat_template", {{{"name", "tool_use"}, {"template", "x"}},
                                                         {{"name", "default"}, {"template", "y"}}}}}
                           .dump());
  EXPECT_EQ(chat::ChatTemplate::from_model_folder(dir.path()).source(), "y");

  // chat_template.jinja wins over tokenizer_config.json.
  testing::write_bytes(dir.path() / "chat_template.jinja", "z");
  EXPECT_EQ(chat::ChatTemplate::from_model_folder(dir.path()).source(), "z");
}

TEST(ChatTemplateTest, NoTemplateAnywhere) {
  TempDir dir("chat_none");
  ASSERT_THROWS_WITH(chat::ChatTemplate::from_model_folder(dir.path()), IoError, "no chat template");
  testing::write_bytes(dir.path() / "tokenizer_config.json", "{}");
  ASSERT_THROWS_WITH(chat::ChatTemplate::from_model_folder(dir.path()), FormatError, "missing key 'chat_template'");
}

}  // namespace
}  // namespace abliterate::model
