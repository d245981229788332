// ggml tensor types as stored in GGUF files (spec/model-runtime.md §5.2) and
// their dequantization to float32 (§5.3).
//
// One table holds every type id ggml has defined (name, block size, bytes per
// block), so the GGUF reader can size and bounds-check any tensor, including
// those whose values we cannot decode. Only the types in §5.3 dequantize; the
// others are rejected with their name when a tensor of that type is loaded.
//
// Everything here is a pure function of its arguments; safe from any thread.
#pragma once

#include <cstdint>
#include <span>

namespace abliterate::formats {

// ggml's `enum ggml_type` ids (as of gguf-py 0.17). The gaps (4, 5, 31..33, 36..38) are ids ggml
// removed; a file using them is rejected as an unknown type.
enum class GgmlType : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
  nvfp4 = 40,
  q1_0 = 41,
};

// One row of ggml's type_traits table.
struct GgmlTypeTraits {
  GgmlType type;
  const char* name;       // ggml's spelling: "Q4_K", "BF16", ...
  int64_t block_size;     // elements per block; blocks run along ne[0]
  int64_t block_bytes;    // bytes per block on disk
  bool is_dequantizable;  // dequantize() implements it (spec §5.3)
};

// The traits of type id `id`, or nullptr when ggml defines no such id (the
// caller names the tensor in its error).
const GgmlTypeTraits* find_ggml_type(uint32_t id);

// The traits of a known type (never null).
const GgmlTypeTraits& ggml_type_traits(GgmlType type);

// ggml's name of `type`, e.g. "Q6_K".
const char* to_string(GgmlType type);

// The bytes that `n_elements` values of `type` occupy. Precondition:
// n_elements is a multiple of the block size and the result fits in int64
// (the reader checks both before calling).
int64_t ggml_row_bytes(GgmlType type, int64_t n_elements);

// IEEE binary16 -> float32, subnormals, infinities and NaN included.
float fp16_to_fp32(uint16_t bits);

// bfloat16 -> float32: the 16 bits are the upper half of an fp32.
float bf16_to_fp32(uint16_t bits);

// Decodes `out.size()` values of `type` from `bytes` (little-endian blocks,
// spec §5.3), in the order ggml stores them. Rounding follows ggml's
// dequantize_row_* so results match llama.cpp bit for bit.
// Throws FormatError "ggml type IQ2_XXS (16) cannot be dequantized; supported: ..."
// for a type not in §5.3, and InternalError when out.size() is not a whole
// number of blocks or bytes.size() is not exactly their byte size (the caller
// validated the tensor; the caller adds file and tensor to the message).
// Large inputs are split over torch's intra-op thread pool.
void dequantize(GgmlType type, std::span<const uint8_t> bytes, std::span<float> out);

}  // namespace abliterate::formats
