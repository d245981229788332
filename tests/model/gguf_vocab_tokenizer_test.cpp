// Tokenizer::from_gguf_vocab (spec/model-runtime.md §6.3, §6.4): SentencePiece
// BPE by scores on a synthetic "llama" vocabulary, and golden ids for SmolLM2's
// byte-level vocabulary (tests/fixtures/smollm2_*.json, written by
// tests/reference/make_tokenizer_fixtures.py with the tokenizers library).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/tokenizer/gguf_vocab.hpp"
#include "abliterate/tokenizer/tokenizer.hpp"
#include "model/tokenizer_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using nlohmann::json;
using Ids = std::vector<int64_t>;

// --- SentencePiece BPE by scores ("llama") ----------------------------------

constexpr int32_t kNormal = 1;
constexpr int32_t kUnknown = 2;
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;
constexpr int32_t kUnused = 5;
constexpr int32_t kByte = 6;
constexpr int64_t kFirstByteId = 3;  // <0x00> .. <0xFF> are ids 3..258

// <unk> <s> </s>, the 256 byte pieces, then `pieces` (text, score, type) in order.
struct Piece {
  std::string text;
  float score;
  int32_t type = kNormal;
};

tokenizer::GgufVocab spm_vocab(const std::vector<Piece>& pieces, bool add_space_prefix = false) {
  tokenizer::GgufVocab vocab;
  vocab.model = "llama";
  vocab.pre = "default";
  vocab.unk = 0;
  vocab.bos = 1;
  vocab.eos = 2;
  vocab.add_space_prefix = add_space_prefix;
  const auto add = [&](const std::string& text, float score, int32_t type) {
    vocab.tokens.push_back(text);
    vocab.scores.push_back(score);
    vocab.token_types.push_back(type);
  };
  add("<unk>", 0.0f, kUnknown);
  add("<s>", 0.0f, kControl);
  add("</s>", 0.0f, kControl);
  for (int byte = 0; byte < 256; ++byte) add(fmt::format("<0x{:02X}>", byte), 0.0f, kByte);
  for (const Piece& piece : pieces) add(piece.text, piece.score, piece.type);
  return vocab;
}

// "▁" (U+2581).
const std::string kSp = "\xE2\x96\x81";

TEST(SpmScoreTokenizerTest, HighestScoreMergesFirst) {
  const std::vector<Piece> chars = {{"a", -10}, {"b", -10}, {"c", -10}};
  std::vector<Piece> bc_better = chars;
  bc_better.insert(bc_better.end(), {{"ab", -2}, {"bc", -1}});
  std::vector<Piece> ab_better = chars;
  ab_better.insert(ab_better.end(), {{"ab", -1}, {"bc", -2}});
  const tokenizer::Tokenizer bc = tokenizer::Tokenizer::from_gguf_vocab(spm_vocab(bc_better));
  const tokenizer::Tokenizer ab = tokenizer::Tokenizer::from_gguf_vocab(spm_vocab(ab_better));
  EXPECT_EQ(bc.encode("abc"), (Ids{bc.token_id("a"), bc.token_id("bc")}));
  EXPECT_EQ(ab.encode("abc"), (Ids{ab.token_id("ab"), ab.token_id("c")}));
}

TEST(SpmScoreTokenizerTest, TiesGoToTheLeftmostPair) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(spm_vocab({{"a", -10}, {"aa", -1}}));
  EXPECT_EQ(tok.encode("aaa"), (Ids{tok.token_id("aa"), tok.token_id("a")}));
  EXPECT_EQ(tok.encode("aaaa"), (Ids{tok.token_id("aa"), tok.token_id("aa")}));
}

TEST(SpmScoreTokenizerTest, SpacesBecomeSpmSpacesAndMerge) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(
      spm_vocab({{kSp, -10}, {"h", -10}, {"i", -10}, {kSp + "h", -3}, {"hi", -2}, {kSp + "hi", -1}}));
  EXPECT_EQ(tok.encode("hi hi"), (Ids{tok.token_id("hi"), tok.token_id(kSp + "hi")}));
  EXPECT_EQ(tok.encode("  "), (Ids{tok.token_id(kSp), tok.token_id(kSp)}));
  EXPECT_EQ(tok.decode(tok.encode(" hi  hi ")), " hi  hi ");
}

