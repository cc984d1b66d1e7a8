// FDTable implementation (fs/file.c: alloc_fd, do_dup2, close_fd).
#include "fs/fd_table.h"

#include <limits>

namespace sbx::fs {

namespace {
// Linux caps the table at sysctl_nr_open (1 << 20) no matter what RLIMIT_NOFILE says.
constexpr uint64_t kNrOpen = 1 << 20;
uint64_t Limit(uint64_t max_fds) { return max_fds < kNrOpen ? max_fds : kNrOpen; }
}  // namespace

Result<int> FDTable::Add(std::shared_ptr<FileDescription> file, bool cloexec, int min_fd) {
  if (min_fd < 0) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  uint64_t limit = Limit(max_fds_);
  int fd = min_fd;
  for (auto it = fds_.lower_bound(min_fd); it != fds_.end() && it->first == fd; ++it) ++fd;
  if (static_cast<uint64_t>(fd) >= limit) return Errno::kEMFILE;
  fds_[fd] = Entry{std::move(file), cloexec};
  return fd;
}

Result<void> FDTable::Set(int fd, std::shared_ptr<FileDescription> file, bool cloexec) {
  if (fd < 0) return Errno::kEBADF;
  std::shared_ptr<FileDescription> old;  // released outside the lock
  {
    absl::MutexLock l(&mu_);
    if (static_cast<uint64_t>(fd) >= Limit(max_fds_)) return Errno::kEBADF;
    Entry& e = fds_[fd];
    old = std::move(e.file);
    e = Entry{std::move(file), cloexec};
  }
  return Ok();
}

Result<FDTable::Entry> FDTable::Get(int fd) const {
  absl::MutexLock l(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno::kEBADF;
  return it->second;
}

Result<std::shared_ptr<FileDescription>> FDTable::GetFile(int fd) const {
  absl::MutexLock l(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno::kEBADF;
  return it->second.file;
}

Result<void> FDTable::SetCloexec(int fd, bool cloexec) {
  absl::MutexLock l(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno::kEBADF;
  it->second.cloexec = cloexec;
  return Ok();
}

Result<std::shared_ptr<FileDescription>> FDTable::Remove(int fd) {
  absl::MutexLock l(&mu_);
  auto it = fds_.find(fd);
  if (it == fds_.end()) return Errno::kEBADF;
  auto f = std::move(it->second.file);
  fds_.erase(it);
  return f;
}

void FDTable::RemoveCloexec() {
  std::vector<std::shared_ptr<FileDescription>> dropped;  // destroyed outside the lock
  absl::MutexLock l(&mu_);
  for (auto it = fds_.begin(); it != fds_.end();) {
    if (it->second.cloexec) {
      dropped.push_back(std::move(it->second.file));
      it = fds_.erase(it);
    } else {
      ++it;
    }
  }
}

std::shared_ptr<FDTable> FDTable::Fork() const {
  absl::MutexLock l(&mu_);
  auto t = std::make_shared<FDTable>(max_fds_);
  absl::MutexLock l2(&t->mu_);
  t->fds_ = fds_;
  return t;
}

void FDTable::set_max_fds(uint64_t n) {
  absl::MutexLock l(&mu_);
  max_fds_ = n;
}

uint64_t FDTable::max_fds() const {
  absl::MutexLock l(&mu_);
  return max_fds_;
}

std::vector<int> FDTable::OpenFDs() const {
  absl::MutexLock l(&mu_);
  std::vector<int> v;
  v.reserve(fds_.size());
  for (const auto& [fd, e] : fds_) v.push_back(fd);
  return v;
}

}  // namespace sbx::fs
