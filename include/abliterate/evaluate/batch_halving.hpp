// Running prompts in batches that shrink on out-of-memory (issue 13): a batch
// that does not fit is halved and retried instead of failing the trial, and
// the smaller size is kept for the batches after it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>

namespace abliterate::evaluate {

// True for the errors a failed allocation raises: c10::OutOfMemoryError
// (CUDA), std::bad_alloc, and the CPU allocator's "not enough memory".
bool is_out_of_memory(const std::exception& e);

// Tells stderr that a batch ran out of memory and the run goes on with fewer rows.
void say_batch_halved(int64_t old_size, int64_t new_size);

// Calls process(begin, end) on consecutive slices of [0, n) of at most
// `batch_size` rows. When a call throws out-of-memory, `batch_size` is halved
// (on_halve(old, new) is told) and the same slice retried; at 1 the error
// stands. `process` must leave no partial result behind when it throws.
void for_each_batch(size_t n, int64_t& batch_size, const std::function<void(size_t begin, size_t end)>& process,
                    const std::function<void(int64_t old_size, int64_t new_size)>& on_halve = {});

}  // namespace abliterate::evaluate