TEST(SpmScoreTokenizerTest, AddSpacePrefixOnTheFirstFragmentOnly) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(
      spm_vocab({{kSp, -10}, {"h", -10}, {"i", -10}, {"hi", -2}, {kSp + "hi", -1}, {"<t>", 0, kUserDefined}},
                /*add_space_prefix=*/true));
  const int64_t space_hi = tok.token_id(kSp + "hi");
  EXPECT_EQ(tok.encode("hi"), (Ids{space_hi}));
  EXPECT_EQ(tok.encode("hi<t>hi"), (Ids{space_hi, tok.token_id("<t>"), tok.token_id("hi")}));
  EXPECT_EQ(tok.encode("<t>hi"), (Ids{tok.token_id("<t>"), tok.token_id("hi")}));
  // decode strips the one leading space the prefix added.
  EXPECT_EQ(tok.decode({space_hi, space_hi}), "hi hi");
}

TEST(SpmScoreTokenizerTest, ByteFallbackForUnknownCharacters) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(spm_vocab({{"a", -10}, {kSp, -10}}));
  EXPECT_EQ(tok.encode("a\xC3\xA9"), (Ids{tok.token_id("a"), kFirstByteId + 0xC3, kFirstByteId + 0xA9}));
  EXPECT_EQ(tok.decode(tok.encode("a\xC3\xA9 \xF0\x9F\x91\x8D")), "a\xC3\xA9 \xF0\x9F\x91\x8D");
  // An invalid byte run decodes to one U+FFFD per byte (spec §6.1).
  EXPECT_EQ(tok.decode({kFirstByteId + 0xC3, tok.token_id("a")}), "\xEF\xBF\xBD" "a");
}

TEST(SpmScoreTokenizerTest, UnknownWhenByteTokensAreMissing) {
  tokenizer::GgufVocab vocab;
  vocab.model = "llama";
  vocab.tokens = {"<unk>", "a"};
  vocab.scores = {0.0f, -1.0f};
  vocab.token_types = {kUnknown, kNormal};
  vocab.unk = 0;
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(vocab);
  EXPECT_EQ(tok.encode("a\xC3\xA9" "a"), (Ids{1, 0, 1}));
  EXPECT_EQ(tok.decode({1, 0}), "a \xE2\x81\x87 ");  // unk renders as " ⁇ ", as SentencePiece does
}

TEST(SpmScoreTokenizerTest, UserDefinedAtomicControlOnlyWhenParsingSpecials) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(
      spm_vocab({{"a", -10}, {"<", -10}, {">", -10}, {"s", -10}, {"<start_of_turn>", 0, kUserDefined}}));
  const int64_t start = tok.token_id("<start_of_turn>");
  EXPECT_EQ(tok.encode("a<start_of_turn>a"), (Ids{tok.token_id("a"), start, tok.token_id("a")}));
  EXPECT_EQ(tok.encode("a<start_of_turn>a", tokenizer::SpecialTokens::as_text),
            (Ids{tok.token_id("a"), start, tok.token_id("a")}));
  EXPECT_FALSE(tok.is_special(start));
  EXPECT_TRUE(tok.is_special(1));
  EXPECT_EQ(tok.encode("<s>a"), (Ids{1, tok.token_id("a")}));
  EXPECT_EQ(tok.encode("<s>a", tokenizer::SpecialTokens::as_text),
            (Ids{tok.token_id("<"), tok.token_id("s"), tok.token_id(">"), tok.token_id("a")}));
  EXPECT_EQ(tok.decode({1, tok.token_id("a"), start}), "a<start_of_turn>");
  EXPECT_EQ(tok.decode({1, tok.token_id("a")}, /*skip_special=*/false), "<s>a");
}

TEST(SpmScoreTokenizerTest, MergedUnusedPiecesAreResegmented) {
  // "bc" is unused but still merges first; "abc" is a normal piece made from it.
  const std::vector<Piece> pieces = {{"a", -10}, {"b", -10}, {"c", -10}, {"bc", -1, kUnused}, {"abc", -2}};
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(spm_vocab(pieces));
  EXPECT_EQ(tok.encode("abc"), (Ids{tok.token_id("abc")}));
  EXPECT_EQ(tok.encode("bc"), (Ids{tok.token_id("b"), tok.token_id("c")}));
  EXPECT_EQ(tok.encode("bca"), (Ids{tok.token_id("b"), tok.token_id("c"), tok.token_id("a")}));
}

