// kill(2) and friends across processes: siginfo of a signal from another process (SI_USER,
// si_pid, si_uid), default actions, process groups (kill(-pgid), killpg, kill(0)), kill(-1)
// (only where this test owns the PID namespace: sandboxed, or natively in a fresh PID
// namespace when that can be made), signal 0 as an existence check, ESRCH/EINVAL/EPERM,
// sigqueue's value, tgkill to another process, and pidfd_open + pidfd_send_signal.
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"

namespace sbx::testing {
namespace {

// What a child's SIGUSR1 handler saw, sent back to the parent.
struct Seen {
  int signo = 0;
  int code = 0;
  pid_t pid = 0;
  uid_t uid = 0;
  int value = 0;
};

volatile sig_atomic_t g_got = 0;
Seen g_seen;
void Record(int, siginfo_t* info, void*) {
  g_seen.signo = info->si_signo;
  g_seen.code = info->si_code;
  g_seen.pid = info->si_pid;
  g_seen.uid = info->si_uid;
  g_seen.value = info->si_value.sival_int;
  g_got = 1;
}

// A child that handles SIGUSR1 and reports what it saw. Ready() returns once the handler is
// installed; Seen() waits for the report.
class Receiver {
 public:
  Receiver() {
    pid_ = ForkAndRun([this] {
      BlockSignals({SIGUSR1});
      SetInfoAction(SIGUSR1, Record);
      ready_.Notify();
      sigset_t none;
      sigemptyset(&none);
      while (!g_got) sigsuspend(&none);
      report_.Send(g_seen);
    });
    ready_.Await();
  }
  pid_t pid() const { return pid_; }
  Seen Wait() {
    Seen s = report_.Recv<Seen>();
    EXPECT_TRUE(ExitedWith(WaitStatus(pid_), 0));
    return s;
  }

 private:
  Pipe ready_, report_;
  pid_t pid_ = -1;
};

TEST(KillTest, OtherProcessGetsSiUser) {
  Receiver r;
  ASSERT_EQ(kill(r.pid(), SIGUSR1), 0);
  Seen s = r.Wait();
  EXPECT_EQ(s.signo, SIGUSR1);
  EXPECT_EQ(s.code, SI_USER);
  EXPECT_EQ(s.pid, getpid());
  EXPECT_EQ(s.uid, getuid());
}

TEST(KillTest, SigqueueCarriesValue) {
  Receiver r;
  union sigval v;
  v.sival_int = 4242;
  ASSERT_EQ(sigqueue(r.pid(), SIGUSR1, v), 0);
  Seen s = r.Wait();
  EXPECT_EQ(s.code, SI_QUEUE);
  EXPECT_EQ(s.pid, getpid());
  EXPECT_EQ(s.value, 4242);
}

TEST(KillTest, TgkillToOtherProcess) {
  Receiver r;
  ASSERT_EQ(syscall(SYS_tgkill, r.pid(), r.pid(), SIGUSR1), 0);
  Seen s = r.Wait();
  EXPECT_EQ(s.code, SI_TKILL);
  EXPECT_EQ(s.pid, getpid());
}

TEST(KillTest, DefaultActionTerminates) {
  Pipe never;
  pid_t pid = ForkAndRun([&] { never.Await(); });
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_TRUE(KilledBy(WaitStatus(pid), SIGTERM));
}

TEST(KillTest, SignalZeroChecksExistence) {
  Pipe go;
  pid_t pid = ForkAndRun([&] { go.Await(); });
  EXPECT_EQ(kill(pid, 0), 0);
  go.Notify();
  siginfo_t info = {};
  ASSERT_EQ(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(kill(pid, 0), 0) << "a zombie still exists";
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
  EXPECT_TRUE(FailsWith(kill(pid, 0), ESRCH)) << "gone after reaping";
  EXPECT_TRUE(FailsWith(kill(pid, SIGTERM), ESRCH));
  EXPECT_TRUE(FailsWith(kill(kNoSuchPid, 0), ESRCH));
  EXPECT_TRUE(FailsWith(kill(-kNoSuchPid, 0), ESRCH)) << "no such process group";
}

TEST(KillTest, InvalidSignalIsEinval) {
  EXPECT_TRUE(FailsWith(kill(getpid(), 65), EINVAL));
  EXPECT_TRUE(FailsWith(kill(getpid(), -1), EINVAL));
}

TEST(KillTest, UnprivilegedCannotSignalRoot) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to drop to another uid";
  const pid_t parent = getpid();
  EXPECT_CHILD_OK([&] {
    ASSERT_EQ(setresuid(65534, 65534, 65534), 0);
    EXPECT_TRUE(FailsWith(kill(parent, 0), EPERM));
    EXPECT_TRUE(FailsWith(kill(parent, SIGUSR1), EPERM));
    EXPECT_EQ(kill(getpid(), 0), 0);
  });
}

TEST(KillTest, ProcessGroup) {
  Pipe never;
  auto spawn = [&] { return ForkAndRun([&] { never.Await(); }); };
  pid_t a = spawn(), b = spawn(), c = spawn();
  ASSERT_EQ(setpgid(a, a), 0);
  ASSERT_EQ(setpgid(b, a), 0);
  ASSERT_EQ(kill(-a, SIGTERM), 0);
  EXPECT_TRUE(KilledBy(WaitStatus(a), SIGTERM));
  EXPECT_TRUE(KilledBy(WaitStatus(b), SIGTERM));
  EXPECT_EQ(waitpid(c, nullptr, WNOHANG), 0) << "outside the group: untouched";
  ASSERT_EQ(setpgid(c, c), 0);
  ASSERT_EQ(killpg(c, SIGKILL), 0);
  EXPECT_TRUE(KilledBy(WaitStatus(c), SIGKILL));
}

volatile sig_atomic_t g_usr2 = 0;
void CountUsr2(int) { g_usr2 = g_usr2 + 1; }

TEST(KillTest, KillZeroSignalsOwnGroupIncludingSelf) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(setpgid(0, 0), 0);
    Pipe never;
    pid_t a = ForkAndRun([&] { never.Await(); });
    pid_t b = ForkAndRun([&] { never.Await(); });
    // A process outside the group must not be hit.
    pid_t outside = ForkAndRun([&] { never.Await(); });
    ASSERT_EQ(setpgid(outside, outside), 0);
    g_usr2 = 0;
    SetAction(SIGUSR2, CountUsr2);  // after the forks: the children keep the default action
    ASSERT_EQ(kill(0, SIGUSR2), 0);
    EXPECT_EQ(g_usr2, 1) << "kill(0) includes the caller";
    EXPECT_TRUE(KilledBy(WaitStatus(a), SIGUSR2));
    EXPECT_TRUE(KilledBy(WaitStatus(b), SIGUSR2));
    EXPECT_EQ(waitpid(outside, nullptr, WNOHANG), 0) << "another group: untouched";
    ASSERT_EQ(kill(outside, SIGKILL), 0);
    EXPECT_TRUE(KilledBy(WaitStatus(outside), SIGKILL));
  });
}

