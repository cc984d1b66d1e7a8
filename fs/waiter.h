// Wait queues and waiters: how a blocked task learns that a file's readiness changed (Linux
// wait_queue_head_t + the poll table's wait entries).
//
// A Waiter belongs to one blocking call on one host thread (poll/select, a blocking pipe
// read, a sleep). It is registered on the WaitQueue of every object it waits for, with an
// event mask; WaitQueue::Notify(events) wakes the waiters whose mask intersects `events`.
// Notifications latch: one that arrives between registration and the wait is not lost, so
// the pattern is "register, re-check the condition, wait".
//
// Signals: a Waiter is also filed under the Interruptible it runs for (the task), so
// KickWaiter(task) wakes it at once when a signal becomes pending; until every sender calls
// KickWaiter, waits also wake every kInterruptSlice to re-check Interrupted().
//
// Lock order: (an object's own lock, e.g. Pipe::mu_) -> WaitQueue::mu_ -> Waiter::mu_; the
// kick registry's lock -> Waiter::mu_. A waiter never takes a queue's lock while holding its
// own.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fs/file.h"

namespace sbx::fs {

// Upper bound on how long a waiter sleeps before re-checking its Interruptible on its own.
inline constexpr absl::Duration kInterruptSlice = absl::Milliseconds(10);

class Waiter {
 public:
  // `owner` (default: the current thread's Interruptible, may be null) is the task whose
  // signals should wake this waiter through KickWaiter.
  Waiter();
  explicit Waiter(const Interruptible* owner);
  ~Waiter();
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // Records `events` and wakes the waiting thread. Any thread.
  void Notify(uint32_t events);
  // Waits until a Notify (or kick) newer than the last Take(), or `timeout`. Returns and
  // clears the accumulated events (0 after a timeout or a bare kick).
  uint32_t Wait(absl::Duration timeout);
  // Returns and clears the events accumulated so far without waiting.
  uint32_t Take();

 private:
  friend void KickWaiter(const Interruptible* who);
  void Kick();

  const Interruptible* const owner_;
  Waiter* prev_for_owner_ = nullptr;  // the owner's previous waiter (nested waits)
  absl::Mutex mu_;
  absl::CondVar cv_;
  uint32_t events_ ABSL_GUARDED_BY(mu_) = 0;
  bool kicked_ ABSL_GUARDED_BY(mu_) = false;
};

// The waiters interested in one object's readiness. Thread-safe.
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;
  // Registers `w` for `mask` (a waiter registers at most once per queue).
  void Add(Waiter* w, uint32_t mask);
  // Unregisters `w` (no-op if absent). After it returns, the queue never touches `w` again.
  void Remove(Waiter* w);
  // Wakes every waiter whose mask intersects `events`.
  void Notify(uint32_t events);
  bool empty() const;

 private:
  struct Entry {
    Waiter* w;
    uint32_t mask;
  };
  mutable absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// RAII registration of a waiter on a queue.
class ScopedWait {
 public:
  ScopedWait(WaitQueue* q, Waiter* w, uint32_t mask) : q_(q), w_(w) {
    if (q_ != nullptr) q_->Add(w_, mask);
  }
  ~ScopedWait() {
    if (q_ != nullptr) q_->Remove(w_);
  }
  ScopedWait(const ScopedWait&) = delete;
  ScopedWait& operator=(const ScopedWait&) = delete;

 private:
  WaitQueue* q_;
  Waiter* w_;
};

// Wakes the waiter `who` is currently blocked on (if any), so it re-checks Interrupted()
// now. Call after making a signal pending for `who` (or asking it to exit). Any thread.
void KickWaiter(const Interruptible* who);

}  // namespace sbx::fs
