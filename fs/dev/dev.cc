// The memory character devices and devfs population.
#include "fs/dev/dev.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

namespace sbx::fs::dev {

namespace {

uint32_t Minor(DevKind k) {
  switch (k) {
    case DevKind::kNull: return 3;
    case DevKind::kZero: return 5;
    case DevKind::kFull: return 7;
    case DevKind::kRandom: return 8;
    case DevKind::kURandom: return 9;
  }
  return 0;
}

Result<size_t> FillRandom(std::span<std::byte> dst) {
  size_t done = 0;
  while (done < dst.size()) {
    ssize_t n = getrandom(dst.data() + done, dst.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done > 0) break;
      return ErrnoFromHost(errno);
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

// One open memory device. Offsets are meaningless: lseek returns 0 as null_lseek does.
class MemDevFD : public FileDescription {
 public:
  MemDevFD(std::shared_ptr<Dentry> d, std::shared_ptr<MemDevInode> inode, uint32_t flags)
      : FileDescription(std::move(d), flags), inode_(std::move(inode)) {}

  Result<size_t> Read(std::span<std::byte> dst) override {
    switch (inode_->kind()) {
      case DevKind::kNull: return size_t{0};
      case DevKind::kZero:
      case DevKind::kFull:
        std::memset(dst.data(), 0, dst.size());
        return dst.size();
      case DevKind::kRandom:
      case DevKind::kURandom: return FillRandom(dst);
    }
    return Errno::kEINVAL;
  }
  Result<size_t> PRead(std::span<std::byte> dst, int64_t) override { return Read(dst); }
  Result<size_t> Write(std::span<const std::byte> src) override {
    if (inode_->kind() == DevKind::kFull) return Errno::kENOSPC;
    return src.size();  // null/zero discard; random/urandom accept (no entropy credit)
  }
  Result<size_t> PWrite(std::span<const std::byte> src, int64_t) override { return Write(src); }
  Result<int64_t> Seek(int64_t, int) override { return int64_t{0}; }
  Result<Attr> Stat() override { return inode_->Stat(); }
  // Private mappings of /dev/zero are anonymous zero memory: PRead gives the zeros.
  bool Mappable() const override { return inode_->kind() == DevKind::kZero; }

 private:
  const std::shared_ptr<MemDevInode> inode_;
};

}  // namespace

MemDevInode::MemDevInode(tmpfs::TmpfsFilesystem& fs, DevKind kind)
    : TmpfsInode(fs, abi::kS_IFCHR | 0666, 0, 0), kind_(kind) {
  absl::MutexLock l(&mu_);
  attr_.rdev = abi::MakeDev(1, Minor(kind));
}

Result<std::shared_ptr<FileDescription>> MemDevInode::Open(std::shared_ptr<Dentry> d,
                                                           uint32_t flags) {
  auto self = std::static_pointer_cast<MemDevInode>(shared_from_this());
  return std::shared_ptr<FileDescription>(
      std::make_shared<MemDevFD>(std::move(d), std::move(self), flags));
}

std::pair<std::shared_ptr<Filesystem>, std::shared_ptr<Inode>> NewDevfs(uint64_t dev,
                                                                  mm::MemoryFile* memfile) {
  auto fs = std::make_shared<tmpfs::TmpfsFilesystem>(dev, uint64_t{64} << 20, "devtmpfs",
                                                     memfile);
  auto root = std::static_pointer_cast<tmpfs::TmpfsDir>(fs->NewRoot(0755, 0, 0));
  const std::pair<const char*, DevKind> devs[] = {
      {"null", DevKind::kNull}, {"zero", DevKind::kZero}, {"full", DevKind::kFull},
      {"random", DevKind::kRandom}, {"urandom", DevKind::kURandom}};
  Creds rootc;
  for (const auto& [name, kind] : devs) {
    (void)root->AddChild(name, std::make_shared<MemDevInode>(*fs, kind));
  }
  (void)root->Symlink("fd", "/proc/self/fd", rootc);
  (void)root->Symlink("stdin", "/proc/self/fd/0", rootc);
  (void)root->Symlink("stdout", "/proc/self/fd/1", rootc);
  (void)root->Symlink("stderr", "/proc/self/fd/2", rootc);
  (void)root->Mkdir("shm", 01777, rootc);
  return {fs, root};
}

}  // namespace sbx::fs::dev
