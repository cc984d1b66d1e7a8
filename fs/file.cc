// FileDescription helpers shared by all file types.
#include "fs/file.h"

#include "sentry/abi/file.h"

namespace sbx::fs {

void FileDescription::set_status_flags(uint32_t f) {
  // setfl() in fs/fcntl.c: only these bits may change.
  constexpr uint32_t kSettable =
      abi::kO_APPEND | abi::kO_ASYNC | abi::kO_DIRECT | abi::kO_NOATIME | abi::kO_NONBLOCK;
  uint32_t old = flags_.load();
  while (!flags_.compare_exchange_weak(old, (old & ~kSettable) | (f & kSettable))) {
  }
}

}  // namespace sbx::fs

#include "fs/blocking.h"

namespace sbx::fs {
namespace {
thread_local Interruptible* current_interruptible = nullptr;
}  // namespace

Interruptible* CurrentInterruptible() { return current_interruptible; }
ScopedInterruptible::ScopedInterruptible(Interruptible* i) : prev_(current_interruptible) {
  current_interruptible = i;
}
ScopedInterruptible::~ScopedInterruptible() { current_interruptible = prev_; }

}  // namespace sbx::fs
