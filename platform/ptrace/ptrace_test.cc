// Tests of the ptrace platform against real stub processes: system-call stops, faults,
// signals, interrupts, memory mapping in both directions, isolation, release, the stub's
// address space and its seccomp filter, several guest threads per address space (concurrent
// Contexts, thread churn, Unmap/Sync while other threads run, release, FP state of new
// threads). RoundTripCost prints the cost of a guest syscall.
#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <xbyak/xbyak.h>

#include "platform/platform.h"
#include "platform/ptrace/ptrace_platform.h"

namespace sbx::platform {
namespace {

constexpr uint64_t kMemSize = 64 << 20;
constexpr uint64_t kCodeAddr = 0x400000;
constexpr uint64_t kDataAddr = 0x10000000;

class Asm : public Xbyak::CodeGenerator {
 public:
  Asm() : Xbyak::CodeGenerator(4096, Xbyak::DontSetProtectRWE) {}
};

class PtraceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    memfd_ = static_cast<int>(syscall(SYS_memfd_create, "ptrace_test", 0));
    ASSERT_GE(memfd_, 0);
    ASSERT_EQ(ftruncate(memfd_, kMemSize), 0);
    void* p = mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
    ASSERT_NE(p, MAP_FAILED);
    mem_ = static_cast<uint8_t*>(p);
    std::string error;
    platform_ = NewPtracePlatform(MemoryFileInfo{memfd_, kMemSize}, &error).release();
    ASSERT_NE(platform_, nullptr) << error;
  }

  void SetUp() override {
    ASSERT_NE(platform_, nullptr);
    auto as = platform_->NewAddressSpace();
    ASSERT_TRUE(as.ok()) << ErrnoName(as.error());
    as_ = std::move(*as);
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok());
    ctx_ = std::move(*ctx);
  }

  // Copies `code` into a fresh memory-file page, maps it R-X at `addr` and points regs at it.
  uint64_t LoadCode(AddressSpace& as, const Asm& code, uint64_t addr = kCodeAddr) {
    uint64_t off = AllocPage();
    memcpy(mem_ + off, code.getCode(), code.getSize());
    EXPECT_TRUE(as.MapFile(UserAddr(addr), 4096, off, Prot{true, false, true}).ok());
    regs_ = arch::Registers{};
    regs_.rip = addr;
    regs_.rsp = 0;
    return off;
  }

  static uint64_t AllocPage() {
    uint64_t off = next_page_;
    next_page_ += 4096;
    memset(mem_ + off, 0, 4096);
    return off;
  }

  SwitchResult Run(AddressSpace& as) {
    auto r = ctx_->Switch(as, regs_);
    EXPECT_TRUE(r.ok()) << ErrnoName(r.error());
    return r.ok() ? *r : SwitchResult{};
  }
  SwitchResult Run() { return Run(*as_); }

  static int memfd_;
  static uint8_t* mem_;
  static Platform* platform_;
  static uint64_t next_page_;
  std::unique_ptr<AddressSpace> as_;
  std::unique_ptr<Context> ctx_;
  arch::Registers regs_{};
};

int PtraceTest::memfd_ = -1;
uint8_t* PtraceTest::mem_ = nullptr;
Platform* PtraceTest::platform_ = nullptr;
uint64_t PtraceTest::next_page_ = 0;

TEST_F(PtraceTest, MaxUserAddressExcludesStub) {
  EXPECT_LE(platform_->max_user_address(), 0x7ffffffe0000u);
  EXPECT_GE(platform_->max_user_address(), 0x100000000000u);
  uint64_t off = AllocPage();
  EXPECT_EQ(as_->MapFile(UserAddr(platform_->max_user_address()), 4096, off,
                         Prot{true, true, false}).error(), Errno::kEINVAL);
  EXPECT_EQ(as_->MapFile(UserAddr(platform_->max_user_address() - 4096), 8192, off,
                         Prot{true, true, false}).error(), Errno::kEINVAL);
  EXPECT_EQ(as_->MapFile(UserAddr(0x1000), 4096, kMemSize, Prot{true}).error(), Errno::kEINVAL);
  EXPECT_EQ(as_->MapFile(UserAddr(0x1001), 4096, 0, Prot{true}).error(), Errno::kEINVAL);
  EXPECT_EQ(as_->Unmap(UserAddr(~0ull - 4095), 8192).error(), Errno::kEINVAL);
}

