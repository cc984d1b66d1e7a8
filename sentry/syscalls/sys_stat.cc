// stat, fstat, lstat, newfstatat, statx, readlink, readlinkat, access, faccessat, faccessat2,
// statfs, fstatfs (fs/stat.c, fs/open.c, fs/statfs.c).
//
// statfs values: tmpfs/devtmpfs report TMPFS_MAGIC with their byte limit; the gofer root
// reports V9FS_MAGIC (as gVisor) with the host's block and inode counts from fstatfs on a
// donated FD; files without a mount (pipes, host stdio) report PIPEFS_MAGIC for FIFOs and
// ANON_INODE_FS_MAGIC otherwise.
#include <cstring>

#include "fs/vfs.h"
#include "sentry/abi/file.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {

namespace {

using usermem::UserPtr;

constexpr int64_t kPIPEFS_MAGIC = 0x50495045;
constexpr int64_t kANON_INODE_FS_MAGIC = 0x09041934;
constexpr int64_t kST_VALID = 0x20;

abi::Stat ToStat(const fs::Attr& x) {
  abi::Stat s{};
  s.st_dev = x.dev;
  s.st_ino = x.ino;
  s.st_nlink = x.nlink;
  s.st_mode = x.mode;
  s.st_uid = x.uid;
  s.st_gid = x.gid;
  s.st_rdev = x.rdev;
  s.st_size = static_cast<int64_t>(x.size);
  s.st_blksize = x.blksize;
  s.st_blocks = static_cast<int64_t>(x.blocks);
  s.st_atime_sec = x.atime_sec;
  s.st_atime_nsec = x.atime_nsec;
  s.st_mtime_sec = x.mtime_sec;
  s.st_mtime_nsec = x.mtime_nsec;
  s.st_ctime_sec = x.ctime_sec;
  s.st_ctime_nsec = x.ctime_nsec;
  return s;
}

abi::Statx ToStatx(const fs::Attr& x) {
  abi::Statx s{};
  s.stx_mask = abi::kSTATX_BASIC_STATS;
  s.stx_blksize = x.blksize;
  s.stx_nlink = x.nlink;
  s.stx_uid = x.uid;
  s.stx_gid = x.gid;
  s.stx_mode = static_cast<uint16_t>(x.mode);
  s.stx_ino = x.ino;
  s.stx_size = x.size;
  s.stx_blocks = x.blocks;
  s.stx_atime = {x.atime_sec, x.atime_nsec, 0};
  s.stx_mtime = {x.mtime_sec, x.mtime_nsec, 0};
  s.stx_ctime = {x.ctime_sec, x.ctime_nsec, 0};
  if (x.btime_sec != 0 || x.btime_nsec != 0) {
    s.stx_mask |= abi::kSTATX_BTIME;
    s.stx_btime = {x.btime_sec, x.btime_nsec, 0};
  }
  s.stx_rdev_major = abi::DevMajor(x.rdev);
  s.stx_rdev_minor = abi::DevMinor(x.rdev);
  s.stx_dev_major = abi::DevMajor(x.dev);
  s.stx_dev_minor = abi::DevMinor(x.dev);
  return s;
}

// A path argument that may be NULL when AT_EMPTY_PATH is given (Linux >= 6.11).
Result<std::string> PathOrEmpty(Task& t, usermem::UserAddr addr, uint32_t flags) {
  if (addr.IsNull() && (flags & abi::kAT_EMPTY_PATH)) return std::string();
  return CopyInPath(t, addr);
}

SyscallResult StatPath(Task& t, int dirfd, usermem::UserAddr path_addr, uint32_t lookup,
                       usermem::UserAddr out, uint32_t at_flags) {
  std::string path = TRY(PathOrEmpty(t, path_addr, at_flags));
  fs::Attr x = TRY(t.kernel().vfs().StatAt(PathCtxOf(t), dirfd, path, lookup));
  TRY(usermem::CopyOut(t.mem(), UserPtr<abi::Stat>(out), ToStat(x)));
  return uint64_t{0};
}

SyscallResult ReadlinkCommon(Task& t, int dirfd, usermem::UserAddr path_addr,
                             usermem::UserAddr buf, int64_t size) {
  if (size <= 0) return Errno::kEINVAL;
  std::string path = TRY(CopyInPath(t, path_addr));
  auto target = t.kernel().vfs().ReadlinkAt(PathCtxOf(t), dirfd, path);
  if (!target.ok()) {
    // do_readlinkat(): an empty path naming a non-symlink is ENOENT, not EINVAL.
    if (target.error() == Errno::kEINVAL && path.empty()) return Errno::kENOENT;
    return target.error();
  }
  size_t n = std::min<size_t>(target->size(), static_cast<size_t>(size));  // no NUL added
  TRY(usermem::CopyOutFull(t.mem(), buf, std::as_bytes(std::span(target->data(), n))));
  return static_cast<uint64_t>(n);
}

SyscallResult AccessCommon(Task& t, int dirfd, usermem::UserAddr path_addr, int64_t mode,
                           uint32_t flags) {
  if (mode & ~int64_t{7}) return Errno::kEINVAL;
  if (flags & ~(abi::kAT_EACCESS | abi::kAT_SYMLINK_NOFOLLOW | abi::kAT_EMPTY_PATH)) {
    return Errno::kEINVAL;
  }
  std::string path = TRY(CopyInPath(t, path_addr));
  fs::PathCtx c = PathCtxOf(t);
  if (!(flags & abi::kAT_EACCESS)) {
    // access(2) checks the real ids (access_override_creds()).
    c.creds.uid = t.creds().ruid;
    c.creds.gid = t.creds().rgid;
  }
  uint32_t lookup = (flags & abi::kAT_SYMLINK_NOFOLLOW) ? 0 : fs::kLookupFollow;
  if (flags & abi::kAT_EMPTY_PATH) lookup |= fs::kLookupEmptyPath;
  TRY(t.kernel().vfs().AccessAt(c, dirfd, path, static_cast<int>(mode), lookup));
  return uint64_t{0};
}

abi::StatFS ToStatFS(const fs::FSStat& s, uint64_t dev) {
  abi::StatFS o{};
  o.f_type = s.type;
  o.f_bsize = s.bsize;
  o.f_blocks = s.blocks;
  o.f_bfree = s.bfree;
  o.f_bavail = s.bavail;
  o.f_files = s.files;
  o.f_ffree = s.ffree;
  o.f_fsid[0] = static_cast<int32_t>(abi::DevMinor(dev) | (abi::DevMajor(dev) << 20));
  o.f_fsid[1] = 0;
  o.f_namelen = s.namelen;
  o.f_frsize = s.frsize;
  o.f_flags = s.flags | kST_VALID;
  return o;
}

}  // namespace

