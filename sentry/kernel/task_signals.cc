// Signal queues and delivery for a Task (Linux kernel/signal.c + arch/x86/kernel/signal*.c).
//
// Pending signals live in two queues: the thread's own (tkill/tgkill, synchronous faults) and
// the thread group's shared one (kill). Standard signals coalesce, real-time signals queue
// (bounded by RLIMIT_SIGPENDING per queue). DeliverSignals() runs before every switch into the
// guest: it dequeues unblocked signals (synchronous ones first), performs default actions,
// and for a handler builds the x86-64 rt_sigframe (siginfo, ucontext, XSAVE image tagged with
// the FP_XSTATE magics) on the guest stack or the alternate stack, fixing up an interrupted
// syscall's restart first. SigReturn() undoes a frame without trusting it: segment selectors
// are forced, only FIX_EFLAGS bits are taken and a bad FP image falls back to the init state.
//
// Invariants: pending_ bit sig-1 is set iff pending_.queue holds an entry for sig (same for
// the group queue); restart_errno_ is consumed by the first DeliverSignals() after a syscall.
// Only the task's own host thread touches regs_, signal_mask_ and the restart/frame fields.
#include <signal.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_format.h"
#include "sentry/kernel/kernel.h"
#include "sentry/usermem/usermem.h"

