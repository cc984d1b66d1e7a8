// The initial process stack of a new image (Linux create_elf_tables() in fs/binfmt_elf.c and
// the string copying of do_execveat_common() in fs/exec.c).
//
// BuildInitialStack is pure: it computes the byte image of [sp, top) and the addresses the
// kernel records (arg_start/arg_end/env_start/env_end, auxv), and the loader copies it out.
// Layout, from the top (a page-aligned stack_top) down:
//   8 zero bytes | AT_EXECFN string | envp strings | argv strings           (fs/exec.c)
//   align: p = (p - random[0, 8192)) & ~15                                  (arch_align_stack)
//   "x86_64\0" (AT_PLATFORM) | 16 AT_RANDOM bytes
//   gap to 16-byte alignment | argc | argv[] | NULL | envp[] | NULL | auxv pairs .. AT_NULL
// so the final stack pointer (pointing at argc) is 16-byte aligned, as the x86-64 ABI requires.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sentry/abi/result.h"

namespace sbx::loader {

// Auxiliary vector keys (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h).
inline constexpr uint64_t kAtNull = 0, kAtPhdr = 3, kAtPhent = 4, kAtPhnum = 5, kAtPagesz = 6,
                          kAtBase = 7, kAtFlags = 8, kAtEntry = 9, kAtUid = 11, kAtEuid = 12,
                          kAtGid = 13, kAtEgid = 14, kAtPlatform = 15, kAtHwcap = 16,
                          kAtClktck = 17, kAtSecure = 23, kAtRandom = 25, kAtHwcap2 = 26,
                          kAtExecfn = 31, kAtSysinfoEhdr = 33, kAtMinsigstksz = 51;

// MAX_ARG_STRLEN: the longest single argv/envp string, including its NUL (32 pages).
inline constexpr uint64_t kMaxArgStrlen = 32 * 4096;
// MAX_ARG_STRINGS.
inline constexpr uint64_t kMaxArgStrings = 0x7fffffff;

// Per-process values of the auxiliary vector that come from the caller (credentials, CPU).
struct AuxvInfo {
  uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
  bool secure = false;      // AT_SECURE (setuid-style exec)
  uint64_t hwcap = 0;       // AT_HWCAP: CPUID.1:EDX on x86
  uint64_t hwcap2 = 0;      // AT_HWCAP2
  uint64_t minsigstksz = 0; // AT_MINSIGSTKSZ: the signal frame size the sentry uses
};

// The host's AT_HWCAP/AT_HWCAP2/AT_MINSIGSTKSZ (getauxval), for callers without better data.
AuxvInfo HostAuxvDefaults();

// Values of the loaded image that go into the auxv.
struct ImageAuxv {
  uint64_t phdr = 0;   // AT_PHDR
  uint64_t phnum = 0;  // AT_PHNUM
  uint64_t base = 0;   // AT_BASE: interpreter load address, 0 without one
  uint64_t entry = 0;  // AT_ENTRY: the main executable's entry point
};

struct StackInput {
  uint64_t top = 0;  // page-aligned end of the stack VMA
  const std::vector<std::string>* argv = nullptr;
  const std::vector<std::string>* envp = nullptr;
  std::string execfn;  // AT_EXECFN: the path passed to execve
  ImageAuxv image;
  AuxvInfo aux;
  std::array<uint8_t, 16> random{};  // AT_RANDOM bytes
  uint64_t align_random = 0;         // arch_align_stack's random offset, < 8192 (0: no ASLR)
};

struct StackLayout {
  uint64_t sp = 0;               // initial rsp (points at argc); 16-byte aligned
  std::vector<std::byte> bytes;  // contents of [sp, top)
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;  // mm->arg_start & co.
  uint64_t execfn_addr = 0, platform_addr = 0, random_addr = 0;
  std::vector<std::pair<uint64_t, uint64_t>> auxv;  // as written, ending with AT_NULL
};

// Lays out the initial stack. EINVAL if `top` is not page aligned or the image would not fit
// below it (the caller has already enforced the E2BIG limits).
Result<StackLayout> BuildInitialStack(const StackInput& in);

}  // namespace sbx::loader
