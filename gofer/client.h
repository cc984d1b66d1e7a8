// The sentry's client of the gofer: path operations on the root filesystem over a
// SOCK_SEQPACKET socket, protobuf messages (gofer/gofer.proto). Regular files and directories
// are opened by the gofer and their host FDs donated with SCM_RIGHTS, so data never goes
// through the gofer.
//
// Nodes are named by 64-bit ids the gofer hands out; id kRootNode is the served root. The
// sentry must Release() ids it no longer needs. All methods are thread-safe (one request in
// flight per call; calls from several threads are serialised).
//
// Errors common to all calls: EBADF for an id the gofer does not know (never handed out, or
// released); EIO if the gofer misbehaves (malformed or mismatched response, bogus errno,
// unexpected FDs, which are closed) or the connection is lost — after a transport failure or
// a sequence mismatch every later call fails with EIO.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sentry/abi/result.h"

namespace sbx::gofer {

using NodeId = uint64_t;
inline constexpr NodeId kRootNode = 1;

// lstat(2) of a node, host view (uids are host uids as seen in the gofer's user namespace).
struct Attr {
  uint64_t dev = 0, ino = 0, rdev = 0;
  uint32_t mode = 0, nlink = 0, uid = 0, gid = 0;
  uint64_t size = 0, blocks = 0;
  uint32_t blksize = 0;
  int64_t atime_sec = 0, mtime_sec = 0, ctime_sec = 0;
  uint32_t atime_nsec = 0, mtime_nsec = 0, ctime_nsec = 0;
};

struct WalkResult {
  NodeId id = 0;
  Attr attr;
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint8_t type = 0;  // DT_* value
};

class Client {
 public:
  // Takes ownership of `sock` (one end of the socketpair shared with the gofer).
  explicit Client(int sock);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Looks up one path component `name` (no '/', not "." or "..") under directory `dir`,
  // without following a final symlink. ENOENT, ENOTDIR, EACCES as the host reports.
  Result<WalkResult> Walk(NodeId dir, std::string_view name);
  Result<Attr> Stat(NodeId node);
  Result<std::string> Readlink(NodeId node);
  // Opens the node with open(2) flags (O_RDONLY/O_WRONLY/O_RDWR, O_DIRECTORY, O_TRUNC,
  // O_APPEND are honoured; O_CREAT is not — use Create). Returns a host FD owned by the caller.
  // Never follows a symlink: ELOOP for a symlink node. Only regular files and directories
  // open; EOPNOTSUPP for FIFOs, sockets and devices (the sentry implements those itself).
  // EINVAL for O_CREAT/O_EXCL/O_TMPFILE/O_PATH or unknown flags; EROFS for write intent
  // (O_WRONLY, O_RDWR, O_TRUNC) on a read-only gofer; ESTALE if the file's name now refers to
  // another file. The FD has FD_CLOEXEC set.
  Result<int> Open(NodeId node, uint32_t flags);
  // Reads all entries of a directory (excluding "." and ".."), in pages of at most
  // wire::kMaxMessageSize bytes (several round trips for a large directory).
  Result<std::vector<DirEntry>> ReadDir(NodeId dir);
  // Tells the gofer the id is no longer used. One-way (no reply, so it cannot desynchronise
  // request/response pairing); unknown ids are ignored. A released directory stays usable by
  // the gofer for children walked from it until they are released too.
  void Release(NodeId node);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sbx::gofer
