#include "abliterate/evaluate/batch_halving.hpp"

#include <algorithm>
#include <new>
#include <string_view>

#include <c10/util/Exception.h>
#include <fmt/format.h>

namespace abliterate::evaluate {

bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) return true;
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return true;
  // LibTorch 1.13's DefaultCPUAllocator raises a plain c10::Error.
  return dynamic_cast<const c10::Error*>(&e) != nullptr &&
         std::string_view(e.what()).find("not enough memory") != std::string_view::npos;
}

void say_batch_halved(int64_t old_size, int64_t new_size) {
  fmt::print(stderr, "abliterate: out of memory at batch size {}; going on at batch size {}\n", old_size, new_size);
}

void for_each_batch(size_t n, int64_t& batch_size, const std::function<void(size_t begin, size_t end)>& process,
                    const std::function<void(int64_t old_size, int64_t new_size)>& on_halve) {
  size_t begin = 0;
  while (begin < n) {
    const size_t end = std::min(n, begin + static_cast<size_t>(std::max<int64_t>(1, batch_size)));
    try {
      process(begin, end);
    } catch (const std::exception& e) {
      if (!is_out_of_memory(e) || batch_size <= 1) throw;
      const int64_t halved = std::max<int64_t>(1, std::min<int64_t>(batch_size, static_cast<int64_t>(end - begin)) / 2);
      if (on_halve) on_halve(batch_size, halved);
      batch_size = halved;
      continue;  // the same slice, smaller
    }
    begin = end;
  }
}

}  // namespace abliterate::evaluate
