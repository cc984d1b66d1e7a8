// Time syscalls: clock_gettime, clock_getres, gettimeofday, time, nanosleep, clock_nanosleep,
// getitimer, setitimer, alarm, times (kernel/time/posix-timers.c, posix-cpu-timers.c,
// hrtimer.c, itimer.c, kernel/sys.c). Also the guest clock helpers of clocks.h.
//
// CPU-time clocks read what the run loop charges (Task::Run): user = wall time in guest code
// (the stub's own CPU time is not readable here), sys = the sentry thread's CPU time handling
// the task. CLOCK_PROCESS_CPUTIME_ID, times(2) and getrusage(2) agree. Sleeps wait on a fs::Waiter, so a signal sender
// that kicks the task wakes them at once (otherwise they re-check every fs::kInterruptSlice).
// An interrupted relative sleep writes the time left and returns ERESTART_RESTARTBLOCK
// with a restart block that sleeps until the original deadline (hrtimer_nanosleep_restart);
// an absolute one returns ERESTARTNOHAND like Linux.
#include <sched.h>
#include <time.h>

#include <algorithm>

#include "fs/waiter.h"
#include "sentry/abi/misc.h"
#include "sentry/kernel/itimer.h"
#include "sentry/syscalls/clocks.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls {
namespace {

using abi::Timespec;
using usermem::UserPtr;

bool IsRealtimeLike(int c) {
  return c == abi::kClockRealtime || c == abi::kClockRealtimeCoarse ||
         c == abi::kClockRealtimeAlarm || c == abi::kClockTai;
}
bool IsMonotonicLike(int c) {
  return c == abi::kClockMonotonic || c == abi::kClockMonotonicRaw ||
         c == abi::kClockMonotonicCoarse || c == abi::kClockBoottime ||
         c == abi::kClockBoottimeAlarm;
}

// The host clock that backs a guest clock id.
int HostClockFor(int c) {
  switch (c) {
    case abi::kClockRealtimeAlarm: return CLOCK_REALTIME;
    case abi::kClockBoottimeAlarm: return CLOCK_BOOTTIME;
    default: return c;
  }
}

// host(c) - host(CLOCK_MONOTONIC), measured once; zero for clocks on the monotonic base.
int64_t MonotonicDelta(int host_clock) {
  struct Deltas {
    int64_t raw, boot;
    Deltas() {
      int64_t m0 = kernel::HostClockNs(CLOCK_MONOTONIC);
      int64_t r = kernel::HostClockNs(CLOCK_MONOTONIC_RAW);
      int64_t b = kernel::HostClockNs(CLOCK_BOOTTIME);
      int64_t m1 = kernel::HostClockNs(CLOCK_MONOTONIC);
      int64_t m = m0 + (m1 - m0) / 2;
      raw = r - m;
      boot = b - m;
    }
  };
  static const Deltas* d = new Deltas();
  if (host_clock == CLOCK_MONOTONIC_RAW) return d->raw;
  if (host_clock == CLOCK_BOOTTIME) return d->boot;
  return 0;
}

Timespec ToTimespec(int64_t ns) {
  if (ns < 0) ns = 0;
  return Timespec{ns / abi::kNsecPerSec, ns % abi::kNsecPerSec};
}

int64_t ToNs(const Timespec& ts) {
  // Saturate: a valid timespec has tv_sec >= 0, so only overflow needs care.
  if (ts.tv_sec > (INT64_MAX - ts.tv_nsec) / abi::kNsecPerSec) return INT64_MAX;
  return ts.tv_sec * abi::kNsecPerSec + ts.tv_nsec;
}

// CPU time of a process: what its threads' run loops charged (user = time in guest code,
// sys = sentry CPU handling it), the same figures as times(2) and getrusage(2).
int64_t ProcessCpuNs(kernel::ThreadGroup& tg) {
  kernel::ITimers::CpuTimes c = tg.itimers().cpu_times();
  return c.user_ns + c.sys_ns;
}

// Reads a CPU clock: static CLOCK_PROCESS/THREAD_CPUTIME_ID of the caller, or a dynamic
// (negative) id MAKE_PROCESS_CPUCLOCK(pid, which) / MAKE_THREAD_CPUCLOCK(tid, which) of any
// process or thread of the sandbox (PROF, VIRT and SCHED all read the same total here).
Result<int64_t> CpuClockNs(kernel::Task& t, int clock) {
  if (clock == abi::kClockProcessCputimeId) return ProcessCpuNs(t.thread_group());
  if (clock == abi::kClockThreadCputimeId) return t.cpu_time_ns();
  int which = clock & 3;
  if (which == 3) return Errno::kEINVAL;  // CLOCKFD: posix clock devices are not supported
  int32_t pid = ~(clock >> 3);
  bool thread = (clock & 4) != 0;
  if (thread) {
    if (pid == 0) return t.cpu_time_ns();
    auto task = t.kernel().FindTask(pid);
    if (!task || task->tgid() != t.tgid()) return Errno::kEINVAL;  // same process only
    return task->cpu_time_ns();
  }
  if (pid == 0) return ProcessCpuNs(t.thread_group());
  auto tg = t.kernel().FindThreadGroup(pid);
  if (!tg) return Errno::kEINVAL;
  return ProcessCpuNs(*tg);
}

}  // namespace

