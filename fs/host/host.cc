// Host file implementation.
#include "fs/host/host.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "fs/blocking.h"
#include "sentry/abi/file.h"

namespace sbx::fs::host {

namespace {

template <typename F>
Result<size_t> Retry(F f) {
  for (;;) {
    ssize_t n = f();
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return ErrnoFromHost(errno);
  }
}

class HostFile : public FileDescription {
 public:
  HostFile(int fd, uint32_t flags, bool tty)
      : FileDescription(nullptr, flags), fd_(fd), tty_(tty) {}
  ~HostFile() override { ::close(fd_); }

  Result<size_t> Read(std::span<std::byte> dst) override {
    TRY(WaitReady(POLLIN));
    return Retry([&] { return ::read(fd_, dst.data(), dst.size()); });
  }
  Result<size_t> PRead(std::span<std::byte> dst, int64_t off) override {
    if (off < 0) return Errno::kEINVAL;
    return Retry([&] { return ::pread(fd_, dst.data(), dst.size(), off); });
  }
  Result<size_t> Write(std::span<const std::byte> src) override {
    TRY(WaitReady(POLLOUT));
    return Retry([&] { return ::write(fd_, src.data(), src.size()); });
  }
  Result<size_t> PWrite(std::span<const std::byte> src, int64_t off) override {
    if (off < 0) return Errno::kEINVAL;
    return Retry([&] { return ::pwrite(fd_, src.data(), src.size(), off); });
  }
  Result<int64_t> Seek(int64_t offset, int whence) override {
    if (whence < abi::kSEEK_SET || whence > abi::kSEEK_HOLE) return Errno::kEINVAL;
    off_t r = ::lseek(fd_, offset, whence);
    if (r < 0) return ErrnoFromHost(errno);
    return static_cast<int64_t>(r);
  }
  Result<Attr> Stat() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoFromHost(errno);
    Attr a;
    a.dev = st.st_dev;
    a.ino = st.st_ino;
    a.rdev = st.st_rdev;
    a.mode = st.st_mode;
    a.nlink = static_cast<uint32_t>(st.st_nlink);
    a.uid = st.st_uid;
    a.gid = st.st_gid;
    a.size = static_cast<uint64_t>(st.st_size);
    a.blocks = static_cast<uint64_t>(st.st_blocks);
    a.blksize = static_cast<uint32_t>(st.st_blksize);
    a.atime_sec = st.st_atim.tv_sec;
    a.atime_nsec = static_cast<uint32_t>(st.st_atim.tv_nsec);
    a.mtime_sec = st.st_mtim.tv_sec;
    a.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
    a.ctime_sec = st.st_ctim.tv_sec;
    a.ctime_nsec = static_cast<uint32_t>(st.st_ctim.tv_nsec);
    return a;
  }
  Result<size_t> GetDents64(std::span<std::byte>) override { return Errno::kENOTDIR; }

  // Blocking reads and writes wait for the host FD in slices so a signal (or the task being
  // killed) ends the wait with ERESTARTSYS: the host FD is shared with processes outside the
  // sandbox, so it cannot be switched to O_NONBLOCK. A guest O_NONBLOCK gets EAGAIN instead
  // of waiting. Another reader of the same host FD may still take the data between the poll
  // and the read; the read then blocks until more arrives (as a plain blocking read would).
  Result<void> WaitReady(short events) {
    const bool nonblock = (flags() & abi::kO_NONBLOCK) != 0;
    for (;;) {
      struct pollfd p = {fd_, events, 0};
      int r;
      {
        ScopedBlocked blocked;
        r = ::poll(&p, 1, nonblock ? 0 : kWaitSliceMs);
      }
      if (r > 0 || (r < 0 && errno != EINTR)) return Ok();  // ready, or let the call report
      if (nonblock) return Errno::kEAGAIN;
      if (CurrentlyInterrupted()) return Errno::kERESTARTSYS;
    }
  }
  static constexpr int kWaitSliceMs = 10;

  // The host's own poll with a zero timeout: host FDs have no wait queue, so pollers call
  // this again every slice.
  uint32_t Readiness(uint32_t mask) override {
    struct pollfd p = {fd_, static_cast<short>(mask & 0xffff), 0};
    for (;;) {
      int r = ::poll(&p, 1, 0);
      if (r >= 0) return static_cast<uint16_t>(p.revents);
      if (errno != EINTR) return kPollErr;
    }
  }

  Result<uint64_t> Ioctl(usermem::UserMemory& mem, uint64_t cmd, uint64_t arg) override {
    switch (cmd) {
      case abi::kFIONREAD: {
        int n = 0;
        if (::ioctl(fd_, FIONREAD, &n) != 0) return ErrnoFromHost(errno);
        TRY(usermem::CopyOut(mem, usermem::UserPtr<int32_t>(arg), static_cast<int32_t>(n)));
        return uint64_t{0};
      }
      case abi::kTCGETS: {
        if (!tty_) return Errno::kENOTTY;
        abi::Termios t{};
        if (::ioctl(fd_, TCGETS, &t) != 0) return ErrnoFromHost(errno);
        TRY(usermem::CopyOut(mem, usermem::UserPtr<abi::Termios>(arg), t));
        return uint64_t{0};
      }
      case abi::kTCSETS:
      case abi::kTCSETSW:
      case abi::kTCSETSF: {
        if (!tty_) return Errno::kENOTTY;
        abi::Termios t = TRY(usermem::CopyIn(mem, usermem::UserPtr<abi::Termios>(arg)));
        if (::ioctl(fd_, cmd, &t) != 0) return ErrnoFromHost(errno);
        return uint64_t{0};
      }
      case abi::kTIOCGWINSZ: {
        if (!tty_) return Errno::kENOTTY;
        abi::WinSize w{};
        if (::ioctl(fd_, TIOCGWINSZ, &w) != 0) return ErrnoFromHost(errno);
        TRY(usermem::CopyOut(mem, usermem::UserPtr<abi::WinSize>(arg), w));
        return uint64_t{0};
      }
      case abi::kTIOCSWINSZ: {
        if (!tty_) return Errno::kENOTTY;
        abi::WinSize w = TRY(usermem::CopyIn(mem, usermem::UserPtr<abi::WinSize>(arg)));
        if (::ioctl(fd_, TIOCSWINSZ, &w) != 0) return ErrnoFromHost(errno);
        return uint64_t{0};
      }
      default:
        // Job-control ioctls (TIOCGPGRP...) would expose host process groups: not served.
        return Errno::kENOTTY;
    }
  }

 private:
  const int fd_;
  const bool tty_;
};

}  // namespace

std::shared_ptr<FileDescription> NewHostFile(int host_fd) {
  int fl = ::fcntl(host_fd, F_GETFL);
  uint32_t flags = fl < 0 ? abi::kO_RDWR : static_cast<uint32_t>(fl);
  flags &= abi::kO_ACCMODE | abi::kO_APPEND | abi::kO_NONBLOCK | abi::kO_LARGEFILE;
  return std::make_shared<HostFile>(host_fd, flags, ::isatty(host_fd) == 1);
}

}  // namespace sbx::fs::host
