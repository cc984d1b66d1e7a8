// wait4(2)/waitid(2) compatibility tests: exit codes and signal deaths (core bit off when no
// core is dumped), WNOHANG, ECHILD, waitid P_PID/P_ALL/P_PGID/P_PIDFD with WNOWAIT and the
// siginfo fields, zombies (still signalable until reaped), WSTOPPED/WCONTINUED with SIGSTOP and
// SIGCONT, and reparenting of orphans to init or to a PR_SET_CHILD_SUBREAPER ancestor.
// Tests that depend on the exact set of children run inside RunInChild (process_util.h).
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"

namespace sbx::testing {
namespace {

TEST(WaitTest, ExitCodes) {
  for (int code : {0, 1, 42, 255}) {
    pid_t pid = fork();
    if (pid == 0) _exit(code);
    ASSERT_GT(pid, 0);
    int status = 0;
    struct rusage ru = {};
    ASSERT_EQ(wait4(pid, &status, 0, &ru), pid);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_FALSE(WIFSIGNALED(status));
    EXPECT_EQ(WEXITSTATUS(status), code);
    EXPECT_EQ(status, code << 8) << "raw status layout";
  }
}

TEST(WaitTest, KilledBySignal) {
  Pipe ready;
  pid_t pid = ForkAndRun([&] {
    ready.Notify();
    pause();
  });
  ready.Await();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = WaitStatus(pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(WIFEXITED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_FALSE(WCOREDUMP(status));
  EXPECT_EQ(status, SIGKILL) << "raw status layout";
}

TEST(WaitTest, CoreSignalWithoutDumpHasNoCoreBit) {
  pid_t pid = fork();
  if (pid == 0) {
    // No core can be written: the core bit must stay clear.
    struct rlimit zero = {0, 0};
    setrlimit(RLIMIT_CORE, &zero);
    prctl(PR_SET_DUMPABLE, 0);
    raise(SIGQUIT);
    _exit(1);
  }
  ASSERT_GT(pid, 0);
  int status = WaitStatus(pid);
  EXPECT_TRUE(KilledBy(status, SIGQUIT));
  EXPECT_FALSE(WCOREDUMP(status));
}

TEST(WaitTest, WnohangWithRunningChildReturnsZero) {
  Pipe go;
  pid_t pid = ForkAndRun([&] { go.Await(); });
  int status = 12345;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0);
  siginfo_t info;
  memset(&info, 0xff, sizeof(info));
  EXPECT_EQ(waitid(P_PID, pid, &info, WEXITED | WNOHANG), 0);
  EXPECT_EQ(info.si_pid, 0) << "Linux zeroes the siginfo when nothing is waitable";
  EXPECT_EQ(info.si_signo, 0);
  go.Notify();
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
}

TEST(WaitTest, EchildWithoutChildren) {
  EXPECT_CHILD_OK([] {
    EXPECT_TRUE(FailsWith(wait(nullptr), ECHILD));
    EXPECT_TRUE(FailsWith(waitpid(-1, nullptr, WNOHANG), ECHILD));
    siginfo_t info;
    EXPECT_TRUE(FailsWith(waitid(P_ALL, 0, &info, WEXITED | WNOHANG), ECHILD));
    EXPECT_TRUE(FailsWith(waitpid(getppid(), nullptr, 0), ECHILD)) << "not a child";
    EXPECT_TRUE(FailsWith(waitpid(kNoSuchPid, nullptr, 0), ECHILD));
  });
}

TEST(WaitTest, GrandchildIsNotWaitable) {
  EXPECT_CHILD_OK([] {
    Pipe report, go;
    pid_t middle = ForkAndRun([&] {
      pid_t g = ForkAndRun([&] { go.Await(); });
      report.Send<pid_t>(g);
      EXPECT_TRUE(ExitedWith(WaitStatus(g), 0));
    });
    pid_t g = report.Recv<pid_t>();
    EXPECT_TRUE(FailsWith(waitpid(g, nullptr, WNOHANG), ECHILD));
    go.Notify();
    EXPECT_TRUE(ExitedWith(WaitStatus(middle), 0));
  });
}

TEST(WaitTest, InvalidOptionsAreEinval) {
  EXPECT_TRUE(FailsWith(waitpid(-1, nullptr, 0x400000 | WNOHANG), EINVAL));
  siginfo_t info;
  EXPECT_TRUE(FailsWith(waitid(P_ALL, 0, &info, 0), EINVAL)) << "no state requested";
  EXPECT_TRUE(FailsWith(waitid(static_cast<idtype_t>(42), 0, &info, WEXITED), EINVAL));
}

TEST(WaitidTest, WnowaitLeavesZombieThenReaps) {
  EXPECT_CHILD_OK([] {
    pid_t pid = fork();
    if (pid == 0) _exit(7);
    ASSERT_GT(pid, 0);
    siginfo_t info = {};
    ASSERT_EQ(waitid(P_PID, pid, &info, WEXITED | WNOWAIT), 0);
    EXPECT_EQ(info.si_signo, SIGCHLD);
    EXPECT_EQ(info.si_pid, pid);
    EXPECT_EQ(info.si_uid, getuid());
    EXPECT_EQ(info.si_code, CLD_EXITED);
    EXPECT_EQ(info.si_status, 7);
    // A zombie still exists: signal 0 succeeds, and it is reported again.
    EXPECT_EQ(kill(pid, 0), 0);
    info = {};
    ASSERT_EQ(waitid(P_ALL, 0, &info, WEXITED | WNOWAIT), 0);
    EXPECT_EQ(info.si_pid, pid);
    info = {};
    ASSERT_EQ(waitid(P_ALL, 0, &info, WEXITED), 0);
    EXPECT_EQ(info.si_pid, pid);
    EXPECT_EQ(info.si_status, 7);
    EXPECT_TRUE(FailsWith(kill(pid, 0), ESRCH)) << "reaped";
    EXPECT_TRUE(FailsWith(waitid(P_ALL, 0, &info, WEXITED), ECHILD));
  });
}

TEST(WaitidTest, KilledChildSiginfo) {
  EXPECT_CHILD_OK([] {
    Pipe ready;
    pid_t pid = ForkAndRun([&] {
      ready.Notify();
      pause();
    });
    ready.Await();
    ASSERT_EQ(kill(pid, SIGTERM), 0);
    siginfo_t info = {};
    ASSERT_EQ(waitid(P_PID, pid, &info, WEXITED), 0);
    EXPECT_EQ(info.si_pid, pid);
    EXPECT_EQ(info.si_code, CLD_KILLED);
    EXPECT_EQ(info.si_status, SIGTERM);
  });
}

TEST(WaitidTest, ManyChildrenAllReapedWithTheirStatus) {
  EXPECT_CHILD_OK([] {
    std::set<std::pair<pid_t, int>> expected, got;
    for (int i = 0; i < 20; ++i) {
      pid_t pid = fork();
      if (pid == 0) _exit(i + 1);
      ASSERT_GT(pid, 0);
      expected.insert({pid, i + 1});
    }
    for (int i = 0; i < 20; ++i) {
      int status = 0;
      pid_t pid = wait(&status);
      ASSERT_GT(pid, 0);
      ASSERT_TRUE(WIFEXITED(status));
      got.insert({pid, WEXITSTATUS(status)});
    }
    EXPECT_EQ(got, expected);
    EXPECT_TRUE(FailsWith(wait(nullptr), ECHILD));
  });
}

TEST(WaitidTest, ProcessGroupSelection) {
  EXPECT_CHILD_OK([] {
    Pipe go;
    auto spawn = [&](int code) {
      return ForkAndRun([&, code] {
        go.CloseWrite();
        go.ReadToEof();
        _exit(code);
      });
    };
    pid_t a = spawn(1), b = spawn(2), c = spawn(3);
    // a leads a new group and b joins it; c stays in our group.
    ASSERT_EQ(setpgid(a, a), 0);
    ASSERT_EQ(setpgid(b, a), 0);
    EXPECT_EQ(getpgid(b), a);
    siginfo_t info = {};
    EXPECT_EQ(waitid(P_PGID, a, &info, WEXITED | WNOHANG), 0);
    EXPECT_EQ(info.si_pid, 0);
    go.CloseWrite();  // all three exit (EOF)
    std::set<pid_t> group;
    for (int i = 0; i < 2; ++i) {
      info = {};
      ASSERT_EQ(waitid(P_PGID, a, &info, WEXITED), 0);
      group.insert(info.si_pid);
      EXPECT_EQ(info.si_status, info.si_pid == a ? 1 : 2);
    }
    EXPECT_EQ(group, (std::set<pid_t>{a, b}));
    EXPECT_TRUE(FailsWith(waitid(P_PGID, a, &info, WEXITED | WNOHANG), ECHILD));
    // waitpid(0) is "my process group", where c is.
    int status = 0;
    EXPECT_EQ(waitpid(0, &status, 0), c);
    EXPECT_TRUE(ExitedWith(status, 3));
  });
}

TEST(WaitidTest, Pidfd) {
  Pipe go;
  pid_t pid = ForkAndRun([&] {
    go.Await();
    _exit(9);
  });
  int pidfd = PidfdOpen(pid);
  ASSERT_GE(pidfd, 0) << strerror(errno);
  EXPECT_EQ(fcntl(pidfd, F_GETFD), FD_CLOEXEC);
  siginfo_t info = {};
  EXPECT_EQ(waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED | WNOHANG), 0);
  EXPECT_EQ(info.si_pid, 0);
  go.Notify();
  struct pollfd pfd = {pidfd, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 10000), 1);
  ASSERT_EQ(waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED), 0);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_EQ(info.si_status, 9);
  EXPECT_TRUE(FailsWith(waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED), ECHILD));
  close(pidfd);
  EXPECT_TRUE(FailsWith(PidfdOpen(kNoSuchPid), ESRCH));
  EXPECT_TRUE(FailsWith(PidfdOpen(getpid(), 0x7), EINVAL));
  EXPECT_TRUE(FailsWith(waitid(static_cast<idtype_t>(P_PIDFD), -1, &info, WEXITED), EINVAL));
  Pipe not_a_pidfd;
  EXPECT_TRUE(FailsWith(
      waitid(static_cast<idtype_t>(P_PIDFD), not_a_pidfd.r(), &info, WEXITED), EBADF));
}

