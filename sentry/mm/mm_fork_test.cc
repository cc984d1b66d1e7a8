// MemoryManager::Fork (copy-on-write) and FutexKey: isolation both ways, reference counts and
// their release, reuse of exclusive pages without copying, shared mappings, DONTFORK /
// WIPEONFORK, forks of forks, mremap/munmap/mprotect/madvise/brk on COW ranges, the sentry's
// CopyOut breaking COW, and the fork cost for a 64 MiB touched mapping (printed).
// Every test checks the central invariant after each step: no host mapping is writable onto
// a page another MM still references.
#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>

#include "sentry/mm/mm_test_util.h"

namespace sbx::mm {
namespace {

using namespace sbx::mm::testing;  // NOLINT
namespace a = ::sbx::mm::abi;

constexpr int kRW = a::kProtRead | a::kProtWrite;
constexpr int kAnon = a::kMapPrivate | a::kMapAnonymous;

// One MM with its fake page table.
struct Proc {
  std::shared_ptr<MemoryManager> mm;
  std::shared_ptr<PageTable> pt;
};

class MMForkTest : public MMFixture {
 protected:
  void SetUp() override {
    MMFixture::SetUp();
    baseline_ = mf_->bytes_allocated();
  }

  uint64_t Map(MemoryManager& mm, uint64_t len, int prot = kRW, int flags = kAnon,
               std::shared_ptr<fs::FileDescription> file = nullptr) {
    MMapOpts o;
    o.length = len;
    o.prot = prot;
    o.flags = flags;
    o.file = std::move(file);
    auto r = mm.MMap(o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : ErrnoName(r.error()));
    return r.ok() ? r->value() : 0;
  }
  uint64_t Map(uint64_t len, int prot = kRW, int flags = kAnon) {
    return Map(*mm_, len, prot, flags);
  }
  Proc ForkOf(MemoryManager& mm) {
    Proc p;
    p.pt = std::make_shared<PageTable>();
    p.mm = V(mm.Fork(std::make_unique<FakeAddressSpace>(p.pt)));
    return p;
  }
  Proc Fork() { return ForkOf(*mm_); }

  int W(Proc& p, uint64_t addr, uint8_t v) { return GuestWrite(*p.mm, *mf_, *p.pt, addr, v); }
  uint8_t R(Proc& p, uint64_t addr) {
    uint8_t v = 0xee;
    EXPECT_EQ(GuestRead(*p.mm, *mf_, *p.pt, addr, &v), 0) << std::hex << addr;
    return v;
  }
  // The COW invariant, as the host sees it: every writable host mapping points at a page
  // with a single reference.
  static void ExpectNoWritableSharedPage(MemoryFile& mf, const PageTable& pt) {
    for (const auto& [addr, e] : pt.pages) {
      if (e.prot.write) {
        EXPECT_TRUE(mf.IsExclusive(e.off, kPg)) << "writable shared page at " << std::hex << addr;
      }
    }
  }
  void CheckInvariant(std::initializer_list<const PageTable*> pts) {
    ExpectNoWritableSharedPage(*mf_, *pt_);
    for (const PageTable* pt : pts) ExpectNoWritableSharedPage(*mf_, *pt);
  }
  // The memory-file page currently host-mapped at `addr` in `pt` (UINT64_MAX if none).
  static uint64_t HostPage(const PageTable& pt, uint64_t addr) {
    auto it = pt.pages.find(addr);
    return it == pt.pages.end() ? UINT64_MAX : it->second.off;
  }

  uint64_t baseline_ = 0;
};

TEST_F(MMForkTest, CowIsolationBothDirections) {
  const uint64_t x = Map(4 * kPg);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Write(x + i * kPg, 0x10 + i), 0);
  const uint64_t allocated = mf_->bytes_allocated();
  Proc c = Fork();
  EXPECT_EQ(mf_->bytes_allocated(), allocated);  // fork copies nothing
  // The parent's writable mappings were removed before Fork returned.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pt_->pages.count(x + i * kPg), 0u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(R(c, x + i * kPg), 0x10 + i);
  CheckInvariant({c.pt.get()});

  ASSERT_EQ(W(c, x, 0xc0), 0);  // child -> parent
  EXPECT_EQ(mf_->bytes_allocated(), allocated + kPg);
  EXPECT_EQ(ReadByte(x), 0x10);
  EXPECT_EQ(R(c, x), 0xc0);
  ASSERT_EQ(Write(x + kPg, 0xa1), 0);  // parent -> child
  EXPECT_EQ(mf_->bytes_allocated(), allocated + 2 * kPg);
  EXPECT_EQ(R(c, x + kPg), 0x11);
  EXPECT_EQ(ReadByte(x + kPg), 0xa1);
  CheckInvariant({c.pt.get()});

