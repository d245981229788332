// Rendering a conversation into the model's prompt text
// (spec/model-runtime.md §2). The walking skeleton knows the Gemma template;
// the Jinja interpreter of issue 3 replaces the built-in formatter.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace abliterate::model {

struct ChatMessage {
  std::string role;     // "system", "user", "assistant"
  std::string content;
};

class ChatTemplate {
 public:
  // The template text as shipped (chat_template.jinja or tokenizer_config.json's chat_template).
  static ChatTemplate from_model_folder(const std::filesystem::path& folder);
  explicit ChatTemplate(std::string source) : source_(std::move(source)) {}

  // The rendered prompt; starts with the BOS text when the template emits it.
  // Throws InputError on a conversation the template rejects.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

}  // namespace abliterate::model
