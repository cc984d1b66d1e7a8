// `boot`: the sentry's entry point. Runs as PID 1 of fresh user/pid/mount/ipc/uts/net
// namespaces (set up by the frontend), pivot_roots into an empty read-only tmpfs so the sentry
// itself can reach no host path, creates the memory file and the platform (which forks the
// template stub while we are still single-threaded), connects the VFS to the gofer, and runs
// the guest's first process.
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "fs/host/host.h"
#include "fs/vfs.h"
#include "gofer/client.h"
#include "platform/platform.h"
#include "runsc/boot.pb.h"
#include "runsc/cli.h"
#include "sentry/kernel/kernel.h"
#include "sentry/mm/mm.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::runsc {

namespace {

// Start-up milestones in the debug log, with the time since the sentry started, so the cost
// of `sandbox run` can be read off any run (--debug-log FILE).
int g_debug_fd = -1;
int64_t g_start_ns = 0;
int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}
void Milestone(const char* what) {
  if (g_debug_fd < 0) return;
  std::string s = absl::StrFormat("boot: +%.3f ms %s\n", (NowNs() - g_start_ns) / 1e6, what);
  (void)!write(g_debug_fd, s.data(), s.size());
}

int Fail(const std::string& msg, int code = 125) {
  std::string s = absl::StrCat("sandbox: ", msg, "\n");
  (void)!write(2, s.data(), s.size());
  return code;
}

// Leaves the sentry in an empty, read-only root: after this, no host path is reachable.
bool EnterEmptyRoot(std::string* err) {
  auto fail = [&](const char* what) {
    *err = absl::StrCat(what, ": ", strerror(errno));
    return false;
  };
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return fail("mount --make-rprivate /");
  if (mount("sbx-sentry-root", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0700") != 0)
    return fail("mount tmpfs");
  if (chdir("/tmp") != 0) return fail("chdir");
  if (syscall(SYS_pivot_root, ".", ".") != 0) return fail("pivot_root");
  if (umount2(".", MNT_DETACH) != 0) return fail("umount old root");
  if (chdir("/") != 0) return fail("chdir /");
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    return fail("remount / read-only");
  return true;
}

std::string EnvValue(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env) {
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
      return e.substr(key.size() + 1);
  }
  return "";
}

// execvp-style lookup of `prog` inside the guest's filesystem. Returns the path to exec, or
// the errno that explains why none works (the last EACCES wins over ENOENT, like execvp).
Result<std::string> ResolveProgram(fs::VFS& vfs, fs::FSContext& ctx, const fs::Creds& creds,
                                   const std::string& prog, const std::vector<std::string>& env) {
  if (prog.empty()) return Errno::kENOENT;
  if (prog.find('/') != std::string::npos) {
    TRY(vfs.OpenForExec(ctx, creds, prog));
    return prog;
  }
  std::string path = EnvValue(env, "PATH");
  if (path.empty()) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  Errno last = Errno::kENOENT;
  for (auto dir : absl::StrSplit(path, ':')) {
    std::string cand = absl::StrCat(dir.empty() ? "." : dir, "/", prog);
    auto f = vfs.OpenForExec(ctx, creds, cand);
    if (f.ok()) return cand;
    if (f.error() == Errno::kEACCES) last = Errno::kEACCES;
  }
  return last;
}

}  // namespace

