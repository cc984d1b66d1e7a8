// MemoryFile: the sandbox's memfd, reserved sparse and mapped whole into the sentry, with a
// best-fit allocator of page-aligned ranges.
//
// Invariants: every byte of the file is either allocated (with one or more references) or in
// the free list; `extra_refs` only covers allocated pages (a page's count is 1 + its entry); every free range is a hole in the memfd (never-touched or hole-punched), so
// Allocate() returns zero-filled memory without writing it. Free() punches the hole *before*
// the range re-enters the free list, so no other allocation can see it half-released.
// Thread-safe: the free list is guarded by Impl::mu (a leaf lock).
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <utility>
#include <vector>

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
  // References beyond the first, as maximal runs: start -> {end, extra (>= 1)}. Adjacent
  // runs with the same count are merged, so a forked mapping costs one entry per range.
  struct Run {
    uint64_t end;
    uint64_t extra;
  };
  std::map<uint64_t, Run> extra_refs ABSL_GUARDED_BY(mu);

  // Splits the run strictly containing `at`, if any.
  void SplitRunLocked(uint64_t at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = extra_refs.upper_bound(at);
    if (it == extra_refs.begin()) return;
    --it;
    if (it->first < at && it->second.end > at) {
      Run hi = it->second;
      it->second.end = at;
      extra_refs.emplace(at, hi);
    }
  }
  // Merges runs with equal counts that touch [start, end] at or around its edges.
  void MergeRunsLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = extra_refs.lower_bound(start);
    if (it != extra_refs.begin()) --it;
    while (it != extra_refs.end() && it->first <= end) {
      auto next = std::next(it);
      if (next != extra_refs.end() && next->first == it->second.end &&
          next->second.extra == it->second.extra) {
        it->second.end = next->second.end;
        extra_refs.erase(next);
        continue;
      }
      it = next;
    }
  }
  // Returns a range with no references left to the free list.
  void Release(uint64_t offset, uint64_t len) ABSL_LOCKS_EXCLUDED(mu);

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

namespace {

bool BadRange(const char* what, uint64_t offset, uint64_t len, uint64_t size) {
  if (offset % kPageSize == 0 && len % kPageSize == 0 && offset <= size &&
      len <= size - offset) {
    return false;
  }
  std::fprintf(stderr, "sbx: MemoryFile::%s(%#lx, %#lx): bad range (internal bug)\n", what,
               static_cast<unsigned long>(offset), static_cast<unsigned long>(len));
  return true;
}

}  // namespace

void MemoryFile::IncRef(uint64_t offset, uint64_t len) {
  if (len == 0 || BadRange("IncRef", offset, len, impl_->size)) return;
  const uint64_t end = offset + len;
  absl::MutexLock l(&impl_->mu);
  auto& runs = impl_->extra_refs;
  impl_->SplitRunLocked(offset);
  impl_->SplitRunLocked(end);
  uint64_t cur = offset;
  auto it = runs.lower_bound(offset);
  while (cur < end) {
    if (it != runs.end() && it->first == cur) {
      ++it->second.extra;
      cur = it->second.end;
      ++it;
      continue;
    }
    const uint64_t gap_end = it == runs.end() ? end : std::min(end, it->first);
    runs.emplace_hint(it, cur, Impl::Run{gap_end, 1});
    cur = gap_end;
  }
  impl_->MergeRunsLocked(offset, end);
}

void MemoryFile::DecRef(uint64_t offset, uint64_t len) {
  if (len == 0 || BadRange("DecRef", offset, len, impl_->size)) return;
  const uint64_t end = offset + len;
  std::vector<std::pair<uint64_t, uint64_t>> to_free;
  {
    absl::MutexLock l(&impl_->mu);
    auto& runs = impl_->extra_refs;
    auto it = runs.lower_bound(offset);
    if (it != runs.begin() && std::prev(it)->second.end > offset) --it;
    if (it == runs.end() || it->first >= end) {
      to_free.emplace_back(offset, len);  // the common case: no page is shared
    } else {
      impl_->SplitRunLocked(offset);
      impl_->SplitRunLocked(end);
      uint64_t cur = offset;
      it = runs.lower_bound(offset);
      while (cur < end) {
        if (it != runs.end() && it->first == cur) {
          cur = it->second.end;
          it = --it->second.extra == 0 ? runs.erase(it) : std::next(it);
          continue;
        }
        const uint64_t gap_end = it == runs.end() ? end : std::min(end, it->first);
        to_free.emplace_back(cur, gap_end - cur);
        cur = gap_end;
      }
      impl_->MergeRunsLocked(offset, end);
    }
  }
  for (auto [off, n] : to_free) impl_->Release(off, n);
}

bool MemoryFile::IsExclusive(uint64_t offset, uint64_t len) const {
  Impl& impl = *impl_;
  absl::MutexLock l(&impl.mu);
  auto it = impl.extra_refs.lower_bound(offset);
  if (it != impl.extra_refs.begin() && std::prev(it)->second.end > offset) return false;
  return it == impl.extra_refs.end() || it->first >= offset + len;
}

void MemoryFile::Impl::Release(uint64_t offset, uint64_t len) {
  // Release the host pages while the range is still ours.
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                static_cast<off_t>(len)) != 0) {
    // Cannot happen on a memfd; zero by hand so the "free means zero" invariant holds.
    std::memset(base + offset, 0, len);
  }
  absl::MutexLock l(&mu);
  auto& by_off = free_by_off;
  auto next = by_off.lower_bound(offset);
  if (next != by_off.end() && next->first < offset + len) {
    std::fprintf(stderr, "sbx: MemoryFile::DecRef(%#lx, %#lx): double free (internal bug)\n",
                 static_cast<unsigned long>(offset), static_cast<unsigned long>(len));
    return;
  }
  if (next != by_off.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second > offset) {
      std::fprintf(stderr, "sbx: MemoryFile::DecRef(%#lx, %#lx): double free (internal bug)\n",
                   static_cast<unsigned long>(offset), static_cast<unsigned long>(len));
      return;
    }
  }
  allocated -= len;
  uint64_t start = offset, end = offset + len;
  if (next != by_off.end() && next->first == end) {
    end += next->second;
    EraseFreeLocked(next);
  }
  auto after = by_off.lower_bound(start);
  if (after != by_off.begin()) {
    auto prev = std::prev(after);
    if (prev->first + prev->second == start) {
      start = prev->first;
      EraseFreeLocked(prev);
    }
  }
  InsertFreeLocked(start, end - start);
}

std::byte* MemoryFile::Pointer(uint64_t offset) const { return impl_->base + offset; }

uint64_t MemoryFile::bytes_allocated() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->allocated;
}

}  // namespace sbx::mm
