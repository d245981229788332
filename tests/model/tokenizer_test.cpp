// Tokenizer (spec/model-runtime.md §6.2, §6.7): the tiny model's Gemma-style
// tokenizer.json, and small hand-built ones for merge order and unk handling.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/model/tiny_model.hpp"
#include "abliterate/model/tiny_tokenizer.hpp"
#include "abliterate/tokenizer/tokenizer.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using nlohmann::json;
using testing::TempDir;

const tokenizer::Tokenizer& tiny_tokenizer() {
  static const tokenizer::Tokenizer tokenizer =
      tokenizer::Tokenizer::from_tokenizer_json(testing::tiny_model_folder() / "tokenizer.json");
  return tokenizer;
}

// A minimal BPE tokenizer.json over a, b, c; `merges` in the given encoding.
json toy_tokenizer(const json& merges, bool byte_fallback = false, bool fuse_unk = true) {
  return json{{"added_tokens", json::array({json{{"id", 0}, {"content", "<unk>"}, {"special", true}}})},
              {"normalizer", nullptr},
              {"pre_tokenizer", nullptr},
              {"decoder", nullptr},
              {"model",
               {{"type", "BPE"},
                {"unk_token", "<unk>"},
                {"byte_fallback", byte_fallback},
                {"fuse_unk", fuse_unk},
                {"vocab", {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"c", 3}, {"ab", 4}, {"bc", 5}, {"abc", 6}, {"aa", 7}}},
                {"merges", merges}}}};
}

tokenizer::Tokenizer load(const TempDir& dir, const json& document) {
  const auto path = dir.path() / "tokenizer.json";
  testing::write_bytes(path, document.dump());
  return tokenizer::Tokenizer::from_tokenizer_json(path);
}

TEST(TokenizerTest, CommonWordsAreSingleTokens) {
  const tokenizer::Tokenizer& tok = tiny_tokenizer();
  for (const char* word : {" the", " how", " write", " and"}) {
    const std::vector<int64_t> ids = tok.encode(word);
    ASSERT_EQ(ids.size(), 1u) << word;
    EXPECT_EQ(ids[0], tok.token_id("\xE2\x96\x81" + std::string(word + 1))) << word;
  }
}

TEST(TokenizerTest, AsciiRoundTrip) {
  const tokenizer::Tokenizer& tok = tiny_tokenizer();
  const std::string text = "Hello, world! How do I write a story?\n  Two spaces,\ta tab and ~{}|` too.";
  EXPECT_EQ(tok.decode(tok.encode(text)), text);
}

TEST(TokenizerTest, NonAsciiTextRoundTripsThroughByteFallback) {
  const tokenizer::Tokenizer& tok = tiny_tokenizer();
  const std::string text = "Gr\xC3\xBC\xC3\x9F" "e, \xE6\x97\xA5\xE6\x9C\xAC and \xF0\x9F\x91\x8D!";  // Grüße, 日本 and 👍!
  EXPECT_EQ(tok.decode(tok.encode(text)), text);
  // "é" is not in the vocab: its two UTF-8 bytes become <0xC3> <0xA9>.
  EXPECT_EQ(tok.encode("\xC3\xA9"), (std::vector<int64_t>{kTinyFirstByteId + 0xC3, kTinyFirstByteId + 0xA9}));
}

TEST(TokenizerTest, InvalidByteRunsDecodeToReplacementCharacters) {
  const tokenizer::Tokenizer& tok = tiny_tokenizer();
  // A lone continuation byte, then "A": one U+FFFD for the bad byte.
  EXPECT_EQ(tok.decode({kTinyFirstByteId + 0x80, tok.token_id("A")}), "\xEF\xBF\xBD" "A");
}

TEST(TokenizerTest, SpecialTokensParsedOrKeptAsText) {
  const tokenizer::Tokenizer& tok = tiny_tokenizer();
  const std::string text = "<start_of_turn>user\nHi<end_of_turn>";
  const std::vector<int64_t> parsed = tok.encode(text, tokenizer::SpecialTokens::parse);
  ASSERT_GE(parsed.size(), 4u);
  EXPECT_EQ(parsed.front(), kTinyStartOfTurnId);
  EXPECT_EQ(parsed.back(), kTinyEndOfTurnId);
  EXPECT_NE(std::find(parsed.begin(), parsed.end(), kTinyNewlineId), parsed.end());

  const std::vector<int64_t> as_text = tok.encode(text, tokenizer::SpecialTokens::as_text);
  EXPECT_EQ(std::find(as_text.begin(), as_text.end(), kTinyStartOfTurnId), as_text.end());
  EXPECT_EQ(std::find(as_text.begin(), as_text.end(), kTinyEndOfTurnId), as_text.end());
  // "\n" is an added token that is not special: always split out.
  EXPECT_NE(std::find(as_text.begin(), as_text.end(), kTinyNewlineId), as_text.end());
  EXPECT_EQ(tok.decode(as_text), text);

  // Specials are hidden by default and kept on request.
  EXPECT_EQ(tok.decode(parsed), "user\nHi");
  EXPECT_EQ(tok.decode(parsed, /*skip_special=*/false), text);
}

