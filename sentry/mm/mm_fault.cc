// Demand paging: backing guest pages with memory-file ranges (Linux handle_mm_fault), stack
// growth (expand_downwards), guest fault handling, and the copy-in/out path of usermem.
//
// Nothing is allocated at mmap time. A fault backs the faulting page plus up to
// kFaultAroundPages-1 neighbours (an aligned window clipped to the VMA, to the unbacked run
// around the page, and to the end of the backing file/object) with one allocation and one
// AddressSpace::MapFile call. Private file pages are copied from the file with PRead; the part
// of the last page past EOF stays zero; a page wholly past EOF is a SIGBUS (EIO here).
//
// Read vs write faults: the ptrace platform cannot tell them apart, so a fault on an unbacked
// page maps it with the VMA's protection whatever the access was; if the access was not
// allowed (a write to a read-only VMA), the guest faults again on a page we now back, and
// HandleFault reports SEGV_ACCERR. See mm.h for how the host si_code resolves races.
// Copy-on-write pages (mm_internal.h) follow the same scheme: a not-present fault maps them
// read-only (or claims them when this MM is their only referent), and the access fault a
// write then raises breaks the COW (mm_fork.cc). CopyOut/ZeroOut break it before writing.
//
// MAP_SHARED mappings of a SharedMappable file (tmpfs) map the file's own pages (non-owned
// pmas); the file invalidates them through MmObserver before it frees any.
#include <atomic>
#include <algorithm>
#include <cstring>

#include "sentry/mm/mm_internal.h"
#include "sentry/mm/mman_abi.h"

namespace sbx::mm {

using internal::kPage;
using internal::PageDown;
using internal::PageUp;
using Impl = MemoryManager::Impl;
namespace mabi = ::sbx::mm::abi;

Result<uint64_t> Impl::BackingEndLocked(const Vma& vma) {
  uint64_t obj_size;
  if (vma.anonymous_private()) return vma.end;
  if (vma.shm) {
    obj_size = vma.shm->size();
  } else {
    auto attr = vma.file->Stat();
    if (!attr.ok()) return Errno::kEIO;
    obj_size = attr->size;
    if (!usermem::PageRoundUp(obj_size, &obj_size)) obj_size = UINT64_MAX & ~(kPage - 1);
  }
  if (obj_size <= vma.offset) return vma.start;
  return vma.start + std::min(obj_size - vma.offset, vma.end - vma.start);
}

Result<void> Impl::BackRangeLocked(const Vma& vma, uint64_t start, uint64_t end) {
  const platform::Prot prot = platform::Prot::FromLinux(vma.prot);
  uint64_t backing_end = vma.end;
  if (!vma.anonymous_private()) backing_end = TRY(BackingEndLocked(vma));
  uint64_t cur = start;
  while (cur < end) {
    auto p = FindPmaLocked(cur);
    if (p != pmas.end()) {
      cur = std::min(end, p->second.end);
      continue;
    }
    auto nx = pmas.lower_bound(cur);
    uint64_t gap_end = nx == pmas.end() ? end : std::min(end, nx->first);
    if (cur >= backing_end) return Errno::kEIO;
    gap_end = std::min(gap_end, backing_end);
    const uint64_t len = gap_end - cur;
    if (vma.shm) {
      std::vector<uint64_t> offs;
      TRY(vma.shm->GetPages(vma.OffsetOf(cur) / kPage, len / kPage, &offs));
      for (size_t i = 0; i < offs.size();) {
        size_t j = i + 1;
        while (j < offs.size() && offs[j] == offs[i] + (j - i) * kPage) ++j;
        uint64_t s = cur + i * kPage, n = (j - i) * kPage;
        InsertPmaLocked(s, s + n, offs[i], /*owned=*/false);
        TRY(as->MapFile(UserAddr(s), n, offs[i], prot));
        i = j;
      }
    } else if (vma.mappable != nullptr) {
      vma.mappable->AddMapping(observer);  // before MapPages: see mm_internal.h
      uint64_t done = 0;
      while (done < len) {
        const uint64_t s = cur + done;
        auto run = vma.mappable->MapPages(vma.OffsetOf(s), len - done);
        if (!run.ok()) return run.error() == Errno::kENOMEM ? Errno::kENOMEM : Errno::kEIO;
        InsertPmaLocked(s, s + run->len, run->mf_off, /*owned=*/false);
        TRY(as->MapFile(UserAddr(s), run->len, run->mf_off, prot));
        done += run->len;
      }
    } else {
      uint64_t off = TRY(mf.Allocate(len));
      if (vma.file) {
        std::byte* dst = mf.Pointer(off);
        uint64_t done = 0;
        while (done < len) {
          auto n = vma.file->PRead(std::span<std::byte>(dst + done, len - done),
                                   static_cast<int64_t>(vma.OffsetOf(cur) + done));
          if (!n.ok()) {
            mf.Free(off, len);
            return Errno::kEIO;  // Linux: a read error in filemap_fault is SIGBUS
          }
          if (*n == 0) break;  // EOF: the rest stays zero
          done += *n;
        }
      }
      InsertPmaLocked(cur, gap_end, off, /*owned=*/true);
      TRY(as->MapFile(UserAddr(cur), len, off, prot));
    }
    cur = gap_end;
  }
  return Ok();
}

void Impl::InvalidateFileLocked(const fs::SharedMappable* src, uint64_t off, uint64_t len) {
  const uint64_t off_end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [start, v] : vmas) {
    if (v.mappable != src) continue;
    const uint64_t vlen = v.end - v.start;
    const uint64_t vo_end = vlen > UINT64_MAX - v.offset ? UINT64_MAX : v.offset + vlen;
    const uint64_t lo = std::max(off, v.offset), hi = std::min(off_end, vo_end);
    if (lo >= hi) continue;
    ranges.emplace_back(v.start + (lo - v.offset), v.start + (hi - v.offset));
  }
  for (auto [s, e] : ranges) DropPmasLocked(PageDown(s), PageUp(e));
}

