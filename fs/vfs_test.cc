// Path walk and path operations on a tmpfs root (fs/namei.c behaviour).
#include "fs/vfs.h"

#include <gtest/gtest.h>

#include <cstring>

#include "fs/test_util.h"
#include "fs/tmpfs/tmpfs.h"

namespace sbx::fs {
namespace {

using testing::E;
using testing::V;

constexpr uint32_t kCreat = abi::kO_CREAT | abi::kO_RDWR;

class VFSTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = V(VFS::NewWithRoot([](uint64_t dev)
        -> Result<std::pair<std::shared_ptr<Filesystem>, std::shared_ptr<Inode>>> {
      auto fs = std::make_shared<tmpfs::TmpfsFilesystem>(dev);
      auto root = fs->NewRoot(0755, 0, 0);
      return std::make_pair(std::shared_ptr<Filesystem>(fs), root);
    }));
    ctx_ = vfs_->NewContext();
  }
  PathCtx C(Creds cr = {}) { return PathCtx{*ctx_, fds_, std::move(cr)}; }
  Attr St(std::string_view p, uint32_t fl = kLookupFollow) {
    return V(vfs_->StatAt(C(), abi::kAT_FDCWD, p, fl));
  }
  Errno StErr(std::string_view p, uint32_t fl = kLookupFollow, Creds cr = {}) {
    return E(vfs_->StatAt(C(cr), abi::kAT_FDCWD, p, fl));
  }
  void Touch(std::string_view p, uint32_t mode = 0644) {
    V(vfs_->OpenAt(C(), abi::kAT_FDCWD, p, kCreat, mode));
  }
  void Mkdir(std::string_view p, uint32_t mode = 0755) {
    V(vfs_->MkdirAt(C(), abi::kAT_FDCWD, p, mode));
  }
  void Symlink(std::string_view target, std::string_view p) {
    V(vfs_->SymlinkAt(C(), target, abi::kAT_FDCWD, p));
  }
  std::unique_ptr<VFS> vfs_;
  std::shared_ptr<FSContext> ctx_;
  FDTable fds_;
};

TEST_F(VFSTest, DefaultMounts) {
  Attr root = St("/");
  Attr tmp = St("/tmp");
  EXPECT_EQ(tmp.mode, abi::kS_IFDIR | 01777);
  EXPECT_NE(tmp.dev, root.dev);
  Attr null = St("/dev/null");
  EXPECT_EQ(null.mode, abi::kS_IFCHR | 0666);
  EXPECT_EQ(null.rdev, abi::MakeDev(1, 3));
  EXPECT_EQ(St("/dev/urandom").rdev, abi::MakeDev(1, 9));
  EXPECT_EQ(St("/dev/full").rdev, abi::MakeDev(1, 7));
  EXPECT_EQ(V(vfs_->ReadlinkAt(C(), abi::kAT_FDCWD, "/dev/fd")), "/proc/self/fd");
  EXPECT_EQ(V(vfs_->ReadlinkAt(C(), abi::kAT_FDCWD, "/dev/stderr")), "/proc/self/fd/2");
  // /dev/fd points into /proc, which is not mounted here.
  EXPECT_EQ(StErr("/dev/fd/0"), Errno::kENOENT);
  EXPECT_EQ(V(vfs_->StatFSAt(C(), "/tmp")).type, abi::kTMPFS_MAGIC);
}

