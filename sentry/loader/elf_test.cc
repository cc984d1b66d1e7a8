// ParseElf on host binaries and on hand-built ELF images, one malformation at a time.
#include "sentry/loader/elf.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sbx::loader {
namespace {

std::vector<uint8_t> ReadHostFile(const char* path) {
  std::vector<uint8_t> out;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  uint8_t buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.insert(out.end(), buf, buf + n);
  close(fd);
  return out;
}

TEST(ElfTest, HostTrueIsPieWithInterp) {
  auto data = ReadHostFile("/bin/true");
  ASSERT_FALSE(data.empty());
  auto r = ParseElf(BufferReader(data));
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  EXPECT_TRUE(r->is_dyn);
  EXPECT_TRUE(r->has_interp);
  EXPECT_EQ(r->interp, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_TRUE(r->has_gnu_stack);
  EXPECT_FALSE(r->exec_stack);
  EXPECT_GE(r->num_loads, 2u);
  EXPECT_EQ(r->first_load_vaddr, 0u);
  // The PIE's program headers are mapped by its first segment, right after the ELF header.
  EXPECT_TRUE(r->has_phdr_segment);
  EXPECT_EQ(r->phdr_vaddr, r->header.e_phoff);
  EXPECT_EQ(r->phdr_vaddr, r->phdr_segment_vaddr);
  EXPECT_GT(r->total_mapping_size, 0u);
  EXPECT_EQ(r->max_alignment, 0x1000u);
}

TEST(ElfTest, HostLdSoIsDynWithoutInterp) {
  auto data = ReadHostFile("/lib64/ld-linux-x86-64.so.2");
  ASSERT_FALSE(data.empty());
  auto r = ParseElf(BufferReader(data));
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  EXPECT_TRUE(r->is_dyn);
  EXPECT_FALSE(r->has_interp);
  EXPECT_NE(r->header.e_entry, 0u);
}

TEST(ElfTest, HostLdconfigIsStatic) {
  auto data = ReadHostFile("/sbin/ldconfig");
  ASSERT_FALSE(data.empty());
  auto r = ParseElf(BufferReader(data));
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  EXPECT_FALSE(r->has_interp);  // static (here static-pie: ET_DYN without PT_INTERP)
}

TEST(ElfTest, HostPython) {
  auto data = ReadHostFile("/usr/bin/python3");
  ASSERT_FALSE(data.empty());
  auto r = ParseElf(BufferReader(data));
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  EXPECT_EQ(r->interp, "/lib64/ld-linux-x86-64.so.2");
}

// A minimal valid ET_EXEC: header, phdrs at 64, PT_INTERP string, one PT_LOAD of the first page
// at 0x400000 and a bss segment.
struct Image {
  Elf64_Ehdr eh{};
  std::vector<Elf64_Phdr> ph;
  std::string interp = "/lib/ld.so";
  std::vector<uint8_t> Bytes() const {
    std::vector<uint8_t> out(8192, 0);
    std::memcpy(out.data(), &eh, sizeof(eh));
    for (size_t i = 0; i < ph.size() && 64 + (i + 1) * sizeof(Elf64_Phdr) <= 2048; ++i) {
      std::memcpy(out.data() + 64 + i * sizeof(Elf64_Phdr), &ph[i], sizeof(Elf64_Phdr));
    }
    std::memcpy(out.data() + 2048, interp.data(), interp.size());
    return out;
  }
};

Image ValidImage() {
  Image im;
  std::memcpy(im.eh.e_ident, ELFMAG, SELFMAG);
  im.eh.e_ident[EI_CLASS] = ELFCLASS64;
  im.eh.e_ident[EI_DATA] = ELFDATA2LSB;
  im.eh.e_ident[EI_VERSION] = EV_CURRENT;
  im.eh.e_type = ET_EXEC;
  im.eh.e_machine = EM_X86_64;
  im.eh.e_version = EV_CURRENT;
  im.eh.e_entry = 0x400100;
  im.eh.e_phoff = 64;
  im.eh.e_ehsize = sizeof(Elf64_Ehdr);
  im.eh.e_phentsize = sizeof(Elf64_Phdr);
  Elf64_Phdr interp{PT_INTERP, PF_R, 2048, 0x400800, 0x400800, 11, 11, 1};
  Elf64_Phdr text{PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x400000, 4096, 4096, 4096};
  Elf64_Phdr data{PT_LOAD, PF_R | PF_W, 4096, 0x601000, 0x601000, 100, 0x3000, 4096};
  Elf64_Phdr stack{PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0, 16};
  im.ph = {interp, text, data, stack};
  im.eh.e_phnum = im.ph.size();
  return im;
}

Result<ElfInfo> Parse(const Image& im) {
  auto bytes = im.Bytes();
  return ParseElf(BufferReader(bytes));
}

TEST(ElfTest, ValidImage) {
  auto r = Parse(ValidImage());
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  EXPECT_FALSE(r->is_dyn);
  EXPECT_EQ(r->interp, "/lib/ld.so");
  EXPECT_EQ(r->num_loads, 2u);
  EXPECT_EQ(r->first_load_vaddr, 0x400000u);
  EXPECT_EQ(r->total_mapping_size, 0x604000u - 0x400000u);
  EXPECT_EQ(r->max_load_end, 0x604000u);
  EXPECT_EQ(r->phdr_vaddr, 0x400040u);  // e_phoff inside the text segment
  EXPECT_FALSE(r->exec_stack);
}

void ExpectErr(const Image& im, Errno want, const char* what) {
  auto r = Parse(im);
  ASSERT_FALSE(r.ok()) << what;
  EXPECT_EQ(r.error(), want) << what << ": got " << ErrnoName(r.error());
}

// Applies `mutate` to a valid image and expects ParseElf to fail with ENOEXEC.
template <typename F>
void ExpectNoExec(const char* what, F mutate) {
  auto im = ValidImage();
  mutate(im);
  ExpectErr(im, Errno::kENOEXEC, what);
}

TEST(ElfTest, HeaderMalformations) {
  ExpectNoExec("magic", [](Image& im) { im.eh.e_ident[0] = 0; });
  ExpectNoExec("class", [](Image& im) { im.eh.e_ident[EI_CLASS] = ELFCLASS32; });
  ExpectNoExec("data", [](Image& im) { im.eh.e_ident[EI_DATA] = ELFDATA2MSB; });
  ExpectNoExec("ET_REL", [](Image& im) { im.eh.e_type = ET_REL; });
  ExpectNoExec("ET_CORE", [](Image& im) { im.eh.e_type = ET_CORE; });
  ExpectNoExec("machine", [](Image& im) { im.eh.e_machine = EM_386; });
  ExpectNoExec("arm64", [](Image& im) { im.eh.e_machine = EM_AARCH64; });
  ExpectNoExec("phentsize", [](Image& im) { im.eh.e_phentsize = 32; });
  ExpectNoExec("phnum 0", [](Image& im) { im.eh.e_phnum = 0; });
  ExpectNoExec("phnum 74", [](Image& im) { im.eh.e_phnum = 74; });
  ExpectNoExec("PN_XNUM", [](Image& im) { im.eh.e_phnum = 0xffff; });
  ExpectNoExec("phoff overflow", [](Image& im) { im.eh.e_phoff = ~uint64_t{0} - 8; });
  ExpectNoExec("phdrs past EOF", [](Image& im) { im.eh.e_phoff = 8190; });
  ExpectNoExec("entry", [](Image& im) { im.eh.e_entry = kTaskSize; });
  // Linux does not check the version fields; neither do we.
  {
    auto im = ValidImage();
    im.eh.e_version = 0;
    im.eh.e_ident[EI_VERSION] = 0;
    EXPECT_TRUE(Parse(im).ok());
  }
}

TEST(ElfTest, TruncatedFiles) {
  auto bytes = ValidImage().Bytes();
  for (size_t n : {0, 1, 4, 16, 63}) {
    auto r = ParseElf(BufferReader(std::span(bytes).first(n)));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), Errno::kENOEXEC) << n;
  }
  // Program headers cut short: ENOEXEC (load_elf_phdrs fails).
  auto r = ParseElf(BufferReader(std::span(bytes).first(64 + 56 + 10)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOEXEC);
  // PT_INTERP string cut short: EIO (elf_read).
  r = ParseElf(BufferReader(std::span(bytes).first(2048 + 5)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kEIO);
}

TEST(ElfTest, ReaderErrorPropagates) {
  ReadFn failing = [](uint64_t, std::span<std::byte>) -> Result<size_t> { return Errno::kEIO; };
  auto r = ParseElf(failing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kEIO);
}

TEST(ElfTest, LoadSegmentMalformations) {
  ExpectNoExec("filesz > memsz", [](Image& im) { im.ph[2].p_filesz = 0x4000; });
  ExpectNoExec("incongruent", [](Image& im) { im.ph[1].p_offset = 1; });
  ExpectNoExec("vaddr+memsz overflow", [](Image& im) { im.ph[2].p_vaddr = ~uint64_t{0} - 0x1000; });
  ExpectNoExec("beyond task size", [](Image& im) { im.ph[2].p_vaddr = kTaskSize - 0x1000; });
  ExpectNoExec("huge memsz", [](Image& im) { im.ph[2].p_memsz = kTaskSize + 1; });
  ExpectNoExec("offset overflow",
               [](Image& im) { im.ph[1].p_offset = ~uint64_t{0} & ~uint64_t{0xfff}; });
  {  // No PT_LOAD at all.
    auto im = ValidImage();
    im.ph[1].p_type = PT_NULL;
    im.ph[2].p_type = PT_NULL;
    ExpectErr(im, Errno::kENOEXEC, "no PT_LOAD");
  }
  {  // A zero-filesz segment need not be congruent (elf_map maps nothing for it).
    auto im = ValidImage();
    im.ph[2].p_filesz = 0;
    im.ph[2].p_offset = 5;
    EXPECT_TRUE(Parse(im).ok());
  }
  {  // ET_DYN may use addresses that are only valid after biasing, but not an oversized span.
    auto im = ValidImage();
    im.eh.e_type = ET_DYN;
    im.ph[1].p_vaddr = 0;
    im.ph[2].p_vaddr = kTaskSize;
    ExpectErr(im, Errno::kENOEXEC, "dyn span");
  }
}

TEST(ElfTest, InterpMalformations) {
  ExpectNoExec("interp too short", [](Image& im) { im.ph[0].p_filesz = 1; });
  ExpectNoExec("interp too long", [](Image& im) { im.ph[0].p_filesz = kPathMax + 1; });
  ExpectNoExec("interp not NUL-terminated", [](Image& im) { im.ph[0].p_filesz = 10; });
  {  // An embedded NUL ends the path (open_exec takes a C string).
    auto im = ValidImage();
    im.interp = std::string("/a\0bc", 5);
    im.ph[0].p_filesz = 6;
    auto r = Parse(im);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->interp, "/a");
  }
  {  // Only the first PT_INTERP counts.
    auto im = ValidImage();
    Elf64_Phdr second = im.ph[0];
    second.p_filesz = 1;  // would be invalid if looked at
    im.ph.push_back(second);
    im.eh.e_phnum = im.ph.size();
    auto r = Parse(im);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->interp, "/lib/ld.so");
  }
}

