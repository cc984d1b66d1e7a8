// Guest memory: the memory file and the MemoryManager (Linux `struct mm_struct`).
//
// MemoryFile (sentry/mm/memory_file.h): one memfd per sandbox, reserved sparse and mapped
// whole into the sentry, with an allocator of page-aligned, reference-counted ranges.
// MemoryManager: the VMAs of one guest address space, the guest-page -> memory-file
// assignments ("pmas"), demand paging with fault-around, brk, and the copy-in/out path used by
// `usermem`. It tells its platform::AddressSpace what to map.
// Fork (Linux dup_mmap) copies an MM for a child process: shared mappings share their pages,
// private pages become copy-on-write (both MMs reference the same memory-file pages,
// read-only in both address spaces, until a write copies the page or finds this MM the only
// referent left). Memory-file pages are reference counted for this (MemoryFile::IncRef).
//
// Lock order: MemoryManager (Impl::mu; Fork takes the parent's, then the new child's) ->
// SharedAnon (shared anonymous memory objects) / file locks -> MemoryFile (leaf). Private file
// mappings are filled with FileDescription::PRead while the MM lock is held. MAP_SHARED
// mappings of a fs::SharedMappable file (tmpfs) map the file's own pages; the file calls back
// (truncate, hole punch) only with none of its locks held, through an observer whose lock
// precedes the MM's. Internals: sentry/mm/mm_internal.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "platform/platform.h"
#include "sentry/mm/memory_file.h"
#include "sentry/abi/result.h"
#include "sentry/usermem/usermem.h"

namespace sbx::fs { class FileDescription; }

namespace sbx::mm {

using usermem::UserAddr;

// Arguments of mmap(2), validated and decoded by the syscall layer.
struct MMapOpts {
  UserAddr addr;             // hint or fixed address
  uint64_t length = 0;       // not yet rounded
  int prot = 0;              // PROT_*
  int flags = 0;             // MAP_* as passed by the guest
  std::shared_ptr<fs::FileDescription> file;  // null for anonymous
  uint64_t offset = 0;       // file offset (page aligned)
  std::string name;          // DebugMaps name (e.g. the file's path); may be empty
};

// A futex's identity (Linux get_futex_key). MAP_SHARED memory (shared anonymous or a
// SharedMappable file's pages) is keyed by its memory-file offset, the same in every process
// mapping it; private memory is keyed by (MM, address) by the caller.
struct FutexKeyInfo {
  bool shared_object = false;  // true: key by mf_off; false: key by (mm, addr)
  uint64_t mf_off = 0;         // shared_object: memory-file offset of the futex word
};

class MemoryManager : public usermem::UserMemory {
 public:
  // `as` is the platform address space this MM drives.
  MemoryManager(MemoryFile& mf, std::unique_ptr<platform::AddressSpace> as,
                uint64_t min_addr, uint64_t max_addr);
  ~MemoryManager() override;

  // mmap(2) semantics: MAP_FIXED, MAP_FIXED_NOREPLACE (EEXIST), hints, MAP_PRIVATE/MAP_SHARED
  // (anonymous and file), MAP_ANONYMOUS, MAP_GROWSDOWN, MAP_NORESERVE, MAP_POPULATE.
  Result<UserAddr> MMap(const MMapOpts& opts);
  Result<void> MUnmap(UserAddr addr, uint64_t length);
  Result<void> MProtect(UserAddr addr, uint64_t length, int prot);
  // brk(2): returns the new break, or the old one if the request cannot be satisfied.
  UserAddr Brk(UserAddr new_brk);
  // Sets the initial program break (called by the loader after mapping the ELF image).
  void SetBrkBase(UserAddr base);
  Result<UserAddr> MRemap(UserAddr old_addr, uint64_t old_len, uint64_t new_len, int flags,
                          UserAddr new_addr);
  Result<void> MAdvise(UserAddr addr, uint64_t length, int advice);

  // fork(2) without CLONE_VM (Linux dup_mmap): a new MM driving `child_as` with a copy of
  // every VMA except MADV_DONTFORK ones (MADV_WIPEONFORK ones come back empty: zero pages),
  // the program break, stack limit, VMA names and the same address-space layout. MAP_SHARED
  // mappings share their pages (the child faults them in); private pages become copy-on-write
  // in both MMs. Before it returns, the parent's private writable ranges are unmapped from its
  // address space (one Unmap per VMA), so no thread of the parent can write them any more;
  // they fault back in read-only. EINVAL if `child_as` is null.
  Result<std::shared_ptr<MemoryManager>> Fork(std::unique_ptr<platform::AddressSpace> child_as);

