// Signal delivery compatibility tests (single process, single thread): handlers and siginfo,
// the alternate stack, synchronous SIGSEGV, SIGPIPE, SA_RESETHAND, blocking and pending sets,
// SIG_IGN, FP state preserved across a handler, kill/tgkill/sigqueue to self,
// rt_sigtimedwait and rt_sigsuspend. Must pass natively and in the sandbox.
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <vector>

#include "gtest/gtest.h"

namespace {

volatile sig_atomic_t g_count = 0;
volatile int g_signo = 0;
volatile int g_code = 0;
volatile pid_t g_pid = 0;
volatile uintptr_t g_addr = 0;
volatile uintptr_t g_local = 0;
volatile int g_value = 0;
volatile bool g_aligned = false;
volatile bool g_mask_has_sig = false;
volatile bool g_fp_magic_ok = false;
volatile int g_altstack_flags = -1;
volatile int g_altstack_set_errno = 0;
sigjmp_buf g_jmp;

void ResetGlobals() {
  g_count = 0;
  g_signo = 0;
  g_code = 0;
  g_pid = 0;
  g_addr = 0;
  g_local = 0;
  g_value = 0;
  g_aligned = false;
  g_mask_has_sig = false;
  g_fp_magic_ok = false;
}

void SimpleHandler(int sig) {
  g_count = g_count + 1;
  g_signo = sig;
}

__attribute__((noinline)) void InfoHandler(int sig, siginfo_t* info, void* uc_void) {
  volatile char here;
  g_local = reinterpret_cast<uintptr_t>(&here);
  g_aligned = (reinterpret_cast<uintptr_t>(__builtin_frame_address(0)) % 16) == 0;
  g_count = g_count + 1;
  g_signo = info->si_signo;
  g_code = info->si_code;
  g_pid = info->si_pid;
  g_value = info->si_value.sival_int;
  auto* uc = static_cast<ucontext_t*>(uc_void);
  sigset_t cur;
  sigprocmask(SIG_BLOCK, nullptr, &cur);
  g_mask_has_sig = sigismember(&cur, sig) == 1;
  // The FP image: with UC_FP_XSTATE the software bytes carry FP_XSTATE_MAGIC1 and the image
  // is followed by FP_XSTATE_MAGIC2 (what libgcc/glibc unwinders rely on).
  const char* fp = reinterpret_cast<const char*>(uc->uc_mcontext.fpregs);
  if (fp != nullptr && (uc->uc_flags & 1)) {
    uint32_t magic1, xsize, magic2;
    memcpy(&magic1, fp + 464, 4);
    memcpy(&xsize, fp + 464 + 16, 4);
    memcpy(&magic2, fp + xsize, 4);
    g_fp_magic_ok = magic1 == 0x46505853u && magic2 == 0x46505845u;
  } else {
    g_fp_magic_ok = fp != nullptr;
  }
  stack_t ss;
  if (sigaltstack(nullptr, &ss) == 0) g_altstack_flags = ss.ss_flags;
  stack_t again = ss;
  again.ss_flags = 0;
  g_altstack_set_errno = sigaltstack(&again, nullptr) == 0 ? 0 : errno;
}

void SegvHandler(int sig, siginfo_t* info, void*) {
  g_signo = sig;
  g_code = info->si_code;
  g_addr = reinterpret_cast<uintptr_t>(info->si_addr);
  siglongjmp(g_jmp, 1);
}

void FpClobberHandler(int) {
  g_count = g_count + 1;
  volatile double a = 7.0, b = 3.0;
  volatile double c = a / b;
  (void)c;
  asm volatile("pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1" ::: "xmm0", "xmm1");
}

// Installs `fn` for `sig` and restores the previous action (and the mask) at scope exit.
class ScopedAction {
 public:
  ScopedAction(int sig, void (*fn)(int), int flags = 0) : sig_(sig) {
    struct sigaction sa = {};
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    Install(sa);
  }
  ScopedAction(int sig, void (*fn)(int, siginfo_t*, void*), int flags) : sig_(sig) {
    struct sigaction sa = {};
    sa.sa_sigaction = fn;
    sa.sa_flags = flags | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    Install(sa);
  }
  ~ScopedAction() {
    sigaction(sig_, &old_, nullptr);
    sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  }

