// Internals of the MemoryManager, shared by its facet files (vma.cc, mm.cc, mm_remap.cc,
// mm_fault.cc, mm_fork.cc). Not for use outside sentry/mm.
//
// Data model (mirrors Linux mm_struct + vm_area_struct, and gVisor's vmas/pmas split):
// - `vmas`: what the guest asked for. Non-overlapping page-aligned [start, end) intervals keyed
//   by start, each with protection, max protection, sharing and its backing (anonymous, a
//   SharedAnon object for MAP_SHARED|MAP_ANONYMOUS, or a file + offset).
// - `pmas`: which guest pages are backed, and by which memory-file range. Invariants: every
//   pma lies inside one VMA (operations split pmas at VMA boundaries before changing VMAs);
//   a pma's pages are either absent from the platform AddressSpace (never mapped yet, or
//   unmapped by Fork / a COW transition: the next touch faults and remaps them) or mapped
//   with its VMA's protection, minus PROT_WRITE if the pma is `cow`. An `owned` pma holds one reference (MemoryFile::IncRef/DecRef)
//   on each page of its range, dropped when the pma goes; a non-owned one maps pages that
//   belong to a SharedAnon object (freed when the object dies) or to a SharedMappable file
//   (MAP_SHARED of a tmpfs file: the file's own pages, freed by the file). Private pages
//   (anonymous, and the snapshots of private file mappings) are owned; shared ones are not.
//
// Copy-on-write (Linux dup_mmap + do_wp_page): Fork gives the child a second reference on
// every owned range and marks the pma `cow` in both MMs. A `cow` pma is owned and its pages
// may have other referents, so it is never host-mapped writable and neither guest writes nor
// the sentry's CopyOut may write its pages until the COW is broken: if this MM holds the only
// reference (MemoryFile::IsExclusive) the pma simply stops being cow ("claim", no copy, Linux's
// reuse of an exclusive anon page); otherwise the page is copied to a fresh allocation and the
// old reference dropped. `cow` may stay set after the other referents went away; the next
// write finds the range exclusive and claims it. Exclusivity observed under `mu` is stable:
// only a holder can add references (Fork of this MM, which takes `mu`).
// Host mappings and COW transitions: MapFile is lazy on the ptrace platform (other threads see
// it at their next switch) while Unmap takes effect in every thread before it returns. So
// every transition that must not be missed by a running thread starts with an Unmap: Fork
// unmaps the parent's private writable ranges (one Unmap per VMA), and breaking or claiming a
// COW range unmaps it before mapping the new page writable; a stale read-only mapping of a
// claimed page therefore never turns a write into a spurious SEGV_ACCERR. Memory is only
// dropped (DecRef) after the pages are unmapped from the address space, so a running thread
// never sees a page that was reused for someone else.
//
// Lock order: MmObserver::mu -> MemoryManager::Impl::mu -> SharedAnon::mu / the file's locks
// -> MemoryFile (leaf). Fork holds the parent's Impl::mu, then the new child's (which no one
// else can reach yet). A SharedMappable file calls MmObserver::InvalidateMappings (truncate,
// hole punch) with none of its locks held; the observer then takes Impl::mu and drops the
// pmas of that file range. The MM registers its observer with a file before asking it for
// pages, so a truncate that races with a fault always reaches this MM.
// File reads for private file mappings (FileDescription::PRead) happen with Impl::mu held:
// files never call back into the MM, so this cannot deadlock; it only serialises faults of
// one address space behind file I/O.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/file.h"
#include "sentry/mm/mm.h"

namespace sbx::mm::internal {

inline constexpr uint64_t kPage = usermem::kPageSize;
inline constexpr int kProtRead = 1, kProtWrite = 2, kProtExec = 4;
inline constexpr int kProtRWX = 7;
// Linux stack_guard_gap: 256 pages kept free below a MAP_GROWSDOWN VMA.
inline constexpr uint64_t kStackGuardGap = 256 * kPage;
// Linux MIN_GAP between mmap_base and the top of the address space (room for the stack).
inline constexpr uint64_t kMmapBaseGap = 128ull << 20;
// Linux sysctl vm.max_map_count default.
inline constexpr size_t kMaxMapCount = 65530;
// Pages mapped around a faulting page (aligned window), limited to the VMA and to unbacked
// pages.
inline constexpr uint64_t kFaultAroundPages = 16;

constexpr uint64_t PageUp(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }
constexpr uint64_t PageDown(uint64_t v) { return v & ~(kPage - 1); }

// The memory of one MAP_SHARED|MAP_ANONYMOUS mapping (Linux: the shmem file behind it).
// Shared by every VMA (and, after fork, every MM) that maps it; pages are allocated on first
// touch and freed when the object dies. Thread-safe.
class SharedAnon {
 public:
  SharedAnon(MemoryFile& mf, uint64_t size) : mf_(mf), size_(size) {}
  ~SharedAnon();
  // Object size in bytes: pages at or past it are beyond "EOF" (SIGBUS, as on Linux).
  uint64_t size() const { return size_; }
  // Returns the memory-file offsets of pages [first, first+count) (page indices), allocating
  // zeroed pages for those not yet present. ENOMEM when the memory file is exhausted.
  Result<void> GetPages(uint64_t first, uint64_t count, std::vector<uint64_t>* offsets);
  // True if page `index` is allocated (mincore).
  bool HasPage(uint64_t index) const;

