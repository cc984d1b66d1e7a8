// Pipe readiness, wait-queue notifications, capacity changes and PIPE_BUF atomicity between
// threads; Waiter/WaitQueue/KickWaiter (fs/waiter.h).
#include "fs/pipe/pipe.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "fs/blocking.h"
#include "fs/waiter.h"
#include "gtest/gtest.h"

namespace sbx::fs {
namespace {

std::span<const std::byte> B(std::string_view s) { return std::as_bytes(std::span(s)); }

TEST(Waiter, NotifyLatchesAndFiltersByMask) {
  WaitQueue q;
  Waiter w(nullptr);
  {
    ScopedWait reg(&q, &w, kPollIn);
    q.Notify(kPollOut);  // not asked for
    EXPECT_EQ(w.Wait(absl::Milliseconds(1)), 0u);
    q.Notify(kPollIn | kPollOut);  // before the wait: latched
    EXPECT_EQ(w.Wait(absl::Seconds(10)), kPollIn);
  }
  EXPECT_TRUE(q.empty());
  q.Notify(kPollIn);  // unregistered: not delivered
  EXPECT_EQ(w.Take(), 0u);
}

TEST(Waiter, KickWakesTheOwnersWaiter) {
  struct Owner : Interruptible {
    bool Interrupted() const override { return false; }
  } owner;
  std::atomic<bool> woke{false};
  std::thread t([&] {
    Waiter w(&owner);
    w.Wait(absl::Seconds(30));
    woke = true;
  });
  // Kicks until the waiter has registered and woken (a kick before it exists is a no-op).
  while (!woke) {
    KickWaiter(&owner);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  t.join();
}

TEST(PipeReadiness, EndsAndNotifications) {
  auto [r, w] = pipe::NewPipe(0);
  EXPECT_EQ(r->Readiness(kPollIn | kPollOut), 0u);
  EXPECT_EQ(w->Readiness(kPollOut), kPollOut | kPollWrNorm);
  ASSERT_NE(r->readiness_queue(), nullptr);
  Waiter waiter(nullptr);
  ScopedWait reg(r->readiness_queue(), &waiter, kPollIn | kPollHup | kPollErr);
  ASSERT_TRUE(w->Write(B("x")).ok());
  EXPECT_EQ(waiter.Take(), kPollIn);
  EXPECT_EQ(r->Readiness(kPollIn), kPollIn | kPollRdNorm);
  w.reset();
  EXPECT_EQ(waiter.Take() & kPollHup, kPollHup);
  EXPECT_EQ(r->Readiness(kPollIn), kPollIn | kPollRdNorm | kPollHup);
  auto [r2, w2] = pipe::NewPipe(0);
  r2.reset();
  EXPECT_EQ(w2->Readiness(kPollOut), kPollOut | kPollWrNorm | kPollErr);
}

TEST(PipeCapacity, RoundingLimitsAndBusy) {
  pipe::Pipe p(1);
  EXPECT_EQ(p.Capacity(), pipe::kDefaultCapacity);
  EXPECT_EQ(p.SetCapacity(5000, false).value(), 8192u);
  EXPECT_EQ(p.SetCapacity(0, false).value(), 4096u);
  EXPECT_EQ(p.SetCapacity(uint64_t{1} << 31, false).error(), Errno::kEPERM);
  EXPECT_EQ(p.SetCapacity((uint64_t{1} << 31) + 1, true).error(), Errno::kEINVAL);
  p.AddEnd(true);
  p.AddEnd(false);
  std::vector<std::byte> big(10000);
  EXPECT_EQ(p.Write(big, /*nonblock=*/true).value(), 4096u);
  EXPECT_EQ(p.SetCapacity(65536, false).value(), 65536u);
  EXPECT_EQ(p.Write(big, true).value(), 10000u);
  EXPECT_EQ(p.SetCapacity(8192, false).error(), Errno::kEBUSY);
  std::vector<std::byte> out(20000);
  EXPECT_EQ(p.Read(out, true).value(), 14096u);
  EXPECT_EQ(p.SetCapacity(8192, false).value(), 8192u);
  p.DropEnd(true);
  p.DropEnd(false);
}

TEST(PipeAtomicity, SmallWritesNeverInterleave) {
  auto [r, w] = pipe::NewPipe(0);
  constexpr int kWriters = 3, kRecords = 200;
  std::vector<std::thread> writers;
  for (int k = 0; k < kWriters; ++k) {
    writers.emplace_back([w = w, k] {
      std::vector<std::byte> rec(pipe::kPipeBuf, static_cast<std::byte>('a' + k));
      for (int i = 0; i < kRecords; ++i) ASSERT_EQ(w->Write(rec).value(), rec.size());
    });
  }
  w.reset();
  std::vector<std::byte> all;
  std::vector<std::byte> buf(7000);  // not a multiple of the record size
  for (;;) {
    size_t n = r->Read(buf).value();
    if (n == 0) break;
    all.insert(all.end(), buf.begin(), buf.begin() + static_cast<long>(n));
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(all.size(), size_t{kWriters} * kRecords * pipe::kPipeBuf);
  for (size_t off = 0; off < all.size(); off += pipe::kPipeBuf) {
    for (size_t i = 1; i < pipe::kPipeBuf; ++i) {
      ASSERT_EQ(all[off + i], all[off]) << "record at " << off << " is mixed";
    }
  }
}

}  // namespace
}  // namespace sbx::fs
