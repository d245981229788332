// The output head, x W^T over the vocabulary: every logit, or only each row's
// greedy choice. Does not know the decoder's layers, its families or hooks.
//
// See Note [Screened greedy head] in src/model/output_head.cpp. A decode step
// needs only the argmax of each row. For a float32 head on a CPU whose oneDNN
// runs int8 dot products natively (AVX512-VNNI, AVX-VNNI, AMX), the argmax is
// found by screening every id in int8 and computing only the few ids the
// screen cannot rule out in float32; elsewhere it is the argmax of logits(). On the CPU the head
// runs as products over slices of a few thousand ids (Note [Head in slices]),
// and the unscreened greedy choice keeps a running argmax over them rather
// than one [B, V] tensor.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "abliterate/model/packed_linear.hpp"

namespace abliterate::model {

// The greedy choice of each row, int64 [B] on the host: the highest of
// `logits` ([B, V], any float dtype) among ids below n_sampleable_tokens (all
// when 0), the lowest id on ties.
torch::Tensor greedy_tokens(const torch::Tensor& logits, int64_t n_sampleable_tokens);

class OutputHead {
 public:
  OutputHead() = default;

  // weight: [V, d] in the model dtype on the model device (kept by reference,
  // not copied: it is usually the tied embedding); final_logit_softcapping:
  // c > 0 caps logits to c * tanh(logits / c), 0 for none.
  OutputHead(const torch::Tensor& weight, double final_logit_softcapping);

  // last: [B, d] in the model dtype -> [B, V] in the model dtype, softcapped.
  torch::Tensor logits(const torch::Tensor& last) const;

  // Each row's greedy choice, int64 [B] on the host: the lowest id among the
  // highest logits below n_sampleable_tokens (all ids when 0). Screened, the
  // logits it compares are float32 dot products of its own (a fixed summation
  // order), which may differ from logits()' in the last bits; unscreened, it
  // is greedy_tokens(logits(last), n_sampleable_tokens).
  torch::Tensor greedy_tokens(const torch::Tensor& last, int64_t n_sampleable_tokens) const;

  // Whether greedy_tokens screens in int8 (see the file comment).
  bool is_screened() const { return screen_ != nullptr; }

  struct Screen;  // the int8 copy, its scales and the bound's norms; defined in output_head.cpp

 private:
  torch::Tensor softcapped(torch::Tensor logits) const;
  // The unscreened choice: each slice's argmax, the first largest kept.
  torch::Tensor sliced_greedy_tokens(const torch::Tensor& last, int64_t n_sampleable_tokens) const;

  torch::Tensor weight_;             // [V, d]
  std::vector<PackedLinear> slices_;  // the same weight, consecutive ids: one slice off the CPU
  double softcapping_ = 0;
  std::shared_ptr<const Screen> screen_;  // null when not screened
};

}  // namespace abliterate::model
