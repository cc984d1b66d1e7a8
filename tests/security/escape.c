/* Escape attempts run as a guest under `sandbox run` by security_test.py. Each subcommand
 * prints one line per attempt ("ok: ..." or "BREACH: ...") and exits 0 only if every attempt
 * was contained; the driver also verifies the host side (files untouched, nothing created).
 * Single process only: no fork, exec, threads or signal handlers.
 *
 *   escape rootfs DIR       DIR is a host directory (outside /tmp) holding a file "canary":
 *                           every write-like operation on it or in DIR must fail with EROFS.
 *   escape tmp TAG          the guest's /tmp is its own: /tmp/sbx-host-TAG (created on the
 *                           host) is invisible, /tmp starts empty, and ".." cannot climb out
 *                           of the guest root.
 *   escape identity REL     the guest is pid 1 with parent 0, and its uname release is the
 *                           sentry's, not the host's REL.
 *   escape fds              no descriptor other than 0, 1, 2 is open in the guest (the
 *                           sentry and gofer must not leak host descriptors).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static int breaches = 0;

static void report(int contained, const char* what, int err) {
  if (!contained) breaches++;
  printf("%s: %s (%s)\n", contained ? "ok" : "BREACH", what,
         err ? (strerrorname_np(err) ? strerrorname_np(err) : "?") : "success");
}

/* Expects `ret` to be -1 with errno EROFS. */
static void expect_erofs(const char* what, long ret) {
  int err = ret == -1 ? errno : 0;
  report(ret == -1 && err == EROFS, what, err);
}

static int rootfs(const char* dir) {
  char canary[4096], fresh[4096], moved[4096];
  snprintf(canary, sizeof(canary), "%s/canary", dir);
  snprintf(fresh, sizeof(fresh), "%s/guest-created", dir);
  snprintf(moved, sizeof(moved), "%s/canary.moved", dir);

  struct stat st;
  if (stat(canary, &st) != 0) {
    printf("BREACH? cannot see the canary %s: %s\n", canary, strerror(errno));
    return 2;
  }
  expect_erofs("open O_WRONLY", open(canary, O_WRONLY));
  expect_erofs("open O_RDWR|O_APPEND", open(canary, O_RDWR | O_APPEND));
  expect_erofs("open O_TRUNC", open(canary, O_WRONLY | O_TRUNC));
  expect_erofs("open O_CREAT new file", open(fresh, O_WRONLY | O_CREAT | O_EXCL, 0644));
  expect_erofs("truncate", truncate(canary, 0));
  expect_erofs("unlink", unlink(canary));
  expect_erofs("rename", rename(canary, moved));
  expect_erofs("chmod", chmod(canary, 0777));
  expect_erofs("chown", chown(canary, 12345, 12345));
  expect_erofs("utimensat", utimensat(AT_FDCWD, canary, NULL, 0));
  expect_erofs("link", link(canary, fresh));
  expect_erofs("symlink", symlink(canary, fresh));
  expect_erofs("mkdir", mkdir(fresh, 0755));
  expect_erofs("rmdir", rmdir(dir));
  expect_erofs("mknod fifo", mknod(fresh, S_IFIFO | 0644, 0));

  /* A read-only descriptor cannot be turned into a writable one. */
  int fd = open(canary, O_RDONLY);
  if (fd < 0) {
    report(0, "open O_RDONLY", errno);
  } else {
    long r = write(fd, "x", 1);
    report(r == -1 && errno == EBADF, "write on O_RDONLY fd", r == -1 ? errno : 0);
    r = ftruncate(fd, 0);
    int err = r == -1 ? errno : 0;
    report(r == -1 && (err == EINVAL || err == EBADF || err == EROFS), "ftruncate", err);
    fcntl(fd, F_SETFL, O_APPEND | O_RDWR);
    r = write(fd, "x", 1);
    report(r == -1 && errno == EBADF, "write after F_SETFL O_RDWR", r == -1 ? errno : 0);
    close(fd);
  }
  return breaches ? 1 : 0;
}

