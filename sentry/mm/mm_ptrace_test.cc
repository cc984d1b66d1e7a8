// MemoryManager driving the real ptrace platform: guest code faults on demand-paged memory,
// HandleFault (with the host si_code) maps it, and the data is shared both ways; protection
// violations and unmapped pages end in SEGV_ACCERR / SEGV_MAPERR; Fork is copy-on-write
// across two stub processes.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include "platform/platform.h"
#include "sentry/mm/mm.h"
#include "sentry/mm/mman_abi.h"

namespace sbx::mm {
namespace {

namespace a = ::sbx::mm::abi;
constexpr uint64_t kCodeAddr = 0x400000;
constexpr uint64_t kDataAddr = 0x10000000;

class Asm : public Xbyak::CodeGenerator {
 public:
  Asm() : Xbyak::CodeGenerator(4096, Xbyak::DontSetProtectRWE) {}
};

class MMPtraceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mf_ = std::move(MemoryFile::Create(256ull << 20)).value().release();
    std::string error;
    platform_ = platform::NewPtracePlatform(mf_->info(), &error).release();
    ASSERT_NE(platform_, nullptr) << error;
  }

  void SetUp() override {
    ASSERT_NE(platform_, nullptr);
    auto as = platform_->NewAddressSpace();
    ASSERT_TRUE(as.ok());
    mm_ = std::make_unique<MemoryManager>(*mf_, std::move(*as), platform_->min_user_address(),
                                          platform_->max_user_address());
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok());
    ctx_ = std::move(*ctx);
  }

  uint64_t Map(uint64_t addr, uint64_t len, int prot) {
    MMapOpts o;
    o.addr = UserAddr(addr);
    o.length = len;
    o.prot = prot;
    o.flags = a::kMapPrivate | a::kMapAnonymous | a::kMapFixed;
    auto r = mm_->MMap(o);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->value() : 0;
  }

  void LoadCode(const Asm& code) {
    Map(kCodeAddr, 4096, a::kProtRead | a::kProtWrite);
    ASSERT_TRUE(usermem::CopyOutFull(*mm_, UserAddr(kCodeAddr),
                                     std::as_bytes(std::span(code.getCode(), code.getSize())))
                    .ok());
    ASSERT_TRUE(mm_->MProtect(UserAddr(kCodeAddr), 4096, a::kProtRead | a::kProtExec).ok());
    regs_ = arch::Registers{};
    regs_.rip = kCodeAddr;
  }

  // Runs the guest, serving faults like the kernel does, until a syscall (returns 0) or a
  // fatal fault (returns its si_code, -1 for other stops).
  int RunUntilSyscall(int* faults = nullptr) { return RunUntilSyscall(*mm_, regs_, faults); }
  int RunUntilSyscall(MemoryManager& mm, arch::Registers& regs, int* faults = nullptr) {
    for (int i = 0; i < 1000; ++i) {
      auto r = ctx_->Switch(mm.address_space(), regs);
      if (!r.ok()) return -1;
      if (r->reason == platform::SwitchReason::kSyscall) return 0;
      if (r->reason != platform::SwitchReason::kFault) return -1;
      if (faults) ++*faults;
      int code = 0;
      auto h = mm.HandleFault(UserAddr(r->fault_addr), r->si_code, &code);
      if (!h.ok()) return code;
    }
    return -2;
  }

  static MemoryFile* mf_;
  static platform::Platform* platform_;
  std::unique_ptr<MemoryManager> mm_;
  std::unique_ptr<platform::Context> ctx_;
  arch::Registers regs_{};
};

MemoryFile* MMPtraceTest::mf_ = nullptr;
platform::Platform* MMPtraceTest::platform_ = nullptr;

TEST_F(MMPtraceTest, DemandPagingAndSharing) {
  Map(kDataAddr, 64 * 4096, a::kProtRead | a::kProtWrite);
  uint64_t v = 0x1122334455667788;
  ASSERT_TRUE(usermem::CopyOut(*mm_, usermem::UserPtr<uint64_t>(kDataAddr + 40 * 4096), v).ok());
  Asm c;
  c.mov(c.rax, kDataAddr);
  c.mov(c.qword[c.rax], 0x55);                 // page 0: fault, maps [0, 16)
  c.mov(c.qword[c.rax + 5 * 4096], 0x66);      // inside the fault-around window
  c.mov(c.qword[c.rax + 20 * 4096], 0x77);     // second window
  c.mov(c.rbx, c.qword[c.rax + 40 * 4096]);    // backed by the sentry's copy-out
  c.syscall();
  LoadCode(c);
  int faults = 0;
  ASSERT_EQ(RunUntilSyscall(&faults), 0);
  EXPECT_LE(faults, 3);  // code page was mapped by the copy-out above; two data windows
  EXPECT_EQ(regs_.rbx, v);
  auto p0 = usermem::CopyIn(*mm_, usermem::UserPtr<uint64_t>(kDataAddr));
  auto p5 = usermem::CopyIn(*mm_, usermem::UserPtr<uint64_t>(kDataAddr + 5 * 4096));
  auto p20 = usermem::CopyIn(*mm_, usermem::UserPtr<uint64_t>(kDataAddr + 20 * 4096));
  ASSERT_TRUE(p0.ok() && p5.ok() && p20.ok());
  EXPECT_EQ(*p0, 0x55u);
  EXPECT_EQ(*p5, 0x66u);
  EXPECT_EQ(*p20, 0x77u);
}

TEST_F(MMPtraceTest, WriteToReadOnlyIsAccErr) {
  Map(kDataAddr, 4096, a::kProtRead);
  Asm c;
  c.mov(c.rax, kDataAddr);
  c.mov(c.rbx, c.qword[c.rax]);
  c.mov(c.qword[c.rax], 1);
  c.syscall();
  LoadCode(c);
  EXPECT_EQ(RunUntilSyscall(), a::kSegvAccErr);
}

