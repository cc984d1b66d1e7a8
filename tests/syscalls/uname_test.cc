// uname: every field is a NUL-terminated non-empty string, sysname is "Linux", machine is
// "x86_64", the release starts with "<major>.<minor>", and a bad pointer is EFAULT.
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

TEST(UnameTest, Fields) {
  struct utsname u;
  memset(&u, 0x7f, sizeof(u));
  ASSERT_EQ(syscall(SYS_uname, &u), 0);
  for (const char* f : {u.sysname, u.nodename, u.release, u.version, u.machine}) {
    EXPECT_NE(memchr(f, '\0', _UTSNAME_LENGTH), nullptr) << "field is NUL-terminated";
    EXPECT_GT(strlen(f), 0u);
  }
  EXPECT_NE(memchr(u.domainname, '\0', _UTSNAME_LENGTH), nullptr);
  EXPECT_STREQ(u.sysname, "Linux");
  EXPECT_STREQ(u.machine, "x86_64");
  std::string release = u.release;
  ASSERT_FALSE(release.empty());
  EXPECT_TRUE(isdigit(static_cast<unsigned char>(release[0]))) << release;
  EXPECT_NE(release.find('.'), std::string::npos) << release;
}

TEST(UnameTest, StableAcrossCalls) {
  struct utsname a, b;
  ASSERT_EQ(syscall(SYS_uname, &a), 0);
  ASSERT_EQ(syscall(SYS_uname, &b), 0);
  EXPECT_STREQ(a.release, b.release);
  EXPECT_STREQ(a.version, b.version);
  EXPECT_STREQ(a.nodename, b.nodename);
}

TEST(UnameTest, BadPointerIsEfault) {
  EXPECT_TRUE(FailsWith(syscall(SYS_uname, reinterpret_cast<void*>(1)), EFAULT));
  EXPECT_TRUE(FailsWith(syscall(SYS_uname, nullptr), EFAULT));
}

}  // namespace
}  // namespace sbx::testing
