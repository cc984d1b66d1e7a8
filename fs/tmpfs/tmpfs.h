// tmpfs: an in-memory filesystem (Linux mm/shmem.c). Regular file data lives in the sentry's
// heap in sparse 64 KiB chunks (holes read as zeros); the filesystem charges chunks against a
// byte limit (ENOSPC). Directories hold their children by name; nlink counts follow Linux
// (directories 2 + subdirectories, files 1 per name).
//
// Lock order: TmpfsInode::mu_ is a leaf, except that a directory's mu_ may be held while
// calling Stat() of a child (parent before child, never the reverse).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "fs/vfs.h"

namespace sbx::fs::tmpfs {

class TmpfsFilesystem : public Filesystem {
 public:
  explicit TmpfsFilesystem(uint64_t dev, uint64_t max_bytes = uint64_t{1} << 30,
                           std::string name = "tmpfs");
  // A new root directory with permissions `perm` (e.g. 01777 for /tmp).
  std::shared_ptr<Inode> NewRoot(uint32_t perm, uint32_t uid, uint32_t gid);
  Result<FSStat> StatFS() override;

  uint64_t NextIno() { return next_ino_.fetch_add(1); }
  // Accounts `bytes` more (or fewer, if negative) of file data; ENOSPC past the limit.
  Result<void> Charge(int64_t bytes);
  uint64_t used_bytes() const { return used_.load(); }

 private:
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

 protected:
  void TouchMCtime() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TmpfsFilesystem& tfs_;
  mutable absl::Mutex mu_;
  Attr attr_ ABSL_GUARDED_BY(mu_);
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
  // Links an existing inode (of any filesystem: devfs puts device inodes here). EEXIST.
  Result<void> AddChild(std::string name, std::shared_ptr<Inode> child);
  bool empty() const;

 private:
  Result<void> AddLocked(std::string_view name, std::shared_ptr<Inode> child)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<std::string, std::shared_ptr<Inode>, std::less<>> children_ ABSL_GUARDED_BY(mu_);
};

class TmpfsFile : public TmpfsInode {
 public:
  static constexpr uint64_t kChunk = 64 * 1024;
  TmpfsFile(TmpfsFilesystem& fs, uint32_t mode, uint32_t uid, uint32_t gid);
  ~TmpfsFile() override;
  Result<std::shared_ptr<FileDescription>> Open(std::shared_ptr<Dentry> d, uint32_t flags) override;
  Result<void> Truncate(uint64_t size) override;
  Result<size_t> ReadAt(std::span<std::byte> dst, int64_t off);
  // Writes at `off`, or at the end if `append` (returns the offset written at in *at).
  Result<size_t> WriteAt(std::span<const std::byte> src, int64_t off, bool append, int64_t* at);
  uint64_t size() const;

 private:
  void FreeFromLocked(uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<uint64_t, std::unique_ptr<std::byte[]>> chunks_ ABSL_GUARDED_BY(mu_);
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

 private:
  const std::shared_ptr<TmpfsFile> file_;
  absl::Mutex mu_;  // f_pos_lock
  int64_t pos_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sbx::fs::tmpfs
