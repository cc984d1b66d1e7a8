// MemoryFile: the sandbox's memfd, reserved sparse and mapped whole into the sentry, with a
// best-fit allocator of page-aligned ranges.
//
// Invariants: every byte of the file is either allocated (owned by exactly one caller) or in
// the free list; every free range is a hole in the memfd (never-touched or hole-punched), so
// Allocate() returns zero-filled memory without writing it. Free() punches the hole *before*
// the range re-enters the free list, so no other allocation can see it half-released.
// Thread-safe: the free list is guarded by Impl::mu (a leaf lock).
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "sentry/mm/memory_file.h"
#include "sentry/usermem/usermem.h"

namespace sbx::mm {

using usermem::kPageSize;

struct MemoryFile::Impl {
  int fd = -1;
  uint64_t size = 0;
  std::byte* base = nullptr;

  mutable absl::Mutex mu;
  // Free extents keyed by offset (for coalescing) and by (length, offset) (for best fit).
  std::map<uint64_t, uint64_t> free_by_off ABSL_GUARDED_BY(mu);
  std::set<std::pair<uint64_t, uint64_t>> free_by_len ABSL_GUARDED_BY(mu);
  uint64_t allocated ABSL_GUARDED_BY(mu) = 0;

  void InsertFreeLocked(uint64_t off, uint64_t len) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    free_by_off[off] = len;
    free_by_len.insert({len, off});
  }
  void EraseFreeLocked(std::map<uint64_t, uint64_t>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    free_by_len.erase({it->second, it->first});
    free_by_off.erase(it);
  }
};

Result<std::unique_ptr<MemoryFile>> MemoryFile::Create(uint64_t reserve) {
  uint64_t size;
  if (reserve == 0 || !usermem::PageRoundUp(reserve, &size)) return Errno::kEINVAL;
  int fd = memfd_create("sbx-memory", MFD_CLOEXEC);
  if (fd < 0) return ErrnoFromHost(errno);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int e = errno;
    close(fd);
    return ErrnoFromHost(e);
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    close(fd);
    return ErrnoFromHost(e);
  }
  auto impl = std::make_unique<Impl>();
  impl->fd = fd;
  impl->size = size;
  impl->base = static_cast<std::byte*>(p);
  {
    absl::MutexLock l(&impl->mu);
    impl->InsertFreeLocked(0, size);
  }
  return std::unique_ptr<MemoryFile>(new MemoryFile(std::move(impl)));
}

MemoryFile::MemoryFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MemoryFile::~MemoryFile() {
  munmap(impl_->base, impl_->size);
  close(impl_->fd);
}

platform::MemoryFileInfo MemoryFile::info() const {
  return platform::MemoryFileInfo{impl_->fd, impl_->size};
}

Result<uint64_t> MemoryFile::Allocate(uint64_t len) {
  if (len == 0 || len % kPageSize != 0) return Errno::kEINVAL;
  absl::MutexLock l(&impl_->mu);
  auto it = impl_->free_by_len.lower_bound({len, 0});
  if (it == impl_->free_by_len.end()) return Errno::kENOMEM;
  auto [ext_len, off] = *it;
  impl_->EraseFreeLocked(impl_->free_by_off.find(off));
  if (ext_len > len) impl_->InsertFreeLocked(off + len, ext_len - len);
  impl_->allocated += len;
  return off;
}

void MemoryFile::Free(uint64_t offset, uint64_t len) {
  if (len == 0) return;
  if (offset % kPageSize != 0 || len % kPageSize != 0 || offset > impl_->size ||
      len > impl_->size - offset) {
    std::fprintf(stderr, "sbx: MemoryFile::Free(%#lx, %#lx): bad range (internal bug)\n",
                 static_cast<unsigned long>(offset), static_cast<unsigned long>(len));
    return;
  }
  // Release the host pages while the range is still ours.
  if (fallocate(impl_->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                static_cast<off_t>(offset), static_cast<off_t>(len)) != 0) {
    // Cannot happen on a memfd; zero by hand so the "free means zero" invariant holds.
    std::memset(impl_->base + offset, 0, len);
  }
  absl::MutexLock l(&impl_->mu);
  auto& by_off = impl_->free_by_off;
  auto next = by_off.lower_bound(offset);
  if (next != by_off.end() && next->first < offset + len) {
    std::fprintf(stderr, "sbx: MemoryFile::Free(%#lx, %#lx): double free (internal bug)\n",
                 static_cast<unsigned long>(offset), static_cast<unsigned long>(len));
    return;
  }
  if (next != by_off.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second > offset) {
      std::fprintf(stderr, "sbx: MemoryFile::Free(%#lx, %#lx): double free (internal bug)\n",
                   static_cast<unsigned long>(offset), static_cast<unsigned long>(len));
      return;
    }
  }
  impl_->allocated -= len;
  uint64_t start = offset, end = offset + len;
  if (next != by_off.end() && next->first == end) {
    end += next->second;
    impl_->EraseFreeLocked(next);
  }
  auto after = by_off.lower_bound(start);
  if (after != by_off.begin()) {
    auto prev = std::prev(after);
    if (prev->first + prev->second == start) {
      start = prev->first;
      impl_->EraseFreeLocked(prev);
    }
  }
  impl_->InsertFreeLocked(start, end - start);
}

std::byte* MemoryFile::Pointer(uint64_t offset) const { return impl_->base + offset; }

uint64_t MemoryFile::bytes_allocated() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->allocated;
}

}  // namespace sbx::mm
