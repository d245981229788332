// GgufCheckpoint and the GGUF -> HF name map (spec/model-runtime.md §5.6-§5.7)
// on GGUF files built by the test: names, ggml's dimension order reversed,
// the Llama Q/K row permutation undone (against the converter's permutation
// done here), Gemma's norm +1 undone, and one file per failure mode, each
// error naming the file and the tensor.
#include "abliterate/model/gguf_checkpoint.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <string>
#include <vector>

#include "abliterate/common/error.hpp"
#include "abliterate/model/gguf_tensor_names.hpp"
#include "model/gguf_test_writer.hpp"
#include "support/throws_with.hpp"

namespace abliterate::model {
namespace {

using testing::GgufTempDir;
using testing::GgufTestWriter;

// ggml type ids, spelled out independently of the reader's table.
constexpr uint32_t kF32 = 0;
constexpr uint32_t kIq2Xxs = 16;

// Bytes of a float32 CPU tensor, row-major (= ggml order with ne reversed).
std::string f32_bytes(const torch::Tensor& values) {
  const torch::Tensor contiguous = values.to(torch::kFloat32).contiguous();
  std::string bytes(static_cast<size_t>(contiguous.numel()) * sizeof(float), '\0');
  std::memcpy(bytes.data(), contiguous.data_ptr<float>(), bytes.size());
  return bytes;
}

// A tensor of PyTorch shape `shape` written with ggml's ne (the shape reversed).
void add_f32_tensor(GgufTestWriter& writer, const std::string& name, const torch::Tensor& values) {
  std::vector<uint64_t> ne;
  for (int64_t dim = values.dim() - 1; dim >= 0; --dim) ne.push_back(static_cast<uint64_t>(values.size(dim)));
  writer.tensor(name, ne, kF32, f32_bytes(values));
}

// llama.cpp convert_hf_to_gguf.py LlamaModel.permute, written out from its
// definition: reshape(n_head, 2, D/2, *rest).swapaxes(1, 2).reshape(shape).
torch::Tensor converter_permute(const torch::Tensor& hf, int64_t n_heads) {
  std::vector<int64_t> split = {n_heads, 2, hf.size(0) / n_heads / 2};
  for (int64_t dim = 1; dim < hf.dim(); ++dim) split.push_back(hf.size(dim));
  return hf.reshape(split).transpose(1, 2).reshape(hf.sizes()).contiguous();
}

// Distinct values, so any misplaced row shows.
torch::Tensor distinct(std::vector<int64_t> shape, double offset = 0.0) {
  int64_t numel = 1;
  for (int64_t extent : shape) numel *= extent;
  return torch::arange(numel, torch::kFloat32).add(offset).reshape(shape);
}

// ---- the name map --------------------------------------------------------------------

TEST(GgufTensorNamesTest, LlamaFamilyNames) {
  for (const char* arch : {"llama", "qwen2", "qwen3"}) {
    SCOPED_TRACE(arch);
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "token_embd.weight"), "model.embed_tokens.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "output_norm.weight"), "model.norm.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "output.weight"), "lm_head.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.0.attn_norm.weight"), "model.layers.0.input_layernorm.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.12.attn_q.weight"), "model.layers.12.self_attn.q_proj.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.3.attn_k.bias"), "model.layers.3.self_attn.k_proj.bias");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.3.attn_v.weight"), "model.layers.3.self_attn.v_proj.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.3.attn_output.weight"), "model.layers.3.self_attn.o_proj.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.3.attn_q_norm.weight"), "model.layers.3.self_attn.q_norm.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.3.attn_k_norm.weight"), "model.layers.3.self_attn.k_norm.weight");
    // The trap of spec §5.6: Llama's ffn_norm is HF's post_attention_layernorm (the pre-MLP norm).
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.7.ffn_norm.weight"), "model.layers.7.post_attention_layernorm.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.7.ffn_gate.weight"), "model.layers.7.mlp.gate_proj.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.7.ffn_up.weight"), "model.layers.7.mlp.up_proj.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.7.ffn_down.weight"), "model.layers.7.mlp.down_proj.weight");
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.7.post_attention_norm.weight"), std::nullopt);
    EXPECT_EQ(hf_name_of_gguf_tensor(arch, "blk.7.post_ffw_norm.weight"), std::nullopt);
  }
}

