// `sandbox run`: the frontend. Starts the gofer and the sentry in fresh namespaces and returns
// the guest's exit status.
//
//   sandbox (host) ── clone(NEWUSER|NEWNS|NEWIPC|NEWUTS|NEWNET|NEWPID) ── sandbox gofer
//                  └─ clone(NEWUSER|NEWNS|NEWIPC|NEWUTS|NEWNET|NEWPID) ── sandbox boot (sentry)
//
// Both children wait on a pipe until the frontend has written their uid/gid maps, then exec
// /proc/self/exe with their subcommand. Both carry PR_SET_PDEATHSIG(SIGKILL) so nothing
// outlives the frontend; the sentry is PID 1 of its PID namespace, so its stub processes die
// with it.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <linux/close_range.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runsc/boot.pb.h"
#include "runsc/cli.h"

extern char** environ;

namespace sbx::runsc {

namespace {

void Die(const std::string& msg) {
  std::string s = absl::StrCat("sandbox: ", msg, "\n");
  (void)!write(2, s.data(), s.size());
  _exit(125);
}

bool WriteFile(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  close(fd);
  return ok;
}

// Makes sure `fd` survives exec (clears FD_CLOEXEC).
void KeepAcrossExec(int fd) { fcntl(fd, F_SETFD, 0); }

struct Child {
  pid_t pid = -1;
};

// Clones a child into new namespaces; the child waits for its id maps, then execs
// /proc/self/exe with `args`. `keep_fds` are made inheritable in the child only.
Child SpawnInNamespaces(const std::vector<std::string>& args, const std::vector<int>& keep_fds,
                        bool keep_stdin_stdout) {
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) Die(absl::StrCat("pipe: ", strerror(errno)));
  uid_t uid = getuid();
  gid_t gid = getgid();
  long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET |
               CLONE_NEWPID | SIGCHLD;
  pid_t pid = static_cast<pid_t>(syscall(SYS_clone, flags, 0, 0, 0, 0));
  if (pid < 0) Die(absl::StrCat("clone of a namespaced child failed: ", strerror(errno)));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec (the frontend is single-threaded, but
    // keep it minimal anyway).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // If the frontend died before the prctl, the pipe read below sees EOF and we exit.
    close(sync[1]);
    char c;
    if (read(sync[0], &c, 1) != 1) _exit(125);
    // Nothing the caller leaked to us (fds without O_CLOEXEC) reaches the child.
    syscall(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC);
    for (int fd : keep_fds) KeepAcrossExec(fd);
    if (!keep_stdin_stdout) {
      // The gofer must not hold the user's stdin/stdout (a pipeline would wait on it).
      int null_fd = open("/dev/null", O_RDWR);
      if (null_fd < 0) _exit(125);
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      if (null_fd > 2) close(null_fd);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execve("/proc/self/exe", argv.data(), environ);
    _exit(125);
  }
  close(sync[0]);
  std::string proc = absl::StrCat("/proc/", pid);
  bool ok;
  if (uid == 0) {
    ok = WriteFile(proc + "/uid_map", "0 0 4294967295\n") &&
         WriteFile(proc + "/gid_map", "0 0 4294967295\n");
  } else {
    ok = WriteFile(proc + "/setgroups", "deny") &&
         WriteFile(proc + "/uid_map", absl::StrCat(uid, " ", uid, " 1\n")) &&
         WriteFile(proc + "/gid_map", absl::StrCat(gid, " ", gid, " 1\n"));
  }
  if (!ok) {
    int e = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    Die(absl::StrCat("cannot write the id maps of the namespaced child: ", strerror(e)));
  }
  (void)!write(sync[1], "g", 1);
  close(sync[1]);
  return Child{pid};
}

std::vector<std::string> GuestEnv(const RunOptions& opts) {
  std::vector<std::string> env;
  if (!opts.clear_env)
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  for (const auto& kv : opts.env_overrides) {
    std::string key = kv.substr(0, kv.find('='));
    std::erase_if(env, [&](const std::string& e) { return e.substr(0, e.find('=')) == key; });
    env.push_back(kv);
  }
  return env;
}

}  // namespace

bool ParseRunArgs(const std::vector<std::string>& args, RunOptions* out, std::string* error) {
  size_t i = 0;
  // Matches `--flag=VALUE` or `--flag VALUE` at args[i]. Returns false if args[i] is another
  // flag; sets *error if the value is missing.
  auto value = [&](const std::string& flag, std::string* v) -> bool {
    const std::string& a = args[i];
    if (a.compare(0, flag.size() + 1, flag + "=") == 0) {
      *v = a.substr(flag.size() + 1);
      return true;
    }
    if (a != flag) return false;
    if (i + 1 >= args.size()) {
      *error = absl::StrCat(flag, " needs a value");
    } else {
      *v = args[++i];
    }
    return true;
  };
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    std::string v;
    if (a == "--") {
      ++i;
      break;
    }
    if (a.empty() || a[0] != '-') break;
    if (a == "--strace") {
      out->strace = true;
    } else if (a == "--clear-env") {
      out->clear_env = true;
    } else if (value("--rootfs", &v)) {
      out->rootfs = v;
    } else if (value("--platform", &v)) {
      if (error->empty() && v != "ptrace") {
        *error = absl::StrCat("--platform ", v, ": unknown platform (available: ptrace)");
      }
      out->platform = v;
    } else if (value("--debug-log", &v)) {
      out->debug_log = v;
    } else if (value("--cwd", &v)) {
      if (error->empty() && (v.empty() || v[0] != '/')) {
        *error = absl::StrCat("--cwd ", v, ": must be an absolute path");
      }
      out->cwd = v;
    } else if (value("--max-tasks", &v)) {
      int n = 0;
      if (error->empty() && (!absl::SimpleAtoi(v, &n) || n < 1 || n > 1 << 22)) {
        *error = absl::StrCat("--max-tasks ", v, ": expected a number from 1 to 4194304");
      }
      out->max_tasks = n;
    } else if (value("--env", &v)) {
      if (error->empty() && (v.find('=') == std::string::npos || v[0] == '=')) {
        *error = absl::StrCat("--env ", v, ": expected KEY=VALUE");
      }
      out->env_overrides.push_back(v);
    } else {
      *error = absl::StrCat("unknown option ", a);
    }
    if (!error->empty()) return false;
  }
  for (; i < args.size(); ++i) out->argv.push_back(args[i]);
  if (out->argv.empty()) {
    *error = "missing PROGRAM (usage: sandbox run [options] -- PROGRAM [ARGS...])";
    return false;
  }
  return true;
}

