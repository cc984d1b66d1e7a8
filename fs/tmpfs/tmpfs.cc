// tmpfs implementation.
#include "fs/tmpfs/tmpfs.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace sbx::fs::tmpfs {

void NowTimespec(int64_t* sec, uint32_t* nsec) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  *sec = ts.tv_sec;
  *nsec = static_cast<uint32_t>(ts.tv_nsec);
}

namespace {
// A private memory file when none is given. Allocation failure here is a host resource
// failure at construction (tests, standalone tools), not guest-reachable.
std::unique_ptr<mm::MemoryFile> OwnMemoryFile(mm::MemoryFile* given, uint64_t max_bytes) {
  if (given != nullptr) return nullptr;
  auto mf = mm::MemoryFile::Create(std::max<uint64_t>(max_bytes, TmpfsFile::kChunk));
  if (!mf.ok()) {
    std::fprintf(stderr, "sbx: tmpfs: cannot create a memory file: %s\n",
                 std::string(ErrnoName(mf.error())).c_str());
    std::abort();
  }
  return std::move(mf).value();
}
}  // namespace

TmpfsFilesystem::TmpfsFilesystem(uint64_t dev, uint64_t max_bytes, std::string name,
                                 mm::MemoryFile* memfile, bool read_only)
    : Filesystem(std::move(name), dev, read_only),
      own_memfile_(OwnMemoryFile(memfile, max_bytes)),
      memfile_(memfile != nullptr ? memfile : own_memfile_.get()),
      max_bytes_(max_bytes) {}

std::shared_ptr<Inode> TmpfsFilesystem::NewRoot(uint32_t perm, uint32_t uid, uint32_t gid) {
  return std::make_shared<TmpfsDir>(*this, abi::kS_IFDIR | (perm & 07777), uid, gid);
}

Result<FSStat> TmpfsFilesystem::StatFS() {
  FSStat s;
  s.type = abi::kTMPFS_MAGIC;
  s.bsize = s.frsize = 4096;
  s.blocks = max_bytes_ / 4096;
  uint64_t used = (used_.load() + 4095) / 4096;
  s.bfree = s.bavail = s.blocks > used ? s.blocks - used : 0;
  s.files = 1 << 20;
  uint64_t inodes = next_ino_.load();
  s.ffree = s.files > inodes ? s.files - inodes : 0;
  s.namelen = kNameMax;
  s.flags = abi::kST_NOSUID | abi::kST_NODEV | abi::kST_RELATIME;
  return s;
}

Result<void> TmpfsFilesystem::Charge(int64_t bytes) {
  if (bytes <= 0) {
    used_.fetch_sub(static_cast<uint64_t>(-bytes));
    return Ok();
  }
  uint64_t cur = used_.load();
  do {
    if (cur + static_cast<uint64_t>(bytes) > max_bytes_) return Errno::kENOSPC;
  } while (!used_.compare_exchange_weak(cur, cur + static_cast<uint64_t>(bytes)));
  return Ok();
}

// ---- TmpfsInode ----

TmpfsInode::TmpfsInode(TmpfsFilesystem& fs, uint32_t mode, uint32_t uid, uint32_t gid)
    : Inode(fs), tfs_(fs) {
  attr_.dev = fs.dev();
  attr_.ino = fs.NextIno();
  attr_.mode = mode;
  attr_.uid = uid;
  attr_.gid = gid;
  attr_.nlink = (mode & abi::kS_IFMT) == abi::kS_IFDIR ? 2 : 1;
  attr_.blksize = 4096;
  NowTimespec(&attr_.atime_sec, &attr_.atime_nsec);
  attr_.mtime_sec = attr_.ctime_sec = attr_.btime_sec = attr_.atime_sec;
  attr_.mtime_nsec = attr_.ctime_nsec = attr_.btime_nsec = attr_.atime_nsec;
}

Result<Attr> TmpfsInode::Stat() {
  absl::MutexLock l(&mu_);
  return attr_;
}

void TmpfsInode::AdjustNlink(int delta) {
  absl::MutexLock l(&mu_);
  attr_.nlink = static_cast<uint32_t>(static_cast<int64_t>(attr_.nlink) + delta);
  NowTimespec(&attr_.ctime_sec, &attr_.ctime_nsec);
}

