// PackedLinear: see include/abliterate/model/packed_linear.hpp.
//
// Note [Prepacked weights]
// A decode step multiplies a few tens of rows by every weight of the model.
// At such a small M, a BLAS gemm spends about as long repacking the weight
// (B, read and written whole on every call) as multiplying: Debian's OpenBLAS
// reaches 90-140 GFLOP/s in float32 at M = 32 on this project's 2-core Xeon.
// oneDNN's matmul lets the weight be reordered once into the blocked layout
// its kernel reads ("format_tag::any"), after which the same product runs at
// 250-330 GFLOP/s (2-3.5x), at M = 1 4-5x, and in bfloat16 on AMX 1.3-7x
// faster than LibTorch's own bfloat16 linear (measured, 2 threads, shapes of
// SmolLM2 and Gemma 3; bench figures in the README).
//
// The layout is chosen once per weight, for a primitive of kLayoutRows rows;
// products of any other row count get a primitive of their own that reads the
// same layout (oneDNN's brgemm takes it for every M). Primitives depend only
// on (rows, K, N, dtype, bias), not on the weight, so one cache serves every
// layer; creating one takes ~0.5 ms.
#include "abliterate/model/packed_linear.hpp"

#include <unordered_map>
#include <vector>

#include "abliterate/common/error.hpp"

#ifdef ABL_HAVE_ONEDNN
#include "onednn.hpp"
#endif

