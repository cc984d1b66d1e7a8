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
// Lock order: Dentry::dir_mu_ (the parent directory, Linux i_rwsem; never two at once) ->
// Dentry::mu_ (child cache) -> filesystem inode locks (leaf) ; VFS::mu_ (mount table) and
// FSContext::mu are leaves.
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

 private:
  Filesystem& fs_;
};

class Dentry : public std::enable_shared_from_this<Dentry> {
 public:
  Dentry(std::shared_ptr<Dentry> parent, std::string name, std::shared_ptr<Inode> inode)
      : parent_(std::move(parent)), name_(std::move(name)), inode_(std::move(inode)) {}
  const std::shared_ptr<Inode>& inode() const { return inode_; }
  // Null at the root of a filesystem.
  const std::shared_ptr<Dentry>& parent() const { return parent_; }
  const std::string& name() const { return name_; }
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
  const std::shared_ptr<Dentry> parent_;
  const std::string name_;
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
  static Result<std::unique_ptr<VFS>> New(std::unique_ptr<sbx::gofer::Client> rootfs);
  // Same, with the root filesystem built by `make_root` from the device number the VFS assigns
  // it (tests; other root types).
  using RootFactory = std::function<
      Result<std::pair<std::shared_ptr<Filesystem>, std::shared_ptr<Inode>>>(uint64_t dev)>;
  static Result<std::unique_ptr<VFS>> NewWithRoot(const RootFactory& make_root);
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
