// poll, ppoll, select and pselect6: readiness of pipes (POLLIN after a write, POLLOUT while a
// PIPE_BUF write fits, POLLHUP once every writer is gone, POLLERR once every reader is gone),
// FIFOs (no POLLHUP before any writer came), regular files and /dev/null (always ready),
// POLLNVAL for closed fds, negative fds ignored, timeouts (and the time left written back by
// select/pselect6/ppoll when a signal interrupts them), the temporary signal mask of
// ppoll/pselect6, and the errors (EINVAL for nfds above RLIMIT_NOFILE or a bad timeout,
// EBADF for a closed fd in an fd_set). The tests that need a second process (a blocked
// poll woken by another writer) use fork().
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1'000'000;
}

struct Pipe {
  int r = -1, w = -1;
  explicit Pipe(int flags = 0) {
    int p[2];
    EXPECT_EQ(pipe2(p, flags), 0);
    r = p[0];
    w = p[1];
  }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
  void CloseRead() { close(r); r = -1; }
  void CloseWrite() { close(w); w = -1; }
};

volatile sig_atomic_t g_signals = 0;
void CountSignal(int) { g_signals = g_signals + 1; }

// Installs `fn` for `sig` without SA_RESTART (so interrupted calls fail with EINTR) and
// restores the old action at scope exit.
class ScopedHandler {
 public:
  ScopedHandler(int sig, void (*fn)(int)) : sig_(sig) {
    struct sigaction sa = {};
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    EXPECT_EQ(sigaction(sig_, &sa, &old_), 0);
  }
  ~ScopedHandler() { sigaction(sig_, &old_, nullptr); }

 private:
  int sig_;
  struct sigaction old_ = {};
};

// Arms a one-shot ITIMER_REAL of `ms` milliseconds; disarms at scope exit.
class ScopedAlarmMs {
 public:
  explicit ScopedAlarmMs(int ms) {
    struct itimerval v = {};
    v.it_value.tv_sec = ms / 1000;
    v.it_value.tv_usec = (ms % 1000) * 1000;
    EXPECT_EQ(setitimer(ITIMER_REAL, &v, nullptr), 0);
  }
  ~ScopedAlarmMs() {
    struct itimerval zero = {};
    setitimer(ITIMER_REAL, &zero, nullptr);
  }
};

class PollTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }
};

TEST_F(PollTest, EmptyPipeIsNotReadableThenDataIs) {
  Pipe p;
  struct pollfd fd = {p.r, POLLIN, 0};
  EXPECT_EQ(poll(&fd, 1, 0), 0);
  EXPECT_EQ(fd.revents, 0);
  ASSERT_EQ(write(p.w, "x", 1), 1);
  EXPECT_EQ(poll(&fd, 1, 0), 1);
  EXPECT_EQ(fd.revents, POLLIN);
  struct pollfd both = {p.r, POLLIN | POLLRDNORM | POLLOUT, 0};
  EXPECT_EQ(poll(&both, 1, 0), 1);
  EXPECT_EQ(both.revents, POLLIN | POLLRDNORM) << "a read end is never writable";
}

TEST_F(PollTest, WriteEndWritableUntilFull) {
  Pipe p(O_NONBLOCK);
  struct pollfd fd = {p.w, POLLOUT | POLLWRNORM, 0};
  EXPECT_EQ(poll(&fd, 1, 0), 1);
  EXPECT_EQ(fd.revents, POLLOUT | POLLWRNORM);
  std::string chunk(4096, 'p');
  while (write(p.w, chunk.data(), chunk.size()) > 0) {
  }
  EXPECT_EQ(poll(&fd, 1, 0), 0) << "a full pipe is not writable";
  char buf[4096];
  ASSERT_EQ(read(p.r, buf, sizeof(buf)), 4096);
  EXPECT_EQ(poll(&fd, 1, 0), 1) << "a PIPE_BUF write fits again";
}

