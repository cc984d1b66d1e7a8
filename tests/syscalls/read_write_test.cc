// read, write, pread64, pwrite64, readv, writev on regular files under /tmp: data round trips,
// file offsets, EOF, zero-length transfers and the errors a guest can provoke (EBADF, EFAULT,
// EINVAL, EISDIR). Raw syscall() is used where glibc's fortified wrappers would interfere.
#include <fcntl.h>
#include <limits.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

class ReadWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Join("file");
    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd_, 0) << strerror(errno);
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
  }

  TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

TEST_F(ReadWriteTest, WriteThenReadBack) {
  ASSERT_EQ(write(fd_, "hello world", 11), 11);
  EXPECT_EQ(lseek(fd_, 0, SEEK_CUR), 11);
  ASSERT_EQ(lseek(fd_, 0, SEEK_SET), 0);
  char buf[32] = {};
  EXPECT_EQ(read(fd_, buf, sizeof(buf)), 11);
  EXPECT_EQ(std::string(buf, 11), "hello world");
  EXPECT_EQ(read(fd_, buf, sizeof(buf)), 0) << "read at EOF returns 0";
}

TEST_F(ReadWriteTest, ShortReadAtEndOfFile) {
  ASSERT_EQ(write(fd_, "abcdef", 6), 6);
  ASSERT_EQ(lseek(fd_, 4, SEEK_SET), 4);
  char buf[16];
  EXPECT_EQ(read(fd_, buf, sizeof(buf)), 2);
  EXPECT_EQ(std::string(buf, 2), "ef");
}

TEST_F(ReadWriteTest, LargeTransfer) {
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  ASSERT_EQ(write(fd_, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(lseek(fd_, 0, SEEK_SET), 0);
  EXPECT_EQ(ReadAll(fd_), data);
}

TEST_F(ReadWriteTest, PreadPwriteDoNotMoveOffset) {
  ASSERT_EQ(write(fd_, "0123456789", 10), 10);
  ASSERT_EQ(lseek(fd_, 2, SEEK_SET), 2);
  EXPECT_EQ(syscall(SYS_pwrite64, fd_, "AB", 2, 5), 2);
  char buf[4] = {};
  EXPECT_EQ(syscall(SYS_pread64, fd_, buf, 3, 4), 3);
  EXPECT_EQ(std::string(buf, 3), "4AB");
  EXPECT_EQ(lseek(fd_, 0, SEEK_CUR), 2);
  EXPECT_EQ(syscall(SYS_pread64, fd_, buf, 4, 100), 0) << "pread past EOF returns 0";
}

TEST_F(ReadWriteTest, PwritePastEndLeavesZeroHole) {
  ASSERT_EQ(syscall(SYS_pwrite64, fd_, "x", 1, 8), 1);
  char buf[9];
  ASSERT_EQ(syscall(SYS_pread64, fd_, buf, 9, 0), 9);
  EXPECT_EQ(std::string(buf, 9), std::string(8, '\0') + "x");
}

TEST_F(ReadWriteTest, PreadNegativeOffsetIsEinval) {
  char buf[4];
  EXPECT_TRUE(FailsWith(syscall(SYS_pread64, fd_, buf, 4, -1L), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_pwrite64, fd_, "a", 1, -1L), EINVAL));
}

TEST_F(ReadWriteTest, PreadOnPipeIsEspipe) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  char buf[4];
  EXPECT_TRUE(FailsWith(syscall(SYS_pread64, p[0], buf, 4, 0), ESPIPE));
  EXPECT_TRUE(FailsWith(syscall(SYS_pwrite64, p[1], "a", 1, 0), ESPIPE));
  close(p[0]);
  close(p[1]);
}

TEST_F(ReadWriteTest, WritevReadvScatterGather) {
  char a[] = "abc", b[] = "", c[] = "defgh";
  struct iovec wv[3] = {{a, 3}, {b, 0}, {c, 5}};
  EXPECT_EQ(syscall(SYS_writev, fd_, wv, 3), 8);
  ASSERT_EQ(lseek(fd_, 0, SEEK_SET), 0);
  char x[2], y[4], z[8] = {};
  struct iovec rv[3] = {{x, 2}, {y, 4}, {z, 8}};
  EXPECT_EQ(syscall(SYS_readv, fd_, rv, 3), 8);
  EXPECT_EQ(std::string(x, 2), "ab");
  EXPECT_EQ(std::string(y, 4), "cdef");
  EXPECT_EQ(std::string(z, 2), "gh");
}

TEST_F(ReadWriteTest, IovecCountLimits) {
  char c = 'x';
  struct iovec v = {&c, 1};
  EXPECT_EQ(syscall(SYS_writev, fd_, &v, 0), 0);
  EXPECT_TRUE(FailsWith(syscall(SYS_writev, fd_, &v, -1), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_writev, fd_, &v, IOV_MAX + 1), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_readv, fd_, &v, IOV_MAX + 1), EINVAL));
}

