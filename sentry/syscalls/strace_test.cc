// strace rendering of representative calls, with a fake guest memory (no Task needed).
#include "sentry/syscalls/strace.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sbx::syscalls::strace {
namespace {

// One readable/writable guest region [kBase, kBase + size); everything else faults.
class FakeMemory : public usermem::UserMemory {
 public:
  static constexpr uint64_t kBase = 0x10000;
  explicit FakeMemory(size_t size) : bytes_(size) {}
  uint64_t Put(uint64_t off, std::string_view s) {
    std::copy(s.begin(), s.end(), bytes_.begin() + static_cast<ptrdiff_t>(off));
    return kBase + off;
  }
  Result<size_t> CopyOutBytes(usermem::UserAddr dst, std::span<const std::byte> src) override {
    size_t n = Avail(dst.value(), src.size());
    if (n == 0 && !src.empty()) return Errno::kEFAULT;
    std::memcpy(bytes_.data() + (dst.value() - kBase), src.data(), n);
    return n;
  }
  Result<size_t> CopyInBytes(usermem::UserAddr src, std::span<std::byte> dst) override {
    size_t n = Avail(src.value(), dst.size());
    if (n == 0 && !dst.empty()) return Errno::kEFAULT;
    std::memcpy(dst.data(), bytes_.data() + (src.value() - kBase), n);
    return n;
  }
  Result<size_t> ZeroOut(usermem::UserAddr dst, size_t len) override {
    return Errno::kEFAULT;
  }

