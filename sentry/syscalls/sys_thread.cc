// Thread syscalls: arch_prctl, set_tid_address, set_robust_list, get_robust_list, exit,
// exit_group, futex, prctl (arch/x86/kernel/process_64.c, kernel/exit.c, kernel/futex/,
// kernel/sys.c).
//
// futex keys: Task::FutexKeyFor ((mm, address) for private futexes and private mappings,
// memory-file offset for shared mappings). An interrupted wait returns ERESTARTSYS without a
// timeout and ERESTART_RESTARTBLOCK with one (resumed by restart_syscall until the same
// absolute deadline when no handler ran; EINTR otherwise), like Linux.
#include <cstring>
#include <optional>

#include "sentry/abi/misc.h"
#include "sentry/syscalls/clocks.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls {
namespace {

using usermem::UserPtr;

constexpr uint32_t kFutexWaitersBit = 0x80000000u, kFutexOwnerDiedBit = 0x40000000u,
                   kFutexTidMask = 0x3fffffffu;

// TASK_SIZE_MAX on x86-64 with 4-level paging: the FS/GS base must lie below it.
constexpr uint64_t kTaskSizeMax = (1ull << 47) - 4096;

// The futex commands that take a timeout in their fourth argument (futex_cmd_has_timeout).
bool CmdHasTimeout(int cmd) {
  return cmd == abi::kFutexWait || cmd == abi::kFutexLockPi || cmd == abi::kFutexLockPi2 ||
         cmd == abi::kFutexWaitBitset || cmd == abi::kFutexWaitRequeuePi;
}

Result<kernel::FutexManager::Key> FutexKey(Task& t, uint64_t addr, bool priv) {
  return t.FutexKeyFor(addr, priv);
}

}  // namespace

SyscallResult SysArchPrctl(Task& t, const SyscallArgs& a) {
  uint64_t addr = a.ULong(1);
  switch (a.Int(0)) {
    case abi::kArchSetFs:
      if (addr >= kTaskSizeMax) return Errno::kEPERM;
      t.regs().fs_base = addr;
      return 0;
    case abi::kArchSetGs:
      if (addr >= kTaskSizeMax) return Errno::kEPERM;
      t.regs().gs_base = addr;
      return 0;
    case abi::kArchGetFs:
      TRY(usermem::CopyOut(t.mem(), UserPtr<uint64_t>(a.Addr(1)), t.regs().fs_base));
      return 0;
    case abi::kArchGetGs:
      TRY(usermem::CopyOut(t.mem(), UserPtr<uint64_t>(a.Addr(1)), t.regs().gs_base));
      return 0;
    case abi::kArchGetCpuid:
      return 1;  // CPUID is never disabled (no CPUID faulting)
    case abi::kArchSetCpuid:
      return Errno::kENODEV;  // set_cpuid_mode() without X86_FEATURE_CPUID_FAULT
    default:
      return Errno::kEINVAL;
  }
}

SyscallResult SysSetTidAddress(Task& t, const SyscallArgs& a) {
  t.clear_child_tid = a.ULong(0);
  return static_cast<uint64_t>(t.tid());
}

SyscallResult SysSetRobustList(Task& t, const SyscallArgs& a) {
  if (a.ULong(1) != abi::kRobustListHeadSize) return Errno::kEINVAL;
  t.robust_list_head = a.ULong(0);
  t.robust_list_len = a.ULong(1);
  return 0;
}

SyscallResult SysGetRobustList(Task& t, const SyscallArgs& a) {
  int64_t pid = a.Int(0);
  // Other threads cannot be looked up until the kernel has a task registry.
  if (pid != 0 && pid != t.tid()) return Errno::kESRCH;
  TRY(usermem::CopyOut(t.mem(), UserPtr<uint64_t>(a.Addr(2)), abi::kRobustListHeadSize));
  TRY(usermem::CopyOut(t.mem(), UserPtr<uint64_t>(a.Addr(1)), t.robust_list_head));
  return 0;
}

SyscallResult SysExit(Task& t, const SyscallArgs& a) {
  t.RequestExit(static_cast<int>(a.Int(0) & 0xff));
  return 0;
}

SyscallResult SysExitGroup(Task& t, const SyscallArgs& a) {
  t.RequestGroupExit(static_cast<int>((a.Int(0) & 0xff) << 8));
  return 0;
}

