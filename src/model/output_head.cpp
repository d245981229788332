// OutputHead: see include/abliterate/model/output_head.hpp.
//
// Note [Screened greedy head]
// Greedy generation reads one thing from the head per row and step: the id of
// the largest logit. In float32 the head is most of a step for a large
// vocabulary (Gemma 3: 262144 x 640, 10.7 GFLOP of 17 at batch 32, ~60 ms on
// this project's 2-core Xeon). In int8 the same product reads a quarter of
// the bytes (168 MB) and on VNNI or AMX is bound by reading them: 10.4 ms per
// decode step at B = 32 on that Xeon's AMX, where the bfloat16 screen this
// replaces took 13.9 (335 MB). It is not the float32 logits: each id's value
// carries an error. That error has a bound, so it can rule ids out rather
// than pick one:
//
//   Each vocabulary row w_v is stored as w~_v = s_v q_v (q_v int8, s_v =
//   max |w_v| / 127), with e_v >= ||w_v - w~_v|| computed at load. Each
//   input row x becomes x~ = t1 q1 + t2 q2: q1 = round(x / t1) and, for what
//   that leaves, q2 = round((x - t1 q1) / t2), two int8 rows in the same
//   product (activations have outliers: one level alone leaves ~300x more
//   candidates on Gemma 3's decode steps). The product's int32 sums S1, S2 are
//   exact, so x~ . w~_v = s_v (t1 S1 + t2 S2) exactly, and a~_v, that value
//   in float32, is within r_v = 4.01 u s_v (|t1 S1| + |t2 S2|) <= 4.01 u
//   (||w_v|| + e_v)(||x~1|| + ||x~2||) of it (u = 2^-24). With a_v the float32
//   logit of this file's dot product, within g ||x|| ||w_v|| of x . w_v
//   (g = 1.01 gamma_2d, d features),
//     x . w_v - x~ . w~_v = (x - x~) . w_v + x~ . (w_v - w~_v), so
//     |a~_v - a_v| <= (||x - x~|| + g ||x|| + rho) ||w_v|| + (||x~|| + rho) e_v
//                  =: A ||w_v|| + B e_v =: delta_v,   rho = 4.01 u (||x~1|| + ||x~2||),
//   with the norms of x, x~ and x - x~ in double per row and step, and the
//   row norms ||w_v|| computed once, all rounded up.
//
// With L = a~_m - delta_m for any id m, every id whose float32 logit can be
// the largest has a~_v + delta_v >= L (as a_v* >= a_m >= L). Those
// candidates get their float32 dot product, and the largest (the lowest id
// on ties) is the choice. Measured over one Gemma 3 trial's 8000 rows: 114
// candidates per row on average, in a long tail (one row of 8601 took every
// logit); for SmolLM2, 4.3. The bound holds for any summation order,
// so the choice is exact for the float32 logits this file computes; those
// may differ from logits()' (oneDNN's order) in the last bits, as any two
// float32 products do. Blocks of kBlock ids are skipped whole when their
// maximum plus their largest delta falls short of L. The bound terms run in
// double, so that rounding there cannot shrink a margin.
//
// Not screened: bfloat16 or float16 models (their head is already in the
// model dtype), a GPU, a build or CPU without native int8 dot products, a
// softcapped head (its tanh can tie ids the screen would tell apart), and a
// head with a non-finite weight. A step falls back to every logit when a
// row's input is not finite or when more than kMaxCandidatesPerRow
// candidates per row remain.
//
// Note [Screen by chunks]
// The screen's products run a chunk of kChunkRows ids at a time, and each
// chunk is scanned as soon as it is computed, while its result is in cache:
// the [2B, V] int32 sums written to memory and read back would move 67 MB
// per step at B = 32 beside the head's 168 MB, for a screen bound by memory.
// As L is not known before the last chunk, each row keeps a running floor,
// the largest a~_v - delta_v of the ids seen so far, which only rises. A block is skipped when
// it cannot reach the running floor, and an id is kept, with its screened
// value, when it can; at the end the kept ids are filtered against the final
// floor. That gives the candidates of the Note above or fewer (the final
// floor is at least a~_m - delta_m for the screen's largest m), and never
// loses the float32 argmax v*: a~_v* + delta_v* >= a_v* >= every a~ - delta,
// so neither v* nor its block falls short of any floor on the way.
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
#include <utility>
#include <vector>

