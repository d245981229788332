// GGUF reader (spec/model-runtime.md §5.1, §5.5): a round trip through a file
// built on the fly, then one malformed file per failure mode (the
// tests/test-gguf.cpp pattern), each error naming the file and the key or
// tensor; then the two real models that scripts/setup downloads.
#include "abliterate/formats/gguf_reader.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "abliterate/common/error.hpp"
#include "model/gguf_test_writer.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::GgufTempDir;
using testing::GgufTestWriter;
using testing::TestValueType;

// ggml type ids, spelled out here independently of the reader's table.
constexpr uint32_t kF32 = 0;
constexpr uint32_t kF16 = 1;
constexpr uint32_t kQ8_0 = 8;
constexpr uint32_t kIq2Xxs = 16;

std::string f32_bytes(const std::vector<float>& values) {
  std::string bytes(values.size() * 4, '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// Opening `path` throws FormatError whose message contains every part.
void expect_open_fails(const std::filesystem::path& path, std::initializer_list<std::string> parts) {
  try {
    formats::GgufReader::open(path);
    ADD_FAILURE() << path << " opened without error";
  } catch (const FormatError& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "message: " << message << "\nexpected to contain: " << part;
    }
  }
}

// A small valid file: two F32 tensors, enough to corrupt one field at a time.
GgufTestWriter small_writer() {
  GgufTestWriter writer;
  writer.kv_string("general.architecture", "llama");
  writer.kv_u32("llama.block_count", 2);
  writer.tensor("token_embd.weight", {4, 2}, kF32, f32_bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  writer.tensor("blk.7.ffn_down.weight", {8}, kF32, f32_bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  return writer;
}

TEST(GgufReaderTest, RoundTripMetadataOfEveryType) {
  GgufTempDir dir("meta");
  GgufTestWriter writer;
  writer.kv_u8("t.u8", 200);
  writer.kv_i8("t.i8", -100);
  writer.kv_u16("t.u16", 60000);
  writer.kv_i16("t.i16", -30000);
  writer.kv_u32("t.u32", 4000000000u);
  writer.kv_i32("t.i32", -2000000000);
  writer.kv_u64("t.u64", 1ull << 40);
  writer.kv_i64("t.i64", -(1ll << 40));
  writer.kv_f32("t.f32", 1e-6f);
  writer.kv_f64("t.f64", 1e6);
  writer.kv_bool("t.bool", true);
  writer.kv_string("t.string", "gemma3");
  writer.kv_string_array("t.strings", {"<pad>", "", "\xe2\x96\x81hello"});
  writer.kv_array<float>("t.f32s", TestValueType::f32, {-1000.0f, 0.5f});
  writer.kv_array<int32_t>("t.i32s", TestValueType::i32, {1, 2, 6, -3});
  writer.kv_array<uint64_t>("t.u64s", TestValueType::u64, {7, 1ull << 33});
  const auto path = writer.write(dir.path() / "meta.gguf");

  const formats::GgufReader reader = formats::GgufReader::open(path);
  EXPECT_EQ(reader.version(), 3u);
  EXPECT_EQ(reader.alignment(), 32u);
  EXPECT_EQ(reader.keys().size(), 16u);
  EXPECT_EQ(reader.keys()[0].key, "t.u8");
  EXPECT_EQ(reader.get_int("t.u8"), 200);
  EXPECT_EQ(reader.get_int("t.i8"), -100);
  EXPECT_EQ(reader.get_int("t.u16"), 60000);
  EXPECT_EQ(reader.get_int("t.i16"), -30000);
  EXPECT_EQ(reader.get_int("t.u32"), 4000000000ll);
  EXPECT_EQ(reader.get_int("t.i32"), -2000000000);
  EXPECT_EQ(reader.get_int("t.u64"), 1ll << 40);
  EXPECT_EQ(reader.get_int("t.i64"), -(1ll << 40));
  EXPECT_EQ(reader.get_float("t.f32"), static_cast<double>(1e-6f));
  EXPECT_EQ(reader.get_float("t.f64"), 1e6);
  EXPECT_TRUE(reader.get_bool("t.bool"));
  EXPECT_EQ(reader.get_string("t.string"), "gemma3");
  EXPECT_EQ(reader.get_string_array("t.strings"), (std::vector<std::string>{"<pad>", "", "\xe2\x96\x81hello"}));
  EXPECT_EQ(reader.get_float_array("t.f32s"), (std::vector<float>{-1000.0f, 0.5f}));
  EXPECT_EQ(reader.get_int_array("t.i32s"), (std::vector<int64_t>{1, 2, 6, -3}));
  EXPECT_EQ(reader.get_int_array("t.u64s"), (std::vector<int64_t>{7, 1ll << 33}));
  EXPECT_EQ(reader.find_key("t.strings")->type, formats::GgufValueType::array);
  EXPECT_EQ(reader.find_key("t.strings")->array_type, formats::GgufValueType::string);
  EXPECT_EQ(reader.find_key("t.strings")->array_count, 3u);

  // Optional getters: nullopt when absent, a value when present.
  EXPECT_FALSE(reader.find_int("absent").has_value());
  EXPECT_FALSE(reader.find_string("absent").has_value());
  EXPECT_FALSE(reader.find_string_array("absent").has_value());
  EXPECT_EQ(reader.find_bool("t.bool"), std::optional<bool>(true));
  EXPECT_TRUE(reader.tensors().empty());
}

TEST(GgufReaderTest, TypedGettersNameKeyExpectedAndGot) {
  GgufTempDir dir("getters");
  GgufTestWriter writer;
  writer.kv_string("general.name", "x");
  writer.kv_u32("llama.block_count", 30);
  writer.kv_u64("big", ~0ull);
  writer.kv_array<float>("tokenizer.ggml.scores", TestValueType::f32, {1.0f});
  const auto path = writer.write(dir.path() / "getters.gguf");
  const std::string file = path.string();
  const formats::GgufReader reader = formats::GgufReader::open(path);

  ASSERT_THROWS_WITH(reader.get_int("general.name"), FormatError,
                     file + ": key 'general.name': expected an integer (u8..u64, i8..i64), got string");
  ASSERT_THROWS_WITH(reader.get_string("llama.block_count"), FormatError,
                     file + ": key 'llama.block_count': expected string, got u32");
  ASSERT_THROWS_WITH(reader.find_float("llama.block_count"), FormatError, "expected f32 or f64, got u32");
  ASSERT_THROWS_WITH(reader.get_bool("general.name"), FormatError, "expected bool, got string");
  ASSERT_THROWS_WITH(reader.get_string("general.architecture"), FormatError,
                     file + ": key 'general.architecture' is missing");
  ASSERT_THROWS_WITH(reader.get_int("big"), FormatError, "key 'big': u64 value 18446744073709551615 does not fit");
  ASSERT_THROWS_WITH(reader.get_string_array("tokenizer.ggml.scores"), FormatError,
                     file + ": key 'tokenizer.ggml.scores': expected array of string, got array of f32");
  ASSERT_THROWS_WITH(reader.get_float_array("general.name"), FormatError, "expected array of f32 or f64, got string");
}

TEST(GgufReaderTest, RoundTripTensorsF32F16Q8_0) {
  GgufTempDir dir("tensors");
  GgufTestWriter writer;
  writer.alignment = 64;
  writer.kv_u32("general.alignment", 64);
  // F32 [2, 3] in PyTorch order is ne = [3, 2].
  writer.tensor("a", {3, 2}, kF32, f32_bytes({0, 1, 2, 3, 4, 5}));
  // F16 [4]: 1, -2, 0.5, 65504.
  writer.tensor("b", {4}, kF16, std::string("\x00\x3c\x00\xc0\x00\x38\xff\x7b", 8));
  // Q8_0 [2, 32]: row r has d = 0.5 (0x3800) and qs[j] = j - 16 + r.
  std::string q8;
  for (int row = 0; row < 2; ++row) {
    q8 += std::string("\x00\x38", 2);
    for (int j = 0; j < 32; ++j) q8 += static_cast<char>(static_cast<int8_t>(j - 16 + row));
  }
  writer.tensor("blk.0.attn_q.weight", {32, 2}, kQ8_0, q8);
  const auto path = writer.write(dir.path() / "tensors.gguf");

  const formats::GgufReader reader = formats::GgufReader::open(path);
  EXPECT_EQ(reader.alignment(), 64u);
  EXPECT_EQ(reader.data_offset() % 64, 0u);
  ASSERT_EQ(reader.tensors().size(), 3u);
  const formats::GgufTensorInfo& a = reader.tensor_info("a");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.type, formats::GgmlType::f32);
  EXPECT_EQ(a.size_bytes, 24u);
  EXPECT_EQ(a.offset, 0u);
  EXPECT_EQ(reader.tensor_info("b").offset, 64u);
  const formats::GgufTensorInfo& q = reader.tensor_info("blk.0.attn_q.weight");
  EXPECT_EQ(q.shape, (std::vector<int64_t>{2, 32}));
  EXPECT_EQ(q.type, formats::GgmlType::q8_0);
  EXPECT_EQ(q.size_bytes, 68u);
  EXPECT_EQ(q.numel(), 64);
  EXPECT_EQ(reader.tensor_bytes(q).size(), 68u);

  EXPECT_TRUE(torch::equal(reader.load_tensor("a"), torch::arange(6, torch::kFloat32).reshape({2, 3})));
  EXPECT_TRUE(torch::equal(reader.load_tensor("b"), torch::tensor({1.0f, -2.0f, 0.5f, 65504.0f})));
  const torch::Tensor expected_q =  // float32 [2, 32]
      (torch::arange(32, torch::kFloat32) - 16).unsqueeze(0).repeat({2, 1}) + torch::tensor({0.0f, 1.0f}).unsqueeze(1);
  EXPECT_TRUE(torch::equal(reader.load_tensor("blk.0.attn_q.weight"), expected_q * 0.5));
  const torch::Tensor as_bf16 = reader.load_tensor("blk.0.attn_q.weight", torch::kBFloat16);
  EXPECT_EQ(as_bf16.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(as_bf16.to(torch::kFloat32), expected_q * 0.5));

  ASSERT_THROWS_WITH(reader.load_tensor("nope"), FormatError, path.string() + ": no tensor 'nope'");
  EXPECT_EQ(reader.find_tensor("nope"), nullptr);
}

TEST(GgufReaderTest, Version2IsAccepted) {
  GgufTempDir dir("v2");
  GgufTestWriter writer = small_writer();
  writer.version = 2;
  const formats::GgufReader reader = formats::GgufReader::open(writer.write(dir.path() / "v2.gguf"));
  EXPECT_EQ(reader.version(), 2u);
  EXPECT_EQ(reader.get_int("llama.block_count"), 2);
}

TEST(GgufReaderTest, MissingFileIsAnIoError) {
  ASSERT_THROWS_WITH(formats::GgufReader::open("/nonexistent/model.gguf"), IoError,
                     "/nonexistent/model.gguf: cannot open");
}

// ---- malformed files: one per failure mode ------------------------------------------

TEST(GgufReaderMalformedTest, BadMagic) {
  GgufTempDir dir("magic");
  GgufTestWriter writer = small_writer();
  writer.magic = 0x04034b50;  // a zip file's "PK\3\4"
  const auto path = writer.write(dir.path() / "zip.gguf");
  expect_open_fails(path, {path.string(), "not a GGUF file", "expected magic 47 47 55 46", "got 50 4b 03 04"});
}

TEST(GgufReaderMalformedTest, TooShortForMagic) {
  GgufTempDir dir("short");
  const auto path = testing::write_gguf_bytes(dir.path() / "short.gguf", "GG");
  expect_open_fails(path, {path.string(), "it has 2 bytes"});
}

TEST(GgufReaderMalformedTest, Version1) {
  GgufTempDir dir("v1");
  GgufTestWriter writer = small_writer();
  writer.version = 1;
  const auto path = writer.write(dir.path() / "v1.gguf");
  expect_open_fails(path, {path.string(), "GGUF version 1 is not supported (expected 2 or 3)"});
}

TEST(GgufReaderMalformedTest, VersionTooNewAndBigEndian) {
  GgufTempDir dir("v4");
  GgufTestWriter writer = small_writer();
  writer.version = 4;
  const auto path = writer.write(dir.path() / "v4.gguf");
  expect_open_fails(path, {path.string(), "GGUF version 4 is newer"});
  writer.version = 0x03000000;
  writer.write(path);
  expect_open_fails(path, {path.string(), "big-endian"});
}

TEST(GgufReaderMalformedTest, TruncatedHeader) {
  GgufTempDir dir("trunc_header");
  const std::string bytes = small_writer().bytes();
  // Cut inside the first tensor info: after magic, version, counts, 2 keys and 20 bytes.
  const size_t header_end = bytes.find("token_embd.weight");
  ASSERT_NE(header_end, std::string::npos);
  const auto path = testing::write_gguf_bytes(dir.path() / "cut.gguf", bytes.substr(0, header_end + 20));
  expect_open_fails(path, {path.string(), "tensor 'token_embd.weight'", "truncated or corrupt"});
}

TEST(GgufReaderMalformedTest, CountsLargerThanTheFile) {
  GgufTempDir dir("counts");
  GgufTestWriter writer = small_writer();
  writer.tensor_count_override = 1ull << 60;
  const auto path = writer.write(dir.path() / "counts.gguf");
  expect_open_fails(path, {path.string(), "header declares 1,152,921,504,606,846,976 tensors"});
  writer.tensor_count_override.reset();
  writer.key_count_override = ~0ull;
  writer.write(path);
  expect_open_fails(path, {path.string(), "metadata keys"});
}

TEST(GgufReaderMalformedTest, StringLengthPastEndOfFile) {
  GgufTempDir dir("strlen");
  GgufTestWriter writer;
  std::string value;
  testing::append_le<uint64_t>(value, 1'000'000);  // claims a megabyte
  value += "gemma3";
  writer.kv_raw("general.architecture", static_cast<uint32_t>(TestValueType::string), value);
  const auto path = writer.write(dir.path() / "strlen.gguf");
  expect_open_fails(path,
                    {path.string(), "key 'general.architecture'", "length 1,000,000", "runs past the end of the file"});
}

TEST(GgufReaderMalformedTest, KeyLengthPastEndOfFile) {
  GgufTempDir dir("keylen");
  std::string bytes;
  testing::append_le<uint32_t>(bytes, 0x46554747);
  testing::append_le<uint32_t>(bytes, 3);
  testing::append_le<uint64_t>(bytes, 0);
  testing::append_le<uint64_t>(bytes, 1);
  testing::append_le<uint64_t>(bytes, 1ull << 62);
  bytes += "general.name and more";
  const auto path = testing::write_gguf_bytes(dir.path() / "keylen.gguf", bytes);
  expect_open_fails(path, {path.string(), "metadata key #0", "runs past the end of the file"});
}

TEST(GgufReaderMalformedTest, ArrayCountPastEndOfFile) {
  GgufTempDir dir("arraylen");
  GgufTestWriter writer;
  std::string value;
  testing::append_le<uint32_t>(value, static_cast<uint32_t>(TestValueType::string));
  testing::append_le<uint64_t>(value, 1ull << 40);
  writer.kv_raw("tokenizer.ggml.tokens", static_cast<uint32_t>(TestValueType::array), value);
  const auto path = writer.write(dir.path() / "arraylen.gguf");
  expect_open_fails(path, {path.string(), "key 'tokenizer.ggml.tokens'", "array of 1,099,511,627,776 string values"});
}

TEST(GgufReaderMalformedTest, UnknownValueType) {
  GgufTempDir dir("valtype");
  GgufTestWriter writer;
  writer.kv_raw("general.name", 13, "abcd");
  const auto path = writer.write(dir.path() / "valtype.gguf");
  expect_open_fails(path, {path.string(), "key 'general.name': unknown value type 13"});
}

TEST(GgufReaderMalformedTest, TensorDataPastEndOfFile) {
  GgufTempDir dir("trunc_data");
  const std::string bytes = small_writer().bytes();
  const auto path = testing::write_gguf_bytes(dir.path() / "cut.gguf", bytes.substr(0, bytes.size() - 4));
  const uint64_t size = bytes.size() - 4;
  expect_open_fails(path, {path.string(), "tensor 'blk.7.ffn_down.weight': data ends at byte " +
                                              std::to_string(size + 4) + " but the file has " + std::to_string(size) +
                                              " bytes; the file is truncated or corrupt"});
}

TEST(GgufReaderMalformedTest, MisalignedOffset) {
  GgufTempDir dir("misaligned");
  GgufTestWriter writer;
  writer.tensor("output_norm.weight", {8}, kF32, f32_bytes({1, 2, 3, 4, 5, 6, 7, 8}), 4);
  const auto path = writer.write(dir.path() / "misaligned.gguf");
  expect_open_fails(
      path, {path.string(), "tensor 'output_norm.weight': data offset 4 is not a multiple of the alignment 32"});
}

TEST(GgufReaderMalformedTest, OverlappingTensors) {
  GgufTempDir dir("overlap");
  GgufTestWriter writer;
  writer.tensor("a", {16}, kF32, std::string(64, '\0'), 0);
  writer.tensor("b", {8}, kF32, std::string(32, '\0'), 32);
  const auto path = writer.write(dir.path() / "overlap.gguf");
  expect_open_fails(path, {path.string(), "tensor 'b': data at offset 32 overlaps tensor 'a'"});
}

TEST(GgufReaderMalformedTest, Ne0NotDivisibleByBlock) {
  GgufTempDir dir("block");
  GgufTestWriter writer;
  writer.tensor("blk.0.attn_k.weight", {33, 1}, kQ8_0, std::string(34, '\0'));
  const auto path = writer.write(dir.path() / "block.gguf");
  expect_open_fails(
      path, {path.string(), "tensor 'blk.0.attn_k.weight': ne[0] = 33 is not a multiple of Q8_0's block size 32"});
}

TEST(GgufReaderMalformedTest, UnknownType) {
  GgufTempDir dir("type");
  GgufTestWriter writer;
  writer.tensor("token_embd.weight", {4}, 99, std::string(16, '\0'));
  const auto path = writer.write(dir.path() / "type.gguf");
  expect_open_fails(path, {path.string(), "tensor 'token_embd.weight': unknown ggml type id 99"});
}

TEST(GgufReaderMalformedTest, TooManyDimensions) {
  GgufTempDir dir("dims");
  GgufTestWriter writer;
  writer.tensor("x", {1, 1, 1, 1, 1}, kF32, std::string(4, '\0'));
  const auto path = writer.write(dir.path() / "dims.gguf");
  expect_open_fails(path, {path.string(), "tensor 'x': expected at most 4 dimensions, got 5"});
}

TEST(GgufReaderMalformedTest, ElementCountOverflow) {
  GgufTempDir dir("overflow");
  GgufTestWriter writer;
  writer.tensor("x", {1ull << 31, 1ull << 31}, kF32, "");  // 2^62 elements, 2^64 bytes
  const auto path = writer.write(dir.path() / "overflow.gguf");
  expect_open_fails(path, {path.string(), "tensor 'x': byte size overflows int64"});
  GgufTestWriter too_many;
  too_many.tensor("z", {1ull << 32, 1ull << 32}, kF32, "");
  too_many.write(path);
  expect_open_fails(path, {path.string(), "tensor 'z': element count overflows int64"});
  // Found by tests/fuzz/gguf_fuzz: one F32 row of 2^62 elements (fits int64)
  // has 2^64 bytes; the byte count used to wrap to 0 and pass the bounds check.
  GgufTestWriter long_row;
  long_row.tensor("w", {1ull << 62}, kF32, "");
  long_row.write(path);
  expect_open_fails(path, {path.string(), "tensor 'w': byte size overflows int64"});
  // Found by tests/fuzz/gguf_fuzz: a zero extent first made the checked
  // product 0, while numel() multiplies the other extents first and overflowed.
  GgufTestWriter empty_but_huge;
  empty_but_huge.tensor("e", {0, 1ull << 32, 1ull << 32}, kF32, "");
  empty_but_huge.write(path);
  expect_open_fails(path, {path.string(), "tensor 'e': element count overflows int64"});
  GgufTestWriter negative;
  negative.tensor("y", {~0ull}, kF32, "");
  negative.write(path);
  expect_open_fails(path, {path.string(), "tensor 'y': ne[0] = 18446744073709551615 is negative"});
}

TEST(GgufReaderMalformedTest, DuplicateKey) {
  GgufTempDir dir("dupkey");
  GgufTestWriter writer = small_writer();
  writer.kv_u32("llama.block_count", 3);
  const auto path = writer.write(dir.path() / "dupkey.gguf");
  expect_open_fails(path, {path.string(), "key 'llama.block_count': duplicate key (metadata entries #1 and #2)"});
}

TEST(GgufReaderMalformedTest, DuplicateTensor) {
  GgufTempDir dir("duptensor");
  GgufTestWriter writer = small_writer();
  writer.tensor("token_embd.weight", {4}, kF32, f32_bytes({1, 2, 3, 4}));
  const auto path = writer.write(dir.path() / "duptensor.gguf");
  expect_open_fails(path, {path.string(), "tensor 'token_embd.weight': duplicate tensor name"});
}

TEST(GgufReaderMalformedTest, AlignmentNotAPowerOfTwoOrNotU32) {
  GgufTempDir dir("align");
  GgufTestWriter writer = small_writer();
  writer.kv_u32("general.alignment", 48);
  const auto path = writer.write(dir.path() / "align.gguf");
  expect_open_fails(path, {path.string(), "key 'general.alignment': expected a power of two, got 48"});
  GgufTestWriter wrong_type = small_writer();
  wrong_type.kv_u64("general.alignment", 32);
  wrong_type.write(path);
  expect_open_fails(path, {path.string(), "key 'general.alignment': expected u32, got u64"});
}

TEST(GgufReaderMalformedTest, TensorNameTooLong) {
  GgufTempDir dir("name");
  GgufTestWriter writer;
  writer.tensor(std::string(65, 'x'), {1}, kF32, std::string(4, '\0'));
  const auto path = writer.write(dir.path() / "name.gguf");
  expect_open_fails(path, {path.string(), "tensor info #0: name", "65 bytes long, expected at most 64"});
}

TEST(GgufReaderMalformedTest, UnsupportedTypeFailsOnLoadNamingTensor) {
  GgufTempDir dir("iq2");
  GgufTestWriter writer;
  writer.tensor("blk.3.ffn_up.weight", {256}, kIq2Xxs, std::string(66, '\0'));
  const auto path = writer.write(dir.path() / "iq2.gguf");
  const formats::GgufReader reader = formats::GgufReader::open(path);  // sizes are known, so opening succeeds
  ASSERT_THROWS_WITH(reader.load_tensor("blk.3.ffn_up.weight"), FormatError,
                     path.string() + ": tensor 'blk.3.ffn_up.weight': ggml type IQ2_XXS (16) cannot be dequantized");
}

// ---- the real models (scripts/setup puts them in models/) ----------------------------

struct RealModel {
  const char* file;
  const char* architecture;
  size_t n_tensors;
  int64_t block_count;
  int64_t embedding_length;
  std::set<formats::GgmlType> types;
};

void check_real_model(const RealModel& model) {
  const std::filesystem::path path = std::filesystem::path(ABL_SOURCE_DIR) / "models" / model.file;
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/setup to download the test models";
  const formats::GgufReader reader = formats::GgufReader::open(path);
  const std::string arch = reader.get_string("general.architecture");
  EXPECT_EQ(arch, model.architecture);
  EXPECT_EQ(reader.get_int(arch + ".block_count"), model.block_count);
  EXPECT_EQ(reader.get_int(arch + ".embedding_length"), model.embedding_length);
  EXPECT_GT(reader.get_float(arch + ".attention.layer_norm_rms_epsilon"), 0.0);
  ASSERT_EQ(reader.tensors().size(), model.n_tensors);

  // spec §5.7.3: the vocabulary is the embedding's row count.
  const std::vector<std::string> tokens = reader.get_string_array("tokenizer.ggml.tokens");
  const formats::GgufTensorInfo& embd = reader.tensor_info("token_embd.weight");
  ASSERT_EQ(embd.shape.size(), 2u);
  EXPECT_EQ(embd.shape[0], static_cast<int64_t>(tokens.size()));
  EXPECT_EQ(embd.shape[1], model.embedding_length);
  if (const auto scores = reader.find_float_array("tokenizer.ggml.scores"); scores.has_value()) {
    EXPECT_EQ(scores->size(), tokens.size());  // SentencePiece vocabularies only
  }
  EXPECT_EQ(reader.get_int_array("tokenizer.ggml.token_type").size(), tokens.size());

  std::set<formats::GgmlType> types;
  for (const formats::GgufTensorInfo& info : reader.tensors()) {
    types.insert(info.type);
    const torch::Tensor values = reader.load_tensor(info.name);  // float32 [shape]
    ASSERT_EQ(values.sizes().vec(), info.shape) << info.name;
    const float max_abs = values.abs().max().item<float>();  // NaN or inf when any value is
    ASSERT_TRUE(std::isfinite(max_abs)) << info.name << " has non-finite values";
    EXPECT_LT(max_abs, 1e4f) << info.name;
    EXPECT_GT(max_abs, 0.0f) << info.name << " is all zeros";
    if (info.name == "token_embd.weight") {
      const double std = values.std().item<double>();
      EXPECT_GT(std, 0.001) << info.name;
      EXPECT_LT(std, 1.0) << info.name;
    }
  }
  EXPECT_EQ(types, model.types);
}

TEST(GgufRealModelTest, Gemma3_270mQ4KM) {
  check_real_model({"gemma-3-270m-q4_k_m.gguf",
                    "gemma3",
                    236,
                    18,
                    640,
                    {formats::GgmlType::f32, formats::GgmlType::q8_0, formats::GgmlType::q5_0, formats::GgmlType::q4_k,
                     formats::GgmlType::q6_k}});
}

TEST(GgufRealModelTest, SmolLm2_135mQ4_1) {
  check_real_model({"SmolLM2-135M-Instruct.Q4_1.gguf",
                    "llama",
                    272,
                    30,
                    576,
                    {formats::GgmlType::f32, formats::GgmlType::q8_0, formats::GgmlType::q4_1}});
}

}  // namespace
}  // namespace abliterate::model
