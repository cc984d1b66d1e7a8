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
#include <optional>
#include <memory>
#include <string>
#include <utility>
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
class ITimers;  // sentry/kernel/itimer.h

// FutexManager::Key::space of futexes in shared objects (keyed by memory-file offset).
inline constexpr uint64_t kSharedFutexSpace = 1;

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

// Signal dispositions (Linux `struct sighand_struct`): shared by every thread of a process and
// by processes cloned with CLONE_SIGHAND; copied on fork; unshared and reset at execve.
struct SignalHandlers {
  mutable absl::Mutex mu;
  SigAction actions[kNumSignals] ABSL_GUARDED_BY(mu);
  std::shared_ptr<SignalHandlers> Copy() const;
};

// What clone/fork/vfork/clone3 asked for (Linux `struct kernel_clone_args`).
struct CloneArgs {
  uint64_t flags = 0;        // CLONE_* (without the exit signal byte)
  int exit_signal = 0;       // signal sent to the parent when the child exits (0: none)
  uint64_t stack = 0;        // new rsp (clone: the stack pointer; clone3: stack + stack_size)
  uint64_t tls = 0;          // CLONE_SETTLS: new fs_base
  uint64_t parent_tid = 0;   // CLONE_PARENT_SETTID (and clone's CLONE_PIDFD output)
  uint64_t child_tid = 0;    // CLONE_CHILD_SETTID / CLONE_CHILD_CLEARTID
  uint64_t pidfd = 0;        // clone3's CLONE_PIDFD output
  bool clone3 = false;
};

// What wait4/waitid want (Linux `struct wait_opts`).
struct WaitSpec {
  enum class Which { kAll, kPid, kPgid, kGroup };
  Which which = Which::kAll;
  int32_t id = 0;           // tgid or pgid
  const ThreadGroup* group = nullptr;  // kGroup (waitid P_PIDFD): that very process
  int options = 0;          // WNOHANG | WUNTRACED/WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | __W*
};
struct WaitResult {
  int32_t pid = 0;          // 0: WNOHANG and nothing to report
  uint32_t uid = 0;
  int code = 0;             // CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_STOPPED, CLD_CONTINUED
  int status = 0;           // exit code or signal number (waitid si_status)
  int status_word = 0;      // wait4 status
  int64_t user_ns = 0, sys_ns = 0;  // the child's CPU time including its reaped children
};

// A process (Linux thread group / `struct signal_struct` + shared parts of task_struct).
//
// Tree fields (parent, children, tasks, process group, session, zombie and job-control state)
// are guarded by Kernel::mu_, the sandbox's "tasklist lock".
class ThreadGroup {
 public:
  ThreadGroup(Kernel& k, int32_t tgid, std::shared_ptr<SignalHandlers> sighand = nullptr);
  ~ThreadGroup();
  int32_t tgid() const { return tgid_; }
  int32_t ppid() const;
  int32_t pgid() const;
  int32_t sid() const;
  Kernel& kernel() const { return kernel_; }

  // Signal dispositions (shared by the group, CLONE_SIGHAND).
  SigAction GetSigAction(int sig) const;
  void SetSigAction(int sig, const SigAction& a);
  std::shared_ptr<SignalHandlers> sighand() const;

  RLimit GetRLimit(int resource) const;
  void SetRLimit(int resource, RLimit r);

  // exit_group: the first call records the status; all tasks exit.
  void BeginGroupExit(int status_word);
  bool exiting() const;
  int exit_status_word() const;
  // Every thread has exited (zombie or reaped) / the process has been reaped.
  bool Exited() const;
  bool Reaped() const;

  // kill(2)-style delivery to the process: queued on the shared pending set and one thread that
  // does not block it is woken. SIGKILL (and any fatal unhandled signal) ends the group at
  // once; SIGCONT resumes a stopped group and stop signals cancel a pending SIGCONT.
  // `prepare_only`: only the send-time job-control effects (SIGCONT resumes, stop signals
  // cancel SIGCONT), for a thread-directed stop/continue signal.
  Result<void> SendGroupSignal(const arch::Siginfo& info, bool prepare_only = false);
  // Interrupts every live task of the group (exit, stop, a signal to pick up).
  void KickAll();

