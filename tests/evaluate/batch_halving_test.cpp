// Out-of-memory halves the batch and retries the same slice; the results are
// the same rows in the same order, and the smaller size is kept.
#include "abliterate/evaluate/batch_halving.hpp"

#include <new>
#include <stdexcept>
#include <vector>

#include <c10/util/Exception.h>
#include <gtest/gtest.h>

namespace abliterate::evaluate {
namespace {

// A device that holds at most `capacity` rows at once, throwing `Oom` past it.
template <typename Oom>
struct SmallDevice {
  size_t capacity;
  std::vector<size_t> rows_done;
  std::vector<size_t> slice_sizes;
  void operator()(size_t begin, size_t end) {
    if (end - begin > capacity) throw Oom();
    slice_sizes.push_back(end - begin);
    for (size_t row = begin; row < end; ++row) rows_done.push_back(row);
  }
};

struct CpuAllocatorError : c10::Error {
  CpuAllocatorError() : c10::Error("DefaultCPUAllocator: not enough memory: you tried to allocate 1 bytes.", "") {}
};

template <typename Oom>
void expect_halving_to_fit() {
  SmallDevice<Oom> device{.capacity = 3, .rows_done = {}, .slice_sizes = {}};
  int64_t batch_size = 16;
  std::vector<std::pair<int64_t, int64_t>> halvings;
  for_each_batch(
      10, batch_size, [&](size_t b, size_t e) { device(b, e); },
      [&](int64_t old_size, int64_t new_size) { halvings.emplace_back(old_size, new_size); });
  EXPECT_EQ(batch_size, 2);  // 16 -> 5 (the 10-row slice halved) -> 2
  EXPECT_EQ(halvings, (std::vector<std::pair<int64_t, int64_t>>{{16, 5}, {5, 2}}));
  std::vector<size_t> all_rows(10);
  for (size_t row = 0; row < 10; ++row) all_rows[row] = row;
  EXPECT_EQ(device.rows_done, all_rows);
  EXPECT_EQ(device.slice_sizes, (std::vector<size_t>{2, 2, 2, 2, 2}));
}

TEST(BatchHalving, OutOfMemoryHalvesAndRetriesTheSameSlice) {
  expect_halving_to_fit<std::bad_alloc>();
  expect_halving_to_fit<CpuAllocatorError>();
}

TEST(BatchHalving, AtOneRowOrOnOtherErrorsTheErrorStands) {
  SmallDevice<std::bad_alloc> device{.capacity = 0, .rows_done = {}, .slice_sizes = {}};
  int64_t batch_size = 4;
  EXPECT_THROW(for_each_batch(3, batch_size, [&](size_t b, size_t e) { device(b, e); }), std::bad_alloc);
  EXPECT_EQ(batch_size, 1);
  int64_t untouched = 4;
  EXPECT_THROW(for_each_batch(3, untouched, [](size_t, size_t) { throw std::runtime_error("bad prompt"); }),
               std::runtime_error);
  EXPECT_EQ(untouched, 4);
  EXPECT_FALSE(is_out_of_memory(std::runtime_error("out of memory")));
  EXPECT_TRUE(is_out_of_memory(std::bad_alloc()));
}

}  // namespace
}  // namespace abliterate::evaluate
