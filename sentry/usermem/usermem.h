// Guest memory access. Guest addresses are `UserAddr` / `UserPtr<T>`, never host pointers.
//
// All reads and writes of guest memory go through a `UserMemory` (implemented by the
// MemoryManager) and the typed helpers below, which check overflow and mappings and return
// EFAULT on any bad range. Copy a guest value in once, validate the copy, never re-read it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "sentry/abi/result.h"

namespace sbx::usermem {

// A guest virtual address. Deliberately not convertible to a host pointer.
class UserAddr {
 public:
  constexpr UserAddr() = default;
  constexpr explicit UserAddr(uint64_t v) : v_(v) {}
  constexpr uint64_t value() const { return v_; }
  constexpr bool IsNull() const { return v_ == 0; }
  // Returns false on overflow of the 64-bit address space.
  constexpr bool AddLength(uint64_t len, UserAddr* end) const {
    uint64_t e = v_ + len;
    if (e < v_) return false;
    *end = UserAddr(e);
    return true;
  }
  constexpr UserAddr operator+(uint64_t off) const { return UserAddr(v_ + off); }
  constexpr uint64_t operator-(UserAddr o) const { return v_ - o.v_; }
  constexpr auto operator<=>(const UserAddr&) const = default;
  constexpr UserAddr RoundDown(uint64_t align) const { return UserAddr(v_ & ~(align - 1)); }

 private:
  uint64_t v_ = 0;
};

inline constexpr uint64_t kPageSize = 4096;
constexpr uint64_t PageRoundDown(uint64_t v) { return v & ~(kPageSize - 1); }
// Returns false on overflow.
constexpr bool PageRoundUp(uint64_t v, uint64_t* out) {
  uint64_t r = (v + kPageSize - 1) & ~(kPageSize - 1);
  if (r < v) return false;
  *out = r;
  return true;
}

// A typed guest pointer.
template <typename T>
class UserPtr {
 public:
  constexpr UserPtr() = default;
  constexpr explicit UserPtr(UserAddr a) : a_(a) {}
  constexpr explicit UserPtr(uint64_t a) : a_(a) {}
  constexpr UserAddr addr() const { return a_; }
  constexpr bool IsNull() const { return a_.IsNull(); }
  constexpr UserPtr operator+(uint64_t n) const { return UserPtr(a_ + n * sizeof(T)); }

 private:
  UserAddr a_;
};

// The guest address space as seen by the copy helpers. Implementations must fault in pages as
// the guest would (respecting VMA permissions) and return EFAULT for unmapped or
// inaccessible ranges. Partial copies return the bytes copied before the fault if > 0.
class UserMemory {
 public:
  virtual ~UserMemory() = default;
  virtual Result<size_t> CopyOutBytes(UserAddr dst, std::span<const std::byte> src) = 0;
  virtual Result<size_t> CopyInBytes(UserAddr src, std::span<std::byte> dst) = 0;
  virtual Result<size_t> ZeroOut(UserAddr dst, size_t len) = 0;
};

// Copies a trivially-copyable T into the guest. All-or-nothing: a short copy is EFAULT.
template <typename T>
Result<void> CopyOut(UserMemory& m, UserPtr<T> dst, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  auto n = TRY(m.CopyOutBytes(dst.addr(), std::as_bytes(std::span<const T, 1>(&v, 1))));
  if (n != sizeof(T)) return Errno::kEFAULT;
  return Ok();
}

template <typename T>
Result<T> CopyIn(UserMemory& m, UserPtr<T> src) {
  static_assert(std::is_trivially_copyable_v<T>);
  T v;
  auto n = TRY(m.CopyInBytes(src.addr(), std::as_writable_bytes(std::span<T, 1>(&v, 1))));
  if (n != sizeof(T)) return Errno::kEFAULT;
  return v;
}

// Copies exactly dst.size() bytes in; EFAULT if any byte is inaccessible.
Result<void> CopyInFull(UserMemory& m, UserAddr src, std::span<std::byte> dst);
Result<void> CopyOutFull(UserMemory& m, UserAddr dst, std::span<const std::byte> src);

// Copies a NUL-terminated string of at most `max_len` bytes (excluding the NUL).
// ENAMETOOLONG if no NUL within max_len bytes; EFAULT on a bad address.
Result<std::string> CopyInString(UserMemory& m, UserAddr src, size_t max_len);

// Copies a NULL-terminated array of string pointers (argv/envp), bounded by `max_count`
// entries and `max_total` total bytes (E2BIG past either).
Result<std::vector<std::string>> CopyInStringVector(UserMemory& m, UserAddr src,
                                                    size_t max_count, size_t max_total);

// The kernel's `struct iovec`.
struct IOVec {
  uint64_t base;
  uint64_t len;
};
static_assert(sizeof(IOVec) == 16);

inline constexpr int kIOVMax = 1024;         // UIO_MAXIOV
inline constexpr uint64_t kMaxRWCount = 0x7ffff000;  // MAX_RW_COUNT

// Reads an iovec array; EINVAL if count > IOV_MAX or a length is negative as ssize_t; total
// length is clamped to MAX_RW_COUNT as Linux does (later entries truncated).
Result<std::vector<IOVec>> CopyInIOVecs(UserMemory& m, UserAddr src, int64_t count);

}  // namespace sbx::usermem
