// Clocks and sleeping: clock_gettime (through the vDSO and as a real syscall) is monotonic for
// CLOCK_MONOTONIC, CLOCK_REALTIME agrees with time() and gettimeofday(), nanosleep and
// clock_nanosleep sleep at least as long as asked, clock_getres is sane, and the errors
// (EINVAL for a bad clock or timespec, EFAULT for a bad pointer). A sleep interrupted by a
// handled signal fails with EINTR and reports the time left; times(2) counts 10 ms ticks.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

int64_t Ns(const struct timespec& ts) { return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec; }

int64_t SysNow(clockid_t c) {
  struct timespec ts;
  if (syscall(SYS_clock_gettime, c, &ts) != 0) return -1;
  return Ns(ts);
}

int64_t VdsoNow(clockid_t c) {
  struct timespec ts;
  if (clock_gettime(c, &ts) != 0) return -1;
  return Ns(ts);
}

TEST(TimeTest, MonotonicNeverGoesBack) {
  int64_t prev = SysNow(CLOCK_MONOTONIC);
  ASSERT_GT(prev, 0);
  for (int i = 0; i < 1000; ++i) {
    int64_t now = (i % 2) ? SysNow(CLOCK_MONOTONIC) : VdsoNow(CLOCK_MONOTONIC);
    ASSERT_GE(now, prev) << "iteration " << i;
    prev = now;
  }
}

TEST(TimeTest, ClocksAreValid) {
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_BOOTTIME,
                      CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE,
                      CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID}) {
    struct timespec ts;
    ASSERT_EQ(syscall(SYS_clock_gettime, c, &ts), 0) << "clock " << c;
    EXPECT_GE(ts.tv_sec, 0);
    EXPECT_GE(ts.tv_nsec, 0);
    EXPECT_LT(ts.tv_nsec, 1'000'000'000L);
  }
}

TEST(TimeTest, RealtimeAgreesWithTimeAndGettimeofday) {
  int64_t rt = SysNow(CLOCK_REALTIME);
  time_t t = time(nullptr);
  struct timeval tv;
  ASSERT_EQ(syscall(SYS_gettimeofday, &tv, nullptr), 0);
  EXPECT_LE(std::abs(rt / 1'000'000'000LL - t), 1);
  EXPECT_LE(std::abs(rt / 1000 - (tv.tv_sec * 1'000'000LL + tv.tv_usec)), 1'000'000);
  EXPECT_GT(t, 1'600'000'000) << "the realtime clock is after 2020";
}

TEST(TimeTest, NanosleepSleepsAtLeastRequested) {
  int64_t before = SysNow(CLOCK_MONOTONIC);
  struct timespec req = {0, 20'000'000}, rem = {9, 9};
  ASSERT_EQ(syscall(SYS_nanosleep, &req, &rem), 0);
  int64_t slept = SysNow(CLOCK_MONOTONIC) - before;
  EXPECT_GE(slept, 20'000'000);
  EXPECT_LT(slept, 1'000'000'000) << "slept far too long";
}

TEST(TimeTest, ClockNanosleepAbsolute) {
  struct timespec deadline;
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &deadline), 0);
  deadline.tv_nsec += 10'000'000;
  if (deadline.tv_nsec >= 1'000'000'000) {
    deadline.tv_nsec -= 1'000'000'000;
    deadline.tv_sec++;
  }
  ASSERT_EQ(
      syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, nullptr), 0);
  EXPECT_GE(SysNow(CLOCK_MONOTONIC), Ns(deadline));
  // A deadline in the past returns at once.
  struct timespec past = {0, 1};
  EXPECT_EQ(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &past, nullptr), 0);
}

TEST(TimeTest, ZeroSleepReturns) {
  struct timespec zero = {0, 0};
  EXPECT_EQ(syscall(SYS_nanosleep, &zero, nullptr), 0);
}

TEST(TimeTest, NanosleepInvalid) {
  struct timespec bad = {0, 1'000'000'000};
  EXPECT_TRUE(FailsWith(syscall(SYS_nanosleep, &bad, nullptr), EINVAL));
  struct timespec neg = {-1, 0};
  EXPECT_TRUE(FailsWith(syscall(SYS_nanosleep, &neg, nullptr), EINVAL));
  struct timespec negns = {0, -1};
  EXPECT_TRUE(FailsWith(syscall(SYS_nanosleep, &negns, nullptr), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_nanosleep, reinterpret_cast<void*>(1), nullptr), EFAULT));
}

