// The ptrace platform: one stub process per address space, one stub thread per (Context,
// AddressSpace), guest system calls trapped with PTRACE_SYSEMU. See README.md in this folder.
//
// Invariants:
// - The template stub (forked once, while the sentry is single-threaded) never runs guest
//   code; it is seized only under Shared::template_mu to inject `clone`, then parked and
//   detached again, so any sentry thread can create address spaces.
// - A stub thread is traced by at most one sentry thread: the owner thread of the Context that
//   claimed it (StubProcess, stub_process.h). Only that thread issues ptrace requests for it.
// - Memory operations are queued on the StubProcess and applied, in order, by a tracer before
//   any guest instruction of the process runs after them; Unmap and Sync also make sure no
//   guest thread that is running keeps using the old mappings (stub_process.h).
//
// Lock order: Shared::template_mu, then StubProcess's locks. None is held across a Switch's
// wait for the guest.
#include "platform/ptrace/ptrace_platform.h"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <elf.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "platform/ptrace/stub.h"
#include "platform/ptrace/stub_process.h"
#include "platform/ptrace/tracee.h"

namespace sbx::platform::ptrace {
namespace {

long Ptrace(int req, pid_t tid, uint64_t addr, uint64_t data) {
  return ::ptrace(static_cast<__ptrace_request>(req), tid, reinterpret_cast<void*>(addr),
                  reinterpret_cast<void*>(data));
}

class PtraceAddressSpace : public AddressSpace {
 public:
  explicit PtraceAddressSpace(std::shared_ptr<StubProcess> p) : proc_(std::move(p)) {}
  ~PtraceAddressSpace() override { proc_->Kill(); }

  Result<void> MapFile(UserAddr addr, uint64_t len, uint64_t memfile_offset,
                       Prot prot) override {
    TRY(CheckRange(addr.value(), len));
    uint64_t end;
    if (memfile_offset % usermem::kPageSize != 0 ||
        __builtin_add_overflow(memfile_offset, len, &end) ||
        end > proc_->shared()->memfile.size) {
      return Errno::kEINVAL;
    }
    return proc_->Queue(Op{Op::kMap, addr.value(), len, memfile_offset, prot.ToLinux()});
  }

  Result<void> Unmap(UserAddr addr, uint64_t len) override {
    TRY(CheckRange(addr.value(), len));
    TRY(proc_->Queue(Op{Op::kUnmap, addr.value(), len, 0, 0}));
    return proc_->Sync();
  }

  Result<void> Sync() override { return proc_->Sync(); }

  void Release() override { proc_->Kill(); }

  const std::shared_ptr<StubProcess>& proc() const { return proc_; }

 private:
  // The stub region and everything above it are never guest-mappable.
  Result<void> CheckRange(uint64_t addr, uint64_t len) const {
    uint64_t end;
    if (len == 0 || addr % usermem::kPageSize != 0 || len % usermem::kPageSize != 0 ||
        __builtin_add_overflow(addr, len, &end) || end > proc_->shared()->layout.start) {
      return Errno::kEINVAL;
    }
    return Ok();
  }

  std::shared_ptr<StubProcess> proc_;
};

constexpr uint64_t kFcwInit = 0x37f;
constexpr uint32_t kMxcsrInit = 0x1f80;

class PtraceContext : public Context {
 public:
  explicit PtraceContext(std::shared_ptr<Shared> s)
      : shared_(std::move(s)), owner_(CurrentTid()) {
    CPU_ZERO(&allowed_cpus_);
    if (sched_getaffinity(0, sizeof(allowed_cpus_), &allowed_cpus_) != 0) {
      for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &allowed_cpus_);
    }
  }

  ~PtraceContext() override {
    const bool mine = CurrentTid() == owner_;
    if (self_pinned_ && mine) sched_setaffinity(0, sizeof(allowed_cpus_), &allowed_cpus_);
    // Give our stub threads back: parked as spares for the next Context, or exited.
    for (const Attached& a : attached_) a.proc->ReleaseThread(this, a.tid, mine);
  }

