// mmap, munmap, mprotect, mincore and msync without taking a fault (signal delivery is not part
// of the sandbox yet): whether a page is mapped is observed with mincore/msync (ENOMEM when
// unmapped), never by touching it. Covers anonymous and file mappings (private and shared),
// MAP_FIXED replacement, MAP_FIXED_NOREPLACE, partial unmaps and the argument errors.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

void* MapAnon(size_t len, int prot = PROT_READ | PROT_WRITE) {
  return mmap(nullptr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

TEST(MmapTest, AnonymousIsZeroedAndWritable) {
  const size_t len = 4 * kPage;
  auto* p = static_cast<unsigned char*>(MapAnon(len));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPage, 0u);
  for (size_t i = 0; i < len; ++i) ASSERT_EQ(p[i], 0) << "byte " << i;
  for (size_t i = 0; i < len; ++i) p[i] = static_cast<unsigned char>(i);
  for (size_t i = 0; i < len; ++i) ASSERT_EQ(p[i], static_cast<unsigned char>(i));
  EXPECT_TRUE(Mapped(p, len));
  ASSERT_EQ(munmap(p, len), 0);
  EXPECT_TRUE(Unmapped(p, len));
}

TEST(MmapTest, LengthIsRoundedUpToPage) {
  auto* p = static_cast<char*>(MapAnon(1));
  ASSERT_NE(p, MAP_FAILED);
  p[kPage - 1] = 'x';  // The whole first page is usable.
  EXPECT_TRUE(Mapped(p, kPage));
  ASSERT_EQ(munmap(p, 1), 0) << "munmap rounds the length up too";
  EXPECT_TRUE(Unmapped(p, kPage));
}

TEST(MmapTest, MsyncOnUnmappedIsEnomem) {
  auto* p = static_cast<char*>(MapAnon(kPage));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(msync(p, kPage, MS_ASYNC), 0);
  ASSERT_EQ(munmap(p, kPage), 0);
  EXPECT_TRUE(FailsWith(msync(p, kPage, MS_ASYNC), ENOMEM));
}

TEST(MmapTest, FixedReplacesExistingPages) {
  auto* p = static_cast<char*>(MapAnon(3 * kPage));
  ASSERT_NE(p, MAP_FAILED);
  memset(p, 'a', 3 * kPage);
  void* q = mmap(p + kPage, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                 -1, 0);
  ASSERT_EQ(q, p + kPage);
  EXPECT_EQ(p[0], 'a');
  EXPECT_EQ(p[kPage], 0) << "the replaced page is fresh";
  EXPECT_EQ(p[2 * kPage - 1], 0);
  EXPECT_EQ(p[2 * kPage], 'a');
  munmap(p, 3 * kPage);
}

TEST(MmapTest, FixedNoReplaceOnExistingIsEexist) {
  auto* p = static_cast<char*>(MapAnon(2 * kPage));
  ASSERT_NE(p, MAP_FAILED);
  p[kPage] = 'k';
  EXPECT_TRUE(MapFailsWith(mmap(p + kPage, kPage, PROT_READ,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
                           EEXIST));
  EXPECT_EQ(p[kPage], 'k') << "the existing mapping is untouched";
  // A free range is accepted at exactly the requested address.
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  void* q = mmap(p + kPage, kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  EXPECT_EQ(q, p + kPage);
  munmap(p, 2 * kPage);
}

TEST(MmapTest, HintIsNotBinding) {
  auto* p = static_cast<char*>(MapAnon(kPage));
  ASSERT_NE(p, MAP_FAILED);
  // Hinting at an occupied page gives some other address, and leaves the old mapping alone.
  auto* q = static_cast<char*>(mmap(p, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(q, MAP_FAILED);
  EXPECT_NE(q, p);
  munmap(p, kPage);
  munmap(q, kPage);
}

TEST(MmapTest, PartialUnmapSplits) {
  auto* p = static_cast<char*>(MapAnon(3 * kPage));
  ASSERT_NE(p, MAP_FAILED);
  p[0] = '0';
  p[2 * kPage] = '2';
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  EXPECT_TRUE(Mapped(p, kPage));
  EXPECT_TRUE(Unmapped(p + kPage, kPage));
  EXPECT_TRUE(Mapped(p + 2 * kPage, kPage));
  EXPECT_EQ(p[0], '0');
  EXPECT_EQ(p[2 * kPage], '2');
  // Unmapping a range that includes a hole is fine.
  EXPECT_EQ(munmap(p, 3 * kPage), 0);
  EXPECT_TRUE(Unmapped(p, 3 * kPage));
  EXPECT_EQ(munmap(p, 3 * kPage), 0) << "unmapping nothing succeeds";
}

TEST(MmapTest, ProtNoneIsMappedButInaccessible) {
  auto* p = static_cast<char*>(MapAnon(2 * kPage, PROT_NONE));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(Mapped(p, 2 * kPage)) << "mincore reports PROT_NONE pages as mapped";
  // The kernel refuses to copy from a PROT_NONE page instead of faulting the caller.
  int z = open("/dev/zero", O_RDONLY);
  ASSERT_GE(z, 0);
  EXPECT_TRUE(FailsWith(read(z, p, 16), EFAULT));
  close(z);
  ASSERT_EQ(mprotect(p, kPage, PROT_READ | PROT_WRITE), 0);
  p[0] = 'w';
  EXPECT_EQ(p[0], 'w');
  munmap(p, 2 * kPage);
}

TEST(MmapTest, MprotectKeepsContents) {
  auto* p = static_cast<char*>(MapAnon(kPage));
  ASSERT_NE(p, MAP_FAILED);
  strcpy(p, "kept");
  ASSERT_EQ(mprotect(p, kPage, PROT_READ), 0);
  EXPECT_STREQ(p, "kept");
  // The kernel's copy into a read-only page fails with EFAULT rather than faulting.
  int z = open("/dev/zero", O_RDONLY);
  ASSERT_GE(z, 0);
  EXPECT_TRUE(FailsWith(read(z, p, 4), EFAULT));
  close(z);
  EXPECT_STREQ(p, "kept");
  ASSERT_EQ(mprotect(p, kPage, PROT_READ | PROT_WRITE), 0);
  p[0] = 'K';
  EXPECT_STREQ(p, "Kept");
  munmap(p, kPage);
}

TEST(MmapTest, MprotectErrors) {
  auto* p = static_cast<char*>(MapAnon(kPage));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(FailsWith(mprotect(p + 1, kPage, PROT_READ), EINVAL)) << "unaligned";
  EXPECT_TRUE(FailsWith(mprotect(p, kPage, 0x1000), EINVAL)) << "unknown prot bit";
  ASSERT_EQ(munmap(p, kPage), 0);
  EXPECT_TRUE(FailsWith(mprotect(p, kPage, PROT_READ), ENOMEM)) << "unmapped";
}

TEST(MmapTest, ArgumentErrors) {
  EXPECT_TRUE(MapFailsWith(MapAnon(0), EINVAL)) << "zero length";
  EXPECT_TRUE(MapFailsWith(mmap(nullptr, kPage, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL))
      << "neither MAP_PRIVATE nor MAP_SHARED";
  EXPECT_TRUE(MapFailsWith(mmap(reinterpret_cast<void*>(kPage + 1), kPage, PROT_READ,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                           EINVAL))
      << "unaligned MAP_FIXED";
  EXPECT_TRUE(MapFailsWith(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, -1, 0), EBADF))
      << "file mapping without a file";
  EXPECT_TRUE(MapFailsWith(mmap(nullptr, static_cast<size_t>(-1) & ~(kPage - 1), PROT_READ,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                           ENOMEM))
      << "larger than the address space";
  EXPECT_TRUE(FailsWith(munmap(reinterpret_cast<void*>(kPage + 1), kPage), EINVAL));
  EXPECT_TRUE(FailsWith(munmap(nullptr, 0), EINVAL));
}

class FileMmapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    contents_ = std::string(kPage + 100, '\0');
    for (size_t i = 0; i < contents_.size(); ++i) contents_[i] = static_cast<char>('a' + i % 26);
    path_ = dir_.WriteFile("f", contents_);
  }
  TempDir dir_;
  std::string path_;
  std::string contents_;
};

TEST_F(FileMmapTest, PrivateMappingShowsContentsAndZeroTail) {
  int fd = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(mmap(nullptr, 2 * kPage, PROT_READ, MAP_PRIVATE, fd, 0));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  close(fd);  // The mapping outlives the descriptor.
  EXPECT_EQ(std::string(p, contents_.size()), contents_);
  for (size_t i = contents_.size(); i < 2 * kPage; ++i) {
    ASSERT_EQ(p[i], 0) << "bytes past EOF in the last page are zero, offset " << i;
  }
  munmap(p, 2 * kPage);
}

TEST_F(FileMmapTest, Offset) {
  int fd = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd, kPage));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(std::string(p, 100), contents_.substr(kPage));
  munmap(p, kPage);
  EXPECT_TRUE(MapFailsWith(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, fd, 1), EINVAL))
      << "unaligned offset";
  close(fd);
}

TEST_F(FileMmapTest, PrivateWritesDoNotReachFile) {
  int fd = open(path_.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  p[0] = '#';
  EXPECT_EQ(p[0], '#');
  munmap(p, kPage);
  close(fd);
  EXPECT_EQ(ReadFile(path_), contents_);
}

TEST_F(FileMmapTest, SharedWritesReachFile) {
  int fd = open(path_.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  memcpy(p, "SHARED", 6);
  char buf[6];
  ASSERT_EQ(pread(fd, buf, 6, 0), 6);
  EXPECT_EQ(std::string(buf, 6), "SHARED") << "read() sees the shared mapping's write";
  ASSERT_EQ(pwrite(fd, "w", 1, 10), 1);
  EXPECT_EQ(p[10], 'w') << "the shared mapping sees write()";
  EXPECT_EQ(msync(p, kPage, MS_SYNC), 0);
  munmap(p, kPage);
  close(fd);
}

TEST_F(FileMmapTest, SharedWritableNeedsWritableFd) {
  int fd = open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(MapFailsWith(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0),
                           EACCES));
  int wo = open(path_.c_str(), O_WRONLY);
  ASSERT_GE(wo, 0);
  EXPECT_TRUE(MapFailsWith(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, wo, 0), EACCES))
      << "mapping needs a readable fd";
  close(wo);
  // A private writable mapping of a read-only fd is allowed (copy-on-write).
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  EXPECT_NE(p, MAP_FAILED);
  if (p != MAP_FAILED) munmap(p, kPage);
  close(fd);
}

TEST_F(FileMmapTest, TwoSharedMappingsSeeEachOther) {
  int fd = open(path_.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  int fd2 = open(path_.c_str(), O_RDWR);  // a second open file description
  ASSERT_GE(fd2, 0);
  auto* p = static_cast<char*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  auto* q = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd2, kPage));
  ASSERT_NE(q, MAP_FAILED) << strerror(errno);
  EXPECT_EQ(q[0], contents_[kPage]);
  p[kPage + 3] = '#';
  EXPECT_EQ(q[3], '#') << "a store through one mapping is seen through the other";
  ASSERT_EQ(mprotect(q, kPage, PROT_READ | PROT_WRITE), 0) << strerror(errno);
  q[4] = '%';
  EXPECT_EQ(p[kPage + 4], '%');
  // Bytes past EOF in the last page are zero in every mapping and never reach the file.
  EXPECT_EQ(q[200], 0);
  munmap(q, kPage);
  munmap(p, 2 * kPage);
  close(fd2);
  close(fd);
  std::string want = contents_;
  want[kPage + 3] = '#';
  want[kPage + 4] = '%';
  EXPECT_EQ(ReadFile(path_), want) << "the stores are in the file after munmap and close";
}

TEST_F(FileMmapTest, SharedMappingSeesTruncateAndRegrowth) {
  int fd = open(path_.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 2 * kPage), 0);
  auto* p = static_cast<char*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  p[0] = 'A';
  p[kPage + 1] = 'B';
  unsigned char vec[2] = {9, 9};
  ASSERT_EQ(mincore(p, 2 * kPage, vec), 0);
  EXPECT_EQ(vec[0] & 1, 1);
  EXPECT_EQ(vec[1] & 1, 1);
  // Shrinking drops the second page from the file and from the mapping (touching it now
  // would raise SIGBUS, which this suite does not provoke); the first page stays.
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  ASSERT_EQ(mincore(p, 2 * kPage, vec), 0);
  EXPECT_EQ(vec[0] & 1, 1);
  EXPECT_EQ(vec[1] & 1, 0) << "the truncated page is gone";
  EXPECT_EQ(p[0], 'A');
  // Growing again exposes a zero page, not the old data.
  ASSERT_EQ(ftruncate(fd, 2 * kPage), 0);
  EXPECT_EQ(p[kPage + 1], 0);
  char c = 'x';
  ASSERT_EQ(pread(fd, &c, 1, kPage + 1), 1);
  EXPECT_EQ(c, 0);
  p[kPage + 2] = 'C';
  ASSERT_EQ(pread(fd, &c, 1, kPage + 2), 1);
  EXPECT_EQ(c, 'C');
  munmap(p, 2 * kPage);
  close(fd);
}

TEST_F(FileMmapTest, SharedMappingOfAppendedData) {
  int fd = open(path_.c_str(), O_RDWR | O_APPEND);
  ASSERT_GE(fd, 0);
  auto* p = static_cast<char*>(mmap(nullptr, 3 * kPage, PROT_READ, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  EXPECT_EQ(p[kPage + 1], contents_[kPage + 1]);
  std::string more(kPage, 'm');
  ASSERT_EQ(write(fd, more.data(), more.size()), static_cast<ssize_t>(more.size()));
  EXPECT_EQ(p[contents_.size()], 'm') << "data appended with write(2) shows in the mapping";
  EXPECT_EQ(p[2 * kPage + 50], 'm');
  munmap(p, 3 * kPage);
  close(fd);
}

TEST_F(FileMmapTest, PipeIsEnodev) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_TRUE(MapFailsWith(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, p[0], 0), ENODEV));
  close(p[0]);
  close(p[1]);
}

TEST(MmapSharedAnonTest, SharedAnonymousIsZeroed) {
  auto* p = static_cast<char*>(
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(p[0], 0);
  p[0] = 1;
  EXPECT_EQ(p[0], 1);
  munmap(p, kPage);
}

}  // namespace
}  // namespace sbx::testing
