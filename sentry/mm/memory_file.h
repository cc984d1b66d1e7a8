// MemoryFile: the sandbox's memory file (one memfd, reserved sparse and mapped whole into the
// sentry) with an allocator of page-aligned ranges; freed ranges are hole-punched so the host
// reclaims them. Backs all anonymous guest memory and tmpfs file data. Its own CMake target
// (sbx_memfile) so that fs/ can store tmpfs data in it without depending on the MemoryManager.
// Thread-safe; its lock is a leaf.
//
// Pages are reference counted (Linux page refcount, as used by copy-on-write fork): Allocate
// gives each page one reference; IncRef adds one to each page of a range; DecRef (or Free,
// the same operation) drops one, and a page whose count reaches zero returns to the
// allocator. Most pages only ever have one reference (tmpfs data, SharedAnon objects, private
// pages never forked); only the counts above one are stored, as an interval map, so they cost
// nothing until a fork shares pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "platform/platform.h"
#include "sentry/abi/result.h"

namespace sbx::mm {

class MemoryFile {
 public:
  // Creates a memfd of `reserve` bytes (sparse) and maps it into the sentry.
  static Result<std::unique_ptr<MemoryFile>> Create(uint64_t reserve);
  ~MemoryFile();
  platform::MemoryFileInfo info() const;
  // Allocates `len` bytes (page multiple), zero-filled. ENOMEM when exhausted.
  Result<uint64_t> Allocate(uint64_t len);
  // Drops one reference to each page of the range (same as DecRef): for the usual
  // single-reference range, returns it to the allocator and releases its host memory.
  void Free(uint64_t offset, uint64_t len) { DecRef(offset, len); }
  // Adds one reference to each page of an allocated range (page aligned).
  void IncRef(uint64_t offset, uint64_t len);
  // Drops one reference to each page of the range; pages left with none are freed.
  void DecRef(uint64_t offset, uint64_t len);
  // True if every page of the allocated range has exactly one reference. A holder of a
  // reference may rely on the answer "true" until it takes or gives a reference itself: no one
  // else holds one, so no one else can add one.
  bool IsExclusive(uint64_t offset, uint64_t len) const;
  // Sentry-side pointer to memory-file offset `offset` (valid for the file's lifetime).
  std::byte* Pointer(uint64_t offset) const;
  uint64_t bytes_allocated() const;

 private:
  struct Impl;
  explicit MemoryFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sbx::mm
