#include "sentry/usermem/usermem.h"

#include <algorithm>

namespace sbx::usermem {

Result<void> CopyInFull(UserMemory& m, UserAddr src, std::span<std::byte> dst) {
  auto n = TRY(m.CopyInBytes(src, dst));
  if (n != dst.size()) return Errno::kEFAULT;
  return Ok();
}

Result<void> CopyOutFull(UserMemory& m, UserAddr dst, std::span<const std::byte> src) {
  auto n = TRY(m.CopyOutBytes(dst, src));
  if (n != src.size()) return Errno::kEFAULT;
  return Ok();
}

Result<std::string> CopyInString(UserMemory& m, UserAddr src, size_t max_len) {
  std::string out;
  // Read in chunks that never cross a page boundary, so a string ending right before an
  // unmapped page is still read correctly.
  UserAddr cur = src;
  while (out.size() <= max_len) {
    uint64_t page_left = kPageSize - (cur.value() & (kPageSize - 1));
    size_t want = std::min<uint64_t>(page_left, max_len + 1 - out.size());
    std::byte buf[kPageSize];
    auto n = m.CopyInBytes(cur, std::span<std::byte>(buf, want));
    if (!n.ok()) return n.error();
    if (*n == 0) return Errno::kEFAULT;
    const char* c = reinterpret_cast<const char*>(buf);
    const void* nul = std::memchr(c, 0, *n);
    if (nul != nullptr) {
      out.append(c, static_cast<const char*>(nul) - c);
      return out;
    }
    out.append(c, *n);
    if (*n < want) return Errno::kEFAULT;
    UserAddr next;
    if (!cur.AddLength(*n, &next)) return Errno::kEFAULT;
    cur = next;
  }
  return Errno::kENAMETOOLONG;
}

Result<std::vector<std::string>> CopyInStringVector(UserMemory& m, UserAddr src,
                                                    size_t max_count, size_t max_total) {
  std::vector<std::string> out;
  if (src.IsNull()) return out;
  size_t total = 0;
  for (size_t i = 0;; ++i) {
    if (i > max_count) return Errno::kE2BIG;
    auto p = TRY(CopyIn(m, UserPtr<uint64_t>(src + i * 8)));
    if (p == 0) break;
    auto s = CopyInString(m, UserAddr(p), max_total - total);
    if (!s.ok()) return s.error() == Errno::kENAMETOOLONG ? Errno::kE2BIG : s.error();
    total += s->size() + 1;
    if (total > max_total) return Errno::kE2BIG;
    out.push_back(std::move(*s));
  }
  return out;
}

Result<std::vector<IOVec>> CopyInIOVecs(UserMemory& m, UserAddr src, int64_t count) {
  if (count < 0 || count > kIOVMax) return Errno::kEINVAL;
  std::vector<IOVec> iovs(count);
  TRY(CopyInFull(m, src, std::as_writable_bytes(std::span(iovs))));
  uint64_t total = 0;
  for (auto& v : iovs) {
    if (static_cast<int64_t>(v.len) < 0) return Errno::kEINVAL;
    uint64_t room = kMaxRWCount - total;
    if (v.len > room) v.len = room;
    total += v.len;
  }
  return iovs;
}

}  // namespace sbx::usermem