TEST(WaitidTest, NonblockingPidfdAndZombie) {
  Pipe go, exited;
  pid_t pid = ForkAndRun([&] {
    go.Await();
    _exit(4);
  });
  // PIDFD_NONBLOCK (O_NONBLOCK): waitid on a live child is EAGAIN instead of waiting.
  int pidfd = PidfdOpen(pid, O_NONBLOCK);
  ASSERT_GE(pidfd, 0) << strerror(errno);
  EXPECT_TRUE(fcntl(pidfd, F_GETFL) & O_NONBLOCK);
  siginfo_t info = {};
  EXPECT_TRUE(FailsWith(waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED), EAGAIN));
  go.Notify();
  struct pollfd pfd = {pidfd, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 10000), 1);
  // The child is a zombie now: a new pidfd can still be opened until it is reaped.
  int again = PidfdOpen(pid);
  EXPECT_GE(again, 0) << strerror(errno);
  EXPECT_EQ(syscall(SYS_pidfd_send_signal, again, 0, nullptr, 0), 0) << "a zombie exists";
  ASSERT_EQ(waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED), 0);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_status, 4);
  EXPECT_TRUE(FailsWith(syscall(SYS_pidfd_send_signal, again, 0, nullptr, 0), ESRCH))
      << "reaped";
  close(again);
  close(pidfd);
}

