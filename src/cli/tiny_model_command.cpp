#include <fmt/format.h>

#include "abliterate/cli/commands.hpp"
#include "abliterate/model/tiny_model.hpp"

namespace abliterate::cli {

int tiny_model_command(const TinyModelArgs& args) {
  model::TinyModelOptions options;
  options.seed = args.seed;
  model::write_tiny_model(args.folder, options);
  fmt::print("wrote a tiny random Gemma 3 model (hidden {}, {} layers) to {}\n", options.hidden_size,
             options.n_layers, args.folder);
  return 0;
}

}  // namespace abliterate::cli
