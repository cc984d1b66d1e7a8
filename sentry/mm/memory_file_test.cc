// MemoryFile: allocation, best fit, coalescing, hole punching, zero-fill, per-page reference
// counts, thread safety.
#include <sys/stat.h>

#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sentry/mm/memory_file.h"
#include "sentry/usermem/usermem.h"

namespace sbx::mm {
namespace {

constexpr uint64_t kPg = usermem::kPageSize;

std::unique_ptr<MemoryFile> NewFile(uint64_t size) {
  auto r = MemoryFile::Create(size);
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

TEST(MemoryFileTest, CreateRejectsZero) {
  EXPECT_FALSE(MemoryFile::Create(0).ok());
}

TEST(MemoryFileTest, AllocationsAreDisjointAndAligned) {
  auto mf = NewFile(16 * kPg);
  auto a = mf->Allocate(kPg), b = mf->Allocate(2 * kPg), c = mf->Allocate(kPg);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a % kPg, 0u);
  EXPECT_TRUE(*b >= *a + kPg || *b + 2 * kPg <= *a);
  EXPECT_TRUE(*c >= *b + 2 * kPg || *c + kPg <= *b);
  EXPECT_EQ(mf->bytes_allocated(), 4 * kPg);
  EXPECT_EQ(mf->Allocate(123).error(), Errno::kEINVAL);
  EXPECT_EQ(mf->Allocate(0).error(), Errno::kEINVAL);
}

TEST(MemoryFileTest, ExhaustionIsENOMEM) {
  auto mf = NewFile(4 * kPg);
  EXPECT_EQ(mf->Allocate(5 * kPg).error(), Errno::kENOMEM);
  ASSERT_TRUE(mf->Allocate(4 * kPg).ok());
  EXPECT_EQ(mf->Allocate(kPg).error(), Errno::kENOMEM);
}

TEST(MemoryFileTest, FreeCoalescesNeighbours) {
  auto mf = NewFile(8 * kPg);
  auto all = mf->Allocate(8 * kPg);
  ASSERT_TRUE(all.ok());
  // Free in an order that needs merging with both neighbours.
  mf->Free(*all + 0 * kPg, 2 * kPg);
  mf->Free(*all + 4 * kPg, 4 * kPg);
  EXPECT_EQ(mf->Allocate(5 * kPg).error(), Errno::kENOMEM);  // fragments of 2 and 4
  mf->Free(*all + 2 * kPg, 2 * kPg);
  EXPECT_EQ(mf->bytes_allocated(), 0u);
  auto again = mf->Allocate(8 * kPg);  // only possible if all three merged
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *all);
}

TEST(MemoryFileTest, BestFitPrefersSmallestHole) {
  auto mf = NewFile(16 * kPg);
  auto a = mf->Allocate(4 * kPg);
  auto sep1 = mf->Allocate(kPg);
  auto b = mf->Allocate(kPg);
  auto sep2 = mf->Allocate(kPg);
  ASSERT_TRUE(a.ok() && sep1.ok() && b.ok() && sep2.ok());
  mf->Free(*a, 4 * kPg);
  mf->Free(*b, kPg);
  auto c = mf->Allocate(kPg);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, *b);
}

TEST(MemoryFileTest, FreePunchesHoleAndReallocationIsZero) {
  auto mf = NewFile(1 << 20);
  const uint64_t len = 256 * kPg;
  auto off = mf->Allocate(len);
  ASSERT_TRUE(off.ok());
  std::memset(mf->Pointer(*off), 0xab, len);
  struct stat st;
  ASSERT_EQ(fstat(mf->info().fd, &st), 0);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, len);
  mf->Free(*off, len);
  ASSERT_EQ(fstat(mf->info().fd, &st), 0);
  EXPECT_EQ(st.st_blocks, 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), uint64_t{1} << 20);  // KEEP_SIZE
  auto again = mf->Allocate(len);
  ASSERT_TRUE(again.ok());
  for (uint64_t i = 0; i < len; i += 511) EXPECT_EQ(mf->Pointer(*again)[i], std::byte{0});
}

