// Memory-mapping syscalls: mmap, munmap, mprotect, brk, mremap, madvise, msync, mincore,
// mlock, munlock (mm/mmap.c, mm/mprotect.c, mm/mremap.c, mm/madvise.c, mm/msync.c,
// mm/mincore.c, mm/mlock.c). Argument checks that need no VMA lookup live here; the
// MemoryManager (sentry/mm) does the rest and mirrors Linux's remaining errno choices.
//
// Support notes, quoted by the syscall table:
// - mmap: anonymous private/shared and private file mappings are complete (demand paging,
//   MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_32BIT, MAP_GROWSDOWN, MAP_POPULATE). MAP_SHARED
//   mappings of tmpfs files map the file's own pages (coherent with read/write, writable when
//   the fd is). MAP_SHARED mappings of other files (the gofer root) are read-only private
//   copies taken at fault time (later writes to the file are not seen); PROT_WRITE on them
//   returns ENODEV, and mprotect cannot add it (EACCES). MAP_HUGETLB: ENOMEM (anonymous; no
//   huge pages reserved, as on a default host) or EINVAL (files). MAP_SYNC via
//   MAP_SHARED_VALIDATE: EOPNOTSUPP.
// - mremap: all flags; MREMAP_DONTUNMAP only for private anonymous mappings (else EINVAL).
// - madvise: DONTNEED/FREE drop pages (a shared file keeps its data); REMOVE on shared
//   mappings is EOPNOTSUPP; COLLAPSE is EINVAL; hints succeed; HWPOISON/SOFT_OFFLINE EPERM.
// - msync: validated; nothing to write back (writable shared mappings are tmpfs pages).
// - mincore: reports pages the sandbox has backed (touched), not host page-cache residency.
// - mlock/munlock: validated and accepted; memory is never swapped, so nothing is pinned.
//   RLIMIT_MEMLOCK is not enforced.
#include <algorithm>
#include <vector>