 private:
  void Install(const struct sigaction& sa) {
    ResetGlobals();
    sigprocmask(SIG_BLOCK, nullptr, &old_mask_);
    EXPECT_EQ(sigaction(sig_, &sa, &old_), 0);
  }
  int sig_;
  struct sigaction old_ = {};
  sigset_t old_mask_;
};

TEST(SignalTest, RaiseRunsHandler) {
  ScopedAction a(SIGUSR1, SimpleHandler);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_signo, SIGUSR1);
}

TEST(SignalTest, SiginfoFieldsAndFrame) {
  ScopedAction a(SIGUSR2, InfoHandler, 0);
  ASSERT_EQ(raise(SIGUSR2), 0);
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_signo, SIGUSR2);
  EXPECT_EQ(g_code, SI_TKILL);
  EXPECT_EQ(g_pid, getpid());
  EXPECT_TRUE(g_aligned) << "handler entry must have rsp = 8 mod 16";
  EXPECT_TRUE(g_mask_has_sig) << "the delivered signal is blocked during its handler";
  EXPECT_TRUE(g_fp_magic_ok);
  EXPECT_EQ(g_altstack_flags, SS_DISABLE);

  ResetGlobals();
  ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_code, SI_USER);
  EXPECT_EQ(g_pid, getpid());
}

TEST(SignalTest, NodeferLeavesSignalUnblocked) {
  ScopedAction a(SIGUSR2, InfoHandler, SA_NODEFER);
  ASSERT_EQ(raise(SIGUSR2), 0);
  EXPECT_EQ(g_count, 1);
  EXPECT_FALSE(g_mask_has_sig);
}

TEST(SignalTest, HandlerRunsOnAltStack) {
  std::vector<char> stack(64 * 1024);
  stack_t ss = {}, old = {};
  ss.ss_sp = stack.data();
  ss.ss_size = stack.size();
  ASSERT_EQ(sigaltstack(&ss, &old), 0);
  ScopedAction a(SIGUSR1, InfoHandler, SA_ONSTACK);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(g_count, 1);
  uintptr_t lo = reinterpret_cast<uintptr_t>(stack.data());
  EXPECT_GT(g_local, lo);
  EXPECT_LT(g_local, lo + stack.size());
  EXPECT_EQ(g_altstack_flags, SS_ONSTACK);
  EXPECT_EQ(g_altstack_set_errno, EPERM);  // cannot change it while running on it
  EXPECT_TRUE(g_aligned);
  stack_t now = {};
  ASSERT_EQ(sigaltstack(nullptr, &now), 0);
  EXPECT_EQ(now.ss_flags, 0);
  EXPECT_EQ(now.ss_sp, stack.data());
  stack_t dis = {};
  dis.ss_flags = SS_DISABLE;
  ASSERT_EQ(sigaltstack(&dis, nullptr), 0);
}

TEST(SignalTest, AltStackTooSmallIsEnomem) {
  char small[1024];
  stack_t ss = {};
  ss.ss_sp = small;
  ss.ss_size = sizeof(small);
  EXPECT_EQ(sigaltstack(&ss, nullptr), -1);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(SignalTest, SegvHandlerSeesFaultAddress) {
  ScopedAction a(SIGSEGV, SegvHandler, 0);
  if (sigsetjmp(g_jmp, 1) == 0) {
    volatile uintptr_t bad = 0x18;
    *reinterpret_cast<volatile int*>(bad) = 1;
    FAIL() << "store to NULL+0x18 did not fault";
  }
  EXPECT_EQ(g_signo, SIGSEGV);
  EXPECT_EQ(g_code, SEGV_MAPERR);
  EXPECT_EQ(g_addr, 0x18u);
}

TEST(SignalTest, SigpipeOnWriteToClosedPipe) {
  ScopedAction a(SIGPIPE, SimpleHandler);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  char c = 'x';
  EXPECT_EQ(write(fds[1], &c, 1), -1);
  EXPECT_EQ(errno, EPIPE);
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(g_signo, SIGPIPE);
  close(fds[1]);
}

TEST(SignalTest, ResetHandRestoresDefault) {
  ScopedAction a(SIGUSR1, SimpleHandler, SA_RESETHAND);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(g_count, 1);
  struct sigaction cur = {};
  ASSERT_EQ(sigaction(SIGUSR1, nullptr, &cur), 0);
  EXPECT_EQ(cur.sa_handler, SIG_DFL);
}

TEST(SignalTest, BlockedSignalStaysPendingUntilUnblocked) {
  ScopedAction a(SIGUSR1, SimpleHandler);
  sigset_t set, pending;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, nullptr), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);  // standard signals coalesce
  EXPECT_EQ(g_count, 0);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGUSR1), 1);
  ASSERT_EQ(sigprocmask(SIG_UNBLOCK, &set, nullptr), 0);
  EXPECT_EQ(g_count, 1);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGUSR1), 0);
}