namespace internal {

void MmObserver::InvalidateMappings(const fs::SharedMappable* src, uint64_t off,
                                    uint64_t len) {
  absl::MutexLock l(&mu_);
  if (impl_ == nullptr) return;
  absl::MutexLock ml(&impl_->mu);
  impl_->InvalidateFileLocked(src, off, len);
}

void MmObserver::Detach() {
  absl::MutexLock l(&mu_);
  impl_ = nullptr;
}

}  // namespace internal

bool Impl::GrowStackLocked(VmaMap::iterator it, uint64_t addr) {
  const uint64_t page = PageDown(addr);
  const Vma& v = it->second;
  if (!v.growsdown || page >= v.start || page < min_addr) return false;
  if (v.end - page > stack_limit) return false;
  if (it != vmas.begin()) {
    const Vma& prev = std::prev(it)->second;
    if (prev.end > page) return false;
    if (!prev.growsdown && prev.prot != 0 && page - prev.end < internal::kStackGuardGap) {
      return false;
    }
  }
  auto node = vmas.extract(it);
  node.key() = page;
  node.mapped().start = page;
  vmas.insert(std::move(node));
  return true;
}

Result<void> MemoryManager::HandleFault(UserAddr addr, int* si_code) {
  return HandleFault(addr, 0, si_code);
}

Result<void> MemoryManager::HandleFault(UserAddr addr, int host_si_code, int* si_code) {
  Impl& m = *impl_;
  *si_code = mabi::kSegvMapErr;
  const uint64_t a = addr.value();
  absl::MutexLock l(&m.mu);
  if (a < m.min_addr || a >= m.max_addr) return Errno::kEFAULT;
  auto it = m.FindVmaLocked(a);
  if (it == m.vmas.end()) {
    auto above = m.FirstVmaAfterLocked(a);
    if (above == m.vmas.end() || !m.GrowStackLocked(above, a)) return Errno::kEFAULT;
    it = m.FindVmaLocked(a);
  }
  const internal::Vma& v = it->second;
  if (v.prot == 0) {
    *si_code = mabi::kSegvAccErr;
    return Errno::kEFAULT;
  }
  const uint64_t page = PageDown(a);
  auto p = m.FindPmaLocked(page);
  if (p != m.pmas.end()) {
    // A fault on a page we back. With the host's si_code: MAPERR means our mapping had not
    // reached the host (race, queued change, or a range Fork/COW unmapped): remap; ACCERR is
    // a protection violation, or a write to a cow page. Without it: remap once; a second
    // consecutive fault on the same page is taken as ACCERR (a racing thread's fault is
    // resolved by the first remap, a real violation or a cow write repeats).
    const bool cow = p->second.cow;
    bool remap;
    if (host_si_code == 0) {
      remap = (v.prot == internal::kProtRWX && !cow) || m.last_remapped_page != page;
      m.last_remapped_page = remap ? page : UINT64_MAX;
    } else {
      remap = host_si_code == mabi::kSegvMapErr;
    }
    if (remap) return m.MapBackedWindowLocked(v, page);
    if (cow && (v.prot & internal::kProtWrite) != 0) {
      // do_wp_page: a write to a copy-on-write page.
      auto r = m.BreakCowLocked(v, page, page + kPage, /*map=*/true);
      if (r.ok()) return Ok();
      *si_code = 0;
      return Errno::kENOMEM;
    }
    *si_code = mabi::kSegvAccErr;
    return Errno::kEFAULT;
  }
  // Fault-around window: aligned, inside the VMA, inside the unbacked run around `page`.
  constexpr uint64_t kWindow = internal::kFaultAroundPages * kPage;
  uint64_t lo = std::max(v.start, page & ~(kWindow - 1));
  uint64_t hi = v.end - lo > kWindow ? lo + kWindow : v.end;
  auto nx = m.pmas.lower_bound(page);
  if (nx != m.pmas.end()) hi = std::min(hi, nx->first);
  if (nx != m.pmas.begin()) lo = std::max(lo, std::prev(nx)->second.end);
  auto r = m.BackRangeLocked(v, lo, hi);
  if (r.ok() || m.FindPmaLocked(page) != m.pmas.end()) return Ok();
  if (r.error() == Errno::kENOMEM) {
    *si_code = 0;
    return Errno::kENOMEM;
  }
  // Past the end of the file/object, or the file read failed: SIGBUS (BUS_ADRERR).
  *si_code = mabi::kBusAdrErr;
  return Errno::kEIO;
}

