// Byte-level BPE (spec/model-runtime.md §6.4, §6.8): the GPT-2 byte map, the
// split regexes of Llama 3 / Qwen2 / GPT-2, and small synthetic vocabularies
// that exercise merge rank order through tokenizer.json and GGUF vocabularies.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "abliterate/common/error.hpp"
#include "abliterate/common/utf8.hpp"
#include "abliterate/tokenizer/byte_level.hpp"
#include "abliterate/tokenizer/gguf_vocab.hpp"
#include "abliterate/tokenizer/regex_splitter.hpp"
#include "abliterate/tokenizer/tokenizer.hpp"
#include "model/tokenizer_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using nlohmann::json;
using Words = std::vector<std::string>;

Words split_words(std::string_view pattern, const std::string& text) {
  const tokenizer::RegexSplitter regex{std::string(pattern), "test"};
  Words words;
  for (std::string_view word : tokenizer::split_isolated(regex, text)) words.emplace_back(word);
  return words;
}

// --- byte map ---------------------------------------------------------------

TEST(ByteLevelMapTest, KnownCharacters) {
  EXPECT_EQ(tokenizer::byte_level_char(' '), "\xC4\xA0");    // Ġ U+0120
  EXPECT_EQ(tokenizer::byte_level_char('\n'), "\xC4\x8A");   // Ċ U+010A
  EXPECT_EQ(tokenizer::byte_level_char('\t'), "\xC4\x89");   // ĉ U+0109
  EXPECT_EQ(tokenizer::byte_level_char(0x00), "\xC4\x80");   // U+0100
  EXPECT_EQ(tokenizer::byte_level_char(0xAD), "\xC5\x83");   // the 68th shifted byte: U+0143
  EXPECT_EQ(tokenizer::byte_level_char('A'), "A");
  EXPECT_EQ(tokenizer::byte_level_char(0xE9), "\xC3\xA9");   // é keeps its code point
}

TEST(ByteLevelMapTest, AllBytesRoundTripAndAreDistinct) {
  std::set<std::string> seen;
  std::string all_bytes;
  for (int value = 0; value < 256; ++value) {
    const std::string& ch = tokenizer::byte_level_char(static_cast<uint8_t>(value));
    EXPECT_TRUE(is_valid_utf8(ch)) << value;
    EXPECT_TRUE(seen.insert(ch).second) << "byte " << value << " maps to a character already used";
    std::string back;
    ASSERT_TRUE(tokenizer::byte_level_decode(ch, back)) << value;
    EXPECT_EQ(back, std::string(1, static_cast<char>(value)));
    all_bytes.push_back(static_cast<char>(value));
  }
  std::string back;
  ASSERT_TRUE(tokenizer::byte_level_decode(tokenizer::byte_level_encode(all_bytes), back));
  EXPECT_EQ(back, all_bytes);
  EXPECT_FALSE(tokenizer::byte_level_decode("\xE2\x96\x81", back));  // "▁" (U+2581) is not in the map
}

TEST(Utf8LossyTest, MaximalSubpartsBecomeOneReplacementEach) {
  EXPECT_EQ(utf8_lossy("ok"), "ok");
  EXPECT_EQ(utf8_lossy("\xE2\x82"
                                  "A"),
            "\xEF\xBF\xBD"
            "A");                                                               // truncated 3-byte sequence: one U+FFFD
  EXPECT_EQ(utf8_lossy("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");     // lone continuation bytes: one each
  EXPECT_EQ(utf8_lossy("\xC3\xA9\xFF"), "\xC3\xA9\xEF\xBF\xBD");
}

// --- split regexes (spec §6.4, §6.8) -----------------------------------------

TEST(SplitRegexTest, ContractionsAreCaseInsensitiveForLlama3Only) {
  EXPECT_EQ(split_words(tokenizer::kLlama3SplitRegex, "I'M don't"), (Words{"I", "'M", " don", "'t"}));
  EXPECT_EQ(split_words(tokenizer::kQwen2SplitRegex, "YOU'LL"), (Words{"YOU", "'LL"}));
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "I'm"), (Words{"I", "'m"}));
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "I'M"), (Words{"I", "'", "M"}));
}

TEST(SplitRegexTest, DigitGroups) {
  EXPECT_EQ(split_words(tokenizer::kLlama3SplitRegex, "12345"), (Words{"123", "45"}));
  EXPECT_EQ(split_words(tokenizer::kQwen2SplitRegex, "12345"), (Words{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "12345"), (Words{"12345"}));
  EXPECT_EQ(split_words(tokenizer::kLlama3SplitRegex, "1,000,000"), (Words{"1", ",", "000", ",", "000"}));
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "pi 3.14"), (Words{"pi", " 3", ".", "14"}));
}

