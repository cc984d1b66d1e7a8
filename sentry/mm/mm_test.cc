// MemoryManager: placement, munmap/mprotect splitting, demand paging, file mappings, brk,
// madvise, faults, stack growth, and hostile arguments.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "sentry/mm/mm_test_util.h"

namespace sbx::mm {
namespace {

using namespace sbx::mm::testing;  // NOLINT
namespace a = ::sbx::mm::abi;

constexpr int kRW = a::kProtRead | a::kProtWrite;
constexpr int kAnon = a::kMapPrivate | a::kMapAnonymous;

class MMTest : public MMFixture {
 protected:
  Result<UserAddr> MapR(uint64_t len, int prot = kRW, int flags = kAnon, uint64_t addr = 0,
                        std::shared_ptr<fs::FileDescription> file = nullptr, uint64_t off = 0) {
    MMapOpts o;
    o.addr = UserAddr(addr);
    o.length = len;
    o.prot = prot;
    o.flags = flags;
    o.file = std::move(file);
    o.offset = off;
    return mm_->MMap(o);
  }
  uint64_t Map(uint64_t len, int prot = kRW, int flags = kAnon, uint64_t addr = 0,
               std::shared_ptr<fs::FileDescription> file = nullptr, uint64_t off = 0) {
    auto r = MapR(len, prot, flags, addr, std::move(file), off);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : ErrnoName(r.error()));
    return r.ok() ? r->value() : 0;
  }
  int CountMaps() {
    std::string s = mm_->DebugMaps();
    return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  }
};

TEST_F(MMTest, TopDownPlacementBelowMmapBase) {
  uint64_t a1 = Map(4 * kPg), a2 = Map(4 * kPg);
  EXPECT_EQ(a1, mm_->mmap_base().value() - 4 * kPg);
  EXPECT_EQ(a2, a1 - 4 * kPg);
  EXPECT_LT(mm_->mmap_base().value(), mm_->stack_top().value());
  EXPECT_EQ(CountMaps(), 1);  // adjacent compatible anonymous VMAs merge
}

TEST_F(MMTest, HintHonouredWhenFree) {
  EXPECT_EQ(Map(kPg, kRW, kAnon, 0x100000000), 0x100000000u);
  EXPECT_EQ(Map(kPg, kRW, kAnon, 0x200000123), 0x200000000u);  // rounded down
  uint64_t other = Map(kPg, kRW, kAnon, 0x100000000);           // taken: elsewhere
  EXPECT_NE(other, 0x100000000u);
  EXPECT_NE(other, 0u);
  EXPECT_EQ(Map(kPg, kRW, kAnon, 0x1000), kMinAddr);  // below mmap_min_addr: raised
}

TEST_F(MMTest, FixedReplacesExistingMapping) {
  uint64_t base = Map(4 * kPg);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Write(base + i * kPg, 0x10 + i), 0);
  uint64_t before = mf_->bytes_allocated();
  EXPECT_EQ(Map(2 * kPg, kRW, kAnon | a::kMapFixed, base + kPg), base + kPg);
  EXPECT_EQ(mf_->bytes_allocated(), before - 2 * kPg);  // replaced pages freed
  EXPECT_EQ(ReadByte(base), 0x10);
  EXPECT_EQ(ReadByte(base + kPg), 0);
  EXPECT_EQ(ReadByte(base + 2 * kPg), 0);
  EXPECT_EQ(ReadByte(base + 3 * kPg), 0x13);
  EXPECT_EQ(MapR(kPg, kRW, kAnon | a::kMapFixed, base + 1).error(), Errno::kEINVAL);
}

TEST_F(MMTest, FixedNoReplace) {
  uint64_t base = Map(4 * kPg);
  EXPECT_EQ(MapR(kPg, kRW, kAnon | a::kMapFixedNoReplace, base + 3 * kPg).error(),
            Errno::kEEXIST);
  EXPECT_EQ(Map(kPg, kRW, kAnon | a::kMapFixedNoReplace, base + 4 * kPg), base + 4 * kPg);
}

TEST_F(MMTest, Map32Bit) {
  uint64_t x = Map(16 * kPg, kRW, kAnon | a::kMap32Bit);
  EXPECT_GE(x, 0x40000000u);
  EXPECT_LE(x + 16 * kPg, 0x80000000u);
  EXPECT_EQ(MapR(1ull << 31, kRW, kAnon | a::kMap32Bit).error(), Errno::kENOMEM);
}

