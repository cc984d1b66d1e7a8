// Transport helpers shared by the gofer server and its client: message-size limits, the
// single-component name rule, and SOCK_SEQPACKET send/receive with SCM_RIGHTS.
//
// Invariants: a message is at most kMaxMessageSize bytes (below the default AF_UNIX send
// buffer, so a send never fails with EMSGSIZE); at most kMaxFdsPerMessage FDs are accepted per
// message and every received FD is either returned to the caller or closed here.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace sbx::gofer::wire {

// Largest message either side sends or accepts. net.core.wmem_default is 212992 on Linux, and
// a SEQPACKET message larger than the socket's send buffer fails with EMSGSIZE.
inline constexpr size_t kMaxMessageSize = 128 * 1024;
// A ReadDir page stops adding entries once its encoding would pass this many bytes; the rest
// of the directory comes in later pages.
inline constexpr size_t kReadDirPageBudget = 64 * 1024;
// NAME_MAX and PATH_MAX - 1 (longest symlink target readlink(2) can return in full).
inline constexpr size_t kMaxNameLen = 255;
inline constexpr size_t kMaxLinkTarget = 4095;
// FDs accepted in one received message; more means the peer misbehaves.
inline constexpr size_t kMaxFdsPerMessage = 4;

// Owns one host FD; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Returns 0 if `name` is one path component (non-empty, no '/', no NUL, not "." or "..",
// at most kMaxNameLen bytes); otherwise EINVAL, or ENAMETOOLONG for an over-long name.
int CheckName(std::string_view name);

// Sends `len` bytes as one message, with `fd` attached via SCM_RIGHTS if fd >= 0. Retries
// EINTR; never raises SIGPIPE. Returns 0 or a host errno (EPIPE when the peer is gone).
int SendMessage(int sock, const void* data, size_t len, int fd = -1);

struct Received {
  size_t len = 0;          // bytes of payload in the buffer
  bool eof = false;        // the peer closed the connection (no message)
  bool truncated = false;  // the message was larger than the buffer (payload unusable)
  bool fds_dropped = false;  // the kernel dropped FDs (control buffer too small)
  std::vector<UniqueFd> fds;
};

// Receives one message into `buf` (its size is the limit). FDs are accepted only if
// `accept_fds`; otherwise the kernel discards any the peer attached. Retries EINTR.
// Returns 0 or a host errno.
int ReceiveMessage(int sock, std::vector<char>& buf, bool accept_fds, Received* out);

}  // namespace sbx::gofer::wire