TEST(ElfTest, GnuStackAndAlignment) {
  auto im = ValidImage();
  im.ph[3].p_flags = PF_R | PF_W | PF_X;
  im.ph[1].p_align = 0x200000;
  im.ph[2].p_align = 3;  // not a power of two: ignored
  auto r = Parse(im);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->exec_stack);
  EXPECT_EQ(r->max_alignment, 0x200000u);

  // No PT_GNU_STACK: the stack is not executable on x86-64.
  im = ValidImage();
  im.ph.pop_back();
  im.eh.e_phnum = im.ph.size();
  r = Parse(im);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_gnu_stack);
  EXPECT_FALSE(r->exec_stack);
}

TEST(ElfTest, MaxPhnum) {
  auto im = ValidImage();
  while (im.ph.size() < 36) im.ph.push_back(Elf64_Phdr{PT_NULL, 0, 0, 0, 0, 0, 0, 0});
  im.eh.e_phnum = 73;  // 73 * 56 = 4088 <= 4096; the rest of the table reads as PT_NULL zeros
  EXPECT_TRUE(Parse(im).ok());
}

TEST(ElfTest, SegmentProt) {
  EXPECT_EQ(SegmentProt(PF_R), 1);
  EXPECT_EQ(SegmentProt(PF_R | PF_W), 3);
  EXPECT_EQ(SegmentProt(PF_R | PF_X), 5);
  EXPECT_EQ(SegmentProt(0), 0);
}

}  // namespace
}  // namespace sbx::loader