TEST_F(VFSTest, DotDotAndMountCrossing) {
  Mkdir("/tmp/a");
  Attr root = St("/");
  EXPECT_EQ(St("/tmp/..").ino, root.ino);
  EXPECT_EQ(St("/tmp/..").dev, root.dev);
  EXPECT_EQ(St("/..").ino, root.ino);
  EXPECT_EQ(St("/../../tmp/a/../..").ino, root.ino);
  EXPECT_EQ(St("/tmp/a/..").dev, St("/tmp").dev);
  EXPECT_EQ(St("/tmp/./a/.").ino, St("/tmp/a").ino);
  V(vfs_->Chdir(C(), "/tmp/a"));
  EXPECT_EQ(V(vfs_->Getcwd(*ctx_)), "/tmp/a");
  EXPECT_EQ(St("..").ino, St("/tmp").ino);
  EXPECT_EQ(St("../..").ino, root.ino);
  // A context rooted at /tmp (chroot): ".." never leaves it, and paths are relative to it.
  VirtualDentry tmp = V(vfs_->Lookup(C(), abi::kAT_FDCWD, "/tmp", kLookupFollow));
  {
    absl::MutexLock l(&ctx_->mutex);
    ctx_->root = tmp;
  }
  EXPECT_EQ(V(vfs_->Getcwd(*ctx_)), "/a");
  EXPECT_EQ(St("../../../..").ino, St("/").ino);
  EXPECT_EQ(StErr("/tmp"), Errno::kENOENT);  // /tmp of the old root is not visible
  EXPECT_EQ(St("/a").ino, St(".").ino);
}

TEST_F(VFSTest, Symlinks) {
  Mkdir("/tmp/d");
  Touch("/tmp/d/f");
  Symlink("d/f", "/tmp/rel");         // relative: from the link's directory
  Symlink("/tmp/d", "/tmp/abs");      // absolute: from the root
  Symlink("../d/f", "/tmp/d/up");     // relative with ..
  Symlink("loop2", "/tmp/loop1");
  Symlink("loop1", "/tmp/loop2");
  Symlink("missing", "/tmp/dangling");
  Attr f = St("/tmp/d/f");
  EXPECT_EQ(St("/tmp/rel").ino, f.ino);
  EXPECT_EQ(St("/tmp/abs/f").ino, f.ino);
  EXPECT_EQ(St("/tmp/d/up").ino, f.ino);
  EXPECT_EQ(St("/tmp/abs/up").ino, f.ino);
  EXPECT_EQ(St("/tmp/rel", 0).mode & abi::kS_IFMT, abi::kS_IFLNK);
  EXPECT_EQ(St("/tmp/rel", 0).size, 3u);
  EXPECT_EQ(StErr("/tmp/loop1"), Errno::kELOOP);
  EXPECT_EQ(StErr("/tmp/loop1/x", 0), Errno::kELOOP);
  EXPECT_EQ(St("/tmp/loop1", 0).mode & abi::kS_IFMT, abi::kS_IFLNK);
  EXPECT_EQ(StErr("/tmp/dangling"), Errno::kENOENT);
  // Trailing slash follows even without kLookupFollow.
  EXPECT_EQ(St("/tmp/abs/", 0).mode & abi::kS_IFMT, abi::kS_IFDIR);
  EXPECT_EQ(E(vfs_->ReadlinkAt(C(), abi::kAT_FDCWD, "/tmp/d/f")), Errno::kEINVAL);
  // A chain of 40 links resolves; 41 is ELOOP.
  Symlink("/tmp/d/f", "/tmp/l0");
  for (int i = 1; i <= 40; ++i) {
    Symlink("l" + std::to_string(i - 1), "/tmp/l" + std::to_string(i));
  }
  EXPECT_EQ(St("/tmp/l39").ino, f.ino);
  EXPECT_EQ(StErr("/tmp/l40"), Errno::kELOOP);
}

