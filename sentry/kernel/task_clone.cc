// clone/fork/vfork/clone3 (Linux kernel/fork.c copy_process, reduced to what the sentry
// models): a new task sharing or copying the address space (copy-on-write by the
// MemoryManager), FD table, filesystem context and signal handlers according to the flags,
// started on its own host thread with its own platform Context.
#include <signal.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fs/blocking.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/usermem/usermem.h"

namespace sbx::kernel {
namespace {

constexpr uint64_t kCloneVm = 0x100, kCloneFs = 0x200, kCloneFiles = 0x400,
                   kCloneSighand = 0x800, kClonePidfd = 0x1000, kClonePtrace = 0x2000,
                   kCloneVfork = 0x4000, kCloneParent = 0x8000, kCloneThread = 0x10000,
                   kCloneNewns = 0x20000, kCloneSysvsem = 0x40000, kCloneSettls = 0x80000,
                   kCloneParentSettid = 0x100000, kCloneChildCleartid = 0x200000,
                   kCloneDetached = 0x400000, kCloneUntraced = 0x800000,
                   kCloneChildSettid = 0x1000000, kCloneNewcgroup = 0x2000000,
                   kCloneNewuts = 0x4000000, kCloneNewipc = 0x8000000,
                   kCloneNewuser = 0x10000000, kCloneNewpid = 0x20000000,
                   kCloneNewnet = 0x40000000, kCloneIo = 0x80000000ull,
                   kCloneNewtime = 0x80, kCloneClearSighand = 0x100000000ull,
                   kCloneIntoCgroup = 0x200000000ull;
constexpr uint64_t kNamespaceFlags = kCloneNewns | kCloneNewcgroup | kCloneNewuts |
                                     kCloneNewipc | kCloneNewuser | kCloneNewpid |
                                     kCloneNewnet | kCloneNewtime;
constexpr uint64_t kKnownFlags =
    kCloneVm | kCloneFs | kCloneFiles | kCloneSighand | kClonePidfd | kClonePtrace |
    kCloneVfork | kCloneParent | kCloneThread | kCloneSysvsem | kCloneSettls |
    kCloneParentSettid | kCloneChildCleartid | kCloneDetached | kCloneUntraced |
    kCloneChildSettid | kCloneIo | kNamespaceFlags | kCloneClearSighand | kCloneIntoCgroup;

constexpr uint64_t kSigIgn = 1;

}  // namespace

Result<int32_t> Task::Clone(const CloneArgs& a) {
  const uint64_t f = a.flags;
  // copy_process() argument checks, in Linux's order.
  if (f & ~kKnownFlags) return Errno::kEINVAL;
  if ((f & (kCloneNewns | kCloneFs)) == (kCloneNewns | kCloneFs)) return Errno::kEINVAL;
  if ((f & (kCloneNewuser | kCloneFs)) == (kCloneNewuser | kCloneFs)) return Errno::kEINVAL;
  if ((f & kCloneThread) && !(f & kCloneSighand)) return Errno::kEINVAL;
  if ((f & kCloneSighand) && !(f & kCloneVm)) return Errno::kEINVAL;
  if ((f & kCloneParent) && tgid() == 1) return Errno::kEINVAL;  // init's siblings: none
  if ((f & kCloneThread) && (f & (kCloneNewuser | kCloneNewpid))) return Errno::kEINVAL;
  if ((f & kClonePidfd) && (f & (kCloneThread | kCloneDetached))) return Errno::kEINVAL;
  if ((f & kCloneClearSighand) && (f & kCloneSighand)) return Errno::kEINVAL;
  if (!a.clone3 && (f & kClonePidfd) && (f & kCloneParentSettid)) return Errno::kEINVAL;
  if (a.exit_signal < 0 || a.exit_signal > kNumSignals) return Errno::kEINVAL;
  if (f & kNamespaceFlags) {
    // The sandbox is one set of namespaces; nested ones are not modelled.
    kernel_.DebugLog(absl::StrCat("task ", tid(), ": clone with namespace flags ",
                                  absl::Hex(f & kNamespaceFlags), ": EINVAL (unsupported)"));
    return Errno::kEINVAL;
  }
  if (f & kCloneIntoCgroup) return Errno::kEINVAL;  // no cgroup hierarchy inside the sandbox
  if (kernel_.LiveTaskCount() >= kernel_.options().max_tasks) {
    kernel_.DebugLog(absl::StrCat("task ", tid(), ": clone refused: --max-tasks ",
                                  kernel_.options().max_tasks, " reached"));
    return Errno::kEAGAIN;
  }

  // Address space: shared, or a copy-on-write copy in a fresh platform address space.
  std::shared_ptr<mm::MemoryManager> mm;
  if (f & kCloneVm) {
    mm = mm_;
  } else {
    auto as = TRY(kernel_.platform().NewAddressSpace());
    mm = TRY(mm_->Fork(std::move(as)));
  }
  auto fds = (f & kCloneFiles) ? fds_ : fds_->Fork();
  auto fsctx = (f & kCloneFs) ? fsctx_ : fsctx_->Fork();
  std::shared_ptr<SignalHandlers> sighand =
      (f & kCloneSighand) ? tg_->sighand() : tg_->sighand()->Copy();
  if (f & kCloneClearSighand) {
    absl::MutexLock l(&sighand->mu);
    for (auto& act : sighand->actions) {
      if (act.handler != kSigIgn) act = SigAction{};
    }
  }

  // FP state of the parent at the syscall: the child resumes with the same registers.
  std::optional<arch::FPState> fp;
  if (platform::Context* c = context()) {
    arch::FPState s;
    if (c->GetFPState(&s).ok()) fp = s;
  }

  std::shared_ptr<Task> child;
  std::shared_ptr<ThreadGroup> ctg;
  int32_t ctid;
  {
    absl::MutexLock l(&kernel_.mu_);
    // A fatal signal or exit that raced with us wins (Linux: ERESTARTNOINTR, then dies).
    if (tg_->exiting() || exit_requested_) return Errno::kERESTARTNOINTR;
    ctid = kernel_.AllocateTidLocked();
    if (f & kCloneThread) {
      ctg = tg_;
    } else {
      ctg = std::make_shared<ThreadGroup>(kernel_, ctid, sighand);
      for (int r = 0; r < kNumRLimits; ++r) ctg->SetRLimit(r, tg_->GetRLimit(r));
      ctg->dumpable = tg_->dumpable.load();
      ThreadGroup* parent = (f & kCloneParent) ? tg_->parent_ : tg_.get();
      ctg->parent_ = parent;
      ctg->pgid_ = tg_->pgid_;
      ctg->sid_ = tg_->sid_;
      ctg->exit_signal_ = a.exit_signal;
      ctg->exit_uid_ = creds_.ruid;
      if (parent != nullptr) parent->children_.push_back(ctg);
      kernel_.groups_[ctid] = ctg;
    }
    child = std::make_shared<Task>(kernel_, ctg, ctid, mm, fds, fsctx, creds_);
    kernel_.tasks_[ctid] = child;
    ctg->tasks_.push_back(child.get());
    ++kernel_.host_threads_;
  }

  Task& c = *child;
  c.regs_ = regs_;
  c.regs_.rax = 0;
  if (a.stack != 0) c.regs_.rsp = a.stack;
  if (f & kCloneSettls) c.regs_.fs_base = a.tls;
  c.signal_mask_.store(signal_mask());
  c.comm = comm;
  c.no_new_privs = no_new_privs;
  c.nice.store(nice.load());
  // sigaltstack is inherited, except by threads that share the address space without vfork.
  if ((f & (kCloneVm | kCloneVfork)) != kCloneVm) {
    c.altstack_sp = altstack_sp;
    c.altstack_size = altstack_size;
    c.altstack_flags = altstack_flags;
  }
  if (f & kCloneChildCleartid) c.clear_child_tid = a.child_tid;

  // IDs written before the child can run (both writes happen in Linux's copy_process too).
  // Undoes the registration above; the child never ran, so nobody is notified.
  auto fail = [&](Errno e) -> Result<int32_t> {
    absl::MutexLock l(&kernel_.mu_);
    auto& v = ctg->tasks_;
    v.erase(std::remove(v.begin(), v.end(), child.get()), v.end());
    kernel_.tasks_.erase(ctid);
    if (ctg != tg_) kernel_.ReapLocked(ctg.get());
    --kernel_.host_threads_;
    return e;
  };
  if (f & kCloneParentSettid) {
    auto r = usermem::CopyOut(mem(), usermem::UserPtr<int32_t>(usermem::UserAddr(a.parent_tid)),
                              ctid);
    if (!r.ok()) return fail(Errno::kEFAULT);
  }
  if (f & kCloneChildSettid) {
    auto r = usermem::CopyOut(*mm, usermem::UserPtr<int32_t>(usermem::UserAddr(a.child_tid)),
                              ctid);
    if (!r.ok()) return fail(Errno::kEFAULT);
  }
  if (f & kClonePidfd) {
    auto file = NewPidFD(ctg);
    auto fd = fds_->Add(file, /*cloexec=*/true);
    if (!fd.ok()) return fail(fd.error());
    uint64_t out = a.clone3 ? a.pidfd : a.parent_tid;
    auto r = usermem::CopyOut(mem(), usermem::UserPtr<int32_t>(usermem::UserAddr(out)),
                              static_cast<int32_t>(*fd));
    if (!r.ok()) {
      (void)fds_->Remove(*fd);
      return fail(Errno::kEFAULT);
    }
  }

  std::shared_ptr<VforkDone> vfork;
  if (f & kCloneVfork) {
    vfork = std::make_shared<VforkDone>();
    c.vfork_done_ = vfork;
  }
  if (auto r = kernel_.StartTaskThread(child, fp); !r.ok()) return fail(r.error());

  if (vfork) {
    // wait_for_vfork_done(): until the child execs or exits; only a fatal signal or exit of
    // the parent ends the wait early (the child keeps running).
    absl::MutexLock l(&kernel_.mu_);
    for (;;) {
      {
        absl::MutexLock vl(&vfork->mu);
        if (vfork->done) break;
      }
      if (exit_requested_ || tg_->exiting()) break;
      fs::ScopedBlocked blocked;
      kernel_.tree_cv_.WaitWithTimeout(&kernel_.mu_, absl::Milliseconds(50));
    }
  }
  return ctid;
}

}  // namespace sbx::kernel
