// execve(2)/execveat(2) compatibility tests, checked through the helper program
// (helpers/exec_helper.c) that prints what it inherited: argv and envp (also a large list),
// close-on-exec, #! scripts (interpreter argument and argv rewriting), ENOENT/EACCES/ENOEXEC/
// ENOTDIR/EFAULT/ELOOP, signal dispositions across exec (handlers reset, SIG_IGN kept, mask
// and pending signals kept), the auxiliary vector (AT_EXECFN, AT_PAGESZ, ids), the process
// name, and execveat with AT_EMPTY_PATH and with a directory fd.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
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

const std::string kHelper = kExecHelper;

TEST(ExecTest, PassesArgvAndEnvp) {
  HelperRun run = RunExec(kHelper, {"custom-argv0", "args", "a b", "", "c"}, {"A=1", "B=two"});
  EXPECT_TRUE(ExitedWith(run.status, 0));
  EXPECT_EQ(run.out,
            "argc=5\nargv[0]=custom-argv0\nargv[1]=args\nargv[2]=a b\nargv[3]=\nargv[4]=c\n"
            "env=A=1\nenv=B=two\n");
}

TEST(ExecTest, LargeArgumentList) {
  std::vector<std::string> argv = {"helper", "argc"};
  size_t total = argv[0].size() + argv[1].size();
  for (int i = 0; i < 2000; ++i) {
    argv.push_back(std::string(100, static_cast<char>('a' + i % 26)));
    total += 100;
  }
  HelperRun run = RunExec(kHelper, argv);
  EXPECT_TRUE(ExitedWith(run.status, 0));
  EXPECT_EQ(run.out, "argc=2002 total=" + std::to_string(total) + "\n");
}

TEST(ExecTest, KeepsPidAndParent) {
  HelperRun run = RunExec(kHelper, {"helper", "ids"});
  EXPECT_TRUE(ExitedWith(run.status, 0));
  // The exec'd process is the forked child: its ppid is us, its tid its pid.
  const std::string ppid = " ppid=" + std::to_string(getpid()) + " ";
  EXPECT_NE(run.out.find(ppid), std::string::npos) << run.out;
}

TEST(ExecTest, CloseOnExecDescriptorsAreClosed) {
  TempDir dir;
  std::string path = dir.WriteFile("f", "x");
  int keep = open(path.c_str(), O_RDONLY);
  int cloexec = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  int dup_cloexec = fcntl(keep, F_DUPFD_CLOEXEC, 0);
  int setfd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(keep, 0);
  ASSERT_GE(cloexec, 0);
  ASSERT_GE(dup_cloexec, 0);
  ASSERT_GE(setfd, 0);
  ASSERT_EQ(fcntl(setfd, F_SETFD, FD_CLOEXEC), 0);
  std::vector<std::string> argv = {"helper", "fds"};
  for (int fd : {keep, cloexec, dup_cloexec, setfd}) argv.push_back(std::to_string(fd));
  HelperRun run = RunExec(kHelper, argv);
  EXPECT_TRUE(ExitedWith(run.status, 0));
  EXPECT_EQ(run.out, "fd " + std::to_string(keep) + " open\nfd " + std::to_string(cloexec) +
                         " closed\nfd " + std::to_string(dup_cloexec) + " closed\nfd " +
                         std::to_string(setfd) + " closed\n");
  for (int fd : {keep, cloexec, dup_cloexec, setfd}) close(fd);
}

TEST(ExecTest, ShebangScriptWithArgument) {
  TempDir dir;
  std::string script = dir.WriteFile("script", "#!" + kHelper + " args\n", 0755);
  HelperRun run = RunExec(script, {"ignored-argv0", "x", "y"}, {"E=1"});
  EXPECT_TRUE(ExitedWith(run.status, 0));
  // argv becomes: interpreter, its #! argument, the script path, then argv[1...].
  EXPECT_EQ(run.out, "argc=5\nargv[0]=" + kHelper + "\nargv[1]=args\nargv[2]=" + script +
                         "\nargv[3]=x\nargv[4]=y\nenv=E=1\n");
}

