// brk and sbrk: querying the break with brk(0), growing and shrinking it, requests below the
// heap start (the break is returned unchanged), and fresh zeroed memory after a shrink and
// regrow. The test bodies do not allocate between brk calls, so malloc cannot move the break.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

uintptr_t Brk(uintptr_t addr) { return static_cast<uintptr_t>(syscall(SYS_brk, addr)); }

TEST(BrkTest, QueryIsStable) {
  uintptr_t a = Brk(0);
  uintptr_t b = Brk(0);
  EXPECT_NE(a, 0u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(sbrk(0)), a) << "glibc's sbrk(0) agrees";
}

TEST(BrkTest, GrowShrink) {
  const uintptr_t start = Brk(0);
  const uintptr_t grown = Brk(start + 64 * 1024);
  ASSERT_EQ(grown, start + 64 * 1024);
  EXPECT_EQ(Brk(0), grown);
  auto* mem = reinterpret_cast<volatile unsigned char*>(start);
  // Pages above the old break are zeroed and writable (the first page may hold older heap).
  const uintptr_t first_fresh = (start + 4095) & ~uintptr_t{4095};
  for (uintptr_t a = first_fresh; a < grown; a += 512) {
    ASSERT_EQ(*reinterpret_cast<volatile unsigned char*>(a), 0) << a - start;
  }
  mem[0] = 0x5a;
  mem[64 * 1024 - 1] = 0xa5;
  EXPECT_EQ(mem[64 * 1024 - 1], 0xa5);
  unsigned char vec[16];
  EXPECT_EQ(mincore(reinterpret_cast<void*>(first_fresh), grown - first_fresh, vec), 0);
  EXPECT_EQ(Brk(start), start) << "shrinking back";
  EXPECT_EQ(Brk(0), start);
}

TEST(BrkTest, ShrunkPagesAreUnmappedAndRegrowZeroed) {
  const uintptr_t start = Brk(0);
  const uintptr_t page_start = (start + 4095) & ~uintptr_t{4095};
  ASSERT_EQ(Brk(page_start + 3 * 4096), page_start + 3 * 4096);
  auto* p = reinterpret_cast<volatile unsigned char*>(page_start + 4096);
  p[0] = 0xcc;
  ASSERT_EQ(Brk(page_start), page_start);
  unsigned char vec;
  errno = 0;
  EXPECT_EQ(mincore(reinterpret_cast<void*>(page_start + 4096), 4096, &vec), -1);
  EXPECT_EQ(errno, ENOMEM) << "pages above the break are unmapped";
  ASSERT_EQ(Brk(page_start + 3 * 4096), page_start + 3 * 4096);
  EXPECT_EQ(p[0], 0) << "regrown memory is zero again";
  ASSERT_EQ(Brk(start), start);
}

TEST(BrkTest, BelowHeapStartIsRefused) {
  const uintptr_t cur = Brk(0);
  EXPECT_EQ(Brk(1), cur) << "failure returns the unchanged break";
  EXPECT_EQ(Brk(4096), cur);
  EXPECT_EQ(Brk(0), cur);
}

TEST(BrkTest, HugeRequestIsRefused) {
  const uintptr_t cur = Brk(0);
  EXPECT_EQ(Brk(uintptr_t{1} << 62), cur) << "non-canonical address";
  EXPECT_EQ(Brk(0), cur);
}

TEST(BrkTest, Sbrk) {
  void* old = sbrk(0);
  ASSERT_NE(old, reinterpret_cast<void*>(-1));
  void* r = sbrk(8192);
  ASSERT_EQ(r, old) << "sbrk returns the previous break";
  auto* p = static_cast<volatile char*>(old);
  p[8191] = 'z';
  EXPECT_EQ(p[8191], 'z');
  EXPECT_EQ(sbrk(0), static_cast<char*>(old) + 8192);
  EXPECT_EQ(sbrk(-8192), static_cast<char*>(old) + 8192);
  EXPECT_EQ(sbrk(0), old);
}

}  // namespace
}  // namespace sbx::testing