  Result<SwitchResult> Switch(AddressSpace& as, arch::Registers& regs) override {
    if (CurrentTid() != owner_) return Errno::kEPERM;
    auto* pas = dynamic_cast<PtraceAddressSpace*>(&as);
    if (pas == nullptr) return Errno::kEINVAL;
    StubProcess* proc = pas->proc().get();
    if (proc->dead()) return Errno::kESRCH;
    const pid_t tid = TRY(Attach(pas->proc()));
    // From here until the store of 0, Sync() counts on us to apply the op queue (see
    // stub_process.h): before the guest runs, when kicked, and before we return.
    running_.store(RunningWord(proc->pid(), tid));
    Result<SwitchResult> res = Enter(proc, tid, regs);
    running_.store(0);
    while (res.ok() && proc->ops_pending()) {
      if (Result<void> a = proc->ApplyOps(tid); !a.ok()) res = a.error();
    }
    if (!res.ok()) {
      if (res.error() == Errno::kESRCH || res.error() == Errno::kECHILD) proc->MarkDead();
      if (proc->dead()) return Errno::kESRCH;  // e.g. Release raced with us and reaped
    }
    return res;
  }

  void Interrupt() override {
    interrupt_pending_.store(true);
    uint64_t v = running_.load();
    if (v != 0) {
      syscall(SYS_tgkill, static_cast<pid_t>(v >> 32), static_cast<pid_t>(v & 0xffffffff),
              kInterruptSignal);
    }
  }

  Result<void> GetFPState(arch::FPState* out) override {
    if (CurrentTid() != owner_) return Errno::kEPERM;
    if (last_tid_ == 0) {
      if (!fp_pending_) InitFP(&pending_fp_, TRY(XstateSize(0)));
      *out = pending_fp_;
      return Ok();
    }
    return ReadFP(last_tid_, out);
  }

  Result<void> SetFPState(const arch::FPState& in) override {
    if (CurrentTid() != owner_) return Errno::kEPERM;
    if (in.size < 512 || in.size > sizeof(in.data)) return Errno::kEINVAL;
    if (last_tid_ == 0) {
      pending_fp_ = in;
      fp_pending_ = true;
      return Ok();
    }
    return WriteFP(last_tid_, in);
  }

 private:
  // A stub process in which this context claimed a thread.
  struct Attached {
    std::shared_ptr<StubProcess> proc;
    pid_t tid;
  };

  // The stub thread of `p` this context traces, claiming one on first use.
  Result<pid_t> Attach(const std::shared_ptr<StubProcess>& p) {
    if (last_attached_ < attached_.size() && attached_[last_attached_].proc == p) {
      return attached_[last_attached_].tid;
    }
    for (size_t i = 0; i < attached_.size(); ++i) {
      if (attached_[i].proc == p) {
        last_attached_ = i;
        return attached_[i].tid;
      }
    }
    // Forget address spaces that were released meanwhile (a task that exec'ed many times).
    std::erase_if(attached_, [&](const Attached& a) {
      if (!a.proc->killed()) return false;
      a.proc->ReleaseThread(this, a.tid, true);
      return true;
    });
    Result<pid_t> claimed = p->ClaimThread(this, &running_);
    if (!claimed.ok()) return claimed.error();  // nothing claimed: a later Switch may retry
    const pid_t tid = *claimed;
    last_attached_ = attached_.size();
    attached_.push_back(Attached{p, tid});
    if (!fp_pending_) {
      // A stub thread carries the FPU state of whatever ran on it before (the sentry thread
      // that forked the template, the thread it was cloned from, a previous Context): start
      // the guest from the architectural init state instead.
      Result<uint32_t> size = XstateSize(tid);
      Result<void> r = size.ok() ? Result<void>(Ok()) : Result<void>(size.error());
      if (r.ok()) {
        arch::FPState init;
        InitFP(&init, *size);
        r = WriteFP(tid, init);
      }
      if (!r.ok()) {
        p->MarkDead();
        return Errno::kESRCH;
      }
    }
    return tid;
  }

  // Switch() between publishing and clearing the running word.
  Result<SwitchResult> Enter(StubProcess* proc, pid_t tid, arch::Registers& regs) {
    // Loop: an injection swallows signals, including a kick for an op queued meanwhile.
    while (proc->ops_pending()) TRY(proc->ApplyOps(tid));
    if (fp_pending_) {
      TRY(WriteFP(tid, pending_fp_));
      fp_pending_ = false;
    }
    last_tid_ = tid;
    PinToMyCpu(tid);

    arch::Registers r = regs;
    if (r.cs == 0) r.cs = arch::kUserCS;
    if (r.ss == 0) r.ss = arch::kUserDS;
    r.orig_rax = ~0ull;  // never let the host apply syscall-restart fix-ups to guest state
    if (auto s = SetRegs(tid, r); !s.ok()) {
      return s.error() == Errno::kESRCH ? s.error() : Errno::kEFAULT;
    }
    // The running word is published (seq_cst) before the flag is consumed: either we see the
    // flag here or Interrupt() sees the word and signals the thread.
    if (interrupt_pending_.exchange(false)) return SwitchResult{SwitchReason::kInterrupted};
    return Run(proc, tid, regs);
  }

