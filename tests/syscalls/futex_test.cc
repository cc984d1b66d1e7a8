// futex(2) compatibility tests: EAGAIN on a value mismatch, relative and absolute timeouts
// (ETIMEDOUT), private wake between threads, shared wake across fork on MAP_SHARED anonymous
// memory and on a file mapped at different addresses, CMP_REQUEUE/REQUEUE, WAKE_OP (the
// arithmetic and the conditional second wake), WAIT_BITSET/WAKE_BITSET, EINTR, argument
// errors, robust mutexes whose owner thread or process died (EOWNERDEAD), a contended
// priority-inheritance mutex, and a 32-thread token ring.
//
// "The waiter is asleep" is established without sleeping: a waiter blocked in FUTEX_WAIT is
// requeued (FUTEX_CMP_REQUEUE with nr_wake 0) onto a second word, and the requeue count says
// when it has arrived; after that, every wake count is exact.
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/process_util.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

long Futex(void* uaddr, int op, uint32_t val, const struct timespec* ts = nullptr,
           void* uaddr2 = nullptr, uint32_t val3 = 0) {
  return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}
// FUTEX_CMP_REQUEUE passes nr_requeue in the timeout slot.
long CmpRequeue(void* from, int op, int nr_wake, int nr_requeue, void* to, uint32_t expected) {
  return syscall(SYS_futex, from, op, nr_wake, static_cast<long>(nr_requeue), to, expected);
}

double MonoNow() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Requeues waiters blocked on `from` (whose value is `value`) onto `to` until `n` have moved;
// from then on they are known to be asleep on `to`.
void MoveWaiters(uint32_t* from, uint32_t value, uint32_t* to, int n, bool shared = false) {
  const int op = shared ? FUTEX_CMP_REQUEUE : FUTEX_CMP_REQUEUE_PRIVATE;
  int moved = 0;
  while (moved < n) {
    long r = CmpRequeue(from, op, 0, INT_MAX, to, value);
    ASSERT_GE(r, 0) << strerror(errno);
    moved += static_cast<int>(r);
    if (moved < n) sched_yield();
  }
  ASSERT_EQ(moved, n);
}

// A thread doing one FUTEX_WAIT(word, value) with `op`; result() is its return value or -errno.
class Waiter {
 public:
  Waiter(uint32_t* word, uint32_t value, int op = FUTEX_WAIT_PRIVATE,
         uint32_t bitset = FUTEX_BITSET_MATCH_ANY)
      : word_(word), value_(value), op_(op), bitset_(bitset) {
    EXPECT_EQ(pthread_create(&thread_, nullptr, Run, this), 0);
  }
  long Join() {
    pthread_join(thread_, nullptr);
    return result_;
  }

 private:
  static void* Run(void* arg) {
    auto* w = static_cast<Waiter*>(arg);
    long r = Futex(w->word_, w->op_, w->value_, nullptr, nullptr, w->bitset_);
    w->result_ = r == 0 ? 0 : -errno;
    return nullptr;
  }
  uint32_t* word_;
  uint32_t value_;
  int op_;
  uint32_t bitset_;
  pthread_t thread_;
  long result_ = 1;
};

TEST(FutexTest, WaitWithWrongValueIsEagain) {
  uint32_t word = 5;
  EXPECT_TRUE(FailsWith(Futex(&word, FUTEX_WAIT_PRIVATE, 6), EAGAIN));
  EXPECT_TRUE(FailsWith(Futex(&word, FUTEX_WAIT, 6), EAGAIN));
}

TEST(FutexTest, WakeWithoutWaitersReturnsZero) {
  uint32_t word = 0;
  EXPECT_EQ(Futex(&word, FUTEX_WAKE_PRIVATE, 1), 0);
  EXPECT_EQ(Futex(&word, FUTEX_WAKE, INT_MAX), 0);
}

TEST(FutexTest, RelativeTimeout) {
  uint32_t word = 0;
  struct timespec ts = {0, 50 * 1000 * 1000};
  double start = MonoNow();
  EXPECT_TRUE(FailsWith(Futex(&word, FUTEX_WAIT_PRIVATE, 0, &ts), ETIMEDOUT));
  EXPECT_GE(MonoNow() - start, 0.049);
}

