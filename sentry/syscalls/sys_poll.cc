// poll, ppoll, select, pselect6 (fs/select.c).
//
// Every polled file is asked for its readiness (FileDescription::Readiness, Linux's
// f_op->poll). The call's Waiter is registered on the wait queue of every file that has one
// (pipes, FIFOs), so a state change wakes it at once; files without a queue (host FDs) are
// re-checked every fs::kInterruptSlice, as is the task's Interruptible until every signal
// sender kicks waiters. Descriptors are resolved once at the start of the call (Linux
// re-resolves at each scan: a descriptor closed by another thread while we wait keeps being
// polled here).
//
// Interruption follows Linux: poll restarts through restart_syscall with its original
// deadline (ERESTART_RESTARTBLOCK); ppoll/select/pselect6 return ERESTARTNOHAND after
// writing the time left back to the caller's timeout (poll_select_finish), so a restart
// continues with what is left. The sigmask of ppoll/pselect6 is installed for the wait and
// restored on return, or after the handler when a signal interrupted the call
// (restore_saved_sigmask_unless).
#include <time.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <optional>
#include <type_traits>
#include <span>
#include <vector>

#include "fs/waiter.h"
#include "sentry/abi/misc.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls {
namespace {

using usermem::UserAddr;
using usermem::UserPtr;

// struct pollfd (include/uapi/asm-generic/poll.h).
struct PollFd {
  int32_t fd;
  int16_t events;
  int16_t revents;
};
static_assert(sizeof(PollFd) == 8 && offsetof(PollFd, revents) == 6);

// pselect6's sixth argument: { const sigset_t *ss; size_t ss_len; }.
struct SigsetArg {
  uint64_t ss;
  uint64_t ss_len;
};
static_assert(sizeof(SigsetArg) == 16);

// The select(2) sets in poll terms (fs/select.c).
constexpr uint32_t kPollInSet = fs::kPollRdNorm | fs::kPollRdBand | fs::kPollIn | fs::kPollHup |
                                fs::kPollErr;
constexpr uint32_t kPollOutSet = fs::kPollWrBand | fs::kPollWrNorm | fs::kPollOut |
                                 fs::kPollErr;
constexpr uint32_t kPollExSet = fs::kPollPri;

int64_t Now() { return kernel::HostClockNs(CLOCK_MONOTONIC); }

// An absolute host CLOCK_MONOTONIC deadline, or none (wait forever).
using Deadline = std::optional<int64_t>;

Deadline DeadlineAfter(int64_t rel_ns) {
  int64_t now = Now();
  return rel_ns > INT64_MAX - now ? INT64_MAX : now + rel_ns;
}

// A valid timespec in nanoseconds, saturating.
int64_t TimespecNs(const abi::Timespec& ts) {
  if (ts.tv_sec > (INT64_MAX - ts.tv_nsec) / abi::kNsecPerSec) return INT64_MAX;
  return ts.tv_sec * abi::kNsecPerSec + ts.tv_nsec;
}

// One polled description and the events it is asked for (POLLERR/POLLHUP included).
struct Polled {
  std::shared_ptr<fs::FileDescription> file;
  uint32_t mask = 0;
};

// do_poll()/do_select()'s loop: `scan` computes readiness and returns how many are ready.
// Returns that count once positive or once the deadline has passed (a zero timeout scans
// once), or ERESTARTNOHAND when the task is interrupted first.
Result<int> WaitForEvents(Task& t, std::span<const Polled> files, Deadline deadline,
                          const std::function<int()>& scan) {
  fs::Waiter w(&t);
  std::vector<std::unique_ptr<fs::ScopedWait>> regs;
  regs.reserve(files.size());
  for (const Polled& p : files) {
    if (p.file == nullptr) continue;
    if (fs::WaitQueue* q = p.file->readiness_queue()) {
      regs.push_back(std::make_unique<fs::ScopedWait>(q, &w, p.mask));
    }
  }
  for (;;) {
    w.Take();  // an event after this point is either seen by the scan or wakes the Wait
    int n = scan();
    if (n > 0) return n;
    int64_t now = Now();
    if (deadline && now >= *deadline) return 0;
    if (t.Interrupted()) return Errno::kERESTARTNOHAND;
    absl::Duration d = fs::kInterruptSlice;
    if (deadline) d = std::min(d, absl::Nanoseconds(*deadline - now));
    w.Wait(d);
  }
}

// The description `fd` refers to for polling (fdget(): O_PATH descriptors do not count).
std::shared_ptr<fs::FileDescription> PollFile(Task& t, int fd) {
  if (fd < 0) return nullptr;
  auto f = GetFileNoPath(t, fd);
  return f.ok() ? *f : nullptr;
}

// do_sys_poll(): poll over the guest's pollfd array; revents are written back even when
// the wait is interrupted, like Linux.
Result<int> DoPoll(Task& t, UserAddr ufds, uint64_t nfds, Deadline deadline) {
  if (nfds > t.thread_group().GetRLimit(abi::kRlimitNofile).cur) return Errno::kEINVAL;
  std::vector<PollFd> fds(nfds);
  auto bytes = std::as_writable_bytes(std::span(fds));
  if (nfds > 0) TRY(usermem::CopyInFull(t.mem(), ufds, bytes));
  std::vector<Polled> files(nfds);
  for (size_t i = 0; i < nfds; ++i) {
    files[i].file = PollFile(t, fds[i].fd);
    files[i].mask = static_cast<uint16_t>(fds[i].events) | fs::kPollErr | fs::kPollHup;
  }
  auto scan = [&] {
    int count = 0;
    for (size_t i = 0; i < nfds; ++i) {
      uint32_t rev = 0;
      if (fds[i].fd < 0) {
        rev = 0;  // negative fds are ignored
      } else if (files[i].file == nullptr) {
        rev = fs::kPollNval;
      } else {
        rev = files[i].file->Readiness(files[i].mask) & files[i].mask;
      }
      fds[i].revents = static_cast<int16_t>(rev);
      if (rev != 0) ++count;
    }
    return count;
  };
  Result<int> r = WaitForEvents(t, files, deadline, scan);
  if (nfds > 0) TRY(usermem::CopyOutFull(t.mem(), ufds, bytes));
  return r;
}

// poll_select_finish(): writes the time left to the caller's timeout (not for a zero
// timeout); if that fails, a restart becomes EINTR.
template <typename T>
Result<int> FinishTimeout(Task& t, UserAddr addr, Deadline deadline, bool zero_timeout,
                          Result<int> ret) {
  if (addr.IsNull() || !deadline || zero_timeout) return ret;
  int64_t left = std::max<int64_t>(*deadline - Now(), 0);
  T v{};
  if constexpr (std::is_same_v<T, abi::Timeval>) {
    v = abi::Timeval{left / abi::kNsecPerSec, (left % abi::kNsecPerSec) / 1000};
  } else {
    v = abi::Timespec{left / abi::kNsecPerSec, left % abi::kNsecPerSec};
  }
  if (!usermem::CopyOut(t.mem(), UserPtr<T>(addr), v).ok() && !ret.ok() &&
      ret.error() == Errno::kERESTARTNOHAND) {
    return Errno::kEINTR;
  }
  return ret;
}

// set_user_sigmask() for ppoll/pselect6: installs `mask` for the wait; returns the old one.
std::optional<uint64_t> InstallSigmask(Task& t, uint64_t mask) {
  uint64_t old = t.signal_mask();
  t.SetSavedSignalMask(old);
  t.set_signal_mask(mask);
  return old;
}

// restore_saved_sigmask_unless(interrupted): an interrupted call keeps the temporary mask
// until the handler's frame has recorded the old one (DeliverSignals restores it).
void RestoreSigmask(Task& t, std::optional<uint64_t> old, const Result<int>& r) {
  if (!old) return;
  if (!r.ok() && r.error() == Errno::kERESTARTNOHAND) return;
  t.set_signal_mask(*old);  // the saved mask (== old) is re-applied harmlessly on return
}

SyscallResult ToSyscall(const Result<int>& r) {
  if (!r.ok()) return r.error();
  return static_cast<uint64_t>(r.value());
}

// poll(2)'s restart block: the same call with the original deadline (do_restart_poll).
SyscallResult RestartPoll(Task& t, UserAddr ufds, uint64_t nfds, Deadline deadline) {
  Result<int> r = DoPoll(t, ufds, nfds, deadline);
  if (!r.ok() && r.error() == Errno::kERESTARTNOHAND) {
    t.SetRestartBlock([ufds, nfds, deadline](Task& t) {
      return RestartPoll(t, ufds, nfds, deadline);
    });
    return Errno::kERESTART_RESTARTBLOCK;
  }
  return ToSyscall(r);
}

// core_sys_select(): `n` bits of up to three fd_sets (arrays of 64-bit words).
Result<int> DoSelect(Task& t, int64_t n, UserAddr inp, UserAddr outp, UserAddr exp,
                     Deadline deadline) {
  if (n < 0) return Errno::kEINVAL;
  n = std::min<int64_t>(n, static_cast<int64_t>(t.fd_table().max_fds()));
  const size_t words = static_cast<size_t>((n + 63) / 64);
  std::vector<uint64_t> in(words), out(words), ex(words);
  const UserAddr addrs[3] = {inp, outp, exp};
  std::vector<uint64_t>* sets[3] = {&in, &out, &ex};
  for (int k = 0; k < 3; ++k) {
    if (!addrs[k].IsNull() && words > 0) {
      TRY(usermem::CopyInFull(t.mem(), addrs[k], std::as_writable_bytes(std::span(*sets[k]))));
    }
  }
  // max_select_fd(): every requested descriptor below n must be open.
  std::vector<Polled> files;
  std::vector<int> fdnums;
  for (int64_t fd = 0; fd < n; ++fd) {
    const uint64_t bit = 1ull << (fd % 64);
    const size_t w = static_cast<size_t>(fd / 64);
    uint32_t mask = 0;
    if (in[w] & bit) mask |= kPollInSet;
    if (out[w] & bit) mask |= kPollOutSet;
    if (ex[w] & bit) mask |= kPollExSet;
    if (mask == 0) continue;
    auto e = t.fd_table().Get(static_cast<int>(fd));
    if (!e.ok()) return Errno::kEBADF;
    files.push_back(Polled{PollFile(t, static_cast<int>(fd)), mask});
    fdnums.push_back(static_cast<int>(fd));
  }
  std::vector<uint64_t> rin(words), rout(words), rex(words);
  auto scan = [&] {
    std::fill(rin.begin(), rin.end(), 0);
    std::fill(rout.begin(), rout.end(), 0);
    std::fill(rex.begin(), rex.end(), 0);
    int count = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      if (files[i].file == nullptr) continue;  // O_PATH: never ready
      const int fd = fdnums[i];
      const uint64_t bit = 1ull << (fd % 64);
      const size_t w = static_cast<size_t>(fd / 64);
      uint32_t m = files[i].file->Readiness(files[i].mask);
      if ((m & kPollInSet) && (in[w] & bit)) { rin[w] |= bit; ++count; }
      if ((m & kPollOutSet) && (out[w] & bit)) { rout[w] |= bit; ++count; }
      if ((m & kPollExSet) && (ex[w] & bit)) { rex[w] |= bit; ++count; }
    }
    return count;
  };
  int count = TRY(WaitForEvents(t, files, deadline, scan));
  const std::vector<uint64_t>* results[3] = {&rin, &rout, &rex};
  for (int k = 0; k < 3; ++k) {
    if (!addrs[k].IsNull() && words > 0) {
      TRY(usermem::CopyOutFull(t.mem(), addrs[k], std::as_bytes(std::span(*results[k]))));
    }
  }
  return count;
}

}  // namespace

