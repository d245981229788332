// Normalizer, PreTokenizer, TokenDecoder: see
// include/abliterate/tokenizer/tokenizer_pipeline.hpp and spec/model-runtime.md §6.2.
// Each step reproduces the tokenizers library's step of the same name.
#include "abliterate/tokenizer/tokenizer_pipeline.hpp"

#include "abliterate/common/error.hpp"
#include "abliterate/common/utf8.hpp"
#include "abliterate/tokenizer/byte_level.hpp"

namespace abliterate::tokenizer {

namespace {

using nlohmann::json;

std::string step_type(const json& step, const std::string& file, const char* stage) {
  ABL_CHECK(step.is_object() && step.contains("type") && step.at("type").is_string(), FormatError,
            "{}: {}: expected an object with a string 'type', got {}", file, stage, step.dump());
  return step.at("type").get<std::string>();
}

// A "pattern" of {"String": literal}; {"Regex": ...} belongs to byte-level tokenizers (later work).
std::string literal_pattern(const json& step, const std::string& file, const char* stage) {
  ABL_CHECK(step.contains("pattern") && step.at("pattern").is_object(), FormatError,
            "{}: {}: expected a 'pattern' object, got {}", file, stage, step.dump());
  const json& pattern = step.at("pattern");
  ABL_CHECK(!pattern.contains("Regex"), FormatError, "{}: {}: regex patterns are not supported in this step", file,
            stage);
  ABL_CHECK(pattern.contains("String") && pattern.at("String").is_string(), FormatError,
            "{}: {}: expected pattern {{\"String\": ...}}, got {}", file, stage, pattern.dump());
  return pattern.at("String").get<std::string>();
}

std::string string_field(const json& step, const char* key, const std::string& file, const char* stage) {
  ABL_CHECK(step.contains(key) && step.at(key).is_string(), FormatError, "{}: {}: expected a string '{}', got {}",
            file, stage, key, step.dump());
  return step.at(key).get<std::string>();
}

void replace_all(std::string& text, const std::string& pattern, const std::string& content) {
  if (pattern.empty()) return;
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = text.find(pattern, pos);
    if (hit == std::string::npos) break;
    out.append(text, pos, hit - pos);
    out.append(content);
    pos = hit + pattern.size();
  }
  out.append(text, pos, std::string::npos);
  text = std::move(out);
}

// Flattens a "Sequence" into its member steps, recursively.
template <typename Fn>
void for_each_step(const json& config, const char* list_key, const std::string& file, const char* stage, Fn&& fn) {
  if (config.is_null()) return;
  const std::string type = step_type(config, file, stage);
  if (type == "Sequence") {
    ABL_CHECK(config.contains(list_key) && config.at(list_key).is_array(), FormatError,
              "{}: {}: Sequence needs a '{}' list", file, stage, list_key);
    for (const json& member : config.at(list_key)) for_each_step(member, list_key, file, stage, fn);
    return;
  }
  fn(type, config);
}

// The byte of a "<0xXX>" token, or -1.
int byte_token_value(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = token[i];
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

}  // namespace

// --- Normalizer -------------------------------------------------------------

Normalizer Normalizer::from_json(const json& config, const std::string& file) {
  Normalizer normalizer;
  for_each_step(config, "normalizers", file, "normalizer", [&](const std::string& type, const json& step) {
    if (type == "Replace") {
      normalizer.steps_.push_back(
          Step{Step::Kind::replace, literal_pattern(step, file, "normalizer Replace"),
               string_field(step, "content", file, "normalizer Replace")});
    } else if (type == "Prepend") {
      normalizer.steps_.push_back(Step{Step::Kind::prepend, "", string_field(step, "prepend", file, "normalizer Prepend")});
    } else {
      throw FormatError(fmt::format("{}: normalizer type '{}' is not supported yet (supported: Replace, Prepend, "
                                    "Sequence)", file, type));
    }
  });
  return normalizer;
}

std::string Normalizer::apply(std::string_view text) const {
  std::string out(text);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::replace: replace_all(out, step.pattern, step.content); break;
      case Step::Kind::prepend:
        if (!out.empty()) out.insert(0, step.content);  // tokenizers' Prepend leaves empty text alone
        break;
    }
  }
  return out;
}

