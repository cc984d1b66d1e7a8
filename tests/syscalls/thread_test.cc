// Thread compatibility tests: 32 pthreads with thread-local storage (CLONE_SETTLS) and join
// (CLONE_CHILD_CLEARTID), the raw CLONE_CHILD_CLEARTID futex wake, gettid/getpid, exit_group
// from a non-leader thread, a leader that exits first, tgkill and process-directed signals
// reaching the right thread, fork from a thread, and execve from a non-leader thread (the new
// program keeps the process's pid).
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"

namespace sbx::testing {
namespace {

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

thread_local int t_local = 0;

struct Slot {
  int index = 0;
  long square = 0;
  pid_t tid = 0;
  pid_t pid = 0;
  int local_seen = -1;
};

void* SquareThread(void* arg) {
  auto* s = static_cast<Slot*>(arg);
  t_local = s->index + 1000;  // each thread has its own copy
  s->square = static_cast<long>(s->index) * s->index;
  s->tid = Gettid();
  s->pid = getpid();
  sched_yield();
  s->local_seen = t_local;
  return reinterpret_cast<void*>(static_cast<intptr_t>(s->index + 1));
}

TEST(ThreadTest, ThirtyTwoThreadsJoinWithResults) {
  constexpr int kThreads = 32;
  std::vector<Slot> slots(kThreads);
  std::vector<pthread_t> threads(kThreads);
  t_local = 7;
  for (int i = 0; i < kThreads; ++i) {
    slots[i].index = i;
    ASSERT_EQ(pthread_create(&threads[i], nullptr, SquareThread, &slots[i]), 0);
  }
  std::set<pid_t> tids;
  for (int i = 0; i < kThreads; ++i) {
    void* ret = nullptr;
    ASSERT_EQ(pthread_join(threads[i], &ret), 0);
    EXPECT_EQ(reinterpret_cast<intptr_t>(ret), i + 1);
    EXPECT_EQ(slots[i].square, static_cast<long>(i) * i);
    EXPECT_EQ(slots[i].pid, getpid()) << "threads share the process id";
    EXPECT_NE(slots[i].tid, getpid()) << "a thread's tid is not the pid";
    EXPECT_EQ(slots[i].local_seen, i + 1000) << "thread-local storage (CLONE_SETTLS)";
    tids.insert(slots[i].tid);
  }
  EXPECT_EQ(tids.size(), static_cast<size_t>(kThreads)) << "every thread has its own tid";
  EXPECT_EQ(t_local, 7);
}

struct ClearTidArgs {
  std::atomic<int> go{0};
};

int ClearTidThread(void* arg) {
  auto* a = static_cast<ClearTidArgs*>(arg);
  while (a->go.load() == 0) sched_yield();
  return 0;  // glibc's clone wrapper then calls exit (the thread only)
}

TEST(ThreadTest, ChildClearTidIsZeroedAndWoken) {
  std::vector<char> stack(256 * 1024);
  ClearTidArgs args;
  volatile pid_t ctid = -1;
  pid_t ptid = 0;
  const int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                    CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID |
                    CLONE_CHILD_CLEARTID;
  int tid = clone(ClearTidThread, stack.data() + stack.size(), flags, &args, &ptid, nullptr,
                  const_cast<pid_t*>(&ctid));
  ASSERT_GT(tid, 0) << strerror(errno);
  EXPECT_EQ(ptid, tid);
  args.go.store(1);
  // The kernel clears *ctid and does FUTEX_WAKE on it when the thread exits.
  for (;;) {
    pid_t v = ctid;
    if (v == 0) break;
    struct timespec ts = {10, 0};
    long r = syscall(SYS_futex, &ctid, FUTEX_WAIT, v, &ts, nullptr, 0);
    ASSERT_TRUE(r == 0 || errno == EAGAIN || errno == EINTR)
        << "futex wait on the clear-tid word: " << strerror(errno);
  }
  EXPECT_EQ(ctid, 0);
  // The clear-tid write and wake happen in mm_release, before the thread is unhashed, so a
  // tgkill right after the wake may still find it: wait (bounded) until it is gone.
  long r = 0;
  for (int i = 0; i < 2000; ++i) {
    r = syscall(SYS_tgkill, getpid(), tid, 0);
    if (r != 0) break;
    usleep(1000);
  }
  EXPECT_TRUE(FailsWith(r, ESRCH)) << "thread is gone";
}

void* BlockForever(void* arg) {
  int fd = *static_cast<int*>(arg);
  char c;
  while (read(fd, &c, 1) != 0) {
  }
  return nullptr;
}

TEST(ThreadTest, ExitGroupFromNonLeaderEndsProcess) {
  pid_t pid = ForkAndRun([] {
    Pipe never;
    int fd = never.r();
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, nullptr,
                             [](void*) -> void* {
                               syscall(SYS_exit_group, 7);
                               return nullptr;
                             },
                             nullptr),
              0);
    BlockForever(&fd);  // the leader blocks; exit_group must end it
  });
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 7));
}

