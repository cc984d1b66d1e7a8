// Task: one guest thread and its run loop (Linux kernel/entry + arch/x86 signal entry, reduced).
//
// The loop switches into the guest through the platform Context and handles why it came back:
// a syscall (dispatched through the table installed in the Kernel), a memory fault (demand
// paging by the MemoryManager, or a fatal SIGSEGV/SIGBUS), another synchronous exception
// (SIGILL/SIGFPE/SIGTRAP), or an interrupt. Before every switch back into the guest, pending
// signals are delivered (task_signals.cc): default actions, handler frames, syscall restart.
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/kernel/kernel.h"

namespace sbx::kernel {

int32_t ThreadGroup::ppid() const { return ppid_; }

SigAction ThreadGroup::GetSigAction(int sig) const {
  absl::MutexLock l(&mu_);
  if (sig < 1 || sig > kNumSignals) return {};
  return actions_[sig - 1];
}

void ThreadGroup::SetSigAction(int sig, const SigAction& a) {
  absl::MutexLock l(&mu_);
  if (sig < 1 || sig > kNumSignals) return;
  actions_[sig - 1] = a;
}

RLimit ThreadGroup::GetRLimit(int resource) const {
  absl::MutexLock l(&mu_);
  if (resource < 0 || resource >= kNumRLimits) return {0, 0};
  return rlimits_[resource];
}

void ThreadGroup::SetRLimit(int resource, RLimit r) {
  absl::MutexLock l(&mu_);
  if (resource < 0 || resource >= kNumRLimits) return;
  rlimits_[resource] = r;
}

void ThreadGroup::BeginGroupExit(int status_word) {
  absl::MutexLock l(&mu_);
  if (exiting_) return;
  exiting_ = true;
  exit_status_word_ = status_word;
}

bool ThreadGroup::exiting() const {
  absl::MutexLock l(&mu_);
  return exiting_;
}

int ThreadGroup::exit_status_word() const {
  absl::MutexLock l(&mu_);
  return exit_status_word_;
}

Task::Task(Kernel& k, std::shared_ptr<ThreadGroup> tg, int32_t tid,
           std::shared_ptr<mm::MemoryManager> mm, std::shared_ptr<fs::FDTable> fds,
           std::shared_ptr<fs::FSContext> fsctx, Credentials creds)
    : kernel_(k), tg_(std::move(tg)), tid_(tid), mm_(std::move(mm)), fds_(std::move(fds)),
      fsctx_(std::move(fsctx)), creds_(std::move(creds)) {}

Task::~Task() = default;

void Task::RequestExit(int status) {
  exit_status_ = status & 0xff;
  exit_requested_ = true;
  // The last thread of the group leaving makes the group's status (single-threaded for now).
  tg_->BeginGroupExit((status & 0xff) << 8);
}

void Task::RequestGroupExit(int status_word) {
  tg_->BeginGroupExit(status_word);
  exit_requested_ = true;
}

bool Task::Interrupted() const {
  return exit_requested_ || tg_->exiting() || (PendingSignals() & ~signal_mask_) != 0;
}

void Task::DieOfSignal(int sig, bool core) {
  kernel_.DebugLog(absl::StrFormat("task %d: killed by signal %d%s at rip=%#x", tid_, sig,
                                   core ? " (core dumped)" : "", regs_.rip));
  // wait(2) status of a signal death: the signal number, 0x80 if a core was "dumped".
  // RLIMIT_CORE is 0 by default, so like Linux the core bit stays clear then.
  bool dumped = core && tg_->GetRLimit(4 /*RLIMIT_CORE*/).cur != 0;
  RequestGroupExit(sig | (dumped ? 0x80 : 0));
}

void Task::HandleSyscall() {
  SyscallArgs a;
  a.nr = regs_.orig_rax;
  for (int i = 0; i < 6; ++i) a.a[i] = arch::SyscallArg(regs_, i);
  SyscallResult res = kernel_.options().dispatch(*this, a);
  if (res.ok()) {
    regs_.rax = *res;
    return;
  }
  switch (res.error()) {
    case Errno::kEJUSTRETURN:
      return;
    case Errno::kERESTARTSYS:
    case Errno::kERESTARTNOINTR:
    case Errno::kERESTARTNOHAND:
    case Errno::kERESTART_RESTARTBLOCK:
      // Resolved by DeliverSignals() (restart or EINTR, depending on the handler); EINTR is
      // the provisional value.
      restart_errno_ = static_cast<int>(res.error());
      regs_.rax = static_cast<uint64_t>(-static_cast<int64_t>(Errno::kEINTR));
      return;
    default:
      regs_.rax = static_cast<uint64_t>(-static_cast<int64_t>(res.error()));
  }
}

void Task::HandleFault(const platform::SwitchResult& r) {
  int si_code = 0;
  auto res = mm_->HandleFault(usermem::UserAddr(r.fault_addr), r.si_code, &si_code);
  if (res.ok()) return;
  if (res.error() == Errno::kENOMEM) {
    // The memory file is exhausted: Linux's OOM killer would pick a victim; we kill the faulter.
    kernel_.DebugLog(absl::StrFormat("task %d: out of memory at %#x", tid_, r.fault_addr));
    DieOfSignal(SIGKILL, false);
    return;
  }
  int sig = r.signo == SIGBUS || res.error() == Errno::kEIO ? SIGBUS : SIGSEGV;
  kernel_.DebugLog(absl::StrFormat("task %d: fault at %#x (si_code %d) rip=%#x -> signal %d",
                                   tid_, r.fault_addr, si_code, regs_.rip, sig));
  arch::Siginfo info;
  info.si_signo = sig;
  info.si_code = si_code;
  info.set_addr(r.fault_addr);
  // Page fault (trap 14); error code: user mode, plus "present" for protection faults. The
  // platform does not report read vs write, so the write bit is never set.
  ForceSignal(info, 14, 4 | (si_code == arch::kSegvAccerr ? 1 : 0));
}

void Task::HandleSignal(const platform::SwitchResult& r) {
  // Synchronous exceptions (SIGILL, SIGFPE, SIGTRAP from int3, ...): forced like Linux's
  // do_trap(), so a handler may catch them and a blocked/ignored one kills.
  arch::Siginfo info;
  info.si_signo = r.signo;
  info.si_code = r.si_code;
  info.set_addr(r.fault_addr);
  uint64_t trapno = r.signo == SIGFPE ? 0 : r.signo == SIGTRAP ? 3 : r.signo == SIGILL ? 6 : 13;
  ForceSignal(info, trapno, 0);
}

void Task::Run(platform::Context& ctx) {
  ctx_ = &ctx;
  while (!exit_requested_ && !tg_->exiting()) {
    DeliverSignals();
    if (exit_requested_ || tg_->exiting()) break;
    auto r = ctx.Switch(mm_->address_space(), regs_);
    if (!r.ok()) {
      kernel_.DebugLog(absl::StrCat("task ", tid_, ": platform failure: ",
                                    std::string(ErrnoName(r.error()))));
      DieOfSignal(SIGKILL, false);
      break;
    }
    switch (r->reason) {
      case platform::SwitchReason::kSyscall:
        HandleSyscall();
        break;
      case platform::SwitchReason::kFault:
        HandleFault(*r);
        break;
      case platform::SwitchReason::kSignal:
        HandleSignal(*r);
        break;
      case platform::SwitchReason::kInterrupted:
        break;
    }
  }
  ctx_ = nullptr;
}

}  // namespace sbx::kernel