TEST(TimeTest, Getres) {
  struct timespec res;
  ASSERT_EQ(syscall(SYS_clock_getres, CLOCK_MONOTONIC, &res), 0);
  EXPECT_EQ(res.tv_sec, 0);
  EXPECT_GT(res.tv_nsec, 0);
  EXPECT_LE(res.tv_nsec, 10'000'000);
  ASSERT_EQ(syscall(SYS_clock_getres, CLOCK_REALTIME, &res), 0);
  EXPECT_GT(res.tv_nsec, 0);
  EXPECT_EQ(syscall(SYS_clock_getres, CLOCK_MONOTONIC, nullptr), 0) << "NULL res is allowed";
}

TEST(TimeTest, BadClockIsEinval) {
  struct timespec ts;
  EXPECT_TRUE(FailsWith(syscall(SYS_clock_gettime, 12345, &ts), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_clock_getres, 12345, &ts), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, reinterpret_cast<void*>(1)),
                        EFAULT));
}

TEST(TimeTest, CpuTimeAdvancesWithWork) {
  int64_t before = SysNow(CLOCK_PROCESS_CPUTIME_ID);
  int64_t start = VdsoNow(CLOCK_MONOTONIC);
  volatile uint64_t x = 0;
  // Spin for 50 ms of wall time, so that even a tick-granular CPU clock must advance.
  while (VdsoNow(CLOCK_MONOTONIC) - start < 50'000'000) {
    for (int i = 0; i < 100'000; ++i) x = x + i;
  }
  int64_t after = SysNow(CLOCK_PROCESS_CPUTIME_ID);
  EXPECT_GT(after, before);
}

volatile sig_atomic_t g_alarms = 0;
void OnAlarm(int) { g_alarms = g_alarms + 1; }

// A SIGALRM handler without SA_RESTART and a one-shot ITIMER_REAL of `ms`; both undone at
// scope exit.
class ScopedAlarm {
 public:
  explicit ScopedAlarm(int ms) {
    g_alarms = 0;
    struct sigaction sa = {};
    sa.sa_handler = OnAlarm;
    sigemptyset(&sa.sa_mask);
    EXPECT_EQ(sigaction(SIGALRM, &sa, &old_), 0);
    struct itimerval v = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    EXPECT_EQ(setitimer(ITIMER_REAL, &v, nullptr), 0);
  }
  ~ScopedAlarm() {
    struct itimerval zero = {};
    setitimer(ITIMER_REAL, &zero, nullptr);
    sigaction(SIGALRM, &old_, nullptr);
  }

 private:
  struct sigaction old_ = {};
};

TEST(TimeTest, NanosleepInterruptedByHandlerReportsTimeLeft) {
  ScopedAlarm alarm(50);
  struct timespec req = {5, 0}, rem = {0, 0};
  int64_t before = SysNow(CLOCK_MONOTONIC);
  EXPECT_TRUE(FailsWith(syscall(SYS_nanosleep, &req, &rem), EINTR));
  EXPECT_EQ(g_alarms, 1);
  EXPECT_LT(SysNow(CLOCK_MONOTONIC) - before, 2'000'000'000) << "woken by the signal";
  EXPECT_LT(Ns(rem), 5'000'000'000);
  EXPECT_GT(Ns(rem), 3'000'000'000);
}

TEST(TimeTest, ClockNanosleepRelativeInterruptedReportsTimeLeft) {
  ScopedAlarm alarm(30);
  struct timespec req = {4, 0}, rem = {0, 0};
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem), EINTR);
  EXPECT_EQ(g_alarms, 1);
  EXPECT_GT(Ns(rem), 2'000'000'000);
  EXPECT_LT(Ns(rem), 4'000'000'000);
}

TEST(TimeTest, TimesCountsTicks) {
  struct tms a, b;
  clock_t t0 = times(&a);
  ASSERT_NE(t0, static_cast<clock_t>(-1));
  EXPECT_GE(a.tms_utime, 0);
  EXPECT_GE(a.tms_stime, 0);
  struct timespec d = {0, 50'000'000};
  ASSERT_EQ(nanosleep(&d, nullptr), 0);
  clock_t t1 = times(&b);
  EXPECT_GE(t1 - t0, 4) << "clock ticks of 10 ms";
  EXPECT_LT(t1 - t0, 100);
  EXPECT_GE(b.tms_utime + b.tms_stime, a.tms_utime + a.tms_stime);
  EXPECT_NE(syscall(SYS_times, nullptr), -1) << "a null buffer is allowed";
  EXPECT_TRUE(FailsWith(syscall(SYS_times, reinterpret_cast<void*>(8)), EFAULT));
}

}  // namespace
}  // namespace sbx::testing
