// Attribute and metadata operations on resolved files: chmod/chown (fs/open.c chmod_common,
// chown_common, fs/attr.c setattr_prepare/notify_change), utimes (fs/utimes.c vfs_utimes),
// truncate (do_truncate), the xattr namespace rules (fs/xattr.c xattr_permission) and
// flock(2) tables (fs/locks.c).
#include "absl/time/time.h"
#include "fs/blocking.h"
#include "fs/tmpfs/tmpfs.h"
#include "fs/vfs.h"
#include "fs/vfs_walk.h"

namespace sbx::fs {

namespace {

bool Owner(const Attr& a, const Creds& c) { return c.uid == 0 || c.uid == a.uid; }

enum class XattrNs { kUser, kTrusted, kSecurity, kSystem, kOther };

// The namespace of `name`; EINVAL for a bare prefix ("user.").
Result<XattrNs> NamespaceOf(std::string_view name) {
  static constexpr std::pair<std::string_view, XattrNs> kPrefixes[] = {
      {"user.", XattrNs::kUser}, {"trusted.", XattrNs::kTrusted},
      {"security.", XattrNs::kSecurity}, {"system.", XattrNs::kSystem}};
  for (const auto& [prefix, ns] : kPrefixes) {
    if (name.substr(0, prefix.size()) == prefix) {
      if (name.size() == prefix.size()) return Errno::kEINVAL;
      return ns;
    }
  }
  return XattrNs::kOther;
}

// xattr_permission(): `write` is MAY_WRITE, else MAY_READ.
Result<void> XattrPermission(const Attr& a, const Creds& c, XattrNs ns, bool write) {
  if (ns == XattrNs::kSecurity || ns == XattrNs::kSystem) return Ok();
  if (ns == XattrNs::kTrusted) {
    if (c.uid != 0) return write ? Errno::kEPERM : Errno::kENODATA;
    return Ok();
  }
  if (ns == XattrNs::kUser) {
    if (!IsReg(a.mode) && !IsDir(a.mode)) return write ? Errno::kEPERM : Errno::kENODATA;
    if (IsDir(a.mode) && (a.mode & abi::kS_ISVTX) && write && !Owner(a, c)) {
      return Errno::kEPERM;
    }
  }
  return CheckPermission(a, c, write ? kMayWrite : kMayRead);
}

}  // namespace

Result<void> VFS::Chmod(const VirtualDentry& vd, const Creds& c, uint32_t mode) {
  Attr a = TRY(vd.dentry->inode()->Stat());
  if (vd.mount->read_only()) return Errno::kEROFS;
  if (!Owner(a, c)) return Errno::kEPERM;
  mode &= 07777;
  if (c.uid != 0 && !c.InGroup(a.gid)) mode &= ~abi::kS_ISGID;
  AttrChange ch;
  ch.mask = kSetMode;
  ch.mode = mode;
  return vd.dentry->inode()->SetAttr(ch);
}

Result<void> VFS::Chown(const VirtualDentry& vd, const Creds& c, uint32_t uid, uint32_t gid) {
  Attr a = TRY(vd.dentry->inode()->Stat());
  if (vd.mount->read_only()) return Errno::kEROFS;
  AttrChange ch;
  if (uid != kNoChange) {
    if (!(c.uid == 0 || (c.uid == a.uid && uid == a.uid))) return Errno::kEPERM;
    ch.mask |= kSetUid;
    ch.uid = uid;
  }
  if (gid != kNoChange) {
    if (!(c.uid == 0 || (c.uid == a.uid && (gid == a.gid || c.InGroup(gid))))) {
      return Errno::kEPERM;
    }
    ch.mask |= kSetGid;
    ch.gid = gid;
  }
  // ATTR_KILL_SUID/ATTR_KILL_SGID for non-directories, whoever changes the owner.
  if (!IsDir(a.mode)) {
    uint32_t m = a.mode & 07777;
    if (m & abi::kS_ISUID) m &= ~abi::kS_ISUID;
    if (m & abi::kS_ISGID) {
      uint32_t g = (ch.mask & kSetGid) ? gid : a.gid;
      if ((m & 0010) || !(c.uid == 0 || c.InGroup(g))) m &= ~abi::kS_ISGID;
    }
    if (m != (a.mode & 07777)) {
      ch.mask |= kSetMode;
      ch.mode = m;
    }
  }
  return vd.dentry->inode()->SetAttr(ch);
}

Result<void> VFS::Utimes(const VirtualDentry& vd, const Creds& c, const TimeSpec* times) {
  auto valid = [](int64_t ns) {
    return (ns >= 0 && ns <= 999999999) || ns == kUtimeNow || ns == kUtimeOmit;
  };
  if (times) {
    if (!valid(times[0].nsec) || !valid(times[1].nsec)) return Errno::kEINVAL;
    if (times[0].nsec == kUtimeNow && times[1].nsec == kUtimeNow) times = nullptr;
  }
  Attr a = TRY(vd.dentry->inode()->Stat());
  if (vd.mount->read_only()) return Errno::kEROFS;
  if (!times) {
    if (!Owner(a, c)) TRY(CheckPermission(a, c, kMayWrite));
  } else if (!Owner(a, c)) {
    return Errno::kEPERM;
  }
  int64_t now_sec;
  uint32_t now_nsec;
  tmpfs::NowTimespec(&now_sec, &now_nsec);
  AttrChange ch;
  auto set = [&](const TimeSpec* t, uint32_t bit, int64_t* sec, uint32_t* nsec) {
    if (t && t->nsec == kUtimeOmit) return;
    ch.mask |= bit;
    if (!t || t->nsec == kUtimeNow) {
      *sec = now_sec;
      *nsec = now_nsec;
    } else {
      *sec = t->sec;
      *nsec = static_cast<uint32_t>(t->nsec);
    }
  };
  set(times ? &times[0] : nullptr, kSetAtime, &ch.atime_sec, &ch.atime_nsec);
  set(times ? &times[1] : nullptr, kSetMtime, &ch.mtime_sec, &ch.mtime_nsec);
  return vd.dentry->inode()->SetAttr(ch);
}

Result<void> VFS::Truncate(const VirtualDentry& vd, const Creds& c, uint64_t size,
                          bool check_access) {
  Attr a = TRY(vd.dentry->inode()->Stat());
  if (IsDir(a.mode)) return Errno::kEISDIR;
  if (!IsReg(a.mode)) return Errno::kEINVAL;
  if (check_access) {
    if (vd.mount->read_only()) return Errno::kEROFS;
    TRY(CheckPermission(a, c, kMayWrite));
  }
  AttrChange ch;
  ch.mask = kSetSize;
  ch.size = size;
  // dentry_needs_remove_privs(): an unprivileged truncate drops set-user/group-ID.
  uint32_t m = a.mode & 07777;
  if (c.uid != 0) {
    if (m & abi::kS_ISUID) m &= ~abi::kS_ISUID;
    if ((m & abi::kS_ISGID) && (m & 0010)) m &= ~abi::kS_ISGID;
  }
  if (m != (a.mode & 07777)) {
    ch.mask |= kSetMode;
    ch.mode = m;
  }
  return vd.dentry->inode()->SetAttr(ch);
}

Result<std::string> VFS::GetXattr(const VirtualDentry& vd, const Creds& c,
                                  std::string_view name) {
  XattrNs ns = TRY(NamespaceOf(name));
  Attr a = TRY(vd.dentry->inode()->Stat());
  TRY(XattrPermission(a, c, ns, /*write=*/false));
  // No security module and no POSIX ACLs: these namespaces hold nothing.
  if (ns == XattrNs::kSecurity || ns == XattrNs::kSystem) return Errno::kENODATA;
  if (ns == XattrNs::kOther) return Errno::kEOPNOTSUPP;
  return vd.dentry->inode()->GetXattr(name);
}

Result<void> VFS::SetXattr(const VirtualDentry& vd, const Creds& c, std::string_view name,
                           std::string_view value, int flags) {
  XattrNs ns = TRY(NamespaceOf(name));
  if (vd.mount->read_only()) return Errno::kEROFS;
  Attr a = TRY(vd.dentry->inode()->Stat());
  TRY(XattrPermission(a, c, ns, /*write=*/true));
  if (ns != XattrNs::kUser && ns != XattrNs::kTrusted) return Errno::kEOPNOTSUPP;
  return vd.dentry->inode()->SetXattr(name, value, flags);
}

Result<std::vector<std::string>> VFS::ListXattr(const VirtualDentry& vd, const Creds& c) {
  std::vector<std::string> all = TRY(vd.dentry->inode()->ListXattr());
  std::vector<std::string> out;
  for (auto& n : all) {
    if (c.uid != 0 && n.rfind("trusted.", 0) == 0) continue;
    out.push_back(std::move(n));
  }
  return out;
}

Result<void> VFS::RemoveXattr(const VirtualDentry& vd, const Creds& c, std::string_view name) {
  XattrNs ns = TRY(NamespaceOf(name));
  if (vd.mount->read_only()) return Errno::kEROFS;
  Attr a = TRY(vd.dentry->inode()->Stat());
  TRY(XattrPermission(a, c, ns, /*write=*/true));
  if (ns != XattrNs::kUser && ns != XattrNs::kTrusted) return Errno::kEOPNOTSUPP;
  return vd.dentry->inode()->RemoveXattr(name);
}

// ---- flock ----

void FlockTable::PurgeLocked() {
  for (auto it = holders_.begin(); it != holders_.end();) {
    it = it->second.owner.expired() ? holders_.erase(it) : std::next(it);
  }
}

Result<void> FlockTable::Lock(const std::shared_ptr<FileDescription>& owner, bool shared,
                              bool nonblock) {
  absl::MutexLock l(&mu_);
  PurgeLocked();
  auto it = holders_.find(owner.get());
  if (it != holders_.end()) {
    if (it->second.shared == shared) return Ok();
    holders_.erase(it);  // flock_lock_inode(): conversion is not atomic
    cv_.SignalAll();
  }
  for (;;) {
    bool conflict = false;
    for (const auto& [o, h] : holders_) {
      if (!(shared && h.shared) && !h.owner.expired()) conflict = true;
    }
    if (!conflict) {
      PurgeLocked();
      holders_[owner.get()] = Holder{owner, shared};
      return Ok();
    }
    if (nonblock) return Errno::kEAGAIN;
    if (CurrentlyInterrupted()) return Errno::kERESTARTSYS;
    ScopedBlocked blocked;
    cv_.WaitWithTimeout(&mu_, absl::Milliseconds(10));
  }
}

void FlockTable::Unlock(const FileDescription* owner) {
  absl::MutexLock l(&mu_);
  PurgeLocked();
  if (holders_.erase(owner)) cv_.SignalAll();
}

}  // namespace sbx::fs
