// Process syscalls: clone, fork, vfork, clone3, execve, execveat, wait4, waitid, setpgid,
// getpgid, getpgrp, setsid, getsid, getppid, pidfd_open, pidfd_send_signal (kernel/fork.c,
// fs/exec.c, kernel/exit.c, kernel/sys.c, kernel/pid.c). The work is in sentry/kernel
// (task_clone.cc, task_exec.cc, task_exit.cc); this file decodes arguments.
#include <signal.h>

#include "fs/vfs.h"
#include "sentry/kernel/pidfd.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls {
namespace {

using usermem::UserAddr;
using usermem::UserPtr;

constexpr uint64_t kCsignal = 0xff;
constexpr uint64_t kCloneVm = 0x100, kCloneVfork = 0x4000;

// MAX_ARG_STRINGS and a bound on the total size (the loader enforces the stack-based limit).
constexpr size_t kMaxArgStrings = 0x7fffffff, kMaxArgBytes = 32ull << 20;

// struct clone_args (v2: with set_tid, cgroup).
struct CloneArgs3 {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
  uint64_t set_tid, set_tid_size, cgroup;
};
constexpr size_t kCloneArgsSizeVer0 = 64;

// struct rusage: only the CPU times are filled (the memory/IO counters are not tracked).
struct Rusage {
  int64_t utime_sec, utime_usec, stime_sec, stime_usec;
  int64_t rest[14];
};
static_assert(sizeof(Rusage) == 144);

Rusage RusageOf(const kernel::WaitResult& r) {
  Rusage ru{};
  ru.utime_sec = r.user_ns / 1'000'000'000;
  ru.utime_usec = r.user_ns % 1'000'000'000 / 1000;
  ru.stime_sec = r.sys_ns / 1'000'000'000;
  ru.stime_usec = r.sys_ns % 1'000'000'000 / 1000;
  return ru;
}

constexpr int kWNoHang = 1, kWUntraced = 2, kWExited = 4, kWContinued = 8,
              kWNoWait = 0x01000000;
constexpr int kWNoThread = 0x20000000, kWAll = 0x40000000, kWClone = static_cast<int>(0x80000000);
constexpr int kPAll = 0, kPPid = 1, kPPgid = 2, kPPidfd = 3;

}  // namespace

SyscallResult SysClone(Task& t, const SyscallArgs& a) {
  // x86-64: clone(flags, stack, parent_tid, child_tid, tls).
  kernel::CloneArgs c;
  c.flags = a.ULong(0) & ~kCsignal;
  c.exit_signal = static_cast<int>(a.ULong(0) & kCsignal);
  c.stack = a.ULong(1);
  c.parent_tid = a.ULong(2);
  c.child_tid = a.ULong(3);
  c.tls = a.ULong(4);
  // Linux ignores the exit signal of threads.
  if (c.flags & 0x10000 /*CLONE_THREAD*/) c.exit_signal = 0;
  return static_cast<uint64_t>(TRY(t.Clone(c)));
}

SyscallResult SysFork(Task& t, const SyscallArgs& a) {
  kernel::CloneArgs c;
  c.exit_signal = SIGCHLD;
  return static_cast<uint64_t>(TRY(t.Clone(c)));
}

SyscallResult SysVfork(Task& t, const SyscallArgs& a) {
  kernel::CloneArgs c;
  c.flags = kCloneVm | kCloneVfork;
  c.exit_signal = SIGCHLD;
  return static_cast<uint64_t>(TRY(t.Clone(c)));
}

