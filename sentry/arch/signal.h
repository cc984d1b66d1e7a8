// x86-64 signal-delivery ABI: siginfo, sigcontext, ucontext, the rt_sigframe the kernel pushes
// on the guest stack, and the software bytes that tag an XSAVE image in a signal frame.
// Layouts follow include/uapi/asm-generic/siginfo.h, arch/x86/include/uapi/asm/sigcontext.h,
// arch/x86/include/uapi/asm/ucontext.h and arch/x86/include/asm/sigframe.h; every struct has
// static_asserts on size and offsets. Never use host libc's types for these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sbx::arch {

// siginfo_t (128 bytes). The union starts at offset 16 (8-byte aligned on x86-64).
struct Siginfo {
  int32_t si_signo = 0;
  int32_t si_errno = 0;
  int32_t si_code = 0;
  int32_t pad0 = 0;
  uint8_t fields[112] = {};

  // _kill / _rt / _sigchld: pid at 16, uid at 20; _rt si_value / _sigchld status at 24.
  void set_pid(int32_t v) { std::memcpy(fields + 0, &v, 4); }
  void set_uid(uint32_t v) { std::memcpy(fields + 4, &v, 4); }
  void set_value(uint64_t v) { std::memcpy(fields + 8, &v, 8); }
  // _sigfault: si_addr at 16.
  void set_addr(uint64_t v) { std::memcpy(fields + 0, &v, 8); }
  // _sigchld: si_status at 24, si_utime at 32, si_stime at 40 (clock ticks).
  void set_status(int32_t v) { std::memcpy(fields + 8, &v, 4); }
  void set_utime(int64_t v) { std::memcpy(fields + 16, &v, 8); }
  void set_stime(int64_t v) { std::memcpy(fields + 24, &v, 8); }
  int32_t pid() const { int32_t v; std::memcpy(&v, fields, 4); return v; }
  uint64_t addr() const { uint64_t v; std::memcpy(&v, fields, 8); return v; }
};
static_assert(sizeof(Siginfo) == 128 && offsetof(Siginfo, fields) == 16);

// si_code values (include/uapi/asm-generic/siginfo.h).
inline constexpr int32_t kSiUser = 0, kSiKernel = 0x80, kSiQueue = -1, kSiTkill = -6;
inline constexpr int32_t kSegvMaperr = 1, kSegvAccerr = 2;
// SIGCHLD si_code values.
inline constexpr int32_t kCldExited = 1, kCldKilled = 2, kCldDumped = 3, kCldTrapped = 4,
                         kCldStopped = 5, kCldContinued = 6;

// struct sigcontext (64-bit).
struct Sigcontext {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
  uint16_t cs, gs, fs, ss;
  uint64_t err, trapno, oldmask, cr2;
  uint64_t fpstate;  // user address of the FXSAVE/XSAVE image, or 0
  uint64_t reserved1[8];
};
static_assert(sizeof(Sigcontext) == 256);
static_assert(offsetof(Sigcontext, rip) == 128 && offsetof(Sigcontext, cs) == 144);
static_assert(offsetof(Sigcontext, err) == 152 && offsetof(Sigcontext, fpstate) == 184);

// stack_t as embedded in the ucontext.
struct SigStack {
  uint64_t ss_sp;
  int32_t ss_flags;
  int32_t pad;
  uint64_t ss_size;
};
static_assert(sizeof(SigStack) == 24);

// struct ucontext (x86-64 uapi).
struct Ucontext {
  uint64_t uc_flags;
  uint64_t uc_link;
  SigStack uc_stack;
  Sigcontext uc_mcontext;
  uint64_t uc_sigmask;
};
static_assert(sizeof(Ucontext) == 304);
static_assert(offsetof(Ucontext, uc_mcontext) == 40 && offsetof(Ucontext, uc_sigmask) == 296);

inline constexpr uint64_t kUcFpXstate = 0x1, kUcSigcontextSs = 0x2, kUcStrictRestoreSs = 0x4;

// struct rt_sigframe (64-bit): the return address popped by `ret` in the handler, then the
// ucontext and siginfo. The FP image lives above it (64-byte aligned).
struct RtSigframe {
  uint64_t pretcode;
  Ucontext uc;
  Siginfo info;
};
static_assert(sizeof(RtSigframe) == 440);
static_assert(offsetof(RtSigframe, uc) == 8 && offsetof(RtSigframe, info) == 312);

// struct _fpx_sw_bytes, stored in the FXSAVE area's software-reserved bytes 464..511.
struct FpxSwBytes {
  uint32_t magic1;
  uint32_t extended_size;  // xstate_size + FP_XSTATE_MAGIC2_SIZE
  uint64_t xfeatures;
  uint32_t xstate_size;
  uint32_t padding[7];
};
static_assert(sizeof(FpxSwBytes) == 48);
inline constexpr size_t kFpxSwBytesOffset = 464;
inline constexpr uint32_t kFpXstateMagic1 = 0x46505853;
inline constexpr uint32_t kFpXstateMagic2 = 0x46505845;
inline constexpr size_t kFpXstateMagic2Size = 4;
inline constexpr size_t kFxsaveSize = 512;
inline constexpr size_t kXsaveHeaderOffset = 512;  // XSTATE_BV (u64), XCOMP_BV (u64), 48 rsvd
inline constexpr size_t kMxcsrOffset = 24;

// EFLAGS bits.
inline constexpr uint64_t kFlagCF = 1ull << 0, kFlagPF = 1ull << 2, kFlagAF = 1ull << 4,
                          kFlagZF = 1ull << 6, kFlagSF = 1ull << 7, kFlagTF = 1ull << 8,
                          kFlagDF = 1ull << 10, kFlagOF = 1ull << 11, kFlagRF = 1ull << 16,
                          kFlagAC = 1ull << 18;
// FIX_EFLAGS (arch/x86/kernel/signal_64.c): the only bits rt_sigreturn takes from the frame.
inline constexpr uint64_t kFixEflags = kFlagAC | kFlagOF | kFlagDF | kFlagTF | kFlagSF |
                                       kFlagZF | kFlagAF | kFlagPF | kFlagCF | kFlagRF;

}  // namespace sbx::arch