SyscallResult SysFutex(Task& t, const SyscallArgs& a) {
  const int op = static_cast<int>(a.Int(1));
  const int cmd = op & abi::kFutexCmdMask;
  const bool priv = (op & abi::kFutexPrivateFlag) != 0;
  const bool clock_rt = (op & abi::kFutexClockRealtime) != 0;
  const uint64_t uaddr = a.ULong(0);
  const uint32_t val = a.UInt(2);
  const uint32_t val3 = a.UInt(5);

  if (clock_rt && cmd != abi::kFutexWait && cmd != abi::kFutexWaitBitset &&
      cmd != abi::kFutexWaitRequeuePi && cmd != abi::kFutexLockPi2) {
    return Errno::kENOSYS;
  }

  std::optional<kernel::FutexManager::Deadline> deadline;
  if (CmdHasTimeout(cmd) && !a.Addr(3).IsNull()) {
    abi::Timespec ts = TRY(usermem::CopyIn(t.mem(), UserPtr<abi::Timespec>(a.Addr(3))));
    if (!abi::TimespecValid(ts)) return Errno::kEINVAL;
    int64_t ns = ts.tv_sec > INT64_MAX / abi::kNsecPerSec - 1
                     ? INT64_MAX
                     : ts.tv_sec * abi::kNsecPerSec + ts.tv_nsec;
    if (cmd == abi::kFutexWait) {
      // Relative, measured on CLOCK_MONOTONIC (or REALTIME with the flag).
      int hc = clock_rt ? CLOCK_REALTIME : CLOCK_MONOTONIC;
      int64_t now = kernel::HostClockNs(hc);
      deadline = kernel::FutexManager::Deadline{hc, ns > INT64_MAX - now ? INT64_MAX : now + ns};
    } else {
      // Absolute; FUTEX_LOCK_PI always measures CLOCK_REALTIME (futex_init_timeout).
      bool rt = clock_rt || cmd == abi::kFutexLockPi;
      deadline = HostDeadline(t.kernel(), rt ? abi::kClockRealtime : abi::kClockMonotonic, ns);
    }
  }

  kernel::FutexManager& fm = t.kernel().futexes();
  auto load = [&t, uaddr]() -> Result<uint32_t> {
    return usermem::CopyIn(t.mem(), UserPtr<uint32_t>(uaddr));
  };

  switch (cmd) {
    case abi::kFutexWait:
    case abi::kFutexWaitBitset: {
      uint32_t bitset = cmd == abi::kFutexWait ? abi::kFutexBitsetMatchAny : val3;
      if (bitset == 0) return Errno::kEINVAL;
      auto key = TRY(FutexKey(t, uaddr, priv));
      Result<void> r = fm.Wait(key, val, bitset, load, deadline, &t);
      if (r.ok()) return 0;
      if (r.error() != Errno::kEINTR) return r.error();
      if (!deadline) return Errno::kERESTARTSYS;
      // futex_wait_restart(): a timed wait interrupted by a signal whose handler does not
      // run (e.g. a stop and continue) resumes until the same absolute deadline.
      const auto d = *deadline;
      t.SetRestartBlock([key, val, bitset, uaddr, d](Task& t2) -> SyscallResult {
        auto load2 = [&t2, uaddr]() -> Result<uint32_t> {
          return usermem::CopyIn(t2.mem(), UserPtr<uint32_t>(uaddr));
        };
        Result<void> r2 = t2.kernel().futexes().Wait(key, val, bitset, load2, d, &t2);
        if (r2.ok()) return 0;
        if (r2.error() == Errno::kEINTR) return Errno::kERESTART_RESTARTBLOCK;
        return r2.error();
      });
      return Errno::kERESTART_RESTARTBLOCK;
    }
    case abi::kFutexWake:
    case abi::kFutexWakeBitset: {
      uint32_t bitset = cmd == abi::kFutexWake ? abi::kFutexBitsetMatchAny : val3;
      if (bitset == 0) return Errno::kEINVAL;
      auto key = TRY(FutexKey(t, uaddr, priv));
      int n = TRY(fm.Wake(key, static_cast<int>(val), bitset));
      return static_cast<uint64_t>(n);
    }
    case abi::kFutexRequeue:
    case abi::kFutexCmpRequeue: {
      auto from = TRY(FutexKey(t, uaddr, priv));
      auto to = TRY(FutexKey(t, a.ULong(4), priv));
      std::optional<uint32_t> expected;
      if (cmd == abi::kFutexCmpRequeue) expected = val3;
      int n = TRY(fm.Requeue(from, to, static_cast<int>(val), static_cast<int>(a.UInt(3)),
                             expected, load));
      return static_cast<uint64_t>(n);
    }
    case 5 /*FUTEX_WAKE_OP*/: {
      // futex_wake_op(): *uaddr2 = op(*uaddr2, oparg) atomically; wake uaddr; if
      // cmp(old, cmparg) also wake up to val2 (the timeout slot) on uaddr2.
      const uint64_t uaddr2 = a.ULong(4);
      auto k1 = TRY(FutexKey(t, uaddr, priv));
      auto k2 = TRY(FutexKey(t, uaddr2, priv));
      const int op = (val3 >> 28) & 7, cmp = (val3 >> 24) & 15;
      int32_t oparg = static_cast<int32_t>(val3 << 8) >> 20;  // sign_extend32(bits 12..23)
      const int32_t cmparg = static_cast<int32_t>(val3 << 20) >> 20;
      if (val3 & (8u << 28)) oparg = static_cast<int32_t>(1u << (oparg & 31));
      if (op > 4 || cmp > 5) return Errno::kENOSYS;
      const uint32_t arg = static_cast<uint32_t>(oparg);
      const uint32_t old = TRY(t.mm().AtomicUpdate32(
          usermem::UserAddr{uaddr2}, [&](uint32_t w) -> std::optional<uint32_t> {
            return op == 0 ? arg : op == 1 ? w + arg : op == 2 ? w | arg
                 : op == 3 ? w & ~arg : w ^ arg;
          }));
      int n = TRY(fm.Wake(k1, static_cast<int>(val), abi::kFutexBitsetMatchAny));
      const int32_t o = static_cast<int32_t>(old);
      bool hit = cmp == 0 ? o == cmparg : cmp == 1 ? o != cmparg : cmp == 2 ? o < cmparg
               : cmp == 3 ? o <= cmparg : cmp == 4 ? o > cmparg : o >= cmparg;
      if (hit) n += TRY(fm.Wake(k2, static_cast<int>(a.UInt(3)), abi::kFutexBitsetMatchAny));
      return static_cast<uint64_t>(n);
    }
    case abi::kFutexLockPi:
    case abi::kFutexLockPi2:
    case 8 /*FUTEX_TRYLOCK_PI*/: {
      // Priority inheritance is not modelled (the sentry does not schedule); the lock protocol
      // is: word = owner tid | FUTEX_WAITERS | FUTEX_OWNER_DIED, updated atomically.
      auto key = TRY(FutexKey(t, uaddr, priv));
      const uint32_t me = static_cast<uint32_t>(t.tid());
      for (;;) {
        bool got = false, mine = false, changed = false;
        const bool others = fm.WaitersForTesting(key) > 0;
        // Whether the current owner still exists is decided before the atomic update: the
        // update runs under the address space's lock, which must not nest the tasklist lock.
        const uint32_t before = TRY(usermem::CopyIn(t.mem(), UserPtr<uint32_t>(uaddr)));
        const uint32_t owner0 = before & kFutexTidMask;
        const bool owner_gone =
            owner0 != 0 && owner0 != me && !t.kernel().FindTask(static_cast<int32_t>(owner0));
        uint32_t seen = TRY(t.mm().AtomicUpdate32(
            usermem::UserAddr{uaddr}, [&](uint32_t w) -> std::optional<uint32_t> {
              got = mine = changed = false;
              uint32_t owner = w & kFutexTidMask;
              if (owner == me) {
                mine = true;
                return std::nullopt;
              }
              if (owner != 0 && owner != owner0) {
                changed = true;  // another owner meanwhile: look it up again
                return std::nullopt;
              }
              // Free, or held by a thread that no longer exists (its robust list did not
              // run): take it, keeping OWNER_DIED so userspace can recover state.
              if (owner == 0 || owner_gone) {
                got = true;
                return me | (others ? kFutexWaitersBit : 0) |
                       (owner != 0 ? kFutexOwnerDiedBit : (w & kFutexOwnerDiedBit));
              }
              if (cmd == 8) return std::nullopt;
              return w | kFutexWaitersBit;
            }));
        if (changed) continue;
        if (mine) return Errno::kEDEADLK;
        if (got) return 0;
        if (cmd == 8) return Errno::kEAGAIN;
        const uint32_t expected = seen | kFutexWaitersBit;
        Result<void> r = fm.Wait(key, expected, abi::kFutexBitsetMatchAny, load, deadline, &t);
        if (r.ok() || r.error() == Errno::kEAGAIN) continue;
        if (r.error() == Errno::kEINTR) return Errno::kERESTARTNOINTR;
        return r.error();
      }
    }
    case abi::kFutexUnlockPi: {
      auto key = TRY(FutexKey(t, uaddr, priv));
      const uint32_t me = static_cast<uint32_t>(t.tid());
      bool owner = true;
      TRY(t.mm().AtomicUpdate32(usermem::UserAddr{uaddr},
                                [&](uint32_t w) -> std::optional<uint32_t> {
                                  owner = (w & kFutexTidMask) == me;
                                  if (!owner) return std::nullopt;
                                  return 0u;
                                }));
      if (!owner) return Errno::kEPERM;
      // No hand-off: the woken waiter retries the acquisition (and re-marks WAITERS if
      // others still wait).
      (void)fm.Wake(key, 1, abi::kFutexBitsetMatchAny);
      return 0;
    }
    default:
      // FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE_PI and FUTEX_FD: see the table note.
      return Errno::kENOSYS;
  }
}

