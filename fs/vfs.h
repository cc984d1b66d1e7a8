// The virtual filesystem: inodes, dentries, mounts, path walk (Linux fs/namei.c, fs/namespace.c,
// fs/dcache.c in miniature).
//
// Model. A Filesystem owns Inodes (its files). A Dentry names an inode inside one filesystem's
// tree: it has a parent (null at the filesystem root), a name, and a cache of looked-up
// children (positive entries only). A Mount attaches a filesystem's root dentry on a dentry of
// a parent mount. A VirtualDentry {mount, dentry} is a position in the mount tree; every path
// walk step works on VirtualDentries. Dentry caches are the attribute/lookup cache of remote
// filesystems (gofer): a repeated walk does not call the filesystem again. Entries leave the
// cache when unlinked through the VFS; there is no eviction yet (the cache only grows).
//
// Ownership: children hold their parent strongly and a parent's cache holds its children
// strongly; VFS::~VFS breaks these cycles by clearing every cache.
//
// Lock order: VFS::rename_mu_ (Linux s_vfs_rename_mutex) -> Dentry::dir_mu_ (the parent
// directory, Linux i_rwsem; two at once only under rename_mu_, in address order) ->
// Dentry::mu_ (child cache) -> filesystem inode locks -> Inode::flock_mu_ (leaf);
// Dentry::name_mu_, VFS::mu_ (mount table) and FSContext::mu are leaves.
//
// Renames move dentries: a dentry's parent and name change only under VFS::rename_mu_ and
// both directories' dir_mu_, and are read through parent()/name() (copies under name_mu_).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/fd_table.h"
#include "fs/file.h"
#include "sentry/abi/file.h"
#include "sentry/abi/result.h"

namespace sbx::gofer { class Client; }

namespace sbx::mm { class MemoryFile; }

namespace sbx::fs {

inline constexpr size_t kNameMax = 255;    // NAME_MAX
inline constexpr size_t kPathMax = 4096;   // PATH_MAX (including the NUL)
inline constexpr int kMaxSymlinks = 40;    // MAXSYMLINKS

// The credentials a path operation is checked against (fsuid/fsgid and groups of the task).
struct Creds {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> groups;
  bool InGroup(uint32_t g) const;
};

// MAY_* permission bits (include/linux/fs.h).
inline constexpr int kMayExec = 1, kMayWrite = 2, kMayRead = 4;

// generic_permission(): owner/group/other bits; uid 0 bypasses except that executing a
// non-directory needs at least one x bit. EACCES on denial.
Result<void> CheckPermission(const Attr& a, const Creds& c, int may);

// One directory entry as listed by ReadDir (without "." and "..").
struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_*
};

// statfs(2) values of a filesystem.
struct FSStat {
  int64_t type = 0, bsize = 4096;
  uint64_t blocks = 0, bfree = 0, bavail = 0, files = 0, ffree = 0;
  int64_t namelen = kNameMax, frsize = 4096, flags = 0;
};

class Filesystem {
 public:
  Filesystem(std::string name, uint64_t dev, bool read_only)
      : name_(std::move(name)), dev_(dev), read_only_(read_only) {}
  virtual ~Filesystem() = default;
  const std::string& name() const { return name_; }
  uint64_t dev() const { return dev_; }
  bool read_only() const { return read_only_; }
  virtual Result<FSStat> StatFS() = 0;

 private:
  const std::string name_;
  const uint64_t dev_;
  const bool read_only_;
};

class Inode;

// Attribute changes for Inode::SetAttr (chmod, chown, utimes, truncate). The VFS has done the
// permission checks and resolved "now"; the filesystem applies them and sets ctime to now.
inline constexpr uint32_t kSetMode = 1, kSetUid = 2, kSetGid = 4, kSetSize = 8, kSetAtime = 16,
                          kSetMtime = 32;
struct AttrChange {
  uint32_t mask = 0;
  uint32_t mode = 0;  // permission bits only (07777)
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  int64_t atime_sec = 0, mtime_sec = 0;
  uint32_t atime_nsec = 0, mtime_nsec = 0;
};

// renameat2 flags.
inline constexpr uint32_t kRenameNoReplace = 1, kRenameExchange = 2, kRenameWhiteout = 4;
// setxattr flags.
inline constexpr int kXattrCreate = 1, kXattrReplace = 2;
// fallocate modes.
inline constexpr int kFallocKeepSize = 1, kFallocPunchHole = 2;

