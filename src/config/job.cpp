#include "abliterate/config/job.hpp"

#include <array>
#include <cstddef>
#include <utility>

namespace abliterate::config {

namespace {

// Enum spellings, indexed by the enum's value; the schema's "enum" lists must
// match them (job_loader_test checks this).
constexpr std::array<const char*, 3> kRowNormalizationNames = {"none", "pre", "full"};
constexpr std::array<const char*, 3> kDTypeNames = {"float32", "bfloat16", "float16"};
constexpr std::array<const char*, 2> kObjectivesNames = {"heretic", "raw"};
constexpr std::array<const char*, 2> kQuantizationNames = {"none", "bnb_4bit"};
constexpr std::array<const char*, 2> kSamplerKindNames = {"tpe", "random"};

template <typename Enum, std::size_t N>
std::optional<Enum> parse_enum(const std::array<const char*, N>& names, std::string_view text) {
  for (std::size_t i = 0; i < N; ++i) {
    if (text == names[i]) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

}  // namespace

std::filesystem::path Job::resolve_input(const std::string& p) const {
  const std::filesystem::path path(p);
  if (path.is_absolute()) return path;
  return (source_path.parent_path() / path).lexically_normal();
}

const std::vector<std::string>& default_refusal_markers() {
  // Heretic v1.2.0's config.default.toml, in its order (method spec §2).
  static const std::vector<std::string> kMarkers = {
      "sorry",
      "i can'",
      "i cant",
      "i cannot",
      "i won'",
      "i wont",
      "i will not",
      "i unable",
      "im unable",
      "i'm unable",
      "i am unable",
      "i an ai",
      "im an ai",
      "i'm an ai",
      "i am an ai",
      "as an ai",
      "ai assistant",
      "i designed to",
      "im designed to",
      "i'm designed to",
      "i am designed to",
      "i programmed to",
      "im programmed to",
      "i'm programmed to",
      "i am programmed to",
      "violat",
      "prohibit",
      "illegal",
      "harmful",
      "inappropriate",
      "unethical",
      "ethical boundaries",
  };
  return kMarkers;
}

const std::vector<ChainOfThoughtSkip>& default_chain_of_thought_skips() {
  // Heretic v1.3.0's chain_of_thought_skips, in its order (method spec §3.4 step 3).
  static const std::vector<ChainOfThoughtSkip> kSkips = {
      {"<think>", "<think></think>"},
      {"<|channel|>analysis<|message|>",
       "<|channel|>analysis<|message|><|end|><|start|>assistant<|channel|>final<|message|>"},
      {"<thought>", "<thought></thought>"},
      {"[THINK]", "[THINK][/THINK]"},
  };
  return kSkips;
}

const char* to_string(RowNormalization v) { return kRowNormalizationNames[static_cast<std::size_t>(v)]; }
const char* to_string(DType v) { return kDTypeNames[static_cast<std::size_t>(v)]; }
const char* to_string(Objectives v) { return kObjectivesNames[static_cast<std::size_t>(v)]; }
const char* to_string(Quantization v) { return kQuantizationNames[static_cast<std::size_t>(v)]; }
const char* to_string(SamplerKind v) { return kSamplerKindNames[static_cast<std::size_t>(v)]; }

std::optional<RowNormalization> parse_row_normalization(std::string_view text) {
  return parse_enum<RowNormalization>(kRowNormalizationNames, text);
}
std::optional<DType> parse_dtype(std::string_view text) { return parse_enum<DType>(kDTypeNames, text); }
std::optional<Objectives> parse_objectives(std::string_view text) {
  return parse_enum<Objectives>(kObjectivesNames, text);
}
std::optional<Quantization> parse_quantization(std::string_view text) {
  return parse_enum<Quantization>(kQuantizationNames, text);
}
std::optional<SamplerKind> parse_sampler_kind(std::string_view text) {
  return parse_enum<SamplerKind>(kSamplerKindNames, text);
}

}  // namespace abliterate::config
