// The in-memory entry points the fuzz targets use (tests/fuzz/):
// MappedFile::copy_of with SafetensorsReader::open / GgufReader::open, and
// Tokenizer::from_tokenizer_json_text read exactly what the file versions
// read, and their errors name the given path.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/gguf_reader.hpp"
#include "abliterate/formats/mapped_file.hpp"
#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "abliterate/model/tiny_model.hpp"
#include "abliterate/tokenizer/tokenizer.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::TempDir;

std::unique_ptr<formats::MappedFile> copy_of(const std::string& bytes) {
  return formats::MappedFile::copy_of(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(MemoryOpenTest, CopyOfHoldsItsOwnBytes) {
  std::string bytes = "abc";
  const auto copy = copy_of(bytes);
  bytes[0] = 'x';
  ASSERT_EQ(copy->size_bytes, 3u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(copy->data), 3), "abc");
  EXPECT_EQ(formats::MappedFile::copy_of(nullptr, 0)->data, nullptr);  // as map() of an empty file
}

TEST(MemoryOpenTest, SafetensorsFromMemoryEqualsFromFile) {
  TempDir dir("mem_st");
  torch::manual_seed(3);
  const auto path = dir.path() / "x.safetensors";
  formats::write_safetensors(path, {{"a", torch::randn({2, 3})}, {"b", torch::randn({4}).to(torch::kBFloat16)}});
  const formats::SafetensorsReader from_file = formats::SafetensorsReader::open(path);
  const formats::SafetensorsReader from_memory =
      formats::SafetensorsReader::open("in-memory.safetensors", copy_of(testing::read_bytes(path)));
  ASSERT_EQ(from_memory.tensors().size(), from_file.tensors().size());
  for (const auto& info : from_file.tensors()) {
    EXPECT_TRUE(torch::equal(from_memory.read(info.name), from_file.read(info.name))) << info.name;
  }
  EXPECT_EQ(from_memory.metadata(), from_file.metadata());
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open("in-memory.safetensors", copy_of(std::string(5, '\0'))),
                     FormatError, "in-memory.safetensors: the file has 5 bytes");
}

TEST(MemoryOpenTest, GgufFromMemoryEqualsFromFile) {
  const auto path = std::filesystem::path(ABL_SOURCE_DIR) / "tests/fuzz/seeds/gguf/gpt2_vocab_six_types.gguf";
  const formats::GgufReader from_file = formats::GgufReader::open(path);
  const formats::GgufReader from_memory =
      formats::GgufReader::open("in-memory.gguf", copy_of(testing::read_bytes(path)));
  ASSERT_EQ(from_memory.keys().size(), from_file.keys().size());
  EXPECT_EQ(from_memory.get_string_array("tokenizer.ggml.tokens"), from_file.get_string_array("tokenizer.ggml.tokens"));
  ASSERT_EQ(from_memory.tensors().size(), 6u);
  for (const auto& info : from_file.tensors()) {
    EXPECT_TRUE(torch::equal(from_memory.load_tensor(info.name), from_file.load_tensor(info.name))) << info.name;
  }
  ASSERT_THROWS_WITH(formats::GgufReader::open("in-memory.gguf", copy_of("GGUX")), FormatError, "in-memory.gguf");
}

TEST(MemoryOpenTest, TokenizerFromTextEqualsFromFile) {
  TempDir dir("mem_tok");
  write_tiny_model(dir.path() / "tiny", TinyModelOptions{});
  const auto path = dir.path() / "tiny" / "tokenizer.json";
  const tokenizer::Tokenizer from_file = tokenizer::Tokenizer::from_tokenizer_json(path);
  const tokenizer::Tokenizer from_text =
      tokenizer::Tokenizer::from_tokenizer_json_text(testing::read_bytes(path), "in-memory/tokenizer.json");
  const std::string text = "<start_of_turn>user\nHello, caf\xC3\xA9 world!<end_of_turn>\n";
  EXPECT_EQ(from_text.encode(text), from_file.encode(text));
  EXPECT_EQ(from_text.vocab_size(), from_file.vocab_size());
  ASSERT_THROWS_WITH(tokenizer::Tokenizer::from_tokenizer_json_text("{not json", "in-memory/tokenizer.json"),
                     FormatError, "in-memory/tokenizer.json: not valid JSON");
}

}  // namespace
}  // namespace abliterate::model
