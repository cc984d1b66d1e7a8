// Internals shared by the VFS implementation files (vfs.cc, vfs_mutate.cc, vfs_attr.cc): the
// path walker and the permission helpers of fs/namei.c. Not for use outside fs/.
#pragma once

#include "fs/vfs.h"

namespace sbx::fs {

namespace vfs_internal {
inline bool IsDir(uint32_t mode) { return (mode & abi::kS_IFMT) == abi::kS_IFDIR; }
inline bool IsLnk(uint32_t mode) { return (mode & abi::kS_IFMT) == abi::kS_IFLNK; }
inline bool IsReg(uint32_t mode) { return (mode & abi::kS_IFMT) == abi::kS_IFREG; }
// The file types whose writes a read-only mount refuses (sb_permission()).
inline bool RoChecked(uint32_t mode) { return IsReg(mode) || IsDir(mode) || IsLnk(mode); }

// may_delete(): write+search on the directory, sticky-bit ownership, type checks.
inline Result<void> MayDelete(const Attr& dir, const Attr& victim, const Creds& c, bool want_dir) {
  TRY(CheckPermission(dir, c, kMayWrite | kMayExec));
  if ((dir.mode & abi::kS_ISVTX) && c.uid != 0 && c.uid != victim.uid && c.uid != dir.uid) {
    return Errno::kEPERM;
  }
  if (want_dir && !IsDir(victim.mode)) return Errno::kENOTDIR;
  if (!want_dir && IsDir(victim.mode)) return Errno::kEISDIR;
  return Ok();
}

}  // namespace vfs_internal

using namespace vfs_internal;  // NOLINT: internal header

// ---- Walker ----

// The dentry of `name` in the locked directory `dir` (not crossing mounts, not following),
// looked up and cached if it is not cached yet.
inline Result<std::shared_ptr<Dentry>> LockedChild(const std::shared_ptr<Dentry>& dir,
                                                   std::string_view name) {
  auto d = dir->CachedChild(name);
  if (d) return d;
  auto inode = TRY(dir->inode()->Lookup(name));
  return dir->InsertChild(std::make_shared<Dentry>(dir, std::string(name), std::move(inode)));
}

struct VFS::Parent {
  enum Type { kNormal, kDot, kDotDot, kRoot };
  VirtualDentry dir;
  std::string last;
  Type type = kNormal;
  bool trailing_slash = false;
};

struct VFS::Walker {
  VFS& vfs;
  const Creds& creds;
  VirtualDentry root;
  int links = 0;

  Result<void> MayLookup(const VirtualDentry& d) {
    Attr a = TRY(d.dentry->inode()->Stat());
    if (!IsDir(a.mode)) return Errno::kENOTDIR;
    return CheckPermission(a, creds, kMayExec);
  }

  // Looks up `name` in `dir` (dentry cache first). If `dir_locked`, the caller holds
  // dir.dentry->dir_mu_.
  Result<VirtualDentry> Child(const VirtualDentry& dir, std::string_view name,
                              bool dir_locked = false) {
    auto d = dir.dentry->CachedChild(name);
    if (!d) {
      if (!dir_locked) dir.dentry->dir_mu_.ReaderLock();
      d = dir.dentry->CachedChild(name);
      if (!d) {
        auto inode = dir.dentry->inode()->Lookup(name);
        if (inode.ok()) {
          d = dir.dentry->InsertChild(
              std::make_shared<Dentry>(dir.dentry, std::string(name), std::move(*inode)));
        } else {
          if (!dir_locked) dir.dentry->dir_mu_.ReaderUnlock();
          return inode.error();
        }
      }
      if (!dir_locked) dir.dentry->dir_mu_.ReaderUnlock();
    }
    return vfs.CrossMounts(VirtualDentry{dir.mount, std::move(d)});
  }

  VirtualDentry DotDot(VirtualDentry vd) {
    for (;;) {
      if (vd == root) return vd;
      if (vd.dentry == vd.mount->root) {
        if (!vd.mount->parent) return vd;
        vd = VirtualDentry{vd.mount->parent, vd.mount->mountpoint};
        continue;
      }
      auto up = vd.dentry->parent() ? vd.dentry->parent() : vd.dentry;
      return vfs.CrossMounts(VirtualDentry{vd.mount, up});
    }
  }

  Result<VirtualDentry> FollowLink(const VirtualDentry& dir, const VirtualDentry& link) {
    if (++links > kMaxSymlinks) return Errno::kELOOP;
    std::string target = TRY(link.dentry->inode()->Readlink());
    if (target.empty()) return Errno::kENOENT;
    return Resolve(dir, target, /*follow=*/true);
  }

  Result<VirtualDentry> Step(const VirtualDentry& dir, std::string_view comp, bool follow) {
    if (comp == ".") return dir;
    if (comp == "..") return DotDot(dir);
    VirtualDentry child = TRY(Child(dir, comp));
    if (follow) {
      Attr a = TRY(child.dentry->inode()->Stat());
      if (IsLnk(a.mode)) return FollowLink(dir, child);
    }
    return child;
  }

  // Walks every component but the last (link_path_walk). `path` is non-empty.
  Result<Parent> WalkParent(const VirtualDentry& start, std::string_view path) {
    if (path.empty()) return Errno::kENOENT;
    VirtualDentry cur = start;
    size_t i = 0, n = path.size();
    Parent p;
    if (path[0] == '/') {
      cur = root;
      while (i < n && path[i] == '/') ++i;
      if (i == n) {
        p.dir = cur;
        p.type = Parent::kRoot;
        return p;
      }
    }
    for (;;) {
      size_t j = path.find('/', i);
      if (j == std::string_view::npos) j = n;
      std::string_view comp = path.substr(i, j - i);
      if (comp.size() > kNameMax) return Errno::kENAMETOOLONG;
      size_t k = j;
      while (k < n && path[k] == '/') ++k;
      TRY(MayLookup(cur));
      if (k == n) {
        p.dir = cur;
        p.last = std::string(comp);
        p.type = comp == "." ? Parent::kDot : comp == ".." ? Parent::kDotDot : Parent::kNormal;
        p.trailing_slash = j < n;
        return p;
      }
      cur = TRY(Step(cur, comp, /*follow=*/true));
      i = k;
    }
  }

  Result<VirtualDentry> Finish(const Parent& p, bool follow) {
    if (p.type == Parent::kRoot) return p.dir;
    VirtualDentry vd = TRY(Step(p.dir, p.last, follow || p.trailing_slash));
    if (p.trailing_slash) {
      Attr a = TRY(vd.dentry->inode()->Stat());
      if (!IsDir(a.mode)) return Errno::kENOTDIR;
    }
    return vd;
  }

  Result<VirtualDentry> Resolve(const VirtualDentry& start, std::string_view path, bool follow) {
    Parent p = TRY(WalkParent(start, path));
    return Finish(p, follow);
  }
};

}  // namespace sbx::fs
