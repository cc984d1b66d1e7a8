// SIGCHLD compatibility tests: the signal and its siginfo (si_code CLD_EXITED/CLD_KILLED/
// CLD_STOPPED/CLD_CONTINUED, si_pid, si_uid, si_status) on child state changes, SA_NOCLDSTOP,
// and automatic reaping with SIGCHLD set to SIG_IGN or SA_NOCLDWAIT (wait blocks until the
// children are gone, then fails with ECHILD). Every test runs in its own child process, whose
// set of children is exactly what the test creates.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"

namespace sbx::testing {
namespace {

TEST(SigchldTest, DeliveredOnExitWithSiginfo) {
  EXPECT_CHILD_OK([] {
    BlockSignals({SIGCHLD});
    pid_t pid = fork();
    if (pid == 0) _exit(5);
    ASSERT_GT(pid, 0);
    siginfo_t info = {};
    ASSERT_EQ(WaitForSignal(SIGCHLD, &info), SIGCHLD);
    EXPECT_EQ(info.si_signo, SIGCHLD);
    EXPECT_EQ(info.si_code, CLD_EXITED);
    EXPECT_EQ(info.si_pid, pid);
    EXPECT_EQ(info.si_uid, getuid());
    EXPECT_EQ(info.si_status, 5);
    EXPECT_TRUE(ExitedWith(WaitStatus(pid), 5)) << "SIGCHLD does not reap";
  });
}

TEST(SigchldTest, DeliveredOnKillWithSiginfo) {
  EXPECT_CHILD_OK([] {
    BlockSignals({SIGCHLD});
    Pipe ready;
    pid_t pid = ForkAndRun([&] {
      ready.Notify();
      pause();
    });
    ready.Await();
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    siginfo_t info = {};
    ASSERT_EQ(WaitForSignal(SIGCHLD, &info), SIGCHLD);
    EXPECT_EQ(info.si_code, CLD_KILLED);
    EXPECT_EQ(info.si_pid, pid);
    EXPECT_EQ(info.si_status, SIGKILL);
    EXPECT_TRUE(KilledBy(WaitStatus(pid), SIGKILL));
  });
}

volatile sig_atomic_t g_handled = 0;
volatile int g_code = 0;
volatile pid_t g_pid = 0;
volatile int g_status = 0;
void ChldHandler(int, siginfo_t* info, void*) {
  g_code = info->si_code;
  g_pid = info->si_pid;
  g_status = info->si_status;
  g_handled = 1;
}

TEST(SigchldTest, HandlerRunsWithSiginfo) {
  EXPECT_CHILD_OK([] {
    BlockSignals({SIGCHLD});
    SetInfoAction(SIGCHLD, ChldHandler);
    pid_t pid = fork();
    if (pid == 0) _exit(17);
    ASSERT_GT(pid, 0);
    sigset_t none;
    sigemptyset(&none);
    while (!g_handled) sigsuspend(&none);
    EXPECT_EQ(g_code, CLD_EXITED);
    EXPECT_EQ(g_pid, pid);
    EXPECT_EQ(g_status, 17);
    EXPECT_TRUE(ExitedWith(WaitStatus(pid), 17));
  });
}

bool SigchldPending() {
  sigset_t pending;
  sigpending(&pending);
  return sigismember(&pending, SIGCHLD) == 1;
}

TEST(SigchldTest, StopAndContinueNotifyParent) {
  EXPECT_CHILD_OK([] {
    BlockSignals({SIGCHLD});
    Pipe never;
    pid_t pid = ForkAndRun([&] { never.Await(); });
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    siginfo_t info = {};
    ASSERT_EQ(WaitForSignal(SIGCHLD, &info), SIGCHLD);
    EXPECT_EQ(info.si_code, CLD_STOPPED);
    EXPECT_EQ(info.si_pid, pid);
    EXPECT_EQ(info.si_status, SIGSTOP);
    ASSERT_EQ(kill(pid, SIGCONT), 0);
    info = {};
    ASSERT_EQ(WaitForSignal(SIGCHLD, &info), SIGCHLD);
    EXPECT_EQ(info.si_code, CLD_CONTINUED);
    EXPECT_EQ(info.si_status, SIGCONT);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_TRUE(KilledBy(WaitStatus(pid), SIGKILL));
  });
}

TEST(SigchldTest, NoCldStopSuppressesStopNotification) {
  EXPECT_CHILD_OK([] {
    BlockSignals({SIGCHLD});
    SetInfoAction(SIGCHLD, ChldHandler, SA_NOCLDSTOP);
    Pipe never;
    pid_t pid = ForkAndRun([&] { never.Await(); });
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    int status = WaitStatus(pid, WUNTRACED);  // the stop happened
    EXPECT_TRUE(WIFSTOPPED(status));
    EXPECT_FALSE(SigchldPending()) << "SA_NOCLDSTOP: no SIGCHLD for a stop";
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_TRUE(KilledBy(WaitStatus(pid), SIGKILL));
    EXPECT_TRUE(SigchldPending()) << "SIGCHLD still comes for a death";
  });
}

TEST(SigchldTest, IgnoredSigchldAutoReaps) {
  EXPECT_CHILD_OK([] {
    SetAction(SIGCHLD, SIG_IGN);
    Pipe go;
    pid_t pid = ForkAndRun([&] { go.Await(); });
    go.Notify();
    // wait blocks until the child has gone, then fails: there is no zombie to collect.
    EXPECT_TRUE(FailsWith(wait(nullptr), ECHILD));
    EXPECT_TRUE(FailsWith(kill(pid, 0), ESRCH)) << "no zombie left";
  });
}

TEST(SigchldTest, NoCldWaitAutoReapsButStillSignals) {
  EXPECT_CHILD_OK([] {
    BlockSignals({SIGCHLD});
    SetInfoAction(SIGCHLD, ChldHandler, SA_NOCLDWAIT);
    pid_t pid = fork();
    if (pid == 0) _exit(3);
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(FailsWith(waitpid(pid, nullptr, 0), ECHILD));
    EXPECT_TRUE(FailsWith(kill(pid, 0), ESRCH));
    EXPECT_TRUE(SigchldPending()) << "Linux sends SIGCHLD even with SA_NOCLDWAIT";
  });
}

TEST(SigchldTest, DefaultDispositionKeepsZombie) {
  EXPECT_CHILD_OK([] {
    SetAction(SIGCHLD, SIG_DFL);
    pid_t pid = fork();
    if (pid == 0) _exit(2);
    ASSERT_GT(pid, 0);
    siginfo_t info = {};
    ASSERT_EQ(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);
    EXPECT_EQ(kill(pid, 0), 0) << "a zombie until reaped";
    EXPECT_TRUE(ExitedWith(WaitStatus(pid), 2));
  });
}

}  // namespace
}  // namespace sbx::testing
