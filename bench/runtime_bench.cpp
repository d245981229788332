// Throughput of the model runtime on one model: greedy generation at several
// batch sizes and one prefill, float32 (or --dtype bfloat16) on CPU. bench/runtime_vs_transformers.sh
// runs it next to bench/transformers_bench.py, which replays the exact token
// ids written by --ids-out.
//
//   runtime_bench MODEL.gguf [--threads 2] [--prompts FILE.jsonl] [--batches 1,16,32]
//                 [--prompt-tokens 32] [--new-tokens 64] [--prefill-batch 16]
//                 [--prefill-tokens 128] [--repeats 1] [--json FILE] [--ids-out FILE] [--profile]
//                 [--floor] [--dtype float32|bfloat16]
//
// Prompts: chat-rendered texts of FILE.jsonl ({"text": ...} lines), joined
// until long enough, then cut in the middle to an exact length (the chat
// opening and the generation prompt stay). Row r of a batch has
// target - (3r mod 8) tokens, so batches are left padded as in a study.
//
// What is counted, per batch size B with N new tokens (no stop tokens: every
// row yields exactly N tokens):
//   generate  B*N / wall time of greedy_generate (its prompt prefill included),
//   decode    B*(N-1) / (generate time - prefill time of the same batch): the
//             decode loop alone (the first new token comes from the prefill),
//   prefill   non-pad prompt tokens / wall time of one Model::prefill.
// Each time is the minimum over --repeats runs, after one warm-up run; rates
// are per wall second, and the process CPU time (all threads) is printed and
// written too: on a shared machine it shows our own work.
//
// --profile: one more generation at the largest batch under LibTorch's
// profiler; prints the top-level ops (linear by weight shape) by inclusive
// time, i.e. where a decode step's time goes.
//
// --floor: per batch size, one decode step's matrix products alone (every
// layer's q/k/v, o, gate/up and down on packed weights of the model's shapes
// and dtype, a copy of their size streamed from memory as the decoder's are)
// beside the decode step measured above: what no change outside the products
// can go below. A step's remaining time is attention, the head, the norms and
// activations, and LibTorch's per-operation cost.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include "abliterate/common/heap_reuse.hpp"
#include "abliterate/model/cpu_threads.hpp"
#include "abliterate/model/decoder.hpp"
#include "abliterate/model/generation.hpp"
#include "abliterate/model/gguf_checkpoint.hpp"
#include "abliterate/model/gguf_model_config.hpp"
#include "abliterate/model/model.hpp"
#include "abliterate/model/packed_linear.hpp"

using namespace abliterate::model;
namespace tokenizer = abliterate::tokenizer;

namespace {

struct Options {
  std::string model_path;
  int threads = 2;
  std::string prompts_path = "jobs/data/harmless/train.jsonl";
  std::vector<int64_t> batches = {1, 16, 32};
  int64_t prompt_tokens = 32;
  int64_t new_tokens = 64;
  int64_t prefill_batch = 16;
  int64_t prefill_tokens = 128;
  int repeats = 1;
  std::string json_path;
  std::string ids_path;
  bool profile = false;
  bool floor = false;
  torch::ScalarType dtype = torch::kFloat32;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "runtime_bench: %s\n", message.c_str());
  std::fprintf(stderr,
               "usage: runtime_bench MODEL.gguf [--threads N] [--prompts FILE.jsonl] [--batches 1,16,32]\n"
               "       [--prompt-tokens 32] [--new-tokens 64] [--prefill-batch 16] [--prefill-tokens 128]\n"
               "       [--repeats 1] [--json FILE] [--ids-out FILE] [--profile] [--floor]\n"
               "       [--dtype float32|bfloat16]\n");
  std::exit(2);
}