  // ITIMER_REAL/VIRTUAL/PROF and alarm(2) of this process (sentry/kernel/itimer.h); also
  // its CPU clocks.
  ITimers& itimers() { return *itimers_; }
  // CPU time of reaped children and their reaped descendants (RUSAGE_CHILDREN, times).
  void ChildCpuTimes(int64_t* user_ns, int64_t* sys_ns) const;

  std::atomic<int> dumpable{1};              // PR_SET_DUMPABLE (per mm in Linux)
  std::atomic<bool> child_subreaper{false};  // PR_SET_CHILD_SUBREAPER
  // Set while a group stop is in progress or in effect (job control); tasks park in their run
  // loop and blocking calls return to let them.
  std::atomic<bool> stop_pending{false};

 private:
  friend class Kernel;
  friend class Task;
  Kernel& kernel_;
  const int32_t tgid_;
  std::unique_ptr<ITimers> itimers_;
  // Group-shared pending signals (kill(2)). Lock order: ThreadGroup::sig_mu_ -> Task::sig_mu_.
  mutable absl::Mutex sig_mu_;
  SignalQueue shared_pending_ ABSL_GUARDED_BY(sig_mu_);
  uint64_t cont_gen_ ABSL_GUARDED_BY(sig_mu_) = 0;  // SIGCONTs sent so far
  mutable absl::Mutex mu_;
  std::shared_ptr<SignalHandlers> sighand_ ABSL_GUARDED_BY(mu_);
  RLimit rlimits_[kNumRLimits] ABSL_GUARDED_BY(mu_);
  bool exiting_ ABSL_GUARDED_BY(mu_) = false;
  int exit_status_word_ ABSL_GUARDED_BY(mu_) = 0;  // wait(2) status word

  // --- Guarded by Kernel::mu_ ---
  ThreadGroup* parent_ = nullptr;  // null for init and orphans of a dying sandbox
  std::vector<std::shared_ptr<ThreadGroup>> children_;
  std::vector<Task*> tasks_;  // live tasks
  int32_t pgid_ = 0, sid_ = 0;
  int exit_signal_ = 17;       // SIGCHLD unless clone() asked for another (0: none)
  bool zombie_ = false;        // every task exited; waiting to be reaped
  bool reaped_ = false;        // removed from the namespace by wait or auto-reap
  bool did_exec_ = false;      // setpgid(child) after the child's execve: EACCES
  int leader_exit_code_ = 0;   // exit(2) code of the last thread (status if no group exit)
  bool stopped_ = false;       // group stop in effect
  int stop_signal_ = 0;
  bool stop_report_ = false;   // an unreported stop for wait(WSTOPPED)
  bool cont_report_ = false;   // an unreported continue for wait(WCONTINUED)
  int32_t exec_tid_ = 0;       // a thread running execve's de_thread, else 0
  uint32_t exit_uid_ = 0;      // real uid of the leader (si_uid of SIGCHLD / waitid)
  int64_t child_user_ns_ = 0, child_sys_ns_ = 0;  // reaped children (wait)
};

class Task;

// One guest thread.
class Task : public fs::Interruptible {
 public:
  Task(Kernel& k, std::shared_ptr<ThreadGroup> tg, int32_t tid,
       std::shared_ptr<mm::MemoryManager> mm, std::shared_ptr<fs::FDTable> fds,
       std::shared_ptr<fs::FSContext> fsctx, Credentials creds);
  ~Task() override;

