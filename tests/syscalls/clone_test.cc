// clone(2), clone3(2) and vfork(2) compatibility tests: vfork suspends the parent until the
// child execs or exits (and shares its memory meanwhile), CLONE_PARENT, CLONE_VM with a new
// stack, CLONE_FILES and CLONE_FS sharing, CLONE_PARENT_SETTID/CLONE_CHILD_SETTID,
// clone3 with CLONE_PIDFD and a non-SIGCHLD exit_signal (__WCLONE/__WALL), and the flag
// combinations Linux rejects with EINVAL (the same for root and non-root).
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

// clone with the raw argument order of x86-64 (flags, stack, parent_tid, child_tid, tls) and
// no new stack: the child continues on a copy of the caller's stack like fork.
long RawClone(unsigned long flags, int* parent_tid = nullptr, int* child_tid = nullptr) {
  return syscall(SYS_clone, flags, 0, parent_tid, child_tid, 0);
}

long Clone3(struct clone_args* args, size_t size = sizeof(struct clone_args)) {
  return syscall(SYS_clone3, args, size);
}

volatile int g_vfork_marker = 0;

TEST(VforkTest, ParentResumesAfterChildExitsAndSharesMemory) {
  g_vfork_marker = 0;
  pid_t pid = vfork();
  if (pid == 0) {
    g_vfork_marker = 1;  // the parent's memory, since vfork shares it
    _exit(5);
  }
  ASSERT_GT(pid, 0);
  EXPECT_EQ(g_vfork_marker, 1) << "the parent ran before the child exited, or memory not shared";
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 5));
}

TEST(VforkTest, ParentResumesWhenChildExecs) {
  // The exec'd helper blocks reading `hold` until the parent closes the write end: the
  // parent can only get there if vfork returned while the child was still alive.
  Pipe hold(0);
  g_vfork_marker = 0;
  std::string fd_arg = std::to_string(hold.r());
  const char* argv[] = {kExecHelper, "wait-fd", fd_arg.c_str(), nullptr};
  pid_t pid = vfork();
  if (pid == 0) {
    g_vfork_marker = 1;
    close(hold.w());  // the child's copy; the parent's stays open
    execv(kExecHelper, const_cast<char**>(argv));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  EXPECT_EQ(g_vfork_marker, 1);
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "the exec'd child must still be running";
  hold.CloseWrite();
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
}

TEST(CloneTest, CloneParentMakesASibling) {
  Pipe pipe;
  const pid_t self = getpid();
  pid_t middle = ForkAndRun([&] {
    long sibling = RawClone(CLONE_PARENT | SIGCHLD);
    if (sibling == 0) {
      pipe.Send<pid_t>(getppid());
      _exit(6);
    }
    ASSERT_GT(sibling, 0) << strerror(errno);
    pipe.Send<pid_t>(static_cast<pid_t>(sibling));
    EXPECT_TRUE(FailsWith(waitpid(static_cast<pid_t>(sibling), nullptr, 0), ECHILD))
        << "the CLONE_PARENT child is not the caller's child";
  });
  ASSERT_GT(middle, 0);
  pid_t sibling = pipe.Recv<pid_t>();
  pid_t sibling_parent = pipe.Recv<pid_t>();
  // The order of the two messages is not fixed; the one equal to `self` is the parent.
  if (sibling == self) std::swap(sibling, sibling_parent);
  EXPECT_EQ(sibling_parent, self);
  EXPECT_TRUE(ExitedWith(WaitStatus(middle), 0));
  EXPECT_TRUE(ExitedWith(WaitStatus(sibling), 6)) << "the grandparent reaps it";
}

struct VmChildArgs {
  volatile int value = 0;
  int fd_to_close = -1;
};

int VmChild(void* arg) {
  auto* a = static_cast<VmChildArgs*>(arg);
  a->value = 77;
  return 9;
}

TEST(CloneTest, CloneVmSharesMemoryWithNewStack) {
  std::vector<char> stack(256 * 1024);
  VmChildArgs args;
  int ptid = 0, ctid = 0;
  pid_t pid = clone(VmChild, stack.data() + stack.size(),
                    CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | SIGCHLD, &args, &ptid,
                    nullptr, &ctid);
  ASSERT_GT(pid, 0) << strerror(errno);
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 9));
  EXPECT_EQ(args.value, 77);
  EXPECT_EQ(ptid, pid) << "CLONE_PARENT_SETTID";
  EXPECT_EQ(ctid, pid) << "CLONE_CHILD_SETTID writes the child's memory, shared here";
}

