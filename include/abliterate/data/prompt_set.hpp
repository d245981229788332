// Module data: prompt sets: JSONL and text files, split folders, HF split slices.
// Must not know: tokenizers or models: prompts stay text.
//
// Prompt sets: JSONL or plain-text files, or folders with one file per split,
// sliced with HF's split syntax (DESIGN.md §4, method spec §3.1). Each format
// has its own reader (jsonl_reader.hpp, text_reader.hpp) behind this one entry
// point.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "abliterate/config/job.hpp"
#include "abliterate/data/split_slice.hpp"  // SplitSlice, parse_split, resolve_slice

namespace abliterate::data {

// One prompt with its system prompt (method spec §3.1).
struct Prompt {
  std::string system;
  std::string user;

  friend bool operator==(const Prompt&, const Prompt&) = default;
};

// Loads the set: `dataset` (resolved by job.resolve_input) is a folder holding
// <split>.jsonl or <split>.txt, or one such file (whose name then stands for
// the split: only the slice of `split` applies). JSON and CSV files are not
// read yet. Rows are sliced by `split` (split_slice.hpp), then each becomes
// {system, user}: user = [prefix + " "] + row + [" " + suffix] (a space only
// next to a non-empty prefix or suffix), system = spec.system_prompt, or the
// job's when unset (method spec §3.1).
//
// `key_path` names the set in messages ("good_prompts"). Throws InputError:
// "<job file>: <key_path>.dataset: no such file or folder: <resolved path>",
// "<job file>: <key_path>.split: ..." for a bad split or a folder without that
// split's file, "<file>:<line>: ..." for a bad row (jsonl_reader.hpp), and
// "<job file>: <key_path>: the prompt set is empty (dataset ..., split ...)".
std::vector<Prompt> load_prompt_set(const config::Job& job, const config::PromptSetSpec& spec,
                                    const std::string& key_path);

}  // namespace abliterate::data