  void PinToMyCpu(pid_t tid) {
    // The tracer is pinned too: otherwise the wakeup after each stop tends to land on another
    // idle CPU, the stub is re-pinned after it, and every round trip crosses CPUs. Measured on
    // a getppid() loop here: ~50-68 us/call with only the stub following the tracer, ~13-14 us
    // with both on one CPU. Every kRepinEvery switches the tracer is released for one switch
    // so the scheduler can rebalance busy tasks, then pinned wherever it runs.
    if (++switches_since_pin_ >= kRepinEvery) {
      switches_since_pin_ = 0;
      if (self_pinned_) {
        sched_setaffinity(0, sizeof(allowed_cpus_), &allowed_cpus_);
        self_pinned_ = false;
        return;
      }
    }
    if (!self_pinned_) {
      int here = sched_getcpu();
      if (here >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(here, &one);
        self_pinned_ = sched_setaffinity(0, sizeof(one), &one) == 0;
      }
    }
    int cpu = sched_getcpu();
    if (cpu < 0 || (tid == pinned_tid_ && cpu == pinned_cpu_)) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(tid, sizeof(set), &set) == 0) {
      pinned_tid_ = tid;
      pinned_cpu_ = cpu;
    }
  }

  // Resumes the stub with PTRACE_SYSEMU until something the sentry must handle happens.
  Result<SwitchResult> Run(StubProcess* proc, pid_t tid, arch::Registers& regs) {
    for (;;) {
      if (Ptrace(PTRACE_SYSEMU, tid, 0, 0) != 0) return Errno::kESRCH;
      int status = TRY(WaitTracee(tid));
      const int sig = WSTOPSIG(status);
      if (sig == (SIGTRAP | 0x80)) {
        TRY(GetRegs(tid, &regs));
        return SwitchResult{SwitchReason::kSyscall};
      }
      if ((status >> 16) != 0) continue;  // group-stop / PTRACE_INTERRUPT trap: resume
      siginfo_t si{};
      if (Ptrace(PTRACE_GETSIGINFO, tid, 0, reinterpret_cast<uint64_t>(&si)) != 0) {
        return Errno::kESRCH;
      }
      if (si.si_code <= 0) {
        // Sent by a process (kill/tgkill/sigqueue), not raised by the guest's instructions.
        if (sig == kInterruptSignal && si.si_code == SI_TKILL &&
            si.si_pid == shared_->sentry_pid) {
          if (interrupt_pending_.exchange(false)) {
            TRY(GetRegs(tid, &regs));
            return SwitchResult{SwitchReason::kInterrupted};
          }
          if (proc->ops_pending()) {
            // A kick from Sync(): apply the queue here and resume the guest where it was.
            arch::Registers saved;
            TRY(GetRegs(tid, &saved));
            while (proc->ops_pending()) TRY(proc->ApplyOps(tid));
            TRY(SetRegs(tid, saved));
            // The injections swallowed any signal meanwhile, Interrupt()'s included.
            if (interrupt_pending_.exchange(false)) {
              regs = saved;
              return SwitchResult{SwitchReason::kInterrupted};
            }
          }
        }
        continue;  // stale interrupt or foreign signal: suppressed by the next resume
      }
      TRY(GetRegs(tid, &regs));
      SwitchResult res;
      res.reason = (sig == SIGSEGV || sig == SIGBUS) ? SwitchReason::kFault
                                                     : SwitchReason::kSignal;
      res.signo = sig;
      res.si_code = si.si_code;
      res.fault_addr = reinterpret_cast<uint64_t>(si.si_addr);
      return res;
    }
  }

