#include "abliterate/common/heap_reuse.hpp"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "support/scoped_env.hpp"

namespace abliterate {
namespace {

TEST(HeapReuse, LeavesTheUsersOwnMallocSettingsAlone) {
  {
    ScopedEnv tunables("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1000000");
    EXPECT_FALSE(keep_freed_blocks_mapped());
  }
  {
    ScopedEnv threshold("MALLOC_MMAP_THRESHOLD_", "1000000");
    EXPECT_FALSE(keep_freed_blocks_mapped());
  }
  {
    ScopedEnv trim("MALLOC_TRIM_THRESHOLD_", "1000000");
    EXPECT_FALSE(keep_freed_blocks_mapped());
  }
}

TEST(HeapReuse, A100MiBBlockComesFromTheHeapAndStaysThereWhenFreed) {
  // Other glibc tunables (not malloc's) do not count as the user's malloc settings.
  ScopedEnv tunables("GLIBC_TUNABLES", "glibc.cpu.x86_rep_movsb_threshold=4096");
  ASSERT_TRUE(keep_freed_blocks_mapped());
  constexpr size_t kBytes = size_t{100} << 20;  // past glibc's largest dynamic mmap threshold (32 MiB)
  const size_t mapped_before = mallinfo2().hblkhd;
  char* block = static_cast<char*>(std::malloc(kBytes));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBytes);
  asm volatile("" : : "r"(block) : "memory");  // the block escapes: the compiler must keep malloc and free
  EXPECT_LT(mallinfo2().hblkhd, mapped_before + kBytes) << "the block got a mapping of its own";
  std::free(block);
  EXPECT_GE(mallinfo2().fordblks, kBytes) << "the freed block was returned to the kernel";
}

}  // namespace
}  // namespace abliterate
