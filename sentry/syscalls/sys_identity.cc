// Identity and resource syscalls: get*id, getgroups, getres[ug]id, getpgrp/getpgid/getsid,
// uname, sysinfo, getrandom, getrlimit/setrlimit/prlimit64, getrusage (kernel/sys.c,
// drivers/char/random.c).
//
// Until the processes issue there is one process and one session: the process group and
// session ids are those of init (tgid 1 in the sandbox's PID namespace). uname reports the
// sentry's identity (Kernel::identity()), never the host's.
#include <sys/random.h>
#include <sys/sysinfo.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "sentry/abi/misc.h"
#include "sentry/kernel/itimer.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls {
namespace {

using usermem::UserPtr;


// pid 0, the caller's tid or its tgid name the caller's process (prlimit64 on other
// processes is not supported yet: ESRCH).
bool IsSelf(const Task& t, int64_t pid) {
  return pid == 0 || pid == t.tgid() || pid == t.tid();
}

void CopyField(char (&dst)[abi::kUtsLen], const std::string& src) {
  std::memset(dst, 0, sizeof(dst));
  std::memcpy(dst, src.data(), std::min(src.size(), sizeof(dst) - 1));
}

// do_prlimit(): validates and applies `new_lim` (if any), returning the previous limit.
Result<kernel::RLimit> DoPrlimit(Task& t, uint64_t resource, const abi::Rlimit64* new_lim) {
  if (resource >= static_cast<uint64_t>(abi::kRlimNlimits)) return Errno::kEINVAL;
  int res = static_cast<int>(resource);
  if (new_lim != nullptr) {
    if (new_lim->rlim_cur > new_lim->rlim_max) return Errno::kEINVAL;
    if (res == abi::kRlimitNofile && new_lim->rlim_max > abi::kNrOpen) return Errno::kEPERM;
  }
  kernel::ThreadGroup& tg = t.thread_group();
  kernel::RLimit old = tg.GetRLimit(res);
  if (new_lim != nullptr) {
    // Raising the hard limit needs CAP_SYS_RESOURCE: the sandbox's root has it.
    if (new_lim->rlim_max > old.max && t.creds().euid != 0) return Errno::kEPERM;
    tg.SetRLimit(res, kernel::RLimit{new_lim->rlim_cur, new_lim->rlim_max});
    // The FD table enforces RLIMIT_NOFILE's soft limit for new descriptors.
    if (res == abi::kRlimitNofile) t.fd_table().set_max_fds(new_lim->rlim_cur);
  }
  return old;
}

abi::Timeval NsToTimeval(int64_t ns) {
  return abi::Timeval{ns / abi::kNsecPerSec, (ns % abi::kNsecPerSec) / 1000};
}

}  // namespace

SyscallResult SysGetpid(Task& t, const SyscallArgs&) { return static_cast<uint64_t>(t.tgid()); }
SyscallResult SysGettid(Task& t, const SyscallArgs&) { return static_cast<uint64_t>(t.tid()); }
SyscallResult SysGetuid(Task& t, const SyscallArgs&) { return t.creds().ruid; }
SyscallResult SysGeteuid(Task& t, const SyscallArgs&) { return t.creds().euid; }
SyscallResult SysGetgid(Task& t, const SyscallArgs&) { return t.creds().rgid; }
SyscallResult SysGetegid(Task& t, const SyscallArgs&) { return t.creds().egid; }

SyscallResult SysGetgroups(Task& t, const SyscallArgs& a) {
  int64_t size = a.Int(0);
  if (size < 0) return Errno::kEINVAL;
  const std::vector<uint32_t>& groups = t.creds().groups;
  if (size == 0) return groups.size();
  if (static_cast<uint64_t>(size) < groups.size()) return Errno::kEINVAL;
  TRY(usermem::CopyOutFull(t.mem(), a.Addr(1), std::as_bytes(std::span(groups))));
  return groups.size();
}

SyscallResult SysGetresuid(Task& t, const SyscallArgs& a) {
  const kernel::Credentials& c = t.creds();
  TRY(usermem::CopyOut(t.mem(), UserPtr<uint32_t>(a.Addr(0)), c.ruid));
  TRY(usermem::CopyOut(t.mem(), UserPtr<uint32_t>(a.Addr(1)), c.euid));
  TRY(usermem::CopyOut(t.mem(), UserPtr<uint32_t>(a.Addr(2)), c.suid));
  return 0;
}

SyscallResult SysGetresgid(Task& t, const SyscallArgs& a) {
  const kernel::Credentials& c = t.creds();
  TRY(usermem::CopyOut(t.mem(), UserPtr<uint32_t>(a.Addr(0)), c.rgid));
  TRY(usermem::CopyOut(t.mem(), UserPtr<uint32_t>(a.Addr(1)), c.egid));
  TRY(usermem::CopyOut(t.mem(), UserPtr<uint32_t>(a.Addr(2)), c.sgid));
  return 0;
}




SyscallResult SysUname(Task& t, const SyscallArgs& a) {
  const kernel::KernelIdentity& id = t.kernel().identity();
  abi::NewUtsname u;
  CopyField(u.sysname, id.sysname);
  CopyField(u.nodename, id.nodename);
  CopyField(u.release, id.release);
  CopyField(u.version, id.version);
  CopyField(u.machine, id.machine);
  CopyField(u.domainname, id.domainname);
  TRY(usermem::CopyOut(t.mem(), UserPtr<abi::NewUtsname>(a.Addr(0)), u));
  return 0;
}