TEST(CloneTest, CloneFilesSharesDescriptorTable) {
  TempDir dir;
  std::string path = dir.WriteFile("f", "x");
  int victim = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(victim, 0);
  Pipe report;
  long pid = RawClone(CLONE_FILES | SIGCHLD);
  if (pid == 0) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    close(victim);
    report.Send<int>(fd);
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  int fd = report.Recv<int>();
  EXPECT_TRUE(ExitedWith(WaitStatus(static_cast<pid_t>(pid)), 0));
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC) << "the child's open is in the shared table";
  EXPECT_TRUE(FailsWith(fcntl(victim, F_GETFD), EBADF)) << "the child's close is shared";
  close(fd);
}

TEST(CloneTest, WithoutCloneFilesTablesAreSeparate) {
  TempDir dir;
  std::string path = dir.WriteFile("f", "x");
  Pipe report;
  long pid = RawClone(SIGCHLD);
  if (pid == 0) {
    int fd = open(path.c_str(), O_RDONLY);
    report.Send<int>(fd);
    pause();  // keeps the descriptor alive in the child until killed
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  int fd = report.Recv<int>();
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(FailsWith(fcntl(fd, F_GETFD), EBADF));
  kill(static_cast<pid_t>(pid), SIGKILL);
  EXPECT_TRUE(KilledBy(WaitStatus(static_cast<pid_t>(pid)), SIGKILL));
}

TEST(CloneTest, CloneFsSharesCwdAndUmask) {
  EXPECT_CHILD_OK([] {  // in a child: the test process keeps its cwd and umask
    TempDir dir;
    const mode_t old_mask = umask(022);
    long pid = RawClone(CLONE_FS | SIGCHLD);
    if (pid == 0) {
      umask(0077);
      _exit(chdir(dir.path().c_str()) == 0 ? 0 : 1);
    }
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(ExitedWith(WaitStatus(static_cast<pid_t>(pid)), 0));
    EXPECT_EQ(umask(old_mask), 0077);
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
    EXPECT_EQ(std::string(cwd), dir.path());
    EXPECT_EQ(chdir("/"), 0);
  });
}

TEST(CloneTest, WithoutCloneFsCwdIsSeparate) {
  TempDir dir;
  char before[4096];
  ASSERT_NE(getcwd(before, sizeof(before)), nullptr);
  long pid = RawClone(SIGCHLD);
  if (pid == 0) _exit(chdir(dir.path().c_str()) == 0 ? 0 : 1);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(ExitedWith(WaitStatus(static_cast<pid_t>(pid)), 0));
  char after[4096];
  ASSERT_NE(getcwd(after, sizeof(after)), nullptr);
  EXPECT_STREQ(after, before);
}

TEST(Clone3Test, PidfdAndSigchld) {
  int pidfd = -1;
  struct clone_args args = {};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  Pipe go;
  long pid = Clone3(&args);
  if (pid == 0) {
    go.Await();
    _exit(4);
  }
  ASSERT_GT(pid, 0) << strerror(errno);
  ASSERT_GE(pidfd, 0);
  EXPECT_EQ(fcntl(pidfd, F_GETFD), FD_CLOEXEC) << "pidfds are close-on-exec";
  struct pollfd pfd = {pidfd, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0) << "a pidfd is not readable while the process runs";
  go.Notify();
  EXPECT_EQ(poll(&pfd, 1, 10000), 1) << "a pidfd becomes readable when the process exits";
  siginfo_t info = {};
  ASSERT_EQ(waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &info, WEXITED), 0) << strerror(errno);
  EXPECT_EQ(info.si_pid, pid);
  EXPECT_EQ(info.si_code, CLD_EXITED);
  EXPECT_EQ(info.si_status, 4);
  close(pidfd);
}