TEST(SpmScoreTokenizerTest, ControlPiecesAreNotMergeTargets) {
  const tokenizer::Tokenizer tok =
      tokenizer::Tokenizer::from_gguf_vocab(spm_vocab({{"x", -10}, {"y", -10}, {"xy", 0, kControl}}));
  EXPECT_EQ(tok.encode("xy", tokenizer::SpecialTokens::as_text), (Ids{tok.token_id("x"), tok.token_id("y")}));
}

TEST(SpmScoreTokenizerTest, BadVocabulariesAreFormatErrors) {
  tokenizer::GgufVocab vocab = spm_vocab({{"a", -1}});
  vocab.scores.pop_back();
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_gguf_vocab(vocab), FormatError,
                     "tokenizer.ggml.scores: expected 260 entries");
  tokenizer::GgufVocab bert = spm_vocab({});
  bert.model = "bert";
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_gguf_vocab(bert), FormatError,
                     "tokenizer.ggml.model: \"bert\" is not supported");
  tokenizer::GgufVocab empty;
  empty.model = "llama";
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_gguf_vocab(empty), FormatError,
                     "tokenizer.ggml.tokens: expected a non-empty");
}

// --- SmolLM2 golden ids --------------------------------------------------------

json read_fixture(const std::string& name) {
  const std::string path = std::string(ABL_SOURCE_DIR) + "/tests/fixtures/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return json::parse(in);
}

tokenizer::GgufVocab smollm2_vocab() {
  const json fixture = read_fixture("smollm2_vocab.json");
  tokenizer::GgufVocab vocab;
  vocab.model = fixture.at("model").get<std::string>();
  vocab.pre = fixture.at("pre").get<std::string>();
  vocab.tokens = fixture.at("tokens").get<std::vector<std::string>>();
  vocab.token_types = fixture.at("token_types").get<std::vector<int32_t>>();
  vocab.merges = fixture.at("merges").get<std::vector<std::string>>();
  vocab.bos = fixture.at("bos").get<int64_t>();
  vocab.eos = fixture.at("eos").get<int64_t>();
  vocab.unk = fixture.at("unk").get<int64_t>();
  vocab.pad = fixture.at("pad").get<int64_t>();
  vocab.add_bos = fixture.at("add_bos").get<bool>();
  vocab.add_space_prefix = fixture.at("add_space_prefix").get<bool>();
  return vocab;
}

// SmolLM2's tokenizer.json shape, rebuilt from the GGUF vocabulary.
json smollm2_tokenizer_json(const tokenizer::GgufVocab& vocab) {
  json token_ids = json::object();
  json added = json::array();
  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    if (!token_ids.contains(vocab.tokens[id])) token_ids[vocab.tokens[id]] = id;
    if (vocab.token_types[id] == kControl) {
      added.push_back({{"id", id}, {"content", vocab.tokens[id]}, {"special", true}, {"normalized", false}});
    }
  }
  return json{{"added_tokens", added},
              {"normalizer", nullptr},
              {"pre_tokenizer",
               {{"type", "Sequence"},
                {"pretokenizers", json::array({json{{"type", "Digits"}, {"individual_digits", true}},
                                               json{{"type", "ByteLevel"}, {"add_prefix_space", false},
                                                    {"trim_offsets", true}, {"use_regex", true}}})}}},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
              {"model", {{"type", "BPE"}, {"vocab", token_ids}, {"merges", vocab.merges}}}};
}

