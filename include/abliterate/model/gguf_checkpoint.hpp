// The weights of a GGUF file seen through HF names (spec/model-runtime.md
// §5.6-§5.7), so that the one weight loader serves GGUF files and HF folders.
// take() dequantizes a tensor to float32 (the reader already gives PyTorch's
// dimension order), undoes what llama.cpp's converter changed, then converts
// to the requested dtype and device:
//   - gemma3: every norm weight (HF name ending in "norm.weight") was stored
//     as w + 1; we subtract 1 so the (1 + w) RMSNorm sees HF's values (§5.7.1);
//   - llama: q_proj / k_proj rows (weights and biases) were permuted within
//     each head for ggml's interleaved RoPE; we undo it with the head counts
//     of the metadata (n_heads for q, n_kv_heads for k; §5.7.2).
// qwen2 and qwen3 files are stored unchanged.
//
// Like HfCheckpoint it checks each tensor's shape as it is taken and
// remembers which tensors were used; unused_names() lists the leftovers by HF
// name, or by GGUF name for tensors without one (rope_freqs.weight, ...), so
// the loader can reject them. Owns the reader; not thread-safe (take()
// records use).
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "abliterate/formats/gguf_reader.hpp"
#include "abliterate/model/tensor_source.hpp"

namespace abliterate::model {

class GgufCheckpoint final : public TensorSource {
 public:
  // GgufReader::open(path), then the constructor. Throws IoError / FormatError
  // naming the file (and the key or tensor at fault).
  static GgufCheckpoint open(const std::filesystem::path& path);

  // Reads general.architecture (FormatError naming the file when it is not
  // gemma3, llama, qwen2 or qwen3) and, for llama, the head counts the Q/K
  // permutation needs ({arch}.attention.head_count, .head_count_kv; the
  // latter defaults to the former).
  explicit GgufCheckpoint(formats::GgufReader reader);

  const formats::GgufReader& reader() const { return reader_; }
  // general.architecture, e.g. "llama".
  const std::string& architecture() const { return architecture_; }

  bool contains(const std::string& hf_name) const override { return gguf_name_of_.count(hf_name) != 0; }

  // Tensor `hf_name` with exactly `expected_shape`, converted to `options`,
  // marked used. Throws FormatError "file: tensor 'hf_name' is missing", "file:
  // tensor 'blk.0.attn_q.weight' (model.layers.0.self_attn.q_proj.weight):
  // expected shape [..], got [..]", or the reader's error for a type it cannot
  // dequantize; every message names the file and the tensor.
  torch::Tensor take(const std::string& hf_name, const std::vector<int64_t>& expected_shape,
                     const torch::TensorOptions& options) override;

  // Tensors never taken, by HF name (GGUF name when there is none), sorted.
  std::vector<std::string> unused_names() const override;

  // The GGUF file (every tensor lives in it).
  std::string file_of(const std::string& /*hf_name*/) const override { return reader_.path().string(); }

  // The GGUF name behind `hf_name`, or nullptr when the file has none.
  const std::string* gguf_name_of(const std::string& hf_name) const;

  // The inverse of what take() undoes: `values` (float32, HF layout and
  // values of `hf_name`) as llama.cpp's converter stores them (Gemma's norm
  // + 1, llama's permuted Q/K rows), for writing a GGUF again.
  torch::Tensor redo_converter_changes(const std::string& hf_name, torch::Tensor values) const;

 private:
  // The converter's change to `hf_name` undone in place; float32 [shape] in, same out.
  torch::Tensor undo_converter_changes(const std::string& hf_name, const std::string& gguf_name,
                                       torch::Tensor values) const;

  formats::GgufReader reader_;
  std::string architecture_;
  int64_t n_heads_ = 0;     // llama only: heads of q_proj
  int64_t n_kv_heads_ = 0;  // llama only: heads of k_proj
  std::map<std::string, std::string> gguf_name_of_;  // HF name -> GGUF name
  std::vector<std::string> unmapped_names_;          // GGUF names without an HF name
  std::set<std::string> used_;                       // HF names taken
};

}  // namespace abliterate::model