SyscallResult SysPoll(Task& t, const SyscallArgs& a) {
  const int64_t timeout_ms = a.Int(2);
  Deadline deadline;
  if (timeout_ms >= 0) deadline = DeadlineAfter(timeout_ms * 1'000'000);  // int ms: no overflow
  return RestartPoll(t, a.Addr(0), a.UInt(1), deadline);
}

SyscallResult SysPpoll(Task& t, const SyscallArgs& a) {
  Deadline deadline;
  bool zero = false;
  if (!a.Addr(2).IsNull()) {
    abi::Timespec ts = TRY(usermem::CopyIn(t.mem(), UserPtr<abi::Timespec>(a.Addr(2))));
    if (!abi::TimespecValid(ts)) return Errno::kEINVAL;
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
    deadline = DeadlineAfter(TimespecNs(ts));
  }
  std::optional<uint64_t> old;
  if (!a.Addr(3).IsNull()) {
    if (a.ULong(4) != abi::kSigsetSize) return Errno::kEINVAL;
    uint64_t mask = TRY(usermem::CopyIn(t.mem(), UserPtr<uint64_t>(a.Addr(3))));
    old = InstallSigmask(t, mask);
  }
  Result<int> r = DoPoll(t, a.Addr(0), a.UInt(1), deadline);
  RestoreSigmask(t, old, r);
  return ToSyscall(FinishTimeout<abi::Timespec>(t, a.Addr(2), deadline, zero, r));
}

