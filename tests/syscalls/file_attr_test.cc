// chmod/fchmod/fchmodat, chown family, truncate/ftruncate, fallocate, utimensat/utimes/utime,
// fsync family, flock: attribute changes under /tmp.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include <string>

#include "tests/syscalls/test_util.h"

namespace sbx::testing {
namespace {

mode_t Mode(const std::string& p) {
  struct stat st;
  if (stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(ChmodTest, ChangesPermissionBits) {
  TempDir d;
  std::string f = d.WriteFile("f", "x", 0644);
  ASSERT_EQ(chmod(f.c_str(), 0600), 0);
  EXPECT_EQ(Mode(f), 0600u);
  int fd = open(f.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchmod(fd, 04755), 0);
  EXPECT_EQ(Mode(f), 04755u);
  close(fd);
  ASSERT_EQ(fchmodat(AT_FDCWD, f.c_str(), 0170644, 0), 0);  // type bits are ignored
  EXPECT_EQ(Mode(f), 0644u);
  EXPECT_TRUE(FailsWith(chmod(d.Join("missing").c_str(), 0644), ENOENT));
  EXPECT_TRUE(FailsWith(fchmod(-1, 0644), EBADF));
  int pfd = open(f.c_str(), O_PATH);
  ASSERT_GE(pfd, 0);
  EXPECT_TRUE(FailsWith(fchmod(pfd, 0644), EBADF));
  close(pfd);
}

TEST(ChmodTest, Fchmodat2NoFollowOnSymlink) {
  TempDir d;
  std::string f = d.WriteFile("f", "x", 0644);
  ASSERT_EQ(symlink("f", d.Join("l").c_str()), 0);
  long r = syscall(452, AT_FDCWD, d.Join("l").c_str(), 0600, AT_SYMLINK_NOFOLLOW);
  if (r != 0 && errno == ENOSYS) GTEST_SKIP() << "no fchmodat2 on this kernel";
  EXPECT_TRUE(FailsWith(r, EOPNOTSUPP));
  EXPECT_EQ(syscall(452, AT_FDCWD, d.Join("l").c_str(), 0600, 0), 0);
  EXPECT_EQ(Mode(f), 0600u);
  EXPECT_TRUE(FailsWith(syscall(452, AT_FDCWD, f.c_str(), 0600, 0x8000), EINVAL));
}

TEST(ChmodTest, NonOwnerIsRefused) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  ASSERT_EQ(chmod(f.c_str(), 0666), 0);
  ASSERT_EQ(chmod(d.path().c_str(), 0755), 0);
  setfsuid(1000);
  int r = chmod(f.c_str(), 0600);
  int e = errno;
  int r2 = utimensat(AT_FDCWD, f.c_str(), nullptr, 0);  // write permission suffices for "now"
  struct timespec ts[2] = {{1, 0}, {2, 0}};
  int r3 = utimensat(AT_FDCWD, f.c_str(), ts, 0);
  int e3 = errno;
  setfsuid(0);
  errno = e;
  EXPECT_TRUE(FailsWith(r, EPERM));
  EXPECT_EQ(r2, 0);
  errno = e3;
  EXPECT_TRUE(FailsWith(r3, EPERM));
}

TEST(ChownTest, ChangesOwnerAndClearsSetuid) {
  TempDir d;
  std::string f = d.WriteFile("f", "x", 0644);
  ASSERT_EQ(chmod(f.c_str(), 06755), 0);
  ASSERT_EQ(chown(f.c_str(), 1234, 5678), 0);
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);  // setuid and (group-exec) setgid cleared
  ASSERT_EQ(chown(f.c_str(), static_cast<uid_t>(-1), 42), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 42u);
  ASSERT_EQ(symlink("f", d.Join("l").c_str()), 0);
  ASSERT_EQ(lchown(d.Join("l").c_str(), 77, 77), 0);
  ASSERT_EQ(lstat(d.Join("l").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 77u);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  int fd = open(f.c_str(), O_RDONLY);
  ASSERT_EQ(fchown(fd, 0, 0), 0);
  close(fd);
  EXPECT_TRUE(FailsWith(fchownat(AT_FDCWD, f.c_str(), 0, 0, 0x8000), EINVAL));
  // A directory keeps its set-group-ID bit.
  ASSERT_EQ(mkdir(d.Join("dir").c_str(), 02775), 0);
  ASSERT_EQ(chmod(d.Join("dir").c_str(), 02775), 0);
  ASSERT_EQ(chown(d.Join("dir").c_str(), 5, 5), 0);
  EXPECT_EQ(Mode(d.Join("dir")), 02775u);
}

TEST(ChownTest, UnprivilegedRules) {
  TempDir d;
  std::string f = d.WriteFile("f", "x", 0644);
  ASSERT_EQ(chown(f.c_str(), 1000, 0), 0);
  ASSERT_EQ(chmod(d.path().c_str(), 0777), 0);
  setfsuid(1000);
  int give = chown(f.c_str(), 1001, static_cast<gid_t>(-1));
  int e_give = errno;
  int same = chown(f.c_str(), 1000, static_cast<gid_t>(-1));
  int noop = chown(f.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(-1));
  int foreign_group = chown(f.c_str(), static_cast<uid_t>(-1), 4242);
  int e_group = errno;
  setfsuid(0);
  errno = e_give;
  EXPECT_TRUE(FailsWith(give, EPERM));
  EXPECT_EQ(same, 0);
  EXPECT_EQ(noop, 0);
  errno = e_group;
  EXPECT_TRUE(FailsWith(foreign_group, EPERM));
}

TEST(TruncateTest, PathAndDescriptor) {
  TempDir d;
  std::string f = d.WriteFile("f", "hello world");
  ASSERT_EQ(truncate(f.c_str(), 5), 0);
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadAll(fd), "hello");
  ASSERT_EQ(ftruncate(fd, 8), 0);
  ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
  EXPECT_EQ(ReadAll(fd), std::string("hello\0\0\0", 8));
  EXPECT_TRUE(FailsWith(ftruncate(fd, -1), EINVAL));
  close(fd);
  EXPECT_TRUE(FailsWith(truncate(f.c_str(), -1), EINVAL));
  EXPECT_TRUE(FailsWith(truncate(d.path().c_str(), 0), EISDIR));
  EXPECT_TRUE(FailsWith(truncate(d.Join("missing").c_str(), 0), ENOENT));
  fd = open(f.c_str(), O_RDONLY);
  EXPECT_TRUE(FailsWith(ftruncate(fd, 0), EINVAL));
  close(fd);
  EXPECT_TRUE(FailsWith(ftruncate(-1, 0), EBADF));
  int dfd = open(d.path().c_str(), O_RDONLY | O_DIRECTORY);
  EXPECT_TRUE(FailsWith(ftruncate(dfd, 0), EINVAL));
  close(dfd);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_TRUE(FailsWith(ftruncate(p[1], 0), EINVAL));
  close(p[0]);
  close(p[1]);
  ASSERT_EQ(chmod(f.c_str(), 0444), 0);
  ASSERT_EQ(chmod(d.path().c_str(), 0755), 0);
  setfsuid(1000);
  int r = truncate(f.c_str(), 0);
  int e = errno;
  setfsuid(0);
  errno = e;
  EXPECT_TRUE(FailsWith(r, EACCES));
}

TEST(FallocateTest, ExtendsOrKeepsSize) {
  TempDir d;
  std::string f = d.WriteFile("f", "abc");
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct stat st;
  int r = fallocate(fd, 0, 0, 100000);
  if (r != 0 && errno == EOPNOTSUPP) GTEST_SKIP() << "host /tmp has no fallocate";
  ASSERT_EQ(r, 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 100000);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 500000), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 100000);
  char buf[3];
  EXPECT_EQ(pread(fd, buf, 3, 0), 3);
  EXPECT_EQ(std::string(buf, 3), "abc");
  EXPECT_TRUE(FailsWith(fallocate(fd, 0, -1, 10), EINVAL));
  EXPECT_TRUE(FailsWith(fallocate(fd, 0, 0, 0), EINVAL));
  EXPECT_TRUE(FailsWith(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10), EOPNOTSUPP));
  close(fd);
  fd = open(f.c_str(), O_RDONLY);
  EXPECT_TRUE(FailsWith(fallocate(fd, 0, 0, 10), EBADF));
  close(fd);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_TRUE(FailsWith(fallocate(p[1], 0, 0, 10), ESPIPE));
  close(p[0]);
  close(p[1]);
}

