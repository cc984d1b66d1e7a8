// One stub process: the host side of one ptrace AddressSpace, with its stub threads and its
// queue of memory operations. Shared (shared_ptr) by the address space and every Context that
// traces one of its threads. See README.md ("Threads", "Memory operations").
//
// Threads. The leader (tid == pid) and any number of extra threads. Each thread is at any time
// either *claimed* by exactly one Context (a Tracer entry; only that Context's host thread
// ptraces it) or a *spare*: untraced, parked in the stub's park loop, in `spares`. A Context
// claims a spare (SEIZE + INTERRUPT), and whoever takes the last spare clones a new one from
// the thread it just took, so a Context never needs another Context's cooperation to get a
// thread. The leader never exits while the process lives (it parks instead); other threads
// exit (injected SYS_exit) when their Context goes and kMaxSpareThreads spares already wait.
//
// Memory operations are queued (any thread) and applied in queue order by some thread that
// traces a stub thread (apply_mu orders the batches). Invariant making Sync() cheap and sound:
// every Context that is inside Switch() (its running word names this process) applies the
// queue before its guest runs, when kicked by the interrupt signal while its guest runs, and
// before it leaves Switch(); guest code of this process runs only inside Switch(). Both sides
// use seq_cst: Queue stores ops_pending then Sync loads running words; Switch stores its
// running word then loads ops_pending. So either Switch sees the op, or Sync sees the Context
// running and can rely on it.
//
// Lock order: Shared::template_mu, StubProcess::apply_mu, StubProcess::mu. None is held while a
// guest runs.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "platform/platform.h"
#include "platform/ptrace/stub.h"
#include "sentry/abi/result.h"

namespace sbx::platform::ptrace {

// State shared by the platform and every address space and context it made (they may outlive
// the Platform object).
struct Shared {
  StubLayout layout;
  MemoryFileInfo memfile;
  pid_t sentry_pid = 0;
  pid_t template_pid = 0;
  absl::Mutex template_mu;  // serialises seize/inject/detach of the template
};

struct Op {
  enum Kind { kMap, kUnmap } kind;
  uint64_t addr, len, offset;
  int prot;
};

// At most this many parked non-leader threads per process; more are made to exit. (The leader
// parks too when its Context goes, so a process idles with at most 1 + this many threads.)
inline constexpr size_t kMaxSpareThreads = 1;

// The calling host thread's tid (cached).
pid_t CurrentTid();

// A running word: (tgid << 32) | tid of the stub thread a Context is switched into, or 0.
inline uint64_t RunningWord(pid_t pid, pid_t tid) {
  return (static_cast<uint64_t>(pid) << 32) | static_cast<uint32_t>(tid);
}

class StubProcess {
 public:
  StubProcess(std::shared_ptr<Shared> s, pid_t p);

  const std::shared_ptr<Shared>& shared() const { return shared_; }
  pid_t pid() const { return pid_; }
  bool dead() const { return dead_.load(); }
  // True if memory operations are queued or being applied (any thread).
  bool ops_pending() const { return ops_pending_.load(); }

  // Queues `op`, merging it into the previous one when they are contiguous and alike.
  Result<void> Queue(const Op& op);

  // Returns once every queued operation is in effect for all guest code of this process (see
  // AddressSpace::Sync). Lazy when no Context is inside Switch() here; otherwise applies the
  // queue through the caller's own stub thread if it has one, else kicks the running Contexts
  // and waits until one of them applied it.
  Result<void> Sync();

  // Applies the queued operations through `tid`, a stopped stub thread of this process traced
  // by the caller. Consumes the queue even on failure (waiters are released).
  Result<void> ApplyOps(pid_t tid);

  // Claims a stub thread for the Context `ctx` (its host thread is the caller) and seizes it:
  // a parked spare, waiting briefly if another Context is making one. Leaves it stopped in the
  // park loop. `running` is the Context's running word (read by Sync). ESRCH if the process is
  // dead or the thread could not be seized (the process is then marked dead), EAGAIN if no
  // thread can be had.
  Result<pid_t> ClaimThread(const void* ctx, const std::atomic<uint64_t>* running);

  // Gives back the thread `ctx` claimed. If `can_ptrace` (the caller is the claiming Context's
  // host thread) the thread is parked as a spare or made to exit; otherwise it stays traced by
  // that thread until Kill (ptrace requests from other threads fail).
  void ReleaseThread(const void* ctx, pid_t tid, bool can_ptrace);

  // Marks the process unusable (a stub thread failed); Kill still reaps it. Wakes waiters.
  void MarkDead();
  // Kills every thread of the process and reaps them. Idempotent. Wakes waiters.
  void Kill();
  // True once Kill ran: nothing of the process is left to reap or detach.
  bool killed() {
    absl::MutexLock l(&mu_);
    return killed_;
  }

 private:
  struct Tracer {
    const void* ctx;                        // identity of the claiming Context
    pid_t tid;                              // the claimed stub thread
    pid_t owner;                            // the Context's host thread
    const std::atomic<uint64_t>* running;   // the Context's running word; null once it is gone
  };

  // A new spare thread: the leader's birth spare (tid in r12 the first time the leader is
  // seized), else a clone injected through `tid`. 0 if none could be made.
  pid_t MakeSpare(pid_t tid, bool birth_spare);

  const std::shared_ptr<Shared> shared_;
  const pid_t pid_;
  absl::Mutex apply_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  // Signalled when applied_seq_ advances, the process dies, or a spare appears / production
  // ends.
  absl::CondVar cv_;
  std::atomic<bool> dead_{false};         // written under mu_
  // queued_seq_ > applied_seq_: ops queued or in flight; written under mu_.
  std::atomic<bool> ops_pending_{false};
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Op> ops_ ABSL_GUARDED_BY(mu_);
  uint64_t queued_seq_ ABSL_GUARDED_BY(mu_) = 0;   // bumped by every Queue
  uint64_t applied_seq_ ABSL_GUARDED_BY(mu_) = 0;  // ops up to this seq are applied (or failed)
  std::vector<Tracer> tracers_ ABSL_GUARDED_BY(mu_);
  std::vector<pid_t> spares_ ABSL_GUARDED_BY(mu_);  // parked, untraced threads
  // Spares being made (the birth spare until the leader is first seized counts as one).
  int producing_ ABSL_GUARDED_BY(mu_) = 1;
  int returning_ ABSL_GUARDED_BY(mu_) = 0;  // non-leader threads on their way to `spares_`
  bool leader_seized_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sbx::platform::ptrace
