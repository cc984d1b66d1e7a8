// Namespace mutations that create or move names: linkat (fs/namei.c do_linkat/vfs_link),
// renameat2 (do_renameat2/vfs_rename) and mknodat (do_mknodat/vfs_mknod). The checks follow
// Linux's order so the first failing rule decides the errno.
#include <optional>

#include "fs/vfs.h"
#include "fs/vfs_walk.h"

namespace sbx::fs {

namespace {

// True if `a` is `b` or one of b's ancestors (within one filesystem tree).
bool IsAncestor(const Dentry* a, std::shared_ptr<Dentry> b) {
  while (b) {
    if (b.get() == a) return true;
    b = b->parent();
  }
  return false;
}

// may_create(): write+search on the directory, which must still exist.
Result<void> MayCreate(Dentry& dir, const Creds& c) {
  Attr da = TRY(dir.inode()->Stat());
  TRY(CheckPermission(da, c, kMayWrite | kMayExec));
  if (dir.unlinked()) return Errno::kENOENT;
  return Ok();
}

}  // namespace

Result<void> VFS::LinkAt(const PathCtx& c, int olddirfd, std::string_view oldpath, int newdirfd,
                         std::string_view newpath, uint32_t flags) {
  if (flags & ~(abi::kAT_SYMLINK_FOLLOW | abi::kAT_EMPTY_PATH)) return Errno::kEINVAL;
  // Without CAP_DAC_READ_SEARCH, AT_EMPTY_PATH behaves as if the path were not empty.
  if ((flags & abi::kAT_EMPTY_PATH) && c.creds.uid != 0 && oldpath.empty()) {
    return Errno::kENOENT;
  }
  uint32_t lf = (flags & abi::kAT_SYMLINK_FOLLOW) ? kLookupFollow : 0;
  if (flags & abi::kAT_EMPTY_PATH) lf |= kLookupEmptyPath;
  VirtualDentry old = TRY(Lookup(c, olddirfd, oldpath, lf));
  if (newpath.size() >= kPathMax) return Errno::kENAMETOOLONG;
  VirtualDentry start = TRY(StartFor(c, newdirfd, newpath));
  Walker w{*this, c.creds, c.fs.GetRoot()};
  Parent p = TRY(w.WalkParent(start, newpath));
  if (p.type != Parent::kNormal) return Errno::kEEXIST;
  Dentry& dir = *p.dir.dentry;
  absl::MutexLock l(&dir.dir_mu_);
  if (w.Child(p.dir, p.last, true).ok()) return Errno::kEEXIST;
  if (p.trailing_slash) return Errno::kENOENT;
  if (p.dir.mount->read_only()) return Errno::kEROFS;
  if (old.mount != p.dir.mount) return Errno::kEXDEV;
  Attr oa = TRY(old.dentry->inode()->Stat());
  // may_linkat() with fs.protected_hardlinks=1: a non-owner needs a plain readable+writable file.
  if (c.creds.uid != 0 && c.creds.uid != oa.uid) {
    bool safe = IsReg(oa.mode) && !(oa.mode & abi::kS_ISUID) &&
                !((oa.mode & abi::kS_ISGID) && (oa.mode & 0010)) &&
                CheckPermission(oa, c.creds, kMayRead | kMayWrite).ok();
    if (!safe) return Errno::kEPERM;
  }
  TRY(MayCreate(dir, c.creds));
  if (&old.dentry->inode()->fs() != &dir.inode()->fs()) return Errno::kEXDEV;
  if (IsDir(oa.mode)) return Errno::kEPERM;
  if (oa.nlink == 0) return Errno::kENOENT;
  TRY(dir.inode()->Link(p.last, old.dentry->inode()));
  dir.InsertChild(std::make_shared<Dentry>(p.dir.dentry, p.last, old.dentry->inode()));
  return Ok();
}

Result<void> VFS::MknodAt(const PathCtx& c, int dirfd, std::string_view path, uint32_t mode,
                          uint64_t dev) {
  uint32_t type = mode & abi::kS_IFMT;
  switch (type) {
    case 0: mode |= abi::kS_IFREG; break;
    case abi::kS_IFREG: case abi::kS_IFCHR: case abi::kS_IFBLK: case abi::kS_IFIFO:
    case abi::kS_IFSOCK: break;
    case abi::kS_IFDIR: return Errno::kEPERM;
    default: return Errno::kEINVAL;
  }
  if (path.size() >= kPathMax) return Errno::kENAMETOOLONG;
  VirtualDentry start = TRY(StartFor(c, dirfd, path));
  Walker w{*this, c.creds, c.fs.GetRoot()};
  Parent p = TRY(w.WalkParent(start, path));
  if (p.type != Parent::kNormal) return Errno::kEEXIST;
  Dentry& dir = *p.dir.dentry;
  absl::MutexLock l(&dir.dir_mu_);
  if (w.Child(p.dir, p.last, true).ok()) return Errno::kEEXIST;
  if (p.trailing_slash) return Errno::kENOENT;
  if (p.dir.mount->read_only()) return Errno::kEROFS;
  TRY(MayCreate(dir, c.creds));
  type = mode & abi::kS_IFMT;
  if ((type == abi::kS_IFCHR || type == abi::kS_IFBLK) && c.creds.uid != 0) return Errno::kEPERM;
  uint32_t m = type | (mode & 07777 & ~c.fs.GetUmask());
  auto inode = TRY(dir.inode()->Mknod(p.last, m, dev, c.creds));
  dir.InsertChild(std::make_shared<Dentry>(p.dir.dentry, p.last, std::move(inode)));
  return Ok();
}

Result<void> VFS::RenameAt(const PathCtx& c, int olddirfd, std::string_view oldpath,
                           int newdirfd, std::string_view newpath, uint32_t flags) {
  if (flags & ~(kRenameNoReplace | kRenameExchange | kRenameWhiteout)) return Errno::kEINVAL;
  if ((flags & (kRenameNoReplace | kRenameWhiteout)) && (flags & kRenameExchange)) {
    return Errno::kEINVAL;
  }
  if ((flags & kRenameWhiteout) && c.creds.uid != 0) return Errno::kEPERM;
  if (oldpath.size() >= kPathMax || newpath.size() >= kPathMax) return Errno::kENAMETOOLONG;
  Walker w{*this, c.creds, c.fs.GetRoot()};
  VirtualDentry ostart = TRY(StartFor(c, olddirfd, oldpath));
  Parent op = TRY(w.WalkParent(ostart, oldpath));
  VirtualDentry nstart = TRY(StartFor(c, newdirfd, newpath));
  Parent np = TRY(w.WalkParent(nstart, newpath));
  if (op.dir.mount != np.dir.mount) return Errno::kEXDEV;
  if (op.type != Parent::kNormal) return Errno::kEBUSY;
  if (np.type != Parent::kNormal) {
    return (flags & kRenameNoReplace) ? Errno::kEEXIST : Errno::kEBUSY;
  }
  if (op.dir.mount->read_only()) return Errno::kEROFS;
  // Whiteouts (overlayfs' helper) are not implemented.
  if (flags & kRenameWhiteout) return Errno::kEINVAL;

  absl::MutexLock rl(&rename_mu_);
  Dentry* d1 = op.dir.dentry.get();
  Dentry* d2 = np.dir.dentry.get();
  if (d2 < d1) std::swap(d1, d2);
  absl::MutexLock l1(&d1->dir_mu_);
  std::optional<absl::MutexLock> l2;
  if (d2 != d1) l2.emplace(&d2->dir_mu_);

  const auto& odir = op.dir.dentry;
  const auto& ndir = np.dir.dentry;
  auto old_d = TRY(LockedChild(odir, op.last));
  std::shared_ptr<Dentry> new_d;
  {
    auto r = LockedChild(ndir, np.last);
    if (r.ok()) {
      new_d = std::move(*r);
    } else if (r.error() != Errno::kENOENT) {
      return r.error();
    }
  }
  if ((flags & kRenameNoReplace) && new_d) return Errno::kEEXIST;
  if ((flags & kRenameExchange) && !new_d) return Errno::kENOENT;
  Attr oa = TRY(old_d->inode()->Stat());
  Attr na;
  if (new_d) na = TRY(new_d->inode()->Stat());
  bool is_dir = IsDir(oa.mode), new_is_dir = new_d && IsDir(na.mode);
  if (!is_dir) {
    if (op.trailing_slash) return Errno::kENOTDIR;
    if (np.trailing_slash && !(flags & kRenameExchange)) return Errno::kENOTDIR;
  }
  if ((flags & kRenameExchange) && !new_is_dir && np.trailing_slash) return Errno::kENOTDIR;
  if (IsAncestor(old_d.get(), ndir)) return Errno::kEINVAL;
  if (new_d && IsAncestor(new_d.get(), odir)) {
    return (flags & kRenameExchange) ? Errno::kEINVAL : Errno::kENOTEMPTY;
  }
  if (new_d && new_d->inode() == old_d->inode()) return Ok();

  Attr oda = TRY(odir->inode()->Stat());
  Attr nda = TRY(ndir->inode()->Stat());
  TRY(MayDelete(oda, oa, c.creds, is_dir));
  if (!new_d) {
    TRY(MayCreate(*ndir, c.creds));
  } else {
    TRY(MayDelete(nda, na, c.creds, (flags & kRenameExchange) ? new_is_dir : is_dir));
  }
  if (odir != ndir) {
    // The ".." entry of a moved directory changes.
    if (is_dir) TRY(CheckPermission(oa, c.creds, kMayWrite));
    if ((flags & kRenameExchange) && new_is_dir) TRY(CheckPermission(na, c.creds, kMayWrite));
  }
  if (old_d->is_mountpoint() || (new_d && new_d->is_mountpoint())) return Errno::kEBUSY;
  TRY(odir->inode()->Rename(op.last, *ndir->inode(), np.last, flags));

  // Move the cached dentries to their new names.
  odir->DropChild(op.last);
  ndir->DropChild(np.last);
  {
    absl::MutexLock l(&old_d->name_mu_);
    old_d->parent_ = ndir;
    old_d->name_ = np.last;
  }
  if (new_d) {
    if (flags & kRenameExchange) {
      absl::MutexLock l(&new_d->name_mu_);
      new_d->parent_ = odir;
      new_d->name_ = op.last;
    } else {
      new_d->unlinked_.store(true);
    }
  }
  ndir->InsertChild(old_d);
  if (new_d && (flags & kRenameExchange)) odir->InsertChild(new_d);
  return Ok();
}

}  // namespace sbx::fs