SyscallResult SysStat(Task& t, const SyscallArgs& a) {
  return StatPath(t, abi::kAT_FDCWD, a.Addr(0), fs::kLookupFollow, a.Addr(1), 0);
}

SyscallResult SysLstat(Task& t, const SyscallArgs& a) {
  return StatPath(t, abi::kAT_FDCWD, a.Addr(0), 0, a.Addr(1), 0);
}

SyscallResult SysFstat(Task& t, const SyscallArgs& a) {
  auto f = TRY(t.fd_table().GetFile(static_cast<int>(a.Int(0))));
  fs::Attr x = TRY(f->Stat());
  TRY(usermem::CopyOut(t.mem(), UserPtr<abi::Stat>(a.Addr(1)), ToStat(x)));
  return uint64_t{0};
}

SyscallResult SysNewfstatat(Task& t, const SyscallArgs& a) {
  uint32_t flags = a.UInt(3);
  if (flags & ~(abi::kAT_SYMLINK_NOFOLLOW | abi::kAT_EMPTY_PATH | abi::kAT_NO_AUTOMOUNT)) {
    return Errno::kEINVAL;
  }
  uint32_t lookup = (flags & abi::kAT_SYMLINK_NOFOLLOW) ? 0 : fs::kLookupFollow;
  if (flags & abi::kAT_EMPTY_PATH) lookup |= fs::kLookupEmptyPath;
  return StatPath(t, static_cast<int>(a.Int(0)), a.Addr(1), lookup, a.Addr(2), flags);
}