SyscallResult SysSysinfo(Task& t, const SyscallArgs& a) {
  abi::Sysinfo si{};
  int64_t up = kernel::HostClockNs(CLOCK_MONOTONIC) - t.kernel().boot_time_ns();
  si.uptime = up / abi::kNsecPerSec + (up % abi::kNsecPerSec != 0 ? 1 : 0);
  struct sysinfo host {};
  if (::sysinfo(&host) == 0) {
    si.totalram = host.totalram;
    si.freeram = host.freeram;
    si.sharedram = host.sharedram;
    si.bufferram = host.bufferram;
    si.mem_unit = host.mem_unit;
  } else {
    si.mem_unit = 1;
  }
  // No swap in the sandbox; one process until the processes issue gives a task registry.
  si.procs = 1;
  TRY(usermem::CopyOut(t.mem(), UserPtr<abi::Sysinfo>(a.Addr(0)), si));
  return 0;
}

SyscallResult SysGetrandom(Task& t, const SyscallArgs& a) {
  uint32_t flags = a.UInt(2);
  if (flags & ~(abi::kGrndNonblock | abi::kGrndRandom | abi::kGrndInsecure)) {
    return Errno::kEINVAL;
  }
  if ((flags & (abi::kGrndInsecure | abi::kGrndRandom)) ==
      (abi::kGrndInsecure | abi::kGrndRandom)) {
    return Errno::kEINVAL;
  }
  // import_ubuf() caps one call at MAX_RW_COUNT; get_random_bytes_user() copies in chunks and
  // returns what it copied when it faults or a signal arrives.
  uint64_t len = std::min<uint64_t>(a.ULong(1), usermem::kMaxRWCount);
  usermem::UserAddr dst = a.Addr(0);
  std::vector<std::byte> chunk(std::min<uint64_t>(len, 64 * 1024));
  uint64_t done = 0;
  while (done < len) {
    if (done > 0 && t.Interrupted()) break;
    size_t n = static_cast<size_t>(std::min<uint64_t>(len - done, chunk.size()));
    size_t filled = 0;
    while (filled < n) {
      ssize_t r = ::getrandom(chunk.data() + filled, n - filled, 0);
      if (r > 0) {
        filled += static_cast<size_t>(r);
      } else if (r < 0 && errno != EINTR) {
        return Errno::kEIO;  // the host refused: never hand out unfilled bytes
      }
    }
    auto copied = t.mem().CopyOutBytes(dst + done, std::span(chunk.data(), n));
    if (!copied.ok()) {
      if (done > 0) break;
      return copied.error();
    }
    done += *copied;
    if (*copied < n) {
      if (done == 0) return Errno::kEFAULT;
      break;
    }
  }
  return done;
}

SyscallResult SysGetrlimit(Task& t, const SyscallArgs& a) {
  kernel::RLimit old = TRY(DoPrlimit(t, a.UInt(0), nullptr));
  TRY(usermem::CopyOut(t.mem(), UserPtr<abi::Rlimit64>(a.Addr(1)),
                       abi::Rlimit64{old.cur, old.max}));
  return 0;
}

SyscallResult SysSetrlimit(Task& t, const SyscallArgs& a) {
  abi::Rlimit64 lim = TRY(usermem::CopyIn(t.mem(), UserPtr<abi::Rlimit64>(a.Addr(1))));
  TRY(DoPrlimit(t, a.UInt(0), &lim));
  return 0;
}

SyscallResult SysPrlimit64(Task& t, const SyscallArgs& a) {
  abi::Rlimit64 lim{};
  bool set = !a.Addr(2).IsNull();
  if (set) lim = TRY(usermem::CopyIn(t.mem(), UserPtr<abi::Rlimit64>(a.Addr(2))));
  if (!IsSelf(t, a.Int(0))) return Errno::kESRCH;
  kernel::RLimit old = TRY(DoPrlimit(t, a.UInt(1), set ? &lim : nullptr));
  if (!a.Addr(3).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<abi::Rlimit64>(a.Addr(3)),
                         abi::Rlimit64{old.cur, old.max}));
  }
  return 0;
}

SyscallResult SysGetrusage(Task& t, const SyscallArgs& a) {
  int64_t who = a.Int(0);
  abi::Rusage ru{};
  switch (who) {
    case abi::kRusageSelf:
    case abi::kRusageThread: {
      // The process's charged CPU time (Task::Run: user = time in guest code, sys = sentry
      // CPU handling its syscalls and faults); RUSAGE_THREAD reports the process's too.
      kernel::ITimers::CpuTimes c = t.thread_group().itimers().cpu_times();
      ru.ru_utime = NsToTimeval(c.user_ns);
      ru.ru_stime = NsToTimeval(c.sys_ns);
      break;
    }
    case abi::kRusageChildren: {
      int64_t u, s;
      t.thread_group().ChildCpuTimes(&u, &s);
      ru.ru_utime = NsToTimeval(u);
      ru.ru_stime = NsToTimeval(s);
      break;
    }
    default:
      return Errno::kEINVAL;
  }
  TRY(usermem::CopyOut(t.mem(), UserPtr<abi::Rusage>(a.Addr(1)), ru));
  return 0;
}

}  // namespace sbx::syscalls
