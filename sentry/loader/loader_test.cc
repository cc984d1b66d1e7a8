// LoadExecutable against a real MemoryManager (with a fake platform address space) and host
// binaries read through pread: mappings, AT_* values and the initial stack read back with
// CopyIn, "#!" chains, and the error paths.
#include "sentry/loader/loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>

#include "gtest/gtest.h"
#include "sentry/mm/mm_test_util.h"

namespace sbx::loader {
namespace {

using mm::testing::FakeAddressSpace;
using mm::testing::FakeFile;
using mm::testing::PageTable;
using usermem::UserAddr;

// A regular host file read with pread(2).
class HostFile : public fs::FileDescription {
 public:
  explicit HostFile(int fd) : fs::FileDescription(nullptr, 0 /*O_RDONLY*/), fd_(fd) {}
  ~HostFile() override { close(fd_); }
  Result<size_t> PRead(std::span<std::byte> dst, int64_t offset) override {
    ssize_t n = pread(fd_, dst.data(), dst.size(), offset);
    if (n < 0) return ErrnoFromHost(errno);
    return static_cast<size_t>(n);
  }
  Result<fs::Attr> Stat() override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return ErrnoFromHost(errno);
    fs::Attr a;
    a.size = st.st_size;
    a.mode = st.st_mode;
    a.ino = st.st_ino;
    return a;
  }
  bool Mappable() const override { return true; }

 private:
  int fd_;
};

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mf = mm::MemoryFile::Create(uint64_t{1} << 32);
    ASSERT_TRUE(mf.ok());
    mf_ = std::move(mf).value();
    NewMM();
    char tmpl[] = "/tmp/loader_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    mm_.reset();
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  void NewMM() {
    mm_.reset();
    pt_ = std::make_shared<PageTable>();
    mm_ = std::make_unique<mm::MemoryManager>(*mf_, std::make_unique<FakeAddressSpace>(pt_),
                                              mm::testing::kMinAddr, mm::testing::kMaxAddr);
  }

  // Opens host paths, with overrides for in-memory files and redirected paths.
  OpenFn Opener() {
    return [this](const std::string& path) -> Result<std::shared_ptr<fs::FileDescription>> {
      ++opens_[path];
      if (auto it = fake_.find(path); it != fake_.end()) {
        return std::shared_ptr<fs::FileDescription>(std::make_shared<FakeFile>(it->second));
      }
      std::string host = path;
      if (auto it = redirect_.find(path); it != redirect_.end()) host = it->second;
      int fd = open(host.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return ErrnoFromHost(errno);
      return std::shared_ptr<fs::FileDescription>(std::make_shared<HostFile>(fd));
    };
  }

  Result<LoadedImage> Load(const std::string& path, std::vector<std::string> argv,
                           std::vector<std::string> envp = {}, bool randomize = false) {
    ExecArgs args{path, std::move(argv), std::move(envp)};
    AuxvInfo aux;
    aux.uid = 1000;
    aux.euid = 1000;
    aux.gid = 100;
    aux.egid = 100;
    aux.hwcap = 0xbfebfbff;
    aux.minsigstksz = 3632;
    LoadOptions opts;
    opts.randomize = randomize;
    return LoadExecutable(*mm_, Opener(), args, aux, opts);
  }

  uint64_t ReadWord(uint64_t addr) {
    auto v = usermem::CopyIn(*mm_, usermem::UserPtr<uint64_t>(addr));
    EXPECT_TRUE(v.ok()) << std::hex << addr;
    return v.ok() ? *v : 0;
  }
  std::string ReadString(uint64_t addr) {
    auto s = usermem::CopyInString(*mm_, UserAddr(addr), kMaxArgStrlen);
    EXPECT_TRUE(s.ok()) << std::hex << addr << " " << ErrnoName(s.error());
    return s.ok() ? *s : "";
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0755);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    close(fd);
    return path;
  }

  struct Stack {
    std::vector<std::string> argv, envp;
    std::map<uint64_t, uint64_t> auxv;
  };
  Stack ReadStack(uint64_t sp) {
    Stack s;
    uint64_t argc = ReadWord(sp);
    uint64_t p = sp + 8;
    for (uint64_t i = 0; i < argc; ++i, p += 8) s.argv.push_back(ReadString(ReadWord(p)));
    EXPECT_EQ(ReadWord(p), 0u);
    p += 8;
    for (uint64_t a; (a = ReadWord(p)) != 0; p += 8) s.envp.push_back(ReadString(a));
    p += 8;
    for (int i = 0; i < 64; ++i, p += 16) {
      uint64_t k = ReadWord(p);
      s.auxv[k] = ReadWord(p + 8);
      if (k == kAtNull) break;
    }
    return s;
  }