namespace abliterate::model {

#ifdef ABL_HAVE_ONEDNN

struct PackedLinear::OneDnnWeight {
  dnnl::memory::data_type type;      // of the input and the weight
  dnnl::memory::data_type out_type;  // of the product
  dnnl::memory::desc weights_desc;  // the blocked layout oneDNN chose, [K, N]
  torch::Tensor weight_bytes;       // uint8, the weight in that layout
  torch::Tensor bias;               // [1, N] contiguous in the weight dtype, or undefined
  dnnl::memory weights;             // handles on weight_bytes and bias
  dnnl::memory bias_memory;
};

namespace {

// Decode batches: tens of rows.
constexpr int64_t kLayoutRows = 32;

using onednn::cpu_engine;
using onednn::thread_stream;

dnnl::matmul::primitive_desc matmul_desc(int64_t rows, int64_t in, int64_t out, dnnl::memory::data_type type,
                                         dnnl::memory::data_type out_type, const dnnl::memory::desc& weights_desc,
                                         bool has_bias) {
  using tag = dnnl::memory::format_tag;
  const dnnl::memory::desc src({rows, in}, type, tag::ab);
  const dnnl::memory::desc dst({rows, out}, out_type, tag::ab);
  if (!has_bias) return {dnnl::matmul::desc(src, weights_desc, dst), cpu_engine()};
  const dnnl::memory::desc bias({1, out}, type, tag::ab);
  return {dnnl::matmul::desc(src, weights_desc, bias, dst), cpu_engine()};
}

// The primitive for `rows` rows on a weight of `packed`'s layout. The layout
// is a function of (K, N, dtypes, bias), so those and the row count are the key.
dnnl::matmul matmul_for(int64_t rows, int64_t in, int64_t out, const PackedLinear::OneDnnWeight& packed) {
  // Row counts are the batch sizes and prompt lengths a run meets: a few hundred.
  static onednn::MatmulCache primitives(4096);
  const bool has_bias = packed.bias.defined();
  return primitives.get(
      {rows, in, out, static_cast<int64_t>(packed.type), static_cast<int64_t>(packed.out_type), has_bias},
      [&] { return matmul_desc(rows, in, out, packed.type, packed.out_type, packed.weights_desc, has_bias); });
}

// The weight reordered for oneDNN, or null where oneDNN does not serve it
// (not the CPU, another dtype, or only a reference kernel for this CPU).
std::shared_ptr<const PackedLinear::OneDnnWeight> pack(const torch::Tensor& weight, const torch::Tensor& bias,
                                                       torch::ScalarType output_dtype) {
  const std::optional<dnnl::memory::data_type> type = onednn::data_type_of(weight.scalar_type());
  const std::optional<dnnl::memory::data_type> out_type = onednn::data_type_of(output_dtype);
  if (!weight.device().is_cpu() || !type || !out_type) return nullptr;
  const int64_t out = weight.size(0);
  const int64_t in = weight.size(1);
  auto packed = std::make_shared<PackedLinear::OneDnnWeight>();
  packed->type = *type;
  packed->out_type = *out_type;
  try {
    const dnnl::memory::desc any({in, out}, *type, dnnl::memory::format_tag::any);
    const auto desc = matmul_desc(kLayoutRows, in, out, *type, *out_type, any, bias.defined());
    // A reference kernel is far slower than LibTorch's; keep torch::linear then.
    if (!onednn::runs_own_kernel(desc)) return nullptr;
    packed->weights_desc = desc.weights_desc();
  } catch (const dnnl::error&) {
    return nullptr;  // no oneDNN kernel for this dtype on this CPU
  }
  const torch::Tensor plain = weight.contiguous();  // [N, K] row-major: [K, N] in column order
  dnnl::memory plain_memory({{in, out}, *type, dnnl::memory::format_tag::ba}, cpu_engine(), plain.data_ptr());
  packed->weight_bytes =
      torch::empty({static_cast<int64_t>(packed->weights_desc.get_size())}, torch::TensorOptions().dtype(torch::kUInt8));
  packed->weights = dnnl::memory(packed->weights_desc, cpu_engine(), packed->weight_bytes.data_ptr());
  dnnl::stream& stream = thread_stream();
  dnnl::reorder(plain_memory, packed->weights).execute(stream, plain_memory, packed->weights);
  stream.wait();
  if (bias.defined()) {
    packed->bias = bias.reshape({1, out}).contiguous();
    packed->bias_memory = dnnl::memory({{1, out}, *type, dnnl::memory::format_tag::ab}, cpu_engine(),
                                       packed->bias.data_ptr());
  }
  return packed;
}

}  // namespace

#else  // !ABL_HAVE_ONEDNN

struct PackedLinear::OneDnnWeight {};

#endif

bool PackedLinear::packs_cpu_weights() {
#ifdef ABL_HAVE_ONEDNN
  return true;
#else
  return false;
#endif
}

bool PackedLinear::runs_int8_natively() {
#ifdef ABL_HAVE_ONEDNN
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  for (const dnnl::cpu_isa vnni : {dnnl::cpu_isa::avx512_core_vnni, dnnl::cpu_isa::avx2_vnni}) {
    const auto bits = static_cast<unsigned>(vnni);
    if ((isa & bits) == bits) return true;
  }
  return false;
#else
  return false;
#endif
}

PackedLinear::PackedLinear(const torch::Tensor& weight, const torch::Tensor& bias)
    : PackedLinear(weight, bias, weight.scalar_type()) {}

PackedLinear::PackedLinear(const torch::Tensor& weight, const torch::Tensor& bias, torch::ScalarType output_dtype)
    : in_features_(weight.size(1)), out_features_(weight.size(0)), output_dtype_(output_dtype) {
  ABL_ASSERT(weight.dim() == 2, "a linear weight is [N, K], got {} dimensions", weight.dim());
  ABL_ASSERT(!bias.defined() || (bias.dim() == 1 && bias.size(0) == out_features_), "bias must be [{}]",
             out_features_);
#ifdef ABL_HAVE_ONEDNN
  packed_ = pack(weight, bias, output_dtype);
#endif
  if (packed_ == nullptr) {
    weight_ = weight;
    bias_ = bias;
  }
}

torch::Tensor PackedLinear::operator()(const torch::Tensor& x) const {
  ABL_ASSERT(x.size(-1) == in_features_, "linear input has {} features, the weight {}", x.size(-1), in_features_);
  std::vector<int64_t> out_shape = x.sizes().vec();
  out_shape.back() = out_features_;
  // Always a 2-D product: a 3-D input of one row ([1, 1, d], a decode step of
  // one prompt) would take LibTorch's matrix-vector path, which for bfloat16
  // runs ~20x slower than the product.
  const torch::Tensor rows = x.reshape({-1, in_features_});  // [M, K]
  if (packed_ == nullptr) return torch::linear(rows, weight_, bias_).to(output_dtype_).view(out_shape);
#ifdef ABL_HAVE_ONEDNN
  ABL_ASSERT(x.device().is_cpu() && onednn::data_type_of(x.scalar_type()) == packed_->type,
             "a packed linear takes CPU input in its own dtype, got {}", c10::toString(x.scalar_type()));
  const torch::Tensor src = rows.contiguous();
  torch::Tensor dst = torch::empty({src.size(0), out_features_}, src.options().dtype(output_dtype_));  // [M, N]
  if (src.size(0) == 0) return dst.view(out_shape);
  const int64_t n_rows = src.size(0);
  const dnnl::matmul matmul = matmul_for(n_rows, in_features_, out_features_, *packed_);
  using tag = dnnl::memory::format_tag;
  const dnnl::memory src_memory({{n_rows, in_features_}, packed_->type, tag::ab}, cpu_engine(), src.data_ptr());
  const dnnl::memory dst_memory({{n_rows, out_features_}, packed_->out_type, tag::ab}, cpu_engine(), dst.data_ptr());
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, src_memory}, {DNNL_ARG_WEIGHTS, packed_->weights}, {DNNL_ARG_DST, dst_memory}};
  if (packed_->bias.defined()) args.emplace(DNNL_ARG_BIAS, packed_->bias_memory);
  dnnl::stream& stream = thread_stream();
  matmul.execute(stream, args);
  stream.wait();
  return dst.view(out_shape);
#else
  ABL_ASSERT(false, "packed without oneDNN");
  return {};
#endif
}

PackedLinear fuse_linears(std::initializer_list<torch::Tensor> weights, std::initializer_list<torch::Tensor> biases) {
  const std::vector<torch::Tensor> weight_list(weights);
  std::vector<torch::Tensor> bias_list;
  for (const torch::Tensor& bias : biases) {
    if (bias.defined()) bias_list.push_back(bias);
  }
  ABL_ASSERT(bias_list.empty() || bias_list.size() == weight_list.size(), "fuse_linears: {} biases for {} weights",
             bias_list.size(), weight_list.size());
  const torch::Tensor weight = weight_list.size() == 1 ? weight_list[0] : torch::cat(weight_list, 0);
  const torch::Tensor bias = bias_list.empty() ? torch::Tensor() : torch::cat(bias_list, 0);
  return PackedLinear(weight, bias);
}

}  // namespace abliterate::model