void TmpfsInode::TouchMCtime() {
  NowTimespec(&attr_.mtime_sec, &attr_.mtime_nsec);
  attr_.ctime_sec = attr_.mtime_sec;
  attr_.ctime_nsec = attr_.mtime_nsec;
}

// ---- TmpfsDir ----

TmpfsDir::TmpfsDir(TmpfsFilesystem& fs, uint32_t mode, uint32_t uid, uint32_t gid)
    : TmpfsInode(fs, mode, uid, gid) {
  attr_.size = 4096;  // Linux tmpfs reports a directory's size as a small value; 4096 is fine
}

Result<std::shared_ptr<FileDescription>> TmpfsDir::Open(std::shared_ptr<Dentry> d,
                                                        uint32_t flags) {
  return std::shared_ptr<FileDescription>(std::make_shared<DirectoryFD>(std::move(d), flags));
}

Result<std::shared_ptr<Inode>> TmpfsDir::Lookup(std::string_view name) {
  absl::MutexLock l(&mu_);
  auto it = children_.find(name);
  if (it == children_.end()) return Errno::kENOENT;
  return it->second;
}

Result<std::vector<DirEntry>> TmpfsDir::ReadDir() {
  absl::MutexLock l(&mu_);
  std::vector<DirEntry> out;
  out.reserve(children_.size());
  for (const auto& [name, inode] : children_) {
    auto a = inode->Stat();
    if (!a.ok()) continue;
    out.push_back(DirEntry{name, a->ino, abi::ModeToDType(a->mode)});
  }
  return out;
}

Result<void> TmpfsDir::AddLocked(std::string_view name, std::shared_ptr<Inode> child) {
  if (name.empty() || name.size() > kNameMax) return Errno::kENAMETOOLONG;
  auto [it, inserted] = children_.try_emplace(std::string(name), std::move(child));
  if (!inserted) return Errno::kEEXIST;
  TouchMCtime();
  return Ok();
}

Result<void> TmpfsDir::AddChild(std::string name, std::shared_ptr<Inode> child) {
  auto a = TRY(child->Stat());
  absl::MutexLock l(&mu_);
  TRY(AddLocked(name, std::move(child)));
  if ((a.mode & abi::kS_IFMT) == abi::kS_IFDIR) ++attr_.nlink;
  return Ok();
}

bool TmpfsDir::empty() const {
  absl::MutexLock l(&mu_);
  return children_.empty();
}

namespace {
// The gid of a new inode: the directory's if it is set-group-ID (inode_init_owner()).
uint32_t NewGid(const Attr& dir, const Creds& c) {
  return (dir.mode & abi::kS_ISGID) ? dir.gid : c.gid;
}
}  // namespace

Result<std::shared_ptr<Inode>> TmpfsDir::CreateFile(std::string_view name, uint32_t mode,
                                                    const Creds& c) {
  absl::MutexLock l(&mu_);
  auto f = std::make_shared<TmpfsFile>(tfs_, abi::kS_IFREG | (mode & 07777), c.uid,
                                       NewGid(attr_, c));
  TRY(AddLocked(name, f));
  return std::shared_ptr<Inode>(f);
}

Result<std::shared_ptr<Inode>> TmpfsDir::Mkdir(std::string_view name, uint32_t mode,
                                               const Creds& c) {
  absl::MutexLock l(&mu_);
  uint32_t m = abi::kS_IFDIR | (mode & 07777);
  if (attr_.mode & abi::kS_ISGID) m |= abi::kS_ISGID;  // inherited by subdirectories
  auto d = std::make_shared<TmpfsDir>(tfs_, m, c.uid, NewGid(attr_, c));
  TRY(AddLocked(name, d));
  ++attr_.nlink;
  return std::shared_ptr<Inode>(d);
}

Result<std::shared_ptr<Inode>> TmpfsDir::Symlink(std::string_view name, std::string_view target,
                                                 const Creds& c) {
  absl::MutexLock l(&mu_);
  auto s = std::make_shared<TmpfsSymlink>(tfs_, std::string(target), c.uid, NewGid(attr_, c));
  TRY(AddLocked(name, s));
  return std::shared_ptr<Inode>(s);
}