TEST(SmolLM2GoldenTest, GgufVocabMatchesTheTokenizersLibrary) {
  const tokenizer::GgufVocab vocab = smollm2_vocab();
  ASSERT_EQ(vocab.model, "gpt2");
  ASSERT_EQ(vocab.pre, "smollm");
  const tokenizer::Tokenizer from_gguf = tokenizer::Tokenizer::from_gguf_vocab(vocab);
  const tokenizer::Tokenizer from_json = testing::load_tokenizer_json(smollm2_tokenizer_json(vocab));
  EXPECT_EQ(from_gguf.vocab_size(), 49152);
  const json golden = read_fixture("smollm2_token_ids.json");
  const json& cases = golden.at("cases");
  ASSERT_GE(cases.size(), 1000u);
  size_t n_round_trips = 0;
  for (const json& item : cases) {
    const std::string text = item.at("text").get<std::string>();
    const tokenizer::SpecialTokens specials = item.at("specials").get<std::string>() == "parse"
                                                  ? tokenizer::SpecialTokens::parse
                                                  : tokenizer::SpecialTokens::as_text;
    const Ids expected = item.at("ids").get<Ids>();
    const Ids ids = from_gguf.encode(text, specials);
    EXPECT_EQ(ids, expected) << "gguf: " << json(text).dump();
    EXPECT_EQ(from_json.encode(text, specials), expected) << "tokenizer.json: " << json(text).dump();
    EXPECT_EQ(from_gguf.decode(expected), item.at("decoded").get<std::string>()) << json(text).dump();
    EXPECT_EQ(from_gguf.decode(expected, /*skip_special=*/false), item.at("decoded_with_specials").get<std::string>())
        << json(text).dump();
    // decode(encode(s)) == s wherever the reference gives s back.
    if (item.at("round_trips").get<bool>()) {
      ++n_round_trips;
      EXPECT_EQ(from_gguf.decode(ids, /*skip_special=*/false), text) << json(text).dump();
    }
  }
  EXPECT_GE(n_round_trips, 1000u);
}

// --- Gemma 3 golden ids (SentencePiece by scores) --------------------------------

// The Gemma 3 270M GGUF vocabulary with only the pieces the golden strings can
// reach; every other id is an inert placeholder no input contains, which
// leaves score-ordered merging unchanged (it only looks up substrings).
tokenizer::GgufVocab gemma3_vocab() {
  const json fixture = read_fixture("gemma3_spm_vocab_subset.json");
  const auto size = fixture.at("size").get<size_t>();
  tokenizer::GgufVocab vocab;
  vocab.model = "llama";
  vocab.unk = fixture.at("unk").get<int64_t>();
  vocab.add_space_prefix = fixture.at("add_space_prefix").get<bool>();
  vocab.tokens.resize(size);
  vocab.scores.assign(size, 0.0f);
  vocab.token_types.assign(size, kUnused);
  for (size_t id = 0; id < size; ++id) vocab.tokens[id] = fmt::format("<abl_placeholder_{}>", id);
  for (const json& piece : fixture.at("pieces")) {
    const auto id = piece.at(0).get<size_t>();
    vocab.tokens[id] = piece.at(1).get<std::string>();
    vocab.scores[id] = piece.at(2).get<float>();
    vocab.token_types[id] = piece.at(3).get<int32_t>();
  }
  return vocab;
}

TEST(Gemma3GoldenTest, ScoreMergesMatchTheSentencePieceLibrary) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(gemma3_vocab());
  EXPECT_EQ(tok.vocab_size(), 262144);
  const json golden = read_fixture("gemma3_spm_token_ids.json");
  const json& cases = golden.at("cases");
  ASSERT_GE(cases.size(), 1000u);
  size_t n_round_trips = 0;
  for (const json& item : cases) {
    const std::string text = item.at("text").get<std::string>();
    // as_text: SentencePiece itself; parse: control tokens split out first (HF's added tokens).
    const tokenizer::SpecialTokens specials = item.at("specials").get<std::string>() == "parse"
                                                  ? tokenizer::SpecialTokens::parse
                                                  : tokenizer::SpecialTokens::as_text;
    const Ids ids = tok.encode(text, specials);
    EXPECT_EQ(ids, item.at("ids").get<Ids>()) << json(text).dump();
    EXPECT_EQ(tok.decode(item.at("ids").get<Ids>()), item.at("decoded").get<std::string>()) << json(text).dump();
    // Gemma adds no space prefix and normalizes nothing: text comes back exactly (spec §6.8), except
    // control tokens, which decode to nothing.
    if (item.at("round_trips").get<bool>()) {
      ++n_round_trips;
      EXPECT_EQ(tok.decode(ids), text) << json(text).dump();
    }
  }
  EXPECT_GE(n_round_trips, 1000u);
}

}  // namespace
}  // namespace abliterate::model
