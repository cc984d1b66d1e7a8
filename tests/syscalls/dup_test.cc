// dup, dup2, dup3 and F_DUPFD_CLOEXEC: lowest-free allocation, shared file description (offset
// and status flags), close-on-exec being per descriptor, dup2 replacing an open target and its
// no-op on equal fds, and the errors (EBADF, EINVAL for dup3 on equal fds or bad flags).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

class DupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = dir_.WriteFile("a", "AAAA");
    b_ = dir_.WriteFile("b", "BBBB");
    fd_ = open(a_.c_str(), O_RDWR);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { close(fd_); }

  TempDir dir_;
  std::string a_, b_;
  int fd_ = -1;
};

TEST_F(DupTest, DupTakesLowestFreeAndSharesOffset) {
  int hole = dup(fd_);
  int after = dup(fd_);
  ASSERT_GT(after, hole);
  ASSERT_EQ(close(hole), 0);
  int d = dup(fd_);
  EXPECT_EQ(d, hole) << "lowest free descriptor";
  ASSERT_EQ(lseek(fd_, 3, SEEK_SET), 3);
  EXPECT_EQ(lseek(d, 0, SEEK_CUR), 3) << "dup shares the file offset";
  ASSERT_EQ(fcntl(d, F_SETFL, O_APPEND), 0);
  EXPECT_TRUE(fcntl(fd_, F_GETFL) & O_APPEND) << "and the status flags";
  close(d);
  close(after);
}

TEST_F(DupTest, DupDoesNotCopyCloexec) {
  ASSERT_EQ(fcntl(fd_, F_SETFD, FD_CLOEXEC), 0);
  int d = dup(fd_);
  ASSERT_GE(d, 0);
  EXPECT_EQ(fcntl(d, F_GETFD), 0);
  EXPECT_EQ(fcntl(fd_, F_GETFD), FD_CLOEXEC);
  close(d);
}

TEST_F(DupTest, Dup2ReplacesTarget) {
  int other = open(b_.c_str(), O_RDONLY);
  ASSERT_GE(other, 0);
  ASSERT_EQ(fcntl(other, F_SETFD, FD_CLOEXEC), 0);
  ASSERT_EQ(dup2(fd_, other), other);
  EXPECT_EQ(ReadAll(other), "AAAA") << "the target now refers to a's description";
  EXPECT_EQ(fcntl(other, F_GETFD), 0) << "dup2 clears close-on-exec on the target";
  close(other);
}

TEST_F(DupTest, Dup2ToUnusedHighFd) {
  EXPECT_EQ(dup2(fd_, 777), 777);
  EXPECT_EQ(fcntl(777, F_GETFD), 0);
  close(777);
}

TEST_F(DupTest, Dup2SameFdIsNoop) {
  ASSERT_EQ(fcntl(fd_, F_SETFD, FD_CLOEXEC), 0);
  EXPECT_EQ(dup2(fd_, fd_), fd_);
  EXPECT_EQ(fcntl(fd_, F_GETFD), FD_CLOEXEC) << "flags untouched";
  EXPECT_TRUE(FailsWith(dup2(999, 999), EBADF)) << "dup2 on the same closed fd";
}

TEST_F(DupTest, Dup2BadOldFdLeavesTargetOpen) {
  int other = open(b_.c_str(), O_RDONLY);
  ASSERT_GE(other, 0);
  EXPECT_TRUE(FailsWith(dup2(-1, other), EBADF));
  EXPECT_TRUE(FailsWith(dup2(998, other), EBADF));
  EXPECT_EQ(ReadAll(other), "BBBB") << "the target was not closed";
  close(other);
}

TEST_F(DupTest, Dup2TargetBeyondLimitIsEbadf) {
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_TRUE(FailsWith(dup2(fd_, static_cast<int>(rl.rlim_cur)), EBADF));
  EXPECT_TRUE(FailsWith(dup2(fd_, -1), EBADF));
}

TEST_F(DupTest, Dup3) {
  int target = dup(fd_);
  ASSERT_GE(target, 0);
  EXPECT_EQ(dup3(fd_, target, O_CLOEXEC), target);
  EXPECT_EQ(fcntl(target, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(dup3(fd_, target, 0), target);
  EXPECT_EQ(fcntl(target, F_GETFD), 0);
  close(target);
}

TEST_F(DupTest, Dup3Errors) {
  EXPECT_TRUE(FailsWith(syscall(SYS_dup3, fd_, fd_, 0), EINVAL)) << "same fd";
  EXPECT_TRUE(FailsWith(syscall(SYS_dup3, fd_, 500, O_NONBLOCK), EINVAL)) << "bad flag";
  EXPECT_TRUE(FailsWith(syscall(SYS_dup3, -1, 500, 0), EBADF));
  EXPECT_TRUE(FailsWith(fcntl(500, F_GETFD), EBADF)) << "a failed dup3 creates nothing";
}

TEST_F(DupTest, DupBadFdIsEbadf) {
  EXPECT_TRUE(FailsWith(dup(-1), EBADF));
  EXPECT_TRUE(FailsWith(dup(12345), EBADF));
}

TEST_F(DupTest, ClosingOneCopyKeepsTheOther) {
  int d = dup(fd_);
  ASSERT_GE(d, 0);
  ASSERT_EQ(close(fd_), 0);
  ASSERT_EQ(lseek(d, 0, SEEK_SET), 0);
  EXPECT_EQ(ReadAll(d), "AAAA");
  fd_ = d;
}

}  // namespace
}  // namespace sbx::testing