int BootMain(const std::vector<std::string>& args) {
  int spec_fd = -1;
  for (const auto& a : args) {
    if (a.rfind("--spec-fd=", 0) == 0) spec_fd = std::atoi(a.c_str() + 10);
  }
  if (spec_fd < 0) return Fail("boot: --spec-fd=N is required (internal command)");
  std::string data;
  {
    char buf[65536];
    ssize_t n;
    off_t off = 0;
    while ((n = pread(spec_fd, buf, sizeof buf, off)) > 0) {
      data.append(buf, n);
      off += n;
    }
    close(spec_fd);
  }
  BootSpec spec;
  if (!spec.ParseFromString(data)) return Fail("boot: malformed boot spec");
  g_start_ns = NowNs();
  g_debug_fd = spec.debug_log_fd();
  Milestone("spec read");
  prctl(PR_SET_NAME, "sbx-sentry");

  std::string err;
  if (!EnterEmptyRoot(&err)) return Fail(absl::StrCat("sentry confinement failed: ", err));
  Milestone("in empty root");

  auto memfile = mm::MemoryFile::Create(spec.memory_reserve() ? spec.memory_reserve() : (64ull << 30));
  if (!memfile.ok()) return Fail(absl::StrCat("memory file: ", std::string(ErrnoName(memfile.error()))));
  auto platform = platform::NewPtracePlatform((*memfile)->info(), &err);
  if (!platform) return Fail(absl::StrCat("ptrace platform: ", err));
  Milestone("platform ready (template stub forked)");

  auto vfs = fs::VFS::New(std::make_unique<gofer::Client>(spec.gofer_fd()), memfile->get());
  if (!vfs.ok()) return Fail(absl::StrCat("mounting the root filesystem: ", std::string(ErrnoName(vfs.error()))));

  kernel::Kernel::Options kopts;
  kopts.platform = platform.get();
  kopts.memfile = memfile->get();
  kopts.vfs = vfs->get();
  kopts.dispatch = &syscalls::Dispatch;
  kopts.strace = spec.strace();
  if (spec.max_tasks() > 0) kopts.max_tasks = spec.max_tasks();
  kopts.honor_setid = spec.uid() == 0;
  kopts.strace_fd = 2;
  kopts.debug_log_fd = spec.debug_log_fd();
  kopts.identity.nodename = spec.hostname().empty() ? "sandbox" : spec.hostname();
  kernel::Kernel kernel(kopts);

  kernel::Kernel::InitProcess init;
  init.argv.assign(spec.argv().begin(), spec.argv().end());
  init.envp.assign(spec.env().begin(), spec.env().end());
  init.creds.ruid = init.creds.euid = init.creds.suid = init.creds.fsuid = spec.uid();
  init.creds.rgid = init.creds.egid = init.creds.sgid = init.creds.fsgid = spec.gid();
  init.fds = std::make_shared<fs::FDTable>();
  for (int fd = 0; fd < 3; ++fd) {
    // The guest gets its own duplicate (the host file takes ownership): a guest closing its
    // stderr must not close the sentry's, which carries --strace output and our messages.
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0) continue;  // the caller closed it: the guest sees it closed
    (void)init.fds->Set(fd, fs::host::NewHostFile(dup_fd), false);
  }

  const std::string& prog = init.argv.empty() ? std::string() : init.argv[0];
  auto ctx = (*vfs)->NewContext();
  init.cwd = spec.cwd();
  if (auto r = (*vfs)->Chdir(*ctx, init.cwd, init.creds.fsuid, init.creds.fsgid); !r.ok()) {
    if (spec.cwd_explicit())
      return Fail(absl::StrCat("--cwd ", init.cwd, ": ", strerror(static_cast<int>(r.error()))));
    init.cwd = "/";
  }
  fs::Creds creds{init.creds.fsuid, init.creds.fsgid, init.creds.groups};
  auto path = ResolveProgram(**vfs, *ctx, creds, prog, init.envp);
  if (!path.ok()) {
    Errno e = path.error();
    return Fail(absl::StrCat(prog, ": ", strerror(static_cast<int>(e))),
                e == Errno::kENOENT || e == Errno::kENOTDIR ? 127 : 126);
  }
  init.path = *path;
  Milestone("program resolved; loading it");
  auto status = kernel.RunInit(init);
  Milestone("init exited");
  if (!status.ok()) {
    Errno e = status.error();
    return Fail(absl::StrCat(prog, ": ", strerror(static_cast<int>(e))),
                e == Errno::kENOENT ? 127 : 126);
  }
  int w = *status;
  if ((w & 0x7f) == 0) return (w >> 8) & 0xff;  // exited
  return 128 + (w & 0x7f);                      // killed by a signal
}

}  // namespace sbx::runsc