TEST(ExecTest, ShebangArgumentIsOneWordWithSpaces) {
  TempDir dir;
  // Leading blanks before the interpreter are skipped; everything after it up to the end of
  // the line (trailing blanks stripped) is a single argument.
  std::string script = dir.WriteFile("script", "#!  " + kHelper + "  a  b \t\nignored\n", 0755);
  HelperRun run = RunExec(script, {"script"}, {"SBX_HELPER_MODE=args"});
  EXPECT_TRUE(ExitedWith(run.status, 0));
  EXPECT_EQ(run.out, "argc=3\nargv[0]=" + kHelper + "\nargv[1]=a  b\nargv[2]=" + script +
                         "\nenv=SBX_HELPER_MODE=args\n");
}

TEST(ExecTest, ShebangWithoutArgument) {
  TempDir dir;
  std::string script = dir.WriteFile("script", "#!" + kHelper + "\n", 0755);
  HelperRun run = RunExec(script, {"script", "z"}, {"SBX_HELPER_MODE=args"});
  EXPECT_TRUE(ExitedWith(run.status, 0));
  EXPECT_EQ(run.out, "argc=3\nargv[0]=" + kHelper + "\nargv[1]=" + script +
                         "\nargv[2]=z\nenv=SBX_HELPER_MODE=args\n");
}

// Runs `exec` (an exec call that should fail) in a child, so that a wrongly successful exec
// cannot replace the test process; returns the errno it failed with, or -1 if it did not.
template <typename F>
int ExecErrnoOf(F&& exec) {
  Pipe result;
  pid_t pid = fork();
  if (pid == 0) {
    exec();
    result.Send<int>(errno);
    _exit(0);
  }
  result.CloseWrite();
  int err = -1;
  if (read(result.r(), &err, sizeof(err)) != sizeof(err)) err = -1;
  WaitStatus(pid);
  return err;
}

int ExecErrno(const char* path, char* const* argv = nullptr) {
  return ExecErrnoOf([&] {
    char* const empty[] = {const_cast<char*>("x"), nullptr};
    syscall(SYS_execve, path, argv ? argv : empty, empty + 1);
  });
}

std::string ErrName(int e) { return e < 0 ? "<exec succeeded>" : strerrorname_np(e) ?: "?"; }

TEST(ExecTest, Errors) {
  TempDir dir;
  std::string no_x = dir.WriteFile("no-x", "#!/bin/sh\n", 0644);
  std::string garbage = dir.WriteFile("garbage", std::string("\x01\x02\x03\x04 not a program", 22),
                                      0755);
  std::string bad_interp = dir.WriteFile("bad-interp", "#!/nonexistent/sbx-interp\n", 0755);
  EXPECT_EQ(ErrName(ExecErrno("/nonexistent/sbx-program")), "ENOENT");
  EXPECT_EQ(ErrName(ExecErrno(no_x.c_str())), "EACCES") << "no execute bit, even for root";
  EXPECT_EQ(ErrName(ExecErrno(dir.path().c_str())), "EACCES") << "a directory";
  EXPECT_EQ(ErrName(ExecErrno(garbage.c_str())), "ENOEXEC");
  EXPECT_EQ(ErrName(ExecErrno(bad_interp.c_str())), "ENOENT") << "missing #! interpreter";
  EXPECT_EQ(ErrName(ExecErrno((no_x + "/sub").c_str())), "ENOTDIR");
  EXPECT_EQ(ErrName(ExecErrno(reinterpret_cast<const char*>(8))), "EFAULT");
  char* bad_argv[] = {const_cast<char*>("x"), reinterpret_cast<char*>(8), nullptr};
  EXPECT_EQ(ErrName(ExecErrno(kHelper.c_str(), bad_argv)), "EFAULT");
}

void Handler(int) {}

TEST(ExecTest, SignalStateAcrossExec) {
  HelperRun run = RunExec(kHelper, {"helper", "sigs"}, {}, [] {
    SetAction(SIGUSR1, Handler);
    SetAction(SIGUSR2, SIG_IGN);
    SetAction(SIGCHLD, Handler);
    BlockSignals({SIGINT, SIGTERM});
    raise(SIGTERM);  // blocked: stays pending across exec
  });
  EXPECT_TRUE(ExitedWith(run.status, 0));
  // Handlers become SIG_DFL, SIG_IGN stays, the mask and pending signals are kept.
  EXPECT_EQ(run.out,
            "USR1=dfl\nUSR2=ign\nTERM=dfl\nINT=dfl\nCHLD=dfl\nblocked=TERM,INT,\n"
            "pending=TERM,\n");
}

