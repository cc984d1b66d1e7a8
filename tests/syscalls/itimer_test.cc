// Interval timers: alarm(2) (seconds left, rounded), alarm + pause runs the SIGALRM handler,
// setitimer(ITIMER_REAL) one-shot and periodic, getitimer counting down, the old value of
// setitimer, SIGALRM's si_code (SI_KERNEL), ITIMER_VIRTUAL/PROF accepted and reported, the
// errors (EINVAL for a bad `which` or timeval, EFAULT), and (needs fork) a child not
// inheriting its parent's timers.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

volatile sig_atomic_t g_alarms = 0;
volatile sig_atomic_t g_code = 0;
void OnAlarm(int, siginfo_t* info, void*) {
  g_alarms = g_alarms + 1;
  g_code = info->si_code;
}

// Sleeps until at least `n` SIGALRMs were handled (sigsuspend with SIGALRM blocked
// between checks, so an expiry between the check and the wait is not lost).
void WaitForAlarms(int n) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGALRM);
  sigprocmask(SIG_BLOCK, &block, &old);
  sigset_t during = old;
  sigdelset(&during, SIGALRM);
  while (g_alarms < n) sigsuspend(&during);
  sigprocmask(SIG_SETMASK, &old, nullptr);
}

int64_t Us(const struct timeval& tv) { return tv.tv_sec * 1'000'000LL + tv.tv_usec; }

// A SIGALRM handler (no SA_RESTART) for the test's duration; every timer is disarmed and the
// old action restored at the end.
class ITimerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_alarms = 0;
    g_code = 0;
    struct sigaction sa = {};
    sa.sa_sigaction = OnAlarm;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGALRM, &sa, &old_), 0);
  }
  void TearDown() override {
    struct itimerval zero = {};
    setitimer(ITIMER_REAL, &zero, nullptr);
    setitimer(ITIMER_VIRTUAL, &zero, nullptr);
    setitimer(ITIMER_PROF, &zero, nullptr);
    sigaction(SIGALRM, &old_, nullptr);
  }
  struct sigaction old_ = {};
};

TEST_F(ITimerTest, AlarmReturnsSecondsLeft) {
  EXPECT_EQ(alarm(10), 0u) << "no alarm was pending";
  EXPECT_EQ(alarm(5), 10u) << "9.99 s left rounds to 10";
  EXPECT_EQ(alarm(0), 5u);
  EXPECT_EQ(alarm(0), 0u) << "alarm(0) cancelled it";
  struct itimerval v;
  ASSERT_EQ(getitimer(ITIMER_REAL, &v), 0);
  EXPECT_EQ(Us(v.it_value), 0);
}

TEST_F(ITimerTest, AlarmThenPauseRunsHandler) {
  ASSERT_EQ(alarm(1), 0u);
  EXPECT_TRUE(FailsWith(pause(), EINTR));
  EXPECT_EQ(g_alarms, 1);
  EXPECT_EQ(g_code, SI_KERNEL) << "it_real_fn sends SIGALRM with SEND_SIG_PRIV";
}