  // Size of the host's user XSAVE area (0 if XSTATE regsets are unusable here); probes `tid`
  // the first time, or the template-independent CPUID answer when no thread is at hand.
  Result<uint32_t> XstateSize(pid_t tid) {
    if (xstate_size_ >= 0) return static_cast<uint32_t>(xstate_size_);
    if (tid == 0) return 512;  // not probed yet: fall back to FXSAVE layout
    std::vector<uint8_t> buf(1 << 16);
    iovec iov{buf.data(), buf.size()};
    if (Ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, reinterpret_cast<uint64_t>(&iov)) == 0 &&
        iov.iov_len <= sizeof(arch::FPState::data)) {
      xstate_size_ = static_cast<int>(iov.iov_len);
    } else {
      xstate_size_ = 0;
    }
    return static_cast<uint32_t>(xstate_size_);
  }

  // The architectural initial FPU state (FNINIT + default MXCSR), in XSAVE layout of `size`
  // bytes (0 or 512: legacy FXSAVE layout).
  static void InitFP(arch::FPState* s, uint32_t size) {
    memset(s->data, 0, sizeof(s->data));
    uint16_t fcw = kFcwInit;
    memcpy(s->data + 0, &fcw, 2);
    memcpy(s->data + 24, &kMxcsrInit, 4);
    s->size = size > 512 ? size : 512;
    if (size > 512) {
      uint64_t xstate_bv = 3;  // x87 and SSE hold the values above; the rest is in init state
      memcpy(s->data + 512, &xstate_bv, 8);
    }
  }

  Result<void> ReadFP(pid_t tid, arch::FPState* out) {
    uint32_t size = TRY(XstateSize(tid));
    if (size > 512) {
      iovec iov{out->data, size};
      if (Ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, reinterpret_cast<uint64_t>(&iov)) != 0) {
        return Errno::kESRCH;
      }
      out->size = static_cast<uint32_t>(iov.iov_len);
      return Ok();
    }
    if (Ptrace(PTRACE_GETFPREGS, tid, 0, reinterpret_cast<uint64_t>(out->data)) != 0) {
      return Errno::kESRCH;
    }
    out->size = 512;
    return Ok();
  }

  Result<void> WriteFP(pid_t tid, const arch::FPState& in) {
    uint32_t size = TRY(XstateSize(tid));
    if (size > 512 && in.size == size) {
      arch::FPState copy = in;  // the kernel does not write through iov, but wants non-const
      iovec iov{copy.data, size};
      if (Ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, reinterpret_cast<uint64_t>(&iov)) != 0) {
        return errno == ESRCH ? Errno::kESRCH : Errno::kEINVAL;
      }
      return Ok();
    }
    if (in.size != 512 && in.size != size) return Errno::kEINVAL;
    if (Ptrace(PTRACE_SETFPREGS, tid, 0, reinterpret_cast<uint64_t>(in.data)) != 0) {
      return errno == ESRCH ? Errno::kESRCH : Errno::kEINVAL;
    }
    return Ok();
  }

  std::shared_ptr<Shared> shared_;
  const pid_t owner_;
  // Stub processes in which this context claimed a thread (released ones are pruned lazily).
  std::vector<Attached> attached_;
  size_t last_attached_ = 0;  // index of the last one used by Switch (a one-entry cache)
  std::atomic<bool> interrupt_pending_{false};
  std::atomic<uint64_t> running_{0};  // (tgid << 32) | tid of the stub in a Switch, or 0
  pid_t last_tid_ = 0;               // stub thread of the last Switch (FP state lives there)
  pid_t pinned_tid_ = 0;
  int pinned_cpu_ = -1;
  static constexpr int kRepinEvery = 4096;
  cpu_set_t allowed_cpus_;  // the tracer's affinity when the context was made
  bool self_pinned_ = false;
  int switches_since_pin_ = 0;
  int xstate_size_ = -1;
  bool fp_pending_ = false;
  arch::FPState pending_fp_;
};

class PtracePlatform : public Platform {
 public:
  explicit PtracePlatform(std::shared_ptr<Shared> s) : shared_(std::move(s)) {}
  ~PtracePlatform() override {
    kill(shared_->template_pid, SIGKILL);
    int status;
    while (waitpid(shared_->template_pid, &status, __WALL) < 0 && errno == EINTR) {
    }
  }

  std::string Name() const override { return "ptrace"; }
  uint64_t max_user_address() const override { return shared_->layout.start; }

  Result<std::unique_ptr<AddressSpace>> NewAddressSpace() override {
    const StubLayout& L = shared_->layout;
    const pid_t t = shared_->template_pid;
    absl::MutexLock lock(&shared_->template_mu);
    TRY(SeizeParked(t, L));
    arch::Registers base;
    Result<uint64_t> child = GetRegs(t, &base).ok()
        ? InjectSyscall(t, base, L.clone, L.clone_trap, SYS_clone, CLONE_PARENT | SIGCHLD)
        : Result<uint64_t>(Errno::kESRCH);
    Result<void> detached = ParkAndDetach(t, L);
    if (!child.ok()) return child.error();
    if (static_cast<int64_t>(*child) < 0) {
      return static_cast<Errno>(-static_cast<int64_t>(*child));
    }
    auto proc = std::make_shared<StubProcess>(shared_, static_cast<pid_t>(*child));
    if (!detached.ok()) {
      proc->Kill();
      return Errno::kESRCH;
    }
    return std::unique_ptr<AddressSpace>(new PtraceAddressSpace(std::move(proc)));
  }