TEST(UtimesTest, SetsOmitsAndNow) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  struct timespec ts[2] = {{1000, 5}, {2000, 7}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), ts, 0), 0);
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_EQ(st.st_atim.tv_nsec, 5);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000);
  struct timespec omit_now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), omit_now, 0), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1000);
  EXPECT_GT(st.st_mtim.tv_sec, 1000000000);
  struct timespec both_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  EXPECT_EQ(utimensat(AT_FDCWD, d.Join("missing").c_str(), both_omit, 0), 0);
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_TRUE(FailsWith(utimensat(AT_FDCWD, f.c_str(), bad, 0), EINVAL));
  EXPECT_TRUE(FailsWith(utimensat(AT_FDCWD, f.c_str(), nullptr, 0x8000), EINVAL));
  // Symlinks: AT_SYMLINK_NOFOLLOW changes the link itself.
  ASSERT_EQ(symlink("f", d.Join("l").c_str()), 0);
  struct timespec old[2] = {{10, 0}, {20, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, d.Join("l").c_str(), old, AT_SYMLINK_NOFOLLOW), 0);
  ASSERT_EQ(lstat(d.Join("l").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 20);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_NE(st.st_mtim.tv_sec, 20);
  // A null path means the descriptor itself.
  int fd = open(f.c_str(), O_RDONLY);
  ASSERT_EQ(syscall(SYS_utimensat, fd, nullptr, old, 0), 0);
  EXPECT_TRUE(FailsWith(syscall(SYS_utimensat, fd, nullptr, old, AT_SYMLINK_NOFOLLOW), EINVAL));
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 20);
  EXPECT_EQ(utimensat(fd, "", old, AT_EMPTY_PATH), 0);
  close(fd);
}

