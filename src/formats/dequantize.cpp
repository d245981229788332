// ggml type table and dequantization: see include/abliterate/formats/ggml_types.hpp
// and spec/model-runtime.md §5.2-5.3. Each block decoder mirrors ggml's
// dequantize_row_* (ggml-quants.c), including its order of float operations,
// so that our weights equal llama.cpp's bit for bit.
#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <string>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/ggml_types.hpp"

namespace abliterate::formats {

// Blocks are read with memcpy from little-endian bytes.
static_assert(std::endian::native == std::endian::little, "GGUF dequantization assumes a little-endian host");

namespace {

// ggml's type_traits (ggml.c): block size and bytes per block of every id it
// has ever kept, checked against gguf-py's GGML_QUANT_SIZES (which still
// lists Q8_1 with float scales, 40 bytes; ggml's block_q8_1 is 36, spec §5.2).
// The K-quants' super-block is QK_K = 256 values.
constexpr int64_t kQk = 256;
constexpr std::array<GgmlTypeTraits, 34> kTypeTable = {{
    {GgmlType::f32, "F32", 1, 4, true},
    {GgmlType::f16, "F16", 1, 2, true},
    {GgmlType::q4_0, "Q4_0", 32, 18, true},
    {GgmlType::q4_1, "Q4_1", 32, 20, true},
    {GgmlType::q5_0, "Q5_0", 32, 22, true},
    {GgmlType::q5_1, "Q5_1", 32, 24, true},
    {GgmlType::q8_0, "Q8_0", 32, 34, true},
    {GgmlType::q8_1, "Q8_1", 32, 36, false},
    {GgmlType::q2_k, "Q2_K", kQk, 84, true},
    {GgmlType::q3_k, "Q3_K", kQk, 110, true},
    {GgmlType::q4_k, "Q4_K", kQk, 144, true},
    {GgmlType::q5_k, "Q5_K", kQk, 176, true},
    {GgmlType::q6_k, "Q6_K", kQk, 210, true},
    {GgmlType::q8_k, "Q8_K", kQk, 292, false},
    {GgmlType::iq2_xxs, "IQ2_XXS", kQk, 66, false},
    {GgmlType::iq2_xs, "IQ2_XS", kQk, 74, false},
    {GgmlType::iq3_xxs, "IQ3_XXS", kQk, 98, false},
    {GgmlType::iq1_s, "IQ1_S", kQk, 50, false},
    {GgmlType::iq4_nl, "IQ4_NL", 32, 18, true},
    {GgmlType::iq3_s, "IQ3_S", kQk, 110, false},
    {GgmlType::iq2_s, "IQ2_S", kQk, 82, false},
    {GgmlType::iq4_xs, "IQ4_XS", kQk, 136, false},
    {GgmlType::i8, "I8", 1, 1, false},
    {GgmlType::i16, "I16", 1, 2, false},
    {GgmlType::i32, "I32", 1, 4, false},
    {GgmlType::i64, "I64", 1, 8, false},
    {GgmlType::f64, "F64", 1, 8, false},
    {GgmlType::iq1_m, "IQ1_M", kQk, 56, false},
    {GgmlType::bf16, "BF16", 1, 2, true},
    {GgmlType::tq1_0, "TQ1_0", kQk, 54, false},
    {GgmlType::tq2_0, "TQ2_0", kQk, 66, false},
    {GgmlType::mxfp4, "MXFP4", 32, 17, false},
    {GgmlType::nvfp4, "NVFP4", 64, 36, false},
    {GgmlType::q1_0, "Q1_0", 128, 18, false},
}};

// The non-linear 4-bit code book of IQ4_NL (ggml-common.h kvalues_iq4nl).
constexpr std::array<int8_t, 16> kIq4NlValues = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                 1,    13,   25,  38,  53,  69,  89,  113};

uint16_t read_u16(const uint8_t* p) {
  uint16_t value = 0;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

uint32_t read_u32(const uint8_t* p) {
  uint32_t value = 0;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

float read_half(const uint8_t* p) { return fp16_to_fp32(read_u16(p)); }

// ---- 32-value blocks (spec §5.3) -------------------------------------------

// {d; i8 qs[32]}
void block_q8_0(const uint8_t* x, float* y) {
  const float d = read_half(x);
  const uint8_t* qs = x + 2;
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(qs[j])) * d;
}

// {d; u8 qs[16]}: low nibbles are values 0..15, high nibbles 16..31.
void block_q4_0(const uint8_t* x, float* y) {
  const float d = read_half(x);
  const uint8_t* qs = x + 2;
  for (int j = 0; j < 16; ++j) {
    const int x0 = (qs[j] & 0x0F) - 8;
    const int x1 = (qs[j] >> 4) - 8;
    y[j] = static_cast<float>(x0) * d;
    y[j + 16] = static_cast<float>(x1) * d;
  }
}

// {d; m; u8 qs[16]}
void block_q4_1(const uint8_t* x, float* y) {
  const float d = read_half(x);
  const float m = read_half(x + 2);
  const uint8_t* qs = x + 4;
  for (int j = 0; j < 16; ++j) {
    const int x0 = qs[j] & 0x0F;
    const int x1 = qs[j] >> 4;
    y[j] = static_cast<float>(x0) * d + m;
    y[j + 16] = static_cast<float>(x1) * d + m;
  }
}

// {d; u8 qh[4]; u8 qs[16]}: bit j of qh (as u32) is the 5th bit of value j.
void block_q5_0(const uint8_t* x, float* y) {
  const float d = read_half(x);
  const uint32_t qh = read_u32(x + 2);
  const uint8_t* qs = x + 6;
  for (int j = 0; j < 16; ++j) {
    const uint32_t xh_0 = ((qh >> j) << 4) & 0x10;
    const uint32_t xh_1 = (qh >> (j + 12)) & 0x10;
    const int x0 = static_cast<int>((qs[j] & 0x0Fu) | xh_0) - 16;
    const int x1 = static_cast<int>((qs[j] >> 4) | xh_1) - 16;
    y[j] = static_cast<float>(x0) * d;
    y[j + 16] = static_cast<float>(x1) * d;
  }
}

// {d; m; u8 qh[4]; u8 qs[16]}
void block_q5_1(const uint8_t* x, float* y) {
  const float d = read_half(x);
  const float m = read_half(x + 2);
  const uint32_t qh = read_u32(x + 4);
  const uint8_t* qs = x + 8;
  for (int j = 0; j < 16; ++j) {
    const uint32_t xh_0 = ((qh >> j) << 4) & 0x10;
    const uint32_t xh_1 = (qh >> (j + 12)) & 0x10;
    const int x0 = static_cast<int>((qs[j] & 0x0Fu) | xh_0);
    const int x1 = static_cast<int>((qs[j] >> 4) | xh_1);
    y[j] = static_cast<float>(x0) * d + m;
    y[j + 16] = static_cast<float>(x1) * d + m;
  }
}

// {d; u8 qs[16]}: like Q4_0 with a code book instead of "- 8".
void block_iq4_nl(const uint8_t* x, float* y) {
  const float d = read_half(x);
  const uint8_t* qs = x + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(kIq4NlValues[qs[j] & 0x0F]);
    y[j + 16] = d * static_cast<float>(kIq4NlValues[qs[j] >> 4]);
  }
}

// ---- 256-value K-quant super-blocks (spec §5.3) ----------------------------

// {u8 scales[16]; u8 qs[64]; d; dmin}
void block_q2_k(const uint8_t* x, float* y) {
  const uint8_t* scales = x;
  const uint8_t* q = x + 16;
  const float d = read_half(x + 80);
  const float min = read_half(x + 82);
  int is = 0;
  for (int n = 0; n < 2; ++n) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      uint8_t sc = scales[is++];
      float dl = d * static_cast<float>(sc & 0x0F);
      float ml = min * static_cast<float>(sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l] >> shift) & 3) - ml;
      sc = scales[is++];
      dl = d * static_cast<float>(sc & 0x0F);
      ml = min * static_cast<float>(sc >> 4);
      for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((q[l + 16] >> shift) & 3) - ml;
      shift += 2;
    }
    q += 32;
  }
}

