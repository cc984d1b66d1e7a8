// VFS core: dentry cache, mounts, FSContext, the path walk (fs/namei.c: link_path_walk,
// walk_component, follow_dotdot, pick_link) and the path-based operations built on it.
#include "fs/vfs.h"

#include <algorithm>
#include <cstring>

#include "fs/dev/dev.h"
#include "fs/tmpfs/tmpfs.h"
#include "fs/vfs_walk.h"

namespace sbx::fs {


bool Creds::InGroup(uint32_t g) const {
  return g == gid || std::find(groups.begin(), groups.end(), g) != groups.end();
}

Result<void> CheckPermission(const Attr& a, const Creds& c, int may) {
  if (c.uid == 0) {
    // CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: everything but executing a file without x bits.
    if ((may & kMayExec) && !IsDir(a.mode) && (a.mode & 0111) == 0) return Errno::kEACCES;
    return Ok();
  }
  uint32_t bits;
  if (c.uid == a.uid) {
    bits = (a.mode >> 6) & 7;
  } else if (c.InGroup(a.gid)) {
    bits = (a.mode >> 3) & 7;
  } else {
    bits = a.mode & 7;
  }
  if ((static_cast<uint32_t>(may) & ~bits & 7) != 0) return Errno::kEACCES;
  return Ok();
}

// ---- Dentry ----

std::shared_ptr<Dentry> Dentry::CachedChild(std::string_view name) {
  absl::MutexLock l(&mu_);
  auto it = children_.find(name);
  return it == children_.end() ? nullptr : it->second;
}

std::shared_ptr<Dentry> Dentry::InsertChild(std::shared_ptr<Dentry> fresh) {
  absl::MutexLock l(&mu_);
  auto [it, inserted] = children_.try_emplace(fresh->name(), fresh);
  return it->second;
}

void Dentry::DropChild(std::string_view name) {
  std::shared_ptr<Dentry> dropped;
  absl::MutexLock l(&mu_);
  auto it = children_.find(name);
  if (it != children_.end()) {
    dropped = std::move(it->second);
    children_.erase(it);
  }
}

void Dentry::DropCacheRecursive() {
  std::map<std::string, std::shared_ptr<Dentry>, std::less<>> kids;
  {
    absl::MutexLock l(&mu_);
    kids.swap(children_);
  }
  for (auto& [n, d] : kids) d->DropCacheRecursive();
}

// ---- FSContext ----

std::shared_ptr<FSContext> FSContext::Fork() const {
  auto c = std::make_shared<FSContext>();
  absl::MutexLock l(&mutex);
  absl::MutexLock l2(&c->mutex);
  c->root = root;
  c->cwd = cwd;
  c->umask = umask;
  return c;
}
VirtualDentry FSContext::GetRoot() const { absl::MutexLock l(&mutex); return root; }
VirtualDentry FSContext::GetCwd() const { absl::MutexLock l(&mutex); return cwd; }
uint32_t FSContext::GetUmask() const { absl::MutexLock l(&mutex); return umask; }
void FSContext::SetCwd(VirtualDentry vd) { absl::MutexLock l(&mutex); cwd = std::move(vd); }
uint32_t FSContext::SwapUmask(uint32_t m) {
  absl::MutexLock l(&mutex);
  uint32_t old = umask;
  umask = m & 0777;
  return old;
}

// ---- VFS ----

Result<std::unique_ptr<VFS>> VFS::NewWithRoot(const RootFactory& make_root,
                                              mm::MemoryFile* memfile) {
  std::unique_ptr<VFS> v(new VFS());
  auto [fs, root_inode] = TRY(make_root(v->NewAnonDev()));
  auto root = std::make_shared<Mount>();
  root->fs = std::move(fs);
  root->root = std::make_shared<Dentry>(nullptr, "/", std::move(root_inode));
  {
    absl::MutexLock l(&v->mu_);
    v->root_ = root;
  }
  Creds rootc;
  VirtualDentry top{root, root->root};
  Walker w{*v, rootc, top};
  // /tmp and /dev: mounted on the root's directories of that name, created if the root is
  // writable; skipped if the root is read-only and lacks them.
  auto mount_on = [&](std::string_view name, std::shared_ptr<Filesystem> f,
                      std::shared_ptr<Inode> r) -> Result<void> {
    auto at = w.Child(top, name);
    if (!at.ok()) {
      if (root->read_only()) return Ok();
      TRY(root->root->inode()->Mkdir(name, 0755, rootc));
      at = TRY(w.Child(top, name));
    }
    TRY(v->MountAt(*at, std::move(f), std::move(r)));
    return Ok();
  };
  auto tmp = std::make_shared<tmpfs::TmpfsFilesystem>(v->NewAnonDev(), uint64_t{1} << 30,
                                                      "tmpfs", memfile);
  TRY(mount_on("tmp", tmp, tmp->NewRoot(01777, 0, 0)));
  auto [devfs, devroot] = dev::NewDevfs(v->NewAnonDev(), memfile);
  TRY(mount_on("dev", devfs, devroot));
  // /proc and /sys: empty read-only directories until procfs and sysfs land, so nothing of
  // the host's shows through (the gofer refuses to serve host kernel filesystems anyway).
  for (std::string_view name : {std::string_view("proc"), std::string_view("sys")}) {
    auto empty = std::make_shared<tmpfs::TmpfsFilesystem>(v->NewAnonDev(), 0, std::string(name),
                                                          memfile, /*read_only=*/true);
    TRY(mount_on(name, empty, empty->NewRoot(0555, 0, 0)));
  }
  return v;
}

VFS::~VFS() {
  std::vector<std::shared_ptr<Mount>> all;
  {
    absl::MutexLock l(&mu_);
    for (auto& [k, m] : mounts_) all.push_back(m);
    if (root_) all.push_back(root_);
    mounts_.clear();
    root_.reset();
  }
  for (auto& m : all) m->root->DropCacheRecursive();
}

std::shared_ptr<FSContext> VFS::NewContext() {
  auto c = std::make_shared<FSContext>();
  VirtualDentry r = Root();
  absl::MutexLock l(&c->mutex);
  c->root = r;
  c->cwd = r;
  return c;
}

uint64_t VFS::NewAnonDev() {
  absl::MutexLock l(&mu_);
  return abi::MakeDev(0, static_cast<uint32_t>(next_anon_minor_++));
}

VirtualDentry VFS::Root() const {
  absl::MutexLock l(&mu_);
  return VirtualDentry{root_, root_->root};
}

Result<std::shared_ptr<Mount>> VFS::MountAt(const VirtualDentry& at, std::shared_ptr<Filesystem> fs,
                                            std::shared_ptr<Inode> root) {
  Attr a = TRY(at.dentry->inode()->Stat());
  if (!IsDir(a.mode)) return Errno::kENOTDIR;
  auto m = std::make_shared<Mount>();
  m->fs = std::move(fs);
  m->root = std::make_shared<Dentry>(nullptr, "/", std::move(root));
  m->parent = at.mount;
  m->mountpoint = at.dentry;
  absl::MutexLock l(&mu_);
  auto key = std::make_pair(at.mount.get(), at.dentry.get());
  if (mounts_.count(key)) return Errno::kEBUSY;
  mounts_[key] = m;
  at.dentry->mounts_.fetch_add(1);
  return m;
}

std::shared_ptr<Mount> VFS::MountedOn(const Mount* m, const Dentry* d) const {
  absl::MutexLock l(&mu_);
  auto it = mounts_.find(std::make_pair(m, d));
  return it == mounts_.end() ? nullptr : it->second;
}

VirtualDentry VFS::CrossMounts(VirtualDentry vd) const {
  while (vd.dentry->is_mountpoint()) {
    auto m = MountedOn(vd.mount.get(), vd.dentry.get());
    if (!m) break;
    vd = VirtualDentry{m, m->root};
  }
  return vd;
}

Result<VirtualDentry> VFS::StartFor(const PathCtx& c, int dirfd, std::string_view path) {
  if (!path.empty() && path[0] == '/') return c.fs.GetRoot();
  if (dirfd == abi::kAT_FDCWD) return c.fs.GetCwd();
  auto f = TRY(c.fds.GetFile(dirfd));
  if (!f->dentry() || !f->mount()) return Errno::kENOTDIR;
  return VirtualDentry{f->mount(), f->dentry()};
}

Result<VirtualDentry> VFS::Lookup(const PathCtx& c, int dirfd, std::string_view path,
                                  uint32_t flags) {
  if (path.size() >= kPathMax) return Errno::kENAMETOOLONG;
  VirtualDentry vd;
  if (path.empty()) {
    if (!(flags & kLookupEmptyPath)) return Errno::kENOENT;
    vd = TRY(StartFor(c, dirfd, path));
  } else {
    VirtualDentry start = TRY(StartFor(c, dirfd, path));
    Walker w{*this, c.creds, c.fs.GetRoot()};
    vd = TRY(w.Resolve(start, path, flags & kLookupFollow));
  }
  if (flags & kLookupDirectory) {
    Attr a = TRY(vd.dentry->inode()->Stat());
    if (!IsDir(a.mode)) return Errno::kENOTDIR;
  }
  return vd;
}

Result<std::shared_ptr<FileDescription>> VFS::OpenVD(const VirtualDentry& vd, const Creds& creds,
                                                     uint32_t flags, bool created) {
  Attr a = TRY(vd.dentry->inode()->Stat());
  if (IsLnk(a.mode)) return Errno::kELOOP;
  if ((flags & abi::kO_DIRECTORY) && !IsDir(a.mode)) return Errno::kENOTDIR;
  uint32_t acc = flags & abi::kO_ACCMODE;
  int may = 0;
  if (acc != abi::kO_WRONLY) may |= kMayRead;
  if (acc != abi::kO_RDONLY || (flags & abi::kO_TRUNC)) may |= kMayWrite;
  if (IsDir(a.mode) && (may & kMayWrite)) return Errno::kEISDIR;
  if (!created) {
    if ((may & kMayWrite) && RoChecked(a.mode) && vd.mount->read_only()) return Errno::kEROFS;
    TRY(CheckPermission(a, creds, may));
  }
  if ((flags & abi::kO_TRUNC) && IsReg(a.mode) && !created && a.size != 0) {
    TRY(vd.dentry->inode()->Truncate(0));
  }
  uint32_t stored = flags & ~(abi::kO_CREAT | abi::kO_EXCL | abi::kO_NOCTTY | abi::kO_TRUNC |
                              abi::kO_CLOEXEC);
  auto f = TRY(vd.dentry->inode()->Open(vd.dentry, stored));
  f->set_mount(vd.mount);
  return f;
}

Result<std::shared_ptr<FileDescription>> VFS::OpenAt(FSContext& ctx, FDTable& fds, int dirfd,
                                                     std::string_view path, uint32_t flags,
                                                     uint32_t mode) {
  return OpenAt(PathCtx{ctx, fds, Creds{}}, dirfd, path, flags, mode);
}

Result<std::shared_ptr<FileDescription>> VFS::OpenAt(const PathCtx& c, int dirfd,
                                                     std::string_view path, uint32_t flags,
                                                     uint32_t mode) {
  if (path.empty()) return Errno::kENOENT;
  if (path.size() >= kPathMax) return Errno::kENAMETOOLONG;
  if (flags & abi::kO_TMPFILE_BIT) return Errno::kEOPNOTSUPP;  // O_TMPFILE: not supported yet
  if (flags & abi::kO_PATH) {
    flags &= abi::kO_DIRECTORY | abi::kO_NOFOLLOW | abi::kO_PATH | abi::kO_CLOEXEC;
  } else if ((flags & (abi::kO_CREAT | abi::kO_DIRECTORY)) ==
             (abi::kO_CREAT | abi::kO_DIRECTORY)) {
    return Errno::kEINVAL;  // Linux >= 6.4
  }
  VirtualDentry start = TRY(StartFor(c, dirfd, path));
  Walker w{*this, c.creds, c.fs.GetRoot()};
  bool follow = !(flags & abi::kO_NOFOLLOW);

  if (!(flags & abi::kO_CREAT)) {
    VirtualDentry vd = TRY(w.Resolve(start, path, follow));
    if (flags & abi::kO_PATH) {
      if (flags & abi::kO_DIRECTORY) {
        Attr a = TRY(vd.dentry->inode()->Stat());
        if (!IsDir(a.mode)) return Errno::kENOTDIR;
      }
      std::shared_ptr<FileDescription> f = std::make_shared<PathFD>(
          vd.dentry, flags & ~abi::kO_CLOEXEC);
      f->set_mount(vd.mount);
      return f;
    }
    return OpenVD(vd, c.creds, flags, false);
  }

  std::string cur_path(path);
  for (;;) {
    Parent p = TRY(w.WalkParent(start, cur_path));
    if (p.type != Parent::kNormal || p.trailing_slash) return Errno::kEISDIR;
    Dentry& dir = *p.dir.dentry;
    dir.dir_mu_.Lock();
    auto child = w.Child(p.dir, p.last, /*dir_locked=*/true);
    if (child.ok()) {
      dir.dir_mu_.Unlock();
      if (flags & abi::kO_EXCL) return Errno::kEEXIST;
      Attr a = TRY(child->dentry->inode()->Stat());
      if (IsLnk(a.mode)) {
        if (!follow) return Errno::kELOOP;
        if (++w.links > kMaxSymlinks) return Errno::kELOOP;
        cur_path = TRY(child->dentry->inode()->Readlink());
        if (cur_path.empty()) return Errno::kENOENT;
        start = p.dir;
        continue;
      }
      if (IsDir(a.mode)) return Errno::kEISDIR;
      return OpenVD(*child, c.creds, flags, false);
    }
    if (child.error() != Errno::kENOENT) {
      dir.dir_mu_.Unlock();
      return child.error();
    }
    auto created = [&]() -> Result<VirtualDentry> {
      if (p.dir.mount->read_only()) return Errno::kEROFS;
      Attr da = TRY(dir.inode()->Stat());
      TRY(CheckPermission(da, c.creds, kMayWrite | kMayExec));
      if (dir.unlinked()) return Errno::kENOENT;
      uint32_t m = (mode & 07777 & ~c.fs.GetUmask()) | abi::kS_IFREG;
      auto inode = TRY(dir.inode()->CreateFile(p.last, m, c.creds));
      auto d = dir.InsertChild(std::make_shared<Dentry>(p.dir.dentry, p.last, std::move(inode)));
      return VirtualDentry{p.dir.mount, std::move(d)};
    }();
    dir.dir_mu_.Unlock();
    if (!created.ok()) return created.error();
    return OpenVD(*created, c.creds, flags, true);
  }
}

Result<std::shared_ptr<FileDescription>> VFS::OpenForExec(FSContext& ctx, std::string_view path) {
  return OpenForExec(ctx, Creds{}, path);
}

Result<std::shared_ptr<FileDescription>> VFS::OpenForExec(FSContext& ctx, const Creds& creds,
                                                          std::string_view path) {
  FDTable none(0);
  PathCtx c{ctx, none, creds};
  VirtualDentry vd = TRY(Lookup(c, abi::kAT_FDCWD, path, kLookupFollow));
  Attr a = TRY(vd.dentry->inode()->Stat());
  if (!IsReg(a.mode)) return Errno::kEACCES;
  TRY(CheckPermission(a, creds, kMayExec));
  auto f = TRY(vd.dentry->inode()->Open(vd.dentry, abi::kO_RDONLY | abi::kO_LARGEFILE));
  f->set_mount(vd.mount);
  return f;
}

Result<Attr> VFS::StatAt(const PathCtx& c, int dirfd, std::string_view path,
                         uint32_t lookup_flags) {
  if (path.empty() && (lookup_flags & kLookupEmptyPath) && dirfd != abi::kAT_FDCWD) {
    auto f = TRY(c.fds.GetFile(dirfd));
    return f->Stat();
  }
  VirtualDentry vd = TRY(Lookup(c, dirfd, path, lookup_flags));
  return vd.dentry->inode()->Stat();
}

Result<std::string> VFS::ReadlinkAt(const PathCtx& c, int dirfd, std::string_view path) {
  VirtualDentry vd = TRY(Lookup(c, dirfd, path, kLookupEmptyPath));
  if (path.empty() && dirfd == abi::kAT_FDCWD) return Errno::kENOENT;
  Attr a = TRY(vd.dentry->inode()->Stat());
  if (!IsLnk(a.mode)) return Errno::kEINVAL;
  return vd.dentry->inode()->Readlink();
}

Result<void> VFS::AccessAt(const PathCtx& c, int dirfd, std::string_view path, int mode,
                           uint32_t lookup_flags) {
  VirtualDentry vd = TRY(Lookup(c, dirfd, path, lookup_flags));
  if (mode == 0) return Ok();
  Attr a = TRY(vd.dentry->inode()->Stat());
  if ((mode & abi::kW_OK) && RoChecked(a.mode) && vd.mount->read_only()) return Errno::kEROFS;
  return CheckPermission(a, c.creds, mode & 7);
}

Result<FSStat> VFS::StatFSAt(const PathCtx& c, std::string_view path) {
  VirtualDentry vd = TRY(Lookup(c, abi::kAT_FDCWD, path, kLookupFollow));
  FSStat s = TRY(vd.mount->fs->StatFS());
  if (vd.mount->read_only()) s.flags |= abi::kST_RDONLY;
  return s;
}


Result<void> VFS::MkdirAt(const PathCtx& c, int dirfd, std::string_view path, uint32_t mode) {
  if (path.size() >= kPathMax) return Errno::kENAMETOOLONG;
  VirtualDentry start = TRY(StartFor(c, dirfd, path));
  Walker w{*this, c.creds, c.fs.GetRoot()};
  Parent p = TRY(w.WalkParent(start, path));
  if (p.type != Parent::kNormal) return Errno::kEEXIST;
  Dentry& dir = *p.dir.dentry;
  absl::MutexLock l(&dir.dir_mu_);
  if (w.Child(p.dir, p.last, true).ok()) return Errno::kEEXIST;
  if (p.dir.mount->read_only()) return Errno::kEROFS;
  Attr da = TRY(dir.inode()->Stat());
  TRY(CheckPermission(da, c.creds, kMayWrite | kMayExec));
  if (dir.unlinked()) return Errno::kENOENT;
  uint32_t m = (mode & 01777 & ~c.fs.GetUmask()) | abi::kS_IFDIR;
  auto inode = TRY(dir.inode()->Mkdir(p.last, m, c.creds));
  dir.InsertChild(std::make_shared<Dentry>(p.dir.dentry, p.last, std::move(inode)));
  return Ok();
}

Result<void> VFS::SymlinkAt(const PathCtx& c, std::string_view target, int dirfd,
                            std::string_view path) {
  if (target.empty()) return Errno::kENOENT;
  if (path.size() >= kPathMax || target.size() >= kPathMax) return Errno::kENAMETOOLONG;
  VirtualDentry start = TRY(StartFor(c, dirfd, path));
  Walker w{*this, c.creds, c.fs.GetRoot()};
  Parent p = TRY(w.WalkParent(start, path));
  if (p.type != Parent::kNormal) return Errno::kEEXIST;
  Dentry& dir = *p.dir.dentry;
  absl::MutexLock l(&dir.dir_mu_);
  if (w.Child(p.dir, p.last, true).ok()) return Errno::kEEXIST;
  if (p.trailing_slash) return Errno::kENOENT;
  if (p.dir.mount->read_only()) return Errno::kEROFS;
  Attr da = TRY(dir.inode()->Stat());
  TRY(CheckPermission(da, c.creds, kMayWrite | kMayExec));
  if (dir.unlinked()) return Errno::kENOENT;
  auto inode = TRY(dir.inode()->Symlink(p.last, target, c.creds));
  dir.InsertChild(std::make_shared<Dentry>(p.dir.dentry, p.last, std::move(inode)));
  return Ok();
}

Result<void> VFS::UnlinkAt(const PathCtx& c, int dirfd, std::string_view path) {
  if (path.size() >= kPathMax) return Errno::kENAMETOOLONG;
  VirtualDentry start = TRY(StartFor(c, dirfd, path));
  Walker w{*this, c.creds, c.fs.GetRoot()};
  Parent p = TRY(w.WalkParent(start, path));
  if (p.type != Parent::kNormal) return Errno::kEISDIR;
  if (p.dir.mount->read_only()) return Errno::kEROFS;
  Dentry& dir = *p.dir.dentry;
  absl::MutexLock l(&dir.dir_mu_);
  auto child_d = TRY(LockedChild(p.dir.dentry, p.last));
  Attr va = TRY(child_d->inode()->Stat());
  if (p.trailing_slash) return IsDir(va.mode) ? Errno::kEISDIR : Errno::kENOTDIR;
  Attr da = TRY(dir.inode()->Stat());
  TRY(MayDelete(da, va, c.creds, /*want_dir=*/false));
  if (child_d->is_mountpoint()) return Errno::kEBUSY;
  TRY(dir.inode()->Unlink(p.last));
  child_d->unlinked_.store(true);
  dir.DropChild(p.last);
  return Ok();
}

Result<void> VFS::RmdirAt(const PathCtx& c, int dirfd, std::string_view path) {
  if (path.size() >= kPathMax) return Errno::kENAMETOOLONG;
  VirtualDentry start = TRY(StartFor(c, dirfd, path));
  Walker w{*this, c.creds, c.fs.GetRoot()};
  Parent p = TRY(w.WalkParent(start, path));
  if (p.type == Parent::kDot) return Errno::kEINVAL;
  if (p.type == Parent::kDotDot) return Errno::kENOTEMPTY;
  if (p.type == Parent::kRoot) return Errno::kEBUSY;
  if (p.dir.mount->read_only()) return Errno::kEROFS;
  Dentry& dir = *p.dir.dentry;
  absl::MutexLock l(&dir.dir_mu_);
  auto child_d = TRY(LockedChild(p.dir.dentry, p.last));
  Attr va = TRY(child_d->inode()->Stat());
  Attr da = TRY(dir.inode()->Stat());
  TRY(MayDelete(da, va, c.creds, /*want_dir=*/true));
  if (child_d->is_mountpoint()) return Errno::kEBUSY;
  TRY(dir.inode()->Rmdir(p.last));
  child_d->unlinked_.store(true);
  dir.DropChild(p.last);
  return Ok();
}

Result<void> VFS::Chdir(const PathCtx& c, std::string_view path) {
  VirtualDentry vd = TRY(Lookup(c, abi::kAT_FDCWD, path, kLookupFollow | kLookupDirectory));
  Attr a = TRY(vd.dentry->inode()->Stat());
  TRY(CheckPermission(a, c.creds, kMayExec));
  c.fs.SetCwd(std::move(vd));
  return Ok();
}

Result<void> VFS::Chdir(FSContext& ctx, std::string_view path, uint32_t uid, uint32_t gid) {
  FDTable none(0);
  return Chdir(PathCtx{ctx, none, Creds{uid, gid, {}}}, path);
}

Result<void> VFS::Fchdir(const PathCtx& c, int fd) {
  auto f = TRY(c.fds.GetFile(fd));
  if (!f->dentry() || !f->mount()) return Errno::kENOTDIR;
  Attr a = TRY(f->dentry()->inode()->Stat());
  if (!IsDir(a.mode)) return Errno::kENOTDIR;
  TRY(CheckPermission(a, c.creds, kMayExec));
  c.fs.SetCwd(VirtualDentry{f->mount(), f->dentry()});
  return Ok();
}

std::string VFS::PathOf(const VirtualDentry& root, const VirtualDentry& start) {
  std::vector<std::string> parts;
  VirtualDentry vd = start;
  for (;;) {
    if (vd == root) break;
    if (vd.dentry == vd.mount->root) {
      if (!vd.mount->parent) break;
      vd = VirtualDentry{vd.mount->parent, vd.mount->mountpoint};
      continue;
    }
    parts.push_back(vd.dentry->name());
    auto up = vd.dentry->parent();
    if (!up) break;
    vd.dentry = std::move(up);
  }
  if (parts.empty()) return "/";
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += '/';
    out += *it;
  }
  return out;
}