TEST(ThreadTest, ExitGroupKillsOtherBlockedThreads) {
  pid_t pid = ForkAndRun([] {
    static Pipe never;
    static int fd = never.r();
    for (int i = 0; i < 8; ++i) {
      pthread_t t;
      ASSERT_EQ(pthread_create(&t, nullptr, BlockForever, &fd), 0);
    }
    syscall(SYS_exit_group, 12);
  });
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 12));
}

// The leader exits (SYS_exit) first; the process lives on while another thread runs, and the
// status its parent sees is the exit code of the last thread to exit (Linux records it in
// do_exit when the thread group dies). The leader's set_tid_address word tells the other
// thread, by futex wake, that the leader has left.
TEST(ThreadTest, LeaderExitsFirstProcessLivesOn) {
  Pipe go, report;
  pid_t pid = ForkAndRun([&] {
    static Pipe* g_go = &go;
    static Pipe* g_report = &report;
    static pid_t leader;
    static volatile pid_t leader_alive;
    leader = getpid();
    leader_alive = leader;
    syscall(SYS_set_tid_address, &leader_alive);
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, nullptr,
                             [](void*) -> void* {
                               g_go->Await();
                               for (pid_t v; (v = leader_alive) != 0;) {
                                 syscall(SYS_futex, &leader_alive, FUTEX_WAIT, v, nullptr,
                                         nullptr, 0);
                               }
                               g_report->Send<pid_t>(getpid() == leader ? 1 : 0);
                               syscall(SYS_exit, 5);  // the last thread: this thread only
                               return nullptr;
                             },
                             nullptr),
              0);
    syscall(SYS_exit, 3);  // the leader leaves; the process lives while the thread runs
  });
  ASSERT_GT(pid, 0);
  go.Notify();
  EXPECT_EQ(report.Recv<pid_t>(), 1) << "getpid() in a thread after the leader exited";
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 5));
}

volatile pid_t g_handler_tid = 0;
volatile int g_handler_sig = 0;
void RecordTid(int sig) {
  g_handler_tid = Gettid();
  g_handler_sig = sig;
}

struct SignalTarget {
  Pipe ready;
  pid_t tid = 0;
};

// Blocks `sig` in this thread, reports readiness, then sigsuspends with it unblocked until the
// handler has run on some thread.
void* WaitInSigsuspend(void* arg) {
  auto* t = static_cast<SignalTarget*>(arg);
  BlockSignals({SIGUSR1, SIGUSR2});
  t->tid = Gettid();
  t->ready.Notify();
  sigset_t none;
  sigemptyset(&none);
  while (g_handler_tid == 0) sigsuspend(&none);
  return nullptr;
}

TEST(ThreadTest, TgkillRunsHandlerOnTargetThread) {
  g_handler_tid = 0;
  struct sigaction old = SetAction(SIGUSR1, RecordTid);
  SignalTarget target;
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr, WaitInSigsuspend, &target), 0);
  target.ready.Await();
  ASSERT_EQ(syscall(SYS_tgkill, getpid(), target.tid, SIGUSR1), 0);
  ASSERT_EQ(pthread_join(t, nullptr), 0);
  EXPECT_EQ(g_handler_tid, target.tid);
  EXPECT_EQ(g_handler_sig, SIGUSR1);
  sigaction(SIGUSR1, &old, nullptr);
}