TEST_F(MMTest, MmapArgumentErrors) {
  EXPECT_EQ(MapR(0).error(), Errno::kEINVAL);
  EXPECT_EQ(MapR(UINT64_MAX).error(), Errno::kENOMEM);
  EXPECT_EQ(MapR(1ull << 62).error(), Errno::kENOMEM);
  EXPECT_EQ(MapR(kPg, kRW, a::kMapAnonymous).error(), Errno::kEINVAL);  // neither type
  EXPECT_EQ(MapR(kPg, kRW, kAnon | a::kMapFixed, kMaxAddr).error(), Errno::kENOMEM);
  EXPECT_EQ(MapR(2 * kPg, kRW, kAnon | a::kMapFixed, kMaxAddr - kPg).error(), Errno::kENOMEM);
  EXPECT_EQ(MapR(kPg, kRW, kAnon | a::kMapFixed, 0x1000).error(), Errno::kEPERM);
  auto f = std::make_shared<FakeFile>(std::string(100, 'x'));
  EXPECT_EQ(MapR(kPg, a::kProtRead, a::kMapPrivate, 0, f, 123).error(), Errno::kEINVAL);
  EXPECT_EQ(MapR(2 * kPg, a::kProtRead, a::kMapPrivate, 0, f, UINT64_MAX & ~(kPg - 1)).error(),
            Errno::kEOVERFLOW);
}

TEST_F(MMTest, NoRoomIsENOMEM) {
  // Fill the whole address space with one PROT_NONE reservation, then ask for more.
  uint64_t span = kMaxAddr - kMinAddr;
  EXPECT_EQ(Map(span, a::kProtNone, kAnon | a::kMapFixed | a::kMapNoReserve, kMinAddr),
            kMinAddr);
  EXPECT_EQ(MapR(kPg).error(), Errno::kENOMEM);
  EXPECT_TRUE(mm_->MUnmap(UserAddr(kMinAddr + kPg), kPg).ok());
  EXPECT_EQ(Map(kPg), kMinAddr + kPg);
}

TEST_F(MMTest, MunmapSplitsAndFrees) {
  uint64_t base = Map(8 * kPg);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(Write(base + i * kPg, i + 1), 0);
  uint64_t before = mf_->bytes_allocated();
  ASSERT_TRUE(mm_->MUnmap(UserAddr(base + 2 * kPg), 2 * kPg).ok());
  EXPECT_EQ(CountMaps(), 2);
  EXPECT_EQ(mf_->bytes_allocated(), before - 2 * kPg);
  EXPECT_EQ(pt_->pages.count(base + 2 * kPg), 0u);
  EXPECT_EQ(pt_->pages.count(base + 3 * kPg), 0u);
  uint8_t v;
  EXPECT_EQ(Read(base + 2 * kPg, &v), a::kSegvMapErr);
  std::byte buf[16];
  EXPECT_EQ(mm_->CopyInBytes(UserAddr(base + 2 * kPg), buf).error(), Errno::kEFAULT);
  for (int i : {0, 1, 4, 5, 6, 7}) EXPECT_EQ(ReadByte(base + i * kPg), i + 1);
  // Errors per munmap(2); unmapping nothing is fine.
  EXPECT_EQ(mm_->MUnmap(UserAddr(base + 1), kPg).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->MUnmap(UserAddr(base), 0).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->MUnmap(UserAddr(base), UINT64_MAX).error(), Errno::kEINVAL);
  EXPECT_TRUE(mm_->MUnmap(UserAddr(0x10000000), kPg).ok());
}