SyscallResult SysClone3(Task& t, const SyscallArgs& a) {
  const uint64_t size = a.ULong(1);
  if (size < kCloneArgsSizeVer0 || size > 4096) return Errno::kEINVAL;
  CloneArgs3 ca{};
  const size_t n = std::min<size_t>(size, sizeof(ca));
  TRY(usermem::CopyInFull(t.mem(), a.Addr(0),
                          std::as_writable_bytes(std::span(reinterpret_cast<uint8_t*>(&ca), n))));
  // A larger struct from a newer libc is fine only if the extra bytes are zero.
  for (uint64_t off = sizeof(ca); off < size; off += 8) {
    uint64_t v = TRY(usermem::CopyIn(t.mem(), UserPtr<uint64_t>(a.Addr(0) + off)));
    if (v != 0) return Errno::kE2BIG;
  }
  if (ca.set_tid_size != 0 || ca.set_tid != 0) return Errno::kEINVAL;  // no nested pid ns
  if ((ca.exit_signal & ~kCsignal) != 0 || ca.exit_signal > 64) return Errno::kEINVAL;
  if ((ca.stack == 0) != (ca.stack_size == 0)) return Errno::kEINVAL;
  kernel::CloneArgs c;
  c.clone3 = true;
  c.flags = ca.flags;
  c.exit_signal = static_cast<int>(ca.exit_signal);
  c.stack = ca.stack == 0 ? 0 : ca.stack + ca.stack_size;
  c.tls = ca.tls;
  c.parent_tid = ca.parent_tid;
  c.child_tid = ca.child_tid;
  c.pidfd = ca.pidfd;
  if (c.flags & kCsignal) return Errno::kEINVAL;  // the exit signal has its own field
  if (c.flags & 0x400000 /*CLONE_DETACHED*/) return Errno::kEINVAL;  // clone3 refuses it
  if (c.flags & 0x10000 /*CLONE_THREAD*/) c.exit_signal = 0;
  return static_cast<uint64_t>(TRY(t.Clone(c)));
}

namespace {

SyscallResult DoExecve(Task& t, int dirfd, UserAddr path_addr, UserAddr argv_addr,
                       UserAddr envp_addr, int flags) {
  constexpr int kAtEmptyPath = 0x1000, kAtSymlinkNofollow = 0x100;
  if (flags & ~(kAtEmptyPath | kAtSymlinkNofollow)) return Errno::kEINVAL;
  std::string path = TRY(usermem::CopyInString(t.mem(), path_addr, 4096));
  std::vector<std::string> argv, envp;
  if (!argv_addr.IsNull()) {
    argv = TRY(usermem::CopyInStringVector(t.mem(), argv_addr, kMaxArgStrings, kMaxArgBytes));
  }
  if (!envp_addr.IsNull()) {
    envp = TRY(usermem::CopyInStringVector(t.mem(), envp_addr, kMaxArgStrings, kMaxArgBytes));
  }
  std::shared_ptr<fs::FileDescription> file;
  std::string filename = path;
  if (path.empty()) {
    if (!(flags & kAtEmptyPath)) return Errno::kENOENT;
    file = TRY(t.fd_table().GetFile(dirfd));
    filename = "/dev/fd/" + std::to_string(dirfd);
  } else if (path[0] != '/' && dirfd != abi::kAT_FDCWD) {
    uint32_t oflags = abi::kO_RDONLY | abi::kO_LARGEFILE |
                      ((flags & kAtSymlinkNofollow) ? abi::kO_NOFOLLOW : 0);
    file = TRY(t.kernel().vfs().OpenAt(PathCtxOf(t), dirfd, path, oflags, 0));
    filename = "/dev/fd/" + std::to_string(dirfd) + "/" + path;
  } else if (flags & kAtSymlinkNofollow) {
    auto attr = t.kernel().vfs().StatAt(PathCtxOf(t), dirfd, path, 0);
    if (attr.ok() && (attr->mode & 0170000) == 0120000) return Errno::kELOOP;
  }
  if (file) {
    // The checks OpenForExec does for paths: a regular file the caller may execute.
    fs::Attr attr = TRY(file->Stat());
    if ((attr.mode & 0170000) != 0100000) return Errno::kEACCES;
    TRY(fs::CheckPermission(attr, FsCreds(t), fs::kMayExec));
  }
  // Linux fills an empty argv with "" only for the filename's sake; keep what was given.
  return t.Execve(filename, std::move(file), std::move(argv), std::move(envp));
}

}  // namespace

SyscallResult SysExecve(Task& t, const SyscallArgs& a) {
  return DoExecve(t, abi::kAT_FDCWD, a.Addr(0), a.Addr(1), a.Addr(2), 0);
}

SyscallResult SysExecveat(Task& t, const SyscallArgs& a) {
  return DoExecve(t, static_cast<int>(a.Int(0)), a.Addr(1), a.Addr(2), a.Addr(3),
                  static_cast<int>(a.Int(4)));
}

