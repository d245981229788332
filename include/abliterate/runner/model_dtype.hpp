// The torch element type of a job's dtype. config names the types (the
// schema's and --dtype's spellings) and the runtime knows only torch's: this
// is the one bridge, for the workers and for `chat`.
#pragma once

#include <torch/torch.h>

#include "abliterate/config/job.hpp"

namespace abliterate::runner {

torch::Dtype torch_dtype(config::DType dtype);

}  // namespace abliterate::runner