TEST_F(PtraceTest, SyscallStopAndResume) {
  Asm a;
  a.mov(a.eax, 39);
  a.mov(a.edi, 1);
  a.mov(a.esi, 2);
  a.mov(a.edx, 3);
  a.mov(a.r10d, 4);
  a.mov(a.r8d, 5);
  a.mov(a.r9d, 6);
  a.syscall();
  const size_t after_first = a.getSize();
  a.mov(a.rdi, a.rax);
  a.mov(a.eax, 60);
  a.syscall();
  LoadCode(*as_, a);
  SwitchResult r = Run();
  ASSERT_EQ(r.reason, SwitchReason::kSyscall);
  EXPECT_EQ(regs_.orig_rax, 39u);
  EXPECT_EQ(regs_.rdi, 1u);
  EXPECT_EQ(regs_.rsi, 2u);
  EXPECT_EQ(regs_.rdx, 3u);
  EXPECT_EQ(regs_.r10, 4u);
  EXPECT_EQ(regs_.r8, 5u);
  EXPECT_EQ(regs_.r9, 6u);
  EXPECT_EQ(regs_.rip, kCodeAddr + after_first);
  regs_.rax = 1234;
  r = Run();
  ASSERT_EQ(r.reason, SwitchReason::kSyscall);
  EXPECT_EQ(regs_.orig_rax, 60u);
  EXPECT_EQ(regs_.rdi, 1234u);
}

TEST_F(PtraceTest, FaultThenMapThenSharedMemoryBothWays) {
  Asm a;
  a.mov(a.rax, kDataAddr + 16);
  const size_t store = a.getSize();
  a.mov(a.qword[a.rax], 0x55);
  a.mov(a.rbx, a.qword[a.rax + 8]);
  a.syscall();
  LoadCode(*as_, a);
  SwitchResult r = Run();
  ASSERT_EQ(r.reason, SwitchReason::kFault);
  EXPECT_EQ(r.signo, SIGSEGV);
  EXPECT_EQ(r.si_code, SEGV_MAPERR);
  EXPECT_EQ(r.fault_addr, kDataAddr + 16);
  EXPECT_EQ(regs_.rip, kCodeAddr + store);

  uint64_t off = AllocPage();
  uint64_t v = 0xabcdef0123456789;
  memcpy(mem_ + off + 24, &v, 8);  // sentry -> guest
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 4096, off, Prot{true, true, false}).ok());
  r = Run();
  ASSERT_EQ(r.reason, SwitchReason::kSyscall);
  EXPECT_EQ(regs_.rbx, v);
  uint64_t got;
  memcpy(&got, mem_ + off + 16, 8);  // guest -> sentry
  EXPECT_EQ(got, 0x55u);
}

TEST_F(PtraceTest, WriteToReadOnlyIsAccessFault) {
  Asm a;
  a.mov(a.rax, kDataAddr + 8);
  a.mov(a.rbx, a.qword[a.rax]);
  a.mov(a.qword[a.rax], 1);
  a.syscall();
  LoadCode(*as_, a);
  uint64_t off = AllocPage();
  mem_[off + 8] = 7;
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 4096, off, Prot{true, false, false}).ok());
  SwitchResult r = Run();
  ASSERT_EQ(r.reason, SwitchReason::kFault);
  EXPECT_EQ(r.signo, SIGSEGV);
  EXPECT_EQ(r.si_code, SEGV_ACCERR);
  EXPECT_EQ(r.fault_addr, kDataAddr + 8);
  EXPECT_EQ(regs_.rbx, 7u);  // the read worked
}

