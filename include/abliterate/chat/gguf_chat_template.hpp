// The chat template of a GGUF file (spec/model-runtime.md §2, §5.5): the
// file's tokenizer.chat_template when it has one, else a built-in stand-in.
#pragma once

#include "abliterate/chat/chat_template.hpp"
#include "abliterate/formats/gguf_file.hpp"
#include "abliterate/tokenizer/gguf_vocab.hpp"

namespace abliterate::chat {

struct GgufChatTemplate {
  ChatTemplate chat_template;
  bool is_from_file = false;  // false: the file has no tokenizer.chat_template and a built-in one stands in
};

// tokenizer.chat_template of `file`, with bos_token / eos_token set to
// the texts of `vocab`'s bos and eos ids (empty when absent), as llama.cpp
// renders it. Without the key: HF's Gemma 3 template for gemma3 (the base
// model's GGUF has none; spec §2), llama.cpp's ChatML fallback for any other
// architecture. Prints nothing. Throws FormatError naming the file when the
// template does not parse or the key is not a string.
GgufChatTemplate read_gguf_chat_template(const formats::GgufFile& file, const tokenizer::GgufVocab& vocab);

}  // namespace abliterate::chat