TEST(Clone3Test, ExitSignalIsDeliveredAndNeedsWclone) {
  EXPECT_CHILD_OK([] {
    BlockSignals({SIGUSR1});
    struct clone_args args = {};
    args.exit_signal = SIGUSR1;
    long pid = Clone3(&args);
    if (pid == 0) _exit(3);
    ASSERT_GT(pid, 0) << strerror(errno);
    siginfo_t info = {};
    ASSERT_EQ(WaitForSignal(SIGUSR1, &info), SIGUSR1) << "exit_signal not delivered";
    EXPECT_EQ(info.si_code, CLD_EXITED);
    EXPECT_EQ(info.si_pid, pid);
    EXPECT_EQ(info.si_status, 3);
    // A child whose exit signal is not SIGCHLD is a "clone" child: invisible to a plain wait.
    EXPECT_TRUE(FailsWith(waitpid(static_cast<pid_t>(pid), nullptr, WNOHANG), ECHILD));
    EXPECT_TRUE(ExitedWith(WaitStatus(static_cast<pid_t>(pid), __WCLONE), 3));
  });
}

TEST(Clone3Test, ZeroExitSignalNeedsWall) {
  struct clone_args args = {};
  args.exit_signal = 0;
  long pid = Clone3(&args);
  if (pid == 0) _exit(8);
  ASSERT_GT(pid, 0) << strerror(errno);
  EXPECT_TRUE(FailsWith(waitpid(static_cast<pid_t>(pid), nullptr, WNOHANG), ECHILD));
  EXPECT_TRUE(ExitedWith(WaitStatus(static_cast<pid_t>(pid), __WALL), 8));
}

// If a broken implementation accepted an invalid combination, the child must not run the
// test's code: it exits at once (a thread exits only itself).
void ExitIfChild(long r) {
  if (r == 0) syscall(SYS_exit, 99);
}

TEST(CloneTest, InvalidFlagCombinationsAreEinval) {
  long r = RawClone(CLONE_SIGHAND | SIGCHLD);
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "CLONE_SIGHAND needs CLONE_VM";
  r = RawClone(CLONE_VM | CLONE_THREAD | SIGCHLD);
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "CLONE_THREAD needs CLONE_SIGHAND";
  r = RawClone(CLONE_NEWNS | CLONE_FS | SIGCHLD);
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "CLONE_NEWNS with CLONE_FS";
  r = RawClone(CLONE_NEWUSER | CLONE_FS | SIGCHLD);
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "CLONE_NEWUSER with CLONE_FS";
  int slot = 0;
  r = RawClone(CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, &slot);
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "legacy clone: CLONE_PIDFD and CLONE_PARENT_SETTID "
                                       "share the parent_tid argument";
}

TEST(Clone3Test, InvalidArgumentsAreEinval) {
  struct clone_args args = {};
  args.exit_signal = SIGCHLD;
  long r = Clone3(&args, 32);  // smaller than CLONE_ARGS_SIZE_VER0
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "size below CLONE_ARGS_SIZE_VER0";
  args.exit_signal = 65;
  r = Clone3(&args);
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "exit_signal out of range";
  args.exit_signal = SIGCHLD;
  args.flags = 1ull << 40;
  r = Clone3(&args);
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "unknown flag bit";
  args.flags = CLONE_DETACHED;
  r = Clone3(&args);
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "clone3 refuses CLONE_DETACHED";
  args.flags = 0;
  args.stack_size = 4096;  // a size without a stack
  r = Clone3(&args);
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EINVAL)) << "stack_size without stack";
  args.stack_size = 0;
  r = Clone3(nullptr, sizeof(args));
  ExitIfChild(r);
  EXPECT_TRUE(FailsWith(r, EFAULT));
}

}  // namespace
}  // namespace sbx::testing
