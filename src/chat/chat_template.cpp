// ChatTemplate: see include/abliterate/chat/chat_template.hpp. Every template,
// Gemma's included, is rendered by the Jinja interpreter (spec §2-3).
#include "abliterate/chat/chat_template.hpp"

#include <nlohmann/json.hpp>

#include "abliterate/chat/jinja/template.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/formats/hf_folder.hpp"
#include "abliterate/formats/json_file.hpp"

namespace abliterate::chat {

namespace {

constexpr std::string_view kGemmaTurnMarker = "<start_of_turn>";
// What Gemma's {{ bos_token }} / {{ eos_token }} render to when the folder does not say.
constexpr std::string_view kGemmaBos = "<bos>";
constexpr std::string_view kGemmaEos = "<eos>";

std::string default_token(const std::string& source, std::string_view gemma_token) {
  return source.find(kGemmaTurnMarker) != std::string::npos ? std::string(gemma_token) : std::string();
}

// tokenizer_config.json's bos_token/eos_token: a string, or an AddedToken
// object {"content": "...", ...}; null/absent gives nothing.
bool read_special_token(const nlohmann::json& root, const char* key, std::string& out) {
  if (!root.is_object() || !root.contains(key)) return false;
  const nlohmann::json& value = root.at(key);
  if (value.is_string()) {
    out = value.get<std::string>();
    return true;
  }
  if (value.is_object() && value.contains("content") && value.at("content").is_string()) {
    out = value.at("content").get<std::string>();
    return true;
  }
  return false;
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source)
    : ChatTemplate(source, default_token(source, kGemmaBos), default_token(source, kGemmaEos)) {}

ChatTemplate::ChatTemplate(std::string source, std::string bos_token, std::string eos_token)
    : source_(std::move(source)),
      bos_token_(std::move(bos_token)),
      eos_token_(std::move(eos_token)),
      template_(std::make_shared<const jinja::Template>(source_)) {}

void ChatTemplate::set_special_tokens(std::string bos_token, std::string eos_token) {
  bos_token_ = std::move(bos_token);
  eos_token_ = std::move(eos_token);
}

ChatTemplate ChatTemplate::from_model_folder(const std::filesystem::path& folder) {
  std::error_code ec;
  const auto jinja_file = folder / formats::kHfChatTemplateFile;
  const auto tokenizer_config = folder / formats::kHfTokenizerConfigFile;
  const bool has_config = std::filesystem::is_regular_file(tokenizer_config, ec);
  const nlohmann::json root = has_config ? formats::read_json_file(tokenizer_config) : nlohmann::json();
  const std::string file = tokenizer_config.string();

  // Parse errors name the file the template came from.
  const auto with_tokens = [&](std::string source, const std::string& origin) {
    ChatTemplate chat = with_context(origin, [&] { return ChatTemplate(std::move(source)); });
    std::string bos = chat.bos_token();
    std::string eos = chat.eos_token();
    read_special_token(root, "bos_token", bos);
    read_special_token(root, "eos_token", eos);
    chat.set_special_tokens(std::move(bos), std::move(eos));
    return chat;
  };

  if (std::filesystem::is_regular_file(jinja_file, ec)) {
    return with_tokens(formats::read_text_file(jinja_file), jinja_file.string());
  }

  ABL_CHECK(has_config, IoError, "{}: no chat template: expected {} or a 'chat_template' key in {}",
            folder.string(), jinja_file.string(), file);
  ABL_CHECK(root.is_object() && root.contains("chat_template") && !root.at("chat_template").is_null(), FormatError,
            "{}: missing key 'chat_template' (and there is no chat_template.jinja)", file);
  const nlohmann::json& value = root.at("chat_template");
  if (value.is_string()) return with_tokens(value.get<std::string>(), file);
  // Named templates: [{"name": "default", "template": "..."}, {"name": "tool_use", ...}].
  ABL_CHECK(value.is_array(), FormatError, "{}: key 'chat_template': expected a string or a list of named templates",
            file);
  for (const auto& entry : value) {
    if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
        entry.at("template").is_string()) {
      return with_tokens(entry.at("template").get<std::string>(), file);
    }
  }
  throw FormatError(fmt::format("{}: key 'chat_template': no template named \"default\"", file));
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  return render(messages, add_generation_prompt, nlohmann::json::object());
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 const nlohmann::json& extra_variables) const {
  ABL_CHECK(extra_variables.is_object(), InputError, "chat template: extra variables: expected a JSON object, got {}",
            extra_variables.type_name());
  jinja::List message_values;
  for (const ChatMessage& message : messages) {
    message_values.emplace_back(jinja::Map{{"role", jinja::Value(message.role)},
                                           {"content", jinja::Value(message.content)}});
  }
  jinja::Value variables{jinja::Map{}};
  variables.set("messages", jinja::Value(std::move(message_values)));
  variables.set("add_generation_prompt", jinja::Value(add_generation_prompt));
  variables.set("bos_token", jinja::Value(bos_token_));
  variables.set("eos_token", jinja::Value(eos_token_));
  // transformers passes these even when unused, so `tools is defined` holds.
  variables.set("tools", jinja::Value(jinja::None{}));
  variables.set("documents", jinja::Value(jinja::None{}));
  for (const auto& [key, value] : extra_variables.items()) {
    if (key != "messages") variables.set(key, jinja::Value::from_json(value));
  }
  return template_->render(variables.as_map());
}

}  // namespace abliterate::chat