// flock(2) locks of one inode, owned by open file descriptions (fs/locks.c flock_lock_inode).
// An owner is tracked through a weak pointer: once its last reference is gone (the last
// close), its lock no longer counts and is purged at the next operation.
class FlockTable {
 public:
  // LOCK_SH (shared=true) or LOCK_EX for `owner`; converting first drops the old lock, as
  // Linux does. EAGAIN (EWOULDBLOCK) if `nonblock` and another description holds a
  // conflicting lock; otherwise waits, polling CurrentInterruptible() (ERESTARTSYS).
  Result<void> Lock(const std::shared_ptr<FileDescription>& owner, bool shared, bool nonblock);
  // LOCK_UN.
  void Unlock(const FileDescription* owner);

 private:
  struct Holder {
    std::weak_ptr<FileDescription> owner;
    bool shared;
  };
  void PurgeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::map<const FileDescription*, Holder> holders_ ABSL_GUARDED_BY(mu_);
};

// Open flags decoded once by the VFS and handed to Inode::Open.
struct OpenRequest {
  uint32_t flags = 0;  // f_flags as stored in the description (no O_CREAT/O_EXCL/O_TRUNC...)
};

class Inode : public std::enable_shared_from_this<Inode> {
 public:
  explicit Inode(Filesystem& fs) : fs_(fs) {}
  virtual ~Inode() = default;
  Filesystem& fs() const { return fs_; }

  virtual Result<Attr> Stat() = 0;
  // Opens a description for this inode reached through `d` (regular files, dirs, devices).
  // Directories may return OpenDirectory(); permissions are already checked.
  virtual Result<std::shared_ptr<FileDescription>> Open(std::shared_ptr<Dentry> d,
                                                        uint32_t flags) = 0;
  virtual Result<std::string> Readlink() { return Errno::kEINVAL; }
  // Sets the size (O_TRUNC, ftruncate). EINVAL unless a regular file.
  virtual Result<void> Truncate(uint64_t size) { return Errno::kEINVAL; }

  // Directory operations; the VFS holds the directory's dir_mu_ around the mutating ones and
  // has checked permissions, read-only mounts and name validity.
  virtual Result<std::shared_ptr<Inode>> Lookup(std::string_view name) { return Errno::kENOTDIR; }
  virtual Result<std::vector<DirEntry>> ReadDir() { return Errno::kENOTDIR; }
  virtual Result<std::shared_ptr<Inode>> CreateFile(std::string_view name, uint32_t mode,
                                                    const Creds& c) { return Errno::kEPERM; }
  virtual Result<std::shared_ptr<Inode>> Mkdir(std::string_view name, uint32_t mode,
                                               const Creds& c) { return Errno::kEPERM; }
  virtual Result<std::shared_ptr<Inode>> Symlink(std::string_view name, std::string_view target,
                                                 const Creds& c) { return Errno::kEPERM; }
  // Removes a non-directory entry / an empty directory entry (ENOTEMPTY).
  virtual Result<void> Unlink(std::string_view name) { return Errno::kEPERM; }
  virtual Result<void> Rmdir(std::string_view name) { return Errno::kEPERM; }
  // Adds a hard link `name` to `target` (same filesystem, not a directory) and bumps its nlink.
  virtual Result<void> Link(std::string_view name, const std::shared_ptr<Inode>& target) {
    return Errno::kEPERM;
  }
  // Creates a FIFO, socket, device node or regular file (mode includes the type).
  virtual Result<std::shared_ptr<Inode>> Mknod(std::string_view name, uint32_t mode, uint64_t dev,
                                               const Creds& c) { return Errno::kEPERM; }
  // Moves `old_name` of this directory to `new_name` of `new_dir` (same filesystem), replacing
  // a target (the VFS has checked types and emptiness rules except ENOTEMPTY) or, with
  // kRenameExchange, swapping the two. Both directories' dir_mu_ are held.
  virtual Result<void> Rename(std::string_view old_name, Inode& new_dir,
                              std::string_view new_name, uint32_t flags) { return Errno::kEPERM; }

  // Attribute changes (see AttrChange).
  virtual Result<void> SetAttr(const AttrChange& ch) { return Errno::kEPERM; }
  // fallocate(2) on a regular file (mode 0 or kFallocKeepSize); EOPNOTSUPP if unsupported.
  virtual Result<void> Allocate(int mode, uint64_t offset, uint64_t len) {
    return Errno::kEOPNOTSUPP;
  }

