// tmpfs: an in-memory filesystem (Linux mm/shmem.c). Regular file data lives in the sandbox's
// memory file in sparse 64 KiB chunks (holes read as zeros), so MAP_SHARED mappings map the
// file's own pages (TmpfsFile is a SharedMappable; see tmpfs_file.cc); the filesystem charges
// chunks against a byte limit (ENOSPC). Directories hold their children by name; nlink counts
// follow Linux (directories 2 + subdirectories, files 1 per name).
//
// Lock order: MemoryManager -> TmpfsInode::mu_ -> MemoryFile. TmpfsFile::obs_mu_ is a leaf;
// mapping invalidations are sent with no tmpfs lock held. TmpfsInode::mu_ is otherwise a leaf,
// except that a directory's mu_ may be held while calling Stat() of a child (parent before
// child, never the reverse).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fs/pipe/pipe.h"
#include "fs/vfs.h"
#include "sentry/mm/memory_file.h"

namespace sbx::fs::tmpfs {

class TmpfsFilesystem : public Filesystem {
 public:
  // File data goes to `memfile` (the sandbox's; must outlive the filesystem), or, if null, to
  // a private memory file of max_bytes created here (tests, standalone use).
  // `read_only`: a mount nothing can be created in (placeholder /proc and /sys).
  explicit TmpfsFilesystem(uint64_t dev, uint64_t max_bytes = uint64_t{1} << 30,
                           std::string name = "tmpfs", mm::MemoryFile* memfile = nullptr,
                           bool read_only = false);
  // A new root directory with permissions `perm` (e.g. 01777 for /tmp).
  std::shared_ptr<Inode> NewRoot(uint32_t perm, uint32_t uid, uint32_t gid);
  Result<FSStat> StatFS() override;

  uint64_t NextIno() { return next_ino_.fetch_add(1); }
  // Accounts `bytes` more (or fewer, if negative) of file data; ENOSPC past the limit.
  Result<void> Charge(int64_t bytes);
  uint64_t used_bytes() const { return used_.load(); }
  mm::MemoryFile& memfile() const { return *memfile_; }

 private:
  std::unique_ptr<mm::MemoryFile> own_memfile_;  // set when no memory file was given
  mm::MemoryFile* memfile_;
  const uint64_t max_bytes_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> next_ino_{1};
};

// Current CLOCK_REALTIME, for timestamps.
void NowTimespec(int64_t* sec, uint32_t* nsec);

class TmpfsInode : public Inode {
 public:
  TmpfsInode(TmpfsFilesystem& fs, uint32_t mode, uint32_t uid, uint32_t gid);
  Result<Attr> Stat() override;
  TmpfsFilesystem& tfs() const { return tfs_; }
  void AdjustNlink(int delta);
  void TouchCtime();
  Result<void> SetAttr(const AttrChange& ch) override;
  Result<std::string> GetXattr(std::string_view name) override;
  Result<void> SetXattr(std::string_view name, std::string_view value, int flags) override;
  Result<std::vector<std::string>> ListXattr() override;
  Result<void> RemoveXattr(std::string_view name) override;
  ~TmpfsInode() override;

 protected:
  void TouchMCtime() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TmpfsFilesystem& tfs_;
  mutable absl::Mutex mu_;
  Attr attr_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> xattrs_ ABSL_GUARDED_BY(mu_);
};

// A FIFO made by mknod: opens share one pipe (fs/pipe.c fifo_open).
class TmpfsFifo : public TmpfsInode {
 public:
  TmpfsFifo(TmpfsFilesystem& fs, uint32_t mode, uint32_t uid, uint32_t gid);
  Result<std::shared_ptr<FileDescription>> Open(std::shared_ptr<Dentry> d, uint32_t flags) override;

 private:
  const std::shared_ptr<pipe::Pipe> pipe_;
};

// A socket or device node made by mknod. Never opens: sockets give ENXIO (as Linux), device
// nodes EACCES (the tmpfs is mounted nodev, as statfs reports), so no host device is reached.
class TmpfsSpecial : public TmpfsInode {
 public:
  TmpfsSpecial(TmpfsFilesystem& fs, uint32_t mode, uint64_t rdev, uint32_t uid, uint32_t gid);
  Result<std::shared_ptr<FileDescription>> Open(std::shared_ptr<Dentry> d, uint32_t flags) override;
};

class TmpfsDir : public TmpfsInode {
 public:
  TmpfsDir(TmpfsFilesystem& fs, uint32_t mode, uint32_t uid, uint32_t gid);
  Result<std::shared_ptr<FileDescription>> Open(std::shared_ptr<Dentry> d, uint32_t flags) override;
  Result<std::shared_ptr<Inode>> Lookup(std::string_view name) override;
  Result<std::vector<DirEntry>> ReadDir() override;
  Result<std::shared_ptr<Inode>> CreateFile(std::string_view name, uint32_t mode,
                                            const Creds& c) override;
  Result<std::shared_ptr<Inode>> Mkdir(std::string_view name, uint32_t mode,
                                       const Creds& c) override;
  Result<std::shared_ptr<Inode>> Symlink(std::string_view name, std::string_view target,
                                         const Creds& c) override;
  Result<void> Unlink(std::string_view name) override;
  Result<void> Rmdir(std::string_view name) override;
  Result<void> Link(std::string_view name, const std::shared_ptr<Inode>& target) override;
  Result<std::shared_ptr<Inode>> Mknod(std::string_view name, uint32_t mode, uint64_t dev,
                                       const Creds& c) override;
  Result<void> Rename(std::string_view old_name, Inode& new_dir, std::string_view new_name,
                      uint32_t flags) override;
  // Links an existing inode (of any filesystem: devfs puts device inodes here). EEXIST.
  Result<void> AddChild(std::string name, std::shared_ptr<Inode> child);
  bool empty() const;

