// read_gguf_chat_template: see include/abliterate/chat/gguf_chat_template.hpp.
#include "abliterate/chat/gguf_chat_template.hpp"

#include "abliterate/chat/builtin_chat_templates.hpp"
#include "abliterate/common/error.hpp"

namespace abliterate::chat {

namespace {

constexpr const char* kChatTemplateKey = "tokenizer.chat_template";

std::string token_text(const tokenizer::GgufVocab& vocab, int64_t id) {
  return id >= 0 && id < static_cast<int64_t>(vocab.tokens.size()) ? vocab.tokens[static_cast<size_t>(id)]
                                                                    : std::string();
}

}  // namespace

GgufChatTemplate read_gguf_chat_template(const formats::GgufFile& file, const tokenizer::GgufVocab& vocab) {
  const std::string bos = token_text(vocab, vocab.bos);
  const std::string eos = token_text(vocab, vocab.eos);
  const std::string context = file.path().string() + ": key '" + kChatTemplateKey + "'";
  if (std::optional<std::string> source = file.find_string(kChatTemplateKey)) {
    return with_context(context, [&] { return GgufChatTemplate{ChatTemplate(std::move(*source), bos, eos), true}; });
  }
  const bool is_gemma = file.find_string("general.architecture").value_or("") == "gemma3";
  const std::string_view builtin = is_gemma ? kGemma3ChatTemplate : kChatMlChatTemplate;
  return GgufChatTemplate{ChatTemplate(std::string(builtin), bos, eos), false};
}

}  // namespace abliterate::chat
