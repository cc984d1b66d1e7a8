// The gofer filesystem: the container's root filesystem served by the gofer, mounted
// read-only (every write path returns EROFS from the VFS). Inodes cache the attributes the
// gofer returned at walk time (host inode numbers kept, st_dev replaced by this filesystem's
// own device number), so a repeated stat costs no round trip. Regular files are read through
// the host FD the gofer donates at open (pread on it); directories are listed with ReadDir.
// Cached attributes are not revalidated: changes made on the host after a walk are not seen.
#pragma once

#include <memory>
#include <utility>

#include "fs/gofer/node_source.h"
#include "fs/vfs.h"

namespace sbx::fs::gofer {

class GoferFilesystem : public Filesystem {
 public:
  GoferFilesystem(uint64_t dev, std::shared_ptr<NodeSource> src);
  ~GoferFilesystem() override;
  // statfs: the host's numbers (fstatfs on a donated FD of the root), type V9FS_MAGIC as gVisor.
  Result<FSStat> StatFS() override;
  NodeSource& src() const { return *src_; }
  // The root inode (walks nothing; Stat()s the root once).
  Result<std::shared_ptr<Inode>> Root();

 private:
  const std::shared_ptr<NodeSource> src_;
  absl::Mutex mu_;
  int statfs_fd_ ABSL_GUARDED_BY(mu_) = -1;
};

// Builds a gofer filesystem over `src` with device `dev`.
Result<std::pair<std::shared_ptr<Filesystem>, std::shared_ptr<Inode>>> NewGoferFS(
    uint64_t dev, std::shared_ptr<NodeSource> src);

}  // namespace sbx::fs::gofer