 private:
  Result<void> AddLocked(std::string_view name, std::shared_ptr<Inode> child)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<std::string, std::shared_ptr<Inode>, std::less<>> children_ ABSL_GUARDED_BY(mu_);
};

class TmpfsFile : public TmpfsInode, public SharedMappable {
 public:
  static constexpr uint64_t kChunk = 64 * 1024;
  TmpfsFile(TmpfsFilesystem& fs, uint32_t mode, uint32_t uid, uint32_t gid);
  ~TmpfsFile() override;
  Result<std::shared_ptr<FileDescription>> Open(std::shared_ptr<Dentry> d, uint32_t flags) override;
  Result<void> Truncate(uint64_t size) override;
  Result<void> SetAttr(const AttrChange& ch) override;
  Result<void> Allocate(int mode, uint64_t offset, uint64_t len) override;
  Result<size_t> ReadAt(std::span<std::byte> dst, int64_t off);
  // Writes at `off`, or at the end if `append` (returns the offset written at in *at).
  Result<size_t> WriteAt(std::span<const std::byte> src, int64_t off, bool append, int64_t* at);
  uint64_t size() const;
  // fallocate(2) mode 0 / FALLOC_FL_KEEP_SIZE: backs [off, off+len) with (zeroed) chunks,
  // undoing its own allocations on ENOSPC/ENOMEM; extends i_size unless keep_size.
  Result<void> AllocateRange(uint64_t off, uint64_t len, bool keep_size);
  // FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE: [off, off+len) reads as zeros afterwards; whole
  // chunks inside it are unmapped from every address space and freed. i_size is unchanged.
  Result<void> PunchHole(uint64_t off, uint64_t len);

  // SharedMappable.
  Result<Run> MapPages(uint64_t file_off, uint64_t max_len) override;
  void AddMapping(std::weak_ptr<MappingObserver> o) override;
  void RemoveMapping(const MappingObserver* o) override;

 private:
  // Memory-file offset of chunk `index`, allocating (and charging) a zeroed one if absent.
  Result<uint64_t> ChunkLocked(uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Zeroes bytes [from, to) of present chunks and moves the chunks wholly inside the range to
  // *detached (their memory-file offsets), to be freed after InvalidateMappings.
  void DetachLocked(uint64_t from, uint64_t to, std::vector<uint64_t>* detached)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns detached chunks to the memory file and uncharges them.
  void FreeChunks(const std::vector<uint64_t>& offs);
  // Tells every live observer to drop its mappings of file bytes [off, off+len).
  void InvalidateMappings(uint64_t off, uint64_t len) ABSL_LOCKS_EXCLUDED(mu_, obs_mu_);

  std::map<uint64_t, uint64_t> chunks_ ABSL_GUARDED_BY(mu_);  // chunk index -> memfile offset
  absl::Mutex obs_mu_;
  std::vector<std::weak_ptr<MappingObserver>> observers_ ABSL_GUARDED_BY(obs_mu_);
};

class TmpfsSymlink : public TmpfsInode {
 public:
  TmpfsSymlink(TmpfsFilesystem& fs, std::string target, uint32_t uid, uint32_t gid);
  Result<std::shared_ptr<FileDescription>> Open(std::shared_ptr<Dentry> d, uint32_t flags) override {
    return Errno::kELOOP;
  }
  Result<std::string> Readlink() override { return target_; }

 private:
  const std::string target_;
};

// The open description of a tmpfs regular file.
class TmpfsFileFD : public FileDescription {
 public:
  TmpfsFileFD(std::shared_ptr<Dentry> d, std::shared_ptr<TmpfsFile> file, uint32_t flags);
  Result<size_t> Read(std::span<std::byte> dst) override;
  Result<size_t> PRead(std::span<std::byte> dst, int64_t offset) override;
  Result<size_t> Write(std::span<const std::byte> src) override;
  Result<size_t> PWrite(std::span<const std::byte> src, int64_t offset) override;
  Result<int64_t> Seek(int64_t offset, int whence) override;
  Result<Attr> Stat() override { return file_->Stat(); }
  Result<size_t> GetDents64(std::span<std::byte>) override { return Errno::kENOTDIR; }
  bool Mappable() const override { return true; }
  SharedMappable* shared_mappable() override { return file_.get(); }

 private:
  const std::shared_ptr<TmpfsFile> file_;
  absl::Mutex mu_;  // f_pos_lock
  int64_t pos_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sbx::fs::tmpfs
