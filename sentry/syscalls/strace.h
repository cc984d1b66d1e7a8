// strace-style rendering of guest syscalls, driven by the argument kinds in the syscall table.
//
// A call is rendered in two steps: Begin() decodes the in-parameters (copying path and buffer
// contents from guest memory BEFORE the handler runs, since the handler or another guest thread
// may change that memory), Finish() decodes out-parameters (e.g. the bytes read) and the
// result. The pieces are pure functions of their inputs so they are unit-tested without a Task.
// Internal restart codes are rendered by name ("? ERESTARTSYS (...)"), never as raw numbers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/abi/errno.h"
#include "sentry/kernel/kernel.h"
#include "sentry/syscalls/table.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls::strace {

// strace's default -s: at most this many bytes of a string or buffer are shown.
inline constexpr size_t kMaxStringBytes = 32;
// Longest path copied for display (PATH_MAX).
inline constexpr size_t kMaxPathBytes = 4096;

// Quotes `bytes` like strace: "..." with C escapes (\n, \t, \", \\) and octal for other
// non-printables; `truncated` appends "..." after the closing quote.
std::string QuoteBytes(std::string_view bytes, bool truncated);

// Symbolic decoders. Unknown bits are appended in hex ("O_RDONLY|0x40000000").
std::string OpenFlags(uint64_t flags);
std::string MmapProt(uint64_t prot);
std::string MmapFlags(uint64_t flags);
std::string AtFlags(uint64_t flags);
std::string FutexOp(uint64_t op);
std::string SignalName(int64_t sig);      // "SIGKILL"; "SIGRT_3" (34+); decimal if invalid
std::string ClockName(int64_t clock);     // "CLOCK_MONOTONIC"; decimal if unknown
std::string SigprocmaskHow(int64_t how);  // "SIG_BLOCK"
std::string Whence(int64_t whence);       // "SEEK_SET"
std::string ArchPrctlCode(int64_t code);  // "ARCH_SET_FS"
std::string PrctlOption(int64_t option);  // "PR_SET_NAME"
std::string RlimitResource(int64_t res);  // "RLIMIT_NOFILE"
std::string Octal(uint64_t mode);         // "0644"; "000" for 0
std::string Pointer(uint64_t addr);       // "NULL" or "0x7ffd..."

// strerror(3) text for guest errnos; strace's texts for the internal restart codes.
std::string_view ErrnoText(Errno e);

// " = 3", " = 0x7f00...", " = ?", " = -1 ENOENT (No such file or directory)",
// " = ? ERESTARTSYS (To be restarted if SA_RESTART is set)".
std::string FormatReturn(RetFormat fmt, const kernel::SyscallResult& r);

// One call being traced.
struct Call {
  const SyscallInfo* info = nullptr;  // null for numbers Linux does not define
  kernel::SyscallArgs args;
  std::vector<std::string> rendered;  // per shown argument; empty for out-params until Finish
  std::vector<char> kinds;            // kind character of each shown argument
  std::vector<int> regs;              // argument register index of each shown argument
};

// Decodes the in-parameters of `args`. `mem` may be null (pointers are then shown in hex).
Call Begin(const SyscallInfo* info, const kernel::SyscallArgs& args, usermem::UserMemory* mem);
// "name(arg, ...)" with out-params rendered from `r` (e.g. the bytes a read returned).
std::string RenderCall(Call& call, usermem::UserMemory* mem, const kernel::SyscallResult* r);
// The whole line: "[pid N] name(args) = result\n".
std::string Finish(Call& call, usermem::UserMemory* mem, const kernel::SyscallResult& r,
                   int32_t pid);

}  // namespace sbx::syscalls::strace
