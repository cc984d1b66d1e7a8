// FutexManager: see futex.h. Mirrors kernel/futex/waitwake.c and requeue.c for the
// non-PI operations.
#include "sentry/kernel/futex.h"
#include "fs/blocking.h"

#include <time.h>

#include <algorithm>

#include "absl/time/time.h"

namespace sbx::kernel {

int64_t HostClockNs(int clock) {
  struct timespec ts;
  if (clock_gettime(clock, &ts) != 0) clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void FutexManager::RemoveLocked(Waiter* w) {
  auto it = queues_.find(w->key);
  if (it == queues_.end()) return;
  it->second.remove(w);
  if (it->second.empty()) queues_.erase(it);
}

Result<void> FutexManager::Wait(Key key, uint32_t expected, uint32_t bitset, const LoadFn& load,
                                std::optional<Deadline> deadline,
                                const fs::Interruptible* intr) {
  if (bitset == 0) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  uint32_t cur = TRY(load());
  if (cur != expected) return Errno::kEAGAIN;

  Waiter w;
  w.key = key;
  w.bitset = bitset;
  w.owner = intr;
  queues_[key].push_back(&w);

  while (!w.woken) {
    if (intr != nullptr && intr->Interrupted()) {
      RemoveLocked(&w);
      return Errno::kEINTR;
    }
    int64_t slice = kPollSliceNs;
    if (deadline) {
      int64_t left = deadline->ns - HostClockNs(deadline->clock);
      if (left <= 0) {
        RemoveLocked(&w);
        return Errno::kETIMEDOUT;
      }
      slice = std::min(slice, left);
    }
    fs::ScopedBlocked blocked;
    w.cv.WaitWithTimeout(&mu_, absl::Nanoseconds(slice));
  }
  return Ok();
}

Result<int> FutexManager::Wake(Key key, int n, uint32_t bitset) {
  if (bitset == 0) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  auto it = queues_.find(key);
  if (it == queues_.end()) return 0;
  int woken = 0;
  Queue& q = it->second;
  for (auto wit = q.begin(); wit != q.end();) {
    Waiter* w = *wit;
    if ((w->bitset & bitset) == 0) {
      ++wit;
      continue;
    }
    wit = q.erase(wit);
    w->woken = true;
    w->cv.Signal();
    if (++woken >= n) break;
  }
  if (q.empty()) queues_.erase(it);
  return woken;
}

Result<int> FutexManager::Requeue(Key from, Key to, int nwake, int nrequeue,
                                  std::optional<uint32_t> expected, const LoadFn& load) {
  if (nwake < 0 || nrequeue < 0) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  if (expected) {
    uint32_t cur = TRY(load());
    if (cur != *expected) return Errno::kEAGAIN;
  }
  auto it = queues_.find(from);
  if (it == queues_.end()) return 0;
  // Detach the source queue first: inserting into queues_ may rehash and move it.
  Queue q = std::move(it->second);
  queues_.erase(it);
  int woken = 0, moved = 0;
  Queue rest;
  for (Waiter* w : q) {
    if (woken < nwake) {
      w->woken = true;
      w->cv.Signal();
      ++woken;
    } else if (moved < nrequeue && !(from == to)) {
      w->key = to;
      queues_[to].push_back(w);
      ++moved;
    } else {
      if (from == to && moved < nrequeue) ++moved;
      rest.push_back(w);
    }
  }
  if (!rest.empty()) {
    Queue& dst = queues_[from];
    dst.splice(dst.begin(), rest);
  }
  return woken + moved;
}

void FutexManager::Kick(const fs::Interruptible* who) {
  absl::MutexLock l(&mu_);
  for (auto& [key, q] : queues_) {
    for (Waiter* w : q) {
      if (w->owner == who) w->cv.Signal();
    }
  }
}

int FutexManager::WaitersForTesting(Key key) const {
  absl::MutexLock l(&mu_);
  auto it = queues_.find(key);
  return it == queues_.end() ? 0 : static_cast<int>(it->second.size());
}

}  // namespace sbx::kernel
