// pipe and pipe2: data flows in order, EOF once every writer is closed, EPIPE once every reader
// is closed (SIGPIPE is ignored first, so no signal is delivered natively either), O_NONBLOCK
// gives EAGAIN on an empty or full pipe, O_CLOEXEC, fstat reports a FIFO, and the ends are
// one-way (EBADF the wrong way round). F_GETPIPE_SZ/F_SETPIPE_SZ (default 64 KiB, sizes
// rounded up to a power-of-two number of pages, EBUSY below the buffered data), FIONREAD,
// partial non-blocking writes, and (needs fork) PIPE_BUF atomicity between two writers.
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

class PipeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }
};

TEST_F(PipeTest, WriteThenRead) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_NE(p[0], p[1]);
  ASSERT_EQ(write(p[1], "hello", 5), 5);
  ASSERT_EQ(write(p[1], " pipe", 5), 5);
  char buf[32];
  EXPECT_EQ(read(p[0], buf, 3), 3);
  EXPECT_EQ(std::string(buf, 3), "hel");
  EXPECT_EQ(read(p[0], buf, sizeof(buf)), 7) << "a read returns what is available";
  EXPECT_EQ(std::string(buf, 7), "lo pipe");
  close(p[0]);
  close(p[1]);
}

TEST_F(PipeTest, EofWhenWriterClosed) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "xy", 2), 2);
  ASSERT_EQ(close(p[1]), 0);
  char buf[8];
  EXPECT_EQ(read(p[0], buf, sizeof(buf)), 2) << "buffered data is still delivered";
  EXPECT_EQ(read(p[0], buf, sizeof(buf)), 0);
  EXPECT_EQ(read(p[0], buf, sizeof(buf)), 0);
  close(p[0]);
}

TEST_F(PipeTest, WriterKeptOpenByDup) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
  int w2 = dup(p[1]);
  ASSERT_EQ(close(p[1]), 0);
  char c;
  EXPECT_TRUE(FailsWith(read(p[0], &c, 1), EAGAIN)) << "a writer remains, so no EOF";
  ASSERT_EQ(close(w2), 0);
  EXPECT_EQ(read(p[0], &c, 1), 0);
  close(p[0]);
}

TEST_F(PipeTest, EpipeWhenReaderClosed) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(close(p[0]), 0);
  EXPECT_TRUE(FailsWith(write(p[1], "x", 1), EPIPE));
  close(p[1]);
}

TEST_F(PipeTest, NonblockEmptyIsEagain) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
  EXPECT_TRUE(fcntl(p[0], F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(fcntl(p[1], F_GETFL) & O_NONBLOCK);
  char c;
  EXPECT_TRUE(FailsWith(read(p[0], &c, 1), EAGAIN));
  close(p[0]);
  close(p[1]);
}

TEST_F(PipeTest, NonblockFullIsEagain) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
  std::string chunk(4096, 'p');
  long total = 0;
  for (int i = 0; i < 1024; ++i) {
    ssize_t n = write(p[1], chunk.data(), chunk.size());
    if (n < 0) {
      EXPECT_EQ(errno, EAGAIN);
      break;
    }
    total += n;
  }
  EXPECT_EQ(total, 65536) << "the default pipe capacity is 16 pages";
  char buf[4096];
  EXPECT_EQ(read(p[0], buf, sizeof(buf)), 4096);
  EXPECT_EQ(write(p[1], chunk.data(), chunk.size()), 4096) << "room again after a read";
  close(p[0]);
  close(p[1]);
}

TEST_F(PipeTest, Cloexec) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  EXPECT_EQ(fcntl(p[0], F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(fcntl(p[1], F_GETFD), FD_CLOEXEC);
  close(p[0]);
  close(p[1]);
  ASSERT_EQ(pipe(p), 0);
  EXPECT_EQ(fcntl(p[0], F_GETFD), 0);
  close(p[0]);
  close(p[1]);
}

TEST_F(PipeTest, InvalidFlagsIsEinval) {
  int p[2] = {-1, -1};
  EXPECT_TRUE(FailsWith(pipe2(p, O_APPEND), EINVAL));
  EXPECT_TRUE(FailsWith(pipe2(p, 0x7fffffff), EINVAL));
}

TEST_F(PipeTest, BadPointerIsEfault) {
  EXPECT_TRUE(FailsWith(syscall(SYS_pipe2, reinterpret_cast<void*>(1), 0), EFAULT));
}

TEST_F(PipeTest, EndsAreOneWay) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  char c = 'c';
  EXPECT_TRUE(FailsWith(write(p[0], &c, 1), EBADF));
  EXPECT_TRUE(FailsWith(read(p[1], &c, 1), EBADF));
  EXPECT_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY);
  close(p[0]);
  close(p[1]);
}

