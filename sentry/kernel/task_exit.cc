// Process exit and wait (Linux kernel/exit.c, kernel/signal.c do_notify_parent*, job control):
// the exit bookkeeping of a task (robust futexes, clear_child_tid, vfork release), zombies,
// SIGCHLD, reparenting to a subreaper or init, wait4/waitid, and group stops.
//
// Every tree change happens under Kernel::mu_ (the tasklist lock). Signals decided under it
// (SIGCHLD, parent-death signals) are deferred and sent after it is released, because sending
// takes the lock itself.
#include <signal.h>

#include "absl/strings/str_format.h"
#include "fs/blocking.h"
#include "sentry/kernel/itimer.h"
#include "sentry/kernel/kernel.h"
#include "sentry/usermem/usermem.h"

namespace sbx::kernel {
namespace {

constexpr int kWNoHang = 1, kWStopped = 2, kWExited = 4, kWContinued = 8, kWNoWait = 0x01000000;
constexpr int kWNoThread = 0x20000000, kWAll = 0x40000000, kWClone = static_cast<int>(0x80000000);
constexpr uint64_t kSaNocldstop = 1, kSaNocldwait = 2;
constexpr uint64_t kSigIgnHandler = 1;

// The waitid/SIGCHLD view of a wait(2) status word.
void DecodeStatus(int ws, int* code, int* status) {
  if ((ws & 0x7f) == 0) {
    *code = arch::kCldExited;
    *status = (ws >> 8) & 0xff;
  } else {
    *code = (ws & 0x80) ? arch::kCldDumped : arch::kCldKilled;
    *status = ws & 0x7f;
  }
}

// Robust futex list walking (kernel/futex/core.c exit_robust_list), x86-64 layout:
// struct robust_list_head { next; long futex_offset; list_op_pending; }.
constexpr uint32_t kFutexWaiters = 0x80000000u, kFutexOwnerDied = 0x40000000u,
                   kFutexTidMask = 0x3fffffffu;
constexpr int kRobustListLimit = 2048;

}  // namespace

void Task::ExitRobustList() {
  const uint64_t head = robust_list_head;
  robust_list_head = 0;
  if (head == 0 || !mm_) return;
  struct Head {
    uint64_t next;
    int64_t futex_offset;
    uint64_t pending;
  };
  auto h = usermem::CopyIn(mem(), usermem::UserPtr<Head>(usermem::UserAddr(head)));
  if (!h.ok()) return;
  // handle_futex_death(): if the lock word names us, mark it owner-died and wake one waiter.
  auto handle = [&](uint64_t entry, bool pending) {
    uint64_t uaddr = entry + h->futex_offset;
    if (uaddr % 4 != 0) return;
    auto word = usermem::CopyIn(mem(), usermem::UserPtr<uint32_t>(usermem::UserAddr(uaddr)));
    if (!word.ok()) return;
    if (pending && *word == 0) {
      // A lock acquired-but-not-yet-listed: wake a waiter so it can retry.
      auto key = FutexKeyFor(uaddr, /*priv=*/false);
      if (key.ok()) (void)kernel_.futexes().Wake(*key, 1, ~0u);
      return;
    }
    // Atomically, so a waiter setting FUTEX_WAITERS meanwhile is not overwritten.
    bool ours = false;
    auto seen = mm_->AtomicUpdate32(usermem::UserAddr(uaddr),
                                    [&](uint32_t w) -> std::optional<uint32_t> {
                                      ours = (w & kFutexTidMask) == static_cast<uint32_t>(tid());
                                      if (!ours) return std::nullopt;
                                      return (w & kFutexWaiters) | kFutexOwnerDied;
                                    });
    if (!seen.ok() || !ours) return;
    if (*seen & kFutexWaiters) {
      auto key = FutexKeyFor(uaddr, /*priv=*/false);
      if (key.ok()) (void)kernel_.futexes().Wake(*key, 1, ~0u);
    }
  };
  uint64_t entry = h->next;
  for (int i = 0; i < kRobustListLimit && entry != head && entry != 0; ++i) {
    uint64_t e = entry & ~1ull;
    auto next = usermem::CopyIn(mem(), usermem::UserPtr<uint64_t>(usermem::UserAddr(e)));
    if (e != (h->pending & ~1ull)) handle(e, false);
    if (!next.ok()) break;
    entry = *next;
  }
  if (h->pending != 0) handle(h->pending & ~1ull, true);
}

void Task::ReleaseVforkParent() {
  if (!vfork_done_) return;
  {
    absl::MutexLock l(&vfork_done_->mu);
    vfork_done_->done = true;
  }
  vfork_done_.reset();
  // Under the lock the parent sleeps with, so the wake-up cannot fall between its check and
  // its wait (ReleaseVforkParent is never called with Kernel::mu_ held).
  absl::MutexLock l(&kernel_.mu_);
  kernel_.tree_cv_.SignalAll();
}

void Task::ExitNotify() {
  if (kernel_.options().debug_log_fd >= 0) {
    kernel_.DebugLog(absl::StrFormat(
        "task %d (%s) exits: %d switches (%d syscalls, %d faults), %.3f ms in Switch", tid(),
        comm, n_switches_, n_syscalls_, n_faults_, switch_ns_ / 1e6));
  }
  if (mm_) {
    ExitRobustList();
    // mm_release(): CLONE_CHILD_CLEARTID writes 0 and wakes one waiter (pthread_join).
    if (clear_child_tid != 0) {
      uint64_t addr = clear_child_tid;
      clear_child_tid = 0;
      if (usermem::CopyOut(mem(), usermem::UserPtr<uint32_t>(usermem::UserAddr(addr)), 0u).ok()) {
        auto key = FutexKeyFor(addr, /*priv=*/false);
        if (key.ok()) (void)kernel_.futexes().Wake(*key, 1, ~0u);
      }
    }
  }
  ReleaseVforkParent();
  // exit_mm/exit_files/exit_fs come before exit_notify: a parent woken by our exit must see
  // our pipe ends closed and our address space gone.
  mm_.reset();
  fds_.reset();
  fsctx_.reset();
  bool last;
  {
    absl::MutexLock l(&kernel_.mu_);
    kernel_.TaskExitedLocked(this);
    last = tg_->zombie_;
  }
  // A zombie gets no SIGALRM. Not under Kernel::mu_: Shutdown waits for an expiry in flight,
  // which sends its signal through SendGroupSignal (takes Kernel::mu_).
  if (last) tg_->itimers().Shutdown();
  kernel_.FlushDeferred();
}

void Kernel::TaskExitedLocked(Task* t) {
  ThreadGroup* tg = t->tg_.get();
  auto& v = tg->tasks_;
  v.erase(std::remove(v.begin(), v.end(), t), v.end());
  auto it = tasks_.find(t->tid());
  if (it != tasks_.end() && it->second.get() == t) tasks_.erase(it);
  if (t->tid() == tg->tgid_) tg->exit_uid_ = t->creds_.ruid;
  // Without a group exit, the process's status is the exit code of its last thread.
  tg->leader_exit_code_ = t->exit_status_;
  tree_cv_.SignalAll();  // execve's de_thread waits for the other threads to go
  if (!v.empty()) return;

  // The last thread: the process becomes a zombie.
  {
    absl::MutexLock l(&tg->mu_);
    if (!tg->exiting_) {
      tg->exiting_ = true;
      tg->exit_status_word_ = (tg->leader_exit_code_ & 0xff) << 8;
    }
  }
  tg->zombie_ = true;
  tg->stopped_ = false;
  tg->stop_pending = false;
  ReparentChildrenLocked(tg);
  if (tg == init_.get()) {
    // zap_pid_ns_processes(): init's death kills everything else in the namespace.
    for (auto& [id, g] : groups_) {
      if (g.get() == tg || g->zombie_) continue;
      {
        absl::MutexLock gl(&g->mu_);
        if (!g->exiting_) {
          g->exiting_ = true;
          g->exit_status_word_ = SIGKILL;
        }
      }
      for (Task* o : g->tasks_) o->Kick();
    }
  }
  NotifyParentOfExitLocked(tg);
  tree_cv_.SignalAll();
}

void Kernel::ReparentChildrenLocked(ThreadGroup* tg) {
  if (tg->children_.empty()) return;
  // find_new_reaper(): the nearest live ancestor that is a child subreaper, else init.
  ThreadGroup* reaper = nullptr;
  for (ThreadGroup* p = tg->parent_; p != nullptr; p = p->parent_) {
    if (p->child_subreaper.load() && !p->zombie_) {
      reaper = p;
      break;
    }
  }
  if (reaper == nullptr && init_ && init_.get() != tg && !init_->zombie_) reaper = init_.get();
  auto children = std::move(tg->children_);
  tg->children_.clear();
  for (auto& c : children) {
    c->parent_ = reaper;
    for (Task* ct : c->tasks_) {
      int sig = ct->pdeathsig.load();
      if (sig > 0 && sig <= kNumSignals) {
        arch::Siginfo info;
        info.si_signo = sig;
        info.si_code = arch::kSiUser;
        DeferSignalLocked(c, info);
      }
    }
    if (reaper == nullptr) {
      if (c->zombie_) ReapLocked(c.get());
      continue;
    }
    reaper->children_.push_back(c);
    c->exit_signal_ = SIGCHLD;  // reparent_leader(): the new parent gets a plain SIGCHLD
    if (c->zombie_) NotifyParentOfExitLocked(c.get());
  }
}

bool Kernel::NotifyParentOfExitLocked(ThreadGroup* tg) {
  ThreadGroup* p = tg->parent_;
  if (p == nullptr) {
    ReapLocked(tg);
    return true;
  }
  int code, status;
  DecodeStatus(tg->exit_status_word(), &code, &status);
  bool autoreap = false;
  bool send = tg->exit_signal_ != 0;
  if (tg->exit_signal_ == SIGCHLD) {
    // SIGCHLD ignored or SA_NOCLDWAIT: nobody will wait; the child is reaped now.
    SigAction act = p->GetSigAction(SIGCHLD);
    if (act.handler == kSigIgnHandler) {
      autoreap = true;
      send = false;
    } else if (act.flags & kSaNocldwait) {
      autoreap = true;
    }
  }
  if (send) {
    arch::Siginfo info;
    info.si_signo = tg->exit_signal_;
    info.si_code = code;
    info.set_pid(tg->tgid_);
    info.set_uid(tg->exit_uid_);
    info.set_status(status);
    const ITimers::CpuTimes ct = tg->itimers_->cpu_times();
    constexpr int64_t kNsPerTick = 10'000'000;  // USER_HZ = 100
    info.set_utime((ct.user_ns + tg->child_user_ns_) / kNsPerTick);
    info.set_stime((ct.sys_ns + tg->child_sys_ns_) / kNsPerTick);
    auto pit = groups_.find(p->tgid_);
    if (pit != groups_.end()) DeferSignalLocked(pit->second, info);
  }
  if (autoreap) ReapLocked(tg);
  tree_cv_.SignalAll();
  return autoreap;
}

void Kernel::NotifyParentStopLocked(ThreadGroup* tg, int why) {
  tree_cv_.SignalAll();
  ThreadGroup* p = tg->parent_;
  if (p == nullptr) return;
  SigAction act = p->GetSigAction(SIGCHLD);
  if (act.handler == kSigIgnHandler || (act.flags & kSaNocldstop)) return;
  arch::Siginfo info;
  info.si_signo = SIGCHLD;
  info.si_code = why;
  info.set_pid(tg->tgid_);
  info.set_uid(tg->exit_uid_);
  info.set_status(why == arch::kCldStopped ? tg->stop_signal_ : SIGCONT);
  auto pit = groups_.find(p->tgid_);
  if (pit != groups_.end()) DeferSignalLocked(pit->second, info);
}

void ThreadGroup::ChildCpuTimes(int64_t* user_ns, int64_t* sys_ns) const {
  absl::MutexLock l(&kernel_.mu_);
  *user_ns = child_user_ns_;
  *sys_ns = child_sys_ns_;
}

void Kernel::ReapLocked(ThreadGroup* tg) {
  if (ThreadGroup* p = tg->parent_) {
    // The parent inherits the child's CPU time and that of the child's own reaped children.
    ITimers::CpuTimes ct = tg->itimers_->cpu_times();
    p->child_user_ns_ += ct.user_ns + tg->child_user_ns_;
    p->child_sys_ns_ += ct.sys_ns + tg->child_sys_ns_;
    auto& c = p->children_;
    c.erase(std::remove_if(c.begin(), c.end(), [&](const auto& g) { return g.get() == tg; }),
            c.end());
  }
  tg->parent_ = nullptr;
  tg->reaped_ = true;
  auto it = groups_.find(tg->tgid_);
  if (it != groups_.end() && it->second.get() == tg) groups_.erase(it);
}

bool ThreadGroup::Exited() const {
  absl::MutexLock l(&kernel_.mu_);
  return zombie_ || reaped_;
}

bool ThreadGroup::Reaped() const {
  absl::MutexLock l(&kernel_.mu_);
  return reaped_;
}

Result<WaitResult> Task::Wait(const WaitSpec& spec) {
  const int opts = spec.options;
  absl::MutexLock l(&kernel_.mu_);
  for (;;) {
    bool any = false;
    ThreadGroup* self = tg_.get();
    // Copy: reaping edits children_.
    std::vector<std::shared_ptr<ThreadGroup>> children = self->children_;
    for (auto& c : children) {
      if (spec.which == WaitSpec::Which::kPid && c->tgid_ != spec.id) continue;
      if (spec.which == WaitSpec::Which::kPgid && c->pgid_ != spec.id) continue;
      if (spec.which == WaitSpec::Which::kGroup && c.get() != spec.group) continue;
      // eligible_child(): "clone" children (exit signal other than SIGCHLD) only with
      // __WCLONE, the others only without it, all with __WALL.
      const bool is_clone = c->exit_signal_ != SIGCHLD;
      if (!(opts & kWAll) && is_clone != ((opts & kWClone) != 0)) continue;
      // A zombie only counts for WEXITED (waitid without it gets ECHILD, not a wait).
      if (c->zombie_ && !(opts & kWExited)) continue;
      any = true;
      WaitResult r;
      r.pid = c->tgid_;
      r.uid = c->exit_uid_;
      const ITimers::CpuTimes ct = c->itimers_->cpu_times();
      r.user_ns = ct.user_ns + c->child_user_ns_;
      r.sys_ns = ct.sys_ns + c->child_sys_ns_;
      if (c->zombie_ && (opts & kWExited)) {
        r.status_word = c->exit_status_word();
        DecodeStatus(r.status_word, &r.code, &r.status);
        if (!(opts & kWNoWait)) kernel_.ReapLocked(c.get());
        return r;
      }
      if (c->zombie_) continue;
      if ((opts & kWStopped) && c->stopped_ && c->stop_report_) {
        r.code = arch::kCldStopped;
        r.status = c->stop_signal_;
        r.status_word = (c->stop_signal_ << 8) | 0x7f;
        if (!(opts & kWNoWait)) c->stop_report_ = false;
        return r;
      }
      if ((opts & kWContinued) && c->cont_report_) {
        r.code = arch::kCldContinued;
        r.status = SIGCONT;
        r.status_word = 0xffff;
        if (!(opts & kWNoWait)) c->cont_report_ = false;
        return r;
      }
    }
    (void)kWNoThread;
    if (!any) return Errno::kECHILD;
    if (opts & kWNoHang) return WaitResult{};
    if (Interrupted()) return Errno::kERESTARTSYS;
    fs::ScopedBlocked blocked;
    kernel_.tree_cv_.WaitWithTimeout(&kernel_.mu_, absl::Milliseconds(50));
  }
}

void Task::DoGroupStop(int sig) {
  {
    absl::MutexLock l(&kernel_.mu_);
    if (tg_->zombie_ || tg_->exiting()) return;
    {
      // A SIGCONT sent after the stop signal was dequeued cancels it.
      absl::MutexLock g(&tg_->sig_mu_);
      if (tg_->cont_gen_ != stop_dequeued_gen_) return;
    }
    tg_->stopped_ = true;
    tg_->stop_signal_ = sig;
    tg_->stop_report_ = true;
    tg_->cont_report_ = false;
    tg_->stop_pending = true;
    kernel_.NotifyParentStopLocked(tg_.get(), arch::kCldStopped);
  }
  kernel_.DebugLog(absl::StrFormat("task %d: group stopped by signal %d", tid(), sig));
  tg_->KickAll();
  kernel_.FlushDeferred();
}

void Task::ParkWhileStopped() {
  absl::MutexLock l(&kernel_.mu_);
  while (tg_->stop_pending.load() && !exit_requested_ && !tg_->exiting()) {
    fs::ScopedBlocked blocked;
    kernel_.tree_cv_.WaitWithTimeout(&kernel_.mu_, absl::Milliseconds(100));
  }
}

}  // namespace sbx::kernel