TEST(FutexTest, AbsoluteBitsetTimeoutMonotonicAndRealtime) {
  uint32_t word = 0;
  for (clockid_t clock : {CLOCK_MONOTONIC, CLOCK_REALTIME}) {
    struct timespec deadline;
    clock_gettime(clock, &deadline);
    deadline.tv_nsec += 30 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000;
    }
    int op = FUTEX_WAIT_BITSET_PRIVATE | (clock == CLOCK_REALTIME ? FUTEX_CLOCK_REALTIME : 0);
    EXPECT_TRUE(FailsWith(Futex(&word, op, 0, &deadline, nullptr, FUTEX_BITSET_MATCH_ANY),
                          ETIMEDOUT));
    struct timespec now;
    clock_gettime(clock, &now);
    EXPECT_TRUE(now.tv_sec > deadline.tv_sec ||
                (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
        << "returned before the deadline on clock " << clock;
  }
}

TEST(FutexTest, BadArguments) {
  uint32_t words[2] = {0, 0};
  char* unaligned = reinterpret_cast<char*>(words) + 1;
  EXPECT_TRUE(FailsWith(Futex(unaligned, FUTEX_WAIT_PRIVATE, 0), EINVAL));
  struct timespec neg = {-1, 0};
  EXPECT_TRUE(FailsWith(Futex(words, FUTEX_WAIT_PRIVATE, 0, &neg), EINVAL));
  struct timespec big_ns = {0, 1000000000};
  EXPECT_TRUE(FailsWith(Futex(words, FUTEX_WAIT_PRIVATE, 0, &big_ns), EINVAL));
  EXPECT_TRUE(FailsWith(Futex(words, FUTEX_WAIT_BITSET_PRIVATE, 0, nullptr, nullptr, 0), EINVAL))
      << "bitset 0";
  EXPECT_TRUE(FailsWith(Futex(words, FUTEX_WAKE_BITSET_PRIVATE, 1, nullptr, nullptr, 0), EINVAL));
  EXPECT_TRUE(FailsWith(Futex(words, 99, 0), ENOSYS));
  // An unmapped page: the value cannot be read.
  void* page = mmap(nullptr, kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  ASSERT_EQ(munmap(page, kPage), 0);
  EXPECT_TRUE(FailsWith(Futex(page, FUTEX_WAIT_PRIVATE, 0), EFAULT));
}

TEST(FutexTest, PrivateWakeBetweenThreads) {
  uint32_t word = 0, parked = 0;
  Waiter w(&word, 0);
  MoveWaiters(&word, 0, &parked, 1);
  EXPECT_EQ(Futex(&word, FUTEX_WAKE_PRIVATE, 1), 0) << "nobody waits on the old word now";
  EXPECT_EQ(Futex(&parked, FUTEX_WAKE_PRIVATE, INT_MAX), 1);
  EXPECT_EQ(w.Join(), 0);
}

TEST(FutexTest, WaitersWokenUpToCount) {
  uint32_t word = 0, parked = 0;
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (int i = 0; i < 5; ++i) waiters.push_back(std::make_unique<Waiter>(&word, 0));
  MoveWaiters(&word, 0, &parked, 5);
  EXPECT_EQ(Futex(&parked, FUTEX_WAKE_PRIVATE, 2), 2);
  EXPECT_EQ(Futex(&parked, FUTEX_WAKE_PRIVATE, INT_MAX), 3);
  for (auto& w : waiters) EXPECT_EQ(w->Join(), 0);
}

TEST(FutexTest, SharedWakeAcrossForkOnSharedMemory) {
  void* mem = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* word = static_cast<uint32_t*>(mem);
  auto* parked = word + 16;
  *word = 0;
  pid_t pid = ForkAndRun([&] { EXPECT_EQ(Futex(word, FUTEX_WAIT, 0), 0); });
  MoveWaiters(word, 0, parked, 1, /*shared=*/true);
  EXPECT_EQ(Futex(parked, FUTEX_WAKE_PRIVATE, 1), 0) << "a private wake is keyed per process";
  EXPECT_EQ(Futex(parked, FUTEX_WAKE, 1), 1);
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
  munmap(mem, kPage);
}

TEST(FutexTest, SharedWakeOnFileMappedAtDifferentAddresses) {
  TempDir dir;
  std::string path = dir.WriteFile("futex", std::string(kPage, '\0'));
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* mem = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(mem, MAP_FAILED);
  Pipe ready;
  pid_t pid = ForkAndRun([&] {
    // A second mapping of the same page at another address: the key is the file offset.
    void* again = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(again, MAP_FAILED);
    ASSERT_NE(again, mem);
    ready.Notify();
    EXPECT_EQ(Futex(static_cast<uint32_t*>(again) + 4, FUTEX_WAIT, 0), 0);
  });
  ready.Await();
  auto* word = static_cast<uint32_t*>(mem) + 4;
  MoveWaiters(word, 0, static_cast<uint32_t*>(mem) + 8, 1, /*shared=*/true);
  EXPECT_EQ(Futex(static_cast<uint32_t*>(mem) + 8, FUTEX_WAKE, 1), 1);
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
  munmap(mem, kPage);
  close(fd);
}

TEST(FutexTest, CmpRequeueChecksValueAndCounts) {
  uint32_t a = 0, b = 0, c = 0;
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (int i = 0; i < 3; ++i) waiters.push_back(std::make_unique<Waiter>(&a, 0));
  MoveWaiters(&a, 0, &b, 3);
  EXPECT_TRUE(FailsWith(CmpRequeue(&b, FUTEX_CMP_REQUEUE_PRIVATE, 1, INT_MAX, &c, 1), EAGAIN))
      << "value mismatch";
  // Wake one, requeue one, leave one: the return value counts woken + requeued.
  EXPECT_EQ(CmpRequeue(&b, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &c, 0), 2);
  EXPECT_EQ(Futex(&c, FUTEX_WAKE_PRIVATE, INT_MAX), 1);
  // Plain FUTEX_REQUEUE (no value check) also returns woken + requeued.
  uint32_t d = 0;
  EXPECT_EQ(syscall(SYS_futex, &b, FUTEX_REQUEUE_PRIVATE, 0, 1L, &d, 0), 1);
  EXPECT_EQ(Futex(&d, FUTEX_WAKE_PRIVATE, INT_MAX), 1);
  for (auto& w : waiters) EXPECT_EQ(w->Join(), 0);
}

TEST(FutexTest, WakeOpArithmetic) {
  struct Case {
    int op;
    uint32_t before, arg, after;
  };
  const Case cases[] = {
      {FUTEX_OP_SET, 9, 7, 7},      {FUTEX_OP_ADD, 9, 7, 16},
      {FUTEX_OP_OR, 0x1, 0x10, 0x11}, {FUTEX_OP_ANDN, 0xff, 0x0f, 0xf0},
      {FUTEX_OP_XOR, 0xff, 0x0f, 0xf0},
  };
  for (const Case& c : cases) {
    uint32_t w1 = 0, w2 = c.before;
    EXPECT_EQ(Futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, reinterpret_cast<timespec*>(1), &w2,
                    FUTEX_OP(c.op, c.arg, FUTEX_OP_CMP_EQ, 0)),
              0);
    EXPECT_EQ(w2, c.after) << "op " << c.op;
  }
  uint32_t w1 = 0, w2 = 1;
  // FUTEX_OP_OPARG_SHIFT: the argument is 1 << arg.
  EXPECT_EQ(Futex(&w1, FUTEX_WAKE_OP_PRIVATE, 1, reinterpret_cast<timespec*>(1), &w2,
                  FUTEX_OP(FUTEX_OP_SET | FUTEX_OP_OPARG_SHIFT, 4, FUTEX_OP_CMP_EQ, 0)),
            0);
  EXPECT_EQ(w2, 16u);
}

TEST(FutexTest, WakeOpConditionalSecondWake) {
  uint32_t f1 = 0, f2 = 0, p1 = 0, p2 = 0;
  Waiter a(&f1, 0), b(&f2, 0);
  MoveWaiters(&f1, 0, &p1, 1);
  MoveWaiters(&f2, 0, &p2, 1);
  // p2 is 0 before the op: the comparison (oldval > 0) is false, so only p1's waiter wakes.
  p2 = 0;
  EXPECT_EQ(Futex(&p1, FUTEX_WAKE_OP_PRIVATE, 1, reinterpret_cast<timespec*>(1), &p2,
                  FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0)),
            1);
  EXPECT_EQ(p2, 1u);
  EXPECT_EQ(a.Join(), 0);
  // Now oldval is 1 > 0: the waiter on p2 wakes too (nothing left on p1).
  EXPECT_EQ(Futex(&p1, FUTEX_WAKE_OP_PRIVATE, 1, reinterpret_cast<timespec*>(1), &p2,
                  FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0)),
            1);
  EXPECT_EQ(p2, 2u);
  EXPECT_EQ(b.Join(), 0);
}

