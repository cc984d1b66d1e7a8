// Signal-state syscalls: rt_sigaction, rt_sigprocmask, sigaltstack (kernel/signal.c).
//
// These record dispositions, the blocked mask and the alternate stack exactly as Linux
// validates them; delivering signals (frames, handlers, restarts) comes with the processes
// issue, so nothing here makes a signal arrive.
#include "sentry/abi/misc.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls {
namespace {

using usermem::UserPtr;

constexpr uint64_t SigBit(int sig) { return 1ull << (sig - 1); }
constexpr uint64_t kUnblockable = SigBit(abi::kSigKill) | SigBit(abi::kSigStop);

// UAPI_SA_FLAGS on x86-64: do_sigaction() clears every other bit so userspace can probe
// for flag support.
constexpr uint64_t kUapiSaFlags = 0x00000001 /*SA_NOCLDSTOP*/ | 0x00000002 /*SA_NOCLDWAIT*/ |
                                  0x00000004 /*SA_SIGINFO*/ | 0x00000800 /*SA_EXPOSE_TAGBITS*/ |
                                  0x04000000 /*SA_RESTORER*/ | 0x08000000 /*SA_ONSTACK*/ |
                                  0x10000000 /*SA_RESTART*/ | 0x40000000 /*SA_NODEFER*/ |
                                  0x80000000 /*SA_RESETHAND*/;

// on_sig_stack(): sp lies inside the task's alternate stack (never with SS_AUTODISARM).
bool OnSigStack(const Task& t, uint64_t sp) {
  if (t.altstack_flags & static_cast<int32_t>(abi::kSsAutodisarm)) return false;
  return sp > t.altstack_sp && sp - t.altstack_sp <= t.altstack_size;
}

}  // namespace

SyscallResult SysRtSigaction(Task& t, const SyscallArgs& a) {
  if (a.ULong(3) != abi::kSigsetSize) return Errno::kEINVAL;
  const int64_t sig = a.Int(0);
  const bool set = !a.Addr(1).IsNull();
  kernel::SigAction act{};
  if (set) act = TRY(usermem::CopyIn(t.mem(), UserPtr<kernel::SigAction>(a.Addr(1))));
  if (sig < 1 || sig > kernel::kNumSignals) return Errno::kEINVAL;
  if (set && (sig == abi::kSigKill || sig == abi::kSigStop)) return Errno::kEINVAL;
  kernel::ThreadGroup& tg = t.thread_group();
  kernel::SigAction old = tg.GetSigAction(static_cast<int>(sig));
  if (set) {
    act.flags &= kUapiSaFlags;
    act.mask &= ~kUnblockable;
    tg.SetSigAction(static_cast<int>(sig), act);
  }
  if (!a.Addr(2).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<kernel::SigAction>(a.Addr(2)), old));
  }
  return 0;
}

SyscallResult SysRtSigprocmask(Task& t, const SyscallArgs& a) {
  if (a.ULong(3) != abi::kSigsetSize) return Errno::kEINVAL;
  const uint64_t old = t.signal_mask();
  if (!a.Addr(1).IsNull()) {
    uint64_t set = TRY(usermem::CopyIn(t.mem(), UserPtr<uint64_t>(a.Addr(1))));
    set &= ~kUnblockable;
    switch (a.Int(0)) {
      case abi::kSigBlock: t.set_signal_mask(old | set); break;
      case abi::kSigUnblock: t.set_signal_mask(old & ~set); break;
      case abi::kSigSetmask: t.set_signal_mask(set); break;
      default: return Errno::kEINVAL;
    }
  }
  if (!a.Addr(2).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<uint64_t>(a.Addr(2)), old));
  }
  return 0;
}

SyscallResult SysSigaltstack(Task& t, const SyscallArgs& a) {
  const uint64_t sp = t.regs().rsp;
  abi::StackT old{};
  old.ss_sp = t.altstack_sp;
  old.ss_size = t.altstack_size;
  old.ss_flags = (t.altstack_size == 0 ? abi::kSsDisable
                                       : (OnSigStack(t, sp) ? abi::kSsOnstack : 0)) |
                 (t.altstack_flags & static_cast<int32_t>(abi::kSsAutodisarm));
  if (!a.Addr(0).IsNull()) {
    abi::StackT ss = TRY(usermem::CopyIn(t.mem(), UserPtr<abi::StackT>(a.Addr(0))));
    if (OnSigStack(t, sp)) return Errno::kEPERM;
    int32_t mode = ss.ss_flags & ~static_cast<int32_t>(abi::kSsAutodisarm);
    if (mode != abi::kSsDisable && mode != abi::kSsOnstack && mode != 0) return Errno::kEINVAL;
    if (mode == abi::kSsDisable) {
      ss.ss_sp = 0;
      ss.ss_size = 0;
    } else if (ss.ss_size < abi::kMinSigStkSz) {
      return Errno::kENOMEM;
    }
    t.altstack_sp = ss.ss_sp;
    t.altstack_size = ss.ss_size;
    t.altstack_flags = ss.ss_flags;
  }
  if (!a.Addr(1).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<abi::StackT>(a.Addr(1)), old));
  }
  return 0;
}

}  // namespace sbx::syscalls
