// ELF64 parsing: see elf.h. Each check names the Linux code it mirrors.
#include "sentry/loader/elf.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace sbx::loader {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t PageOffset(uint64_t v) { return v & (kPage - 1); }
constexpr uint64_t PageStart(uint64_t v) { return v & ~(kPage - 1); }

// Reads exactly dst.size() bytes. Returns false (not an error) on a short read.
Result<bool> ReadExact(const ReadFn& read, uint64_t offset, std::span<std::byte> dst) {
  size_t done = 0;
  while (done < dst.size()) {
    uint64_t off;
    if (__builtin_add_overflow(offset, done, &off)) return false;
    if (off > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    size_t n = TRY(read(off, dst.subspan(done)));
    if (n == 0) return false;
    if (n > dst.size() - done) return Errno::kEIO;  // a reader that overran its buffer
    done += n;
  }
  return true;
}

template <typename T>
std::span<std::byte> AsBytes(T& v) {
  return std::as_writable_bytes(std::span<T, 1>(&v, 1));
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// The per-PT_LOAD checks. Linux makes some of these only after the point of no return
// (load_elf_binary's "set_brk can never work" test, elf_map's mmap of a misaligned offset);
// we make them all before touching the address space.
bool LoadSegmentValid(const Elf64_Phdr& ph, bool is_dyn, uint64_t task_size) {
  if (ph.p_filesz > ph.p_memsz) return false;
  if (ph.p_memsz > task_size) return false;
  uint64_t end;
  if (__builtin_add_overflow(ph.p_vaddr, ph.p_memsz, &end)) return false;
  // ET_EXEC is mapped where it says; ET_DYN is moved by a bias the loader checks again.
  if (!is_dyn && (ph.p_vaddr >= task_size || task_size - ph.p_memsz < ph.p_vaddr)) return false;
  if (ph.p_filesz != 0) {
    // elf_map: mmap(file, off = p_offset - PAGEOFFSET(p_vaddr)) needs a page-aligned offset
    // that fits in off_t, i.e. the file and memory images are congruent modulo the page size.
    if (PageOffset(ph.p_offset) != PageOffset(ph.p_vaddr)) return false;
    uint64_t file_end;
    if (__builtin_add_overflow(ph.p_offset, ph.p_filesz, &file_end)) return false;
    if (file_end > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  }
  return true;
}

}  // namespace

int SegmentProt(uint32_t p_flags) {
  int prot = 0;
  if (p_flags & PF_R) prot |= 1;  // PROT_READ
  if (p_flags & PF_W) prot |= 2;  // PROT_WRITE
  if (p_flags & PF_X) prot |= 4;  // PROT_EXEC
  return prot;
}

ReadFn BufferReader(std::span<const uint8_t> data) {
  return [data](uint64_t offset, std::span<std::byte> dst) -> Result<size_t> {
    if (offset >= data.size()) return size_t{0};
    size_t n = std::min<uint64_t>(dst.size(), data.size() - offset);
    std::memcpy(dst.data(), data.data() + offset, n);
    return n;
  };
}

Result<ElfInfo> ParseElf(const ReadFn& read, const ParseOptions& opts) {
  ElfInfo info;
  Elf64_Ehdr& eh = info.header;
  // load_elf_binary reads the header from bprm->buf, which is zero-padded: a short file
  // simply fails the checks below.
  if (!TRY(ReadExact(read, 0, AsBytes(eh)))) return Errno::kENOEXEC;

  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return Errno::kENOEXEC;
  // Linux checks the class only implicitly (via e_phentsize); the byte order not at all. An
  // ELF that claims another class or byte order cannot be interpreted as ELF64 LSB, so reject.
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return Errno::kENOEXEC;
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return Errno::kENOEXEC;
  // EI_VERSION and e_version are not checked by Linux; neither are they here.
  if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) return Errno::kENOEXEC;
  if (eh.e_machine != EM_X86_64) return Errno::kENOEXEC;  // elf_check_arch
  info.is_dyn = eh.e_type == ET_DYN;

  // load_elf_phdrs.
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) return Errno::kENOEXEC;
  uint64_t ph_bytes = uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (ph_bytes == 0 || ph_bytes > kMaxPhdrBytes) return Errno::kENOEXEC;
  uint64_t ph_end;
  if (__builtin_add_overflow(eh.e_phoff, ph_bytes, &ph_end)) return Errno::kENOEXEC;
  info.phdrs.resize(eh.e_phnum);
  if (!TRY(ReadExact(read, eh.e_phoff, std::as_writable_bytes(std::span(info.phdrs))))) {
    return Errno::kENOEXEC;
  }

  uint64_t min_page = std::numeric_limits<uint64_t>::max();
  uint64_t max_end = 0;
  for (const Elf64_Phdr& ph : info.phdrs) {
    switch (ph.p_type) {
      case PT_LOAD: {
        if (!LoadSegmentValid(ph, info.is_dyn, opts.task_size)) return Errno::kENOEXEC;
        if (info.num_loads == 0) info.first_load_vaddr = ph.p_vaddr;
        ++info.num_loads;
        min_page = std::min(min_page, PageStart(ph.p_vaddr));
        max_end = std::max(max_end, ph.p_vaddr + ph.p_memsz);
        if (IsPowerOfTwo(ph.p_align)) info.max_alignment = std::max(info.max_alignment, ph.p_align);
        // AT_PHDR (load_elf_binary since 5.18): the segment whose file range holds e_phoff.
        if (ph.p_offset <= eh.e_phoff && eh.e_phoff - ph.p_offset < ph.p_filesz) {
          info.phdr_vaddr = eh.e_phoff - ph.p_offset + ph.p_vaddr;
        }
        break;
      }
      case PT_INTERP: {
        if (info.has_interp) break;  // Linux uses the first PT_INTERP and ignores the rest.
        if (ph.p_filesz > kPathMax || ph.p_filesz < 2) return Errno::kENOEXEC;
        std::string path(ph.p_filesz, '\0');
        if (!TRY(ReadExact(read, ph.p_offset, std::as_writable_bytes(std::span(path))))) {
          return Errno::kEIO;  // elf_read: short read
        }
        if (path.back() != '\0') return Errno::kENOEXEC;
        path.resize(std::strlen(path.c_str()));
        info.has_interp = true;
        info.interp = std::move(path);
        break;
      }
      case PT_GNU_STACK:
        info.has_gnu_stack = true;
        info.exec_stack = (ph.p_flags & PF_X) != 0;
        break;
      case PT_PHDR:
        if (!info.has_phdr_segment) {
          info.has_phdr_segment = true;
          info.phdr_segment_vaddr = ph.p_vaddr;
        }
        break;
      default:
        break;
    }
  }

  if (info.num_loads == 0) {
    // Linux fails ET_DYN here (total_mapping_size() == 0) and runs a load-less ET_EXEC only to
    // fault at its entry point; we refuse both before the point of no return.
    return Errno::kENOEXEC;
  }
  info.total_mapping_size = max_end - min_page;
  info.max_load_end = max_end;
  if (info.total_mapping_size == 0 || info.total_mapping_size > opts.task_size) {
    return Errno::kENOEXEC;
  }
  if (info.max_alignment != 0) {
    // ELF_PAGEALIGN(alignment); p_align <= 2^63 so this cannot overflow.
    info.max_alignment = (info.max_alignment + kPage - 1) & ~(kPage - 1);
  }
  if (!info.is_dyn && eh.e_entry >= opts.task_size) return Errno::kENOEXEC;
  return info;
}

}  // namespace sbx::loader
