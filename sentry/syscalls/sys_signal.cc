// Signal syscalls (kernel/signal.c): dispositions, the blocked mask, the alternate stack,
// sending (kill/tkill/tgkill/rt_sigqueueinfo), waiting (rt_sigsuspend, pause,
// rt_sigtimedwait), rt_sigpending and rt_sigreturn. Queues and delivery are in
// sentry/kernel/task_signals.cc.
//
// Targets are looked up in the sandbox's PID namespace (Kernel::FindTask/FindThreadGroup);
// permission follows kill_ok_by_cred (root, or a real/effective uid matching the target's
// real/saved uid; SIGCONT within a session). A thread blocked in rt_sigsuspend/pause/
// rt_sigtimedwait is woken by Task::Kick when a signal arrives.
#include <time.h>

#include <climits>
#include <optional>
#include <span>

#include "sentry/abi/misc.h"
#include "sentry/syscalls/clocks.h"
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
bool OnSigStack(const Task& t, uint64_t sp) { return t.OnAltStack(sp); }

bool ValidSignal(int64_t sig) { return sig >= 0 && sig <= kernel::kNumSignals; }

// The siginfo of kill/tkill from the caller (SI_USER / SI_TKILL, sender pid and real uid).
arch::Siginfo UserInfo(const Task& t, int sig, int32_t code) {
  arch::Siginfo info;
  info.si_signo = sig;
  info.si_code = code;
  info.set_pid(t.tgid());
  info.set_uid(t.creds().ruid);
  return info;
}



// group_send_sig_info(): permission, then (unless sig is 0) the group signal.
Result<void> SendToProcess(Task& t, kernel::ThreadGroup& target, const arch::Siginfo& info) {
  if (!MaySignal(t, target, info.si_signo)) return Errno::kEPERM;
  if (info.si_signo == 0) return {};
  return target.SendGroupSignal(info);
}

// do_send_specific(): a thread of process `tgid` (any if tgid <= 0).
SyscallResult SendToThread(Task& t, int64_t tgid, int64_t tid, const arch::Siginfo& info) {
  auto target = t.kernel().FindTask(static_cast<int32_t>(tid));
  if (!target || (tgid > 0 && target->tgid() != tgid)) return Errno::kESRCH;
  if (!MaySignal(t, target->thread_group(), info.si_signo)) return Errno::kEPERM;
  if (info.si_signo == 0) return 0;
  TRY(target->SendSignal(info, false));
  return 0;
}

// Sleeps until a signal is deliverable (or the sandbox exits). Always "interrupted".
void WaitForSignal(Task& t) {
  (void)SleepUntil(t, kernel::FutexManager::Deadline{CLOCK_MONOTONIC, INT64_MAX});
}

}  // namespace

// kill_ok_by_cred() + the SIGCONT same-session exception (check_kill_permission).
bool MaySignal(const Task& t, kernel::ThreadGroup& target, int sig) {
  if (&target == &t.thread_group()) return true;
  const auto& c = t.creds();
  if (c.euid == 0) return true;  // CAP_KILL
  auto leader = t.kernel().FindTask(target.tgid());
  if (!leader) return true;  // a zombie: nothing left to protect
  const auto& tc = leader->creds();
  if (c.euid == tc.suid || c.euid == tc.ruid || c.ruid == tc.suid || c.ruid == tc.ruid) {
    return true;
  }
  return sig == abi::kSigCont && target.sid() == t.thread_group().sid();
}

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