TEST_F(MMTest, MprotectSplitsAndCopyRespectsPermissions) {
  uint64_t base = Map(4 * kPg);
  std::vector<std::byte> data(2 * kPg, std::byte{7});
  ASSERT_EQ(V(mm_->CopyOutBytes(UserAddr(base), data)), 2 * kPg);
  ASSERT_TRUE(mm_->MProtect(UserAddr(base + kPg), kPg, a::kProtRead).ok());
  EXPECT_EQ(CountMaps(), 3);
  EXPECT_FALSE(pt_->pages.at(base + kPg).prot.write);  // remapped with the new protection
  EXPECT_TRUE(pt_->pages.at(base).prot.write);
  // A write spanning into the read-only page copies up to the boundary.
  EXPECT_EQ(V(mm_->CopyOutBytes(UserAddr(base + kPg - 10), std::span(data).first(100))), 10u);
  EXPECT_EQ(mm_->CopyOutBytes(UserAddr(base + kPg), std::span(data).first(1)).error(),
            Errno::kEFAULT);
  std::byte in[100];
  EXPECT_EQ(V(mm_->CopyInBytes(UserAddr(base + kPg - 10), in)), 100u);
  ASSERT_TRUE(mm_->MProtect(UserAddr(base + kPg), kPg, a::kProtNone).ok());
  EXPECT_EQ(V(mm_->CopyInBytes(UserAddr(base + kPg - 10), in)), 10u);
  EXPECT_EQ(mm_->ZeroOut(UserAddr(base + kPg), 5).error(), Errno::kEFAULT);
  ASSERT_TRUE(mm_->MProtect(UserAddr(base), 4 * kPg, kRW).ok());
  EXPECT_EQ(CountMaps(), 1);  // merged back
  EXPECT_EQ(V(mm_->CopyInBytes(UserAddr(base + kPg), in)), 100u);
  EXPECT_EQ(in[0], std::byte{7});
  // Errors per mprotect(2).
  EXPECT_EQ(mm_->MProtect(UserAddr(base + 1), kPg, a::kProtRead).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->MProtect(UserAddr(base), kPg, 0x10).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->MProtect(UserAddr(base), 8 * kPg, a::kProtRead).error(), Errno::kENOMEM);
  EXPECT_EQ(mm_->MProtect(UserAddr(base), UINT64_MAX, a::kProtRead).error(), Errno::kENOMEM);
  EXPECT_TRUE(mm_->MProtect(UserAddr(base), 0, a::kProtRead).ok());
  EXPECT_EQ(mm_->MProtect(UserAddr(base), kPg, a::kProtRead | a::kProtGrowsDown).error(),
            Errno::kEINVAL);
}

TEST_F(MMTest, DemandPagingWithFaultAround) {
  uint64_t base = Map(64 * kPg, kRW, kAnon, 0x100000000);
  EXPECT_EQ(mm_->resident_bytes(), 0u);
  EXPECT_EQ(pt_->map_calls, 0);
  ASSERT_EQ(Write(base + 20 * kPg + 5, 1), 0);
  EXPECT_EQ(mm_->resident_bytes(), 16 * kPg);  // aligned window [16, 32)
  EXPECT_EQ(pt_->map_calls, 1);
  EXPECT_EQ(pt_->pages.count(base + 16 * kPg), 1u);
  EXPECT_EQ(pt_->pages.count(base + 31 * kPg), 1u);
  EXPECT_EQ(pt_->pages.count(base + 32 * kPg), 0u);
  ASSERT_EQ(Write(base + 17 * kPg, 1), 0);
  EXPECT_EQ(pt_->map_calls, 1);
  // Fault-around stops at already-backed pages.
  std::byte b{1};
  ASSERT_EQ(V(mm_->CopyOutBytes(UserAddr(base + 5 * kPg), std::span(&b, 1))), 1u);
  EXPECT_EQ(mm_->resident_bytes(), 17 * kPg);
  ASSERT_EQ(Write(base + 3 * kPg, 1), 0);
  EXPECT_EQ(mm_->resident_bytes(), 22 * kPg);  // [0, 5)
  EXPECT_EQ(pt_->pages.count(base + 6 * kPg), 0u);
  // MAP_POPULATE backs everything up front.
  uint64_t pop = Map(8 * kPg, kRW, kAnon | a::kMapPopulate);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(pt_->pages.count(pop + i * kPg), 1u);
}