// kill(-1, sig) reaches every process the caller may signal except init and itself. The test
// needs to own its PID namespace: it runs as PID 1 (the sandboxed case) or in a new PID
// namespace made with unshare (natively, as root); otherwise it would signal the host.
void KillMinusOneScenario() {
  ASSERT_EQ(getpid(), 1);
  Pipe never;
  pid_t a = ForkAndRun([&] { never.Await(); });
  pid_t b = ForkAndRun([&] { never.Await(); });
  g_usr2 = 0;
  SetAction(SIGUSR2, CountUsr2);  // init's handler; a and b keep the default action
  Pipe go;
  pid_t killer = ForkAndRun([&] {
    g_usr2 = 0;  // keeps the inherited handler: it would count a signal to itself
    go.Await();
    EXPECT_EQ(kill(-1, SIGUSR2), 0);
    EXPECT_EQ(g_usr2, 0) << "kill(-1) skips the caller";
  });
  go.Notify();
  EXPECT_TRUE(ExitedWith(WaitStatus(killer), 0));
  EXPECT_TRUE(KilledBy(WaitStatus(a), SIGUSR2));
  EXPECT_TRUE(KilledBy(WaitStatus(b), SIGUSR2));
  EXPECT_EQ(g_usr2, 0) << "kill(-1) skips init";
}

TEST(KillTest, KillMinusOne) {
  if (getpid() == 1) {
    KillMinusOneScenario();
    return;
  }
  EXPECT_CHILD_OK([] {
    if (unshare(CLONE_NEWPID) != 0) {
      GTEST_SKIP() << "cannot make a PID namespace (" << strerror(errno)
                   << "); kill(-1) would reach host processes";
    }
    EXPECT_CHILD_OK(KillMinusOneScenario);
  });
}

TEST(PidfdTest, SendSignal) {
  Receiver r;
  int pidfd = PidfdOpen(r.pid());
  ASSERT_GE(pidfd, 0) << strerror(errno);
  EXPECT_EQ(PidfdSendSignal(pidfd, 0), 0) << "signal 0 on a live process";
  EXPECT_TRUE(FailsWith(PidfdSendSignal(pidfd, SIGUSR1, nullptr, 0x100), EINVAL))
      << "unknown flags";
  ASSERT_EQ(PidfdSendSignal(pidfd, SIGUSR1), 0);
  Seen s = r.Wait();  // reaps it
  EXPECT_EQ(s.code, SI_USER);
  EXPECT_EQ(s.pid, getpid());
  EXPECT_TRUE(FailsWith(PidfdSendSignal(pidfd, SIGUSR1), ESRCH)) << "the process is gone";
  close(pidfd);
  Pipe not_a_pidfd;
  EXPECT_TRUE(FailsWith(PidfdSendSignal(not_a_pidfd.r(), 0), EBADF));
}

TEST(PidfdTest, SendSignalWithSiginfo) {
  Receiver r;
  int pidfd = PidfdOpen(r.pid());
  ASSERT_GE(pidfd, 0);
  siginfo_t info = {};
  info.si_signo = SIGUSR1;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = 99;
  ASSERT_EQ(PidfdSendSignal(pidfd, SIGUSR1, &info), 0);
  Seen s = r.Wait();
  EXPECT_EQ(s.code, SI_QUEUE);
  EXPECT_EQ(s.value, 99);
  close(pidfd);
}

}  // namespace
}  // namespace sbx::testing
