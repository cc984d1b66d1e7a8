// The Interruptible of the syscall running on this host thread, so blocking file operations
// (pipe reads/writes) can stop when the task is signalled without widening every
// FileDescription method. The syscall layer installs it with ScopedInterruptible. Blocked
// calls wait on a fs::Waiter (fs/waiter.h) filed under this Interruptible, so a signal
// sender's KickWaiter wakes them at once.
#pragma once

#include <time.h>

#include <cstdint>

#include "fs/file.h"

namespace sbx::fs {

// The current thread's Interruptible, or null outside a syscall (tests: never interrupted).
Interruptible* CurrentInterruptible();

class ScopedInterruptible {
 public:
  explicit ScopedInterruptible(Interruptible* i);
  ~ScopedInterruptible();
  ScopedInterruptible(const ScopedInterruptible&) = delete;
  ScopedInterruptible& operator=(const ScopedInterruptible&) = delete;

 private:
  Interruptible* prev_;
};

// Wall time this host thread spent asleep in blocking waits (futex, wait queues, wait(2),
// host-FD polls) since the last TakeBlockedNs(). The run loop subtracts it from the time it
// charges as system CPU, so sleeping is not billed (a cheap stand-in for reading the thread
// CPU clock, which is a real syscall here: ~0.8 us, twice per guest exit).
inline thread_local int64_t tls_blocked_ns = 0;

inline int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

inline int64_t TakeBlockedNs() {
  int64_t v = tls_blocked_ns;
  tls_blocked_ns = 0;
  return v;
}

// Put around one blocking sleep.
class ScopedBlocked {
 public:
  ScopedBlocked() : start_(MonotonicNowNs()) {}
  ~ScopedBlocked() { tls_blocked_ns += MonotonicNowNs() - start_; }
  ScopedBlocked(const ScopedBlocked&) = delete;
  ScopedBlocked& operator=(const ScopedBlocked&) = delete;

 private:
  int64_t start_;
};

inline bool CurrentlyInterrupted() {
  Interruptible* i = CurrentInterruptible();
  return i != nullptr && i->Interrupted();
}

}  // namespace sbx::fs