TEST_F(MMTest, PrivateFileMappingContentsAndEOF) {
  std::string data(2 * kPg + kPg / 2, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  auto f = std::make_shared<FakeFile>(data);
  uint64_t base = Map(4 * kPg, a::kProtRead, a::kMapPrivate, 0, f, 0);
  EXPECT_EQ(ReadByte(base), 'a');
  EXPECT_EQ(ReadByte(base + 2 * kPg + 1), static_cast<uint8_t>(data[2 * kPg + 1]));
  EXPECT_EQ(ReadByte(base + 2 * kPg + kPg / 2), 0);  // tail of the last page is zero
  uint8_t v;
  Errno e{};
  EXPECT_EQ(Read(base + 3 * kPg, &v, &e), a::kBusAdrErr);  // wholly past EOF: SIGBUS
  EXPECT_EQ(e, Errno::kEIO);
  std::vector<std::byte> buf(2 * kPg);
  EXPECT_EQ(V(mm_->CopyInBytes(UserAddr(base + 2 * kPg), buf)), kPg);
  EXPECT_EQ(mm_->CopyOutBytes(UserAddr(base), std::span(buf).first(1)).error(),
            Errno::kEFAULT);
  // Offset mapping, writable private copy: the file does not change.
  uint64_t w = Map(kPg, kRW, a::kMapPrivate, 0, f, kPg);
  EXPECT_EQ(ReadByte(w), static_cast<uint8_t>(data[kPg]));
  ASSERT_EQ(Write(w, 'Z'), 0);
  EXPECT_EQ(ReadByte(w), 'Z');
  EXPECT_EQ(f->data_[kPg], data[kPg]);
  EXPECT_NE(ReadByte(base + kPg), 'Z');
}

TEST_F(MMTest, FileMappingAccessChecks) {
  auto ro = std::make_shared<FakeFile>(std::string(kPg, 'r'), /*O_RDONLY*/ 0);
  auto rw = std::make_shared<FakeFile>(std::string(kPg, 'w'), /*O_RDWR*/ 2);
  auto wo = std::make_shared<FakeFile>(std::string(kPg, 'o'), /*O_WRONLY*/ 1);
  EXPECT_EQ(MapR(kPg, a::kProtRead, a::kMapPrivate, 0, wo).error(), Errno::kEACCES);
  EXPECT_EQ(MapR(kPg, kRW, a::kMapShared, 0, rw).error(), Errno::kENODEV);  // partial
  uint64_t s = Map(kPg, a::kProtRead, a::kMapShared, 0, ro);
  EXPECT_EQ(ReadByte(s), 'r');
  EXPECT_EQ(mm_->MProtect(UserAddr(s), kPg, kRW).error(), Errno::kEACCES);
  uint64_t p = Map(kPg, a::kProtRead, a::kMapPrivate, 0, ro);
  EXPECT_TRUE(mm_->MProtect(UserAddr(p), kPg, kRW).ok());
}

TEST_F(MMTest, SharedAnonymousMemoryIsShared) {
  uint64_t s = Map(2 * kPg, kRW, a::kMapShared | a::kMapAnonymous);
  ASSERT_EQ(Write(s + 10, 0x5a), 0);
  // A second mapping of the same object (mremap old_len 0).
  auto dup = mm_->MRemap(UserAddr(s), 0, 2 * kPg, a::kMremapMayMove, UserAddr());
  ASSERT_TRUE(dup.ok());
  EXPECT_NE(dup->value(), s);
  EXPECT_EQ(ReadByte(dup->value() + 10), 0x5a);
  ASSERT_EQ(Write(dup->value() + 11, 0x6b), 0);
  EXPECT_EQ(ReadByte(s + 11), 0x6b);
  EXPECT_EQ(pt_->pages.at(s).off, pt_->pages.at(dup->value()).off);
  // DONTNEED only unmaps: the object keeps the data.
  ASSERT_TRUE(mm_->MAdvise(UserAddr(s), 2 * kPg, a::kMadvDontNeed).ok());
  EXPECT_EQ(ReadByte(s + 10), 0x5a);
  EXPECT_EQ(MapR(kPg, kRW, a::kMapShared | a::kMapAnonymous | a::kMapGrowsDown).error(),
            Errno::kEINVAL);
}

TEST_F(MMTest, Brk) {
  mm_->SetBrkBase(UserAddr(0x600123));
  const uint64_t b0 = 0x601000;
  EXPECT_EQ(mm_->brk().value(), b0);
  EXPECT_EQ(mm_->Brk(UserAddr(0)).value(), b0);
  EXPECT_EQ(mm_->Brk(UserAddr(b0 + 3 * kPg + 7)).value(), b0 + 3 * kPg + 7);
  EXPECT_NE(mm_->DebugMaps().find("[heap]"), std::string::npos);
  ASSERT_EQ(Write(b0 + 3 * kPg + 100, 9), 0);  // inside the last (rounded-up) page
  ASSERT_EQ(Write(b0, 8), 0);
  EXPECT_EQ(mm_->Brk(UserAddr(b0 + kPg)).value(), b0 + kPg);
  uint8_t v;
  EXPECT_EQ(Read(b0 + 2 * kPg, &v), a::kSegvMapErr);
  EXPECT_EQ(ReadByte(b0), 8);
  EXPECT_EQ(mm_->Brk(UserAddr(b0 - kPg)).value(), b0 + kPg);  // below the base: refused
  // Growing into another mapping is refused; the old break is returned.
  Map(kPg, kRW, kAnon | a::kMapFixed, b0 + 10 * kPg);
  EXPECT_EQ(mm_->Brk(UserAddr(b0 + 10 * kPg)).value(), b0 + kPg);
  EXPECT_EQ(mm_->Brk(UserAddr(b0 + 9 * kPg + 1)).value(), b0 + kPg);  // needs a page of gap
  EXPECT_EQ(mm_->Brk(UserAddr(b0 + 9 * kPg)).value(), b0 + 9 * kPg);
  EXPECT_EQ(mm_->Brk(UserAddr(UINT64_MAX)).value(), b0 + 9 * kPg);
}

TEST_F(MMTest, MadviseDontNeed) {
  uint64_t anon = Map(4 * kPg);
  ASSERT_EQ(Write(anon + 5, 3), 0);
  uint64_t before = mf_->bytes_allocated();
  ASSERT_TRUE(mm_->MAdvise(UserAddr(anon), 4 * kPg, a::kMadvDontNeed).ok());
  EXPECT_LT(mf_->bytes_allocated(), before);
  EXPECT_EQ(ReadByte(anon + 5), 0);
  auto f = std::make_shared<FakeFile>(std::string(kPg, 'q'));
  uint64_t file = Map(kPg, kRW, a::kMapPrivate, 0, f);
  ASSERT_EQ(Write(file, 'X'), 0);
  EXPECT_EQ(ReadByte(file), 'X');
  ASSERT_TRUE(mm_->MAdvise(UserAddr(file), kPg, a::kMadvDontNeed).ok());
  EXPECT_EQ(ReadByte(file), 'q');  // re-read from the file
  EXPECT_EQ(mm_->MAdvise(UserAddr(file), kPg, a::kMadvFree).error(), Errno::kEINVAL);
  ASSERT_EQ(Write(anon, 3), 0);
  ASSERT_TRUE(mm_->MAdvise(UserAddr(anon), kPg, a::kMadvFree).ok());
  EXPECT_EQ(ReadByte(anon), 0);
  EXPECT_EQ(mm_->MAdvise(UserAddr(anon), kPg, 77).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->MAdvise(UserAddr(anon + 1), kPg, a::kMadvNormal).error(), Errno::kEINVAL);
  EXPECT_EQ(mm_->MAdvise(UserAddr(anon), UINT64_MAX, a::kMadvNormal).error(), Errno::kEINVAL);
  EXPECT_TRUE(mm_->MAdvise(UserAddr(anon), 0, a::kMadvNormal).ok());
  EXPECT_EQ(mm_->MAdvise(UserAddr(0x10000000), kPg, a::kMadvWillNeed).error(), Errno::kENOMEM);
  // A range with a hole: applied to the mapped part, then ENOMEM.
  ASSERT_TRUE(mm_->MUnmap(UserAddr(anon + kPg), kPg).ok());
  ASSERT_EQ(Write(anon + 2 * kPg, 4), 0);
  EXPECT_EQ(mm_->MAdvise(UserAddr(anon), 4 * kPg, a::kMadvDontNeed).error(), Errno::kENOMEM);
  EXPECT_EQ(ReadByte(anon + 2 * kPg), 0);
  EXPECT_TRUE(mm_->MAdvise(UserAddr(anon + 2 * kPg), kPg, a::kMadvDontFork).ok());
  EXPECT_TRUE(mm_->MAdvise(UserAddr(anon + 2 * kPg), kPg, a::kMadvHugePage).ok());
}

TEST_F(MMTest, HandleFaultCodes) {
  int code = -1;
  EXPECT_EQ(mm_->HandleFault(UserAddr(0x10000000), &code).error(), Errno::kEFAULT);
  EXPECT_EQ(code, a::kSegvMapErr);
  EXPECT_EQ(mm_->HandleFault(UserAddr(UINT64_MAX), &code).error(), Errno::kEFAULT);
  EXPECT_EQ(code, a::kSegvMapErr);
  EXPECT_EQ(mm_->HandleFault(UserAddr(0), &code).error(), Errno::kEFAULT);
  uint64_t none = Map(kPg, a::kProtNone);
  EXPECT_EQ(mm_->HandleFault(UserAddr(none), &code).error(), Errno::kEFAULT);
  EXPECT_EQ(code, a::kSegvAccErr);
  // Write to a read-only page: the first fault maps it read-only, the second is ACCERR.
  uint64_t ro = Map(kPg, a::kProtRead);
  EXPECT_EQ(Write(ro, 1), a::kSegvAccErr);
  EXPECT_EQ(ReadByte(ro), 0);
  // A fault on a backed page whose host mapping is missing (race) is resolved by remapping.
  uint64_t rw = Map(kPg);
  ASSERT_EQ(Write(rw, 1), 0);
  pt_->pages.erase(rw);
  EXPECT_TRUE(mm_->HandleFault(UserAddr(rw), a::kSegvMapErr, &code).ok());
  EXPECT_EQ(pt_->pages.count(rw), 1u);
  EXPECT_EQ(mm_->HandleFault(UserAddr(rw), a::kSegvAccErr, &code).error(), Errno::kEFAULT);
  EXPECT_EQ(code, a::kSegvAccErr);
  // Without the host si_code: one fault on a backed page remaps it (a racing thread), a
  // repeated one is a violation.
  EXPECT_TRUE(mm_->HandleFault(UserAddr(rw), &code).ok());
  EXPECT_EQ(mm_->HandleFault(UserAddr(rw), &code).error(), Errno::kEFAULT);
  EXPECT_EQ(code, a::kSegvAccErr);
  EXPECT_TRUE(mm_->HandleFault(UserAddr(rw), &code).ok());
}

TEST_F(MMTest, GrowsDownStack) {
  const uint64_t top = 0x7ff000000000;
  ASSERT_TRUE(mm_->MapStack(UserAddr(top), 32 * kPg).ok());
  EXPECT_NE(mm_->DebugMaps().find("[stack]"), std::string::npos);
  ASSERT_EQ(Write(top - 8, 1), 0);
  uint64_t below = top - 32 * kPg - 100 * kPg;
  ASSERT_EQ(Write(below, 2), 0);  // grows
  EXPECT_TRUE(mm_->IsRangeMapped(UserAddr(usermem::PageRoundDown(below)), top - usermem::PageRoundDown(below)));
  EXPECT_EQ(Write(top - (9ull << 20), 3), a::kSegvMapErr);  // beyond RLIMIT_STACK
  mm_->SetStackLimit(64ull << 20);
  // A mapping close below the stack blocks growth into its guard gap.
  uint64_t blocker = top - (32ull << 20);
  Map(kPg, kRW, kAnon | a::kMapFixed, blocker);
  EXPECT_EQ(Write(blocker + kPg + 10 * kPg, 4), a::kSegvMapErr);
  EXPECT_EQ(Write(blocker + kPg + 300 * kPg, 5), 0);
  // Copies do not grow the stack (Linux 6.5+ GUP).
  std::byte b{};
  EXPECT_EQ(mm_->CopyOutBytes(UserAddr(blocker + kPg + 290 * kPg), std::span(&b, 1)).error(),
            Errno::kEFAULT);
  EXPECT_EQ(mm_->MapStack(UserAddr(top), kPg).error(), Errno::kEEXIST);
}

TEST_F(MMTest, PlacementKeepsOutOfStackGuardGap) {
  const uint64_t top = 0x7ff000000000;
  ASSERT_TRUE(mm_->MapStack(UserAddr(top), 32 * kPg).ok());
  const uint64_t stack_lo = top - 32 * kPg;
  // A hint inside the 256-page guard gap below the stack is not honoured...
  uint64_t x = Map(kPg, kRW, kAnon, stack_lo - 4 * kPg);
  EXPECT_NE(x, stack_lo - 4 * kPg);
  // ...but one just below the gap is.
  EXPECT_EQ(Map(kPg, kRW, kAnon, stack_lo - 257 * kPg), stack_lo - 257 * kPg);
  // MAP_FIXED may go anywhere.
  EXPECT_EQ(Map(kPg, kRW, kAnon | a::kMapFixed, stack_lo - kPg), stack_lo - kPg);
}

TEST_F(MMTest, VmaNames) {
  uint64_t x = Map(4 * kPg);
  ASSERT_TRUE(mm_->SetVmaName(UserAddr(x + kPg), kPg, "[anon:test]").ok());
  EXPECT_EQ(CountMaps(), 3);
  EXPECT_NE(mm_->DebugMaps().find("[anon:test]"), std::string::npos);
  EXPECT_EQ(mm_->SetVmaName(UserAddr(x), 8 * kPg, "y").error(), Errno::kENOMEM);
  ASSERT_TRUE(mm_->SetVmaName(UserAddr(x + kPg), kPg, "").ok());
  EXPECT_EQ(CountMaps(), 1);
}

TEST_F(MMTest, ConcurrentCopiesAndMappingChanges) {
  uint64_t stable = Map(64 * kPg);
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    for (int i = 0; i < 300; ++i) {
      uint64_t m = Map(8 * kPg);
      std::byte b{1};
      EXPECT_EQ(V(mm_->CopyOutBytes(UserAddr(m + 3 * kPg), std::span(&b, 1))), 1u);
      EXPECT_TRUE(mm_->MProtect(UserAddr(m), 4 * kPg, a::kProtRead).ok());
      EXPECT_TRUE(mm_->MUnmap(UserAddr(m), 8 * kPg).ok());
    }
    stop = true;
  });
  std::vector<std::byte> buf(64 * kPg);
  uint8_t round = 0;
  do {
    ++round;
    std::fill(buf.begin(), buf.end(), std::byte{round});
    ASSERT_EQ(V(mm_->CopyOutBytes(UserAddr(stable), buf)), buf.size());
    std::vector<std::byte> in(buf.size());
    ASSERT_EQ(V(mm_->CopyInBytes(UserAddr(stable), in)), in.size());
    ASSERT_EQ(in, buf);
  } while (!stop);
  churn.join();
  EXPECT_EQ(mm_->resident_bytes(), 64 * kPg);
}

