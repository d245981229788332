// Tokenizer::settled_length: the text of the settled ids is a prefix of the
// text of every continuation, for the three decoders the project loads
// (tokenizer.json with ByteFallback: the tiny model; SentencePiece from GGUF:
// Gemma 3; byte-level BPE from GGUF: SmolLM2). Random id sequences rich in
// byte pieces, since only those may leave text unsettled.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include <fmt/format.h>

#include "abliterate/model/model.hpp"
#include "abliterate/tokenizer/byte_level.hpp"
#include "model/model_test_support.hpp"

namespace abliterate::model {
namespace {

// Ids of single bytes as the tokenizer spells them: "<0xNN>" pieces for byte
// fallback, the byte's own character for byte-level vocabularies.
std::vector<int64_t> byte_piece_ids(const tokenizer::Tokenizer& tokenizer) {
  std::vector<int64_t> ids;
  for (int byte = 0; byte < 256; ++byte) {
    int64_t id = tokenizer.token_id(fmt::format("<0x{:02X}>", byte));
    if (id < 0) id = tokenizer.token_id(tokenizer::byte_level_encode(std::string(1, static_cast<char>(byte))));
    if (id >= 0) ids.push_back(id);
  }
  return ids;
}

// Checks the prefix property on `n_cases` random sequences and continuations;
// returns how many sequences had an unsettled tail.
int check_settled_prefixes(const tokenizer::Tokenizer& tokenizer, int n_cases) {
  const std::vector<int64_t> bytes = byte_piece_ids(tokenizer);
  EXPECT_GE(bytes.size(), 200u);  // byte-level vocabularies may lack bytes UTF-8 never uses
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> any_id(0, tokenizer.vocab_size() - 1);
  std::uniform_int_distribution<size_t> any_byte(0, bytes.size() - 1);
  std::uniform_int_distribution<int> length(0, 8);
  const auto random_ids = [&](int n) {
    std::vector<int64_t> ids;
    for (int i = 0; i < n; ++i) ids.push_back(rng() % 3 == 0 ? any_id(rng) : bytes[any_byte(rng)]);
    return ids;
  };
  int n_unsettled = 0;
  for (int case_idx = 0; case_idx < n_cases; ++case_idx) {
    const std::vector<int64_t> ids = random_ids(length(rng));
    const size_t n_settled = tokenizer.settled_length(ids);
    EXPECT_LE(n_settled, ids.size());
    if (n_settled < ids.size()) ++n_unsettled;
    const std::vector<int64_t> settled(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n_settled));
    std::vector<int64_t> continued = ids;
    for (const int64_t id : random_ids(1 + length(rng))) continued.push_back(id);
    for (const bool skip_special : {false, true}) {
      const std::string settled_text = tokenizer.decode(settled, skip_special);
      const std::string continued_text = tokenizer.decode(continued, skip_special);
      EXPECT_EQ(continued_text.rfind(settled_text, 0), 0u)
          << "case " << case_idx << ": '" << settled_text << "' is not a prefix of '" << continued_text << "'";
    }
  }
  return n_unsettled;
}

std::unique_ptr<Model> load_real(const char* file) {
  const std::filesystem::path path = std::filesystem::path(ABL_SOURCE_DIR) / "models" / file;
  if (!std::filesystem::exists(path)) {
    throw std::runtime_error(path.string() + " is missing: run scripts/setup to download the test models");
  }
  return Model::load(path, LoadOptions{});
}

TEST(SettledLengthTest, ByteFallbackRunIsUnsettledUntilAnotherTokenEndsIt) {
  const std::unique_ptr<Model> model = Model::load(testing::tiny_model_folder(), LoadOptions{});
  const tokenizer::Tokenizer& tokenizer = model->tokenizer();
  const int64_t tab = tokenizer.token_id("<0x09>");
  const int64_t continuation = tokenizer.token_id("<0x80>");
  ASSERT_GE(tab, 0);
  ASSERT_GE(continuation, 0);
  // Why: "\t" alone, but one U+FFFD per byte once an invalid byte joins its run.
  EXPECT_EQ(tokenizer.decode({tab}), "\t");
  EXPECT_EQ(tokenizer.decode({tab, continuation}), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(tokenizer.settled_length({tab}), 0u);
  const std::vector<int64_t> word = tokenizer.encode("hello");
  std::vector<int64_t> ids = word;
  ids.push_back(tab);
  EXPECT_EQ(tokenizer.settled_length(ids), word.size());
  ids.insert(ids.end(), word.begin(), word.end());
  EXPECT_EQ(tokenizer.settled_length(ids), ids.size());
  EXPECT_GT(check_settled_prefixes(tokenizer, 400), 0);
}

TEST(SettledLengthTest, SentencePieceFromGgufGemma3) {
  const std::unique_ptr<Model> model = load_real("gemma-3-270m-q4_k_m.gguf");
  EXPECT_GT(check_settled_prefixes(model->tokenizer(), 400), 0);
}

TEST(SettledLengthTest, ByteLevelFromGgufSmolLM2) {
  const std::unique_ptr<Model> model = load_real("SmolLM2-135M-Instruct.Q4_1.gguf");
  const tokenizer::Tokenizer& tokenizer = model->tokenizer();
  // "€" is three bytes; two of them are not a character yet.
  const int64_t e2 = tokenizer.token_id(tokenizer::byte_level_encode("\xE2"));
  const int64_t x82 = tokenizer.token_id(tokenizer::byte_level_encode("\x82"));
  ASSERT_GE(e2, 0);
  ASSERT_GE(x82, 0);
  EXPECT_EQ(tokenizer.settled_length({e2, x82}), 0u);
  EXPECT_GT(check_settled_prefixes(tokenizer, 400), 0);
}

}  // namespace
}  // namespace abliterate::model