int64_t parse_count(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || value <= 0) usage_error(flag + ": expected a positive integer, got '" + text + "'");
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int arg_idx = 1; arg_idx < argc; ++arg_idx) {
    const std::string arg = argv[arg_idx];
    const auto value = [&]() -> std::string {
      if (arg_idx + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++arg_idx];
    };
    if (arg == "--threads") options.threads = static_cast<int>(parse_count(arg, value()));
    else if (arg == "--prompts") options.prompts_path = value();
    else if (arg == "--batches") {
      options.batches.clear();
      std::stringstream list(value());
      for (std::string item; std::getline(list, item, ',');) options.batches.push_back(parse_count(arg, item));
    } else if (arg == "--prompt-tokens") options.prompt_tokens = parse_count(arg, value());
    else if (arg == "--new-tokens") options.new_tokens = parse_count(arg, value());
    else if (arg == "--prefill-batch") options.prefill_batch = parse_count(arg, value());
    else if (arg == "--prefill-tokens") options.prefill_tokens = parse_count(arg, value());
    else if (arg == "--repeats") options.repeats = static_cast<int>(parse_count(arg, value()));
    else if (arg == "--json") options.json_path = value();
    else if (arg == "--ids-out") options.ids_path = value();
    else if (arg == "--profile") options.profile = true;
    else if (arg == "--floor") options.floor = true;
    else if (arg == "--dtype") {
      const std::string name = value();
      if (name == "float32") options.dtype = torch::kFloat32;
      else if (name == "bfloat16") options.dtype = torch::kBFloat16;
      else usage_error("--dtype: expected float32 or bfloat16, got '" + name + "'");
    }
    else if (!arg.empty() && arg[0] == '-') usage_error("unknown option " + arg);
    else if (options.model_path.empty()) options.model_path = arg;
    else usage_error("more than one model given");
  }
  if (options.model_path.empty()) usage_error("no model given");
  if (options.batches.empty()) usage_error("--batches: empty list");
  return options;
}

std::vector<std::string> read_prompt_texts(const std::string& path) {
  std::ifstream in(path);
  if (!in) usage_error(path + ": cannot open the prompts file");
  std::vector<std::string> texts;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  }
  if (texts.empty()) usage_error(path + ": no prompts");
  return texts;
}

// Exactly n_tokens ids of a chat-rendered prompt that starts with texts[first]:
// more texts are joined until it is long enough, then the middle is cut.
std::vector<int64_t> prompt_ids(const Model& model, const std::vector<std::string>& texts, size_t first,
                                int64_t n_tokens) {
  constexpr int64_t kHeadTokens = 4;  // BOS and the turn opening
  std::string user = texts[first % texts.size()];
  for (size_t next = first + 1;; ++next) {
    const std::string rendered = model.chat_template().render({{"user", user}}, /*add_generation_prompt=*/true);
    std::vector<int64_t> ids = model.tokenizer().encode(rendered, tokenizer::SpecialTokens::parse);
    const auto n_ids = static_cast<int64_t>(ids.size());
    if (n_ids >= n_tokens) {
      const int64_t head = std::min(kHeadTokens, n_tokens / 2);
      std::vector<int64_t> cut(ids.begin(), ids.begin() + head);
      cut.insert(cut.end(), ids.end() - (n_tokens - head), ids.end());
      return cut;
    }
    user += " " + texts[next % texts.size()];
  }
}

// `n_rows` prompts of target_tokens - (3r mod 8) tokens, left padded with pad_id.
PromptBatch make_batch(const Model& model, const std::vector<std::string>& texts, int64_t n_rows,
                       int64_t target_tokens, int64_t pad_id) {
  std::vector<std::vector<int64_t>> rows;
  for (int64_t row = 0; row < n_rows; ++row) {
    const int64_t n_tokens = std::max<int64_t>(1, target_tokens - (3 * row) % 8);
    rows.push_back(prompt_ids(model, texts, static_cast<size_t>(row) * 7, n_tokens));
  }
  torch::Tensor ids = torch::full({n_rows, target_tokens}, pad_id, torch::kInt64);
  torch::Tensor mask = torch::zeros({n_rows, target_tokens}, torch::kInt64);
  for (int64_t row = 0; row < n_rows; ++row) {
    const auto& row_ids = rows[static_cast<size_t>(row)];
    const auto n_ids = static_cast<int64_t>(row_ids.size());
    ids[row].narrow(0, target_tokens - n_ids, n_ids).copy_(torch::tensor(row_ids, torch::kInt64));
    mask[row].narrow(0, target_tokens - n_ids, n_ids).fill_(1);
  }
  return PromptBatch{ids, mask};
}