 private:
  MemoryFile& mf_;
  const uint64_t size_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, uint64_t> pages_ ABSL_GUARDED_BY(mu_);  // page index -> memfile offset
};

struct Vma {
  uint64_t start = 0, end = 0;
  int prot = 0;     // PROT_READ|PROT_WRITE|PROT_EXEC currently granted
  int maxprot = 0;  // what mprotect may grant (Linux VM_MAY*)
  bool shared = false;     // MAP_SHARED
  bool growsdown = false;  // MAP_GROWSDOWN (anonymous only)
  bool dontfork = false, wipeonfork = false;  // madvise flags, for fork
  std::shared_ptr<fs::FileDescription> file;  // file mapping, else null
  std::shared_ptr<SharedAnon> shm;            // MAP_SHARED|MAP_ANONYMOUS, else null
  // MAP_SHARED of a file whose pages can be mapped directly (file->shared_mappable()); the
  // file keeps it alive. Null for private mappings and other files (private snapshots).
  fs::SharedMappable* mappable = nullptr;
  uint64_t offset = 0;  // byte offset of `start` in `file` or `shm`
  std::string name;     // DebugMaps name: "[heap]", "[stack]", ...

  bool anonymous_private() const { return !file && !shm; }
  // Byte offset of guest address `addr` (inside the VMA) in the backing object.
  uint64_t OffsetOf(uint64_t addr) const { return offset + (addr - start); }
};

struct Pma {
  uint64_t end = 0;
  uint64_t mf_off = 0;  // memory-file offset of the pma's first page
  bool owned = true;    // this MM holds a reference on the range (DecRef when the pma goes)
  bool cow = false;     // owned and possibly shared with another MM (see above); implies owned
};

// The host protection of a cow pma in a VMA with `prot`: no write. x86 has no write-only
// pages (PROT_WRITE alone maps read-write), so write-only becomes read-only, not PROT_NONE.
constexpr int CowProt(int prot) {
  return (prot & kProtWrite) != 0 ? (prot & ~kProtWrite) | kProtRead : prot;
}

using VmaMap = std::map<uint64_t, Vma>;  // keyed by start
using PmaMap = std::map<uint64_t, Pma>;  // keyed by start

// The MM's registration with SharedMappable files. Owned by the MM (shared with the files as
// weak references); detached before the MM goes away, so a late invalidation is a no-op.
class MmObserver : public fs::MappingObserver {
 public:
  explicit MmObserver(MemoryManager::Impl* impl) : impl_(impl) {}
  void InvalidateMappings(const fs::SharedMappable* src, uint64_t off, uint64_t len) override;
  // Waits for a running invalidation, then makes later ones no-ops.
  void Detach();

 private:
  absl::Mutex mu_;
  MemoryManager::Impl* impl_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sbx::mm::internal

namespace sbx::mm {

struct MemoryManager::Impl {
  using Vma = internal::Vma;
  using Pma = internal::Pma;
  using VmaMap = internal::VmaMap;
  using PmaMap = internal::PmaMap;

  Impl(MemoryFile& m, std::unique_ptr<platform::AddressSpace> a, uint64_t lo, uint64_t hi);

  MemoryFile& mf;
  std::unique_ptr<platform::AddressSpace> as;
  const uint64_t min_addr, max_addr;  // page aligned, min < max
  const uint64_t stack_top_addr, mmap_base_addr;

  const std::shared_ptr<internal::MmObserver> observer;

  mutable absl::Mutex mu;
  VmaMap vmas ABSL_GUARDED_BY(mu);
  PmaMap pmas ABSL_GUARDED_BY(mu);
  uint64_t resident ABSL_GUARDED_BY(mu) = 0;  // bytes covered by pmas
  uint64_t brk_start ABSL_GUARDED_BY(mu) = 0, brk_cur ABSL_GUARDED_BY(mu) = 0;
  uint64_t stack_limit ABSL_GUARDED_BY(mu) = 8ull << 20;
  // HandleFault without a host si_code: the backed page it last remapped (see mm_fault.cc).
  uint64_t last_remapped_page ABSL_GUARDED_BY(mu) = UINT64_MAX;