TEST_F(PollTest, TimeoutExpires) {
  Pipe p;
  struct pollfd fd = {p.r, POLLIN, 0};
  int64_t t0 = NowMs();
  EXPECT_EQ(poll(&fd, 1, 60), 0);
  EXPECT_GE(NowMs() - t0, 59);
  EXPECT_EQ(fd.revents, 0);
}

TEST_F(PollTest, HupWhenWritersGone) {
  Pipe p;
  ASSERT_EQ(write(p.w, "ab", 2), 2);
  p.CloseWrite();
  struct pollfd fd = {p.r, POLLIN, 0};
  EXPECT_EQ(poll(&fd, 1, 0), 1);
  EXPECT_EQ(fd.revents, POLLIN | POLLHUP) << "buffered data and hang-up";
  char buf[2];
  ASSERT_EQ(read(p.r, buf, 2), 2);
  fd.events = 0;  // POLLHUP is reported even when not asked for
  EXPECT_EQ(poll(&fd, 1, -1), 1);
  EXPECT_EQ(fd.revents, POLLHUP);
}

TEST_F(PollTest, ErrWhenReadersGone) {
  Pipe p;
  p.CloseRead();
  struct pollfd fd = {p.w, POLLOUT, 0};
  EXPECT_EQ(poll(&fd, 1, 0), 1);
  EXPECT_EQ(fd.revents, POLLOUT | POLLERR);
}

TEST_F(PollTest, NvalAndNegativeFds) {
  Pipe p;
  ASSERT_EQ(write(p.w, "x", 1), 1);
  int fd = dup(0);
  ASSERT_GE(fd, 0);
  close(fd);
  struct pollfd fds[3] = {{fd, POLLIN, 0}, {-1, POLLIN, 0x77}, {p.r, POLLIN, 0}};
  EXPECT_EQ(poll(fds, 3, 0), 2);
  EXPECT_EQ(fds[0].revents, POLLNVAL);
  EXPECT_EQ(fds[1].revents, 0) << "a negative fd is ignored and its revents cleared";
  EXPECT_EQ(fds[2].revents, POLLIN);
}

TEST_F(PollTest, NfdsAboveRlimitIsEinval) {
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  struct pollfd fd = {-1, 0, 0};
  EXPECT_TRUE(FailsWith(syscall(SYS_poll, &fd, rl.rlim_cur + 1, 0), EINVAL));
  EXPECT_TRUE(FailsWith(syscall(SYS_poll, nullptr, 1, 0), EFAULT));
  EXPECT_EQ(poll(nullptr, 0, 10), 0) << "no fds: a plain sleep";
}