TEST_F(PtraceTest, Int3AndUd2AreSignals) {
  Asm a;
  a.int3();
  const size_t after_int3 = a.getSize();
  a.ud2();
  LoadCode(*as_, a);
  SwitchResult r = Run();
  ASSERT_EQ(r.reason, SwitchReason::kSignal);
  EXPECT_EQ(r.signo, SIGTRAP);
  EXPECT_EQ(regs_.rip, kCodeAddr + after_int3);
  r = Run();
  ASSERT_EQ(r.reason, SwitchReason::kSignal);
  EXPECT_EQ(r.signo, SIGILL);
  EXPECT_EQ(r.si_code, ILL_ILLOPN);
  EXPECT_EQ(r.fault_addr, kCodeAddr + after_int3);
  EXPECT_EQ(regs_.rip, kCodeAddr + after_int3);
}

TEST_F(PtraceTest, InterruptInfiniteLoop) {
  Asm a;
  Xbyak::Label loop;
  a.L(loop);
  a.jmp(loop);
  a.syscall();
  LoadCode(*as_, a);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ctx_->Interrupt();
  });
  SwitchResult r = Run();
  t.join();
  EXPECT_EQ(r.reason, SwitchReason::kInterrupted);
  EXPECT_EQ(regs_.rip, kCodeAddr);

  // Interrupt before Switch: the next Switch returns at once, and exactly once.
  ctx_->Interrupt();
  ctx_->Interrupt();
  r = Run();
  EXPECT_EQ(r.reason, SwitchReason::kInterrupted);
  regs_.rip = kCodeAddr + 2;  // the syscall after the loop
  r = Run();
  EXPECT_EQ(r.reason, SwitchReason::kSyscall);

  // Many racing interrupts: each Switch either runs to the syscall or is interrupted; no hang.
  for (int i = 0; i < 50; ++i) {
    regs_.rip = kCodeAddr;
    std::thread t2([&] { ctx_->Interrupt(); });
    r = Run();
    t2.join();
    EXPECT_EQ(r.reason, SwitchReason::kInterrupted);
  }
}

TEST_F(PtraceTest, UnmapThenTouchFaults) {
  Asm a;
  a.mov(a.rax, kDataAddr);
  a.mov(a.rbx, a.qword[a.rax]);
  a.syscall();
  LoadCode(*as_, a);
  uint64_t off = AllocPage();
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 4096, off, Prot{true, false, false}).ok());
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  ASSERT_TRUE(as_->Unmap(UserAddr(kDataAddr), 4096).ok());
  regs_.rip = kCodeAddr;
  SwitchResult r = Run();
  ASSERT_EQ(r.reason, SwitchReason::kFault);
  EXPECT_EQ(r.si_code, SEGV_MAPERR);
  EXPECT_EQ(r.fault_addr, kDataAddr);
}

TEST_F(PtraceTest, MergedOpsBeforeFirstSwitch) {
  // Several adjacent pages queued before the first Switch (as the ELF loader does); the guest
  // sums one word from each.
  Asm a;
  a.mov(a.rax, kDataAddr);
  a.xor_(a.ebx, a.ebx);
  for (int i = 0; i < 4; ++i) a.add(a.rbx, a.qword[a.rax + i * 4096]);
  a.syscall();
  LoadCode(*as_, a);
  uint64_t first = AllocPage();
  for (int i = 1; i < 4; ++i) AllocPage();
  for (int i = 0; i < 4; ++i) {
    mem_[first + i * 4096] = static_cast<uint8_t>(i + 1);
    ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr + i * 4096), 4096, first + i * 4096,
                             Prot{true, false, false}).ok());
  }
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  EXPECT_EQ(regs_.rbx, 1u + 2 + 3 + 4);
}