Result<std::string> VFS::Getcwd(FSContext& ctx) {
  VirtualDentry cwd, root;
  {
    absl::MutexLock l(&ctx.mutex);
    cwd = ctx.cwd;
    root = ctx.root;
  }
  if (cwd.dentry->unlinked()) return Errno::kENOENT;
  return PathOf(root, cwd);
}

// ---- Generic descriptions ----

Result<int64_t> SeekOffset(int64_t cur, int64_t size, int64_t offset, int whence) {
  int64_t r;
  switch (whence) {
    case abi::kSEEK_SET: r = offset; break;
    case abi::kSEEK_CUR:
      if (__builtin_add_overflow(cur, offset, &r)) return Errno::kEINVAL;
      break;
    case abi::kSEEK_END:
      if (__builtin_add_overflow(size, offset, &r)) return Errno::kEINVAL;
      break;
    case abi::kSEEK_DATA:
      if (offset < 0 || offset >= size) return Errno::kENXIO;
      r = offset;
      break;
    case abi::kSEEK_HOLE:
      if (offset < 0 || offset >= size) return Errno::kENXIO;
      r = size;
      break;
    default: return Errno::kEINVAL;
  }
  if (r < 0) return Errno::kEINVAL;
  return r;
}

Result<size_t> FillDirents64(std::span<std::byte> dst, const std::vector<DirEntry>& entries,
                             int64_t* pos) {
  size_t used = 0;
  while (*pos >= 0 && static_cast<size_t>(*pos) < entries.size()) {
    const DirEntry& e = entries[*pos];
    size_t reclen = (abi::kDirent64NameOffset + e.name.size() + 1 + 7) & ~size_t{7};
    if (reclen > dst.size() - used) {
      if (used == 0) return Errno::kEINVAL;
      break;
    }
    std::byte* rec = dst.data() + used;
    std::memset(rec, 0, reclen);
    abi::Dirent64Header h{e.ino, *pos + 1, static_cast<uint16_t>(reclen), e.type};
    std::memcpy(rec, &h, abi::kDirent64NameOffset);
    std::memcpy(rec + abi::kDirent64NameOffset, e.name.data(), e.name.size());
    used += reclen;
    ++*pos;
  }
  return used;
}

