// The Interruptible of the syscall running on this host thread, so blocking file operations
// (pipe reads/writes) can stop when the task is signalled without widening every
// FileDescription method. The syscall layer installs it with ScopedInterruptible. Blocked
// calls wait on a fs::Waiter (fs/waiter.h) filed under this Interruptible, so a signal
// sender's KickWaiter wakes them at once.
#pragma once

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

inline bool CurrentlyInterrupted() {
  Interruptible* i = CurrentInterruptible();
  return i != nullptr && i->Interrupted();
}

}  // namespace sbx::fs
