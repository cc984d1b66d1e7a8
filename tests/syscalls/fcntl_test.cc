// fcntl: F_GETFL/F_SETFL (only O_APPEND, O_NONBLOCK & co. change; the access mode does not),
// F_GETFD/F_SETFD, F_DUPFD/F_DUPFD_CLOEXEC minimum descriptor, and the errors (EBADF, EINVAL
// for an unknown command or a minimum beyond RLIMIT_NOFILE).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

class FcntlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.WriteFile("f", "abc");
    fd_ = open(path_.c_str(), O_RDWR);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { close(fd_); }

  TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

TEST_F(FcntlTest, GetflReportsAccessModeAndFlags) {
  EXPECT_EQ(fcntl(fd_, F_GETFL) & O_ACCMODE, O_RDWR);
  int ro = open(path_.c_str(), O_RDONLY | O_APPEND);
  ASSERT_GE(ro, 0);
  int fl = fcntl(ro, F_GETFL);
  EXPECT_EQ(fl & O_ACCMODE, O_RDONLY);
  EXPECT_TRUE(fl & O_APPEND);
  EXPECT_FALSE(fl & O_CLOEXEC) << "O_CLOEXEC is a descriptor flag, not a status flag";
  close(ro);
  int wo = open(path_.c_str(), O_WRONLY);
  EXPECT_EQ(fcntl(wo, F_GETFL) & O_ACCMODE, O_WRONLY);
  close(wo);
}

TEST_F(FcntlTest, SetflAppendNonblock) {
  ASSERT_EQ(fcntl(fd_, F_SETFL, O_APPEND | O_NONBLOCK), 0);
  int fl = fcntl(fd_, F_GETFL);
  EXPECT_TRUE(fl & O_APPEND);
  EXPECT_TRUE(fl & O_NONBLOCK);
  ASSERT_EQ(lseek(fd_, 0, SEEK_SET), 0);
  ASSERT_EQ(write(fd_, "d", 1), 1);
  EXPECT_EQ(ReadFile(path_), "abcd") << "O_APPEND set by fcntl takes effect";
  ASSERT_EQ(fcntl(fd_, F_SETFL, 0), 0);
  fl = fcntl(fd_, F_GETFL);
  EXPECT_FALSE(fl & O_APPEND);
  EXPECT_FALSE(fl & O_NONBLOCK);
}

TEST_F(FcntlTest, SetflIgnoresAccessModeAndCreationFlags) {
  ASSERT_EQ(fcntl(fd_, F_SETFL, O_RDONLY | O_TRUNC | O_CREAT | O_EXCL), 0);
  int fl = fcntl(fd_, F_GETFL);
  EXPECT_EQ(fl & O_ACCMODE, O_RDWR);
  EXPECT_FALSE(fl & (O_TRUNC | O_CREAT | O_EXCL));
  EXPECT_EQ(ReadFile(path_), "abc");
}

TEST_F(FcntlTest, DescriptorFlags) {
  EXPECT_EQ(fcntl(fd_, F_GETFD), 0);
  ASSERT_EQ(fcntl(fd_, F_SETFD, FD_CLOEXEC), 0);
  EXPECT_EQ(fcntl(fd_, F_GETFD), FD_CLOEXEC);
  ASSERT_EQ(fcntl(fd_, F_SETFD, 0), 0);
  EXPECT_EQ(fcntl(fd_, F_GETFD), 0);
}

TEST_F(FcntlTest, DupfdMinimum) {
  int d = fcntl(fd_, F_DUPFD, 100);
  EXPECT_EQ(d, 100);
  int e = fcntl(fd_, F_DUPFD, 100);
  EXPECT_EQ(e, 101) << "next free at or above the minimum";
  EXPECT_EQ(fcntl(e, F_GETFD), 0);
  int f = fcntl(fd_, F_DUPFD_CLOEXEC, 100);
  EXPECT_EQ(f, 102);
  EXPECT_EQ(fcntl(f, F_GETFD), FD_CLOEXEC);
  close(d);
  close(e);
  close(f);
  int g = fcntl(fd_, F_DUPFD, 0);
  EXPECT_GE(g, 0);
  EXPECT_LT(g, 100) << "lowest free from 0";
  close(g);
}

TEST_F(FcntlTest, DupfdBeyondLimitIsEinval) {
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_TRUE(FailsWith(fcntl(fd_, F_DUPFD, static_cast<int>(rl.rlim_cur)), EINVAL));
  EXPECT_TRUE(FailsWith(fcntl(fd_, F_DUPFD, -1), EINVAL));
}

TEST_F(FcntlTest, Errors) {
  EXPECT_TRUE(FailsWith(fcntl(-1, F_GETFL), EBADF));
  EXPECT_TRUE(FailsWith(fcntl(4321, F_GETFD), EBADF));
  EXPECT_TRUE(FailsWith(syscall(SYS_fcntl, fd_, 0x7fff, 0), EINVAL)) << "unknown command";
}

TEST_F(FcntlTest, NonblockOnPipe) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
  char c;
  EXPECT_TRUE(FailsWith(read(p[0], &c, 1), EAGAIN));
  ASSERT_EQ(write(p[1], "x", 1), 1);
  EXPECT_EQ(read(p[0], &c, 1), 1);
  close(p[0]);
  close(p[1]);
}

}  // namespace
}  // namespace sbx::testing