// {u8 hmask[32]; u8 qs[64]; u8 scales[12]; d}
void block_q3_k(const uint8_t* x, float* y) {
  const uint8_t* hmask = x;
  const uint8_t* q = x + 32;
  const uint8_t* packed = x + 96;
  const float d_all = read_half(x + 108);

  // 16 signed 6-bit scales: low nibbles in bytes 0..7 (low then high half),
  // the top two bits in bytes 8..11, two bits per group of four.
  std::array<int, 16> scales{};
  for (int s = 0; s < 16; ++s) {
    const int group = s / 4;
    const int lane = s % 4;
    const int low = group < 2 ? (packed[s] & 0x0F) : (packed[s - 8] >> 4);
    const int high = (packed[8 + lane] >> (2 * group)) & 3;
    scales[s] = (low | (high << 4)) - 32;
  }

  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < 2; ++n) {
    int shift = 0;
    for (int j = 0; j < 4; ++j) {
      float dl = d_all * static_cast<float>(scales[is++]);
      for (int l = 0; l < 16; ++l) {
        const int value = ((q[l] >> shift) & 3) - ((hmask[l] & m) != 0 ? 0 : 4);
        *y++ = dl * static_cast<float>(value);
      }
      dl = d_all * static_cast<float>(scales[is++]);
      for (int l = 0; l < 16; ++l) {
        const int value = ((q[l + 16] >> shift) & 3) - ((hmask[l + 16] & m) != 0 ? 0 : 4);
        *y++ = dl * static_cast<float>(value);
      }
      shift += 2;
      m = static_cast<uint8_t>(m << 1);
    }
    q += 32;
  }
}

