// The interval maps of the MemoryManager: VMA lookup, split, merge and free-range search
// (Linux mm/mmap.c: find_vma, split_vma, vma_merge, vm_unmapped_area), pma bookkeeping, and
// the SharedAnon object behind MAP_SHARED|MAP_ANONYMOUS mappings.
//
// Placement search walks the VMA list (O(number of VMAs)); Linux uses an augmented tree. The
// map count is bounded by kMaxMapCount, so the walk is bounded too.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "sentry/mm/mm_internal.h"

namespace sbx::mm {

using internal::kPage;
using internal::kStackGuardGap;

namespace internal {

SharedAnon::~SharedAnon() {
  // Free runs of contiguous memory-file pages with one call each.
  uint64_t run_off = 0, run_len = 0;
  for (const auto& [index, off] : pages_) {
    if (run_len != 0 && run_off + run_len == off) {
      run_len += kPage;
      continue;
    }
    if (run_len != 0) mf_.Free(run_off, run_len);
    run_off = off;
    run_len = kPage;
  }
  if (run_len != 0) mf_.Free(run_off, run_len);
}

Result<void> SharedAnon::GetPages(uint64_t first, uint64_t count,
                                  std::vector<uint64_t>* offsets) {
  absl::MutexLock l(&mu_);
  uint64_t missing = 0;
  for (uint64_t i = 0; i < count; ++i) missing += pages_.count(first + i) == 0 ? 1 : 0;
  uint64_t next = 0;
  if (missing != 0) next = TRY(mf_.Allocate(missing * kPage));
  offsets->clear();
  offsets->reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    auto [it, inserted] = pages_.try_emplace(first + i, next);
    if (inserted) next += kPage;
    offsets->push_back(it->second);
  }
  return Ok();
}

bool SharedAnon::HasPage(uint64_t index) const {
  absl::MutexLock l(&mu_);
  return pages_.count(index) != 0;
}

}  // namespace internal

using Impl = MemoryManager::Impl;

Impl::VmaMap::iterator Impl::FindVmaLocked(uint64_t addr) {
  auto it = vmas.upper_bound(addr);
  if (it == vmas.begin()) return vmas.end();
  --it;
  return addr < it->second.end ? it : vmas.end();
}

Impl::VmaMap::const_iterator Impl::FindVmaLocked(uint64_t addr) const {
  auto it = vmas.upper_bound(addr);
  if (it == vmas.begin()) return vmas.end();
  --it;
  return addr < it->second.end ? it : vmas.end();
}

Impl::VmaMap::iterator Impl::FirstVmaAfterLocked(uint64_t addr) {
  auto it = vmas.upper_bound(addr);
  if (it != vmas.begin() && std::prev(it)->second.end > addr) return std::prev(it);
  return it;
}

Impl::VmaMap::const_iterator Impl::FirstVmaAfterLocked(uint64_t addr) const {
  auto it = vmas.upper_bound(addr);
  if (it != vmas.begin() && std::prev(it)->second.end > addr) return std::prev(it);
  return it;
}

void Impl::SplitVmaLocked(uint64_t addr) {
  auto it = FindVmaLocked(addr);
  if (it == vmas.end() || it->second.start == addr) return;
  Vma hi = it->second;
  hi.start = addr;
  hi.offset = it->second.OffsetOf(addr);
  it->second.end = addr;
  vmas.emplace(addr, std::move(hi));
}

namespace {

bool Mergeable(const internal::Vma& a, const internal::Vma& b) {
  if (a.end != b.start || a.prot != b.prot || a.maxprot != b.maxprot ||
      a.shared != b.shared || a.growsdown != b.growsdown || a.dontfork != b.dontfork ||
      a.wipeonfork != b.wipeonfork || a.name != b.name || a.file != b.file ||
      a.shm != b.shm) {
    return false;
  }
  if (a.file || a.shm) return a.OffsetOf(a.end) == b.offset;
  return true;
}

}  // namespace

Impl::VmaMap::iterator Impl::MergeVmaLocked(VmaMap::iterator it) {
  auto next = std::next(it);
  if (next != vmas.end() && Mergeable(it->second, next->second)) {
    it->second.end = next->second.end;
    vmas.erase(next);
  }
  if (it != vmas.begin()) {
    auto prev = std::prev(it);
    if (Mergeable(prev->second, it->second)) {
      prev->second.end = it->second.end;
      vmas.erase(it);
      it = prev;
    }
  }
  return it;
}

