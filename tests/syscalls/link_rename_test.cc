// symlink, link, linkat, rename, renameat2, mknod: name creation and moves under /tmp.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/fsuid.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

int Renameat2(const std::string& a, const std::string& b, unsigned flags) {
  return static_cast<int>(
      syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), flags));
}

ino_t Ino(const std::string& p) {
  struct stat st;
  if (lstat(p.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

TEST(SymlinkTest, CreatesAndRejects) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  ASSERT_EQ(symlink("f", d.Join("l").c_str()), 0);
  char buf[16] = {};
  EXPECT_EQ(readlink(d.Join("l").c_str(), buf, sizeof(buf)), 1);
  EXPECT_STREQ(buf, "f");
  EXPECT_TRUE(FailsWith(symlink("f", d.Join("l").c_str()), EEXIST));
  EXPECT_TRUE(FailsWith(symlink("", d.Join("e").c_str()), ENOENT));
  EXPECT_TRUE(FailsWith(symlink("f", d.Join("nodir/x").c_str()), ENOENT));
  EXPECT_TRUE(FailsWith(symlink("f", (f + "/x").c_str()), ENOTDIR));
  int dfd = open(d.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  EXPECT_EQ(symlinkat("dangling", dfd, "l2"), 0);
  struct stat st;
  EXPECT_EQ(lstat(d.Join("l2").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_TRUE(FailsWith(stat(d.Join("l2").c_str(), &st), ENOENT));
  close(dfd);
}

TEST(LinkTest, HardLinksShareTheInode) {
  TempDir d;
  std::string f = d.WriteFile("f", "data");
  ASSERT_EQ(link(f.c_str(), d.Join("g").c_str()), 0);
  struct stat a, b;
  ASSERT_EQ(stat(f.c_str(), &a), 0);
  ASSERT_EQ(stat(d.Join("g").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  ASSERT_EQ(unlink(f.c_str()), 0);
  ASSERT_EQ(stat(d.Join("g").c_str(), &b), 0);
  EXPECT_EQ(b.st_nlink, 1u);
  EXPECT_TRUE(FailsWith(link(d.Join("g").c_str(), d.Join("g").c_str()), EEXIST));
  EXPECT_TRUE(FailsWith(link(d.Join("missing").c_str(), d.Join("h").c_str()), ENOENT));
  EXPECT_TRUE(FailsWith(link(d.path().c_str(), d.Join("dirlink").c_str()), EPERM));
  EXPECT_TRUE(FailsWith(link(d.Join("g").c_str(), d.Join("h/").c_str()), ENOENT));
  EXPECT_TRUE(FailsWith(linkat(AT_FDCWD, d.Join("g").c_str(), AT_FDCWD, d.Join("h").c_str(),
                               0x8000), EINVAL));
}

TEST(LinkTest, SymlinkFollowFlag) {
  TempDir d;
  std::string f = d.WriteFile("f", "data");
  ASSERT_EQ(symlink("f", d.Join("l").c_str()), 0);
  ASSERT_EQ(linkat(AT_FDCWD, d.Join("l").c_str(), AT_FDCWD, d.Join("nofollow").c_str(), 0), 0);
  ASSERT_EQ(linkat(AT_FDCWD, d.Join("l").c_str(), AT_FDCWD, d.Join("follow").c_str(),
                   AT_SYMLINK_FOLLOW), 0);
  EXPECT_EQ(Ino(d.Join("nofollow")), Ino(d.Join("l")));
  EXPECT_EQ(Ino(d.Join("follow")), Ino(f));
}

TEST(LinkTest, AcrossMountsIsEXDEV) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  // /tmp is its own mount on the host and in the sandbox; "/" is another.
  struct stat root, tmp;
  ASSERT_EQ(stat("/", &root), 0);
  ASSERT_EQ(stat("/tmp", &tmp), 0);
  if (root.st_dev == tmp.st_dev) GTEST_SKIP() << "/tmp is not a separate mount here";
  int r = link("/etc/passwd", d.Join("p").c_str());
  EXPECT_TRUE(FailsWith(r, EXDEV));
  EXPECT_TRUE(FailsWith(rename(f.c_str(), "/sbx-should-not-exist"), EXDEV));
}

TEST(RenameTest, MovesFilesAndDirectories) {
  TempDir d;
  std::string f = d.WriteFile("f", "data");
  ino_t ino = Ino(f);
  ASSERT_EQ(rename(f.c_str(), d.Join("g").c_str()), 0);
  EXPECT_EQ(Ino(d.Join("g")), ino);
  EXPECT_EQ(Ino(f), 0u);
  ASSERT_EQ(mkdir(d.Join("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d.Join("b").c_str(), 0755), 0);
  ASSERT_EQ(rename(d.Join("g").c_str(), d.Join("a/g").c_str()), 0);
  ASSERT_EQ(rename(d.Join("a").c_str(), d.Join("b/a2").c_str()), 0);
  int fd = open(d.Join("b/a2/g").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadAll(fd), "data");
  close(fd);
  struct stat st;
  ASSERT_EQ(stat(d.Join("b").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 3u);
  ASSERT_EQ(stat(d.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 3u);  // ".", its entry, and b/..
}

TEST(RenameTest, ReplacesAndChecksTypes) {
  TempDir d;
  std::string f = d.WriteFile("f", "new");
  std::string g = d.WriteFile("g", "old");
  ASSERT_EQ(mkdir(d.Join("dir").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d.Join("full").c_str(), 0755), 0);
  d.WriteFile("full/x", "");
  ASSERT_EQ(mkdir(d.Join("empty").c_str(), 0755), 0);
  ASSERT_EQ(rename(f.c_str(), g.c_str()), 0);
  int fd = open(g.c_str(), O_RDONLY);
  EXPECT_EQ(ReadAll(fd), "new");
  close(fd);
  EXPECT_TRUE(FailsWith(rename(g.c_str(), d.Join("dir").c_str()), EISDIR));
  EXPECT_TRUE(FailsWith(rename(d.Join("dir").c_str(), g.c_str()), ENOTDIR));
  EXPECT_TRUE(FailsWith(rename(d.Join("dir").c_str(), d.Join("full").c_str()), ENOTEMPTY));
  EXPECT_EQ(rename(d.Join("dir").c_str(), d.Join("empty").c_str()), 0);
  EXPECT_TRUE(FailsWith(rename(d.Join("empty").c_str(), d.Join("empty/sub").c_str()), EINVAL));
  EXPECT_TRUE(FailsWith(rename(d.Join("full").c_str(), d.Join("full/x/y").c_str()), ENOTDIR));
  EXPECT_TRUE(FailsWith(rename(d.Join("missing").c_str(), d.Join("m2").c_str()), ENOENT));
  EXPECT_TRUE(FailsWith(rename(g.c_str(), d.Join("g2/").c_str()), ENOTDIR));
  EXPECT_TRUE(FailsWith(rename(d.Join("g/").c_str(), d.Join("g2").c_str()), ENOTDIR));
  EXPECT_TRUE(FailsWith(rename(d.Join("full/.").c_str(), d.Join("z").c_str()), EBUSY));
  EXPECT_TRUE(FailsWith(rename(g.c_str(), d.Join("..").c_str()), EBUSY));
}

TEST(RenameTest, SameInodeIsANoOp) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  ASSERT_EQ(link(f.c_str(), d.Join("h").c_str()), 0);
  EXPECT_EQ(rename(f.c_str(), d.Join("h").c_str()), 0);
  EXPECT_NE(Ino(f), 0u);  // both names remain
  EXPECT_NE(Ino(d.Join("h")), 0u);
  EXPECT_EQ(rename(f.c_str(), f.c_str()), 0);
}

TEST(RenameTest, OpenDescriptorsFollowTheMove) {
  TempDir d;
  ASSERT_EQ(mkdir(d.Join("a").c_str(), 0755), 0);
  int dfd = open(d.Join("a").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  ASSERT_EQ(rename(d.Join("a").c_str(), d.Join("b").c_str()), 0);
  int fd = openat(dfd, "inside", O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_NE(Ino(d.Join("b/inside")), 0u);
  close(dfd);
}

TEST(Renameat2Test, NoReplaceAndExchange) {
  TempDir d;
  std::string a = d.WriteFile("a", "A");
  std::string b = d.WriteFile("b", "B");
  if (Renameat2(a, d.Join("c"), 0) != 0 && errno == ENOSYS) GTEST_SKIP() << "no renameat2";
  ASSERT_EQ(Renameat2(d.Join("c"), a, RENAME_NOREPLACE), 0);
  EXPECT_TRUE(FailsWith(Renameat2(a, b, RENAME_NOREPLACE), EEXIST));
  ino_t ia = Ino(a), ib = Ino(b);
  ASSERT_EQ(Renameat2(a, b, RENAME_EXCHANGE), 0);
  EXPECT_EQ(Ino(a), ib);
  EXPECT_EQ(Ino(b), ia);
  EXPECT_TRUE(FailsWith(Renameat2(a, d.Join("none"), RENAME_EXCHANGE), ENOENT));
  EXPECT_TRUE(FailsWith(Renameat2(a, b, RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL));
  EXPECT_TRUE(FailsWith(Renameat2(a, b, 0x80), EINVAL));
  // Exchanging a directory and a file across directories moves the subdirectory link count.
  ASSERT_EQ(mkdir(d.Join("sub").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d.Join("sub/dir").c_str(), 0755), 0);
  ASSERT_EQ(Renameat2(d.Join("sub/dir"), a, RENAME_EXCHANGE), 0);
  struct stat st;
  ASSERT_EQ(stat(d.Join("sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  ASSERT_EQ(lstat(a.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(RenameTest, StickyDirectoryProtectsOthersFiles) {
  TempDir d;
  ASSERT_EQ(chmod(d.path().c_str(), 0755), 0);
  ASSERT_EQ(mkdir(d.Join("s").c_str(), 0777), 0);
  ASSERT_EQ(chmod(d.Join("s").c_str(), 01777), 0);
  std::string f = d.WriteFile("s/rootfile", "x");
  ASSERT_EQ(setfsuid(1000), 0);  // returns the previous fsuid (0)
  int r1 = rename(f.c_str(), d.Join("s/stolen").c_str());
  int e1 = errno;
  int r2 = unlink(f.c_str());
  int e2 = errno;
  int fd = open(d.Join("s/mine").c_str(), O_WRONLY | O_CREAT, 0644);
  int r3 = fd >= 0 ? rename(d.Join("s/mine").c_str(), d.Join("s/mine2").c_str()) : -1;
  setfsuid(0);
  if (fd >= 0) close(fd);
  errno = e1;
  EXPECT_TRUE(FailsWith(r1, EPERM));
  errno = e2;
  EXPECT_TRUE(FailsWith(r2, EPERM));
  EXPECT_EQ(r3, 0);
}

TEST(MknodTest, FifoBehavesAsAPipe) {
  TempDir d;
  std::string p = d.Join("fifo");
  ASSERT_EQ(mknod(p.c_str(), S_IFIFO | 0644, 0), 0);
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_TRUE(FailsWith(open(p.c_str(), O_WRONLY | O_NONBLOCK), ENXIO));
  int r = open(p.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(r, 0);
  int w = open(p.c_str(), O_WRONLY | O_NONBLOCK);
  ASSERT_GE(w, 0);
  EXPECT_EQ(write(w, "hey", 3), 3);
  char buf[8] = {};
  EXPECT_EQ(read(r, buf, sizeof(buf)), 3);
  EXPECT_STREQ(buf, "hey");
  EXPECT_TRUE(FailsWith(read(r, buf, sizeof(buf)), EAGAIN));
  struct stat fst;
  ASSERT_EQ(fstat(r, &fst), 0);
  EXPECT_EQ(fst.st_ino, st.st_ino);
  close(w);
  EXPECT_EQ(read(r, buf, sizeof(buf)), 0);
  close(r);
  int rw = open(p.c_str(), O_RDWR);  // never blocks
  ASSERT_GE(rw, 0);
  close(rw);
  EXPECT_TRUE(FailsWith(lseek(open(p.c_str(), O_RDONLY | O_NONBLOCK), 0, SEEK_SET), ESPIPE));
}

TEST(MknodTest, TypesAndErrors) {
  TempDir d;
  ASSERT_EQ(mknod(d.Join("reg").c_str(), 0640, 0), 0);
  struct stat st;
  ASSERT_EQ(stat(d.Join("reg").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_TRUE(FailsWith(mknod(d.Join("reg").c_str(), S_IFIFO | 0644, 0), EEXIST));
  EXPECT_TRUE(FailsWith(mknod(d.Join("dir").c_str(), S_IFDIR | 0755, 0), EPERM));
  EXPECT_TRUE(FailsWith(mknod(d.Join("bad").c_str(), 0170000 | 0644, 0), EINVAL));
  ASSERT_EQ(mknodat(AT_FDCWD, d.Join("sock").c_str(), S_IFSOCK | 0644, 0), 0);
  ASSERT_EQ(lstat(d.Join("sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_TRUE(FailsWith(open(d.Join("sock").c_str(), O_RDONLY), ENXIO));
}

}  // namespace
}  // namespace sbx::testing
