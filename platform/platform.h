// The platform seam: how the sentry runs guest code. The kernel sees only these interfaces; it
// never touches ptrace or KVM directly.
//
// Threading contract (needed by ptrace, where a tracee is bound to one tracer thread):
// - A Context belongs to the host thread that created it; only that thread calls Switch(), and
//   it must also destroy it (ptrace: the stub thread is handed back to the address space).
//   Interrupt() may be called from any thread.
// - One guest thread = one Context. Any number of Contexts (each on its own host thread) may
//   Switch() into the same AddressSpace concurrently: that is how a multi-threaded guest
//   process runs (ptrace: each gets its own stub thread of the address space's stub process).
// - AddressSpace::MapFile/Unmap/Sync may be called from any thread, including a guest thread
//   of that address space between two Switch() calls and a thread of another address space.
//
// When memory changes take effect (guest threads of one address space must agree):
// - MapFile is lazy: it is guaranteed to be in effect for a guest thread no later than its
//   next Switch() into the address space, but a guest thread that is running meanwhile may
//   still see the old mapping for a while. That is enough when MapFile fills a hole (the
//   worst case is one more fault, which the sentry resolves by mapping again).
// - Unmap is synchronous: when it returns, no guest thread of the address space can access the
//   range any more (a thread running guest code faults on its next access).
// - Sync() makes every change made so far synchronous in the same sense. Call it after a
//   MapFile that *replaces* an existing mapping by one with less access or other backing
//   (copy-on-write after fork remapping a writable page read-only, a COW break replacing a
//   shared page by a private copy, mprotect removing rights, a remap of another file range)
//   whenever other guest threads of the address space may be running. Batch first: several
//   MapFile calls then one Sync() cost one round trip.
// Both are cheap when no other guest thread of the address space is inside Switch() (the
// common, single-threaded case): nothing can observe the old mappings, so the changes stay
// queued until the next Switch() applies them in one batch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sentry/abi/result.h"
#include "sentry/arch/registers.h"
#include "sentry/usermem/usermem.h"

namespace sbx::platform {

using usermem::UserAddr;

// Page protections (same bits as PROT_READ/PROT_WRITE/PROT_EXEC).
struct Prot {
  bool read = false, write = false, exec = false;
  int ToLinux() const { return (read ? 1 : 0) | (write ? 2 : 0) | (exec ? 4 : 0); }
  static Prot FromLinux(int p) { return Prot{(p & 1) != 0, (p & 2) != 0, (p & 4) != 0}; }
  bool operator==(const Prot&) const = default;
};

// The sandbox's memory file: one memfd backing all guest anonymous memory, mapped whole into
// the sentry (`base`) for copy-in/out. The platform maps ranges of it into guest address spaces.
struct MemoryFileInfo {
  int fd = -1;         // host memfd
  uint64_t size = 0;   // bytes reserved (sparse)
};

class AddressSpace {
 public:
  virtual ~AddressSpace() = default;
  // Maps [addr, addr+len) to memory-file range [offset, offset+len) with `prot`, replacing any
  // existing mapping there (MAP_SHARED|MAP_FIXED semantics). Page-aligned arguments.
  virtual Result<void> MapFile(UserAddr addr, uint64_t len, uint64_t memfile_offset,
                               Prot prot) = 0;
  // Removes any mapping in [addr, addr+len). Page-aligned arguments. In effect for every guest
  // thread of the address space when it returns (see the file comment).
  virtual Result<void> Unmap(UserAddr addr, uint64_t len) = 0;
  // Returns once every MapFile/Unmap made before the call is in effect for every guest thread
  // of the address space (see the file comment). ESRCH if the address space is dead.
  virtual Result<void> Sync() { return Ok(); }
  // Destroys the host side (stub process / page tables). Further calls fail.
  virtual void Release() = 0;
};

enum class SwitchReason {
  kSyscall,      // guest executed `syscall`; number in regs.orig_rax, args per the ABI
  kFault,        // memory fault: see SwitchResult fault fields (SIGSEGV/SIGBUS)
  kSignal,       // other synchronous exception: SIGILL, SIGFPE, SIGTRAP (int3), ...
  kInterrupted,  // Interrupt() was called, or the host asked us to stop
};

struct SwitchResult {
  SwitchReason reason = SwitchReason::kInterrupted;
  int signo = 0;          // kFault/kSignal: the host signal number the exception raised
  int si_code = 0;        // kFault/kSignal: the host si_code (e.g. SEGV_MAPERR)
  uint64_t fault_addr = 0;  // kFault/kSignal: si_addr
};

// One guest thread's execution vehicle.
class Context {
 public:
  virtual ~Context() = default;
  // Runs the guest thread with `regs` in `as` until it makes a syscall, faults, or is
  // interrupted; `regs` is updated with the guest's state at that point. Returns an error only
  // if the platform itself failed (stub died): the caller must kill the guest thread.
  virtual Result<SwitchResult> Switch(AddressSpace& as, arch::Registers& regs) = 0;
  // Makes a running or future Switch() return kInterrupted promptly. Thread-safe.
  virtual void Interrupt() = 0;
  // Full FPU/XSAVE state of the guest thread as of the last Switch() return (for signal
  // frames). Implementations that do not track it return ENOSYS.
  virtual Result<void> GetFPState(arch::FPState* out) { return Errno::kENOSYS; }
  virtual Result<void> SetFPState(const arch::FPState& in) { return Errno::kENOSYS; }
};

class Platform {
 public:
  virtual ~Platform() = default;
  virtual std::string Name() const = 0;
  // Guest addresses must satisfy min_user_address() <= addr < max_user_address().
  virtual uint64_t min_user_address() const { return 0x10000; }
  virtual uint64_t max_user_address() const = 0;
  virtual Result<std::unique_ptr<AddressSpace>> NewAddressSpace() = 0;
  // A context bound to the calling host thread.
  virtual Result<std::unique_ptr<Context>> NewContext() = 0;
};

// Creates the ptrace platform over `memfile`. Must be called while the process is still
// single-threaded (it forks the template stub process). Returns nullptr and logs on failure.
std::unique_ptr<Platform> NewPtracePlatform(const MemoryFileInfo& memfile, std::string* error);

}  // namespace sbx::platform
