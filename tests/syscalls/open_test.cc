// open, openat, creat and close on /tmp: creation flags (O_CREAT, O_EXCL, O_TRUNC, O_APPEND,
// O_DIRECTORY, O_CLOEXEC), umask, lowest-free-fd allocation, relative lookups and the path
// errors (ENOENT, ENOTDIR, EISDIR, ENAMETOOLONG, EBADF, EFAULT). Writes under the read-only
// host root are tested in tests/security, since natively (as root) they succeed.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

class OpenTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(OpenTest, CreateExclusive) {
  std::string p = dir_.Join("f");
  int fd = open(p.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << strerror(errno);
  close(fd);
  EXPECT_TRUE(FailsWith(open(p.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST));
  fd = open(p.c_str(), O_RDWR | O_CREAT, 0600);
  EXPECT_GE(fd, 0) << "O_CREAT without O_EXCL opens an existing file";
  close(fd);
}

TEST_F(OpenTest, CreateExclusiveOnDanglingSymlinkIsEexist) {
  std::string link = dir_.Join("dangling");
  ASSERT_EQ(symlink(dir_.Join("nowhere").c_str(), link.c_str()), 0);
  EXPECT_TRUE(FailsWith(open(link.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600), EEXIST));
}

TEST_F(OpenTest, MissingFileIsEnoent) {
  EXPECT_TRUE(FailsWith(open(dir_.Join("missing").c_str(), O_RDONLY), ENOENT));
  EXPECT_TRUE(FailsWith(open(dir_.Join("nodir/f").c_str(), O_RDWR | O_CREAT, 0600), ENOENT));
  EXPECT_TRUE(FailsWith(open("", O_RDONLY), ENOENT));
}

TEST_F(OpenTest, DirectoryFlagOnFileIsEnotdir) {
  std::string p = dir_.WriteFile("f", "x");
  EXPECT_TRUE(FailsWith(open(p.c_str(), O_RDONLY | O_DIRECTORY), ENOTDIR));
  EXPECT_TRUE(FailsWith(open((p + "/sub").c_str(), O_RDONLY), ENOTDIR))
      << "a file used as a path component";
  EXPECT_TRUE(FailsWith(open((p + "/").c_str(), O_RDONLY), ENOTDIR))
      << "trailing slash on a file";
  int fd = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  EXPECT_GE(fd, 0);
  close(fd);
}

TEST_F(OpenTest, WritingADirectoryIsEisdir) {
  EXPECT_TRUE(FailsWith(open(dir_.path().c_str(), O_WRONLY), EISDIR));
  EXPECT_TRUE(FailsWith(open(dir_.path().c_str(), O_RDWR), EISDIR));
}

TEST_F(OpenTest, TruncateEmptiesFile) {
  std::string p = dir_.WriteFile("f", "0123456789");
  int fd = open(p.c_str(), O_RDWR | O_TRUNC);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  close(fd);
  EXPECT_EQ(ReadFile(p), "");
}

TEST_F(OpenTest, AppendWritesAtEnd) {
  std::string p = dir_.WriteFile("f", "abc");
  int fd = open(p.c_str(), O_RDWR | O_APPEND);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0) << "O_APPEND does not move the offset at open";
  ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
  ASSERT_EQ(write(fd, "de", 2), 2);
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 5) << "offset follows the appended data";
  // pwrite on an O_APPEND file appends too (a documented Linux bug).
  ASSERT_EQ(pwrite(fd, "f", 1, 0), 1);
  close(fd);
  EXPECT_EQ(ReadFile(p), "abcdef");
}

TEST_F(OpenTest, ModeHonoursUmask) {
  mode_t old = umask(022);
  std::string p = dir_.Join("f");
  int fd = open(p.c_str(), O_WRONLY | O_CREAT, 0777);
  ASSERT_GE(fd, 0);
  close(fd);
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(umask(old), 022u) << "umask returns the previous mask";
}

TEST_F(OpenTest, CreatIsWriteOnlyTruncate) {
  std::string p = dir_.WriteFile("f", "old contents");
  int fd = creat(p.c_str(), 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY);
  char c;
  EXPECT_TRUE(FailsWith(read(fd, &c, 1), EBADF));
  close(fd);
  EXPECT_EQ(ReadFile(p), "");
}

TEST_F(OpenTest, LowestFreeDescriptorIsReused) {
  std::string p = dir_.WriteFile("f", "x");
  int a = open(p.c_str(), O_RDONLY);
  int b = open(p.c_str(), O_RDONLY);
  ASSERT_GE(a, 0);
  ASSERT_GT(b, a);
  ASSERT_EQ(close(a), 0);
  int c = open(p.c_str(), O_RDONLY);
  EXPECT_EQ(c, a);
  close(b);
  close(c);
}

