// Where a decoder's weights come from, by their HF names: an HF folder's
// safetensors (HfCheckpoint) or a GGUF file whose tensors are renamed to HF
// names and have the converter's changes undone (GgufCheckpoint). The weight
// loader only ever sees this interface, so one loader serves both formats.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

namespace abliterate::model {

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  virtual bool contains(const std::string& hf_name) const = 0;

  // Tensor `hf_name` with exactly `expected_shape`, converted to `options`
  // (dtype, device), and marked used. Throws FormatError naming the file and
  // tensor when it is missing or has another shape.
  virtual torch::Tensor take(const std::string& hf_name, const std::vector<int64_t>& expected_shape,
                             const torch::TensorOptions& options) = 0;

  // Tensors never taken, by HF name, in name order.
  virtual std::vector<std::string> unused_names() const = 0;

  // The file holding `hf_name` (for messages); the main file when absent.
  virtual std::string file_of(const std::string& hf_name) const = 0;
};

}  // namespace abliterate::model