#include "sentry/mm/mm.h"
#include "sentry/mm/mman_abi.h"
#include "sentry/syscalls/handlers.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls {
namespace {

namespace mabi = ::sbx::mm::abi;
constexpr uint64_t kPage = usermem::kPageSize;

// Linux PAGE_ALIGN, which wraps to a small value on overflow.
uint64_t PageAlignWrap(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

}  // namespace

// mmap(addr, length, prot, flags, fd, offset)
SyscallResult SysMmap(Task& t, const SyscallArgs& a) {
  const uint64_t length = a.ULong(1);
  const int prot = static_cast<int>(a.UInt(2));
  int flags = static_cast<int>(a.UInt(3));
  const int fd = static_cast<int>(a.Int(4));
  const uint64_t offset = a.ULong(5);
  if (offset % kPage != 0) return Errno::kEINVAL;

  mm::MMapOpts opts;
  opts.addr = a.Addr(0);
  opts.length = length;
  opts.prot = prot;
  opts.offset = offset;
  const bool anonymous = (flags & mabi::kMapAnonymous) != 0;
  if (!anonymous) {
    opts.file = TRY(t.fd_table().GetFile(fd));
    if ((flags & mabi::kMapHugeTLB) != 0) return Errno::kEINVAL;  // not a hugetlbfs file
  } else if ((flags & mabi::kMapHugeTLB) != 0) {
    return Errno::kENOMEM;  // no huge pages reserved (default host: nr_hugepages = 0)
  }
  if (length == 0) return Errno::kEINVAL;
  uint64_t len;
  if (!usermem::PageRoundUp(length, &len)) return Errno::kENOMEM;
  if (offset + len < offset) return Errno::kEOVERFLOW;

  const int type = flags & mabi::kMapType;
  if (opts.file) {
    const auto& f = opts.file;
    switch (type) {
      case mabi::kMapShared:
        flags &= mabi::kLegacyMapMask;
        [[fallthrough]];
      case mabi::kMapSharedValidate:
        if ((flags & ~mabi::kLegacyMapMask) != 0) return Errno::kEOPNOTSUPP;
        if ((prot & mabi::kProtWrite) != 0 && !f->writable()) return Errno::kEACCES;
        [[fallthrough]];
      case mabi::kMapPrivate:
        if (!f->readable()) return Errno::kEACCES;
        if (!f->Mappable()) return Errno::kENODEV;
        if ((flags & mabi::kMapGrowsDown) != 0) return Errno::kEINVAL;
        break;
      default:
        return Errno::kEINVAL;
    }
  } else {
    if (type != mabi::kMapShared && type != mabi::kMapPrivate) return Errno::kEINVAL;
    opts.offset = 0;  // ignored for anonymous mappings
  }
  opts.flags = flags;
  auto addr = TRY(t.mm().MMap(opts));
  return addr.value();
}

// munmap(addr, length)
SyscallResult SysMunmap(Task& t, const SyscallArgs& a) {
  TRY(t.mm().MUnmap(a.Addr(0), a.ULong(1)));
  return 0;
}

// mprotect(addr, length, prot)
SyscallResult SysMprotect(Task& t, const SyscallArgs& a) {
  TRY(t.mm().MProtect(a.Addr(0), a.ULong(1), static_cast<int>(a.UInt(2))));
  return 0;
}

// brk(addr): returns the new break, or the current one when the request fails.
SyscallResult SysBrk(Task& t, const SyscallArgs& a) {
  return t.mm().Brk(a.Addr(0)).value();
}

// mremap(old_address, old_size, new_size, flags, new_address)
SyscallResult SysMremap(Task& t, const SyscallArgs& a) {
  const uint64_t flags = a.ULong(3);
  if ((flags & ~uint64_t{mabi::kMremapMayMove | mabi::kMremapFixed | mabi::kMremapDontUnmap}) !=
      0) {
    return Errno::kEINVAL;
  }
  auto addr = TRY(t.mm().MRemap(a.Addr(0), a.ULong(1), a.ULong(2), static_cast<int>(flags),
                                a.Addr(4)));
  return addr.value();
}

// madvise(addr, length, advice)
SyscallResult SysMadvise(Task& t, const SyscallArgs& a) {
  TRY(t.mm().MAdvise(a.Addr(0), a.ULong(1), static_cast<int>(a.Int(2))));
  return 0;
}

// msync(addr, length, flags)
SyscallResult SysMsync(Task& t, const SyscallArgs& a) {
  const uint64_t start = a.ULong(0);
  const int64_t flags = a.Int(2);
  if ((flags & ~static_cast<int64_t>(mabi::kMsAsync | mabi::kMsInvalidate | mabi::kMsSync)) !=
      0) {
    return Errno::kEINVAL;
  }
  if (start % kPage != 0) return Errno::kEINVAL;
  if ((flags & mabi::kMsAsync) != 0 && (flags & mabi::kMsSync) != 0) return Errno::kEINVAL;
  const uint64_t len = PageAlignWrap(a.ULong(1));
  const uint64_t end = start + len;
  if (end < start) return Errno::kENOMEM;
  if (end == start) return 0;
  if (!t.mm().IsRangeMapped(a.Addr(0), len)) return Errno::kENOMEM;
  return 0;  // private and anonymous memory has nothing to write back
}

// mincore(addr, length, vec)
SyscallResult SysMincore(Task& t, const SyscallArgs& a) {
  const uint64_t start = a.ULong(0);
  const uint64_t len = a.ULong(1);
  if (start % kPage != 0) return Errno::kEINVAL;
  const uint64_t limit = t.mm().stack_top().value();  // TASK_SIZE
  if (len > limit || start > limit - len) return Errno::kENOMEM;  // access_ok
  uint64_t pages = len / kPage + (len % kPage != 0 ? 1 : 0);
  const uint64_t vec = a.ULong(2);
  if (pages > limit || vec > limit - pages) return Errno::kEFAULT;
  constexpr uint64_t kChunk = 4096;  // pages per round, like Linux's one-page buffer
  uint64_t done = 0;
  std::vector<uint8_t> out;
  while (done < pages) {
    uint64_t n = std::min(kChunk, pages - done);
    auto r = t.mm().Mincore(usermem::UserAddr(start + done * kPage), n, &out);
    if (!out.empty()) {
      TRY(usermem::CopyOutFull(t.mem(), usermem::UserAddr(vec + done),
                               std::as_bytes(std::span(out))));
    }
    if (!r.ok()) return r.error();
    done += n;
  }
  return 0;
}

namespace {

// Shared checks of mlock and munlock (apply_vma_lock_flags): ENOMEM for unmapped pages.
SyscallResult CheckLockRange(Task& t, const SyscallArgs& a) {
  const uint64_t addr = a.ULong(0);
  const uint64_t len = PageAlignWrap(a.ULong(1) + (addr % kPage));
  const uint64_t start = addr & ~(kPage - 1);
  const uint64_t end = start + len;
  if (end < start) return Errno::kEINVAL;
  if (end == start) return 0;
  if (!t.mm().IsRangeMapped(usermem::UserAddr(start), len)) return Errno::kENOMEM;
  return 0;
}

}  // namespace

// mlock(addr, length): accepted without pinning (memory is never swapped).
SyscallResult SysMlock(Task& t, const SyscallArgs& a) { return CheckLockRange(t, a); }

// munlock(addr, length)
SyscallResult SysMunlock(Task& t, const SyscallArgs& a) { return CheckLockRange(t, a); }

}  // namespace sbx::syscalls
