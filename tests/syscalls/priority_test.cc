// getpriority/setpriority compatibility tests (kernel/sys.c): the raw syscall returns
// 20 - nice, values are clamped to -20..19, children inherit the nice value, PRIO_PGRP and
// PRIO_USER reach every matching task, and bad arguments fail like Linux. Changes happen in
// children so the test process keeps its own nice value.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"

namespace sbx::testing {
namespace {

// The raw syscall (glibc's wrapper converts 20 - nice back to nice).
long RawGetpriority(int which, int who) { return syscall(SYS_getpriority, which, who); }

TEST(PriorityTest, RawValueIsTwentyMinusNice) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(setpriority(PRIO_PROCESS, 0, 0), 0);
    EXPECT_EQ(RawGetpriority(PRIO_PROCESS, 0), 20);
    ASSERT_EQ(setpriority(PRIO_PROCESS, 0, 7), 0);
    EXPECT_EQ(RawGetpriority(PRIO_PROCESS, 0), 13);
    errno = 0;
    EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 7);
    EXPECT_EQ(errno, 0);
  });
}

TEST(PriorityTest, ValuesAreClamped) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(setpriority(PRIO_PROCESS, 0, 100), 0);
    EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 19);
    if (geteuid() == 0) {
      ASSERT_EQ(setpriority(PRIO_PROCESS, 0, -100), 0);
      EXPECT_EQ(getpriority(PRIO_PROCESS, 0), -20);
    }
  });
}

TEST(PriorityTest, ChildInheritsAndOthersAreReachable) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(setpriority(PRIO_PROCESS, 0, 4), 0);
    Pipe ready, go;
    pid_t child = ForkAndRun([&] {
      EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 4) << "nice is inherited";
      ready.Notify();
      go.Await();
      EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 9) << "the parent changed it";
    });
    ready.Await();
    ASSERT_EQ(setpriority(PRIO_PROCESS, child, 9), 0);
    EXPECT_EQ(getpriority(PRIO_PROCESS, child), 9);
    go.Notify();
    EXPECT_TRUE(ExitedWith(WaitStatus(child), 0));
  });
}

TEST(PriorityTest, ProcessGroupAndUser) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(setpgid(0, 0), 0);
    ASSERT_EQ(setpriority(PRIO_PROCESS, 0, 2), 0);
    Pipe ready, go;
    pid_t child = ForkAndRun([&] {
      ready.Notify();
      go.Await();
      EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 11);
    });
    ready.Await();
    // Both tasks are in our group: the lowest nice wins for getpriority.
    ASSERT_EQ(setpriority(PRIO_PROCESS, child, 6), 0);
    EXPECT_EQ(getpriority(PRIO_PGRP, 0), 2);
    ASSERT_EQ(setpriority(PRIO_PGRP, 0, 11), 0);
    EXPECT_EQ(getpriority(PRIO_PGRP, getpgrp()), 11);
    EXPECT_EQ(getpriority(PRIO_PROCESS, 0), 11);
    errno = 0;
    EXPECT_LE(getpriority(PRIO_USER, 0), 11) << "PRIO_USER 0 is the caller's real uid";
    EXPECT_EQ(errno, 0);
    go.Notify();
    EXPECT_TRUE(ExitedWith(WaitStatus(child), 0));
  });
}

TEST(PriorityTest, Errors) {
  errno = 0;
  EXPECT_EQ(RawGetpriority(3, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(RawGetpriority(PRIO_PROCESS, 0x3fffffff), -1);
  EXPECT_EQ(errno, ESRCH);
  errno = 0;
  EXPECT_EQ(setpriority(PRIO_PROCESS, 0x3fffffff, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  errno = 0;
  EXPECT_EQ(setpriority(7, 0, 0), -1);
  EXPECT_EQ(errno, EINVAL);
}

}  // namespace
}  // namespace sbx::testing
