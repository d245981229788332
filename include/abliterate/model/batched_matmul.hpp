// Batched matrix products of two strided tensors, as attention needs them:
// scores = q k^T and context = p v, read straight from the KV cache's
// buffers. Does not know the decoder.
#pragma once

#include <torch/torch.h>

namespace abliterate::model {

// a: [..., M, K], b: [..., K, N] with the same leading dims, same dtype and
// device; any strides. Returns a contiguous [..., M, N], as torch::matmul.
// On the CPU in float32 and bfloat16 this is one oneDNN matmul over every
// batch, where oneDNN has a kernel for the dtype on this CPU (an AVX2 CPU has
// none for bfloat16; torch::matmul then): LibTorch 1.13 with OpenBLAS runs
// one small gemm per batch (B * Hkv of them, a few microseconds each), which
// took a quarter of a decode step.
torch::Tensor batched_matmul(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace abliterate::model
