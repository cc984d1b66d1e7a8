// symlink, symlinkat, link, linkat, rename, renameat, renameat2, mknod, mknodat
// (fs/namei.c). Path resolution and every rule live in the VFS (fs/vfs_mutate.cc); these
// handlers copy the arguments in.
#include "fs/vfs.h"
#include "sentry/abi/file.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {

namespace {

Result<void> SymlinkAt(Task& t, usermem::UserAddr target, int dirfd, usermem::UserAddr path) {
  std::string tgt = TRY(CopyInPath(t, target));
  std::string p = TRY(CopyInPath(t, path));
  return t.kernel().vfs().SymlinkAt(PathCtxOf(t), tgt, dirfd, p);
}

Result<void> LinkAt(Task& t, int olddirfd, usermem::UserAddr oldp, int newdirfd,
                    usermem::UserAddr newp, uint32_t flags) {
  std::string o = TRY(CopyInPath(t, oldp));
  std::string n = TRY(CopyInPath(t, newp));
  return t.kernel().vfs().LinkAt(PathCtxOf(t), olddirfd, o, newdirfd, n, flags);
}

Result<void> RenameAt(Task& t, int olddirfd, usermem::UserAddr oldp, int newdirfd,
                      usermem::UserAddr newp, uint32_t flags) {
  std::string o = TRY(CopyInPath(t, oldp));
  std::string n = TRY(CopyInPath(t, newp));
  return t.kernel().vfs().RenameAt(PathCtxOf(t), olddirfd, o, newdirfd, n, flags);
}

// The kernel's new_decode_dev() of mknod's `unsigned int dev` argument.
uint64_t DecodeDev(uint32_t dev) {
  uint32_t major = (dev & 0xfff00) >> 8;
  uint32_t minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  return abi::MakeDev(major, minor);
}

Result<void> MknodAt(Task& t, int dirfd, usermem::UserAddr path, uint32_t mode, uint32_t dev) {
  std::string p = TRY(CopyInPath(t, path));
  return t.kernel().vfs().MknodAt(PathCtxOf(t), dirfd, p, mode, DecodeDev(dev));
}

SyscallResult Zero(Result<void> r) {
  if (!r.ok()) return r.error();
  return uint64_t{0};
}

}  // namespace

SyscallResult SysSymlink(Task& t, const SyscallArgs& a) {
  return Zero(SymlinkAt(t, a.Addr(0), abi::kAT_FDCWD, a.Addr(1)));
}
SyscallResult SysSymlinkat(Task& t, const SyscallArgs& a) {
  return Zero(SymlinkAt(t, a.Addr(0), static_cast<int>(a.Int(1)), a.Addr(2)));
}
SyscallResult SysLink(Task& t, const SyscallArgs& a) {
  return Zero(LinkAt(t, abi::kAT_FDCWD, a.Addr(0), abi::kAT_FDCWD, a.Addr(1), 0));
}
SyscallResult SysLinkat(Task& t, const SyscallArgs& a) {
  return Zero(LinkAt(t, static_cast<int>(a.Int(0)), a.Addr(1), static_cast<int>(a.Int(2)),
                     a.Addr(3), a.UInt(4)));
}
SyscallResult SysRename(Task& t, const SyscallArgs& a) {
  return Zero(RenameAt(t, abi::kAT_FDCWD, a.Addr(0), abi::kAT_FDCWD, a.Addr(1), 0));
}
SyscallResult SysRenameat(Task& t, const SyscallArgs& a) {
  return Zero(RenameAt(t, static_cast<int>(a.Int(0)), a.Addr(1), static_cast<int>(a.Int(2)),
                       a.Addr(3), 0));
}
SyscallResult SysRenameat2(Task& t, const SyscallArgs& a) {
  return Zero(RenameAt(t, static_cast<int>(a.Int(0)), a.Addr(1), static_cast<int>(a.Int(2)),
                       a.Addr(3), a.UInt(4)));
}
SyscallResult SysMknod(Task& t, const SyscallArgs& a) {
  return Zero(MknodAt(t, abi::kAT_FDCWD, a.Addr(0), a.UInt(1), a.UInt(2)));
}
SyscallResult SysMknodat(Task& t, const SyscallArgs& a) {
  return Zero(MknodAt(t, static_cast<int>(a.Int(0)), a.Addr(1), a.UInt(2), a.UInt(3)));
}

}  // namespace sbx::syscalls
