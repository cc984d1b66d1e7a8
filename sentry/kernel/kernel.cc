// Kernel: process creation for PID 1, tid allocation, debug/unimplemented-syscall logging.
#include "sentry/kernel/kernel.h"

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
  absl::MutexLock l(&mu_);
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
    absl::MutexLock l(&mu_);
    if (nr < unimplemented_logged_.size()) {
      if (unimplemented_logged_[nr]) return;
      unimplemented_logged_[nr] = true;
    }
  }
  DebugLog(std::string("unimplemented syscall: ") + std::string(line));
}

int32_t Kernel::AllocateTid() {
  absl::MutexLock l(&mu_);
  return next_tid_++;
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

  int32_t tid = AllocateTid();
  auto tg = std::make_shared<ThreadGroup>(*this, tid);
  DefaultRLimits(*tg);
  auto fds = init.fds ? init.fds : std::make_shared<fs::FDTable>();
  Task task(*this, tg, tid, mm, fds, fsctx, init.creds);
  auto& r = task.regs();
  r.rip = image.entry.value();
  r.rsp = image.stack_pointer.value();
  r.cs = arch::kUserCS;
  r.ss = arch::kUserDS;
  r.eflags = 0x202;
  // Linux names the task after the filename passed to execve (not a #! interpreter).
  std::string base = init.path.substr(init.path.rfind('/') + 1);
  task.comm = base.substr(0, 15);

  auto ctx = TRY(platform().NewContext());
  task.Run(*ctx);
  return tg->exit_status_word();
}

}  // namespace sbx::kernel
