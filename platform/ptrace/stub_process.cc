// A stub process's threads, spares and memory-operation queue (see stub_process.h).
#include "platform/ptrace/stub_process.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "platform/ptrace/tracee.h"

namespace sbx::platform::ptrace {
namespace {

// Waits until `tid` (a child or tracee of the sentry) is gone; returns at once if someone else
// reaped it (ECHILD).
void Reap(pid_t tid) {
  for (;;) {
    int status;
    pid_t r = waitpid(tid, &status, __WALL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return;
    if (WIFEXITED(status) || WIFSIGNALED(status)) return;
  }
}

// Injects `ops` in order through the stopped thread `tid`.
Result<void> InjectOps(pid_t tid, const StubLayout& L, const std::vector<Op>& ops) {
  arch::Registers base;
  TRY(GetRegs(tid, &base));
  for (const Op& op : ops) {
    uint64_t rax;
    if (op.kind == Op::kMap) {
      rax = TRY(InjectSyscall(tid, base, L.inject, L.inject_trap, SYS_mmap, op.addr, op.len,
                              op.prot, MAP_SHARED | MAP_FIXED, kStubMemFd, op.offset));
      if (rax != op.addr) {
        return static_cast<int64_t>(rax) < 0 ? Errno::kENOMEM : Errno::kEFAULT;
      }
    } else {
      rax = TRY(InjectSyscall(tid, base, L.inject, L.inject_trap, SYS_munmap, op.addr, op.len));
      if (rax != 0) return Errno::kENOMEM;
    }
  }
  return Ok();
}

}  // namespace

pid_t CurrentTid() {
  thread_local const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  return tid;
}

StubProcess::StubProcess(std::shared_ptr<Shared> s, pid_t p) : shared_(std::move(s)), pid_(p) {
  absl::MutexLock l(&mu_);
  spares_.push_back(p);  // the leader, parked after its set-up
}

Result<void> StubProcess::Queue(const Op& op) {
  absl::MutexLock l(&mu_);
  if (dead_) return Errno::kESRCH;
  ++queued_seq_;
  ops_pending_.store(true);
  if (!ops_.empty()) {
    Op& last = ops_.back();
    if (last.kind == op.kind && last.addr + last.len == op.addr &&
        (op.kind == Op::kUnmap || (last.prot == op.prot && last.offset + last.len == op.offset))) {
      last.len += op.len;
      return Ok();
    }
  }
  ops_.push_back(op);
  return Ok();
}

Result<void> StubProcess::ApplyOps(pid_t tid) {
  absl::MutexLock a(&apply_mu_);
  std::vector<Op> ops;
  uint64_t seq;
  {
    absl::MutexLock l(&mu_);
    ops.swap(ops_);
    seq = queued_seq_;
  }
  if (ops.empty()) return Ok();
  Result<void> r = InjectOps(tid, shared_->layout, ops);
  absl::MutexLock l(&mu_);
  if (seq > applied_seq_) applied_seq_ = seq;
  // Cleared only now: a Switch that starts while a batch is in flight must wait for it (in
  // ApplyOps, on apply_mu_), not run its guest before the batch is in effect.
  ops_pending_.store(queued_seq_ > applied_seq_);
  cv_.SignalAll();
  return r;
}

Result<void> StubProcess::Sync() {
  const pid_t me = CurrentTid();
  pid_t mine = 0;
  std::vector<pid_t> running;
  uint64_t seq;
  {
    absl::MutexLock l(&mu_);
    if (dead_) return Errno::kESRCH;
    seq = queued_seq_;
    if (applied_seq_ >= seq) return Ok();
    for (const Tracer& t : tracers_) {
      if (t.running == nullptr) continue;
      if (t.owner == me) mine = t.tid;
      uint64_t v = t.running->load();
      if (static_cast<pid_t>(v >> 32) == pid_) running.push_back(static_cast<pid_t>(v));
    }
  }
  // No guest code of this process runs outside Switch(), and every Switch applies the queue
  // before its guest runs: nothing can see the old mappings.
  if (running.empty()) return Ok();
  // The caller is a guest thread of this process between two Switches: its stub thread is
  // stopped, and an mmap/munmap made by any thread of the process is in effect for all of them
  // (with TLB shoot-down) when it returns.
  if (mine != 0) return ApplyOps(mine);
  for (pid_t tid : running) syscall(SYS_tgkill, pid_, tid, kInterruptSignal);
  absl::MutexLock l(&mu_);
  while (applied_seq_ < seq && !dead_) cv_.Wait(&mu_);
  return dead_ ? Result<void>(Errno::kESRCH) : Ok();
}

pid_t StubProcess::MakeSpare(pid_t tid, bool birth_spare) {
  arch::Registers regs;
  if (!GetRegs(tid, &regs).ok()) return 0;
  if (birth_spare) {
    // r12 holds what the leader's birth clone returned (or junk inherited from the template
    // if it never got there): trust it only if it names another thread of this process.
    const int64_t s = static_cast<int64_t>(regs.r12);
    if (s > 0 && s <= INT_MAX && s != pid_ && syscall(SYS_tgkill, pid_, s, 0) == 0) {
      return static_cast<pid_t>(s);
    }
  }
  const StubLayout& L = shared_->layout;
  Result<uint64_t> child = InjectSyscall(tid, regs, L.clone_thread, L.clone_thread_trap,
                                         SYS_clone, kStubThreadCloneFlags);
  if (!child.ok() || static_cast<int64_t>(*child) <= 0) return 0;
  return static_cast<pid_t>(*child);
}

Result<pid_t> StubProcess::ClaimThread(const void* ctx, const std::atomic<uint64_t>* running) {
  pid_t tid;
  bool make = false, birth = false;
  {
    absl::MutexLock l(&mu_);
    for (;;) {
      if (dead_) return Errno::kESRCH;
      if (!spares_.empty()) break;
      if (producing_ == 0) return Errno::kEAGAIN;  // the last attempt to make a spare failed
      cv_.Wait(&mu_);  // another Context is making one (a few microseconds)
    }
    // Prefer the leader: a single-threaded guest then runs on the process's first thread.
    auto it = std::find(spares_.begin(), spares_.end(), pid_);
    if (it == spares_.end()) it = spares_.end() - 1;
    tid = *it;
    spares_.erase(it);
    if (tid == pid_ && !leader_seized_) {
      leader_seized_ = true;  // its birth spare is the one counted in producing_ from the start
      make = birth = true;
    } else if (spares_.empty() && producing_ == 0) {
      make = true;
      ++producing_;
    }
    tracers_.push_back(Tracer{ctx, tid, CurrentTid(), running});
  }
  Result<void> r = SeizeParked(tid, shared_->layout);
  if (make) {
    pid_t spare = r.ok() ? MakeSpare(tid, birth) : 0;
    absl::MutexLock l(&mu_);
    --producing_;
    if (spare > 0 && !dead_) spares_.push_back(spare);
    cv_.SignalAll();
  }
  if (!r.ok()) {
    // The thread's state is unknown (it may be traced by us): keep its tid so Kill reaps it,
    // but forget the Context.
    absl::MutexLock l(&mu_);
    for (Tracer& t : tracers_) {
      if (t.ctx == ctx && t.tid == tid) t.ctx = nullptr, t.running = nullptr;
    }
    dead_ = true;
    cv_.SignalAll();
    return Errno::kESRCH;
  }
  return tid;
}

void StubProcess::ReleaseThread(const void* ctx, pid_t tid, bool can_ptrace) {
  enum { kPark, kExit } what;
  {
    absl::MutexLock l(&mu_);
    auto it = std::find_if(tracers_.begin(), tracers_.end(),
                           [&](const Tracer& t) { return t.ctx == ctx && t.tid == tid; });
    if (it == tracers_.end()) return;
    if (killed_) {
      tracers_.erase(it);
      return;
    }
    if (dead_ || !can_ptrace) {
      // Leave the thread traced by its host thread; Kill reaps it. Forget the Context.
      it->ctx = nullptr;
      it->running = nullptr;
      return;
    }
    const size_t idle = std::count_if(spares_.begin(), spares_.end(),
                                      [&](pid_t s) { return s != pid_; });
    if (tid == pid_) {
      what = kPark;  // the leader never exits while the process lives
    } else if (idle + returning_ + producing_ < kMaxSpareThreads) {
      // (A spare being made counts: it lands in spares_ too.)
      what = kPark;
      ++returning_;
    } else {
      // Forget it first: if Kill races, our ExitThread reaps it, and Kill must not wait for a
      // tid that may already be reused.
      what = kExit;
      tracers_.erase(it);
    }
  }
  const StubLayout& L = shared_->layout;
  if (what == kExit) {
    (void)ExitThread(tid, L);
    return;
  }
  Result<void> r = ParkAndDetach(tid, L);
  absl::MutexLock l(&mu_);
  auto it = std::find_if(tracers_.begin(), tracers_.end(),
                         [&](const Tracer& t) { return t.ctx == ctx && t.tid == tid; });
  if (it != tracers_.end()) tracers_.erase(it);
  if (tid != pid_) --returning_;
  if (r.ok() && !dead_) {
    spares_.push_back(tid);
    cv_.SignalAll();
  }
}

void StubProcess::MarkDead() {
  absl::MutexLock l(&mu_);
  dead_ = true;
  cv_.SignalAll();
}

void StubProcess::Kill() {
  std::vector<pid_t> traced;
  {
    absl::MutexLock l(&mu_);
    if (killed_) return;
    killed_ = true;
    dead_ = true;
    ops_.clear();
    ops_pending_.store(false);
    // Claimed threads are traced by sentry threads: once killed they stay zombies until one of
    // the sentry's threads reaps them (any thread of the tracer's thread group may), and the
    // leader cannot be reaped before them. Spares are untraced and reaped by the kernel.
    for (const Tracer& t : tracers_) {
      if (t.tid != pid_) traced.push_back(t.tid);
    }
    cv_.SignalAll();
  }
  kill(pid_, SIGKILL);
  for (pid_t tid : traced) Reap(tid);
  Reap(pid_);
}

}  // namespace sbx::platform::ptrace