TEST_F(MMPtraceTest, MprotectAndMunmapTakeEffect) {
  Map(kDataAddr, 2 * 4096, a::kProtRead | a::kProtWrite);
  Asm c;
  c.mov(c.r12, kDataAddr);  // rax holds the syscall result after a syscall stop
  c.mov(c.qword[c.r12], 1);
  c.syscall();
  c.mov(c.qword[c.r12], 2);  // after mprotect(PROT_READ)
  c.syscall();
  LoadCode(c);
  ASSERT_EQ(RunUntilSyscall(), 0);
  ASSERT_TRUE(mm_->MProtect(UserAddr(kDataAddr), 4096, a::kProtRead).ok());
  EXPECT_EQ(RunUntilSyscall(), a::kSegvAccErr);
  auto v = usermem::CopyIn(*mm_, usermem::UserPtr<uint64_t>(kDataAddr));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 1u);

  Asm d;
  d.mov(d.r12, kDataAddr + 4096);
  d.mov(d.rbx, d.qword[d.r12]);
  d.syscall();
  d.mov(d.rbx, d.qword[d.r12]);  // after munmap
  d.syscall();
  LoadCode(d);
  ASSERT_EQ(RunUntilSyscall(), 0);
  ASSERT_TRUE(mm_->MUnmap(UserAddr(kDataAddr), 2 * 4096).ok());
  EXPECT_EQ(RunUntilSyscall(), a::kSegvMapErr);
}

// Copy-on-write fork with real stubs: the parent's pre-fork write is seen by the child, and
// after the fork each side's writes stay its own.
TEST_F(MMPtraceTest, ForkIsCopyOnWrite) {
  Map(kDataAddr, 16 * 4096, a::kProtRead | a::kProtWrite);
  Asm c;
  c.mov(c.r12, kDataAddr);
  c.mov(c.rbx, c.qword[c.r12]);                // read page 0
  c.mov(c.qword[c.r12], c.r13);                // write page 0
  c.mov(c.rdx, c.qword[c.r12 + 9 * 4096]);     // read page 9 (never written by the guest)
  c.syscall();
  LoadCode(c);
  ASSERT_TRUE(usermem::CopyOut(*mm_, usermem::UserPtr<uint64_t>(kDataAddr + 9 * 4096),
                               uint64_t{0x99}).ok());
  const arch::Registers start = regs_;
  regs_.r13 = 0xa0;
  ASSERT_EQ(RunUntilSyscall(), 0);  // the parent's page 0 is now host-mapped writable

  auto child_as = platform_->NewAddressSpace();
  ASSERT_TRUE(child_as.ok());
  auto child = mm_->Fork(std::move(*child_as));
  ASSERT_TRUE(child.ok());
  arch::Registers cregs = start;
  cregs.r13 = 0xc1;
  ASSERT_EQ(RunUntilSyscall(**child, cregs), 0);
  EXPECT_EQ(cregs.rbx, 0xa0u);  // the parent's pre-fork write
  EXPECT_EQ(cregs.rdx, 0x99u);

  regs_ = start;
  regs_.r13 = 0xa2;
  int faults = 0;
  ASSERT_EQ(RunUntilSyscall(*mm_, regs_, &faults), 0);
  EXPECT_EQ(regs_.rbx, 0xa0u);  // not the child's 0xc1
  EXPECT_GE(faults, 1);         // Fork unmapped the parent's writable page

  cregs = start;
  cregs.r13 = 0xc3;
  ASSERT_EQ(RunUntilSyscall(**child, cregs), 0);
  EXPECT_EQ(cregs.rbx, 0xc1u);  // not the parent's 0xa2
  auto pv = usermem::CopyIn(*mm_, usermem::UserPtr<uint64_t>(kDataAddr));
  auto cv = usermem::CopyIn(**child, usermem::UserPtr<uint64_t>(kDataAddr));
  ASSERT_TRUE(pv.ok() && cv.ok());
  EXPECT_EQ(*pv, 0xa2u);
  EXPECT_EQ(*cv, 0xc3u);
}

// Not an assertion: the cost of Fork for 64 MiB of touched, host-mapped private memory on the
// real platform, and of the parent's next switch (which applies queued address-space ops).
TEST_F(MMPtraceTest, Fork64MiBCost) {
  constexpr uint64_t kLen = 64ull << 20;
  Map(kDataAddr, kLen, a::kProtRead | a::kProtWrite);
  ASSERT_TRUE(mm_->ZeroOut(UserAddr(kDataAddr), kLen).ok());  // backs and maps it all
  Asm c;
  c.syscall();
  LoadCode(c);
  const arch::Registers start = regs_;
  ASSERT_EQ(RunUntilSyscall(), 0);  // applies the queued mappings
  const uint64_t allocated = mf_->bytes_allocated();
  auto child_as = platform_->NewAddressSpace();
  ASSERT_TRUE(child_as.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto child = mm_->Fork(std::move(*child_as));
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(child.ok());
  regs_ = start;
  ASSERT_EQ(RunUntilSyscall(), 0);
  const auto t2 = std::chrono::steady_clock::now();
  std::printf("ptrace: Fork of a 64 MiB touched anonymous mapping: %.1f us; the parent's next "
              "switch: %.1f us\n",
              std::chrono::duration<double, std::micro>(t1 - t0).count(),
              std::chrono::duration<double, std::micro>(t2 - t1).count());
  EXPECT_EQ(mf_->bytes_allocated(), allocated);
  child->reset();
  EXPECT_EQ(mf_->bytes_allocated(), allocated);
}

}  // namespace
}  // namespace sbx::mm