#include "abliterate/common/error.hpp"
#include "lane_math.hpp"

namespace abliterate::model {

namespace {

// Vocabulary ids per screened product: a [2 x 32, kChunkRows] int32 result is
// 2 MB, scanned while it is still in the cores' L2 (Note [Screen by chunks]).
constexpr int64_t kChunkRows = 8192;
// Ids per product of the unscreened head on the CPU (Note [Head in slices]).
constexpr int64_t kSliceIds = 4096;
// Ids per block whose maximum and largest bound terms rule them out together.
constexpr int64_t kBlock = 256;
// Past this many candidates in a row, every logit costs less.
constexpr int64_t kMaxCandidatesPerRow = 8192;
// Float32's unit roundoff.
const double kUnit = std::ldexp(1.0, -24);
// Norms are raised by this factor, far more than their double sums' error,
// so that they bound the true values.
constexpr double kRoundUp = 1 + 1e-9;

// g of the Note for rows of `width` features: the float32 dot product's error factor, gamma_2d with room.
double dot_error_factor(int64_t width) {
  const double n = 2.0 * static_cast<double>(width);
  return 1.01 * n * kUnit / (1.0 - n * kUnit);
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

}  // namespace

struct OutputHead::Screen {
  std::vector<PackedLinear> chunks;       // int8 q [<= kChunkRows, d] each, int32 products
  std::vector<float> scales;              // [V]: s_v, w~_v = s_v q_v
  std::vector<double> row_norms;          // [V]: ||w_v||, rounded up
  std::vector<double> errors;             // [V]: e_v >= ||w_v - w~_v||
  std::vector<double> block_norms;        // [ceil(V / kBlock)]: the largest row norm of each block
  std::vector<double> block_errors;       // [ceil(V / kBlock)]: the largest e_v of each block
  double dot_error = 0;                   // g of the Note
};

namespace {

// The screened values of one row over one chunk, a~_v = s_v (t1 S1 + t2 S2)
// in float32 (the Note's rounding), and the largest of each kBlock of them,
// compiled per CPU (lane_math.hpp): a step converts 2 x 262144 int32 sums per
// row for Gemma 3.
ABL_LANES_PER_CPU void screened_values(const int32_t* first_sums, const int32_t* second_sums, const float* scales,
                                       float t1, float t2, float* out, float* block_max, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    out[k] = scales[k] * (t1 * static_cast<float>(first_sums[k]) + t2 * static_cast<float>(second_sums[k]));
  }
  for (int64_t start = 0; start < n; start += kBlock) {
    block_max[start / kBlock] = lane_math::largest(out + start, std::min(kBlock, n - start));
  }
}

// The input rows in two int8 levels each (the Note): x~ = t1 q1 + t2 q2.
struct QuantizedRows {
  torch::Tensor levels;        // int8 [2B, d]: q1 of every row, then q2 of every row
  std::vector<float> t1, t2;   // [B]
  std::vector<double> a, b;    // [B]: the Note's A and B
};

QuantizedRows quantize_rows(const torch::Tensor& x, double dot_error) {
  const int64_t n_rows = x.size(0), width = x.size(1);
  QuantizedRows rows;
  rows.levels = torch::empty({2 * n_rows, width}, torch::kInt8);
  rows.t1.resize(static_cast<size_t>(n_rows));
  rows.t2.resize(static_cast<size_t>(n_rows));
  rows.a.resize(static_cast<size_t>(n_rows));
  rows.b.resize(static_cast<size_t>(n_rows));
  const float* in = x.data_ptr<float>();
  int8_t* levels = rows.levels.data_ptr<int8_t>();
  std::vector<double> left(static_cast<size_t>(width));
  for (int64_t row = 0; row < n_rows; ++row) {
    const float* xr = in + row * width;
    // One level of left over values: its step (any positive float will do, as
    // the bound measures what it leaves), q = round(left / step) into `q`, and
    // what remains in `left`; returns (step, ||step q||).
    const auto level = [&](int8_t* q) {
      double largest = 0;
      for (int64_t k = 0; k < width; ++k) largest = std::max(largest, std::fabs(left[static_cast<size_t>(k)]));
      float step = static_cast<float>(largest / 127);
      if (!(step > 0)) step = 1;  // all zero (or all below float's range): q = 0
      double sum_of_squares = 0;
      for (int64_t k = 0; k < width; ++k) {
        double& value = left[static_cast<size_t>(k)];
        const double rounded = std::clamp(std::nearbyint(value / step), -127.0, 127.0);
        q[k] = static_cast<int8_t>(rounded);
        const double part = static_cast<double>(step) * rounded;  // exact: a float times a small integer
        value -= part;
        sum_of_squares += part * part;
      }
      return std::pair{step, std::sqrt(sum_of_squares) * kRoundUp};
    };
    double x_squares = 0;
    for (int64_t k = 0; k < width; ++k) {
      left[static_cast<size_t>(k)] = xr[k];
      x_squares += static_cast<double>(xr[k]) * xr[k];
    }
    const auto [t1, first_norm] = level(levels + row * width);
    const auto [t2, second_norm] = level(levels + (n_rows + row) * width);
    double left_squares = 0, approx_squares = 0;  // ||x - x~||^2, ||x~||^2
    for (int64_t k = 0; k < width; ++k) {
      const double rest = left[static_cast<size_t>(k)];
      left_squares += rest * rest;
      const double approx = static_cast<double>(xr[k]) - rest;
      approx_squares += approx * approx;
    }
    const double rho = 4.01 * kUnit * (first_norm + second_norm);
    rows.t1[static_cast<size_t>(row)] = t1;
    rows.t2[static_cast<size_t>(row)] = t2;
    rows.a[static_cast<size_t>(row)] =
        std::sqrt(left_squares) * kRoundUp + dot_error * std::sqrt(x_squares) * kRoundUp + rho;
    rows.b[static_cast<size_t>(row)] = std::sqrt(approx_squares) * kRoundUp + rho;
  }
  return rows;
}

}  // namespace

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
                          final_logit_softcapping <= 0 && PackedLinear::runs_int8_natively();
  if (!screenable) return;
  weight_ = weight.contiguous();
  auto screen = std::make_shared<Screen>();
  screen->dot_error = dot_error_factor(weight_.size(1));
  screen->scales.resize(static_cast<size_t>(vocab));
  screen->row_norms.resize(static_cast<size_t>(vocab));
  screen->errors.resize(static_cast<size_t>(vocab));
  for (int64_t first = 0; first < vocab; first += kChunkRows) {
    // A chunk at a time, so that loading holds one chunk's double copy beside the packed ones.
    const int64_t n = std::min(kChunkRows, vocab - first);
    const torch::Tensor rows = weight_.narrow(0, first, n).to(torch::kFloat64);  // [n, d], exact
    const torch::Tensor norms = (rows.norm(2, 1) * kRoundUp).contiguous();
    if (!norms.isfinite().all().item<bool>()) return;  // a non-finite weight: no bound, no screen
    torch::Tensor scale = (rows.abs().amax(1, /*keepdim=*/true) / 127).to(torch::kFloat32);
    scale = torch::where(scale > 0, scale, torch::ones_like(scale));  // an all-zero row: q = 0 whatever s is
    const torch::Tensor q = (rows / scale.to(torch::kFloat64)).round().clamp(-127, 127);
    const torch::Tensor errors = ((rows - scale.to(torch::kFloat64) * q).norm(2, 1) * kRoundUp).contiguous();
    PackedLinear chunk(q.to(torch::kInt8), {}, torch::kInt32);
    if (!chunk.is_packed()) return;  // LibTorch has no int8 product to fall back on
    screen->chunks.push_back(std::move(chunk));
    const torch::Tensor scales = scale.view({n}).contiguous();
    std::copy_n(scales.data_ptr<float>(), n, screen->scales.begin() + first);
    std::copy_n(norms.data_ptr<double>(), n, screen->row_norms.begin() + first);
    std::copy_n(errors.data_ptr<double>(), n, screen->errors.begin() + first);
  }
  const size_t n_blocks = static_cast<size_t>((vocab + kBlock - 1) / kBlock);
  screen->block_norms.assign(n_blocks, 0.0);
  screen->block_errors.assign(n_blocks, 0.0);
  for (int64_t v = 0; v < vocab; ++v) {
    const size_t b = static_cast<size_t>(v / kBlock);
    screen->block_norms[b] = std::max(screen->block_norms[b], screen->row_norms[static_cast<size_t>(v)]);
    screen->block_errors[b] = std::max(screen->block_errors[b], screen->errors[static_cast<size_t>(v)]);
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
  if (n_rows == 0 || !x.isfinite().all().item<bool>()) {
    return sliced_greedy_tokens(last, n_sampleable_tokens);
  }

  // The screen (Note [Screen by chunks]): per row, a running floor and the ids that may reach it.
  struct RowScreen {
    double floor = -std::numeric_limits<double>::infinity();
    std::vector<std::pair<int64_t, float>> kept;  // (id, screened value), ids increasing
  };
  std::vector<RowScreen> rows(static_cast<size_t>(n_rows));
  const QuantizedRows quantized = quantize_rows(x, screen_->dot_error);
  const double* row_norms = screen_->row_norms.data();
  const double* errors = screen_->errors.data();
  // delta_v of the Note, A ||w_v|| + B e_v, for a row's A and B (read once per row, not per id).
  const auto reach = [&](double a, double b, int64_t v) { return a * row_norms[v] + b * errors[v]; };
  for (size_t c = 0; c < screen_->chunks.size() && static_cast<int64_t>(c) * kChunkRows < n_ids; ++c) {
    const int64_t first = static_cast<int64_t>(c) * kChunkRows;
    const torch::Tensor sums = screen_->chunks[c](quantized.levels);  // int32 [2B, <= kChunkRows]
    const int64_t stride = sums.size(1);
    const int64_t n_chunk_ids = std::min(stride, n_ids - first);
    const int32_t* all_sums = sums.data_ptr<int32_t>();
    at::parallel_for(0, n_rows, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> values(static_cast<size_t>(n_chunk_ids));
      std::vector<float> block_max(static_cast<size_t>((n_chunk_ids + kBlock - 1) / kBlock));
      for (int64_t row = begin; row < end; ++row) {
        RowScreen& state = rows[static_cast<size_t>(row)];
        const double a = quantized.a[static_cast<size_t>(row)], b = quantized.b[static_cast<size_t>(row)];
        screened_values(all_sums + row * stride, all_sums + (n_rows + row) * stride, screen_->scales.data() + first,
                        quantized.t1[static_cast<size_t>(row)], quantized.t2[static_cast<size_t>(row)], values.data(),
                        block_max.data(), n_chunk_ids);
        for (int64_t offset = 0; offset < n_chunk_ids; offset += kBlock) {  // a block never straddles chunks
          const int64_t n = std::min(kBlock, n_chunk_ids - offset);
          const float* block = values.data() + offset;
          const size_t b_index = static_cast<size_t>((first + offset) / kBlock);
          const double block_reach = a * screen_->block_norms[b_index] + b * screen_->block_errors[b_index];
          if (block_max[static_cast<size_t>(offset / kBlock)] + block_reach < state.floor) continue;
          for (int64_t j = 0; j < n; ++j) {
            const int64_t v = first + offset + j;
            const double delta = reach(a, b, v);
            if (block[j] + delta >= state.floor) state.kept.emplace_back(v, block[j]);
            state.floor = std::max(state.floor, block[j] - delta);
          }
        }
        if (static_cast<int64_t>(state.kept.size()) > 8 * kMaxCandidatesPerRow) {  // an early floor kept too many
          std::erase_if(state.kept, [&](const auto& id_value) {
            return id_value.second + reach(a, b, id_value.first) < state.floor;
          });
        }
      }
    });
  }

  torch::Tensor choice = torch::empty({n_rows}, torch::kInt64);
  int64_t* chosen = choice.data_ptr<int64_t>();
  const float* weight = weight_.data_ptr<float>();
  const float* inputs = x.data_ptr<float>();
  std::atomic<bool> falls_back{false};
  at::parallel_for(0, n_rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> candidates;
    for (int64_t row = begin; row < end && !falls_back; ++row) {
      const RowScreen& state = rows[static_cast<size_t>(row)];
      if (!std::isfinite(state.floor)) {  // an overflow: let every logit decide
        falls_back = true;
        break;
      }
      // The candidates: every id whose logit may reach the final floor.
      const double a = quantized.a[static_cast<size_t>(row)], b = quantized.b[static_cast<size_t>(row)];
      candidates.clear();
      for (const auto& [v, value] : state.kept) {
        if (value + reach(a, b, v) >= state.floor) candidates.push_back(v);
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
