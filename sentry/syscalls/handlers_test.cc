// The identity/time/sched/thread/signal handlers and the dispatcher, run against a real Task
// whose memory is a MemoryManager over a fake address space (no guest process). Guest-visible
// behaviour is also covered by the compat suite in tests/syscalls; these pin the validation
// order and the strace/ENOSYS paths of the dispatcher.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "sentry/abi/misc.h"
#include "sentry/mm/mm_test_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {
namespace {

using kernel::SyscallArgs;
using usermem::UserAddr;

class HandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(pipe2(strace_pipe_, O_NONBLOCK | O_CLOEXEC), 0);
    mf_ = std::move(mm::MemoryFile::Create(1ull << 28)).value();
    auto pt = std::make_shared<mm::testing::PageTable>();
    auto mmgr = std::make_shared<mm::MemoryManager>(
        *mf_, std::make_unique<mm::testing::FakeAddressSpace>(pt), mm::testing::kMinAddr,
        mm::testing::kMaxAddr);
    kernel::Kernel::Options o;
    o.dispatch = &Dispatch;
    o.strace = true;
    o.strace_fd = strace_pipe_[1];
    k_ = std::make_unique<kernel::Kernel>(o);
    tg_ = std::make_shared<kernel::ThreadGroup>(*k_, 1);
    t_ = std::make_unique<kernel::Task>(*k_, tg_, 1, mmgr, std::make_shared<fs::FDTable>(),
                                        nullptr, kernel::Credentials{});
    mm::MMapOpts m;
    m.length = 4 * usermem::kPageSize;
    m.prot = 3;           // PROT_READ|PROT_WRITE
    m.flags = 0x2 | 0x20;  // MAP_PRIVATE|MAP_ANONYMOUS
    buf_ = mmgr->MMap(m).value().value();
  }
  void TearDown() override {
    close(strace_pipe_[0]);
    close(strace_pipe_[1]);
  }

  SyscallArgs A(uint64_t nr, std::initializer_list<uint64_t> v) {
    SyscallArgs a;
    a.nr = nr;
    int i = 0;
    for (uint64_t x : v) a.a[i++] = x;
    return a;
  }
  // The errno of a failed call, or 0 on success.
  static int Err(const kernel::SyscallResult& r) {
    return r.ok() ? 0 : static_cast<int>(r.error());
  }
  template <typename T>
  T Get(uint64_t addr) {
    return usermem::CopyIn(t_->mem(), usermem::UserPtr<T>(UserAddr(addr))).value();
  }
  template <typename T>
  void Put(uint64_t addr, const T& v) {
    ASSERT_TRUE(usermem::CopyOut(t_->mem(), usermem::UserPtr<T>(UserAddr(addr)), v).ok());
  }
  std::string StraceOutput() {
    char b[4096];
    ssize_t n = read(strace_pipe_[0], b, sizeof(b));
    return n > 0 ? std::string(b, n) : "";
  }

  int strace_pipe_[2] = {-1, -1};
  std::unique_ptr<mm::MemoryFile> mf_;
  std::unique_ptr<kernel::Kernel> k_;
  std::shared_ptr<kernel::ThreadGroup> tg_;
  std::unique_ptr<kernel::Task> t_;
  uint64_t buf_ = 0;
  static constexpr uint64_t kBad = 0x10;  // below the MM's minimum address: always EFAULT
};

TEST_F(HandlersTest, UnameReportsSentryIdentity) {
  ASSERT_TRUE(SysUname(*t_, A(63, {buf_})).ok());
  auto u = Get<abi::NewUtsname>(buf_);
  EXPECT_STREQ(u.sysname, "Linux");
  EXPECT_STREQ(u.nodename, k_->identity().nodename.c_str());
  EXPECT_STREQ(u.machine, "x86_64");
  EXPECT_EQ(Err(SysUname(*t_, A(63, {kBad}))), EFAULT);
}

TEST_F(HandlersTest, Getrandom) {
  EXPECT_EQ(Err(SysGetrandom(*t_, A(318, {buf_, 16, 0x8}))), EINVAL);
  EXPECT_EQ(Err(SysGetrandom(*t_, A(318, {buf_, 16, 0x2 | 0x4}))), EINVAL);
  EXPECT_EQ(SysGetrandom(*t_, A(318, {buf_, 0, 0})).value(), 0u);
  EXPECT_EQ(Err(SysGetrandom(*t_, A(318, {kBad, 16, 0}))), EFAULT);
  EXPECT_EQ(SysGetrandom(*t_, A(318, {buf_, 64, 0x1})).value(), 64u);
  uint64_t a = Get<uint64_t>(buf_), b = Get<uint64_t>(buf_ + 8);
  EXPECT_FALSE(a == 0 && b == 0);
  // A buffer running into unmapped memory returns the bytes that fit.
  uint64_t end = buf_ + 4 * usermem::kPageSize;
  EXPECT_EQ(SysGetrandom(*t_, A(318, {end - 10, 100, 0})).value(), 10u);
}

