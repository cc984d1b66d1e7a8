// lseek: SEEK_SET/SEEK_CUR/SEEK_END arithmetic, seeking past the end (holes read as zeros),
// offsets shared by duplicated descriptors, and the errors: EINVAL for a negative result or a
// bad whence, ESPIPE on pipes, EBADF on closed descriptors.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

class LseekTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = open(dir_.WriteFile("f", "0123456789").c_str(), O_RDWR);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { close(fd_); }

  TempDir dir_;
  int fd_ = -1;
};

TEST_F(LseekTest, Whence) {
  EXPECT_EQ(lseek(fd_, 3, SEEK_SET), 3);
  char c;
  ASSERT_EQ(read(fd_, &c, 1), 1);
  EXPECT_EQ(c, '3');
  EXPECT_EQ(lseek(fd_, 2, SEEK_CUR), 6);
  EXPECT_EQ(lseek(fd_, -1, SEEK_CUR), 5);
  EXPECT_EQ(lseek(fd_, 0, SEEK_CUR), 5) << "SEEK_CUR 0 queries the offset";
  EXPECT_EQ(lseek(fd_, 0, SEEK_END), 10);
  EXPECT_EQ(lseek(fd_, -4, SEEK_END), 6);
  ASSERT_EQ(read(fd_, &c, 1), 1);
  EXPECT_EQ(c, '6');
}

TEST_F(LseekTest, PastEndCreatesHole) {
  EXPECT_EQ(lseek(fd_, 100, SEEK_END), 110);
  char c;
  EXPECT_EQ(read(fd_, &c, 1), 0) << "reading past the end is EOF";
  ASSERT_EQ(write(fd_, "!", 1), 1);
  EXPECT_EQ(lseek(fd_, 0, SEEK_END), 111);
  char buf[100];
  ASSERT_EQ(pread(fd_, buf, sizeof(buf), 10), 100);
  EXPECT_EQ(std::string(buf, 100), std::string(100, '\0'));
}

TEST_F(LseekTest, NegativeResultIsEinval) {
  ASSERT_EQ(lseek(fd_, 4, SEEK_SET), 4);
  EXPECT_TRUE(FailsWith(syscall(SYS_lseek, fd_, -1L, SEEK_SET), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_lseek, fd_, -5L, SEEK_CUR), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_lseek, fd_, -11L, SEEK_END), EINVAL));
  EXPECT_EQ(lseek(fd_, 0, SEEK_CUR), 4) << "a failed seek leaves the offset alone";
}

TEST_F(LseekTest, BadWhenceIsEinval) {
  EXPECT_TRUE(FailsWith(syscall(SYS_lseek, fd_, 0L, 42), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_lseek, fd_, 0L, -1), EINVAL));
}

TEST_F(LseekTest, PipeIsEspipe) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_TRUE(FailsWith(lseek(p[0], 0, SEEK_CUR), ESPIPE));
  EXPECT_TRUE(FailsWith(lseek(p[1], 0, SEEK_SET), ESPIPE));
  close(p[0]);
  close(p[1]);
}

TEST_F(LseekTest, ClosedFdIsEbadf) {
  EXPECT_TRUE(FailsWith(lseek(-1, 0, SEEK_SET), EBADF));
  int fd = dup(fd_);
  ASSERT_EQ(close(fd), 0);
  EXPECT_TRUE(FailsWith(lseek(fd, 0, SEEK_SET), EBADF));
}

TEST_F(LseekTest, DupSharesOffset) {
  int other = dup(fd_);
  ASSERT_GE(other, 0);
  ASSERT_EQ(lseek(fd_, 7, SEEK_SET), 7);
  EXPECT_EQ(lseek(other, 0, SEEK_CUR), 7);
  close(other);
}

TEST_F(LseekTest, SeparateOpensHaveSeparateOffsets) {
  int other = open(dir_.Join("f").c_str(), O_RDONLY);
  ASSERT_GE(other, 0);
  ASSERT_EQ(lseek(fd_, 7, SEEK_SET), 7);
  EXPECT_EQ(lseek(other, 0, SEEK_CUR), 0);
  close(other);
}

TEST_F(LseekTest, DevNullAlwaysAtZero) {
  int fd = open("/dev/null", O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(lseek(fd, 100, SEEK_SET), 0);
  EXPECT_EQ(lseek(fd, 5, SEEK_END), 0);
  close(fd);
}

TEST_F(LseekTest, DirectoryRewind) {
  int d = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(d, 0);
  EXPECT_EQ(lseek(d, 0, SEEK_SET), 0);
  close(d);
}

}  // namespace
}  // namespace sbx::testing