  std::unique_ptr<mm::MemoryFile> mf_;
  std::shared_ptr<PageTable> pt_;
  std::unique_ptr<mm::MemoryManager> mm_;
  std::string dir_;
  std::map<std::string, std::string> fake_;      // path -> contents
  std::map<std::string, std::string> redirect_;  // path -> host path
  std::map<std::string, int> opens_;
};

Elf64_Ehdr HostHeader(const char* path) {
  Elf64_Ehdr eh{};
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(pread(fd, &eh, sizeof(eh), 0), static_cast<ssize_t>(sizeof(eh)));
  close(fd);
  return eh;
}

TEST_F(LoaderTest, DynamicPieWithInterpreter) {
  auto r = Load("/bin/true", {"true", "arg1"}, {"A=1", "HOME=/root"});
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  const LoadedImage& img = *r;
  Elf64_Ehdr exe = HostHeader("/bin/true");
  Elf64_Ehdr ld = HostHeader("/lib64/ld-linux-x86-64.so.2");
  EXPECT_EQ(img.load_bias.value(), 0x555555554000u);  // ELF_ET_DYN_BASE without ASLR
  EXPECT_EQ(img.interp_path, "/lib64/ld-linux-x86-64.so.2");
  EXPECT_NE(img.interp_base.value(), 0u);
  EXPECT_EQ(img.interp_base.value() % 4096, 0u);
  EXPECT_LT(img.interp_base.value(), mm_->mmap_base().value());
  EXPECT_EQ(img.entry.value(), img.interp_base.value() + ld.e_entry);
  EXPECT_EQ(img.exec_path, "/bin/true");
  EXPECT_EQ(img.argv, (std::vector<std::string>{"true", "arg1"}));
  EXPECT_EQ(img.stack_pointer.value() % 16, 0u);
  EXPECT_FALSE(img.exec_stack);

  // The images are really mapped: both ELF headers read back through the MemoryManager.
  EXPECT_EQ(static_cast<uint32_t>(ReadWord(img.load_bias.value())),
            static_cast<uint32_t>(ReadWord(img.interp_base.value())));
  uint32_t magic;
  std::memcpy(&magic, ELFMAG, 4);
  EXPECT_EQ(static_cast<uint32_t>(ReadWord(img.load_bias.value())), magic);

  Stack s = ReadStack(img.stack_pointer.value());
  EXPECT_EQ(s.argv, img.argv);
  EXPECT_EQ(s.envp, (std::vector<std::string>{"A=1", "HOME=/root"}));
  EXPECT_EQ(s.auxv[kAtPhdr], img.load_bias.value() + exe.e_phoff);
  EXPECT_EQ(s.auxv[kAtPhent], 56u);
  EXPECT_EQ(s.auxv[kAtPhnum], exe.e_phnum);
  EXPECT_EQ(s.auxv[kAtPagesz], 4096u);
  EXPECT_EQ(s.auxv[kAtBase], img.interp_base.value());
  EXPECT_EQ(s.auxv[kAtEntry], img.load_bias.value() + exe.e_entry);
  EXPECT_EQ(s.auxv[kAtUid], 1000u);
  EXPECT_EQ(s.auxv[kAtGid], 100u);
  EXPECT_EQ(s.auxv[kAtHwcap], 0xbfebfbffu);
  EXPECT_EQ(s.auxv[kAtClktck], 100u);
  EXPECT_EQ(s.auxv[kAtMinsigstksz], 3632u);
  EXPECT_EQ(ReadString(s.auxv[kAtExecfn]), "/bin/true");
  EXPECT_EQ(ReadString(s.auxv[kAtPlatform]), "x86_64");
  EXPECT_NE(s.auxv[kAtRandom], 0u);
  ReadWord(s.auxv[kAtRandom] + 8);  // readable
  EXPECT_EQ(s.auxv.size(), img.auxv.size());
  // The AT_PHDR address holds the program header table.
  EXPECT_EQ(static_cast<uint32_t>(ReadWord(s.auxv[kAtPhdr])), PT_PHDR);

  // mm->arg_start..env_end cover the strings.
  EXPECT_EQ(ReadString(img.arg_start.value()), "true");
  EXPECT_EQ(img.arg_end.value() - img.arg_start.value(), 5u + 5u);
  EXPECT_EQ(img.env_end.value() - img.env_start.value(), 4u + 11u);
  // The program break follows the executable's highest segment.
  EXPECT_EQ(mm_->brk().value(), img.brk.value());
  EXPECT_GT(img.brk.value(), img.load_bias.value());
  EXPECT_LT(img.brk.value(), img.load_bias.value() + (1 << 24));
  EXPECT_EQ(img.stack_top, mm_->stack_top());
  EXPECT_NE(mm_->DebugMaps().find("[stack]"), std::string::npos) << mm_->DebugMaps();
}

