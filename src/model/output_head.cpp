// OutputHead: see include/abliterate/model/output_head.hpp.
//
// Note [Screened greedy head]
// Greedy generation reads one thing from the head per row and step: the id of
// the largest logit. In float32 the head is most of a step for a large
// vocabulary (Gemma 3: 262144 x 640, 10.7 GFLOP of 17 at batch 32, ~60 ms on
// this project's 2-core Xeon), and the product is bound by its arithmetic.
// In bfloat16 on AMX the same product takes a third of that (~19 ms, then
// bound by reading its 335 MB), but it is not the float32 logits: each id's
// value carries an error. That error has a bound, so it can rule ids out
// rather than pick one:
//
//   x~, w~ are x and w rounded to bfloat16 (unit roundoff u = 2^-8), a~ the
//   float32 sum of their products (oneDNN accumulates in float32), a the
//   float32 logit of this file's dot product. Both sums are within
//   g = gamma_{2d} = 2d 2^-24 / (1 - 2d 2^-24) of S = sum_k |x_k||w_k|, and
//   the rounding moves each product by at most (2u + u^2)|x_k||w_k|, so
//     |a~_v - a_v| <= (2u + u^2 + 2.01 g) S <= c ||x|| ||w_v|| =: delta_v
//   (Cauchy-Schwarz; ||w_v|| is computed once at load, rounded up).
//
// With L = a~_m - delta_m for the screen's largest m, every id whose float32
// logit can be the largest has a~_v + delta_v >= L (as a_v* >= a_m >= L).
// Those candidates (measured on decode steps: 6.4 per row on average for
// Gemma 3, median 1; 3.0 for SmolLM2) get their float32 dot product, and
// the largest (the lowest id on ties) is the choice. The bound holds for any
// summation order, so the choice is exact for the float32 logits this file
// computes; those may differ from logits()' (oneDNN's order) in the last bits,
// as any two float32 products do. Blocks of kBlock ids are skipped whole when
// their maximum plus their largest delta falls short of L. The bound terms
// run in double, so that rounding there cannot shrink a margin, and
// kFlushMargin covers what AMX flushes to zero.
//
// Not screened: bfloat16 or float16 models (their head is already in the
// model dtype), a GPU, a build or CPU without native bfloat16, a softcapped
// head (its tanh can tie ids the screen would tell apart), and a head with a
// non-finite weight. A step falls back to every logit when a row's input is
// not finite or when more than kMaxCandidatesPerRow candidates per row remain.
//
// Note [Head in slices]
// Where the head is not screened, a greedy step still needs only each row's
// argmax. On the CPU the head is packed as slices of kSliceIds consecutive
// ids, each its own product, and greedy_tokens keeps the first largest of the
// slices' argmaxes: the same ids as the argmax of logits() (each logit is the
// same sum either way), without a [B, V] tensor per step (33.5 MB for Gemma 3
// at B = 32, a fresh mapping whose pages fault in every step). It also runs
// faster: on an AVX2 CPU (a 2-core Zen 1 EPYC) oneDNN's float32 product at 32
// rows slows as N grows, from 48-50 GFLOP/s at N = 3072-4096 to 25 at
// SmolLM2's 49152 ids and 24 at Gemma 3's 262144 (measured with the head's
// own K, 2 threads). logits() joins the slices' products.
#include "abliterate/model/output_head.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "abliterate/common/error.hpp"