namespace {
constexpr int kPrSetPdeathsig = 1, kPrGetPdeathsig = 2, kPrGetDumpable = 3,
              kPrSetDumpable = 4, kPrSetName = 15, kPrGetName = 16, kPrGetSeccomp = 21,
              kPrCapbsetRead = 23, kPrSetChildSubreaper = 36, kPrGetChildSubreaper = 37,
              kPrSetNoNewPrivs = 38, kPrGetNoNewPrivs = 39, kPrGetKeepcaps = 7,
              kPrSetKeepcaps = 8;
constexpr int kCapLastCap = 40;  // CAP_CHECKPOINT_RESTORE
constexpr size_t kTaskCommLen = 16;
}  // namespace

SyscallResult SysPrctl(Task& t, const SyscallArgs& a) {
  const uint64_t arg2 = a.ULong(1), arg3 = a.ULong(2), arg4 = a.ULong(3), arg5 = a.ULong(4);
  switch (a.Int(0)) {
    case kPrSetPdeathsig:
      if (arg2 > static_cast<uint64_t>(kernel::kNumSignals)) return Errno::kEINVAL;
      t.pdeathsig = static_cast<int>(arg2);
      return 0;
    case kPrGetPdeathsig:
      TRY(usermem::CopyOut(t.mem(), UserPtr<int32_t>(a.Addr(1)), int32_t{t.pdeathsig.load()}));
      return 0;
    case kPrGetDumpable:
      return static_cast<uint64_t>(t.thread_group().dumpable.load());
    case kPrSetDumpable:
      if (arg2 != 0 && arg2 != 1) return Errno::kEINVAL;  // SUID_DUMP_DISABLE / SUID_DUMP_USER
      t.thread_group().dumpable.store(static_cast<int>(arg2));
      return 0;
    case kPrSetName: {
      // strncpy_from_user(comm, arg2, 15): at most 15 bytes, NUL not required.
      char comm[kTaskCommLen] = {};
      auto s = usermem::CopyInString(t.mem(), a.Addr(1), kTaskCommLen - 1);
      if (s.ok()) {
        std::memcpy(comm, s->data(), s->size());
      } else if (s.error() == Errno::kENAMETOOLONG) {
        TRY(usermem::CopyInFull(t.mem(), a.Addr(1),
                                std::as_writable_bytes(std::span(comm, kTaskCommLen - 1))));
      } else {
        return Errno::kEFAULT;
      }
      t.comm = std::string(comm, strnlen(comm, kTaskCommLen - 1));
      return 0;
    }
    case kPrGetName: {
      char comm[kTaskCommLen] = {};
      std::memcpy(comm, t.comm.data(), std::min(t.comm.size(), kTaskCommLen - 1));
      TRY(usermem::CopyOutFull(t.mem(), a.Addr(1), std::as_bytes(std::span(comm))));
      return 0;
    }
    case kPrGetSeccomp:
      return 0;  // SECCOMP_MODE_DISABLED: guest seccomp is not implemented
    case kPrCapbsetRead:
      if (arg2 > static_cast<uint64_t>(kCapLastCap)) return Errno::kEINVAL;
      return 1;  // the bounding set is full (no capability model yet)
    case kPrSetChildSubreaper:
      t.thread_group().child_subreaper.store(arg2 != 0);
      return 0;
    case kPrGetChildSubreaper:
      TRY(usermem::CopyOut(t.mem(), UserPtr<int32_t>(a.Addr(1)),
                           int32_t{t.thread_group().child_subreaper.load() ? 1 : 0}));
      return 0;
    case kPrSetNoNewPrivs:
      if (arg2 != 1 || arg3 != 0 || arg4 != 0 || arg5 != 0) return Errno::kEINVAL;
      t.no_new_privs = true;
      return 0;
    case kPrGetNoNewPrivs:
      if (arg2 != 0 || arg3 != 0 || arg4 != 0 || arg5 != 0) return Errno::kEINVAL;
      return t.no_new_privs ? 1 : 0;
    case kPrGetKeepcaps:
      return t.keep_caps ? 1 : 0;
    case kPrSetKeepcaps:
      // Capabilities are modelled as "euid 0 has all", so keeping them across a setuid away
      // from 0 has no further effect; the flag is kept for PR_GET_KEEPCAPS.
      if (arg2 > 1) return Errno::kEINVAL;
      t.keep_caps = arg2 == 1;
      return 0;
    default:
      return Errno::kEINVAL;
  }
}

}  // namespace sbx::syscalls
