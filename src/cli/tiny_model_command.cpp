#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/common/error.hpp"
#include "abliterate/model/tiny_model.hpp"

namespace abliterate::cli {

int tiny_model_command(const TinyModelArgs& args) {
  const std::optional<model::Architecture> family = model::tiny_family_from_name(args.family);
  ABL_CHECK(family.has_value(), InputError,
            "make-tiny-model: --family '{}' is not one of gemma3, llama, mistral, qwen2, qwen3", args.family);
  model::TinyModelOptions options = model::TinyModelOptions::for_family(*family);
  options.seed = args.seed;
  model::write_tiny_model(args.folder, options);
  fmt::print("wrote a tiny random {} model (hidden {}, {} layers) to {}\n", args.family, options.hidden_size,
             options.n_layers, args.folder);
  return 0;
}

}  // namespace abliterate::cli