TEST(FutexTest, Bitsets) {
  uint32_t word = 0, parked = 0;
  Waiter w(&word, 0, FUTEX_WAIT_BITSET_PRIVATE, 0x1);
  MoveWaiters(&word, 0, &parked, 1);  // requeue keeps the waiter's bitset
  EXPECT_EQ(Futex(&parked, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, nullptr, nullptr, 0x2), 0);
  EXPECT_EQ(Futex(&parked, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, nullptr, nullptr, 0x3), 1);
  EXPECT_EQ(w.Join(), 0);
}

void Nop(int) {}

TEST(FutexTest, SignalInterruptsWaitWithEintr) {
  struct sigaction old = SetAction(SIGUSR1, Nop);  // no SA_RESTART
  uint32_t word = 0, parked = 0;
  static std::atomic<pid_t> tid{0};
  struct Ctx {
    uint32_t* word;
    long result;
  } ctx = {&word, 1};
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr,
                           [](void* arg) -> void* {
                             auto* c = static_cast<Ctx*>(arg);
                             tid = static_cast<pid_t>(syscall(SYS_gettid));
                             long r = Futex(c->word, FUTEX_WAIT_PRIVATE, 0);
                             c->result = r == 0 ? 0 : -errno;
                             return nullptr;
                           },
                           &ctx),
            0);
  MoveWaiters(&word, 0, &parked, 1);
  ASSERT_EQ(syscall(SYS_tgkill, getpid(), tid.load(), SIGUSR1), 0);
  pthread_join(t, nullptr);
  EXPECT_EQ(ctx.result, -EINTR);
  sigaction(SIGUSR1, &old, nullptr);
}