TEST_F(VFSTest, NameErrors) {
  Touch("/tmp/f");
  EXPECT_EQ(StErr(""), Errno::kENOENT);
  EXPECT_EQ(St("", kLookupEmptyPath).ino, St("/").ino);  // AT_FDCWD + AT_EMPTY_PATH: cwd
  EXPECT_EQ(StErr("/tmp/f/"), Errno::kENOTDIR);
  EXPECT_EQ(StErr("/tmp/f/x"), Errno::kENOTDIR);
  EXPECT_EQ(StErr("/tmp/f/."), Errno::kENOTDIR);
  EXPECT_EQ(StErr("/tmp/nope/x"), Errno::kENOENT);
  std::string longname(256, 'a');
  EXPECT_EQ(StErr("/tmp/" + longname), Errno::kENAMETOOLONG);
  std::string okname(255, 'a');
  EXPECT_EQ(StErr("/tmp/" + okname), Errno::kENOENT);
  std::string longpath;
  while (longpath.size() < 4096) longpath += "/tmp";
  EXPECT_EQ(StErr(longpath), Errno::kENAMETOOLONG);
  EXPECT_EQ(St("//tmp///f").ino, St("/tmp/f").ino);
}

TEST_F(VFSTest, Permissions) {
  Mkdir("/tmp/priv", 0700);
  Touch("/tmp/priv/f", 0644);
  Touch("/tmp/ro", 0444);
  Touch("/tmp/noexec", 0644);
  Touch("/tmp/exec", 0755);
  Creds user{1000, 1000, {}};
  EXPECT_EQ(StErr("/tmp/priv/f", kLookupFollow, user), Errno::kEACCES);
  EXPECT_EQ(St("/tmp/priv/f").mode & 0777, 0644u);  // root bypasses search permission
  EXPECT_EQ(E(vfs_->OpenAt(C(user), abi::kAT_FDCWD, "/tmp/ro", abi::kO_WRONLY, 0)),
            Errno::kEACCES);
  EXPECT_TRUE(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/ro", abi::kO_WRONLY, 0).ok());
  EXPECT_TRUE(vfs_->AccessAt(C(user), abi::kAT_FDCWD, "/tmp/ro", abi::kR_OK, kLookupFollow).ok());
  EXPECT_EQ(E(vfs_->AccessAt(C(user), abi::kAT_FDCWD, "/tmp/ro", abi::kW_OK, kLookupFollow)),
            Errno::kEACCES);
  // Root needs some x bit to execute.
  EXPECT_EQ(E(vfs_->AccessAt(C(), abi::kAT_FDCWD, "/tmp/noexec", abi::kX_OK, kLookupFollow)),
            Errno::kEACCES);
  EXPECT_EQ(E(vfs_->OpenForExec(*ctx_, "/tmp/noexec")), Errno::kEACCES);
  EXPECT_EQ(E(vfs_->OpenForExec(*ctx_, "/tmp")), Errno::kEACCES);
  EXPECT_EQ(E(vfs_->OpenForExec(*ctx_, "/tmp/none")), Errno::kENOENT);
  EXPECT_EQ(E(vfs_->OpenForExec(*ctx_, "/tmp/exec/x")), Errno::kENOTDIR);
  EXPECT_TRUE(vfs_->OpenForExec(*ctx_, "/tmp/exec").ok());
  EXPECT_TRUE(vfs_->OpenForExec(*ctx_, user, "/tmp/exec").ok());
  // Group membership.
  Creds grp{1000, 5, {1234}};
  Creds other{1000, 5, {}};
  V(vfs_->MkdirAt(C(), abi::kAT_FDCWD, "/tmp/g", 0750));
  {
    // chown-free: a directory created by a user with gid 1234 in a root-owned /tmp.
    Creds creator{0, 1234, {}};
    V(vfs_->MkdirAt(C(creator), abi::kAT_FDCWD, "/tmp/g2", 0750));
  }
  EXPECT_TRUE(vfs_->StatAt(C(grp), abi::kAT_FDCWD, "/tmp/g2/.", kLookupFollow).ok());
  EXPECT_EQ(E(vfs_->StatAt(C(other), abi::kAT_FDCWD, "/tmp/g2/.", kLookupFollow)),
            Errno::kEACCES);
}

TEST_F(VFSTest, OpenFlags) {
  Touch("/tmp/f");
  Symlink("f", "/tmp/lnk");
  Symlink("newtarget", "/tmp/dangling");
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/f", kCreat | abi::kO_EXCL, 0644)),
            Errno::kEEXIST);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/lnk", kCreat | abi::kO_EXCL, 0644)),
            Errno::kEEXIST);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/f", abi::kO_DIRECTORY, 0)),
            Errno::kENOTDIR);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/lnk", abi::kO_NOFOLLOW, 0)),
            Errno::kELOOP);
  auto p = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/lnk", abi::kO_PATH | abi::kO_NOFOLLOW, 0));
  EXPECT_EQ(V(p->Stat()).mode & abi::kS_IFMT, abi::kS_IFLNK);
  std::byte b[4];
  EXPECT_EQ(E(p->Read(b)), Errno::kEBADF);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp", abi::kO_WRONLY, 0)), Errno::kEISDIR);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp", kCreat, 0)), Errno::kEISDIR);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/new/", kCreat, 0)), Errno::kEISDIR);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/x", kCreat | abi::kO_DIRECTORY, 0)),
            Errno::kEINVAL);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/nope", abi::kO_RDONLY, 0)),
            Errno::kENOENT);
  // O_CREAT through a dangling symlink creates its target.
  V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/dangling", kCreat, 0600));
  EXPECT_EQ(St("/tmp/newtarget").mode, abi::kS_IFREG | 0600);
  // umask applies to the mode.
  V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/um", kCreat, 0777));
  EXPECT_EQ(St("/tmp/um").mode, abi::kS_IFREG | 0755);
  ctx_->SwapUmask(0);
  Mkdir("/tmp/um0", 0777);
  EXPECT_EQ(St("/tmp/um0").mode, abi::kS_IFDIR | 0777);
  // O_TRUNC.
  auto f = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/f", abi::kO_WRONLY, 0));
  const char msg[] = "hello";
  V(f->Write(std::as_bytes(std::span(msg, 5))));
  EXPECT_EQ(St("/tmp/f").size, 5u);
  V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/f", abi::kO_RDONLY | abi::kO_TRUNC, 0));
  EXPECT_EQ(St("/tmp/f").size, 0u);
  // Stored flags drop the open-time-only bits.
  auto g = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/g",
                          kCreat | abi::kO_EXCL | abi::kO_APPEND | abi::kO_CLOEXEC, 0644));
  EXPECT_EQ(g->flags(), abi::kO_RDWR | abi::kO_APPEND);
  g->set_status_flags(abi::kO_NONBLOCK | abi::kO_RDONLY | abi::kO_TRUNC);
  EXPECT_EQ(g->flags(), abi::kO_RDWR | abi::kO_NONBLOCK);
  // dirfd-relative opens.
  auto dir = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp", abi::kO_RDONLY | abi::kO_DIRECTORY, 0));
  int dfd = V(fds_.Add(dir, false));
  EXPECT_TRUE(vfs_->OpenAt(C(), dfd, "f", abi::kO_RDONLY, 0).ok());
  int ffd = V(fds_.Add(f, false));
  EXPECT_EQ(E(vfs_->OpenAt(C(), ffd, "x", abi::kO_RDONLY, 0)), Errno::kENOTDIR);
  EXPECT_EQ(E(vfs_->OpenAt(C(), 99, "x", abi::kO_RDONLY, 0)), Errno::kEBADF);
  EXPECT_TRUE(vfs_->OpenAt(C(), 99, "/tmp/f", abi::kO_RDONLY, 0).ok());  // absolute ignores
  EXPECT_EQ(V(vfs_->StatAt(C(), ffd, "", kLookupEmptyPath)).ino, St("/tmp/f").ino);
}

