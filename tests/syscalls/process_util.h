// Helpers for the multi-process compatibility tests (fork, exec, wait, clone, thread, futex,
// kill, sigchld, prctl, pgid_sid). Like test_util.h they run unchanged on the host and in the
// sandbox.
//
// Invariants the tests rely on:
//  - Every wait is bounded: a watchdog arms alarm(kTestTimeoutSeconds) around each test (and
//    in every child made by ForkAndRun), and its SIGALRM handler exits the process with
//    kTimeoutExit. A handler is used rather than the default action because the sandboxed
//    test binary is PID 1 of its namespace, which ignores default-action signals.
//  - Synchronisation is by pipes and waits, never sleeps.
//  - A test that depends on the exact set of children (wait(-1), P_ALL, ECHILD, SIGCHLD) runs
//    inside RunInChild: in the sandbox the test binary is PID 1 and adopts every orphan that
//    earlier tests left, so its own child set is not known.
#ifndef SBX_TESTS_SYSCALLS_PROCESS_UTIL_H_
#define SBX_TESTS_SYSCALLS_PROCESS_UTIL_H_

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/syscalls/test_util.h"

namespace sbx::testing {

// Seconds a test (or a child it forks) may run before the watchdog ends it.
inline constexpr unsigned kTestTimeoutSeconds = 30;
// Exit status of a process ended by the watchdog.
inline constexpr int kTimeoutExit = 124;

namespace internal {

inline void WatchdogHandler(int) {
  static const char kMsg[] = "\n*** watchdog: test timed out (a wait never finished) ***\n";
  ssize_t ignored = write(2, kMsg, sizeof(kMsg) - 1);
  (void)ignored;
  _exit(kTimeoutExit);
}

// Installs the SIGALRM handler and arms the alarm; also used in forked children.
inline void ArmWatchdog(unsigned seconds = kTestTimeoutSeconds) {
  struct sigaction sa = {};
  sa.sa_handler = WatchdogHandler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  alarm(seconds);
}

class WatchdogListener : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo&) override { ArmWatchdog(); }
  void OnTestEnd(const ::testing::TestInfo&) override { alarm(0); }
};

inline bool InstallWatchdog() {
  ::testing::UnitTest::GetInstance()->listeners().Append(new WatchdogListener);
  return true;
}

inline const bool kWatchdogInstalled = InstallWatchdog();

}  // namespace internal

// waitpid that retries EINTR; returns the raw status, or -1 (with a test failure) on error.
inline int WaitStatus(pid_t pid, int options = 0) {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, options);
  } while (r < 0 && errno == EINTR);
  if (r != pid) {
    ADD_FAILURE() << "waitpid(" << pid << ") returned " << r << ": " << strerror(errno);
    return -1;
  }
  return status;
}

// Describes a wait status for failure messages.
inline std::string DescribeStatus(int status) {
  if (status == -1) return "<wait failed>";
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return std::string("killed by ") + (sigabbrev_np(WTERMSIG(status)) ?: "?") +
           (WCOREDUMP(status) ? " (core)" : "");
  }
  if (WIFSTOPPED(status)) return "stopped by " + std::to_string(WSTOPSIG(status));
  return "status " + std::to_string(status);
}

inline ::testing::AssertionResult ExitedWith(int status, int code) {
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected exit " << code << ", got " << DescribeStatus(status);
}

inline ::testing::AssertionResult KilledBy(int status, int sig) {
  if (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == sig) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected death by " << (sigabbrev_np(sig) ?: "?") << ", got "
         << DescribeStatus(status);
}

// Runs `fn` in the child side of a fork (or any fork-like call that returned 0) and exits:
// 0 if no gtest assertion failed (in the child or, before the fork, in the parent), 1
// otherwise. Failures are printed by the child itself.
template <typename F>
[[noreturn]] void RunChildBody(F&& fn) {
  internal::ArmWatchdog();
  fn();
  fflush(stdout);
  fflush(stderr);
  _exit(::testing::Test::HasFailure() ? 1 : 0);
}

// Forks; the child runs `fn` (gtest assertions allowed) and exits as RunChildBody does.
// Returns the child's pid in the parent.
template <typename F>
pid_t ForkAndRun(F&& fn) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) RunChildBody(std::forward<F>(fn));
  if (pid < 0) ADD_FAILURE() << "fork: " << strerror(errno);
  return pid;
}

// Runs `fn` in a forked child and waits for it; returns the wait status.
template <typename F>
int RunInChild(F&& fn) {
  pid_t pid = ForkAndRun(std::forward<F>(fn));
  if (pid < 0) return -1;
  return WaitStatus(pid);
}

// Succeeds when `fn`, run in a forked child, made no failing assertion.
// (Variadic so that lambdas with commas in their bodies need no extra parentheses.)
#define EXPECT_CHILD_OK(...) \
  EXPECT_TRUE(::sbx::testing::ExitedWith(::sbx::testing::RunInChild(__VA_ARGS__), 0))

