// Process identity: getpid, gettid (equal for the main thread), getppid, getpgid/getpgrp and
// getsid consistency. Values are not compared with absolute numbers, since the sandboxed
// process is pid 1 in its own namespace while natively it is not.
#include <sys/syscall.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

TEST(GetpidTest, MainThreadTidIsPid) {
  long pid = syscall(SYS_getpid);
  EXPECT_GT(pid, 0);
  EXPECT_EQ(syscall(SYS_gettid), pid);
  EXPECT_EQ(getpid(), pid);
  EXPECT_EQ(gettid(), pid);
}

TEST(GetpidTest, StableAcrossCalls) {
  long pid = syscall(SYS_getpid);
  long ppid = syscall(SYS_getppid);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(syscall(SYS_getpid), pid);
    ASSERT_EQ(syscall(SYS_getppid), ppid);
  }
}

TEST(GetpidTest, ParentIsNotSelf) {
  long ppid = syscall(SYS_getppid);
  EXPECT_GE(ppid, 0) << "0 when the parent is outside the pid namespace";
  EXPECT_NE(ppid, syscall(SYS_getpid));
}

TEST(GetpidTest, ProcessGroupAndSession) {
  pid_t pgrp = getpgrp();
  EXPECT_GE(pgrp, 0);
  EXPECT_EQ(getpgid(0), pgrp);
  EXPECT_EQ(getpgid(getpid()), pgrp);
  pid_t sid = getsid(0);
  EXPECT_GE(sid, 0);
  EXPECT_EQ(getsid(getpid()), sid);
}

TEST(GetpidTest, UnknownPidIsEsrch) {
  // pid_max is at most 2^22, so this pid cannot exist.
  EXPECT_TRUE(FailsWith(getpgid(0x7ffffff0), ESRCH));
  EXPECT_TRUE(FailsWith(getsid(0x7ffffff0), ESRCH));
  EXPECT_TRUE(FailsWith(getpgid(-1), ESRCH));
}

}  // namespace
}  // namespace sbx::testing