int SandboxRun(const RunOptions& opts) {
  struct stat st;
  if (stat(opts.rootfs.c_str(), &st) != 0) {
    Die(absl::StrCat("--rootfs ", opts.rootfs, ": ", strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) Die(absl::StrCat("--rootfs ", opts.rootfs, ": Not a directory"));
  char* rootfs_real = realpath(opts.rootfs.c_str(), nullptr);
  if (!rootfs_real) Die(absl::StrCat("--rootfs ", opts.rootfs, ": ", strerror(errno)));
  std::string rootfs = rootfs_real;
  free(rootfs_real);

  int debug_fd = -1;
  if (!opts.debug_log.empty()) {
    debug_fd = open(opts.debug_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (debug_fd < 0) Die(absl::StrCat("--debug-log ", opts.debug_log, ": ", strerror(errno)));
  }

  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
    Die(absl::StrCat("socketpair: ", strerror(errno)));

  BootSpec spec;
  for (const auto& a : opts.argv) spec.add_argv(a);
  for (const auto& e : GuestEnv(opts)) spec.add_env(e);
  std::string cwd = opts.cwd;
  if (cwd.empty()) {
    // Default like a shell: the caller's cwd when the rootfs is the host's /, else "/".
    char buf[4096];
    cwd = (rootfs == "/" && getcwd(buf, sizeof buf)) ? buf : "/";
  }
  spec.set_cwd(cwd);
  spec.set_cwd_explicit(!opts.cwd.empty());
  spec.set_strace(opts.strace);
  spec.set_max_tasks(opts.max_tasks);
  spec.set_uid(getuid());
  spec.set_gid(getgid());
  spec.set_gofer_fd(sp[0]);
  spec.set_debug_log_fd(debug_fd);
  spec.set_hostname("sandbox");
  spec.set_memory_reserve(64ull << 30);

  int spec_fd = memfd_create("sbx-boot-spec", MFD_CLOEXEC);
  if (spec_fd < 0) Die(absl::StrCat("memfd_create: ", strerror(errno)));
  std::string data = spec.SerializeAsString();
  if (write(spec_fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    Die(absl::StrCat("writing the boot spec: ", strerror(errno)));

  Child gofer = SpawnInNamespaces(
      {"sandbox-gofer", "gofer", absl::StrCat("--root=", rootfs),
       absl::StrCat("--sock-fd=", sp[1])},
      {sp[1]}, /*keep_stdin_stdout=*/false);
  close(sp[1]);

  std::vector<int> keep = {0, 1, 2, sp[0], spec_fd};
  if (debug_fd >= 0) keep.push_back(debug_fd);
  Child sentry = SpawnInNamespaces(
      {"sandbox-sentry", "boot", absl::StrCat("--spec-fd=", spec_fd)}, keep,
      /*keep_stdin_stdout=*/true);
  close(sp[0]);
  close(spec_fd);
  if (debug_fd >= 0) close(debug_fd);

  // Interactive signals go to the whole foreground group; the guest gets them through the
  // sentry in a later issue. The frontend itself must survive to report the status.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);

  int status = 0;
  while (waitpid(sentry.pid, &status, 0) < 0 && errno == EINTR) {
  }
  // The gofer exits when the sentry's end of the socket closes.
  kill(gofer.pid, SIGKILL);
  waitpid(gofer.pid, nullptr, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    std::string msg = absl::StrCat("sandbox: the sentry died of signal ", WTERMSIG(status),
                                   " (", strsignal(WTERMSIG(status)), ")\n");
    (void)!write(2, msg.data(), msg.size());
    return 125;
  }
  return 125;
}

}  // namespace sbx::runsc