// The 6-bit scale and min of sub-block j of Q4_K/Q5_K (ggml get_scale_min_k4).
void scale_min_k4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// {d; dmin; u8 scales[12]; u8 qs[128]}
void block_q4_k(const uint8_t* x, float* y) {
  const float d = read_half(x);
  const float min = read_half(x + 2);
  const uint8_t* scales = x + 4;
  const uint8_t* q = x + 16;
  int is = 0;
  for (int chunk = 0; chunk < 4; ++chunk) {
    uint8_t sc = 0;
    uint8_t m = 0;
    scale_min_k4(is, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = min * static_cast<float>(m);
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = min * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0F) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    q += 32;
    is += 2;
  }
}

// {d; dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}
void block_q5_k(const uint8_t* x, float* y) {
  const float d = read_half(x);
  const float min = read_half(x + 2);
  const uint8_t* scales = x + 4;
  const uint8_t* qh = x + 16;
  const uint8_t* ql = x + 48;
  int is = 0;
  uint8_t u1 = 1;
  uint8_t u2 = 2;
  for (int chunk = 0; chunk < 4; ++chunk) {
    uint8_t sc = 0;
    uint8_t m = 0;
    scale_min_k4(is, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = min * static_cast<float>(m);
    scale_min_k4(is + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = min * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      *y++ = d1 * static_cast<float>((ql[l] & 0x0F) + ((qh[l] & u1) != 0 ? 16 : 0)) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - m2;
    }
    ql += 32;
    is += 2;
    u1 = static_cast<uint8_t>(u1 << 2);
    u2 = static_cast<uint8_t>(u2 << 2);
  }
}

// {u8 ql[128]; u8 qh[64]; i8 scales[16]; d}
void block_q6_k(const uint8_t* x, float* y) {
  const uint8_t* ql = x;
  const uint8_t* qh = x + 128;
  const uint8_t* sc_bytes = x + 192;
  const float d = read_half(x + 208);
  for (int n = 0; n < 2; ++n) {
    const auto sc = [&](int i) { return static_cast<float>(static_cast<int8_t>(sc_bytes[i])); };
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc(is + 0) * static_cast<float>(q1);
      y[l + 32] = d * sc(is + 2) * static_cast<float>(q2);
      y[l + 64] = d * sc(is + 4) * static_cast<float>(q3);
      y[l + 96] = d * sc(is + 6) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc_bytes += 8;
  }
}

// ---- one element per "block" -------------------------------------------------

void block_f32(const uint8_t* x, float* y) { std::memcpy(y, x, sizeof(float)); }
void block_f16(const uint8_t* x, float* y) { *y = read_half(x); }
void block_bf16(const uint8_t* x, float* y) { *y = bf16_to_fp32(read_u16(x)); }

using BlockDecoder = void (*)(const uint8_t*, float*);

BlockDecoder block_decoder(GgmlType type) {
  switch (type) {
    case GgmlType::f32:
      return block_f32;
    case GgmlType::f16:
      return block_f16;
    case GgmlType::bf16:
      return block_bf16;
    case GgmlType::q8_0:
      return block_q8_0;
    case GgmlType::q4_0:
      return block_q4_0;
    case GgmlType::q4_1:
      return block_q4_1;
    case GgmlType::q5_0:
      return block_q5_0;
    case GgmlType::q5_1:
      return block_q5_1;
    case GgmlType::iq4_nl:
      return block_iq4_nl;
    case GgmlType::q2_k:
      return block_q2_k;
    case GgmlType::q3_k:
      return block_q3_k;
    case GgmlType::q4_k:
      return block_q4_k;
    case GgmlType::q5_k:
      return block_q5_k;
    case GgmlType::q6_k:
      return block_q6_k;
    default:
      return nullptr;
  }
}

std::string supported_type_names() {
  std::string names;
  for (const GgmlTypeTraits& traits : kTypeTable) {
    if (!traits.is_dequantizable) continue;
    if (!names.empty()) names += ", ";
    names += traits.name;
  }
  return names;
}

// Elements per parallel task: large enough that a task is not dominated by
// scheduling, small enough to spread a 640x262144 embedding over the pool.
constexpr int64_t kGrainElements = 1 << 16;

}  // namespace