TEST_F(PtraceTest, AddressSpacesAreIsolated) {
  auto as2r = platform_->NewAddressSpace();
  ASSERT_TRUE(as2r.ok());
  std::unique_ptr<AddressSpace> as2 = std::move(*as2r);
  Asm a;
  a.mov(a.rax, kDataAddr);
  a.mov(a.rbx, a.qword[a.rax]);
  a.syscall();
  uint64_t code_off = LoadCode(*as_, a);
  ASSERT_TRUE(as2->MapFile(UserAddr(kCodeAddr), 4096, code_off, Prot{true, false, true}).ok());
  uint64_t off1 = AllocPage();
  mem_[off1] = 11;
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 4096, off1, Prot{true, false, false}).ok());

  ASSERT_EQ(Run(*as_).reason, SwitchReason::kSyscall);
  EXPECT_EQ(regs_.rbx, 11u);
  regs_.rip = kCodeAddr;
  SwitchResult r = Run(*as2);  // same context, other address space: nothing at kDataAddr
  ASSERT_EQ(r.reason, SwitchReason::kFault);
  EXPECT_EQ(r.fault_addr, kDataAddr);

  uint64_t off2 = AllocPage();
  mem_[off2] = 22;
  ASSERT_TRUE(as2->MapFile(UserAddr(kDataAddr), 4096, off2, Prot{true, false, false}).ok());
  ASSERT_EQ(Run(*as2).reason, SwitchReason::kSyscall);
  EXPECT_EQ(regs_.rbx, 22u);
  regs_.rip = kCodeAddr;
  ASSERT_EQ(Run(*as_).reason, SwitchReason::kSyscall);
  EXPECT_EQ(regs_.rbx, 11u);
  EXPECT_NE(ptrace::StubPid(*as_), ptrace::StubPid(*as2));
}

std::vector<std::string> MapsOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/maps");
  std::vector<std::string> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(l);
  return lines;
}

// Every mapping must be the stub region, a guest mapping below max_user_address, or vsyscall.
void ExpectCleanMaps(pid_t pid, uint64_t max_user) {
  auto lines = MapsOf(pid);
  ASSERT_FALSE(lines.empty());
  bool saw_stub = false;
  for (const auto& l : lines) {
    uint64_t lo = std::stoull(l.substr(0, l.find('-')), nullptr, 16);
    if (l.find("[vsyscall]") != std::string::npos) continue;
    if (lo >= max_user && lo < max_user + 0x10000) {
      saw_stub = true;
      continue;
    }
    EXPECT_LT(lo, max_user) << l;
    EXPECT_NE(l.find("memfd:ptrace_test"), std::string::npos) << "foreign mapping: " << l;
  }
  EXPECT_TRUE(saw_stub);
}

TEST_F(PtraceTest, StubAddressSpaceIsClean) {
  Asm a;
  a.syscall();
  LoadCode(*as_, a);
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  ExpectCleanMaps(ptrace::StubPid(*as_), platform_->max_user_address());
  ExpectCleanMaps(ptrace::TemplatePid(*platform_), platform_->max_user_address());
  // The only file descriptor is the memory file.
  std::string fd_dir = "/proc/" + std::to_string(ptrace::StubPid(*as_)) + "/fd/";
  EXPECT_EQ(access((fd_dir + "3").c_str(), F_OK), 0);
  for (int fd : {0, 1, 2, 4, 5}) EXPECT_NE(access((fd_dir + std::to_string(fd)).c_str(), F_OK), 0);
}

TEST_F(PtraceTest, ReleaseKillsStub) {
  Asm a;
  a.syscall();
  LoadCode(*as_, a);
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  pid_t pid = ptrace::StubPid(*as_);
  ASSERT_EQ(kill(pid, 0), 0);
  as_->Release();
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  auto r = ctx_->Switch(*as_, regs_);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(as_->MapFile(UserAddr(kDataAddr), 4096, 0, Prot{true}).ok());
}

TEST_F(PtraceTest, DeadStubIsAnError) {
  Asm a;
  Xbyak::Label loop;
  a.L(loop);
  a.jmp(loop);
  LoadCode(*as_, a);
  pid_t pid = ptrace::StubPid(*as_);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    kill(pid, SIGKILL);
  });
  auto r = ctx_->Switch(*as_, regs_);
  t.join();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error() == Errno::kESRCH || r.error() == Errno::kEFAULT);
}

