// File types: tmpfs regular files, memory devices, pipes, host files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "fs/blocking.h"
#include "fs/host/host.h"
#include "fs/pipe/pipe.h"
#include "fs/test_util.h"
#include "fs/tmpfs/tmpfs.h"
#include "fs/vfs.h"

namespace sbx::fs {
namespace {

using testing::E;
using testing::V;

std::span<const std::byte> B(std::string_view s) { return std::as_bytes(std::span(s)); }
std::string S(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = V(VFS::NewWithRoot([](uint64_t dev)
        -> Result<std::pair<std::shared_ptr<Filesystem>, std::shared_ptr<Inode>>> {
      auto fs = std::make_shared<tmpfs::TmpfsFilesystem>(dev, 1 << 20);
      return std::make_pair(std::shared_ptr<Filesystem>(fs), fs->NewRoot(0755, 0, 0));
    }));
    ctx_ = vfs_->NewContext();
  }
  std::shared_ptr<FileDescription> Open(std::string_view p, uint32_t flags) {
    return V(vfs_->OpenAt(*ctx_, fds_, abi::kAT_FDCWD, p, flags, 0644));
  }
  std::unique_ptr<VFS> vfs_;
  std::shared_ptr<FSContext> ctx_;
  FDTable fds_;
};

TEST_F(FilesTest, TmpfsReadWriteSeek) {
  auto f = Open("/tmp/f", abi::kO_CREAT | abi::kO_RDWR);
  EXPECT_EQ(V(f->Write(B("hello world"))), 11u);
  std::byte buf[64];
  EXPECT_EQ(V(f->Read(buf)), 0u);  // at EOF
  EXPECT_EQ(V(f->Seek(0, abi::kSEEK_SET)), 0);
  EXPECT_EQ(V(f->Read(std::span(buf, 5))), 5u);
  EXPECT_EQ(S(std::span(buf, 5)), "hello");
  EXPECT_EQ(V(f->PRead(std::span(buf, 64), 6)), 5u);
  EXPECT_EQ(S(std::span(buf, 5)), "world");
  EXPECT_EQ(V(f->Seek(0, abi::kSEEK_CUR)), 5);  // pread did not move the offset
  EXPECT_EQ(V(f->Seek(-1, abi::kSEEK_END)), 10);
  EXPECT_EQ(E(f->Seek(-100, abi::kSEEK_CUR)), Errno::kEINVAL);
  EXPECT_EQ(E(f->Seek(0, 7)), Errno::kEINVAL);
  EXPECT_EQ(E(f->Seek(11, abi::kSEEK_DATA)), Errno::kENXIO);
  EXPECT_EQ(V(f->Seek(3, abi::kSEEK_HOLE)), 11);
  // Sparse write far out: the hole reads as zeros and costs nothing.
  EXPECT_EQ(V(f->PWrite(B("X"), 1 << 30)), 1u);
  Attr a = V(f->Stat());
  EXPECT_EQ(a.size, (1u << 30) + 1);
  EXPECT_EQ(V(f->PRead(std::span(buf, 4), 1 << 20)), 4u);
  EXPECT_EQ(buf[0], std::byte{0});
  EXPECT_EQ(E(f->PWrite(B("X"), INT64_MAX)), Errno::kEFBIG);
  V(vfs_->OpenAt(*ctx_, fds_, abi::kAT_FDCWD, "/tmp/f", abi::kO_WRONLY | abi::kO_TRUNC, 0));
  EXPECT_EQ(V(f->Stat()).size, 0u);
  EXPECT_EQ(V(f->PRead(std::span(buf, 4), 0)), 0u);
}

TEST_F(FilesTest, TmpfsAppendAndTruncateZeroes) {
  auto f = Open("/tmp/a", abi::kO_CREAT | abi::kO_WRONLY | abi::kO_APPEND);
  V(f->Write(B("abc")));
  V(f->Seek(0, abi::kSEEK_SET));
  V(f->Write(B("def")));
  V(f->PWrite(B("g"), 0));  // Linux: pwrite on O_APPEND appends
  auto r = Open("/tmp/a", abi::kO_RDONLY);
  std::byte buf[16];
  EXPECT_EQ(S(std::span(buf, V(r->Read(buf)))), "abcdefg");
  auto inode = std::dynamic_pointer_cast<tmpfs::TmpfsFile>(r->dentry()->inode());
  ASSERT_TRUE(inode);
  V(inode->Truncate(2));
  V(inode->Truncate(5));
  EXPECT_EQ(V(r->PRead(buf, 0)), 5u);
  EXPECT_EQ(S(std::span(buf, 5)), std::string("ab\0\0\0", 5));
}

TEST_F(FilesTest, TmpfsENOSPC) {
  auto f = Open("/big", abi::kO_CREAT | abi::kO_RDWR);
  std::vector<std::byte> chunk(64 * 1024);
  size_t total = 0;
  Result<size_t> r = size_t{0};
  for (int i = 0; i < 64; ++i) {
    r = f->Write(chunk);
    if (!r.ok()) break;
    total += *r;
  }
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kENOSPC);
  EXPECT_LE(total, 1u << 20);
  V(vfs_->UnlinkAt(PathCtx{*ctx_, fds_, {}}, abi::kAT_FDCWD, "/big"));
  f.reset();  // last reference: the space comes back
  auto g = Open("/again", abi::kO_CREAT | abi::kO_RDWR);
  EXPECT_TRUE(g->Write(chunk).ok());
}

