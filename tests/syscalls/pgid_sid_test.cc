// Process groups and sessions: setpgid/getpgid/getpgrp, setsid/getsid, inheritance across
// fork, and setpgid's error rules (EPERM for a session leader, another session or a group
// that does not exist in the session; ESRCH for a non-child; EACCES for a child that has
// exec'd; EINVAL for a negative pgid). setsid/setpgid on the test process itself are avoided:
// each scenario runs in a child.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"

namespace sbx::testing {
namespace {

TEST(PgidTest, GettersAgree) {
  EXPECT_EQ(getpgid(0), getpgrp());
  EXPECT_EQ(getpgid(getpid()), getpgrp());
  EXPECT_EQ(syscall(SYS_getpgrp), getpgrp());
  EXPECT_EQ(getsid(getpid()), getsid(0));
  EXPECT_TRUE(FailsWith(getpgid(kNoSuchPid), ESRCH));
  EXPECT_TRUE(FailsWith(getsid(kNoSuchPid), ESRCH));
}

TEST(PgidTest, ChildInheritsGroupAndSession) {
  const pid_t pgrp = getpgrp(), sid = getsid(0);
  EXPECT_CHILD_OK([&] {
    EXPECT_EQ(getpgrp(), pgrp);
    EXPECT_EQ(getsid(0), sid);
  });
}

TEST(PgidTest, NewGroupSeenByParentAndChild) {
  Pipe go;
  pid_t pid = ForkAndRun([&] {
    go.Await();
    EXPECT_EQ(getpgrp(), getpid());
  });
  ASSERT_EQ(setpgid(pid, 0), 0) << "pgid 0 means the target's pid";
  EXPECT_EQ(getpgid(pid), pid);
  EXPECT_EQ(getsid(pid), getsid(0)) << "same session";
  go.Notify();
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
}

TEST(PgidTest, SelfSetpgidAndJoin) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(setpgid(0, 0), 0);
    EXPECT_EQ(getpgrp(), getpid());
    Pipe go;
    pid_t child = ForkAndRun([&] { go.Await(); });
    EXPECT_EQ(getpgid(child), getpid()) << "inherited";
    // The child moves to its own group, then back into ours (it exists in our session).
    ASSERT_EQ(setpgid(child, child), 0);
    EXPECT_EQ(getpgid(child), child);
    ASSERT_EQ(setpgid(child, getpid()), 0);
    EXPECT_EQ(getpgid(child), getpid());
    go.Notify();
    EXPECT_TRUE(ExitedWith(WaitStatus(child), 0));
  });
}

TEST(PgidTest, GroupOutlivesItsLeader) {
  EXPECT_CHILD_OK([] {
    Pipe go_leader, go_member, go_other;
    pid_t leader = ForkAndRun([&] { go_leader.Await(); });
    pid_t member = ForkAndRun([&] { go_member.Await(); });
    pid_t other = ForkAndRun([&] { go_other.Await(); });
    ASSERT_EQ(setpgid(leader, leader), 0);
    ASSERT_EQ(setpgid(member, leader), 0);
    go_leader.Notify();
    EXPECT_TRUE(ExitedWith(WaitStatus(leader), 0));
    // The group still has a member, so it can still be joined.
    EXPECT_EQ(setpgid(other, leader), 0);
    EXPECT_EQ(getpgid(other), leader);
    go_member.Notify();
    go_other.Notify();
    EXPECT_TRUE(ExitedWith(WaitStatus(member), 0));
    EXPECT_TRUE(ExitedWith(WaitStatus(other), 0));
  });
}

TEST(PgidTest, SetpgidErrors) {
  EXPECT_CHILD_OK([] {
    EXPECT_TRUE(FailsWith(setpgid(0, -1), EINVAL));
    EXPECT_TRUE(FailsWith(setpgid(0, kNoSuchPid), EPERM)) << "no such group in the session";
    EXPECT_TRUE(FailsWith(setpgid(getppid(), getppid()), ESRCH)) << "not self or a child";
    EXPECT_TRUE(FailsWith(setpgid(kNoSuchPid, 0), ESRCH));
  });
}

TEST(PgidTest, GrandchildIsEsrch) {
  EXPECT_CHILD_OK([] {
    Pipe report, go;
    pid_t middle = ForkAndRun([&] {
      pid_t g = ForkAndRun([&] { go.Await(); });
      report.Send<pid_t>(g);
      EXPECT_TRUE(ExitedWith(WaitStatus(g), 0));
    });
    pid_t g = report.Recv<pid_t>();
    EXPECT_TRUE(FailsWith(setpgid(g, g), ESRCH));
    go.Notify();
    EXPECT_TRUE(ExitedWith(WaitStatus(middle), 0));
  });
}

TEST(PgidTest, ChildAfterExecIsEacces) {
  // The exec'd helper holds `hold` open until we close our end; `exec_done` is close-on-exec,
  // so EOF on it means the child has exec'd.
  Pipe hold(0), exec_done;
  std::string fd = std::to_string(hold.r());
  pid_t pid = fork();
  if (pid == 0) {
    close(hold.w());
    execl(kExecHelper, kExecHelper, "wait-fd", fd.c_str(), nullptr);
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  exec_done.CloseWrite();
  EXPECT_EQ(exec_done.ReadToEof(), "");
  EXPECT_TRUE(FailsWith(setpgid(pid, pid), EACCES));
  hold.CloseWrite();
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
}

TEST(SessionTest, SetsidMakesNewSessionAndGroup) {
  EXPECT_CHILD_OK([] {
    const pid_t old_sid = getsid(0);
    pid_t sid = setsid();
    ASSERT_EQ(sid, getpid());
    EXPECT_EQ(getsid(0), getpid());
    EXPECT_EQ(getpgrp(), getpid());
    EXPECT_NE(getsid(0), old_sid);
    EXPECT_TRUE(FailsWith(setsid(), EPERM)) << "already a group (and session) leader";
    EXPECT_TRUE(FailsWith(setpgid(0, 0), EPERM)) << "a session leader cannot change group";
    EXPECT_EQ(getsid(getppid()), old_sid) << "the parent keeps its session";
  });
}

TEST(SessionTest, GroupLeaderCannotSetsid) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(setpgid(0, 0), 0);
    EXPECT_TRUE(FailsWith(setsid(), EPERM));
  });
}

TEST(SessionTest, CrossSessionSetpgidIsEperm) {
  EXPECT_CHILD_OK([] {
    Pipe ready, go;
    pid_t child = ForkAndRun([&] {
      EXPECT_EQ(setsid(), getpid());
      ready.Notify();
      go.Await();
    });
    ready.Await();
    EXPECT_EQ(getsid(child), child);
    EXPECT_TRUE(FailsWith(setpgid(child, getpgrp()), EPERM)) << "child in another session";
    EXPECT_TRUE(FailsWith(setpgid(0, child), EPERM)) << "group in another session";
    go.Notify();
    EXPECT_TRUE(ExitedWith(WaitStatus(child), 0));
  });
}

}  // namespace
}  // namespace sbx::testing
