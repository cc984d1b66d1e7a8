// The file syscall handlers (sys_read_write.cc, sys_open.cc, sys_stat.cc, sys_dir.cc,
// sys_fd.cc) against a real Task whose memory is a MemoryManager over a fake address space and
// whose VFS has a tmpfs root (with /tmp and /dev mounted as in the sandbox).
#include <cstring>
#include <string>

#include "fs/tmpfs/tmpfs.h"
#include "fs/vfs.h"
#include "gtest/gtest.h"
#include "sentry/abi/file.h"
#include "sentry/mm/mm_test_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {
namespace {

using kernel::SyscallArgs;
using usermem::UserAddr;

class FileHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = std::move(mm::MemoryFile::Create(1ull << 28)).value();
    auto pt = std::make_shared<mm::testing::PageTable>();
    auto mmgr = std::make_shared<mm::MemoryManager>(
        *mf_, std::make_unique<mm::testing::FakeAddressSpace>(pt), mm::testing::kMinAddr,
        mm::testing::kMaxAddr);
    vfs_ = std::move(fs::VFS::NewWithRoot([](uint64_t dev)
        -> Result<std::pair<std::shared_ptr<fs::Filesystem>, std::shared_ptr<fs::Inode>>> {
      auto f = std::make_shared<fs::tmpfs::TmpfsFilesystem>(dev);
      return std::make_pair(std::shared_ptr<fs::Filesystem>(f), f->NewRoot(0755, 0, 0));
    })).value();
    kernel::Kernel::Options o;
    o.dispatch = &Dispatch;
    o.vfs = vfs_.get();
    k_ = std::make_unique<kernel::Kernel>(o);
    tg_ = std::make_shared<kernel::ThreadGroup>(*k_, 1);
    t_ = std::make_unique<kernel::Task>(*k_, tg_, 1, mmgr, std::make_shared<fs::FDTable>(),
                                        vfs_->NewContext(), kernel::Credentials{});
    mm::MMapOpts m;
    m.length = 64 * usermem::kPageSize;
    m.prot = 3;
    m.flags = 0x2 | 0x20;
    buf_ = mmgr->MMap(m).value().value();
  }
  static SyscallArgs A(std::initializer_list<uint64_t> v) {
    SyscallArgs a;
    int i = 0;
    for (uint64_t x : v) a.a[i++] = x;
    return a;
  }
  static int Err(const kernel::SyscallResult& r) { return r.ok() ? 0 : static_cast<int>(r.error()); }
  static uint64_t Ok(kernel::SyscallResult r) {
    EXPECT_TRUE(r.ok()) << ErrnoName(r.ok() ? Errno::kEPERM : r.error());
    return r.ok() ? r.value() : ~0ull;
  }
  // Puts a NUL-terminated string at buf_+off and returns its address.
  uint64_t Str(const std::string& s, uint64_t off = 0) {
    EXPECT_TRUE(usermem::CopyOutFull(t_->mem(), UserAddr(buf_ + off),
                                     std::as_bytes(std::span(s.c_str(), s.size() + 1))).ok());
    return buf_ + off;
  }
  std::string Read(uint64_t addr, size_t n) {
    std::string s(n, '\0');
    EXPECT_TRUE(usermem::CopyInFull(t_->mem(), UserAddr(addr),
                                    std::as_writable_bytes(std::span(s.data(), n))).ok());
    return s;
  }
  template <typename T>
  T Get(uint64_t addr) {
    return usermem::CopyIn(t_->mem(), usermem::UserPtr<T>(UserAddr(addr))).value();
  }
  int Open(const std::string& path, uint32_t flags, uint32_t mode = 0644) {
    return static_cast<int>(Ok(SysOpen(*t_, A({Str(path, 8192), flags, mode}))));
  }

  std::unique_ptr<mm::MemoryFile> mf_;
  std::unique_ptr<fs::VFS> vfs_;
  std::unique_ptr<kernel::Kernel> k_;
  std::shared_ptr<kernel::ThreadGroup> tg_;
  std::unique_ptr<kernel::Task> t_;
  uint64_t buf_ = 0;
  static constexpr uint64_t kBad = 0x10;  // never mapped
};

