// prctl(2) compatibility tests: PR_SET/GET_NAME (15 characters kept), PR_SET/GET_PDEATHSIG
// (the signal arrives when the parent dies, is cleared in children), PR_SET/GET_NO_NEW_PRIVS
// (one-way, inherited across fork and exec), PR_SET/GET_CHILD_SUBREAPER (not inherited),
// PR_SET/GET_DUMPABLE, and EINVAL for bad arguments. State changes happen in children so the
// test process keeps its own.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"

namespace sbx::testing {
namespace {

std::string GetName() {
  char name[32] = {};
  EXPECT_EQ(prctl(PR_GET_NAME, name, 0, 0, 0), 0);
  return name;
}

TEST(PrctlTest, NameIsTruncatedTo15Bytes) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(prctl(PR_SET_NAME, "sbx-name", 0, 0, 0), 0);
    EXPECT_EQ(GetName(), "sbx-name");
    ASSERT_EQ(prctl(PR_SET_NAME, "0123456789abcdefXYZ", 0, 0, 0), 0);
    EXPECT_EQ(GetName(), "0123456789abcde");
    EXPECT_CHILD_OK([] { EXPECT_EQ(GetName(), "0123456789abcde") << "inherited by fork"; });
    EXPECT_TRUE(FailsWith(prctl(PR_SET_NAME, reinterpret_cast<char*>(8), 0, 0, 0), EFAULT));
  });
}

int GetPdeathsig() {
  int sig = -1;
  EXPECT_EQ(prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0), 0);
  return sig;
}

TEST(PrctlTest, PdeathsigGetSetAndNotInherited) {
  EXPECT_CHILD_OK([] {
    EXPECT_EQ(GetPdeathsig(), 0);
    ASSERT_EQ(prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0), 0);
    EXPECT_EQ(GetPdeathsig(), SIGUSR1);
    EXPECT_CHILD_OK([] { EXPECT_EQ(GetPdeathsig(), 0) << "cleared in a fork child"; });
    EXPECT_TRUE(FailsWith(prctl(PR_SET_PDEATHSIG, 65, 0, 0, 0), EINVAL));
    ASSERT_EQ(prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0), 0);
    EXPECT_EQ(GetPdeathsig(), 0);
  });
}

TEST(PrctlTest, PdeathsigDeliveredWhenParentDies) {
  EXPECT_CHILD_OK([] {
    // We are a subreaper so that the orphan comes back to us and can be waited for.
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    Pipe ready, report;
    pid_t middle = ForkAndRun([&] {
      pid_t catcher = fork();
      if (catcher == 0) {
        BlockSignals({SIGUSR1});
        prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);
        ready.Notify();
        siginfo_t info = {};
        int sig = WaitForSignal(SIGUSR1, &info);
        report.Send<int>(sig);
        report.Send<int>(info.si_code);
        _exit(0);
      }
      pid_t killed = fork();
      if (killed == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);  // default action: death
        ready.Notify();
        pause();
        _exit(1);
      }
      ready.Await();
      ready.Await();
      report.Send<int>(catcher);
      report.Send<int>(killed);
      // Exiting now fires both children's death signals.
    });
    pid_t catcher = report.Recv<int>();
    pid_t killed = report.Recv<int>();
    EXPECT_TRUE(ExitedWith(WaitStatus(middle), 0));
    EXPECT_EQ(report.Recv<int>(), SIGUSR1) << "the parent-death signal did not arrive";
    EXPECT_EQ(report.Recv<int>(), SI_USER);
    EXPECT_TRUE(ExitedWith(WaitStatus(catcher), 0));
    EXPECT_TRUE(KilledBy(WaitStatus(killed), SIGKILL));
  });
}

TEST(PrctlTest, NoNewPrivsIsOneWayAndInherited) {
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
    EXPECT_TRUE(FailsWith(prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0), EINVAL)) << "cannot unset";
    EXPECT_TRUE(FailsWith(prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), EINVAL)) << "unused args";
    EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
    EXPECT_CHILD_OK([] { EXPECT_EQ(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1); });
    HelperRun run = RunExec(kExecHelper, {"helper", "prctl"});
    EXPECT_TRUE(ExitedWith(run.status, 0));
    EXPECT_NE(run.out.find("no_new_privs=1\n"), std::string::npos) << run.out;
  });
}

int GetSubreaper() {
  int v = -1;
  EXPECT_EQ(prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0), 0);
  return v;
}

TEST(PrctlTest, ChildSubreaperGetSetNotInherited) {
  EXPECT_CHILD_OK([] {
    EXPECT_EQ(GetSubreaper(), 0);
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    EXPECT_EQ(GetSubreaper(), 1);
    EXPECT_CHILD_OK([] { EXPECT_EQ(GetSubreaper(), 0) << "not inherited by fork"; });
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
    EXPECT_EQ(GetSubreaper(), 0);
  });
}

TEST(PrctlTest, Dumpable) {
  EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
  EXPECT_CHILD_OK([] {
    ASSERT_EQ(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), 0);
    EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
    EXPECT_CHILD_OK([] { EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0) << "inherited"; });
    EXPECT_TRUE(FailsWith(prctl(PR_SET_DUMPABLE, 2, 0, 0, 0), EINVAL));
    ASSERT_EQ(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
    EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
  });
}

TEST(PrctlTest, UnknownOptionIsEinval) {
  EXPECT_TRUE(FailsWith(prctl(0x7fff1234, 0, 0, 0, 0), EINVAL));
}

}  // namespace
}  // namespace sbx::testing
