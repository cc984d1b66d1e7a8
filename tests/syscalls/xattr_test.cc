// The xattr family on /tmp: user.* set/get/list/remove, flags, sizes, namespaces.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>

#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

// Skips the test when the host's /tmp refuses user xattrs (the oracle cannot say anything).
#define SKIP_WITHOUT_USER_XATTRS(path)                                              \
  do {                                                                              \
    if (setxattr((path).c_str(), "user.probe", "1", 1, 0) != 0 && errno == EOPNOTSUPP) \
      GTEST_SKIP() << "host /tmp has no user xattrs";                               \
    removexattr((path).c_str(), "user.probe");                                      \
  } while (0)

TEST(XattrTest, SetGetListRemove) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  SKIP_WITHOUT_USER_XATTRS(f);
  ASSERT_EQ(setxattr(f.c_str(), "user.a", "hello", 5, 0), 0);
  char buf[64] = {};
  EXPECT_EQ(getxattr(f.c_str(), "user.a", nullptr, 0), 5);
  EXPECT_EQ(getxattr(f.c_str(), "user.a", buf, sizeof(buf)), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  EXPECT_TRUE(FailsWith(getxattr(f.c_str(), "user.a", buf, 2), ERANGE));
  EXPECT_TRUE(FailsWith(getxattr(f.c_str(), "user.missing", buf, sizeof(buf)), ENODATA));
  ASSERT_EQ(setxattr(f.c_str(), "user.empty", "", 0, 0), 0);
  EXPECT_EQ(getxattr(f.c_str(), "user.empty", buf, sizeof(buf)), 0);
  ssize_t n = listxattr(f.c_str(), nullptr, 0);
  ASSERT_GT(n, 0);
  std::string list(static_cast<size_t>(n), '\0');
  EXPECT_EQ(listxattr(f.c_str(), list.data(), list.size()), n);
  EXPECT_NE(list.find(std::string("user.a\0", 7)), std::string::npos);
  EXPECT_NE(list.find(std::string("user.empty\0", 11)), std::string::npos);
  EXPECT_TRUE(FailsWith(listxattr(f.c_str(), list.data(), 1), ERANGE));
  ASSERT_EQ(removexattr(f.c_str(), "user.a"), 0);
  EXPECT_TRUE(FailsWith(removexattr(f.c_str(), "user.a"), ENODATA));
  EXPECT_TRUE(FailsWith(getxattr(f.c_str(), "user.a", buf, sizeof(buf)), ENODATA));
}

TEST(XattrTest, CreateReplaceFlags) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  SKIP_WITHOUT_USER_XATTRS(f);
  EXPECT_TRUE(FailsWith(setxattr(f.c_str(), "user.k", "1", 1, XATTR_REPLACE), ENODATA));
  ASSERT_EQ(setxattr(f.c_str(), "user.k", "1", 1, XATTR_CREATE), 0);
  EXPECT_TRUE(FailsWith(setxattr(f.c_str(), "user.k", "2", 1, XATTR_CREATE), EEXIST));
  ASSERT_EQ(setxattr(f.c_str(), "user.k", "22", 2, XATTR_REPLACE), 0);
  char buf[4];
  EXPECT_EQ(getxattr(f.c_str(), "user.k", buf, sizeof(buf)), 2);
  EXPECT_TRUE(FailsWith(setxattr(f.c_str(), "user.k", "2", 1, 4), EINVAL));
}

TEST(XattrTest, NameAndValueLimits) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  SKIP_WITHOUT_USER_XATTRS(f);
  std::string longname = "user." + std::string(251, 'n');  // 256 bytes
  EXPECT_TRUE(FailsWith(setxattr(f.c_str(), longname.c_str(), "v", 1, 0), ERANGE));
  EXPECT_TRUE(FailsWith(getxattr(f.c_str(), "", nullptr, 0), ERANGE));
  std::string big(65537, 'v');
  EXPECT_TRUE(FailsWith(setxattr(f.c_str(), "user.big", big.data(), big.size(), 0), E2BIG));
  EXPECT_TRUE(FailsWith(setxattr(f.c_str(), "user.", "v", 1, 0), EINVAL));
  EXPECT_TRUE(FailsWith(setxattr(f.c_str(), "bogus.x", "v", 1, 0), EOPNOTSUPP));
}

TEST(XattrTest, DescriptorAndSymlinkVariants) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  SKIP_WITHOUT_USER_XATTRS(f);
  int fd = open(f.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fsetxattr(fd, "user.viafd", "z", 1, 0), 0);
  char buf[4];
  EXPECT_EQ(fgetxattr(fd, "user.viafd", buf, sizeof(buf)), 1);
  EXPECT_GT(flistxattr(fd, nullptr, 0), 0);
  EXPECT_EQ(fremovexattr(fd, "user.viafd"), 0);
  close(fd);
  EXPECT_TRUE(FailsWith(fgetxattr(-1, "user.x", buf, sizeof(buf)), EBADF));
  ASSERT_EQ(symlink("f", d.Join("l").c_str()), 0);
  ASSERT_EQ(setxattr(d.Join("l").c_str(), "user.through", "t", 1, 0), 0);  // follows
  EXPECT_EQ(getxattr(f.c_str(), "user.through", buf, sizeof(buf)), 1);
  // user.* is for regular files and directories only.
  EXPECT_TRUE(FailsWith(lsetxattr(d.Join("l").c_str(), "user.x", "t", 1, 0), EPERM));
  EXPECT_TRUE(FailsWith(lgetxattr(d.Join("l").c_str(), "user.through", buf, sizeof(buf)),
                        ENODATA));
  EXPECT_EQ(setxattr(d.path().c_str(), "user.dir", "d", 1, 0), 0);
}

TEST(XattrTest, SecurityAndSystemNamespaces) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  char buf[64];
  // What ls asks for: absent, never ENOSYS.
  ssize_t r = getxattr(f.c_str(), "security.selinux", buf, sizeof(buf));
  if (r < 0) EXPECT_TRUE(errno == ENODATA || errno == EOPNOTSUPP) << strerror(errno);
  r = getxattr(f.c_str(), "system.posix_acl_access", buf, sizeof(buf));
  ASSERT_LT(r, 0);
  EXPECT_TRUE(errno == ENODATA || errno == EOPNOTSUPP) << strerror(errno);
}

}  // namespace
}  // namespace sbx::testing
