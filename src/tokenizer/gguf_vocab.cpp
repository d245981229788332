// read_gguf_vocab: see include/abliterate/tokenizer/gguf_vocab.hpp and
// spec/model-runtime.md §5.5 (tokenizer keys).
#include "abliterate/tokenizer/gguf_vocab.hpp"

#include "abliterate/formats/gguf_file.hpp"

namespace abliterate::tokenizer {

GgufVocab read_gguf_vocab(const formats::GgufFile& reader) {
  GgufVocab vocab;
  vocab.model = reader.get_string("tokenizer.ggml.model");
  vocab.pre = reader.find_string("tokenizer.ggml.pre").value_or("default");
  vocab.tokens = reader.get_string_array("tokenizer.ggml.tokens");
  vocab.scores = reader.find_float_array("tokenizer.ggml.scores").value_or(std::vector<float>{});
  for (int64_t type : reader.find_int_array("tokenizer.ggml.token_type").value_or(std::vector<int64_t>{})) {
    vocab.token_types.push_back(static_cast<int32_t>(type));  // llama.cpp ids 1..6 (spec §5.5)
  }
  vocab.merges = reader.find_string_array("tokenizer.ggml.merges").value_or(std::vector<std::string>{});
  vocab.bos = reader.find_int("tokenizer.ggml.bos_token_id").value_or(-1);
  vocab.eos = reader.find_int("tokenizer.ggml.eos_token_id").value_or(-1);
  vocab.unk = reader.find_int("tokenizer.ggml.unknown_token_id").value_or(-1);
  vocab.pad = reader.find_int("tokenizer.ggml.padding_token_id").value_or(-1);
  vocab.add_bos = reader.find_bool("tokenizer.ggml.add_bos_token").value_or(false);
  // llama.cpp: SentencePiece vocabularies add a space prefix unless the file says otherwise (spec §5.5).
  vocab.add_space_prefix = reader.find_bool("tokenizer.ggml.add_space_prefix").value_or(vocab.model == "llama");
  return vocab;
}

}  // namespace abliterate::tokenizer