  // The futex key of the 4-byte-aligned word at `addr` (faulting its page in). EINVAL if
  // misaligned, EFAULT if unmapped or inaccessible (PROT_NONE, past the end of the object).
  // Shared anonymous and SharedMappable file pages give shared_object = true; everything
  // else (private memory, and MAP_SHARED snapshots of files without shared pages: partial) is
  // private to this MM.
  Result<FutexKeyInfo> FutexKey(UserAddr addr);

  // The guest touched `addr` and the platform reported a fault. Maps the page (and neighbours:
  // fault-around) if a VMA permits it, growing a MAP_GROWSDOWN stack if needed. On failure
  // returns EFAULT and sets *si_code to SEGV_MAPERR (no VMA) or SEGV_ACCERR (permissions).
  // Returns EIO with *si_code = BUS_ADRERR (2) when the page lies wholly past the end of a
  // mapped file (deliver SIGBUS), and ENOMEM when the memory file is exhausted (Linux: OOM).
  // This form does not know the host si_code: a fault on a page we already back is taken
  // as a race and remapped once; a second consecutive one on that page is SEGV_ACCERR.
  Result<void> HandleFault(UserAddr addr, int* si_code);
  // Same, with the host's si_code for the fault (SEGV_MAPERR = 1: the host page was not
  // mapped; SEGV_ACCERR = 2: it was mapped but the access was not allowed; 0: unknown). The
  // ptrace platform cannot tell reads from writes, so a fault on a page we already back is
  // decided with this: host MAPERR means our mapping had not reached the host yet (a race
  // with another thread's fault, a queued change, or a range unmapped by Fork) and the page
  // is simply remapped (a copy-on-write page read-only, with its fault-around window, unless
  // this MM is its only referent); host ACCERR on a copy-on-write page of a writable VMA
  // breaks the COW (copies the page, or reuses it if no other MM references it); any other
  // host ACCERR means the access exceeded the VMA's protection -> SEGV_ACCERR. ENOMEM (with
  // *si_code = 0) if the copy cannot be allocated. Prefer this form.
  Result<void> HandleFault(UserAddr addr, int host_si_code, int* si_code);

  // usermem::UserMemory: copies through the sentry's mapping of the memory file, faulting pages
  // in as needed and honouring VMA read/write permissions. Writes break copy-on-write first.
  Result<size_t> CopyOutBytes(UserAddr dst, std::span<const std::byte> src) override;
  Result<size_t> CopyInBytes(UserAddr src, std::span<std::byte> dst) override;
  Result<size_t> ZeroOut(UserAddr dst, size_t len) override;

  // Atomically updates the aligned 32-bit word at `addr` (futex ops): fn(old) returns the new
  // value or nullopt to leave it; retried until the compare-and-swap succeeds, so the update
  // is atomic against guest instructions too. Writes break copy-on-write. Returns the value
  // seen by the successful attempt. EFAULT if the word is not writable, EINVAL if misaligned.
  Result<uint32_t> AtomicUpdate32(UserAddr addr,
                                  const std::function<std::optional<uint32_t>(uint32_t)>& fn);

  platform::AddressSpace& address_space();

  // Where the loader puts the main stack: the top of the address space, above mmap_base().
  UserAddr stack_top() const;
  // Top-down mmap placement starts below this (stack_top() minus a 128 MiB gap).
  UserAddr mmap_base() const;
  // RLIMIT_STACK: how far a MAP_GROWSDOWN VMA may grow (default 8 MiB).
  void SetStackLimit(uint64_t bytes);
  // Names the VMAs in [addr, addr+len) for DebugMaps ("[stack]", "[vdso]", "[anon:x]" for
  // PR_SET_VMA_ANON_NAME), splitting as needed. ENOMEM if part of the range is unmapped.
  Result<void> SetVmaName(UserAddr addr, uint64_t length, std::string name);
  // Creates the main stack: a private anonymous read-write MAP_GROWSDOWN VMA named [stack]
  // covering [top - initial_size, top); it grows on faults below it up to the stack limit.
  Result<void> MapStack(UserAddr top, uint64_t initial_size);
  // True if every page of [addr, addr+len) lies in some VMA (msync/mlock ENOMEM checks).
  bool IsRangeMapped(UserAddr addr, uint64_t length) const;
  // mincore(2) for pages [addr, addr + npages*4096): out[i] = 1 if the page is backed.
  // ENOMEM if some page is unmapped, with *out holding the results for the pages before it
  // (Linux fills the vector up to the hole). Callers chunk `npages` (<= 65536, else EINVAL).
  Result<void> Mincore(UserAddr addr, uint64_t npages, std::vector<uint8_t>* out) const;
  // The current program break (brk(0)).
  UserAddr brk() const;
  // A description of the VMAs, /proc/<pid>/maps format.
  std::string DebugMaps() const;
  // Bytes of guest memory currently mapped (for tests and sysinfo).
  uint64_t resident_bytes() const;

  // Defined in sentry/mm/mm_internal.h; only sentry/mm uses it.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sbx::mm