TEST_F(PtraceTest, ContextHandOffAndSeccompFilter) {
  Asm a;
  a.mov(a.eax, 39);
  a.syscall();
  LoadCode(*as_, a);
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  // A second context takes over once the first is gone.
  ctx_.reset();
  auto c2 = platform_->NewContext();
  ASSERT_TRUE(c2.ok());
  ctx_ = std::move(*c2);
  regs_.rip = kCodeAddr;
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  ctx_.reset();  // parks and detaches the stub

  // Run the guest's syscall untraced: the stub's seccomp filter must kill it with SIGSYS.
  pid_t pid = ptrace::StubPid(*as_);
  ASSERT_EQ(::ptrace(PTRACE_SEIZE, pid, 0, 0), 0);
  ASSERT_EQ(::ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
  int status;
  ASSERT_EQ(waitpid(pid, &status, __WALL), pid);
  arch::Registers regs;
  ASSERT_EQ(::ptrace(PTRACE_GETREGS, pid, 0, &regs), 0);
  regs.rip = kCodeAddr;
  regs.orig_rax = ~0ull;
  ASSERT_EQ(::ptrace(PTRACE_SETREGS, pid, 0, &regs), 0);
  ASSERT_EQ(::ptrace(PTRACE_DETACH, pid, 0, 0), 0);
  ASSERT_EQ(waitpid(pid, &status, __WALL), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST_F(PtraceTest, FPStateRoundTrip) {
  Asm a;
  a.movq(a.rdi, a.xmm0);
  a.syscall();
  const size_t second = a.getSize();
  a.movq(a.rdi, a.xmm1);
  a.syscall();
  LoadCode(*as_, a);
  regs_.rip = kCodeAddr + second;  // skip to `movq rax, xmm1; syscall`: first Switch attaches
  // Fresh stub threads start from the initial FPU state.
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  EXPECT_EQ(regs_.rdi, 0u);
  arch::FPState fp;
  ASSERT_TRUE(ctx_->GetFPState(&fp).ok());
  EXPECT_GE(fp.size, 512u);
  uint32_t mxcsr;
  memcpy(&mxcsr, fp.data + 24, 4);
  EXPECT_EQ(mxcsr, 0x1f80u);
  uint64_t v = 0x1122334455667788;
  memcpy(fp.data + 160, &v, 8);  // xmm0 low quadword in the FXSAVE layout
  if (fp.size > 512) fp.data[512] |= 2;  // XSTATE_BV: the SSE component is not in init state
  ASSERT_TRUE(ctx_->SetFPState(fp).ok());
  regs_.rip = kCodeAddr;
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  EXPECT_EQ(regs_.rdi, v);
}

// Number of threads of the stub process `pid`.
int TaskCount(pid_t pid) {
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

uint64_t Load64(const uint8_t* p) {
  return __atomic_load_n(reinterpret_cast<const uint64_t*>(p), __ATOMIC_RELAXED);
}

// Waits (up to 5 s) until the guest word at `p` changes from its current value: proof that a
// guest thread is running.
bool WaitForProgress(const uint8_t* p) {
  const uint64_t v0 = Load64(p);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Load64(p) == v0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// A guest thread: a host thread with its own Context that Switches once into `as` from `regs`.
// The Context is destroyed on that thread when the GuestThread is.
class GuestThread {
 public:
  GuestThread(Platform* p, AddressSpace& as, const arch::Registers& regs)
      : regs_(regs), finished_f_(finished_.get_future()) {
    std::promise<void> ready;
    std::future<void> ready_f = ready.get_future();
    thread_ = std::thread([this, p, &as, &ready] {
      ctx_ = p->NewContext().value();
      ready.set_value();
      result_.emplace(ctx_->Switch(as, regs_));
      finished_.set_value();
      exit_.get_future().wait();
      ctx_.reset();
    });
    ready_f.wait();
  }
  ~GuestThread() {
    if (thread_.joinable()) {
      if (finished_f_.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        ctx_->Interrupt();  // do not hang the test run
      }
      exit_.set_value();
      thread_.join();
    }
  }
  // The Switch result, waiting up to 5 s; on timeout the Switch is interrupted and nullopt
  // is returned.
  std::optional<Result<SwitchResult>> Wait() {
    if (finished_f_.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      ctx_->Interrupt();
      finished_f_.wait();
      return std::nullopt;
    }
    return result_;
  }
  Context& ctx() { return *ctx_; }
  const arch::Registers& regs() const { return regs_; }  // valid after Wait()

 private:
  arch::Registers regs_;
  std::unique_ptr<Context> ctx_;
  std::optional<Result<SwitchResult>> result_;
  std::promise<void> finished_, exit_;
  std::future<void> finished_f_;
  std::thread thread_;
};

// `loop: inc qword [rbx]; jmp loop`: a guest thread that keeps writing its counter at rbx.
void EmitCounterLoop(Asm& a) {
  Xbyak::Label loop;
  a.L(loop);
  a.inc(a.qword[a.rbx]);
  a.jmp(loop);
}

TEST_F(PtraceTest, ManyThreadsRunConcurrently) {
  // Each guest thread: r12++, store r12 to its own page, getppid(), repeat.
  Asm a;
  Xbyak::Label loop;
  a.L(loop);
  a.inc(a.r12);
  a.mov(a.qword[a.rbx], a.r12);
  a.mov(a.eax, 39);
  a.syscall();
  a.jmp(loop);
  LoadCode(*as_, a);
  constexpr int kThreads = 8, kIters = 300;
  uint64_t offs[kThreads];
  for (int i = 0; i < kThreads; ++i) {
    offs[i] = AllocPage();
    ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr + i * 4096), 4096, offs[i],
                             Prot{true, true, false}).ok());
  }
  const pid_t pid = ptrace::StubPid(*as_);
  std::barrier all_attached(kThreads + 1);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto ctx = platform_->NewContext().value();
      arch::Registers regs{};
      regs.rip = kCodeAddr;
      regs.rbx = kDataAddr + i * 4096;
      for (uint64_t n = 1; n <= kIters; ++n) {
        auto r = ctx->Switch(*as_, regs);
        if (!r.ok() || r->reason != SwitchReason::kSyscall || regs.orig_rax != 39 ||
            regs.r12 != n || Load64(mem_ + offs[i]) != n) {
          ADD_FAILURE() << "thread " << i << " iteration " << n << ": "
                        << (r.ok() ? "reason " + std::to_string(static_cast<int>(r->reason)) +
                                         " signo " + std::to_string(r->signo) + " r12 " +
                                         std::to_string(regs.r12)
                                   : std::string(ErrnoName(r.error())));
          ++failures;
          if (n == 1) all_attached.arrive_and_drop();
          break;
        }
        regs.rax = 1;
        if (n == 1) all_attached.arrive_and_wait();
      }
    });
  }
  all_attached.arrive_and_wait();
  // Every Context has its own stub thread (plus at least one parked spare).
  EXPECT_GE(TaskCount(pid), kThreads + 1);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(Load64(mem_ + offs[i]), uint64_t{kIters});
}

