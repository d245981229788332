// GgufWriter and quantize_q8_0 (formats): Q8_0 blocks decode back within half
// a step of ggml's scale, and a written file is read back by GgufFile with the
// source's metadata entries byte for byte, the replaced key, and each tensor's
// type, shape and bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/ggml_types.hpp"
#include "abliterate/formats/gguf_file.hpp"
#include "abliterate/formats/gguf_writer.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::formats {
namespace {

TEST(GgufWriter, Q8_0DecodesWithinHalfAStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> values(32 * 64);
  for (float& v : values) v = normal(rng);
  for (int j = 0; j < 32; ++j) values[32 + j] = 0.0f;  // an all-zero block: scale 0, no division by it
  const std::vector<uint8_t> bytes = quantize_q8_0(values);
  ASSERT_EQ(bytes.size(), values.size() / 32 * 34);
  std::vector<float> decoded(values.size());
  dequantize(GgmlType::q8_0, bytes, decoded);
  for (size_t block = 0; block < values.size(); block += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(values[block + j]));
    const float step = amax / 127.0f;
    for (int j = 0; j < 32; ++j) {
      // Half a step of rounding, plus the f16 rounding of the scale (2^-11 relative) over 127 steps.
      EXPECT_LE(std::fabs(decoded[block + j] - values[block + j]), 0.5f * step + amax * 1e-3f) << block + j;
    }
  }
  ASSERT_THROWS_WITH(quantize_q8_0(std::vector<float>(33)), InputError, "33 values are not whole blocks of 32");
}

TEST(GgufWriter, WrittenFileReadsBackWithTheSourceMetadata) {
  const GgufFile source = GgufFile::open(std::filesystem::path(ABL_SOURCE_DIR) / "models" /
                                         "SmolLM2-135M-Instruct.Q4_1.gguf");
  model::testing::TempDir dir("gguf_writer");
  const auto path = dir.path() / "out.gguf";
  std::vector<float> matrix(4 * 64);
  for (size_t i = 0; i < matrix.size(); ++i) matrix[i] = std::sin(static_cast<float>(i));
  const std::vector<uint8_t> q8 = quantize_q8_0(matrix);
  const std::vector<float> norm = {1.0f, 2.0f, 3.0f};
  {
    GgufWriter writer(path, source, {{"general.file_type", 7}},
                      {{"a.weight", {4, 64}, GgmlType::q8_0}, {"b.norm", {3}, GgmlType::f32}});
    writer.write_tensor(q8);
    writer.write_tensor({reinterpret_cast<const uint8_t*>(norm.data()), norm.size() * sizeof(float)});
    writer.finish();
  }
  const GgufFile back = GgufFile::open(path);
  EXPECT_EQ(back.version(), 3u);
  EXPECT_EQ(back.get_int("general.file_type"), 7);
  ASSERT_EQ(back.keys().size(), source.keys().size() + (source.has_key("general.file_type") ? 0 : 1));
  for (const GgufKeyInfo& info : source.keys()) {
    if (info.key == "general.file_type") continue;
    const GgufKeyInfo* copied = back.find_key(info.key);
    ASSERT_NE(copied, nullptr) << info.key;
    const auto a = source.entry_bytes(info);
    const auto b = back.entry_bytes(*copied);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << info.key;
  }
  EXPECT_EQ(back.get_string_array("tokenizer.ggml.tokens"), source.get_string_array("tokenizer.ggml.tokens"));
  ASSERT_EQ(back.tensors().size(), 2u);
  const GgufTensorInfo& a = back.tensor_info("a.weight");
  EXPECT_EQ(a.type, GgmlType::q8_0);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{4, 64}));
  const auto a_bytes = back.tensor_bytes(a);
  EXPECT_TRUE(std::equal(a_bytes.begin(), a_bytes.end(), q8.begin(), q8.end()));
  const auto b_bytes = back.tensor_bytes(back.tensor_info("b.norm"));
  EXPECT_EQ(std::memcmp(b_bytes.data(), norm.data(), sizeof(float) * 3), 0);

  ASSERT_THROWS_WITH(GgufWriter(dir.path() / "bad.gguf", source, {}, {{"c", {2, 33}, GgmlType::q8_0}}), InputError,
                     "GGUF tensor 'c': rows of 33 values are not whole Q8_0 blocks of 32");
}

}  // namespace
}  // namespace abliterate::formats
