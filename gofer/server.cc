// The gofer's serve loop and node table (see server.h for the protocol and threat model).
//
// The server is single-threaded: one request is read, handled and answered at a time, so the
// node table needs no lock. Every host call that takes a name uses a node's O_PATH FD as the
// directory and a validated single component, always with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW:
// no path resolution ever crosses a symlink or "..", so nothing outside the root is reachable
// even without the mount-namespace confinement.
#include "gofer/server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gofer/gofer.pb.h"
#include "gofer/wire.h"

namespace sbx::gofer {
namespace {

using wire::UniqueFd;
using NodeId = uint64_t;
constexpr NodeId kRootId = 1;

// Flags Open accepts. O_CREAT, O_EXCL, O_TMPFILE, O_PATH and anything unknown are refused.
constexpr uint32_t kOpenAllowedFlags = O_ACCMODE | O_APPEND | O_TRUNC | O_DIRECTORY |
                                       O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_LARGEFILE |
                                       O_NOCTTY | O_NOATIME | O_SYNC | O_DSYNC | O_DIRECT;
// Flags fcntl(F_SETFL) can change (mirrors SETFL_MASK in fs/fcntl.c, minus O_ASYNC).
constexpr uint32_t kSetflFlags = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  uint16_t d_reclen;
  uint8_t d_type;
  char d_name[];
};

struct Node {
  UniqueFd fd;          // O_PATH|O_NOFOLLOW
  NodeId parent = 0;    // 0 for the root
  std::string name;     // component in parent; empty for the root
  uint32_t children = 0;  // live nodes whose parent is this one
  bool released = false;  // the client released it; freed once children == 0
};

void FillAttr(const struct stat& st, wire::Attr* a) {
  a->set_dev(st.st_dev);
  a->set_ino(st.st_ino);
  a->set_rdev(st.st_rdev);
  a->set_mode(st.st_mode);
  a->set_nlink(static_cast<uint32_t>(st.st_nlink));
  a->set_uid(st.st_uid);
  a->set_gid(st.st_gid);
  a->set_size(static_cast<uint64_t>(st.st_size));
  a->set_blocks(static_cast<uint64_t>(st.st_blocks));
  a->set_blksize(static_cast<uint32_t>(st.st_blksize));
  a->set_atime_sec(st.st_atim.tv_sec);
  a->set_atime_nsec(static_cast<uint32_t>(st.st_atim.tv_nsec));
  a->set_mtime_sec(st.st_mtim.tv_sec);
  a->set_mtime_nsec(static_cast<uint32_t>(st.st_mtim.tv_nsec));
  a->set_ctime_sec(st.st_ctim.tv_sec);
  a->set_ctime_nsec(static_cast<uint32_t>(st.st_ctim.tv_nsec));
}

int StatFd(int fd, struct stat* st) {
  if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) return errno;
  return 0;
}

class Server {
 public:
  Server(int sock, bool read_only, UniqueFd root) : sock_(sock), read_only_(read_only) {
    Node n;
    n.fd = std::move(root);
    nodes_.emplace(kRootId, std::move(n));
  }

  absl::Status Serve() {
    std::vector<char> buf(wire::kMaxMessageSize);
    std::string out;
    for (;;) {
      wire::Received rx;
      if (int e = wire::ReceiveMessage(sock_, buf, /*accept_fds=*/false, &rx); e != 0) {
        return absl::InternalError(absl::StrCat("gofer: recvmsg: ", strerror(e)));
      }
      if (rx.eof) return absl::OkStatus();

      wire::Request req;
      wire::Response resp;
      UniqueFd donated;
      bool reply = true;
      if (rx.truncated) {
        resp.set_error(EMSGSIZE);
      } else if (!req.ParseFromArray(buf.data(), static_cast<int>(rx.len))) {
        resp.set_error(EBADMSG);
      } else {
        resp.set_seq(req.seq());
        reply = Handle(req, &resp, &donated);
      }
      if (!reply) continue;
      out.clear();
      if (!resp.SerializeToString(&out) || out.size() > wire::kMaxMessageSize) {
        resp.Clear();
        resp.set_seq(req.seq());
        resp.set_error(EIO);
        donated.reset();
        out.clear();
        resp.SerializeToString(&out);
      }
      int e = wire::SendMessage(sock_, out.data(), out.size(), donated.get());
      if (e == EPIPE || e == ECONNRESET) return absl::OkStatus();
      if (e != 0) return absl::InternalError(absl::StrCat("gofer: sendmsg: ", strerror(e)));
    }
  }

