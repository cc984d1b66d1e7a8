// dup, dup2, dup3, fcntl, ioctl, pipe, pipe2 (fs/file.c, fs/fcntl.c, fs/ioctl.c, fs/pipe.c).
//
// Not supported, with the errno returned:
// - record locks (F_GETLK/F_SETLK/F_SETLKW and the F_OFD_* variants): ENOLCK, as a
//   filesystem without lock support (NFS without lockd) reports; silently granting locks
//   would break programs that rely on them between processes;
// - F_SETOWN/F_GETOWN/F_SETSIG/F_GETSIG/leases/notify/seals: EINVAL (as an unknown
//   command); F_GETPIPE_SZ/F_SETPIPE_SZ work on pipes and FIFOs (EBADF elsewhere, as Linux);
// - pipe2(O_DIRECT) (packet mode): EINVAL.
#include "fs/blocking.h"
#include "fs/pipe/pipe.h"
#include "fs/vfs.h"
#include "sentry/abi/file.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {

namespace {

bool IsPath(const fs::FileDescription& f) { return (f.flags() & abi::kO_PATH) != 0; }

}  // namespace

SyscallResult SysDup(Task& t, const SyscallArgs& a) {
  auto f = TRY(t.fd_table().GetFile(static_cast<int>(a.Int(0))));
  int fd = TRY(t.fd_table().Add(std::move(f), false));
  return static_cast<uint64_t>(fd);
}

SyscallResult SysDup2(Task& t, const SyscallArgs& a) {
  uint32_t oldfd = a.UInt(0), newfd = a.UInt(1);
  auto f = TRY(t.fd_table().GetFile(static_cast<int>(oldfd)));
  if (oldfd == newfd) return uint64_t{newfd};
  if (newfd > static_cast<uint32_t>(INT32_MAX)) return Errno::kEBADF;
  TRY(t.fd_table().Set(static_cast<int>(newfd), std::move(f), false));
  return uint64_t{newfd};
}

SyscallResult SysDup3(Task& t, const SyscallArgs& a) {
  uint32_t oldfd = a.UInt(0), newfd = a.UInt(1), flags = a.UInt(2);
  if (flags & ~abi::kO_CLOEXEC) return Errno::kEINVAL;
  if (oldfd == newfd) return Errno::kEINVAL;
  if (newfd > static_cast<uint32_t>(INT32_MAX)) return Errno::kEBADF;
  auto f = TRY(t.fd_table().GetFile(static_cast<int>(oldfd)));
  TRY(t.fd_table().Set(static_cast<int>(newfd), std::move(f), (flags & abi::kO_CLOEXEC) != 0));
  return uint64_t{newfd};
}

SyscallResult SysFcntl(Task& t, const SyscallArgs& a) {
  int fd = static_cast<int>(a.Int(0));
  int cmd = static_cast<int>(a.Int(1));
  uint64_t arg = a.ULong(2);
  auto& fds = t.fd_table();
  auto e = TRY(fds.Get(fd));
  switch (cmd) {
    case abi::kF_DUPFD:
    case abi::kF_DUPFD_CLOEXEC: {
      if (arg >= fds.max_fds() || arg > static_cast<uint64_t>(INT32_MAX)) return Errno::kEINVAL;
      int nfd = TRY(fds.Add(e.file, cmd == abi::kF_DUPFD_CLOEXEC, static_cast<int>(arg)));
      return static_cast<uint64_t>(nfd);
    }
    case abi::kF_GETFD:
      return uint64_t{e.cloexec ? 1u : 0u};
    case abi::kF_SETFD:
      TRY(fds.SetCloexec(fd, (arg & abi::kFD_CLOEXEC) != 0));
      return uint64_t{0};
    case abi::kF_GETFL:
      return uint64_t{e.file->flags()};
    default:
      break;
  }
  // The remaining commands are refused on O_PATH descriptors (fdget_raw vs fdget).
  if (IsPath(*e.file)) return Errno::kEBADF;
  switch (cmd) {
    case abi::kF_SETFL:
      e.file->set_status_flags(static_cast<uint32_t>(arg));
      return uint64_t{0};
    case abi::kF_GETLK:
    case abi::kF_SETLK:
    case abi::kF_SETLKW:
    case abi::kF_OFD_GETLK:
    case abi::kF_OFD_SETLK:
    case abi::kF_OFD_SETLKW:
      return Errno::kENOLCK;
    case abi::kF_GETPIPE_SZ:
    case abi::kF_SETPIPE_SZ: {
      fs::pipe::Pipe* p = fs::pipe::PipeOf(e.file.get());
      if (p == nullptr) return Errno::kEBADF;  // pipe_fcntl() on a non-pipe
      if (cmd == abi::kF_SETPIPE_SZ) {
        // The argument is an unsigned int; CAP_SYS_RESOURCE lifts the 1 MiB limit.
        return p->SetCapacity(static_cast<uint32_t>(arg), t.creds().euid == 0);
      }
      return static_cast<uint64_t>(p->Capacity());
    }
    default:
      return Errno::kEINVAL;
  }
}

SyscallResult SysIoctl(Task& t, const SyscallArgs& a) {
  int fd = static_cast<int>(a.Int(0));
  uint32_t cmd = a.UInt(1);
  uint64_t arg = a.ULong(2);
  auto f = TRY(t.fd_table().GetFile(fd));
  if (IsPath(*f)) return Errno::kEBADF;
  switch (cmd) {
    case abi::kFIOCLEX:
      TRY(t.fd_table().SetCloexec(fd, true));
      return uint64_t{0};
    case abi::kFIONCLEX:
      TRY(t.fd_table().SetCloexec(fd, false));
      return uint64_t{0};
    case abi::kFIONBIO: {
      int32_t on = TRY(usermem::CopyIn(t.mem(), usermem::UserPtr<int32_t>(arg)));
      uint32_t fl = f->flags();
      f->set_status_flags(on ? (fl | abi::kO_NONBLOCK) : (fl & ~abi::kO_NONBLOCK));
      return uint64_t{0};
    }
    default: {
      fs::ScopedInterruptible intr(&t);
      return f->Ioctl(t.mem(), cmd, arg);
    }
  }
}

SyscallResult SysPipe2(Task& t, const SyscallArgs& a) {
  uint32_t flags = a.UInt(1);
  if (flags & ~(abi::kO_CLOEXEC | abi::kO_NONBLOCK)) return Errno::kEINVAL;
  auto [r, w] = fs::pipe::NewPipe(flags & abi::kO_NONBLOCK);
  bool cloexec = (flags & abi::kO_CLOEXEC) != 0;
  auto& fds = t.fd_table();
  int rfd = TRY(fds.Add(std::move(r), cloexec));
  auto wfd = fds.Add(std::move(w), cloexec);
  if (!wfd.ok()) {
    (void)fds.Remove(rfd);
    return wfd.error();
  }
  int32_t pair[2] = {rfd, *wfd};
  auto c = usermem::CopyOutFull(t.mem(), a.Addr(0), std::as_bytes(std::span(pair)));
  if (!c.ok()) {
    (void)fds.Remove(rfd);
    (void)fds.Remove(*wfd);
    return c.error();
  }
  return uint64_t{0};
}

SyscallResult SysPipe(Task& t, const SyscallArgs& a) {
  SyscallArgs b = a;
  b.a[1] = 0;
  return SysPipe2(t, b);
}

}  // namespace sbx::syscalls
