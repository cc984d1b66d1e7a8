// devfs: the sandbox's /dev — a tmpfs holding the memory character devices (drivers/char/mem.c:
// null 1:3, zero 1:5, full 1:7, random 1:8, urandom 1:9, all 0666), /dev/shm (1777) and the
// fd/stdin/stdout/stderr symlinks into /proc/self/fd. No tty device yet.
#pragma once

#include <memory>
#include <utility>

#include "fs/tmpfs/tmpfs.h"

namespace sbx::fs::dev {

enum class DevKind { kNull, kZero, kFull, kRandom, kURandom };

// A character device inode of the memory devices.
class MemDevInode : public tmpfs::TmpfsInode {
 public:
  MemDevInode(tmpfs::TmpfsFilesystem& fs, DevKind kind);
  Result<std::shared_ptr<FileDescription>> Open(std::shared_ptr<Dentry> d, uint32_t flags) override;
  DevKind kind() const { return kind_; }

 private:
  const DevKind kind_;
};

// Builds a populated devfs with device number `dev`; returns the filesystem and its root.
std::pair<std::shared_ptr<Filesystem>, std::shared_ptr<Inode>> NewDevfs(uint64_t dev,
                                                                  mm::MemoryFile* memfile = nullptr);

}  // namespace sbx::fs::dev
