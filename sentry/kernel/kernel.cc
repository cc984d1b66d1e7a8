// Kernel: process creation for PID 1, tid allocation, debug/unimplemented-syscall logging.
#include "sentry/kernel/kernel.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "fs/vfs.h"
#include "sentry/loader/loader.h"

namespace sbx::kernel {

namespace {
int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

// Linux defaults for a fresh process (include/asm-generic/resource.h), NOFILE as runc sets.
void DefaultRLimits(ThreadGroup& tg) {
  constexpr uint64_t kInf = ~0ull;
  for (int r = 0; r < kNumRLimits; ++r) tg.SetRLimit(r, {kInf, kInf});
  tg.SetRLimit(3 /*RLIMIT_STACK*/, {8ull << 20, kInf});
  tg.SetRLimit(4 /*RLIMIT_CORE*/, {0, kInf});
  tg.SetRLimit(6 /*RLIMIT_NPROC*/, {4096, 4096});
  tg.SetRLimit(7 /*RLIMIT_NOFILE*/, {1024, 4096});
  tg.SetRLimit(8 /*RLIMIT_MEMLOCK*/, {8ull << 20, 8ull << 20});
  tg.SetRLimit(11 /*RLIMIT_SIGPENDING*/, {31768, 31768});
  tg.SetRLimit(12 /*RLIMIT_MSGQUEUE*/, {819200, 819200});
  tg.SetRLimit(13 /*RLIMIT_NICE*/, {0, 0});
  tg.SetRLimit(14 /*RLIMIT_RTPRIO*/, {0, 0});
}

}  // namespace

Kernel::Kernel(Options opts) : opts_(std::move(opts)), boot_time_ns_(MonotonicNs()) {
  absl::MutexLock l(&log_mu_);
  unimplemented_logged_.assign(1024, false);
}

Kernel::~Kernel() = default;

void Kernel::DebugLog(std::string_view line) const {
  if (opts_.debug_log_fd < 0) return;
  std::string s(line);
  s += '\n';
  (void)!::write(opts_.debug_log_fd, s.data(), s.size());
}

void Kernel::LogUnimplementedOnce(uint64_t nr, std::string_view line) {
  {
    absl::MutexLock l(&log_mu_);
    if (nr < unimplemented_logged_.size()) {
      if (unimplemented_logged_[nr]) return;
      unimplemented_logged_[nr] = true;
    }
  }
  DebugLog(std::string("unimplemented syscall: ") + std::string(line));
}

bool Kernel::IdInUseLocked(int32_t id) const {
  if (tasks_.count(id) || groups_.count(id)) return true;
  for (const auto& [tgid, g] : groups_) {
    if (g->pgid_ == id || g->sid_ == id) return true;
  }
  return false;
}

int32_t Kernel::AllocateTidLocked() {
  // alloc_pid(): the next number after the last one handed out; after wrapping at pid_max,
  // skip numbers still used as a tid, tgid, pgid or sid.
  constexpr int32_t kPidMax = 4194304, kReservedPids = 300;
  for (;;) {
    if (++last_tid_ >= kPidMax) {
      last_tid_ = kReservedPids;
      wrapped_ = true;
    }
    if (!wrapped_ || !IdInUseLocked(last_tid_)) return last_tid_;
  }
}

std::shared_ptr<Task> Kernel::FindTask(int32_t tid) const {
  absl::MutexLock l(&mu_);
  auto it = tasks_.find(tid);
  return it == tasks_.end() ? nullptr : it->second;
}

std::shared_ptr<ThreadGroup> Kernel::FindThreadGroup(int32_t tgid) const {
  absl::MutexLock l(&mu_);
  auto it = groups_.find(tgid);
  return it == groups_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<ThreadGroup>> Kernel::ThreadGroupsInPgrp(int32_t pgid) const {
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<ThreadGroup>> out;
  for (const auto& [tgid, g] : groups_) {
    if (g->pgid_ == pgid) out.push_back(g);
  }
  return out;
}

std::vector<std::shared_ptr<ThreadGroup>> Kernel::AllThreadGroups() const {
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<ThreadGroup>> out;
  for (const auto& [tgid, g] : groups_) out.push_back(g);
  return out;
}

std::vector<std::shared_ptr<Task>> Kernel::AllTasks() const {
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<Task>> out;
  for (const auto& [tid, t] : tasks_) out.push_back(t);
  return out;
}

int Kernel::LiveTaskCount() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(tasks_.size());
}

void Kernel::DeferSignalLocked(std::shared_ptr<ThreadGroup> tg, const arch::Siginfo& info) {
  deferred_.emplace_back(std::move(tg), info);
}

void Kernel::FlushDeferred() {
  std::vector<std::pair<std::shared_ptr<ThreadGroup>, arch::Siginfo>> todo;
  {
    absl::MutexLock l(&mu_);
    todo.swap(deferred_);
  }
  for (auto& [tg, info] : todo) (void)tg->SendGroupSignal(info);
}

void Kernel::RunTaskOnThisThread(std::shared_ptr<Task> t, const arch::FPState* fp) {
  {
    auto ctx = platform().NewContext();
    if (ctx.ok()) {
      if (fp != nullptr) (void)(*ctx)->SetFPState(*fp);
      t->Run(**ctx);
    } else {
      DebugLog(absl::StrCat("task ", t->tid(), ": no platform context: ",
                            std::string(ErrnoName(ctx.error()))));
      t->RequestGroupExit(9 /*SIGKILL*/);
    }
    // The context goes first (it must be destroyed on this thread); then the exit
    // bookkeeping, which may drop the last reference to the address space.
  }
  t->ExitNotify();
  t.reset();
  absl::MutexLock l(&mu_);
  --host_threads_;
  tree_cv_.SignalAll();
}

namespace {
struct ThreadStart {
  Kernel* k;
  std::shared_ptr<Task> t;
  std::optional<arch::FPState> fp;
};
}  // namespace

Result<void> Kernel::StartTaskThread(std::shared_ptr<Task> t, std::optional<arch::FPState> fp) {
  auto* start = new ThreadStart{this, std::move(t), std::move(fp)};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  int err = pthread_create(
      &th, &attr,
      [](void* arg) -> void* {
        std::unique_ptr<ThreadStart> s(static_cast<ThreadStart*>(arg));
        Kernel* k = s->k;
        std::optional<arch::FPState> fp = std::move(s->fp);
        std::shared_ptr<Task> t = std::move(s->t);
        s.reset();
        k->RunTaskOnThisThread(std::move(t), fp ? &*fp : nullptr);
        return nullptr;
      },
      start);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    delete start;
    return Errno::kEAGAIN;
  }
  return Ok();
}

