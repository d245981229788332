// Module chat: chat templates: the Jinja interpreter (chat/jinja/), rendering from HF folders or GGUF.
// Must not know: models or torch; of the tokenizer, only GGUF vocabularies.
//
// Rendering a conversation into the model's prompt text
// (spec/model-runtime.md §2-3) with the Jinja interpreter of chat/jinja/,
// exactly as transformers' apply_chat_template renders it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace abliterate::chat {

namespace jinja {
class Template;
}

struct ChatMessage {
  std::string role;     // "system", "user", "assistant"
  std::string content;
};

class ChatTemplate {
 public:
  // The template text as shipped (chat_template.jinja or tokenizer_config.json's
  // chat_template); bos_token/eos_token come from tokenizer_config.json when it
  // names them (a string or {"content": ...}), else the defaults below.
  static ChatTemplate from_model_folder(const std::filesystem::path& folder);

  // Parses `source` (FormatError naming the line on a syntax error). Without
  // explicit tokens, a Gemma-looking template (one with "<start_of_turn>")
  // gets "<bos>"/"<eos>", any other template empty strings.
  explicit ChatTemplate(std::string source);
  ChatTemplate(std::string source, std::string bos_token, std::string eos_token);

  // The rendered prompt; starts with the BOS text when the template emits it.
  // Variables: messages (list of {role, content}), add_generation_prompt,
  // bos_token, eos_token. Throws InputError on a conversation the template
  // rejects (raise_exception's message included) or a runtime error.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
  // The same with extra template variables (a JSON object: enable_thinking,
  // date_string, tools, ...), which may override the ones above except messages.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                     const nlohmann::json& extra_variables) const;

  void set_special_tokens(std::string bos_token, std::string eos_token);

  const std::string& source() const { return source_; }
  const std::string& bos_token() const { return bos_token_; }
  const std::string& eos_token() const { return eos_token_; }

 private:
  std::string source_;
  std::string bos_token_;
  std::string eos_token_;
  // Shared: ChatTemplate stays cheap to copy.
  std::shared_ptr<const jinja::Template> template_;
};

}  // namespace abliterate::chat