TEST_F(FileHandlersTest, OpenWriteReadSeek) {
  int fd = Open("/tmp/f", abi::kO_CREAT | abi::kO_RDWR);
  EXPECT_EQ(fd, 0);
  Str("hello world");
  EXPECT_EQ(Ok(SysWrite(*t_, A({0, buf_, 11}))), 11u);
  EXPECT_EQ(Ok(SysLseek(*t_, A({0, 0, abi::kSEEK_SET}))), 0u);
  EXPECT_EQ(Ok(SysRead(*t_, A({0, buf_ + 100, 1ull << 40}))), 11u);  // huge count: fine
  EXPECT_EQ(Read(buf_ + 100, 11), "hello world");
  EXPECT_EQ(Ok(SysPread64(*t_, A({0, buf_ + 200, 5, 6}))), 5u);
  EXPECT_EQ(Read(buf_ + 200, 5), "world");
  EXPECT_EQ(Err(SysPread64(*t_, A({0, buf_, 5, static_cast<uint64_t>(-1)}))), EINVAL);
  EXPECT_EQ(Err(SysLseek(*t_, A({0, 0, 5}))), EINVAL);
  EXPECT_EQ(Err(SysLseek(*t_, A({0, static_cast<uint64_t>(-20), abi::kSEEK_END}))), EINVAL);
  Ok(SysLseek(*t_, A({0, 0, abi::kSEEK_SET})));
  EXPECT_EQ(Err(SysRead(*t_, A({0, kBad, 4}))), EFAULT);
  EXPECT_EQ(Err(SysWrite(*t_, A({0, kBad, 4}))), EFAULT);
  EXPECT_EQ(Err(SysRead(*t_, A({77, buf_, 4}))), EBADF);
  EXPECT_EQ(Err(SysOpen(*t_, A({kBad, 0, 0}))), EFAULT);
  EXPECT_EQ(Ok(SysClose(*t_, A({0}))), 0u);
  EXPECT_EQ(Err(SysClose(*t_, A({0}))), EBADF);
  int ro = Open("/tmp/f", abi::kO_RDONLY);
  EXPECT_EQ(Err(SysWrite(*t_, A({static_cast<uint64_t>(ro), buf_, 1}))), EBADF);
  int dir = Open("/tmp", abi::kO_RDONLY);
  EXPECT_EQ(Err(SysRead(*t_, A({static_cast<uint64_t>(dir), buf_, 1}))), EISDIR);
  EXPECT_EQ(Err(SysCreat(*t_, A({Str("/tmp/nodir/x"), 0644}))), ENOENT);
  int c = static_cast<int>(Ok(SysCreat(*t_, A({Str("/tmp/f"), 0644}))));
  EXPECT_EQ(Ok(SysFcntl(*t_, A({static_cast<uint64_t>(c), abi::kF_GETFL}))),
            abi::kO_WRONLY | abi::kO_LARGEFILE);
  abi::Stat st = [&] {
    Ok(SysFstat(*t_, A({static_cast<uint64_t>(c), buf_ + 4096})));
    return Get<abi::Stat>(buf_ + 4096);
  }();
  EXPECT_EQ(st.st_size, 0);  // creat truncated
}