Result<void> Kernel::SetPgid(Task& caller, int32_t pid, int32_t pgid) {
  if (pgid < 0) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  ThreadGroup* self = caller.tg_.get();
  ThreadGroup* target = self;
  if (pid != 0 && pid != self->tgid_) {
    auto it = groups_.find(pid);
    // Only the caller and its children (same_thread_group or real_parent check).
    if (it == groups_.end() || it->second->parent_ != self) return Errno::kESRCH;
    target = it->second.get();
    if (target->zombie_) return Errno::kESRCH;
    if (target->sid_ != self->sid_) return Errno::kEPERM;
    if (target->did_exec_) return Errno::kEACCES;
  }
  if (pgid == 0) pgid = target->tgid_;
  if (target->sid_ == target->tgid_) return Errno::kEPERM;  // a session leader
  if (pgid != target->tgid_) {
    bool found = false;
    for (const auto& [id, g] : groups_) {
      if (g->pgid_ == pgid && g->sid_ == self->sid_) {
        found = true;
        break;
      }
    }
    if (!found) return Errno::kEPERM;
  }
  target->pgid_ = pgid;
  return Ok();
}

Result<int32_t> Kernel::SetSid(Task& caller) {
  absl::MutexLock l(&mu_);
  ThreadGroup* self = caller.tg_.get();
  // EPERM if the caller's pid is already some process group's id (it leads a group).
  for (const auto& [id, g] : groups_) {
    if (g->pgid_ == self->tgid_) return Errno::kEPERM;
  }
  self->sid_ = self->pgid_ = self->tgid_;
  return self->tgid_;
}