void Impl::MergeRangeLocked(uint64_t start, uint64_t end) {
  auto it = FirstVmaAfterLocked(start == 0 ? 0 : start - 1);
  while (it != vmas.end() && it->second.start <= end) {
    it = MergeVmaLocked(it);
    ++it;
  }
}

bool Impl::RangeEmptyLocked(uint64_t start, uint64_t end) const {
  auto it = FirstVmaAfterLocked(start);
  return it == vmas.end() || it->second.start >= end;
}

namespace {

// Linux vm_start_gap: the lowest address a mapping below `v` may reach.
uint64_t StartGap(const internal::Vma& v) {
  if (!v.growsdown) return v.start;
  return v.start > kStackGuardGap ? v.start - kStackGuardGap : 0;
}

}  // namespace

bool Impl::RangeFreeForPlacementLocked(uint64_t start, uint64_t end) const {
  auto it = FirstVmaAfterLocked(start);
  return it == vmas.end() || StartGap(it->second) >= end;
}

Result<uint64_t> Impl::FindGapLocked(uint64_t len, uint64_t low, uint64_t high,
                                     bool topdown) const {
  if (high <= low || high - low < len) return Errno::kENOMEM;
  if (topdown) {
    auto it = vmas.lower_bound(high);
    while (true) {
      uint64_t gap_hi = it == vmas.end() ? high : std::min(high, StartGap(it->second));
      uint64_t gap_lo = low;
      if (it != vmas.begin()) gap_lo = std::max(low, std::prev(it)->second.end);
      if (gap_hi > gap_lo && gap_hi - gap_lo >= len) return gap_hi - len;
      if (it == vmas.begin()) break;
      --it;
      if (it->second.end <= low) break;
    }
    return Errno::kENOMEM;
  }
  uint64_t cur = low;
  for (auto it = FirstVmaAfterLocked(low);; ++it) {
    uint64_t hi = it == vmas.end() ? high : std::min(high, StartGap(it->second));
    if (hi > cur && hi - cur >= len) return cur;
    if (it == vmas.end()) break;
    cur = std::max(cur, it->second.end);
    if (cur >= high) break;
  }
  return Errno::kENOMEM;
}

Result<uint64_t> Impl::ChooseAddressLocked(uint64_t hint, uint64_t len, bool map32) const {
  if (len > max_addr - min_addr) return Errno::kENOMEM;
  if (map32) {
    // x86-64 MAP_32BIT: bottom-up in [1 GiB, 2 GiB) (find_start_end).
    uint64_t low = std::max<uint64_t>(min_addr, 0x40000000);
    uint64_t high = std::min<uint64_t>(max_addr, 0x80000000);
    if (hint != 0) {
      uint64_t h = internal::PageUp(hint);
      if (h >= min_addr && high >= len && h <= high - len &&
          RangeFreeForPlacementLocked(h, h + len)) {
        return h;
      }
    }
    return FindGapLocked(len, low, high, /*topdown=*/false);
  }
  if (hint != 0) {
    uint64_t h = internal::PageDown(hint);
    if (h >= min_addr && h <= max_addr - len && RangeFreeForPlacementLocked(h, h + len)) {
      return h;
    }
  }
  auto r = FindGapLocked(len, min_addr, mmap_base_addr, /*topdown=*/true);
  if (r.ok()) return r;
  return FindGapLocked(len, min_addr, max_addr, /*topdown=*/false);
}

void Impl::RemoveRangeLocked(uint64_t start, uint64_t end) {
  if (start >= end) return;
  SplitVmaLocked(start);
  SplitVmaLocked(end);
  DropPmasLocked(start, end);
  auto it = vmas.lower_bound(start);
  while (it != vmas.end() && it->second.start < end) it = vmas.erase(it);
}

Impl::VmaMap::iterator Impl::InsertVmaLocked(Vma v) {
  uint64_t start = v.start;
  auto [it, inserted] = vmas.emplace(start, std::move(v));
  return MergeVmaLocked(it);
}

// ---- pmas ----

void Impl::SplitPmaLocked(uint64_t addr) {
  auto it = FindPmaLocked(addr);
  if (it == pmas.end() || it->first == addr) return;
  Pma hi = it->second;
  hi.mf_off += addr - it->first;
  it->second.end = addr;
  pmas.emplace(addr, hi);
}