namespace sbx::syscalls {

SyscallResult SysKill(Task& t, const SyscallArgs& a) {
  const int64_t pid = a.Int(0), sig = a.Int(1);
  if (!ValidSignal(sig)) return Errno::kEINVAL;
  const arch::Siginfo info = UserInfo(t, static_cast<int>(sig), arch::kSiUser);
  // kill_something_info(): pid > 0 one process, 0 own group, -1 everyone but the caller
  // and init, < -1 process group -pid.
  if (pid == INT_MIN) return Errno::kESRCH;
  if (pid > 0) {
    auto tg = t.kernel().FindThreadGroup(static_cast<int32_t>(pid));
    if (!tg) {
      // A thread ID names its process too (kill_proc_info: find_vpid of any task).
      auto task = t.kernel().FindTask(static_cast<int32_t>(pid));
      if (!task) return Errno::kESRCH;
      tg = task->thread_group_ptr();
    }
    TRY(SendToProcess(t, *tg, info));
    return 0;
  }
  std::vector<std::shared_ptr<kernel::ThreadGroup>> targets;
  if (pid == -1) {
    for (auto& tg : t.kernel().AllThreadGroups()) {
      if (tg->tgid() > 1 && tg.get() != &t.thread_group()) targets.push_back(tg);
    }
  } else {
    int32_t pgid = pid == 0 ? t.thread_group().pgid() : static_cast<int32_t>(-pid);
    targets = t.kernel().ThreadGroupsInPgrp(pgid);
  }
  // __kill_pgrp_info(): success if any delivery succeeded, else the last error.
  bool any = false;
  Errno last = Errno::kESRCH;
  for (auto& tg : targets) {
    auto r = SendToProcess(t, *tg, info);
    if (r.ok()) any = true; else last = r.error();
  }
  if (any) return 0;
  return last;
}

SyscallResult SysTkill(Task& t, const SyscallArgs& a) {
  const int64_t tid = a.Int(0), sig = a.Int(1);
  if (tid <= 0) return Errno::kEINVAL;
  if (!ValidSignal(sig)) return Errno::kEINVAL;
  return SendToThread(t, 0, tid, UserInfo(t, static_cast<int>(sig), arch::kSiTkill));
}

SyscallResult SysTgkill(Task& t, const SyscallArgs& a) {
  const int64_t tgid = a.Int(0), tid = a.Int(1), sig = a.Int(2);
  if (tid <= 0 || tgid <= 0) return Errno::kEINVAL;
  if (!ValidSignal(sig)) return Errno::kEINVAL;
  return SendToThread(t, tgid, tid, UserInfo(t, static_cast<int>(sig), arch::kSiTkill));
}

SyscallResult SysRtSigqueueinfo(Task& t, const SyscallArgs& a) {
  const int64_t pid = a.Int(0), sig = a.Int(1);
  arch::Siginfo info = TRY(usermem::CopyIn(t.mem(), UserPtr<arch::Siginfo>(a.Addr(2))));
  info.si_signo = static_cast<int32_t>(sig);
  // Userspace may not impersonate the kernel or kill() when signalling another process.
  if ((info.si_code >= 0 || info.si_code == arch::kSiTkill) && pid != t.tgid()) {
    return Errno::kEPERM;
  }
  if (!ValidSignal(sig)) return Errno::kEINVAL;
  auto tg = pid > 0 ? t.kernel().FindThreadGroup(static_cast<int32_t>(pid)) : nullptr;
  if (!tg) return Errno::kESRCH;
  TRY(SendToProcess(t, *tg, info));
  return 0;
}

SyscallResult SysRtTgsigqueueinfo(Task& t, const SyscallArgs& a) {
  const int64_t tgid = a.Int(0), tid = a.Int(1), sig = a.Int(2);
  if (tid <= 0 || tgid <= 0) return Errno::kEINVAL;
  arch::Siginfo info = TRY(usermem::CopyIn(t.mem(), UserPtr<arch::Siginfo>(a.Addr(3))));
  info.si_signo = static_cast<int32_t>(sig);
  if ((info.si_code >= 0 || info.si_code == arch::kSiTkill) && tid != t.tid()) {
    return Errno::kEPERM;
  }
  if (!ValidSignal(sig)) return Errno::kEINVAL;
  return SendToThread(t, tgid, tid, info);
}

SyscallResult SysRtSigpending(Task& t, const SyscallArgs& a) {
  const uint64_t size = a.ULong(1);
  if (size > abi::kSigsetSize) return Errno::kEINVAL;
  uint64_t pending = t.PendingSignals() & t.signal_mask();
  auto bytes = std::as_bytes(std::span(&pending, 1)).first(size);
  TRY(usermem::CopyOutFull(t.mem(), a.Addr(0), bytes));
  return 0;
}

SyscallResult SysRtSigsuspend(Task& t, const SyscallArgs& a) {
  if (a.ULong(1) != abi::kSigsetSize) return Errno::kEINVAL;
  uint64_t mask = TRY(usermem::CopyIn(t.mem(), UserPtr<uint64_t>(a.Addr(0))));
  t.SetSavedSignalMask(t.signal_mask());
  t.set_signal_mask(mask);
  WaitForSignal(t);
  return Errno::kERESTARTNOHAND;
}

SyscallResult SysPause(Task& t, const SyscallArgs& a) {
  WaitForSignal(t);
  return Errno::kERESTARTNOHAND;
}

SyscallResult SysRtSigtimedwait(Task& t, const SyscallArgs& a) {
  if (a.ULong(3) != abi::kSigsetSize) return Errno::kEINVAL;
  uint64_t set = TRY(usermem::CopyIn(t.mem(), UserPtr<uint64_t>(a.Addr(0))));
  set &= ~kUnblockable;
  std::optional<kernel::FutexManager::Deadline> deadline;
  if (!a.Addr(2).IsNull()) {
    abi::Timespec ts = TRY(usermem::CopyIn(t.mem(), UserPtr<abi::Timespec>(a.Addr(2))));
    if (!abi::TimespecValid(ts)) return Errno::kEINVAL;
    int64_t now = kernel::HostClockNs(CLOCK_MONOTONIC);
    int64_t rel = ts.tv_sec > (INT64_MAX - now) / abi::kNsecPerSec
                      ? INT64_MAX - now
                      : ts.tv_sec * abi::kNsecPerSec + ts.tv_nsec;
    deadline = kernel::FutexManager::Deadline{CLOCK_MONOTONIC,
                                              rel > INT64_MAX - now ? INT64_MAX : now + rel};
  }
  arch::Siginfo info;
  bool got = t.DequeueSignal(set, &info);
  if (!got) {
    if (deadline && deadline->ns <= kernel::HostClockNs(CLOCK_MONOTONIC)) return Errno::kEAGAIN;
    // The waited-for signals are unblocked while sleeping so that they wake us.
    const uint64_t saved = t.signal_mask();
    t.set_real_blocked(saved);
    t.set_signal_mask(saved & ~set);
    bool timed_out = SleepUntil(
        t, deadline.value_or(kernel::FutexManager::Deadline{CLOCK_MONOTONIC, INT64_MAX}));
    t.set_signal_mask(saved);
    t.set_real_blocked(0);
    got = t.DequeueSignal(set, &info);
    if (!got) return timed_out ? Errno::kEAGAIN : Errno::kEINTR;
  }
  if (!a.Addr(1).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<arch::Siginfo>(a.Addr(1)), info));
  }
  return static_cast<uint64_t>(info.si_signo);
}

SyscallResult SysRtSigreturn(Task& t, const SyscallArgs& a) { return t.SigReturn(); }

// restart_syscall(2): resumes the call interrupted with ERESTART_RESTARTBLOCK through the
// block it stored; without one (a guest calling it directly) Linux returns EINTR.
SyscallResult SysRestartSyscall(Task& t, const SyscallArgs& a) {
  auto fn = t.TakeRestartBlock();
  if (!fn) return Errno::kEINTR;
  return fn(t);
}

}  // namespace sbx::syscalls