TEST_F(PtraceTest, ThreadChurnIsBounded) {
  Asm a;
  a.mov(a.eax, 39);
  a.syscall();
  LoadCode(*as_, a);
  const pid_t pid = ptrace::StubPid(*as_);
  constexpr int kRounds = 500, kPerRound = 4;  // 2000 short-lived guest threads
  std::atomic<int> failures{0};
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> threads;
    for (int i = 0; i < kPerRound; ++i) {
      threads.emplace_back([&] {
        auto ctx = platform_->NewContext().value();
        arch::Registers regs{};
        regs.rip = kCodeAddr;
        auto r = ctx->Switch(*as_, regs);
        if (!r.ok() || r->reason != SwitchReason::kSyscall) ++failures;
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  // Idle: the parked leader and at most kMaxSpareThreads parked spares; the rest exited.
  EXPECT_LE(TaskCount(pid), 2);
  EXPECT_GE(TaskCount(pid), 1);
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);  // still usable
}

// One guest thread spins writing a page; `change` (run on the test's thread) removes access;
// the guest must fault with `si_code` and never write once `change` returned.
void ExpectChangeStopsSpinner(Platform* p, AddressSpace& as, uint8_t* counter,
                              std::function<void()> change, int si_code) {
  arch::Registers regs{};
  regs.rip = kCodeAddr;
  regs.rbx = kDataAddr;
  GuestThread spinner(p, as, regs);
  ASSERT_TRUE(WaitForProgress(counter));
  change();
  const uint64_t after = Load64(counter);
  auto r = spinner.Wait();
  ASSERT_TRUE(r.has_value()) << "the spinning thread did not fault";
  ASSERT_TRUE(r->ok()) << ErrnoName(r->error());
  EXPECT_EQ((*r)->reason, SwitchReason::kFault);
  EXPECT_EQ((*r)->signo, SIGSEGV);
  EXPECT_EQ((*r)->si_code, si_code);
  EXPECT_EQ((*r)->fault_addr, kDataAddr);
  EXPECT_EQ(Load64(counter), after) << "the guest wrote after the change returned";
}

TEST_F(PtraceTest, UnmapWhileAnotherThreadRuns) {
  // The test thread traces no thread of this address space: Unmap kicks the spinner's Context.
  Asm a;
  EmitCounterLoop(a);
  LoadCode(*as_, a);
  uint64_t off = AllocPage();
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 4096, off, Prot{true, true, false}).ok());
  ExpectChangeStopsSpinner(platform_, *as_, mem_ + off, [&] {
    ASSERT_TRUE(as_->Unmap(UserAddr(kDataAddr), 4096).ok());
  }, SEGV_MAPERR);
}

