// The sentry kernel: tasks (guest threads), thread groups (processes), the PID namespace,
// credentials, and the run loop that switches into the guest through the platform and
// dispatches syscalls and faults.
//
// Lock order: Kernel::mu_ -> ThreadGroup::mu_ -> Task::mu_ -> (mm, fs leaf locks).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "fs/fd_table.h"
#include "platform/platform.h"
#include "sentry/abi/result.h"
#include "sentry/arch/registers.h"
#include "sentry/arch/signal.h"
#include "sentry/kernel/futex.h"
#include "sentry/mm/mm.h"

namespace sbx::fs { class VFS; struct FSContext; }

namespace sbx::kernel {

class Kernel;
class Task;
class ThreadGroup;

// Arguments of one guest syscall.
struct SyscallArgs {
  uint64_t nr = 0;
  uint64_t a[6] = {};
  int64_t Int(int i) const { return static_cast<int32_t>(a[i]); }   // C `int` argument
  int64_t Long(int i) const { return static_cast<int64_t>(a[i]); }
  uint64_t ULong(int i) const { return a[i]; }
  uint32_t UInt(int i) const { return static_cast<uint32_t>(a[i]); }
  usermem::UserAddr Addr(int i) const { return usermem::UserAddr(a[i]); }
};

// A syscall's outcome: the value for rax, or an Errno (including the internal restart codes
// and kEJUSTRETURN, which leaves the registers as the handler set them).
using SyscallResult = Result<uint64_t>;
// Dispatches one syscall for `t`. Installed by sentry/syscalls (the kernel does not depend on
// the syscall table).
using SyscallDispatchFn = SyscallResult (*)(Task& t, const SyscallArgs& args);

struct Credentials {
  uint32_t ruid = 0, euid = 0, suid = 0, fsuid = 0;
  uint32_t rgid = 0, egid = 0, sgid = 0, fsgid = 0;
  std::vector<uint32_t> groups;
};

// One signal's disposition, as set by rt_sigaction (kernel `struct sigaction` layout).
struct SigAction {
  uint64_t handler = 0;  // SIG_DFL = 0, SIG_IGN = 1
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};
static_assert(sizeof(SigAction) == 32);

inline constexpr int kNumSignals = 64;

// A set of pending signals (Linux `struct sigpending`): a bitmask plus the queued siginfos.
// Standard signals (< 32) coalesce (at most one queued); real-time signals queue.
struct SignalQueue {
  uint64_t mask = 0;                 // bit sig-1 set while any instance of sig is queued
  std::deque<arch::Siginfo> queue;  // in arrival order
};

inline constexpr int kSigRtMin = 32;

struct RLimit {
  uint64_t cur, max;
};
inline constexpr int kNumRLimits = 16;

// Identity strings the guest sees (uname, /proc/version): the sentry's, not the host's.
struct KernelIdentity {
  std::string sysname = "Linux";
  std::string nodename = "sandbox";
  std::string release = "6.6.0-sbx";
  std::string version = "#1 SMP sbx sentry";
  std::string machine = "x86_64";
  std::string domainname = "(none)";
};

// A process (Linux thread group / `struct signal_struct` + shared parts of task_struct).
class ThreadGroup {
 public:
  ThreadGroup(Kernel& k, int32_t tgid) : kernel_(k), tgid_(tgid) {}
  int32_t tgid() const { return tgid_; }
  int32_t ppid() const;
  Kernel& kernel() const { return kernel_; }

  // Signal dispositions (shared by the group, CLONE_SIGHAND).
  SigAction GetSigAction(int sig) const;
  void SetSigAction(int sig, const SigAction& a);

  RLimit GetRLimit(int resource) const;
  void SetRLimit(int resource, RLimit r);

  // exit_group: the first call records the status; all tasks exit.
  void BeginGroupExit(int status_word);
  bool exiting() const;
  int exit_status_word() const;

  std::atomic<int> dumpable{1};              // PR_SET_DUMPABLE (per mm in Linux)
  std::atomic<bool> child_subreaper{false};  // PR_SET_CHILD_SUBREAPER

