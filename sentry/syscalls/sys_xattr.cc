// The xattr family: getxattr, lgetxattr, fgetxattr, setxattr, lsetxattr, fsetxattr,
// listxattr, llistxattr, flistxattr, removexattr, lremovexattr, fremovexattr (fs/xattr.c).
// Namespace and permission rules are in the VFS (fs/vfs_attr.cc); this file copies names and
// values and applies the size rules (XATTR_NAME_MAX, XATTR_SIZE_MAX, XATTR_LIST_MAX).
#include "fs/vfs.h"
#include "sentry/abi/file.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {

namespace {

constexpr size_t kXattrNameMax = 255;
constexpr size_t kXattrSizeMax = 65536;
constexpr size_t kXattrListMax = 65536;

// How the target is named: a path (following or not) or a descriptor.
enum class Target { kFollow, kNoFollow, kFd };

Result<std::string> CopyInName(Task& t, usermem::UserAddr a) {
  auto r = usermem::CopyInString(t.mem(), a, kXattrNameMax);
  if (!r.ok()) return r.error() == Errno::kENAMETOOLONG ? Errno::kERANGE : r.error();
  if (r->empty()) return Errno::kERANGE;
  return std::move(*r);
}

// Resolves argument 0; ok with an invalid VirtualDentry for anonymous files (pipes).
Result<fs::VirtualDentry> Resolve(Task& t, const SyscallArgs& a, Target how) {
  if (how == Target::kFd) {
    auto f = TRY(GetFileNoPath(t, static_cast<int>(a.Int(0))));
    return VDOf(*f);
  }
  std::string p = TRY(CopyInPath(t, a.Addr(0)));
  return t.kernel().vfs().Lookup(PathCtxOf(t), abi::kAT_FDCWD, p,
                                 how == Target::kFollow ? fs::kLookupFollow : 0);
}

SyscallResult Get(Task& t, const SyscallArgs& a, Target how) {
  std::string name = TRY(CopyInName(t, a.Addr(1)));
  fs::VirtualDentry vd = TRY(Resolve(t, a, how));
  if (!vd.valid()) return Errno::kEOPNOTSUPP;
  size_t size = std::min<uint64_t>(a.ULong(3), kXattrSizeMax);
  std::string value = TRY(t.kernel().vfs().GetXattr(vd, FsCreds(t), name));
  if (size == 0) return static_cast<uint64_t>(value.size());
  if (value.size() > size) return size >= kXattrSizeMax ? Errno::kE2BIG : Errno::kERANGE;
  TRY(usermem::CopyOutFull(t.mem(), a.Addr(2), std::as_bytes(std::span(value))));
  return static_cast<uint64_t>(value.size());
}

SyscallResult Set(Task& t, const SyscallArgs& a, Target how) {
  int flags = static_cast<int>(a.Int(4));
  if (flags & ~(fs::kXattrCreate | fs::kXattrReplace)) return Errno::kEINVAL;
  std::string name = TRY(CopyInName(t, a.Addr(1)));
  uint64_t size = a.ULong(3);
  if (size > kXattrSizeMax) return Errno::kE2BIG;
  std::string value(size, '\0');
  if (size) TRY(usermem::CopyInFull(t.mem(), a.Addr(2), std::as_writable_bytes(std::span(value))));
  fs::VirtualDentry vd = TRY(Resolve(t, a, how));
  if (!vd.valid()) return Errno::kEOPNOTSUPP;
  TRY(t.kernel().vfs().SetXattr(vd, FsCreds(t), name, value, flags));
  return uint64_t{0};
}

SyscallResult List(Task& t, const SyscallArgs& a, Target how) {
  fs::VirtualDentry vd = TRY(Resolve(t, a, how));
  std::string list;
  if (vd.valid()) {
    for (const auto& n : TRY(t.kernel().vfs().ListXattr(vd, FsCreds(t)))) {
      list += n;
      list.push_back('\0');
    }
  }
  size_t size = std::min<uint64_t>(a.ULong(2), kXattrListMax);
  if (size == 0) {
    if (list.size() > kXattrListMax) return Errno::kE2BIG;
    return static_cast<uint64_t>(list.size());
  }
  if (list.size() > size) return size >= kXattrListMax ? Errno::kE2BIG : Errno::kERANGE;
  TRY(usermem::CopyOutFull(t.mem(), a.Addr(1), std::as_bytes(std::span(list))));
  return static_cast<uint64_t>(list.size());
}

SyscallResult Remove(Task& t, const SyscallArgs& a, Target how) {
  std::string name = TRY(CopyInName(t, a.Addr(1)));
  fs::VirtualDentry vd = TRY(Resolve(t, a, how));
  if (!vd.valid()) return Errno::kEOPNOTSUPP;
  TRY(t.kernel().vfs().RemoveXattr(vd, FsCreds(t), name));
  return uint64_t{0};
}

}  // namespace

SyscallResult SysGetxattr(Task& t, const SyscallArgs& a) { return Get(t, a, Target::kFollow); }
SyscallResult SysLgetxattr(Task& t, const SyscallArgs& a) { return Get(t, a, Target::kNoFollow); }
SyscallResult SysFgetxattr(Task& t, const SyscallArgs& a) { return Get(t, a, Target::kFd); }
SyscallResult SysSetxattr(Task& t, const SyscallArgs& a) { return Set(t, a, Target::kFollow); }
SyscallResult SysLsetxattr(Task& t, const SyscallArgs& a) { return Set(t, a, Target::kNoFollow); }
SyscallResult SysFsetxattr(Task& t, const SyscallArgs& a) { return Set(t, a, Target::kFd); }
SyscallResult SysListxattr(Task& t, const SyscallArgs& a) { return List(t, a, Target::kFollow); }
SyscallResult SysLlistxattr(Task& t, const SyscallArgs& a) {
  return List(t, a, Target::kNoFollow);
}
SyscallResult SysFlistxattr(Task& t, const SyscallArgs& a) { return List(t, a, Target::kFd); }
SyscallResult SysRemovexattr(Task& t, const SyscallArgs& a) {
  return Remove(t, a, Target::kFollow);
}
SyscallResult SysLremovexattr(Task& t, const SyscallArgs& a) {
  return Remove(t, a, Target::kNoFollow);
}
SyscallResult SysFremovexattr(Task& t, const SyscallArgs& a) { return Remove(t, a, Target::kFd); }

}  // namespace sbx::syscalls
