// Kernel ABI structs and constants for the identity, time, scheduling, thread and signal
// syscall families, defined from the x86-64 kernel UAPI headers (never host libc's types,
// whose layouts may differ). Every struct has static_asserts on size and key offsets.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sbx::abi {

// struct __kernel_timespec / timespec64 (include/uapi/linux/time_types.h).
struct Timespec {
  int64_t tv_sec;
  int64_t tv_nsec;
};
static_assert(sizeof(Timespec) == 16 && offsetof(Timespec, tv_nsec) == 8);

// struct __kernel_old_timeval.
struct Timeval {
  int64_t tv_sec;
  int64_t tv_usec;
};
static_assert(sizeof(Timeval) == 16 && offsetof(Timeval, tv_usec) == 8);

// struct timezone.
struct Timezone {
  int32_t tz_minuteswest;
  int32_t tz_dsttime;
};
static_assert(sizeof(Timezone) == 8);

inline constexpr int64_t kNsecPerSec = 1'000'000'000;

// timespec64_valid(): seconds non-negative, nanoseconds in [0, 1e9).
constexpr bool TimespecValid(const Timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < kNsecPerSec;
}

// Clock ids (include/uapi/linux/time.h).
inline constexpr int kClockRealtime = 0;
inline constexpr int kClockMonotonic = 1;
inline constexpr int kClockProcessCputimeId = 2;
inline constexpr int kClockThreadCputimeId = 3;
inline constexpr int kClockMonotonicRaw = 4;
inline constexpr int kClockRealtimeCoarse = 5;
inline constexpr int kClockMonotonicCoarse = 6;
inline constexpr int kClockBoottime = 7;
inline constexpr int kClockRealtimeAlarm = 8;
inline constexpr int kClockBoottimeAlarm = 9;
inline constexpr int kClockTai = 11;
inline constexpr int kTimerAbstime = 1;

// struct new_utsname (include/uapi/linux/utsname.h): six 65-byte NUL-padded fields.
inline constexpr size_t kUtsLen = 65;
struct NewUtsname {
  char sysname[kUtsLen];
  char nodename[kUtsLen];
  char release[kUtsLen];
  char version[kUtsLen];
  char machine[kUtsLen];
  char domainname[kUtsLen];
};
static_assert(sizeof(NewUtsname) == 390 && offsetof(NewUtsname, domainname) == 325);

// struct sysinfo (include/uapi/linux/sysinfo.h), x86-64 layout.
struct Sysinfo {
  int64_t uptime;
  uint64_t loads[3];
  uint64_t totalram;
  uint64_t freeram;
  uint64_t sharedram;
  uint64_t bufferram;
  uint64_t totalswap;
  uint64_t freeswap;
  uint16_t procs;
  uint16_t pad;
  uint32_t pad2;  // implicit alignment padding in the kernel's struct
  uint64_t totalhigh;
  uint64_t freehigh;
  uint32_t mem_unit;
  uint32_t pad3;  // _f[0] plus tail padding
};
static_assert(sizeof(Sysinfo) == 112);
static_assert(offsetof(Sysinfo, procs) == 80 && offsetof(Sysinfo, totalhigh) == 88 &&
              offsetof(Sysinfo, mem_unit) == 104);

// struct rlimit64 / struct rlimit on x86-64 (both two 64-bit words).
struct Rlimit64 {
  uint64_t rlim_cur;
  uint64_t rlim_max;
};
static_assert(sizeof(Rlimit64) == 16);
inline constexpr uint64_t kRlimInfinity = ~0ull;

// Resource numbers (include/uapi/asm-generic/resource.h).
inline constexpr int kRlimitCpu = 0, kRlimitFsize = 1, kRlimitData = 2, kRlimitStack = 3,
                     kRlimitCore = 4, kRlimitRss = 5, kRlimitNproc = 6, kRlimitNofile = 7,
                     kRlimitMemlock = 8, kRlimitAs = 9, kRlimitLocks = 10,
                     kRlimitSigpending = 11, kRlimitMsgqueue = 12, kRlimitNice = 13,
                     kRlimitRtprio = 14, kRlimitRttime = 15, kRlimNlimits = 16;
// fs/file.c sysctl_nr_open default: RLIMIT_NOFILE's max cannot exceed it.
inline constexpr uint64_t kNrOpen = 1024 * 1024;

// struct rusage (include/uapi/linux/resource.h).
struct Rusage {
  Timeval ru_utime;
  Timeval ru_stime;
  int64_t ru_maxrss, ru_ixrss, ru_idrss, ru_isrss, ru_minflt, ru_majflt, ru_nswap, ru_inblock,
      ru_oublock, ru_msgsnd, ru_msgrcv, ru_nsignals, ru_nvcsw, ru_nivcsw;
};
static_assert(sizeof(Rusage) == 144 && offsetof(Rusage, ru_maxrss) == 32);
inline constexpr int kRusageSelf = 0, kRusageChildren = -1, kRusageThread = 1;

// stack_t for sigaltstack (include/uapi/asm-generic/signal.h).
struct StackT {
  uint64_t ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
};
static_assert(sizeof(StackT) == 24 && offsetof(StackT, ss_size) == 16);
inline constexpr int kSsOnstack = 1, kSsDisable = 2;
inline constexpr uint32_t kSsAutodisarm = 1u << 31;
inline constexpr uint64_t kMinSigStkSz = 2048;  // MINSIGSTKSZ (x86 uapi)

// struct robust_list_head: three pointers-sized words.
inline constexpr uint64_t kRobustListHeadSize = 24;

// getrandom(2) flags.
inline constexpr uint32_t kGrndNonblock = 0x1, kGrndRandom = 0x2, kGrndInsecure = 0x4;

// arch_prctl codes (arch/x86/include/uapi/asm/prctl.h).
inline constexpr int kArchSetGs = 0x1001, kArchSetFs = 0x1002, kArchGetFs = 0x1003,
                     kArchGetGs = 0x1004, kArchGetCpuid = 0x1011, kArchSetCpuid = 0x1012;

// Futex operations (include/uapi/linux/futex.h).
inline constexpr int kFutexWait = 0, kFutexWake = 1, kFutexFd = 2, kFutexRequeue = 3,
                     kFutexCmpRequeue = 4, kFutexWakeOp = 5, kFutexLockPi = 6,
                     kFutexUnlockPi = 7, kFutexTrylockPi = 8, kFutexWaitBitset = 9,
                     kFutexWakeBitset = 10, kFutexWaitRequeuePi = 11,
                     kFutexCmpRequeuePi = 12, kFutexLockPi2 = 13;
inline constexpr int kFutexPrivateFlag = 128, kFutexClockRealtime = 256;
inline constexpr int kFutexCmdMask = ~(kFutexPrivateFlag | kFutexClockRealtime);
inline constexpr uint32_t kFutexBitsetMatchAny = 0xffffffff;

// rt_sigprocmask `how`.
inline constexpr int kSigBlock = 0, kSigUnblock = 1, kSigSetmask = 2;
inline constexpr int kSigKill = 9, kSigStop = 19, kSigCont = 18;
// The kernel sigset_t on x86-64 is 64 bits.
inline constexpr uint64_t kSigsetSize = 8;

}  // namespace sbx::abi