SyscallResult SysWait4(Task& t, const SyscallArgs& a) {
  const int64_t pid = a.Int(0);
  const int options = static_cast<int>(a.Int(2));
  if (options & ~(kWNoHang | kWUntraced | kWContinued | kWNoThread | kWAll | kWClone)) {
    return Errno::kEINVAL;
  }
  if (pid == INT32_MIN) return Errno::kESRCH;
  kernel::WaitSpec spec;
  spec.options = options | kWExited;
  if (pid < -1) {
    spec.which = kernel::WaitSpec::Which::kPgid;
    spec.id = static_cast<int32_t>(-pid);
  } else if (pid == 0) {
    spec.which = kernel::WaitSpec::Which::kPgid;
    spec.id = t.thread_group().pgid();
  } else if (pid > 0) {
    spec.which = kernel::WaitSpec::Which::kPid;
    spec.id = static_cast<int32_t>(pid);
  }
  kernel::WaitResult r = TRY(t.Wait(spec));
  if (r.pid != 0) {
    if (!a.Addr(1).IsNull()) {
      TRY(usermem::CopyOut(t.mem(), UserPtr<int32_t>(a.Addr(1)), int32_t{r.status_word}));
    }
    if (!a.Addr(3).IsNull()) {
      TRY(usermem::CopyOut(t.mem(), UserPtr<Rusage>(a.Addr(3)), RusageOf(r)));
    }
  }
  return static_cast<uint64_t>(r.pid);
}

SyscallResult SysWaitid(Task& t, const SyscallArgs& a) {
  const int which = static_cast<int>(a.Int(0));
  const int64_t id = a.Int(1);
  const int options = static_cast<int>(a.Int(3));
  if (options & ~(kWNoHang | kWNoWait | kWExited | 2 /*WSTOPPED*/ | kWContinued | kWNoThread |
                  kWAll | kWClone)) {
    return Errno::kEINVAL;
  }
  if (!(options & (kWExited | 2 | kWContinued))) return Errno::kEINVAL;
  kernel::WaitSpec spec;
  spec.options = options;
  bool pidfd_nonblock = false;
  switch (which) {
    case kPAll:
      break;
    case kPPid:
      if (id <= 0) return Errno::kEINVAL;
      spec.which = kernel::WaitSpec::Which::kPid;
      spec.id = static_cast<int32_t>(id);
      break;
    case kPPgid:
      if (id < 0) return Errno::kEINVAL;
      spec.which = kernel::WaitSpec::Which::kPgid;
      spec.id = id == 0 ? t.thread_group().pgid() : static_cast<int32_t>(id);
      break;
    case kPPidfd: {
      if (id < 0) return Errno::kEINVAL;
      auto f = TRY(t.fd_table().GetFile(static_cast<int>(id)));
      auto tg = kernel::PidFDThreadGroup(*f);
      if (!tg) return Errno::kEBADF;
      spec.which = kernel::WaitSpec::Which::kGroup;
      spec.group = tg.get();
      if (f->flags() & abi::kO_NONBLOCK) {
        // A PIDFD_NONBLOCK pidfd: EAGAIN rather than waiting for a live child.
        spec.options |= kWNoHang;
        pidfd_nonblock = true;
      }
      break;
    }
    default:
      return Errno::kEINVAL;
  }
  kernel::WaitResult r = TRY(t.Wait(spec));
  if (r.pid == 0 && pidfd_nonblock && !(options & kWNoHang)) return Errno::kEAGAIN;
  if (!a.Addr(2).IsNull()) {
    arch::Siginfo info;  // all zero when WNOHANG found nothing
    if (r.pid != 0) {
      info.si_signo = SIGCHLD;
      info.si_code = r.code;
      info.set_pid(r.pid);
      info.set_uid(r.uid);
      info.set_status(r.status);
    }
    TRY(usermem::CopyOut(t.mem(), UserPtr<arch::Siginfo>(a.Addr(2)), info));
  }
  if (!a.Addr(4).IsNull() && r.pid != 0) {
    TRY(usermem::CopyOut(t.mem(), UserPtr<Rusage>(a.Addr(4)), RusageOf(r)));
  }
  return 0;
}

