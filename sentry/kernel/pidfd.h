// pidfd files (Linux kernel/pid.c pidfd_fops): an FD naming a process, from pidfd_open(2) or
// clone's CLONE_PIDFD. It polls readable once the process has exited, and pidfd_send_signal /
// waitid(P_PIDFD) resolve it back to the process.
#pragma once

#include <memory>

#include "fs/file.h"

namespace sbx::kernel {

class ThreadGroup;

// `nonblock`: PIDFD_NONBLOCK (O_NONBLOCK): waitid(P_PIDFD) on it returns EAGAIN instead of
// waiting.
std::shared_ptr<fs::FileDescription> NewPidFD(std::shared_ptr<ThreadGroup> tg,
                                              bool nonblock = false);
// The process behind a pidfd, or null if `f` is not a pidfd (EBADF for the caller).
std::shared_ptr<ThreadGroup> PidFDThreadGroup(fs::FileDescription& f);

}  // namespace sbx::kernel
