// Low-level ptrace operations on one stub thread, shared by the platform, its address spaces and
// its contexts. Every function here must be called by the thread that traces `tid` (except
// Seize, which makes the caller that thread), and only while `tid` is in a ptrace-stop.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "platform/ptrace/stub.h"
#include "sentry/abi/result.h"
#include "sentry/arch/registers.h"

namespace sbx::platform::ptrace {

// The signal Context::Interrupt() sends to a running stub thread. Stubs ignore it (SIG_IGN), so
// a stale one pending on an untraced stub is discarded; traced stubs report it anyway.
inline constexpr int kInterruptSignal = 23;  // SIGURG

// waitpid(tid, __WALL), retried on EINTR. Returns ESRCH if the thread exited or was killed (the
// status is reaped), ECHILD if someone else reaped it.
Result<int> WaitTracee(pid_t tid);

Result<void> GetRegs(pid_t tid, arch::Registers* regs);
Result<void> SetRegs(pid_t tid, const arch::Registers& regs);

// Attaches the caller to `tid`, a stub thread parked in the stub's park loop (or still on its
// way there), with PTRACE_SEIZE and PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD, and leaves it
// in a ptrace-stop at layout.park_resume.
Result<void> SeizeParked(pid_t tid, const StubLayout& layout);

// Points the stopped tracee back at the park loop and detaches it (it sleeps in pause()).
Result<void> ParkAndDetach(pid_t tid, const StubLayout& layout);

// Makes the stopped tracee, a non-leader stub thread, run exit(0) at the inject site (exit, not
// exit_group: the rest of the process lives on) and reaps it. Ok once it is gone.
Result<void> ExitThread(pid_t tid, const StubLayout& layout);

// Runs one system call in the stopped tracee: rip = `site` (a `syscall; int3` pair), rax = nr,
// args in rdi rsi rdx r10 r8 r9, other registers from `base`; continues until the int3 trap at
// `trap_rip` and returns the raw rax. Signals that arrive meanwhile are suppressed. The tracee
// is left stopped at the trap with its registers clobbered.
Result<uint64_t> InjectSyscall(pid_t tid, const arch::Registers& base, uint64_t site,
                               uint64_t trap_rip, uint64_t nr, uint64_t a0 = 0, uint64_t a1 = 0,
                               uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
                               uint64_t a5 = 0);

}  // namespace sbx::platform::ptrace