TEST(TokenizerTest, NeverAddsBos) {
  const tokenizer::Tokenizer& tok = tiny_tokenizer();
  EXPECT_TRUE(tok.encode("").empty());
  EXPECT_NE(tok.encode("Hi").front(), kTinyBosId);
  const std::vector<int64_t> with_bos = tok.encode("<bos>Hi");
  EXPECT_EQ(with_bos.front(), kTinyBosId);
  EXPECT_EQ(std::count(with_bos.begin(), with_bos.end(), kTinyBosId), 1);
}

TEST(TokenizerTest, VocabularyQueries) {
  const tokenizer::Tokenizer& tok = tiny_tokenizer();
  EXPECT_EQ(tok.token_id("<eos>"), kTinyEosId);
  EXPECT_EQ(tok.token_id("<0x41>"), kTinyFirstByteId + 0x41);
  EXPECT_EQ(tok.token_id("no such token"), -1);
  EXPECT_TRUE(tok.is_special(kTinyBosId));
  EXPECT_FALSE(tok.is_special(kTinyNewlineId));
  EXPECT_FALSE(tok.is_special(tok.token_id("A")));
  EXPECT_GT(tok.vocab_size(), 358);
  ASSERT_THROWS_WITH(tok.decode({tok.vocab_size()}), InputError, "not in the vocabulary");
}

TEST(TokenizerTest, LowestMergeRankWinsNotLeftmost) {
  TempDir dir("tok_rank");
  // "b c" has rank 0, so "abc" -> a + bc -> abc (never ab + c).
  const tokenizer::Tokenizer tok = load(dir, toy_tokenizer(json{"b c", "a b", "a bc"}));
  EXPECT_EQ(tok.encode("abc"), std::vector<int64_t>{6});
  const tokenizer::Tokenizer without_abc = load(dir, toy_tokenizer(json{"b c", "a b"}));
  EXPECT_EQ(without_abc.encode("abc"), (std::vector<int64_t>{1, 5}));
  const tokenizer::Tokenizer ab_first = load(dir, toy_tokenizer(json{"a b", "b c"}));
  EXPECT_EQ(ab_first.encode("abc"), (std::vector<int64_t>{4, 3}));
}

TEST(TokenizerTest, EqualRanksMergeLeftmostFirst) {
  TempDir dir("tok_leftmost");
  const tokenizer::Tokenizer tok = load(dir, toy_tokenizer(json{"a a"}));
  EXPECT_EQ(tok.encode("aaa"), (std::vector<int64_t>{7, 1}));
}

TEST(TokenizerTest, StringAndPairMergesAreTheSame) {
  TempDir dir("tok_merge_forms");
  const tokenizer::Tokenizer strings = load(dir, toy_tokenizer(json{"b c", "a bc"}));
  const tokenizer::Tokenizer pairs =
      load(dir, toy_tokenizer(json::array({json::array({"b", "c"}), json::array({"a", "bc"})})));
  for (const char* text : {"abc", "cab", "bcabc", "aab"}) EXPECT_EQ(strings.encode(text), pairs.encode(text)) << text;
}

TEST(TokenizerTest, UnknownCharactersFuseIntoOneUnk) {
  TempDir dir("tok_unk");
  EXPECT_EQ(load(dir, toy_tokenizer(json::array(), false, /*fuse_unk=*/true)).encode("axyb"),
            (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(load(dir, toy_tokenizer(json::array(), false, /*fuse_unk=*/false)).encode("axyb"),
            (std::vector<int64_t>{1, 0, 0, 2}));
}

TEST(TokenizerTest, MergeOfUnknownTokenNamesFileAndMerge) {
  TempDir dir("tok_bad_merge");
  const auto path = dir.path() / "tokenizer.json";
  testing::write_bytes(path, toy_tokenizer(json{"a b", "a z"}).dump());
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_tokenizer_json(path), FormatError,
                     path.string() + ": model.merges[1]: \"z\" is not in the vocab");
}

// Found by tokenizer_json_fuzz: one id far past the vocabulary's size made
// the dense id table allocate gigabytes.
TEST(TokenizerTest, IdFarPastTheVocabularyIsRefused) {
  TempDir dir("tok_sparse_id");
  json document = toy_tokenizer(json::array());
  document["model"]["vocab"]["far"] = 299999999;
  const auto path = dir.path() / "tokenizer.json";
  testing::write_bytes(path, document.dump());
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_tokenizer_json(path), FormatError,
                     "model.vocab[\"far\"]: id 299999999 is far past the vocabulary's");
}

TEST(TokenizerTest, UnsupportedPipelineStepIsNamed) {
  TempDir dir("tok_bad_step");
  json document = toy_tokenizer(json::array());
  document["decoder"] = {{"type", "WordPiece"}};
  const auto path = dir.path() / "tokenizer.json";
  testing::write_bytes(path, document.dump());
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_tokenizer_json(path), FormatError,
                     "decoder type 'WordPiece' is not supported yet");
}

TEST(TokenizerTest, MissingFileIsIoError) {
  TempDir dir("tok_absent");
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_tokenizer_json(dir.path() / "tokenizer.json"), IoError,
                     "tokenizer.json");
}

}  // namespace
}  // namespace abliterate::model