TEST_F(HandlersTest, Rlimits) {
  tg_->SetRLimit(abi::kRlimitNofile, {1024, 4096});
  Put(buf_, abi::Rlimit64{10, 5});
  EXPECT_EQ(Err(SysSetrlimit(*t_, A(160, {abi::kRlimitNofile, buf_}))), EINVAL);
  Put(buf_, abi::Rlimit64{10, abi::kNrOpen + 1});
  EXPECT_EQ(Err(SysSetrlimit(*t_, A(160, {abi::kRlimitNofile, buf_}))), EPERM);
  EXPECT_EQ(Err(SysGetrlimit(*t_, A(97, {16, buf_}))), EINVAL);
  Put(buf_, abi::Rlimit64{100, 200});
  EXPECT_EQ(Err(SysPrlimit64(*t_, A(302, {999, abi::kRlimitNofile, buf_, 0}))), ESRCH);
  ASSERT_TRUE(SysPrlimit64(*t_, A(302, {0, abi::kRlimitNofile, buf_, buf_ + 64})).ok());
  auto old = Get<abi::Rlimit64>(buf_ + 64);
  EXPECT_EQ(old.rlim_cur, 1024u);
  EXPECT_EQ(old.rlim_max, 4096u);
  ASSERT_TRUE(SysGetrlimit(*t_, A(97, {abi::kRlimitNofile, buf_ + 64})).ok());
  EXPECT_EQ(Get<abi::Rlimit64>(buf_ + 64).rlim_max, 200u);
}

TEST_F(HandlersTest, IdsAndGroups) {
  EXPECT_EQ(SysGetpid(*t_, A(39, {})).value(), 1u);
  EXPECT_EQ(SysGettid(*t_, A(186, {})).value(), 1u);
  t_->mutable_creds().groups = {5, 6, 7};
  EXPECT_EQ(SysGetgroups(*t_, A(115, {0, 0})).value(), 3u);
  EXPECT_EQ(Err(SysGetgroups(*t_, A(115, {2, buf_}))), EINVAL);
  EXPECT_EQ(Err(SysGetgroups(*t_, A(115, {static_cast<uint64_t>(-1), buf_}))), EINVAL);
  EXPECT_EQ(SysGetgroups(*t_, A(115, {3, buf_})).value(), 3u);
  EXPECT_EQ(Get<uint32_t>(buf_ + 8), 7u);
  EXPECT_EQ(Err(SysGetpgid(*t_, A(121, {42}))), ESRCH);
}

TEST_F(HandlersTest, Clocks) {
  ASSERT_TRUE(SysClockGettime(*t_, A(228, {1, buf_})).ok());
  auto mono = Get<abi::Timespec>(buf_);
  EXPECT_GE(mono.tv_sec, 1);  // starts at kGuestMonotonicStartNs at sentry boot
  EXPECT_LT(mono.tv_sec, 1000);
  EXPECT_EQ(Err(SysClockGettime(*t_, A(228, {10, buf_}))), EINVAL);
  EXPECT_EQ(Err(SysClockGettime(*t_, A(228, {1, kBad}))), EFAULT);
  // MAKE_THREAD_CPUCLOCK(0, CPUCLOCK_SCHED) is the caller's thread clock; other tids fail.
  EXPECT_TRUE(SysClockGettime(*t_, A(228, {static_cast<uint64_t>(-2), buf_})).ok());
  int64_t other = (~int64_t{77} << 3) | 6;
  EXPECT_EQ(Err(SysClockGettime(*t_, A(228, {static_cast<uint64_t>(other), buf_}))), EINVAL);
  EXPECT_TRUE(SysClockGetres(*t_, A(229, {0, 0})).ok());
  uint64_t now = SysTime(*t_, A(201, {buf_})).value();
  EXPECT_EQ(Get<int64_t>(buf_), static_cast<int64_t>(now));
}