TEST(WaitTest, StoppedAndContinued) {
  Pipe never;
  pid_t pid = ForkAndRun([&] { never.Await(); });
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  int status = WaitStatus(pid, WUNTRACED);
  EXPECT_TRUE(WIFSTOPPED(status)) << DescribeStatus(status);
  EXPECT_EQ(WSTOPSIG(status), SIGSTOP);
  EXPECT_EQ(waitpid(pid, &status, WUNTRACED | WNOHANG), 0) << "a stop is reported once";
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  status = WaitStatus(pid, WCONTINUED);
  EXPECT_TRUE(WIFCONTINUED(status));
  EXPECT_EQ(status, 0xffff) << "raw status layout";

  // The same through waitid, with WNOWAIT leaving the state reportable.
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  siginfo_t info = {};
  ASSERT_EQ(waitid(P_PID, pid, &info, WSTOPPED | WNOWAIT), 0);
  EXPECT_EQ(info.si_code, CLD_STOPPED);
  EXPECT_EQ(info.si_status, SIGSTOP);
  info = {};
  ASSERT_EQ(waitid(P_PID, pid, &info, WSTOPPED), 0);
  EXPECT_EQ(info.si_code, CLD_STOPPED);
  EXPECT_EQ(info.si_pid, pid);
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  info = {};
  ASSERT_EQ(waitid(P_PID, pid, &info, WCONTINUED), 0);
  EXPECT_EQ(info.si_code, CLD_CONTINUED);
  EXPECT_EQ(info.si_status, SIGCONT);

  // SIGKILL ends a stopped process.
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  status = WaitStatus(pid, WUNTRACED);
  EXPECT_TRUE(WIFSTOPPED(status));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_TRUE(KilledBy(WaitStatus(pid), SIGKILL));
}

