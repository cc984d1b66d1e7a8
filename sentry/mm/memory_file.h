// MemoryFile: the sandbox's memory file (one memfd, reserved sparse and mapped whole into the
// sentry) with an allocator of page-aligned ranges; freed ranges are hole-punched so the host
// reclaims them. Backs all anonymous guest memory and tmpfs file data. Its own CMake target
// (sbx_memfile) so that fs/ can store tmpfs data in it without depending on the MemoryManager.
// Thread-safe; its lock is a leaf.
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
  // Returns the range to the allocator and releases its host memory.
  void Free(uint64_t offset, uint64_t len);
  // Sentry-side pointer to memory-file offset `offset` (valid for the file's lifetime).
  std::byte* Pointer(uint64_t offset) const;
  uint64_t bytes_allocated() const;

 private:
  struct Impl;
  explicit MemoryFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sbx::mm