TEST_F(VFSTest, UnlinkRmdir) {
  Mkdir("/tmp/d");
  Touch("/tmp/d/f");
  Mkdir("/tmp/e");
  EXPECT_EQ(St("/tmp").nlink, 4u);
  EXPECT_EQ(E(vfs_->RmdirAt(C(), abi::kAT_FDCWD, "/tmp/d")), Errno::kENOTEMPTY);
  EXPECT_EQ(E(vfs_->RmdirAt(C(), abi::kAT_FDCWD, "/tmp/d/f")), Errno::kENOTDIR);
  EXPECT_EQ(E(vfs_->UnlinkAt(C(), abi::kAT_FDCWD, "/tmp/d")), Errno::kEISDIR);
  EXPECT_EQ(E(vfs_->UnlinkAt(C(), abi::kAT_FDCWD, "/tmp/d/f/")), Errno::kENOTDIR);
  EXPECT_EQ(E(vfs_->RmdirAt(C(), abi::kAT_FDCWD, "/tmp/d/.")), Errno::kEINVAL);
  EXPECT_EQ(E(vfs_->RmdirAt(C(), abi::kAT_FDCWD, "/tmp/d/..")), Errno::kENOTEMPTY);
  EXPECT_EQ(E(vfs_->RmdirAt(C(), abi::kAT_FDCWD, "/tmp")), Errno::kEBUSY);
  EXPECT_EQ(E(vfs_->UnlinkAt(C(), abi::kAT_FDCWD, "/tmp/none")), Errno::kENOENT);
  EXPECT_EQ(E(vfs_->MkdirAt(C(), abi::kAT_FDCWD, "/tmp/d", 0755)), Errno::kEEXIST);
  EXPECT_EQ(E(vfs_->MkdirAt(C(), abi::kAT_FDCWD, "/", 0755)), Errno::kEEXIST);
  // An open file survives unlink.
  auto f = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/d/f", abi::kO_RDWR, 0));
  V(vfs_->UnlinkAt(C(), abi::kAT_FDCWD, "/tmp/d/f"));
  EXPECT_EQ(StErr("/tmp/d/f"), Errno::kENOENT);
  EXPECT_EQ(V(f->Stat()).nlink, 0u);
  const char msg[] = "abc";
  EXPECT_EQ(V(f->Write(std::as_bytes(std::span(msg, 3)))), 3u);
  // cwd removed: getcwd ENOENT, creating inside fails.
  V(vfs_->Chdir(C(), "/tmp/d"));
  V(vfs_->RmdirAt(C(), abi::kAT_FDCWD, "/tmp/d"));
  EXPECT_EQ(E(vfs_->Getcwd(*ctx_)), Errno::kENOENT);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "x", kCreat, 0644)), Errno::kENOENT);
  EXPECT_EQ(St("/tmp").nlink, 3u);
  // Sticky /tmp: another user cannot remove root's file.
  Touch("/tmp/rootfile", 0666);
  Creds user{1000, 1000, {}};
  EXPECT_EQ(E(vfs_->UnlinkAt(C(user), abi::kAT_FDCWD, "/tmp/rootfile")), Errno::kEPERM);
  V(vfs_->OpenAt(C(user), abi::kAT_FDCWD, "/tmp/mine", kCreat, 0644));
  EXPECT_EQ(St("/tmp/mine").uid, 1000u);
  EXPECT_TRUE(vfs_->UnlinkAt(C(user), abi::kAT_FDCWD, "/tmp/mine").ok());
  // Non-writable parent.
  EXPECT_EQ(E(vfs_->MkdirAt(C(user), abi::kAT_FDCWD, "/newdir", 0755)), Errno::kEACCES);
}

