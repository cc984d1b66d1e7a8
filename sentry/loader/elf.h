// ELF64 header parsing and validation for x86-64 guests (the checks of Linux
// fs/binfmt_elf.c: load_elf_binary, load_elf_phdrs, total_mapping_size, maximum_alignment).
//
// ParseElf is a pure function over a reader callback: it never maps memory and never trusts a
// field it has not bounds-checked. Every malformed input yields ENOEXEC; a failing reader yields
// its own error (EIO); a short PT_INTERP read yields EIO as in Linux's elf_read. Where Linux only
// notices a bad segment after the point of no return of execve (and kills the process), we
// reject the file up front with ENOEXEC, so a successful parse means every PT_LOAD can be mapped
// at some load bias without overflowing the user address range.
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "sentry/abi/result.h"

namespace sbx::loader {

// Reads up to dst.size() bytes at `offset`; returns the count read (short only at end of file).
using ReadFn = std::function<Result<size_t>(uint64_t offset, std::span<std::byte> dst)>;

// x86-64 TASK_SIZE_MAX: the first address above the user range ((1 << 47) - one page).
inline constexpr uint64_t kTaskSize = (uint64_t{1} << 47) - 4096;
// PATH_MAX: bound on the PT_INTERP string (including its NUL).
inline constexpr uint64_t kPathMax = 4096;
// Linux load_elf_phdrs: the program header table may not exceed ELF_MIN_ALIGN (one page) and
// 64 KiB; on x86-64 that is 73 entries of 56 bytes.
inline constexpr uint64_t kMaxPhdrBytes = 4096;

struct ParseOptions {
  // Addresses at or above this are outside the user range (BAD_ADDR in binfmt_elf.c).
  uint64_t task_size = kTaskSize;
};

// What the loader needs to know about one ELF file. Addresses are unbiased (as in the file).
struct ElfInfo {
  Elf64_Ehdr header{};
  std::vector<Elf64_Phdr> phdrs;
  bool is_dyn = false;           // ET_DYN (PIE, static PIE, or a shared object such as ld.so)
  bool has_interp = false;       // a PT_INTERP was present (Linux honours only the first)
  std::string interp;            // its path, up to the first NUL
  bool exec_stack = false;       // the last PT_GNU_STACK has PF_X (EXSTACK_ENABLE_X)
  bool has_gnu_stack = false;
  bool has_phdr_segment = false; // PT_PHDR seen (informational: Linux >= 5.18 ignores it)
  uint64_t phdr_segment_vaddr = 0;
  // AT_PHDR before biasing, computed like load_elf_binary: e_phoff translated through the
  // (last) PT_LOAD whose file range contains it; 0 if none does.
  uint64_t phdr_vaddr = 0;
  size_t num_loads = 0;
  uint64_t first_load_vaddr = 0;   // p_vaddr of the first PT_LOAD in table order
  uint64_t total_mapping_size = 0; // total_mapping_size(): span from the lowest page to the end
  uint64_t max_alignment = 0;      // maximum_alignment(): largest power-of-two p_align, paged
  uint64_t max_load_end = 0;       // highest p_vaddr + p_memsz (elf_brk before biasing)
};

// Reads and validates the ELF header, program headers and PT_INTERP string of a file.
Result<ElfInfo> ParseElf(const ReadFn& read, const ParseOptions& opts = {});

// A ReadFn over an in-memory byte buffer (for fuzzing and tests). The buffer must outlive it.
ReadFn BufferReader(std::span<const uint8_t> data);

// PROT_* bits for a segment's p_flags (make_prot in binfmt_elf.c).
int SegmentProt(uint32_t p_flags);

}  // namespace sbx::loader
