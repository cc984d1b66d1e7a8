// The sentry's gofer client (see client.h; wire protocol in gofer.proto, framing in wire.h).
//
// The gofer is not fully trusted either: every response is checked — its sequence number
// matches the request, its errno is a real Linux errno, its payload has the expected type,
// names and link targets obey the kernel's rules, and it carries exactly the FDs the
// operation donates (one for Open, none otherwise; extra FDs are closed). A transport failure
// or a sequence mismatch marks the connection broken: every later call fails with EIO.
//
// Lock order: Impl::mu is a leaf lock, held for one request/response exchange.
#include "gofer/client.h"

#include <errno.h>
#include <sys/stat.h>

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gofer/gofer.pb.h"
#include "gofer/wire.h"

namespace sbx::gofer {
namespace {

using wire::UniqueFd;

constexpr int kMaxLinuxErrno = 133;  // EHWPOISON
// Bounds on a ReadDir reply stream, so a misbehaving gofer cannot make us loop or grow
// without limit.
constexpr size_t kMaxDirEntries = size_t{1} << 22;
constexpr uint8_t kMaxDirentType = 14;  // DT_WHT

Attr ToAttr(const wire::Attr& a) {
  Attr out;
  out.dev = a.dev();
  out.ino = a.ino();
  out.rdev = a.rdev();
  out.mode = a.mode();
  out.nlink = a.nlink();
  out.uid = a.uid();
  out.gid = a.gid();
  out.size = a.size();
  out.blocks = a.blocks();
  out.blksize = a.blksize();
  out.atime_sec = a.atime_sec();
  out.atime_nsec = a.atime_nsec();
  out.mtime_sec = a.mtime_sec();
  out.mtime_nsec = a.mtime_nsec();
  out.ctime_sec = a.ctime_sec();
  out.ctime_nsec = a.ctime_nsec();
  return out;
}

// Nanoseconds must be < 1e9 and the mode's type one the kernel knows.
bool ValidAttr(const wire::Attr& a) {
  constexpr uint32_t kNsec = 1000000000;
  if (a.atime_nsec() >= kNsec || a.mtime_nsec() >= kNsec || a.ctime_nsec() >= kNsec) {
    return false;
  }
  switch (a.mode() & S_IFMT) {
    case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFIFO: case S_IFSOCK: case S_IFCHR:
    case S_IFBLK:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct Client::Impl {
  explicit Impl(int fd) : sock(fd), buf(wire::kMaxMessageSize) {}

  // Sends `req` and returns the matching response, which has op `want` (or an errno).
  // If `fd_out` is set, the response must carry exactly one FD, stored there.
  Result<wire::Response> Call(wire::Request& req, wire::Response::OpCase want,
                              UniqueFd* fd_out) ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    if (broken) return Errno::kEIO;
    uint64_t seq = next_seq++;
    req.set_seq(seq);
    std::string out;
    if (!req.SerializeToString(&out) || out.size() > wire::kMaxMessageSize) {
      return Errno::kEINVAL;
    }
    if (wire::SendMessage(sock.get(), out.data(), out.size()) != 0) {
      broken = true;
      return Errno::kEIO;
    }
    wire::Received rx;
    if (wire::ReceiveMessage(sock.get(), buf, /*accept_fds=*/true, &rx) != 0 || rx.eof) {
      broken = true;
      return Errno::kEIO;
    }
    // From here on every FD in rx.fds is closed on return unless moved to *fd_out.
    if (rx.truncated || rx.fds_dropped) return Errno::kEIO;
    wire::Response resp;
    if (!resp.ParseFromArray(buf.data(), static_cast<int>(rx.len))) return Errno::kEIO;
    if (resp.seq() != seq) {
      broken = true;
      return Errno::kEIO;
    }
    if (resp.error() != 0) {
      if (resp.error() < 0 || resp.error() > kMaxLinuxErrno || !rx.fds.empty()) {
        return Errno::kEIO;
      }
      return static_cast<Errno>(resp.error());
    }
    if (resp.op_case() != want) return Errno::kEIO;
    if (fd_out != nullptr) {
      if (rx.fds.size() != 1) return Errno::kEIO;
      *fd_out = std::move(rx.fds[0]);
    } else if (!rx.fds.empty()) {
      return Errno::kEIO;
    }
    return resp;
  }

  void SendOneWay(wire::Request& req) ABSL_LOCKS_EXCLUDED(mu) {
    absl::MutexLock lock(&mu);
    if (broken) return;
    req.set_seq(next_seq++);
    std::string out;
    if (!req.SerializeToString(&out) ||
        wire::SendMessage(sock.get(), out.data(), out.size()) != 0) {
      broken = true;
    }
  }

  absl::Mutex mu;
  const UniqueFd sock;
  uint64_t next_seq ABSL_GUARDED_BY(mu) = 1;  // 0 never used: a Request is never empty
  std::vector<char> buf ABSL_GUARDED_BY(mu);  // receive buffer, kMaxMessageSize bytes
  bool broken ABSL_GUARDED_BY(mu) = false;
};

Client::Client(int sock) : impl_(std::make_unique<Impl>(sock)) {}
Client::~Client() = default;

Result<WalkResult> Client::Walk(NodeId dir, std::string_view name) {
  if (int e = wire::CheckName(name); e != 0) return static_cast<Errno>(e);
  wire::Request req;
  req.mutable_walk()->set_dir(dir);
  req.mutable_walk()->set_name(name.data(), name.size());
  wire::Response resp = TRY(impl_->Call(req, wire::Response::kWalk, nullptr));
  const wire::WalkResponse& w = resp.walk();
  if (w.id() == 0 || w.id() == kRootNode || !ValidAttr(w.attr())) return Errno::kEIO;
  return WalkResult{w.id(), ToAttr(w.attr())};
}

Result<Attr> Client::Stat(NodeId node) {
  wire::Request req;
  req.mutable_stat()->set_node(node);
  wire::Response resp = TRY(impl_->Call(req, wire::Response::kStat, nullptr));
  if (!ValidAttr(resp.stat().attr())) return Errno::kEIO;
  return ToAttr(resp.stat().attr());
}

Result<std::string> Client::Readlink(NodeId node) {
  wire::Request req;
  req.mutable_readlink()->set_node(node);
  wire::Response resp = TRY(impl_->Call(req, wire::Response::kReadlink, nullptr));
  const std::string& target = resp.readlink().target();
  if (target.empty() || target.size() > wire::kMaxLinkTarget ||
      target.find('\0') != std::string::npos) {
    return Errno::kEIO;
  }
  return std::string(target);
}

Result<int> Client::Open(NodeId node, uint32_t flags) {
  wire::Request req;
  req.mutable_open()->set_node(node);
  req.mutable_open()->set_flags(flags);
  UniqueFd fd;
  TRY(impl_->Call(req, wire::Response::kOpen, &fd));
  // The gofer only ever donates regular files and directories.
  struct stat st;
  if (fstat(fd.get(), &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
    return Errno::kEIO;
  }
  return fd.release();
}

Result<std::vector<DirEntry>> Client::ReadDir(NodeId dir) {
  std::vector<DirEntry> entries;
  uint64_t cookie = 0;
  for (;;) {
    wire::Request req;
    req.mutable_readdir()->set_dir(dir);
    req.mutable_readdir()->set_cookie(cookie);
    wire::Response resp = TRY(impl_->Call(req, wire::Response::kReaddir, nullptr));
    const wire::ReadDirResponse& page = resp.readdir();
    if (entries.size() + static_cast<size_t>(page.entries_size()) > kMaxDirEntries) {
      return Errno::kEIO;
    }
    for (const wire::DirEntry& e : page.entries()) {
      if (wire::CheckName(e.name()) != 0 || e.type() > kMaxDirentType) return Errno::kEIO;
      entries.push_back(DirEntry{e.name(), e.ino(), static_cast<uint8_t>(e.type())});
    }
    if (page.eof()) return entries;
    // A page that is not the last must make progress.
    if (page.entries_size() == 0 || page.next_cookie() == cookie) return Errno::kEIO;
    cookie = page.next_cookie();
  }
}

void Client::Release(NodeId node) {
  wire::Request req;
  req.mutable_release()->set_node(node);
  impl_->SendOneWay(req);
}

}  // namespace sbx::gofer