DirectoryFD::DirectoryFD(std::shared_ptr<Dentry> d, uint32_t flags)
    : FileDescription(std::move(d), flags) {}

Result<Attr> DirectoryFD::Stat() { return dentry_->inode()->Stat(); }

Result<size_t> DirectoryFD::GetDents64(std::span<std::byte> dst) {
  absl::MutexLock l(&mu_);
  if (!loaded_) {
    Attr self = TRY(dentry_->inode()->Stat());
    uint64_t parent_ino = self.ino;
    if (dentry_->parent()) parent_ino = TRY(dentry_->parent()->inode()->Stat()).ino;
    std::vector<DirEntry> list = TRY(dentry_->inode()->ReadDir());
    entries_.clear();
    entries_.push_back(DirEntry{".", self.ino, abi::kDT_DIR});
    entries_.push_back(DirEntry{"..", parent_ino, abi::kDT_DIR});
    for (auto& e : list) entries_.push_back(std::move(e));
    loaded_ = true;
  }
  return FillDirents64(dst, entries_, &pos_);
}

Result<int64_t> DirectoryFD::Seek(int64_t offset, int whence) {
  absl::MutexLock l(&mu_);
  int64_t r;
  if (whence == abi::kSEEK_SET) {
    r = offset;
  } else if (whence == abi::kSEEK_CUR) {
    if (__builtin_add_overflow(pos_, offset, &r)) return Errno::kEINVAL;
  } else {
    return Errno::kEINVAL;
  }
  if (r < 0) return Errno::kEINVAL;
  if (r == 0) loaded_ = false;  // rewinddir sees a fresh listing
  pos_ = r;
  return r;
}

Result<Attr> PathFD::Stat() { return dentry_->inode()->Stat(); }

}  // namespace sbx::fs
