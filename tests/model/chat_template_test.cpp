// ChatTemplate (spec/model-runtime.md §2). Expected strings were rendered by
// Python jinja2 3.1.6 from the tiny model's chat_template.jinja (HF's Gemma 3
// template) with trim_blocks and lstrip_blocks, as transformers renders it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/model/chat_template.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::TempDir;

const ChatTemplate& gemma_template() {
  static const ChatTemplate chat = ChatTemplate::from_model_folder(testing::tiny_model_folder());
  return chat;
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

TEST(ChatTemplateTest, SeparatorIsReadFromTheTemplate) {
  // Google's QAT GGUFs fold the system prompt with a single newline (spec §2).
  const ChatTemplate chat(
      "{{ bos_token }}{%- set first_user_prefix = messages[0]['content'] + '\\n' -%}<start_of_turn>");
  EXPECT_EQ(chat.render({{"system", "S"}, {"user", "U"}}, true),
            "<bos><start_of_turn>user\nS\nU<end_of_turn>\n<start_of_turn>model\n");
}

TEST(ChatTemplateTest, NonGemmaTemplateIsRefused) {
  const ChatTemplate chatml("{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}");
  ASSERT_THROWS_WITH(chatml.render({{"user", "Hi"}}, true), InputError, "only Gemma templates");
}

TEST(ChatTemplateTest, FallsBackToTokenizerConfig) {
  TempDir dir("chat_tokenizer_config");
  testing::write_bytes(dir.path() / "tokenizer_config.json",
                       nlohmann::json{{"chat_template", gemma_template().source()}}.dump());
  EXPECT_EQ(ChatTemplate::from_model_folder(dir.path()).source(), gemma_template().source());

  // Named templates: the "default" one is used.
  testing::write_bytes(dir.path() / "tokenizer_config.json",
                       nlohmann::json{{"chat_template", {{{"name", "tool_use"}, {"template", "x"}},
                                                         {{"name", "default"}, {"template", "y"}}}}}
                           .dump());
  EXPECT_EQ(ChatTemplate::from_model_folder(dir.path()).source(), "y");

  // chat_template.jinja wins over tokenizer_config.json.
  testing::write_bytes(dir.path() / "chat_template.jinja", "z");
  EXPECT_EQ(ChatTemplate::from_model_folder(dir.path()).source(), "z");
}

TEST(ChatTemplateTest, NoTemplateAnywhere) {
  TempDir dir("chat_none");
  ASSERT_THROWS_WITH(ChatTemplate::from_model_folder(dir.path()), IoError, "no chat template");
  testing::write_bytes(dir.path() / "tokenizer_config.json", "{}");
  ASSERT_THROWS_WITH(ChatTemplate::from_model_folder(dir.path()), FormatError, "missing key 'chat_template'");
}

}  // namespace
}  // namespace abliterate::model
