// FutexManager: wait/wake ordering, value check, bitsets, timeouts, interruption, requeue.
#include "sentry/kernel/futex.h"

#include <time.h>

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace sbx::kernel {
namespace {

using Key = FutexManager::Key;
constexpr uint32_t kAny = 0xffffffff;

class Flag : public fs::Interruptible {
 public:
  bool Interrupted() const override { return set.load(); }
  std::atomic<bool> set{false};
};

FutexManager::LoadFn Value(const std::atomic<uint32_t>& v) {
  return [&v]() -> Result<uint32_t> { return v.load(); };
}

FutexManager::Deadline In(int64_t ns) {
  return {CLOCK_MONOTONIC, HostClockNs(CLOCK_MONOTONIC) + ns};
}

// The value of a Result that must be ok.
template <typename T>
T V(Result<T> r) {
  EXPECT_TRUE(r.ok());
  return r.ok() ? r.value() : T{};
}

void WaitForWaiters(FutexManager& fm, Key k, int n) {
  for (int i = 0; i < 5000 && fm.WaitersForTesting(k) != n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(fm.WaitersForTesting(k), n);
}

TEST(Futex, ValueMismatchIsEagain) {
  FutexManager fm;
  std::atomic<uint32_t> v{1};
  auto r = fm.Wait({1, 0x1000}, 0, kAny, Value(v), std::nullopt, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kEAGAIN);
  EXPECT_EQ(fm.WaitersForTesting({1, 0x1000}), 0);
}

TEST(Futex, LoadFaultPropagates) {
  FutexManager fm;
  auto r = fm.Wait(
      {1, 0x1000}, 0, kAny, [] { return Result<uint32_t>(Errno::kEFAULT); }, std::nullopt, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kEFAULT);
}

TEST(Futex, ZeroBitsetIsEinval) {
  FutexManager fm;
  std::atomic<uint32_t> v{0};
  EXPECT_EQ(fm.Wait({1, 4}, 0, 0, Value(v), std::nullopt, nullptr).error(), Errno::kEINVAL);
  EXPECT_EQ(fm.Wake({1, 4}, 1, 0).error(), Errno::kEINVAL);
}

TEST(Futex, WakeWakesWaiterAndCounts) {
  FutexManager fm;
  Key k{1, 0x2000};
  std::atomic<uint32_t> v{0};
  std::atomic<int> done{0};
  std::thread th([&] {
    EXPECT_TRUE(fm.Wait(k, 0, kAny, Value(v), std::nullopt, nullptr).ok());
    done = 1;
  });
  WaitForWaiters(fm, k, 1);
  EXPECT_EQ(done.load(), 0);
  EXPECT_EQ(V(fm.Wake({2, 0x2000}, 1, kAny)), 0) << "other address space must not match";
  EXPECT_EQ(V(fm.Wake(k, 1, kAny)), 1);
  th.join();
  EXPECT_EQ(done.load(), 1);
  EXPECT_EQ(V(fm.Wake(k, 1, kAny)), 0);
}

TEST(Futex, WakeCountLimitsAndZeroWakesOne) {
  FutexManager fm;
  Key k{1, 0x3000};
  std::atomic<uint32_t> v{0};
  std::vector<std::thread> ths;
  for (int i = 0; i < 3; ++i) {
    ths.emplace_back(
        [&] { EXPECT_TRUE(fm.Wait(k, 0, kAny, Value(v), std::nullopt, nullptr).ok()); });
  }
  WaitForWaiters(fm, k, 3);
  EXPECT_EQ(V(fm.Wake(k, 0, kAny)), 1);  // Linux wakes one even for nr_wake == 0
  WaitForWaiters(fm, k, 2);
  EXPECT_EQ(V(fm.Wake(k, 100, kAny)), 2);
  for (auto& th : ths) th.join();
}

TEST(Futex, BitsetSelectsWaiters) {
  FutexManager fm;
  Key k{1, 0x4000};
  std::atomic<uint32_t> v{0};
  std::atomic<int> woke_a{0}, woke_b{0};
  std::thread a([&] {
    EXPECT_TRUE(fm.Wait(k, 0, 0x1, Value(v), std::nullopt, nullptr).ok());
    woke_a = 1;
  });
  std::thread b([&] {
    EXPECT_TRUE(fm.Wait(k, 0, 0x2, Value(v), std::nullopt, nullptr).ok());
    woke_b = 1;
  });
  WaitForWaiters(fm, k, 2);
  EXPECT_EQ(V(fm.Wake(k, 10, 0x2)), 1);
  b.join();
  EXPECT_EQ(woke_b.load(), 1);
  EXPECT_EQ(woke_a.load(), 0);
  EXPECT_EQ(V(fm.Wake(k, 10, 0x4)), 0);
  EXPECT_EQ(V(fm.Wake(k, 10, 0x1)), 1);
  a.join();
}

TEST(Futex, TimeoutExpires) {
  FutexManager fm;
  std::atomic<uint32_t> v{0};
  int64_t start = HostClockNs(CLOCK_MONOTONIC);
  auto r = fm.Wait({1, 0x5000}, 0, kAny, Value(v), In(50'000'000), nullptr);
  int64_t took = HostClockNs(CLOCK_MONOTONIC) - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kETIMEDOUT);
  EXPECT_GE(took, 50'000'000);
  EXPECT_LT(took, 2'000'000'000);
  EXPECT_EQ(fm.WaitersForTesting({1, 0x5000}), 0);
  // A deadline already in the past times out at once (after the value check).
  EXPECT_EQ(fm.Wait({1, 0x5000}, 0, kAny, Value(v), In(-1), nullptr).error(), Errno::kETIMEDOUT);
}

TEST(Futex, InterruptEndsWait) {
  FutexManager fm;
  Key k{1, 0x6000};
  std::atomic<uint32_t> v{0};
  Flag flag;
  std::thread th([&] {
    auto r = fm.Wait(k, 0, kAny, Value(v), std::nullopt, &flag);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Errno::kEINTR);
  });
  WaitForWaiters(fm, k, 1);
  flag.set = true;
  fm.Kick(&flag);
  th.join();
  EXPECT_EQ(fm.WaitersForTesting(k), 0);
}

TEST(Futex, RequeueMovesWaiters) {
  FutexManager fm;
  Key from{1, 0x7000}, to{1, 0x7004};
  std::atomic<uint32_t> v{0};
  std::vector<std::thread> ths;
  for (int i = 0; i < 3; ++i) {
    ths.emplace_back(
        [&] { EXPECT_TRUE(fm.Wait(from, 0, kAny, Value(v), std::nullopt, nullptr).ok()); });
  }
  WaitForWaiters(fm, from, 3);
  EXPECT_EQ(fm.Requeue(from, to, 1, 1, 5u, Value(v)).error(), Errno::kEAGAIN);
  EXPECT_EQ(fm.Requeue(from, to, -1, 1, std::nullopt, Value(v)).error(), Errno::kEINVAL);
  EXPECT_EQ(V(fm.Requeue(from, to, 1, 1, 0u, Value(v))), 2);
  WaitForWaiters(fm, from, 1);
  WaitForWaiters(fm, to, 1);
  EXPECT_EQ(V(fm.Wake(to, 1, kAny)), 1);
  EXPECT_EQ(V(fm.Wake(from, 1, kAny)), 1);
  for (auto& th : ths) th.join();
}

}  // namespace
}  // namespace sbx::kernel