// --- PreTokenizer -----------------------------------------------------------

PreTokenizer PreTokenizer::from_json(const json& config, const std::string& file) {
  PreTokenizer pre_tokenizer;
  for_each_step(config, "pretokenizers", file, "pre_tokenizer", [&](const std::string& type, const json& step) {
    // ByteLevel maps bytes to characters: a later step would split the mapped text, which no model we load does.
    ABL_CHECK(!pre_tokenizer.byte_level_, FormatError,
              "{}: pre_tokenizer: '{}' after ByteLevel is not supported (expected ByteLevel last)", file, type);
    if (type == "Digits") {
      const bool individual = step.contains("individual_digits") && step.at("individual_digits").is_boolean() &&
                              step.at("individual_digits").get<bool>();
      // tokenizers' Digits: Rust char::is_numeric (categories Nd, Nl, No = \p{N}), isolated.
      pre_tokenizer.steps_.push_back(
          Step{"", SplitBehavior::isolated,
               std::make_shared<RegexSplitter>(individual ? R"(\p{N})" : R"(\p{N}+)", file + ": pre_tokenizer Digits")});
      return;
    }
    if (type == "ByteLevel") {
      ABL_CHECK(!(step.contains("add_prefix_space") && step.at("add_prefix_space").is_boolean() &&
                  step.at("add_prefix_space").get<bool>()),
                FormatError, "{}: pre_tokenizer ByteLevel: add_prefix_space=true is not supported (expected false)",
                file);
      const bool use_regex = !step.contains("use_regex") || !step.at("use_regex").is_boolean() ||
                             step.at("use_regex").get<bool>();  // the library's default is true
      if (use_regex) {
        pre_tokenizer.steps_.push_back(Step{"", SplitBehavior::isolated,
                                            std::make_shared<RegexSplitter>(std::string(kGpt2SplitRegex),
                                                                            file + ": pre_tokenizer ByteLevel")});
      }
      pre_tokenizer.byte_level_ = true;
      return;
    }
    ABL_CHECK(type == "Split", FormatError,
              "{}: pre_tokenizer type '{}' is not supported yet (supported: Split, Digits, ByteLevel, Sequence)", file,
              type);
    ABL_CHECK(!step.contains("invert") || !step.at("invert").is_boolean() || !step.at("invert").get<bool>(),
              FormatError, "{}: pre_tokenizer Split: invert=true is not supported", file);
    const std::string behavior = string_field(step, "behavior", file, "pre_tokenizer Split");
    SplitBehavior kind;
    if (behavior == "Removed") kind = SplitBehavior::removed;
    else if (behavior == "Isolated") kind = SplitBehavior::isolated;
    else if (behavior == "MergedWithPrevious") kind = SplitBehavior::merged_with_previous;
    else if (behavior == "MergedWithNext") kind = SplitBehavior::merged_with_next;
    else if (behavior == "Contiguous") kind = SplitBehavior::contiguous;
    else
      throw FormatError(fmt::format("{}: pre_tokenizer Split: unknown behavior '{}'", file, behavior));
    if (step.contains("pattern") && step.at("pattern").is_object() && step.at("pattern").contains("Regex")) {
      const json& regex = step.at("pattern").at("Regex");
      ABL_CHECK(regex.is_string(), FormatError, "{}: pre_tokenizer Split: expected pattern {{\"Regex\": string}}, got {}",
                file, step.at("pattern").dump());
      pre_tokenizer.steps_.push_back(
          Step{"", kind, std::make_shared<RegexSplitter>(regex.get<std::string>(), file + ": pre_tokenizer Split")});
      return;
    }
    pre_tokenizer.steps_.push_back(Step{literal_pattern(step, file, "pre_tokenizer Split"), kind, nullptr});
  });
  return pre_tokenizer;
}