TEST_F(LoaderTest, AslrMovesPieAndBrk) {
  auto a = Load("/bin/true", {"true"}, {}, /*randomize=*/true);
  ASSERT_TRUE(a.ok()) << ErrnoName(a.error());
  uint64_t bias_a = a->load_bias.value(), brk_a = a->brk.value();
  NewMM();
  auto b = Load("/bin/true", {"true"}, {}, /*randomize=*/true);
  ASSERT_TRUE(b.ok());
  const uint64_t base = 0x555555554000;
  for (uint64_t bias : {bias_a, b->load_bias.value()}) {
    EXPECT_GE(bias, base);
    EXPECT_LT(bias, base + (uint64_t{1} << 40));
    EXPECT_EQ(bias % 4096, 0u);
  }
  EXPECT_NE(bias_a, b->load_bias.value());  // 2^28 possibilities
  EXPECT_NE(brk_a - bias_a, b->brk.value() - b->load_bias.value());
  EXPECT_EQ(b->stack_pointer.value() % 16, 0u);
}

TEST_F(LoaderTest, StaticPieGoesWhereMmapPutsIt) {
  auto r = Load("/sbin/ldconfig", {"ldconfig", "-p"});
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  Elf64_Ehdr eh = HostHeader("/sbin/ldconfig");
  EXPECT_TRUE(r->interp_path.empty());
  EXPECT_EQ(r->interp_base.value(), 0u);
  EXPECT_NE(r->load_bias.value(), 0u);
  EXPECT_LT(r->load_bias.value(), mm_->mmap_base().value());
  EXPECT_EQ(r->entry.value(), r->load_bias.value() + eh.e_entry);
  Stack s = ReadStack(r->stack_pointer.value());
  EXPECT_EQ(s.auxv[kAtBase], 0u);
  EXPECT_EQ(s.auxv[kAtEntry], r->entry.value());
}

TEST_F(LoaderTest, LdSoRunDirectly) {
  auto r = Load("/lib64/ld-linux-x86-64.so.2", {"ld.so", "--version"});
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  EXPECT_EQ(r->interp_base.value(), 0u);
  EXPECT_NE(r->load_bias.value(), 0u);
}

TEST_F(LoaderTest, EmptyArgvGetsEmptyArgv0) {
  auto r = Load("/bin/true", {});
  ASSERT_TRUE(r.ok());
  Stack s = ReadStack(r->stack_pointer.value());
  EXPECT_EQ(s.argv, (std::vector<std::string>{""}));
}

TEST_F(LoaderTest, ScriptRewritesArgv) {
  std::string script = WriteFile("s.sh", "#!/bin/true  -v -w \necho\n");
  auto r = Load(script, {"s.sh", "a", "b"}, {"E=1"});
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  std::vector<std::string> want = {"/bin/true", "-v -w", script, "a", "b"};
  EXPECT_EQ(r->argv, want);
  EXPECT_EQ(r->exec_path, "/bin/true");
  Stack s = ReadStack(r->stack_pointer.value());
  EXPECT_EQ(s.argv, want);
  EXPECT_EQ(ReadString(s.auxv[kAtExecfn]), script);  // AT_EXECFN stays the script
}

TEST_F(LoaderTest, NestedScriptsUpToFiveLevels) {
  // s0 -> /bin/true; s(k) -> s(k-1). Linux runs s4 (5 scripts + ELF) but not s5 (ELOOP).
  std::vector<std::string> paths;
  paths.push_back(WriteFile("s0", "#!/bin/true L0\n"));
  for (int i = 1; i <= 5; ++i) {
    paths.push_back(WriteFile("s" + std::to_string(i), "#!" + paths.back() + "\n"));
  }
  auto r = Load(paths[4], {"s4", "x"});
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  std::vector<std::string> want = {"/bin/true", "L0", paths[0], paths[1], paths[2],
                                   paths[3],    paths[4], "x"};
  EXPECT_EQ(r->argv, want);
  NewMM();
  auto bad = Load(paths[5], {"s5"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), Errno::kELOOP);
}

