// The guest's clocks, shared by the time, futex and sleep handlers (implemented in
// sys_time.cc).
//
// The guest sees host CLOCK_REALTIME/TAI unchanged. The monotonic family (MONOTONIC, _RAW,
// _COARSE, BOOTTIME) is shifted so that it reads kGuestMonotonicStartNs when the sentry
// booted (Kernel::boot_time_ns(), a host CLOCK_MONOTONIC value): the host's uptime does not
// leak and every monotonic clock stays positive. Each clock's distance from host
// CLOCK_MONOTONIC is measured once per sentry so the clocks keep their relative order.
#pragma once

#include <cstdint>

#include "sentry/abi/result.h"
#include "sentry/kernel/kernel.h"

namespace sbx::syscalls {

inline constexpr int64_t kGuestMonotonicStartNs = 1'000'000'000;

// The guest-visible value of `clock` (a non-negative CLOCK_* id or a dynamic CPU clock of
// the caller) in nanoseconds; EINVAL for clocks the sentry does not know.
Result<int64_t> GuestClockNs(kernel::Task& t, int clock);

// Converts an absolute guest time on `clock` (REALTIME-like or MONOTONIC-like) into a host
// deadline usable by FutexManager and SleepUntil.
kernel::FutexManager::Deadline HostDeadline(const kernel::Kernel& k, int clock, int64_t ns);

// Sleeps until the host `deadline`; returns false if `t` was interrupted first.
bool SleepUntil(kernel::Task& t, kernel::FutexManager::Deadline deadline);

}  // namespace sbx::syscalls