TEST_F(FileHandlersTest, Vectors) {
  int fd = Open("/tmp/v", abi::kO_CREAT | abi::kO_RDWR);
  Str("abc", 0);
  Str("defgh", 16);
  usermem::IOVec iov[2] = {{buf_, 3}, {buf_ + 16, 5}};
  ASSERT_TRUE(usermem::CopyOutFull(t_->mem(), UserAddr(buf_ + 1024),
                                   std::as_bytes(std::span(iov))).ok());
  EXPECT_EQ(Ok(SysWritev(*t_, A({static_cast<uint64_t>(fd), buf_ + 1024, 2}))), 8u);
  usermem::IOVec riov[2] = {{buf_ + 2048, 2}, {buf_ + 2060, 10}};
  ASSERT_TRUE(usermem::CopyOutFull(t_->mem(), UserAddr(buf_ + 1024),
                                   std::as_bytes(std::span(riov))).ok());
  EXPECT_EQ(Ok(SysPreadv(*t_, A({static_cast<uint64_t>(fd), buf_ + 1024, 2, 1}))), 7u);
  EXPECT_EQ(Read(buf_ + 2048, 2), "bc");
  EXPECT_EQ(Read(buf_ + 2060, 5), "defgh");
  EXPECT_EQ(Err(SysPreadv2(*t_, A({static_cast<uint64_t>(fd), buf_ + 1024, 2, 0, 0, 8}))),
            EOPNOTSUPP);
  EXPECT_EQ(Ok(SysLseek(*t_, A({static_cast<uint64_t>(fd), 6, abi::kSEEK_SET}))), 6u);
  EXPECT_EQ(Ok(SysPreadv2(*t_, A({static_cast<uint64_t>(fd), buf_ + 1024, 2,
                                  static_cast<uint64_t>(-1), 0, 0}))), 2u);  // current offset
  EXPECT_EQ(Read(buf_ + 2048, 2), "gh");
  EXPECT_EQ(Err(SysReadv(*t_, A({static_cast<uint64_t>(fd), buf_ + 1024, 1025}))), EINVAL);
  EXPECT_EQ(Err(SysReadv(*t_, A({static_cast<uint64_t>(fd), kBad, 1}))), EFAULT);
}

