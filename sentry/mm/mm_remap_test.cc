// MemoryManager::MRemap (shrink, grow in place, move without copying, FIXED, DONTUNMAP,
// errors), Mincore and IsRangeMapped.
#include <gtest/gtest.h>

#include "sentry/mm/mm_test_util.h"

namespace sbx::mm {
namespace {

using namespace sbx::mm::testing;  // NOLINT
namespace a = ::sbx::mm::abi;

constexpr int kRW = a::kProtRead | a::kProtWrite;
constexpr int kAnon = a::kMapPrivate | a::kMapAnonymous;

class MRemapTest : public MMFixture {
 protected:
  uint64_t Map(uint64_t len, uint64_t fixed_addr = 0, int flags = kAnon,
               std::shared_ptr<fs::FileDescription> file = nullptr) {
    MMapOpts o;
    o.addr = UserAddr(fixed_addr);
    o.length = len;
    o.prot = kRW;
    o.flags = flags | (fixed_addr ? a::kMapFixed : 0);
    o.file = std::move(file);
    auto r = mm_->MMap(o);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->value() : 0;
  }
  void Fill(uint64_t addr, uint64_t len, uint8_t seed) {
    std::vector<std::byte> buf(len);
    for (uint64_t i = 0; i < len; ++i) buf[i] = std::byte(static_cast<uint8_t>(seed + i / kPg));
    ASSERT_EQ(V(mm_->CopyOutBytes(UserAddr(addr), buf)), len);
  }
  bool Check(uint64_t addr, uint64_t len, uint8_t seed) {
    std::vector<std::byte> buf(len);
    auto n = mm_->CopyInBytes(UserAddr(addr), buf);
    if (!n.ok() || *n != len) return false;
    for (uint64_t i = 0; i < len; ++i) {
      if (buf[i] != std::byte(static_cast<uint8_t>(seed + i / kPg))) return false;
    }
    return true;
  }
  Result<UserAddr> Remap(uint64_t addr, uint64_t old_len, uint64_t new_len, int flags,
                         uint64_t new_addr = 0) {
    return mm_->MRemap(UserAddr(addr), old_len, new_len, flags, UserAddr(new_addr));
  }
};

TEST_F(MRemapTest, Shrink) {
  uint64_t x = Map(4 * kPg);
  Fill(x, 4 * kPg, 1);
  uint64_t before = mf_->bytes_allocated();
  EXPECT_EQ(Remap(x, 4 * kPg, 2 * kPg, 0)->value(), x);
  EXPECT_EQ(mf_->bytes_allocated(), before - 2 * kPg);
  EXPECT_TRUE(Check(x, 2 * kPg, 1));
  EXPECT_FALSE(mm_->IsRangeMapped(UserAddr(x + 2 * kPg), kPg));
}

TEST_F(MRemapTest, GrowInPlace) {
  uint64_t x = Map(2 * kPg, 0x100000000);
  Fill(x, 2 * kPg, 10);
  EXPECT_EQ(Remap(x, 2 * kPg, 6 * kPg, 0)->value(), x);
  EXPECT_TRUE(Check(x, 2 * kPg, 10));
  EXPECT_TRUE(mm_->IsRangeMapped(UserAddr(x), 6 * kPg));
  std::vector<std::byte> z(4 * kPg);
  ASSERT_EQ(V(mm_->CopyInBytes(UserAddr(x + 2 * kPg), z)), 4 * kPg);
  for (auto b : z) ASSERT_EQ(b, std::byte{0});
  // Blocked above and not allowed to move: ENOMEM.
  Map(kPg, x + 6 * kPg);
  EXPECT_EQ(Remap(x, 6 * kPg, 8 * kPg, 0).error(), Errno::kENOMEM);
}

TEST_F(MRemapTest, MoveKeepsContentsWithoutCopying) {
  uint64_t x = Map(4 * kPg, 0x100000000);
  Map(kPg, x + 4 * kPg);  // blocks in-place growth
  Fill(x, 4 * kPg, 20);
  uint64_t before = mf_->bytes_allocated();
  uint64_t off0 = pt_->pages.at(x).off;
  auto r = Remap(x, 4 * kPg, 8 * kPg, a::kMremapMayMove);
  ASSERT_TRUE(r.ok());
  uint64_t y = r->value();
  EXPECT_NE(y, x);
  EXPECT_EQ(mf_->bytes_allocated(), before);   // nothing copied
  EXPECT_EQ(pt_->pages.at(y).off, off0);       // same memory-file page, new address
  EXPECT_EQ(pt_->pages.count(x), 0u);
  EXPECT_TRUE(Check(y, 4 * kPg, 20));
  EXPECT_FALSE(mm_->IsRangeMapped(UserAddr(x), kPg));
  EXPECT_TRUE(mm_->IsRangeMapped(UserAddr(y), 8 * kPg));
}

TEST_F(MRemapTest, MovePartOfAFileMappingKeepsOffsets) {
  std::string data(4 * kPg, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i / kPg + 'A');
  auto f = std::make_shared<FakeFile>(data);
  uint64_t x = Map(4 * kPg, 0, a::kMapPrivate, f);
  auto r = Remap(x + 2 * kPg, kPg, kPg, a::kMremapMayMove | a::kMremapFixed, 0x300000000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value(), 0x300000000u);
  std::byte b;
  ASSERT_EQ(V(mm_->CopyInBytes(UserAddr(0x300000000), std::span(&b, 1))), 1u);
  EXPECT_EQ(b, std::byte{'C'});
  ASSERT_EQ(V(mm_->CopyInBytes(UserAddr(x + 3 * kPg), std::span(&b, 1))), 1u);
  EXPECT_EQ(b, std::byte{'D'});
  EXPECT_FALSE(mm_->IsRangeMapped(UserAddr(x + 2 * kPg), kPg));
}

TEST_F(MRemapTest, FixedReplacesTarget) {
  uint64_t x = Map(2 * kPg, 0x100000000);
  uint64_t t = Map(4 * kPg, 0x200000000);
  Fill(x, 2 * kPg, 30);
  Fill(t, 4 * kPg, 90);
  auto r = Remap(x, 2 * kPg, 2 * kPg, a::kMremapMayMove | a::kMremapFixed, t + kPg);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Check(t + kPg, 2 * kPg, 30));
  EXPECT_TRUE(Check(t, kPg, 90));
  EXPECT_TRUE(Check(t + 3 * kPg, kPg, 93));
  // FIXED with a shrinking length unmaps the source tail.
  uint64_t s = Map(4 * kPg, 0x180000000);
  Fill(s, 4 * kPg, 50);
  ASSERT_TRUE(Remap(s, 4 * kPg, kPg, a::kMremapMayMove | a::kMremapFixed, 0x190000000).ok());
  EXPECT_TRUE(Check(0x190000000, kPg, 50));
  EXPECT_FALSE(mm_->IsRangeMapped(UserAddr(s), kPg));
}

TEST_F(MRemapTest, DontUnmapLeavesEmptySource) {
  uint64_t x = Map(2 * kPg);
  Fill(x, 2 * kPg, 60);
  auto r = Remap(x, 2 * kPg, 2 * kPg, a::kMremapMayMove | a::kMremapDontUnmap);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(Check(r->value(), 2 * kPg, 60));
  std::byte b{1};
  ASSERT_EQ(V(mm_->CopyInBytes(UserAddr(x), std::span(&b, 1))), 1u);
  EXPECT_EQ(b, std::byte{0});  // still mapped, zero-filled again
  uint64_t s = Map(kPg, 0, a::kMapShared | a::kMapAnonymous);
  EXPECT_EQ(Remap(s, kPg, kPg, a::kMremapMayMove | a::kMremapDontUnmap).error(),
            Errno::kEINVAL);  // partial: private anonymous only
}

TEST_F(MRemapTest, Errors) {
  uint64_t x = Map(2 * kPg, 0x100000000);
  EXPECT_EQ(Remap(x, kPg, kPg, 8).error(), Errno::kEINVAL);
  EXPECT_EQ(Remap(x, kPg, kPg, a::kMremapFixed, 0x200000000).error(), Errno::kEINVAL);
  EXPECT_EQ(Remap(x, kPg, 2 * kPg, a::kMremapMayMove | a::kMremapDontUnmap).error(),
            Errno::kEINVAL);
  EXPECT_EQ(Remap(x + 1, kPg, kPg, 0).error(), Errno::kEINVAL);
  EXPECT_EQ(Remap(x, kPg, 0, 0).error(), Errno::kEINVAL);
  EXPECT_EQ(Remap(0x500000000, kPg, 2 * kPg, a::kMremapMayMove).error(), Errno::kEFAULT);
  EXPECT_EQ(Remap(x, 3 * kPg, 4 * kPg, a::kMremapMayMove).error(), Errno::kEFAULT);
  EXPECT_EQ(Remap(x, kPg, 0, 0).error(), Errno::kEINVAL);
  EXPECT_EQ(Remap(x, 0, kPg, a::kMremapMayMove).error(), Errno::kEINVAL);  // private, len 0
  EXPECT_EQ(Remap(x, kPg, kPg, a::kMremapMayMove | a::kMremapFixed, x + kPg / 2).error(),
            Errno::kEINVAL);
  EXPECT_EQ(Remap(x, 2 * kPg, 2 * kPg, a::kMremapMayMove | a::kMremapFixed, x + kPg).error(),
            Errno::kEINVAL);  // overlap
  EXPECT_EQ(Remap(x, kPg, kPg, a::kMremapMayMove | a::kMremapFixed, UINT64_MAX - kPg + 1)
                .error(),
            Errno::kEINVAL);
}

TEST_F(MRemapTest, MincoreReportsBackedPages) {
  uint64_t x = Map(4 * kPg);
  Fill(x + kPg, 1, 1);
  std::vector<uint8_t> v;
  ASSERT_TRUE(mm_->Mincore(UserAddr(x), 4, &v).ok());
  EXPECT_EQ(v, (std::vector<uint8_t>{0, 1, 0, 0}));
  EXPECT_EQ(mm_->Mincore(UserAddr(x), 5, &v).error(), Errno::kENOMEM);
  EXPECT_EQ(mm_->Mincore(UserAddr(x + 1), 1, &v).error(), Errno::kEINVAL);
}

}  // namespace
}  // namespace sbx::mm