TEST_F(PtraceTest, UnmapByGuestThreadWhileAnotherRuns) {
  // The test thread's Context is a guest thread of the same address space, stopped at a
  // syscall: Unmap applies the change through its own stub thread.
  Asm a;
  EmitCounterLoop(a);
  const size_t sys = a.getSize();
  a.syscall();
  LoadCode(*as_, a);
  regs_.rip = kCodeAddr + sys;
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  uint64_t off = AllocPage();
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 4096, off, Prot{true, true, false}).ok());
  ExpectChangeStopsSpinner(platform_, *as_, mem_ + off, [&] {
    ASSERT_TRUE(as_->Unmap(UserAddr(kDataAddr), 4096).ok());
  }, SEGV_MAPERR);
}

TEST_F(PtraceTest, ProtectionDowngradeWithSync) {
  Asm a;
  EmitCounterLoop(a);
  LoadCode(*as_, a);
  uint64_t off = AllocPage();
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 4096, off, Prot{true, true, false}).ok());
  ExpectChangeStopsSpinner(platform_, *as_, mem_ + off, [&] {
    ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 4096, off, Prot{true, false, false}).ok());
    ASSERT_TRUE(as_->Sync().ok());
  }, SEGV_ACCERR);
}

TEST_F(PtraceTest, InterruptOneOfSeveralThreads) {
  Asm a;
  EmitCounterLoop(a);
  LoadCode(*as_, a);
  uint64_t off1 = AllocPage(), off2 = AllocPage();
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr), 4096, off1, Prot{true, true, false}).ok());
  ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr + 4096), 4096, off2, Prot{true, true, false}).ok());
  arch::Registers regs{};
  regs.rip = kCodeAddr;
  regs.rbx = kDataAddr;
  GuestThread t1(platform_, *as_, regs);
  regs.rbx = kDataAddr + 4096;
  GuestThread t2(platform_, *as_, regs);
  ASSERT_TRUE(WaitForProgress(mem_ + off1));
  ASSERT_TRUE(WaitForProgress(mem_ + off2));
  t1.ctx().Interrupt();
  auto r1 = t1.Wait();
  ASSERT_TRUE(r1.has_value() && r1->ok());
  EXPECT_EQ((*r1)->reason, SwitchReason::kInterrupted);
  EXPECT_EQ(t1.regs().rbx, kDataAddr);
  EXPECT_TRUE(WaitForProgress(mem_ + off2));  // the other thread runs on
  t2.ctx().Interrupt();
  auto r2 = t2.Wait();
  ASSERT_TRUE(r2.has_value() && r2->ok());
  EXPECT_EQ((*r2)->reason, SwitchReason::kInterrupted);
}

