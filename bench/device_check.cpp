// device_check MODEL: the runtime on a CUDA device (the GPU machine; see
// scripts/device_check.sh). MODEL is an HF folder or a .gguf file, or
// "tiny:FAMILY" (the tests' tiny random model of gemma3, llama, mistral,
// qwen2 or qwen3) or "random-135m:FAMILY" (a random model of SmolLM2-135M's
// shape: hidden 576, 30 layers, 9 heads, 3 KV heads; the real GGUFs are too
// big to carry to the GPU machine), written to a temporary folder. Loads it on the CPU in
// float32 and on CUDA in float32 and bfloat16, runs one batched prefill of a
// few chat prompts (one longer than a sliding window) on each, and prints
//   - the max relative error of CUDA-fp32 and CUDA-bf16 logits against
//     CPU-fp32 (max |a - b| / max |b| per prompt, worst prompt), and of the
//     fp32 hidden states, and whether every prompt's argmax agrees;
//   - whether greedy continuations on CUDA-fp32 equal CPU-fp32's;
//   - greedy-generation throughput on CUDA (fp32, bf16) at batch 1, 16, 32.
// Exits 1 when fp32 logits differ by more than --fp32-tolerance or bf16 by
// more than --bf16-tolerance, 2 when there is no CUDA device.
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "abliterate/chat/chat_template.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/model/model.hpp"
#include "abliterate/model/tiny_model.hpp"

namespace {

using abliterate::model::LoadOptions;
using abliterate::model::Model;

struct Options {
  std::string model_path;
  int64_t gen_tokens = 64;       // --gen-tokens: new tokens per row in the timing runs
  int64_t check_tokens = 32;     // --check-tokens: greedy tokens compared CUDA vs CPU
  double fp32_tolerance = 1e-3;  // --fp32-tolerance
  double bf16_tolerance = 1e-1;  // --bf16-tolerance
  std::vector<int64_t> batch_sizes = {1, 16, 32};
  std::string json_path;   // --json: the results as JSON
  bool allow_cpu = false;  // --allow-cpu: without CUDA, run the "device" side on the CPU (a smoke test)
};

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      ABL_CHECK(i + 1 < argc, abliterate::InputError, "{}: expected a value", arg);
      return argv[++i];
    };
    if (arg == "--gen-tokens")
      options.gen_tokens = std::stoll(value());
    else if (arg == "--check-tokens")
      options.check_tokens = std::stoll(value());
    else if (arg == "--fp32-tolerance")
      options.fp32_tolerance = std::stod(value());
    else if (arg == "--bf16-tolerance")
      options.bf16_tolerance = std::stod(value());
    else if (arg == "--json")
      options.json_path = value();
    else if (arg == "--allow-cpu")
      options.allow_cpu = true;
    else if (arg == "--batch-sizes") {
      options.batch_sizes.clear();
      std::string list = value();
      for (size_t pos = 0; pos <= list.size();) {
        const size_t comma = std::min(list.find(',', pos), list.size());
        options.batch_sizes.push_back(std::stoll(list.substr(pos, comma - pos)));
        pos = comma + 1;
      }
    } else if (options.model_path.empty() && arg.rfind("--", 0) != 0)
      options.model_path = arg;
    else
      throw abliterate::InputError(fmt::format("unknown argument '{}'", arg));
  }
  ABL_CHECK(!options.model_path.empty(), abliterate::InputError,
            "usage: device_check MODEL [--gen-tokens N] [--check-tokens N] [--batch-sizes 1,16,32] "
            "[--fp32-tolerance X] [--bf16-tolerance X] [--json FILE]");
  return options;
}

// Eight prompts of different lengths; the last is longer than Gemma 3's
// sliding window of the tiny model and spans many tokens on the real ones.
std::vector<std::string> user_prompts() {
  std::string long_prompt = "Summarize the following notes in one sentence.";
  for (int i = 0; i < 40; ++i) {
    long_prompt += fmt::format(" Note {}: the shipment of {} crates arrived on day {} and was stored in hall {}.", i,
                               3 * i + 7, i % 28 + 1, i % 5);
  }
  return {"Hello!",
          "What is the capital of France?",
          "Write a haiku about the sea.",
          "Explain in two sentences why the sky is blue.",
          "List three prime numbers greater than 100.",
          "Translate 'good morning' into German, Spanish and Italian.",
          "How do I make a cup of tea?",
          long_prompt};
}