Result<void> TmpfsDir::Unlink(std::string_view name) {
  std::shared_ptr<Inode> victim;
  {
    absl::MutexLock l(&mu_);
    auto it = children_.find(name);
    if (it == children_.end()) return Errno::kENOENT;
    auto a = TRY(it->second->Stat());
    if ((a.mode & abi::kS_IFMT) == abi::kS_IFDIR) return Errno::kEISDIR;
    victim = std::move(it->second);
    children_.erase(it);
    TouchMCtime();
  }
  if (auto* t = dynamic_cast<TmpfsInode*>(victim.get())) t->AdjustNlink(-1);
  return Ok();
}

Result<void> TmpfsDir::Rmdir(std::string_view name) {
  std::shared_ptr<Inode> victim;
  {
    absl::MutexLock l(&mu_);
    auto it = children_.find(name);
    if (it == children_.end()) return Errno::kENOENT;
    auto* d = dynamic_cast<TmpfsDir*>(it->second.get());
    if (d == nullptr) return Errno::kENOTDIR;
    if (!d->empty()) return Errno::kENOTEMPTY;
    victim = std::move(it->second);
    children_.erase(it);
    --attr_.nlink;
    TouchMCtime();
  }
  static_cast<TmpfsDir*>(victim.get())->AdjustNlink(-2);
  return Ok();
}

// ---- TmpfsSymlink ----

TmpfsSymlink::TmpfsSymlink(TmpfsFilesystem& fs, std::string target, uint32_t uid, uint32_t gid)
    : TmpfsInode(fs, abi::kS_IFLNK | 0777, uid, gid), target_(std::move(target)) {
  absl::MutexLock l(&mu_);
  attr_.size = target_.size();
}

// ---- TmpfsFile ----

TmpfsFile::TmpfsFile(TmpfsFilesystem& fs, uint32_t mode, uint32_t uid, uint32_t gid)
    : TmpfsInode(fs, mode, uid, gid) {}

uint64_t TmpfsFile::size() const {
  absl::MutexLock l(&mu_);
  return attr_.size;
}

Result<std::shared_ptr<FileDescription>> TmpfsFile::Open(std::shared_ptr<Dentry> d,
                                                         uint32_t flags) {
  auto self = std::static_pointer_cast<TmpfsFile>(shared_from_this());
  return std::shared_ptr<FileDescription>(
      std::make_shared<TmpfsFileFD>(std::move(d), std::move(self), flags));
}

// Destructor, Truncate, ReadAt, WriteAt, hole punch and the SharedMappable side: tmpfs_file.cc.

// ---- TmpfsFileFD ----

TmpfsFileFD::TmpfsFileFD(std::shared_ptr<Dentry> d, std::shared_ptr<TmpfsFile> file,
                         uint32_t flags)
    : FileDescription(std::move(d), flags), file_(std::move(file)) {}

Result<size_t> TmpfsFileFD::Read(std::span<std::byte> dst) {
  absl::MutexLock l(&mu_);
  size_t n = TRY(file_->ReadAt(dst, pos_));
  pos_ += n;
  return n;
}

Result<size_t> TmpfsFileFD::PRead(std::span<std::byte> dst, int64_t offset) {
  return file_->ReadAt(dst, offset);
}

Result<size_t> TmpfsFileFD::Write(std::span<const std::byte> src) {
  absl::MutexLock l(&mu_);
  int64_t at = 0;
  size_t n = TRY(file_->WriteAt(src, pos_, flags() & abi::kO_APPEND, &at));
  pos_ = at + static_cast<int64_t>(n);
  return n;
}

Result<size_t> TmpfsFileFD::PWrite(std::span<const std::byte> src, int64_t offset) {
  int64_t at = 0;
  // Linux quirk kept: pwrite on an O_APPEND description appends.
  return file_->WriteAt(src, offset, flags() & abi::kO_APPEND, &at);
}

Result<int64_t> TmpfsFileFD::Seek(int64_t offset, int whence) {
  absl::MutexLock l(&mu_);
  int64_t r = TRY(SeekOffset(pos_, static_cast<int64_t>(file_->size()), offset, whence));
  pos_ = r;
  return r;
}

}  // namespace sbx::fs::tmpfs