TEST_F(MMTest, HostileArgumentsNeverCrash) {
  std::byte buf[64];
  EXPECT_EQ(mm_->CopyInBytes(UserAddr(UINT64_MAX - 10), buf).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->CopyOutBytes(UserAddr(UINT64_MAX - 10), buf).error(), Errno::kEFAULT);
  EXPECT_EQ(mm_->ZeroOut(UserAddr(0), 1ull << 40).error(), Errno::kEFAULT);
  EXPECT_EQ(V(mm_->CopyInBytes(UserAddr(0), std::span<std::byte>())), 0u);
  uint64_t x = Map(kPg);
  EXPECT_EQ(V(mm_->CopyInBytes(UserAddr(x + kPg - 8), buf)), 8u);
  EXPECT_EQ(mm_->MRemap(UserAddr(x), kPg, UINT64_MAX, a::kMremapMayMove, UserAddr()).error(),
            Errno::kEINVAL);
  EXPECT_EQ(mm_->MRemap(UserAddr(x), kPg, 1ull << 62, a::kMremapMayMove, UserAddr()).error(),
            Errno::kENOMEM);
  std::vector<uint8_t> vec;
  EXPECT_EQ(mm_->Mincore(UserAddr(x), UINT64_MAX / 2, &vec).error(), Errno::kENOMEM);
  EXPECT_FALSE(mm_->IsRangeMapped(UserAddr(x), UINT64_MAX));
  EXPECT_EQ(MapR(kPg, kRW, kAnon | a::kMapFixed, UINT64_MAX & ~(kPg - 1)).error(),
            Errno::kENOMEM);
  EXPECT_TRUE(mm_->MUnmap(UserAddr(kMinAddr), kMaxAddr - kMinAddr).ok());
  EXPECT_EQ(CountMaps(), 0);
}

TEST_F(MMTest, DestructorReleasesEverything) {
  uint64_t x = Map(64 * kPg);
  for (int i = 0; i < 64; i += 4) ASSERT_EQ(Write(x + i * kPg, 1), 0);
  uint64_t s = Map(4 * kPg, kRW, a::kMapShared | a::kMapAnonymous);
  ASSERT_EQ(Write(s, 1), 0);
  EXPECT_GT(mf_->bytes_allocated(), 0u);
  mm_.reset();
  EXPECT_EQ(mf_->bytes_allocated(), 0u);
  EXPECT_TRUE(pt_->released);
}

}  // namespace
}  // namespace sbx::mm
