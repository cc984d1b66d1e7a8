// open, openat, creat, close, close_range (fs/open.c, fs/file.c).
#include "fs/vfs.h"
#include "sentry/abi/file.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {

namespace {

constexpr uint32_t kCLOSE_RANGE_UNSHARE = 1u << 1;
constexpr uint32_t kCLOSE_RANGE_CLOEXEC = 1u << 2;

SyscallResult DoOpen(Task& t, int dirfd, usermem::UserAddr path_addr, uint32_t flags,
                     uint32_t mode) {
  std::string path = TRY(CopyInPath(t, path_addr));
  flags |= abi::kO_LARGEFILE;  // force_o_largefile() on 64-bit
  auto f = TRY(t.kernel().vfs().OpenAt(PathCtxOf(t), dirfd, path, flags, mode & 07777));
  int fd = TRY(t.fd_table().Add(std::move(f), (flags & abi::kO_CLOEXEC) != 0));
  return static_cast<uint64_t>(fd);
}

}  // namespace

SyscallResult SysOpen(Task& t, const SyscallArgs& a) {
  return DoOpen(t, abi::kAT_FDCWD, a.Addr(0), a.UInt(1), a.UInt(2));
}

SyscallResult SysOpenat(Task& t, const SyscallArgs& a) {
  return DoOpen(t, static_cast<int>(a.Int(0)), a.Addr(1), a.UInt(2), a.UInt(3));
}

SyscallResult SysCreat(Task& t, const SyscallArgs& a) {
  return DoOpen(t, abi::kAT_FDCWD, a.Addr(0), abi::kO_CREAT | abi::kO_WRONLY | abi::kO_TRUNC,
                a.UInt(1));
}

SyscallResult SysClose(Task& t, const SyscallArgs& a) {
  auto f = TRY(t.fd_table().Remove(static_cast<int>(a.Int(0))));
  f.reset();  // the last reference releases the file here
  return uint64_t{0};
}

// close_range(first, last, flags). CLOSE_RANGE_UNSHARE is refused with EINVAL: the task
// cannot swap in a private FD table yet, and closing in a shared table would be wrong.
SyscallResult SysCloseRange(Task& t, const SyscallArgs& a) {
  uint32_t first = a.UInt(0), last = a.UInt(1), flags = a.UInt(2);
  if (flags & ~(kCLOSE_RANGE_UNSHARE | kCLOSE_RANGE_CLOEXEC)) return Errno::kEINVAL;
  if (flags & kCLOSE_RANGE_UNSHARE) return Errno::kEINVAL;
  if (first > last) return Errno::kEINVAL;
  auto& fds = t.fd_table();
  for (int fd : fds.OpenFDs()) {
    uint32_t u = static_cast<uint32_t>(fd);
    if (u < first || u > last) continue;
    if (flags & kCLOSE_RANGE_CLOEXEC) {
      (void)fds.SetCloexec(fd, true);
    } else {
      (void)fds.Remove(fd);
    }
  }
  return uint64_t{0};
}

}  // namespace sbx::syscalls