  // The parent's page 0 and the child's page 1 are now exclusive: writing them reuses the
  // page (wp_page_reuse), no allocation.
  ASSERT_EQ(Write(x, 0xa0), 0);
  ASSERT_EQ(W(c, x + kPg, 0xc1), 0);
  EXPECT_EQ(mf_->bytes_allocated(), allocated + 2 * kPg);
  EXPECT_EQ(R(c, x), 0xc0);
  EXPECT_EQ(ReadByte(x + kPg), 0xa1);
  EXPECT_EQ(R(c, x + 2 * kPg), 0x12);
  EXPECT_EQ(ReadByte(x + 3 * kPg), 0x13);
  CheckInvariant({c.pt.get()});
}

TEST_F(MMForkTest, ReferencesReleasedWhenBothDestroyed) {
  for (bool parent_first : {false, true}) {
    SCOPED_TRACE(parent_first);
    mm_.reset();  // before its memory file
    SetUpMM(1ull << 30);
    baseline_ = mf_->bytes_allocated();
    const uint64_t x = Map(64 * kPg);
    for (int i = 0; i < 64; ++i) ASSERT_EQ(Write(x + i * kPg, i), 0);
    Proc c = Fork();
    for (int i = 0; i < 64; i += 3) ASSERT_EQ(W(c, x + i * kPg, 0xcc), 0);
    for (int i = 0; i < 64; i += 5) ASSERT_EQ(Write(x + i * kPg, 0xaa), 0);
    EXPECT_GT(mf_->bytes_allocated(), baseline_ + 64 * kPg);
    if (parent_first) {
      mm_.reset();
      EXPECT_EQ(mf_->bytes_allocated(), baseline_ + 64 * kPg);  // the child's view remains
      EXPECT_EQ(R(c, x + 3 * kPg), 0xcc);
      EXPECT_EQ(R(c, x + 5 * kPg), 5);
      c.mm.reset();
    } else {
      c.mm.reset();
      EXPECT_EQ(mf_->bytes_allocated(), baseline_ + 64 * kPg);
      mm_.reset();
    }
    EXPECT_EQ(mf_->bytes_allocated(), baseline_);
  }
}

TEST_F(MMForkTest, SoleReferentReusesPagesWithoutCopying) {
  const uint64_t x = Map(32 * kPg);
  for (int i = 0; i < 32; ++i) ASSERT_EQ(Write(x + i * kPg, i), 0);
  const uint64_t page0 = HostPage(*pt_, x);
  const uint64_t allocated = mf_->bytes_allocated();
  {
    Proc c = Fork();
    EXPECT_EQ(R(c, x + 7 * kPg), 7);
  }  // the child exits
  EXPECT_EQ(mf_->bytes_allocated(), allocated);
  const int maps = pt_->map_calls, unmaps = pt_->unmap_calls;
  for (int i = 0; i < 32; ++i) ASSERT_EQ(Write(x + i * kPg, 0x80 + i), 0);
  EXPECT_EQ(mf_->bytes_allocated(), allocated);  // no copies
  EXPECT_EQ(HostPage(*pt_, x), page0);           // the same page, writable again
  EXPECT_TRUE(pt_->pages.at(x).prot.write);
  // The first fault claims the whole (exclusive) range; then one map per fault-around window
  // (32 pages span at most 3 aligned 16-page windows).
  EXPECT_LE(pt_->map_calls - maps, 3);
  EXPECT_LE(pt_->unmap_calls - unmaps, 1);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(ReadByte(x + i * kPg), 0x80 + i);
}

TEST_F(MMForkTest, ReadFaultMapsTheWindowReadOnly) {
  const uint64_t x = Map(16 * kPg);  // not necessarily window aligned
  for (int i = 0; i < 16; ++i) ASSERT_EQ(Write(x + i * kPg, i), 0);
  Proc c = Fork();
  EXPECT_EQ(R(c, x), 0);
  int mapped = 0;
  for (const auto& [addr, e] : c.pt->pages) {
    EXPECT_FALSE(e.prot.write);
    EXPECT_TRUE(e.prot.read);
    ++mapped;
  }
  EXPECT_GT(mapped, 1);  // fault-around: one fault maps the neighbours too
  const int maps = c.pt->map_calls;
  for (int i = 0; i < 16; ++i) {
    if (c.pt->pages.count(x + i * kPg)) {
      EXPECT_EQ(R(c, x + i * kPg), i);
    }
  }
  EXPECT_EQ(c.pt->map_calls, maps);  // no further faults for the mapped window
}

TEST_F(MMForkTest, SharedAnonymousStaysShared) {
  const uint64_t s = Map(4 * kPg, kRW, a::kMapShared | a::kMapAnonymous);
  ASSERT_EQ(Write(s, 1), 0);
  const uint64_t allocated = mf_->bytes_allocated();
  Proc c = Fork();
  EXPECT_EQ(R(c, s), 1);
  ASSERT_EQ(W(c, s, 2), 0);
  EXPECT_EQ(ReadByte(s), 2);
  ASSERT_EQ(Write(s + 3 * kPg, 3), 0);
  EXPECT_EQ(R(c, s + 3 * kPg), 3);
  EXPECT_TRUE(c.pt->pages.at(s).prot.write);
  EXPECT_EQ(HostPage(*c.pt, s), HostPage(*pt_, s));
  EXPECT_EQ(mf_->bytes_allocated(), allocated);  // the object's pages, allocated once
  mm_.reset();
  EXPECT_EQ(R(c, s), 2);  // the object outlives the parent
  c.mm.reset();
  EXPECT_EQ(mf_->bytes_allocated(), baseline_);
}

TEST_F(MMForkTest, DontForkAndWipeOnFork) {
  const uint64_t d = Map(2 * kPg), w = Map(2 * kPg), k = Map(2 * kPg, a::kProtRead);
  ASSERT_EQ(Write(d, 1), 0);
  ASSERT_EQ(Write(w, 2), 0);
  ASSERT_TRUE(mm_->MAdvise(UserAddr(d), 2 * kPg, a::kMadvDontFork).ok());
  ASSERT_TRUE(mm_->MAdvise(UserAddr(w), 2 * kPg, a::kMadvWipeOnFork).ok());
  Proc c = Fork();
  uint8_t v;
  EXPECT_EQ(GuestRead(*c.mm, *mf_, *c.pt, d, &v), a::kSegvMapErr);  // no VMA in the child
  EXPECT_FALSE(c.mm->IsRangeMapped(UserAddr(d), kPg));
  EXPECT_EQ(R(c, w), 0);  // fresh zero memory
  EXPECT_EQ(R(c, k), 0);
  EXPECT_EQ(ReadByte(d), 1);
  EXPECT_EQ(ReadByte(w), 2);
  // The parent's DONTFORK/WIPEONFORK pages were not shared: still writable in place.
  ASSERT_EQ(Write(w, 3), 0);
  ASSERT_EQ(W(c, w, 4), 0);
  EXPECT_EQ(ReadByte(w), 3);
  // MADV_DONTFORK on part of a touched mapping: the child gets only the rest.
  const uint64_t part = Map(4 * kPg);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Write(part + i * kPg, 0x60 + i), 0);
  ASSERT_TRUE(mm_->MAdvise(UserAddr(part + 2 * kPg), 2 * kPg, a::kMadvDontFork).ok());
  {
    Proc c2 = Fork();
    EXPECT_EQ(c2.mm->resident_bytes(), 2 * kPg);  // only part's first half (no d, no w)
    EXPECT_TRUE(c2.mm->IsRangeMapped(UserAddr(part), 2 * kPg));
    EXPECT_FALSE(c2.mm->IsRangeMapped(UserAddr(part + 2 * kPg), kPg));
    EXPECT_EQ(R(c2, part + kPg), 0x61);
    ASSERT_EQ(Write(part + 3 * kPg, 0x73), 0);  // never shared: written in place
    EXPECT_TRUE(mf_->IsExclusive(HostPage(*pt_, part + 3 * kPg), kPg));
  }
  // The flags are inherited (Linux copies vm_flags): a grandchild gets neither mapping's data.
  Proc g = ForkOf(*c.mm);
  EXPECT_FALSE(g.mm->IsRangeMapped(UserAddr(d), kPg));
  EXPECT_EQ(R(g, w), 0);
  CheckInvariant({c.pt.get(), g.pt.get()});
}