  // ---- VMA map (vma.cc) ----
  // The VMA containing addr, or vmas.end().
  VmaMap::iterator FindVmaLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  VmaMap::const_iterator FindVmaLocked(uint64_t addr) const ABSL_SHARED_LOCKS_REQUIRED(mu);
  // The first VMA with end > addr (Linux find_vma), or vmas.end().
  VmaMap::iterator FirstVmaAfterLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  VmaMap::const_iterator FirstVmaAfterLocked(uint64_t addr) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Splits the VMA strictly containing addr (if any) into [start, addr) and [addr, end).
  void SplitVmaLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Merges `it` with compatible neighbours (vma_merge). Returns the merged VMA.
  VmaMap::iterator MergeVmaLocked(VmaMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Merges every VMA touching [start, end) with its neighbours.
  void MergeRangeLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // True if no VMA intersects [start, end).
  bool RangeEmptyLocked(uint64_t start, uint64_t end) const ABSL_SHARED_LOCKS_REQUIRED(mu);
  // True if [start, end) is free including the guard gap below a growsdown VMA above it
  // (Linux vm_start_gap), so a non-fixed mapping may go there.
  bool RangeFreeForPlacementLocked(uint64_t start, uint64_t end) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Finds a free range of `len` bytes in [low, high), highest first or lowest first.
  Result<uint64_t> FindGapLocked(uint64_t len, uint64_t low, uint64_t high, bool topdown) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Chooses the address for a non-fixed mapping (arch_get_unmapped_area_topdown).
  Result<uint64_t> ChooseAddressLocked(uint64_t hint, uint64_t len, bool map32) const
      ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Removes all VMAs (splitting the edge ones) and pmas in [start, end).
  void RemoveRangeLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Inserts a VMA into a range known to be empty, then merges it with its neighbours.
  VmaMap::iterator InsertVmaLocked(Vma v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // ---- pmas (vma.cc) ----
  void SplitPmaLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The pma containing addr, or pmas.end().
  PmaMap::iterator FindPmaLocked(uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  PmaMap::const_iterator FindPmaLocked(uint64_t addr) const ABSL_SHARED_LOCKS_REQUIRED(mu);
  // Records [start, end) -> mf_off (merging with contiguous neighbours). Does not map.
  void InsertPmaLocked(uint64_t start, uint64_t end, uint64_t mf_off, bool owned,
                       bool cow = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Merges the pmas touching [start, end] with compatible contiguous neighbours.
  void MergePmasLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Drops the pmas in [start, end): unmaps the pages from the address space, then drops the
  // references of owned ones.
  void DropPmasLocked(uint64_t start, uint64_t end) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Re-maps the backed pages of [start, end) with `prot` (mprotect); cow pmas get
  // CowProt(prot).
  Result<void> RemapPmasLocked(uint64_t start, uint64_t end, int prot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Drops (unmaps, never frees) the pmas of every VMA mapping bytes [off, off+len) of `src`.
  void InvalidateFileLocked(const fs::SharedMappable* src, uint64_t off, uint64_t len)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Moves the pmas of [from, from+len) to [to, to+len) (cow ones stay cow) and updates the
  // address space.
  Result<void> MovePmasLocked(uint64_t from, uint64_t to, uint64_t len, int prot)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // ---- faults (mm_fault.cc) ----
  // Backs and maps every unbacked page of [start, end), which lies inside `vma`. On error
  // (ENOMEM, EIO = past the end of the file/object, or a file read error) the pages before
  // the failing one stay backed.
  Result<void> BackRangeLocked(const Vma& vma, uint64_t start, uint64_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // First byte past the backing object's end, as a guest address in `vma` (files: rounded
  // up to a page), or vma.end if the object covers the whole VMA.
  Result<uint64_t> BackingEndLocked(const Vma& vma) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // ---- copy-on-write (mm_fork.cc) ----
  // Makes every pma in [start, end) (backed pages of `vma`) non-cow: claims exclusive ranges,
  // copies shared pages to new allocations. Unmaps the changed pages from the address space
  // (so no thread keeps a stale mapping) and, if `map`, maps them again with the VMA's
  // protection. ENOMEM if the memory file is exhausted (pages already done stay done).
  Result<void> BreakCowLocked(const Vma& vma, uint64_t start, uint64_t end, bool map)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // A host SEGV_MAPERR (or a first unknown fault) on backed `page` of `vma`: the host lost
  // or never got our mapping (a race, a queued change, a range Fork or a COW transition
  // unmapped). If the page's pma is cow, the VMA writable and this MM the only referent,
  // claims the pma (or its part in the fault-around window); then maps every backed page of
  // the fault-around window (cow ones read-only).
  Result<void> MapBackedWindowLocked(const Vma& vma, uint64_t page)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // Grows the growsdown VMA `it` down to cover PageDown(addr) if Linux would.
  bool GrowStackLocked(VmaMap::iterator it, uint64_t addr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Shared by the copy routines: walks [addr, addr+len), faulting pages in and checking
  // `need_write`, calling fn(host pointer, offset in request, length) for each accessible run.
  template <typename Fn>
  Result<size_t> AccessLocked(uint64_t addr, size_t len, bool need_write, Fn fn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

}  // namespace sbx::mm
