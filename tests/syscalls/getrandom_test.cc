// getrandom: fills the buffer (two draws differ), honours GRND_NONBLOCK/GRND_INSECURE, returns
// 0 for a zero length, rejects unknown or contradictory flags with EINVAL and bad buffers with
// EFAULT; /dev/urandom reads agree in shape.
#include <fcntl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

long GetRandom(void* buf, size_t len, unsigned flags) {
  return syscall(SYS_getrandom, buf, len, flags);
}

TEST(GetrandomTest, FillsBuffer) {
  unsigned char a[64], b[64];
  memset(a, 0, sizeof(a));
  memset(b, 0, sizeof(b));
  ASSERT_EQ(GetRandom(a, sizeof(a), 0), 64);
  ASSERT_EQ(GetRandom(b, sizeof(b), 0), 64);
  EXPECT_NE(memcmp(a, b, sizeof(a)), 0) << "two 512-bit draws are equal";
  int zeros = 0;
  for (unsigned char c : a) zeros += (c == 0);
  EXPECT_LT(zeros, 16) << "64 random bytes are mostly non-zero";
}

TEST(GetrandomTest, Flags) {
  unsigned char buf[32];
  EXPECT_EQ(GetRandom(buf, sizeof(buf), GRND_NONBLOCK), 32);
  EXPECT_EQ(GetRandom(buf, sizeof(buf), GRND_RANDOM), 32);
  EXPECT_EQ(GetRandom(buf, sizeof(buf), GRND_INSECURE), 32);
  EXPECT_EQ(GetRandom(buf, sizeof(buf), GRND_RANDOM | GRND_NONBLOCK), 32);
}

TEST(GetrandomTest, InvalidFlagsIsEinval) {
  unsigned char buf[8];
  EXPECT_TRUE(FailsWith(GetRandom(buf, sizeof(buf), 0x100), EINVAL));
  EXPECT_TRUE(FailsWith(GetRandom(buf, sizeof(buf), ~0u), EINVAL));
  EXPECT_TRUE(FailsWith(GetRandom(buf, sizeof(buf), GRND_RANDOM | GRND_INSECURE), EINVAL));
}

TEST(GetrandomTest, ZeroLength) {
  EXPECT_EQ(GetRandom(nullptr, 0, 0), 0);
}

TEST(GetrandomTest, LargeRequestIsFilled) {
  std::vector<unsigned char> buf(1 << 20);
  long n = GetRandom(buf.data(), buf.size(), 0);
  ASSERT_GT(n, 0);
  EXPECT_LE(n, static_cast<long>(buf.size()));
}

TEST(GetrandomTest, BadBufferIsEfault) {
  EXPECT_TRUE(FailsWith(GetRandom(reinterpret_cast<void*>(1), 16, 0), EFAULT));
}

TEST(GetrandomTest, DevUrandom) {
  int fd = open("/dev/urandom", O_RDONLY);
  ASSERT_GE(fd, 0);
  unsigned char a[32], b[32];
  ASSERT_EQ(read(fd, a, sizeof(a)), 32);
  ASSERT_EQ(read(fd, b, sizeof(b)), 32);
  EXPECT_NE(memcmp(a, b, sizeof(a)), 0);
  close(fd);
}

}  // namespace
}  // namespace sbx::testing