// A pipe closed on destruction. Both ends are O_CLOEXEC unless `flags` says otherwise.
class Pipe {
 public:
  explicit Pipe(int flags = O_CLOEXEC) {
    int fds[2];
    if (pipe2(fds, flags) != 0) {
      ADD_FAILURE() << "pipe2: " << strerror(errno);
      return;
    }
    r_ = fds[0];
    w_ = fds[1];
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  int r() const { return r_; }
  int w() const { return w_; }
  void CloseRead() {
    if (r_ >= 0) close(r_);
    r_ = -1;
  }
  void CloseWrite() {
    if (w_ >= 0) close(w_);
    w_ = -1;
  }

  // Writes one value (a trivially copyable T) in one write; fails the test if short.
  template <typename T>
  void Send(const T& v) {
    ssize_t n;
    do {
      n = write(w_, &v, sizeof(v));
    } while (n < 0 && errno == EINTR);
    EXPECT_EQ(n, static_cast<ssize_t>(sizeof(v))) << "pipe write: " << strerror(errno);
  }
  // Reads one value sent by Send; fails the test (and returns T{}) on EOF or error.
  template <typename T>
  T Recv() {
    T v{};
    size_t done = 0;
    while (done < sizeof(v)) {
      ssize_t n = read(r_, reinterpret_cast<char*>(&v) + done, sizeof(v) - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ADD_FAILURE() << "pipe read: " << (n == 0 ? "EOF" : strerror(errno));
        return T{};
      }
      done += static_cast<size_t>(n);
    }
    return v;
  }
  // One-byte notification.
  void Notify() { Send<char>('x'); }
  void Await() { Recv<char>(); }
  // Reads to EOF.
  std::string ReadToEof() {
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = read(r_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int r_ = -1;
  int w_ = -1;
};

// Blocks every signal in `sigs` for the calling thread; returns the previous mask.
inline sigset_t BlockSignals(std::initializer_list<int> sigs) {
  sigset_t set, old;
  sigemptyset(&set);
  for (int s : sigs) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  return old;
}

// sigtimedwait for one signal with a timeout in seconds; returns the signal number or -1.
inline int WaitForSignal(int sig, siginfo_t* info, int seconds = 10) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  struct timespec ts = {seconds, 0};
  int r;
  do {
    r = sigtimedwait(&set, info, &ts);
  } while (r < 0 && errno == EINTR);
  return r;
}

// Installs a handler (or SIG_IGN/SIG_DFL) with `flags`; returns the previous action.
inline struct sigaction SetAction(int sig, void (*fn)(int), int flags = 0) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  EXPECT_EQ(sigaction(sig, &sa, &old), 0);
  return old;
}
inline struct sigaction SetInfoAction(int sig, void (*fn)(int, siginfo_t*, void*),
                                      int flags = 0) {
  struct sigaction sa = {}, old = {};
  sa.sa_sigaction = fn;
  sa.sa_flags = flags | SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  EXPECT_EQ(sigaction(sig, &sa, &old), 0);
  return old;
}

// A pid that cannot exist (pid_max is at most 2^22).
inline constexpr pid_t kNoSuchPid = 0x7ffffff0;

// Raw wrappers for calls glibc (Debian 12) has no wrapper for.
inline int PidfdOpen(pid_t pid, unsigned flags = 0) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, flags));
}
inline int PidfdSendSignal(int pidfd, int sig, siginfo_t* info = nullptr, unsigned flags = 0) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags));
}

#ifdef SBX_EXEC_HELPER
// The helper program the exec tests run (tests/syscalls/helpers/exec_helper.c).
inline constexpr char kExecHelper[] = SBX_EXEC_HELPER;

// Result of running the exec helper.
struct HelperRun {
  int status = -1;     // raw wait status
  std::string out;     // everything it wrote to stdout
};

// Forks; the child runs `setup()` then execve(path, argv, envp) with stdout on a pipe. If the
// exec fails the child exits 127. The parent collects stdout and the status.
template <typename F>
HelperRun RunExec(const std::string& path, const std::vector<std::string>& argv,
                  const std::vector<std::string>& envp, F&& setup) {
  Pipe out;
  std::vector<char*> av, ev;
  for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (auto& e : envp) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(kTestTimeoutSeconds);
    setup();
    if (dup2(out.w(), 1) != 1) _exit(126);
    execve(path.c_str(), av.data(), ev.data());
    _exit(127);
  }
  HelperRun run;
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    return run;
  }
  out.CloseWrite();
  run.out = out.ReadToEof();
  run.status = WaitStatus(pid);
  return run;
}
inline HelperRun RunExec(const std::string& path, const std::vector<std::string>& argv,
                         const std::vector<std::string>& envp = {}) {
  return RunExec(path, argv, envp, [] {});
}
#endif  // SBX_EXEC_HELPER

}  // namespace sbx::testing

#endif  // SBX_TESTS_SYSCALLS_PROCESS_UTIL_H_
