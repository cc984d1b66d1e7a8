// getdents64 (called through syscall(), glibc's readdir hides the buffer protocol) on a /tmp
// directory with known entries: every name exactly once including "." and "..", d_type,
// 8-byte aligned records, resumption across small buffers, rewind with lseek, and the errors
// (EINVAL for a buffer that cannot hold one record, ENOTDIR, EBADF, EFAULT).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

// The kernel's struct linux_dirent64.
struct Dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  uint16_t d_reclen;
  uint8_t d_type;
  char d_name[];
};

long Getdents64(int fd, void* buf, size_t len) { return syscall(SYS_getdents64, fd, buf, len); }

// Reads every entry of `fd` with buffers of `bufsize` bytes; name -> d_type. Records each
// name's count in `seen` so that duplicates are visible.
::testing::AssertionResult ReadAllEntries(int fd, size_t bufsize,
                                          std::map<std::string, int>* types,
                                          std::map<std::string, int>* seen) {
  std::vector<char> buf(bufsize);
  for (int calls = 0; calls < 10000; ++calls) {
    long n = Getdents64(fd, buf.data(), buf.size());
    if (n < 0) return ::testing::AssertionFailure() << "getdents64: " << strerror(errno);
    if (n == 0) return ::testing::AssertionSuccess();
    long pos = 0;
    while (pos < n) {
      auto* d = reinterpret_cast<Dirent64*>(buf.data() + pos);
      if (d->d_reclen == 0 || d->d_reclen % 8 != 0 || pos + d->d_reclen > n) {
        return ::testing::AssertionFailure() << "bad d_reclen " << d->d_reclen;
      }
      if (d->d_ino == 0) return ::testing::AssertionFailure() << "d_ino 0 for " << d->d_name;
      (*types)[d->d_name] = d->d_type;
      (*seen)[d->d_name]++;
      pos += d->d_reclen;
    }
  }
  return ::testing::AssertionFailure() << "getdents64 never returned 0";
}

class GetdentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("a", "");
    dir_.WriteFile("bb", "");
    dir_.WriteFile("a-much-longer-file-name-to-vary-record-lengths", "");
    ASSERT_EQ(mkdir(dir_.Join("d").c_str(), 0755), 0);
    ASSERT_EQ(symlink("a", dir_.Join("s").c_str()), 0);
    fd_ = open(dir_.path().c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override { close(fd_); }

  const std::map<std::string, int> expected_ = {
      {".", DT_DIR}, {"..", DT_DIR}, {"a", DT_REG},
      {"bb", DT_REG}, {"a-much-longer-file-name-to-vary-record-lengths", DT_REG},
      {"d", DT_DIR}, {"s", DT_LNK}};

  TempDir dir_;
  int fd_ = -1;
};

TEST_F(GetdentsTest, ListsEveryEntryOnceWithType) {
  std::map<std::string, int> types, seen;
  ASSERT_TRUE(ReadAllEntries(fd_, 4096, &types, &seen));
  EXPECT_EQ(types, expected_);
  for (const auto& [name, count] : seen) EXPECT_EQ(count, 1) << name;
}

TEST_F(GetdentsTest, ResumesAcrossSmallBuffers) {
  // 64 bytes holds one or two records; the offset must carry across calls.
  std::map<std::string, int> types, seen;
  ASSERT_TRUE(ReadAllEntries(fd_, 72, &types, &seen));
  EXPECT_EQ(types, expected_);
  for (const auto& [name, count] : seen) EXPECT_EQ(count, 1) << name;
}

TEST_F(GetdentsTest, RewindRestarts) {
  std::map<std::string, int> types, seen;
  ASSERT_TRUE(ReadAllEntries(fd_, 4096, &types, &seen));
  char buf[256];
  EXPECT_EQ(Getdents64(fd_, buf, sizeof(buf)), 0) << "at end";
  ASSERT_EQ(lseek(fd_, 0, SEEK_SET), 0);
  types.clear();
  seen.clear();
  ASSERT_TRUE(ReadAllEntries(fd_, 4096, &types, &seen));
  EXPECT_EQ(types, expected_);
}

TEST_F(GetdentsTest, SeesCreationAndRemoval) {
  ASSERT_EQ(unlink(dir_.Join("bb").c_str()), 0);
  dir_.WriteFile("new", "");
  std::map<std::string, int> types, seen;
  ASSERT_TRUE(ReadAllEntries(fd_, 4096, &types, &seen));
  EXPECT_EQ(types.count("bb"), 0u);
  EXPECT_EQ(types.count("new"), 1u);
}

TEST_F(GetdentsTest, EmptyDirectoryHasDotAndDotDot) {
  int d = open(dir_.Join("d").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(d, 0);
  std::map<std::string, int> types, seen;
  ASSERT_TRUE(ReadAllEntries(d, 4096, &types, &seen));
  EXPECT_EQ(types, (std::map<std::string, int>{{".", DT_DIR}, {"..", DT_DIR}}));
  close(d);
}

TEST_F(GetdentsTest, BufferTooSmallIsEinval) {
  char buf[8];
  EXPECT_TRUE(FailsWith(Getdents64(fd_, buf, 1), EINVAL));
  EXPECT_TRUE(FailsWith(Getdents64(fd_, buf, sizeof(buf)), EINVAL));
  // Nothing was consumed: a proper buffer still sees everything.
  std::map<std::string, int> types, seen;
  ASSERT_TRUE(ReadAllEntries(fd_, 4096, &types, &seen));
  EXPECT_EQ(types, expected_);
}

TEST_F(GetdentsTest, Errors) {
  char buf[256];
  int f = open(dir_.Join("a").c_str(), O_RDONLY);
  ASSERT_GE(f, 0);
  EXPECT_TRUE(FailsWith(Getdents64(f, buf, sizeof(buf)), ENOTDIR));
  close(f);
  EXPECT_TRUE(FailsWith(Getdents64(-1, buf, sizeof(buf)), EBADF));
  EXPECT_TRUE(FailsWith(Getdents64(fd_, reinterpret_cast<void*>(1), 4096), EFAULT));
}

}  // namespace
}  // namespace sbx::testing
