// LoadExecutable: see loader.h. Functions are named after the Linux code they mirror
// (exec_binprm, load_script, load_elf_binary, load_elf_interp, elf_map, elf_load, padzero).
#include "sentry/loader/loader.h"

#include <sys/random.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "sentry/loader/script.h"
#include "sentry/mm/mman_abi.h"

namespace sbx::loader {
namespace {

using usermem::UserAddr;

constexpr uint64_t kPage = 4096;
constexpr uint64_t PageOffset(uint64_t v) { return v & (kPage - 1); }
constexpr uint64_t PageStart(uint64_t v) { return v & ~(kPage - 1); }
constexpr uint64_t PageAlign(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

using mm::abi::kMapAnonymous;
using mm::abi::kMapFixed;
using mm::abi::kMapFixedNoReplace;
using mm::abi::kMapPrivate;
using mm::abi::kProtExec;
using mm::abi::kProtRead;
using mm::abi::kProtWrite;

// fs/exec.c limits.
constexpr uint64_t kStkLim = 8 << 20;         // _STK_LIM
constexpr uint64_t kArgMax = 32 * kPage;      // ARG_MAX: the floor of the argument space
constexpr uint64_t kStackExpand = 128 << 10;  // setup_arg_pages: initial extra stack
constexpr int kMaxBinfmtDepth = 5;            // exec_binprm: "depth > 5" is ELOOP
constexpr uint64_t kBrkRandomRange = 1 << 30; // arch_randomize_brk on 64-bit: SZ_1G
constexpr int kMmapRndBits = 28;              // CONFIG_ARCH_MMAP_RND_BITS default (x86-64)

// Fills `dst` from getrandom(2). The sentry's seccomp policy must allow getrandom; should it
// fail anyway, the remaining bytes come from a clock-seeded mix (weak, but never a crash).
void FillRandom(void* dst, size_t len) {
  auto* p = static_cast<uint8_t*>(dst);
  size_t done = 0;
  while (done < len) {
    ssize_t n = getrandom(p + done, len - done, 0);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = static_cast<uint64_t>(ts.tv_nsec) ^ (static_cast<uint64_t>(ts.tv_sec) << 30);
    for (; done < len; ++done) {
      x += 0x9e3779b97f4a7c15ULL;
      uint64_t z = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
      p[done] = static_cast<uint8_t>(z >> 56);
    }
  }
}

uint64_t RandomU64() {
  uint64_t v;
  FillRandom(&v, sizeof(v));
  return v;
}

// randomize_page(): a random page-aligned address in [start, start + range).
uint64_t RandomizePage(uint64_t start, uint64_t range) {
  if (PageOffset(start) != 0) {
    range -= PageAlign(start) - start;
    start = PageAlign(start);
  }
  if (start > UINT64_MAX - range) range = UINT64_MAX - start;
  range >>= 12;
  if (range == 0) return start;
  return start + ((RandomU64() % range) << 12);
}

ReadFn FileReader(const std::shared_ptr<fs::FileDescription>& f) {
  return [f](uint64_t offset, std::span<std::byte> dst) -> Result<size_t> {
    return f->PRead(dst, static_cast<int64_t>(offset));
  };
}

// kernel_read of bprm->buf: up to 256 bytes from offset 0 (fewer for a short file).
Result<std::string> ReadHead(fs::FileDescription& f, size_t want) {
  std::string buf(want, '\0');
  size_t done = 0;
  while (done < want) {
    size_t n = TRY(f.PRead(std::as_writable_bytes(std::span(buf)).subspan(done),
                           static_cast<int64_t>(done)));
    if (n == 0) break;
    done += std::min(n, want - done);
  }
  buf.resize(done);
  return buf;
}

// The argument-space accounting of fs/exec.c (bprm_stack_limits, copy_strings,
// valid_arg_len): each string including its NUL at most MAX_ARG_STRLEN, and all of them
// within `limit` bytes.
struct ArgSpace {
  uint64_t limit = 0;
  Result<void> CheckString(const std::string& s) const {
    if (s.size() + 1 > kMaxArgStrlen) return Errno::kE2BIG;
    return Ok();
  }
  Result<void> CheckTotal(const std::string& filename, const std::vector<std::string>& argv,
                          const std::vector<std::string>& envp) const {
    uint64_t total = filename.size() + 1;
    for (const auto& s : argv) {
      TRY(CheckString(s));
      total += s.size() + 1;
    }
    for (const auto& s : envp) {
      TRY(CheckString(s));
      total += s.size() + 1;
    }
    if (total > limit) return Errno::kE2BIG;
    return Ok();
  }
};

Result<ArgSpace> ComputeArgSpace(const ExecArgs& args, uint64_t stack_rlimit) {
  if (args.argv.size() > kMaxArgStrings || args.envp.size() > kMaxArgStrings) {
    return Errno::kE2BIG;
  }
  uint64_t limit = std::min(kStkLim / 4 * 3, stack_rlimit / 4);
  limit = std::max(limit, kArgMax);
  uint64_t ptr_size = (std::max<uint64_t>(args.argv.size(), 1) + args.envp.size()) * 8;
  if (limit <= ptr_size) return Errno::kE2BIG;
  ArgSpace space;
  space.limit = limit - ptr_size;
  TRY(space.CheckString(args.filename));
  TRY(space.CheckTotal(args.filename, args.argv, args.envp));
  return space;
}

// elf_map(): maps the file part of one segment. With `total_size` (the first mapping of an
// ET_DYN image) it maps the whole image span to reserve it, then unmaps the excess.
Result<uint64_t> ElfMap(mm::MemoryManager& mm, const std::shared_ptr<fs::FileDescription>& file,
                        uint64_t addr, const Elf64_Phdr& ph, int prot, int flags,
                        uint64_t total_size) {
  uint64_t size = PageAlign(ph.p_filesz + PageOffset(ph.p_vaddr));
  uint64_t off = ph.p_offset - PageOffset(ph.p_vaddr);
  addr = PageStart(addr);
  if (size == 0) return addr;
  mm::MMapOpts o;
  o.addr = UserAddr(addr);
  o.prot = prot;
  o.flags = flags;
  o.file = file;
  o.offset = off;
  if (total_size != 0) {
    total_size = PageAlign(total_size);
    o.length = std::max(total_size, size);
    UserAddr map_addr = TRY(mm.MMap(o));
    if (total_size > size) TRY(mm.MUnmap(map_addr + size, total_size - size));
    return map_addr.value();
  }
  o.length = size;
  UserAddr map_addr = TRY(mm.MMap(o));
  return map_addr.value();
}

// elf_load() (Linux 6.7+): maps a segment's file part, zeroes the rest of its last file page
// (padzero; failures matter only for writable segments, as a read-only page cannot be
// written) and maps anonymous pages for the remainder of p_memsz (vm_brk_flags: always
// read-write, executable if the segment is).
Result<uint64_t> ElfLoad(mm::MemoryManager& mm, const std::shared_ptr<fs::FileDescription>& file,
                         uint64_t addr, const Elf64_Phdr& ph, int prot, int flags,
                         uint64_t total_size) {
  uint64_t map_addr, zero_start, zero_end;
  if (ph.p_filesz != 0) {
    map_addr = TRY(ElfMap(mm, file, addr, ph, prot, flags, total_size));
    zero_start = map_addr + PageOffset(ph.p_vaddr) + ph.p_filesz;
    zero_end = map_addr + PageOffset(ph.p_vaddr) + ph.p_memsz;
    if (ph.p_memsz > ph.p_filesz && PageOffset(zero_start) != 0) {
      uint64_t len = kPage - PageOffset(zero_start);
      auto r = mm.ZeroOut(UserAddr(zero_start), len);
      bool failed = !r.ok() || *r != len;
      if (failed && (prot & kProtWrite)) return Errno::kEFAULT;
    }
  } else {
    map_addr = zero_start = PageStart(addr);
    zero_end = zero_start + PageOffset(ph.p_vaddr) + ph.p_memsz;
  }
  if (ph.p_memsz > ph.p_filesz) {
    zero_start = PageAlign(zero_start);
    zero_end = PageAlign(zero_end);
    if (zero_end > zero_start) {
      mm::MMapOpts o;
      o.addr = UserAddr(zero_start);
      o.length = zero_end - zero_start;
      o.prot = kProtRead | kProtWrite | (prot & kProtExec);
      o.flags = kMapPrivate | kMapAnonymous | kMapFixed;
      TRY(mm.MMap(o));
    }
  }
  return map_addr;
}

// BAD_ADDR and the "set_brk can never work" test, applied to biased addresses.
bool SegmentInRange(const Elf64_Phdr& ph, uint64_t bias, uint64_t task_size) {
  uint64_t k = ph.p_vaddr + bias;
  return k < task_size && ph.p_memsz <= task_size && task_size - ph.p_memsz >= k;
}

struct MainImage {
  uint64_t load_bias = 0;
  uint64_t entry = 0;
  uint64_t phdr = 0;
  uint64_t brk = 0;
};

// The PT_LOAD loop of load_elf_binary().
Result<MainImage> LoadMain(mm::MemoryManager& mm, const std::shared_ptr<fs::FileDescription>& file,
                           const ElfInfo& info, const LoadOptions& opts) {
  MainImage img;
  uint64_t load_bias = 0;
  bool first = true;
  for (const Elf64_Phdr& ph : info.phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    int prot = SegmentProt(ph.p_flags);
    int flags = kMapPrivate;
    uint64_t total_size = 0;
    if (!first) {
      flags |= kMapFixed;
    } else if (!info.is_dyn) {
      flags |= kMapFixedNoReplace;
    } else {
      // PIE programs go at ELF_ET_DYN_BASE (randomised); loaders (ET_DYN without PT_INTERP,
      // e.g. static PIE or ld.so run directly) where mmap puts them, unless they ask for an
      // alignment above a page.
      total_size = info.total_mapping_size;
      uint64_t alignment = info.max_alignment;
      if (info.has_interp || alignment > kPage) {
        load_bias = ElfEtDynBase(opts.task_size);
        if (opts.randomize) {
          load_bias += (RandomU64() & ((uint64_t{1} << kMmapRndBits) - 1)) << 12;
        }
        if (alignment != 0) load_bias &= ~(alignment - 1);
        flags |= kMapFixedNoReplace;
      } else {
        load_bias = 0;
      }
      load_bias = PageStart(load_bias - ph.p_vaddr);
    }
    uint64_t map_addr = TRY(ElfLoad(mm, file, load_bias + ph.p_vaddr, ph, prot, flags, total_size));
    if (first) {
      first = false;
      if (info.is_dyn) load_bias += map_addr - PageStart(load_bias + ph.p_vaddr);
    }
    if (!SegmentInRange(ph, load_bias, opts.task_size)) return Errno::kEINVAL;
  }
  img.load_bias = load_bias;
  img.entry = info.header.e_entry + load_bias;
  img.phdr = info.phdr_vaddr + load_bias;
  img.brk = info.max_load_end + load_bias;
  if (img.entry >= opts.task_size) return Errno::kEINVAL;
  return img;
}

// load_elf_interp(): returns the interpreter's load address (AT_BASE).
Result<uint64_t> LoadInterp(mm::MemoryManager& mm,
                            const std::shared_ptr<fs::FileDescription>& file, const ElfInfo& info,
                            uint64_t no_base, const LoadOptions& opts) {
  uint64_t load_addr = 0;
  bool load_addr_set = false;
  uint64_t total_size = info.total_mapping_size;
  for (const Elf64_Phdr& ph : info.phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    int flags = kMapPrivate;
    if (!info.is_dyn || load_addr_set) {
      flags |= kMapFixed;
    } else if (no_base != 0) {
      load_addr = 0 - ph.p_vaddr;  // hint 0: let mmap choose
    }
    uint64_t map_addr = TRY(ElfLoad(mm, file, load_addr + ph.p_vaddr, ph,
                                    SegmentProt(ph.p_flags), flags, total_size));
    total_size = 0;
    if (!load_addr_set && info.is_dyn) {
      load_addr = map_addr - PageStart(ph.p_vaddr);
      load_addr_set = true;
    }
    if (!SegmentInRange(ph, load_addr, opts.task_size)) return Errno::kENOMEM;
  }
  return load_addr;
}

// Reads and checks the PT_INTERP interpreter's headers (load_elf_binary: a short header read
// is EIO, anything that is not a valid x86-64 ELF is ELIBBAD).
Result<ElfInfo> ParseInterp(const std::shared_ptr<fs::FileDescription>& file,
                            const LoadOptions& opts) {
  std::string head = TRY(ReadHead(*file, sizeof(Elf64_Ehdr)));
  if (head.size() < sizeof(Elf64_Ehdr)) return Errno::kEIO;
  auto info = ParseElf(FileReader(file), ParseOptions{opts.task_size});
  if (!info.ok()) return info.error() == Errno::kENOEXEC ? Errno::kELIBBAD : info.error();
  if (!file->Mappable()) return Errno::kELIBBAD;
  return info;
}

// Maps the main stack and writes the initial stack contents (setup_arg_pages and
// create_elf_tables).
Result<StackLayout> SetupStack(mm::MemoryManager& mm, const StackInput& in, bool exec_stack,
                               const LoadOptions& opts) {
  StackLayout layout = TRY(BuildInitialStack(in));
  uint64_t needed = PageAlign(layout.bytes.size());
  uint64_t size = std::max(needed, std::min(PageStart(opts.stack_rlimit), needed + kStackExpand));
  TRY(mm.MapStack(UserAddr(in.top), size));
  if (exec_stack) {
    TRY(mm.MProtect(UserAddr(in.top - size), size, kProtRead | kProtWrite | kProtExec));
  }
  TRY(usermem::CopyOutFull(mm, UserAddr(layout.sp), layout.bytes));
  return layout;
}

}  // namespace

Result<LoadedImage> LoadExecutable(mm::MemoryManager& mm, const OpenFn& open,
                                   const ExecArgs& args, const AuxvInfo& aux,
                                   const LoadOptions& opts) {
  // do_execveat_common: open the file, then account for the argument strings.
  std::shared_ptr<fs::FileDescription> file = TRY(open(args.filename));
  ArgSpace space = TRY(ComputeArgSpace(args, opts.stack_rlimit));
  std::vector<std::string> argv = args.argv;
  // Linux >= 5.18: an empty argv gets argv[0] = "" so argc is never 0.
  if (argv.empty()) {
    argv.emplace_back();
    TRY(space.CheckTotal(args.filename, argv, args.envp));
  }

  // exec_binprm: follow "#!" interpreters (load_script) until an ELF.
  std::string interp_name = args.filename;  // bprm->interp
  std::string exec_path = args.filename;
  for (int depth = 0;; ++depth) {
    if (depth > kMaxBinfmtDepth) return Errno::kELOOP;
    std::string head = TRY(ReadHead(*file, kBinprmBufSize));
    if (!IsScript(head)) break;
    ScriptInterp s = TRY(ParseScript(head));
    // remove_arg_zero, then push interp name, optional argument, and the script's name.
    std::vector<std::string> next;
    next.reserve(argv.size() + 2);
    next.push_back(s.name);
    if (s.arg) next.push_back(*s.arg);
    next.push_back(interp_name);
    next.insert(next.end(), argv.begin() + 1, argv.end());
    argv = std::move(next);
    TRY(space.CheckTotal(args.filename, argv, args.envp));
    interp_name = s.name;
    exec_path = s.name;
    file = TRY(open(s.name));
  }

  // load_elf_binary: everything that can fail with an errno is checked before mapping.
  ElfInfo info = TRY(ParseElf(FileReader(file), ParseOptions{opts.task_size}));
  if (!file->Mappable()) return Errno::kENOEXEC;
  std::shared_ptr<fs::FileDescription> interp_file;
  ElfInfo interp_info;
  if (info.has_interp) {
    interp_file = TRY(open(info.interp));
    interp_info = TRY(ParseInterp(interp_file, opts));
  }
  UserAddr top = mm.stack_top();
  if (PageOffset(top.value()) != 0 || top.value() > opts.task_size) return Errno::kEINVAL;

  // Point of no return: from here on errors leave `mm` half-built.
  mm.SetStackLimit(opts.stack_rlimit);
  MainImage img = TRY(LoadMain(mm, file, info, opts));
  uint64_t entry = img.entry;
  uint64_t interp_base = 0;
  if (info.has_interp) {
    interp_base = TRY(LoadInterp(mm, interp_file, interp_info, img.load_bias, opts));
    entry = interp_base + interp_info.header.e_entry;
    if (entry >= opts.task_size) return Errno::kEINVAL;
  }

  uint64_t brk = PageAlign(img.brk);
  if (opts.randomize) {
    // Loaders run directly get their brk out of the mmap area, at ELF_ET_DYN_BASE; others a
    // one-page gap after .bss. Then arch_randomize_brk.
    brk = (info.is_dyn && !info.has_interp) ? ElfEtDynBase(opts.task_size) : brk + kPage;
    brk = RandomizePage(brk, kBrkRandomRange);
  }
  mm.SetBrkBase(UserAddr(brk));

  StackInput in;
  in.top = top.value();
  in.argv = &argv;
  in.envp = &args.envp;
  in.execfn = args.filename;
  in.image = ImageAuxv{img.phdr, info.header.e_phnum, interp_base, img.entry};
  in.aux = aux;
  FillRandom(in.random.data(), in.random.size());
  if (opts.randomize) in.align_random = RandomU64() % 8192;
  StackLayout layout = TRY(SetupStack(mm, in, info.exec_stack, opts));

  LoadedImage out;
  out.entry = UserAddr(entry);
  out.stack_pointer = UserAddr(layout.sp);
  out.exec_path = std::move(exec_path);
  out.argv = std::move(argv);
  out.file = std::move(file);
  out.interp_path = info.interp;
  out.load_bias = UserAddr(img.load_bias);
  out.interp_base = UserAddr(interp_base);
  out.brk = UserAddr(brk);
  out.stack_top = top;
  out.exec_stack = info.exec_stack;
  out.arg_start = UserAddr(layout.arg_start);
  out.arg_end = UserAddr(layout.arg_end);
  out.env_start = UserAddr(layout.env_start);
  out.env_end = UserAddr(layout.env_end);
  out.auxv = std::move(layout.auxv);
  return out;
}

}  // namespace sbx::loader