  Result<std::unique_ptr<Context>> NewContext() override {
    return std::unique_ptr<Context>(new PtraceContext(shared_));
  }

  pid_t template_pid() const { return shared_->template_pid; }

 private:
  std::shared_ptr<Shared> shared_;
};

constexpr uint32_t kRseqSig = 0x53053053;  // glibc's RSEQ_SIG on x86

// Kernel layout of struct sigaction for rt_sigaction.
struct KernelSigaction {
  uint64_t handler, flags, restorer, mask;
};

// Runs in the forked child, which is a copy of a single-threaded sentry: raw system calls only,
// then into the stub, which never returns.
[[noreturn]] void TemplateChild(int memfd, pid_t sentry_pid, uint64_t entry) {
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (syscall(SYS_getppid) != sentry_pid) syscall(SYS_exit_group, 112);
  syscall(SYS_setsid);
  // glibc registered an rseq area in the (soon unmapped) TLS; the kernel would write to it on
  // preemption and raise SIGSEGV once it is gone. Unregister it (glibc registers 32 bytes,
  // or __rseq_size if larger).
  if (__rseq_size > 0) {
    void* area = static_cast<char*>(__builtin_thread_pointer()) + __rseq_offset;
    if (syscall(SYS_rseq, area, __rseq_size < 32 ? 32 : __rseq_size, RSEQ_FLAG_UNREGISTER,
                kRseqSig) != 0 &&
        syscall(SYS_rseq, area, __rseq_size, RSEQ_FLAG_UNREGISTER, kRseqSig) != 0) {
      syscall(SYS_exit_group, 115);
    }
  }
  if (memfd != kStubMemFd && syscall(SYS_dup2, memfd, kStubMemFd) != kStubMemFd) {
    syscall(SYS_exit_group, 113);
  }
  syscall(SYS_close_range, 0, kStubMemFd - 1, 0);
  syscall(SYS_close_range, kStubMemFd + 1, ~0u, 0);
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    KernelSigaction sa{};
    sa.handler = sig == kInterruptSignal ? reinterpret_cast<uint64_t>(SIG_IGN)
                                         : reinterpret_cast<uint64_t>(SIG_DFL);
    syscall(SYS_rt_sigaction, sig, &sa, nullptr, 8);
  }
  uint64_t empty = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, 8);
  reinterpret_cast<void (*)()>(entry)();
  syscall(SYS_exit_group, 114);
  __builtin_unreachable();
}

}  // namespace

pid_t StubPid(AddressSpace& as) {
  auto* p = dynamic_cast<PtraceAddressSpace*>(&as);
  return p ? p->proc()->pid() : -1;
}

pid_t TemplatePid(Platform& p) {
  auto* pp = dynamic_cast<PtracePlatform*>(&p);
  return pp ? pp->template_pid() : -1;
}

}  // namespace sbx::platform::ptrace

namespace sbx::platform {

std::unique_ptr<Platform> NewPtracePlatform(const MemoryFileInfo& memfile, std::string* error) {
  using namespace ptrace;
  auto shared = std::make_shared<Shared>();
  shared->memfile = memfile;
  shared->sentry_pid = getpid();
  if (memfile.fd < 0) {
    *error = "ptrace platform: no memory file";
    return nullptr;
  }
  if (!InstallStub(shared->sentry_pid, &shared->layout, error)) return nullptr;
  // A raw fork: no atfork handlers run, and the child only makes raw system calls.
  long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    *error = std::string("ptrace platform: fork of the template stub: ") + strerror(errno);
    return nullptr;
  }
  if (pid == 0) TemplateChild(memfile.fd, shared->sentry_pid, shared->layout.entry);
  shared->template_pid = static_cast<pid_t>(pid);
  // Wait until the template has set itself up and parked, proving the stub works.
  Result<void> r = SeizeParked(shared->template_pid, shared->layout);
  if (r.ok()) r = ParkAndDetach(shared->template_pid, shared->layout);
  if (!r.ok()) {
    kill(shared->template_pid, SIGKILL);
    int status = 0;
    while (waitpid(shared->template_pid, &status, __WALL) > 0 && !WIFEXITED(status) &&
           !WIFSIGNALED(status)) {
    }
    *error = std::string("ptrace platform: template stub did not start (") +
             std::string(ErrnoName(r.error())) + ", status " + std::to_string(status) + ")";
    return nullptr;
  }
  return std::make_unique<PtracePlatform>(std::move(shared));
}

}  // namespace sbx::platform