 private:
  friend class Kernel;
  friend class Task;
  Kernel& kernel_;
  const int32_t tgid_;
  // Group-shared pending signals (kill(2)). Lock order: ThreadGroup::sig_mu_ -> Task::sig_mu_.
  mutable absl::Mutex sig_mu_;
  SignalQueue shared_pending_ ABSL_GUARDED_BY(sig_mu_);
  int32_t ppid_ = 0;
  mutable absl::Mutex mu_;
  SigAction actions_[kNumSignals] ABSL_GUARDED_BY(mu_);
  RLimit rlimits_[kNumRLimits] ABSL_GUARDED_BY(mu_);
  bool exiting_ ABSL_GUARDED_BY(mu_) = false;
  int exit_status_word_ ABSL_GUARDED_BY(mu_) = 0;  // wait(2) status word
};

// One guest thread.
class Task : public fs::Interruptible {
 public:
  Task(Kernel& k, std::shared_ptr<ThreadGroup> tg, int32_t tid,
       std::shared_ptr<mm::MemoryManager> mm, std::shared_ptr<fs::FDTable> fds,
       std::shared_ptr<fs::FSContext> fsctx, Credentials creds);
  ~Task() override;

  Kernel& kernel() const { return kernel_; }
  ThreadGroup& thread_group() const { return *tg_; }
  int32_t tid() const { return tid_; }
  int32_t tgid() const { return tg_->tgid(); }
  mm::MemoryManager& mm() const { return *mm_; }
  usermem::UserMemory& mem() const { return *mm_; }
  fs::FDTable& fd_table() const { return *fds_; }
  fs::FSContext& fs_context() const { return *fsctx_; }
  const Credentials& creds() const { return creds_; }
  Credentials& mutable_creds() { return creds_; }
  arch::Registers& regs() { return regs_; }

  uint64_t signal_mask() const { return signal_mask_; }
  void set_signal_mask(uint64_t m) { signal_mask_ = m & ~((1ull << 8) | (1ull << 18)); }  // never SIGKILL/SIGSTOP (bit = sig-1)
  uint64_t clear_child_tid = 0;
  uint64_t robust_list_head = 0, robust_list_len = 0;
  std::string comm;  // PR_SET_NAME / /proc/self/comm
  // sigaltstack(2) state (abi::StackT fields); flags SS_DISABLE (2) when no stack is set.
  uint64_t altstack_sp = 0, altstack_size = 0;
  int32_t altstack_flags = 2;
  int pdeathsig = 0;          // PR_SET_PDEATHSIG
  bool no_new_privs = false;  // PR_SET_NO_NEW_PRIVS (sticky)

  // exit(2): this thread ends after the current syscall (status is the low 8 bits).
  void RequestExit(int status);
  // exit_group(2) / fatal signal: the whole thread group ends with `status_word` (wait status).
  void RequestGroupExit(int status_word);
  bool exit_requested() const { return exit_requested_; }

  // fs::Interruptible: true once the task must stop blocking (exit or pending signal).
  bool Interrupted() const override;

  // Runs the task until it exits. Called on the task's own host thread.
  void Run(platform::Context& ctx);
  // The platform context while Run() is active (FP state for signal frames), else null.
  platform::Context* context() const { return ctx_; }

  // --- Signals (task_signals.cc) ---
  // Queues a signal for this thread (`group` false: tkill, faults) or its thread group (kill).
  // Ignored signals are discarded (Linux sig_ignored); EAGAIN when an RT queue is full.
  Result<void> SendSignal(const arch::Siginfo& info, bool group);
  // force_sig_info(): a synchronous signal; a blocked or ignored one is unblocked and reset
  // to SIG_DFL so it kills. trapno/err/cr2 go into the frame's sigcontext.
  void ForceSignal(const arch::Siginfo& info, uint64_t trapno = 0, uint64_t err = 0);
  // Union of this thread's and the group's pending sets.
  uint64_t PendingSignals() const;
  // Removes the highest-priority pending signal in `set` (synchronous signals first, then
  // the lowest number; thread queue before group queue). False if none.
  bool DequeueSignal(uint64_t set, arch::Siginfo* out);
  // rt_sigsuspend/pause: `old` is restored after the next delivery (or put in its frame).
  void SetSavedSignalMask(uint64_t old) { saved_mask_ = old; has_saved_mask_ = true; }
  // rt_sigreturn: restores registers, mask, FP state and altstack from the frame at rsp-8.
  SyscallResult SigReturn();
  // sas_ss_flags(): true when `sp` lies on the alternate signal stack.
  bool OnAltStack(uint64_t sp) const;

