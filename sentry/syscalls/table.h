// The x86-64 syscall table as data: for every syscall number Linux defines (0..334 and
// 424..469; 335..423 are unused on x86-64) one entry with its name, handler, support level,
// a note, and how strace should print its arguments and result.
//
// Invariants (checked by table_test): every defined number appears exactly once, names are
// unique, kFull/kPartial entries have a handler, kError entries have none plus an errno and a
// note saying why. The strace output, the "unimplemented syscall" log line and
// docs/syscalls.md are all generated from this table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sentry/abi/errno.h"
#include "sentry/kernel/kernel.h"

namespace sbx::syscalls {

using Handler = kernel::SyscallResult (*)(kernel::Task&, const kernel::SyscallArgs&);

enum class Support : uint8_t {
  kFull,     // behaves like Linux
  kPartial,  // implemented; the note says what is missing
  kError,    // not implemented: always fails with `error` (ENOSYS, or EPERM like gVisor)
};

// How strace prints a return value.
enum class RetFormat : uint8_t {
  kInt,   // signed decimal
  kHex,   // 0x... (mmap, brk)
  kNone,  // "?" (exit, exit_group: they do not return)
  kOct,   // octal (umask)
};

// Argument kinds, one character each in SyscallInfo::args (a string literal keeps the table
// compact). Unknown characters are rejected by table_test.
//   i int            l long           u unsigned       z size_t         x hex
//   P pointer        f fd             d dirfd (AT_FDCWD)  p path (in)   s string (in)
//   b buffer in, length = next arg     o buffer out, length = return value
//   F open flags     M mode only if the previous arg has O_CREAT/O_TMPFILE    m mode (octal)
//   r mmap prot      R mmap flags     g signal         c clock id       t futex op
//   a AT_* flags     h sigprocmask how                 w lseek whence   A arch_prctl code
//   C prctl option   k rlimit resource
inline constexpr std::string_view kArgKinds = "iluzxPfdpsboFMmrRgctahwACk";

struct SyscallInfo {
  int nr;
  const char* name;
  Handler handler;
  Support support;
  Errno error;       // the errno of a kError entry (ENOSYS unless the note says otherwise)
  const char* note;  // what is missing (kPartial) or why it is absent (kError)
  const char* args;  // one kind character per argument, see above
  RetFormat ret;
};

inline constexpr int kMaxSyscallNr = 469;

// The entry for `nr`, or nullptr for a number x86-64 Linux does not define.
const SyscallInfo* LookupSyscall(uint64_t nr);
// The entry named `name` (e.g. "openat"), or nullptr.
const SyscallInfo* LookupSyscallByName(std::string_view name);
// All entries in number order.
const SyscallInfo* SyscallTableBegin();
const SyscallInfo* SyscallTableEnd();

std::string_view SupportName(Support s);

// docs/syscalls.md: the compatibility table generated from the entries.
std::string RenderSyscallTableMarkdown();

}  // namespace sbx::syscalls