TEST_F(HandlersTest, Sleeps) {
  Put(buf_, abi::Timespec{0, abi::kNsecPerSec});
  EXPECT_EQ(Err(SysNanosleep(*t_, A(35, {buf_, 0}))), EINVAL);
  Put(buf_, abi::Timespec{-1, 0});
  EXPECT_EQ(Err(SysNanosleep(*t_, A(35, {buf_, 0}))), EINVAL);
  EXPECT_EQ(Err(SysClockNanosleep(*t_, A(230, {3, 0, buf_, 0}))), EINVAL);
  EXPECT_EQ(Err(SysClockNanosleep(*t_, A(230, {4, 0, buf_, 0}))), EOPNOTSUPP);
  Put(buf_, abi::Timespec{0, 20'000'000});
  int64_t start = kernel::HostClockNs(CLOCK_MONOTONIC);
  ASSERT_TRUE(SysNanosleep(*t_, A(35, {buf_, 0})).ok());
  EXPECT_GE(kernel::HostClockNs(CLOCK_MONOTONIC) - start, 20'000'000);
  // An absolute deadline in the past returns at once.
  Put(buf_, abi::Timespec{0, 5});
  EXPECT_TRUE(SysClockNanosleep(*t_, A(230, {1, 1, buf_, 0})).ok());
}

TEST_F(HandlersTest, Futex) {
  Put<uint32_t>(buf_, 5);
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {buf_, 128, 4, 0, 0, 0}))), EAGAIN);
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {buf_ + 1, 128, 5, 0, 0, 0}))), EINVAL);
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {kBad, 128, 5, 0, 0, 0}))), EFAULT);
  EXPECT_EQ(SysFutex(*t_, A(202, {buf_, 129, 1, 0, 0, 0})).value(), 0u);
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {buf_, 129 | 256, 1, 0, 0, 0}))), ENOSYS);
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {buf_, 128 | 9, 5, 0, 0, 0}))), EINVAL);  // bitset 0
  Put(buf_ + 64, abi::Timespec{0, 10'000'000});
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {buf_, 128, 5, buf_ + 64, 0, 0}))), ETIMEDOUT);
  Put(buf_ + 64, abi::Timespec{0, -1});
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {buf_, 128, 5, buf_ + 64, 0, 0}))), EINVAL);
  // WAKE_OP with uaddr2 = NULL faults; an unknown op (7) is ENOSYS.
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {buf_, 128 | 5, 1, 0, 0, 0}))), EFAULT);
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {buf_, 128 | 5, 1, 0, buf_ + 4, 7u << 28}))), ENOSYS);
  EXPECT_EQ(Err(SysFutex(*t_, A(202, {buf_, 128 | 11, 1, 0, 0, 0}))), ENOSYS);  // WAIT_REQUEUE_PI
}

TEST_F(HandlersTest, Signals) {
  kernel::SigAction act{0x1234, 0x04000000 | 0x400 /*SA_UNSUPPORTED*/, 0x5678, ~0ull};
  Put(buf_, act);
  EXPECT_EQ(Err(SysRtSigaction(*t_, A(13, {10, buf_, 0, 4}))), EINVAL);
  EXPECT_EQ(Err(SysRtSigaction(*t_, A(13, {9, buf_, 0, 8}))), EINVAL);
  EXPECT_EQ(Err(SysRtSigaction(*t_, A(13, {65, 0, buf_ + 64, 8}))), EINVAL);
  EXPECT_TRUE(SysRtSigaction(*t_, A(13, {9, 0, buf_ + 64, 8})).ok());
  ASSERT_TRUE(SysRtSigaction(*t_, A(13, {10, buf_, 0, 8})).ok());
  ASSERT_TRUE(SysRtSigaction(*t_, A(13, {10, 0, buf_ + 64, 8})).ok());
  auto got = Get<kernel::SigAction>(buf_ + 64);
  EXPECT_EQ(got.handler, 0x1234u);
  EXPECT_EQ(got.flags, 0x04000000u) << "unknown flag bits are cleared";
  EXPECT_EQ(got.mask, ~((1ull << 8) | (1ull << 18)));

  Put<uint64_t>(buf_, ~0ull);
  EXPECT_EQ(Err(SysRtSigprocmask(*t_, A(14, {7, buf_, 0, 8}))), EINVAL);
  EXPECT_EQ(Err(SysRtSigprocmask(*t_, A(14, {0, buf_, 0, 4}))), EINVAL);
  ASSERT_TRUE(SysRtSigprocmask(*t_, A(14, {0, buf_, buf_ + 8, 8})).ok());
  EXPECT_EQ(Get<uint64_t>(buf_ + 8), 0u);
  EXPECT_EQ(t_->signal_mask(), ~((1ull << 8) | (1ull << 18)));

  abi::StackT ss{buf_, 0, 0, 100};
  Put(buf_ + 128, ss);
  EXPECT_EQ(Err(SysSigaltstack(*t_, A(131, {buf_ + 128, 0}))), ENOMEM);
  ss.ss_flags = 7;
  Put(buf_ + 128, ss);
  EXPECT_EQ(Err(SysSigaltstack(*t_, A(131, {buf_ + 128, 0}))), EINVAL);
  ss = {buf_, 0, 0, 8192};
  Put(buf_ + 128, ss);
  ASSERT_TRUE(SysSigaltstack(*t_, A(131, {buf_ + 128, 0})).ok());
  ASSERT_TRUE(SysSigaltstack(*t_, A(131, {0, buf_ + 192})).ok());
  auto old = Get<abi::StackT>(buf_ + 192);
  EXPECT_EQ(old.ss_sp, buf_);
  EXPECT_EQ(old.ss_size, 8192u);
  EXPECT_EQ(old.ss_flags, 0);
}

