// Host files: the guest's stdin/stdout/stderr as handed over by the frontend. read/write go
// straight to the host FD (so a read from a host terminal or pipe blocks the task's host
// thread and is not interruptible by guest signals yet — the next issue makes it so).
// lseek/pread/pwrite work when the host FD is seekable (a redirect to a file). ioctl forwards
// the tty requests TCGETS, TCSETS/W/F, TIOCGWINSZ, TIOCSWINSZ to a tty FD and FIONREAD to any;
// everything else is ENOTTY. poll readiness is the host poll(2) of the FD with a zero timeout
// (no wait queue: pollers re-check host FDs every slice).
#pragma once

#include <memory>

#include "fs/file.h"

namespace sbx::fs::host {

// Wraps `host_fd` (ownership taken: closed when the last reference goes). Access mode and
// status flags come from the host FD's F_GETFL.
std::shared_ptr<FileDescription> NewHostFile(int host_fd);

}  // namespace sbx::fs::host