TEST_F(LoaderTest, Errors) {
  auto r = Load("/nonexistent/prog", {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOENT);

  std::string missing = WriteFile("missing.sh", "#!/nonexistent/interp\n");
  r = Load(missing, {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOENT);

  std::string text = WriteFile("text", "hello world\n");
  r = Load(text, {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOEXEC);

  std::string empty = WriteFile("empty", "");
  r = Load(empty, {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOEXEC);

  std::string noint = WriteFile("noint", "#!   \n");
  r = Load(noint, {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOEXEC);

  // A PT_INTERP that is not an ELF file: ELIBBAD.
  redirect_["/lib64/ld-linux-x86-64.so.2"] = "/etc/passwd";
  r = Load("/bin/true", {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kELIBBAD);
  // ... or shorter than an ELF header: EIO.
  redirect_["/lib64/ld-linux-x86-64.so.2"] = WriteFile("short", "\x7f" "ELF");
  r = Load("/bin/true", {"x"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kEIO);
  // Nothing was mapped before these errors were detected.
  EXPECT_EQ(mm_->resident_bytes(), 0u);
  EXPECT_EQ(mm_->DebugMaps(), "");
}

TEST_F(LoaderTest, ArgumentLimits) {
  // One string longer than MAX_ARG_STRLEN (including its NUL).
  auto r = Load("/bin/true", {"true", std::string(kMaxArgStrlen, 'a')});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kE2BIG);
  // Just fits.
  r = Load("/bin/true", {"true", std::string(kMaxArgStrlen - 1, 'a')});
  EXPECT_TRUE(r.ok());
  // Total over 1/4 of the 8 MiB stack limit.
  NewMM();
  std::vector<std::string> env(20, std::string(120000, 'e'));
  r = Load("/bin/true", {"true"}, env);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kE2BIG);
  // 16 of them (~1.9 MiB) fit, and the stack holds them.
  env.resize(16);
  r = Load("/bin/true", {"true"}, env);
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  Stack s = ReadStack(r->stack_pointer.value());
  EXPECT_EQ(s.envp.size(), 16u);
}

// A hand-built static ET_EXEC: checks segment placement, padzero and bss.
std::string TinyExec(uint32_t data_flags, uint32_t stack_flags) {
  std::string f(3 * 4096, '\0');
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_entry = 0x401000;
  eh.e_phoff = 64;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  Elf64_Phdr ph[3] = {
      {PT_LOAD, PF_R | PF_X, 0, 0x400000, 0x400000, 0x2000, 0x2000, 0x1000},
      // Data: 0x100 bytes of file in the middle of a page, then bss over two more pages.
      {PT_LOAD, data_flags, 0x2100, 0x602100, 0x602100, 0x100, 0x2000, 0x1000},
      {PT_GNU_STACK, stack_flags, 0, 0, 0, 0, 0, 16},
  };
  eh.e_phnum = 3;
  std::memcpy(f.data(), &eh, sizeof(eh));
  std::memcpy(f.data() + 64, ph, sizeof(ph));
  for (size_t i = 0x2000; i < f.size(); ++i) f[i] = '\xab';  // non-zero past p_filesz
  return f;
}

TEST_F(LoaderTest, StaticExecPadzeroAndBss) {
  fake_["/tiny"] = TinyExec(PF_R | PF_W, PF_R | PF_W);
  auto r = Load("/tiny", {"tiny"});
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  EXPECT_EQ(r->load_bias.value(), 0u);
  EXPECT_EQ(r->entry.value(), 0x401000u);
  EXPECT_EQ(ReadWord(0x602100) & 0xff, 0xabu);       // file data
  EXPECT_EQ(ReadWord(0x602200 - 8), ~uint64_t{0} / 0xff * 0xab);
  EXPECT_EQ(ReadWord(0x602200), 0u);                 // zeroed tail of the last file page
  EXPECT_EQ(ReadWord(0x602ff8), 0u);
  EXPECT_EQ(ReadWord(0x603000), 0u);                 // anonymous bss
  EXPECT_EQ(ReadWord(0x6040f8), 0u);
  EXPECT_EQ(r->brk.value(), 0x605000u);
  Stack s = ReadStack(r->stack_pointer.value());
  EXPECT_EQ(s.auxv[kAtPhdr], 0x400040u);
  EXPECT_EQ(s.auxv[kAtBase], 0u);
  EXPECT_FALSE(r->exec_stack);
}

TEST_F(LoaderTest, ReadOnlySegmentKeepsFileTail) {
  // Linux's padzero cannot write a read-only page and ignores that; the bss beyond the file
  // page is still mapped (read-write, as vm_brk_flags does).
  fake_["/tiny"] = TinyExec(PF_R, PF_R | PF_W | PF_X);
  auto r = Load("/tiny", {"tiny"});
  ASSERT_TRUE(r.ok()) << ErrnoName(r.error());
  EXPECT_EQ(ReadWord(0x602200) & 0xff, 0xabu);
  EXPECT_EQ(ReadWord(0x603000), 0u);
  EXPECT_TRUE(r->exec_stack);
  std::string maps = mm_->DebugMaps();
  size_t stack = maps.find("[stack]");
  ASSERT_NE(stack, std::string::npos) << maps;
  size_t line = maps.rfind('\n', stack) + 1;  // npos + 1 == 0 for the first line
  EXPECT_EQ(maps.substr(line + maps.find(' ', line) - line + 1, 4), "rwxp") << maps;
}

}  // namespace
}  // namespace sbx::loader
