// batched_matmul: see include/abliterate/model/batched_matmul.hpp.
#include "abliterate/model/batched_matmul.hpp"

#include <vector>

#ifdef ABL_HAVE_ONEDNN
#include "onednn.hpp"
#endif

namespace abliterate::model {

namespace {

#ifdef ABL_HAVE_ONEDNN

// Enough for every key length of a generation run; decode steps make a new
// shape each (the keys grow by one), so the cache is emptied when full.
constexpr size_t kMaxPrimitives = 1024;

dnnl::memory::desc strided_desc(const torch::Tensor& t, dnnl::memory::data_type type) {
  return {t.sizes().vec(), type, t.strides().vec()};
}

// The primitive for these shapes and strides.
dnnl::matmul matmul_for(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& out,
                        dnnl::memory::data_type type) {
  static onednn::MatmulCache primitives(kMaxPrimitives);
  std::vector<int64_t> key;
  for (const torch::Tensor* t : {&a, &b}) {
    key.insert(key.end(), t->sizes().begin(), t->sizes().end());
    key.insert(key.end(), t->strides().begin(), t->strides().end());
  }
  key.push_back(static_cast<int64_t>(type));
  return primitives.get(key, [&] {
    return dnnl::matmul::primitive_desc(
        dnnl::matmul::desc(strided_desc(a, type), strided_desc(b, type), strided_desc(out, type)),
        onednn::cpu_engine());
  });
}

// Whether oneDNN has a kernel of its own for `type` on this CPU, asked once per
// dtype: an AVX2 CPU has none for bfloat16 (creating the primitive throws),
// and a reference kernel would be far slower than LibTorch's.
bool serves(dnnl::memory::data_type type) {
  const auto ask = [](dnnl::memory::data_type t) {
    try {
      const dnnl::memory::desc a({1, 2, 2}, t, dnnl::memory::format_tag::abc);
      const dnnl::matmul::primitive_desc desc(dnnl::matmul::desc(a, a, a), onednn::cpu_engine());
      return onednn::runs_own_kernel(desc);
    } catch (const dnnl::error&) {
      return false;
    }
  };
  static const bool float32 = ask(dnnl::memory::data_type::f32);
  static const bool bfloat16 = ask(dnnl::memory::data_type::bf16);
  return type == dnnl::memory::data_type::bf16 ? bfloat16 : float32;
}

#endif

}  // namespace

torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b) {
#ifdef ABL_HAVE_ONEDNN
  const auto type = onednn::data_type_of(a.scalar_type());
  const bool served = type && serves(*type) && a.device().is_cpu() && b.device().is_cpu() &&
                      a.scalar_type() == b.scalar_type() && a.dim() >= 3 && a.dim() == b.dim() &&
                      a.dim() <= DNNL_MAX_NDIMS && a.numel() > 0 && b.numel() > 0 &&
                      a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2) && a.size(-1) == b.size(-2);
  if (served) {
    std::vector<int64_t> out_shape = a.sizes().vec();
    out_shape.back() = b.size(-1);
    torch::Tensor out = torch::empty(out_shape, a.options());
    const dnnl::matmul matmul = matmul_for(a, b, out, *type);
    const dnnl::engine& engine = onednn::cpu_engine();
    const dnnl::memory a_memory(strided_desc(a, *type), engine, a.data_ptr());
    const dnnl::memory b_memory(strided_desc(b, *type), engine, b.data_ptr());
    const dnnl::memory out_memory(strided_desc(out, *type), engine, out.data_ptr());
    dnnl::stream& stream = onednn::thread_stream();
    matmul.execute(stream, {{DNNL_ARG_SRC, a_memory}, {DNNL_ARG_WEIGHTS, b_memory}, {DNNL_ARG_DST, out_memory}});
    stream.wait();
    return out;
  }
#endif
  return torch::matmul(a, b);
}

}  // namespace abliterate::model