Impl::PmaMap::iterator Impl::FindPmaLocked(uint64_t addr) {
  auto it = pmas.upper_bound(addr);
  if (it == pmas.begin()) return pmas.end();
  --it;
  return addr < it->second.end ? it : pmas.end();
}

Impl::PmaMap::const_iterator Impl::FindPmaLocked(uint64_t addr) const {
  auto it = pmas.upper_bound(addr);
  if (it == pmas.begin()) return pmas.end();
  --it;
  return addr < it->second.end ? it : pmas.end();
}

namespace {

// True if pma `b` (starting at b_start) continues pma `a` (starting at a_start).
bool PmaContinues(uint64_t a_start, const internal::Pma& a, uint64_t b_start,
                  const internal::Pma& b) {
  return a.end == b_start && a.owned == b.owned && a.cow == b.cow &&
         a.mf_off + (a.end - a_start) == b.mf_off;
}

}  // namespace

void Impl::InsertPmaLocked(uint64_t start, uint64_t end, uint64_t mf_off, bool owned,
                           bool cow) {
  resident += end - start;
  auto [it, inserted] = pmas.emplace(start, Pma{end, mf_off, owned, cow});
  (void)inserted;
  MergePmasLocked(start, end);
}

void Impl::MergePmasLocked(uint64_t start, uint64_t end) {
  auto it = pmas.lower_bound(start);
  if (it != pmas.begin()) --it;
  while (it != pmas.end() && it->first <= end) {
    auto next = std::next(it);
    if (next != pmas.end() && PmaContinues(it->first, it->second, next->first, next->second)) {
      it->second.end = next->second.end;
      pmas.erase(next);
      continue;
    }
    it = next;
  }
}

void Impl::DropPmasLocked(uint64_t start, uint64_t end) {
  if (start >= end) return;
  SplitPmaLocked(start);
  SplitPmaLocked(end);
  uint64_t lo = 0, hi = 0;
  std::vector<std::pair<uint64_t, uint64_t>> refs;  // owned memory-file ranges to drop
  auto it = pmas.lower_bound(start);
  while (it != pmas.end() && it->first < end) {
    uint64_t len = it->second.end - it->first;
    if (hi == 0) lo = it->first;
    hi = it->second.end;
    if (it->second.owned) refs.emplace_back(it->second.mf_off, len);
    resident -= len;
    it = pmas.erase(it);
  }
  // Unmap before dropping the references: a running guest thread must not see pages that
  // are freed and reused. A failed Unmap means the platform is gone; every later Switch
  // fails too.
  if (hi != 0) (void)as->Unmap(UserAddr(lo), hi - lo);
  for (auto [off, len] : refs) mf.DecRef(off, len);
}

Result<void> Impl::RemapPmasLocked(uint64_t start, uint64_t end, int prot) {
  if (start >= end) return Ok();
  SplitPmaLocked(start);
  SplitPmaLocked(end);
  for (auto it = pmas.lower_bound(start); it != pmas.end() && it->first < end; ++it) {
    const int p = it->second.cow ? internal::CowProt(prot) : prot;
    TRY(as->MapFile(UserAddr(it->first), it->second.end - it->first, it->second.mf_off,
                    platform::Prot::FromLinux(p)));
  }
  return Ok();
}

Result<void> Impl::MovePmasLocked(uint64_t from, uint64_t to, uint64_t len, int prot) {
  SplitPmaLocked(from);
  SplitPmaLocked(from + len);
  std::vector<std::pair<uint64_t, Pma>> moved;
  auto it = pmas.lower_bound(from);
  while (it != pmas.end() && it->first < from + len) {
    moved.emplace_back(it->first, it->second);
    resident -= it->second.end - it->first;
    it = pmas.erase(it);
  }
  if (moved.empty()) return Ok();
  (void)as->Unmap(UserAddr(from), len);
  Result<void> r = Ok();
  for (auto& [s, p] : moved) {
    uint64_t ns = to + (s - from), ne = to + (p.end - from);
    InsertPmaLocked(ns, ne, p.mf_off, p.owned, p.cow);
    const int mp = p.cow ? internal::CowProt(prot) : prot;
    auto m = as->MapFile(UserAddr(ns), ne - ns, p.mf_off, platform::Prot::FromLinux(mp));
    if (!m.ok()) r = m;
  }
  return r;
}

}  // namespace sbx::mm
