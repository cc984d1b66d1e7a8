// The FD table (Linux `struct files_struct`): small integers to open file descriptions, each
// slot with its FD_CLOEXEC flag. Shared between threads with CLONE_FILES.
//
// Lock order: FDTable::mu_ is a leaf.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/file.h"

namespace sbx::fs {

class FDTable {
 public:
  struct Entry {
    std::shared_ptr<FileDescription> file;
    bool cloexec = false;
  };

  explicit FDTable(uint64_t max_fds = 1024) : max_fds_(max_fds) {}
  // Installs `file` at the lowest free fd >= min_fd; EMFILE if none below the limit.
  Result<int> Add(std::shared_ptr<FileDescription> file, bool cloexec, int min_fd = 0);
  // Installs at exactly `fd`, closing what was there (dup2 semantics). EBADF if fd >= limit.
  Result<void> Set(int fd, std::shared_ptr<FileDescription> file, bool cloexec);
  Result<Entry> Get(int fd) const;
  Result<std::shared_ptr<FileDescription>> GetFile(int fd) const;
  Result<void> SetCloexec(int fd, bool cloexec);
  // Removes and returns the entry; EBADF if not open.
  Result<std::shared_ptr<FileDescription>> Remove(int fd);
  void RemoveCloexec();  // at execve
  std::shared_ptr<FDTable> Fork() const;
  void set_max_fds(uint64_t n);
  uint64_t max_fds() const;
  std::vector<int> OpenFDs() const;

 private:
  mutable absl::Mutex mu_;
  std::map<int, Entry> fds_ ABSL_GUARDED_BY(mu_);
  uint64_t max_fds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sbx::fs
