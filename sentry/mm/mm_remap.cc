// mremap(2) and madvise(2) (Linux mm/mremap.c, mm/madvise.c).
//
// mremap moves memory without copying it: the pmas (memory-file ranges) are reassigned to the
// new addresses and remapped. Partial support, stated for the syscall table:
// - MREMAP_DONTUNMAP works for private anonymous mappings only (the pre-5.13 rule); other
//   mappings get EINVAL.
// - Growing a MAP_SHARED|MAP_ANONYMOUS mapping does not grow its object: pages past the
//   original size raise SIGBUS, as on Linux.
// madvise: DONTNEED/FREE drop pages (private anonymous: zero on next touch; private file:
// re-read from the file; shared anonymous: unmapped, the object keeps the data). REMOVE on
// shared anonymous memory returns EOPNOTSUPP (not supported yet). Hints succeed.
// MADV_COLLAPSE is EINVAL (no transparent huge pages), as on a host with THP disabled.
#include <algorithm>

#include "sentry/mm/mm_internal.h"
#include "sentry/mm/mman_abi.h"

namespace sbx::mm {

using internal::kPage;
using internal::PageDown;
using internal::PageUp;
namespace mabi = ::sbx::mm::abi;

namespace {

// Linux PAGE_ALIGN: wraps to 0 on overflow.
uint64_t PageAlignWrap(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

// Moves [addr, addr+old_len) (inside one VMA) to [new_addr, new_addr+new_len), which must be
// free (Linux move_vma). With `dontunmap` the old VMA stays, emptied.
Result<void> MoveVmaLocked(MemoryManager::Impl& m, uint64_t addr, uint64_t old_len,
                           uint64_t new_addr, uint64_t new_len, bool dontunmap)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(m.mu) {
  internal::Vma nv;
  int prot;
  {
    m.SplitVmaLocked(addr);
    if (old_len != 0) m.SplitVmaLocked(addr + old_len);
    auto it = m.FindVmaLocked(addr);
    nv = it->second;
    nv.offset = it->second.OffsetOf(addr);
    prot = nv.prot;
  }
  nv.start = new_addr;
  nv.end = new_addr + new_len;
  m.InsertVmaLocked(std::move(nv));
  auto r = m.MovePmasLocked(addr, new_addr, std::min(old_len, new_len), prot);
  if (!dontunmap) {
    m.RemoveRangeLocked(addr, addr + old_len);
  } else {
    m.MergeRangeLocked(addr, addr + old_len);
  }
  return r;
}

}  // namespace

Result<UserAddr> MemoryManager::MRemap(UserAddr old_addr, uint64_t old_len_in,
                                       uint64_t new_len_in, int flags, UserAddr new_addr_in) {
  Impl& m = *impl_;
  const bool may_move = (flags & mabi::kMremapMayMove) != 0;
  const bool fixed = (flags & mabi::kMremapFixed) != 0;
  const bool dontunmap = (flags & mabi::kMremapDontUnmap) != 0;
  if ((flags & ~(mabi::kMremapMayMove | mabi::kMremapFixed | mabi::kMremapDontUnmap)) != 0) {
    return Errno::kEINVAL;
  }
  if ((fixed || dontunmap) && !may_move) return Errno::kEINVAL;
  if (dontunmap && old_len_in != new_len_in) return Errno::kEINVAL;
  const uint64_t addr = old_addr.value();
  if (addr % kPage != 0) return Errno::kEINVAL;
  uint64_t old_len = PageAlignWrap(old_len_in);
  const uint64_t new_len = PageAlignWrap(new_len_in);
  if (new_len == 0) return Errno::kEINVAL;

  absl::MutexLock l(&m.mu);
  auto it = m.FindVmaLocked(addr);
  if (it == m.vmas.end()) return Errno::kEFAULT;

  if (fixed || dontunmap) {
    uint64_t new_addr = new_addr_in.value();
    if (fixed) {
      if (new_addr % kPage != 0) return Errno::kEINVAL;
      if (new_len > m.max_addr || new_addr > m.max_addr - new_len) return Errno::kEINVAL;
      if (addr + old_len > new_addr && new_addr + new_len > addr) return Errno::kEINVAL;
      if (new_addr < m.min_addr) return Errno::kEPERM;
    }
    if (m.vmas.size() + 2 >= internal::kMaxMapCount - 3) return Errno::kENOMEM;
    if (dontunmap && !it->second.anonymous_private()) return Errno::kEINVAL;  // partial
    if (fixed) m.RemoveRangeLocked(new_addr, new_addr + new_len);
    if (old_len > new_len) {
      m.RemoveRangeLocked(addr + new_len, addr + old_len);
      old_len = new_len;
    }
    it = m.FindVmaLocked(addr);
    if (it == m.vmas.end()) return Errno::kEFAULT;
    if (old_len > it->second.end - addr) return Errno::kEFAULT;
    if (old_len == 0 && !it->second.shared) return Errno::kEINVAL;
    if (!fixed) {
      uint64_t hint = PageDown(new_addr);
      if (hint != 0 && hint < m.min_addr) hint = m.min_addr;
      new_addr = TRY(m.ChooseAddressLocked(hint, new_len, false));
    }
    TRY(MoveVmaLocked(m, addr, old_len, new_addr, new_len, dontunmap));
    return UserAddr(new_addr);
  }

  if (old_len >= new_len && old_len != 0) {
    m.RemoveRangeLocked(addr + new_len, addr + old_len);
    return old_addr;
  }
  // Growing (vma_to_resize).
  internal::Vma& v = it->second;
  if (old_len > v.end - addr) return Errno::kEFAULT;
  if (old_len == 0 && !v.shared) return Errno::kEINVAL;
  if ((v.file || v.shm) && v.OffsetOf(addr) + new_len < v.OffsetOf(addr)) return Errno::kEINVAL;
  if (old_len != 0 && addr + old_len == v.end) {
    // Expand in place if the room above is free and inside the address space.
    uint64_t grow_end = addr + new_len;
    if (new_len <= m.max_addr && addr <= m.max_addr - new_len &&
        m.RangeEmptyLocked(v.end, grow_end)) {
      v.end = grow_end;
      m.MergeVmaLocked(it);
      return old_addr;
    }
  }
  if (!may_move) return Errno::kENOMEM;
  if (m.vmas.size() >= internal::kMaxMapCount - 3) return Errno::kENOMEM;
  uint64_t new_addr = TRY(m.ChooseAddressLocked(0, new_len, false));
  TRY(MoveVmaLocked(m, addr, old_len, new_addr, new_len, /*dontunmap=*/false));
  return UserAddr(new_addr);
}

namespace {

bool ValidAdvice(int advice) {
  switch (advice) {
    case mabi::kMadvNormal: case mabi::kMadvRandom: case mabi::kMadvSequential:
    case mabi::kMadvWillNeed: case mabi::kMadvDontNeed: case mabi::kMadvFree:
    case mabi::kMadvRemove: case mabi::kMadvDontFork: case mabi::kMadvDoFork:
    case mabi::kMadvMergeable: case mabi::kMadvUnmergeable: case mabi::kMadvHugePage:
    case mabi::kMadvNoHugePage: case mabi::kMadvDontDump: case mabi::kMadvDoDump:
    case mabi::kMadvWipeOnFork: case mabi::kMadvKeepOnFork: case mabi::kMadvCold:
    case mabi::kMadvPageOut: case mabi::kMadvPopulateRead: case mabi::kMadvPopulateWrite:
    case mabi::kMadvDontNeedLocked: case mabi::kMadvHwPoison:
    case mabi::kMadvSoftOffline:
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<void> MemoryManager::MAdvise(UserAddr addr, uint64_t length, int advice) {
  Impl& m = *impl_;
  const uint64_t start = addr.value();
  if (start % kPage != 0) return Errno::kEINVAL;
  if (!ValidAdvice(advice)) return Errno::kEINVAL;
  const uint64_t len = PageAlignWrap(length);
  if (length != 0 && len == 0) return Errno::kEINVAL;
  const uint64_t end = start + len;
  if (end < start) return Errno::kEINVAL;
  if (advice == mabi::kMadvHwPoison || advice == mabi::kMadvSoftOffline) {
    return Errno::kEPERM;  // needs CAP_SYS_ADMIN in the init user namespace
  }
  if (end == start) return Ok();

  absl::MutexLock l(&m.mu);
  const bool sets_flags = advice == mabi::kMadvDontFork || advice == mabi::kMadvDoFork ||
                          advice == mabi::kMadvWipeOnFork || advice == mabi::kMadvKeepOnFork;
  Result<void> unmapped = Ok();
  uint64_t cur = start;
  while (cur < end) {
    auto it = m.FirstVmaAfterLocked(cur);
    if (it == m.vmas.end()) return Errno::kENOMEM;
    if (it->second.start > cur) {
      unmapped = Errno::kENOMEM;
      cur = it->second.start;
      if (cur >= end) break;
    }
    const uint64_t piece_end = std::min(end, it->second.end);
    internal::Vma& v = it->second;
    switch (advice) {
      case mabi::kMadvFree:
        if (!v.anonymous_private()) return Errno::kEINVAL;
        m.DropPmasLocked(cur, piece_end);
        break;
      case mabi::kMadvDontNeed:
      case mabi::kMadvDontNeedLocked:
        m.DropPmasLocked(cur, piece_end);
        break;
      case mabi::kMadvRemove:
        if (!v.shared) return Errno::kEINVAL;
        if ((v.prot & internal::kProtWrite) == 0) return Errno::kEACCES;
        return Errno::kEOPNOTSUPP;  // partial: hole punching of shared memory
      case mabi::kMadvWipeOnFork:
        if (!v.anonymous_private()) return Errno::kEINVAL;
        break;
      case mabi::kMadvPopulateRead:
      case mabi::kMadvPopulateWrite: {
        bool ok = advice == mabi::kMadvPopulateRead ? v.prot != 0
                                                     : (v.prot & internal::kProtWrite) != 0;
        if (!ok) return Errno::kEFAULT;
        auto r = m.BackRangeLocked(v, cur, piece_end);
        if (!r.ok()) return r.error() == Errno::kENOMEM ? Errno::kENOMEM : Errno::kEFAULT;
        break;
      }
      default:
        break;  // pure hints: nothing to do for memory we never swap or merge
    }
    if (sets_flags) {
      m.SplitVmaLocked(cur);
      m.SplitVmaLocked(piece_end);
      auto pit = m.FindVmaLocked(cur);
      internal::Vma& pv = pit->second;
      if (advice == mabi::kMadvDontFork) pv.dontfork = true;
      if (advice == mabi::kMadvDoFork) pv.dontfork = false;
      if (advice == mabi::kMadvWipeOnFork) pv.wipeonfork = true;
      if (advice == mabi::kMadvKeepOnFork) pv.wipeonfork = false;
    }
    cur = piece_end;
  }
  if (sets_flags) m.MergeRangeLocked(start, end);
  return unmapped;
}

}  // namespace sbx::mm