Result<int> Kernel::RunInit(const InitProcess& init) {
  auto as = TRY(platform().NewAddressSpace());
  auto mm = std::make_shared<mm::MemoryManager>(memfile(), std::move(as),
                                                platform().min_user_address(),
                                                platform().max_user_address());
  auto fsctx = vfs().NewContext();
  if (init.cwd != "/") TRY(vfs().Chdir(*fsctx, init.cwd, init.creds.fsuid, init.creds.fsgid));

  loader::ExecArgs args{init.path, init.argv, init.envp};
  loader::AuxvInfo aux = loader::HostAuxvDefaults();
  aux.uid = init.creds.ruid;
  aux.euid = init.creds.euid;
  aux.gid = init.creds.rgid;
  aux.egid = init.creds.egid;
  aux.secure = false;
  loader::LoadOptions lopts;
  lopts.task_size = platform().max_user_address();
  lopts.stack_rlimit = 8ull << 20;  // RLIMIT_STACK default (DefaultRLimits)
  mm->SetStackLimit(lopts.stack_rlimit);
  fs::Creds creds{init.creds.fsuid, init.creds.fsgid, init.creds.groups};
  auto open = [&](const std::string& p) { return vfs().OpenForExec(*fsctx, creds, p); };
  auto image = TRY(loader::LoadExecutable(*mm, open, args, aux, lopts));

  auto fds = init.fds ? init.fds : std::make_shared<fs::FDTable>();
  std::shared_ptr<Task> task;
  std::shared_ptr<ThreadGroup> tg;
  {
    absl::MutexLock l(&mu_);
    int32_t tid = AllocateTidLocked();
    tg = std::make_shared<ThreadGroup>(*this, tid, nullptr);
    DefaultRLimits(*tg);
    task = std::make_shared<Task>(*this, tg, tid, mm, fds, fsctx, init.creds);
    init_ = tg;
    groups_[tid] = tg;
    tasks_[tid] = task;
    tg->tasks_.push_back(task.get());
    tg->exit_uid_ = init.creds.ruid;
    ++host_threads_;
  }
  mm.reset();
  auto& r = task->regs();
  r.rip = image.entry.value();
  r.rsp = image.stack_pointer.value();
  r.cs = arch::kUserCS;
  r.ss = arch::kUserDS;
  r.eflags = 0x202;
  // Linux names the task after the filename passed to execve (not a #! interpreter).
  std::string base = init.path.substr(init.path.rfind('/') + 1);
  task->comm = base.substr(0, 15);

  RunTaskOnThisThread(std::move(task), nullptr);
  // PID 1 is gone: its exit killed every other process (zap_pid_ns_processes); wait for their
  // threads, then drop the tree.
  std::map<int32_t, std::shared_ptr<Task>> tasks;
  std::map<int32_t, std::shared_ptr<ThreadGroup>> groups;
  {
    absl::MutexLock l(&mu_);
    while (host_threads_ > 0) tree_cv_.WaitWithTimeout(&mu_, absl::Milliseconds(100));
    tasks.swap(tasks_);
    groups.swap(groups_);
    init_.reset();
    deferred_.clear();
  }
  for (auto& [id, g] : groups) {
    absl::MutexLock l(&mu_);
    g->children_.clear();
  }
  return tg->exit_status_word();
}

}  // namespace sbx::kernel