  // Extended attributes with full names ("user.foo"); the VFS checks namespaces, permissions
  // and read-only mounts. ENODATA for a missing name.
  virtual Result<std::string> GetXattr(std::string_view name) { return Errno::kENODATA; }
  virtual Result<void> SetXattr(std::string_view name, std::string_view value, int flags) {
    return Errno::kEOPNOTSUPP;
  }
  virtual Result<std::vector<std::string>> ListXattr() { return std::vector<std::string>{}; }
  virtual Result<void> RemoveXattr(std::string_view name) { return Errno::kEOPNOTSUPP; }

  FlockTable& flocks() { return flocks_; }

 private:
  Filesystem& fs_;
  FlockTable flocks_;
};

class Dentry : public std::enable_shared_from_this<Dentry> {
 public:
  Dentry(std::shared_ptr<Dentry> parent, std::string name, std::shared_ptr<Inode> inode)
      : parent_(std::move(parent)), name_(std::move(name)), inode_(std::move(inode)) {}
  const std::shared_ptr<Inode>& inode() const { return inode_; }
  // Null at the root of a filesystem. Copies: a rename may change them.
  std::shared_ptr<Dentry> parent() const {
    absl::MutexLock l(&name_mu_);
    return parent_;
  }
  std::string name() const {
    absl::MutexLock l(&name_mu_);
    return name_;
  }
  bool unlinked() const { return unlinked_.load(); }
  bool is_mountpoint() const { return mounts_.load() > 0; }

  // The cached child `name`, or null.
  std::shared_ptr<Dentry> CachedChild(std::string_view name);
  // Returns the cached child `name`, or caches `fresh` under that name and returns it.
  std::shared_ptr<Dentry> InsertChild(std::shared_ptr<Dentry> fresh);
  void DropChild(std::string_view name);
  // Clears this subtree's caches (teardown).
  void DropCacheRecursive();

  absl::Mutex dir_mu_;  // serialises create/unlink in this directory (Linux i_rwsem)

 private:
  friend class VFS;
  mutable absl::Mutex name_mu_;
  std::shared_ptr<Dentry> parent_ ABSL_GUARDED_BY(name_mu_);
  std::string name_ ABSL_GUARDED_BY(name_mu_);
  const std::shared_ptr<Inode> inode_;
  std::atomic<bool> unlinked_{false};
  std::atomic<int> mounts_{0};
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Dentry>, std::less<>> children_ ABSL_GUARDED_BY(mu_);
};

struct Mount {
  std::shared_ptr<Filesystem> fs;
  std::shared_ptr<Dentry> root;
  std::shared_ptr<Mount> parent;       // null for the root mount
  std::shared_ptr<Dentry> mountpoint;  // in parent's filesystem
  bool read_only() const { return fs->read_only(); }
};

struct VirtualDentry {
  std::shared_ptr<Mount> mount;
  std::shared_ptr<Dentry> dentry;
  bool operator==(const VirtualDentry& o) const {
    return mount == o.mount && dentry == o.dentry;
  }
  bool valid() const { return mount && dentry; }
};

// Per-task filesystem context (Linux fs_struct): shared between tasks cloned with CLONE_FS.
struct FSContext {
  mutable absl::Mutex mutex;
  VirtualDentry root ABSL_GUARDED_BY(mutex);
  VirtualDentry cwd ABSL_GUARDED_BY(mutex);
  uint32_t umask ABSL_GUARDED_BY(mutex) = 022;

  // A copy (fork without CLONE_FS).
  std::shared_ptr<FSContext> Fork() const;
  VirtualDentry GetRoot() const;
  VirtualDentry GetCwd() const;
  uint32_t GetUmask() const;
  void SetCwd(VirtualDentry vd);
  uint32_t SwapUmask(uint32_t m);  // returns the old umask
};

// What a path-taking operation needs from its task.
struct PathCtx {
  FSContext& fs;
  FDTable& fds;
  Creds creds;
};

// Lookup flags for VFS::Lookup.
inline constexpr uint32_t kLookupFollow = 1;     // follow a final symlink
inline constexpr uint32_t kLookupEmptyPath = 2;  // "" means dirfd itself (AT_EMPTY_PATH)
inline constexpr uint32_t kLookupDirectory = 4;  // final must be a directory

class VFS {
 public:
  // Mounts / = the gofer's root (read-only), /tmp = a fresh tmpfs (1777), /dev = devfs.
  // tmpfs data (/tmp, /dev/shm) lives in `memfile` (the sandbox's memory file; must outlive the
  // VFS), or in a private memory file per tmpfs if null.
  static Result<std::unique_ptr<VFS>> New(std::unique_ptr<sbx::gofer::Client> rootfs,
                                          mm::MemoryFile* memfile = nullptr);
  // Same, with the root filesystem built by `make_root` from the device number the VFS assigns
  // it (tests; other root types).
  using RootFactory = std::function<
      Result<std::pair<std::shared_ptr<Filesystem>, std::shared_ptr<Inode>>>(uint64_t dev)>;
  static Result<std::unique_ptr<VFS>> NewWithRoot(const RootFactory& make_root,
                                                  mm::MemoryFile* memfile = nullptr);
  ~VFS();