  Kernel& kernel() const { return kernel_; }
  ThreadGroup& thread_group() const { return *tg_; }
  const std::shared_ptr<ThreadGroup>& thread_group_ptr() const { return tg_; }
  int32_t tid() const { return tid_.load(std::memory_order_relaxed); }
  int32_t tgid() const { return tg_->tgid(); }
  mm::MemoryManager& mm() const { return *mm_; }
  const std::shared_ptr<mm::MemoryManager>& mm_ptr() const { return mm_; }
  usermem::UserMemory& mem() const { return *mm_; }
  fs::FDTable& fd_table() const { return *fds_; }
  const std::shared_ptr<fs::FDTable>& fd_table_ptr() const { return fds_; }
  fs::FSContext& fs_context() const { return *fsctx_; }
  const std::shared_ptr<fs::FSContext>& fs_context_ptr() const { return fsctx_; }
  const Credentials& creds() const { return creds_; }
  Credentials& mutable_creds() { return creds_; }
  arch::Registers& regs() { return regs_; }

  uint64_t signal_mask() const { return signal_mask_.load(std::memory_order_relaxed); }
  // Never SIGKILL/SIGSTOP (bit = sig-1).
  void set_signal_mask(uint64_t m) { signal_mask_.store(m & ~((1ull << 8) | (1ull << 18))); }
  // rt_sigtimedwait unblocks the awaited signals while it sleeps; they must still count as
  // blocked for the "ignored at send" check (Linux real_blocked).
  void set_real_blocked(uint64_t m) { real_blocked_.store(m); }
  // The mask that decides whether a signal with an ignoring disposition is discarded.
  uint64_t send_mask() const { return signal_mask() | real_blocked_.load(); }
  uint64_t clear_child_tid = 0;
  uint64_t robust_list_head = 0, robust_list_len = 0;
  std::string comm;  // PR_SET_NAME / /proc/self/comm
  // sigaltstack(2) state (abi::StackT fields); flags SS_DISABLE (2) when no stack is set.
  uint64_t altstack_sp = 0, altstack_size = 0;
  int32_t altstack_flags = 2;
  std::atomic<int> pdeathsig{0};  // PR_SET_PDEATHSIG
  std::atomic<int> nice{0};       // setpriority(2), -20..19; recorded, not used to schedule
  // CPU time charged to this thread by its run loop (CLOCK_THREAD_CPUTIME_ID).
  int64_t cpu_time_ns() const { return cpu_ns_.load(std::memory_order_relaxed); }
  bool no_new_privs = false;      // PR_SET_NO_NEW_PRIVS (sticky)
  bool keep_caps = false;         // PR_SET_KEEPCAPS (cleared by execve)

  // exit(2): this thread ends after the current syscall (status is the low 8 bits).
  void RequestExit(int status);
  // exit_group(2) / fatal signal: the whole thread group ends with `status_word` (wait status).
  void RequestGroupExit(int status_word);
  bool exit_requested() const { return exit_requested_; }

  // fs::Interruptible: true once the task must stop blocking (exit, group stop, or a pending
  // unblocked signal).
  bool Interrupted() const override;
  // Makes the task notice a new signal, exit or stop: interrupts its guest code if running and
  // wakes it from futex and wait sleeps. Any thread.
  void Kick();

  // Runs the task until it exits. Called on the task's own host thread.
  void Run(platform::Context& ctx);
  // The platform context while Run() is active (FP state for signal frames), else null.
  platform::Context* context() const { return ctx_; }