TEST_F(MMForkTest, ForkOfAForkSharesAPageThreeWays) {
  const uint64_t x = Map(kPg);
  ASSERT_EQ(Write(x, 7), 0);
  const uint64_t original = HostPage(*pt_, x);
  const uint64_t allocated = mf_->bytes_allocated();
  Proc c = Fork();
  Proc g = ForkOf(*c.mm);
  EXPECT_EQ(mf_->bytes_allocated(), allocated);
  EXPECT_EQ(R(g, x), 7);
  EXPECT_EQ(HostPage(*g.pt, x), original);
  ASSERT_EQ(W(c, x, 8), 0);  // copies: the parent and the grandchild still share
  EXPECT_EQ(mf_->bytes_allocated(), allocated + kPg);
  ASSERT_EQ(Write(x, 9), 0);  // copies: the grandchild still holds the original
  EXPECT_EQ(mf_->bytes_allocated(), allocated + 2 * kPg);
  ASSERT_EQ(W(g, x, 10), 0);  // the last referent: reuses the original page
  EXPECT_EQ(mf_->bytes_allocated(), allocated + 2 * kPg);
  EXPECT_EQ(ReadByte(x), 9);
  EXPECT_EQ(R(c, x), 8);
  EXPECT_EQ(R(g, x), 10);
  CheckInvariant({c.pt.get(), g.pt.get()});
  c.mm.reset();
  mm_.reset();
  g.mm.reset();
  EXPECT_EQ(mf_->bytes_allocated(), baseline_);
}