std::vector<std::pair<std::string, uint64_t>> ListDir(FileDescription& f, size_t bufsize) {
  std::vector<std::pair<std::string, uint64_t>> out;
  std::vector<std::byte> buf(bufsize);
  for (;;) {
    size_t n = V(f.GetDents64(buf));
    if (n == 0) break;
    for (size_t off = 0; off < n;) {
      abi::Dirent64Header h;
      std::memcpy(&h, buf.data() + off, abi::kDirent64NameOffset);
      out.emplace_back(reinterpret_cast<const char*>(buf.data() + off + abi::kDirent64NameOffset),
                       h.d_ino);
      EXPECT_EQ(h.d_reclen % 8, 0);
      off += h.d_reclen;
    }
  }
  return out;
}

TEST_F(VFSTest, GetDents) {
  Mkdir("/tmp/d");
  Touch("/tmp/d/a");
  Mkdir("/tmp/d/b");
  auto d = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/d", abi::kO_RDONLY, 0));
  auto list = ListDir(*d, 4096);
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].first, ".");
  EXPECT_EQ(list[0].second, St("/tmp/d").ino);
  EXPECT_EQ(list[1].first, "..");
  EXPECT_EQ(list[1].second, St("/tmp").ino);
  EXPECT_EQ(list[2].first, "a");
  EXPECT_EQ(list[2].second, St("/tmp/d/a").ino);
  EXPECT_EQ(list[3].first, "b");
  // A buffer holding one record at a time still lists everything; too small is EINVAL.
  V(d->Seek(0, abi::kSEEK_SET));
  EXPECT_EQ(ListDir(*d, 24).size(), 4u);
  V(d->Seek(0, abi::kSEEK_SET));
  std::byte tiny[8];
  EXPECT_EQ(E(d->GetDents64(tiny)), Errno::kEINVAL);
  EXPECT_EQ(E(d->Read(tiny)), Errno::kEISDIR);
  // Seeking to an entry's d_off resumes after it.
  V(d->Seek(3, abi::kSEEK_SET));
  auto rest = ListDir(*d, 4096);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].first, "b");
}

