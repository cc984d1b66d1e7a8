// The x86-64 syscall table (arch/x86/entry/syscalls/syscall_64.tbl up to 469, file_setattr)
// and the dispatcher. See table.h for the entry format and invariants. Keep entries in number
// order; docs/syscalls.md is generated from them (sbx_syscall_table_doc).
#include "sentry/syscalls/table.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/syscalls/strace.h"

namespace sbx::syscalls {
namespace {

// Reasons shared by many unimplemented entries.
constexpr const char kEvents[] = "not yet implemented (poll/select/epoll/eventfd issue)";
constexpr const char kSig[] = "not yet implemented (signal delivery, processes issue)";
constexpr const char kIpc[] = "not yet implemented (System V / POSIX IPC issue)";
constexpr const char kTimers[] = "not yet implemented (interval timers issue)";
constexpr const char kPollNote[] =
    "host FDs (stdio) are re-checked every 10 ms; an fd closed by another thread during the "
    "wait keeps being polled";
constexpr const char kItimerNote[] =
    "ITIMER_VIRTUAL/PROF count wall time the run loop charges as guest/syscall time; periodic "
    "ITIMER_REAL re-arms at expiry, not when SIGALRM is dequeued";
constexpr const char kFs[] = "not yet implemented (file-system issue)";
constexpr const char kNet[] = "not yet implemented (networking issue)";
constexpr const char kProc[] = "not yet implemented (processes issue)";
constexpr const char kCreds[] = "not yet implemented (credentials issue)";
constexpr const char kCredsModel[] = "capabilities modelled as all (euid 0) or none";
constexpr const char kMisc[] = "not yet implemented";
constexpr const char kObsolete[] = "obsolete: removed from Linux, which returns ENOSYS too";
constexpr const char kSched[] = "not yet implemented (scheduling policy issue)";
constexpr const char kMm[] = "not yet implemented (memory issue)";
constexpr const char kSandbox[] = "not supported in a sandbox: EPERM (like gVisor)";
constexpr const char kMount[] = "not yet implemented (mounts issue)";
constexpr const char kUts[] = "not yet implemented (UTS namespace issue)";
constexpr const char kNotlinux[] =
    "reserved number without an implementation in Linux: ENOSYS there too";
constexpr const char kXattr[] = "not yet implemented (extended attributes issue)";
constexpr const char kTls[] = "32-bit TLS segments not supported; 64-bit code uses arch_prctl";
constexpr const char kAio[] = "not yet implemented (Linux AIO issue)";
constexpr const char kNuma[] = "NUMA memory policy not supported";
constexpr const char kKeys[] = "kernel keyrings not supported";
constexpr const char kInotify[] = "not yet implemented (inotify/fanotify issue)";
constexpr const char kNs[] = "not yet implemented (namespaces issue)";
constexpr const char kPerf[] = "perf events not supported in a sandbox: ENODEV (like gVisor)";
constexpr const char kSeccomp[] = "not yet implemented (guest seccomp issue)";
constexpr const char kRseq[] = "restartable sequences not supported; glibc carries on without them";
constexpr const char kUring[] = "io_uring not supported";
constexpr const char kLandlock[] = "Landlock not supported";
constexpr const char kFutex2[] = "futex2 calls not implemented; futex(2) is";
constexpr const char kShstk[] = "user shadow stacks not supported";
constexpr const char kLsm[] = "no LSM attribute interface in the sandbox";

constexpr SyscallInfo kTable[] = {
    {0, "read", &SysRead, Support::kFull, Errno::kENOSYS, "", "foz", RetFormat::kInt},
    {1, "write", &SysWrite, Support::kFull, Errno::kENOSYS, "", "fbz", RetFormat::kInt},
    {2, "open", &SysOpen, Support::kFull, Errno::kENOSYS, "", "pFM", RetFormat::kInt},
    {3, "close", &SysClose, Support::kFull, Errno::kENOSYS, "", "f", RetFormat::kInt},
    {4, "stat", &SysStat, Support::kFull, Errno::kENOSYS, "", "pP", RetFormat::kInt},
    {5, "fstat", &SysFstat, Support::kFull, Errno::kENOSYS, "", "fP", RetFormat::kInt},
    {6, "lstat", &SysLstat, Support::kFull, Errno::kENOSYS, "", "pP", RetFormat::kInt},
    {7, "poll", &SysPoll, Support::kPartial, Errno::kENOSYS, kPollNote, "Pui", RetFormat::kInt},
    {8, "lseek", &SysLseek, Support::kFull, Errno::kENOSYS, "", "flw", RetFormat::kInt},
    {9, "mmap", &SysMmap, Support::kPartial, Errno::kENOSYS,
     "MAP_SHARED of tmpfs files maps the file's pages (coherent, writable); of other files: "
     "read-only copies taken at fault time (writable: ENODEV); MAP_HUGETLB ENOMEM/EINVAL; "
     "MAP_SYNC EOPNOTSUPP",
     "PzrRfx", RetFormat::kHex},
    {10, "mprotect", &SysMprotect, Support::kPartial, Errno::kENOSYS,
     "cannot add PROT_WRITE to a MAP_SHARED mapping of a non-tmpfs file (EACCES)", "Pzr",
     RetFormat::kInt},
    {11, "munmap", &SysMunmap, Support::kFull, Errno::kENOSYS, "", "Pz", RetFormat::kInt},
    {12, "brk", &SysBrk, Support::kFull, Errno::kENOSYS, "", "P", RetFormat::kHex},
    {13, "rt_sigaction", &SysRtSigaction, Support::kPartial, Errno::kENOSYS,
     "handlers, SIG_IGN and default actions delivered; stop signals ignored (no job control)",
     "gPPz", RetFormat::kInt},
    {14, "rt_sigprocmask", &SysRtSigprocmask, Support::kFull, Errno::kENOSYS,
     "", "hPPz", RetFormat::kInt},
    {15, "rt_sigreturn", &SysRtSigreturn, Support::kFull, Errno::kENOSYS, "", "",
     RetFormat::kInt},
    {16, "ioctl", &SysIoctl, Support::kPartial, Errno::kENOSYS,
     "only the requests each file type implements (sys_fd.cc)", "fxx", RetFormat::kInt},
    {17, "pread64", &SysPread64, Support::kFull, Errno::kENOSYS, "", "fozl", RetFormat::kInt},
    {18, "pwrite64", &SysPwrite64, Support::kFull, Errno::kENOSYS, "", "fbzl", RetFormat::kInt},
    {19, "readv", &SysReadv, Support::kFull, Errno::kENOSYS, "", "fPi", RetFormat::kInt},
    {20, "writev", &SysWritev, Support::kFull, Errno::kENOSYS, "", "fPi", RetFormat::kInt},
    {21, "access", &SysAccess, Support::kFull, Errno::kENOSYS, "", "pi", RetFormat::kInt},
    {22, "pipe", &SysPipe, Support::kFull, Errno::kENOSYS, "", "P", RetFormat::kInt},
    {23, "select", &SysSelect, Support::kPartial, Errno::kENOSYS, kPollNote, "iPPPP",
     RetFormat::kInt},
    {24, "sched_yield", &SysSchedYield, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
    {25, "mremap", &SysMremap, Support::kPartial, Errno::kENOSYS,
     "MREMAP_DONTUNMAP only for private anonymous mappings (else EINVAL)", "PzzxP",
     RetFormat::kHex},
    {26, "msync", &SysMsync, Support::kPartial, Errno::kENOSYS,
     "validated; nothing to write back (shared mappings are tmpfs pages or read-only)", "Pzx",
     RetFormat::kInt},
    {27, "mincore", &SysMincore, Support::kPartial, Errno::kENOSYS,
     "reports pages the sandbox has backed, not host page-cache residency", "PzP", RetFormat::kInt},
    {28, "madvise", &SysMadvise, Support::kPartial, Errno::kENOSYS,
     "DONTNEED/FREE drop pages; REMOVE on shared mappings EOPNOTSUPP; COLLAPSE EINVAL; "
     "HWPOISON/SOFT_OFFLINE EPERM; other hints accepted",
     "Pzi", RetFormat::kInt},
    {29, "shmget", nullptr, Support::kError, Errno::kENOSYS, kIpc, "xzx", RetFormat::kInt},
    {30, "shmat", nullptr, Support::kError, Errno::kENOSYS, kIpc, "iPx", RetFormat::kHex},
    {31, "shmctl", nullptr, Support::kError, Errno::kENOSYS, kIpc, "iiP", RetFormat::kInt},
    {32, "dup", &SysDup, Support::kFull, Errno::kENOSYS, "", "f", RetFormat::kInt},
    {33, "dup2", &SysDup2, Support::kFull, Errno::kENOSYS, "", "ff", RetFormat::kInt},
    {34, "pause", &SysPause, Support::kPartial, Errno::kENOSYS,
     "single process: only an already-pending signal (or sandbox exit) ends the wait", "",
     RetFormat::kInt},
    {35, "nanosleep", &SysNanosleep, Support::kFull, Errno::kENOSYS, "", "PP", RetFormat::kInt},
    {36, "getitimer", &SysGetitimer, Support::kPartial, Errno::kENOSYS, kItimerNote, "iP",
     RetFormat::kInt},
    {37, "alarm", &SysAlarm, Support::kFull, Errno::kENOSYS, "", "u", RetFormat::kInt},
    {38, "setitimer", &SysSetitimer, Support::kPartial, Errno::kENOSYS, kItimerNote, "iPP",
     RetFormat::kInt},
    {39, "getpid", &SysGetpid, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
    {40, "sendfile", nullptr, Support::kError, Errno::kENOSYS, kFs, "ffPz", RetFormat::kInt},
    {41, "socket", nullptr, Support::kError, Errno::kENOSYS, kNet, "iii", RetFormat::kInt},
    {42, "connect", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPi", RetFormat::kInt},
    {43, "accept", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPP", RetFormat::kInt},
    {44, "sendto", nullptr, Support::kError, Errno::kENOSYS, kNet, "fbzxPi", RetFormat::kInt},
    {45, "recvfrom", nullptr, Support::kError, Errno::kENOSYS, kNet, "fozxPP", RetFormat::kInt},
    {46, "sendmsg", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPx", RetFormat::kInt},
    {47, "recvmsg", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPx", RetFormat::kInt},
    {48, "shutdown", nullptr, Support::kError, Errno::kENOSYS, kNet, "fi", RetFormat::kInt},
    {49, "bind", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPi", RetFormat::kInt},
    {50, "listen", nullptr, Support::kError, Errno::kENOSYS, kNet, "fi", RetFormat::kInt},
    {51, "getsockname", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPP", RetFormat::kInt},
    {52, "getpeername", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPP", RetFormat::kInt},
    {53, "socketpair", nullptr, Support::kError, Errno::kENOSYS, kNet, "iiiP", RetFormat::kInt},
    {54, "setsockopt", nullptr, Support::kError, Errno::kENOSYS, kNet, "fiiPi", RetFormat::kInt},
    {55, "getsockopt", nullptr, Support::kError, Errno::kENOSYS, kNet, "fiiPP", RetFormat::kInt},
        {56, "clone", &SysClone, Support::kPartial, Errno::kENOSYS,
     "namespace flags (CLONE_NEW*) and CLONE_INTO_CGROUP are EINVAL; CLONE_PTRACE/UNTRACED "
     "ignored (no ptrace); CLONE_SYSVSEM accepted (no SysV semaphores yet)", "xPPPx",
     RetFormat::kInt},
        {57, "fork", &SysFork, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
        {58, "vfork", &SysVfork, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
        {59, "execve", &SysExecve, Support::kPartial, Errno::kENOSYS,
     "set-id bits honoured only when the sandbox runs as root; mount nosuid not modelled",
     "pPP", RetFormat::kInt},
    {60, "exit", &SysExit, Support::kFull, Errno::kENOSYS, "", "i", RetFormat::kNone},
    {61, "wait4", &SysWait4, Support::kPartial, Errno::kENOSYS,
     "rusage has CPU times only (user = time in guest code, sys = sentry CPU)", "iPxP",
     RetFormat::kInt},
        {62, "kill", &SysKill, Support::kFull, Errno::kENOSYS,
     "PID 1 is killable (Linux ignores SIGKILL to a namespace's init from inside)", "ig",
     RetFormat::kInt},
    {63, "uname", &SysUname, Support::kFull, Errno::kENOSYS, "", "P", RetFormat::kInt},
    {64, "semget", nullptr, Support::kError, Errno::kENOSYS, kIpc, "xix", RetFormat::kInt},
    {65, "semop", nullptr, Support::kError, Errno::kENOSYS, kIpc, "iPz", RetFormat::kInt},
    {66, "semctl", nullptr, Support::kError, Errno::kENOSYS, kIpc, "iiix", RetFormat::kInt},
    {67, "shmdt", nullptr, Support::kError, Errno::kENOSYS, kIpc, "P", RetFormat::kInt},
    {68, "msgget", nullptr, Support::kError, Errno::kENOSYS, kIpc, "xx", RetFormat::kInt},
    {69, "msgsnd", nullptr, Support::kError, Errno::kENOSYS, kIpc, "iPzx", RetFormat::kInt},
    {70, "msgrcv", nullptr, Support::kError, Errno::kENOSYS, kIpc, "iPzlx", RetFormat::kInt},
    {71, "msgctl", nullptr, Support::kError, Errno::kENOSYS, kIpc, "iiP", RetFormat::kInt},
    {72, "fcntl", &SysFcntl, Support::kPartial, Errno::kENOSYS,
     "record locks (F_*LK, F_OFD_*) ENOLCK; F_SETPIPE_SZ, F_SETOWN/F_SETSIG, leases, notify, seals "
     "EINVAL",
     "fix", RetFormat::kInt},
    {73, "flock", &SysFlock, Support::kPartial, Errno::kENOSYS,
     "locks per open file description on the inode; anonymous files (pipes) never conflict; hard "
     "links on the gofer root are separate inodes",
     "fi", RetFormat::kInt},
    {74, "fsync", &SysFsync, Support::kFull, Errno::kENOSYS, "", "f", RetFormat::kInt},
    {75, "fdatasync", &SysFdatasync, Support::kFull, Errno::kENOSYS, "", "f", RetFormat::kInt},
    {76, "truncate", &SysTruncate, Support::kFull, Errno::kENOSYS, "", "pl", RetFormat::kInt},
    {77, "ftruncate", &SysFtruncate, Support::kFull, Errno::kENOSYS, "", "fl", RetFormat::kInt},
    {78, "getdents", &SysGetdents, Support::kFull, Errno::kENOSYS, "", "fPu", RetFormat::kInt},
    {79, "getcwd", &SysGetcwd, Support::kFull, Errno::kENOSYS, "", "Pz", RetFormat::kInt},
    {80, "chdir", &SysChdir, Support::kFull, Errno::kENOSYS, "", "p", RetFormat::kInt},
    {81, "fchdir", &SysFchdir, Support::kFull, Errno::kENOSYS, "", "f", RetFormat::kInt},
    {82, "rename", &SysRename, Support::kFull, Errno::kENOSYS, "", "pp", RetFormat::kInt},
    {83, "mkdir", &SysMkdir, Support::kFull, Errno::kENOSYS, "", "pm", RetFormat::kInt},
    {84, "rmdir", &SysRmdir, Support::kFull, Errno::kENOSYS, "", "p", RetFormat::kInt},
    {85, "creat", &SysCreat, Support::kFull, Errno::kENOSYS, "", "pm", RetFormat::kInt},
    {86, "link", &SysLink, Support::kFull, Errno::kENOSYS, "", "pp", RetFormat::kInt},
    {87, "unlink", &SysUnlink, Support::kFull, Errno::kENOSYS, "", "p", RetFormat::kInt},
    {88, "symlink", &SysSymlink, Support::kFull, Errno::kENOSYS, "", "pp", RetFormat::kInt},
    {89, "readlink", &SysReadlink, Support::kFull, Errno::kENOSYS, "", "pPz", RetFormat::kInt},
    {90, "chmod", &SysChmod, Support::kFull, Errno::kENOSYS, "", "pm", RetFormat::kInt},
    {91, "fchmod", &SysFchmod, Support::kPartial, Errno::kENOSYS,
     "EPERM on anonymous files (pipes), which Linux allows",
     "fm", RetFormat::kInt},
    {92, "chown", &SysChown, Support::kFull, Errno::kENOSYS, "", "pii", RetFormat::kInt},
    {93, "fchown", &SysFchown, Support::kPartial, Errno::kENOSYS,
     "EPERM on anonymous files (pipes), which Linux allows",
     "fii", RetFormat::kInt},
    {94, "lchown", &SysLchown, Support::kFull, Errno::kENOSYS, "", "pii", RetFormat::kInt},
    {95, "umask", &SysUmask, Support::kFull, Errno::kENOSYS, "", "m", RetFormat::kOct},
    {96, "gettimeofday", &SysGettimeofday, Support::kFull, Errno::kENOSYS, "", "PP",
     RetFormat::kInt},
    {97, "getrlimit", &SysGetrlimit, Support::kFull, Errno::kENOSYS, "", "kP", RetFormat::kInt},
    {98, "getrusage", &SysGetrusage, Support::kPartial, Errno::kENOSYS,
     "CPU times only (user = time in guest code, sys = sentry CPU; RUSAGE_THREAD reports the "
     "process); no fault/IO/context-switch counters",
     "iP", RetFormat::kInt},
    {99, "sysinfo", &SysSysinfo, Support::kPartial, Errno::kENOSYS,
     "load averages 0; memory figures from the host", "P", RetFormat::kInt},
    {100, "times", &SysTimes, Support::kPartial, Errno::kENOSYS,
     "user = time in guest code, sys = sentry CPU handling the process; children's times "
     "collected at wait",
     "P", RetFormat::kInt},
    {101, "ptrace", nullptr, Support::kError, Errno::kENOSYS, kProc, "ixPP", RetFormat::kInt},
    {102, "getuid", &SysGetuid, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
    {103, "syslog", nullptr, Support::kError, Errno::kENOSYS, kMisc, "iPi", RetFormat::kInt},
    {104, "getgid", &SysGetgid, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
    {105, "setuid", SysSetuid, Support::kFull, Errno{}, kCredsModel, "u", RetFormat::kInt},
    {106, "setgid", SysSetgid, Support::kFull, Errno{}, kCredsModel, "u", RetFormat::kInt},
    {107, "geteuid", &SysGeteuid, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
    {108, "getegid", &SysGetegid, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
        {109, "setpgid", &SysSetpgid, Support::kFull, Errno::kENOSYS, "", "ii", RetFormat::kInt},
        {110, "getppid", &SysGetppid, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
        {111, "getpgrp", &SysGetpgrp, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
        {112, "setsid", &SysSetsid, Support::kPartial, Errno::kENOSYS,
     "no controlling terminals: the new session has none, like Linux", "", RetFormat::kInt},
    {113, "setreuid", SysSetreuid, Support::kFull, Errno{}, kCredsModel, "uu", RetFormat::kInt},
    {114, "setregid", SysSetregid, Support::kFull, Errno{}, kCredsModel, "uu", RetFormat::kInt},
    {115, "getgroups", &SysGetgroups, Support::kFull, Errno::kENOSYS, "", "iP", RetFormat::kInt},
    {116, "setgroups", SysSetgroups, Support::kFull, Errno{}, kCredsModel, "zP", RetFormat::kInt},
    {117, "setresuid", SysSetresuid, Support::kFull, Errno{}, kCredsModel, "uuu", RetFormat::kInt},
    {118, "getresuid", &SysGetresuid, Support::kFull, Errno::kENOSYS, "", "PPP", RetFormat::kInt},
    {119, "setresgid", SysSetresgid, Support::kFull, Errno{}, kCredsModel, "uuu", RetFormat::kInt},
    {120, "getresgid", &SysGetresgid, Support::kFull, Errno::kENOSYS, "", "PPP", RetFormat::kInt},
        {121, "getpgid", &SysGetpgid, Support::kFull, Errno::kENOSYS, "", "i", RetFormat::kInt},
    {122, "setfsuid", SysSetfsuid, Support::kFull, Errno{}, kCredsModel, "u", RetFormat::kInt},
    {123, "setfsgid", SysSetfsgid, Support::kFull, Errno{}, kCredsModel, "u", RetFormat::kInt},
        {124, "getsid", &SysGetsid, Support::kFull, Errno::kENOSYS, "", "i", RetFormat::kInt},
    {125, "capget", nullptr, Support::kError, Errno::kENOSYS, kCreds, "PP", RetFormat::kInt},
    {126, "capset", nullptr, Support::kError, Errno::kENOSYS, kCreds, "PP", RetFormat::kInt},
    {127, "rt_sigpending", &SysRtSigpending, Support::kFull, Errno::kENOSYS, "", "Pz",
     RetFormat::kInt},
    {128, "rt_sigtimedwait", &SysRtSigtimedwait, Support::kPartial, Errno::kENOSYS,
     "single thread: only already-pending signals can be returned; else EAGAIN at timeout",
     "PPPz",
     RetFormat::kInt},
        {129, "rt_sigqueueinfo", &SysRtSigqueueinfo, Support::kFull, Errno::kENOSYS, "", "igP",
     RetFormat::kInt},
    {130, "rt_sigsuspend", &SysRtSigsuspend, Support::kPartial, Errno::kENOSYS,
     "single process: only an already-pending signal (or sandbox exit) ends the wait", "Pz",
     RetFormat::kInt},
    {131, "sigaltstack", &SysSigaltstack, Support::kFull, Errno::kENOSYS,
     "", "PP", RetFormat::kInt},
    {132, "utime", &SysUtime, Support::kFull, Errno::kENOSYS, "", "pP", RetFormat::kInt},
    {133, "mknod", &SysMknod, Support::kPartial, Errno::kENOSYS,
     "FIFOs, sockets and regular files on tmpfs; device nodes (root only) are created but never "
     "open (EACCES: /tmp is nodev); blocking FIFO opens wait for any peer, not a new one",
     "pmx", RetFormat::kInt},
    {134, "uselib", nullptr, Support::kError, Errno::kENOSYS, kObsolete, "p", RetFormat::kInt},
    {135, "personality", nullptr, Support::kError, Errno::kENOSYS, kMisc, "x", RetFormat::kInt},
    {136, "ustat", nullptr, Support::kError, Errno::kENOSYS, kObsolete, "xP", RetFormat::kInt},
    {137, "statfs", &SysStatfs, Support::kFull, Errno::kENOSYS,
     "gofer files report V9FS_MAGIC with the host counts (as gVisor)", "pP", RetFormat::kInt},
    {138, "fstatfs", &SysFstatfs, Support::kFull, Errno::kENOSYS,
     "gofer files report V9FS_MAGIC with the host counts (as gVisor); pipes PIPEFS_MAGIC", "fP",
     RetFormat::kInt},
    {139, "sysfs", nullptr, Support::kError, Errno::kENOSYS, kObsolete, "ixx", RetFormat::kInt},
    {140, "getpriority", &SysGetpriority, Support::kPartial, Errno::kENOSYS,
     "nice values are kept and inherited but do not change host scheduling", "ii",
     RetFormat::kInt},
    {141, "setpriority", &SysSetpriority, Support::kPartial, Errno::kENOSYS,
     "nice values are kept and inherited but do not change host scheduling", "iii",
     RetFormat::kInt},
    {142, "sched_setparam", nullptr, Support::kError, Errno::kENOSYS, kSched, "iP",
     RetFormat::kInt},
    {143, "sched_getparam", nullptr, Support::kError, Errno::kENOSYS, kSched, "iP",
     RetFormat::kInt},
    {144, "sched_setscheduler", nullptr, Support::kError, Errno::kENOSYS, kSched, "iiP",
     RetFormat::kInt},
    {145, "sched_getscheduler", nullptr, Support::kError, Errno::kENOSYS, kSched, "i",
     RetFormat::kInt},
    {146, "sched_get_priority_max", nullptr, Support::kError, Errno::kENOSYS, kSched, "i",
     RetFormat::kInt},
    {147, "sched_get_priority_min", nullptr, Support::kError, Errno::kENOSYS, kSched, "i",
     RetFormat::kInt},
    {148, "sched_rr_get_interval", nullptr, Support::kError, Errno::kENOSYS, kSched, "iP",
     RetFormat::kInt},
    {149, "mlock", &SysMlock, Support::kPartial, Errno::kENOSYS,
     "validated and accepted; nothing is pinned (never swapped); RLIMIT_MEMLOCK not enforced", "Pz",
     RetFormat::kInt},
    {150, "munlock", &SysMunlock, Support::kPartial, Errno::kENOSYS,
     "validated and accepted; nothing is pinned (never swapped)", "Pz", RetFormat::kInt},
    {151, "mlockall", nullptr, Support::kError, Errno::kENOSYS, kMm, "x", RetFormat::kInt},
    {152, "munlockall", nullptr, Support::kError, Errno::kENOSYS, kMm, "", RetFormat::kInt},
    {153, "vhangup", nullptr, Support::kError, Errno::kEPERM, kSandbox, "", RetFormat::kInt},
    {154, "modify_ldt", nullptr, Support::kError, Errno::kEPERM, kSandbox, "iPz", RetFormat::kInt},
    {155, "pivot_root", nullptr, Support::kError, Errno::kEPERM, kSandbox, "pp", RetFormat::kInt},
    {156, "_sysctl", nullptr, Support::kError, Errno::kENOSYS, kObsolete, "P", RetFormat::kInt},
    {157, "prctl", &SysPrctl, Support::kPartial, Errno::kENOSYS,
     "NAME, DUMPABLE, NO_NEW_PRIVS, PDEATHSIG (stored), SECCOMP (get), CAPBSET_READ, "
     "CHILD_SUBREAPER; others EINVAL",
     "Cxxxx", RetFormat::kInt},
    {158, "arch_prctl", &SysArchPrctl, Support::kPartial, Errno::kENOSYS,
     "FS/GS base, GET_CPUID; ARCH_SET_CPUID ENODEV (no CPUID faulting); other codes EINVAL", "Ax",
     RetFormat::kInt},
    {159, "adjtimex", nullptr, Support::kError, Errno::kENOSYS, kTimers, "P", RetFormat::kInt},
    {160, "setrlimit", &SysSetrlimit, Support::kPartial, Errno::kENOSYS,
     "stored; enforced only where a family checks it (e.g. RLIMIT_NOFILE)", "kP", RetFormat::kInt},
    {161, "chroot", nullptr, Support::kError, Errno::kENOSYS, kFs, "p", RetFormat::kInt},
    {162, "sync", &SysSync, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
    {163, "acct", nullptr, Support::kError, Errno::kEPERM, kSandbox, "p", RetFormat::kInt},
    {164, "settimeofday", nullptr, Support::kError, Errno::kEPERM, kSandbox, "PP", RetFormat::kInt},
    {165, "mount", nullptr, Support::kError, Errno::kENOSYS, kMount, "ppsxP", RetFormat::kInt},
    {166, "umount2", nullptr, Support::kError, Errno::kENOSYS, kMount, "px", RetFormat::kInt},
    {167, "swapon", nullptr, Support::kError, Errno::kEPERM, kSandbox, "px", RetFormat::kInt},
    {168, "swapoff", nullptr, Support::kError, Errno::kEPERM, kSandbox, "p", RetFormat::kInt},
    {169, "reboot", nullptr, Support::kError, Errno::kEPERM, kSandbox, "xxxP", RetFormat::kInt},
    {170, "sethostname", nullptr, Support::kError, Errno::kENOSYS, kUts, "sz", RetFormat::kInt},
    {171, "setdomainname", nullptr, Support::kError, Errno::kENOSYS, kUts, "sz", RetFormat::kInt},
    {172, "iopl", nullptr, Support::kError, Errno::kEPERM, kSandbox, "i", RetFormat::kInt},
    {173, "ioperm", nullptr, Support::kError, Errno::kEPERM, kSandbox, "xxi", RetFormat::kInt},
    {174, "create_module", nullptr, Support::kError, Errno::kENOSYS, kObsolete, "sz",
     RetFormat::kInt},
    {175, "init_module", nullptr, Support::kError, Errno::kEPERM, kSandbox, "Pzs", RetFormat::kInt},
    {176, "delete_module", nullptr, Support::kError, Errno::kEPERM, kSandbox, "sx",
     RetFormat::kInt},
    {177, "get_kernel_syms", nullptr, Support::kError, Errno::kENOSYS, kObsolete, "P",
     RetFormat::kInt},
    {178, "query_module", nullptr, Support::kError, Errno::kENOSYS, kObsolete, "sxPzP",
     RetFormat::kInt},
    {179, "quotactl", nullptr, Support::kError, Errno::kEPERM, kSandbox, "xpiP", RetFormat::kInt},
    {180, "nfsservctl", nullptr, Support::kError, Errno::kENOSYS, kObsolete, "xPP",
     RetFormat::kInt},
    {181, "getpmsg", nullptr, Support::kError, Errno::kENOSYS, kNotlinux, "xxxxx", RetFormat::kInt},
    {182, "putpmsg", nullptr, Support::kError, Errno::kENOSYS, kNotlinux, "xxxxx", RetFormat::kInt},
    {183, "afs_syscall", nullptr, Support::kError, Errno::kENOSYS, kNotlinux, "xxxxx",
     RetFormat::kInt},
    {184, "tuxcall", nullptr, Support::kError, Errno::kENOSYS, kNotlinux, "xxx", RetFormat::kInt},
    {185, "security", nullptr, Support::kError, Errno::kENOSYS, kNotlinux, "xxx", RetFormat::kInt},
    {186, "gettid", &SysGettid, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
    {187, "readahead", nullptr, Support::kError, Errno::kENOSYS, kFs, "flz", RetFormat::kInt},
    {188, "setxattr", &SysSetxattr, Support::kPartial, Errno::kENOSYS,
     "user./trusted. on tmpfs; security./system. EOPNOTSUPP; EROFS on the gofer root",
     "psPzx", RetFormat::kInt},
    {189, "lsetxattr", &SysLsetxattr, Support::kPartial, Errno::kENOSYS,
     "as setxattr",
     "psPzx", RetFormat::kInt},
    {190, "fsetxattr", &SysFsetxattr, Support::kPartial, Errno::kENOSYS,
     "as setxattr",
     "fsPzx", RetFormat::kInt},
    {191, "getxattr", &SysGetxattr, Support::kPartial, Errno::kENOSYS,
     "user./trusted. on tmpfs; the gofer root serves no xattrs (ENODATA); security./system. "
     "ENODATA",
     "psPz", RetFormat::kInt},
    {192, "lgetxattr", &SysLgetxattr, Support::kPartial, Errno::kENOSYS,
     "as getxattr",
     "psPz", RetFormat::kInt},
    {193, "fgetxattr", &SysFgetxattr, Support::kPartial, Errno::kENOSYS,
     "as getxattr",
     "fsPz", RetFormat::kInt},
    {194, "listxattr", &SysListxattr, Support::kPartial, Errno::kENOSYS,
     "the gofer root lists nothing",
     "pPz", RetFormat::kInt},
    {195, "llistxattr", &SysLlistxattr, Support::kPartial, Errno::kENOSYS,
     "as listxattr",
     "pPz", RetFormat::kInt},
    {196, "flistxattr", &SysFlistxattr, Support::kPartial, Errno::kENOSYS,
     "as listxattr",
     "fPz", RetFormat::kInt},
    {197, "removexattr", &SysRemovexattr, Support::kPartial, Errno::kENOSYS,
     "as setxattr",
     "ps", RetFormat::kInt},
    {198, "lremovexattr", &SysLremovexattr, Support::kPartial, Errno::kENOSYS,
     "as setxattr",
     "ps", RetFormat::kInt},
    {199, "fremovexattr", &SysFremovexattr, Support::kPartial, Errno::kENOSYS,
     "as setxattr",
     "fs", RetFormat::kInt},
        {200, "tkill", &SysTkill, Support::kFull, Errno::kENOSYS, "", "ig", RetFormat::kInt},
    {201, "time", &SysTime, Support::kFull, Errno::kENOSYS, "", "P", RetFormat::kInt},
    {202, "futex", &SysFutex, Support::kPartial, Errno::kENOSYS,
     "WAIT/WAKE(_BITSET), REQUEUE, CMP_REQUEUE, WAKE_OP, LOCK_PI(2)/UNLOCK_PI/TRYLOCK_PI "
     "without priority inheritance or hand-off; WAIT_REQUEUE_PI/CMP_REQUEUE_PI ENOSYS; shared "
     "futexes keyed by memory-file offset",
     "PtuPPu", RetFormat::kInt},
    {203, "sched_setaffinity", &SysSchedSetaffinity, Support::kPartial, Errno::kENOSYS,
     "validated and recorded nowhere: the sentry schedules guest threads", "izP", RetFormat::kInt},
    {204, "sched_getaffinity", &SysSchedGetaffinity, Support::kPartial, Errno::kENOSYS,
     "reports all host CPUs", "izP", RetFormat::kInt},
    {205, "set_thread_area", nullptr, Support::kError, Errno::kENOSYS, kTls, "P", RetFormat::kInt},
    {206, "io_setup", nullptr, Support::kError, Errno::kENOSYS, kAio, "uP", RetFormat::kInt},
    {207, "io_destroy", nullptr, Support::kError, Errno::kENOSYS, kAio, "x", RetFormat::kInt},
    {208, "io_getevents", nullptr, Support::kError, Errno::kENOSYS, kAio, "xllPP", RetFormat::kInt},
    {209, "io_submit", nullptr, Support::kError, Errno::kENOSYS, kAio, "xlP", RetFormat::kInt},
    {210, "io_cancel", nullptr, Support::kError, Errno::kENOSYS, kAio, "xPP", RetFormat::kInt},
    {211, "get_thread_area", nullptr, Support::kError, Errno::kENOSYS, kTls, "P", RetFormat::kInt},
    {212, "lookup_dcookie", nullptr, Support::kError, Errno::kENOSYS, kObsolete, "xPz",
     RetFormat::kInt},
    {213, "epoll_create", nullptr, Support::kError, Errno::kENOSYS, kEvents, "i", RetFormat::kInt},
    {214, "epoll_ctl_old", nullptr, Support::kError, Errno::kENOSYS, kNotlinux, "xxxx",
     RetFormat::kInt},
    {215, "epoll_wait_old", nullptr, Support::kError, Errno::kENOSYS, kNotlinux, "xxxx",
     RetFormat::kInt},
    {216, "remap_file_pages", nullptr, Support::kError, Errno::kENOSYS, kMm, "Pzxzx",
     RetFormat::kInt},
    {217, "getdents64", &SysGetdents64, Support::kFull, Errno::kENOSYS, "", "fPu", RetFormat::kInt},
    {218, "set_tid_address", &SysSetTidAddress, Support::kFull, Errno::kENOSYS, "", "P",
     RetFormat::kInt},
    {219, "restart_syscall", &SysRestartSyscall, Support::kFull, Errno::kENOSYS, "", "", RetFormat::kInt},
    {220, "semtimedop", nullptr, Support::kError, Errno::kENOSYS, kIpc, "iPzP", RetFormat::kInt},
    {221, "fadvise64", nullptr, Support::kError, Errno::kENOSYS, kFs, "flzi", RetFormat::kInt},
    {222, "timer_create", nullptr, Support::kError, Errno::kENOSYS, kTimers, "cPP",
     RetFormat::kInt},
    {223, "timer_settime", nullptr, Support::kError, Errno::kENOSYS, kTimers, "xiPP",
     RetFormat::kInt},
    {224, "timer_gettime", nullptr, Support::kError, Errno::kENOSYS, kTimers, "xP",
     RetFormat::kInt},
    {225, "timer_getoverrun", nullptr, Support::kError, Errno::kENOSYS, kTimers, "x",
     RetFormat::kInt},
    {226, "timer_delete", nullptr, Support::kError, Errno::kENOSYS, kTimers, "x", RetFormat::kInt},
    {227, "clock_settime", nullptr, Support::kError, Errno::kEPERM, kSandbox, "cP",
     RetFormat::kInt},
    {228, "clock_gettime", &SysClockGettime, Support::kPartial, Errno::kENOSYS,
     "CPU clocks: user time is wall time in guest code; fd-based (CLOCKFD) clocks EINVAL",
     "cP", RetFormat::kInt},
    {229, "clock_getres", &SysClockGetres, Support::kPartial, Errno::kENOSYS,
     "fd-based (CLOCKFD) clocks EINVAL", "cP", RetFormat::kInt},
    {230, "clock_nanosleep", &SysClockNanosleep, Support::kPartial, Errno::kENOSYS,
     "CPU-time clocks unsupported (EINVAL/EOPNOTSUPP)",
     "cxPP", RetFormat::kInt},
    {231, "exit_group", &SysExitGroup, Support::kFull, Errno::kENOSYS, "", "i", RetFormat::kNone},
    {232, "epoll_wait", nullptr, Support::kError, Errno::kENOSYS, kEvents, "fPii", RetFormat::kInt},
    {233, "epoll_ctl", nullptr, Support::kError, Errno::kENOSYS, kEvents, "fiiP", RetFormat::kInt},
        {234, "tgkill", &SysTgkill, Support::kFull, Errno::kENOSYS, "", "iig", RetFormat::kInt},
    {235, "utimes", &SysUtimes, Support::kFull, Errno::kENOSYS, "", "pP", RetFormat::kInt},
    {236, "vserver", nullptr, Support::kError, Errno::kENOSYS, kNotlinux, "xxxxx", RetFormat::kInt},
    {237, "mbind", nullptr, Support::kError, Errno::kENOSYS, kNuma, "PzxPxx", RetFormat::kInt},
    {238, "set_mempolicy", nullptr, Support::kError, Errno::kENOSYS, kNuma, "xPx", RetFormat::kInt},
    {239, "get_mempolicy", nullptr, Support::kError, Errno::kENOSYS, kNuma, "PPxPx",
     RetFormat::kInt},
    {240, "mq_open", nullptr, Support::kError, Errno::kENOSYS, kIpc, "sFmP", RetFormat::kInt},
    {241, "mq_unlink", nullptr, Support::kError, Errno::kENOSYS, kIpc, "s", RetFormat::kInt},
    {242, "mq_timedsend", nullptr, Support::kError, Errno::kENOSYS, kIpc, "fPzuP", RetFormat::kInt},
    {243, "mq_timedreceive", nullptr, Support::kError, Errno::kENOSYS, kIpc, "fPzPP",
     RetFormat::kInt},
    {244, "mq_notify", nullptr, Support::kError, Errno::kENOSYS, kIpc, "fP", RetFormat::kInt},
    {245, "mq_getsetattr", nullptr, Support::kError, Errno::kENOSYS, kIpc, "fPP", RetFormat::kInt},
    {246, "kexec_load", nullptr, Support::kError, Errno::kEPERM, kSandbox, "xxPx", RetFormat::kInt},
    {247, "waitid", &SysWaitid, Support::kPartial, Errno::kENOSYS,
     "rusage has CPU times only (user = time in guest code, sys = sentry CPU)", "iiPxP",
     RetFormat::kInt},
    {248, "add_key", nullptr, Support::kError, Errno::kENOSYS, kKeys, "ssPzi", RetFormat::kInt},
    {249, "request_key", nullptr, Support::kError, Errno::kENOSYS, kKeys, "sssi", RetFormat::kInt},
    {250, "keyctl", nullptr, Support::kError, Errno::kENOSYS, kKeys, "ixxxx", RetFormat::kInt},
    {251, "ioprio_set", nullptr, Support::kError, Errno::kENOSYS, kSched, "iii", RetFormat::kInt},
    {252, "ioprio_get", nullptr, Support::kError, Errno::kENOSYS, kSched, "ii", RetFormat::kInt},
    {253, "inotify_init", nullptr, Support::kError, Errno::kENOSYS, kInotify, "", RetFormat::kInt},
    {254, "inotify_add_watch", nullptr, Support::kError, Errno::kENOSYS, kInotify, "fpx",
     RetFormat::kInt},
    {255, "inotify_rm_watch", nullptr, Support::kError, Errno::kENOSYS, kInotify, "fi",
     RetFormat::kInt},
    {256, "migrate_pages", nullptr, Support::kError, Errno::kENOSYS, kNuma, "ixPP",
     RetFormat::kInt},
    {257, "openat", &SysOpenat, Support::kFull, Errno::kENOSYS, "", "dpFM", RetFormat::kInt},
    {258, "mkdirat", &SysMkdirat, Support::kFull, Errno::kENOSYS, "", "dpm", RetFormat::kInt},
    {259, "mknodat", &SysMknodat, Support::kPartial, Errno::kENOSYS,
     "as mknod",
     "dpmx", RetFormat::kInt},
    {260, "fchownat", &SysFchownat, Support::kFull, Errno::kENOSYS, "", "dpiia", RetFormat::kInt},
    {261, "futimesat", &SysFutimesat, Support::kFull, Errno::kENOSYS, "", "dpP", RetFormat::kInt},
    {262, "newfstatat", &SysNewfstatat, Support::kFull, Errno::kENOSYS, "", "dpPa",
     RetFormat::kInt},
    {263, "unlinkat", &SysUnlinkat, Support::kFull, Errno::kENOSYS, "", "dpa", RetFormat::kInt},
    {264, "renameat", &SysRenameat, Support::kFull, Errno::kENOSYS, "", "dpdp", RetFormat::kInt},
    {265, "linkat", &SysLinkat, Support::kPartial, Errno::kENOSYS,
     "AT_EMPTY_PATH needs uid 0 (the pre-6.10 CAP_DAC_READ_SEARCH rule)",
     "dpdpa", RetFormat::kInt},
    {266, "symlinkat", &SysSymlinkat, Support::kFull, Errno::kENOSYS, "", "pdp", RetFormat::kInt},
    {267, "readlinkat", &SysReadlinkat, Support::kFull, Errno::kENOSYS, "", "dpPz",
     RetFormat::kInt},
    {268, "fchmodat", &SysFchmodat, Support::kFull, Errno::kENOSYS, "", "dpm", RetFormat::kInt},
    {269, "faccessat", &SysFaccessat, Support::kFull, Errno::kENOSYS, "", "dpi", RetFormat::kInt},
    {270, "pselect6", &SysPselect6, Support::kPartial, Errno::kENOSYS, kPollNote, "iPPPPP",
     RetFormat::kInt},
    {271, "ppoll", &SysPpoll, Support::kPartial, Errno::kENOSYS, kPollNote, "PuPPz",
     RetFormat::kInt},
    {272, "unshare", nullptr, Support::kError, Errno::kENOSYS, kNs, "x", RetFormat::kInt},
    {273, "set_robust_list", &SysSetRobustList, Support::kFull, Errno::kENOSYS, "", "Pz",
     RetFormat::kInt},
    {274, "get_robust_list", &SysGetRobustList, Support::kFull, Errno::kENOSYS, "", "iPP",
     RetFormat::kInt},
    {275, "splice", nullptr, Support::kError, Errno::kENOSYS, kFs, "fPfPzx", RetFormat::kInt},
    {276, "tee", nullptr, Support::kError, Errno::kENOSYS, kFs, "ffzx", RetFormat::kInt},
    {277, "sync_file_range", &SysSyncFileRange, Support::kFull, Errno::kENOSYS, "", "fllx",
     RetFormat::kInt},
    {278, "vmsplice", nullptr, Support::kError, Errno::kENOSYS, kFs, "fPzx", RetFormat::kInt},
    {279, "move_pages", nullptr, Support::kError, Errno::kENOSYS, kNuma, "izPPPx", RetFormat::kInt},
    {280, "utimensat", &SysUtimensat, Support::kFull, Errno::kENOSYS, "", "dpPa", RetFormat::kInt},
    {281, "epoll_pwait", nullptr, Support::kError, Errno::kENOSYS, kEvents, "fPiiPz",
     RetFormat::kInt},
    {282, "signalfd", nullptr, Support::kError, Errno::kENOSYS, kSig, "fPz", RetFormat::kInt},
    {283, "timerfd_create", nullptr, Support::kError, Errno::kENOSYS, kTimers, "cx",
     RetFormat::kInt},
    {284, "eventfd", nullptr, Support::kError, Errno::kENOSYS, kEvents, "u", RetFormat::kInt},
    {285, "fallocate", &SysFallocate, Support::kPartial, Errno::kENOSYS,
     "tmpfs: mode 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE; other modes EOPNOTSUPP",
     "fxll", RetFormat::kInt},
    {286, "timerfd_settime", nullptr, Support::kError, Errno::kENOSYS, kTimers, "fxPP",
     RetFormat::kInt},
    {287, "timerfd_gettime", nullptr, Support::kError, Errno::kENOSYS, kTimers, "fP",
     RetFormat::kInt},
    {288, "accept4", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPPx", RetFormat::kInt},
    {289, "signalfd4", nullptr, Support::kError, Errno::kENOSYS, kSig, "fPzx", RetFormat::kInt},
    {290, "eventfd2", nullptr, Support::kError, Errno::kENOSYS, kEvents, "ux", RetFormat::kInt},
    {291, "epoll_create1", nullptr, Support::kError, Errno::kENOSYS, kEvents, "x", RetFormat::kInt},
    {292, "dup3", &SysDup3, Support::kFull, Errno::kENOSYS, "", "ffF", RetFormat::kInt},
    {293, "pipe2", &SysPipe2, Support::kPartial, Errno::kENOSYS, "O_DIRECT (packet mode) EINVAL",
     "PF", RetFormat::kInt},
    {294, "inotify_init1", nullptr, Support::kError, Errno::kENOSYS, kInotify, "x",
     RetFormat::kInt},
    {295, "preadv", &SysPreadv, Support::kFull, Errno::kENOSYS, "", "fPil", RetFormat::kInt},
    {296, "pwritev", &SysPwritev, Support::kFull, Errno::kENOSYS, "", "fPil", RetFormat::kInt},
        {297, "rt_tgsigqueueinfo", &SysRtTgsigqueueinfo, Support::kFull, Errno::kENOSYS, "",
     "iigP", RetFormat::kInt},
    {298, "perf_event_open", nullptr, Support::kError, Errno::kENODEV, kPerf, "Piiix",
     RetFormat::kInt},
    {299, "recvmmsg", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPuxP", RetFormat::kInt},
    {300, "fanotify_init", nullptr, Support::kError, Errno::kENOSYS, kInotify, "xx",
     RetFormat::kInt},
    {301, "fanotify_mark", nullptr, Support::kError, Errno::kENOSYS, kInotify, "fxxdp",
     RetFormat::kInt},
    {302, "prlimit64", &SysPrlimit64, Support::kPartial, Errno::kENOSYS,
     "pid 0 or the caller only; stored, enforced only where a family checks it", "ikPP",
     RetFormat::kInt},
    {303, "name_to_handle_at", nullptr, Support::kError, Errno::kENOSYS, kFs, "dpPPa",
     RetFormat::kInt},
    {304, "open_by_handle_at", nullptr, Support::kError, Errno::kENOSYS, kFs, "fPF",
     RetFormat::kInt},
    {305, "clock_adjtime", nullptr, Support::kError, Errno::kEPERM, kSandbox, "cP",
     RetFormat::kInt},
    {306, "syncfs", &SysSyncfs, Support::kFull, Errno::kENOSYS, "", "f", RetFormat::kInt},
    {307, "sendmmsg", nullptr, Support::kError, Errno::kENOSYS, kNet, "fPux", RetFormat::kInt},
    {308, "setns", nullptr, Support::kError, Errno::kENOSYS, kNs, "fx", RetFormat::kInt},
    {309, "getcpu", &SysGetcpu, Support::kPartial, Errno::kENOSYS,
     "CPU of the sentry thread; node always 0", "PPP", RetFormat::kInt},
    {310, "process_vm_readv", nullptr, Support::kError, Errno::kENOSYS, kProc, "iPuPux",
     RetFormat::kInt},
    {311, "process_vm_writev", nullptr, Support::kError, Errno::kENOSYS, kProc, "iPuPux",
     RetFormat::kInt},
    {312, "kcmp", nullptr, Support::kError, Errno::kENOSYS, kProc, "iiixx", RetFormat::kInt},
    {313, "finit_module", nullptr, Support::kError, Errno::kEPERM, kSandbox, "fsx",
     RetFormat::kInt},
    {314, "sched_setattr", nullptr, Support::kError, Errno::kENOSYS, kSched, "iPx",
     RetFormat::kInt},
    {315, "sched_getattr", nullptr, Support::kError, Errno::kENOSYS, kSched, "iPux",
     RetFormat::kInt},
    {316, "renameat2", &SysRenameat2, Support::kPartial, Errno::kENOSYS,
     "RENAME_WHITEOUT is EINVAL (EPERM for non-root)",
     "dpdpx", RetFormat::kInt},
    {317, "seccomp", nullptr, Support::kError, Errno::kENOSYS, kSeccomp, "xxP", RetFormat::kInt},
    {318, "getrandom", &SysGetrandom, Support::kFull, Errno::kENOSYS, "", "Pzx", RetFormat::kInt},
    {319, "memfd_create", nullptr, Support::kError, Errno::kENOSYS, kMm, "sx", RetFormat::kInt},
    {320, "kexec_file_load", nullptr, Support::kError, Errno::kEPERM, kSandbox, "ffusx",
     RetFormat::kInt},
    {321, "bpf", nullptr, Support::kError, Errno::kEPERM, kSandbox, "iPu", RetFormat::kInt},
        {322, "execveat", &SysExecveat, Support::kPartial, Errno::kENOSYS,
     "as execve", "dpPPa", RetFormat::kInt},
    {323, "userfaultfd", nullptr, Support::kError, Errno::kENOSYS, kMm, "x", RetFormat::kInt},
    {324, "membarrier", nullptr, Support::kError, Errno::kENOSYS, kMm, "ixi", RetFormat::kInt},
    {325, "mlock2", nullptr, Support::kError, Errno::kENOSYS, kMm, "Pzx", RetFormat::kInt},
    {326, "copy_file_range", nullptr, Support::kError, Errno::kENOSYS, kFs, "fPfPzx",
     RetFormat::kInt},
    {327, "preadv2", &SysPreadv2, Support::kPartial, Errno::kENOSYS,
     "RWF_HIPRI only; other RWF_* flags EOPNOTSUPP", "fPilx", RetFormat::kInt},
    {328, "pwritev2", &SysPwritev2, Support::kPartial, Errno::kENOSYS,
     "RWF_HIPRI only; other RWF_* flags EOPNOTSUPP", "fPilx", RetFormat::kInt},
    {329, "pkey_mprotect", nullptr, Support::kError, Errno::kENOSYS, kMm, "Pzri", RetFormat::kInt},
    {330, "pkey_alloc", nullptr, Support::kError, Errno::kENOSYS, kMm, "xx", RetFormat::kInt},
    {331, "pkey_free", nullptr, Support::kError, Errno::kENOSYS, kMm, "i", RetFormat::kInt},
    {332, "statx", &SysStatx, Support::kFull, Errno::kENOSYS,
     "all basic fields always filled; btime when the file system has it", "dpaxP", RetFormat::kInt},
    {333, "io_pgetevents", nullptr, Support::kError, Errno::kENOSYS, kAio, "xllPPP",
     RetFormat::kInt},
    {334, "rseq", nullptr, Support::kError, Errno::kENOSYS, kRseq, "Puxx", RetFormat::kInt},
        {424, "pidfd_send_signal", &SysPidfdSendSignal, Support::kFull, Errno::kENOSYS, "",
     "fgPx", RetFormat::kInt},
    {425, "io_uring_setup", nullptr, Support::kError, Errno::kENOSYS, kUring, "uP",
     RetFormat::kInt},
    {426, "io_uring_enter", nullptr, Support::kError, Errno::kENOSYS, kUring, "fuuxPz",
     RetFormat::kInt},
    {427, "io_uring_register", nullptr, Support::kError, Errno::kENOSYS, kUring, "fuPu",
     RetFormat::kInt},
    {428, "open_tree", nullptr, Support::kError, Errno::kENOSYS, kMount, "dpx", RetFormat::kInt},
    {429, "move_mount", nullptr, Support::kError, Errno::kENOSYS, kMount, "dpdpx", RetFormat::kInt},
    {430, "fsopen", nullptr, Support::kError, Errno::kENOSYS, kMount, "sx", RetFormat::kInt},
    {431, "fsconfig", nullptr, Support::kError, Errno::kENOSYS, kMount, "fusPi", RetFormat::kInt},
    {432, "fsmount", nullptr, Support::kError, Errno::kENOSYS, kMount, "fxx", RetFormat::kInt},
    {433, "fspick", nullptr, Support::kError, Errno::kENOSYS, kMount, "dpx", RetFormat::kInt},
        {434, "pidfd_open", &SysPidfdOpen, Support::kPartial, Errno::kENOSYS,
     "no PIDFD_THREAD", "ix", RetFormat::kInt},
        {435, "clone3", &SysClone3, Support::kPartial, Errno::kENOSYS,
     "as clone; set_tid EINVAL (no nested PID namespaces)", "Pz", RetFormat::kInt},
    {436, "close_range", &SysCloseRange, Support::kFull, Errno::kENOSYS, "", "uux",
     RetFormat::kInt},
    {437, "openat2", nullptr, Support::kError, Errno::kENOSYS, kFs, "dpPz", RetFormat::kInt},
    {438, "pidfd_getfd", nullptr, Support::kError, Errno::kENOSYS, kProc, "fix", RetFormat::kInt},
    {439, "faccessat2", &SysFaccessat2, Support::kFull, Errno::kENOSYS, "", "dpia",
     RetFormat::kInt},
    {440, "process_madvise", nullptr, Support::kError, Errno::kENOSYS, kMm, "fPziu",
     RetFormat::kInt},
    {441, "epoll_pwait2", nullptr, Support::kError, Errno::kENOSYS, kEvents, "fPiPPz",
     RetFormat::kInt},
    {442, "mount_setattr", nullptr, Support::kError, Errno::kENOSYS, kMount, "dpxPz",
     RetFormat::kInt},
    {443, "quotactl_fd", nullptr, Support::kError, Errno::kEPERM, kSandbox, "fxiP",
     RetFormat::kInt},
    {444, "landlock_create_ruleset", nullptr, Support::kError, Errno::kENOSYS, kLandlock, "Pzx",
     RetFormat::kInt},
    {445, "landlock_add_rule", nullptr, Support::kError, Errno::kENOSYS, kLandlock, "fiPx",
     RetFormat::kInt},
    {446, "landlock_restrict_self", nullptr, Support::kError, Errno::kENOSYS, kLandlock, "fx",
     RetFormat::kInt},
    {447, "memfd_secret", nullptr, Support::kError, Errno::kENOSYS, kMm, "x", RetFormat::kInt},
    {448, "process_mrelease", nullptr, Support::kError, Errno::kENOSYS, kProc, "fx",
     RetFormat::kInt},
    {449, "futex_waitv", nullptr, Support::kError, Errno::kENOSYS, kFutex2, "PuxPc",
     RetFormat::kInt},
    {450, "set_mempolicy_home_node", nullptr, Support::kError, Errno::kENOSYS, kNuma, "Pzxx",
     RetFormat::kInt},
    {451, "cachestat", nullptr, Support::kError, Errno::kENOSYS, kFs, "fPPx", RetFormat::kInt},
    {452, "fchmodat2", &SysFchmodat2, Support::kFull, Errno::kENOSYS, "", "dpma", RetFormat::kInt},
    {453, "map_shadow_stack", nullptr, Support::kError, Errno::kENOSYS, kShstk, "Pzx",
     RetFormat::kInt},
    {454, "futex_wake", nullptr, Support::kError, Errno::kENOSYS, kFutex2, "Pxix", RetFormat::kInt},
    {455, "futex_wait", nullptr, Support::kError, Errno::kENOSYS, kFutex2, "PxxxPc",
     RetFormat::kInt},
    {456, "futex_requeue", nullptr, Support::kError, Errno::kENOSYS, kFutex2, "Pxii",
     RetFormat::kInt},
    {457, "statmount", nullptr, Support::kError, Errno::kENOSYS, kMount, "PPzx", RetFormat::kInt},
    {458, "listmount", nullptr, Support::kError, Errno::kENOSYS, kMount, "PPzx", RetFormat::kInt},
    {459, "lsm_get_self_attr", nullptr, Support::kError, Errno::kENOSYS, kLsm, "uPPx",
     RetFormat::kInt},
    {460, "lsm_set_self_attr", nullptr, Support::kError, Errno::kENOSYS, kLsm, "uPzx",
     RetFormat::kInt},
    {461, "lsm_list_modules", nullptr, Support::kError, Errno::kENOSYS, kLsm, "PPx",
     RetFormat::kInt},
    {462, "mseal", nullptr, Support::kError, Errno::kENOSYS, kMm, "Pzx", RetFormat::kInt},
    {463, "setxattrat", nullptr, Support::kError, Errno::kENOSYS, kXattr, "dpaxPz",
     RetFormat::kInt},
    {464, "getxattrat", nullptr, Support::kError, Errno::kENOSYS, kXattr, "dpaxPz",
     RetFormat::kInt},
    {465, "listxattrat", nullptr, Support::kError, Errno::kENOSYS, kXattr, "dpaPz",
     RetFormat::kInt},
    {466, "removexattrat", nullptr, Support::kError, Errno::kENOSYS, kXattr, "dpas",
     RetFormat::kInt},
    {467, "open_tree_attr", nullptr, Support::kError, Errno::kENOSYS, kMount, "dpxPz",
     RetFormat::kInt},
    {468, "file_getattr", nullptr, Support::kError, Errno::kENOSYS, kFs, "dpPzx", RetFormat::kInt},
    {469, "file_setattr", nullptr, Support::kError, Errno::kENOSYS, kFs, "dpPzx", RetFormat::kInt},
};

constexpr size_t kTableSize = sizeof(kTable) / sizeof(kTable[0]);

struct Index {
  std::array<const SyscallInfo*, kMaxSyscallNr + 1> by_nr{};
  Index() {
    for (const SyscallInfo& e : kTable) by_nr[e.nr] = &e;
  }
};

const Index& GetIndex() {
  static const Index* index = new Index();
  return *index;
}

}  // namespace

const SyscallInfo* LookupSyscall(uint64_t nr) {
  if (nr > static_cast<uint64_t>(kMaxSyscallNr)) return nullptr;
  return GetIndex().by_nr[nr];
}

const SyscallInfo* LookupSyscallByName(std::string_view name) {
  for (const SyscallInfo& e : kTable) {
    if (name == e.name) return &e;
  }
  return nullptr;
}

const SyscallInfo* SyscallTableBegin() { return kTable; }
const SyscallInfo* SyscallTableEnd() { return kTable + kTableSize; }

std::string_view SupportName(Support s) {
  switch (s) {
    case Support::kFull:
      return "full";
    case Support::kPartial:
      return "partial";
    case Support::kError:
      return "error";
  }
  return "?";
}

std::string RenderSyscallTableMarkdown() {
  int counts[3] = {};
  for (const SyscallInfo& e : kTable) ++counts[static_cast<int>(e.support)];
  std::string out = absl::StrCat(
      "# Syscall compatibility (x86-64)\n\n"
      "<!-- Generated by sbx_syscall_table_doc from sentry/syscalls/table.cc; do not edit. -->\n"
      "<!-- Regenerate: build/bin/sbx_syscall_table_doc > docs/syscalls.md -->\n\n"
      "Every syscall number x86-64 Linux defines (0-334, 424-",
      kMaxSyscallNr,
      "; 335-423 are unused) and what the sentry does with it. "
      "**full**: behaves like Linux. **partial**: implemented, the note says what is missing. "
      "**error**: not implemented; always fails with the errno shown (ENOSYS unless stated) "
      "and is reported once in the debug log.\n\n",
      "Summary: ", kTableSize, " syscalls, ", counts[0], " full, ", counts[1], " partial, ",
      counts[2], " error.\n\n| # | name | support | note |\n|---:|---|---|---|\n");
  for (const SyscallInfo& e : kTable) {
    std::string support(SupportName(e.support));
    if (e.support == Support::kError)
      absl::StrAppend(&support, " (", std::string(ErrnoName(e.error)), ")");
    std::string note = absl::StrReplaceAll(e.note, {{"|", "\\|"}});
    absl::StrAppend(&out, "| ", e.nr, " | `", e.name, "` | ", support, " | ", note, " |\n");
  }
  return out;
}

namespace {

// Writes `line` to the strace fd in one write(2) so lines of concurrent tasks do not interleave.
void WriteStraceLine(int fd, const std::string& line) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

SyscallResult Dispatch(Task& t, const SyscallArgs& a) {
  const SyscallInfo* info = LookupSyscall(a.nr);
  const kernel::Kernel::Options& opts = t.kernel().options();
  std::optional<strace::Call> call;
  // In-parameters (paths, write buffers) are copied before the handler can change memory.
  if (opts.strace) call = strace::Begin(info, a, &t.mem());

  SyscallResult r = Errno::kENOSYS;
  if (info != nullptr && info->handler != nullptr) {
    r = info->handler(t, a);
  } else {
    if (info != nullptr) r = info->error;
    strace::Call c = call ? *call : strace::Begin(info, a, &t.mem());
    std::string line = strace::RenderCall(c, &t.mem(), nullptr);
    if (info != nullptr && info->note[0] != '\0') absl::StrAppend(&line, " [", info->note, "]");
    t.kernel().LogUnimplementedOnce(a.nr, line);
  }

  if (call) WriteStraceLine(opts.strace_fd, strace::Finish(*call, &t.mem(), r, t.tid()));
  return r;
}

}  // namespace sbx::syscalls