Result<int64_t> GuestClockNs(kernel::Task& t, int clock) {
  if (clock < 0 || clock == abi::kClockProcessCputimeId ||
      clock == abi::kClockThreadCputimeId) {
    return CpuClockNs(t, clock);
  }
  const int c = clock;
  if (IsRealtimeLike(c)) return kernel::HostClockNs(HostClockFor(c));
  if (IsMonotonicLike(c)) {
    int hc = HostClockFor(c);
    return kernel::HostClockNs(hc) - MonotonicDelta(hc) - t.kernel().boot_time_ns() +
           kGuestMonotonicStartNs;
  }
  return Errno::kEINVAL;
}

kernel::FutexManager::Deadline HostDeadline(const kernel::Kernel& k, int clock, int64_t ns) {
  int hc = HostClockFor(clock);
  if (IsRealtimeLike(clock)) return {hc, ns};
  if (!IsMonotonicLike(clock)) hc = CLOCK_MONOTONIC;
  // Saturating: far-future deadlines must not wrap into the past.
  int64_t shift = MonotonicDelta(hc) + k.boot_time_ns() - kGuestMonotonicStartNs;
  int64_t host = ns > INT64_MAX - std::max<int64_t>(shift, 0) ? INT64_MAX : ns + shift;
  return {hc, host};
}

bool SleepUntil(kernel::Task& t, kernel::FutexManager::Deadline deadline) {
  fs::Waiter w(&t);
  for (;;) {
    if (t.Interrupted()) return false;
    int64_t now = kernel::HostClockNs(deadline.clock);
    if (now >= deadline.ns) return true;
    w.Wait(std::min(fs::kInterruptSlice, absl::Nanoseconds(deadline.ns - now)));
  }
}

SyscallResult SysClockGettime(Task& t, const SyscallArgs& a) {
  int64_t ns = TRY(GuestClockNs(t, static_cast<int>(a.Int(0))));
  TRY(usermem::CopyOut(t.mem(), UserPtr<Timespec>(a.Addr(1)), ToTimespec(ns)));
  return 0;
}

SyscallResult SysClockGetres(Task& t, const SyscallArgs& a) {
  const int c = static_cast<int>(a.Int(0));
  TRY(GuestClockNs(t, c));  // validates the id (and that a dynamic clock's target exists)
  struct timespec res;
  // CPU clocks (static or dynamic) have nanosecond resolution, like Linux's.
  const bool cpu = c < 0 || c == abi::kClockProcessCputimeId || c == abi::kClockThreadCputimeId;
  if (cpu || clock_getres(HostClockFor(c), &res) != 0) res = {0, 1};
  if (!a.Addr(1).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<Timespec>(a.Addr(1)),
                         Timespec{res.tv_sec, res.tv_nsec}));
  }
  return 0;
}

