// fork(2) compatibility tests: copy-on-write memory (small values and a 16 MiB buffer, writes
// on both sides after the fork), inherited descriptors with shared offsets, MAP_SHARED versus
// MAP_PRIVATE anonymous memory, getpid/getppid in the child, a 200-iteration fork+wait loop,
// and pipes across processes (EOF only after every writer closed, EPIPE and SIGPIPE once the
// reader process is gone).
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

volatile int g_value = 1;

TEST(ForkTest, ChildGetsCopyOfMemory) {
  g_value = 1;
  Pipe to_child, to_parent;
  pid_t pid = ForkAndRun([&] {
    EXPECT_EQ(g_value, 1);
    to_child.Await();  // the parent has written 2
    EXPECT_EQ(g_value, 1) << "the parent's write after fork leaked into the child";
    g_value = 3;
    to_parent.Notify();
  });
  g_value = 2;
  to_child.Notify();
  to_parent.Await();  // the child has written 3
  EXPECT_EQ(g_value, 2) << "the child's write leaked into the parent";
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
}

// Fills `buf` with a pattern that depends on `seed` and the word index.
void Fill(std::vector<uint64_t>& buf, size_t from, size_t to, uint64_t seed) {
  for (size_t i = from; i < to; ++i) buf[i] = seed * 0x9e3779b97f4a7c15ull + i;
}
// Index of the first word in [from, to) that does not hold the `seed` pattern, or `to`.
size_t FirstMismatch(const std::vector<uint64_t>& buf, size_t from, size_t to, uint64_t seed) {
  for (size_t i = from; i < to; ++i) {
    if (buf[i] != seed * 0x9e3779b97f4a7c15ull + i) return i;
  }
  return to;
}

TEST(ForkTest, BigBufferIsCopyOnWrite) {
  constexpr size_t kWords = 16 * 1024 * 1024 / sizeof(uint64_t);
  std::vector<uint64_t> buf(kWords);
  Fill(buf, 0, kWords, 1);
  Pipe to_child, to_parent;
  pid_t pid = ForkAndRun([&] {
    EXPECT_EQ(FirstMismatch(buf, 0, kWords, 1), kWords);
    to_child.Await();  // the parent rewrote the first half
    EXPECT_EQ(FirstMismatch(buf, 0, kWords, 1), kWords) << "parent writes visible in child";
    Fill(buf, kWords / 4, kWords, 3);  // overlaps the parent's half and the untouched half
    EXPECT_EQ(FirstMismatch(buf, 0, kWords / 4, 1), kWords / 4);
    EXPECT_EQ(FirstMismatch(buf, kWords / 4, kWords, 3), kWords);
    to_parent.Notify();
  });
  Fill(buf, 0, kWords / 2, 2);
  to_child.Notify();
  to_parent.Await();
  EXPECT_EQ(FirstMismatch(buf, 0, kWords / 2, 2), kWords / 2);
  EXPECT_EQ(FirstMismatch(buf, kWords / 2, kWords, 1), kWords) << "child writes visible";
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
}

TEST(ForkTest, DescriptorsInheritedWithSharedOffset) {
  TempDir dir;
  std::string path = dir.WriteFile("f", "abcdef");
  int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  int cloexec_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(cloexec_fd, 0);
  EXPECT_CHILD_OK([&] {
    char buf[3];
    ASSERT_EQ(read(fd, buf, 3), 3);
    EXPECT_EQ(std::string(buf, 3), "abc");
    EXPECT_EQ(fcntl(fd, F_GETFD), 0);
    EXPECT_EQ(fcntl(cloexec_fd, F_GETFD), FD_CLOEXEC) << "FD_CLOEXEC survives fork";
    EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
    // Closing in the child does not close the parent's descriptor.
    EXPECT_EQ(close(cloexec_fd), 0);
  });
  char buf[3];
  ASSERT_EQ(read(fd, buf, 3), 3) << "the child's read moved the shared offset";
  EXPECT_EQ(std::string(buf, 3), "def");
  EXPECT_EQ(fcntl(cloexec_fd, F_GETFD), FD_CLOEXEC);
  close(fd);
  close(cloexec_fd);
}

TEST(ForkTest, SharedAnonymousMemoryIsShared) {
  void* shared = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  void* priv = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(priv, MAP_FAILED);
  auto* s = static_cast<volatile int*>(shared);
  auto* p = static_cast<volatile int*>(priv);
  *s = 1;
  *p = 1;
  EXPECT_CHILD_OK([&] {
    EXPECT_EQ(*s, 1);
    EXPECT_EQ(*p, 1);
    *s = 42;
    *p = 42;
  });
  EXPECT_EQ(*s, 42) << "MAP_SHARED write in the child not seen";
  EXPECT_EQ(*p, 1) << "MAP_PRIVATE write in the child leaked";
  munmap(shared, kPage);
  munmap(priv, kPage);
}

