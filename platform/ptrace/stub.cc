// Generates the stub page (see stub.h for the layout and its invariants).
#include "platform/ptrace/stub.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <vector>

#include <xbyak/xbyak.h>

namespace sbx::platform::ptrace {
namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kProgOffset = 2048;    // struct sock_fprog
constexpr size_t kFilterOffset = 2064;  // struct sock_filter[]
constexpr size_t kMaxCode = kProgOffset;

class StubGenerator : public Xbyak::CodeGenerator {
 public:
  StubGenerator(uint64_t start, int sentry_pid)
      : Xbyak::CodeGenerator(kMaxCode, Xbyak::DontSetProtectRWE) {
    using namespace Xbyak;
    Label die, park, child;
    const uint64_t region_end = start + kStubRegionSize;

    entry_ = getSize();
    // munmap(0, start): everything the fork inherited below the stub region.
    mov(eax, SYS_munmap);
    xor_(edi, edi);
    mov(rsi, start);
    Sys();
    test(rax, rax);
    jnz(die, T_NEAR);
    if (region_end < kTaskSize) {  // ...and above it (host stack, vdso, vvar).
      mov(eax, SYS_munmap);
      mov(rdi, region_end);
      mov(rsi, kTaskSize - region_end);
      Sys();
      test(rax, rax);
      jnz(die, T_NEAR);
    }
    mov(eax, SYS_prctl);
    mov(edi, PR_SET_NO_NEW_PRIVS);
    mov(esi, 1);
    xor_(edx, edx);
    xor_(r10d, r10d);
    xor_(r8d, r8d);
    Sys();
    test(rax, rax);
    jnz(die, T_NEAR);
    mov(eax, SYS_seccomp);
    mov(edi, SECCOMP_SET_MODE_FILTER);
    xor_(esi, esi);
    mov(rdx, start + kProgOffset);
    Sys();
    test(rax, rax);
    jnz(die, T_NEAR);
    jmp(park, T_NEAR);

    L(die);
    mov(eax, SYS_exit_group);
    mov(edi, 111);
    Sys();
    ud2();

    align(16);
    L(park);
    park_ = getSize();
    mov(eax, SYS_pause);
    Sys();
    park_resume_ = getSize();
    jmp(park, T_NEAR);

    align(16);
    inject_ = getSize();
    Sys();
    int3();
    inject_trap_ = getSize();
    jmp(park, T_NEAR);

    align(16);
    clone_ = getSize();
    Sys();
    test(rax, rax);
    jz(child, T_NEAR);
    int3();
    clone_trap_ = getSize();
    jmp(park, T_NEAR);

    L(child);
    mov(eax, SYS_prctl);
    mov(edi, PR_SET_PDEATHSIG);
    mov(esi, SIGKILL);
    Sys();
    mov(eax, SYS_getppid);
    Sys();
    cmp(rax, sentry_pid);
    jne(die, T_NEAR);
    // The birth spare: a parked thread that a second Context can seize without asking the
    // first one (see README.md, "Threads"). r12 survives the park loop.
    mov(eax, SYS_clone);
    mov(edi, kStubThreadCloneFlags);
    xor_(esi, esi);
    xor_(edx, edx);
    xor_(r10d, r10d);
    xor_(r8d, r8d);
    Sys();
    test(rax, rax);
    jz(park, T_NEAR);  // the new thread
    mov(r12, rax);
    jmp(park, T_NEAR);

    align(16);
    clone_thread_ = getSize();
    Sys();
    test(rax, rax);
    jz(park, T_NEAR);  // the child thread parks; its tracer-to-be seizes it there
    int3();
    clone_thread_trap_ = getSize();
    jmp(park, T_NEAR);
    ready();
  }

  // Emits `syscall` and records the address seccomp will see for it (the next instruction).
  void Sys() {
    syscall();
    syscall_ips_.push_back(getSize());
  }