TEST(UtimesTest, LegacyCalls) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  struct timeval tv[2] = {{100, 1}, {200, 2}};
  ASSERT_EQ(utimes(f.c_str(), tv), 0);
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 200);
  EXPECT_EQ(st.st_mtim.tv_nsec, 2000);
  struct timeval badtv[2] = {{1, 1000000}, {1, 0}};
  EXPECT_TRUE(FailsWith(utimes(f.c_str(), badtv), EINVAL));
  struct utimbuf ub = {300, 400};
  ASSERT_EQ(utime(f.c_str(), &ub), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 300);
  EXPECT_EQ(st.st_mtim.tv_sec, 400);
  ASSERT_EQ(futimesat(AT_FDCWD, f.c_str(), tv), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 200);
  ASSERT_EQ(utime(f.c_str(), nullptr), 0);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_GT(st.st_mtim.tv_sec, 1000000000);
}

TEST(SyncTest, ValidatesDescriptors) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fsync(fd), 0);
  EXPECT_EQ(fdatasync(fd), 0);
  EXPECT_EQ(syncfs(fd), 0);
  sync();
  EXPECT_EQ(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE), 0);
  EXPECT_TRUE(FailsWith(sync_file_range(fd, 0, 0, 8), EINVAL));
  EXPECT_TRUE(FailsWith(sync_file_range(fd, -1, 0, 0), EINVAL));
  close(fd);
  EXPECT_TRUE(FailsWith(fsync(-1), EBADF));
  EXPECT_TRUE(FailsWith(syncfs(-1), EBADF));
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_TRUE(FailsWith(fsync(p[0]), EINVAL));
  EXPECT_TRUE(FailsWith(sync_file_range(p[0], 0, 0, 0), ESPIPE));
  close(p[0]);
  close(p[1]);
  int dfd = open(d.path().c_str(), O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(fsync(dfd), 0);
  close(dfd);
}

TEST(FlockTest, SharedExclusiveBetweenDescriptions) {
  TempDir d;
  std::string f = d.WriteFile("f", "x");
  int a = open(f.c_str(), O_RDONLY);
  int b = open(f.c_str(), O_RDONLY);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(flock(a, LOCK_SH), 0);
  EXPECT_EQ(flock(b, LOCK_SH | LOCK_NB), 0);
  EXPECT_TRUE(FailsWith(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK));
  // The failed conversion dropped b's shared lock (Linux flock_lock_inode).
  ASSERT_EQ(flock(a, LOCK_EX | LOCK_NB), 0);
  EXPECT_TRUE(FailsWith(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK));
  // A dup shares the description and thus the lock.
  int a2 = dup(a);
  EXPECT_EQ(flock(a2, LOCK_EX | LOCK_NB), 0);
  close(a);
  EXPECT_TRUE(FailsWith(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK));
  close(a2);  // last close of the description releases the lock
  EXPECT_EQ(flock(b, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(flock(b, LOCK_UN), 0);
  EXPECT_EQ(flock(b, LOCK_UN), 0);
  EXPECT_TRUE(FailsWith(flock(b, 0), EINVAL));
  EXPECT_TRUE(FailsWith(flock(-1, LOCK_SH), EBADF));
  EXPECT_TRUE(FailsWith(flock(-1, 77), EINVAL));
  close(b);
}

}  // namespace
}  // namespace sbx::testing
