// Task: one guest thread and its run loop (Linux kernel/entry + arch/x86 signal entry, reduced).
//
// The loop switches into the guest through the platform Context and handles why it came back:
// a syscall (dispatched through the table installed in the Kernel), a memory fault (demand
// paging by the MemoryManager, or a fatal SIGSEGV/SIGBUS), another synchronous exception
// (SIGILL/SIGFPE/SIGTRAP), or an interrupt. Before every switch back into the guest, pending
// signals are delivered (task_signals.cc): default actions, handler frames, syscall restart.
#include <signal.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/itimer.h"
#include "fs/blocking.h"
#include "fs/waiter.h"

namespace sbx::kernel {

std::shared_ptr<SignalHandlers> SignalHandlers::Copy() const {
  auto c = std::make_shared<SignalHandlers>();
  absl::MutexLock l(&mu);
  absl::MutexLock l2(&c->mu);
  std::copy(std::begin(actions), std::end(actions), std::begin(c->actions));
  return c;
}

ThreadGroup::ThreadGroup(Kernel& k, int32_t tgid, std::shared_ptr<SignalHandlers> sighand)
    : kernel_(k), tgid_(tgid), itimers_(std::make_unique<ITimers>(*this)),
      sighand_(sighand ? std::move(sighand) : std::make_shared<SignalHandlers>()) {
  pgid_ = sid_ = tgid;
}

ThreadGroup::~ThreadGroup() {
  // Before any member goes: a timer expiry in flight may still be sending SIGALRM.
  itimers_->Shutdown();
}

int32_t ThreadGroup::ppid() const {
  absl::MutexLock l(&kernel_.mu_);
  return parent_ ? parent_->tgid_ : 0;
}

int32_t ThreadGroup::pgid() const {
  absl::MutexLock l(&kernel_.mu_);
  return pgid_;
}

int32_t ThreadGroup::sid() const {
  absl::MutexLock l(&kernel_.mu_);
  return sid_;
}

std::shared_ptr<SignalHandlers> ThreadGroup::sighand() const {
  absl::MutexLock l(&mu_);
  return sighand_;
}

SigAction ThreadGroup::GetSigAction(int sig) const {
  if (sig < 1 || sig > kNumSignals) return {};
  auto sh = sighand();
  absl::MutexLock l(&sh->mu);
  return sh->actions[sig - 1];
}

void ThreadGroup::SetSigAction(int sig, const SigAction& a) {
  if (sig < 1 || sig > kNumSignals) return;
  auto sh = sighand();
  absl::MutexLock l(&sh->mu);
  sh->actions[sig - 1] = a;
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
  {
    absl::MutexLock l(&mu_);
    if (exiting_) return;
    exiting_ = true;
    exit_status_word_ = status_word;
  }
  KickAll();
}

bool ThreadGroup::exiting() const {
  absl::MutexLock l(&mu_);
  return exiting_;
}

int ThreadGroup::exit_status_word() const {
  absl::MutexLock l(&mu_);
  return exit_status_word_;
}

void ThreadGroup::KickAll() {
  std::vector<std::shared_ptr<Task>> tasks;
  {
    absl::MutexLock l(&kernel_.mu_);
    for (Task* t : tasks_) {
      auto it = kernel_.tasks_.find(t->tid());
      if (it != kernel_.tasks_.end()) tasks.push_back(it->second);
    }
  }
  for (auto& t : tasks) t->Kick();
}

Task::Task(Kernel& k, std::shared_ptr<ThreadGroup> tg, int32_t tid,
           std::shared_ptr<mm::MemoryManager> mm, std::shared_ptr<fs::FDTable> fds,
           std::shared_ptr<fs::FSContext> fsctx, Credentials creds)
    : kernel_(k), tg_(std::move(tg)), tid_(tid), mm_(std::move(mm)), fds_(std::move(fds)),
      fsctx_(std::move(fsctx)), creds_(std::move(creds)) {}

Task::~Task() = default;

Result<FutexManager::Key> Task::FutexKeyFor(uint64_t addr, bool priv) {
  if (addr % sizeof(uint32_t) != 0) return Errno::kEINVAL;
  const FutexManager::Key private_key{reinterpret_cast<uint64_t>(mm_.get()), addr};
  if (priv) return private_key;
  mm::FutexKeyInfo k = TRY(mm_->FutexKey(usermem::UserAddr(addr)));
  // Shared objects: keyed by memory-file offset in a space no MemoryManager address can take.
  if (k.shared_object) return FutexManager::Key{kSharedFutexSpace, k.mf_off};
  return private_key;
}

void Task::RequestExit(int status) {
  exit_status_ = status & 0xff;
  exit_requested_ = true;
}

void Task::RequestGroupExit(int status_word) {
  tg_->BeginGroupExit(status_word);
  exit_requested_ = true;
}

bool Task::Interrupted() const {
  return exit_requested_ || tg_->exiting() || tg_->stop_pending.load() ||
         (PendingSignals() & ~signal_mask()) != 0;
}

void Task::Kick() {
  {
    absl::MutexLock l(&ctx_mu_);
    if (ctx_ != nullptr) ctx_->Interrupt();
  }
  kernel_.futexes().Kick(this);
  fs::KickWaiter(this);
  // Sleepers in wait(2), vfork and group stops re-check their conditions.
  kernel_.tree_cv_.SignalAll();
}

void Task::DieOfSignal(int sig, bool core) {
  kernel_.DebugLog(absl::StrFormat("task %d: killed by signal %d%s at rip=%#x", tid(), sig,
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
    kernel_.DebugLog(absl::StrFormat("task %d: out of memory at %#x", tid(), r.fault_addr));
    DieOfSignal(SIGKILL, false);
    return;
  }
  int sig = r.signo == SIGBUS || res.error() == Errno::kEIO ? SIGBUS : SIGSEGV;
  kernel_.DebugLog(absl::StrFormat("task %d: fault at %#x (si_code %d) rip=%#x -> signal %d",
                                   tid(), r.fault_addr, si_code, regs_.rip, sig));
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
  {
    absl::MutexLock l(&ctx_mu_);
    ctx_ = &ctx;
  }
  while (!exit_requested_ && !tg_->exiting()) {
    if (tg_->stop_pending.load()) ParkWhileStopped();
    DeliverSignals();
    if (exit_requested_ || tg_->exiting()) break;
    if (tg_->stop_pending.load()) continue;
    const int64_t t0 = HostClockNs(CLOCK_MONOTONIC);
    auto r = ctx.Switch(mm_->address_space(), regs_);
    const int64_t t1 = HostClockNs(CLOCK_MONOTONIC);
    (void)fs::TakeBlockedNs();
    if (!r.ok()) {
      kernel_.DebugLog(absl::StrCat("task ", tid(), ": platform failure: ",
                                    std::string(ErrnoName(r.error()))));
      DieOfSignal(SIGKILL, false);
      break;
    }
    ++n_switches_;
    switch_ns_ += t1 - t0;
    switch (r->reason) {
      case platform::SwitchReason::kSyscall:
        ++n_syscalls_;
        HandleSyscall();
        break;
      case platform::SwitchReason::kFault:
        ++n_faults_;
        HandleFault(*r);
        break;
      case platform::SwitchReason::kSignal:
        HandleSignal(*r);
        break;
      case platform::SwitchReason::kInterrupted:
        break;
    }
    // CPU accounting (ITIMER_VIRTUAL/PROF, times, rusage): user time is the wall time spent
    // in the Switch (the guest runs in the stub, whose CPU time the sentry cannot read);
    // system time is the wall time handling the exit minus the time spent asleep in
    // blocking waits (fs::ScopedBlocked), so a syscall that sleeps costs only what it
    // computed, as on Linux.
    const int64_t sys = std::max<int64_t>(0, HostClockNs(CLOCK_MONOTONIC) - t1 - fs::TakeBlockedNs());
    tg_->itimers().ChargeCpu(t1 - t0, sys);
    cpu_ns_.fetch_add(t1 - t0 + sys, std::memory_order_relaxed);
  }
  absl::MutexLock l(&ctx_mu_);
  ctx_ = nullptr;
}

}  // namespace sbx::kernel