TEST_F(MMForkTest, MremapMovesCowPages) {
  const uint64_t x = Map(8 * kPg);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(Write(x + i * kPg, i), 0);
  Proc c = Fork();
  const uint64_t allocated = mf_->bytes_allocated();
  const uint64_t y = x - 64 * kPg;
  auto moved = c.mm->MRemap(UserAddr(x), 8 * kPg, 16 * kPg,
                            a::kMremapMayMove | a::kMremapFixed, UserAddr(y));
  ASSERT_TRUE(moved.ok());
  ASSERT_EQ(moved->value(), y);
  EXPECT_EQ(mf_->bytes_allocated(), allocated);  // moved, not copied
  CheckInvariant({c.pt.get()});
  for (int i = 0; i < 8; ++i) EXPECT_EQ(R(c, y + i * kPg), i);
  ASSERT_EQ(W(c, y + 2 * kPg, 0x42), 0);
  EXPECT_EQ(mf_->bytes_allocated(), allocated + kPg);
  EXPECT_EQ(ReadByte(x + 2 * kPg), 2);
  ASSERT_EQ(Write(x + 3 * kPg, 0x43), 0);
  EXPECT_EQ(R(c, y + 3 * kPg), 3);
  CheckInvariant({c.pt.get()});
}

TEST_F(MMForkTest, MunmapAndDontNeedDropReferences) {
  const uint64_t x = Map(4 * kPg);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Write(x + i * kPg, 0x30 + i), 0);
  const uint64_t allocated = mf_->bytes_allocated();
  Proc c = Fork();
  ASSERT_TRUE(c.mm->MUnmap(UserAddr(x), 2 * kPg).ok());
  ASSERT_TRUE(c.mm->MAdvise(UserAddr(x + 2 * kPg), kPg, a::kMadvDontNeed).ok());
  EXPECT_EQ(R(c, x + 2 * kPg), 0);  // DONTNEED on private anonymous memory: zero
  EXPECT_EQ(mf_->bytes_allocated(), allocated + kPg);
  // Pages 0-2 are the parent's alone again: written in place.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Write(x + i * kPg, 0x40 + i), 0);
  EXPECT_EQ(mf_->bytes_allocated(), allocated + kPg);
  ASSERT_EQ(Write(x + 3 * kPg, 0x43), 0);  // still shared: copied
  EXPECT_EQ(mf_->bytes_allocated(), allocated + 2 * kPg);
  EXPECT_EQ(R(c, x + 3 * kPg), 0x33);
  CheckInvariant({c.pt.get()});
}

TEST_F(MMForkTest, BrkShrinkDropsReferences) {
  mm_->SetBrkBase(UserAddr(0x600000));
  ASSERT_EQ(mm_->Brk(UserAddr(0x600000 + 4 * kPg)).value(), 0x600000 + 4 * kPg);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Write(0x600000 + i * kPg, i + 1), 0);
  const uint64_t allocated = mf_->bytes_allocated();
  Proc c = Fork();
  EXPECT_EQ(c.mm->brk().value(), 0x600000 + 4 * kPg);
  EXPECT_EQ(c.mm->DebugMaps(), mm_->DebugMaps());
  EXPECT_EQ(c.mm->Brk(UserAddr(0x600000)).value(), 0x600000u);
  ASSERT_EQ(Write(0x600000 + 3 * kPg, 9), 0);  // exclusive again
  EXPECT_EQ(mf_->bytes_allocated(), allocated);
  c.mm.reset();
  mm_.reset();
  EXPECT_EQ(mf_->bytes_allocated(), baseline_);
}

