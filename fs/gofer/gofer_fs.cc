// Gofer filesystem implementation.
#include "fs/gofer/gofer_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>

namespace sbx::fs::gofer {

namespace {

bool IsType(uint32_t mode, uint32_t t) { return (mode & abi::kS_IFMT) == t; }

Attr ToAttr(const sbx::gofer::Attr& g, uint64_t dev) {
  Attr a;
  a.dev = dev;
  a.ino = g.ino;
  a.rdev = g.rdev;
  a.mode = g.mode;
  a.nlink = g.nlink;
  a.uid = g.uid;
  a.gid = g.gid;
  a.size = g.size;
  a.blocks = g.blocks;
  a.blksize = g.blksize ? g.blksize : 4096;
  a.atime_sec = g.atime_sec;
  a.atime_nsec = g.atime_nsec;
  a.mtime_sec = g.mtime_sec;
  a.mtime_nsec = g.mtime_nsec;
  a.ctime_sec = g.ctime_sec;
  a.ctime_nsec = g.ctime_nsec;
  return a;
}

class GoferInode : public Inode {
 public:
  GoferInode(GoferFilesystem& fs, std::shared_ptr<NodeSource> src, NodeId id,
             const sbx::gofer::Attr& attr)
      : Inode(fs), src_(std::move(src)), id_(id), attr_(ToAttr(attr, fs.dev())) {}
  ~GoferInode() override {
    if (id_ != sbx::gofer::kRootNode) src_->Release(id_);
  }

  Result<Attr> Stat() override { return attr_; }

  Result<std::shared_ptr<Inode>> Lookup(std::string_view name) override {
    if (!IsType(attr_.mode, abi::kS_IFDIR)) return Errno::kENOTDIR;
    auto w = TRY(src_->Walk(id_, name));
    return std::shared_ptr<Inode>(std::make_shared<GoferInode>(
        static_cast<GoferFilesystem&>(fs()), src_, w.id, w.attr));
  }

  Result<std::vector<DirEntry>> ReadDir() override {
    if (!IsType(attr_.mode, abi::kS_IFDIR)) return Errno::kENOTDIR;
    auto list = TRY(src_->ReadDir(id_));
    std::vector<DirEntry> out;
    out.reserve(list.size());
    for (auto& e : list) out.push_back(DirEntry{std::move(e.name), e.ino, e.type});
    return out;
  }

  Result<std::string> Readlink() override {
    if (!IsType(attr_.mode, abi::kS_IFLNK)) return Errno::kEINVAL;
    absl::MutexLock l(&mu_);
    if (!link_cached_) {
      link_ = TRY(src_->Readlink(id_));
      link_cached_ = true;
    }
    return link_;
  }

  Result<std::shared_ptr<FileDescription>> Open(std::shared_ptr<Dentry> d,
                                                uint32_t flags) override;

  NodeSource& src() const { return *src_; }
  NodeId id() const { return id_; }

 private:
  const std::shared_ptr<NodeSource> src_;
  const NodeId id_;
  const Attr attr_;
  absl::Mutex mu_;
  bool link_cached_ ABSL_GUARDED_BY(mu_) = false;
  std::string link_ ABSL_GUARDED_BY(mu_);
};

// A regular file of the gofer fs: reads go straight to the donated host FD with pread(2).
class GoferFileFD : public FileDescription {
 public:
  GoferFileFD(std::shared_ptr<Dentry> d, uint32_t flags, int host_fd)
      : FileDescription(std::move(d), flags), fd_(host_fd) {}
  ~GoferFileFD() override { ::close(fd_); }