  size_t entry_ = 0, park_ = 0, park_resume_ = 0, inject_ = 0, inject_trap_ = 0, clone_ = 0,
         clone_trap_ = 0, clone_thread_ = 0, clone_thread_trap_ = 0;
  std::vector<size_t> syscall_ips_;
};

// Kill unless arch is x86-64 and the instruction pointer is one of `ips`.
std::vector<sock_filter> BuildFilter(uint64_t start, const std::vector<size_t>& ips) {
  std::vector<sock_filter> f;
  const size_t n = ips.size();
  // Instruction indices: 0 ld arch, 1 jeq arch, 2 ld ip_hi, 3 jeq hi, 4 ld ip_lo,
  // 5..5+n-1 jeq lo_i, 5+n kill, 6+n allow.
  const size_t kill = 5 + n, allow = 6 + n;
  auto jf = [&](size_t self, size_t target) { return static_cast<uint8_t>(target - self - 1); };
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, jf(1, kill)));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, instruction_pointer) + 4));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(start >> 32), 0,
                       jf(3, kill)));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, instruction_pointer)));
  for (size_t i = 0; i < n; ++i) {
    const size_t self = 5 + i;
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(start + ips[i]),
                         jf(self, allow), 0));
  }
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return f;
}

}  // namespace

bool InstallStub(int sentry_pid, StubLayout* layout, std::string* error) {
  void* page = MAP_FAILED;
  uint64_t start = kStubPreferredStart;
  for (int i = 0; i < 4096 && start >= 0x100000000000; ++i, start -= kStubRegionSize) {
    // Reserve the whole region so the sentry never places anything else there either.
    void* p = mmap(reinterpret_cast<void*>(start), kStubRegionSize, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) continue;
    if (reinterpret_cast<uint64_t>(p) != start) {  // pre-4.17 kernels ignore NOREPLACE
      munmap(p, kStubRegionSize);
      continue;
    }
    page = p;
    break;
  }
  if (page == MAP_FAILED) {
    *error = "ptrace stub: no free 64 KiB slot near the top of the address space";
    return false;
  }

  std::vector<size_t> ips;
  std::vector<uint8_t> code;
  StubLayout l;
  try {
    StubGenerator gen(start, sentry_pid);
    code.assign(gen.getCode(), gen.getCode() + gen.getSize());
    ips = gen.syscall_ips_;
    l.start = start;
    l.entry = start + gen.entry_;
    l.park = start + gen.park_;
    l.park_resume = start + gen.park_resume_;
    l.inject = start + gen.inject_;
    l.inject_trap = start + gen.inject_trap_;
    l.clone = start + gen.clone_;
    l.clone_trap = start + gen.clone_trap_;
    l.clone_thread = start + gen.clone_thread_;
    l.clone_thread_trap = start + gen.clone_thread_trap_;
  } catch (const std::exception& e) {
    *error = std::string("ptrace stub: code generation failed: ") + e.what();
    munmap(page, kStubRegionSize);
    return false;
  }
  std::vector<sock_filter> filter = BuildFilter(start, ips);
  if (kFilterOffset + filter.size() * sizeof(sock_filter) > kPage || ips.size() > 200) {
    *error = "ptrace stub: seccomp filter does not fit the stub page";
    munmap(page, kStubRegionSize);
    return false;
  }
  if (mprotect(page, kPage, PROT_READ | PROT_WRITE) != 0) {
    *error = std::string("ptrace stub: mprotect: ") + strerror(errno);
    munmap(page, kStubRegionSize);
    return false;
  }
  auto* bytes = static_cast<uint8_t*>(page);
  memset(bytes, 0xcc, kProgOffset);  // int3 padding
  memcpy(bytes, code.data(), code.size());
  memcpy(bytes + kFilterOffset, filter.data(), filter.size() * sizeof(sock_filter));
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(filter.size());
  prog.filter = reinterpret_cast<sock_filter*>(start + kFilterOffset);
  static_assert(sizeof(sock_fprog) <= kFilterOffset - kProgOffset);
  memcpy(bytes + kProgOffset, &prog, sizeof(prog));
  if (mprotect(page, kPage, PROT_READ | PROT_EXEC) != 0) {
    *error = std::string("ptrace stub: mprotect: ") + strerror(errno);
    munmap(page, kStubRegionSize);
    return false;
  }
  *layout = l;
  return true;
}

}  // namespace sbx::platform::ptrace