TEST(SplitRegexTest, LastSpaceOfARunGoesToTheNextWord) {
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "a   b"), (Words{"a", "  ", " b"}));
  EXPECT_EQ(split_words(tokenizer::kLlama3SplitRegex, "a   b"), (Words{"a", "  ", " b"}));
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "a  "), (Words{"a", "  "}));
  EXPECT_EQ(split_words(tokenizer::kLlama3SplitRegex, "Hello, world!"), (Words{"Hello", ",", " world", "!"}));
}

TEST(SplitRegexTest, Newlines) {
  EXPECT_EQ(split_words(tokenizer::kLlama3SplitRegex, "a\n\nb"), (Words{"a", "\n\n", "b"}));
  EXPECT_EQ(split_words(tokenizer::kLlama3SplitRegex, "hello\n  world"), (Words{"hello", "\n", " ", " world"}));
  EXPECT_EQ(split_words(tokenizer::kLlama3SplitRegex, "x.\r\ny"), (Words{"x", ".\r\n", "y"}));
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "a\nb"), (Words{"a", "\n", "b"}));
}

TEST(SplitRegexTest, UnicodeLettersAndInvalidBytes) {
  // \p{L} covers non-Latin letters; an emoji is "other" punctuation-like text.
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "日本 語"), (Words{"日本", " 語"}));
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "hi \xF0\x9F\x91\x8D"), (Words{"hi", " \xF0\x9F\x91\x8D"}));
  // Invalid UTF-8 never matches: it is kept as a gap word, nothing is lost.
  EXPECT_EQ(split_words(tokenizer::kGpt2SplitRegex, "ab\xFF" "cd"), (Words{"ab", "\xFF", "cd"}));
}

TEST(SplitRegexTest, BadPatternIsAFormatError) {
  ASSERT_THROWS_WITH(tokenizer::RegexSplitter("(unclosed", "file.json: pre_tokenizer Split"), FormatError,
                     "file.json: pre_tokenizer Split: regex \"(unclosed\" does not compile");
}

// --- synthetic byte-level vocabularies ----------------------------------------

// All 256 byte characters (id = byte) plus merged tokens; merges in rank order.
struct ToyVocab {
  std::vector<std::string> tokens;
  std::vector<std::string> merges;
};

ToyVocab toy_vocab(const std::vector<std::string>& merges) {
  ToyVocab vocab;
  for (int value = 0; value < 256; ++value)
    vocab.tokens.push_back(tokenizer::byte_level_char(static_cast<uint8_t>(value)));
  for (const std::string& merge : merges) {
    const size_t space = merge.find(' ');
    const std::string merged = merge.substr(0, space) + merge.substr(space + 1);
    bool present = false;
    for (const auto& token : vocab.tokens) present = present || token == merged;
    if (!present) vocab.tokens.push_back(merged);
  }
  vocab.merges = merges;
  vocab.tokens.push_back("<|end|>");  // a control token
  return vocab;
}

json tokenizer_json(const ToyVocab& vocab, const json& pre_tokenizer, bool ignore_merges = false) {
  json vocab_json = json::object();
  for (size_t id = 0; id < vocab.tokens.size(); ++id) vocab_json[vocab.tokens[id]] = id;
  json merges = json::array();
  for (const auto& merge : vocab.merges) {
    const size_t space = merge.find(' ');
    merges.push_back(json::array({merge.substr(0, space), merge.substr(space + 1)}));
  }
  return json{{"added_tokens", json::array({json{{"id", vocab.tokens.size() - 1},
                                                 {"content", "<|end|>"},
                                                 {"special", true},
                                                 {"normalized", false}}})},
              {"normalizer", nullptr},
              {"pre_tokenizer", pre_tokenizer},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
              {"model",
               {{"type", "BPE"}, {"vocab", vocab_json}, {"merges", merges}, {"ignore_merges", ignore_merges},
                {"byte_fallback", false}, {"unk_token", nullptr}}}};
}

const json kGpt2PreTokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};

tokenizer::GgufVocab gguf_vocab(const ToyVocab& toy, const std::string& pre) {
  tokenizer::GgufVocab vocab;
  vocab.model = "gpt2";
  vocab.pre = pre;
  vocab.tokens = toy.tokens;
  vocab.merges = toy.merges;
  vocab.token_types.assign(toy.tokens.size(), 1);
  vocab.token_types.back() = 3;
  return vocab;
}

