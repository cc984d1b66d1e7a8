// Waiters, wait queues and the kick registry.
#include "fs/waiter.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "fs/blocking.h"

namespace sbx::fs {

namespace {

// Interruptible -> the innermost Waiter blocked for it. Waits of one task are nested on its
// single host thread, so each Waiter remembers the previous one and restores it.
struct KickRegistry {
  absl::Mutex mu;
  absl::flat_hash_map<const Interruptible*, Waiter*> waiters ABSL_GUARDED_BY(mu);
};

KickRegistry& Registry() {
  static KickRegistry* r = new KickRegistry();
  return *r;
}

}  // namespace

Waiter::Waiter() : Waiter(CurrentInterruptible()) {}

Waiter::Waiter(const Interruptible* owner) : owner_(owner) {
  if (owner_ == nullptr) return;
  KickRegistry& r = Registry();
  absl::MutexLock l(&r.mu);
  Waiter*& slot = r.waiters[owner_];
  prev_for_owner_ = slot;
  slot = this;
}

Waiter::~Waiter() {
  if (owner_ == nullptr) return;
  KickRegistry& r = Registry();
  absl::MutexLock l(&r.mu);
  if (prev_for_owner_ != nullptr) {
    r.waiters[owner_] = prev_for_owner_;
  } else {
    r.waiters.erase(owner_);
  }
}

void Waiter::Notify(uint32_t events) {
  absl::MutexLock l(&mu_);
  events_ |= events;
  cv_.Signal();
}

void Waiter::Kick() {
  absl::MutexLock l(&mu_);
  kicked_ = true;
  cv_.Signal();
}

uint32_t Waiter::Wait(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (events_ == 0 && !kicked_) {
    bool timed_out;
    {
      ScopedBlocked blocked;
      timed_out = cv_.WaitWithDeadline(&mu_, deadline);
    }
    if (timed_out) break;
  }
  kicked_ = false;
  return std::exchange(events_, 0u);
}

uint32_t Waiter::Take() {
  absl::MutexLock l(&mu_);
  kicked_ = false;
  return std::exchange(events_, 0u);
}

void WaitQueue::Add(Waiter* w, uint32_t mask) {
  absl::MutexLock l(&mu_);
  entries_.push_back(Entry{w, mask});
}

void WaitQueue::Remove(Waiter* w) {
  absl::MutexLock l(&mu_);
  std::erase_if(entries_, [w](const Entry& e) { return e.w == w; });
}

void WaitQueue::Notify(uint32_t events) {
  absl::MutexLock l(&mu_);
  for (const Entry& e : entries_) {
    if (e.mask & events) e.w->Notify(events & e.mask);
  }
}

bool WaitQueue::empty() const {
  absl::MutexLock l(&mu_);
  return entries_.empty();
}

void KickWaiter(const Interruptible* who) {
  if (who == nullptr) return;
  KickRegistry& r = Registry();
  absl::MutexLock l(&r.mu);
  auto it = r.waiters.find(who);
  if (it != r.waiters.end()) it->second->Kick();
}

}  // namespace sbx::fs
