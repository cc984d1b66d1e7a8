// Scheduling syscalls: sched_yield, sched_getaffinity, sched_setaffinity, getcpu,
// getpriority, setpriority (kernel/sched/core.c, kernel/sys.c).
//
// Nice values are kept per task with Linux's permission rules and inherited by clone, but the
// host scheduler does not see them (all guest threads run at the sentry's priority).
//
// The sentry schedules guest threads on its own host threads, so affinity requests are
// validated exactly like Linux but have no effect; sched_getaffinity reports the CPUs the
// sentry may run on. The kernel cpumask size is the host's CPU count rounded up to 64 bits.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "sentry/syscalls/handlers.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls {
namespace {

// nr_cpu_ids of the host.
uint64_t NrCpuIds() {
  long n = sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? static_cast<uint64_t>(n) : 1;
}

// cpumask_size(): bytes of a kernel cpumask, a whole number of longs.
uint64_t CpumaskSize() { return (NrCpuIds() + 63) / 64 * 8; }

// The CPUs the sentry may use, as kernel cpumask bytes (little-endian longs).
std::vector<std::byte> AllowedMask() {
  std::vector<std::byte> mask(CpumaskSize());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    for (uint64_t i = 0; i < NrCpuIds() && i < CPU_SETSIZE; ++i) CPU_SET(i, &set);
  }
  for (uint64_t i = 0; i < NrCpuIds() && i < CPU_SETSIZE; ++i) {
    if (CPU_ISSET(i, &set)) mask[i / 8] |= std::byte{static_cast<uint8_t>(1u << (i % 8))};
  }
  return mask;
}

bool IsSelfThread(const Task& t, int64_t pid) {
  return pid == 0 || pid == t.tid() || pid == t.tgid();
}

}  // namespace

SyscallResult SysSchedYield(Task& t, const SyscallArgs&) {
  sched_yield();
  return 0;
}

SyscallResult SysSchedGetaffinity(Task& t, const SyscallArgs& a) {
  uint64_t len = a.UInt(1);
  if (len * 8 < NrCpuIds()) return Errno::kEINVAL;
  if (len & 7) return Errno::kEINVAL;
  if (!IsSelfThread(t, a.Int(0))) return Errno::kESRCH;
  std::vector<std::byte> mask = AllowedMask();
  size_t n = static_cast<size_t>(std::min<uint64_t>(len, mask.size()));
  TRY(usermem::CopyOutFull(t.mem(), a.Addr(2), std::span(mask.data(), n)));
  return n;
}

SyscallResult SysSchedSetaffinity(Task& t, const SyscallArgs& a) {
  // get_user_cpu_mask(): a short mask is zero-extended, a long one truncated.
  std::vector<std::byte> in(CpumaskSize());
  uint64_t len = std::min<uint64_t>(a.UInt(1), in.size());
  TRY(usermem::CopyInFull(t.mem(), a.Addr(2), std::span(in.data(), len)));
  if (!IsSelfThread(t, a.Int(0))) return Errno::kESRCH;
  std::vector<std::byte> allowed = AllowedMask();
  bool any = false;
  for (size_t i = 0; i < in.size(); ++i) any |= (in[i] & allowed[i]) != std::byte{0};
  if (!any) return Errno::kEINVAL;
  return 0;
}

SyscallResult SysGetcpu(Task& t, const SyscallArgs& a) {
  int cpu = sched_getcpu();
  if (cpu < 0) cpu = 0;
  if (!a.Addr(0).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), usermem::UserPtr<uint32_t>(a.Addr(0)),
                         static_cast<uint32_t>(cpu)));
  }
  if (!a.Addr(1).IsNull()) {
    TRY(usermem::CopyOut(t.mem(), usermem::UserPtr<uint32_t>(a.Addr(1)), uint32_t{0}));
  }
  return 0;
}

namespace {

constexpr int kPrioProcess = 0, kPrioPgrp = 1, kPrioUser = 2;

// The tasks `which`/`who` name (kernel/sys.c): a thread, a process group's tasks, or a user's.
Result<std::vector<std::shared_ptr<kernel::Task>>> PriorityTargets(Task& t, int which,
                                                                   int64_t who) {
  std::vector<std::shared_ptr<kernel::Task>> out;
  if (who < 0 || who > INT32_MAX) return out;
  switch (which) {
    case kPrioProcess: {
      if (who == 0) who = t.tid();
      if (auto task = t.kernel().FindTask(static_cast<int32_t>(who))) out.push_back(task);
      return out;
    }
    case kPrioPgrp: {
      int32_t pgid = who == 0 ? t.thread_group().pgid() : static_cast<int32_t>(who);
      for (auto& task : t.kernel().AllTasks()) {
        if (task->thread_group().pgid() == pgid) out.push_back(task);
      }
      return out;
    }
    case kPrioUser: {
      uint32_t uid = who == 0 ? t.creds().ruid : static_cast<uint32_t>(who);
      for (auto& task : t.kernel().AllTasks()) {
        if (task->creds().ruid == uid) out.push_back(task);
      }
      return out;
    }
    default:
      return Errno::kEINVAL;
  }
}

}  // namespace

SyscallResult SysGetpriority(Task& t, const SyscallArgs& a) {
  auto targets = TRY(PriorityTargets(t, static_cast<int>(a.Int(0)), a.Int(1)));
  if (targets.empty()) return Errno::kESRCH;
  // The syscall returns 20 - nice of the highest-priority (lowest nice) match, never < 0.
  int best = 19;
  for (auto& task : targets) best = std::min(best, task->nice.load());
  return static_cast<uint64_t>(20 - best);
}

SyscallResult SysSetpriority(Task& t, const SyscallArgs& a) {
  auto targets = TRY(PriorityTargets(t, static_cast<int>(a.Int(0)), a.Int(1)));
  if (targets.empty()) return Errno::kESRCH;
  const int nice = static_cast<int>(std::clamp<int64_t>(a.Int(2), -20, 19));
  const auto& c = t.creds();
  Errno err{};
  bool any = false;
  for (auto& task : targets) {
    // set_one_prio(): the caller must own the target (euid matches its ruid or euid) unless
    // privileged; lowering nice needs CAP_SYS_NICE (RLIMIT_NICE is 0 by default).
    const auto& tc = task->creds();
    if (c.euid != 0 && c.euid != tc.euid && c.euid != tc.ruid) {
      err = Errno::kEPERM;
      continue;
    }
    if (nice < task->nice.load() && c.euid != 0) {
      err = Errno::kEACCES;
      continue;
    }
    task->nice.store(nice);
    any = true;
  }
  if (!any) return err;
  return 0;
}

}  // namespace sbx::syscalls