TEST(GgufTensorNamesTest, GemmaNames) {
  EXPECT_EQ(hf_name_of_gguf_tensor("gemma3", "token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(hf_name_of_gguf_tensor("gemma3", "blk.5.attn_norm.weight"), "model.layers.5.input_layernorm.weight");
  EXPECT_EQ(hf_name_of_gguf_tensor("gemma3", "blk.5.post_attention_norm.weight"),
            "model.layers.5.post_attention_layernorm.weight");
  EXPECT_EQ(hf_name_of_gguf_tensor("gemma3", "blk.5.ffn_norm.weight"), "model.layers.5.pre_feedforward_layernorm.weight");
  EXPECT_EQ(hf_name_of_gguf_tensor("gemma3", "blk.5.post_ffw_norm.weight"),
            "model.layers.5.post_feedforward_layernorm.weight");
  EXPECT_EQ(hf_name_of_gguf_tensor("gemma3", "blk.17.attn_q_norm.weight"), "model.layers.17.self_attn.q_norm.weight");
}

TEST(GgufTensorNamesTest, NamesWithoutAnHfName) {
  EXPECT_EQ(hf_name_of_gguf_tensor("llama", "rope_freqs.weight"), std::nullopt);
  EXPECT_EQ(hf_name_of_gguf_tensor("llama", "blk.0.ffn_gate_exps.weight"), std::nullopt);
  EXPECT_EQ(hf_name_of_gguf_tensor("llama", "blk.x.attn_q.weight"), std::nullopt);
  EXPECT_EQ(hf_name_of_gguf_tensor("llama", "blk.03.attn_q.weight"), std::nullopt);  // would alias blk.3
  EXPECT_EQ(hf_name_of_gguf_tensor("llama", "blk.3"), std::nullopt);
  EXPECT_EQ(hf_name_of_gguf_tensor("llama", "blk..attn_q.weight"), std::nullopt);
  EXPECT_EQ(hf_name_of_gguf_tensor("falcon", "token_embd.weight"), std::nullopt);
  EXPECT_FALSE(is_supported_gguf_architecture("gemma2"));
}

// ---- Llama: Q/K permutation ----------------------------------------------------------------

constexpr int64_t kHeads = 2;
constexpr int64_t kKvHeads = 1;
constexpr int64_t kHeadDim = 4;
constexpr int64_t kHidden = 3;

// HF-order tensors of one tiny Llama layer and a GGUF file holding them as the converter writes them.
struct LlamaFixture {
  torch::Tensor q = distinct({kHeads * kHeadDim, kHidden});                 // float32 [8, 3]
  torch::Tensor k = distinct({kKvHeads * kHeadDim, kHidden}, 100.0);        // float32 [4, 3]
  torch::Tensor v = distinct({kKvHeads * kHeadDim, kHidden}, 200.0);        // float32 [4, 3]
  torch::Tensor q_bias = distinct({kHeads * kHeadDim}, 300.0);              // float32 [8]
  torch::Tensor k_bias = distinct({kKvHeads * kHeadDim}, 400.0);            // float32 [4]
  torch::Tensor norm = distinct({kHidden}, 0.5);                            // float32 [3]
  torch::Tensor up = distinct({2, kHidden}, 500.0);                         // float32 [2, 3]

  GgufTestWriter writer(const std::string& arch = "llama") const {
    GgufTestWriter w;
    w.kv_string("general.architecture", arch);
    w.kv_u32(arch + ".attention.head_count", kHeads);
    w.kv_u32(arch + ".attention.head_count_kv", kKvHeads);
    const bool permuted = arch == "llama";
    add_f32_tensor(w, "blk.0.attn_q.weight", permuted ? converter_permute(q, kHeads) : q);
    add_f32_tensor(w, "blk.0.attn_k.weight", permuted ? converter_permute(k, kKvHeads) : k);
    add_f32_tensor(w, "blk.0.attn_v.weight", v);
    add_f32_tensor(w, "blk.0.attn_q.bias", permuted ? converter_permute(q_bias, kHeads) : q_bias);
    add_f32_tensor(w, "blk.0.attn_k.bias", permuted ? converter_permute(k_bias, kKvHeads) : k_bias);
    add_f32_tensor(w, "blk.0.attn_norm.weight", norm);
    add_f32_tensor(w, "blk.0.ffn_up.weight", up);
    return w;
  }
};

const torch::TensorOptions kF32Cpu = torch::TensorOptions().dtype(torch::kFloat32);

TEST(GgufCheckpointTest, LlamaQkPermutationIsUndone) {
  GgufTempDir dir("llama_perm");
  const LlamaFixture f;
  GgufCheckpoint checkpoint = GgufCheckpoint::open(f.writer().write(dir.path() / "llama.gguf"));
  EXPECT_EQ(checkpoint.architecture(), "llama");
  // The permutation really moved rows, so the comparisons below can fail.
  ASSERT_FALSE(torch::equal(converter_permute(f.q, kHeads), f.q));
  ASSERT_FALSE(torch::equal(converter_permute(f.k, kKvHeads), f.k));

  EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.self_attn.q_proj.weight", {8, 3}, kF32Cpu), f.q));
  EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.self_attn.k_proj.weight", {4, 3}, kF32Cpu), f.k));
  EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.self_attn.q_proj.bias", {8}, kF32Cpu), f.q_bias));
  EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.self_attn.k_proj.bias", {4}, kF32Cpu), f.k_bias));
  // v, norms and the MLP are stored unchanged; Llama norms are not shifted.
  EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.self_attn.v_proj.weight", {4, 3}, kF32Cpu), f.v));
  EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.input_layernorm.weight", {3}, kF32Cpu), f.norm));
  EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.mlp.up_proj.weight", {2, 3}, kF32Cpu), f.up));
  EXPECT_TRUE(checkpoint.unused_names().empty());
}

TEST(GgufCheckpointTest, QwenIsNotUnpermuted) {
  for (const char* arch : {"qwen2", "qwen3"}) {
    SCOPED_TRACE(arch);
    GgufTempDir dir("qwen");
    const LlamaFixture f;
    GgufCheckpoint checkpoint = GgufCheckpoint::open(f.writer(arch).write(dir.path() / "qwen.gguf"));
    EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.self_attn.q_proj.weight", {8, 3}, kF32Cpu), f.q));
    EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.self_attn.k_proj.bias", {4}, kF32Cpu), f.k_bias));
  }
}

TEST(GgufCheckpointTest, GgmlDimensionOrderIsReversed) {
  GgufTempDir dir("order");
  GgufTestWriter writer;
  writer.kv_string("general.architecture", "qwen2");
  // ne = {3, 2}: rows of 3 contiguous values, 2 rows -> PyTorch [2, 3].
  writer.tensor("blk.0.ffn_up.weight", {3, 2}, kF32, f32_bytes(torch::tensor({0.f, 1.f, 2.f, 3.f, 4.f, 5.f})));
  GgufCheckpoint checkpoint = GgufCheckpoint::open(writer.write(dir.path() / "order.gguf"));
  const torch::Tensor up = checkpoint.take("model.layers.0.mlp.up_proj.weight", {2, 3}, kF32Cpu);
  EXPECT_TRUE(torch::equal(up, torch::tensor({{0.f, 1.f, 2.f}, {3.f, 4.f, 5.f}})));
}

TEST(GgufCheckpointTest, ConvertsToTheRequestedDtype) {
  GgufTempDir dir("dtype");
  const LlamaFixture f;
  GgufCheckpoint checkpoint = GgufCheckpoint::open(f.writer().write(dir.path() / "llama.gguf"));
  const torch::Tensor up =
      checkpoint.take("model.layers.0.mlp.up_proj.weight", {2, 3}, torch::TensorOptions().dtype(torch::kBFloat16));
  EXPECT_EQ(up.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(up, f.up.to(torch::kBFloat16)));
}

// ---- Gemma: norms stored as 1 + w ------------------------------------------------------------

TEST(GgufCheckpointTest, GemmaNormShiftIsUndoneOnEveryNorm) {
  GgufTempDir dir("gemma_norms");
  GgufTestWriter writer;
  writer.kv_string("general.architecture", "gemma3");
  writer.kv_u32("gemma3.attention.head_count", kHeads);
  const std::vector<std::pair<std::string, std::string>> norms = {
      {"output_norm.weight", "model.norm.weight"},
      {"blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"},
      {"blk.0.post_attention_norm.weight", "model.layers.0.post_attention_layernorm.weight"},
      {"blk.0.ffn_norm.weight", "model.layers.0.pre_feedforward_layernorm.weight"},
      {"blk.0.post_ffw_norm.weight", "model.layers.0.post_feedforward_layernorm.weight"},
      {"blk.0.attn_q_norm.weight", "model.layers.0.self_attn.q_norm.weight"},
      {"blk.0.attn_k_norm.weight", "model.layers.0.self_attn.k_norm.weight"},
  };
  std::vector<torch::Tensor> hf_values;
  for (size_t idx = 0; idx < norms.size(); ++idx) {
    hf_values.push_back(torch::tensor({-0.5f, 0.25f, 2.0f}).add(static_cast<double>(idx)));  // HF: centred on 0
    add_f32_tensor(writer, norms[idx].first, hf_values.back() + 1.0);  // what the converter stores
  }
  // Not norms: stored as is, and q is not permuted for gemma3.
  const torch::Tensor q = distinct({kHeads * kHeadDim, kHidden});
  const torch::Tensor embed = distinct({5, kHidden}, 0.25);
  add_f32_tensor(writer, "blk.0.attn_q.weight", q);
  add_f32_tensor(writer, "token_embd.weight", embed);
  GgufCheckpoint checkpoint = GgufCheckpoint::open(writer.write(dir.path() / "gemma.gguf"));

  for (size_t idx = 0; idx < norms.size(); ++idx) {
    SCOPED_TRACE(norms[idx].second);
    EXPECT_TRUE(torch::equal(checkpoint.take(norms[idx].second, {3}, kF32Cpu), hf_values[idx]));
  }
  EXPECT_TRUE(torch::equal(checkpoint.take("model.layers.0.self_attn.q_proj.weight", {8, 3}, kF32Cpu), q));
  EXPECT_TRUE(torch::equal(checkpoint.take("model.embed_tokens.weight", {5, 3}, kF32Cpu), embed));
}

// ---- used-tracking and errors -------------------------------------------------------------

TEST(GgufCheckpointTest, UnusedNamesListLeftoversByHfNameAndUnmappedByGgufName) {
  GgufTempDir dir("unused");
  LlamaFixture f;
  GgufTestWriter writer = f.writer();
  add_f32_tensor(writer, "rope_freqs.weight", torch::ones({2}));
  GgufCheckpoint checkpoint = GgufCheckpoint::open(writer.write(dir.path() / "llama.gguf"));
  EXPECT_TRUE(checkpoint.contains("model.layers.0.mlp.up_proj.weight"));
  EXPECT_FALSE(checkpoint.contains("rope_freqs.weight"));
  ASSERT_NE(checkpoint.gguf_name_of("model.layers.0.mlp.up_proj.weight"), nullptr);
  EXPECT_EQ(*checkpoint.gguf_name_of("model.layers.0.mlp.up_proj.weight"), "blk.0.ffn_up.weight");
  checkpoint.take("model.layers.0.mlp.up_proj.weight", {2, 3}, kF32Cpu);
  checkpoint.take("model.layers.0.self_attn.q_proj.weight", {8, 3}, kF32Cpu);
  const std::vector<std::string> expected = {
      "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.k_proj.bias",
      "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.q_proj.bias",
      "model.layers.0.self_attn.v_proj.weight", "rope_freqs.weight"};
  EXPECT_EQ(checkpoint.unused_names(), expected);
  EXPECT_EQ(checkpoint.file_of("anything"), (dir.path() / "llama.gguf").string());
}

TEST(GgufCheckpointErrorTest, MissingTensorNamesFileAndTensor) {
  GgufTempDir dir("missing");
  const auto path = LlamaFixture().writer().write(dir.path() / "llama.gguf");
  GgufCheckpoint checkpoint = GgufCheckpoint::open(path);
  ASSERT_THROWS_WITH(checkpoint.take("model.layers.5.mlp.up_proj.weight", {2, 3}, kF32Cpu), FormatError,
                     path.string() + ": tensor 'model.layers.5.mlp.up_proj.weight' is missing");
}

TEST(GgufCheckpointErrorTest, WrongShapeNamesBothNamesAndShapes) {
  GgufTempDir dir("shape");
  const auto path = LlamaFixture().writer().write(dir.path() / "llama.gguf");
  GgufCheckpoint checkpoint = GgufCheckpoint::open(path);
  ASSERT_THROWS_WITH(checkpoint.take("model.layers.0.mlp.up_proj.weight", {4, 3}, kF32Cpu), FormatError,
                     path.string() + ": tensor 'blk.0.ffn_up.weight' (model.layers.0.mlp.up_proj.weight): expected "
                                     "shape [4, 3], got [2, 3]");
  EXPECT_FALSE(checkpoint.unused_names().empty());  // a failed take marks nothing used
  EXPECT_NE(std::find(checkpoint.unused_names().begin(), checkpoint.unused_names().end(),
                      "model.layers.0.mlp.up_proj.weight"),
            checkpoint.unused_names().end());
}

TEST(GgufCheckpointErrorTest, HeadCountThatDoesNotDivideTheRows) {
  GgufTempDir dir("heads");
  GgufTestWriter writer;
  writer.kv_string("general.architecture", "llama");
  writer.kv_u32("llama.attention.head_count", 3);  // 8 rows cannot hold 3 heads
  add_f32_tensor(writer, "blk.0.attn_q.weight", distinct({8, 3}));
  const auto path = writer.write(dir.path() / "heads.gguf");
  GgufCheckpoint checkpoint = GgufCheckpoint::open(path);
  ASSERT_THROWS_WITH(checkpoint.take("model.layers.0.self_attn.q_proj.weight", {8, 3}, kF32Cpu), FormatError,
                     path.string() + ": tensor 'blk.0.attn_q.weight': 8 rows cannot be split into 3 heads");
}

TEST(GgufCheckpointErrorTest, TypeThatCannotBeDequantizedNamesTheTensor) {
  GgufTempDir dir("iq2");
  GgufTestWriter writer;
  writer.kv_string("general.architecture", "qwen3");
  writer.tensor("blk.3.ffn_up.weight", {256}, kIq2Xxs, std::string(66, '\0'));
  const auto path = writer.write(dir.path() / "iq2.gguf");
  GgufCheckpoint checkpoint = GgufCheckpoint::open(path);
  ASSERT_THROWS_WITH(checkpoint.take("model.layers.3.mlp.up_proj.weight", {256}, kF32Cpu), FormatError,
                     path.string() + ": tensor 'blk.3.ffn_up.weight': ggml type IQ2_XXS (16) cannot be dequantized");
}

TEST(GgufCheckpointErrorTest, UnknownTypeIdNamesTheTensor) {
  GgufTempDir dir("type99");
  GgufTestWriter writer;
  writer.kv_string("general.architecture", "qwen3");
  writer.tensor("blk.0.ffn_up.weight", {4}, 99, std::string(16, '\0'));
  const auto path = writer.write(dir.path() / "type99.gguf");
  ASSERT_THROWS_WITH(GgufCheckpoint::open(path), FormatError,
                     path.string() + ": tensor 'blk.0.ffn_up.weight': unknown ggml type id 99");
}

TEST(GgufCheckpointErrorTest, TruncatedDataNamesTheTensor) {
  GgufTempDir dir("truncated");
  const std::string bytes = LlamaFixture().writer().bytes();
  const auto path = testing::write_gguf_bytes(dir.path() / "truncated.gguf", bytes.substr(0, bytes.size() - 8));
  // The last tensor written is blk.0.ffn_up.weight; its data now runs past the end.
  ASSERT_THROWS_WITH(GgufCheckpoint::open(path), FormatError, path.string() + ": tensor 'blk.0.ffn_up.weight'");
  ASSERT_THROWS_WITH(GgufCheckpoint::open(path), FormatError, "truncated or corrupt");
}

TEST(GgufCheckpointErrorTest, UnsupportedArchitectureNamesFileAndValue) {
  GgufTempDir dir("falcon");
  GgufTestWriter writer;
  writer.kv_string("general.architecture", "falcon");
  const auto path = writer.write(dir.path() / "falcon.gguf");
  ASSERT_THROWS_WITH(GgufCheckpoint::open(path), FormatError,
                     path.string() + ": key 'general.architecture': \"falcon\" is not supported");
}

TEST(GgufCheckpointErrorTest, MissingArchitectureKey) {
  GgufTempDir dir("noarch");
  GgufTestWriter writer;
  const auto path = writer.write(dir.path() / "noarch.gguf");
  ASSERT_THROWS_WITH(GgufCheckpoint::open(path), FormatError, path.string() + ": key 'general.architecture'");
}

}  // namespace
}  // namespace abliterate::model