  Result<size_t> Read(std::span<std::byte> dst) override {
    absl::MutexLock l(&mu_);
    size_t n = TRY(PReadHost(dst, pos_));
    pos_ += static_cast<int64_t>(n);
    return n;
  }
  Result<size_t> PRead(std::span<std::byte> dst, int64_t offset) override {
    if (offset < 0) return Errno::kEINVAL;
    return PReadHost(dst, offset);
  }
  // The filesystem is read-only and the VFS refuses writable opens; keep EBADF as defence.
  Result<size_t> Write(std::span<const std::byte>) override { return Errno::kEBADF; }
  Result<size_t> PWrite(std::span<const std::byte>, int64_t) override { return Errno::kEBADF; }
  Result<int64_t> Seek(int64_t offset, int whence) override {
    absl::MutexLock l(&mu_);
    int64_t size = TRY(dentry_->inode()->Stat()).size;
    if (whence == abi::kSEEK_END || whence == abi::kSEEK_DATA || whence == abi::kSEEK_HOLE) {
      struct stat st;
      if (::fstat(fd_, &st) == 0) size = st.st_size;
    }
    pos_ = TRY(SeekOffset(pos_, size, offset, whence));
    return pos_;
  }
  Result<Attr> Stat() override { return dentry_->inode()->Stat(); }
  Result<size_t> GetDents64(std::span<std::byte>) override { return Errno::kENOTDIR; }
  bool Mappable() const override { return true; }

 private:
  Result<size_t> PReadHost(std::span<std::byte> dst, int64_t off) {
    for (;;) {
      ssize_t n = ::pread(fd_, dst.data(), dst.size(), off);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return ErrnoFromHost(errno);
    }
  }
  const int fd_;
  absl::Mutex mu_;
  int64_t pos_ ABSL_GUARDED_BY(mu_) = 0;
};

Result<std::shared_ptr<FileDescription>> GoferInode::Open(std::shared_ptr<Dentry> d,
                                                          uint32_t flags) {
  if (IsType(attr_.mode, abi::kS_IFDIR)) {
    return std::shared_ptr<FileDescription>(std::make_shared<DirectoryFD>(std::move(d), flags));
  }
  if (!IsType(attr_.mode, abi::kS_IFREG)) {
    // Host device nodes, FIFOs and sockets in the rootfs are not served: no driver here.
    return Errno::kENXIO;
  }
  int fd = TRY(src_->Open(id_, abi::kO_RDONLY));
  return std::shared_ptr<FileDescription>(std::make_shared<GoferFileFD>(std::move(d), flags, fd));
}

}  // namespace

GoferFilesystem::GoferFilesystem(uint64_t dev, std::shared_ptr<NodeSource> src)
    : Filesystem("9p", dev, /*read_only=*/true), src_(std::move(src)) {}

GoferFilesystem::~GoferFilesystem() {
  absl::MutexLock l(&mu_);
  if (statfs_fd_ >= 0) ::close(statfs_fd_);
}

Result<std::shared_ptr<Inode>> GoferFilesystem::Root() {
  auto a = TRY(src_->Stat(sbx::gofer::kRootNode));
  if (!IsType(a.mode, abi::kS_IFDIR)) return Errno::kENOTDIR;
  return std::shared_ptr<Inode>(
      std::make_shared<GoferInode>(*this, src_, sbx::gofer::kRootNode, a));
}

Result<FSStat> GoferFilesystem::StatFS() {
  absl::MutexLock l(&mu_);
  if (statfs_fd_ < 0) {
    statfs_fd_ = TRY(src_->Open(sbx::gofer::kRootNode, abi::kO_RDONLY | abi::kO_DIRECTORY));
  }
  struct statfs hs;
  if (::fstatfs(statfs_fd_, &hs) != 0) return ErrnoFromHost(errno);
  FSStat s;
  s.type = abi::kV9FS_MAGIC;
  s.bsize = hs.f_bsize;
  s.blocks = hs.f_blocks;
  s.bfree = hs.f_bfree;
  s.bavail = hs.f_bavail;
  s.files = hs.f_files;
  s.ffree = hs.f_ffree;
  s.namelen = hs.f_namelen;
  s.frsize = hs.f_frsize;
  s.flags = abi::kST_RDONLY;
  return s;
}

Result<std::pair<std::shared_ptr<Filesystem>, std::shared_ptr<Inode>>> NewGoferFS(
    uint64_t dev, std::shared_ptr<NodeSource> src) {
  auto fs = std::make_shared<GoferFilesystem>(dev, std::move(src));
  auto root = TRY(fs->Root());
  return std::make_pair(std::shared_ptr<Filesystem>(fs), root);
}

}  // namespace sbx::fs::gofer