TEST(ByteLevelBpeTest, LowestRankMergesFirst) {
  const ToyVocab bc_first = toy_vocab({"b c", "a b", "a bc"});
  const ToyVocab ab_first = toy_vocab({"a b", "b c", "ab c"});
  const tokenizer::Tokenizer bc = testing::load_tokenizer_json(tokenizer_json(bc_first, kGpt2PreTokenizer));
  const tokenizer::Tokenizer ab = testing::load_tokenizer_json(tokenizer_json(ab_first, kGpt2PreTokenizer));
  EXPECT_EQ(bc.encode("abc"), (std::vector<int64_t>{bc.token_id("abc")}));
  EXPECT_EQ(bc.encode("abd"), (std::vector<int64_t>{bc.token_id("ab"), 'd'}));
  EXPECT_EQ(ab.encode("abc"), (std::vector<int64_t>{ab.token_id("abc")}));
  // Without the final merge the rank order shows in the split.
  const tokenizer::Tokenizer bc2 =
      testing::load_tokenizer_json(tokenizer_json(toy_vocab({"b c", "a b"}), kGpt2PreTokenizer));
  const tokenizer::Tokenizer ab2 =
      testing::load_tokenizer_json(tokenizer_json(toy_vocab({"a b", "b c"}), kGpt2PreTokenizer));
  EXPECT_EQ(bc2.encode("abc"), (std::vector<int64_t>{'a', bc2.token_id("bc")}));
  EXPECT_EQ(ab2.encode("abc"), (std::vector<int64_t>{ab2.token_id("ab"), 'c'}));
}

TEST(ByteLevelBpeTest, SpacesAreMappedBeforeMerging) {
  const ToyVocab toy = toy_vocab({"\xC4\xA0 a", "\xC4\xA0" "a b"});  // "Ġ a", "Ġa b"
  const tokenizer::Tokenizer tok = testing::load_tokenizer_json(tokenizer_json(toy, kGpt2PreTokenizer));
  const int64_t space_ab = tok.token_id("\xC4\xA0" "ab");
  ASSERT_GE(space_ab, 256);
  EXPECT_EQ(tok.encode("ab ab"), (std::vector<int64_t>{'a', 'b', space_ab}));
  EXPECT_EQ(tok.encode("\n"), (std::vector<int64_t>{0x0A}));  // byte 0x0A is token "Ċ", id 10
  EXPECT_EQ(tok.decode(tok.encode("ab ab\n")), "ab ab\n");
}

TEST(ByteLevelBpeTest, GgufVocabGivesTheSameIdsAsTokenizerJson) {
  const ToyVocab toy = toy_vocab({"\xC4\xA0 a", "a b", "\xC4\xA0" "a b", "1 2", "12 3"});
  const tokenizer::Tokenizer from_json = testing::load_tokenizer_json(tokenizer_json(toy, kGpt2PreTokenizer));
  const tokenizer::Tokenizer from_gguf = tokenizer::Tokenizer::from_gguf_vocab(gguf_vocab(toy, "gpt-2"));
  for (const std::string text : {"ab ab", "123 abab", " a  b\n\n", "caf\xC3\xA9 \xF0\x9F\x91\x8D", "x<|end|>y"}) {
    EXPECT_EQ(from_json.encode(text), from_gguf.encode(text)) << text;
    EXPECT_EQ(from_gguf.decode(from_gguf.encode(text), /*skip_special=*/false), text) << text;
  }
  EXPECT_EQ(from_gguf.encode("123"), (std::vector<int64_t>{from_gguf.token_id("123")}));
  EXPECT_EQ(from_gguf.vocab_size(), static_cast<int64_t>(toy.tokens.size()));
}

TEST(ByteLevelBpeTest, SpecialTokensParsedOrKeptAsText) {
  const ToyVocab toy = toy_vocab({"a b"});
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(gguf_vocab(toy, "gpt-2"));
  const int64_t end = tok.token_id("<|end|>");
  EXPECT_TRUE(tok.is_special(end));
  EXPECT_EQ(tok.encode("ab<|end|>"), (std::vector<int64_t>{tok.token_id("ab"), end}));
  const std::vector<int64_t> as_text = tok.encode("ab<|end|>", tokenizer::SpecialTokens::as_text);
  EXPECT_EQ(as_text.size(), 8u);  // "ab" + "<", "|", "end", "|", ">" byte by byte
  EXPECT_EQ(tok.decode(as_text), "ab<|end|>");
  EXPECT_EQ(tok.decode({tok.token_id("ab"), end}), "ab");
  EXPECT_EQ(tok.decode({tok.token_id("ab"), end}, /*skip_special=*/false), "ab<|end|>");
}

