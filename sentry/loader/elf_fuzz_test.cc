// Runs the libFuzzer entry point (elf_fuzz.cc) under GoogleTest, so every build (GCC included,
// and the -DSANITIZE=ON build) exercises it: real host binaries, then ~20000 deterministic
// mutations of them (bit flips, truncations, header and program-header fields overwritten with
// boundary values, "#!" lines). The entry point aborts on a contract violation.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <elf.h>

#include "gtest/gtest.h"
#include "sentry/loader/elf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace sbx::loader {
namespace {

const char* const kHostBinaries[] = {"/bin/true", "/bin/ls", "/lib64/ld-linux-x86-64.so.2",
                                     "/sbin/ldconfig", "/usr/bin/python3"};

std::vector<uint8_t> ReadHostFile(const char* path, size_t max) {
  std::vector<uint8_t> out;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  struct stat st;
  if (fstat(fd, &st) == 0) max = std::min<size_t>(max, st.st_size);
  out.resize(max);
  size_t done = 0;
  while (done < max) {
    ssize_t n = read(fd, out.data() + done, max - done);
    if (n <= 0) break;
    done += n;
  }
  close(fd);
  out.resize(done);
  return out;
}

int FuzzOne(const std::vector<uint8_t>& v) { return LLVMFuzzerTestOneInput(v.data(), v.size()); }

TEST(ElfFuzzTest, HostBinariesParse) {
  int found = 0;
  for (const char* path : kHostBinaries) {
    auto data = ReadHostFile(path, 64 << 20);
    if (data.empty()) continue;
    ++found;
    EXPECT_EQ(FuzzOne(data), 0);
    auto r = ParseElf(BufferReader(data));
    EXPECT_TRUE(r.ok()) << path << ": " << (r.ok() ? "" : ErrnoName(r.error()));
  }
  EXPECT_GE(found, 3);
}

constexpr uint64_t kBoundary[] = {0,
                                  1,
                                  2,
                                  55,
                                  56,
                                  57,
                                  64,
                                  73,
                                  74,
                                  0xfff,
                                  0x1000,
                                  0x1001,
                                  0xffff,
                                  0x10000,
                                  kTaskSize - 1,
                                  kTaskSize,
                                  kTaskSize + 0x1000,
                                  0x7fffffffffffffffULL,
                                  0x8000000000000000ULL,
                                  0xfffffffffffff000ULL,
                                  0xffffffffffffffffULL,
                                  0xfffffffffffffffeULL};

template <typename T>
void Overwrite(std::vector<uint8_t>& buf, size_t off, uint64_t v) {
  if (off + sizeof(T) > buf.size()) return;
  T t = static_cast<T>(v);
  std::memcpy(buf.data() + off, &t, sizeof(T));
}

// One deterministic mutation of `base` chosen by `rng`.
std::vector<uint8_t> Mutate(const std::vector<uint8_t>& base, std::mt19937_64& rng) {
  std::vector<uint8_t> m = base;
  auto pick = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  auto boundary = [&]() { return kBoundary[pick(std::size(kBoundary))]; };
  int rounds = 1 + pick(3);
  for (int r = 0; r < rounds && !m.empty(); ++r) {
    switch (pick(6)) {
      case 0: {  // bit flips, mostly in the headers
        int flips = 1 + pick(8);
        uint64_t span = pick(4) == 0 ? m.size() : std::min<size_t>(m.size(), 1024);
        for (int i = 0; i < flips; ++i) {
          size_t off = pick(span);
          m[off] ^= static_cast<uint8_t>(1u << pick(8));
        }
        break;
      }
      case 1:  // truncation
        m.resize(pick(m.size() + 1));
        break;
      case 2: {  // ELF header field := boundary value
        static constexpr std::pair<size_t, size_t> kFields[] = {
            {offsetof(Elf64_Ehdr, e_type), 2},    {offsetof(Elf64_Ehdr, e_machine), 2},
            {offsetof(Elf64_Ehdr, e_entry), 8},   {offsetof(Elf64_Ehdr, e_phoff), 8},
            {offsetof(Elf64_Ehdr, e_phentsize), 2}, {offsetof(Elf64_Ehdr, e_phnum), 2},
            {EI_CLASS, 1},                        {EI_DATA, 1}};
        auto [off, sz] = kFields[pick(std::size(kFields))];
        uint64_t v = boundary();
        if (sz == 1) Overwrite<uint8_t>(m, off, v);
        if (sz == 2) Overwrite<uint16_t>(m, off, v);
        if (sz == 8) Overwrite<uint64_t>(m, off, v);
        break;
      }
      case 3: {  // program header field := boundary value (or a valid-looking neighbour)
        if (m.size() < sizeof(Elf64_Ehdr)) break;
        Elf64_Ehdr eh;
        std::memcpy(&eh, m.data(), sizeof(eh));
        uint64_t n = std::max<uint64_t>(eh.e_phnum, 1);
        size_t base_off = eh.e_phoff + pick(n) * sizeof(Elf64_Phdr);
        if (eh.e_phoff > m.size()) break;
        static constexpr std::pair<size_t, size_t> kFields[] = {
            {offsetof(Elf64_Phdr, p_type), 4},   {offsetof(Elf64_Phdr, p_flags), 4},
            {offsetof(Elf64_Phdr, p_offset), 8}, {offsetof(Elf64_Phdr, p_vaddr), 8},
            {offsetof(Elf64_Phdr, p_filesz), 8}, {offsetof(Elf64_Phdr, p_memsz), 8},
            {offsetof(Elf64_Phdr, p_align), 8}};
        auto [off, sz] = kFields[pick(std::size(kFields))];
        uint64_t v = boundary();
        if (off == offsetof(Elf64_Phdr, p_type) && pick(2)) {
          static constexpr uint32_t kTypes[] = {PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK,
                                                PT_DYNAMIC, PT_NULL};
          v = kTypes[pick(std::size(kTypes))];
        }
        if (sz == 4) Overwrite<uint32_t>(m, base_off + off, v);
        if (sz == 8) Overwrite<uint64_t>(m, base_off + off, v);
        break;
      }
      case 4: {  // random bytes over a random window
        size_t off = pick(std::min<size_t>(m.size(), 4096));
        size_t len = std::min<size_t>(1 + pick(64), m.size() - off);
        for (size_t i = 0; i < len; ++i) m[off + i] = static_cast<uint8_t>(rng());
        break;
      }
      case 5: {  // turn it into a "#!" line with random spaces, tabs, NULs and newlines
        static constexpr char kChars[] = {' ', '\t', '\n', '\0', '/', 'a', '-'};
        size_t len = std::min<size_t>(m.size(), 2 + pick(300));
        m.resize(len);
        if (len >= 2) {
          m[0] = '#';
          m[1] = '!';
        }
        for (size_t i = 2; i < len; ++i) m[i] = kChars[pick(std::size(kChars))];
        break;
      }
    }
  }
  return m;
}

TEST(ElfFuzzTest, DeterministicMutationsDoNotCrash) {
  std::vector<std::vector<uint8_t>> bases;
  for (const char* path : kHostBinaries) {
    // The parser only reads the headers, program headers and PT_INTERP: a 16 KiB prefix keeps
    // every mutation cheap while still covering offsets that point past the end.
    auto data = ReadHostFile(path, 16 << 10);
    if (!data.empty()) bases.push_back(std::move(data));
  }
  ASSERT_FALSE(bases.empty());
  std::mt19937_64 rng(0x5eed1e5);
  int accepted = 0, rejected = 0;
  constexpr int kIterations = 20000;
  for (int i = 0; i < kIterations; ++i) {
    const auto& base = bases[i % bases.size()];
    auto m = Mutate(base, rng);
    ASSERT_EQ(FuzzOne(m), 0);
    if (ParseElf(BufferReader(m)).ok()) {
      ++accepted;
    } else {
      ++rejected;
    }
  }
  std::printf("accepted %d rejected %d\n", accepted, rejected);
  // Both outcomes must be well represented, or the mutations are not exercising the parser.
  EXPECT_GT(accepted, kIterations / 20);
  EXPECT_GT(rejected, kIterations / 20);
}

TEST(ElfFuzzTest, EdgeInputs) {
  EXPECT_EQ(LLVMFuzzerTestOneInput(nullptr, 0), 0);
  for (size_t n = 0; n <= 80; ++n) {
    std::vector<uint8_t> z(n, 0);
    EXPECT_EQ(FuzzOne(z), 0);
    std::vector<uint8_t> f(n, 0xff);
    EXPECT_EQ(FuzzOne(f), 0);
  }
}

}  // namespace
}  // namespace sbx::loader
