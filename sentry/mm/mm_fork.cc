// Copy-on-write fork of a MemoryManager (Linux kernel/fork.c dup_mmap, mm/memory.c
// do_wp_page / wp_page_reuse / wp_page_copy) and futex keys (kernel/futex get_futex_key).
//
// The data model and the COW invariants are described in mm_internal.h. In short: Fork takes
// a second memory-file reference on every owned (private) range and marks the pma `cow` in
// both MMs; a cow pma is host-mapped read-only; a write (guest fault or sentry CopyOut) either
// claims the range (this MM holds the only reference) or copies it to a new allocation. Every
// COW transition unmaps the range first, because Unmap reaches all running guest threads
// before it returns and MapFile does not.
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "sentry/mm/mm_internal.h"

namespace sbx::mm {

using internal::kPage;
using internal::kProtWrite;
using internal::PageDown;
using Impl = MemoryManager::Impl;

Result<std::shared_ptr<MemoryManager>> MemoryManager::Fork(
    std::unique_ptr<platform::AddressSpace> child_as) {
  if (child_as == nullptr) return Errno::kEINVAL;
  Impl& m = *impl_;
  // min_addr/max_addr are already page aligned, so the child computes the same stack_top and
  // mmap_base.
  auto child = std::make_shared<MemoryManager>(m.mf, std::move(child_as), m.min_addr, m.max_addr);
  Impl& c = *child->impl_;
  absl::MutexLock l(&m.mu);
  absl::MutexLock cl(&c.mu);  // the child is not shared yet; held for the annotations
  c.brk_start = m.brk_start;
  c.brk_cur = m.brk_cur;
  c.stack_limit = m.stack_limit;
  // Ranges of the parent that may be host-mapped writable and are now cow: unmapped below.
  std::vector<std::pair<uint64_t, uint64_t>> downgrade;
  for (const auto& [start, v] : m.vmas) {
    // A pma may straddle VMAs (pmas merge by memory-file contiguity, and madvise splits VMAs
    // without splitting pmas): cut at this VMA's edges so each VMA's pages are handled alone.
    m.SplitPmaLocked(v.start);
    m.SplitPmaLocked(v.end);
    if (v.dontfork) continue;
    c.vmas.emplace_hint(c.vmas.end(), start, v);
    // WIPEONFORK: the child's VMA starts empty (zero pages on touch). Shared mappings: the
    // child faults in the object's pages itself (and registers with SharedMappable files
    // then), so non-owned pmas are not copied.
    if (v.wipeonfork) continue;
    uint64_t lo = 0, hi = 0;
    for (auto p = m.pmas.lower_bound(start); p != m.pmas.end() && p->first < v.end; ++p) {
      internal::Pma& pm = p->second;
      if (!pm.owned) continue;
      const uint64_t len = pm.end - p->first;
      m.mf.IncRef(pm.mf_off, len);
      if (!pm.cow && (v.prot & kProtWrite) != 0) {
        if (hi == 0) lo = p->first;
        hi = pm.end;
      }
      pm.cow = true;
      c.pmas.emplace_hint(c.pmas.end(), p->first, pm);
      c.resident += len;
    }
    if (hi != 0) {
      if (!downgrade.empty() && downgrade.back().second == lo) {
        downgrade.back().second = hi;  // adjacent VMAs: one Unmap
      } else {
        downgrade.emplace_back(lo, hi);
      }
    }
  }
  // Cow pmas of VMAs without PROT_WRITE are host-mapped without write already (mprotect's
  // MapFile is lazy, so a thread racing an mprotect(RW -> R) with this fork could keep a
  // writable mapping until its next switch: the same window mprotect itself has).
  for (auto [lo, hi] : downgrade) (void)m.as->Unmap(UserAddr(lo), hi - lo);
  return child;
}

Result<void> Impl::BreakCowLocked(const Vma& vma, uint64_t start, uint64_t end, bool map) {
  if (start >= end) return Ok();
  SplitPmaLocked(start);
  SplitPmaLocked(end);
  std::vector<std::pair<uint64_t, uint64_t>> old_refs;
  bool changed = false;
  Result<void> result = Ok();
  for (auto it = pmas.lower_bound(start); it != pmas.end() && it->first < end; ++it) {
    Pma& pm = it->second;
    if (!pm.cow) continue;
    const uint64_t len = pm.end - it->first;
    if (!mf.IsExclusive(pm.mf_off, len)) {
      // wp_page_copy. The source is stable: every referent maps it read-only and breaks the
      // COW before writing.
      auto off = mf.Allocate(len);
      if (!off.ok()) {
        result = off.error();
        break;
      }
      std::memcpy(mf.Pointer(*off), mf.Pointer(pm.mf_off), len);
      old_refs.emplace_back(pm.mf_off, len);
      pm.mf_off = *off;
    }  // else wp_page_reuse: the only reference is ours
    pm.cow = false;
    changed = true;
  }
  if (!changed) return result;
  (void)as->Unmap(UserAddr(start), end - start);
  for (auto [off, len] : old_refs) mf.DecRef(off, len);  // after the Unmap: see mm_internal.h
  if (map) {
    for (auto it = pmas.lower_bound(start); it != pmas.end() && it->first < end; ++it) {
      const int prot = it->second.cow ? internal::CowProt(vma.prot) : vma.prot;
      TRY(as->MapFile(UserAddr(it->first), it->second.end - it->first, it->second.mf_off,
                      platform::Prot::FromLinux(prot)));
    }
  }
  MergePmasLocked(start, end);
  return result;
}

Result<void> Impl::MapBackedWindowLocked(const Vma& vma, uint64_t page) {
  constexpr uint64_t kWindow = internal::kFaultAroundPages * kPage;
  const uint64_t lo = std::max(vma.start, page & ~(kWindow - 1));
  const uint64_t hi = vma.end - lo > kWindow ? lo + kWindow : vma.end;
  auto p = FindPmaLocked(page);
  if ((vma.prot & kProtWrite) != 0 && p != pmas.end() && p->second.cow) {
    // Linux would map a read fault read-only even here; we cannot tell reads from writes, and
    // claiming now saves the write fault that usually follows.
    // Claim what no other MM references: the whole pma (typically after the other side of a
    // fork exited or exec'd), else the part of it in the window.
    const uint64_t ps = p->first, pe = p->second.end, off = p->second.mf_off;
    uint64_t cs = ps, ce = pe;
    if (!mf.IsExclusive(off, pe - ps)) {
      cs = std::max(ps, lo);
      ce = std::min(pe, hi);
      if (!mf.IsExclusive(off + (cs - ps), ce - cs)) cs = ce = 0;
    }
    if (cs < ce) {
      SplitPmaLocked(cs);
      SplitPmaLocked(ce);
      FindPmaLocked(cs)->second.cow = false;
      // Other threads may hold read-only mappings of these pages (an earlier fault-around):
      // drop them so their next write faults as not-present instead of as a violation.
      (void)as->Unmap(UserAddr(cs), ce - cs);
      MergePmasLocked(cs, ce);
    }
  }
  auto it = FindPmaLocked(lo);
  if (it == pmas.end()) it = pmas.lower_bound(lo);
  for (; it != pmas.end() && it->first < hi; ++it) {
    const uint64_t s = std::max(it->first, lo), e = std::min(it->second.end, hi);
    const int prot = it->second.cow ? internal::CowProt(vma.prot) : vma.prot;
    TRY(as->MapFile(UserAddr(s), e - s, it->second.mf_off + (s - it->first),
                    platform::Prot::FromLinux(prot)));
  }
  return Ok();
}

Result<FutexKeyInfo> MemoryManager::FutexKey(UserAddr addr) {
  Impl& m = *impl_;
  const uint64_t a = addr.value();
  if (a % 4 != 0) return Errno::kEINVAL;
  absl::MutexLock l(&m.mu);
  auto it = m.FindVmaLocked(a);
  if (it == m.vmas.end() || it->second.prot == 0) return Errno::kEFAULT;
  const internal::Vma& v = it->second;
  const uint64_t page = PageDown(a);
  if (m.FindPmaLocked(page) == m.pmas.end()) {
    if (!m.BackRangeLocked(v, page, page + kPage).ok()) return Errno::kEFAULT;
  }
  // Linux keys shared file/shmem pages by (inode, page index); here the memory-file page is
  // that identity: SharedAnon and SharedMappable pages never move while mapped.
  if (v.shm == nullptr && v.mappable == nullptr) return FutexKeyInfo{false, 0};
  auto p = m.FindPmaLocked(page);
  if (p == m.pmas.end() || p->second.owned) return Errno::kEFAULT;
  return FutexKeyInfo{true, p->second.mf_off + (a - p->first)};
}

}  // namespace sbx::mm