std::vector<std::string> render_all(const Model& model, const std::vector<std::string>& prompts) {
  std::vector<std::string> rendered;
  for (const auto& prompt : prompts) rendered.push_back(model.chat_template().render({{"user", prompt}}, true));
  return rendered;
}

// Worst over rows of max |a - b| / max |b| (float64, on the CPU).
double max_relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor x = a.to(torch::kCPU, torch::kFloat64).flatten(1);
  const torch::Tensor y = b.to(torch::kCPU, torch::kFloat64).flatten(1);
  const torch::Tensor diff = (x - y).abs().amax(1);
  const torch::Tensor scale = y.abs().amax(1).clamp_min(1e-30);
  return (diff / scale).max().item<double>();
}

bool argmax_agrees(const torch::Tensor& a, const torch::Tensor& b) {
  return torch::equal(a.to(torch::kCPU).argmax(-1), b.to(torch::kCPU).argmax(-1));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Throughput {
  int64_t batch_size = 0;
  int64_t new_tokens = 0;
  double seconds = 0;
};

// Greedy generation of `gen_tokens` per row (no early stop besides stop
// tokens) at each batch size, after one warm-up call.
std::vector<Throughput> time_generation(const Model& model, const std::vector<std::string>& rendered,
                                        const std::vector<int64_t>& batch_sizes, int64_t gen_tokens) {
  std::vector<Throughput> results;
  (void)model.generate(model.tokenize({rendered[0]}), 4, nullptr);  // warm-up: kernels, allocator
  for (const int64_t batch_size : batch_sizes) {
    std::vector<std::string> prompts;
    for (int64_t i = 0; i < batch_size; ++i)
      prompts.push_back(rendered[static_cast<size_t>(i) % (rendered.size() - 1)]);
    const auto batch = model.tokenize(prompts);
    if (model.device().is_cuda()) torch::cuda::synchronize();
    const auto start = std::chrono::steady_clock::now();
    const auto rows = model.generate(batch, gen_tokens, nullptr);
    Throughput t;
    t.batch_size = batch_size;
    t.seconds = seconds_since(start);  // generate returns host ids: the device work is done
    for (const auto& row : rows) t.new_tokens += static_cast<int64_t>(row.size());
    results.push_back(t);
  }
  return results;
}

// A folder holding the model that `spec` names ("tiny:llama", "random-135m:llama"), or `spec` itself.
std::string materialize_model(const std::string& spec) {
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) return spec;
  const std::string kind = spec.substr(0, colon);
  const auto family = abliterate::model::tiny_family_from_name(spec.substr(colon + 1));
  ABL_CHECK(family.has_value() && (kind == "tiny" || kind == "random-135m"), abliterate::InputError,
            "model '{}': expected a path, tiny:FAMILY or random-135m:FAMILY (gemma3, llama, mistral, qwen2, qwen3)",
            spec);
  auto options = abliterate::model::TinyModelOptions::for_family(*family);
  if (kind == "random-135m") {
    options.hidden_size = 576;
    options.intermediate_size = 1536;
    options.n_layers = 30;
    options.n_heads = 9;
    options.n_kv_heads = 3;
    options.head_dim = 64;
    options.sliding_window = 256;
  }
  const auto folder =
      std::filesystem::temp_directory_path() / ("abl_device_check_" + kind + "_" + spec.substr(colon + 1));
  std::filesystem::remove_all(folder);
  abliterate::model::write_tiny_model(folder, options);
  return folder.string();
}