PreTokenizer PreTokenizer::from_regexes(const std::vector<std::string_view>& patterns, bool byte_level,
                                        const std::string& where) {
  PreTokenizer pre_tokenizer;
  for (const std::string_view pattern : patterns) {
    pre_tokenizer.steps_.push_back(
        Step{"", SplitBehavior::isolated, std::make_shared<RegexSplitter>(std::string(pattern), where)});
  }
  pre_tokenizer.byte_level_ = byte_level;
  return pre_tokenizer;
}

void PreTokenizer::split_step(const Step& step, std::string_view text, std::vector<std::string_view>& out) {
  if (step.regex == nullptr && step.pattern.empty()) {
    out.push_back(text);
    return;
  }
  // (begin, end, is_match) runs covering `text`, as tokenizers' split_with_behavior sees them.
  struct Run {
    size_t begin, end;
    bool is_match;
  };
  std::vector<Run> runs;
  size_t pos = 0;
  if (step.regex != nullptr) {
    for (const auto& [begin, end] : step.regex->find_all(text)) {
      if (begin > pos) runs.push_back(Run{pos, begin, false});
      runs.push_back(Run{begin, end, true});
      pos = end;
    }
  } else {
    while (pos <= text.size()) {
      const size_t hit = text.find(step.pattern, pos);
      if (hit == std::string_view::npos) break;
      if (hit > pos) runs.push_back(Run{pos, hit, false});
      runs.push_back(Run{hit, hit + step.pattern.size(), true});
      pos = hit + step.pattern.size();
    }
  }
  if (pos < text.size()) runs.push_back(Run{pos, text.size(), false});

  std::vector<Run> words;
  for (size_t i = 0; i < runs.size(); ++i) {
    const Run& run = runs[i];
    switch (step.behavior) {
      case SplitBehavior::removed:
        if (!run.is_match) words.push_back(run);
        break;
      case SplitBehavior::isolated: words.push_back(run); break;
      case SplitBehavior::contiguous:
        if (run.is_match && !words.empty() && words.back().is_match && words.back().end == run.begin) {
          words.back().end = run.end;
        } else {
          words.push_back(run);
        }
        break;
      case SplitBehavior::merged_with_previous:
        if (run.is_match && !words.empty() && !words.back().is_match) {
          words.back().end = run.end;
          words.back().is_match = true;  // closed: the next text starts a new word
        } else {
          words.push_back(run);
        }
        break;
      case SplitBehavior::merged_with_next:
        // A match takes the text run that follows it, if any.
        if (run.is_match && i + 1 < runs.size() && !runs[i + 1].is_match) {
          words.push_back(Run{run.begin, runs[i + 1].end, true});
          ++i;
        } else {
          words.push_back(run);
        }
        break;
    }
  }
  for (const Run& word : words) out.push_back(text.substr(word.begin, word.end - word.begin));
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> words{text};
  for (const Step& step : steps_) {
    std::vector<std::string_view> next;
    for (std::string_view word : words) split_step(step, word, next);
    words = std::move(next);
  }
  return words;
}

// --- TokenDecoder -----------------------------------------------------------

TokenDecoder TokenDecoder::from_json(const json& config, const std::string& file) {
  TokenDecoder decoder;
  for_each_step(config, "decoders", file, "decoder", [&](const std::string& type, const json& step) {
    if (type == "Replace") {
      decoder.steps_.push_back(Step{Step::Kind::replace, literal_pattern(step, file, "decoder Replace"),
                                    string_field(step, "content", file, "decoder Replace")});
    } else if (type == "ByteFallback") {
      decoder.steps_.push_back(Step{Step::Kind::byte_fallback, "", ""});
    } else if (type == "Fuse") {
      decoder.steps_.push_back(Step{Step::Kind::fuse, "", ""});
    } else if (type == "ByteLevel") {
      decoder.steps_.push_back(Step{Step::Kind::byte_level, "", ""});
    } else if (type == "Strip") {
      Step strip{Step::Kind::strip, "", string_field(step, "content", file, "decoder Strip")};
      ABL_CHECK(step.contains("start") && step.at("start").is_number_unsigned() && step.contains("stop") &&
                    step.at("stop").is_number_unsigned(),
                FormatError, "{}: decoder Strip: expected non-negative integers 'start' and 'stop'", file);
      strip.strip_start = step.at("start").get<size_t>();
      strip.strip_stop = step.at("stop").get<size_t>();
      decoder.steps_.push_back(std::move(strip));
    } else {
      throw FormatError(fmt::format("{}: decoder type '{}' is not supported yet (supported: Replace, ByteFallback, "
                                    "Fuse, Strip, ByteLevel, Sequence)", file, type));
    }
  });
  return decoder;
}