TEST_F(HandlersTest, ArchPrctlAndPrctl) {
  EXPECT_EQ(Err(SysArchPrctl(*t_, A(158, {0x1002, 1ull << 47}))), EPERM);
  ASSERT_TRUE(SysArchPrctl(*t_, A(158, {0x1002, 0x7000})).ok());
  ASSERT_TRUE(SysArchPrctl(*t_, A(158, {0x1003, buf_})).ok());
  EXPECT_EQ(Get<uint64_t>(buf_), 0x7000u);
  EXPECT_EQ(SysArchPrctl(*t_, A(158, {0x1011, 0})).value(), 1u);
  EXPECT_EQ(Err(SysArchPrctl(*t_, A(158, {0x9999, 0}))), EINVAL);

  ASSERT_TRUE(usermem::CopyOutFull(t_->mem(), UserAddr(buf_),
                                   std::as_bytes(std::span("a-very-long-thread-name", 24)))
                  .ok());
  ASSERT_TRUE(SysPrctl(*t_, A(157, {15, buf_})).ok());
  EXPECT_EQ(t_->comm, "a-very-long-thr");
  ASSERT_TRUE(SysPrctl(*t_, A(157, {16, buf_ + 64})).ok());
  char name[16];
  ASSERT_TRUE(usermem::CopyInFull(t_->mem(), UserAddr(buf_ + 64),
                                  std::as_writable_bytes(std::span(name))).ok());
  EXPECT_STREQ(name, "a-very-long-thr");
  EXPECT_EQ(Err(SysPrctl(*t_, A(157, {38, 1, 1}))), EINVAL);
  EXPECT_TRUE(SysPrctl(*t_, A(157, {38, 1})).ok());
  EXPECT_EQ(SysPrctl(*t_, A(157, {39})).value(), 1u);
  EXPECT_EQ(Err(SysPrctl(*t_, A(157, {4, 2}))), EINVAL);
  EXPECT_EQ(Err(SysPrctl(*t_, A(157, {12345}))), EINVAL);
}

TEST_F(HandlersTest, Affinity) {
  EXPECT_EQ(Err(SysSchedGetaffinity(*t_, A(204, {0, 4, buf_}))), EINVAL);
  auto n = SysSchedGetaffinity(*t_, A(204, {0, 128, buf_}));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n % 8, 0u);
  EXPECT_NE(Get<uint64_t>(buf_), 0u);
  EXPECT_EQ(Err(SysSchedGetaffinity(*t_, A(204, {4242, 128, buf_}))), ESRCH);
  Put<uint64_t>(buf_, 0);
  EXPECT_EQ(Err(SysSchedSetaffinity(*t_, A(203, {0, 8, buf_}))), EINVAL);
}

TEST_F(HandlersTest, DispatchStraceAndUnimplemented) {
  ASSERT_TRUE(Dispatch(*t_, A(39, {})).ok());
  EXPECT_EQ(StraceOutput(), "[pid 1] getpid() = 1\n");
  auto r = Dispatch(*t_, A(41, {2, 1, 0}));
  EXPECT_EQ(Err(r), ENOSYS);
  EXPECT_EQ(StraceOutput(), "[pid 1] socket(2, 1, 0) = -1 ENOSYS (Function not implemented)\n");
  EXPECT_EQ(Err(Dispatch(*t_, A(246, {}))), EPERM);  // kexec_load
  StraceOutput();
  EXPECT_EQ(Err(Dispatch(*t_, A(400, {}))), ENOSYS);   // a gap in the table
  EXPECT_EQ(Err(Dispatch(*t_, A(~0ull, {}))), ENOSYS);  // far out of range
  StraceOutput();
  ASSERT_TRUE(Dispatch(*t_, A(231, {3})).ok());
  EXPECT_EQ(StraceOutput(), "[pid 1] exit_group(3) = ?\n");
  EXPECT_TRUE(t_->exit_requested() || tg_->exiting());
  EXPECT_EQ(tg_->exit_status_word(), 3 << 8);
}

}  // namespace
}  // namespace sbx::syscalls