namespace abliterate::model {

namespace {

// Vocabulary ids per screened product: a [32, kChunkRows] float32 result is
// 4 MB, which the allocator reuses; one [32, 262144] (33.5 MB) would be a
// fresh mapping, its pages faulted in, at every step.
constexpr int64_t kChunkRows = 32768;
// Ids per product of the unscreened head on the CPU (Note [Head in slices]).
constexpr int64_t kSliceIds = 4096;
// Ids per block whose maximum and largest norm rule them out together.
constexpr int64_t kBlock = 256;
// Past this many candidates in a row, every logit costs less.
constexpr int64_t kMaxCandidatesPerRow = 2048;
// AMX treats bfloat16 denormals as zero and flushes float32 ones: errors of
// at most d * 2^-126 * max|w| per logit, outside the relative bound; this
// absolute margin covers them many times over.
constexpr double kFlushMargin = 1e-20;

// The bound's factor c for rows of `width` features (the Note).
double screen_error_factor(int64_t width) {
  const double u = std::ldexp(1.0, -8);             // bfloat16, round to nearest
  const double unit = std::ldexp(1.0, -24);         // float32
  const double n = 2.0 * static_cast<double>(width);
  const double gamma = n * unit / (1.0 - n * unit);
  return (2 * u + u * u + 2.01 * gamma) * (1 + 1e-6);
}

// A float32 dot product in a fixed order: 16 running sums, then a pairwise
// tree. Every id's logit is computed the same way wherever it sits.
float dot(const float* x, const float* w, int64_t width) {
  std::array<float, 16> sums{};
  int64_t k = 0;
  for (; k + 16 <= width; k += 16) {
    for (int j = 0; j < 16; ++j) sums[static_cast<size_t>(j)] += x[k + j] * w[k + j];
  }
  for (int j = 0; k < width; ++k, ++j) sums[static_cast<size_t>(j)] += x[k] * w[k];
  for (size_t span = 8; span > 0; span /= 2) {
    for (size_t j = 0; j < span; ++j) sums[j] += sums[j + span];
  }
  return sums[0];
}

// The largest of n > 0 floats, in 16 lanes that compile to vector maxima
// (this file is built at -O3); a NaN is passed over unless it comes first.
float max_of(const float* values, int64_t n) {
  std::array<float, 16> lanes;
  lanes.fill(values[0]);
  int64_t k = 0;
  for (; k + 16 <= n; k += 16) {
    for (size_t j = 0; j < 16; ++j) lanes[j] = values[k + j] > lanes[j] ? values[k + j] : lanes[j];
  }
  for (size_t j = 0; k < n; ++k, ++j) lanes[j] = values[k] > lanes[j] ? values[k] : lanes[j];
  float m = lanes[0];
  for (const float lane : lanes) m = lane > m ? lane : m;
  return m;
}

}  // namespace

struct OutputHead::Screen {
  std::vector<PackedLinear> chunks;  // bfloat16 [<= kChunkRows, d] each, float32 products
  std::vector<double> row_norms;     // [V]: ||w_v||, rounded up
  std::vector<double> block_norms;   // [ceil(V / kBlock)]: the largest row norm of each block
  double error_factor = 0;           // c of the Note
};

torch::Tensor greedy_tokens(const torch::Tensor& logits, int64_t n_sampleable_tokens) {
  torch::Tensor scores = logits;
  if (n_sampleable_tokens > 0 && n_sampleable_tokens < scores.size(1)) {
    scores = scores.narrow(1, 0, n_sampleable_tokens);  // ids past the vocabulary are never chosen
  }
  // max(dim)'s indices, not argmax: the same ids (the first maximum on ties)
  // and 4x faster over a 262k vocabulary in LibTorch 1.13.
  return std::get<1>(scores.max(1)).to(torch::kCPU);
}

OutputHead::OutputHead(const torch::Tensor& weight, double final_logit_softcapping)
    : weight_(weight), softcapping_(final_logit_softcapping) {
  const int64_t vocab = weight.size(0);
  const int64_t slice_ids = weight.device().is_cpu() ? kSliceIds : vocab;  // one product on a GPU
  for (int64_t first = 0; first < vocab; first += slice_ids) {
    slices_.emplace_back(weight.narrow(0, first, std::min(slice_ids, vocab - first)), torch::Tensor());
  }
  const bool screenable = weight.device().is_cpu() && weight.scalar_type() == torch::kFloat32 &&
                          final_logit_softcapping <= 0 && PackedLinear::runs_bfloat16_natively();
  if (!screenable) return;
  // Norms in float32, then raised by far more than that sum's error (d 2^-24
  // relative, 4e-5 at d = 640) so that they bound the true norms. A row with
  // a non-finite weight has a non-finite norm: such a head is not screened.
  const torch::Tensor norms = weight.norm(2, 1).contiguous();  // float32 [V]
  if (!norms.isfinite().all().item<bool>()) return;
  weight_ = weight.contiguous();
  auto screen = std::make_shared<Screen>();
  screen->error_factor = screen_error_factor(weight_.size(1));
  for (int64_t first = 0; first < vocab; first += kChunkRows) {
    // Rounded a chunk at a time, so that loading holds one chunk's bfloat16 copy beside the packed ones.
    const torch::Tensor rounded = weight_.narrow(0, first, std::min(kChunkRows, vocab - first)).to(torch::kBFloat16);
    PackedLinear chunk(rounded, {}, torch::kFloat32);
    if (!chunk.is_packed()) return;  // torch::linear would round its sums to bfloat16: not the Note's bound
    screen->chunks.push_back(std::move(chunk));
  }
  const float* norm = norms.data_ptr<float>();
  screen->row_norms.resize(static_cast<size_t>(vocab));
  screen->block_norms.assign(static_cast<size_t>((vocab + kBlock - 1) / kBlock), 0.0);
  for (int64_t v = 0; v < vocab; ++v) {
    const double up = static_cast<double>(norm[v]) * (1 + 1e-3);
    screen->row_norms[static_cast<size_t>(v)] = up;
    double& block = screen->block_norms[static_cast<size_t>(v / kBlock)];
    block = std::max(block, up);
  }
  screen_ = std::move(screen);
}

torch::Tensor OutputHead::softcapped(torch::Tensor logits) const {
  if (softcapping_ > 0) logits = torch::tanh(logits / softcapping_) * softcapping_;
  return logits;
}

torch::Tensor OutputHead::logits(const torch::Tensor& last) const {
  if (slices_.size() == 1) return softcapped(slices_.front()(last));
  std::vector<torch::Tensor> parts;
  parts.reserve(slices_.size());
  for (const PackedLinear& slice : slices_) parts.push_back(slice(last));
  return softcapped(torch::cat(parts, -1));
}

torch::Tensor OutputHead::sliced_greedy_tokens(const torch::Tensor& last, int64_t n_sampleable_tokens) const {
  const int64_t vocab = weight_.size(0);
  const int64_t n_ids = n_sampleable_tokens > 0 ? std::min(n_sampleable_tokens, vocab) : vocab;
  std::vector<torch::Tensor> maxima;  // [B] per slice
  std::vector<torch::Tensor> ids;     // int64 [B] per slice: where each maximum is
  int64_t first = 0;
  for (size_t s = 0; s < slices_.size() && first < n_ids; first += slices_[s].out_features(), ++s) {
    const torch::Tensor logits = softcapped(slices_[s](last));
    const auto [values, at] = logits.narrow(1, 0, std::min(logits.size(1), n_ids - first)).max(1);
    maxima.push_back(values);
    ids.push_back(at + first);
  }
  // The first slice holding the largest maximum, by the same rule (ties, NaN)
  // that picks within a slice: together, max(dim) over the whole row. On the
  // device, so that a step copies only its chosen ids to the host.
  const torch::Tensor best_slice = std::get<1>(torch::stack(maxima, 1).max(1));  // int64 [B]
  return torch::stack(ids, 1).gather(1, best_slice.unsqueeze(1)).squeeze(1).to(torch::kCPU);
}

torch::Tensor OutputHead::greedy_tokens(const torch::Tensor& last, int64_t n_sampleable_tokens) const {
  if (screen_ == nullptr) return sliced_greedy_tokens(last, n_sampleable_tokens);
  ABL_ASSERT(last.dim() == 2 && last.size(1) == weight_.size(1) && last.scalar_type() == torch::kFloat32,
             "the head takes float32 [B, {}]", weight_.size(1));
  const torch::Tensor x = last.contiguous();  // float32 [B, d]
  const int64_t n_rows = x.size(0);
  const int64_t width = x.size(1);
  const int64_t vocab = weight_.size(0);
  const int64_t n_ids = n_sampleable_tokens > 0 ? std::min(n_sampleable_tokens, vocab) : vocab;
  const torch::Tensor x_norms = x.to(torch::kFloat64).norm(2, 1).contiguous();  // double [B]
  if (n_rows == 0 || !x_norms.isfinite().all().item<bool>()) {
    return sliced_greedy_tokens(last, n_sampleable_tokens);
  }

  // The screen: every sampleable id's logit in bfloat16, float32 [B, chunk] per chunk.
  const torch::Tensor rounded = x.to(torch::kBFloat16);
  std::vector<torch::Tensor> screened;
  for (size_t c = 0; c < screen_->chunks.size() && static_cast<int64_t>(c) * kChunkRows < n_ids; ++c) {
    screened.push_back(screen_->chunks[c](rounded));
  }
  const auto screened_at = [&](int64_t row, int64_t v) -> const float* {
    const torch::Tensor& chunk = screened[static_cast<size_t>(v / kChunkRows)];
    return chunk.data_ptr<float>() + row * chunk.size(1) + v % kChunkRows;
  };

  torch::Tensor choice = torch::empty({n_rows}, torch::kInt64);
  int64_t* chosen = choice.data_ptr<int64_t>();
  const float* weight = weight_.data_ptr<float>();
  const float* inputs = x.data_ptr<float>();
  const double* x_norm = x_norms.data_ptr<double>();
  const int64_t n_blocks = (n_ids + kBlock - 1) / kBlock;
  std::atomic<bool> falls_back{false};
  at::parallel_for(0, n_rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> block_max(static_cast<size_t>(n_blocks));
    std::vector<int64_t> candidates;
    for (int64_t row = begin; row < end && !falls_back; ++row) {
      const double scale = screen_->error_factor * x_norm[row];  // delta_v = scale * ||w_v||
      // Each block's largest screened value, and the largest overall.
      int64_t best_block = 0;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const int64_t n = std::min(kBlock, n_ids - b * kBlock);
        const float m = max_of(screened_at(row, b * kBlock), n);  // a block never straddles chunks
        block_max[static_cast<size_t>(b)] = m;
        if (m > block_max[static_cast<size_t>(best_block)]) best_block = b;
      }
      const float* best_values = screened_at(row, best_block * kBlock);
      const int64_t best_at = std::max_element(best_values, best_values + std::min(kBlock, n_ids - best_block * kBlock)) -
                              best_values + best_block * kBlock;
      const double floor = static_cast<double>(*screened_at(row, best_at)) -
                           scale * screen_->row_norms[static_cast<size_t>(best_at)] -
                           2 * kFlushMargin;  // L of the Note
      if (!std::isfinite(floor)) {  // an overflow: let every logit decide
        falls_back = true;
        break;
      }
      // The candidates: every id whose logit may reach the floor.
      candidates.clear();
      for (int64_t b = 0; b < n_blocks; ++b) {
        if (block_max[static_cast<size_t>(b)] + scale * screen_->block_norms[static_cast<size_t>(b)] < floor) continue;
        const int64_t n = std::min(kBlock, n_ids - b * kBlock);
        const float* values = screened_at(row, b * kBlock);
        for (int64_t j = 0; j < n; ++j) {
          const int64_t v = b * kBlock + j;
          if (values[j] + scale * screen_->row_norms[static_cast<size_t>(v)] >= floor) candidates.push_back(v);
        }
      }
      if (static_cast<int64_t>(candidates.size()) > kMaxCandidatesPerRow) {
        falls_back = true;
        break;
      }
      // Their float32 logits; the first largest wins.
      const float* row_input = inputs + row * width;
      int64_t best = candidates.front();
      float best_logit = -std::numeric_limits<float>::infinity();
      for (const int64_t v : candidates) {
        const float logit = dot(row_input, weight + v * width, width);
        if (logit > best_logit || std::isnan(logit)) {
          best = v;
          best_logit = logit;
          if (std::isnan(logit)) break;  // as max(dim): a NaN is the maximum
        }
      }
      chosen[row] = best;
    }
  });
  if (falls_back) return sliced_greedy_tokens(last, n_sampleable_tokens);
  return choice;
}

}  // namespace abliterate::model