TEST_F(FilesTest, MemoryDevices) {
  std::byte buf[32];
  std::memset(buf, 0xff, sizeof(buf));
  auto null = Open("/dev/null", abi::kO_RDWR);
  EXPECT_EQ(V(null->Read(buf)), 0u);
  EXPECT_EQ(V(null->Write(B("abc"))), 3u);
  auto zero = Open("/dev/zero", abi::kO_RDWR);
  EXPECT_EQ(V(zero->Read(buf)), 32u);
  for (auto b : buf) EXPECT_EQ(b, std::byte{0});
  EXPECT_TRUE(zero->Mappable());
  auto full = Open("/dev/full", abi::kO_RDWR);
  EXPECT_EQ(E(full->Write(B("x"))), Errno::kENOSPC);
  EXPECT_EQ(V(full->Read(buf)), 32u);
  auto ur = Open("/dev/urandom", abi::kO_RDONLY);
  std::byte a[32], b[32];
  EXPECT_EQ(V(ur->Read(a)), 32u);
  EXPECT_EQ(V(ur->Read(b)), 32u);
  EXPECT_NE(std::memcmp(a, b, 32), 0);
  EXPECT_EQ(V(null->Seek(100, abi::kSEEK_SET)), 0);
  Creds user{1000, 1000, {}};
  EXPECT_TRUE(vfs_->OpenAt(PathCtx{*ctx_, fds_, user}, abi::kAT_FDCWD, "/dev/null",
                           abi::kO_RDWR, 0).ok());
  EXPECT_EQ(V(Open("/dev/random", abi::kO_RDONLY)->Stat()).rdev, abi::MakeDev(1, 8));
}

TEST(Pipe, ReadWriteEOFAndEPIPE) {
  auto [r, w] = pipe::NewPipe(0);
  EXPECT_EQ(V(w->Write(B("hello"))), 5u);
  std::byte buf[16];
  EXPECT_EQ(V(r->Read(std::span(buf, 3))), 3u);
  EXPECT_EQ(V(r->Read(buf)), 2u);
  EXPECT_EQ(S(std::span(buf, 2)), "lo");
  EXPECT_EQ(E(r->Write(B("x"))), Errno::kEBADF);
  EXPECT_EQ(E(w->Read(buf)), Errno::kEBADF);
  EXPECT_EQ(E(r->Seek(0, 0)), Errno::kESPIPE);
  EXPECT_EQ(E(r->PRead(buf, 0)), Errno::kESPIPE);
  EXPECT_EQ(V(r->Stat()).mode & abi::kS_IFMT, abi::kS_IFIFO);
  V(w->Write(B("z")));
  w.reset();
  EXPECT_EQ(V(r->Read(buf)), 1u);  // buffered data first, then EOF
  EXPECT_EQ(V(r->Read(buf)), 0u);
  auto [r2, w2] = pipe::NewPipe(0);
  r2.reset();
  EXPECT_EQ(E(w2->Write(B("x"))), Errno::kEPIPE);
}

TEST(Pipe, NonblockAndCapacity) {
  auto [r, w] = pipe::NewPipe(abi::kO_NONBLOCK);
  std::byte buf[16];
  EXPECT_EQ(E(r->Read(buf)), Errno::kEAGAIN);
  std::vector<std::byte> big(100000);
  EXPECT_EQ(V(w->Write(big)), pipe::kDefaultCapacity);  // partial
  EXPECT_EQ(E(w->Write(std::span(big.data(), 1))), Errno::kEAGAIN);
  V(r->Read(std::span(buf, 10)));
  // 10 bytes free: a PIPE_BUF-sized write is all-or-nothing.
  EXPECT_EQ(E(w->Write(std::span(big.data(), 100))), Errno::kEAGAIN);
  EXPECT_EQ(V(w->Write(std::span(big.data(), 10))), 10u);
  // F_SETFL-style change to blocking is seen at the next call.
  r->set_status_flags(0);
  EXPECT_EQ(r->flags() & abi::kO_NONBLOCK, 0u);
}

