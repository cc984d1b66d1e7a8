// BuildInitialStack: the create_elf_tables layout, read back from the byte image.
#include "sentry/loader/stack.h"

#include <cstring>
#include <map>

#include "gtest/gtest.h"

namespace sbx::loader {
namespace {

constexpr uint64_t kTop = 0x7ffffffde000;

uint64_t Word(const StackLayout& l, uint64_t addr) {
  uint64_t v;
  std::memcpy(&v, l.bytes.data() + (addr - l.sp), 8);
  return v;
}

std::string Str(const StackLayout& l, uint64_t addr) {
  return std::string(reinterpret_cast<const char*>(l.bytes.data() + (addr - l.sp)));
}

StackLayout Build(const std::vector<std::string>& argv, const std::vector<std::string>& envp,
                  uint64_t align_random) {
  StackInput in;
  in.top = kTop;
  in.argv = &argv;
  in.envp = &envp;
  in.execfn = "/bin/prog";
  in.image = ImageAuxv{0x555555554040, 13, 0x7ffff7fc3000, 0x555555555060};
  in.aux.uid = 1000;
  in.aux.euid = 1001;
  in.aux.gid = 1002;
  in.aux.egid = 1003;
  in.aux.hwcap = 0x178bfbff;
  in.aux.hwcap2 = 2;
  in.aux.minsigstksz = 3632;
  for (int i = 0; i < 16; ++i) in.random[i] = i + 1;
  in.align_random = align_random;
  auto r = BuildInitialStack(in);
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

TEST(StackTest, LayoutMatchesCreateElfTables) {
  std::vector<std::string> argv = {"prog", "-x", ""};
  std::vector<std::string> envp = {"A=1", "PATH=/bin"};
  for (uint64_t rnd : {0, 1, 8, 15, 4097, 8191}) {
    StackLayout l = Build(argv, envp, rnd);
    EXPECT_EQ(l.sp % 16, 0u);
    EXPECT_EQ(l.sp + l.bytes.size(), kTop);
    EXPECT_EQ(Word(l, l.sp), 3u);  // argc
    for (size_t i = 0; i < argv.size(); ++i) EXPECT_EQ(Str(l, Word(l, l.sp + 8 + 8 * i)), argv[i]);
    EXPECT_EQ(Word(l, l.sp + 8 + 8 * 3), 0u);
    uint64_t envv = l.sp + 8 + 8 * 4;
    for (size_t i = 0; i < envp.size(); ++i) EXPECT_EQ(Str(l, Word(l, envv + 8 * i)), envp[i]);
    EXPECT_EQ(Word(l, envv + 8 * 2), 0u);
    // auxv follows envp's NULL and matches l.auxv.
    uint64_t a = envv + 8 * 3;
    std::map<uint64_t, uint64_t> aux;
    for (const auto& [k, v] : l.auxv) {
      EXPECT_EQ(Word(l, a), k);
      EXPECT_EQ(Word(l, a + 8), v);
      aux[k] = v;
      a += 16;
    }
    EXPECT_EQ(l.auxv.back().first, kAtNull);
    EXPECT_LE(a, l.random_addr);
    EXPECT_LT(l.random_addr - a, 16u);  // only the 16-byte rounding gap
    EXPECT_EQ(aux[kAtPhdr], 0x555555554040u);
    EXPECT_EQ(aux[kAtPhent], 56u);
    EXPECT_EQ(aux[kAtPhnum], 13u);
    EXPECT_EQ(aux[kAtPagesz], 4096u);
    EXPECT_EQ(aux[kAtBase], 0x7ffff7fc3000u);
    EXPECT_EQ(aux[kAtFlags], 0u);
    EXPECT_EQ(aux[kAtEntry], 0x555555555060u);
    EXPECT_EQ(aux[kAtUid], 1000u);
    EXPECT_EQ(aux[kAtEuid], 1001u);
    EXPECT_EQ(aux[kAtGid], 1002u);
    EXPECT_EQ(aux[kAtEgid], 1003u);
    EXPECT_EQ(aux[kAtSecure], 0u);
    EXPECT_EQ(aux[kAtHwcap], 0x178bfbffu);
    EXPECT_EQ(aux[kAtHwcap2], 2u);
    EXPECT_EQ(aux[kAtClktck], 100u);
    EXPECT_EQ(aux[kAtMinsigstksz], 3632u);
    EXPECT_EQ(aux.count(kAtSysinfoEhdr), 0u);
    EXPECT_EQ(Str(l, aux[kAtExecfn]), "/bin/prog");
    EXPECT_EQ(Str(l, aux[kAtPlatform]), "x86_64");
    EXPECT_EQ(aux[kAtRandom], l.random_addr);
    for (int i = 0; i < 16; ++i) {
      EXPECT_EQ(static_cast<uint8_t>(l.bytes[l.random_addr - l.sp + i]), i + 1);
    }
    // Strings: argv, then envp, then the exec filename, then 8 zero bytes at the top.
    EXPECT_EQ(l.arg_start, Word(l, l.sp + 8));
    EXPECT_EQ(l.arg_end, l.env_start);
    EXPECT_EQ(l.env_start, Word(l, envv));
    EXPECT_EQ(l.env_end, aux[kAtExecfn]);
    EXPECT_EQ(l.arg_end - l.arg_start, 5u + 3u + 1u);
    EXPECT_EQ(aux[kAtExecfn] + 10, kTop - 8);
    EXPECT_EQ(Word(l, kTop - 8), 0u);
    // The platform string sits just below the aligned string area.
    EXPECT_EQ(l.platform_addr + 7, (l.arg_start - rnd) & ~uint64_t{15});
  }
}

TEST(StackTest, AlignmentForAllParities) {
  // argc/envc parity and string lengths change the rounding; rsp is always 16-byte aligned.
  for (int argc = 0; argc < 6; ++argc) {
    for (int envc = 0; envc < 4; ++envc) {
      std::vector<std::string> argv, envp;
      for (int i = 0; i < argc; ++i) argv.push_back(std::string(i * 3 + 1, 'a'));
      for (int i = 0; i < envc; ++i) envp.push_back(std::string(i + 2, 'e'));
      StackLayout l = Build(argv, envp, 0);
      EXPECT_EQ(l.sp % 16, 0u);
      EXPECT_EQ(Word(l, l.sp), static_cast<uint64_t>(argc));
    }
  }
}

TEST(StackTest, RejectsBadTop) {
  std::vector<std::string> v;
  StackInput in;
  in.argv = &v;
  in.envp = &v;
  in.top = kTop + 1;
  EXPECT_FALSE(BuildInitialStack(in).ok());
  in.top = 4096;  // too low to hold anything
  EXPECT_FALSE(BuildInitialStack(in).ok());
}

}  // namespace
}  // namespace sbx::loader

namespace sbx::loader {
namespace {

// Oracle from the host kernel (Linux 6.18, `env -i A=1 HOME=/root setarch -R ./dump arg1 "" x`
// printing its argv/envp pointers and getauxval values): every string lands at the same
// address. The pointer area sits 48 bytes lower on the host because it has three auxv entries
// we do not (AT_SYSINFO_EHDR, AT_RSEQ_FEATURE_SIZE, AT_RSEQ_ALIGN).
TEST(StackTest, StringsMatchHostKernel) {
  std::vector<std::string> argv = {"./dump", "arg1", "", "x"}, envp = {"A=1", "HOME=/root"};
  StackInput in;
  in.top = 0x7ffffffff000;
  in.argv = &argv;
  in.envp = &envp;
  in.execfn = "./dump";
  auto r = BuildInitialStack(in);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->arg_start, 0x7fffffffefd3u);
  EXPECT_EQ(r->env_start, 0x7fffffffefe2u);
  EXPECT_EQ(r->execfn_addr, 0x7fffffffeff1u);
  EXPECT_EQ(r->platform_addr, 0x7fffffffefc9u);
  EXPECT_EQ(r->random_addr, 0x7fffffffefb9u);
  EXPECT_EQ(r->sp + 8, 0x7fffffffee08u + 3 * 16);
}

}  // namespace
}  // namespace sbx::loader
