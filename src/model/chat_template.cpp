// ChatTemplate: see include/abliterate/model/chat_template.hpp.
//
// Until the Jinja interpreter lands (issue 3), render() recognises the Gemma
// template by its "<start_of_turn>" marker and formats exactly what that
// template does (spec/model-runtime.md §2). Any other template is refused
// rather than guessed.
#include "abliterate/model/chat_template.hpp"

#include <array>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/model/json_file.hpp"

namespace abliterate::model {

namespace {

constexpr std::string_view kGemmaTurnMarker = "<start_of_turn>";
// What Gemma's {{ bos_token }} renders to.
constexpr std::string_view kGemmaBos = "<bos>";
// HF's Gemma 3 template folds the system text into the first user turn with
// this separator; Google's QAT GGUFs use "\n" (spec §2). We read the template's own.
constexpr std::string_view kGemmaDefaultSystemSeparator = "\n\n";

// Python's str.strip() (Jinja's `trim`): ASCII whitespace, the C0 separators
// 0x1C-0x1F, and the Unicode spaces (encoded in UTF-8).
constexpr std::array<std::string_view, 17> kUnicodeSpaces = {
    "\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80", "\xE2\x80\x81", "\xE2\x80\x82",
    "\xE2\x80\x83", "\xE2\x80\x84", "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88",
    "\xE2\x80\x89", "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE3\x80\x80"};
constexpr std::array<std::string_view, 2> kMoreUnicodeSpaces = {"\xE2\x80\xAF", "\xE2\x81\x9F"};

size_t space_length_at_start(std::string_view text) {
  if (text.empty()) return 0;
  const auto c = static_cast<unsigned char>(text.front());
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  for (auto space : kUnicodeSpaces) if (text.starts_with(space)) return space.size();
  for (auto space : kMoreUnicodeSpaces) if (text.starts_with(space)) return space.size();
  return 0;
}

size_t space_length_at_end(std::string_view text) {
  if (text.empty()) return 0;
  const auto c = static_cast<unsigned char>(text.back());
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
  for (auto space : kUnicodeSpaces) if (text.ends_with(space)) return space.size();
  for (auto space : kMoreUnicodeSpaces) if (text.ends_with(space)) return space.size();
  return 0;
}

std::string python_strip(std::string_view text) {
  while (const size_t n = space_length_at_start(text)) text.remove_prefix(n);
  while (const size_t n = space_length_at_end(text)) text.remove_suffix(n);
  return std::string(text);
}

// The string literal of `first_user_prefix = messages[0]['content'] + '...'`
// in the template source (Jinja escapes \n, \t, \\, \', \" understood), or the
// HF default when the template does not spell it that way.
std::string gemma_system_separator(const std::string& source) {
  for (std::string_view anchor : {"messages[0]['content'] +", "messages[0][\"content\"] +"}) {
    size_t pos = source.find(anchor);
    if (pos == std::string::npos) continue;
    pos += anchor.size();
    while (pos < source.size() && source[pos] == ' ') ++pos;
    if (pos >= source.size() || (source[pos] != '\'' && source[pos] != '"')) continue;
    const char quote = source[pos++];
    std::string literal;
    for (; pos < source.size() && source[pos] != quote; ++pos) {
      if (source[pos] != '\\' || pos + 1 >= source.size()) {
        literal += source[pos];
        continue;
      }
      const char escaped = source[++pos];
      switch (escaped) {
        case 'n': literal += '\n'; break;
        case 't': literal += '\t'; break;
        case 'r': literal += '\r'; break;
        default: literal += escaped; break;
      }
    }
    if (pos < source.size()) return literal;
  }
  return std::string(kGemmaDefaultSystemSeparator);
}

// The Gemma 3 template, step by step as spec §2 describes it.
std::string render_gemma(const std::string& source, const std::vector<ChatMessage>& messages,
                         bool add_generation_prompt) {
  ABL_CHECK(!messages.empty(), InputError, "chat template: the conversation has no messages");
  std::string out(kGemmaBos);
  std::string first_user_prefix;
  size_t first = 0;
  if (messages[0].role == "system") {
    // The system text is not trimmed; the template appends the separator as is.
    first_user_prefix = messages[0].content + gemma_system_separator(source);
    first = 1;
  }
  for (size_t k = first; k < messages.size(); ++k) {
    const ChatMessage& message = messages[k];
    const size_t index0 = k - first;
    ABL_CHECK((message.role == "user") == (index0 % 2 == 0), InputError,
              "chat template: Conversation roles must alternate user/assistant/user/assistant/... (message {} has "
              "role \"{}\")", k, message.role);
    const std::string role = message.role == "assistant" ? "model" : message.role;
    out += "<start_of_turn>";
    out += role;
    out += '\n';
    if (index0 == 0) out += first_user_prefix;
    out += python_strip(message.content);
    out += "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace

ChatTemplate ChatTemplate::from_model_folder(const std::filesystem::path& folder) {
  std::error_code ec;
  const auto jinja = folder / "chat_template.jinja";
  if (std::filesystem::is_regular_file(jinja, ec)) return ChatTemplate(read_text_file(jinja));

  const auto tokenizer_config = folder / "tokenizer_config.json";
  ABL_CHECK(std::filesystem::is_regular_file(tokenizer_config, ec), IoError,
            "{}: no chat template: expected {} or a 'chat_template' key in {}", folder.string(), jinja.string(),
            tokenizer_config.string());
  const nlohmann::json root = read_json_file(tokenizer_config);
  const std::string file = tokenizer_config.string();
  ABL_CHECK(root.is_object() && root.contains("chat_template") && !root.at("chat_template").is_null(), FormatError,
            "{}: missing key 'chat_template' (and there is no chat_template.jinja)", file);
  const nlohmann::json& value = root.at("chat_template");
  if (value.is_string()) return ChatTemplate(value.get<std::string>());
  // Named templates: [{"name": "default", "template": "..."}, {"name": "tool_use", ...}].
  ABL_CHECK(value.is_array(), FormatError, "{}: key 'chat_template': expected a string or a list of named templates",
            file);
  for (const auto& entry : value) {
    if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
        entry.at("template").is_string()) {
      return ChatTemplate(entry.at("template").get<std::string>());
    }
  }
  throw FormatError(fmt::format("{}: key 'chat_template': no template named \"default\"", file));
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
  ABL_CHECK(source_.find(kGemmaTurnMarker) != std::string::npos, InputError,
            "chat template: only Gemma templates (with <start_of_turn>) are supported until the Jinja interpreter "
            "lands; this template is not one");
  return render_gemma(source_, messages, add_generation_prompt);
}

}  // namespace abliterate::model
