// Helpers shared by the file syscall families (sys_read_write.cc, sys_open.cc, sys_stat.cc,
// sys_dir.cc, sys_fd.cc): the task's path context and guest path copy-in.
#pragma once

#include <string>

#include "fs/vfs.h"
#include "sentry/abi/file.h"
#include "sentry/kernel/kernel.h"
#include "sentry/usermem/usermem.h"

namespace sbx::syscalls {

// The credentials path operations are checked against: fsuid/fsgid and supplementary groups.
inline fs::Creds FsCreds(const kernel::Task& t) {
  const auto& c = t.creds();
  return fs::Creds{c.fsuid, c.fsgid, c.groups};
}

inline fs::PathCtx PathCtxOf(kernel::Task& t) {
  return fs::PathCtx{t.fs_context(), t.fd_table(), FsCreds(t)};
}

// Copies in a path argument (getname()): EFAULT, or ENAMETOOLONG past PATH_MAX.
inline Result<std::string> CopyInPath(kernel::Task& t, usermem::UserAddr a) {
  return usermem::CopyInString(t.mem(), a, fs::kPathMax);
}

// The description `fd` refers to, for calls that refuse O_PATH descriptors (fdget()): EBADF.
inline Result<std::shared_ptr<fs::FileDescription>> GetFileNoPath(kernel::Task& t, int fd) {
  auto f = TRY(t.fd_table().GetFile(fd));
  if (f->flags() & abi::kO_PATH) return Errno::kEBADF;
  return f;
}

// The VFS position of a description; EOPNOTSUPP-style callers check valid() (pipes have none).
inline fs::VirtualDentry VDOf(const fs::FileDescription& f) {
  return fs::VirtualDentry{f.mount(), f.dentry()};
}

// A syscall returning 0 on success.
inline kernel::SyscallResult ZeroOr(Result<void> r) {
  if (!r.ok()) return r.error();
  return uint64_t{0};
}

// The bounce-buffer size for data copies between files and guest memory.
inline constexpr size_t kBounceSize = 1 << 20;

}  // namespace sbx::syscalls