TEST_F(MMForkTest, MprotectOfCowRangeKeepsItReadOnlyInTheHost) {
  const uint64_t x = Map(2 * kPg);
  ASSERT_EQ(Write(x, 5), 0);
  Proc c = Fork();
  ASSERT_TRUE(c.mm->MProtect(UserAddr(x), 2 * kPg, a::kProtRead).ok());
  EXPECT_EQ(R(c, x), 5);
  EXPECT_EQ(GuestWrite(*c.mm, *mf_, *c.pt, x, 6), a::kSegvAccErr);  // a real violation
  ASSERT_TRUE(c.mm->MProtect(UserAddr(x), 2 * kPg, kRW).ok());
  ASSERT_TRUE(c.pt->pages.count(x));
  EXPECT_FALSE(c.pt->pages.at(x).prot.write);  // remapped, but not writable: still shared
  CheckInvariant({c.pt.get()});
  ASSERT_EQ(W(c, x, 6), 0);
  EXPECT_EQ(ReadByte(x), 5);
  EXPECT_EQ(R(c, x), 6);
  // A read-only private VMA is shared too, and a later mprotect(RW) + write copies.
  const uint64_t r = Map(kPg, a::kProtRead);
  EXPECT_EQ(ReadByte(r), 0);
  Proc c2 = Fork();
  ASSERT_TRUE(mm_->MProtect(UserAddr(r), kPg, kRW).ok());
  ASSERT_EQ(Write(r, 1), 0);
  EXPECT_EQ(R(c2, r), 0);
  CheckInvariant({c.pt.get(), c2.pt.get()});
}

TEST_F(MMForkTest, CopyOutAndZeroOutBreakCow) {
  const uint64_t x = Map(4 * kPg);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Write(x + i * kPg, 0x50 + i), 0);
  Proc c = Fork();
  ASSERT_EQ(R(c, x), 0x50);  // the child maps the pages read-only
  const uint64_t child_page = HostPage(*c.pt, x);
  // The sentry writes the parent's memory (read(2) into a buffer) across two pages.
  std::vector<std::byte> buf(kPg + 16, std::byte{0x77});
  ASSERT_EQ(V(mm_->CopyOutBytes(UserAddr(x + kPg / 2), buf)), buf.size());
  EXPECT_EQ(ReadByte(x + kPg / 2), 0x77);
  EXPECT_EQ(ReadByte(x + kPg + 15), 0x77);
  EXPECT_EQ(ReadByte(x), 0x50);  // the unwritten part of the page was copied
  EXPECT_EQ(R(c, x), 0x50);
  EXPECT_EQ(R(c, x + kPg / 2), 0);
  EXPECT_EQ(R(c, x + kPg), 0x51);
  EXPECT_EQ(HostPage(*c.pt, x), child_page);
  // And the child's, through ZeroOut.
  ASSERT_EQ(V(c.mm->ZeroOut(UserAddr(x + 2 * kPg), 2 * kPg)), 2 * kPg);
  EXPECT_EQ(R(c, x + 3 * kPg), 0);
  EXPECT_EQ(ReadByte(x + 2 * kPg), 0x52);
  EXPECT_EQ(ReadByte(x + 3 * kPg), 0x53);
  CheckInvariant({c.pt.get()});
  c.mm.reset();
  mm_.reset();
  EXPECT_EQ(mf_->bytes_allocated(), baseline_);
}

TEST_F(MMForkTest, PrivateFilePagesAreCowSnapshots) {
  auto f = std::make_shared<FakeFile>(std::string(2 * kPg, 'f'));
  const uint64_t x = Map(*mm_, 2 * kPg, kRW, a::kMapPrivate, f);
  EXPECT_EQ(ReadByte(x), 'f');
  Proc c = Fork();
  ASSERT_EQ(W(c, x, 'c'), 0);
  EXPECT_EQ(ReadByte(x), 'f');
  ASSERT_EQ(Write(x + 1, 'p'), 0);
  EXPECT_EQ(R(c, x + 1), 'f');
  EXPECT_EQ(R(c, x), 'c');
  CheckInvariant({c.pt.get()});
}

