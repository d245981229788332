// safetensors reader and writer (spec/model-runtime.md §4): a round trip, then
// one hand-built malformed file per failure mode, each error naming the file
// and, where there is one, the tensor.
#include <cstring>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/safetensors_reader.hpp"
#include "abliterate/formats/safetensors_writer.hpp"
#include "model/model_test_support.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::TempDir;

// A file from raw parts: the 8-byte length (`declared_header_size`, or the
// header's real size), the header text and `buffer_size` zero bytes.
std::filesystem::path write_raw(const TempDir& dir, const std::string& header, size_t buffer_size,
                                std::optional<uint64_t> declared_header_size = std::nullopt) {
  const auto path = dir.path() / "raw.safetensors";
  const uint64_t size = declared_header_size.value_or(header.size());
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &size, 8);
  bytes += header;
  bytes.append(buffer_size, '\0');
  testing::write_bytes(path, bytes);
  return path;
}

TEST(SafetensorsTest, RoundTripKeepsValuesDtypesAndShapes) {
  TempDir dir("st_roundtrip");
  torch::manual_seed(7);
  const torch::Tensor a = torch::randn({2, 3});                                 // float32 [2, 3]
  const torch::Tensor b = torch::randn({5}).to(torch::kBFloat16);               // bfloat16 [5]
  const torch::Tensor c = torch::scalar_tensor(1.5, torch::kFloat16);           // float16 []
  const torch::Tensor empty = torch::zeros({0, 4});                             // float32 [0, 4]
  const auto path = dir.path() / "x.safetensors";
  formats::write_safetensors(path, {{"a", a}, {"b", b}, {"c", c}, {"empty", empty}});

  const formats::SafetensorsReader reader = formats::SafetensorsReader::open(path);
  ASSERT_EQ(reader.tensors().size(), 4u);
  EXPECT_EQ(reader.metadata().at("format"), "pt");
  EXPECT_TRUE(torch::equal(reader.read("a"), a));
  EXPECT_TRUE(torch::equal(reader.read("b"), b));
  EXPECT_EQ(reader.read("b").scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(reader.read("c"), c));
  EXPECT_EQ(reader.read("c").dim(), 0);
  EXPECT_EQ(reader.read("empty").sizes(), empty.sizes());
  EXPECT_EQ(reader.find("b")->dtype, formats::SafetensorsDtype::bf16);
  EXPECT_EQ(reader.find("nope"), nullptr);

  // The writer pads the header so the buffer starts 8-aligned.
  uint64_t header_size = 0;
  std::memcpy(&header_size, testing::read_bytes(path).data(), 8);
  EXPECT_EQ(header_size % 8, 0u);
}

TEST(SafetensorsTest, ReadingAnAbsentTensorNamesIt) {
  TempDir dir("st_absent");
  const auto path = dir.path() / "x.safetensors";
  formats::write_safetensors(path, {{"a", torch::zeros({2})}});
  const formats::SafetensorsReader reader = formats::SafetensorsReader::open(path);
  ASSERT_THROWS_WITH(reader.read("nope"), FormatError, "tensor 'nope' not found");
}

TEST(SafetensorsTest, MissingFileIsIoErrorNamingThePath) {
  TempDir dir("st_missing");
  const auto path = dir.path() / "absent.safetensors";
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), IoError, path.string());
}

TEST(SafetensorsTest, TruncatedFileNamesTheTensorPastTheEnd) {
  TempDir dir("st_truncated");
  const auto path = dir.path() / "x.safetensors";
  formats::write_safetensors(path, {{"first", torch::zeros({4})}, {"second", torch::zeros({4})}});
  std::string bytes = testing::read_bytes(path);
  bytes.resize(bytes.size() - 3);
  testing::write_bytes(path, bytes);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError,
                     path.string() + ": tensor 'second': data ends at byte 32");
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError, "truncated");
}

TEST(SafetensorsTest, FileShorterThanTheLengthField) {
  TempDir dir("st_short");
  const auto path = dir.path() / "x.safetensors";
  testing::write_bytes(path, "abc");
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError, path.string() + ": the file has 3 bytes");
}

TEST(SafetensorsTest, HeaderLengthPastTheEndOfTheFile) {
  TempDir dir("st_header_big");
  const auto path = write_raw(dir, "{}", 0, /*declared_header_size=*/1000);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError,
                     path.string() + ": header length 1000 runs past the end of the file (10 bytes)");
}

TEST(SafetensorsTest, HeaderLengthOverTheLimit) {
  TempDir dir("st_header_limit");
  const auto path = write_raw(dir, "{}", 0, /*declared_header_size=*/200'000'000);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError, "header length 200000000 exceeds the limit");
}

TEST(SafetensorsTest, HeaderThatIsNotJson) {
  TempDir dir("st_not_json");
  const auto path = write_raw(dir, "{\"a\": ", 0);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError, path.string() + ": header is not valid JSON");
}

TEST(SafetensorsTest, OffsetsOutsideTheBuffer) {
  TempDir dir("st_offsets");
  const auto path = write_raw(dir, R"({"w": {"dtype": "F32", "shape": [250], "data_offsets": [0, 1000]}})", 16);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError,
                     path.string() + ": tensor 'w': data ends at byte 1000 of the buffer but the buffer has 16 bytes");
}

TEST(SafetensorsTest, ByteSizeDifferentFromShapeTimesItemSize) {
  TempDir dir("st_size");
  const auto path = write_raw(dir, R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})", 12);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError,
                     path.string() + ": tensor 'w': data_offsets [0, 12] span 12 bytes, expected 16");
}

TEST(SafetensorsTest, UnknownDtype) {
  TempDir dir("st_dtype");
  const auto path = write_raw(dir, R"({"w": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}})", 16);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError,
                     path.string() + ": tensor 'w': dtype 'I64' is not supported (expected F32, F16 or BF16)");
}

TEST(SafetensorsTest, NegativeShape) {
  TempDir dir("st_negative");
  const auto path = write_raw(dir, R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})", 0);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError,
                     "tensor 'w': shape [-1]: expected non-negative");
}

TEST(SafetensorsTest, DuplicateTensorName) {
  TempDir dir("st_duplicate");
  const auto path = write_raw(dir,
                              R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                              R"( "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                              8);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError, path.string() + ": tensor 'w' appears twice");
}

TEST(SafetensorsTest, HoleBetweenTensors) {
  TempDir dir("st_hole");
  const auto path = write_raw(dir,
                              R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                              R"( "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                              12);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError,
                     "tensor 'b': data starts at byte 8 but the previous tensor ends at byte 4");
}

TEST(SafetensorsTest, BufferLongerThanTheTensors) {
  TempDir dir("st_tail");
  const auto path = write_raw(dir, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 9);
  ASSERT_THROWS_WITH(formats::SafetensorsReader::open(path), FormatError,
                     "tensors cover 4 bytes but the buffer after the header has 9");
}

TEST(SafetensorsTest, WriterRejectsUnsupportedDtypeAndDuplicates) {
  TempDir dir("st_writer");
  const auto path = dir.path() / "x.safetensors";
  ASSERT_THROWS_WITH(formats::write_safetensors(path, {{"i", torch::zeros({2}, torch::kInt64)}}), InputError,
                     "tensor 'i'");
  ASSERT_THROWS_WITH(formats::write_safetensors(path, {{"a", torch::zeros({2})}, {"a", torch::zeros({2})}}), InputError,
                     "tensor 'a': duplicate");
}

}  // namespace
}  // namespace abliterate::model