TEST_F(ITimerTest, OneShotFiresOnce) {
  struct itimerval v = {{0, 0}, {0, 20'000}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &v, nullptr), 0);
  WaitForAlarms(1);
  struct timespec d = {0, 60'000'000};
  nanosleep(&d, nullptr);  // interrupted only by a (wrong) second expiry
  EXPECT_EQ(g_alarms, 1);
  struct itimerval cur;
  ASSERT_EQ(getitimer(ITIMER_REAL, &cur), 0);
  EXPECT_EQ(Us(cur.it_value), 0) << "a one-shot timer is disarmed after it fired";
  EXPECT_EQ(Us(cur.it_interval), 0);
}

TEST_F(ITimerTest, PeriodicFiresRepeatedly) {
  struct itimerval v = {{0, 10'000}, {0, 10'000}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &v, nullptr), 0);
  WaitForAlarms(4);
  struct itimerval cur;
  ASSERT_EQ(getitimer(ITIMER_REAL, &cur), 0);
  EXPECT_EQ(Us(cur.it_interval), 10'000);
  EXPECT_LE(Us(cur.it_value), 10'000);
  struct itimerval zero = {}, old;
  ASSERT_EQ(setitimer(ITIMER_REAL, &zero, &old), 0);
  EXPECT_EQ(Us(old.it_interval), 10'000);
  int seen = g_alarms;
  struct timespec d = {0, 40'000'000};
  nanosleep(&d, nullptr);
  EXPECT_EQ(g_alarms, seen) << "disarmed";
}

TEST_F(ITimerTest, GetitimerCountsDown) {
  struct itimerval v = {{2, 500'000}, {10, 0}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &v, nullptr), 0);
  struct itimerval a, b;
  ASSERT_EQ(getitimer(ITIMER_REAL, &a), 0);
  EXPECT_LE(Us(a.it_value), 10'000'000);
  EXPECT_GT(Us(a.it_value), 9'000'000);
  EXPECT_EQ(Us(a.it_interval), 2'500'000);
  struct timespec d = {0, 30'000'000};
  ASSERT_EQ(nanosleep(&d, nullptr), 0);
  ASSERT_EQ(getitimer(ITIMER_REAL, &b), 0);
  EXPECT_LE(Us(b.it_value), Us(a.it_value) - 29'000);
}

TEST_F(ITimerTest, SetitimerReturnsOldValue) {
  struct itimerval v = {{0, 0}, {30, 0}}, old;
  ASSERT_EQ(setitimer(ITIMER_REAL, &v, &old), 0);
  EXPECT_EQ(Us(old.it_value), 0);
  struct itimerval w = {{1, 0}, {60, 0}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &w, &old), 0);
  EXPECT_LE(Us(old.it_value), 30'000'000);
  EXPECT_GT(Us(old.it_value), 29'000'000);
  EXPECT_EQ(Us(old.it_interval), 0);
  // A zero value disarms and drops the interval too.
  struct itimerval zero = {};
  ASSERT_EQ(setitimer(ITIMER_REAL, &zero, &old), 0);
  EXPECT_EQ(Us(old.it_interval), 1'000'000);
  struct itimerval cur;
  ASSERT_EQ(getitimer(ITIMER_REAL, &cur), 0);
  EXPECT_EQ(Us(cur.it_value), 0);
  EXPECT_EQ(Us(cur.it_interval), 0);
}

TEST_F(ITimerTest, Errors) {
  struct itimerval v = {};
  EXPECT_TRUE(FailsWith(getitimer(static_cast<__itimer_which>(5), &v), EINVAL));
  EXPECT_TRUE(FailsWith(setitimer(static_cast<__itimer_which>(5), &v, nullptr), EINVAL));
  v.it_value.tv_usec = 1'000'000;
  EXPECT_TRUE(FailsWith(setitimer(ITIMER_REAL, &v, nullptr), EINVAL));
  v.it_value = {-1, 0};
  EXPECT_TRUE(FailsWith(setitimer(ITIMER_REAL, &v, nullptr), EINVAL));
  v.it_value = {1, 0};
  v.it_interval.tv_usec = -1;
  EXPECT_TRUE(FailsWith(setitimer(ITIMER_REAL, &v, nullptr), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_getitimer, ITIMER_REAL, nullptr), EFAULT));
  EXPECT_TRUE(FailsWith(syscall(SYS_setitimer, ITIMER_REAL, reinterpret_cast<void*>(8), nullptr),
                        EFAULT));
}

TEST_F(ITimerTest, VirtualAndProfAreReported) {
  for (int which : {ITIMER_VIRTUAL, ITIMER_PROF}) {
    struct itimerval v = {{0, 250'000}, {100, 0}}, cur;
    ASSERT_EQ(setitimer(static_cast<__itimer_which>(which), &v, nullptr), 0);
    ASSERT_EQ(getitimer(static_cast<__itimer_which>(which), &cur), 0);
    EXPECT_GT(Us(cur.it_value), 90'000'000) << which;
    // Linux adds a tick (TICK_NSEC) to an armed CPU timer.
    EXPECT_LE(Us(cur.it_value), 100'010'000) << which;
    EXPECT_EQ(Us(cur.it_interval), 250'000) << which;
    struct itimerval zero = {}, old;
    ASSERT_EQ(setitimer(static_cast<__itimer_which>(which), &zero, &old), 0);
    EXPECT_GT(Us(old.it_value), 0) << which;
  }
}

// Needs fork: setitimer(2) "A child created via fork(2) does not inherit its parent's
// interval timers".
TEST_F(ITimerTest, ForkedChildHasNoTimer) {
  struct itimerval v = {{0, 0}, {30, 0}};
  ASSERT_EQ(setitimer(ITIMER_REAL, &v, nullptr), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << "fork: " << strerror(errno);
  if (pid == 0) {
    struct itimerval cur;
    if (getitimer(ITIMER_REAL, &cur) != 0) _exit(2);
    _exit(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  struct itimerval cur;
  ASSERT_EQ(getitimer(ITIMER_REAL, &cur), 0);
  EXPECT_GT(Us(cur.it_value), 0) << "the parent's timer is untouched";
}

}  // namespace
}  // namespace sbx::testing
