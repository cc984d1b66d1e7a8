// Declarations of every syscall handler. One signature for all:
//   kernel::SyscallResult SysName(kernel::Task&, const kernel::SyscallArgs&)
// The table (table.cc) maps numbers to these. Each family file defines its handlers.
#pragma once

#include "sentry/kernel/kernel.h"

namespace sbx::syscalls {

using kernel::SyscallArgs;
using kernel::SyscallResult;
using kernel::Task;

#define SBX_DECLARE_SYSCALL(name) SyscallResult Sys##name(Task& t, const SyscallArgs& a)

// sys_read_write.cc
SBX_DECLARE_SYSCALL(Read); SBX_DECLARE_SYSCALL(Write); SBX_DECLARE_SYSCALL(Pread64);
SBX_DECLARE_SYSCALL(Pwrite64); SBX_DECLARE_SYSCALL(Readv); SBX_DECLARE_SYSCALL(Writev);
SBX_DECLARE_SYSCALL(Preadv); SBX_DECLARE_SYSCALL(Pwritev); SBX_DECLARE_SYSCALL(Preadv2);
SBX_DECLARE_SYSCALL(Pwritev2); SBX_DECLARE_SYSCALL(Lseek);
// sys_open.cc
SBX_DECLARE_SYSCALL(Open); SBX_DECLARE_SYSCALL(Openat); SBX_DECLARE_SYSCALL(Creat);
SBX_DECLARE_SYSCALL(Close); SBX_DECLARE_SYSCALL(CloseRange);
// sys_stat.cc
SBX_DECLARE_SYSCALL(Stat); SBX_DECLARE_SYSCALL(Fstat); SBX_DECLARE_SYSCALL(Lstat);
SBX_DECLARE_SYSCALL(Newfstatat); SBX_DECLARE_SYSCALL(Statx); SBX_DECLARE_SYSCALL(Readlink);
SBX_DECLARE_SYSCALL(Readlinkat); SBX_DECLARE_SYSCALL(Access); SBX_DECLARE_SYSCALL(Faccessat);
SBX_DECLARE_SYSCALL(Faccessat2); SBX_DECLARE_SYSCALL(Statfs); SBX_DECLARE_SYSCALL(Fstatfs);
// sys_dir.cc
SBX_DECLARE_SYSCALL(Getdents64); SBX_DECLARE_SYSCALL(Getdents); SBX_DECLARE_SYSCALL(Getcwd);
SBX_DECLARE_SYSCALL(Chdir); SBX_DECLARE_SYSCALL(Fchdir); SBX_DECLARE_SYSCALL(Mkdir);
SBX_DECLARE_SYSCALL(Mkdirat); SBX_DECLARE_SYSCALL(Unlink); SBX_DECLARE_SYSCALL(Unlinkat);
SBX_DECLARE_SYSCALL(Rmdir); SBX_DECLARE_SYSCALL(Umask);
// sys_fd.cc
SBX_DECLARE_SYSCALL(Dup); SBX_DECLARE_SYSCALL(Dup2); SBX_DECLARE_SYSCALL(Dup3);
SBX_DECLARE_SYSCALL(Fcntl); SBX_DECLARE_SYSCALL(Ioctl); SBX_DECLARE_SYSCALL(Pipe);
SBX_DECLARE_SYSCALL(Pipe2);
// sys_mmap.cc
SBX_DECLARE_SYSCALL(Mmap); SBX_DECLARE_SYSCALL(Munmap); SBX_DECLARE_SYSCALL(Mprotect);
SBX_DECLARE_SYSCALL(Brk); SBX_DECLARE_SYSCALL(Mremap); SBX_DECLARE_SYSCALL(Madvise);
SBX_DECLARE_SYSCALL(Msync); SBX_DECLARE_SYSCALL(Mincore); SBX_DECLARE_SYSCALL(Mlock);
SBX_DECLARE_SYSCALL(Munlock);
// sys_identity.cc
SBX_DECLARE_SYSCALL(Getpid); SBX_DECLARE_SYSCALL(Getppid); SBX_DECLARE_SYSCALL(Gettid);
SBX_DECLARE_SYSCALL(Getuid); SBX_DECLARE_SYSCALL(Geteuid); SBX_DECLARE_SYSCALL(Getgid);
SBX_DECLARE_SYSCALL(Getegid); SBX_DECLARE_SYSCALL(Getgroups); SBX_DECLARE_SYSCALL(Getresuid);
SBX_DECLARE_SYSCALL(Getresgid); SBX_DECLARE_SYSCALL(Uname); SBX_DECLARE_SYSCALL(Sysinfo);
SBX_DECLARE_SYSCALL(Getrandom); SBX_DECLARE_SYSCALL(Prlimit64); SBX_DECLARE_SYSCALL(Getrlimit);
SBX_DECLARE_SYSCALL(Setrlimit); SBX_DECLARE_SYSCALL(Getrusage);
SBX_DECLARE_SYSCALL(Getpgrp); SBX_DECLARE_SYSCALL(Getpgid); SBX_DECLARE_SYSCALL(Getsid);
// sys_time.cc
SBX_DECLARE_SYSCALL(ClockGettime); SBX_DECLARE_SYSCALL(ClockGetres);
SBX_DECLARE_SYSCALL(Gettimeofday); SBX_DECLARE_SYSCALL(Time); SBX_DECLARE_SYSCALL(Nanosleep);
SBX_DECLARE_SYSCALL(ClockNanosleep);
// sys_sched.cc
SBX_DECLARE_SYSCALL(SchedYield); SBX_DECLARE_SYSCALL(SchedGetaffinity);
SBX_DECLARE_SYSCALL(SchedSetaffinity); SBX_DECLARE_SYSCALL(Getcpu);
// sys_thread.cc
SBX_DECLARE_SYSCALL(ArchPrctl); SBX_DECLARE_SYSCALL(SetTidAddress);
SBX_DECLARE_SYSCALL(SetRobustList); SBX_DECLARE_SYSCALL(GetRobustList);
SBX_DECLARE_SYSCALL(Exit); SBX_DECLARE_SYSCALL(ExitGroup); SBX_DECLARE_SYSCALL(Futex);
SBX_DECLARE_SYSCALL(Prctl);
// sys_signal.cc
SBX_DECLARE_SYSCALL(RtSigaction); SBX_DECLARE_SYSCALL(RtSigprocmask);
SBX_DECLARE_SYSCALL(Sigaltstack);

// sys_creds.cc
SBX_DECLARE_SYSCALL(Setuid); SBX_DECLARE_SYSCALL(Setgid); SBX_DECLARE_SYSCALL(Setreuid);
SBX_DECLARE_SYSCALL(Setregid); SBX_DECLARE_SYSCALL(Setresuid); SBX_DECLARE_SYSCALL(Setresgid);
SBX_DECLARE_SYSCALL(Setfsuid); SBX_DECLARE_SYSCALL(Setfsgid); SBX_DECLARE_SYSCALL(Setgroups);

#undef SBX_DECLARE_SYSCALL

// The dispatcher installed into the kernel (table.cc).
SyscallResult Dispatch(Task& t, const SyscallArgs& a);

}  // namespace sbx::syscalls