  // --- Processes (task_clone.cc, task_exec.cc, task_exit.cc) ---
  // clone/fork/vfork/clone3: creates and starts the child; returns its tid in the caller's
  // namespace. For CLONE_VFORK, returns once the child has exec'd or exited.
  Result<int32_t> Clone(const CloneArgs& args);
  // execve: loads `path` (or `file` when execveat gave an fd) into a fresh address space and,
  // on success, makes this task its only thread; kEJUSTRETURN with the new registers.
  SyscallResult Execve(const std::string& path, std::shared_ptr<fs::FileDescription> file,
                       std::vector<std::string> argv, std::vector<std::string> envp);
  // The futex key of `addr` in this task's address space: (mm, addr) for FUTEX_PRIVATE_FLAG and
  // private mappings, (memory-file offset) for shared mappings so processes meet (Linux
  // get_futex_key). EINVAL if misaligned, EFAULT if unmapped.
  Result<FutexManager::Key> FutexKeyFor(uint64_t addr, bool priv);
  // wait4/waitid for the children of this task's process.
  Result<WaitResult> Wait(const WaitSpec& spec);

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
  // restart_syscall(2): a handler that returns kERESTART_RESTARTBLOCK first stores here how to
  // resume (e.g. the remaining sleep); restart_syscall runs it once, if no handler ran in
  // between (otherwise the restart becomes EINTR, as in Linux).
  void SetRestartBlock(std::function<SyscallResult(Task&)> fn) { restart_block_ = std::move(fn); }
  std::function<SyscallResult(Task&)> TakeRestartBlock() { return std::exchange(restart_block_, nullptr); }
  // rt_sigreturn: restores registers, mask, FP state and altstack from the frame at rsp-8.
  SyscallResult SigReturn();
  // sas_ss_flags(): true when `sp` lies on the alternate signal stack.
  bool OnAltStack(uint64_t sp) const;

 private:
  friend class Kernel;
  friend class ThreadGroup;
  void DeliverSignals();
  bool SetupFrame(int sig, const SigAction& act, const arch::Siginfo& info, uint64_t old_mask);
  void ApplyRestart(bool handler_ran, const SigAction* act);
  void HandleSyscall();
  void HandleFault(const platform::SwitchResult& r);
  void HandleSignal(const platform::SwitchResult& r);
  void DieOfSignal(int sig, bool core);
  // Group stop: the task that dequeued a stop signal stops the group; every task then parks
  // here until SIGCONT or SIGKILL (task_exit.cc).
  void DoGroupStop(int sig);
  void ParkWhileStopped();
  // After Run(): robust futexes, clear_child_tid, vfork release, and the process-tree update
  // (zombie, SIGCHLD, reparenting). Runs on the task's thread (task_exit.cc).
  void ExitNotify();
  void ExitRobustList();
  void ReleaseVforkParent();

  Kernel& kernel_;
  std::shared_ptr<ThreadGroup> tg_;
  std::atomic<int32_t> tid_;
  std::shared_ptr<mm::MemoryManager> mm_;
  std::shared_ptr<fs::FDTable> fds_;
  std::shared_ptr<fs::FSContext> fsctx_;
  Credentials creds_;
  arch::Registers regs_{};
  std::atomic<uint64_t> signal_mask_{0};
  std::atomic<uint64_t> real_blocked_{0};
  std::atomic<int64_t> cpu_ns_{0};
  // Run-loop counters, written to the debug log at exit (where the platform time goes).
  uint64_t n_switches_ = 0, n_syscalls_ = 0, n_faults_ = 0;
  int64_t switch_ns_ = 0;
  // ctx_ is set and cleared under ctx_mu_ so Kick() from another thread never uses a dead one.
  mutable absl::Mutex ctx_mu_;
  platform::Context* ctx_ = nullptr;
  mutable absl::Mutex sig_mu_;
  SignalQueue pending_ ABSL_GUARDED_BY(sig_mu_);
  // The restart code of the syscall that just returned (0: none); consumed by delivery.
  int restart_errno_ = 0;
  std::function<SyscallResult(Task&)> restart_block_;
  uint64_t stop_dequeued_gen_ = 0;  // ThreadGroup::cont_gen_ when a stop signal was dequeued
  bool has_saved_mask_ = false;
  uint64_t saved_mask_ = 0;
  uint64_t fault_trapno_ = 0, fault_err_ = 0, fault_cr2_ = 0;  // for the next frame
  std::atomic<bool> exit_requested_{false};
  int exit_status_ = 0;
  // CLONE_VFORK: the parent waits on this until the child execs or exits.
  struct VforkDone {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
  };
  std::shared_ptr<VforkDone> vfork_done_;
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
    int max_tasks = 4096;  // live guest threads at most (clone: EAGAIN beyond)
    // execve applies set-user/group-ID bits (only when the sandbox runs as root: otherwise a
    // setuid-root binary must not make the guest root).
    bool honor_setid = true;
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

