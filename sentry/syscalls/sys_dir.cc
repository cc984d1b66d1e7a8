// getdents64, getdents, getcwd, chdir, fchdir, mkdir, mkdirat, unlink, unlinkat, rmdir, umask
// (fs/readdir.c, fs/d_path.c, fs/open.c, fs/namei.c).
#include <cstring>
#include <vector>

#include "fs/vfs.h"
#include "sentry/abi/file.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {

namespace {

// Directory listings are built in a bounce buffer of at most this size per call (a smaller
// result than the guest's buffer allows is legal: it calls again).
constexpr size_t kDentsBounce = 256 * 1024;

Result<std::vector<std::byte>> ReadDents64(Task& t, int fd, uint64_t count) {
  auto f = TRY(t.fd_table().GetFile(fd));
  if (f->flags() & abi::kO_PATH) return Errno::kEBADF;
  std::vector<std::byte> buf(std::min<uint64_t>(count, kDentsBounce));
  size_t n = TRY(f->GetDents64(buf));
  buf.resize(n);
  return buf;
}

}  // namespace

SyscallResult SysGetdents64(Task& t, const SyscallArgs& a) {
  auto buf = TRY(ReadDents64(t, static_cast<int>(a.Int(0)), a.UInt(2)));
  TRY(usermem::CopyOutFull(t.mem(), a.Addr(1), buf));
  return static_cast<uint64_t>(buf.size());
}

// Old getdents: struct linux_dirent {u64 d_ino; u64 d_off; u16 d_reclen; char d_name[];
// char pad; char d_type;} — the same record length as linux_dirent64 for every name, so the
// records are converted in place.
SyscallResult SysGetdents(Task& t, const SyscallArgs& a) {
  auto buf = TRY(ReadDents64(t, static_cast<int>(a.Int(0)), a.UInt(2)));
  for (size_t off = 0; off < buf.size();) {
    abi::Dirent64Header h;
    std::memcpy(&h, buf.data() + off, abi::kDirent64NameOffset);
    std::byte* rec = buf.data() + off;
    size_t namelen = strnlen(reinterpret_cast<const char*>(rec + abi::kDirent64NameOffset),
                             h.d_reclen - abi::kDirent64NameOffset);
    // d_name moves from offset 19 to 18; d_type goes to the record's last byte.
    std::memmove(rec + 18, rec + abi::kDirent64NameOffset, namelen);
    std::memset(rec + 18 + namelen, 0, h.d_reclen - 18 - namelen);
    rec[h.d_reclen - 1] = static_cast<std::byte>(h.d_type);
    off += h.d_reclen;
  }
  TRY(usermem::CopyOutFull(t.mem(), a.Addr(1), buf));
  return static_cast<uint64_t>(buf.size());
}

SyscallResult SysGetcwd(Task& t, const SyscallArgs& a) {
  std::string path = TRY(t.kernel().vfs().Getcwd(t.fs_context()));
  uint64_t len = path.size() + 1;
  if (len > a.ULong(1)) return Errno::kERANGE;
  TRY(usermem::CopyOutFull(t.mem(), a.Addr(0), std::as_bytes(std::span(path.c_str(), len))));
  return len;
}

SyscallResult SysChdir(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a.Addr(0)));
  TRY(t.kernel().vfs().Chdir(PathCtxOf(t), path));
  return uint64_t{0};
}

SyscallResult SysFchdir(Task& t, const SyscallArgs& a) {
  TRY(t.kernel().vfs().Fchdir(PathCtxOf(t), static_cast<int>(a.Int(0))));
  return uint64_t{0};
}

SyscallResult SysMkdir(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a.Addr(0)));
  TRY(t.kernel().vfs().MkdirAt(PathCtxOf(t), abi::kAT_FDCWD, path, a.UInt(1)));
  return uint64_t{0};
}

SyscallResult SysMkdirat(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a.Addr(1)));
  TRY(t.kernel().vfs().MkdirAt(PathCtxOf(t), static_cast<int>(a.Int(0)), path, a.UInt(2)));
  return uint64_t{0};
}

SyscallResult SysUnlink(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a.Addr(0)));
  TRY(t.kernel().vfs().UnlinkAt(PathCtxOf(t), abi::kAT_FDCWD, path));
  return uint64_t{0};
}

SyscallResult SysUnlinkat(Task& t, const SyscallArgs& a) {
  uint32_t flags = a.UInt(2);
  if (flags & ~abi::kAT_REMOVEDIR) return Errno::kEINVAL;
  std::string path = TRY(CopyInPath(t, a.Addr(1)));
  int dirfd = static_cast<int>(a.Int(0));
  if (flags & abi::kAT_REMOVEDIR) {
    TRY(t.kernel().vfs().RmdirAt(PathCtxOf(t), dirfd, path));
  } else {
    TRY(t.kernel().vfs().UnlinkAt(PathCtxOf(t), dirfd, path));
  }
  return uint64_t{0};
}

SyscallResult SysRmdir(Task& t, const SyscallArgs& a) {
  std::string path = TRY(CopyInPath(t, a.Addr(0)));
  TRY(t.kernel().vfs().RmdirAt(PathCtxOf(t), abi::kAT_FDCWD, path));
  return uint64_t{0};
}

SyscallResult SysUmask(Task& t, const SyscallArgs& a) {
  return static_cast<uint64_t>(t.fs_context().SwapUmask(a.UInt(0) & 0777));
}

}  // namespace sbx::syscalls
