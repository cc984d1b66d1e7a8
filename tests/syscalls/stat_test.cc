// stat, fstat, lstat, newfstatat and statx on files, directories and symlinks created in /tmp,
// and on the /dev character devices: file types, permission bits, sizes, device numbers,
// symlink following, AT_EMPTY_PATH and the argument errors. Raw syscalls are used so that
// glibc cannot substitute one call for another (x86-64 glibc struct stat is the kernel's).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

long Stat(const std::string& p, struct stat* st) { return syscall(SYS_stat, p.c_str(), st); }
long Lstat(const std::string& p, struct stat* st) { return syscall(SYS_lstat, p.c_str(), st); }
long Fstat(int fd, struct stat* st) { return syscall(SYS_fstat, fd, st); }
long Fstatat(int dfd, const char* p, struct stat* st, int flags) {
  return syscall(SYS_newfstatat, dfd, p, st, flags);
}
long Statx(int dfd, const char* p, int flags, unsigned mask, struct statx* stx) {
  return syscall(SYS_statx, dfd, p, flags, mask, stx);
}

class StatTest : public ::testing::Test {
 protected:
  void SetUp() override { old_umask_ = umask(0); }
  void TearDown() override { umask(old_umask_); }

  TempDir dir_;
  mode_t old_umask_ = 0;
};

TEST_F(StatTest, RegularFile) {
  std::string p = dir_.WriteFile("f", "twelve bytes", 0640);
  struct stat st;
  ASSERT_EQ(Stat(p, &st), 0) << strerror(errno);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_size, 12);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_GT(st.st_blksize, 0);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(st.st_gid, getegid());
  EXPECT_NE(st.st_ino, 0u);
}

