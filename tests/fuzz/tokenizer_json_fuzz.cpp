// libFuzzer target: Tokenizer::from_tokenizer_json_text on arbitrary bytes,
// then encode/decode of fixed texts with whatever tokenizer came out. Every
// input must load or be refused with an abliterate::Error; encode/decode may
// only fail with an abliterate::Error too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/tokenizer/tokenizer.hpp"

namespace tokenizer = abliterate::tokenizer;
using abliterate::tokenizer::SpecialTokens;
using abliterate::tokenizer::Tokenizer;

namespace {

// Texts that reach the added-token matcher, the normalizer, the regex split,
// byte fallback and the byte-level map.
const char* const kTexts[] = {
    "Hello world! It's 2024.",
    "<start_of_turn>user\nhi<end_of_turn>\n",
    "  leading spaces,\ttabs\n\nand newlines  ",
    "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 \xE2\x96\x81",
    "\xFF\xFE invalid \xC3 utf8 \xE2\x82",
    "<unk><s></s><pad><bos><eos>",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const tokenizer::Tokenizer tokenizer = tokenizer::Tokenizer::from_tokenizer_json_text(text, "fuzz/tokenizer.json");
    for (const char* sample : kTexts) {
      for (const tokenizer::SpecialTokens specials :
           {tokenizer::SpecialTokens::parse, tokenizer::SpecialTokens::as_text}) {
        try {
          const std::vector<int64_t> ids = tokenizer.encode(sample, specials);
          (void)tokenizer.decode(ids, /*skip_special=*/true);
          (void)tokenizer.decode(ids, /*skip_special=*/false);
        } catch (const abliterate::Error&) {
        }
      }
    }
    std::vector<int64_t> every_id;
    for (int64_t id = 0; id < tokenizer.vocab_size() && id < 4096; ++id) every_id.push_back(id);
    try {
      (void)tokenizer.decode(every_id, /*skip_special=*/false);
    } catch (const abliterate::Error&) {
    }
    (void)tokenizer.token_id("<bos>");
    (void)tokenizer.is_special(0);
  } catch (const abliterate::Error&) {
    // A refused file.
  }
  return 0;
}