 private:
  size_t Avail(uint64_t addr, size_t len) const {
    if (addr < kBase || addr >= kBase + bytes_.size()) return 0;
    return std::min<size_t>(len, kBase + bytes_.size() - addr);
  }
  std::vector<char> bytes_;
};

kernel::SyscallArgs Args(uint64_t nr, std::initializer_list<uint64_t> v) {
  kernel::SyscallArgs a;
  a.nr = nr;
  int i = 0;
  for (uint64_t x : v) a.a[i++] = x;
  return a;
}

std::string Trace(const kernel::SyscallArgs& a, FakeMemory* mem, kernel::SyscallResult r) {
  Call c = Begin(LookupSyscall(a.nr), a, mem);
  return Finish(c, mem, r, 7);
}

TEST(Strace, OpenatDecodesPathAndFlags) {
  FakeMemory mem(4096);
  uint64_t path = mem.Put(0, std::string("/etc/passwd\0", 12));
  EXPECT_EQ(Trace(Args(257, {static_cast<uint64_t>(-100), path, 02000000}), &mem, uint64_t{3}),
            "[pid 7] openat(AT_FDCWD, \"/etc/passwd\", O_RDONLY|O_CLOEXEC) = 3\n");
  // The mode is shown only with O_CREAT.
  EXPECT_EQ(Trace(Args(257, {5, path, 0101 | 01000, 0644}), &mem, Errno::kENOENT),
            "[pid 7] openat(5, \"/etc/passwd\", O_WRONLY|O_CREAT|O_TRUNC, 0644) = -1 ENOENT "
            "(No such file or directory)\n");
}

TEST(Strace, PathCopiedBeforeTheCall) {
  FakeMemory mem(4096);
  uint64_t path = mem.Put(0, std::string("/a\0", 3));
  Call c = Begin(LookupSyscall(2), Args(2, {path, 0}), &mem);
  mem.Put(0, std::string("/b\0", 3));  // the handler (or another thread) rewrites memory
  EXPECT_EQ(Finish(c, &mem, uint64_t{4}, 1), "[pid 1] open(\"/a\", O_RDONLY) = 4\n");
}

TEST(Strace, ReadBufferDecodedAfterTheCallAndTruncated) {
  FakeMemory mem(4096);
  uint64_t buf = FakeMemory::kBase + 100;
  Call c = Begin(LookupSyscall(0), Args(0, {3, buf, 832}), &mem);
  std::string elf("\177ELF\2\1\1\0", 8);
  elf += "0123456789012345678901234567890";
  mem.Put(100, elf);
  EXPECT_EQ(Finish(c, &mem, uint64_t{832}, 1),
            "[pid 1] read(3, \"\\177ELF\\2\\1\\1\\000012345678901234567890123\"..., 832) = "
            "832\n");
  // A failed read shows the pointer.
  Call c2 = Begin(LookupSyscall(0), Args(0, {3, buf, 10}), &mem);
  EXPECT_EQ(Finish(c2, &mem, Errno::kEBADF, 1),
            "[pid 1] read(3, 0x10064, 10) = -1 EBADF (Bad file descriptor)\n");
}

TEST(Strace, WriteBufferEscapes) {
  FakeMemory mem(4096);
  uint64_t buf = mem.Put(0, "say \"hi\"\\\n\t");
  EXPECT_EQ(Trace(Args(1, {1, buf, 11}), &mem, uint64_t{11}),
            "[pid 7] write(1, \"say \\\"hi\\\"\\\\\\n\\t\", 11) = 11\n");
}

TEST(Strace, MmapFlagsAndHexResult) {
  EXPECT_EQ(Trace(Args(9, {0, 8192, 3, 0x22, static_cast<uint64_t>(-1), 0}), nullptr,
                  uint64_t{0x7f0000001000}),
            "[pid 7] mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)"
            " = 0x7f0000001000\n");
  EXPECT_EQ(MmapProt(0), "PROT_NONE");
  EXPECT_EQ(MmapFlags(0x1 | 0x10 | 0x80000000), "MAP_SHARED|MAP_FIXED|0x80000000");
}

TEST(Strace, BadPointersAndNull) {
  FakeMemory mem(16);
  EXPECT_EQ(Trace(Args(4, {0xdead0000, 0}), &mem, Errno::kEFAULT),
            "[pid 7] stat(0xdead0000, NULL) = -1 EFAULT (Bad address)\n");
}

TEST(Strace, ExitAndRestartCodes) {
  EXPECT_EQ(Trace(Args(231, {0}), nullptr, uint64_t{0}), "[pid 7] exit_group(0) = ?\n");
  EXPECT_EQ(Trace(Args(202, {0x1000, 128, 5, 0, 0, 0}), nullptr, Errno::kERESTARTSYS),
            "[pid 7] futex(0x1000, FUTEX_WAIT_PRIVATE, 5, NULL, NULL, 0) = ? ERESTARTSYS "
            "(To be restarted if SA_RESTART is set)\n");
  EXPECT_EQ(FormatReturn(RetFormat::kInt, Errno::kERESTART_RESTARTBLOCK),
            " = ? ERESTART_RESTARTBLOCK (Interrupted by signal)");
  EXPECT_EQ(FormatReturn(RetFormat::kInt, Errno::kEJUSTRETURN), " = 0");
}

TEST(Strace, UnknownNumberShowsRawRegisters) {
  EXPECT_EQ(Trace(Args(400, {1, 2, 3, 4, 5, 6}), nullptr, Errno::kENOSYS),
            "[pid 7] syscall_400(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not "
            "implemented)\n");
}

TEST(Strace, Decoders) {
  EXPECT_EQ(OpenFlags(0), "O_RDONLY");
  EXPECT_EQ(OpenFlags(02 | 04010000 | 0200000), "O_RDWR|O_SYNC|O_DIRECTORY");
  EXPECT_EQ(OpenFlags(020200000), "O_RDONLY|O_TMPFILE");
  EXPECT_EQ(SignalName(9), "SIGKILL");
  EXPECT_EQ(SignalName(34), "SIGRT_2");
  EXPECT_EQ(SignalName(0), "0");
  EXPECT_EQ(ClockName(1), "CLOCK_MONOTONIC");
  EXPECT_EQ(ClockName(-6), "-6");
  EXPECT_EQ(FutexOp(9 | 128 | 256), "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME");
  EXPECT_EQ(AtFlags(0x100 | 0x1000), "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH");
  EXPECT_EQ(AtFlags(0), "0");
  EXPECT_EQ(Octal(0), "000");
  EXPECT_EQ(Octal(0755), "0755");
  EXPECT_EQ(ArchPrctlCode(0x1002), "ARCH_SET_FS");
  EXPECT_EQ(RlimitResource(7), "RLIMIT_NOFILE");
}

TEST(Strace, QuoteBytesOctalLikeStrace) {
  EXPECT_EQ(QuoteBytes(std::string("\0a", 2), false), "\"\\0a\"");
  EXPECT_EQ(QuoteBytes(std::string("\0" "1", 2), false), "\"\\0001\"");
  EXPECT_EQ(QuoteBytes("\377", false), "\"\\377\"");
  EXPECT_EQ(QuoteBytes("abc", true), "\"abc\"...");
}

TEST(Strace, StringArgumentsTruncatedPathsNot) {
  FakeMemory mem(8192);
  std::string longpath = "/" + std::string(100, 'p');
  std::string longpath_nul = longpath;
  longpath_nul.push_back('\0');
  uint64_t p = mem.Put(0, longpath_nul);
  std::string line = Trace(Args(87, {p}), &mem, uint64_t{0});
  EXPECT_NE(line.find(longpath), std::string::npos) << line;
  // sethostname's string is an 's' argument: cut after 32 bytes.
  std::string name(40, 'n');
  name.push_back('\0');
  uint64_t s = mem.Put(1000, name);
  EXPECT_EQ(Trace(Args(170, {s, 40}), &mem, Errno::kENOSYS),
            "[pid 7] sethostname(\"" + std::string(32, 'n') +
                "\"..., 40) = -1 ENOSYS (Function not implemented)\n");
}

TEST(Strace, EveryNamedErrnoHasText) {
  for (int v = 1; v < 134; ++v) {
    Errno e = static_cast<Errno>(v);
    if (ErrnoName(e) == "E" + std::to_string(v)) continue;  // no enumerator
    EXPECT_NE(ErrnoText(e), "Unknown error") << ErrnoName(e);
  }
}

}  // namespace
}  // namespace sbx::syscalls::strace