SyscallResult SysSetpgid(Task& t, const SyscallArgs& a) {
  TRY(t.kernel().SetPgid(t, static_cast<int32_t>(a.Int(0)), static_cast<int32_t>(a.Int(1))));
  return 0;
}

SyscallResult SysSetsid(Task& t, const SyscallArgs& a) {
  return static_cast<uint64_t>(TRY(t.kernel().SetSid(t)));
}

SyscallResult SysGetpgrp(Task& t, const SyscallArgs&) {
  return static_cast<uint64_t>(t.thread_group().pgid());
}

SyscallResult SysGetppid(Task& t, const SyscallArgs&) {
  return static_cast<uint64_t>(t.thread_group().ppid());
}

namespace {
Result<std::shared_ptr<kernel::ThreadGroup>> LookupProcess(Task& t, int64_t pid) {
  if (pid < 0) return Errno::kESRCH;
  if (pid == 0) return t.thread_group_ptr();
  auto tg = t.kernel().FindThreadGroup(static_cast<int32_t>(pid));
  if (tg) return tg;
  // A thread ID names its process (find_task_by_vpid + task's group).
  if (auto task = t.kernel().FindTask(static_cast<int32_t>(pid))) return task->thread_group_ptr();
  return Errno::kESRCH;
}
}  // namespace

SyscallResult SysGetpgid(Task& t, const SyscallArgs& a) {
  auto tg = TRY(LookupProcess(t, a.Int(0)));
  return static_cast<uint64_t>(tg->pgid());
}

SyscallResult SysGetsid(Task& t, const SyscallArgs& a) {
  auto tg = TRY(LookupProcess(t, a.Int(0)));
  return static_cast<uint64_t>(tg->sid());
}

SyscallResult SysPidfdOpen(Task& t, const SyscallArgs& a) {
  const int64_t pid = a.Int(0);
  const uint64_t flags = a.ULong(1);
  constexpr uint64_t kPidfdNonblock = 04000;  // O_NONBLOCK
  if (flags & ~kPidfdNonblock) return Errno::kEINVAL;
  if (pid <= 0) return Errno::kEINVAL;
  // Processes only (no PIDFD_THREAD); an exited child stays openable until it is reaped.
  auto tg = t.kernel().FindThreadGroup(static_cast<int32_t>(pid));
  if (!tg) return Errno::kESRCH;
  auto fd = TRY(t.fd_table().Add(kernel::NewPidFD(std::move(tg), flags & kPidfdNonblock),
                                 /*cloexec=*/true));
  return static_cast<uint64_t>(fd);
}

SyscallResult SysPidfdSendSignal(Task& t, const SyscallArgs& a) {
  const int sig = static_cast<int>(a.Int(1));
  if (a.ULong(3) != 0) return Errno::kEINVAL;
  auto f = TRY(t.fd_table().GetFile(static_cast<int>(a.Int(0))));
  auto tg = kernel::PidFDThreadGroup(*f);
  if (!tg) return Errno::kEBADF;
  if (sig < 0 || sig > kernel::kNumSignals) return Errno::kEINVAL;
  arch::Siginfo info;
  if (!a.Addr(2).IsNull()) {
    info = TRY(usermem::CopyIn(t.mem(), UserPtr<arch::Siginfo>(a.Addr(2))));
    if (info.si_signo != sig) return Errno::kEINVAL;
    // Userspace may not impersonate the kernel or kill() towards another process.
    if ((info.si_code >= 0 || info.si_code == arch::kSiTkill) && tg.get() != &t.thread_group()) {
      return Errno::kEPERM;
    }
  } else {
    info.si_signo = sig;
    info.si_code = arch::kSiUser;
    info.set_pid(t.tgid());
    info.set_uid(t.creds().ruid);
  }
  if (tg->Reaped()) return Errno::kESRCH;  // a zombie still takes (and drops) signals
  if (!MaySignal(t, *tg, sig)) return Errno::kEPERM;
  if (sig == 0) return 0;
  TRY(tg->SendGroupSignal(info));
  return 0;
}

}  // namespace sbx::syscalls
