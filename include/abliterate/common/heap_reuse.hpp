// How this process's heap keeps the large blocks it frees, so that the
// decoder's per-step tensors reuse pages instead of faulting fresh ones in.
#pragma once

#include <cstdint>

namespace abliterate {

// Note [Freed blocks stay mapped]
// glibc serves a block above its mmap threshold (at most 32 MiB, raised
// dynamically from 128 KiB) with a mapping of its own and unmaps it on free,
// and it returns the heap's free top to the kernel past the trim threshold.
// A generation step allocates and frees the same tensors every step (a
// prefill's [B x T, 4096] activations, the head's products),
// so their pages were faulted in again at every step: 1.39 M minor faults in
// one Gemma 3 270M trial. Raising both thresholds keeps those blocks in the
// heap for the next step (0.88 M faults, the rest from loading; the trial
// ~9 % faster on a 2-core Sapphire Rapids) at the price of a larger resident
// set (3.05 -> 3.59 GiB), as the heap holds what it frees.
inline constexpr int64_t kHeapMmapThreshold = int64_t{256} << 20;  // blocks above this get their own mapping
inline constexpr int64_t kHeapTrimThreshold = int64_t{512} << 20;  // free heap top kept up to this

// Sets both thresholds (Note [Freed blocks stay mapped]), unless the
// environment already sets glibc's malloc (GLIBC_TUNABLES with
// glibc.malloc.*, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_): the user's
// settings win. Returns whether it set them; always false off glibc. Call it
// once, first thing in main().
bool keep_freed_blocks_mapped();

}  // namespace abliterate