nlohmann::json to_json_rows(const torch::Tensor& matrix) {
  const torch::Tensor m = matrix.to(torch::kInt64).contiguous();
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t row = 0; row < m.size(0); ++row) {
    const int64_t* begin = m[row].data_ptr<int64_t>();
    rows.push_back(std::vector<int64_t>(begin, begin + m.size(1)));
  }
  return rows;
}

// This process's CPU time (all threads), in seconds.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Timing {
  double wall = std::numeric_limits<double>::infinity();  // seconds
  double cpu = std::numeric_limits<double>::infinity();   // process CPU seconds, all threads
};

// Minimum wall time, and minimum CPU time, of `repeats` calls of `run`. On a
// shared machine the CPU time says more about our own work than the wall time.
Timing min_seconds(int repeats, const std::function<void()>& run) {
  Timing best;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    run();
    best.cpu = std::min(best.cpu, cpu_seconds() - cpu_start);
    best.wall = std::min(best.wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// Runs `run` under the legacy profiler and prints its top-level ops (on this
// thread: the ops the model code calls, each with what it calls inside) by
// inclusive wall time. linear and matmul are told apart by their second
// input's shape.
void print_profile(const std::function<void()>& run) {
  namespace profiler = torch::autograd::profiler;
  profiler::thread_event_lists event_lists;
  const auto start = std::chrono::steady_clock::now();
  {
    profiler::TLSLegacyProfilerGuard guard(
        torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU, /*report_input_shapes=*/true),
        [&](const profiler::thread_event_lists& lists) { event_lists = lists; });
    run();
  }
  const double total_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  std::map<std::string, std::pair<double, int64_t>> by_op;  // key -> (inclusive us, calls)
  const uint64_t main_thread = at::RecordFunction::currentThreadId();
  for (const auto& events : event_lists) {
    std::vector<const profiler::LegacyEvent*> open;
    for (const auto& event : events) {
      if (event.threadId() != main_thread) continue;
      if (event.kind() == profiler::EventKind::PushRange) {
        open.push_back(&event);
      } else if (event.kind() == profiler::EventKind::PopRange && !open.empty()) {
        const profiler::LegacyEvent* push = open.back();
        open.pop_back();
        if (!open.empty()) continue;  // nested: counted in its caller
        std::string key = push->name();
        const auto shapes = push->shapes();
        if ((key == "aten::linear" || key == "aten::matmul") && shapes.size() > 1) {
          key += " [";
          for (size_t dim = 0; dim < shapes[1].size(); ++dim) key += (dim ? "," : "") + std::to_string(shapes[1][dim]);
          key += "]";
        }
        auto& entry = by_op[key];
        entry.first += push->cpuElapsedUs(event);
        entry.second += 1;
      }
    }
  }
  std::vector<std::pair<std::string, std::pair<double, int64_t>>> rows(by_op.begin(), by_op.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  std::printf("profile: %.3f s wall; top-level ops by inclusive time\n", total_us * 1e-6);
  for (size_t row_idx = 0; row_idx < rows.size() && row_idx < 25; ++row_idx) {
    const auto& [key, entry] = rows[row_idx];
    std::printf("  %6.1f%% %10.3f s %7lld calls  %s\n", 100.0 * entry.first / total_us, entry.first * 1e-6,
                static_cast<long long>(entry.second), key.c_str());
  }
  // Totals over all shapes: linear = the projections and lm_head, matmul = attention.
  for (const std::string family : {"aten::linear", "aten::matmul"}) {
    double family_us = 0;
    for (const auto& [key, entry] : rows) {
      if (key.rfind(family, 0) == 0) family_us += entry.first;
    }
    std::printf("  %6.1f%% %10.3f s all %s\n", 100.0 * family_us / total_us, family_us * 1e-6, family.c_str());
  }
}

// First calls allocate and pick kernels: one small generate and prefill
// before anything is timed.
void warm_up(const Model& model, const Decoder& decoder, const std::vector<std::string>& texts, int64_t prompt_tokens,
             GreedyOptions greedy) {
  c10::InferenceMode guard;
  const PromptBatch warm = make_batch(model, texts, 2, prompt_tokens, greedy.pad_token_id);
  greedy.max_new_tokens = 4;
  greedy_generate(decoder, warm, greedy, nullptr, nullptr);
  model.prefill(warm, nullptr, false);
}

// --json appends one line per case (the figures); --ids writes the token ids
// that bench/runtime_vs_transformers.sh compares with transformers'.
void write_results(const Options& options, const std::vector<nlohmann::json>& results, const nlohmann::json& ids_doc) {
  if (!options.json_path.empty()) {
    std::ofstream out(options.json_path, std::ios::app);
    if (!out) usage_error(options.json_path + ": cannot open for writing");
    for (const auto& result : results) out << result.dump() << "\n";
  }
  if (!options.ids_path.empty()) {
    std::ofstream out(options.ids_path);
    if (!out) usage_error(options.ids_path + ": cannot open for writing");
    out << ids_doc.dump() << "\n";
  }
}

// One decode step's matrix products at `rows` rows, alone: per layer the
// fused q/k/v, o, fused gate/up and down products of the decoder, on weights
// of random values (the time of a product does not depend on them). Layers
// are distinct copies, so that each step streams their bytes from memory.
class DecodeProducts {
 public:
  DecodeProducts(const ModelConfig& config, torch::ScalarType dtype) : config_(config), dtype_(dtype) {
    const int64_t d = config.hidden_size, width = config.intermediate_size;
    const int64_t q_width = config.n_heads * config.head_dim, kv_width = config.n_kv_heads * config.head_dim;
    const auto weight = [&](int64_t out, int64_t in) { return (torch::randn({out, in}) * 0.02).to(dtype); };
    for (int64_t layer = 0; layer < config.n_layers; ++layer) {
      layers_.push_back({PackedLinear(weight(q_width + 2 * kv_width, d), {}), PackedLinear(weight(d, q_width), {}),
                         PackedLinear(weight(2 * width, d), {}), PackedLinear(weight(d, width), {})});
    }
  }

  // The inputs of a step's products at `rows` rows: hidden states, attention's context, the activation.
  struct Inputs {
    torch::Tensor hidden, context, activated;
  };
  Inputs inputs(int64_t rows) const {
    const auto input = [&](int64_t width) { return torch::randn({rows, 1, width}).to(dtype_); };
    return {input(config_.hidden_size), input(config_.n_heads * config_.head_dim), input(config_.intermediate_size)};
  }

  void run(const Inputs& in) const {
    for (const Layer& layer : layers_) {
      layer.qkv(in.hidden);
      layer.o_proj(in.context);
      layer.gate_up(in.hidden);
      layer.down_proj(in.activated);
    }
  }

  // Floating-point operations of one step at `rows` rows.
  double flops(int64_t rows) const {
    double per_row = 0;
    for (const Layer& layer : layers_) {
      for (const PackedLinear* linear : {&layer.qkv, &layer.o_proj, &layer.gate_up, &layer.down_proj}) {
        per_row += 2.0 * static_cast<double>(linear->in_features() * linear->out_features());
      }
    }
    return per_row * static_cast<double>(rows);
  }

 private:
  struct Layer {
    PackedLinear qkv, o_proj, gate_up, down_proj;
  };
  ModelConfig config_;
  torch::ScalarType dtype_;
  std::vector<Layer> layers_;
};

}  // namespace

int main(int argc, char** argv) {
  abliterate::keep_freed_blocks_mapped();  // as abliterate's main() does
  const Options options = parse_options(argc, argv);
  const int threads = configure_cpu_threads(options.threads);
  const std::vector<std::string> texts = read_prompt_texts(options.prompts_path);
  const std::string model_name = std::filesystem::path(options.model_path).filename().string();

  // The Model serves tokenization, chat rendering and prefill. Generation runs
  // greedy_generate (what Model::generate runs) on a Decoder of its own,
  // without stop tokens, so that every row yields exactly N tokens.
  auto load_start = std::chrono::steady_clock::now();
  const std::unique_ptr<Model> model = Model::load(options.model_path, LoadOptions{.dtype = options.dtype, .device = torch::kCPU, .adapter = {}});
  GgufCheckpoint checkpoint = GgufCheckpoint::open(options.model_path);
  const ModelConfig config = model_config_from_gguf(checkpoint.reader());
  const Decoder decoder(config, load_decoder_weights(checkpoint, config, torch::TensorOptions().dtype(options.dtype)));
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  const int64_t pad_id = config.pad_token_id >= 0 ? config.pad_token_id
                         : !config.eos_token_ids.empty() ? config.eos_token_ids.front()
                                                         : 0;
  GreedyOptions greedy;
  greedy.max_new_tokens = options.new_tokens;
  greedy.pad_token_id = pad_id;
  greedy.n_sampleable_tokens = model->tokenizer().vocab_size();

  std::printf("runtime_bench: %s, %s, CPU, %d threads, loaded in %.1f s (model + decoder)\n", model_name.c_str(),
              c10::toString(options.dtype), threads, load_seconds);

  nlohmann::json ids_doc = {{"model", model_name},       {"pad_token_id", pad_id},
                            {"threads", threads},        {"new_tokens", options.new_tokens},
                            {"repeats", options.repeats}, {"cases", nlohmann::json::array()}};
  std::vector<nlohmann::json> results;
  const auto record = [&](const std::string& case_name, const std::string& kind, int64_t batch, int64_t prompt_len,
                          int64_t n_tokens, Timing timing) {
    const double per_second = static_cast<double>(n_tokens) / timing.wall;
    results.push_back({{"side", "abliterate"}, {"model", model_name}, {"case", case_name}, {"kind", kind},
                       {"batch", batch}, {"prompt_len", prompt_len}, {"new_tokens", options.new_tokens},
                       {"tokens", n_tokens}, {"seconds", timing.wall}, {"tokens_per_s", per_second},
                       {"cpu_seconds", timing.cpu}, {"threads", threads}});
    std::printf("  %-12s %-8s B=%-3lld T=%-4lld %6lld tokens %8.3f s (cpu %8.3f s) %9.1f tok/s\n", case_name.c_str(),
                kind.c_str(), static_cast<long long>(batch), static_cast<long long>(prompt_len),
                static_cast<long long>(n_tokens), timing.wall, timing.cpu, per_second);
    std::fflush(stdout);
  };

  warm_up(*model, decoder, texts, options.prompt_tokens, greedy);

  std::vector<std::pair<int64_t, double>> decode_step_seconds;  // per batch size, for --floor
  for (const int64_t batch_size : options.batches) {
    const PromptBatch batch = make_batch(*model, texts, batch_size, options.prompt_tokens, pad_id);
    const Timing prefill_timing = min_seconds(options.repeats, [&] { model->prefill(batch, nullptr, false); });
    std::vector<std::vector<int64_t>> generated;
    const Timing generate_timing = min_seconds(options.repeats, [&] {
      c10::InferenceMode guard;
      generated = greedy_generate(decoder, batch, greedy, nullptr, nullptr);
    });
    for (const auto& row : generated) {
      if (static_cast<int64_t>(row.size()) != options.new_tokens) usage_error("a row stopped early");
    }
    const std::string suffix = "_b" + std::to_string(batch_size);
    record("generate" + suffix, "generate", batch_size, options.prompt_tokens, batch_size * options.new_tokens,
           generate_timing);
    const Timing decode_timing{std::max(1e-9, generate_timing.wall - prefill_timing.wall),
                               std::max(1e-9, generate_timing.cpu - prefill_timing.cpu)};
    record("decode" + suffix, "decode", batch_size, options.prompt_tokens, batch_size * (options.new_tokens - 1),
           decode_timing);
    decode_step_seconds.emplace_back(batch_size, decode_timing.wall / static_cast<double>(options.new_tokens - 1));
    ids_doc["cases"].push_back({{"name", "generate" + suffix}, {"kind", "generate"}, {"batch", batch_size},
                                {"input_ids", to_json_rows(batch.input_ids)},
                                {"attention_mask", to_json_rows(batch.attention_mask)},
                                {"generated", generated}});
  }

  if (options.floor) {
    const DecodeProducts products(config, options.dtype);
    for (const auto& [batch_size, step_seconds] : decode_step_seconds) {
      const DecodeProducts::Inputs inputs = products.inputs(batch_size);
      products.run(inputs);  // warm-up: oneDNN makes its primitives
      const Timing timing = min_seconds(std::max(options.repeats, 3), [&] { products.run(inputs); });
      std::printf("  floor_b%-5lld products B=%-3lld one decode step's products %7.2f ms (%.0f GFLOP/s); "
                  "the decode step %7.2f ms, %.2fx them\n",
                  static_cast<long long>(batch_size), static_cast<long long>(batch_size), timing.wall * 1e3,
                  products.flops(batch_size) / timing.wall * 1e-9, step_seconds * 1e3, step_seconds / timing.wall);
    }
    std::fflush(stdout);
  }

  {
    const PromptBatch batch = make_batch(*model, texts, options.prefill_batch, options.prefill_tokens, pad_id);
    const int64_t n_real = batch.attention_mask.sum().item<int64_t>();
    PrefillOutput out;
    const Timing timing = min_seconds(options.repeats, [&] { out = model->prefill(batch, nullptr, false); });
    const std::string name = "prefill_b" + std::to_string(options.prefill_batch);
    record(name, "prefill", options.prefill_batch, options.prefill_tokens, n_real, timing);
    const torch::Tensor argmax = out.logits.argmax(-1).contiguous();  // int64 [B]
    ids_doc["cases"].push_back({{"name", name}, {"kind", "prefill"}, {"batch", options.prefill_batch},
                                {"input_ids", to_json_rows(batch.input_ids)},
                                {"attention_mask", to_json_rows(batch.attention_mask)},
                                {"argmax", std::vector<int64_t>(argmax.data_ptr<int64_t>(),
                                                                argmax.data_ptr<int64_t>() + argmax.numel())}});
  }

  if (options.profile) {
    const int64_t batch_size = *std::max_element(options.batches.begin(), options.batches.end());
    const PromptBatch batch = make_batch(*model, texts, batch_size, options.prompt_tokens, pad_id);
    std::printf("profile of one greedy_generate: B=%lld, T=%lld, %lld new tokens\n", static_cast<long long>(batch_size),
                static_cast<long long>(options.prompt_tokens), static_cast<long long>(options.new_tokens));
    print_profile([&] {
      c10::InferenceMode guard;
      greedy_generate(decoder, batch, greedy, nullptr, nullptr);
    });
  }

  write_results(options, results, ids_doc);
  return 0;
}
