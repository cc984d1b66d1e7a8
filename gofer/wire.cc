// SOCK_SEQPACKET framing for the gofer protocol (see wire.h).
#include "gofer/wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

namespace sbx::gofer::wire {

int CheckName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return EINVAL;
  if (name.size() > kMaxNameLen) return ENAMETOOLONG;
  if (name.find('/') != std::string_view::npos) return EINVAL;
  if (name.find('\0') != std::string_view::npos) return EINVAL;
  return 0;
}

int SendMessage(int sock, const void* data, size_t len, int fd) {
  if (len > kMaxMessageSize) return EMSGSIZE;
  iovec iov{const_cast<void*>(data), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    memset(control, 0, sizeof(control));
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n) == len ? 0 : EIO;
    if (errno != EINTR) return errno;
  }
}

int ReceiveMessage(int sock, std::vector<char>& buf, bool accept_fds, Received* out) {
  *out = Received{};
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  if (accept_fds) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
  }
  ssize_t n;
  for (;;) {
    n = recvmsg(sock, &msg, accept_fds ? MSG_CMSG_CLOEXEC : 0);
    if (n >= 0) break;
    if (errno == ECONNRESET) {
      out->eof = true;
      return 0;
    }
    if (errno != EINTR) return errno;
  }
  if (accept_fds && msg.msg_controllen > 0) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        out->fds.emplace_back(fd);
      }
    }
  }
  // SEQPACKET delivers a zero-length read only at end of stream (we never send empty
  // messages: a serialized Request/Response always carries at least its seq).
  if (n == 0 && out->fds.empty()) {
    out->eof = true;
    return 0;
  }
  out->len = static_cast<size_t>(n);
  out->truncated = (msg.msg_flags & MSG_TRUNC) != 0;
  out->fds_dropped = accept_fds && (msg.msg_flags & MSG_CTRUNC) != 0;
  return 0;
}

}  // namespace sbx::gofer::wire
