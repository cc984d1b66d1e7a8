// Credentials: getuid/geteuid/getgid/getegid agree with getresuid/getresgid, getgroups'
// size protocol (0 queries the count, a too-small buffer is EINVAL), and setting the effective
// ids to their current values is always permitted. Absolute ids are not asserted: the sandbox
// may map the user.
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

TEST(IdentityTest, UidsAgreeWithGetresuid) {
  uid_t r, e, s;
  ASSERT_EQ(syscall(SYS_getresuid, &r, &e, &s), 0);
  EXPECT_EQ(syscall(SYS_getuid), static_cast<long>(r));
  EXPECT_EQ(syscall(SYS_geteuid), static_cast<long>(e));
}

TEST(IdentityTest, GidsAgreeWithGetresgid) {
  gid_t r, e, s;
  ASSERT_EQ(syscall(SYS_getresgid, &r, &e, &s), 0);
  EXPECT_EQ(syscall(SYS_getgid), static_cast<long>(r));
  EXPECT_EQ(syscall(SYS_getegid), static_cast<long>(e));
}

TEST(IdentityTest, Getgroups) {
  long n = syscall(SYS_getgroups, 0, nullptr);
  ASSERT_GE(n, 0);
  std::vector<gid_t> groups(n + 1);
  EXPECT_EQ(syscall(SYS_getgroups, groups.size(), groups.data()), n);
  if (n > 0) {
    EXPECT_TRUE(FailsWith(syscall(SYS_getgroups, n - 1, groups.data()), EINVAL));
  }
  EXPECT_TRUE(FailsWith(syscall(SYS_getgroups, -1, groups.data()), EINVAL));
}

TEST(IdentityTest, SetToCurrentValuesIsAllowed) {
  uid_t r, e, s;
  ASSERT_EQ(getresuid(&r, &e, &s), 0);
  EXPECT_EQ(syscall(SYS_setresuid, -1, -1, -1), 0) << "-1 leaves every id unchanged";
  EXPECT_EQ(syscall(SYS_setresuid, r, e, s), 0);
  uid_t r2, e2, s2;
  ASSERT_EQ(getresuid(&r2, &e2, &s2), 0);
  EXPECT_EQ(r, r2);
  EXPECT_EQ(e, e2);
  EXPECT_EQ(s, s2);
  gid_t gr, ge, gs;
  ASSERT_EQ(getresgid(&gr, &ge, &gs), 0);
  EXPECT_EQ(syscall(SYS_setresgid, gr, ge, gs), 0);
}

TEST(IdentityTest, BadPointerIsEfault) {
  uid_t u;
  EXPECT_TRUE(FailsWith(syscall(SYS_getresuid, reinterpret_cast<void*>(1), &u, &u), EFAULT));
  EXPECT_TRUE(FailsWith(syscall(SYS_getresgid, &u, &u, reinterpret_cast<void*>(1)), EFAULT));
}

}  // namespace
}  // namespace sbx::testing