template <typename Fn>
Result<size_t> Impl::AccessLocked(uint64_t addr, size_t len, bool need_write, Fn fn) {
  size_t done = 0;
  while (done < len) {
    const uint64_t cur = addr + done;
    if (cur < addr) break;  // wrapped around the address space
    auto it = FindVmaLocked(cur);
    if (it == vmas.end()) break;
    const Vma& v = it->second;
    // x86 pages are readable whenever present; writes need PROT_WRITE.
    if (need_write ? (v.prot & internal::kProtWrite) == 0 : v.prot == 0) break;
    const uint64_t rem = len - done;
    const uint64_t seg_end = v.end - cur < rem ? v.end : cur + rem;
    auto p = FindPmaLocked(cur);
    if (p == pmas.end()) {
      (void)BackRangeLocked(v, PageDown(cur), std::min(v.end, PageUp(seg_end)));
      p = FindPmaLocked(cur);
      if (p == pmas.end()) break;
    }
    if (need_write && p->second.cow) {
      // Never write to a page another MM may still see: break the COW of the pages this run
      // touches (without mapping them; the guest's next touch faults them in writable).
      const uint64_t cow_end = std::min(p->second.end, PageUp(seg_end));
      if (!BreakCowLocked(v, PageDown(cur), cow_end, /*map=*/false).ok()) break;
      p = FindPmaLocked(cur);
    }
    const uint64_t n = std::min(p->second.end, seg_end) - cur;
    fn(mf.Pointer(p->second.mf_off + (cur - p->first)), done, n);
    done += n;
  }
  if (done == 0 && len != 0) return Errno::kEFAULT;
  return done;
}

Result<size_t> MemoryManager::CopyOutBytes(UserAddr dst, std::span<const std::byte> src) {
  absl::MutexLock l(&impl_->mu);
  return impl_->AccessLocked(dst.value(), src.size(), /*need_write=*/true,
                             [&](std::byte* p, size_t off, size_t n) {
                               std::memcpy(p, src.data() + off, n);
                             });
}

Result<uint32_t> MemoryManager::AtomicUpdate32(
    UserAddr addr, const std::function<std::optional<uint32_t>(uint32_t)>& fn) {
  if (addr.value() % 4 != 0) return Errno::kEINVAL;
  absl::MutexLock l(&impl_->mu);
  uint32_t old = 0;
  size_t n = TRY(impl_->AccessLocked(
      addr.value(), 4, /*need_write=*/true, [&](std::byte* p, size_t, size_t) {
        // The word is naturally aligned, so it lies in one page: one host pointer.
        std::atomic_ref<uint32_t> w(*reinterpret_cast<uint32_t*>(p));
        uint32_t cur = w.load();
        for (;;) {
          std::optional<uint32_t> nv = fn(cur);
          if (!nv || w.compare_exchange_weak(cur, *nv)) break;
        }
        old = cur;
      }));
  if (n != 4) return Errno::kEFAULT;
  return old;
}

Result<size_t> MemoryManager::CopyInBytes(UserAddr src, std::span<std::byte> dst) {
  absl::MutexLock l(&impl_->mu);
  return impl_->AccessLocked(src.value(), dst.size(), /*need_write=*/false,
                             [&](std::byte* p, size_t off, size_t n) {
                               std::memcpy(dst.data() + off, p, n);
                             });
}

Result<size_t> MemoryManager::ZeroOut(UserAddr dst, size_t len) {
  absl::MutexLock l(&impl_->mu);
  return impl_->AccessLocked(dst.value(), len, /*need_write=*/true,
                             [&](std::byte* p, size_t, size_t n) { std::memset(p, 0, n); });
}

}  // namespace sbx::mm