TEST(SignalTest, RealtimeSignalsQueueWithValues) {
  int sig = SIGRTMIN + 1;
  ScopedAction a(sig, InfoHandler, 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, nullptr), 0);
  union sigval v;
  v.sival_int = 41;
  ASSERT_EQ(sigqueue(getpid(), sig, v), 0);
  v.sival_int = 42;
  ASSERT_EQ(sigqueue(getpid(), sig, v), 0);
  EXPECT_EQ(g_count, 0);
  ASSERT_EQ(sigprocmask(SIG_UNBLOCK, &set, nullptr), 0);
  EXPECT_EQ(g_count, 2);
  EXPECT_EQ(g_code, SI_QUEUE);
  EXPECT_EQ(g_value, 42);  // the second one ran last
}

TEST(SignalTest, SigIgnDiscards) {
  ScopedAction a(SIGUSR1, SIG_IGN);
  ASSERT_EQ(raise(SIGUSR1), 0);
  sigset_t set, pending;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, nullptr), 0);
  ASSERT_EQ(sigpending(&pending), 0);
  EXPECT_EQ(sigismember(&pending, SIGUSR1), 0);
}

TEST(SignalTest, FpRegistersSurviveHandler) {
  ScopedAction a(SIGUSR1, FpClobberHandler);
  double in = 3.25, out = 0;
  long ret = SYS_tgkill;
  long pid = getpid(), tid = gettid();
  asm volatile(
      "movsd %[in], %%xmm0\n\t"
      "syscall\n\t"
      "movsd %%xmm0, %[out]\n\t"
      : [out] "=m"(out), "+a"(ret)
      : [in] "m"(in), "D"(pid), "S"(tid), "d"(static_cast<long>(SIGUSR1))
      : "rcx", "r11", "memory", "xmm0");
  EXPECT_EQ(ret, 0);
  EXPECT_EQ(g_count, 1);
  EXPECT_EQ(out, 3.25);
}

TEST(SignalTest, KillSignalZeroChecksExistence) {
  EXPECT_EQ(kill(getpid(), 0), 0);
  EXPECT_EQ(kill(getpid(), 65), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST(SignalTest, TgkillBogusTidIsEsrch) {
  EXPECT_EQ(syscall(SYS_tgkill, getpid(), 0x3ffffff0, SIGUSR1), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(syscall(SYS_tgkill, getpid(), 0, SIGUSR1), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST(SignalTest, SigtimedwaitReturnsPendingBlockedSignal) {
  ScopedAction a(SIGUSR1, SimpleHandler);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, nullptr), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  siginfo_t info = {};
  struct timespec zero = {0, 0};
  EXPECT_EQ(sigtimedwait(&set, &info, &zero), SIGUSR1);
  EXPECT_EQ(info.si_signo, SIGUSR1);
  EXPECT_EQ(info.si_code, SI_USER);  // glibc's sigtimedwait rewrites SI_TKILL to SI_USER
  EXPECT_EQ(info.si_pid, getpid());
  EXPECT_EQ(g_count, 0);  // consumed, not delivered
  EXPECT_EQ(sigtimedwait(&set, &info, &zero), -1);
  EXPECT_EQ(errno, EAGAIN);
  struct timespec short_wait = {0, 20 * 1000 * 1000};
  EXPECT_EQ(sigtimedwait(&set, &info, &short_wait), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST(SignalTest, SigsuspendRunsHandlerAndRestoresMask) {
  ScopedAction a(SIGUSR1, SimpleHandler);
  sigset_t set, empty, cur;
  sigemptyset(&set);
  sigemptyset(&empty);
  sigaddset(&set, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &set, nullptr), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(sigsuspend(&empty), -1);
  EXPECT_EQ(errno, EINTR);
  EXPECT_EQ(g_count, 1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, nullptr, &cur), 0);
  EXPECT_EQ(sigismember(&cur, SIGUSR1), 1);
}

}  // namespace