TEST(Pipe, BlockingReadWokenByWriter) {
  auto [r, w] = pipe::NewPipe(0);
  std::thread t([w = w] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)w->Write(B("ping"));
  });
  std::byte buf[8];
  EXPECT_EQ(V(r->Read(buf)), 4u);
  t.join();
  // A blocked writer (pipe full) completes once the reader drains.
  std::vector<std::byte> big(pipe::kDefaultCapacity + 1000);
  std::thread reader([r = r] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::vector<std::byte> sink(pipe::kDefaultCapacity + 1000);
    size_t got = 0;
    while (got < sink.size()) got += r->Read(std::span(sink.data() + got, sink.size() - got)).value();
  });
  EXPECT_EQ(V(w->Write(big)), big.size());
  reader.join();
}

TEST(Pipe, InterruptedReadReturnsRestart) {
  struct Flag : Interruptible {
    std::atomic<bool> on{false};
    bool Interrupted() const override { return on.load(); }
  } flag;
  auto [r, w] = pipe::NewPipe(0);
  Result<size_t> res = size_t{0};
  std::thread t([&, r = r] {
    ScopedInterruptible s(&flag);
    std::byte buf[4];
    res = r->Read(buf);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  flag.on = true;
  t.join();
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error(), Errno::kERESTARTSYS);
}

TEST(Pipe, FIONREAD) {
  struct Mem : usermem::UserMemory {
    std::vector<std::byte> m = std::vector<std::byte>(64);
    Result<size_t> CopyOutBytes(usermem::UserAddr a, std::span<const std::byte> s) override {
      if (a.value() + s.size() > m.size()) return Errno::kEFAULT;
      std::memcpy(m.data() + a.value(), s.data(), s.size());
      return s.size();
    }
    Result<size_t> CopyInBytes(usermem::UserAddr a, std::span<std::byte> d) override {
      if (a.value() + d.size() > m.size()) return Errno::kEFAULT;
      std::memcpy(d.data(), m.data() + a.value(), d.size());
      return d.size();
    }
    Result<size_t> ZeroOut(usermem::UserAddr, size_t) override { return Errno::kEFAULT; }
  } mem;
  auto [r, w] = pipe::NewPipe(0);
  V(w->Write(B("12345")));
  EXPECT_EQ(V(r->Ioctl(mem, abi::kFIONREAD, 8)), 0u);
  int32_t n;
  std::memcpy(&n, mem.m.data() + 8, 4);
  EXPECT_EQ(n, 5);
  EXPECT_EQ(E(r->Ioctl(mem, abi::kFIONREAD, 1000)), Errno::kEFAULT);
  EXPECT_EQ(E(r->Ioctl(mem, abi::kTCGETS, 8)), Errno::kENOTTY);
}

TEST(HostFile, PipeAndRegularFile) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  auto hw = host::NewHostFile(p[1]);
  auto hr = host::NewHostFile(p[0]);
  EXPECT_TRUE(hw->writable());
  EXPECT_FALSE(hw->readable());
  EXPECT_EQ(V(hw->Write(B("hi"))), 2u);
  std::byte buf[8];
  EXPECT_EQ(V(hr->Read(buf)), 2u);
  EXPECT_EQ(E(hr->Seek(0, abi::kSEEK_SET)), Errno::kESPIPE);
  EXPECT_EQ(V(hr->Stat()).mode & abi::kS_IFMT, abi::kS_IFIFO);
  struct NoMem : usermem::UserMemory {
    Result<size_t> CopyOutBytes(usermem::UserAddr, std::span<const std::byte>) override {
      return Errno::kEFAULT;
    }
    Result<size_t> CopyInBytes(usermem::UserAddr, std::span<std::byte>) override {
      return Errno::kEFAULT;
    }
    Result<size_t> ZeroOut(usermem::UserAddr, size_t) override { return Errno::kEFAULT; }
  } mem;
  EXPECT_EQ(E(hr->Ioctl(mem, abi::kTCGETS, 0x1000)), Errno::kENOTTY);
  EXPECT_EQ(E(hr->Ioctl(mem, abi::kTIOCGWINSZ, 0x1000)), Errno::kENOTTY);

  char tmpl[] = "/tmp/sbx_hostfile_XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::unlink(tmpl);
  auto hf = host::NewHostFile(fd);
  EXPECT_EQ(V(hf->Write(B("abcdef"))), 6u);
  EXPECT_EQ(V(hf->Seek(1, abi::kSEEK_SET)), 1);
  EXPECT_EQ(V(hf->Read(std::span(buf, 2))), 2u);
  EXPECT_EQ(S(std::span(buf, 2)), "bc");
  EXPECT_EQ(V(hf->PRead(std::span(buf, 2), 4)), 2u);
  EXPECT_EQ(S(std::span(buf, 2)), "ef");
  EXPECT_EQ(V(hf->Stat()).size, 6u);
}