TEST(MemoryFileTest, ConcurrentAllocFree) {
  auto mf = NewFile(4096 * kPg);
  auto worker = [&] {
    std::vector<uint64_t> mine;
    for (int i = 0; i < 2000; ++i) {
      auto r = mf->Allocate(((i % 3) + 1) * kPg);
      ASSERT_TRUE(r.ok());
      *reinterpret_cast<int*>(mf->Pointer(*r)) = i;
      mine.push_back(*r);
      if (mine.size() > 50) {
        uint64_t o = mine.front();
        int v = *reinterpret_cast<int*>(mf->Pointer(o));
        mf->Free(o, ((v % 3) + 1) * kPg);
        mine.erase(mine.begin());
      }
    }
    for (uint64_t o : mine) {
      int v = *reinterpret_cast<int*>(mf->Pointer(o));
      mf->Free(o, ((v % 3) + 1) * kPg);
    }
  };
  std::thread t1(worker), t2(worker);
  t1.join();
  t2.join();
  EXPECT_EQ(mf->bytes_allocated(), 0u);
  EXPECT_TRUE(mf->Allocate(4096 * kPg).ok());
}

TEST(MemoryFileTest, ReferenceCountsPerPage) {
  auto mf = NewFile(64 * kPg);
  uint64_t off = mf->Allocate(4 * kPg).value();
  std::memset(mf->Pointer(off), 0x5a, 4 * kPg);
  EXPECT_TRUE(mf->IsExclusive(off, 4 * kPg));
  mf->IncRef(off + kPg, 2 * kPg);  // counts 1 2 2 1
  EXPECT_TRUE(mf->IsExclusive(off, kPg));
  EXPECT_FALSE(mf->IsExclusive(off, 2 * kPg));
  EXPECT_FALSE(mf->IsExclusive(off + 2 * kPg, kPg));
  EXPECT_TRUE(mf->IsExclusive(off + 3 * kPg, kPg));
  mf->IncRef(off + 2 * kPg, 2 * kPg);  // 1 2 3 2
  mf->DecRef(off, 4 * kPg);            // 0 1 2 1: page 0 freed
  EXPECT_EQ(mf->bytes_allocated(), 3 * kPg);
  EXPECT_EQ(*mf->Pointer(off + kPg), std::byte{0x5a}) << "pages still referenced keep data";
  EXPECT_TRUE(mf->IsExclusive(off + kPg, kPg));
  EXPECT_FALSE(mf->IsExclusive(off + 2 * kPg, kPg));
  EXPECT_TRUE(mf->IsExclusive(off + 3 * kPg, kPg));
  mf->DecRef(off + kPg, 3 * kPg);  // 0 0 1 0
  EXPECT_EQ(mf->bytes_allocated(), kPg);
  EXPECT_TRUE(mf->IsExclusive(off + 2 * kPg, kPg));
  mf->Free(off + 2 * kPg, kPg);
  EXPECT_EQ(mf->bytes_allocated(), 0u);
  // Freed pages are zero and the free list coalesced back into one extent.
  uint64_t again = mf->Allocate(64 * kPg).value();
  EXPECT_EQ(*mf->Pointer(again + kPg), std::byte{0});
}

TEST(MemoryFileTest, ConcurrentReferenceCounting) {
  auto mf = NewFile(1024 * kPg);
  uint64_t off = mf->Allocate(256 * kPg).value();
  // Each worker takes and drops references to overlapping sub-ranges; the original
  // reference is dropped last, freeing everything.
  auto worker = [&](uint64_t seed) {
    for (uint64_t i = 0; i < 2000; ++i) {
      uint64_t first = (seed * 7 + i * 13) % 200, n = 1 + (i % 50);
      mf->IncRef(off + first * kPg, n * kPg);
      EXPECT_FALSE(mf->IsExclusive(off + first * kPg, n * kPg));
      mf->DecRef(off + first * kPg, n * kPg);
    }
  };
  std::thread t1(worker, 1), t2(worker, 2);
  t1.join();
  t2.join();
  EXPECT_TRUE(mf->IsExclusive(off, 256 * kPg));
  EXPECT_EQ(mf->bytes_allocated(), 256 * kPg);
  mf->DecRef(off, 256 * kPg);
  EXPECT_EQ(mf->bytes_allocated(), 0u);
}

}  // namespace
}  // namespace sbx::mm
