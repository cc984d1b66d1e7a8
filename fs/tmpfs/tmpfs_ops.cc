// tmpfs: attribute changes, extended attributes, hard links, rename, mknod (FIFOs, sockets,
// device nodes) and fallocate (mm/shmem.c shmem_setattr, shmem_link, shmem_rename2,
// shmem_mknod, shmem_fallocate; fs/xattr.c simple_xattr_*).
#include <algorithm>
#include <climits>
#include <optional>

#include "fs/tmpfs/tmpfs.h"

namespace sbx::fs::tmpfs {

namespace {
int64_t XattrCost(std::string_view name, std::string_view value) {
  return static_cast<int64_t>(name.size() + value.size());
}
}  // namespace

// ---- TmpfsInode ----

TmpfsInode::~TmpfsInode() {
  int64_t cost = 0;
  for (const auto& [n, v] : xattrs_) cost += XattrCost(n, v);
  if (cost) (void)tfs_.Charge(-cost);
}

void TmpfsInode::TouchCtime() {
  absl::MutexLock l(&mu_);
  NowTimespec(&attr_.ctime_sec, &attr_.ctime_nsec);
}

Result<void> TmpfsInode::SetAttr(const AttrChange& ch) {
  absl::MutexLock l(&mu_);
  if (ch.mask & kSetMode) attr_.mode = (attr_.mode & abi::kS_IFMT) | (ch.mode & 07777);
  if (ch.mask & kSetUid) attr_.uid = ch.uid;
  if (ch.mask & kSetGid) attr_.gid = ch.gid;
  if (ch.mask & kSetAtime) {
    attr_.atime_sec = ch.atime_sec;
    attr_.atime_nsec = ch.atime_nsec;
  }
  if (ch.mask & kSetMtime) {
    attr_.mtime_sec = ch.mtime_sec;
    attr_.mtime_nsec = ch.mtime_nsec;
  }
  NowTimespec(&attr_.ctime_sec, &attr_.ctime_nsec);
  return Ok();
}

Result<std::string> TmpfsInode::GetXattr(std::string_view name) {
  absl::MutexLock l(&mu_);
  auto it = xattrs_.find(name);
  if (it == xattrs_.end()) return Errno::kENODATA;
  return it->second;
}

Result<void> TmpfsInode::SetXattr(std::string_view name, std::string_view value, int flags) {
  absl::MutexLock l(&mu_);
  auto it = xattrs_.find(name);
  if (it != xattrs_.end() && (flags & kXattrCreate)) return Errno::kEEXIST;
  if (it == xattrs_.end() && (flags & kXattrReplace)) return Errno::kENODATA;
  int64_t old_cost = it == xattrs_.end() ? 0 : XattrCost(name, it->second);
  int64_t delta = XattrCost(name, value) - old_cost;
  TRY(tfs_.Charge(delta));
  if (it == xattrs_.end()) {
    xattrs_.emplace(std::string(name), std::string(value));
  } else {
    it->second.assign(value);
  }
  NowTimespec(&attr_.ctime_sec, &attr_.ctime_nsec);
  return Ok();
}

Result<std::vector<std::string>> TmpfsInode::ListXattr() {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [n, v] : xattrs_) out.push_back(n);
  return out;
}

Result<void> TmpfsInode::RemoveXattr(std::string_view name) {
  absl::MutexLock l(&mu_);
  auto it = xattrs_.find(name);
  if (it == xattrs_.end()) return Errno::kENODATA;
  (void)tfs_.Charge(-XattrCost(it->first, it->second));
  xattrs_.erase(it);
  NowTimespec(&attr_.ctime_sec, &attr_.ctime_nsec);
  return Ok();
}

// ---- TmpfsFile ----

Result<void> TmpfsFile::SetAttr(const AttrChange& ch) {
  if (ch.mask & kSetSize) TRY(Truncate(ch.size));
  AttrChange rest = ch;
  rest.mask &= ~kSetSize;
  if (rest.mask == 0) return Ok();
  return TmpfsInode::SetAttr(rest);
}

Result<void> TmpfsFile::Allocate(int mode, uint64_t offset, uint64_t len) {
  uint64_t end;
  if (__builtin_add_overflow(offset, len, &end) || end > static_cast<uint64_t>(LLONG_MAX)) {
    return Errno::kEFBIG;
  }
  if (mode == (kFallocPunchHole | kFallocKeepSize)) return PunchHole(offset, len);
  if (mode & ~kFallocKeepSize) return Errno::kEOPNOTSUPP;
  return AllocateRange(offset, len, mode & kFallocKeepSize);
}

// ---- TmpfsDir ----

Result<void> TmpfsDir::Link(std::string_view name, const std::shared_ptr<Inode>& target) {
  auto* t = dynamic_cast<TmpfsInode*>(target.get());
  if (t == nullptr || &t->tfs() != &tfs_) return Errno::kEXDEV;
  {
    absl::MutexLock l(&mu_);
    TRY(AddLocked(name, target));
  }
  t->AdjustNlink(1);
  return Ok();
}

