// The futex manager (Linux kernel/futex/): queues of tasks blocked in FUTEX_WAIT*, keyed by
// address, woken by FUTEX_WAKE* with bitsets and moved by FUTEX_*REQUEUE.
//
// Keys: a private futex is (address-space identity, address); a shared futex is keyed by
// address alone (space 0) for now. This is exact while one address space exists; once fork
// shares memory between processes, shared keys must become (memory-file offset) like Linux's
// inode/offset keys.
//
// Invariants: a waiter is queued on exactly one key until it is woken (removed by the waker) or
// leaves on timeout/interrupt (removes itself). The value check in Wait runs under mu_, so a
// waker that changes the value and then calls Wake cannot be missed (the Linux ordering).
//
// Lock order: FutexManager::mu_ is taken before guest-memory locks (the `load` callback of Wait
// and Requeue runs with mu_ held and may read guest memory); it is never held while a caller
// holds Task/ThreadGroup/Kernel locks. It is a single lock for all keys (sharding later).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "fs/file.h"
#include "sentry/abi/result.h"

namespace sbx::kernel {

class FutexManager {
 public:
  struct Key {
    uint64_t space = 0;  // address-space identity for private futexes; 0 for shared
    uint64_t addr = 0;
    bool operator==(const Key&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.space, k.addr);
    }
  };

  // An absolute deadline on a host clock (CLOCK_MONOTONIC or CLOCK_REALTIME).
  struct Deadline {
    int clock = 1;  // host clockid_t
    int64_t ns = 0;
  };

  // Reads the current 32-bit futex word (from guest memory); runs with mu_ held.
  using LoadFn = std::function<Result<uint32_t>()>;

  FutexManager() = default;
  FutexManager(const FutexManager&) = delete;
  FutexManager& operator=(const FutexManager&) = delete;

  // futex_wait(): if load() != expected returns EAGAIN (or load's error, e.g. EFAULT);
  // otherwise blocks until woken by a matching Wake/Requeue (Ok), the deadline passes
  // (ETIMEDOUT), or `intr` reports Interrupted() (EINTR). EINVAL if bitset == 0.
  Result<void> Wait(Key key, uint32_t expected, uint32_t bitset, const LoadFn& load,
                    std::optional<Deadline> deadline, const fs::Interruptible* intr);

  // futex_wake(): wakes up to `n` waiters on `key` whose bitset intersects `bitset` (at least
  // one even for n <= 0, like Linux). Returns the number woken; EINVAL if bitset == 0.
  Result<int> Wake(Key key, int n, uint32_t bitset);

  // futex_requeue(): if `expected` is set and load() differs, EAGAIN. Wakes up to `nwake`
  // waiters on `from` and moves up to `nrequeue` more to `to`. Returns woken + requeued.
  // EINVAL for negative counts.
  Result<int> Requeue(Key from, Key to, int nwake, int nrequeue,
                      std::optional<uint32_t> expected, const LoadFn& load);

  // Makes any Wait by `who` re-check its Interrupted() now instead of at the next poll.
  void Kick(const fs::Interruptible* who);

  // Number of tasks waiting on `key` (tests, /proc).
  int WaitersForTesting(Key key) const;

  // Upper bound on how long a waiter sleeps before re-checking Interrupted() on its own.
  static constexpr int64_t kPollSliceNs = 20'000'000;

 private:
  struct Waiter {
    Key key;
    uint32_t bitset = 0;
    bool woken = false;
    const fs::Interruptible* owner = nullptr;
    absl::CondVar cv;
  };
  using Queue = std::list<Waiter*>;

  void RemoveLocked(Waiter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<Key, Queue> queues_ ABSL_GUARDED_BY(mu_);
};

// Host CLOCK_* time in nanoseconds.
int64_t HostClockNs(int clock);

}  // namespace sbx::kernel