 private:
  // Fills `resp` for `req`; returns false if no response must be sent (Release).
  bool Handle(const wire::Request& req, wire::Response* resp, UniqueFd* donated) {
    int e = 0;
    switch (req.op_case()) {
      case wire::Request::kWalk:
        e = Walk(req.walk(), resp->mutable_walk());
        break;
      case wire::Request::kStat:
        e = Stat(req.stat(), resp->mutable_stat());
        break;
      case wire::Request::kReadlink:
        e = Readlink(req.readlink(), resp->mutable_readlink());
        break;
      case wire::Request::kOpen:
        e = Open(req.open(), donated);
        if (e == 0) resp->mutable_open();
        break;
      case wire::Request::kReaddir:
        e = ReadDir(req.readdir(), resp->mutable_readdir());
        break;
      case wire::Request::kRelease:
        Release(req.release().node());
        return false;
      case wire::Request::OP_NOT_SET:
        e = EINVAL;
        break;
    }
    if (e != 0) {
      resp->clear_op();
      resp->set_error(e);
    }
    return true;
  }

  // A rootfs of "/" carries the host's /proc, /sys and other kernel filesystems as submounts.
  // They describe the host (its processes, devices, cgroups), so they are never served: the
  // sentry provides its own /proc, /sys and /dev. The mount point itself can be walked to (the
  // sentry mounts over it), but nothing in it is walked, listed or opened: EACCES, as for a
  // directory we may not search.
  static int RefuseKernelFilesystem(int fd) {
    struct statfs sfs;
    if (fstatfs(fd, &sfs) != 0) return errno;
    switch (static_cast<uint64_t>(sfs.f_type)) {
      case 0x9fa0:      // PROC_SUPER_MAGIC
      case 0x62656572:  // SYSFS_MAGIC
      case 0x1cd1:      // DEVPTS_SUPER_MAGIC
      case 0x64626720:  // DEBUGFS_MAGIC
      case 0x74726163:  // TRACEFS_MAGIC
      case 0x73636673:  // SECURITYFS_MAGIC
      case 0xf97cff8c:  // SELINUX_MAGIC
      case 0x27e0eb:    // CGROUP_SUPER_MAGIC
      case 0x63677270:  // CGROUP2_SUPER_MAGIC
      case 0xcafe4a11:  // BPF_FS_MAGIC
      case 0x6165676c:  // PSTOREFS_MAGIC
      case 0xde5e81e4:  // EFIVARFS_MAGIC
      case 0x62656570:  // CONFIGFS_MAGIC
      case 0x65735543:  // FUSE_CTL_SUPER_MAGIC
      case 0x42494e4d:  // BINFMTFS_MAGIC
      case 0x19800202:  // MQUEUE_MAGIC
      case 0x6e736673:  // NSFS_MAGIC
        return EACCES;
      default:
        return 0;
    }
  }

  // The live (not released) node `id`, or nullptr.
  Node* Find(NodeId id) {
    auto it = nodes_.find(id);
    if (it == nodes_.end() || it->second.released) return nullptr;
    return &it->second;
  }