// The grandchild's parent exits; the grandchild (told by PR_SET_PDEATHSIG, which Linux sends
// after reparenting) reports its new parent. Returns {grandchild pid, its new ppid}.
std::pair<pid_t, pid_t> OrphanGrandchild(Pipe& report, Pipe& release) {
  Pipe ready;
  pid_t middle = ForkAndRun([&] {
    pid_t g = fork();
    if (g == 0) {
      BlockSignals({SIGUSR1});
      prctl(PR_SET_PDEATHSIG, SIGUSR1);
      pid_t before = getppid();
      ready.Notify();
      siginfo_t info;
      int sig = WaitForSignal(SIGUSR1, &info);
      report.Send<pid_t>(getpid());
      report.Send<pid_t>(sig == SIGUSR1 && before != getppid() ? getppid() : -1);
      release.Await();
      _exit(21);
    }
    ready.Await();  // then exit: the grandchild is orphaned
  });
  EXPECT_TRUE(ExitedWith(WaitStatus(middle), 0));
  pid_t g = report.Recv<pid_t>();
  pid_t new_parent = report.Recv<pid_t>();
  return {g, new_parent};
}

TEST(ReparentTest, OrphanGoesToSubreaper) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    Pipe report, release;
    auto [g, new_parent] = OrphanGrandchild(report, release);
    EXPECT_EQ(new_parent, getpid()) << "reparented to the subreaper";
    release.Notify();
    int status = 0;
    EXPECT_EQ(waitpid(-1, &status, 0), g) << "the subreaper reaps the orphan";
    EXPECT_TRUE(ExitedWith(status, 21));
  });
}

TEST(ReparentTest, OrphanGoesToInitWithoutSubreaper) {
  Pipe report, release, out;
  pid_t scope = ForkAndRun([&] {
    auto [gc, new_parent] = OrphanGrandchild(report, release);
    EXPECT_GT(new_parent, 0) << "the orphan's parent changed";
    EXPECT_NE(new_parent, getpid()) << "not a subreaper: the orphan does not come here";
    EXPECT_TRUE(FailsWith(waitpid(gc, nullptr, WNOHANG), ECHILD));
    out.Send<pid_t>(gc);
    out.Send<pid_t>(new_parent);
  });
  pid_t g = out.Recv<pid_t>();
  pid_t scope_reported = out.Recv<pid_t>();
  EXPECT_TRUE(ExitedWith(WaitStatus(scope), 0));
  release.Notify();
  if (getpid() == 1) {
    // Sandboxed, this test binary is the namespace's init: the orphan is ours to reap.
    EXPECT_EQ(scope_reported, 1);
    EXPECT_TRUE(ExitedWith(WaitStatus(g), 21));
  }
}

}  // namespace
}  // namespace sbx::testing