TEST_F(FileHandlersTest, StatFamily) {
  int fd = Open("/tmp/s", abi::kO_CREAT | abi::kO_RDWR, 0640);
  Str("12345");
  Ok(SysWrite(*t_, A({static_cast<uint64_t>(fd), buf_, 5})));
  Ok(SysStat(*t_, A({Str("/tmp/s"), buf_ + 4096})));
  auto st = Get<abi::Stat>(buf_ + 4096);
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_mode, abi::kS_IFREG | 0640);
  EXPECT_EQ(st.st_nlink, 1u);
  // newfstatat(AT_EMPTY_PATH) on the fd, and a NULL path with AT_EMPTY_PATH.
  Ok(SysNewfstatat(*t_, A({static_cast<uint64_t>(fd), Str(""), buf_ + 4096,
                           abi::kAT_EMPTY_PATH})));
  EXPECT_EQ(Get<abi::Stat>(buf_ + 4096).st_ino, st.st_ino);
  EXPECT_EQ(Err(SysNewfstatat(*t_, A({static_cast<uint64_t>(fd), Str(""), buf_ + 4096, 0}))),
            ENOENT);
  EXPECT_EQ(Err(SysNewfstatat(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("/tmp/s"),
                                      buf_ + 4096, 0x8000}))), EINVAL);
  Ok(SysStatx(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("/tmp/s"), 0,
                      abi::kSTATX_BASIC_STATS, buf_ + 4096})));
  auto sx = Get<abi::Statx>(buf_ + 4096);
  EXPECT_EQ(sx.stx_size, 5u);
  EXPECT_EQ(sx.stx_ino, st.st_ino);
  EXPECT_EQ(sx.stx_mask & abi::kSTATX_BASIC_STATS, abi::kSTATX_BASIC_STATS);
  EXPECT_EQ(Err(SysStatx(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("/tmp/s"), 0,
                                 abi::kSTATX__RESERVED, buf_ + 4096}))), EINVAL);
  EXPECT_EQ(Err(SysStatx(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("/tmp/s"), 0x6000,
                                 0, buf_ + 4096}))), EINVAL);
  EXPECT_EQ(Err(SysStat(*t_, A({Str("/tmp/s"), kBad}))), EFAULT);
  // Readlink: truncation without NUL, EINVAL on a non-link, bufsiz 0.
  ASSERT_TRUE(vfs_->SymlinkAt(fs::PathCtx{t_->fs_context(), t_->fd_table(), {}}, "target-name",
                              abi::kAT_FDCWD, "/tmp/l").ok());
  Str("XXXXXXXX", 512);
  EXPECT_EQ(Ok(SysReadlink(*t_, A({Str("/tmp/l"), buf_ + 512, 6}))), 6u);
  EXPECT_EQ(Read(buf_ + 512, 8), "targetXX");
  EXPECT_EQ(Err(SysReadlink(*t_, A({Str("/tmp/s"), buf_ + 512, 6}))), EINVAL);
  EXPECT_EQ(Err(SysReadlink(*t_, A({Str("/tmp/l"), buf_ + 512, 0}))), EINVAL);
  Ok(SysLstat(*t_, A({Str("/tmp/l"), buf_ + 4096})));
  EXPECT_EQ(Get<abi::Stat>(buf_ + 4096).st_mode & abi::kS_IFMT, abi::kS_IFLNK);
  // access.
  EXPECT_EQ(Ok(SysAccess(*t_, A({Str("/tmp/s"), abi::kR_OK | abi::kW_OK}))), 0u);
  EXPECT_EQ(Err(SysAccess(*t_, A({Str("/tmp/s"), abi::kX_OK}))), EACCES);
  EXPECT_EQ(Err(SysAccess(*t_, A({Str("/tmp/s"), 8}))), EINVAL);
  EXPECT_EQ(Err(SysFaccessat2(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("/tmp/s"), 0,
                                      0x1}))), EINVAL);
  EXPECT_EQ(Ok(SysFaccessat2(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("/tmp/l"), 0,
                                     abi::kAT_SYMLINK_NOFOLLOW}))), 0u);
  // statfs.
  Ok(SysStatfs(*t_, A({Str("/tmp"), buf_ + 4096})));
  EXPECT_EQ(Get<abi::StatFS>(buf_ + 4096).f_type, abi::kTMPFS_MAGIC);
  Ok(SysFstatfs(*t_, A({static_cast<uint64_t>(fd), buf_ + 4096})));
  EXPECT_EQ(Get<abi::StatFS>(buf_ + 4096).f_type, abi::kTMPFS_MAGIC);
}

