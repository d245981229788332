// The tiny random Gemma 3 model, loaded once per test binary, for the
// evaluate tests.
#pragma once

#include <memory>

#include "abliterate/model/model.hpp"
#include "model/model_test_support.hpp"

namespace abliterate::evaluate::testing {

inline const model::Model& tiny_model() {
  static const std::unique_ptr<model::Model> model =
      model::Model::load(model::testing::tiny_model_folder(), model::LoadOptions{});
  return *model;
}

}  // namespace abliterate::evaluate::testing