  // A context whose root and cwd are "/".
  std::shared_ptr<FSContext> NewContext();
  // A fresh anonymous device number (major 0), as Linux gives to virtual filesystems.
  uint64_t NewAnonDev();

  // Mounts `fs` (root inode `root`) on the directory `at`. EBUSY if already a mount point.
  Result<std::shared_ptr<Mount>> MountAt(const VirtualDentry& at, std::shared_ptr<Filesystem> fs,
                                         std::shared_ptr<Inode> root);
  VirtualDentry Root() const;

  // Resolves dirfd+path (namei). flags: kLookup*.
  Result<VirtualDentry> Lookup(const PathCtx& c, int dirfd, std::string_view path,
                               uint32_t flags);
  // open(2)/openat(2) (without O_CLOEXEC, which the caller applies to the fd slot).
  Result<std::shared_ptr<FileDescription>> OpenAt(const PathCtx& c, int dirfd,
                                                  std::string_view path, uint32_t flags,
                                                  uint32_t mode);
  // As above with root credentials.
  Result<std::shared_ptr<FileDescription>> OpenAt(FSContext& ctx, FDTable& fds, int dirfd,
                                                  std::string_view path, uint32_t flags,
                                                  uint32_t mode);
  // execve's open: follows symlinks; regular file with exec permission, else EACCES.
  Result<std::shared_ptr<FileDescription>> OpenForExec(FSContext& ctx, const Creds& c,
                                                       std::string_view path);
  // As above with root credentials (some x bit still required).
  Result<std::shared_ptr<FileDescription>> OpenForExec(FSContext& ctx, std::string_view path);

  Result<Attr> StatAt(const PathCtx& c, int dirfd, std::string_view path, uint32_t lookup_flags);
  Result<std::string> ReadlinkAt(const PathCtx& c, int dirfd, std::string_view path);
  // faccessat: `mode` is F_OK or R_OK|W_OK|X_OK; checked against c.creds.
  Result<void> AccessAt(const PathCtx& c, int dirfd, std::string_view path, int mode,
                        uint32_t lookup_flags);
  Result<FSStat> StatFSAt(const PathCtx& c, std::string_view path);
  Result<void> MkdirAt(const PathCtx& c, int dirfd, std::string_view path, uint32_t mode);
  Result<void> UnlinkAt(const PathCtx& c, int dirfd, std::string_view path);
  Result<void> RmdirAt(const PathCtx& c, int dirfd, std::string_view path);
  Result<void> SymlinkAt(const PathCtx& c, std::string_view target, int dirfd,
                         std::string_view path);
  // linkat(2): flags AT_SYMLINK_FOLLOW / AT_EMPTY_PATH.
  Result<void> LinkAt(const PathCtx& c, int olddirfd, std::string_view oldpath, int newdirfd,
                      std::string_view newpath, uint32_t flags);
  // renameat2(2): flags kRename*.
  Result<void> RenameAt(const PathCtx& c, int olddirfd, std::string_view oldpath, int newdirfd,
                        std::string_view newpath, uint32_t flags);
  // mknodat(2): `mode` includes the file type (0 means regular).
  Result<void> MknodAt(const PathCtx& c, int dirfd, std::string_view path, uint32_t mode,
                       uint64_t dev);

  // Attribute changes on a resolved file (chmod/chown/utimes/truncate families), with the
  // Linux permission rules (notify_change/setattr_prepare) and EROFS on read-only mounts.
  Result<void> Chmod(const VirtualDentry& vd, const Creds& c, uint32_t mode);
  // uid/gid of kNoChange are left alone (chown's -1).
  static constexpr uint32_t kNoChange = 0xffffffffu;
  Result<void> Chown(const VirtualDentry& vd, const Creds& c, uint32_t uid, uint32_t gid);
  // `times` null: both now (write permission suffices); otherwise {atime, mtime} where a nsec
  // of kUtimeNow/kUtimeOmit means now/unchanged.
  struct TimeSpec { int64_t sec; int64_t nsec; };
  static constexpr int64_t kUtimeNow = (1l << 30) - 1, kUtimeOmit = (1l << 30) - 2;
  Result<void> Utimes(const VirtualDentry& vd, const Creds& c, const TimeSpec* times);
  // truncate(2) by path (`check_access`: write permission); ftruncate passes false, having
  // checked the description is writable.
  Result<void> Truncate(const VirtualDentry& vd, const Creds& c, uint64_t size,
                        bool check_access = true);
  // The xattr family on a resolved file (namespace rules, permissions, EROFS).
  Result<std::string> GetXattr(const VirtualDentry& vd, const Creds& c, std::string_view name);
  Result<void> SetXattr(const VirtualDentry& vd, const Creds& c, std::string_view name,
                        std::string_view value, int flags);
  Result<std::vector<std::string>> ListXattr(const VirtualDentry& vd, const Creds& c);
  Result<void> RemoveXattr(const VirtualDentry& vd, const Creds& c, std::string_view name);