TEST_F(StatTest, FstatMatchesStat) {
  std::string p = dir_.WriteFile("f", "abc");
  int fd = open(p.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  struct stat a, b;
  ASSERT_EQ(Stat(p, &a), 0);
  ASSERT_EQ(Fstat(fd, &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_dev, b.st_dev);
  EXPECT_EQ(a.st_mode, b.st_mode);
  EXPECT_EQ(a.st_size, b.st_size);
  close(fd);
}

TEST_F(StatTest, SizeFollowsWrites) {
  std::string p = dir_.WriteFile("f", "");
  int fd = open(p.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(Fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(pwrite(fd, "z", 1, 9999), 1);
  ASSERT_EQ(Fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 10000);
  ASSERT_EQ(ftruncate(fd, 10), 0);
  ASSERT_EQ(Fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 10);
  close(fd);
}

TEST_F(StatTest, ChmodChangesModeBits) {
  std::string p = dir_.WriteFile("f", "", 0600);
  ASSERT_EQ(chmod(p.c_str(), 04751), 0);
  struct stat st;
  ASSERT_EQ(Stat(p, &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04751u);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST_F(StatTest, Directory) {
  ASSERT_EQ(mkdir(dir_.Join("d").c_str(), 0751), 0);
  struct stat st;
  ASSERT_EQ(Stat(dir_.Join("d"), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0751u);
  EXPECT_GE(st.st_nlink, 2u);
  struct stat root;
  ASSERT_EQ(Stat("/", &root), 0);
  EXPECT_TRUE(S_ISDIR(root.st_mode));
}

TEST_F(StatTest, SymlinkFollowedByStatNotLstat) {
  std::string target = dir_.WriteFile("target", "0123456789");
  std::string link = dir_.Join("link");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);

  struct stat st;
  ASSERT_EQ(Lstat(link, &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0777u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(target.size())) << "symlink size = target length";

  ASSERT_EQ(Stat(link, &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 10);

  ASSERT_EQ(Fstatat(AT_FDCWD, link.c_str(), &st, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));

  char buf[256];
  ssize_t n = readlink(link.c_str(), buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, n), target);
  EXPECT_TRUE(FailsWith(readlink(target.c_str(), buf, sizeof(buf)), EINVAL));
}

TEST_F(StatTest, DanglingSymlink) {
  std::string link = dir_.Join("dangling");
  ASSERT_EQ(symlink("does-not-exist", link.c_str()), 0);
  struct stat st;
  EXPECT_TRUE(FailsWith(Stat(link, &st), ENOENT));
  EXPECT_EQ(Lstat(link, &st), 0);
  EXPECT_EQ(st.st_size, 14);
}

TEST_F(StatTest, RelativeToDirfd) {
  dir_.WriteFile("f", "abcd");
  int d = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(d, 0);
  struct stat st;
  ASSERT_EQ(Fstatat(d, "f", &st, 0), 0);
  EXPECT_EQ(st.st_size, 4);
  EXPECT_TRUE(FailsWith(Fstatat(d, "missing", &st, 0), ENOENT));
  EXPECT_TRUE(FailsWith(Fstatat(-1, "f", &st, 0), EBADF));
  close(d);
}

TEST_F(StatTest, EmptyPath) {
  std::string p = dir_.WriteFile("f", "12345");
  int fd = open(p.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  struct stat a, b;
  ASSERT_EQ(Fstatat(fd, "", &a, AT_EMPTY_PATH), 0) << strerror(errno);
  ASSERT_EQ(Fstat(fd, &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_size, 5);
  EXPECT_TRUE(FailsWith(Fstatat(fd, "", &a, 0), ENOENT)) << "\"\" needs AT_EMPTY_PATH";
  EXPECT_TRUE(FailsWith(Stat("", &a), ENOENT));
  close(fd);
}

TEST_F(StatTest, InvalidFlagsIsEinval) {
  struct stat st;
  EXPECT_TRUE(FailsWith(Fstatat(AT_FDCWD, "/", &st, 0x40000000), EINVAL));
}

TEST_F(StatTest, PathErrors) {
  std::string f = dir_.WriteFile("f", "");
  struct stat st;
  EXPECT_TRUE(FailsWith(Stat(dir_.Join("missing"), &st), ENOENT));
  EXPECT_TRUE(FailsWith(Stat(f + "/x", &st), ENOTDIR));
  EXPECT_TRUE(FailsWith(Fstat(-1, &st), EBADF));
}

TEST_F(StatTest, BadPointersAreEfault) {
  std::string f = dir_.WriteFile("f", "");
  EXPECT_TRUE(FailsWith(syscall(SYS_stat, f.c_str(), reinterpret_cast<void*>(1)), EFAULT));
  EXPECT_TRUE(FailsWith(syscall(SYS_fstat, 0, reinterpret_cast<void*>(1)), EFAULT));
  struct stat st;
  EXPECT_TRUE(FailsWith(syscall(SYS_stat, reinterpret_cast<void*>(1), &st), EFAULT));
}

struct DevCase {
  const char* path;
  unsigned major, minor;
};

TEST_F(StatTest, CharacterDevices) {
  const DevCase cases[] = {{"/dev/null", 1, 3},
                           {"/dev/zero", 1, 5},
                           {"/dev/full", 1, 7},
                           {"/dev/random", 1, 8},
                           {"/dev/urandom", 1, 9}};
  for (const DevCase& c : cases) {
    SCOPED_TRACE(c.path);
    struct stat st;
    ASSERT_EQ(Stat(c.path, &st), 0) << strerror(errno);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(major(st.st_rdev), c.major);
    EXPECT_EQ(minor(st.st_rdev), c.minor);
    EXPECT_EQ(st.st_size, 0);
    EXPECT_EQ(st.st_mode & 0666, 0666u);
  }
}

TEST_F(StatTest, StatxBasic) {
  std::string p = dir_.WriteFile("f", "statx!", 0604);
  struct statx stx = {};
  ASSERT_EQ(Statx(AT_FDCWD, p.c_str(), 0, STATX_BASIC_STATS, &stx), 0) << strerror(errno);
  const unsigned need = STATX_TYPE | STATX_MODE | STATX_SIZE | STATX_INO | STATX_NLINK;
  EXPECT_EQ(stx.stx_mask & need, need);
  EXPECT_TRUE(S_ISREG(stx.stx_mode));
  EXPECT_EQ(stx.stx_mode & 07777, 0604u);
  EXPECT_EQ(stx.stx_size, 6u);
  EXPECT_EQ(stx.stx_nlink, 1u);
  struct stat st;
  ASSERT_EQ(Stat(p, &st), 0);
  EXPECT_EQ(stx.stx_ino, st.st_ino);
  EXPECT_EQ(makedev(stx.stx_dev_major, stx.stx_dev_minor), st.st_dev);
}

TEST_F(StatTest, StatxSymlinkAndEmptyPath) {
  std::string target = dir_.WriteFile("t", "x");
  std::string link = dir_.Join("l");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  struct statx stx = {};
  ASSERT_EQ(Statx(AT_FDCWD, link.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx), 0);
  EXPECT_TRUE(S_ISLNK(stx.stx_mode));
  ASSERT_EQ(Statx(AT_FDCWD, link.c_str(), 0, STATX_BASIC_STATS, &stx), 0);
  EXPECT_TRUE(S_ISREG(stx.stx_mode));

  int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(Statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), 0);
  EXPECT_TRUE(S_ISCHR(stx.stx_mode));
  EXPECT_EQ(stx.stx_rdev_major, 1u);
  EXPECT_EQ(stx.stx_rdev_minor, 3u);
  close(fd);
}

TEST_F(StatTest, StatxErrors) {
  struct statx stx;
  EXPECT_TRUE(FailsWith(Statx(AT_FDCWD, "/", 0, STATX__RESERVED, &stx), EINVAL));
  EXPECT_TRUE(FailsWith(Statx(AT_FDCWD, "/", 0x40000000, STATX_BASIC_STATS, &stx), EINVAL));
  EXPECT_TRUE(FailsWith(Statx(AT_FDCWD, dir_.Join("missing").c_str(), 0, STATX_BASIC_STATS,
                              &stx),
                        ENOENT));
  EXPECT_TRUE(FailsWith(
      Statx(AT_FDCWD, "/", 0, STATX_BASIC_STATS, reinterpret_cast<struct statx*>(1)), EFAULT));
}

}  // namespace
}  // namespace sbx::testing