// A pty stands in for the user's terminal: TCGETS/TIOCGWINSZ reach the host tty.
TEST(HostFile, TtyIoctls) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) GTEST_SKIP() << "no pty available";
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(slave, 0);
  struct winsize ws = {33, 111, 0, 0};
  ASSERT_EQ(::ioctl(master, TIOCSWINSZ, &ws), 0);
  struct Mem : usermem::UserMemory {
    std::vector<std::byte> m = std::vector<std::byte>(256);
    Result<size_t> CopyOutBytes(usermem::UserAddr a, std::span<const std::byte> s) override {
      if (a.value() + s.size() > m.size()) return Errno::kEFAULT;
      std::memcpy(m.data() + a.value(), s.data(), s.size());
      return s.size();
    }
    Result<size_t> CopyInBytes(usermem::UserAddr a, std::span<std::byte> d) override {
      if (a.value() + d.size() > m.size()) return Errno::kEFAULT;
      std::memcpy(d.data(), m.data() + a.value(), d.size());
      return d.size();
    }
    Result<size_t> ZeroOut(usermem::UserAddr, size_t) override { return Errno::kEFAULT; }
  } mem;
  auto tty = host::NewHostFile(slave);
  EXPECT_EQ(V(tty->Ioctl(mem, abi::kTIOCGWINSZ, 0)), 0u);
  abi::WinSize w;
  std::memcpy(&w, mem.m.data(), sizeof(w));
  EXPECT_EQ(w.ws_row, 33);
  EXPECT_EQ(w.ws_col, 111);
  EXPECT_EQ(V(tty->Ioctl(mem, abi::kTCGETS, 64)), 0u);
  abi::Termios t;
  std::memcpy(&t, mem.m.data() + 64, sizeof(t));
  EXPECT_NE(t.c_lflag & ICANON, 0u);
  t.c_lflag &= ~ICANON;
  std::memcpy(mem.m.data() + 128, &t, sizeof(t));
  EXPECT_EQ(V(tty->Ioctl(mem, abi::kTCSETS, 128)), 0u);
  struct termios host_t;
  ASSERT_EQ(::tcgetattr(master, &host_t), 0);
  EXPECT_EQ(host_t.c_lflag & ICANON, 0u);
  EXPECT_EQ(E(tty->Ioctl(mem, abi::kTCGETS, 250)), Errno::kEFAULT);
  EXPECT_EQ(E(tty->Ioctl(mem, abi::kTIOCGPGRP, 0)), Errno::kENOTTY);
  ::close(master);
}

// Concurrent creates, lookups and unlinks in one directory keep the cache and the tmpfs
// directory consistent.
TEST_F(FilesTest, ConcurrentCreateUnlink) {
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([this, i] {
      PathCtx c{*ctx_, fds_, {}};
      for (int j = 0; j < 200; ++j) {
        std::string p = "/tmp/c" + std::to_string((i * 7 + j) % 10);
        (void)vfs_->OpenAt(c, abi::kAT_FDCWD, p, abi::kO_CREAT | abi::kO_RDWR, 0644);
        (void)vfs_->StatAt(c, abi::kAT_FDCWD, p, kLookupFollow);
        (void)vfs_->UnlinkAt(c, abi::kAT_FDCWD, p);
      }
    });
  }
  for (auto& t : ts) t.join();
  PathCtx c{*ctx_, fds_, {}};
  auto d = Open("/tmp", abi::kO_RDONLY);
  std::byte buf[4096];
  size_t n = V(d->GetDents64(buf));
  size_t entries = 0;
  for (size_t off = 0; off < n; ++entries) {
    abi::Dirent64Header h;
    std::memcpy(&h, buf + off, abi::kDirent64NameOffset);
    std::string name(reinterpret_cast<const char*>(buf + off + abi::kDirent64NameOffset));
    if (name != "." && name != "..") {
      // Whatever survived is consistent between listing and lookup.
      EXPECT_TRUE(vfs_->StatAt(c, abi::kAT_FDCWD, "/tmp/" + name, 0).ok()) << name;
    }
    off += h.d_reclen;
  }
  for (int k = 0; k < 10; ++k) {
    std::string p = "/tmp/c" + std::to_string(k);
    bool listed = vfs_->StatAt(c, abi::kAT_FDCWD, p, 0).ok();
    if (listed) V(vfs_->UnlinkAt(c, abi::kAT_FDCWD, p));
  }
  EXPECT_EQ(V(vfs_->StatAt(c, abi::kAT_FDCWD, "/tmp", 0)).nlink, 2u);
}

}  // namespace
}  // namespace sbx::fs