TEST(FutexTest, RobustListGetReturnsWhatWasSet) {
  struct robust_list_head* head = nullptr;
  size_t len = 0;
  ASSERT_EQ(syscall(SYS_get_robust_list, 0, &head, &len), 0);
  EXPECT_EQ(len, sizeof(struct robust_list_head));
  EXPECT_NE(head, nullptr) << "glibc registers one per thread";
  EXPECT_TRUE(FailsWith(syscall(SYS_set_robust_list, head, len + 1), EINVAL));
}

TEST(FutexTest, RobustMutexOwnerThreadDied) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_t m;
  ASSERT_EQ(pthread_mutex_init(&m, &attr), 0);
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr,
                           [](void* arg) -> void* {
                             pthread_mutex_lock(static_cast<pthread_mutex_t*>(arg));
                             return nullptr;  // exits holding the lock
                           },
                           &m),
            0);
  ASSERT_EQ(pthread_join(t, nullptr), 0);
  EXPECT_EQ(pthread_mutex_lock(&m), EOWNERDEAD);
  EXPECT_EQ(pthread_mutex_consistent(&m), 0);
  EXPECT_EQ(pthread_mutex_unlock(&m), 0);
  pthread_mutex_destroy(&m);
}

TEST(FutexTest, RobustSharedMutexOwnerProcessDied) {
  void* mem = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* m = static_cast<pthread_mutex_t*>(mem);
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ASSERT_EQ(pthread_mutex_init(m, &attr), 0);
  Pipe locked;
  pid_t pid = ForkAndRun([&] {
    ASSERT_EQ(pthread_mutex_lock(m), 0);
    locked.Notify();
    _exit(0);  // dies holding it: the kernel walks the robust list
  });
  locked.Await();
  EXPECT_TRUE(ExitedWith(WaitStatus(pid), 0));
  EXPECT_EQ(pthread_mutex_lock(m), EOWNERDEAD);
  EXPECT_EQ(pthread_mutex_consistent(m), 0);
  EXPECT_EQ(pthread_mutex_unlock(m), 0);
  munmap(mem, kPage);
}