SyscallResult SysGettimeofday(Task& t, const SyscallArgs& a) {
  if (!a.Addr(0).IsNull()) {
    int64_t ns = kernel::HostClockNs(CLOCK_REALTIME);
    abi::Timeval tv{ns / abi::kNsecPerSec, (ns % abi::kNsecPerSec) / 1000};
    TRY(usermem::CopyOut(t.mem(), UserPtr<abi::Timeval>(a.Addr(0)), tv));
  }
  if (!a.Addr(1).IsNull()) {
    // sys_tz: never set in the sandbox (settimeofday is EPERM), so zero like a fresh kernel.
    TRY(usermem::CopyOut(t.mem(), UserPtr<abi::Timezone>(a.Addr(1)), abi::Timezone{0, 0}));
  }
  return 0;
}

SyscallResult SysTime(Task& t, const SyscallArgs& a) {
  int64_t secs = kernel::HostClockNs(CLOCK_REALTIME) / abi::kNsecPerSec;
  if (!a.Addr(0).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<int64_t>(a.Addr(0)), secs));
  }
  return static_cast<uint64_t>(secs);
}

namespace {

// A relative sleep until the host CLOCK_MONOTONIC `deadline`, also the body of its restart
// block (hrtimer_nanosleep_restart): interrupted, it writes the time left to `rem_addr` and
// asks to be resumed through restart_syscall, which sleeps to the same deadline.
SyscallResult RelativeSleep(Task& t, int64_t deadline, usermem::UserAddr rem_addr) {
  if (SleepUntil(t, {CLOCK_MONOTONIC, deadline})) return 0;
  int64_t left = deadline - kernel::HostClockNs(CLOCK_MONOTONIC);
  if (left <= 0) return 0;  // do_nanosleep(): the timer expired meanwhile
  if (!rem_addr.IsNull()) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<Timespec>(rem_addr), ToTimespec(left)));
  }
  t.SetRestartBlock([deadline, rem_addr](Task& t) { return RelativeSleep(t, deadline, rem_addr); });
  return Errno::kERESTART_RESTARTBLOCK;
}

// The common part of nanosleep and clock_nanosleep once the clock is validated.
SyscallResult DoSleep(Task& t, int clock, bool absolute, usermem::UserAddr req_addr,
                      usermem::UserAddr rem_addr) {
  Timespec req = TRY(usermem::CopyIn(t.mem(), UserPtr<Timespec>(req_addr)));
  if (!abi::TimespecValid(req)) return Errno::kEINVAL;
  if (absolute) {
    // hrtimer_nanosleep(): an absolute sleep can simply be restarted.
    if (SleepUntil(t, HostDeadline(t.kernel(), clock, ToNs(req)))) return 0;
    return Errno::kERESTARTNOHAND;
  }
  // Relative sleeps run on the monotonic clock whatever the clock id (hrtimer relative mode).
  int64_t now = kernel::HostClockNs(CLOCK_MONOTONIC);
  int64_t rel = ToNs(req);
  return RelativeSleep(t, rel > INT64_MAX - now ? INT64_MAX : now + rel, rem_addr);
}

}  // namespace

SyscallResult SysNanosleep(Task& t, const SyscallArgs& a) {
  return DoSleep(t, abi::kClockMonotonic, false, a.Addr(0), a.Addr(1));
}

SyscallResult SysClockNanosleep(Task& t, const SyscallArgs& a) {
  int clock = static_cast<int>(a.Int(0));
  bool absolute = (a.Int(1) & abi::kTimerAbstime) != 0;
  // clockid_to_kclock() / kc->nsleep checks of sys_clock_nanosleep.
  if (clock < 0) return Errno::kEINVAL;  // dynamic CPU clocks: not supported here
  switch (clock) {
    case abi::kClockRealtime:
    case abi::kClockMonotonic:
    case abi::kClockBoottime:
    case abi::kClockTai:
      break;
    case abi::kClockThreadCputimeId:
      return Errno::kEINVAL;  // thread_cpu_nsleep
    case abi::kClockProcessCputimeId:
    case abi::kClockRealtimeAlarm:
    case abi::kClockBoottimeAlarm:
    case abi::kClockMonotonicRaw:
    case abi::kClockRealtimeCoarse:
    case abi::kClockMonotonicCoarse:
      return Errno::kEOPNOTSUPP;
    default:
      return Errno::kEINVAL;
  }
  return DoSleep(t, clock, absolute, a.Addr(2), a.Addr(3));
}

// ---- Interval timers and process times ----