TokenDecoder TokenDecoder::byte_level() {
  TokenDecoder decoder;
  decoder.steps_.push_back(Step{Step::Kind::byte_level, "", ""});
  return decoder;
}

bool TokenDecoder::is_open_ended(const std::string& token) const {
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::byte_fallback:
        if (byte_token_value(token) >= 0) return true;
        break;
      case Step::Kind::byte_level: {
        std::string bytes;
        if (byte_level_decode(token, bytes) && !is_valid_utf8(bytes)) return true;
        break;
      }
      case Step::Kind::strip:
        if (step.strip_stop > 0) return true;
        break;
      case Step::Kind::replace:
      case Step::Kind::fuse: break;
    }
  }
  return false;
}

std::string TokenDecoder::decode(std::vector<std::string> tokens) const {
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::Kind::replace:
        for (auto& token : tokens) replace_all(token, step.pattern, step.content);
        break;
      case Step::Kind::byte_fallback: {
        // Consecutive <0xXX> tokens are joined; valid UTF-8 becomes text, anything else one U+FFFD per byte.
        std::vector<std::string> joined;
        std::string pending_bytes;
        const auto flush = [&]() {
          if (pending_bytes.empty()) return;
          if (is_valid_utf8(pending_bytes)) {
            joined.push_back(pending_bytes);
          } else {
            for (size_t i = 0; i < pending_bytes.size(); ++i) joined.emplace_back(kUtf8ReplacementChar);
          }
          pending_bytes.clear();
        };
        for (auto& token : tokens) {
          const int byte = byte_token_value(token);
          if (byte >= 0) {
            pending_bytes.push_back(static_cast<char>(byte));
          } else {
            flush();
            joined.push_back(std::move(token));
          }
        }
        flush();
        tokens = std::move(joined);
        break;
      }
      case Step::Kind::byte_level: {
        // tokenizers' ByteLevel::decode_chain: each token maps back to bytes, or
        // keeps its own UTF-8 when a character is outside the map (added tokens);
        // the joined bytes are decoded lossily into one string.
        std::string bytes;
        for (const auto& token : tokens) {
          if (!byte_level_decode(token, bytes)) bytes += token;
        }
        tokens.assign(1, utf8_lossy(bytes));
        break;
      }
      case Step::Kind::fuse: {
        std::string all;
        for (const auto& token : tokens) all += token;
        tokens.assign(1, std::move(all));
        break;
      }
      case Step::Kind::strip:
        for (auto& token : tokens) {
          const auto chars = utf8_split(token);
          size_t start_cut = 0;
          for (size_t i = 0; i < std::min(step.strip_start, chars.size()) && chars[i] == step.content; ++i) {
            start_cut = i + 1;
          }
          size_t stop_cut = chars.size();
          for (size_t i = 0; i < std::min(step.strip_stop, chars.size()); ++i) {
            const size_t index = chars.size() - i - 1;
            if (index < start_cut || chars[index] != step.content) break;
            stop_cut = index;
          }
          std::string stripped;
          for (size_t i = start_cut; i < stop_cut; ++i) stripped += chars[i];
          token = std::move(stripped);
        }
        break;
    }
  }
  std::string text;
  for (const auto& token : tokens) text += token;
  return text;
}

}  // namespace abliterate::tokenizer