TEST_F(VFSTest, ForkedContextIsIndependent) {
  Mkdir("/tmp/x");
  auto child = ctx_->Fork();
  V(vfs_->Chdir(C(), "/tmp/x"));
  EXPECT_EQ(V(vfs_->Getcwd(*child)), "/");
  EXPECT_EQ(child->GetUmask(), 022u);
}

// Renames move cached dentries: a cwd inside a moved directory reports its new path, and
// ".." from it reaches the new parent.
TEST_F(VFSTest, RenameMovesCachedDentries) {
  Mkdir("/tmp/a");
  Mkdir("/tmp/a/in");
  Mkdir("/tmp/b");
  V(vfs_->Chdir(C(), "/tmp/a/in"));
  V(vfs_->RenameAt(C(), abi::kAT_FDCWD, "/tmp/a", abi::kAT_FDCWD, "/tmp/b/moved", 0));
  EXPECT_EQ(V(vfs_->Getcwd(*ctx_)), "/tmp/b/moved/in");
  EXPECT_EQ(St("..").ino, St("/tmp/b/moved").ino);
  EXPECT_EQ(StErr("/tmp/a"), Errno::kENOENT);
  // Exchange swaps the two cached names.
  Touch("/tmp/f");
  Attr f = St("/tmp/f"), b = St("/tmp/b");
  V(vfs_->RenameAt(C(), abi::kAT_FDCWD, "/tmp/f", abi::kAT_FDCWD, "/tmp/b", kRenameExchange));
  EXPECT_EQ(St("/tmp/f").ino, b.ino);
  EXPECT_EQ(St("/tmp/b").ino, f.ino);
  EXPECT_EQ(V(vfs_->Getcwd(*ctx_)), "/tmp/f/moved/in");
  // A mount point cannot move; "/tmp" itself is one.
  Mkdir("/x");
  EXPECT_EQ(E(vfs_->RenameAt(C(), abi::kAT_FDCWD, "/tmp", abi::kAT_FDCWD, "/y", 0)),
            Errno::kEBUSY);
  EXPECT_EQ(E(vfs_->RenameAt(C(), abi::kAT_FDCWD, "/x", abi::kAT_FDCWD, "/tmp/x", 0)),
            Errno::kEXDEV);
}

}  // namespace
}  // namespace sbx::fs
