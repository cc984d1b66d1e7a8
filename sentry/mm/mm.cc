// MemoryManager: construction, mmap/munmap/mprotect/brk (Linux mm/mmap.c, mm/mprotect.c),
// naming, and the read-only queries (DebugMaps, mincore, range checks).
//
// Partial support, stated for the syscall table:
// - MAP_SHARED mappings of files with shared pages (tmpfs: FileDescription::shared_mappable)
//   map the file's own memory-file pages, coherent with read/write, writable if the fd is.
//   Other files (the gofer root): private copies taken at fault time, read-only (PROT_WRITE
//   fails: mmap ENODEV, mprotect EACCES).
// - MAP_GROWSDOWN is honoured for anonymous private mappings only.
// - MAP_HUGETLB/MAP_SYNC/MAP_UNINITIALIZED are rejected by the syscall layer.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "sentry/mm/mm_internal.h"
#include "sentry/mm/mman_abi.h"

namespace sbx::mm {

using internal::kPage;
using internal::PageDown;
using internal::PageUp;
namespace mabi = ::sbx::mm::abi;

namespace {

constexpr uint64_t kMaxMincorePages = 1 << 16;

uint64_t ComputeMmapBase(uint64_t lo, uint64_t hi) {
  if (hi - lo > 4 * internal::kMmapBaseGap) return hi - internal::kMmapBaseGap;
  return hi - (hi - lo) / 4 / kPage * kPage;
}

}  // namespace

MemoryManager::Impl::Impl(MemoryFile& m, std::unique_ptr<platform::AddressSpace> a,
                          uint64_t lo, uint64_t hi)
    : mf(m),
      as(std::move(a)),
      min_addr(PageUp(lo)),
      max_addr(PageDown(hi)),
      stack_top_addr(PageDown(hi)),
      mmap_base_addr(ComputeMmapBase(PageUp(lo), PageDown(hi))),
      observer(std::make_shared<internal::MmObserver>(this)) {}

MemoryManager::MemoryManager(MemoryFile& mf, std::unique_ptr<platform::AddressSpace> as,
                             uint64_t min_addr, uint64_t max_addr)
    : impl_(std::make_unique<Impl>(mf, std::move(as), min_addr, max_addr)) {}

MemoryManager::~MemoryManager() {
  impl_->observer->Detach();
  {
    absl::MutexLock l(&impl_->mu);
    for (auto& [start, p] : impl_->pmas) {
      if (p.owned) impl_->mf.DecRef(p.mf_off, p.end - start);  // COW: maybe not the last
    }
    impl_->pmas.clear();
    impl_->resident = 0;
    impl_->vmas.clear();  // drops SharedAnon references (their pages are freed with them)
  }
  impl_->as->Release();
}

platform::AddressSpace& MemoryManager::address_space() { return *impl_->as; }
UserAddr MemoryManager::stack_top() const { return UserAddr(impl_->stack_top_addr); }
UserAddr MemoryManager::mmap_base() const { return UserAddr(impl_->mmap_base_addr); }

void MemoryManager::SetStackLimit(uint64_t bytes) {
  absl::MutexLock l(&impl_->mu);
  impl_->stack_limit = bytes;
}

Result<UserAddr> MemoryManager::MMap(const MMapOpts& opts) {
  Impl& m = *impl_;
  if (opts.length == 0) return Errno::kEINVAL;
  uint64_t len;
  if (!usermem::PageRoundUp(opts.length, &len)) return Errno::kENOMEM;
  const int flags = opts.flags;
  const int type = flags & mabi::kMapType;
  if (type != mabi::kMapShared && type != mabi::kMapPrivate &&
      type != mabi::kMapSharedValidate) {
    return Errno::kEINVAL;
  }
  const bool shared = type != mabi::kMapPrivate;
  const bool fixed = (flags & (mabi::kMapFixed | mabi::kMapFixedNoReplace)) != 0;
  const int prot = opts.prot & internal::kProtRWX;
  if (opts.file) {
    if (opts.offset % kPage != 0) return Errno::kEINVAL;
    if (opts.offset + len < opts.offset) return Errno::kEOVERFLOW;
    if (!opts.file->Mappable()) return Errno::kENODEV;
    if (!opts.file->readable()) return Errno::kEACCES;
    if (shared && opts.file->shared_mappable() == nullptr &&
        (prot & internal::kProtWrite) != 0) {
      return Errno::kENODEV;  // partial: no shared pages to write to
    }
  } else if (shared && (flags & mabi::kMapGrowsDown) != 0) {
    return Errno::kEINVAL;
  }

  internal::Vma v;
  v.prot = prot;
  v.shared = shared;
  v.name = opts.name;
  if (opts.file) {
    v.file = opts.file;
    v.offset = opts.offset;
    // VM_MAYWRITE for a shared mapping needs a writable fd and a file with shared pages.
    v.mappable = shared ? opts.file->shared_mappable() : nullptr;
    v.maxprot = internal::kProtRWX;
    if (shared && (v.mappable == nullptr || !opts.file->writable())) {
      v.maxprot = internal::kProtRead | internal::kProtExec;
    }
  } else {
    v.maxprot = internal::kProtRWX;
    v.growsdown = !shared && (flags & mabi::kMapGrowsDown) != 0;
    if (shared) v.shm = std::make_shared<internal::SharedAnon>(m.mf, len);
  }

  absl::MutexLock l(&m.mu);
  if (m.vmas.size() >= internal::kMaxMapCount) return Errno::kENOMEM;
  uint64_t addr = opts.addr.value();
  if (fixed) {
    if (addr % kPage != 0) return Errno::kEINVAL;
    if (len > m.max_addr || addr > m.max_addr - len) return Errno::kENOMEM;
    if (addr < m.min_addr) return Errno::kEPERM;  // below mmap_min_addr
    if ((flags & mabi::kMapFixedNoReplace) != 0 && !m.RangeEmptyLocked(addr, addr + len)) {
      return Errno::kEEXIST;
    }
    m.RemoveRangeLocked(addr, addr + len);
  } else {
    uint64_t hint = PageDown(addr);
    if (hint != 0 && hint < m.min_addr) hint = m.min_addr;  // round_hint_to_min
    addr = TRY(m.ChooseAddressLocked(hint, len, (flags & mabi::kMap32Bit) != 0));
  }
  v.start = addr;
  v.end = addr + len;
  auto it = m.InsertVmaLocked(std::move(v));
  if ((flags & (mabi::kMapPopulate | mabi::kMapLocked)) != 0 && prot != 0) {
    // Best effort, like Linux's mm_populate: errors leave pages to be faulted later.
    (void)m.BackRangeLocked(it->second, addr, addr + len);
  }
  return UserAddr(addr);
}

Result<void> MemoryManager::MUnmap(UserAddr addr, uint64_t length) {
  Impl& m = *impl_;
  uint64_t start = addr.value(), len;
  if (start % kPage != 0 || length == 0) return Errno::kEINVAL;
  if (!usermem::PageRoundUp(length, &len)) return Errno::kEINVAL;
  if (start > m.max_addr || len > m.max_addr - start) return Errno::kEINVAL;
  absl::MutexLock l(&m.mu);
  auto v = m.FindVmaLocked(start);
  if (v != m.vmas.end() && v->second.start < start && v->second.end > start + len &&
      m.vmas.size() >= internal::kMaxMapCount) {
    return Errno::kENOMEM;
  }
  m.RemoveRangeLocked(start, start + len);
  return Ok();
}

Result<void> MemoryManager::MProtect(UserAddr addr, uint64_t length, int prot) {
  Impl& m = *impl_;
  const int grows = prot & (mabi::kProtGrowsDown | mabi::kProtGrowsUp);
  prot &= ~grows;
  if (grows == (mabi::kProtGrowsDown | mabi::kProtGrowsUp)) return Errno::kEINVAL;
  uint64_t start = addr.value();
  if (start % kPage != 0) return Errno::kEINVAL;
  if (length == 0) return Ok();
  uint64_t len;
  if (!usermem::PageRoundUp(length, &len)) return Errno::kENOMEM;
  uint64_t end = start + len;
  if (end <= start) return Errno::kENOMEM;
  if ((prot & ~(internal::kProtRWX | mabi::kProtSem)) != 0) return Errno::kEINVAL;
  prot &= internal::kProtRWX;

  absl::MutexLock l(&m.mu);
  auto it = m.FirstVmaAfterLocked(start);
  if (it == m.vmas.end()) return Errno::kENOMEM;
  if ((grows & mabi::kProtGrowsDown) != 0) {
    if (it->second.start >= end) return Errno::kENOMEM;
    start = it->second.start;
    if (!it->second.growsdown) return Errno::kEINVAL;
  } else {
    if (it->second.start > start) return Errno::kENOMEM;
    if ((grows & mabi::kProtGrowsUp) != 0) return Errno::kEINVAL;  // no VM_GROWSUP on x86
  }
  Result<void> result = Ok();
  uint64_t cur = start;
  while (cur < end) {
    it = m.FindVmaLocked(cur);
    if (it == m.vmas.end()) {
      result = Errno::kENOMEM;  // hole: earlier VMAs keep their new protection, as on Linux
      break;
    }
    if ((prot & ~it->second.maxprot) != 0) {
      result = Errno::kEACCES;
      break;
    }
    uint64_t piece_end = std::min(end, it->second.end);
    if (it->second.prot != prot) {
      bool split_lo = it->second.start < cur, split_hi = it->second.end > piece_end;
      if ((split_lo || split_hi) && m.vmas.size() >= internal::kMaxMapCount) {
        result = Errno::kENOMEM;
        break;
      }
      m.SplitVmaLocked(cur);
      m.SplitVmaLocked(piece_end);
      it = m.FindVmaLocked(cur);
      it->second.prot = prot;
      auto r = m.RemapPmasLocked(cur, piece_end, prot);
      if (!r.ok()) {
        result = r;
        break;
      }
    }
    cur = piece_end;
  }
  m.MergeRangeLocked(start, cur);
  return result;
}

void MemoryManager::SetBrkBase(UserAddr base) {
  absl::MutexLock l(&impl_->mu);
  impl_->brk_start = impl_->brk_cur = PageUp(base.value());
}

UserAddr MemoryManager::brk() const {
  absl::MutexLock l(&impl_->mu);
  return UserAddr(impl_->brk_cur);
}

UserAddr MemoryManager::Brk(UserAddr new_brk) {
  Impl& m = *impl_;
  absl::MutexLock l(&m.mu);
  uint64_t b = new_brk.value();
  if (m.brk_start == 0 || b < m.brk_start || b > m.max_addr) return UserAddr(m.brk_cur);
  uint64_t newbrk = PageUp(b), oldbrk = PageUp(m.brk_cur);
  if (newbrk == oldbrk) {
    m.brk_cur = b;
    return new_brk;
  }
  if (b <= m.brk_cur) {
    m.RemoveRangeLocked(newbrk, oldbrk);
    m.brk_cur = b;
    return new_brk;
  }
  // Growing: [oldbrk, newbrk) plus one page must be clear of the next VMA and its guard gap.
  if (newbrk + kPage > m.max_addr) return UserAddr(m.brk_cur);
  auto next = m.FirstVmaAfterLocked(oldbrk);
  if (next != m.vmas.end()) {
    const auto& nv = next->second;
    uint64_t gap = nv.growsdown ? std::min(nv.start, internal::kStackGuardGap) : 0;
    if (newbrk + kPage > nv.start - gap) return UserAddr(m.brk_cur);
  }
  if (m.vmas.size() >= internal::kMaxMapCount) return UserAddr(m.brk_cur);
  internal::Vma v;
  v.start = oldbrk;
  v.end = newbrk;
  v.prot = internal::kProtRead | internal::kProtWrite;
  v.maxprot = internal::kProtRWX;
  v.name = "[heap]";
  m.InsertVmaLocked(std::move(v));
  m.brk_cur = b;
  return new_brk;
}

Result<void> MemoryManager::SetVmaName(UserAddr addr, uint64_t length, std::string name) {
  Impl& m = *impl_;
  uint64_t start = addr.value(), len;
  if (start % kPage != 0) return Errno::kEINVAL;
  if (!usermem::PageRoundUp(length, &len) || start + len < start) return Errno::kEINVAL;
  if (len == 0) return Ok();
  absl::MutexLock l(&m.mu);
  uint64_t end = start + len;
  for (uint64_t cur = start; cur < end;) {
    auto it = m.FindVmaLocked(cur);
    if (it == m.vmas.end()) return Errno::kENOMEM;
    cur = it->second.end;
  }
  m.SplitVmaLocked(start);
  m.SplitVmaLocked(end);
  for (auto it = m.vmas.lower_bound(start); it != m.vmas.end() && it->first < end; ++it) {
    it->second.name = name;
  }
  m.MergeRangeLocked(start, end);
  return Ok();
}

Result<void> MemoryManager::MapStack(UserAddr top, uint64_t initial_size) {
  Impl& m = *impl_;
  uint64_t size;
  if (top.value() % kPage != 0 || initial_size == 0 ||
      !usermem::PageRoundUp(initial_size, &size)) {
    return Errno::kEINVAL;
  }
  absl::MutexLock l(&m.mu);
  if (top.value() > m.max_addr || size > top.value() - m.min_addr) return Errno::kENOMEM;
  uint64_t start = top.value() - size;
  if (!m.RangeEmptyLocked(start, top.value())) return Errno::kEEXIST;
  internal::Vma v;
  v.start = start;
  v.end = top.value();
  v.prot = internal::kProtRead | internal::kProtWrite;
  v.maxprot = internal::kProtRWX;
  v.growsdown = true;
  v.name = "[stack]";
  m.InsertVmaLocked(std::move(v));
  return Ok();
}

bool MemoryManager::IsRangeMapped(UserAddr addr, uint64_t length) const {
  const Impl& m = *impl_;
  uint64_t start = addr.value(), end;
  if (length == 0) return true;
  if (!usermem::PageRoundUp(start + length, &end) || start + length < start) return false;
  absl::MutexLock l(&m.mu);
  for (uint64_t cur = PageDown(start); cur < end;) {
    auto it = m.FindVmaLocked(cur);
    if (it == m.vmas.end()) return false;
    cur = it->second.end;
  }
  return true;
}

Result<void> MemoryManager::Mincore(UserAddr addr, uint64_t npages,
                                    std::vector<uint8_t>* out) const {
  const Impl& m = *impl_;
  uint64_t start = addr.value();
  if (start % kPage != 0) return Errno::kEINVAL;
  if (npages > (UINT64_MAX - start) / kPage) return Errno::kENOMEM;
  if (npages > kMaxMincorePages) return Errno::kEINVAL;  // callers chunk
  out->assign(npages, 0);
  absl::MutexLock l(&m.mu);
  auto it = m.vmas.end();
  for (uint64_t i = 0; i < npages; ++i) {
    uint64_t page = start + i * kPage;
    if (it == m.vmas.end() || page >= it->second.end) {
      it = m.FindVmaLocked(page);
      if (it == m.vmas.end()) {
        out->resize(i);
        return Errno::kENOMEM;
      }
    }
    bool backed = m.FindPmaLocked(page) != m.pmas.end();
    if (!backed && it->second.shm) backed = it->second.shm->HasPage(it->second.OffsetOf(page) / kPage);
    (*out)[i] = backed ? 1 : 0;
  }
  return Ok();
}

std::string MemoryManager::DebugMaps() const {
  const Impl& m = *impl_;
  absl::MutexLock l(&m.mu);
  std::string out;
  for (const auto& [start, v] : m.vmas) {
    uint64_t dev = 0, ino = 0;
    if (v.file) {
      auto attr = v.file->Stat();
      if (attr.ok()) {
        dev = attr->dev;
        ino = attr->ino;
      }
    }
    std::string line = absl::StrFormat(
        "%08x-%08x %c%c%c%c %08x %02x:%02x %u ", v.start, v.end,
        (v.prot & internal::kProtRead) ? 'r' : '-', (v.prot & internal::kProtWrite) ? 'w' : '-',
        (v.prot & internal::kProtExec) ? 'x' : '-', v.shared ? 's' : 'p',
        (v.file || v.shm) ? v.offset : 0, (dev >> 8) & 0xfff,
        (dev & 0xff) | ((dev >> 12) & 0xfff00), ino);
    std::string name = v.name;
    if (name.empty() && v.shm) name = "/dev/zero (deleted)";
    if (!name.empty()) {
      if (line.size() < 73) line.append(73 - line.size(), ' ');
      line += name;
    }
    out += line;
    out += '\n';
  }
  return out;
}

uint64_t MemoryManager::resident_bytes() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->resident;
}

}  // namespace sbx::mm