  // --- Lookups in the sandbox's PID namespace (null when absent) ---
  std::shared_ptr<Task> FindTask(int32_t tid) const;
  // A live or zombie process.
  std::shared_ptr<ThreadGroup> FindThreadGroup(int32_t tgid) const;
  // Every process (live or zombie) in process group `pgid` / all processes.
  std::vector<std::shared_ptr<ThreadGroup>> ThreadGroupsInPgrp(int32_t pgid) const;
  std::vector<std::shared_ptr<ThreadGroup>> AllThreadGroups() const;
  int LiveTaskCount() const;
  std::vector<std::shared_ptr<Task>> AllTasks() const;

  // setpgid/setsid on behalf of `caller` (kernel/sys.c rules).
  Result<void> SetPgid(Task& caller, int32_t pid, int32_t pgid);
  Result<int32_t> SetSid(Task& caller);

 private:
  friend class Task;
  friend class ThreadGroup;
  // Returns a fresh thread ID in the sandbox's PID namespace (next unused, wrapping at pid_max).
  int32_t AllocateTidLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IdInUseLocked(int32_t id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `t` on the calling host thread until it exits, then does its exit bookkeeping.
  void RunTaskOnThisThread(std::shared_ptr<Task> t, const arch::FPState* fp);
  // Starts a detached host thread for a new task (EAGAIN if the host refuses).
  Result<void> StartTaskThread(std::shared_ptr<Task> t, std::optional<arch::FPState> fp);
  // Signals decided with mu_ held (SIGCHLD, parent-death signals) are queued here and sent by
  // FlushDeferred() once mu_ is released (sending takes mu_).
  void DeferSignalLocked(std::shared_ptr<ThreadGroup> tg, const arch::Siginfo& info)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushDeferred();
  // Task exit bookkeeping (task_exit.cc), all with mu_ held.
  void TaskExitedLocked(Task* t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReparentChildrenLocked(ThreadGroup* tg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // do_notify_parent(): SIGCHLD for a zombie; returns true if it was auto-reaped.
  bool NotifyParentOfExitLocked(ThreadGroup* tg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // do_notify_parent_cldstop(): CLD_STOPPED / CLD_CONTINUED to the parent.
  void NotifyParentStopLocked(ThreadGroup* tg, int why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReapLocked(ThreadGroup* tg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Options opts_;
  int64_t boot_time_ns_ = 0;
  mutable absl::Mutex log_mu_;
  std::vector<bool> unimplemented_logged_ ABSL_GUARDED_BY(log_mu_);
  // The tasklist lock: the PID namespace and every ThreadGroup's tree fields.
  mutable absl::Mutex mu_;
  // Signalled on every child state change (exit, stop, continue) and by Kick(); wait(2) and
  // vfork/exec/stop waits sleep on it.
  absl::CondVar tree_cv_;
  std::map<int32_t, std::shared_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, std::shared_ptr<ThreadGroup>> groups_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<ThreadGroup> init_ ABSL_GUARDED_BY(mu_);
  int32_t last_tid_ ABSL_GUARDED_BY(mu_) = 0;
  bool wrapped_ ABSL_GUARDED_BY(mu_) = false;
  int host_threads_ ABSL_GUARDED_BY(mu_) = 0;  // task threads not yet finished
  std::vector<std::pair<std::shared_ptr<ThreadGroup>, arch::Siginfo>> deferred_
      ABSL_GUARDED_BY(mu_);
  FutexManager futexes_;
};

}  // namespace sbx::kernel
