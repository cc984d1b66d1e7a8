// getrlimit, setrlimit and prlimit64: the three agree, the soft RLIMIT_NOFILE limit is
// enforced on new descriptors (dup2/F_DUPFD beyond it fail) and can be restored, soft > hard is
// EINVAL, unknown resources are EINVAL. Hard limits are never raised (that needs privilege).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

long Prlimit(pid_t pid, int res, const struct rlimit* nl, struct rlimit* old) {
  return syscall(SYS_prlimit64, pid, res, nl, old);
}

TEST(RlimitTest, GetrlimitMatchesPrlimit) {
  for (int res : {RLIMIT_NOFILE, RLIMIT_STACK, RLIMIT_AS, RLIMIT_DATA, RLIMIT_CORE}) {
    struct rlimit a, b, c;
    ASSERT_EQ(syscall(SYS_getrlimit, res, &a), 0) << res;
    ASSERT_EQ(Prlimit(0, res, nullptr, &b), 0) << res;
    ASSERT_EQ(Prlimit(getpid(), res, nullptr, &c), 0) << res;
    EXPECT_EQ(a.rlim_cur, b.rlim_cur) << res;
    EXPECT_EQ(a.rlim_max, b.rlim_max) << res;
    EXPECT_EQ(b.rlim_cur, c.rlim_cur) << res;
    EXPECT_LE(a.rlim_cur, a.rlim_max) << res;
  }
}

TEST(RlimitTest, NofileSoftLimitIsEnforced) {
  struct rlimit orig;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &orig), 0);
  ASSERT_GE(orig.rlim_cur, 128u);
  struct rlimit low = {64, orig.rlim_max};
  struct rlimit old;
  ASSERT_EQ(Prlimit(0, RLIMIT_NOFILE, &low, &old), 0);
  EXPECT_EQ(old.rlim_cur, orig.rlim_cur) << "prlimit returns the previous limit";
  struct rlimit now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, 64u);
  EXPECT_EQ(now.rlim_max, orig.rlim_max);

  EXPECT_TRUE(FailsWith(dup2(0, 64), EBADF));
  EXPECT_TRUE(FailsWith(fcntl(0, F_DUPFD, 64), EINVAL));
  int fd = dup2(0, 63);
  EXPECT_EQ(fd, 63);
  close(63);

  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &orig), 0);
  ASSERT_GE(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, orig.rlim_cur);
  EXPECT_EQ(dup2(0, 64), 64);
  close(64);
}

TEST(RlimitTest, SoftAboveHardIsEinval) {
  struct rlimit orig;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &orig), 0);
  struct rlimit bad = {orig.rlim_max, orig.rlim_max - 1};
  EXPECT_TRUE(FailsWith(setrlimit(RLIMIT_NOFILE, &bad), EINVAL));
  struct rlimit now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, orig.rlim_cur);
}

TEST(RlimitTest, UnknownResourceIsEinval) {
  struct rlimit rl;
  EXPECT_TRUE(FailsWith(syscall(SYS_getrlimit, 99, &rl), EINVAL));
  EXPECT_TRUE(FailsWith(Prlimit(0, 99, nullptr, &rl), EINVAL));
}

TEST(RlimitTest, BadPointerIsEfault) {
  EXPECT_TRUE(FailsWith(syscall(SYS_getrlimit, RLIMIT_NOFILE, reinterpret_cast<void*>(1)),
                        EFAULT));
  EXPECT_TRUE(
      FailsWith(Prlimit(0, RLIMIT_NOFILE, nullptr, reinterpret_cast<struct rlimit*>(1)), EFAULT));
}

TEST(RlimitTest, UnknownPidIsEsrch) {
  struct rlimit rl;
  EXPECT_TRUE(FailsWith(Prlimit(0x7ffffff0, RLIMIT_NOFILE, nullptr, &rl), ESRCH));
}

}  // namespace
}  // namespace sbx::testing