TEST(ExecTest, AuxiliaryVector) {
  HelperRun run = RunExec(kHelper, {"helper", "auxv"});
  EXPECT_TRUE(ExitedWith(run.status, 0));
  EXPECT_EQ(run.out, "AT_EXECFN=" + kHelper + "\nAT_PAGESZ=" + std::to_string(kPage) +
                         "\nAT_UID=" + std::to_string(getuid()) + "\nAT_EUID=" +
                         std::to_string(geteuid()) + "\nAT_GID=" + std::to_string(getgid()) +
                         "\nAT_SECURE=0\nAT_RANDOM=set\nAT_PHDR=set\nAT_ENTRY=set\n");
}

TEST(ExecTest, ExecfnIsThePathAsGiven) {
  TempDir dir;
  ASSERT_EQ(symlink(kHelper.c_str(), dir.Join("link").c_str()), 0);
  HelperRun run = RunExec(dir.Join("link"), {"helper", "auxv"});
  EXPECT_TRUE(ExitedWith(run.status, 0));
  EXPECT_EQ(run.out.substr(0, run.out.find('\n')), "AT_EXECFN=" + dir.Join("link"));
}

TEST(ExecTest, CommIsFileBasenameAndDumpableReset) {
  HelperRun run = RunExec(kHelper, {"argv0-is-not-used", "prctl"}, {}, [] {
    prctl(PR_SET_NAME, "before-exec");
    prctl(PR_SET_DUMPABLE, 0);
  });
  EXPECT_TRUE(ExitedWith(run.status, 0));
  std::string base = kHelper.substr(kHelper.rfind('/') + 1).substr(0, 15);
  EXPECT_NE(run.out.find("comm=" + base + "\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("dumpable=1\n"), std::string::npos) << run.out;
}

TEST(ExecveatTest, EmptyPathOnFd) {
  int fd = open(kHelper.c_str(), O_RDONLY);  // not close-on-exec: "/dev/fd/N" stays valid
  ASSERT_GE(fd, 0);
  Pipe out;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out.w(), 1);
    char* const argv[] = {const_cast<char*>("helper"), const_cast<char*>("auxv"), nullptr};
    char* const envp[] = {nullptr};
    syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
    _exit(127);
  }
  out.CloseWrite();
  std::string got = out.ReadToEof();
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
  EXPECT_EQ(got.substr(0, got.find('\n')), "AT_EXECFN=/dev/fd/" + std::to_string(fd));
  close(fd);
}

TEST(ExecveatTest, RelativeToDirectoryFd) {
  std::string dir = kHelper.substr(0, kHelper.rfind('/'));
  std::string name = kHelper.substr(kHelper.rfind('/') + 1);
  int dirfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dirfd, 0);
  Pipe out;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out.w(), 1);
    char* const argv[] = {const_cast<char*>("helper"), const_cast<char*>("exit"),
                          const_cast<char*>("0"), nullptr};
    char* const envp[] = {nullptr};
    syscall(SYS_execveat, dirfd, name.c_str(), argv, envp, 0);
    _exit(127);
  }
  out.CloseWrite();
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
  close(dirfd);
}

TEST(ExecveatTest, SymlinkNoFollowIsEloop) {
  TempDir dir;
  ASSERT_EQ(symlink(kHelper.c_str(), dir.Join("link").c_str()), 0);
  int dirfd = open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dirfd, 0);
  char* const argv[] = {const_cast<char*>("helper"), nullptr};
  char* const envp[] = {nullptr};
  EXPECT_EQ(ErrName(ExecErrnoOf([&] {
              syscall(SYS_execveat, dirfd, "link", argv, envp, AT_SYMLINK_NOFOLLOW);
            })),
            "ELOOP");
  EXPECT_EQ(ErrName(ExecErrnoOf([&] {
              syscall(SYS_execveat, dirfd, "link", argv, envp, 0x12345678);
            })),
            "EINVAL")
      << "unknown flags";
  close(dirfd);
}

}  // namespace
}  // namespace sbx::testing