TEST_F(FileHandlersTest, Directories) {
  EXPECT_EQ(Ok(SysMkdir(*t_, A({Str("/tmp/d"), 0777}))), 0u);
  Ok(SysStat(*t_, A({Str("/tmp/d"), buf_ + 4096})));
  EXPECT_EQ(Get<abi::Stat>(buf_ + 4096).st_mode, abi::kS_IFDIR | 0755);  // umask 022
  EXPECT_EQ(Ok(SysUmask(*t_, A({077}))), 022u);
  EXPECT_EQ(Ok(SysUmask(*t_, A({022}))), 077u);
  EXPECT_EQ(Ok(SysChdir(*t_, A({Str("/tmp/d")}))), 0u);
  EXPECT_EQ(Ok(SysGetcwd(*t_, A({buf_ + 512, 100}))), 7u);
  EXPECT_EQ(Read(buf_ + 512, 7), std::string("/tmp/d\0", 7));
  EXPECT_EQ(Err(SysGetcwd(*t_, A({buf_ + 512, 6}))), ERANGE);
  Open("a", abi::kO_CREAT | abi::kO_RDWR);
  EXPECT_EQ(Ok(SysMkdirat(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("sub"), 0755}))), 0u);
  int dfd = Open(".", abi::kO_RDONLY | abi::kO_DIRECTORY);
  uint64_t n = Ok(SysGetdents64(*t_, A({static_cast<uint64_t>(dfd), buf_ + 8192, 4096})));
  std::vector<std::string> names;
  for (uint64_t off = 0; off < n;) {
    auto h = Get<abi::Dirent64Header>(buf_ + 8192 + off);
    names.push_back(Read(buf_ + 8192 + off + abi::kDirent64NameOffset, 3).c_str());
    off += h.d_reclen;
  }
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "a", "sub"}));
  EXPECT_EQ(Ok(SysGetdents64(*t_, A({static_cast<uint64_t>(dfd), buf_ + 8192, 4096}))), 0u);
  // Old getdents: name at 18, d_type in the last byte.
  Ok(SysLseek(*t_, A({static_cast<uint64_t>(dfd), 2, abi::kSEEK_SET})));
  uint64_t n2 = Ok(SysGetdents(*t_, A({static_cast<uint64_t>(dfd), buf_ + 8192, 4096})));
  ASSERT_GT(n2, 0u);
  uint16_t reclen = Get<uint16_t>(buf_ + 8192 + 16);
  EXPECT_EQ(Read(buf_ + 8192 + 18, 2), std::string("a\0", 2));
  EXPECT_EQ(Get<uint8_t>(buf_ + 8192 + reclen - 1), abi::kDT_REG);
  Ok(SysLseek(*t_, A({static_cast<uint64_t>(dfd), 0, abi::kSEEK_SET})));
  EXPECT_EQ(Err(SysGetdents64(*t_, A({static_cast<uint64_t>(dfd), buf_ + 8192, 10}))), EINVAL);
  int ffd = Open("a", abi::kO_RDONLY);
  EXPECT_EQ(Err(SysGetdents64(*t_, A({static_cast<uint64_t>(ffd), buf_ + 8192, 4096}))),
            ENOTDIR);
  EXPECT_EQ(Err(SysUnlinkat(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("sub"), 0}))),
            EISDIR);
  EXPECT_EQ(Ok(SysUnlinkat(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("sub"),
                                   abi::kAT_REMOVEDIR}))), 0u);
  EXPECT_EQ(Err(SysUnlinkat(*t_, A({static_cast<uint64_t>(abi::kAT_FDCWD), Str("a"), 1}))),
            EINVAL);
  EXPECT_EQ(Ok(SysUnlink(*t_, A({Str("a")}))), 0u);
  EXPECT_EQ(Err(SysRmdir(*t_, A({Str("/tmp")}))), EBUSY);
  EXPECT_EQ(Ok(SysFchdir(*t_, A({static_cast<uint64_t>(dfd)}))), 0u);
  EXPECT_EQ(Err(SysFchdir(*t_, A({static_cast<uint64_t>(ffd)}))), ENOTDIR);
  EXPECT_EQ(Ok(SysRmdir(*t_, A({Str("/tmp/d")}))), 0u);
  EXPECT_EQ(Err(SysGetcwd(*t_, A({buf_ + 512, 100}))), ENOENT);
}

