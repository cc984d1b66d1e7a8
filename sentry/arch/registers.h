// x86-64 guest register state. Layout is exactly the kernel's `struct user_regs_struct`
// (arch/x86/include/asm/user_64.h), so the ptrace platform can PTRACE_GETREGS into it directly.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sbx::arch {

struct Registers {
  uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi;
  uint64_t orig_rax, rip, cs, eflags, rsp, ss, fs_base, gs_base, ds, es, fs, gs;
};
static_assert(sizeof(Registers) == 27 * 8);
static_assert(offsetof(Registers, orig_rax) == 15 * 8);
static_assert(offsetof(Registers, fs_base) == 21 * 8);

// User-mode segment selectors on x86-64 Linux.
inline constexpr uint64_t kUserCS = 0x33;
inline constexpr uint64_t kUserDS = 0x2b;

// The x86-64 syscall ABI: number in orig_rax (rax at entry), args rdi rsi rdx r10 r8 r9.
inline uint64_t SyscallArg(const Registers& r, int i) {
  switch (i) {
    case 0: return r.rdi;
    case 1: return r.rsi;
    case 2: return r.rdx;
    case 3: return r.r10;
    case 4: return r.r8;
    default: return r.r9;
  }
}

// Legacy FXSAVE area (512 bytes) plus room for XSAVE extended state; used for signal frames.
struct alignas(64) FPState {
  uint8_t data[4096];
  uint32_t size = 512;  // bytes of `data` that are valid
};

}  // namespace sbx::arch