TEST(ForkTest, ChildIdentity) {
  const pid_t parent = getpid();
  Pipe pipe;
  pid_t pid = ForkAndRun([&] {
    EXPECT_EQ(getppid(), parent);
    EXPECT_NE(getpid(), parent);
    EXPECT_EQ(syscall(SYS_gettid), getpid());
    EXPECT_EQ(getpgrp(), getpgid(parent)) << "the process group is inherited";
    EXPECT_EQ(getsid(0), getsid(parent)) << "the session is inherited";
    pipe.Send<pid_t>(getpid());
  });
  ASSERT_GT(pid, 0);
  EXPECT_EQ(pipe.Recv<pid_t>(), pid) << "fork's return value is the child's pid";
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
}

TEST(ForkTest, ForkWaitLoop) {
  for (int i = 0; i < 200; ++i) {
    pid_t pid = fork();
    if (pid == 0) _exit(i & 0xff);
    ASSERT_GT(pid, 0) << "fork " << i << ": " << strerror(errno);
    int status = WaitStatus(pid);
    ASSERT_TRUE(ExitedWith(status, i & 0xff)) << "iteration " << i;
  }
}

TEST(ForkTest, ExitStatusIsLow8Bits) {
  pid_t pid = fork();
  if (pid == 0) _exit(0x1234);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0x34));
}

TEST(ForkPipeTest, ReaderSeesEofOnlyAfterEveryWriterCloses) {
  constexpr size_t kFromParent = 100000, kFromWriter = 70000;
  Pipe data, go, result;
  pid_t writer = ForkAndRun([&] {
    data.CloseRead();
    go.Await();
    std::string b(kFromWriter, 'b');
    EXPECT_EQ(write(data.w(), b.data(), b.size()), static_cast<ssize_t>(b.size()));
  });
  pid_t reader = ForkAndRun([&] {
    data.CloseWrite();
    std::string got = data.ReadToEof();
    result.Send<size_t>(got.size());
    EXPECT_EQ(got.find('b'), kFromParent) << "bytes out of order";
  });
  data.CloseRead();
  std::string a(kFromParent, 'a');
  // The reader drains concurrently, so this write of more than the pipe capacity completes.
  ASSERT_EQ(write(data.w(), a.data(), a.size()), static_cast<ssize_t>(a.size()));
  data.CloseWrite();
  go.Notify();
  EXPECT_EQ(result.Recv<size_t>(), kFromParent + kFromWriter)
      << "EOF came while a writer still held the pipe";
  EXPECT_TRUE(ExitedWith(WaitStatus(writer), 0));
  EXPECT_TRUE(ExitedWith(WaitStatus(reader), 0));
}

// The pipe's reader is a child that exits; the writer (another child, so the test process's
// dispositions are untouched) then writes.
int WriteAfterReaderExited(void (*setup)()) {
  return RunInChild([&] {
    Pipe p;
    pid_t reader = ForkAndRun([&] { p.CloseWrite(); });
    p.CloseRead();
    ASSERT_TRUE(ExitedWith(WaitStatus(reader), 0));
    setup();
    errno = 0;
    EXPECT_EQ(write(p.w(), "x", 1), -1);
    EXPECT_EQ(errno, EPIPE);
  });
}

volatile sig_atomic_t g_sigpipes = 0;
void CountSigpipe(int) { g_sigpipes = g_sigpipes + 1; }

TEST(ForkPipeTest, WriteAfterReaderExitRaisesSigpipe) {
  EXPECT_TRUE(KilledBy(WriteAfterReaderExited([] {}), SIGPIPE));
}

TEST(ForkPipeTest, WriteAfterReaderExitIsEpipeWhenIgnored) {
  EXPECT_TRUE(ExitedWith(WriteAfterReaderExited([] { SetAction(SIGPIPE, SIG_IGN); }), 0));
}

TEST(ForkPipeTest, SigpipeHandlerRunsAndWriteFails) {
  EXPECT_CHILD_OK([] {
    g_sigpipes = 0;
    SetAction(SIGPIPE, CountSigpipe);
    Pipe p;
    pid_t reader = ForkAndRun([&] { p.CloseWrite(); });
    p.CloseRead();
    ASSERT_TRUE(ExitedWith(WaitStatus(reader), 0));
    EXPECT_EQ(write(p.w(), "x", 1), -1);
    EXPECT_EQ(errno, EPIPE);
    EXPECT_EQ(g_sigpipes, 1);
  });
}

}  // namespace
}  // namespace sbx::testing