const GgmlTypeTraits* find_ggml_type(uint32_t id) {
  for (const GgmlTypeTraits& traits : kTypeTable) {
    if (static_cast<uint32_t>(traits.type) == id) return &traits;
  }
  return nullptr;
}

const GgmlTypeTraits& ggml_type_traits(GgmlType type) {
  const GgmlTypeTraits* traits = find_ggml_type(static_cast<uint32_t>(type));
  ABL_ASSERT(traits != nullptr, "ggml type id {} is not in the type table", static_cast<uint32_t>(type));
  return *traits;
}

const char* to_string(GgmlType type) {
  const GgmlTypeTraits* traits = find_ggml_type(static_cast<uint32_t>(type));
  return traits != nullptr ? traits->name : "?";
}

int64_t ggml_row_bytes(GgmlType type, int64_t n_elements) {
  const GgmlTypeTraits& traits = ggml_type_traits(type);
  return n_elements / traits.block_size * traits.block_bytes;
}

float fp16_to_fp32(uint16_t bits) { return c10::detail::fp16_ieee_to_fp32_value(bits); }

float bf16_to_fp32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

void dequantize(GgmlType type, std::span<const uint8_t> bytes, std::span<float> out) {
  const GgmlTypeTraits& traits = ggml_type_traits(type);
  const BlockDecoder decode = block_decoder(type);
  ABL_CHECK(decode != nullptr, FormatError, "ggml type {} ({}) cannot be dequantized; supported: {}", traits.name,
            static_cast<uint32_t>(type), supported_type_names());
  const auto n_elements = static_cast<int64_t>(out.size());
  ABL_ASSERT(n_elements % traits.block_size == 0, "{} values of {} are not a whole number of {}-value blocks",
             n_elements, traits.name, traits.block_size);
  const int64_t n_blocks = n_elements / traits.block_size;
  ABL_ASSERT(static_cast<int64_t>(bytes.size()) == n_blocks * traits.block_bytes,
             "{} blocks of {} need {} bytes, got {}", n_blocks, traits.name, n_blocks * traits.block_bytes,
             bytes.size());
  if (n_blocks == 0) return;  // an empty tensor: its spans may hold null pointers, which memcpy must not see
  const uint8_t* src = bytes.data();
  float* dst = out.data();
  if (type == GgmlType::f32) {
    std::memcpy(dst, src, bytes.size());
    return;
  }
  const int64_t grain_blocks = std::max<int64_t>(1, kGrainElements / traits.block_size);
  at::parallel_for(0, n_blocks, grain_blocks, [&](int64_t begin, int64_t end) {
    for (int64_t block_idx = begin; block_idx < end; ++block_idx) {
      decode(src + block_idx * traits.block_bytes, dst + block_idx * traits.block_size);
    }
  });
}

}  // namespace abliterate::formats