TEST(ByteLevelBpeTest, MultiByteCharacterSplitAcrossTokensDecodes) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_gguf_vocab(gguf_vocab(toy_vocab({}), "gpt-2"));
  EXPECT_EQ(tok.encode("\xC3\xA9"), (std::vector<int64_t>{0xC3, 0xA9}));
  EXPECT_EQ(tok.decode({0xC3, 0xA9}), "\xC3\xA9");
  EXPECT_EQ(tok.decode({0xC3}), "\xEF\xBF\xBD");  // a lone lead byte decodes lossily
}

TEST(ByteLevelBpeTest, Llama3RegexSplitAndIgnoreMerges) {
  // "ab" is a token but no merge builds it: only ignore_merges can emit it whole.
  ToyVocab toy = toy_vocab({});
  toy.tokens.insert(toy.tokens.end() - 1, "ab");
  const json pre = {{"type", "Sequence"},
                    {"pretokenizers",
                     json::array({json{{"type", "Split"},
                                       {"pattern", {{"Regex", std::string(tokenizer::kLlama3SplitRegex)}}},
                                       {"behavior", "Isolated"},
                                       {"invert", false}},
                                  json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  const tokenizer::Tokenizer ignoring = testing::load_tokenizer_json(tokenizer_json(toy, pre, /*ignore_merges=*/true));
  const tokenizer::Tokenizer merging = testing::load_tokenizer_json(tokenizer_json(toy, pre, /*ignore_merges=*/false));
  const int64_t ab = ignoring.token_id("ab");
  EXPECT_EQ(ignoring.encode("ab"), (std::vector<int64_t>{ab}));
  EXPECT_EQ(merging.encode("ab"), (std::vector<int64_t>{'a', 'b'}));
  // Llama 3 digits: groups of three, each a word of byte tokens here.
  EXPECT_EQ(ignoring.encode("1234"), (std::vector<int64_t>{'1', '2', '3', '4'}));
  // The GGUF "llama-bpe" pre-tokenizer turns ignore_merges on, as llama.cpp does.
  const tokenizer::Tokenizer gguf = tokenizer::Tokenizer::from_gguf_vocab(gguf_vocab(toy, "llama-bpe"));
  EXPECT_EQ(gguf.encode("ab"), (std::vector<int64_t>{ab}));
}

TEST(ByteLevelBpeTest, VeryLongWordsAndWhitespaceRuns) {
  const tokenizer::Tokenizer tok =
      tokenizer::Tokenizer::from_gguf_vocab(gguf_vocab(toy_vocab({"a a", "aa aa"}), "llama-bpe"));
  const std::string text = std::string(50000, 'a') + std::string(50000, ' ') + "\n" + std::string(3000, '7');
  const std::vector<int64_t> ids = tok.encode(text);
  EXPECT_EQ(ids.front(), tok.token_id("aaaa"));
  EXPECT_EQ(tok.decode(ids), text);
}

TEST(ByteLevelBpeTest, UnsupportedConfigurationsAreFormatErrors) {
  const ToyVocab toy = toy_vocab({});
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_gguf_vocab(gguf_vocab(toy, "tekken")), FormatError,
                     "tokenizer.ggml.pre: \"tekken\" is not supported");
  tokenizer::GgufVocab bad_types = gguf_vocab(toy, "gpt-2");
  bad_types.token_types.pop_back();
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_gguf_vocab(bad_types), FormatError,
                     "tokenizer.ggml.token_type: expected");
  tokenizer::GgufVocab bad_merge = gguf_vocab(toy, "gpt-2");
  bad_merge.merges = {"ab"};
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_gguf_vocab(bad_merge), FormatError,
                     "merges[0]: expected \"left right\"");
  const json prefix_space = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  ASSERT_THROWS_WITH(testing::load_tokenizer_json(tokenizer_json(toy, prefix_space)), FormatError,
                     "add_prefix_space=true is not supported");
  const json after_byte_level = {
      {"type", "Sequence"},
      {"pretokenizers", json::array({kGpt2PreTokenizer, json{{"type", "Digits"}, {"individual_digits", true}}})}};
  ASSERT_THROWS_WITH(testing::load_tokenizer_json(tokenizer_json(toy, after_byte_level)), FormatError,
                     "'Digits' after ByteLevel is not supported");
}

}  // namespace
}  // namespace abliterate::model