 private:
  void DeliverSignals();
  bool SetupFrame(int sig, const SigAction& act, const arch::Siginfo& info, uint64_t old_mask);
  void ApplyRestart(bool handler_ran, const SigAction* act);
  void HandleSyscall();
  void HandleFault(const platform::SwitchResult& r);
  void HandleSignal(const platform::SwitchResult& r);
  void DieOfSignal(int sig, bool core);

  Kernel& kernel_;
  std::shared_ptr<ThreadGroup> tg_;
  const int32_t tid_;
  std::shared_ptr<mm::MemoryManager> mm_;
  std::shared_ptr<fs::FDTable> fds_;
  std::shared_ptr<fs::FSContext> fsctx_;
  Credentials creds_;
  arch::Registers regs_{};
  uint64_t signal_mask_ = 0;
  platform::Context* ctx_ = nullptr;
  mutable absl::Mutex sig_mu_;
  SignalQueue pending_ ABSL_GUARDED_BY(sig_mu_);
  // The restart code of the syscall that just returned (0: none); consumed by delivery.
  int restart_errno_ = 0;
  bool has_saved_mask_ = false;
  uint64_t saved_mask_ = 0;
  uint64_t fault_trapno_ = 0, fault_err_ = 0, fault_cr2_ = 0;  // for the next frame
  std::atomic<bool> exit_requested_{false};
  int exit_status_ = 0;
};

class Kernel {
 public:
  struct Options {
    platform::Platform* platform = nullptr;
    mm::MemoryFile* memfile = nullptr;
    fs::VFS* vfs = nullptr;
    SyscallDispatchFn dispatch = nullptr;
    KernelIdentity identity;
    bool strace = false;
    int strace_fd = 2;     // host fd for --strace output
    int debug_log_fd = -1; // host fd for the debug log (-1: none)
  };
  explicit Kernel(Options opts);
  ~Kernel();

  const Options& options() const { return opts_; }
  platform::Platform& platform() const { return *opts_.platform; }
  mm::MemoryFile& memfile() const { return *opts_.memfile; }
  fs::VFS& vfs() const { return *opts_.vfs; }
  const KernelIdentity& identity() const { return opts_.identity; }
  // Monotonic clock base: CLOCK_MONOTONIC as seen by the guest starts near boot of the sentry.
  int64_t boot_time_ns() const { return boot_time_ns_; }

  // Creates the first process (PID 1) from `path` and runs it on the calling thread until the
  // whole sandbox has exited. Returns the wait status word of PID 1, or an error status if the
  // program could not be started (ENOENT, EACCES, ENOEXEC...).
  struct InitProcess {
    std::string path;  // as resolved in the guest's root
    std::vector<std::string> argv, envp;
    std::string cwd = "/";
    Credentials creds;
    std::shared_ptr<fs::FDTable> fds;  // stdio already installed
  };
  Result<int> RunInit(const InitProcess& init);

  // Writes one line to the debug log (if any). Thread-safe.
  void DebugLog(std::string_view line) const;
  // Logs "unimplemented syscall" once per syscall number per sandbox.
  void LogUnimplementedOnce(uint64_t nr, std::string_view line);

  // The futex queues of the sandbox (FUTEX_WAIT/WAKE/REQUEUE).
  FutexManager& futexes() { return futexes_; }
  // Returns a fresh thread ID in the sandbox's PID namespace.
  int32_t AllocateTid();

 private:
  Options opts_;
  int64_t boot_time_ns_ = 0;
  mutable absl::Mutex mu_;
  std::vector<bool> unimplemented_logged_ ABSL_GUARDED_BY(mu_);
  int32_t next_tid_ ABSL_GUARDED_BY(mu_) = 1;
  FutexManager futexes_;
};

}  // namespace sbx::kernel