Result<std::shared_ptr<Inode>> TmpfsDir::Mknod(std::string_view name, uint32_t mode,
                                               uint64_t dev, const Creds& c) {
  uint32_t type = mode & abi::kS_IFMT;
  if (type == abi::kS_IFREG) return CreateFile(name, mode, c);
  absl::MutexLock l(&mu_);
  uint32_t gid = (attr_.mode & abi::kS_ISGID) ? attr_.gid : c.gid;
  std::shared_ptr<Inode> n;
  if (type == abi::kS_IFIFO) {
    n = std::make_shared<TmpfsFifo>(tfs_, mode, c.uid, gid);
  } else {
    n = std::make_shared<TmpfsSpecial>(tfs_, mode,
                                       type == abi::kS_IFSOCK ? 0 : dev, c.uid, gid);
  }
  TRY(AddLocked(name, n));
  return n;
}

Result<void> TmpfsDir::Rename(std::string_view old_name, Inode& new_dir_inode,
                              std::string_view new_name, uint32_t flags) {
  auto* nd = dynamic_cast<TmpfsDir*>(&new_dir_inode);
  if (nd == nullptr || &nd->tfs_ != &tfs_) return Errno::kEXDEV;
  if (new_name.empty() || new_name.size() > kNameMax) return Errno::kENAMETOOLONG;
  std::shared_ptr<Inode> src, victim;
  // Emptiness of a replaced directory is checked before taking the two directory locks (the
  // VFS holds both directories' dir_mu_, so no entry can appear in it meanwhile).
  if (!(flags & kRenameExchange)) {
    auto v = nd->Lookup(new_name);
    if (v.ok()) {
      auto* vd = dynamic_cast<TmpfsDir*>(v->get());
      if (vd && !vd->empty()) return Errno::kENOTEMPTY;
    }
  }
  {
    TmpfsDir* first = this < nd ? this : nd;
    TmpfsDir* second = this < nd ? nd : this;
    absl::MutexLock l1(&first->mu_);
    std::optional<absl::MutexLock> l2;
    if (second != first) l2.emplace(&second->mu_);
    auto oit = children_.find(old_name);
    if (oit == children_.end()) return Errno::kENOENT;
    auto nit = nd->children_.find(new_name);
    bool src_dir = dynamic_cast<TmpfsDir*>(oit->second.get()) != nullptr;
    if (flags & kRenameExchange) {
      if (nit == nd->children_.end()) return Errno::kENOENT;
      bool dst_dir = dynamic_cast<TmpfsDir*>(nit->second.get()) != nullptr;
      std::swap(oit->second, nit->second);
      if (nd != this && src_dir != dst_dir) {
        int d = src_dir ? 1 : -1;  // the directory moved from this to nd
        attr_.nlink -= d;
        nd->attr_.nlink += d;
      }
    } else {
      if (nit != nd->children_.end()) {
        if (flags & kRenameNoReplace) return Errno::kEEXIST;
        victim = std::move(nit->second);
        nd->children_.erase(nit);
        if (dynamic_cast<TmpfsDir*>(victim.get())) --nd->attr_.nlink;
      }
      src = std::move(oit->second);
      children_.erase(oit);
      nd->children_.emplace(std::string(new_name), src);
      if (src_dir && nd != this) {
        --attr_.nlink;
        ++nd->attr_.nlink;
      }
    }
    TouchMCtime();
    if (nd != this) nd->TouchMCtime();
  }
  if (src) {
    if (auto* t = dynamic_cast<TmpfsInode*>(src.get())) t->TouchCtime();
  }
  if (victim) {
    auto* t = dynamic_cast<TmpfsInode*>(victim.get());
    if (t) t->AdjustNlink(dynamic_cast<TmpfsDir*>(victim.get()) ? -2 : -1);
  }
  return Ok();
}

// ---- FIFOs and special files ----

TmpfsFifo::TmpfsFifo(TmpfsFilesystem& fs, uint32_t mode, uint32_t uid, uint32_t gid)
    : TmpfsInode(fs, mode, uid, gid), pipe_(std::make_shared<pipe::Pipe>(0)) {}

Result<std::shared_ptr<FileDescription>> TmpfsFifo::Open(std::shared_ptr<Dentry> d,
                                                         uint32_t flags) {
  return pipe::OpenFifo(pipe_, std::move(d), flags);
}

TmpfsSpecial::TmpfsSpecial(TmpfsFilesystem& fs, uint32_t mode, uint64_t rdev, uint32_t uid,
                           uint32_t gid)
    : TmpfsInode(fs, mode, uid, gid) {
  absl::MutexLock l(&mu_);
  attr_.rdev = rdev;
}

Result<std::shared_ptr<FileDescription>> TmpfsSpecial::Open(std::shared_ptr<Dentry>, uint32_t) {
  uint32_t type;
  {
    absl::MutexLock l(&mu_);
    type = attr_.mode & abi::kS_IFMT;
  }
  return type == abi::kS_IFSOCK ? Errno::kENXIO : Errno::kEACCES;
}

}  // namespace sbx::fs::tmpfs