TEST_F(OpenTest, CloseTwiceIsEbadf) {
  int fd = open(dir_.WriteFile("f", "x").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(close(fd), 0);
  EXPECT_TRUE(FailsWith(close(fd), EBADF));
  EXPECT_TRUE(FailsWith(close(-1), EBADF));
}

TEST_F(OpenTest, CloexecFlag) {
  std::string p = dir_.WriteFile("f", "x");
  int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  close(fd);
  fd = open(p.c_str(), O_RDONLY);
  EXPECT_EQ(fcntl(fd, F_GETFD), 0);
  close(fd);
}

TEST_F(OpenTest, OpenatRelativeToDirectory) {
  dir_.WriteFile("f", "relative");
  int d = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(d, 0);
  int fd = openat(d, "f", O_RDONLY);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(ReadAll(fd), "relative");
  close(fd);
  fd = openat(d, "g", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  struct stat st;
  EXPECT_EQ(stat(dir_.Join("g").c_str(), &st), 0);
  // An absolute path ignores dirfd, even an invalid one.
  fd = openat(-1, dir_.Join("f").c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  close(fd);
  close(d);
}

TEST_F(OpenTest, OpenatErrors) {
  std::string f = dir_.WriteFile("f", "x");
  int file_fd = open(f.c_str(), O_RDONLY);
  ASSERT_GE(file_fd, 0);
  EXPECT_TRUE(FailsWith(openat(file_fd, "x", O_RDONLY), ENOTDIR));
  EXPECT_TRUE(FailsWith(openat(-1, "x", O_RDONLY), EBADF));
  EXPECT_TRUE(FailsWith(openat(999, "x", O_RDONLY), EBADF));
  close(file_fd);
}

TEST_F(OpenTest, RelativeToWorkingDirectory) {
  char old[4096];
  ASSERT_NE(getcwd(old, sizeof(old)), nullptr);
  ASSERT_EQ(chdir(dir_.path().c_str()), 0);
  int fd = open("rel", O_WRONLY | O_CREAT, 0600);
  EXPECT_GE(fd, 0);
  close(fd);
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(std::string(cwd), dir_.path());
  ASSERT_EQ(chdir(old), 0);
  struct stat st;
  EXPECT_EQ(stat(dir_.Join("rel").c_str(), &st), 0);
}

TEST_F(OpenTest, DotDotResolves) {
  ASSERT_EQ(mkdir(dir_.Join("sub").c_str(), 0755), 0);
  dir_.WriteFile("f", "up");
  EXPECT_EQ(ReadFile(dir_.Join("sub/../f")), "up");
  EXPECT_EQ(ReadFile(dir_.Join("sub/./../sub/../f")), "up");
  // ".." of the root is the root.
  struct stat a, b;
  ASSERT_EQ(stat("/..", &a), 0);
  ASSERT_EQ(stat("/", &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_dev, b.st_dev);
}

TEST_F(OpenTest, FollowsSymlinksUnlessNofollow) {
  std::string target = dir_.WriteFile("target", "via link");
  std::string link = dir_.Join("link");
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  EXPECT_EQ(ReadFile(link), "via link");
  EXPECT_TRUE(FailsWith(open(link.c_str(), O_RDONLY | O_NOFOLLOW), ELOOP));
  std::string loop = dir_.Join("loop");
  ASSERT_EQ(symlink(loop.c_str(), loop.c_str()), 0);
  EXPECT_TRUE(FailsWith(open(loop.c_str(), O_RDONLY), ELOOP));
}

TEST_F(OpenTest, NameTooLong) {
  std::string p = dir_.Join(std::string(256, 'a'));
  EXPECT_TRUE(FailsWith(open(p.c_str(), O_RDWR | O_CREAT, 0600), ENAMETOOLONG));
  std::string huge(5000, 'b');
  EXPECT_TRUE(FailsWith(open(huge.c_str(), O_RDONLY), ENAMETOOLONG));
}

TEST_F(OpenTest, BadPathPointerIsEfault) {
  EXPECT_TRUE(FailsWith(syscall(SYS_open, reinterpret_cast<void*>(1), O_RDONLY), EFAULT));
  EXPECT_TRUE(
      FailsWith(syscall(SYS_openat, AT_FDCWD, reinterpret_cast<void*>(1), O_RDONLY), EFAULT));
}

TEST_F(OpenTest, UnlinkedFileStaysReadableThroughOpenFd) {
  std::string p = dir_.WriteFile("f", "still here");
  int fd = open(p.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(unlink(p.c_str()), 0);
  EXPECT_TRUE(FailsWith(open(p.c_str(), O_RDONLY), ENOENT));
  EXPECT_EQ(ReadAll(fd), "still here");
  close(fd);
}

}  // namespace
}  // namespace sbx::testing
