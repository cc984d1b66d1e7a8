// ConfineGofer: mount-namespace jail + seccomp allow-list for the gofer (see server.h).
//
// The allow-list is exactly what the serve loop (server.cc, wire.cc) and its libraries
// (glibc malloc, protobuf, abseil) call once serving; anything else kills the process.
// Argument filters narrow the dangerous ones: no executable memory, openat never creates (and
// never opens for writing when read-only), fcntl only F_SETFL, write only to stderr.
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "gofer/server.h"

namespace sbx::gofer {
namespace {

constexpr unsigned long kTmpfileBit = 020000000;  // __O_TMPFILE without O_DIRECTORY

absl::Status HostError(const std::string& what, int e = errno) {
  return absl::InternalError(absl::StrCat("gofer confine: ", what, ": ", strerror(e)));
}

// Makes the bind mount at `root` (and its submounts) read-only or not, always nosuid+nodev.
absl::Status SetMountAttrs(const std::string& root, bool read_only) {
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0);
  if (syscall(SYS_mount_setattr, AT_FDCWD, root.c_str(), AT_RECURSIVE, &attr,
              sizeof(attr)) == 0) {
    return absl::OkStatus();
  }
  if (errno != ENOSYS) return HostError(absl::StrCat("mount_setattr(", root, ")"));
  // Pre-5.12 kernels: remount the top mount only, keeping the flags the user namespace
  // locked (changing them would fail with EPERM).
  struct statvfs sv;
  if (statvfs(root.c_str(), &sv) < 0) return HostError(absl::StrCat("statvfs(", root, ")"));
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV;
  if (read_only) flags |= MS_RDONLY;
  if (sv.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  if (mount(nullptr, root.c_str(), nullptr, flags, nullptr) < 0) {
    return HostError(absl::StrCat("remount(", root, ")"));
  }
  return absl::OkStatus();
}

absl::Status InstallSeccomp(bool read_only) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
  if (ctx == nullptr) return absl::InternalError("gofer confine: seccomp_init failed");
  struct Release {
    scmp_filter_ctx c;
    ~Release() { seccomp_release(c); }
  } release{ctx};
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  auto allow = [&](int nr, std::initializer_list<scmp_arg_cmp> args = {}) {
    if (rc != 0) return;
    rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, static_cast<unsigned>(args.size()),
                                args.size() ? args.begin() : nullptr);
  };
  // Transport.
  allow(SCMP_SYS(recvmsg));
  allow(SCMP_SYS(sendmsg));
  // File operations (server.cc).
  unsigned long open_forbidden = O_CREAT | kTmpfileBit;
  if (read_only) open_forbidden |= O_ACCMODE | O_TRUNC;
  allow(SCMP_SYS(openat), {SCMP_A2(SCMP_CMP_MASKED_EQ, open_forbidden, 0)});
  allow(SCMP_SYS(newfstatat));
  allow(SCMP_SYS(fstat));
  allow(SCMP_SYS(readlinkat));
  allow(SCMP_SYS(fstatfs));  // server.cc refuses host kernel filesystems by f_type
  allow(SCMP_SYS(getdents64));
  allow(SCMP_SYS(lseek));
  allow(SCMP_SYS(close));
  allow(SCMP_SYS(fcntl), {SCMP_A1(SCMP_CMP_EQ, F_SETFL)});
  // Memory (malloc), never executable.
  allow(SCMP_SYS(mmap), {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
  allow(SCMP_SYS(mprotect), {SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)});
  allow(SCMP_SYS(munmap));
  allow(SCMP_SYS(mremap));
  allow(SCMP_SYS(madvise));
  allow(SCMP_SYS(brk));
  // Runtime: locks, signals returning, error messages to stderr, exit.
  allow(SCMP_SYS(futex));
  allow(SCMP_SYS(getrandom));
  allow(SCMP_SYS(rt_sigreturn));
  allow(SCMP_SYS(sigaltstack));  // sanitizer runtimes (ASan) set one up lazily
  allow(SCMP_SYS(restart_syscall));
  allow(SCMP_SYS(write), {SCMP_A0(SCMP_CMP_EQ, STDERR_FILENO)});
  allow(SCMP_SYS(exit));
  allow(SCMP_SYS(exit_group));
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // Sanitizer builds only: the runtime probes memory through a pipe, reports errors and
  // manages its own signal state. Release builds never get these.
  allow(SCMP_SYS(pipe2));
  allow(SCMP_SYS(read));
  allow(SCMP_SYS(write));
  allow(SCMP_SYS(sched_yield));
  allow(SCMP_SYS(getpid));
  allow(SCMP_SYS(gettid));
  allow(SCMP_SYS(rt_sigprocmask));
  allow(SCMP_SYS(rt_sigaction));
#endif
  if (rc != 0) return HostError("seccomp_rule_add", -rc);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return HostError("PR_SET_NO_NEW_PRIVS");
  if ((rc = seccomp_load(ctx)) != 0) return HostError("seccomp_load", -rc);
  return absl::OkStatus();
}

}  // namespace

absl::Status ConfineGofer(const ServerOptions& options) {
  const std::string& root = options.root;
  if (root.empty() || root[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("gofer confine: root must be an absolute path, got \"", root, "\""));
  }
  // Nothing we do below may propagate back to the parent mount namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
    return HostError("make / rprivate");
  }
  // Clone the tree to serve as a detached mount (recursive: submounts of the root are served
  // too), attach it under a scratch tmpfs, and pivot_root into it. Binding the root onto
  // itself would not do for root == "/": a lookup of "/" does not cross into a mount stacked
  // on the current root, so pivot_root would see the old root as the new one (EINVAL).
  int tree = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, root.c_str(),
                                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
  if (tree < 0) return HostError(absl::StrCat("open_tree(", root, ")"));
  const char* scratch = "/tmp";
  if (mount("sbx-gofer", scratch, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=16k,mode=0700") < 0) {
    close(tree);
    return HostError("mount scratch tmpfs on /tmp");
  }
  if (mkdir("/tmp/root", 0700) < 0) {
    close(tree);
    return HostError("mkdir /tmp/root");
  }
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, "/tmp/root", MOVE_MOUNT_F_EMPTY_PATH) < 0) {
    close(tree);
    return HostError(absl::StrCat("move_mount(", root, ")"));
  }
  close(tree);
  if (absl::Status s = SetMountAttrs("/tmp/root", options.read_only); !s.ok()) return s;
  if (chdir("/tmp/root") < 0) return HostError("chdir(/tmp/root)");
  // pivot_root(".", "."): the old root is stacked on top of the new one at "/"; detaching it
  // leaves only the new root, without needing a directory to park the old root in.
  if (syscall(SYS_pivot_root, ".", ".") < 0) return HostError("pivot_root");
  if (umount2(".", MNT_DETACH) < 0) return HostError("detach old root");
  if (chdir("/") < 0) return HostError("chdir(/)");
  return InstallSeccomp(options.read_only);
}

}  // namespace sbx::gofer