TEST_F(ReadWriteTest, IovecArrayBadPointerIsEfault) {
  EXPECT_TRUE(FailsWith(syscall(SYS_writev, fd_, reinterpret_cast<void*>(1), 1), EFAULT));
  EXPECT_TRUE(FailsWith(syscall(SYS_readv, fd_, reinterpret_cast<void*>(1), 1), EFAULT));
}

TEST_F(ReadWriteTest, ZeroLengthTransfers) {
  char buf[1];
  EXPECT_EQ(syscall(SYS_write, fd_, buf, 0), 0);
  EXPECT_EQ(syscall(SYS_read, fd_, buf, 0), 0);
  EXPECT_EQ(syscall(SYS_write, fd_, nullptr, 0), 0);
  EXPECT_EQ(syscall(SYS_read, fd_, nullptr, 0), 0);
  EXPECT_EQ(lseek(fd_, 0, SEEK_END), 0) << "zero-length write must not extend the file";
}

TEST_F(ReadWriteTest, BadBufferIsEfault) {
  ASSERT_EQ(write(fd_, "data", 4), 4);
  ASSERT_EQ(lseek(fd_, 0, SEEK_SET), 0);
  EXPECT_TRUE(FailsWith(syscall(SYS_read, fd_, reinterpret_cast<void*>(1), 4), EFAULT));
  EXPECT_TRUE(FailsWith(syscall(SYS_write, fd_, reinterpret_cast<void*>(1), 4), EFAULT));
  EXPECT_TRUE(
      FailsWith(syscall(SYS_pread64, fd_, reinterpret_cast<void*>(1), 4, 0), EFAULT));
  // A kernel-half address is never valid user memory.
  EXPECT_TRUE(FailsWith(
      syscall(SYS_write, fd_, reinterpret_cast<void*>(0xffff800000000000ULL), 4), EFAULT));
  EXPECT_EQ(lseek(fd_, 0, SEEK_END), 4) << "failed writes must not change the file";
}

TEST_F(ReadWriteTest, BadFdIsEbadf) {
  char buf[4];
  EXPECT_TRUE(FailsWith(syscall(SYS_read, -1, buf, 4), EBADF));
  EXPECT_TRUE(FailsWith(syscall(SYS_write, -1, buf, 4), EBADF));
  EXPECT_TRUE(FailsWith(syscall(SYS_read, 1 << 20, buf, 4), EBADF));
  int fd = dup(fd_);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(close(fd), 0);
  EXPECT_TRUE(FailsWith(syscall(SYS_write, fd, buf, 4), EBADF)) << "closed fd";
}

TEST_F(ReadWriteTest, AccessModeIsEnforced) {
  int ro = open(path_.c_str(), O_RDONLY);
  int wo = open(path_.c_str(), O_WRONLY);
  ASSERT_GE(ro, 0);
  ASSERT_GE(wo, 0);
  char buf[4];
  EXPECT_TRUE(FailsWith(syscall(SYS_write, ro, "abcd", 4), EBADF));
  EXPECT_TRUE(FailsWith(syscall(SYS_read, wo, buf, 4), EBADF));
  close(ro);
  close(wo);
}

TEST_F(ReadWriteTest, ReadDirectoryIsEisdir) {
  int d = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(d, 0);
  char buf[16];
  EXPECT_TRUE(FailsWith(syscall(SYS_read, d, buf, sizeof(buf)), EISDIR));
  close(d);
}

TEST_F(ReadWriteTest, DevNullAndDevZero) {
  int null = open("/dev/null", O_RDWR);
  int zero = open("/dev/zero", O_RDONLY);
  ASSERT_GE(null, 0);
  ASSERT_GE(zero, 0);
  char buf[64];
  EXPECT_EQ(write(null, "discard", 7), 7);
  EXPECT_EQ(read(null, buf, sizeof(buf)), 0);
  memset(buf, 0x55, sizeof(buf));
  EXPECT_EQ(read(zero, buf, sizeof(buf)), 64);
  EXPECT_EQ(std::string(buf, 64), std::string(64, '\0'));
  close(null);
  close(zero);
}

TEST_F(ReadWriteTest, DevFullWriteIsEnospc) {
  int full = open("/dev/full", O_RDWR);
  ASSERT_GE(full, 0);
  char buf[8] = {1};
  EXPECT_TRUE(FailsWith(syscall(SYS_write, full, "x", 1), ENOSPC));
  EXPECT_EQ(read(full, buf, sizeof(buf)), 8);
  EXPECT_EQ(buf[0], 0);
  close(full);
}

}  // namespace
}  // namespace sbx::testing
