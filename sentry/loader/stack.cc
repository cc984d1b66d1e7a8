// Initial stack layout: see stack.h.
#include "sentry/loader/stack.h"

#include <sys/auxv.h>

#include <cstring>

namespace sbx::loader {
namespace {

constexpr std::string_view kPlatform = "x86_64";  // ELF_PLATFORM: utsname()->machine
constexpr uint64_t kClockTicks = 100;             // CLOCKS_PER_SEC (USER_HZ)
constexpr uint64_t kPageSize = 4096;              // ELF_EXEC_PAGESIZE
constexpr uint64_t kPhent = 56;                   // sizeof(Elf64_Phdr)

}  // namespace

AuxvInfo HostAuxvDefaults() {
  AuxvInfo a;
  a.hwcap = getauxval(AT_HWCAP);
  a.hwcap2 = getauxval(AT_HWCAP2);
  a.minsigstksz = getauxval(kAtMinsigstksz);  // 0 on kernels that do not report it
  return a;
}

Result<StackLayout> BuildInitialStack(const StackInput& in) {
  if (in.top % kPageSize != 0 || in.argv == nullptr || in.envp == nullptr) {
    return Errno::kEINVAL;
  }
  const auto& argv = *in.argv;
  const auto& envp = *in.envp;

  // Total bytes needed, checked against `top` before any address arithmetic.
  uint64_t strings = 8 + in.execfn.size() + 1;
  for (const auto& s : argv) strings += s.size() + 1;
  for (const auto& s : envp) strings += s.size() + 1;
  uint64_t items = (argv.size() + 1) + (envp.size() + 1) + 1;
  constexpr uint64_t kMaxAuxvWords = 2 * 32;
  uint64_t worst = strings + 8192 + 16 + kPlatform.size() + 1 + 16 + 16 +
                   8 * (items + kMaxAuxvWords);
  if (worst >= in.top || strings > (uint64_t{1} << 40)) return Errno::kEINVAL;

  StackLayout out;
  // Strings, copied downwards: the exec filename first (highest), then envp, then argv.
  uint64_t p = in.top - 8;
  p -= in.execfn.size() + 1;
  out.execfn_addr = p;
  std::vector<uint64_t> env_addr(envp.size()), arg_addr(argv.size());
  for (size_t i = envp.size(); i-- > 0;) {
    p -= envp[i].size() + 1;
    env_addr[i] = p;
  }
  out.env_start = p;
  for (size_t i = argv.size(); i-- > 0;) {
    p -= argv[i].size() + 1;
    arg_addr[i] = p;
  }
  out.arg_start = p;
  out.arg_end = out.env_start;
  out.env_end = out.execfn_addr;

  // create_elf_tables.
  p = (p - in.align_random) & ~uint64_t{15};
  p -= kPlatform.size() + 1;
  out.platform_addr = p;
  p -= in.random.size();
  out.random_addr = p;

  auto& auxv = out.auxv;
  // ARCH_DLINFO: AT_SYSINFO_EHDR (omitted: no vDSO yet), AT_MINSIGSTKSZ.
  auxv.emplace_back(kAtMinsigstksz, in.aux.minsigstksz);
  auxv.emplace_back(kAtHwcap, in.aux.hwcap);
  auxv.emplace_back(kAtPagesz, kPageSize);
  auxv.emplace_back(kAtClktck, kClockTicks);
  auxv.emplace_back(kAtPhdr, in.image.phdr);
  auxv.emplace_back(kAtPhent, kPhent);
  auxv.emplace_back(kAtPhnum, in.image.phnum);
  auxv.emplace_back(kAtBase, in.image.base);
  auxv.emplace_back(kAtFlags, 0);
  auxv.emplace_back(kAtEntry, in.image.entry);
  auxv.emplace_back(kAtUid, in.aux.uid);
  auxv.emplace_back(kAtEuid, in.aux.euid);
  auxv.emplace_back(kAtGid, in.aux.gid);
  auxv.emplace_back(kAtEgid, in.aux.egid);
  auxv.emplace_back(kAtSecure, in.aux.secure ? 1 : 0);
  auxv.emplace_back(kAtRandom, out.random_addr);
  auxv.emplace_back(kAtHwcap2, in.aux.hwcap2);
  auxv.emplace_back(kAtExecfn, out.execfn_addr);
  auxv.emplace_back(kAtPlatform, out.platform_addr);
  // No AT_RSEQ_*: rseq(2) is not supported.
  auxv.emplace_back(kAtNull, 0);

  uint64_t sp = p - 8 * (2 * auxv.size());     // STACK_ADD(p, ei_index)
  sp = (sp - 8 * items) & ~uint64_t{15};       // STACK_ROUND(sp, items)
  out.sp = sp;

  out.bytes.assign(in.top - sp, std::byte{0});
  auto put = [&](uint64_t addr, const void* src, size_t len) {
    std::memcpy(out.bytes.data() + (addr - sp), src, len);
  };
  auto put_word = [&](uint64_t addr, uint64_t v) { put(addr, &v, sizeof(v)); };
  auto put_str = [&](uint64_t addr, std::string_view s) {
    put(addr, s.data(), s.size());  // the NUL is already there (zero-filled)
  };

  put_str(out.execfn_addr, in.execfn);
  for (size_t i = 0; i < envp.size(); ++i) put_str(env_addr[i], envp[i]);
  for (size_t i = 0; i < argv.size(); ++i) put_str(arg_addr[i], argv[i]);
  put_str(out.platform_addr, kPlatform);
  put(out.random_addr, in.random.data(), in.random.size());

  uint64_t w = sp;
  put_word(w, argv.size());
  w += 8;
  for (uint64_t a : arg_addr) { put_word(w, a); w += 8; }
  put_word(w, 0);
  w += 8;
  for (uint64_t a : env_addr) { put_word(w, a); w += 8; }
  put_word(w, 0);
  w += 8;
  for (const auto& [k, v] : auxv) {
    put_word(w, k);
    put_word(w + 8, v);
    w += 16;
  }
  return out;
}

}  // namespace sbx::loader
