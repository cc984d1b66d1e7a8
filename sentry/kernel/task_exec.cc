// execve/execveat (Linux fs/exec.c): the new image is loaded into a fresh MemoryManager first
// (any error leaves the caller untouched); then de_thread() ends every other thread of the
// process (the exec'ing thread takes the leader's TID) and the point of no return swaps the
// address space, closes close-on-exec files, resets handled signals and applies set-id bits.
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "fs/blocking.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "sentry/loader/loader.h"
#include "sentry/usermem/usermem.h"

namespace sbx::kernel {
namespace {
constexpr uint32_t kSIsuid = 04000, kSIsgid = 02000, kSIxgrp = 010;
constexpr uint64_t kSigIgn = 1;
}  // namespace

SyscallResult Task::Execve(const std::string& path, std::shared_ptr<fs::FileDescription> file,
                           std::vector<std::string> argv, std::vector<std::string> envp) {
  // --- Load (nothing of the caller changes until this succeeded) ---
  auto as = TRY(kernel_.platform().NewAddressSpace());
  auto mm = std::make_shared<mm::MemoryManager>(kernel_.memfile(), std::move(as),
                                                kernel_.platform().min_user_address(),
                                                kernel_.platform().max_user_address());
  loader::ExecArgs args{path, std::move(argv), std::move(envp)};
  loader::AuxvInfo aux = loader::HostAuxvDefaults();
  aux.uid = creds_.ruid;
  aux.gid = creds_.rgid;
  aux.euid = creds_.euid;
  aux.egid = creds_.egid;
  loader::LoadOptions lopts;
  lopts.task_size = kernel_.platform().max_user_address();
  lopts.stack_rlimit = tg_->GetRLimit(3 /*RLIMIT_STACK*/).cur;
  if (lopts.stack_rlimit > (1ull << 40)) lopts.stack_rlimit = 8ull << 20;
  mm->SetStackLimit(lopts.stack_rlimit);
  fs::Creds fcreds{creds_.fsuid, creds_.fsgid, creds_.groups};
  // The file execve named, opened here so its set-id bits are known before the loader writes
  // AT_SECURE; "#!" interpreters are opened by the loader through `open`.
  if (!file) file = TRY(kernel_.vfs().OpenForExec(*fsctx_, fcreds, path));

  // bprm_fill_uid(): set-user/group-ID bits of an ELF (not of a "#!" script) change the
  // effective ids, unless no_new_privs is set or the sandbox does not run as root.
  Credentials nc = creds_;
  if (kernel_.options().honor_setid && !no_new_privs) {
    auto attr = file->Stat();
    std::byte magic[2] = {};
    auto n = file->PRead(std::span<std::byte>(magic), 0);
    bool script = n.ok() && *n == 2 && magic[0] == std::byte{'#'} && magic[1] == std::byte{'!'};
    if (attr.ok() && !script) {
      if (attr->mode & kSIsuid) nc.euid = attr->uid;
      if ((attr->mode & (kSIsgid | kSIxgrp)) == (kSIsgid | kSIxgrp)) nc.egid = attr->gid;
    }
  }
  aux.euid = nc.euid;
  aux.egid = nc.egid;
  aux.secure = nc.euid != creds_.ruid || nc.egid != creds_.rgid;

  bool first = true;
  auto open = [&](const std::string& p) -> Result<std::shared_ptr<fs::FileDescription>> {
    if (first) {
      first = false;
      return file;
    }
    return kernel_.vfs().OpenForExec(*fsctx_, fcreds, p);
  };
  auto image = TRY(loader::LoadExecutable(*mm, open, args, aux, lopts));

  // --- de_thread(): become the only thread of the process ---
  {
    absl::MutexLock l(&kernel_.mu_);
    if (tg_->exec_tid_ != 0 || tg_->exiting()) return Errno::kEAGAIN;
    tg_->exec_tid_ = tid();
    for (Task* o : tg_->tasks_) {
      if (o == this) continue;
      o->exit_status_ = 0;
      o->exit_requested_ = true;
      o->Kick();
    }
    while (tg_->tasks_.size() > 1 && !tg_->exiting() && !exit_requested_) {
      fs::ScopedBlocked blocked;
      kernel_.tree_cv_.WaitWithTimeout(&kernel_.mu_, absl::Milliseconds(50));
    }
    tg_->exec_tid_ = 0;
    if (tg_->tasks_.size() > 1) return Errno::kEAGAIN;  // killed meanwhile: we exit anyway
    const int32_t old = tid();
    if (old != tgid()) {
      // The exec'ing thread takes over the leader's TID.
      auto it = kernel_.tasks_.find(old);
      std::shared_ptr<Task> self = it->second;
      kernel_.tasks_.erase(it);
      tid_.store(tgid());
      kernel_.tasks_[tgid()] = std::move(self);
    }
    tg_->did_exec_ = true;
  }

  // --- Point of no return ---
  ExitRobustList();
  std::shared_ptr<mm::MemoryManager> old_mm = std::move(mm_);
  mm_ = std::move(mm);
  if (clear_child_tid != 0) {
    // mm_release(): only meaningful if the old address space lives on (vfork parent).
    if (old_mm.use_count() > 1) {
      usermem::UserAddr a(clear_child_tid);
      if (usermem::CopyOut(*old_mm, usermem::UserPtr<uint32_t>(a), 0u).ok()) {
        (void)kernel_.futexes().Wake(
            FutexManager::Key{reinterpret_cast<uint64_t>(old_mm.get()), clear_child_tid}, 1,
            ~0u);
      }
    }
    clear_child_tid = 0;
  }
  ReleaseVforkParent();
  old_mm.reset();

  if (fds_.use_count() > 1) fds_ = fds_->Fork();  // unshare_files()
  fds_->RemoveCloexec();

  // flush_signal_handlers(): handled signals go back to SIG_DFL, ignored ones stay ignored.
  {
    auto sh = tg_->sighand();
    if (sh.use_count() > 2) {  // shared with another process (CLONE_SIGHAND without THREAD)
      sh = sh->Copy();
      absl::MutexLock l(&tg_->mu_);
      tg_->sighand_ = sh;
    }
    absl::MutexLock l(&sh->mu);
    for (auto& act : sh->actions) {
      uint64_t h = act.handler;
      act = SigAction{};
      if (h == kSigIgn) act.handler = kSigIgn;
    }
  }
  altstack_sp = 0;
  altstack_size = 0;
  altstack_flags = 2;  // SS_DISABLE
  if (nc.euid != creds_.euid || nc.egid != creds_.egid) {
    pdeathsig = 0;
    tg_->dumpable = 0;
  } else {
    tg_->dumpable = 1;  // begin_new_exec(): SUID_DUMP_USER unless the credentials changed
  }
  nc.suid = nc.fsuid = nc.euid;
  nc.sgid = nc.fsgid = nc.egid;
  creds_ = nc;
  std::string base = path.substr(path.rfind('/') + 1);
  comm = base.substr(0, 15);
  restart_block_ = nullptr;
  keep_caps = false;

  regs_ = arch::Registers{};
  regs_.rip = image.entry.value();
  regs_.rsp = image.stack_pointer.value();
  regs_.cs = arch::kUserCS;
  regs_.ss = arch::kUserDS;
  regs_.eflags = 0x202;
  // FPU: the next Switch attaches a fresh stub thread of the new address space, which the
  // platform starts in the architectural init state.
  return Errno::kEJUSTRETURN;
}

}  // namespace sbx::kernel
