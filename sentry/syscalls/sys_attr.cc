// chmod, fchmod, fchmodat, fchmodat2, chown, fchown, lchown, fchownat, truncate, ftruncate,
// fallocate, utime, utimes, futimesat, utimensat, fsync, fdatasync, syncfs, sync,
// sync_file_range, flock (fs/open.c, fs/utimes.c, fs/sync.c, fs/locks.c). Argument checks
// are done here in Linux's order; the permission rules live in the VFS (fs/vfs_attr.cc).
#include "fs/vfs.h"
#include "sentry/abi/file.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {

namespace {

using fs::VFS;

bool IsType(uint32_t mode, uint32_t type) { return (mode & abi::kS_IFMT) == type; }

// A path-or-fd target: resolves dirfd+path with `flags` (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH).
Result<fs::VirtualDentry> Resolve(Task& t, int dirfd, usermem::UserAddr path, uint32_t flags) {
  std::string p = TRY(CopyInPath(t, path));
  uint32_t lf = (flags & abi::kAT_SYMLINK_NOFOLLOW) ? 0 : fs::kLookupFollow;
  if (flags & abi::kAT_EMPTY_PATH) lf |= fs::kLookupEmptyPath;
  return t.kernel().vfs().Lookup(PathCtxOf(t), dirfd, p, lf);
}

// The description's position; pipes and other anonymous files have none (EPERM: their
// attributes cannot be changed here).
Result<fs::VirtualDentry> FdTarget(Task& t, int fd) {
  auto f = TRY(GetFileNoPath(t, fd));
  fs::VirtualDentry vd = VDOf(*f);
  if (!vd.valid()) return Errno::kEPERM;
  return vd;
}

Result<void> Chmod(Task& t, const fs::VirtualDentry& vd, uint32_t mode, bool nofollow) {
  if (nofollow) {
    fs::Attr a = TRY(vd.dentry->inode()->Stat());
    if (IsType(a.mode, abi::kS_IFLNK)) return Errno::kEOPNOTSUPP;
  }
  return t.kernel().vfs().Chmod(vd, FsCreds(t), mode);
}

Result<void> Fchmodat(Task& t, const SyscallArgs& a, uint32_t flags) {
  if (flags & ~(abi::kAT_SYMLINK_NOFOLLOW | abi::kAT_EMPTY_PATH)) return Errno::kEINVAL;
  fs::VirtualDentry vd = TRY(Resolve(t, static_cast<int>(a.Int(0)), a.Addr(1), flags));
  return Chmod(t, vd, a.UInt(2), flags & abi::kAT_SYMLINK_NOFOLLOW);
}

Result<void> Fchownat(Task& t, int dirfd, usermem::UserAddr path, uint32_t uid, uint32_t gid,
                      uint32_t flags) {
  if (flags & ~(abi::kAT_SYMLINK_NOFOLLOW | abi::kAT_EMPTY_PATH)) return Errno::kEINVAL;
  fs::VirtualDentry vd = TRY(Resolve(t, dirfd, path, flags));
  return t.kernel().vfs().Chown(vd, FsCreds(t), uid, gid);
}

// Kernel ABI time structs.
struct KTimespec { int64_t tv_sec, tv_nsec; };
struct KTimeval { int64_t tv_sec, tv_usec; };
struct KUtimbuf { int64_t actime, modtime; };
static_assert(sizeof(KTimespec) == 16 && sizeof(KTimeval) == 16 && sizeof(KUtimbuf) == 16);

// do_utimes(): path == 0 means the file `dirfd` (flags must then be 0).
Result<void> DoUtimes(Task& t, int dirfd, usermem::UserAddr path, const VFS::TimeSpec* times,
                      uint32_t flags) {
  if (flags & ~(abi::kAT_SYMLINK_NOFOLLOW | abi::kAT_EMPTY_PATH)) return Errno::kEINVAL;
  fs::VirtualDentry vd;
  if (path.value() == 0 && dirfd != abi::kAT_FDCWD) {
    if (flags) return Errno::kEINVAL;
    vd = TRY(FdTarget(t, dirfd));
  } else {
    vd = TRY(Resolve(t, dirfd, path, flags));
  }
  return t.kernel().vfs().Utimes(vd, FsCreds(t), times);
}

// utimes/futimesat: struct timeval[2] or null.
Result<void> TimevalUtimes(Task& t, int dirfd, usermem::UserAddr path, usermem::UserAddr tv) {
  VFS::TimeSpec ts[2];
  const VFS::TimeSpec* times = nullptr;
  if (tv.value() != 0) {
    KTimeval v[2];
    TRY(usermem::CopyInFull(t.mem(), tv, std::as_writable_bytes(std::span(v))));
    for (int i = 0; i < 2; ++i) {
      if (v[i].tv_usec < 0 || v[i].tv_usec >= 1000000) return Errno::kEINVAL;
      ts[i] = VFS::TimeSpec{v[i].tv_sec, v[i].tv_usec * 1000};
    }
    times = ts;
  }
  return DoUtimes(t, dirfd, path, times, 0);
}

}  // namespace