TEST_F(PtraceTest, ReleaseWithSeveralThreads) {
  Asm a;
  EmitCounterLoop(a);
  const size_t sys = a.getSize();
  a.syscall();
  LoadCode(*as_, a);
  regs_.rip = kCodeAddr + sys;
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);  // this thread's Context: stopped, not running
  constexpr int kSpinners = 4;
  std::vector<std::unique_ptr<GuestThread>> spinners;
  std::vector<uint64_t> offs;
  for (int i = 0; i < kSpinners; ++i) {
    offs.push_back(AllocPage());
    ASSERT_TRUE(as_->MapFile(UserAddr(kDataAddr + i * 4096), 4096, offs[i],
                             Prot{true, true, false}).ok());
  }
  for (int i = 0; i < kSpinners; ++i) {
    arch::Registers regs{};
    regs.rip = kCodeAddr;
    regs.rbx = kDataAddr + i * 4096;
    spinners.push_back(std::make_unique<GuestThread>(platform_, *as_, regs));
  }
  for (int i = 0; i < kSpinners; ++i) ASSERT_TRUE(WaitForProgress(mem_ + offs[i]));
  const pid_t pid = ptrace::StubPid(*as_);
  as_->Release();
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  for (auto& s : spinners) {
    auto r = s->Wait();
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error(), Errno::kESRCH);
  }
  auto r = ctx_->Switch(*as_, regs_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kESRCH);
  spinners.clear();  // Contexts of a released address space go away quietly
}

TEST_F(PtraceTest, NewThreadStartsWithInitFPState) {
  Asm a;
  a.movq(a.rdi, a.xmm0);
  a.syscall();
  LoadCode(*as_, a);
  const uint64_t v = 0x1122334455667788;
  auto run_on_new_thread = [&](bool set_fp) {
    uint64_t rdi = ~0ull;
    std::thread t([&] {
      auto ctx = platform_->NewContext().value();
      if (set_fp) {
        arch::FPState fp;
        ASSERT_TRUE(ctx->GetFPState(&fp).ok());
        memcpy(fp.data + 160, &v, 8);  // xmm0 low quadword
        if (fp.size > 512) fp.data[512] |= 2;
        ASSERT_TRUE(ctx->SetFPState(fp).ok());  // before the first Switch: the clone's copy
      }
      arch::Registers regs{};
      regs.rip = kCodeAddr;
      auto r = ctx->Switch(*as_, regs);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->reason, SwitchReason::kSyscall);
      rdi = regs.rdi;
    });
    t.join();
    return rdi;
  };
  // The first thread dirties xmm0 and parks its stub thread for reuse; every later thread
  // starts from the init state whichever stub thread it gets, unless it set one.
  EXPECT_EQ(run_on_new_thread(true), v);
  EXPECT_EQ(run_on_new_thread(false), 0u);
  EXPECT_EQ(run_on_new_thread(true), v);
  EXPECT_EQ(run_on_new_thread(false), 0u);
}

TEST_F(PtraceTest, RoundTripCost) {
  Asm a;
  Xbyak::Label loop;
  a.L(loop);
  a.syscall();
  a.jmp(loop);
  LoadCode(*as_, a);
  ASSERT_EQ(Run().reason, SwitchReason::kSyscall);
  constexpr int kIters = 10000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kIters; ++i) {
    regs_.rax = 0;
    auto r = ctx_->Switch(*as_, regs_);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->reason, SwitchReason::kSyscall);
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::steady_clock::now() - t0).count();
  printf("ptrace platform: guest syscall round trip %.2f us (average of %d)\n",
         ns / 1000.0 / kIters, kIters);
}

}  // namespace
}  // namespace sbx::platform