TEST_F(PipeTest, FstatIsFifo) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  struct stat a, b;
  ASSERT_EQ(fstat(p[0], &a), 0);
  ASSERT_EQ(fstat(p[1], &b), 0);
  EXPECT_TRUE(S_ISFIFO(a.st_mode));
  EXPECT_EQ(a.st_ino, b.st_ino) << "both ends are the same pipe inode";
  ASSERT_EQ(write(p[1], "abc", 3), 3);
  close(p[0]);
  close(p[1]);
}

TEST_F(PipeTest, ZeroLengthWrite) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
  EXPECT_EQ(write(p[1], "", 0), 0);
  char c;
  EXPECT_TRUE(FailsWith(read(p[0], &c, 1), EAGAIN)) << "a zero-length write adds nothing";
  close(p[0]);
  close(p[1]);
}

TEST_F(PipeTest, PipeSizeDefaultAndRounding) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
  EXPECT_EQ(fcntl(p[0], F_GETPIPE_SZ), 65536);
  EXPECT_EQ(fcntl(p[1], F_GETPIPE_SZ), 65536) << "both ends share the pipe";
  EXPECT_EQ(fcntl(p[1], F_SETPIPE_SZ, 5000), 8192) << "rounded up to a power-of-two of pages";
  EXPECT_EQ(fcntl(p[0], F_GETPIPE_SZ), 8192);
  EXPECT_EQ(fcntl(p[0], F_SETPIPE_SZ, 1), 4096) << "at least one page";
  std::string big(10000, 'b');
  EXPECT_EQ(write(p[1], big.data(), big.size()), 4096) << "a non-blocking write fills the pipe";
  EXPECT_TRUE(FailsWith(write(p[1], "x", 1), EAGAIN));
  EXPECT_EQ(fcntl(p[0], F_SETPIPE_SZ, 65536), 65536);
  EXPECT_EQ(write(p[1], big.data(), big.size()), 10000) << "room after growing";
  EXPECT_TRUE(FailsWith(fcntl(p[0], F_SETPIPE_SZ, 4096), EBUSY)) << "14096 bytes buffered";
  EXPECT_TRUE(FailsWith(fcntl(p[0], F_SETPIPE_SZ, 0x80000001u), EINVAL));
  EXPECT_EQ(fcntl(p[0], F_GETPIPE_SZ), 65536);
  TempDir dir;
  int f = open(dir.WriteFile("f", "").c_str(), O_RDONLY);
  ASSERT_GE(f, 0);
  EXPECT_TRUE(FailsWith(fcntl(f, F_GETPIPE_SZ), EBADF)) << "not a pipe";
  EXPECT_TRUE(FailsWith(fcntl(f, F_SETPIPE_SZ, 4096), EBADF));
  close(f);
  close(p[0]);
  close(p[1]);
}

TEST_F(PipeTest, NonblockPartialWriteAndAtomicSmallWrite) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_NONBLOCK), 0);
  std::string big(100000, 'q');
  EXPECT_EQ(write(p[1], big.data(), big.size()), 65536) << "a large write is partial";
  char buf[100];
  ASSERT_EQ(read(p[0], buf, sizeof(buf)), 100);
  EXPECT_TRUE(FailsWith(write(p[1], big.data(), 200), EAGAIN))
      << "a write of at most PIPE_BUF bytes goes in whole or not at all";
  int n = -1;
  ASSERT_EQ(ioctl(p[0], FIONREAD, &n), 0);
  EXPECT_EQ(n, 65436);
  close(p[0]);
  close(p[1]);
}

// Needs fork: two writers of PIPE_BUF-sized records never interleave inside a record, and a
// blocked writer in one process is woken by the reader in another.
TEST_F(PipeTest, PipeBufWritesAreAtomicAcrossProcesses) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  constexpr int kRecords = 64;
  pid_t kids[2];
  for (int k = 0; k < 2; ++k) {
    kids[k] = fork();
    ASSERT_GE(kids[k], 0) << "fork: " << strerror(errno);
    if (kids[k] == 0) {
      close(p[0]);
      std::string rec(PIPE_BUF, static_cast<char>('a' + k));
      for (int i = 0; i < kRecords; ++i) {
        if (write(p[1], rec.data(), rec.size()) != PIPE_BUF) _exit(1);
      }
      _exit(0);
    }
  }
  close(p[1]);
  std::string all;
  char buf[8192];
  for (;;) {
    ssize_t n = read(p[0], buf, sizeof(buf));
    ASSERT_GE(n, 0);
    if (n == 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  close(p[0]);
  ASSERT_EQ(all.size(), 2u * kRecords * PIPE_BUF);
  for (size_t off = 0; off < all.size(); off += PIPE_BUF) {
    std::string rec = all.substr(off, PIPE_BUF);
    EXPECT_EQ(rec, std::string(PIPE_BUF, rec[0])) << "record at " << off << " is mixed";
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

}  // namespace
}  // namespace sbx::testing