SyscallResult SysChmod(Task& t, const SyscallArgs& a) {
  auto vd = TRY(Resolve(t, abi::kAT_FDCWD, a.Addr(0), 0));
  return ZeroOr(Chmod(t, vd, a.UInt(1), false));
}

SyscallResult SysFchmod(Task& t, const SyscallArgs& a) {
  auto vd = TRY(FdTarget(t, static_cast<int>(a.Int(0))));
  return ZeroOr(Chmod(t, vd, a.UInt(1), false));
}

SyscallResult SysFchmodat(Task& t, const SyscallArgs& a) { return ZeroOr(Fchmodat(t, a, 0)); }
SyscallResult SysFchmodat2(Task& t, const SyscallArgs& a) {
  return ZeroOr(Fchmodat(t, a, a.UInt(3)));
}

SyscallResult SysChown(Task& t, const SyscallArgs& a) {
  return ZeroOr(Fchownat(t, abi::kAT_FDCWD, a.Addr(0), a.UInt(1), a.UInt(2), 0));
}
SyscallResult SysLchown(Task& t, const SyscallArgs& a) {
  return ZeroOr(Fchownat(t, abi::kAT_FDCWD, a.Addr(0), a.UInt(1), a.UInt(2),
                         abi::kAT_SYMLINK_NOFOLLOW));
}
SyscallResult SysFchownat(Task& t, const SyscallArgs& a) {
  return ZeroOr(Fchownat(t, static_cast<int>(a.Int(0)), a.Addr(1), a.UInt(2), a.UInt(3),
                         a.UInt(4)));
}
SyscallResult SysFchown(Task& t, const SyscallArgs& a) {
  auto vd = TRY(FdTarget(t, static_cast<int>(a.Int(0))));
  return ZeroOr(t.kernel().vfs().Chown(vd, FsCreds(t), a.UInt(1), a.UInt(2)));
}

SyscallResult SysTruncate(Task& t, const SyscallArgs& a) {
  int64_t len = a.Long(1);
  if (len < 0) return Errno::kEINVAL;
  auto vd = TRY(Resolve(t, abi::kAT_FDCWD, a.Addr(0), 0));
  return ZeroOr(t.kernel().vfs().Truncate(vd, FsCreds(t), static_cast<uint64_t>(len)));
}

SyscallResult SysFtruncate(Task& t, const SyscallArgs& a) {
  int64_t len = a.Long(1);
  if (len < 0) return Errno::kEINVAL;
  auto f = TRY(GetFileNoPath(t, static_cast<int>(a.Int(0))));
  fs::Attr at = TRY(f->Stat());
  if (!IsType(at.mode, abi::kS_IFREG) || !f->writable() || !VDOf(*f).valid()) {
    return Errno::kEINVAL;
  }
  return ZeroOr(t.kernel().vfs().Truncate(VDOf(*f), FsCreds(t), static_cast<uint64_t>(len),
                                          /*check_access=*/false));
}

SyscallResult SysFallocate(Task& t, const SyscallArgs& a) {
  auto f = TRY(GetFileNoPath(t, static_cast<int>(a.Int(0))));
  int mode = static_cast<int>(a.Int(1));
  int64_t off = a.Long(2), len = a.Long(3);
  constexpr int kKeep = 1, kPunch = 2, kCollapse = 8, kZero = 0x10, kInsert = 0x20,
                kUnshare = 0x40, kSupported = 0x7f;
  if (off < 0 || len <= 0) return Errno::kEINVAL;
  if (mode & ~kSupported) return Errno::kEOPNOTSUPP;
  if ((mode & (kPunch | kZero)) == (kPunch | kZero)) return Errno::kEOPNOTSUPP;
  if ((mode & kPunch) && !(mode & kKeep)) return Errno::kEOPNOTSUPP;
  if ((mode & kCollapse) && (mode & ~kCollapse)) return Errno::kEINVAL;
  if ((mode & kInsert) && (mode & ~kInsert)) return Errno::kEINVAL;
  if ((mode & kUnshare) && (mode & ~(kUnshare | kKeep))) return Errno::kEINVAL;
  if (!f->writable()) return Errno::kEBADF;
  fs::Attr at = TRY(f->Stat());
  if (IsType(at.mode, abi::kS_IFIFO)) return Errno::kESPIPE;
  if (IsType(at.mode, abi::kS_IFDIR)) return Errno::kEISDIR;
  if (!IsType(at.mode, abi::kS_IFREG) && !IsType(at.mode, abi::kS_IFBLK)) return Errno::kENODEV;
  int64_t end;
  if (__builtin_add_overflow(off, len, &end)) return Errno::kEFBIG;
  if (!f->dentry()) return Errno::kEOPNOTSUPP;
  return ZeroOr(f->dentry()->inode()->Allocate(mode, static_cast<uint64_t>(off),
                                               static_cast<uint64_t>(len)));
}