static int tmp(const char* tag) {
  char host_marker[256], mine[256], via_dotdot[300];
  snprintf(host_marker, sizeof(host_marker), "/tmp/sbx-host-%s", tag);
  snprintf(mine, sizeof(mine), "/tmp/sbx-guest-%s", tag);
  snprintf(via_dotdot, sizeof(via_dotdot), "/../../..%s", mine);

  struct stat st;
  int r = stat(host_marker, &st);
  report(r == -1 && errno == ENOENT, "host /tmp marker is invisible", r == -1 ? errno : 0);

  DIR* d = opendir("/tmp");
  int others = 0;
  if (d != NULL) {
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        printf("  /tmp entry: %s\n", e->d_name);
        others++;
      }
    }
    closedir(d);
  }
  report(d != NULL && others == 0, "guest /tmp starts empty", d == NULL ? errno : 0);

  int fd = open(mine, O_WRONLY | O_CREAT | O_EXCL, 0644);
  report(fd >= 0 && write(fd, "guest", 5) == 5, "guest can write its own /tmp", fd < 0 ? errno : 0);
  if (fd >= 0) close(fd);
  fd = open(via_dotdot, O_RDONLY);
  char buf[16] = {0};
  report(fd >= 0 && read(fd, buf, sizeof(buf)) == 5 && memcmp(buf, "guest", 5) == 0,
         "\"/../../..\" stays at the guest root", fd < 0 ? errno : 0);
  if (fd >= 0) close(fd);

  struct stat root, up;
  r = stat("/", &root) | stat("/../..", &up);
  report(r == 0 && root.st_ino == up.st_ino && root.st_dev == up.st_dev, "/.. is /", 0);

  /* The guest's view of /etc/passwd through /tmp/.. is the same file as /etc/passwd. */
  struct stat a, b;
  r = stat("/tmp/../../etc/passwd", &a) | stat("/etc/passwd", &b);
  report(r == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev,
         "/tmp/../../etc/passwd is the guest's /etc/passwd", r ? errno : 0);
  return breaches ? 1 : 0;
}

static int identity(const char* host_release) {
  long pid = syscall(SYS_getpid), tid = syscall(SYS_gettid), ppid = syscall(SYS_getppid);
  printf("  pid %ld tid %ld ppid %ld\n", pid, tid, ppid);
  report(pid == 1, "guest is pid 1", 0);
  report(tid == 1, "main thread is tid 1", 0);
  report(ppid == 0, "parent is outside the namespace (ppid 0)", 0);
  struct utsname u;
  if (uname(&u) != 0) {
    report(0, "uname", errno);
    return 1;
  }
  printf("  release %s, host %s\n", u.release, host_release);
  report(strcmp(u.release, host_release) != 0, "release differs from the host's", 0);
  report(strcmp(u.release, "6.6.0-sbx") == 0, "release is the sentry's 6.6.0-sbx", 0);
  return breaches ? 1 : 0;
}

static int fds(void) {
  for (int fd = 0; fd < 3; ++fd) {
    if (fcntl(fd, F_GETFD) == -1) printf("  note: stdio fd %d is closed\n", fd);
  }
  struct rlimit rl;
  long limit = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)limit) limit = (long)rl.rlim_cur;
  int leaked = 0;
  for (int fd = 3; fd < limit; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) {
      struct stat st;
      if (fstat(fd, &st) == 0) {
        printf("  fd %d is open: mode %o ino %lu\n", fd, st.st_mode, (unsigned long)st.st_ino);
      }
      leaked++;
    }
  }
  report(leaked == 0, "no descriptors beyond stdio", 0);
  return breaches ? 1 : 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 3 && strcmp(argv[1], "rootfs") == 0) return rootfs(argv[2]);
  if (argc == 3 && strcmp(argv[1], "tmp") == 0) return tmp(argv[2]);
  if (argc == 3 && strcmp(argv[1], "identity") == 0) return identity(argv[2]);
  if (argc == 2 && strcmp(argv[1], "fds") == 0) return fds();
  fprintf(stderr, "usage: escape rootfs DIR | tmp TAG | identity HOST_RELEASE | fds\n");
  return 2;
}