  Result<void> Chdir(const PathCtx& c, std::string_view path);
  // As above for a context with no FD table in play (init's cwd), checked against uid/gid.
  Result<void> Chdir(FSContext& ctx, std::string_view path, uint32_t uid, uint32_t gid);
  Result<void> Fchdir(const PathCtx& c, int fd);
  // The path of ctx's cwd relative to its root; ENOENT if the cwd was removed.
  Result<std::string> Getcwd(FSContext& ctx);
  // The path of `vd` relative to `root` (for /proc/self/fd links and getcwd).
  std::string PathOf(const VirtualDentry& root, const VirtualDentry& vd);

 private:
  VFS() = default;
  struct Walker;
  struct Parent;
  Result<VirtualDentry> StartFor(const PathCtx& c, int dirfd, std::string_view path);
  Result<std::shared_ptr<FileDescription>> OpenVD(const VirtualDentry& vd, const Creds& creds,
                                                  uint32_t flags, bool created);
  std::shared_ptr<Mount> MountedOn(const Mount* m, const Dentry* d) const;
  VirtualDentry CrossMounts(VirtualDentry vd) const;

  absl::Mutex rename_mu_;
  mutable absl::Mutex mu_;
  std::shared_ptr<Mount> root_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<const Mount*, const Dentry*>, std::shared_ptr<Mount>> mounts_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_anon_minor_ ABSL_GUARDED_BY(mu_) = 16;
};

// A description that refers to a directory: getdents64 from a snapshot of ReadDir taken at
// the first call (or after a rewind), "." and ".." first; d_off = index of the next entry.
class DirectoryFD : public FileDescription {
 public:
  DirectoryFD(std::shared_ptr<Dentry> d, uint32_t flags);
  Result<Attr> Stat() override;
  Result<size_t> GetDents64(std::span<std::byte> dst) override;
  Result<int64_t> Seek(int64_t offset, int whence) override;
  Result<size_t> Read(std::span<std::byte>) override { return Errno::kEISDIR; }
  Result<size_t> PRead(std::span<std::byte>, int64_t) override { return Errno::kEISDIR; }

 private:
  absl::Mutex mu_;
  std::vector<DirEntry> entries_ ABSL_GUARDED_BY(mu_);
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  int64_t pos_ ABSL_GUARDED_BY(mu_) = 0;
};

// An O_PATH description: only fstat, fchdir, dirfd use; read/write EBADF.
class PathFD : public FileDescription {
 public:
  PathFD(std::shared_ptr<Dentry> d, uint32_t flags) : FileDescription(std::move(d), flags) {}
  Result<Attr> Stat() override;
  Result<size_t> Read(std::span<std::byte>) override { return Errno::kEBADF; }
  Result<size_t> PRead(std::span<std::byte>, int64_t) override { return Errno::kEBADF; }
  Result<size_t> Write(std::span<const std::byte>) override { return Errno::kEBADF; }
  Result<size_t> PWrite(std::span<const std::byte>, int64_t) override { return Errno::kEBADF; }
  Result<int64_t> Seek(int64_t, int) override { return Errno::kEBADF; }
  Result<size_t> GetDents64(std::span<std::byte>) override { return Errno::kEBADF; }
  Result<uint64_t> Ioctl(usermem::UserMemory&, uint64_t, uint64_t) override {
    return Errno::kEBADF;
  }
};

// Helpers for files whose offset is kept in the description: lseek(2) on a file of `size`.
Result<int64_t> SeekOffset(int64_t cur, int64_t size, int64_t offset, int whence);
// Appends linux_dirent64 records for `entries[pos...]` into dst; returns bytes written and
// advances *pos. EINVAL if even the first record does not fit.
Result<size_t> FillDirents64(std::span<std::byte> dst, const std::vector<DirEntry>& entries,
                             int64_t* pos);

}  // namespace sbx::fs