TEST_F(MMForkTest, UnknownHostSiCodeBreaksCowOnTheSecondFault) {
  const uint64_t x = Map(kPg);
  ASSERT_EQ(Write(x, 1), 0);
  Proc c = Fork();
  int code = -1;
  ASSERT_TRUE(c.mm->HandleFault(UserAddr(x), &code).ok());  // maps read-only
  EXPECT_FALSE(c.pt->pages.at(x).prot.write);
  ASSERT_TRUE(c.mm->HandleFault(UserAddr(x), &code).ok());  // repeated: a write, copies
  EXPECT_TRUE(c.pt->pages.at(x).prot.write);
  EXPECT_NE(HostPage(*c.pt, x), HostPage(*pt_, x));
  CheckInvariant({c.pt.get()});
}

TEST_F(MMForkTest, FutexKeys) {
  const uint64_t s = Map(2 * kPg, kRW, a::kMapShared | a::kMapAnonymous);
  const uint64_t p = Map(kPg);
  auto ks = V(mm_->FutexKey(UserAddr(s + kPg + 8)));
  EXPECT_TRUE(ks.shared_object);
  auto kp = V(mm_->FutexKey(UserAddr(p + 4)));
  EXPECT_FALSE(kp.shared_object);
  Proc c = Fork();
  auto cks = V(c.mm->FutexKey(UserAddr(s + kPg + 8)));
  EXPECT_TRUE(cks.shared_object);
  EXPECT_EQ(cks.mf_off, ks.mf_off);  // the same word in both processes
  EXPECT_NE(V(mm_->FutexKey(UserAddr(s + 8))).mf_off, ks.mf_off);
  EXPECT_FALSE(V(c.mm->FutexKey(UserAddr(p + 4))).shared_object);
  EXPECT_EQ(mm_->FutexKey(UserAddr(p + 2)).error(), Errno::kEINVAL);
  EXPECT_FALSE(mm_->IsRangeMapped(UserAddr(0x10000000), kPg));
  EXPECT_EQ(mm_->FutexKey(UserAddr(0x10000000)).error(), Errno::kEFAULT);  // unmapped
  const uint64_t none = Map(kPg, 0);
  EXPECT_EQ(mm_->FutexKey(UserAddr(none)).error(), Errno::kEFAULT);
}

// Not an assertion: prints the cost of Fork for 64 MiB of touched private memory, backed by
// one contiguous memory-file range (one pma) and by 1024 scattered 64 KiB ranges (two
// mappings touched alternately, as fault-around allocates them). The address-space cost (one
// Unmap per VMA on the real platform) is not included.
TEST_F(MMForkTest, Fork64MiBCost) {
  constexpr uint64_t kLen = 64ull << 20, kChunk = 16 * kPg;
  std::vector<std::byte> chunk(kChunk, std::byte{1});
  for (bool scattered : {false, true}) {
    mm_.reset();  // before its memory file
    SetUpMM(1ull << 30);
    const uint64_t x = Map(kLen);
    const uint64_t other = scattered ? Map(kLen) : 0;
    for (uint64_t off = 0; off < kLen; off += kChunk) {
      ASSERT_EQ(V(mm_->CopyOutBytes(UserAddr(x + off), chunk)), kChunk);
      if (scattered) {
        ASSERT_EQ(V(mm_->CopyOutBytes(UserAddr(other + off), chunk)), kChunk);
      }
    }
    if (scattered) {
      ASSERT_TRUE(mm_->MUnmap(UserAddr(other), kLen).ok());
    }
    const uint64_t allocated = mf_->bytes_allocated();
    // The simulated page table's cost is not the MM's: empty it (Unmap is still called).
    pt_->pages.clear();
    const auto t0 = std::chrono::steady_clock::now();
    Proc c = Fork();
    const auto t1 = std::chrono::steady_clock::now();
    c.mm.reset();
    const auto t2 = std::chrono::steady_clock::now();
    std::printf("Fork of a 64 MiB touched anonymous mapping (%s): %.1f us, child teardown "
                "%.1f us, parent Unmap calls %d\n",
                scattered ? "1024 memory-file ranges" : "one memory-file range",
                std::chrono::duration<double, std::micro>(t1 - t0).count(),
                std::chrono::duration<double, std::micro>(t2 - t1).count(), pt_->unmap_calls);
    EXPECT_EQ(mf_->bytes_allocated(), allocated);
    EXPECT_EQ(pt_->unmap_calls, scattered ? 2 : 1);  // the munmap above, and Fork's one
  }
}

}  // namespace
}  // namespace sbx::mm