namespace sbx::kernel {
namespace {

using usermem::UserAddr;
using usermem::UserPtr;

constexpr uint64_t Bit(int sig) { return 1ull << (sig - 1); }

constexpr uint64_t kSaSiginfo = 0x4, kSaRestorer = 0x04000000, kSaOnstack = 0x08000000,
                   kSaRestart = 0x10000000, kSaNodefer = 0x40000000, kSaResethand = 0x80000000;
constexpr uint64_t kSigDfl = 0, kSigIgn = 1;
constexpr int32_t kSsDisable = 2;
constexpr uint64_t kSysRestartSyscall = 219;  // __NR_restart_syscall
constexpr uint32_t kSsAutodisarm = 1u << 31;

// SYNCHRONOUS_MASK: dequeued before anything else so a fault's signal is handled first.
constexpr uint64_t kSynchronousMask =
    Bit(SIGSEGV) | Bit(SIGBUS) | Bit(SIGILL) | Bit(SIGTRAP) | Bit(SIGFPE) | Bit(SIGSYS);

enum class DefaultAction { kTerm, kCore, kIgnore, kStop };

DefaultAction DefaultFor(int sig) {
  switch (sig) {
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE:
    case SIGSEGV: case SIGXCPU: case SIGXFSZ: case SIGSYS:
      return DefaultAction::kCore;
    case SIGCHLD: case SIGURG: case SIGWINCH: case SIGCONT:
      return DefaultAction::kIgnore;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
      return DefaultAction::kStop;
    default:
      return DefaultAction::kTerm;  // includes every real-time signal
  }
}

// sig_task_ignored(): SIG_IGN, or SIG_DFL whose default is to ignore. Stop signals are not
// ignored at send time (Linux queues them), only at delivery while job control is missing.
bool IgnoredAtSend(int sig, const SigAction& act) {
  if (sig == SIGKILL) return false;
  if (act.handler == kSigIgn) return true;
  return act.handler == kSigDfl && DefaultFor(sig) == DefaultAction::kIgnore;
}

Result<void> Enqueue(SignalQueue& q, const arch::Siginfo& info, uint64_t rt_limit) {
  const int sig = info.si_signo;
  if (sig < kSigRtMin) {
    if (q.mask & Bit(sig)) return {};  // legacy signals coalesce
  } else if (q.queue.size() >= rt_limit) {
    return Errno::kEAGAIN;
  }
  q.queue.push_back(info);
  q.mask |= Bit(sig);
  return {};
}

// Picks next_signal(): synchronous first, then the lowest number. 0 if none.
int NextSignal(uint64_t pending) {
  if (pending == 0) return 0;
  uint64_t sync = pending & kSynchronousMask;
  uint64_t m = sync ? sync : pending;
  return __builtin_ctzll(m) + 1;
}

bool Take(SignalQueue& q, int sig, arch::Siginfo* out) {
  if (!(q.mask & Bit(sig))) return false;
  bool found = false, more = false;
  for (auto it = q.queue.begin(); it != q.queue.end();) {
    if (it->si_signo != sig) { ++it; continue; }
    if (found) { more = true; break; }
    *out = *it;
    found = true;
    it = q.queue.erase(it);
  }
  if (!more) q.mask &= ~Bit(sig);
  if (!found) {  // cannot happen (invariant); synthesize like Linux's collect_signal
    *out = arch::Siginfo{};
    out->si_signo = sig;
    out->si_code = arch::kSiUser;
  }
  return true;
}

uint64_t Xcr0() {
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// The architectural init state (fninit + default MXCSR), in a `size`-byte image.
arch::FPState InitFP(uint32_t size) {
  arch::FPState s;
  std::memset(s.data, 0, sizeof(s.data));
  s.size = std::min<uint32_t>(size, sizeof(s.data));
  uint16_t fcw = 0x037f;
  uint32_t mxcsr = 0x1f80;
  std::memcpy(s.data, &fcw, 2);
  std::memcpy(s.data + arch::kMxcsrOffset, &mxcsr, 4);
  return s;
}

constexpr const char* kNames[32] = {
    "0",       "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",    "SIGTRAP", "SIGABRT", "SIGBUS",
    "SIGFPE",  "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",   "SIGPIPE", "SIGALRM", "SIGTERM",
    "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",   "SIGTTIN", "SIGTTOU", "SIGURG",
    "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS"};

std::string Name(int sig) {
  if (sig > 0 && sig < 32) return kNames[sig];
  return absl::StrFormat("SIGRT_%d", sig - kSigRtMin);
}

// strace(1)-style "--- SIGUSR1 {...} ---" line for a dequeued signal.
void StraceSignal(const Kernel& k, int32_t tid, const arch::Siginfo& info) {
  if (!k.options().strace) return;
  std::string line = absl::StrFormat("[pid %d] --- %s {si_signo=%s, si_code=%d, ", tid,
                                     Name(info.si_signo), Name(info.si_signo), info.si_code);
  if (info.si_code <= 0) {
    absl::StrAppendFormat(&line, "si_pid=%d} ---\n", info.pid());
  } else {
    absl::StrAppendFormat(&line, "si_addr=%#x} ---\n", info.addr());
  }
  (void)!::write(k.options().strace_fd, line.data(), line.size());
}

}  // namespace

uint64_t Task::PendingSignals() const {
  absl::MutexLock g(&tg_->sig_mu_);
  absl::MutexLock l(&sig_mu_);
  return pending_.mask | tg_->shared_pending_.mask;
}

bool Task::DequeueSignal(uint64_t set, arch::Siginfo* out) {
  absl::MutexLock g(&tg_->sig_mu_);
  absl::MutexLock l(&sig_mu_);
  int sig = NextSignal(pending_.mask & set);
  bool got = false;
  if (sig != 0) {
    got = Take(pending_, sig, out);
  } else {
    sig = NextSignal(tg_->shared_pending_.mask & set);
    if (sig != 0) got = Take(tg_->shared_pending_, sig, out);
  }
  // JOBCTL_STOP_DEQUEUED: remember which SIGCONT generation this stop signal belongs to, so
  // a SIGCONT sent before the stop takes effect cancels it (DoGroupStop).
  if (got && sig >= 1 && sig <= 31 && (Bit(sig) & (Bit(SIGSTOP) | Bit(SIGTSTP) | Bit(SIGTTIN) |
                                                   Bit(SIGTTOU)))) {
    stop_dequeued_gen_ = tg_->cont_gen_;
  }
  return got;
}

namespace {

constexpr uint64_t kStopMask = Bit(SIGSTOP) | Bit(SIGTSTP) | Bit(SIGTTIN) | Bit(SIGTTOU);

void Discard(SignalQueue& q, uint64_t set) {
  if (!(q.mask & set)) return;
  for (auto it = q.queue.begin(); it != q.queue.end();) {
    if (set & Bit(it->si_signo)) it = q.queue.erase(it); else ++it;
  }
  q.mask &= ~set;
}

}  // namespace

Result<void> Task::SendSignal(const arch::Siginfo& info, bool group) {
  if (group) return tg_->SendGroupSignal(info);
  const int sig = info.si_signo;
  if (sig < 1 || sig > kNumSignals) return Errno::kEINVAL;
  if (sig == SIGKILL) {
    // SIGKILL never waits for delivery: the whole group dies now (complete_signal's fatal path).
    tg_->stop_pending = false;
    RequestGroupExit(SIGKILL);
    return {};
  }
  if (sig == SIGCONT || (kStopMask & Bit(sig))) {
    // Job-control side effects happen at send time (prepare_signal); a group signal does
    // them once for the whole group.
    TRY(tg_->SendGroupSignal(info, /*prepare_only=*/true));
  }
  SigAction act = tg_->GetSigAction(sig);
  if (!(send_mask() & Bit(sig)) && IgnoredAtSend(sig, act)) return {};
  uint64_t limit = tg_->GetRLimit(11 /*RLIMIT_SIGPENDING*/).cur;
  {
    absl::MutexLock g(&tg_->sig_mu_);
    absl::MutexLock l(&sig_mu_);
    TRY(Enqueue(pending_, info, limit));
  }
  if (!(signal_mask() & Bit(sig))) Kick();
  return {};
}

Result<void> ThreadGroup::SendGroupSignal(const arch::Siginfo& info, bool prepare_only) {
  const int sig = info.si_signo;
  if (sig < 1 || sig > kNumSignals) return Errno::kEINVAL;
  // Live tasks, the first one standing in for Linux's choice of the main thread.
  std::vector<std::shared_ptr<Task>> tasks;
  bool continued = false;
  {
    absl::MutexLock l(&kernel_.mu_);
    if (zombie_) return {};  // the pid still exists until reaped; the signal is discarded
    for (Task* t : tasks_) {
      auto it = kernel_.tasks_.find(t->tid());
      if (it != kernel_.tasks_.end()) tasks.push_back(it->second);
    }
    if (sig == SIGCONT) {
      {
        absl::MutexLock g(&sig_mu_);
        ++cont_gen_;
        Discard(shared_pending_, kStopMask);
        for (auto& t : tasks) {
          absl::MutexLock tl(&t->sig_mu_);
          Discard(t->pending_, kStopMask);
        }
      }
      stop_pending = false;
      if (stopped_) {
        stopped_ = false;
        stop_report_ = false;
        cont_report_ = true;
        continued = true;
        kernel_.NotifyParentStopLocked(this, arch::kCldContinued);
      }
      kernel_.tree_cv_.SignalAll();
    } else if (kStopMask & Bit(sig)) {
      absl::MutexLock g(&sig_mu_);
      Discard(shared_pending_, Bit(SIGCONT));
      for (auto& t : tasks) {
        absl::MutexLock tl(&t->sig_mu_);
        Discard(t->pending_, Bit(SIGCONT));
      }
    }
  }
  if (continued) {
    for (auto& t : tasks) t->Kick();
    kernel_.FlushDeferred();  // the parent's CLD_CONTINUED
  }
  if (prepare_only) return {};
  if (sig == SIGKILL) {
    stop_pending = false;
    BeginGroupExit(SIGKILL);
    return {};
  }
  SigAction act = GetSigAction(sig);
  const uint64_t mask0 = tasks.empty() ? 0 : tasks.front()->send_mask();
  if (!(mask0 & Bit(sig)) && IgnoredAtSend(sig, act)) return {};
  uint64_t limit = GetRLimit(11 /*RLIMIT_SIGPENDING*/).cur;
  {
    absl::MutexLock g(&sig_mu_);
    TRY(Enqueue(shared_pending_, info, limit));
  }
  // complete_signal(): wake one thread that can take it (it dequeues the group signal).
  for (auto& t : tasks) {
    if (!(t->signal_mask() & Bit(sig))) {
      t->Kick();
      break;
    }
  }
  return {};
}

void Task::ForceSignal(const arch::Siginfo& info, uint64_t trapno, uint64_t err) {
  const int sig = info.si_signo;
  if (sig < 1 || sig > kNumSignals) return;
  SigAction act = tg_->GetSigAction(sig);
  bool blocked = (signal_mask() & Bit(sig)) != 0;
  if (blocked || act.handler == kSigIgn) {
    act.handler = kSigDfl;
    tg_->SetSigAction(sig, act);
    set_signal_mask(signal_mask() & ~Bit(sig));
  }
  fault_trapno_ = trapno;
  fault_err_ = err;
  fault_cr2_ = trapno == 14 ? info.addr() : 0;
  absl::MutexLock g(&tg_->sig_mu_);
  absl::MutexLock l(&sig_mu_);
  (void)Enqueue(pending_, info, ~0ull);
}

bool Task::OnAltStack(uint64_t sp) const {
  if (static_cast<uint32_t>(altstack_flags) & kSsAutodisarm) return false;
  return sp > altstack_sp && sp - altstack_sp <= altstack_size;
}

void Task::ApplyRestart(bool handler_ran, const SigAction* act) {
  const int e = restart_errno_;
  restart_errno_ = 0;
  if (e == 0) return;
  bool restart = false;
  switch (static_cast<Errno>(e)) {
    case Errno::kERESTARTNOINTR:
      restart = true;
      break;
    case Errno::kERESTARTSYS:
      restart = !handler_ran || (act->flags & kSaRestart) != 0;
      break;
    case Errno::kERESTARTNOHAND:
      restart = !handler_ran;
      break;
    case Errno::kERESTART_RESTARTBLOCK:
      // Linux re-enters through restart_syscall(2) when no handler ran: rax becomes its
      // number and the stored restart block decides how to resume (e.g. the time left).
      if (!handler_ran && restart_block_) {
        regs_.rax = kSysRestartSyscall;
        regs_.rip -= 2;
        return;
      }
      restart_block_ = nullptr;
      break;
    default:
      break;
  }
  if (restart) {
    regs_.rax = regs_.orig_rax;
    regs_.rip -= 2;  // back onto the 2-byte `syscall` instruction
  } else {
    regs_.rax = static_cast<uint64_t>(-static_cast<int64_t>(Errno::kEINTR));
  }
}

void Task::DeliverSignals() {
  bool handler_ran = false;
  arch::Siginfo info;
  while (!handler_ran && DequeueSignal(~signal_mask(), &info)) {
    const int sig = info.si_signo;
    StraceSignal(kernel_, tid(), info);
    SigAction act = tg_->GetSigAction(sig);
    if (sig == SIGKILL || sig == SIGSTOP) act.handler = kSigDfl;
    if (act.handler == kSigIgn) continue;
    if (act.handler == kSigDfl) {
      switch (DefaultFor(sig)) {
        case DefaultAction::kIgnore:
          continue;
        case DefaultAction::kStop:
          DoGroupStop(sig);
          return;
        case DefaultAction::kTerm:
          DieOfSignal(sig, false);
          return;
        case DefaultAction::kCore:
          DieOfSignal(sig, true);
          return;
      }
    }
    ApplyRestart(true, &act);
    const uint64_t old_mask = has_saved_mask_ ? saved_mask_ : signal_mask();
    has_saved_mask_ = false;
    if (act.flags & kSaResethand) {
      SigAction reset = act;
      reset.handler = kSigDfl;
      tg_->SetSigAction(sig, reset);
    }
    if (!SetupFrame(sig, act, info, old_mask)) {
      // force_sigsegv(): a SIGSEGV that cannot be delivered kills; another signal becomes a
      // forced SIGSEGV (whose own handler may still run).
      kernel_.DebugLog(absl::StrFormat("task %d: cannot deliver signal %d (bad frame)", tid(), sig));
      if (sig == SIGSEGV) {
        DieOfSignal(SIGSEGV, true);
        return;
      }
      arch::Siginfo si;
      si.si_signo = SIGSEGV;
      si.si_code = arch::kSiKernel;
      ForceSignal(si);
      continue;
    }
    uint64_t m = signal_mask() | act.mask;
    if (!(act.flags & kSaNodefer)) m |= Bit(sig);
    set_signal_mask(m);
    handler_ran = true;
  }
  if (!handler_ran) {
    ApplyRestart(false, nullptr);
    if (has_saved_mask_) {
      set_signal_mask(saved_mask_);
      has_saved_mask_ = false;
    }
  }
}

bool Task::SetupFrame(int sig, const SigAction& act, const arch::Siginfo& info,
                      uint64_t old_mask) {
  // x86-64 requires SA_RESTORER: there is no vDSO sigreturn trampoline (Linux: -EFAULT).
  if (!(act.flags & kSaRestorer)) return false;
  const bool was_on_alt = OnAltStack(regs_.rsp);
  const int32_t alt_state = altstack_size == 0 || (altstack_flags & kSsDisable)
                                ? kSsDisable
                                : (was_on_alt ? 1 /*SS_ONSTACK*/ : 0);
  uint64_t sp = regs_.rsp - 128;  // skip the red zone
  bool use_alt = false;
  if ((act.flags & kSaOnstack) && alt_state == 0) {
    sp = altstack_sp + altstack_size;
    use_alt = true;
  }

  arch::FPState fp;
  const bool have_fp = ctx_ != nullptr && ctx_->GetFPState(&fp).ok();
  uint64_t fp_addr = 0;
  bool xstate = false;
  uint32_t fp_size = 0;
  if (have_fp) {
    fp_size = std::min<uint32_t>(fp.size, sizeof(fp.data));
    xstate = fp_size > arch::kFxsaveSize;
    uint64_t frame_size = fp_size + (xstate ? arch::kFpXstateMagic2Size : 0);
    sp = (sp - frame_size) & ~63ull;
    fp_addr = sp;
    arch::FpxSwBytes sw{};
    if (xstate) {
      std::memcpy(&sw, fp.data + arch::kFpxSwBytesOffset, sizeof(sw));
      if (sw.magic1 != arch::kFpXstateMagic1) sw.xfeatures = Xcr0();
      sw.magic1 = arch::kFpXstateMagic1;
      sw.xstate_size = fp_size;
      sw.extended_size = fp_size + arch::kFpXstateMagic2Size;
      std::fill(std::begin(sw.padding), std::end(sw.padding), 0u);
    }
    std::memcpy(fp.data + arch::kFpxSwBytesOffset, &sw, sizeof(sw));
  }
  sp -= sizeof(arch::RtSigframe);
  sp = (sp & ~15ull) - 8;  // rsp+8 is 16-byte aligned at handler entry, as after a `call`
  // A nested frame that would run off the bottom of the alternate stack is a failure.
  if (was_on_alt && !OnAltStack(sp)) return false;
  (void)use_alt;

  arch::RtSigframe f{};
  f.pretcode = act.restorer;
  f.uc.uc_flags = arch::kUcSigcontextSs | arch::kUcStrictRestoreSs |
                  (xstate ? arch::kUcFpXstate : 0);
  f.uc.uc_link = 0;
  f.uc.uc_stack.ss_sp = altstack_sp;
  f.uc.uc_stack.ss_flags =
      alt_state | static_cast<int32_t>(static_cast<uint32_t>(altstack_flags) & kSsAutodisarm);
  f.uc.uc_stack.ss_size = altstack_size;
  arch::Sigcontext& sc = f.uc.uc_mcontext;
  const arch::Registers& r = regs_;
  sc.r8 = r.r8; sc.r9 = r.r9; sc.r10 = r.r10; sc.r11 = r.r11;
  sc.r12 = r.r12; sc.r13 = r.r13; sc.r14 = r.r14; sc.r15 = r.r15;
  sc.rdi = r.rdi; sc.rsi = r.rsi; sc.rbp = r.rbp; sc.rbx = r.rbx;
  sc.rdx = r.rdx; sc.rax = r.rax; sc.rcx = r.rcx; sc.rsp = r.rsp;
  sc.rip = r.rip; sc.eflags = r.eflags;
  sc.cs = static_cast<uint16_t>(r.cs);
  sc.ss = static_cast<uint16_t>(r.ss);
  sc.gs = 0;
  sc.fs = 0;
  const bool fault = info.si_signo == sig && fault_trapno_ != 0;
  sc.trapno = fault ? fault_trapno_ : 0;
  sc.err = fault ? fault_err_ : 0;
  sc.cr2 = fault ? fault_cr2_ : 0;
  fault_trapno_ = fault_err_ = fault_cr2_ = 0;
  sc.oldmask = old_mask;
  sc.fpstate = fp_addr;
  f.uc.uc_sigmask = old_mask;
  if (act.flags & kSaSiginfo) f.info = info;

  if (have_fp) {
    auto bytes = std::as_bytes(std::span(fp.data, fp_size));
    if (!usermem::CopyOutFull(mem(), UserAddr(fp_addr), bytes).ok()) return false;
    if (xstate &&
        !usermem::CopyOut(mem(), UserPtr<uint32_t>(UserAddr(fp_addr + fp_size)),
                          arch::kFpXstateMagic2)
             .ok()) {
      return false;
    }
  }
  if (!usermem::CopyOut(mem(), UserPtr<arch::RtSigframe>(UserAddr(sp)), f).ok()) return false;

  // SS_AUTODISARM: the stack is disabled while the handler runs (restored by sigreturn).
  if (use_alt && (static_cast<uint32_t>(altstack_flags) & kSsAutodisarm)) {
    altstack_sp = 0;
    altstack_size = 0;
    altstack_flags = kSsDisable;
  }
  regs_.rdi = static_cast<uint64_t>(sig);
  regs_.rsi = sp + offsetof(arch::RtSigframe, info);
  regs_.rdx = sp + offsetof(arch::RtSigframe, uc);
  regs_.rax = 0;
  regs_.rsp = sp;
  regs_.rip = act.handler;
  regs_.cs = arch::kUserCS;
  regs_.ss = arch::kUserDS;
  regs_.eflags &= ~(arch::kFlagDF | arch::kFlagRF | arch::kFlagTF);
  // fpu__clear_user_states(): the handler starts with a clean FPU.
  if (have_fp) (void)ctx_->SetFPState(InitFP(fp.size));
  return true;
}

SyscallResult Task::SigReturn() {
  restart_errno_ = 0;
  const uint64_t frame = regs_.rsp - 8;
  auto f = usermem::CopyIn(mem(), UserPtr<arch::RtSigframe>(UserAddr(frame)));
  if (!f.ok()) {
    arch::Siginfo si;
    si.si_signo = SIGSEGV;
    si.si_code = arch::kSiKernel;
    ForceSignal(si);
    return Errno::kEJUSTRETURN;
  }
  const arch::Sigcontext& sc = f->uc.uc_mcontext;
  arch::Registers& r = regs_;
  r.r8 = sc.r8; r.r9 = sc.r9; r.r10 = sc.r10; r.r11 = sc.r11;
  r.r12 = sc.r12; r.r13 = sc.r13; r.r14 = sc.r14; r.r15 = sc.r15;
  r.rdi = sc.rdi; r.rsi = sc.rsi; r.rbp = sc.rbp; r.rbx = sc.rbx;
  r.rdx = sc.rdx; r.rax = sc.rax; r.rcx = sc.rcx; r.rsp = sc.rsp;
  r.rip = sc.rip;
  r.eflags = (r.eflags & ~arch::kFixEflags) | (sc.eflags & arch::kFixEflags);
  r.cs = arch::kUserCS;
  r.ss = arch::kUserDS;
  r.orig_rax = ~0ull;  // no syscall restart after sigreturn
  set_signal_mask(f->uc.uc_sigmask);

  // restore_altstack(): do_sigaltstack() with the frame's stack; errors are ignored (notably
  // EPERM while still running on the alternate stack).
  const arch::SigStack& ss = f->uc.uc_stack;
  if (!OnAltStack(frame)) {
    int32_t mode = ss.ss_flags & ~static_cast<int32_t>(kSsAutodisarm);
    if (mode == kSsDisable) {
      altstack_sp = 0;
      altstack_size = 0;
      altstack_flags = ss.ss_flags;
    } else if ((mode == 0 || mode == 1) && ss.ss_size >= 2048 /*MINSIGSTKSZ*/) {
      altstack_sp = ss.ss_sp;
      altstack_size = ss.ss_size;
      altstack_flags = ss.ss_flags & ~1;
    }
  }

  // FP state: take the frame's image only if it is well formed; else the init state.
  arch::FPState cur;
  if (ctx_ != nullptr && ctx_->GetFPState(&cur).ok()) {
    const uint32_t max = std::min<uint32_t>(cur.size, sizeof(cur.data));
    arch::FPState img = InitFP(max);
    bool ok = false;
    if (sc.fpstate != 0) {
      auto fx = std::as_writable_bytes(std::span(img.data, arch::kFxsaveSize));
      if (!usermem::CopyInFull(mem(), UserAddr(sc.fpstate), fx).ok()) {
        arch::Siginfo si;
        si.si_signo = SIGSEGV;
        si.si_code = arch::kSiKernel;
        ForceSignal(si);
        return Errno::kEJUSTRETURN;
      }
      arch::FpxSwBytes sw;
      std::memcpy(&sw, img.data + arch::kFpxSwBytesOffset, sizeof(sw));
      bool full = (f->uc.uc_flags & arch::kUcFpXstate) && sw.magic1 == arch::kFpXstateMagic1 &&
                  sw.xstate_size >= arch::kFxsaveSize + 64 && sw.xstate_size <= max &&
                  sw.extended_size == sw.xstate_size + arch::kFpXstateMagic2Size;
      if (full) {
        auto magic2 = usermem::CopyIn(
            mem(), UserPtr<uint32_t>(UserAddr(sc.fpstate + sw.xstate_size)));
        full = magic2.ok() && *magic2 == arch::kFpXstateMagic2;
      }
      if (full) {
        auto rest = std::as_writable_bytes(
            std::span(img.data + arch::kFxsaveSize, sw.xstate_size - arch::kFxsaveSize));
        full = usermem::CopyInFull(mem(), UserAddr(sc.fpstate + arch::kFxsaveSize), rest).ok();
      }
      std::memset(img.data + arch::kFxsaveSize - sizeof(sw), 0, sizeof(sw));
      uint32_t mxcsr;
      std::memcpy(&mxcsr, img.data + arch::kMxcsrOffset, 4);
      mxcsr &= 0xffff;  // reserved MXCSR bits would fault in FXRSTOR/XRSTOR
      std::memcpy(img.data + arch::kMxcsrOffset, &mxcsr, 4);
      if (max > arch::kFxsaveSize) {
        if (!full) {
          // fx_only: x87 and SSE from the FXSAVE image, everything else in init state.
          std::memset(img.data + arch::kXsaveHeaderOffset, 0, max - arch::kXsaveHeaderOffset);
          uint64_t bv = 3;
          std::memcpy(img.data + arch::kXsaveHeaderOffset, &bv, 8);
        }
      }
      ok = ctx_->SetFPState(img).ok();
    }
    if (!ok) (void)ctx_->SetFPState(InitFP(max));
  }
  return Errno::kEJUSTRETURN;
}

}  // namespace sbx::kernel