TEST(FutexTest, PriorityInheritanceMutexUnderContention) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  ASSERT_EQ(pthread_mutexattr_setprotocol(&attr, PTHREAD_PRIO_INHERIT), 0);
  static pthread_mutex_t m;
  ASSERT_EQ(pthread_mutex_init(&m, &attr), 0);
  // Uncontended first (no syscall in glibc), then 4 threads contending (FUTEX_LOCK_PI).
  ASSERT_EQ(pthread_mutex_lock(&m), 0);
  ASSERT_EQ(pthread_mutex_unlock(&m), 0);
  static long counter = 0;
  counter = 0;
  std::vector<pthread_t> threads(4);
  for (auto& t : threads) {
    ASSERT_EQ(pthread_create(&t, nullptr,
                             [](void*) -> void* {
                               for (int i = 0; i < 2000; ++i) {
                                 pthread_mutex_lock(&m);
                                 long v = counter;
                                 if (i % 64 == 0) sched_yield();  // invite contention
                                 counter = v + 1;
                                 pthread_mutex_unlock(&m);
                               }
                               return nullptr;
                             },
                             nullptr),
              0);
  }
  for (auto& t : threads) pthread_join(t, nullptr);
  EXPECT_EQ(counter, 4 * 2000);
  pthread_mutex_destroy(&m);
}

// A token goes around a ring of 32 threads: thread i waits until slot[i] is 1, clears it, and
// hands the token to slot[i+1]. Every handoff is one FUTEX_WAKE of one sleeper.
TEST(FutexTest, ThirtyTwoThreadTokenRing) {
  constexpr int kThreads = 32, kRounds = 200;
  struct Ring {
    std::atomic<uint32_t> slot[kThreads];
    long count[kThreads];
    std::atomic<long> total{0};
  };
  static Ring ring;
  for (int i = 0; i < kThreads; ++i) {
    ring.slot[i] = 0;
    ring.count[i] = 0;
  }
  ring.total = 0;
  std::vector<pthread_t> threads(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_EQ(pthread_create(&threads[i], nullptr,
                             [](void* arg) -> void* {
                               const int me = static_cast<int>(reinterpret_cast<intptr_t>(arg));
                               const int next = (me + 1) % kThreads;
                               for (int r = 0; r < kRounds; ++r) {
                                 while (ring.slot[me].load() == 0) {
                                   Futex(&ring.slot[me], FUTEX_WAIT_PRIVATE, 0);
                                 }
                                 ring.slot[me] = 0;
                                 ++ring.count[me];
                                 ++ring.total;
                                 ring.slot[next] = 1;
                                 Futex(&ring.slot[next], FUTEX_WAKE_PRIVATE, 1);
                               }
                               return nullptr;
                             },
                             reinterpret_cast<void*>(static_cast<intptr_t>(i))),
              0);
  }
  ring.slot[0] = 1;
  Futex(&ring.slot[0], FUTEX_WAKE_PRIVATE, 1);
  for (auto& t : threads) pthread_join(t, nullptr);
  EXPECT_EQ(ring.total.load(), static_cast<long>(kThreads) * kRounds);
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(ring.count[i], kRounds) << "thread " << i;
}

}  // namespace
}  // namespace sbx::testing