namespace {

// struct __kernel_old_itimerval (include/uapi/linux/time_types.h): interval first.
struct Itimerval {
  abi::Timeval it_interval;
  abi::Timeval it_value;
};
static_assert(sizeof(Itimerval) == 32 && offsetof(Itimerval, it_value) == 16);

// struct tms (include/uapi/linux/times.h): clock_t is long.
struct Tms {
  int64_t tms_utime, tms_stime, tms_cutime, tms_cstime;
};
static_assert(sizeof(Tms) == 32);

constexpr int64_t kNsPerTick = abi::kNsecPerSec / 100;  // USER_HZ

// timeval_valid(): seconds non-negative, microseconds in [0, 1e6).
bool TimevalValid(const abi::Timeval& tv) {
  return tv.tv_sec >= 0 && tv.tv_usec >= 0 && tv.tv_usec < 1'000'000;
}

int64_t TimevalNs(const abi::Timeval& tv) {
  if (tv.tv_sec > (INT64_MAX - tv.tv_usec * 1000) / abi::kNsecPerSec) return INT64_MAX;
  return tv.tv_sec * abi::kNsecPerSec + tv.tv_usec * 1000;
}

abi::Timeval NsTimeval(int64_t ns) {
  return abi::Timeval{ns / abi::kNsecPerSec, (ns % abi::kNsecPerSec) / 1000};
}

Itimerval ToItimerval(const kernel::ITimerSpec& s) {
  return Itimerval{NsTimeval(s.interval_ns), NsTimeval(s.value_ns)};
}

}  // namespace

SyscallResult SysGetitimer(Task& t, const SyscallArgs& a) {
  kernel::ITimerSpec cur = TRY(t.thread_group().itimers().Get(static_cast<int>(a.Int(0))));
  TRY(usermem::CopyOut(t.mem(), UserPtr<Itimerval>(a.Addr(1)), ToItimerval(cur)));
  return 0;
}

SyscallResult SysSetitimer(Task& t, const SyscallArgs& a) {
  Itimerval v{};
  // A null new value disarms (a misfeature Linux still accepts).
  if (!a.Addr(1).IsNull()) {
    v = TRY(usermem::CopyIn(t.mem(), UserPtr<Itimerval>(a.Addr(1))));
    if (!TimevalValid(v.it_value) || !TimevalValid(v.it_interval)) return Errno::kEINVAL;
  }
  kernel::ITimerSpec old = TRY(t.thread_group().itimers().Set(
      static_cast<int>(a.Int(0)), kernel::ITimerSpec{TimevalNs(v.it_value),
                                                     TimevalNs(v.it_interval)}));
  if (!a.Addr(2).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<Itimerval>(a.Addr(2)), ToItimerval(old)));
  }
  return 0;
}

SyscallResult SysAlarm(Task& t, const SyscallArgs& a) {
  const int64_t secs = a.UInt(0);
  kernel::ITimerSpec old = TRY(t.thread_group().itimers().Set(
      kernel::kITimerReal, kernel::ITimerSpec{secs * abi::kNsecPerSec, 0}));
  // alarm_setitimer(): never report 0 for a pending alarm; round to the nearest second.
  int64_t left = old.value_ns / abi::kNsecPerSec;
  int64_t frac = old.value_ns % abi::kNsecPerSec;
  if ((left == 0 && frac != 0) || frac >= abi::kNsecPerSec / 2) ++left;
  return static_cast<uint64_t>(left);
}

SyscallResult SysTimes(Task& t, const SyscallArgs& a) {
  if (!a.Addr(0).IsNull()) {
    kernel::ITimers::CpuTimes c = t.thread_group().itimers().cpu_times();
    int64_t cu, cs;
    t.thread_group().ChildCpuTimes(&cu, &cs);
    Tms tms{c.user_ns / kNsPerTick, c.sys_ns / kNsPerTick, cu / kNsPerTick, cs / kNsPerTick};
    TRY(usermem::CopyOut(t.mem(), UserPtr<Tms>(a.Addr(0)), tms));
  }
  // Ticks since an arbitrary point: the guest's monotonic clock (jiffies since boot).
  int64_t now = TRY(GuestClockNs(t, abi::kClockMonotonic));
  return static_cast<uint64_t>(now / kNsPerTick);
}

}  // namespace sbx::syscalls
