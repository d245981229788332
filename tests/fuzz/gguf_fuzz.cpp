// libFuzzer target: GgufFile (GgufReader below LibTorch) on arbitrary bytes.
// An input is either read (every metadata value decoded by the getter of its
// type, every tensor's bytes touched, small tensors dequantized as
// GgufReader::load_tensor does, the tokenizer built from the vocabulary keys
// when present) or refused with an abliterate::Error; any other exception,
// crash or sanitizer report is a bug. The file is a heap copy of exactly
// `size` bytes (MappedFile::copy_of), so AddressSanitizer catches any read
// past its end.
#include <ATen/Parallel.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/formats/ggml_types.hpp"
#include "abliterate/formats/gguf_file.hpp"
#include "abliterate/formats/mapped_file.hpp"
#include "abliterate/tokenizer/gguf_vocab.hpp"
#include "abliterate/tokenizer/tokenizer.hpp"

namespace formats = abliterate::formats;
using abliterate::formats::GgufFile;
using abliterate::formats::GgufValueType;
using abliterate::formats::MappedFile;

namespace {

// Dequantizing is the costly part; bigger tensors only have their bytes touched.
constexpr int64_t kMaxDequantizedElements = 1 << 16;

bool is_integer(formats::GgufValueType type) {
  switch (type) {
    case formats::GgufValueType::u8:
    case formats::GgufValueType::i8:
    case formats::GgufValueType::u16:
    case formats::GgufValueType::i16:
    case formats::GgufValueType::u32:
    case formats::GgufValueType::i32:
    case formats::GgufValueType::u64:
    case formats::GgufValueType::i64:
      return true;
    default:
      return false;
  }
}

// Each value through the getter that accepts its type; a wrong-type getter
// must throw FormatError, never misread.
void read_every_value(const formats::GgufFile& reader) {
  for (const auto& key : reader.keys()) {
    try {
      if (is_integer(key.type))
        (void)reader.get_int(key.key);
      else if (key.type == formats::GgufValueType::f32 || key.type == formats::GgufValueType::f64)
        (void)reader.get_float(key.key);
      else if (key.type == formats::GgufValueType::boolean)
        (void)reader.get_bool(key.key);
      else if (key.type == formats::GgufValueType::string)
        (void)reader.get_string(key.key);
      else if (key.array_type == formats::GgufValueType::string)
        (void)reader.get_string_array(key.key);
      else if (is_integer(key.array_type))
        (void)reader.get_int_array(key.key);
      else
        (void)reader.get_float_array(key.key);
    } catch (const abliterate::Error&) {
    }
    try {
      (void)reader.get_string(key.key);  // usually the wrong type
    } catch (const abliterate::Error&) {
    }
  }
}

void read_every_tensor(const formats::GgufFile& reader) {
  for (const auto& info : reader.tensors()) {
    const auto bytes = reader.tensor_bytes(info);
    volatile uint8_t sink = 0;
    if (!bytes.empty()) sink = bytes.front() ^ bytes.back();
    (void)sink;
    if (info.numel() > kMaxDequantizedElements) continue;
    std::vector<float> values(static_cast<size_t>(info.numel()));
    try {
      formats::dequantize(info.type, bytes, values);
    } catch (const abliterate::Error&) {
      // A type we do not dequantize.
    }
  }
}

// The tokenizer the loader builds (read_gguf_vocab, Tokenizer::from_gguf_vocab), when the file has one.
void build_tokenizer(const formats::GgufFile& reader) {
  if (!reader.has_key("tokenizer.ggml.model")) return;
  namespace tok = abliterate::tokenizer;
  const auto tokenizer = tok::Tokenizer::from_gguf_vocab(tok::read_gguf_vocab(reader));
  const auto ids = tokenizer.encode("Hello <|im_start|> w\xC3\xB6rld \xF0\x9F\x98\x80 \xFF 123");
  (void)tokenizer.decode(ids, /*skip_special=*/false);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  at::set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const formats::GgufFile reader = formats::GgufFile::open("fuzz.gguf", formats::MappedFile::copy_of(data, size));
    read_every_value(reader);
    read_every_tensor(reader);
    build_tokenizer(reader);
  } catch (const abliterate::Error&) {
    // A refused file.
  }
  return 0;
}