  int Walk(const wire::WalkRequest& r, wire::WalkResponse* out) {
    Node* dir = Find(r.dir());
    if (dir == nullptr) return EBADF;
    if (int e = wire::CheckName(r.name()); e != 0) return e;
    if (int e = RefuseKernelFilesystem(dir->fd.get()); e != 0) return e;
    UniqueFd fd(openat(dir->fd.get(), r.name().c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return errno;
    struct stat st;
    if (int e = StatFd(fd.get(), &st); e != 0) return e;
    dir->children++;  // before emplace: emplace may move `*dir`
    NodeId id = next_id_++;
    Node n;
    n.fd = std::move(fd);
    n.parent = r.dir();
    n.name = r.name();
    nodes_.emplace(id, std::move(n));
    out->set_id(id);
    FillAttr(st, out->mutable_attr());
    return 0;
  }

  int Stat(const wire::StatRequest& r, wire::StatResponse* out) {
    Node* n = Find(r.node());
    if (n == nullptr) return EBADF;
    struct stat st;
    if (int e = StatFd(n->fd.get(), &st); e != 0) return e;
    FillAttr(st, out->mutable_attr());
    return 0;
  }

  int Readlink(const wire::ReadlinkRequest& r, wire::ReadlinkResponse* out) {
    Node* n = Find(r.node());
    if (n == nullptr) return EBADF;
    struct stat st;
    if (int e = StatFd(n->fd.get(), &st); e != 0) return e;
    if (!S_ISLNK(st.st_mode)) return EINVAL;  // readlink(2) on a non-symlink
    char target[wire::kMaxLinkTarget + 1];
    ssize_t len = readlinkat(n->fd.get(), "", target, sizeof(target));
    if (len < 0) return errno;
    if (static_cast<size_t>(len) > wire::kMaxLinkTarget) return ENAMETOOLONG;
    out->set_target(target, static_cast<size_t>(len));
    return 0;
  }

  int Open(const wire::OpenRequest& r, UniqueFd* donated) {
    Node* n = Find(r.node());
    if (n == nullptr) return EBADF;
    if (int e = RefuseKernelFilesystem(n->fd.get()); e != 0) return e;
    uint32_t flags = r.flags();
    if ((flags & ~kOpenAllowedFlags) != 0 || (flags & O_ACCMODE) == O_ACCMODE) return EINVAL;
    bool write_intent = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0;

    struct stat st;
    if (int e = StatFd(n->fd.get(), &st); e != 0) return e;
    // The order of these checks mirrors do_open()/may_open(): ELOOP, EISDIR, ENOTDIR, EROFS.
    if (S_ISLNK(st.st_mode)) return ELOOP;
    if (S_ISDIR(st.st_mode)) {
      if (write_intent) return EISDIR;
      // "." relative to the node itself: the same inode, no name lookup that could race.
      UniqueFd fd(openat(n->fd.get(), ".", flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
      if (!fd.valid()) return errno;
      *donated = std::move(fd);
      return 0;
    }
    if (!S_ISREG(st.st_mode)) return EOPNOTSUPP;  // fifos, sockets, devices: sentry-side
    if (flags & O_DIRECTORY) return ENOTDIR;
    if (read_only_ && write_intent) return EROFS;
    Node* parent = Find(n->parent);
    if (parent == nullptr) {
      auto it = nodes_.find(n->parent);  // released but kept alive by this child
      if (it == nodes_.end()) return EBADF;
      parent = &it->second;
    }
    // O_NONBLOCK so that a name swapped for a fifo since the Walk cannot block the gofer.
    UniqueFd fd(openat(parent->fd.get(), n->name.c_str(),
                       flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) return errno;
    struct stat now;
    if (fstat(fd.get(), &now) < 0) return errno;
    if (!S_ISREG(now.st_mode) || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
      return ESTALE;  // the name now refers to another file
    }
    if (!(flags & O_NONBLOCK) && fcntl(fd.get(), F_SETFL, flags & kSetflFlags) < 0) {
      return errno;
    }
    *donated = std::move(fd);
    return 0;
  }

  int ReadDir(const wire::ReadDirRequest& r, wire::ReadDirResponse* out) {
    Node* n = Find(r.dir());
    if (n == nullptr) return EBADF;
    if (int e = RefuseKernelFilesystem(n->fd.get()); e != 0) return e;
    UniqueFd fd(openat(n->fd.get(), ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return errno;
    if (r.cookie() != 0 &&
        lseek(fd.get(), static_cast<off_t>(r.cookie()), SEEK_SET) < 0) {
      return errno;
    }
    alignas(LinuxDirent64) char buf[32 * 1024];
    size_t used = 0;
    uint64_t cookie = r.cookie();
    for (;;) {
      long len = syscall(SYS_getdents64, fd.get(), buf, sizeof(buf));
      if (len < 0) return errno;
      if (len == 0) {
        out->set_eof(true);
        break;
      }
      for (long off = 0; off < len;) {
        auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
        std::string_view name(d->d_name);
        // Entry encoding: name + ino + type + tags and lengths; 24 bytes over-approximates.
        size_t cost = name.size() + 24;
        if (used + cost > wire::kReadDirPageBudget && out->entries_size() > 0) {
          out->set_next_cookie(cookie);
          return 0;
        }
        off += d->d_reclen;
        cookie = static_cast<uint64_t>(d->d_off);
        if (name == "." || name == "..") continue;
        used += cost;
        wire::DirEntry* e = out->add_entries();
        e->set_name(name.data(), name.size());
        e->set_ino(d->d_ino);
        e->set_type(d->d_type);
      }
    }
    out->set_next_cookie(cookie);
    return 0;
  }

  // Drops the client's reference to `id`; frees it (and released ancestors) once no child
  // keeps it alive. Unknown ids and the root are ignored: Release has no response.
  void Release(NodeId id) {
    if (id == kRootId) return;
    Node* n = Find(id);
    if (n == nullptr) return;
    n->released = true;
    while (id != kRootId) {
      auto it = nodes_.find(id);
      if (it == nodes_.end() || !it->second.released || it->second.children > 0) return;
      NodeId parent = it->second.parent;
      nodes_.erase(it);
      auto pit = nodes_.find(parent);
      if (pit == nodes_.end()) return;
      pit->second.children--;
      id = parent;
    }
  }

  const int sock_;
  const bool read_only_;
  absl::flat_hash_map<NodeId, Node> nodes_;
  NodeId next_id_ = kRootId + 1;
};

}  // namespace

absl::Status RunGofer(int sock, const ServerOptions& options) {
  std::string root = options.root;
  if (options.confine) {
    if (absl::Status s = ConfineGofer(options); !s.ok()) return s;
    root = "/";
  }
  UniqueFd fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return absl::FailedPreconditionError(
        absl::StrCat("gofer: cannot open root \"", root, "\": ", strerror(errno)));
  }
  Server server(sock, options.read_only, std::move(fd));
  return server.Serve();
}

}  // namespace sbx::gofer