int run(const Options& options) {
  nlohmann::json report;
  report["model"] = options.model_path;
  const std::string model_path = materialize_model(options.model_path);
  report["torch_version"] = TORCH_VERSION;
  const bool has_cuda = torch::cuda::is_available();
  if (!has_cuda && !options.allow_cpu) {
    fmt::print("device_check: no CUDA device (LibTorch {}); nothing to check\n", TORCH_VERSION);
    return 2;
  }
  const torch::Device device = has_cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  fmt::print("device_check: LibTorch {}, {} CUDA device(s); checking {}\n", TORCH_VERSION, torch::cuda::device_count(),
             device.str());
  report["device"] = device.str();
  torch::NoGradGuard no_grad;

  const auto load = [&](torch::Dtype dtype, torch::Device device) {
    const auto start = std::chrono::steady_clock::now();
    LoadOptions options;
    options.dtype = dtype;
    options.device = device;
    auto model = Model::load(model_path, options);
    fmt::print("loaded {} on {} in {:.1f} s\n", c10::toString(dtype), device.str(), seconds_since(start));
    return model;
  };
  const auto cpu = load(torch::kFloat32, torch::kCPU);
  const auto cuda32 = load(torch::kFloat32, device);
  const auto cuda16 = load(torch::kBFloat16, device);

  const std::vector<std::string> rendered = render_all(*cpu, user_prompts());
  const auto cpu_out = cpu->prefill(cpu->tokenize(rendered), nullptr, /*capture_hidden=*/true);
  const auto c32_out = cuda32->prefill(cuda32->tokenize(rendered), nullptr, /*capture_hidden=*/true);
  const auto c16_out = cuda16->prefill(cuda16->tokenize(rendered), nullptr, /*capture_hidden=*/false);

  const double fp32_logits = max_relative_error(c32_out.logits, cpu_out.logits);
  const double fp32_hidden = max_relative_error(c32_out.hidden, cpu_out.hidden);
  const double bf16_logits = max_relative_error(c16_out.logits, cpu_out.logits);
  const bool fp32_argmax = argmax_agrees(c32_out.logits, cpu_out.logits);
  const bool bf16_argmax = argmax_agrees(c16_out.logits, cpu_out.logits);
  fmt::print(
      "prefill of {} prompts: max rel error vs CPU fp32: {} fp32 logits {:.3e} (hidden {:.3e}, argmax {}), "
      "bf16 logits {:.3e} (argmax {})\n",
      rendered.size(), device.str(), fp32_logits, fp32_hidden, fp32_argmax ? "equal" : "DIFFERS", bf16_logits,
      bf16_argmax ? "equal" : "differs");
  report["prefill"] = {{"prompts", rendered.size()},         {"fp32_logits_rel_err", fp32_logits},
                       {"fp32_hidden_rel_err", fp32_hidden}, {"fp32_argmax_equal", fp32_argmax},
                       {"bf16_logits_rel_err", bf16_logits}, {"bf16_argmax_equal", bf16_argmax}};

  // Greedy continuations of every prompt, CUDA fp32 against CPU fp32.
  const auto cpu_ids = cpu->generate(cpu->tokenize(rendered), options.check_tokens, nullptr);
  const auto c32_ids = cuda32->generate(cuda32->tokenize(rendered), options.check_tokens, nullptr);
  int64_t identical_rows = 0;
  for (size_t i = 0; i < cpu_ids.size(); ++i) identical_rows += cpu_ids[i] == c32_ids[i] ? 1 : 0;
  fmt::print("greedy {} tokens: {}/{} rows identical on {} fp32 and CPU fp32\n", options.check_tokens, identical_rows,
             cpu_ids.size(), device.str());
  fmt::print("fp32 reply to '{}': {}\n", user_prompts()[1], cuda32->tokenizer().decode(c32_ids[1]));
  report["greedy_rows_identical"] = identical_rows;
  report["greedy_rows"] = cpu_ids.size();

  for (const auto& [name, model] : {std::pair{"fp32", cuda32.get()}, std::pair{"bf16", cuda16.get()}}) {
    for (const Throughput& t : time_generation(*model, rendered, options.batch_sizes, options.gen_tokens)) {
      const double rate = static_cast<double>(t.new_tokens) / t.seconds;
      fmt::print("generate {} {} batch {:>2}: {} new tokens in {:.2f} s = {:.1f} tokens/s\n", device.str(), name,
                 t.batch_size, t.new_tokens, t.seconds, rate);
      report["generate"].push_back({{"dtype", name},
                                    {"batch", t.batch_size},
                                    {"new_tokens", t.new_tokens},
                                    {"seconds", t.seconds},
                                    {"tokens_per_s", rate}});
    }
  }

  const bool ok = fp32_logits <= options.fp32_tolerance && bf16_logits <= options.bf16_tolerance;
  report["ok"] = ok;
  if (!options.json_path.empty()) std::ofstream(options.json_path) << report.dump(2) << "\n";
  fmt::print("device_check: {} (tolerances: fp32 {:.0e}, bf16 {:.0e})\n", ok ? "ok" : "FAILED", options.fp32_tolerance,
             options.bf16_tolerance);
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "device_check: %s\n", e.what());
    return 1;
  }
}