SyscallResult SysSelect(Task& t, const SyscallArgs& a) {
  Deadline deadline;
  bool zero = false;
  if (!a.Addr(4).IsNull()) {
    abi::Timeval tv = TRY(usermem::CopyIn(t.mem(), UserPtr<abi::Timeval>(a.Addr(4))));
    // kern_select(): microseconds past a second carry into the seconds; anything negative
    // is EINVAL.
    abi::Timespec ts{tv.tv_sec + tv.tv_usec / 1'000'000, (tv.tv_usec % 1'000'000) * 1000};
    if (!abi::TimespecValid(ts)) return Errno::kEINVAL;
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
    deadline = DeadlineAfter(TimespecNs(ts));
  }
  Result<int> r = DoSelect(t, a.Int(0), a.Addr(1), a.Addr(2), a.Addr(3), deadline);
  return ToSyscall(FinishTimeout<abi::Timeval>(t, a.Addr(4), deadline, zero, r));
}

SyscallResult SysPselect6(Task& t, const SyscallArgs& a) {
  Deadline deadline;
  bool zero = false;
  if (!a.Addr(4).IsNull()) {
    abi::Timespec ts = TRY(usermem::CopyIn(t.mem(), UserPtr<abi::Timespec>(a.Addr(4))));
    if (!abi::TimespecValid(ts)) return Errno::kEINVAL;
    zero = ts.tv_sec == 0 && ts.tv_nsec == 0;
    deadline = DeadlineAfter(TimespecNs(ts));
  }
  std::optional<uint64_t> old;
  if (!a.Addr(5).IsNull()) {
    SigsetArg sa = TRY(usermem::CopyIn(t.mem(), UserPtr<SigsetArg>(a.Addr(5))));
    if (sa.ss != 0) {
      if (sa.ss_len != abi::kSigsetSize) return Errno::kEINVAL;
      uint64_t mask = TRY(usermem::CopyIn(t.mem(), UserPtr<uint64_t>(UserAddr(sa.ss))));
      old = InstallSigmask(t, mask);
    }
  }
  Result<int> r = DoSelect(t, a.Int(0), a.Addr(1), a.Addr(2), a.Addr(3), deadline);
  RestoreSigmask(t, old, r);
  return ToSyscall(FinishTimeout<abi::Timespec>(t, a.Addr(4), deadline, zero, r));
}

}  // namespace sbx::syscalls