SyscallResult SysUtimensat(Task& t, const SyscallArgs& a) {
  VFS::TimeSpec ts[2];
  const VFS::TimeSpec* times = nullptr;
  if (a.ULong(2) != 0) {
    KTimespec v[2];
    TRY(usermem::CopyInFull(t.mem(), a.Addr(2), std::as_writable_bytes(std::span(v))));
    if (v[0].tv_nsec == VFS::kUtimeOmit && v[1].tv_nsec == VFS::kUtimeOmit) return uint64_t{0};
    ts[0] = {v[0].tv_sec, v[0].tv_nsec};
    ts[1] = {v[1].tv_sec, v[1].tv_nsec};
    times = ts;
  }
  return ZeroOr(DoUtimes(t, static_cast<int>(a.Int(0)), a.Addr(1), times, a.UInt(3)));
}

SyscallResult SysUtimes(Task& t, const SyscallArgs& a) {
  return ZeroOr(TimevalUtimes(t, abi::kAT_FDCWD, a.Addr(0), a.Addr(1)));
}

SyscallResult SysFutimesat(Task& t, const SyscallArgs& a) {
  return ZeroOr(TimevalUtimes(t, static_cast<int>(a.Int(0)), a.Addr(1), a.Addr(2)));
}

SyscallResult SysUtime(Task& t, const SyscallArgs& a) {
  VFS::TimeSpec ts[2];
  const VFS::TimeSpec* times = nullptr;
  if (a.ULong(1) != 0) {
    KUtimbuf u = TRY(usermem::CopyIn(t.mem(), usermem::UserPtr<KUtimbuf>(a.ULong(1))));
    ts[0] = {u.actime, 0};
    ts[1] = {u.modtime, 0};
    times = ts;
  }
  return ZeroOr(DoUtimes(t, abi::kAT_FDCWD, a.Addr(0), times, 0));
}

// fsync/fdatasync: every file with data here is in memory (tmpfs) or read-only (gofer), so
// there is nothing to write back; files without an fsync operation give EINVAL as in Linux.
SyscallResult SysFsync(Task& t, const SyscallArgs& a) {
  auto f = TRY(GetFileNoPath(t, static_cast<int>(a.Int(0))));
  fs::Attr at = TRY(f->Stat());
  if (!f->dentry() || !(IsType(at.mode, abi::kS_IFREG) || IsType(at.mode, abi::kS_IFDIR))) {
    return Errno::kEINVAL;
  }
  return uint64_t{0};
}
SyscallResult SysFdatasync(Task& t, const SyscallArgs& a) { return SysFsync(t, a); }

SyscallResult SysSyncfs(Task& t, const SyscallArgs& a) {
  TRY(GetFileNoPath(t, static_cast<int>(a.Int(0))));
  return uint64_t{0};
}

SyscallResult SysSync(Task&, const SyscallArgs&) { return uint64_t{0}; }

SyscallResult SysSyncFileRange(Task& t, const SyscallArgs& a) {
  auto f = TRY(GetFileNoPath(t, static_cast<int>(a.Int(0))));
  int64_t off = a.Long(1), nbytes = a.Long(2);
  uint32_t flags = a.UInt(3);
  if (flags & ~7u) return Errno::kEINVAL;
  uint64_t endbyte = static_cast<uint64_t>(off) + static_cast<uint64_t>(nbytes);
  if (off < 0 || static_cast<int64_t>(endbyte) < 0 || endbyte < static_cast<uint64_t>(off)) {
    return Errno::kEINVAL;
  }
  fs::Attr at = TRY(f->Stat());
  if (!IsType(at.mode, abi::kS_IFREG) && !IsType(at.mode, abi::kS_IFBLK) &&
      !IsType(at.mode, abi::kS_IFDIR) && !IsType(at.mode, abi::kS_IFLNK)) {
    return Errno::kESPIPE;
  }
  return uint64_t{0};
}

// flock(2): locks belong to the open file description and live in the inode's FlockTable,
// which forgets a description once its last reference (the last close) is gone.
SyscallResult SysFlock(Task& t, const SyscallArgs& a) {
  constexpr uint32_t kSh = 1, kEx = 2, kNb = 4, kUn = 8;
  uint32_t op = a.UInt(1);
  uint32_t cmd = op & ~kNb;
  if (cmd != kSh && cmd != kEx && cmd != kUn) return Errno::kEINVAL;
  auto f = TRY(GetFileNoPath(t, static_cast<int>(a.Int(0))));
  // An anonymous file (pipe) cannot be reached by another open, so no lock can conflict.
  if (!f->dentry()) return uint64_t{0};
  fs::FlockTable& table = f->dentry()->inode()->flocks();
  if (cmd == kUn) {
    table.Unlock(f.get());
    return uint64_t{0};
  }
  TRY(table.Lock(f, cmd == kSh, op & kNb));
  return uint64_t{0};
}

}  // namespace sbx::syscalls
