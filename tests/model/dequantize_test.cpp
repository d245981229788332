// ggml dequantization (spec/model-runtime.md §5.2-5.3): for each type, one
// block of seeded random bytes with chosen fp16 scales, decoded by
// dequantize() and compared with an independent per-element evaluation of the
// spec's formula written here in plain scalar form (in double precision, so
// the tolerance covers float rounding only).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/ggml_types.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

// IEEE binary16 by its definition: (-1)^s * 2^(e-15) * 1.m, or 2^-14 * 0.m
// for subnormals.
double reference_half(uint16_t bits) {
  const int sign = bits >> 15;
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  double magnitude = 0.0;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<double>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? INFINITY : NAN;
  } else {
    magnitude = std::ldexp(1.0 + mantissa / 1024.0, exponent - 15);
  }
  return sign != 0 ? -magnitude : magnitude;
}

std::vector<uint8_t> random_bytes(size_t n_bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> bytes(n_bytes);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(byte(rng));
  return bytes;
}

void put_half(std::vector<uint8_t>& bytes, size_t at, uint16_t bits) {
  bytes[at] = static_cast<uint8_t>(bits & 0xFF);
  bytes[at + 1] = static_cast<uint8_t>(bits >> 8);
}

std::vector<float> run(formats::GgmlType type, const std::vector<uint8_t>& bytes, size_t n_values) {
  std::vector<float> out(n_values);
  dequantize(type, bytes, out);
  return out;
}

// |got - expected| within float rounding of the terms that produced it.
void expect_close(const std::vector<float>& got, const std::vector<double>& expected,
                  const std::vector<double>& scale) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t k = 0; k < got.size(); ++k) {
    EXPECT_NEAR(got[k], expected[k], 1e-6 * scale[k] + 1e-30) << "value " << k;
  }
}

// Chosen scales: d ~ 0.2, m/dmin ~ 0.0625 and a subnormal to exercise fp16's low end.
constexpr uint16_t kD = 0x3266;
constexpr uint16_t kMin = 0x2C00;
constexpr uint16_t kSubnormal = 0x0003;

