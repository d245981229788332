// read_gguf_chat_template: see include/abliterate/model/gguf_chat_template.hpp.
#include "abliterate/chat/gguf_chat_template.hpp"

#include "abliterate/common/error.hpp"
#include "abliterate/chat/builtin_chat_templates.hpp"

namespace abliterate::model {

namespace {

constexpr const char* kChatTemplateKey = "tokenizer.chat_template";

std::string token_text(const GgufVocab& vocab, int64_t id) {
  return id >= 0 && id < static_cast<int64_t>(vocab.tokens.size()) ? vocab.tokens[static_cast<size_t>(id)]
                                                                    : std::string();
}

}  // namespace

GgufChatTemplate read_gguf_chat_template(const GgufReader& reader, const GgufVocab& vocab) {
  const std::string bos = token_text(vocab, vocab.bos);
  const std::string eos = token_text(vocab, vocab.eos);
  const std::string context = reader.path().string() + ": key '" + kChatTemplateKey + "'";
  if (std::optional<std::string> source = reader.find_string(kChatTemplateKey)) {
    return with_context(context, [&] { return GgufChatTemplate{ChatTemplate(std::move(*source), bos, eos), true}; });
  }
  const bool is_gemma = reader.find_string("general.architecture").value_or("") == "gemma3";
  const std::string_view builtin = is_gemma ? kGemma3ChatTemplate : kChatMlChatTemplate;
  return GgufChatTemplate{ChatTemplate(std::string(builtin), bos, eos), false};
}

}  // namespace abliterate::model
