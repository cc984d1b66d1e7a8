// Interval timers and the shared timer thread (see itimer.h).
#include "sentry/kernel/itimer.h"

#include <time.h>

#include <algorithm>
#include <thread>

#include "absl/time/time.h"
#include "sentry/arch/signal.h"
#include "sentry/kernel/futex.h"
#include "sentry/kernel/kernel.h"

namespace sbx::kernel {

namespace {
constexpr int kSigAlrm = 14, kSigVtalrm = 26, kSigProf = 27;
constexpr int64_t kNsPerUs = 1000;

int64_t MonotonicNow() { return HostClockNs(CLOCK_MONOTONIC); }

int64_t SaturatingAdd(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

arch::Siginfo KernelSignal(int sig) {
  arch::Siginfo info;
  info.si_signo = sig;
  info.si_code = arch::kSiKernel;  // SEND_SIG_PRIV
  return info;
}
}  // namespace

// ---- TimerService ----

TimerService& TimerService::Get() {
  static TimerService* s = new TimerService();  // never destroyed: its thread outlives main
  return *s;
}

TimerService::Id TimerService::Schedule(int64_t deadline_ns, std::function<void()> fn) {
  absl::MutexLock l(&mu_);
  if (!started_) {
    started_ = true;
    std::thread([this] { Loop(); }).detach();
  }
  Id id = next_id_++;
  bool earliest = timers_.empty() || deadline_ns < timers_.begin()->first.first;
  timers_.emplace(std::make_pair(deadline_ns, id), std::move(fn));
  deadlines_.emplace(id, deadline_ns);
  if (earliest) cv_.Signal();
  return id;
}

bool TimerService::Cancel(Id id) {
  absl::MutexLock l(&mu_);
  auto it = deadlines_.find(id);
  if (it == deadlines_.end()) return false;
  timers_.erase(std::make_pair(it->second, id));
  deadlines_.erase(it);
  return true;
}

size_t TimerService::PendingForTesting() const {
  absl::MutexLock l(&mu_);
  return timers_.size();
}

void TimerService::Loop() {
  absl::MutexLock l(&mu_);
  for (;;) {
    if (timers_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    auto it = timers_.begin();
    const int64_t now = MonotonicNow();
    if (it->first.first > now) {
      cv_.WaitWithTimeout(&mu_, absl::Nanoseconds(it->first.first - now));
      continue;
    }
    std::function<void()> fn = std::move(it->second);
    deadlines_.erase(it->first.second);
    timers_.erase(it);
    mu_.Unlock();
    fn();
    mu_.Lock();
  }
}

// ---- ITimers ----

struct ITimers::State : std::enable_shared_from_this<State> {
  absl::Mutex mu;
  absl::CondVar fired;  // signalled when an in-flight SendGroupSignal returns
  ThreadGroup* tg ABSL_GUARDED_BY(mu) = nullptr;
  // ITIMER_REAL: absolute host CLOCK_MONOTONIC expiry (0: disarmed).
  int64_t real_deadline ABSL_GUARDED_BY(mu) = 0;
  int64_t real_interval ABSL_GUARDED_BY(mu) = 0;
  uint64_t real_gen ABSL_GUARDED_BY(mu) = 0;  // bumped on every re-set: stale fires no-op
  TimerService::Id real_id ABSL_GUARDED_BY(mu) = 0;
  // A SendGroupSignal in progress outside mu (it may re-enter Shutdown on the same thread,
  // e.g. when an unhandled SIGALRM kills the group).
  bool firing ABSL_GUARDED_BY(mu) = false;
  std::thread::id firing_thread ABSL_GUARDED_BY(mu);
  // ITIMER_VIRTUAL/PROF: CPU time left (value) and reload.
  ITimerSpec virt ABSL_GUARDED_BY(mu), prof ABSL_GUARDED_BY(mu);
  int64_t user_ns ABSL_GUARDED_BY(mu) = 0, sys_ns ABSL_GUARDED_BY(mu) = 0;

  // Cancels the queued ITIMER_REAL expiry and, if `deadline` != 0, queues a new one.
  void ArmRealLocked(int64_t deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (real_id != 0) TimerService::Get().Cancel(real_id);
    real_id = 0;
    real_gen++;
    real_deadline = deadline;
    if (deadline == 0) return;
    std::weak_ptr<State> weak = weak_from_this();
    uint64_t gen = real_gen;
    real_id = TimerService::Get().Schedule(deadline, [weak, gen] { FireReal(weak, gen); });
  }

  // Sends `sig` to the group with mu released, keeping Shutdown from returning meanwhile.
  void SendLocked(int sig) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    ThreadGroup* g = tg;
    if (g == nullptr) return;
    firing = true;
    firing_thread = std::this_thread::get_id();
    mu.Unlock();
    (void)g->SendGroupSignal(KernelSignal(sig));
    mu.Lock();
    firing = false;
    fired.SignalAll();
  }

  // it_real_fn(): SIGALRM, then the periodic reload (hrtimer_forward past now).
  static void FireReal(const std::weak_ptr<State>& weak, uint64_t gen) {
    std::shared_ptr<State> s = weak.lock();
    if (s == nullptr) return;
    absl::MutexLock l(&s->mu);
    if (s->tg == nullptr || s->real_gen != gen) return;
    s->real_id = 0;
    const int64_t expired = s->real_deadline;
    const int64_t interval = s->real_interval;
    s->SendLocked(kSigAlrm);
    if (s->tg == nullptr || s->real_gen != gen) return;  // re-set or shut down meanwhile
    if (interval == 0) {
      s->real_deadline = 0;
      return;
    }
    const int64_t now = MonotonicNow();
    int64_t next = SaturatingAdd(expired, interval);
    if (next <= now) next = SaturatingAdd(expired, ((now - expired) / interval + 1) * interval);
    s->ArmRealLocked(next);
  }

  // check_cpu_itimer(): counts `t` down by `ns`; true when it expired (and reloads it).
  static bool ChargeTimer(ITimerSpec& t, int64_t ns) {
    if (t.value_ns == 0 || ns <= 0) return false;
    t.value_ns -= ns;
    if (t.value_ns > 0) return false;
    t.value_ns = t.interval_ns > 0 ? std::max<int64_t>(t.value_ns + t.interval_ns, 1) : 0;
    return true;
  }
};

ITimers::ITimers(ThreadGroup& tg) : state_(std::make_shared<State>()) {
  absl::MutexLock l(&state_->mu);
  state_->tg = &tg;
}

ITimers::~ITimers() { Shutdown(); }

void ITimers::Shutdown() {
  State& s = *state_;
  absl::MutexLock l(&s.mu);
  s.tg = nullptr;
  s.ArmRealLocked(0);
  s.real_interval = 0;
  s.virt = s.prof = ITimerSpec{};
  // A fire on another thread may still be inside SendGroupSignal: wait for it, so the group
  // can be destroyed once we return. On the firing thread itself the group is alive anyway.
  while (s.firing && s.firing_thread != std::this_thread::get_id()) s.fired.Wait(&s.mu);
}

Result<ITimerSpec> ITimers::Get(int which) const {
  State& s = *state_;
  absl::MutexLock l(&s.mu);
  switch (which) {
    case kITimerReal: {
      ITimerSpec out{0, s.real_interval};
      if (s.real_deadline != 0) {
        // itimer_get_remtime(): an active timer never reports 0 left.
        out.value_ns = std::max<int64_t>(s.real_deadline - MonotonicNow(), kNsPerUs);
      }
      return out;
    }
    case kITimerVirtual:
      return s.virt;
    case kITimerProf:
      return s.prof;
    default:
      return Errno::kEINVAL;
  }
}

Result<ITimerSpec> ITimers::Set(int which, const ITimerSpec& spec) {
  if (spec.value_ns < 0 || spec.interval_ns < 0) return Errno::kEINVAL;
  ITimerSpec old = TRY(Get(which));
  State& s = *state_;
  absl::MutexLock l(&s.mu);
  if (s.tg == nullptr) return old;
  switch (which) {
    case kITimerReal:
      // do_setitimer(): a zero value disarms and clears the interval.
      s.real_interval = spec.value_ns != 0 ? spec.interval_ns : 0;
      s.ArmRealLocked(spec.value_ns != 0 ? SaturatingAdd(MonotonicNow(), spec.value_ns) : 0);
      break;
    case kITimerVirtual:
      s.virt = spec.value_ns != 0 ? spec : ITimerSpec{};
      break;
    case kITimerProf:
      s.prof = spec.value_ns != 0 ? spec : ITimerSpec{};
      break;
  }
  return old;
}

void ITimers::ChargeCpu(int64_t user_ns, int64_t sys_ns) {
  State& s = *state_;
  absl::MutexLock l(&s.mu);
  s.user_ns += std::max<int64_t>(user_ns, 0);
  s.sys_ns += std::max<int64_t>(sys_ns, 0);
  bool vt = State::ChargeTimer(s.virt, user_ns);
  bool prof = State::ChargeTimer(s.prof, user_ns + sys_ns);
  if (prof) s.SendLocked(kSigProf);
  if (vt) s.SendLocked(kSigVtalrm);
}

ITimers::CpuTimes ITimers::cpu_times() const {
  State& s = *state_;
  absl::MutexLock l(&s.mu);
  return CpuTimes{s.user_ns, s.sys_ns};
}

}  // namespace sbx::kernel
