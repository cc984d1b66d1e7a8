// The ptrace stub: machine code generated at start-up (xbyak) that runs in every stub process.
//
// Layout (one page, read+exec, at `start`, the first page of the stub region
// [start, start + kStubRegionSize); `start` is 0x7ffffffe0000 unless that range is taken in
// the sentry, in which case the next free 64 KiB slot below is used. Guest mappings must stay
// below `start`: the platform's max_user_address() is `start`):
//   entry      template initialisation: munmap everything but the stub region (host text,
//              heap, stack, vdso, vvar), PR_SET_NO_NEW_PRIVS, install the seccomp filter, park.
//   park       `pause()` in a loop. Untraced stubs wait here to be seized (PTRACE_SEIZE +
//              PTRACE_INTERRUPT); a tracer that lets a stub go points rip here first.
//   inject     `syscall; int3; jmp park`: injected system calls (mmap, munmap, ...).
//   clone      `syscall` (clone of a process, injected into the template); the parent then
//              hits `int3`, the child (the new stub process's leader) sets
//              PR_SET_PDEATHSIG(SIGKILL), checks its parent is still the sentry, clones one
//              *birth spare* thread (kStubThreadCloneFlags) that parks, keeps the spare's tid
//              (or -errno) in r12 for the sentry to read when it first seizes the leader, and
//              parks.
//   clone_thread  `syscall` (clone of a thread, injected into a traced stub thread); the parent
//              then hits `int3`, the child parks at once (no PDEATHSIG or parent check: those
//              belong to the process, set by its leader).
//   data       the seccomp program (struct sock_fprog + filter), read-only.
// The seccomp filter kills the process for any system call that is not made by one of the
// stub's own `syscall` instructions or not made with the x86-64 ABI. Guest system calls never
// reach it: PTRACE_SYSEMU stops and skips them before seccomp runs.
//
// The stub never uses a stack: the host stack is unmapped and rsp is meaningless until the
// sentry sets guest registers.
#pragma once

#include <sched.h>

#include <cstdint>
#include <string>

namespace sbx::platform::ptrace {

inline constexpr uint64_t kStubPreferredStart = 0x7ffffffe0000;  // region ends 0x7fffffff0000
inline constexpr uint64_t kStubRegionSize = 0x10000;  // reserved; only the first page is used
inline constexpr uint64_t kTaskSize = 0x7ffffffff000;  // 47-bit user address space limit
// The memory file is dup'ed to this descriptor in every stub; it is the stub's only fd.
inline constexpr int kStubMemFd = 3;
// Every extra stub thread is created with these flags: a thread of the same process, sharing
// everything; no stack (the child runs stub code only), no CLONE_PTRACE (it starts untraced).
inline constexpr uint64_t kStubThreadCloneFlags = CLONE_VM | CLONE_FS | CLONE_FILES |
                                                  CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;

// Addresses of the generated stub, all inside [start, start + page).
struct StubLayout {
  uint64_t start = 0;        // first byte of the stub region (== max user address)
  uint64_t entry = 0;        // template initialisation entry point
  uint64_t park = 0;         // the park loop (rip to set before letting a stub go)
  uint64_t park_resume = 0;  // rip of a stub interrupted while parked in pause()
  uint64_t inject = 0;       // `syscall; int3`
  uint64_t inject_trap = 0;  // rip after the inject `int3` (SIGTRAP reported with this rip)
  uint64_t clone = 0;        // `syscall` for the injected clone
  uint64_t clone_trap = 0;   // rip after the parent's `int3`
  uint64_t clone_thread = 0;       // `syscall` for an injected thread clone
  uint64_t clone_thread_trap = 0;  // rip after the parent's `int3`
};

// Maps the stub page into the calling (still single-threaded) process at the preferred
// address, or the next free 64 KiB-aligned slot below it, and fills it with code that embeds
// `sentry_pid` (the expected parent of every stub). Returns false with `*error` set on failure.
bool InstallStub(int sentry_pid, StubLayout* layout, std::string* error);

}  // namespace sbx::platform::ptrace
