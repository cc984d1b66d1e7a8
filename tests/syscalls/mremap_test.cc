// mremap: growing in place when the next pages are free, moving with MREMAP_MAYMOVE (contents
// preserved, old range unmapped), MREMAP_FIXED, shrinking, and the errors (ENOMEM when it may
// not move, EFAULT on an unmapped source, EINVAL on bad arguments). Mapped-ness is observed
// with mincore, never by touching memory.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

char* MapAnon(size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

void Fill(char* p, size_t len) {
  for (size_t i = 0; i < len; ++i) p[i] = static_cast<char>(i % 251);
}

bool Check(const char* p, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (p[i] != static_cast<char>(i % 251)) return false;
  }
  return true;
}

TEST(MremapTest, GrowInPlace) {
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  Fill(p, kPage);
  void* q = mremap(p, kPage, 2 * kPage, 0);
  ASSERT_EQ(q, p) << strerror(errno);
  EXPECT_TRUE(Check(p, kPage));
  EXPECT_EQ(p[kPage], 0) << "the new tail is zeroed";
  p[2 * kPage - 1] = 1;
  munmap(p, 2 * kPage);
}

TEST(MremapTest, GrowWithoutMaymoveWhenBlockedIsEnomem) {
  char* p = MapAnon(2 * kPage);
  ASSERT_NE(p, nullptr);
  // Make the second page a separate mapping that blocks in-place growth of the first.
  ASSERT_EQ(mprotect(p + kPage, kPage, PROT_READ), 0);
  EXPECT_TRUE(MapFailsWith(mremap(p, kPage, 2 * kPage, 0), ENOMEM));
  EXPECT_TRUE(Mapped(p, 2 * kPage));
  munmap(p, 2 * kPage);
}

TEST(MremapTest, GrowWithMoveKeepsContents) {
  const size_t len = 4 * kPage;
  char* p = MapAnon(len + kPage);
  ASSERT_NE(p, nullptr);
  Fill(p, len);
  // Split off the last page as a separate mapping that blocks in-place growth.
  char* blocker = p + len;
  ASSERT_EQ(mprotect(blocker, kPage, PROT_READ), 0);
  auto* q = static_cast<char*>(mremap(p, len, 64 * kPage, MREMAP_MAYMOVE));
  ASSERT_NE(q, MAP_FAILED) << strerror(errno);
  EXPECT_NE(q, p);
  EXPECT_TRUE(Check(q, len));
  EXPECT_EQ(q[len], 0);
  q[64 * kPage - 1] = 'e';
  EXPECT_TRUE(Unmapped(p, len)) << "the old range is gone";
  EXPECT_TRUE(Mapped(blocker, kPage));
  munmap(q, 64 * kPage);
  munmap(blocker, kPage);
}

TEST(MremapTest, FixedMovesToChosenAddress) {
  char* p = MapAnon(2 * kPage);
  char* dest = MapAnon(4 * kPage);
  ASSERT_NE(p, nullptr);
  ASSERT_NE(dest, nullptr);
  Fill(p, 2 * kPage);
  void* q = mremap(p, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, dest + kPage);
  ASSERT_EQ(q, dest + kPage) << strerror(errno);
  EXPECT_TRUE(Check(dest + kPage, 2 * kPage));
  EXPECT_TRUE(Unmapped(p, 2 * kPage));
  EXPECT_EQ(dest[0], 0) << "pages of the destination outside the move are untouched";
  EXPECT_TRUE(Mapped(dest, 4 * kPage));
  munmap(dest, 4 * kPage);
}

TEST(MremapTest, ShrinkUnmapsTail) {
  char* p = MapAnon(4 * kPage);
  ASSERT_NE(p, nullptr);
  Fill(p, kPage);
  ASSERT_EQ(mremap(p, 4 * kPage, kPage, 0), p);
  EXPECT_TRUE(Check(p, kPage));
  EXPECT_TRUE(Unmapped(p + kPage, 3 * kPage));
  munmap(p, kPage);
}

TEST(MremapTest, Errors) {
  char* p = MapAnon(kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(MapFailsWith(mremap(p + 1, kPage, 2 * kPage, MREMAP_MAYMOVE), EINVAL))
      << "unaligned old address";
  EXPECT_TRUE(MapFailsWith(mremap(p, kPage, 0, MREMAP_MAYMOVE), EINVAL)) << "zero new size";
  EXPECT_TRUE(MapFailsWith(mremap(p, kPage, kPage, MREMAP_FIXED, p + 16 * kPage), EINVAL))
      << "MREMAP_FIXED without MREMAP_MAYMOVE";
  EXPECT_TRUE(MapFailsWith(mremap(p, kPage, kPage, 0x80), EINVAL)) << "unknown flag";
  ASSERT_EQ(munmap(p, kPage), 0);
  EXPECT_TRUE(MapFailsWith(mremap(p, kPage, 2 * kPage, MREMAP_MAYMOVE), EFAULT))
      << "unmapped source";
}

}  // namespace
}  // namespace sbx::testing