TEST_F(PollTest, RegularFileAndDevNullAlwaysReady) {
  TempDir dir;
  int f = open(dir.Join("f").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(f, 0);
  int null = open("/dev/null", O_RDWR);
  ASSERT_GE(null, 0);
  struct pollfd fds[2] = {{f, POLLIN | POLLOUT | POLLPRI, 0}, {null, POLLIN | POLLOUT, 0}};
  EXPECT_EQ(poll(fds, 2, -1), 2);
  EXPECT_EQ(fds[0].revents, POLLIN | POLLOUT);
  EXPECT_EQ(fds[1].revents, POLLIN | POLLOUT);
  close(f);
  close(null);
}

TEST_F(PollTest, FifoReaderSeesNoHupBeforeAWriter) {
  TempDir dir;
  std::string path = dir.Join("fifo");
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  int r = open(path.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(r, 0);
  struct pollfd fd = {r, POLLIN, 0};
  EXPECT_EQ(poll(&fd, 1, 0), 0) << "no POLLHUP while no writer ever came";
  int w = open(path.c_str(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(w, 0);
  EXPECT_EQ(poll(&fd, 1, 0), 0);
  close(w);
  EXPECT_EQ(poll(&fd, 1, 0), 1);
  EXPECT_EQ(fd.revents, POLLHUP) << "the writer came and went";
  close(r);
}

TEST_F(PollTest, PpollTimeoutAndValidation) {
  Pipe p;
  struct pollfd fd = {p.r, POLLIN, 0};
  struct timespec ts = {0, 30'000'000};
  int64_t t0 = NowMs();
  EXPECT_EQ(ppoll(&fd, 1, &ts, nullptr), 0);
  EXPECT_GE(NowMs() - t0, 29);
  struct timespec bad = {0, 1'000'000'000};
  EXPECT_TRUE(FailsWith(ppoll(&fd, 1, &bad, nullptr), EINVAL));
  bad = {-1, 0};
  EXPECT_TRUE(FailsWith(ppoll(&fd, 1, &bad, nullptr), EINVAL));
  uint64_t mask = 0;
  struct timespec zero = {0, 0};
  EXPECT_TRUE(FailsWith(syscall(SYS_ppoll, &fd, 1, &zero, &mask, 4), EINVAL))
      << "the sigset size must be 8";
}

TEST_F(PollTest, PpollSigmaskLetsABlockedSignalInterrupt) {
  ScopedHandler h(SIGUSR1, CountSignal);
  g_signals = 0;
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old), 0);
  ASSERT_EQ(raise(SIGUSR1), 0);
  EXPECT_EQ(g_signals, 0) << "blocked";
  Pipe p;
  struct pollfd fd = {p.r, POLLIN, 0};
  struct timespec ts = {5, 0};
  sigset_t during;
  sigemptyset(&during);
  int64_t t0 = NowMs();
  EXPECT_TRUE(FailsWith(ppoll(&fd, 1, &ts, &during), EINTR));
  EXPECT_LT(NowMs() - t0, 2000);
  EXPECT_EQ(g_signals, 1);
  sigset_t now;
  ASSERT_EQ(sigprocmask(SIG_SETMASK, nullptr, &now), 0);
  EXPECT_TRUE(sigismember(&now, SIGUSR1)) << "the old mask is back after the handler";
  sigprocmask(SIG_SETMASK, &old, nullptr);
}

TEST_F(PollTest, SelectReportsReadyFds) {
  Pipe p;
  fd_set rd, wr;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_SET(p.r, &rd);
  FD_SET(p.w, &wr);
  struct timeval tv = {0, 0};
  int n = std::max(p.r, p.w) + 1;
  EXPECT_EQ(select(n, &rd, &wr, nullptr, &tv), 1);
  EXPECT_FALSE(FD_ISSET(p.r, &rd)) << "empty: not readable";
  EXPECT_TRUE(FD_ISSET(p.w, &wr));
  ASSERT_EQ(write(p.w, "x", 1), 1);
  FD_SET(p.r, &rd);
  FD_SET(p.r, &wr);  // a read end is never writable
  FD_SET(p.w, &wr);
  tv = {0, 0};
  EXPECT_EQ(select(n, &rd, &wr, nullptr, &tv), 2);
  EXPECT_TRUE(FD_ISSET(p.r, &rd));
  EXPECT_FALSE(FD_ISSET(p.r, &wr));
  EXPECT_TRUE(FD_ISSET(p.w, &wr));
}

TEST_F(PollTest, SelectHupCountsAsReadable) {
  Pipe p;
  p.CloseWrite();
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p.r, &rd);
  EXPECT_EQ(select(p.r + 1, &rd, nullptr, nullptr, nullptr), 1);
  EXPECT_TRUE(FD_ISSET(p.r, &rd));
}

TEST_F(PollTest, SelectTimeoutAndErrors) {
  Pipe p;
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p.r, &rd);
  struct timeval tv = {0, 40'000};
  int64_t t0 = NowMs();
  EXPECT_EQ(select(p.r + 1, &rd, nullptr, nullptr, &tv), 0);
  EXPECT_GE(NowMs() - t0, 39);
  EXPECT_FALSE(FD_ISSET(p.r, &rd)) << "the sets are cleared on timeout";
  EXPECT_EQ(tv.tv_sec, 0);
  EXPECT_EQ(tv.tv_usec, 0) << "the time left is written back";

  int closed = dup(0);
  ASSERT_GE(closed, 0);
  close(closed);
  FD_ZERO(&rd);
  FD_SET(closed, &rd);
  tv = {0, 0};
  EXPECT_TRUE(FailsWith(select(closed + 1, &rd, nullptr, nullptr, &tv), EBADF));
  EXPECT_TRUE(FailsWith(select(-1, nullptr, nullptr, nullptr, &tv), EINVAL));
  tv = {-1, 0};
  EXPECT_TRUE(FailsWith(select(0, nullptr, nullptr, nullptr, &tv), EINVAL));
  tv = {0, 1'500'000};  // microseconds carry into seconds
  fd_set wr;
  FD_ZERO(&wr);
  FD_SET(p.w, &wr);
  EXPECT_EQ(select(p.w + 1, nullptr, &wr, nullptr, &tv), 1);
}

TEST_F(PollTest, SelectInterruptedWritesTimeLeft) {
  ScopedHandler h(SIGALRM, CountSignal);
  g_signals = 0;
  Pipe p;
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p.r, &rd);
  struct timeval tv = {5, 0};
  ScopedAlarmMs alarm(50);
  EXPECT_TRUE(FailsWith(select(p.r + 1, &rd, nullptr, nullptr, &tv), EINTR));
  EXPECT_EQ(g_signals, 1);
  int64_t left_us = tv.tv_sec * 1'000'000LL + tv.tv_usec;
  EXPECT_LT(left_us, 5'000'000);
  EXPECT_GT(left_us, 3'000'000);
}

TEST_F(PollTest, Pselect6SigmaskAndTimeLeft) {
  ScopedHandler h(SIGUSR2, CountSignal);
  g_signals = 0;
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR2);
  ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old), 0);
  ASSERT_EQ(raise(SIGUSR2), 0);
  Pipe p;
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p.r, &rd);
  struct timespec ts = {5, 0};
  sigset_t during;
  sigemptyset(&during);
  struct {
    const sigset_t* ss;
    size_t len;
  } arg = {&during, 8};
  EXPECT_TRUE(FailsWith(syscall(SYS_pselect6, p.r + 1, &rd, nullptr, nullptr, &ts, &arg), EINTR));
  EXPECT_EQ(g_signals, 1);
  EXPECT_EQ(ts.tv_sec * 1'000'000'000LL + ts.tv_nsec > 3'000'000'000LL, true)
      << "time left written back";
  sigset_t now;
  ASSERT_EQ(sigprocmask(SIG_SETMASK, nullptr, &now), 0);
  EXPECT_TRUE(sigismember(&now, SIGUSR2));
  arg.len = 4;
  ts = {0, 0};
  EXPECT_TRUE(FailsWith(syscall(SYS_pselect6, 0, nullptr, nullptr, nullptr, &ts, &arg), EINVAL));
  // A mask that keeps the signal blocked: a plain timeout.
  ASSERT_EQ(raise(SIGUSR2), 0);
  ts = {0, 20'000'000};
  EXPECT_EQ(pselect(p.r + 1, &rd, nullptr, nullptr, &ts, &block), 0);
  EXPECT_EQ(g_signals, 1);
  sigprocmask(SIG_SETMASK, &old, nullptr);  // delivers the pending SIGUSR2 now
  EXPECT_EQ(g_signals, 2);
}

// Needs a second process: a poll blocked with no timeout wakes when another process writes.
TEST_F(PollTest, BlockedPollWokenByWriterInChild) {
  Pipe p;
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << "fork: " << strerror(errno);
  if (pid == 0) {
    struct timespec d = {0, 50'000'000};
    nanosleep(&d, nullptr);
    _exit(write(p.w, "!", 1) == 1 ? 0 : 1);
  }
  struct pollfd fd = {p.r, POLLIN, 0};
  EXPECT_EQ(poll(&fd, 1, -1), 1);
  EXPECT_EQ(fd.revents, POLLIN);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace sbx::testing