TEST_F(FileHandlersTest, DupFcntlIoctlPipe) {
  EXPECT_EQ(Err(SysPipe2(*t_, A({buf_, abi::kO_DIRECT}))), EINVAL);
  EXPECT_EQ(Err(SysPipe2(*t_, A({kBad, 0}))), EFAULT);
  EXPECT_TRUE(t_->fd_table().OpenFDs().empty());  // nothing leaked by the failed call
  Ok(SysPipe2(*t_, A({buf_, abi::kO_CLOEXEC})));
  int r = Get<int32_t>(buf_), w = Get<int32_t>(buf_ + 4);
  EXPECT_EQ(r, 0);
  EXPECT_EQ(w, 1);
  EXPECT_EQ(Ok(SysFcntl(*t_, A({0, abi::kF_GETFD}))), 1u);
  EXPECT_EQ(Ok(SysFcntl(*t_, A({1, abi::kF_GETPIPE_SZ}))), 65536u);
  Str("ping", 64);
  EXPECT_EQ(Ok(SysWrite(*t_, A({1, buf_ + 64, 4}))), 4u);
  Ok(SysIoctl(*t_, A({0, abi::kFIONREAD, buf_ + 128})));
  EXPECT_EQ(Get<int32_t>(buf_ + 128), 4);
  EXPECT_EQ(Err(SysLseek(*t_, A({0, 0, 0}))), ESPIPE);
  EXPECT_EQ(Err(SysPread64(*t_, A({0, buf_, 1, 0}))), ESPIPE);
  // FIONBIO: non-blocking read of an empty pipe.
  EXPECT_EQ(Ok(SysRead(*t_, A({0, buf_ + 256, 100}))), 4u);
  Str(std::string("\x01\0\0", 3), 300);
  Ok(SysIoctl(*t_, A({0, abi::kFIONBIO, buf_ + 300})));
  EXPECT_EQ(Err(SysRead(*t_, A({0, buf_ + 256, 100}))), EAGAIN);
  EXPECT_EQ(Ok(SysFcntl(*t_, A({0, abi::kF_GETFL}))), abi::kO_RDONLY | abi::kO_NONBLOCK);
  EXPECT_EQ(Ok(SysFcntl(*t_, A({0, abi::kF_SETFL, 0}))), 0u);
  EXPECT_EQ(Ok(SysFcntl(*t_, A({0, abi::kF_GETFL}))), 0u);
  Ok(SysIoctl(*t_, A({0, abi::kFIONCLEX})));
  EXPECT_EQ(Ok(SysFcntl(*t_, A({0, abi::kF_GETFD}))), 0u);
  EXPECT_EQ(Err(SysIoctl(*t_, A({0, abi::kTCGETS, buf_}))), ENOTTY);
  // dup family.
  EXPECT_EQ(Ok(SysDup(*t_, A({1}))), 2u);
  EXPECT_EQ(Ok(SysDup2(*t_, A({1, 1}))), 1u);
  EXPECT_EQ(Err(SysDup2(*t_, A({9, 9}))), EBADF);
  EXPECT_EQ(Err(SysDup3(*t_, A({1, 1, 0}))), EINVAL);
  EXPECT_EQ(Err(SysDup3(*t_, A({1, 5, 1}))), EINVAL);
  EXPECT_EQ(Ok(SysDup3(*t_, A({1, 7, abi::kO_CLOEXEC}))), 7u);
  EXPECT_EQ(Ok(SysFcntl(*t_, A({7, abi::kF_GETFD}))), 1u);
  EXPECT_EQ(Ok(SysFcntl(*t_, A({1, abi::kF_DUPFD, 5}))), 5u);
  EXPECT_EQ(Ok(SysFcntl(*t_, A({1, abi::kF_DUPFD_CLOEXEC, 5}))), 6u);
  EXPECT_EQ(Err(SysFcntl(*t_, A({1, abi::kF_DUPFD, 1 << 20}))), EINVAL);
  EXPECT_EQ(Err(SysDup2(*t_, A({1, 5000}))), EBADF);
  EXPECT_EQ(Err(SysFcntl(*t_, A({1, abi::kF_SETLK, buf_}))), ENOLCK);
  EXPECT_EQ(Err(SysFcntl(*t_, A({1, 9999}))), EINVAL);
  // close_range.
  EXPECT_EQ(Err(SysCloseRange(*t_, A({5, 4, 0}))), EINVAL);
  EXPECT_EQ(Ok(SysCloseRange(*t_, A({5, 6, 4}))), 0u);  // CLOSE_RANGE_CLOEXEC
  EXPECT_EQ(Ok(SysFcntl(*t_, A({5, abi::kF_GETFD}))), 1u);
  EXPECT_EQ(Ok(SysCloseRange(*t_, A({2, ~0u, 0}))), 0u);
  EXPECT_EQ(t_->fd_table().OpenFDs(), (std::vector<int>{0, 1}));
  // EPIPE once the read end is closed.
  Ok(SysClose(*t_, A({0})));
  EXPECT_EQ(Err(SysWrite(*t_, A({1, buf_ + 64, 4}))), EPIPE);
}

}  // namespace
}  // namespace sbx::syscalls
