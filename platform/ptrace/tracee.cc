// Low-level ptrace operations on stub threads (see tracee.h).
#include "platform/ptrace/tracee.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>

namespace sbx::platform::ptrace {
namespace {

Errno HostErr() { return errno == ESRCH ? Errno::kESRCH : ErrnoFromHost(errno); }

long Ptrace(int req, pid_t tid, uint64_t addr, uint64_t data) {
  return ::ptrace(static_cast<__ptrace_request>(req), tid, reinterpret_cast<void*>(addr),
                  reinterpret_cast<void*>(data));
}

}  // namespace

Result<int> WaitTracee(pid_t tid) {
  int status = 0;
  for (;;) {
    pid_t r = waitpid(tid, &status, __WALL);
    if (r == tid) break;
    if (r < 0 && errno == EINTR) continue;
    return r < 0 ? HostErr() : Errno::kESRCH;
  }
  if (WIFEXITED(status) || WIFSIGNALED(status)) return Errno::kESRCH;
  return status;
}

Result<void> GetRegs(pid_t tid, arch::Registers* regs) {
  if (Ptrace(PTRACE_GETREGS, tid, 0, reinterpret_cast<uint64_t>(regs)) != 0) return HostErr();
  return Ok();
}

Result<void> SetRegs(pid_t tid, const arch::Registers& regs) {
  if (Ptrace(PTRACE_SETREGS, tid, 0, reinterpret_cast<uint64_t>(&regs)) != 0) return HostErr();
  return Ok();
}

Result<void> SeizeParked(pid_t tid, const StubLayout& layout) {
  if (Ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) != 0) {
    return HostErr();
  }
  // A fresh stub may still be running its set-up code (prctl, getppid) on its way to the park
  // loop: let it run until it is stopped inside pause(). It needs a few microseconds.
  for (int attempt = 0; attempt < 20000; ++attempt) {
    if (Ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0) return HostErr();
    TRY(WaitTracee(tid));
    arch::Registers regs;
    TRY(GetRegs(tid, &regs));
    // Parked: asleep in pause(), or detached at the loop head and not yet run.
    if (regs.rip == layout.park_resume || regs.rip == layout.park) return Ok();
    if (Ptrace(PTRACE_CONT, tid, 0, 0) != 0) return HostErr();
    timespec ts{0, 50000};
    nanosleep(&ts, nullptr);
  }
  return Errno::kETIMEDOUT;
}

Result<void> ParkAndDetach(pid_t tid, const StubLayout& layout) {
  arch::Registers regs;
  TRY(GetRegs(tid, &regs));
  regs.rip = layout.park;
  regs.orig_rax = ~0ull;  // no syscall-restart fix-ups on the way out
  TRY(SetRegs(tid, regs));
  if (Ptrace(PTRACE_DETACH, tid, 0, 0) != 0) return HostErr();
  return Ok();
}

Result<void> ExitThread(pid_t tid, const StubLayout& layout) {
  arch::Registers regs;
  TRY(GetRegs(tid, &regs));
  regs.rip = layout.inject;
  regs.rax = SYS_exit;
  regs.rdi = 0;
  regs.orig_rax = ~0ull;
  TRY(SetRegs(tid, regs));
  if (Ptrace(PTRACE_CONT, tid, 0, 0) != 0) return HostErr();
  for (;;) {
    // A traced thread's exit is reported to its tracer (us), which reaps it here.
    Result<int> status = WaitTracee(tid);
    if (!status.ok()) return status.error() == Errno::kESRCH ? Ok() : Result<void>(status.error());
    // A stale interrupt signal or an interrupt trap on the way: suppress and go on.
    if (Ptrace(PTRACE_CONT, tid, 0, 0) != 0) return HostErr();
  }
}

Result<uint64_t> InjectSyscall(pid_t tid, const arch::Registers& base, uint64_t site,
                               uint64_t trap_rip, uint64_t nr, uint64_t a0, uint64_t a1,
                               uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
  arch::Registers r = base;
  r.rip = site;
  r.rax = nr;
  r.orig_rax = ~0ull;
  r.rdi = a0;
  r.rsi = a1;
  r.rdx = a2;
  r.r10 = a3;
  r.r8 = a4;
  r.r9 = a5;
  TRY(SetRegs(tid, r));
  if (Ptrace(PTRACE_CONT, tid, 0, 0) != 0) return HostErr();
  for (;;) {
    int status = TRY(WaitTracee(tid));
    int sig = WSTOPSIG(status);
    if (sig == SIGTRAP && (status >> 16) == 0) {
      TRY(GetRegs(tid, &r));
      if (r.rip != trap_rip) return Errno::kEFAULT;  // not our int3: the stub is corrupt
      return r.rax;
    }
    if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGTRAP || sig == SIGFPE) {
      if ((status >> 16) == 0) {
        siginfo_t si{};
        if (Ptrace(PTRACE_GETSIGINFO, tid, 0, reinterpret_cast<uint64_t>(&si)) == 0 &&
            si.si_code > 0) {
          return Errno::kEFAULT;  // the injected code itself faulted
        }
      }
    }
    // Group-stop/interrupt traps and asynchronous signals (a stale interrupt): suppress.
    if (Ptrace(PTRACE_CONT, tid, 0, 0) != 0) return HostErr();
  }
}

}  // namespace sbx::platform::ptrace