// statx: every basic field is always filled (stx_mask says which are valid, as Linux may
// report more than asked); AT_STATX_FORCE_SYNC / DONT_SYNC are accepted (attributes are
// cached either way).
SyscallResult SysStatx(Task& t, const SyscallArgs& a) {
  uint32_t flags = a.UInt(2), mask = a.UInt(3);
  if (flags & ~(abi::kAT_SYMLINK_NOFOLLOW | abi::kAT_EMPTY_PATH | abi::kAT_NO_AUTOMOUNT |
                abi::kAT_STATX_SYNC_TYPE)) {
    return Errno::kEINVAL;
  }
  if ((flags & abi::kAT_STATX_SYNC_TYPE) == abi::kAT_STATX_SYNC_TYPE) return Errno::kEINVAL;
  if (mask & abi::kSTATX__RESERVED) return Errno::kEINVAL;
  std::string path = TRY(PathOrEmpty(t, a.Addr(1), flags));
  uint32_t lookup = (flags & abi::kAT_SYMLINK_NOFOLLOW) ? 0 : fs::kLookupFollow;
  if (flags & abi::kAT_EMPTY_PATH) lookup |= fs::kLookupEmptyPath;
  fs::Attr x = TRY(t.kernel().vfs().StatAt(PathCtxOf(t), static_cast<int>(a.Int(0)), path,
                                           lookup));
  TRY(usermem::CopyOut(t.mem(), UserPtr<abi::Statx>(a.Addr(4)), ToStatx(x)));
  return uint64_t{0};
}

SyscallResult SysReadlink(Task& t, const SyscallArgs& a) {
  return ReadlinkCommon(t, abi::kAT_FDCWD, a.Addr(0), a.Addr(1), a.Int(2));
}

SyscallResult SysReadlinkat(Task& t, const SyscallArgs& a) {
  return ReadlinkCommon(t, static_cast<int>(a.Int(0)), a.Addr(1), a.Addr(2), a.Int(3));
}

SyscallResult SysAccess(Task& t, const SyscallArgs& a) {
  return AccessCommon(t, abi::kAT_FDCWD, a.Addr(0), a.Int(1), 0);
}

SyscallResult SysFaccessat(Task& t, const SyscallArgs& a) {
  return AccessCommon(t, static_cast<int>(a.Int(0)), a.Addr(1), a.Int(2), 0);
}

SyscallResult SysFaccessat2(Task& t, const SyscallArgs& a) {
  return AccessCommon(t, static_cast<int>(a.Int(0)), a.Addr(1), a.Int(2), a.UInt(3));
}

SyscallResult SysStatfs(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a.Addr(0)));
  fs::PathCtx c = PathCtxOf(t);
  auto vd = TRY(t.kernel().vfs().Lookup(c, abi::kAT_FDCWD, path, fs::kLookupFollow));
  fs::FSStat s = TRY(vd.mount->fs->StatFS());
  if (vd.mount->read_only()) s.flags |= abi::kST_RDONLY;
  TRY(usermem::CopyOut(t.mem(), UserPtr<abi::StatFS>(a.Addr(1)), ToStatFS(s, vd.mount->fs->dev())));
  return uint64_t{0};
}

SyscallResult SysFstatfs(Task& t, const SyscallArgs& a) {
  auto f = TRY(t.fd_table().GetFile(static_cast<int>(a.Int(0))));
  fs::FSStat s;
  uint64_t dev = 0;
  if (f->mount()) {
    s = TRY(f->mount()->fs->StatFS());
    if (f->mount()->read_only()) s.flags |= abi::kST_RDONLY;
    dev = f->mount()->fs->dev();
  } else {
    fs::Attr x = TRY(f->Stat());
    bool fifo = (x.mode & abi::kS_IFMT) == abi::kS_IFIFO;
    s.type = fifo ? kPIPEFS_MAGIC : kANON_INODE_FS_MAGIC;
    s.bsize = s.frsize = 4096;
    dev = x.dev;
  }
  TRY(usermem::CopyOut(t.mem(), UserPtr<abi::StatFS>(a.Addr(1)), ToStatFS(s, dev)));
  return uint64_t{0};
}

}  // namespace sbx::syscalls