TEST(GgmlTypesTest, TableMatchesSpec) {
  struct Row {
    uint32_t id;
    const char* name;
    int64_t block;
    int64_t bytes;
  };
  // spec §5.2
  const Row rows[] = {{0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},
                      {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},    {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 36},
                      {10, "Q2_K", 256, 84},  {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
                      {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {20, "IQ4_NL", 32, 18}, {30, "BF16", 1, 2}};
  for (const Row& row : rows) {
    const formats::GgmlTypeTraits* traits = formats::find_ggml_type(row.id);
    ASSERT_NE(traits, nullptr) << row.name;
    EXPECT_STREQ(traits->name, row.name);
    EXPECT_EQ(traits->block_size, row.block) << row.name;
    EXPECT_EQ(traits->block_bytes, row.bytes) << row.name;
  }
  EXPECT_EQ(formats::find_ggml_type(4), nullptr);  // removed Q4_2
  EXPECT_EQ(formats::find_ggml_type(99), nullptr);
  EXPECT_STREQ(to_string(formats::GgmlType::iq4_xs), "IQ4_XS");
  EXPECT_EQ(formats::ggml_row_bytes(formats::GgmlType::q4_k, 1024), 4 * 144);
}

TEST(DequantizeTest, Fp16IncludesSubnormalsAndSpecials) {
  const uint16_t patterns[] = {0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xC000, 0x7BFF, 0x7C00, 0xFC00, 0x3555};
  for (uint16_t bits : patterns) {
    EXPECT_EQ(static_cast<double>(formats::fp16_to_fp32(bits)), reference_half(bits)) << std::hex << bits;
  }
  EXPECT_TRUE(std::isnan(formats::fp16_to_fp32(0x7E00)));
  EXPECT_TRUE(std::signbit(formats::fp16_to_fp32(0x8000)));
  EXPECT_EQ(formats::fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
}

TEST(DequantizeTest, F32F16Bf16) {
  const float f32_values[] = {1.5f, -2.25f, 1e-40f, 3.0e38f};
  std::vector<uint8_t> f32_bytes(sizeof(f32_values));
  std::memcpy(f32_bytes.data(), f32_values, sizeof(f32_values));
  const std::vector<float> f32 = run(formats::GgmlType::f32, f32_bytes, 4);
  for (size_t k = 0; k < 4; ++k) EXPECT_EQ(f32[k], f32_values[k]);

  const std::vector<uint8_t> f16_bytes = {0x01, 0x00, 0x00, 0x3C, 0xFF, 0x7B, 0x00, 0xC0};  // 2^-24, 1, 65504, -2
  EXPECT_EQ(run(formats::GgmlType::f16, f16_bytes, 4),
            (std::vector<float>{std::ldexp(1.0f, -24), 1.0f, 65504.0f, -2.0f}));

  // bf16 = upper half of an fp32: 0x3F80 -> 1.0, 0xC040 -> -3.0, 0x0001 -> fp32 bits 0x00010000.
  const std::vector<uint8_t> bf16_bytes = {0x80, 0x3F, 0x40, 0xC0, 0x01, 0x00};
  const std::vector<float> bf16 = run(formats::GgmlType::bf16, bf16_bytes, 3);
  EXPECT_EQ(bf16[0], 1.0f);
  EXPECT_EQ(bf16[1], -3.0f);
  uint32_t bits = 0;
  std::memcpy(&bits, &bf16[2], 4);
  EXPECT_EQ(bits, 0x00010000u);
}

TEST(DequantizeTest, Q8_0) {
  for (uint16_t d_bits : {kD, kSubnormal}) {
    std::vector<uint8_t> block = random_bytes(34, 1);
    put_half(block, 0, d_bits);
    const double d = reference_half(d_bits);
    std::vector<double> expected(32);
    std::vector<double> scale(32);
    for (int k = 0; k < 32; ++k) {
      expected[k] = d * static_cast<int8_t>(block[2 + k]);
      scale[k] = std::abs(expected[k]);
    }
    expect_close(run(formats::GgmlType::q8_0, block, 32), expected, scale);
  }
}

// The 4-bit value k of a 32-value block: low nibbles first, then high nibbles.
int nibble(const uint8_t* qs, int k) { return k < 16 ? (qs[k] & 15) : (qs[k - 16] >> 4); }

TEST(DequantizeTest, Q4_0) {
  std::vector<uint8_t> block = random_bytes(18, 2);
  put_half(block, 0, kD);
  const double d = reference_half(kD);
  std::vector<double> expected(32);
  std::vector<double> scale(32);
  for (int k = 0; k < 32; ++k) {
    expected[k] = d * (nibble(&block[2], k) - 8);
    scale[k] = std::abs(expected[k]);
  }
  expect_close(run(formats::GgmlType::q4_0, block, 32), expected, scale);
}

TEST(DequantizeTest, Q4_1) {
  std::vector<uint8_t> block = random_bytes(20, 3);
  put_half(block, 0, kD);
  put_half(block, 2, kMin);
  const double d = reference_half(kD);
  const double m = reference_half(kMin);
  std::vector<double> expected(32);
  std::vector<double> scale(32);
  for (int k = 0; k < 32; ++k) {
    expected[k] = d * nibble(&block[4], k) + m;
    scale[k] = std::abs(d * nibble(&block[4], k)) + std::abs(m);
  }
  expect_close(run(formats::GgmlType::q4_1, block, 32), expected, scale);
}

// The 5th bit of value k: bit k of the 4 qh bytes read as a little-endian u32.
int fifth_bit(const uint8_t* qh, int k) { return (qh[k / 8] >> (k % 8)) & 1; }

TEST(DequantizeTest, Q5_0) {
  std::vector<uint8_t> block = random_bytes(22, 4);
  put_half(block, 0, kD);
  const double d = reference_half(kD);
  std::vector<double> expected(32);
  std::vector<double> scale(32);
  for (int k = 0; k < 32; ++k) {
    const int q = nibble(&block[6], k) + 16 * fifth_bit(&block[2], k);
    expected[k] = d * (q - 16);
    scale[k] = std::abs(expected[k]);
  }
  expect_close(run(formats::GgmlType::q5_0, block, 32), expected, scale);
}

TEST(DequantizeTest, Q5_1) {
  std::vector<uint8_t> block = random_bytes(24, 5);
  put_half(block, 0, kD);
  put_half(block, 2, kMin);
  const double d = reference_half(kD);
  const double m = reference_half(kMin);
  std::vector<double> expected(32);
  std::vector<double> scale(32);
  for (int k = 0; k < 32; ++k) {
    const int q = nibble(&block[8], k) + 16 * fifth_bit(&block[4], k);
    expected[k] = d * q + m;
    scale[k] = std::abs(d * q) + std::abs(m);
  }
  expect_close(run(formats::GgmlType::q5_1, block, 32), expected, scale);
}

TEST(DequantizeTest, Iq4Nl) {
  const int table[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};  // spec §5.3
  std::vector<uint8_t> block = random_bytes(18, 6);
  put_half(block, 0, kD);
  const double d = reference_half(kD);
  std::vector<double> expected(32);
  std::vector<double> scale(32);
  for (int k = 0; k < 32; ++k) {
    expected[k] = d * table[nibble(&block[2], k)];
    scale[k] = std::abs(expected[k]);
  }
  expect_close(run(formats::GgmlType::iq4_nl, block, 32), expected, scale);
}

TEST(DequantizeTest, Q2_K) {
  // {u8 scales[16]; u8 qs[64]; d; dmin}
  std::vector<uint8_t> block = random_bytes(84, 7);
  put_half(block, 80, kD);
  put_half(block, 82, kMin);
  const double d = reference_half(kD);
  const double dmin = reference_half(kMin);
  std::vector<double> expected(256);
  std::vector<double> scale(256);
  for (int k = 0; k < 256; ++k) {
    const int half = k / 128;
    const int step = (k % 128) / 32;
    const int l = k % 32;
    const int q = (block[16 + 32 * half + l] >> (2 * step)) & 3;
    const int sc = block[8 * half + 2 * step + (l >= 16 ? 1 : 0)];
    expected[k] = d * (sc & 15) * q - dmin * (sc >> 4);
    scale[k] = std::abs(d * (sc & 15) * q) + std::abs(dmin * (sc >> 4));
  }
  expect_close(run(formats::GgmlType::q2_k, block, 256), expected, scale);
}

TEST(DequantizeTest, Q3_K) {
  // {u8 hmask[32]; u8 qs[64]; u8 scales[12]; d}
  std::vector<uint8_t> block = random_bytes(110, 8);
  put_half(block, 108, kD);
  const double d = reference_half(kD);
  const uint8_t* hmask = &block[0];
  const uint8_t* qs = &block[32];
  const uint8_t* packed = &block[96];
  int scales[16];
  for (int s = 0; s < 16; ++s) {
    const int low = s < 8 ? (packed[s] & 15) : (packed[s - 8] >> 4);
    const int high = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
    scales[s] = low + 16 * high - 32;
  }
  std::vector<double> expected(256);
  std::vector<double> scale(256);
  for (int k = 0; k < 256; ++k) {
    const int half = k / 128;
    const int step = (k % 128) / 32;
    const int l = k % 32;
    const int q2 = (qs[32 * half + l] >> (2 * step)) & 3;
    const bool high_bit = ((hmask[l] >> (4 * half + step)) & 1) != 0;
    const int q = q2 - (high_bit ? 0 : 4);
    expected[k] = d * scales[8 * half + 2 * step + (l >= 16 ? 1 : 0)] * q;
    scale[k] = std::abs(expected[k]);
  }
  expect_close(run(formats::GgmlType::q3_k, block, 256), expected, scale);
}

// The 6-bit scale and min of sub-block i of Q4_K/Q5_K (spec §5.3).
void k4_scale_min(const uint8_t* scales, int i, int* sc, int* mn) {
  if (i < 4) {
    *sc = scales[i] & 63;
    *mn = scales[i + 4] & 63;
  } else {
    *sc = (scales[i + 4] & 15) + 16 * (scales[i - 4] >> 6);
    *mn = (scales[i + 4] >> 4) + 16 * (scales[i] >> 6);
  }
}

TEST(DequantizeTest, Q4_K) {
  // {d; dmin; u8 scales[12]; u8 qs[128]}
  std::vector<uint8_t> block = random_bytes(144, 9);
  put_half(block, 0, kD);
  put_half(block, 2, kMin);
  const double d = reference_half(kD);
  const double dmin = reference_half(kMin);
  std::vector<double> expected(256);
  std::vector<double> scale(256);
  for (int k = 0; k < 256; ++k) {
    const int sub = k / 32;
    const int chunk = sub / 2;
    const int l = k % 32;
    const uint8_t byte = block[16 + 32 * chunk + l];
    const int q = sub % 2 == 0 ? (byte & 15) : (byte >> 4);
    int sc = 0;
    int mn = 0;
    k4_scale_min(&block[4], sub, &sc, &mn);
    expected[k] = d * sc * q - dmin * mn;
    scale[k] = std::abs(d * sc * q) + std::abs(dmin * mn);
  }
  expect_close(run(formats::GgmlType::q4_k, block, 256), expected, scale);
}

TEST(DequantizeTest, Q5_K) {
  // {d; dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}
  std::vector<uint8_t> block = random_bytes(176, 10);
  put_half(block, 0, kD);
  put_half(block, 2, kMin);
  const double d = reference_half(kD);
  const double dmin = reference_half(kMin);
  std::vector<double> expected(256);
  std::vector<double> scale(256);
  for (int k = 0; k < 256; ++k) {
    const int sub = k / 32;
    const int chunk = sub / 2;
    const int l = k % 32;
    const uint8_t byte = block[48 + 32 * chunk + l];
    const int low4 = sub % 2 == 0 ? (byte & 15) : (byte >> 4);
    const int q = low4 + 16 * ((block[16 + l] >> sub) & 1);
    int sc = 0;
    int mn = 0;
    k4_scale_min(&block[4], sub, &sc, &mn);
    expected[k] = d * sc * q - dmin * mn;
    scale[k] = std::abs(d * sc * q) + std::abs(dmin * mn);
  }
  expect_close(run(formats::GgmlType::q5_k, block, 256), expected, scale);
}

TEST(DequantizeTest, Q6_K) {
  // {u8 ql[128]; u8 qh[64]; i8 scales[16]; d}
  std::vector<uint8_t> block = random_bytes(210, 11);
  put_half(block, 208, kD);
  const double d = reference_half(kD);
  std::vector<double> expected(256);
  std::vector<double> scale(256);
  for (int k = 0; k < 256; ++k) {
    const int half = k / 128;
    const int quarter = (k % 128) / 32;
    const int l = k % 32;
    const uint8_t low_byte = block[64 * half + l + (quarter % 2 == 1 ? 32 : 0)];
    const int low4 = quarter < 2 ? (low_byte & 15) : (low_byte >> 4);
    const int high2 = (block[128 + 32 * half + l] >> (2 * quarter)) & 3;
    const int sc = static_cast<int8_t>(block[192 + 8 * half + l / 16 + 2 * quarter]);
    expected[k] = d * sc * (low4 + 16 * high2 - 32);
    scale[k] = std::abs(expected[k]);
  }
  expect_close(run(formats::GgmlType::q6_k, block, 256), expected, scale);
}

TEST(DequantizeTest, ManyBlocksSplitOverThreadsMatchOneByOne) {
  constexpr size_t kBlocks = 8192;  // 262,144 values: several parallel tasks
  std::vector<uint8_t> bytes = random_bytes(kBlocks * 34, 12);
  for (size_t block_idx = 0; block_idx < kBlocks; ++block_idx) put_half(bytes, block_idx * 34, kD);
  const std::vector<float> all = run(formats::GgmlType::q8_0, bytes, kBlocks * 32);
  const double d = reference_half(kD);
  for (size_t block_idx = 0; block_idx < kBlocks; block_idx += 1000) {
    for (size_t j = 0; j < 32; ++j) {
      EXPECT_FLOAT_EQ(all[block_idx * 32 + j],
                      static_cast<float>(d * static_cast<int8_t>(bytes[block_idx * 34 + 2 + j])));
    }
  }
}

TEST(DequantizeTest, UnsupportedTypeNamesIt) {
  std::vector<uint8_t> bytes(66);
  std::vector<float> out(256);
  ASSERT_THROWS_WITH(dequantize(formats::GgmlType::iq2_xxs, bytes, out), FormatError,
                     "ggml type IQ2_XXS (16) cannot be dequantized");
  std::vector<float> out_q8_1(32);
  ASSERT_THROWS_WITH(dequantize(formats::GgmlType::q8_1, std::vector<uint8_t>(36), out_q8_1), FormatError,
                     "supported: F32, F16, Q4_0");
}

TEST(DequantizeTest, SizeMismatchIsAnInternalError) {
  std::vector<float> out(32);
  ASSERT_THROWS_WITH(dequantize(formats::GgmlType::q8_0, std::vector<uint8_t>(33), out), InternalError,
                     "need 34 bytes");
  std::vector<float> ragged(33);
  ASSERT_THROWS_WITH(dequantize(formats::GgmlType::q8_0, std::vector<uint8_t>(34), ragged), InternalError, "blocks");
}

}  // namespace
}  // namespace abliterate::model
