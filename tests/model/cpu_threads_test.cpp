// configure_cpu_threads: an explicit count is applied and reported.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "abliterate/model/cpu_threads.hpp"

namespace abliterate::model {
namespace {

TEST(CpuThreadsTest, ExplicitCountIsApplied) {
  EXPECT_EQ(configure_cpu_threads(2), 2);
  EXPECT_EQ(torch::get_num_threads(), 2);
  EXPECT_EQ(configure_cpu_threads(1), 1);
  EXPECT_EQ(torch::get_num_threads(), 1);
}

}  // namespace
}  // namespace abliterate::model