TEST(ThreadTest, ProcessSignalGoesToThreadThatDoesNotBlockIt) {
  g_handler_tid = 0;
  struct sigaction old = SetAction(SIGUSR2, RecordTid);
  sigset_t old_mask = BlockSignals({SIGUSR2});  // the main thread blocks it
  SignalTarget target;
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr, WaitInSigsuspend, &target), 0);
  target.ready.Await();
  ASSERT_EQ(kill(getpid(), SIGUSR2), 0);
  ASSERT_EQ(pthread_join(t, nullptr), 0);
  EXPECT_EQ(g_handler_tid, target.tid);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGUSR2, &old, nullptr);
}

TEST(ThreadTest, TgkillWithWrongTgidIsEsrch) {
  EXPECT_TRUE(FailsWith(syscall(SYS_tgkill, getpid(), kNoSuchPid, 0), ESRCH));
  EXPECT_TRUE(FailsWith(syscall(SYS_tgkill, kNoSuchPid, Gettid(), 0), ESRCH));
  EXPECT_TRUE(FailsWith(syscall(SYS_tgkill, getpid(), Gettid(), 65), EINVAL));
  EXPECT_EQ(syscall(SYS_tgkill, getpid(), Gettid(), 0), 0);
}

TEST(ThreadTest, SignalMaskIsPerThread) {
  sigset_t mine;
  pthread_sigmask(SIG_BLOCK, nullptr, &mine);
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr,
                           [](void*) -> void* {
                             BlockSignals({SIGTERM});
                             return nullptr;
                           },
                           nullptr),
            0);
  ASSERT_EQ(pthread_join(t, nullptr), 0);
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  EXPECT_EQ(sigismember(&now, SIGTERM), sigismember(&mine, SIGTERM));
}

TEST(ThreadTest, NameIsPerThread) {
  char main_name[16] = {};
  ASSERT_EQ(prctl(PR_GET_NAME, main_name), 0);
  static char thread_name[16];
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr,
                           [](void*) -> void* {
                             prctl(PR_SET_NAME, "sbx-worker");
                             prctl(PR_GET_NAME, thread_name);
                             return nullptr;
                           },
                           nullptr),
            0);
  ASSERT_EQ(pthread_join(t, nullptr), 0);
  EXPECT_STREQ(thread_name, "sbx-worker");
  char now[16] = {};
  ASSERT_EQ(prctl(PR_GET_NAME, now), 0);
  EXPECT_STREQ(now, main_name);
}

TEST(ThreadTest, ForkFromThreadMakesSingleThreadedChild) {
  static int status = -1;
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr,
                           [](void*) -> void* {
                             pid_t pid = fork();
                             if (pid == 0) {
                               // The child's only thread is its leader.
                               _exit(syscall(SYS_gettid) == getpid() ? 0 : 1);
                             }
                             waitpid(pid, &status, 0);
                             return nullptr;
                           },
                           nullptr),
            0);
  ASSERT_EQ(pthread_join(t, nullptr), 0);
  EXPECT_TRUE(ExitedWith(status, 0));
}

TEST(ThreadTest, ExecFromNonLeaderThreadKeepsPid) {
  Pipe out;
  pid_t pid = ForkAndRun([&] {
    static Pipe* g_out = &out;
    // Another thread that must disappear at exec.
    static Pipe never;
    static int fd = never.r();
    pthread_t blocker, t;
    ASSERT_EQ(pthread_create(&blocker, nullptr, BlockForever, &fd), 0);
    ASSERT_EQ(pthread_create(&t, nullptr,
                             [](void*) -> void* {
                               dup2(g_out->w(), 1);
                               execl(kExecHelper, kExecHelper, "ids", nullptr);
                               _exit(127);
                             },
                             nullptr),
              0);
    BlockForever(&fd);
  });
  ASSERT_GT(pid, 0);
  out.CloseWrite();
  std::string got = out.ReadToEof();
  const std::string want_prefix = "pid=" + std::to_string(pid) + " ppid=" +
                                  std::to_string(getpid()) + " tid=" + std::to_string(pid) + " ";
  EXPECT_EQ(got.substr(0, want_prefix.size()), want_prefix) << got;
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
}

}  // namespace
}  // namespace sbx::testing
