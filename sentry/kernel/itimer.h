// Interval timers of a process (kernel/time/itimer.c): ITIMER_REAL (alarm(2) too),
// ITIMER_VIRTUAL and ITIMER_PROF, plus the process's CPU-time accounting they run on.
//
// ITIMER_REAL runs on the sandbox-wide TimerService: one host thread that sleeps until the
// earliest deadline of every armed timer (host CLOCK_MONOTONIC), so host threads stay
// bounded whatever the guest arms. At expiry it sends SIGALRM (si_code SI_KERNEL, like
// it_real_fn's SEND_SIG_PRIV) to the thread group and, for a periodic timer, re-arms at the
// next multiple of the interval after now (Linux re-arms when SIGALRM is dequeued; the
// difference is visible only while SIGALRM stays blocked, when getitimer reports a running
// timer instead of 0).
//
// ITIMER_VIRTUAL/PROF count down the CPU time charged with ChargeCpu (user time for
// VIRTUAL, user + system for PROF) and send SIGVTALRM/SIGPROF from the charging thread.
// The guest runs in a stub process the sentry cannot time precisely, so the run loop
// charges wall time: time in Switch() as user time, time serving syscalls as system time.
//
// Lifetime: the ThreadGroup owns its ITimers. The timer thread reaches a group only through
// a shared state whose group pointer Shutdown() (or the destructor) clears under the state's
// lock, so a firing timer either completes its SendGroupSignal before Shutdown returns or
// sees no group at all.
//
// Lock order: ITimers::State::mu -> ThreadGroup/Task signal locks; ITimers::State::mu ->
// TimerService::mu_. The timer thread runs callbacks without TimerService::mu_ held.
// Shutdown() must not be called with ThreadGroup locks held.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/abi/result.h"

namespace sbx::kernel {

class ThreadGroup;

// Runs callbacks at host CLOCK_MONOTONIC deadlines on one shared host thread (started on
// first use, never stopped). Callbacks must be short and must not call Cancel.
class TimerService {
 public:
  using Id = uint64_t;
  static TimerService& Get();

  // Schedules `fn` to run at `deadline_ns` (host CLOCK_MONOTONIC). Thread-safe.
  Id Schedule(int64_t deadline_ns, std::function<void()> fn);
  // Removes a timer that has not started running; false if it already ran or is running.
  bool Cancel(Id id);
  // Number of timers waiting (tests).
  size_t PendingForTesting() const;

 private:
  TimerService() = default;
  void Loop();

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::map<std::pair<int64_t, Id>, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
  std::map<Id, int64_t> deadlines_ ABSL_GUARDED_BY(mu_);
  Id next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

// An itimer value in nanoseconds: `value` is the time left (0: disarmed), `interval` the
// reload value (0: one-shot).
struct ITimerSpec {
  int64_t value_ns = 0;
  int64_t interval_ns = 0;
};

inline constexpr int kITimerReal = 0, kITimerVirtual = 1, kITimerProf = 2;

class ITimers {
 public:
  explicit ITimers(ThreadGroup& tg);
  ~ITimers();
  ITimers(const ITimers&) = delete;
  ITimers& operator=(const ITimers&) = delete;

  // getitimer(): the timer `which` (ITIMER_*); EINVAL for another value. An armed timer
  // whose expiry is due reports 1 us left, never 0 (itimer_get_remtime).
  Result<ITimerSpec> Get(int which) const;
  // setitimer(): arms `which` with `spec` relative to now (value 0 disarms) and returns the
  // previous setting. EINVAL for a bad `which`; values must be non-negative.
  Result<ITimerSpec> Set(int which, const ITimerSpec& spec);

  // Charges CPU time to the process (the run loop's hook): advances the CPU clocks and
  // ITIMER_VIRTUAL (user) / ITIMER_PROF (user + sys), sending SIGVTALRM/SIGPROF on expiry.
  // Called on the charging task's own thread.
  void ChargeCpu(int64_t user_ns, int64_t sys_ns);
  struct CpuTimes {
    int64_t user_ns = 0, sys_ns = 0;
  };
  // The CPU time charged so far (times(2), getrusage(2)).
  CpuTimes cpu_times() const;

  // Disarms every timer and detaches from the group: no signal is sent after it returns.
  // Called at process exit (a zombie gets no SIGALRM) and by the destructor. Idempotent.
  void Shutdown();

 private:
  struct State;  // itimer.cc; shared with the timer thread's callbacks
  std::shared_ptr<State> state_;
};

}  // namespace sbx::kernel
