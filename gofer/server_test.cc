// Tests of the gofer server and client, with the server unconfined in a thread over a
// socketpair: attributes, symlink handling, name/flag/id validation, directory listing
// (including pagination), write refusal, malformed input to the server, and the client's
// checks of a misbehaving gofer.
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "gofer/client.h"
#include "gofer/gofer.pb.h"
#include "gofer/server.h"
#include "gofer/test_util.h"
#include "gofer/wire.h"
#include "gtest/gtest.h"

namespace sbx::gofer {
namespace {

using testing::kHelloContents;
using wire::UniqueFd;

// A gofer server running in a thread on a temp tree, with a raw socket or a Client.
class GoferTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = testing::MakeTree(); }
  void TearDown() override {
    Stop();
    testing::RemoveTree(root_);
  }

  // Starts the server; returns the client end of the socket.
  int StartServer(bool read_only = true) {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    server_sock_ = UniqueFd(sv[1]);
    ServerOptions opts;
    opts.root = root_;
    opts.confine = false;
    opts.read_only = read_only;
    thread_ = std::thread([this, opts] { status_ = RunGofer(server_sock_.get(), opts); });
    return sv[0];
  }
  Client& StartClient(bool read_only = true) {
    client_ = std::make_unique<Client>(StartServer(read_only));
    return *client_;
  }
  // Closes the client side and checks that the server shut down cleanly.
  void Stop() {
    client_.reset();
    raw_.reset();
    if (thread_.joinable()) {
      thread_.join();
      EXPECT_TRUE(status_.ok()) << status_;
    }
    server_sock_.reset();
  }

  std::string Path(const std::string& rel) { return root_ + "/" + rel; }

  std::string root_;
  UniqueFd server_sock_;
  std::thread thread_;
  absl::Status status_;
  std::unique_ptr<Client> client_;
  UniqueFd raw_;
};

void ExpectAttrMatches(const Attr& a, const std::string& path) {
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(a.dev, st.st_dev) << path;
  EXPECT_EQ(a.ino, st.st_ino) << path;
  EXPECT_EQ(a.mode, st.st_mode) << path;
  EXPECT_EQ(a.nlink, st.st_nlink) << path;
  EXPECT_EQ(a.uid, st.st_uid) << path;
  EXPECT_EQ(a.gid, st.st_gid) << path;
  EXPECT_EQ(a.rdev, st.st_rdev) << path;
  EXPECT_EQ(a.size, static_cast<uint64_t>(st.st_size)) << path;
  EXPECT_EQ(a.blocks, static_cast<uint64_t>(st.st_blocks)) << path;
  EXPECT_EQ(a.blksize, static_cast<uint32_t>(st.st_blksize)) << path;
  EXPECT_EQ(a.mtime_sec, st.st_mtim.tv_sec) << path;
  EXPECT_EQ(a.mtime_nsec, st.st_mtim.tv_nsec) << path;
  EXPECT_EQ(a.ctime_sec, st.st_ctim.tv_sec) << path;
  EXPECT_EQ(a.ctime_nsec, st.st_ctim.tv_nsec) << path;
}

NodeId MustWalk(Client& c, NodeId dir, const std::string& name) {
  auto r = c.Walk(dir, name);
  EXPECT_TRUE(r.ok()) << name << ": " << (r.ok() ? "" : ErrnoName(r.error()));
  return r.ok() ? r->id : 0;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  return out;
}

TEST_F(GoferTest, WalkAndStatMatchLstat) {
  Client& c = StartClient();
  auto root = c.Stat(kRootNode);
  ASSERT_TRUE(root.ok());
  ExpectAttrMatches(*root, root_);
  for (const char* name : {"hello.txt", "sub", "empty", "passwd_link", "escape", "rel", "fifo"}) {
    auto w = c.Walk(kRootNode, name);
    ASSERT_TRUE(w.ok()) << name;
    ExpectAttrMatches(w->attr, Path(name));
    auto s = c.Stat(w->id);
    ASSERT_TRUE(s.ok()) << name;
    ExpectAttrMatches(*s, Path(name));
  }
  NodeId sub = MustWalk(c, kRootNode, "sub");
  auto inner = c.Walk(sub, "inner.txt");
  ASSERT_TRUE(inner.ok());
  ExpectAttrMatches(inner->attr, Path("sub/inner.txt"));
  auto deeper = c.Walk(sub, "deeper");
  ASSERT_TRUE(deeper.ok());
  ExpectAttrMatches(deeper->attr, Path("sub/deeper"));
  // Distinct walks get distinct ids.
  EXPECT_NE(MustWalk(c, kRootNode, "sub"), sub);
}

TEST_F(GoferTest, WalkErrorsMirrorHost) {
  Client& c = StartClient();
  auto missing = c.Walk(kRootNode, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), Errno::kENOENT);
  NodeId file = MustWalk(c, kRootNode, "hello.txt");
  auto under_file = c.Walk(file, "x");
  ASSERT_FALSE(under_file.ok());
  EXPECT_EQ(under_file.error(), Errno::kENOTDIR);
}

TEST_F(GoferTest, WalkingSymlinkReturnsTheLinkItself) {
  Client& c = StartClient();
  auto w = c.Walk(kRootNode, "passwd_link");
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(S_ISLNK(w->attr.mode));
  EXPECT_EQ(w->attr.size, strlen("/etc/passwd"));
  struct stat target;
  ASSERT_EQ(stat("/etc/passwd", &target), 0);
  EXPECT_NE(w->attr.ino, target.st_ino);
  // A symlink node is not a directory: nothing can be walked through it.
  auto esc = c.Walk(kRootNode, "escape");
  ASSERT_TRUE(esc.ok());
  EXPECT_TRUE(S_ISLNK(esc->attr.mode));
  for (const char* name : {"etc", "tmp", "hello.txt"}) {
    auto through = c.Walk(esc->id, name);
    ASSERT_FALSE(through.ok()) << name;
    EXPECT_EQ(through.error(), Errno::kENOTDIR) << name;
  }
  auto dir = c.ReadDir(esc->id);
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error(), Errno::kENOTDIR);
}

TEST_F(GoferTest, Readlink) {
  Client& c = StartClient();
  auto p = c.Readlink(MustWalk(c, kRootNode, "passwd_link"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, "/etc/passwd");
  auto e = c.Readlink(MustWalk(c, kRootNode, "escape"));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, "../../..");
  // readlink(2) of a non-symlink is EINVAL.
  auto f = c.Readlink(MustWalk(c, kRootNode, "hello.txt"));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error(), Errno::kEINVAL);
  auto r = c.Readlink(kRootNode);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kEINVAL);
}

TEST_F(GoferTest, OpenRegularFileDonatesFd) {
  Client& c = StartClient();
  NodeId id = MustWalk(c, kRootNode, "hello.txt");
  auto fd = c.Open(id, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  UniqueFd owned(*fd);
  EXPECT_EQ(ReadAll(owned.get()), kHelloContents);
  struct stat st, want;
  ASSERT_EQ(fstat(owned.get(), &st), 0);
  ASSERT_EQ(stat(Path("hello.txt").c_str(), &want), 0);
  EXPECT_EQ(st.st_ino, want.st_ino);
  int fl = fcntl(owned.get(), F_GETFL);
  EXPECT_EQ(fl & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(fl & O_NONBLOCK, 0) << "internal O_NONBLOCK must be cleared";
  EXPECT_NE(fcntl(owned.get(), F_GETFD) & FD_CLOEXEC, 0);
  // O_NONBLOCK and O_APPEND requested are kept.
  auto fd2 = c.Open(id, O_RDONLY | O_NONBLOCK | O_APPEND);
  ASSERT_TRUE(fd2.ok());
  UniqueFd owned2(*fd2);
  fl = fcntl(owned2.get(), F_GETFL);
  EXPECT_NE(fl & O_NONBLOCK, 0);
  EXPECT_NE(fl & O_APPEND, 0);
  // Directories: the fd lists the directory.
  auto dfd = c.Open(MustWalk(c, kRootNode, "sub"), O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dfd.ok());
  UniqueFd d(*dfd);
  struct stat dst;
  ASSERT_EQ(fstatat(d.get(), "inner.txt", &dst, 0), 0);
  // O_DIRECTORY on a file.
  auto nd = c.Open(id, O_RDONLY | O_DIRECTORY);
  ASSERT_FALSE(nd.ok());
  EXPECT_EQ(nd.error(), Errno::kENOTDIR);
}

TEST_F(GoferTest, OpenSymlinkIsEloopAndNeverReachesTarget) {
  Client& c = StartClient();
  for (const char* name : {"passwd_link", "escape", "rel"}) {
    NodeId id = MustWalk(c, kRootNode, name);
    for (uint32_t flags : {O_RDONLY, O_RDONLY | O_DIRECTORY, O_RDONLY | O_NOFOLLOW}) {
      auto fd = c.Open(id, flags);
      ASSERT_FALSE(fd.ok()) << name;
      EXPECT_EQ(fd.error(), Errno::kELOOP) << name;
    }
  }
}

TEST_F(GoferTest, OpenOfSpecialFilesRefusedWithoutBlocking) {
  Client& c = StartClient();
  // Opening a FIFO for reading would block forever on the host; the gofer refuses it.
  auto fd = c.Open(MustWalk(c, kRootNode, "fifo"), O_RDONLY);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error(), Errno::kEOPNOTSUPP);
}

TEST_F(GoferTest, OpenRefusesBadFlags) {
  Client& c = StartClient();
  NodeId id = MustWalk(c, kRootNode, "hello.txt");
  for (uint32_t flags : {uint32_t{O_RDONLY | O_CREAT}, uint32_t{O_RDONLY | O_CREAT | O_EXCL},
                         uint32_t{O_TMPFILE | O_RDWR}, uint32_t{O_PATH}, uint32_t{O_ACCMODE},
                         uint32_t{0x80000000u}}) {
    auto fd = c.Open(id, flags);
    ASSERT_FALSE(fd.ok()) << std::hex << flags;
    EXPECT_EQ(fd.error(), Errno::kEINVAL) << std::hex << flags;
  }
}

TEST_F(GoferTest, WriteIntentOpenIsErofs) {
  Client& c = StartClient();
  NodeId id = MustWalk(c, kRootNode, "hello.txt");
  for (uint32_t flags : {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_APPEND}) {
    auto fd = c.Open(id, flags);
    ASSERT_FALSE(fd.ok()) << flags;
    EXPECT_EQ(fd.error(), Errno::kEROFS) << flags;
  }
  struct stat st;
  ASSERT_EQ(stat(Path("hello.txt").c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), strlen(kHelloContents));
  // A directory opened for writing is EISDIR, as open(2) says.
  auto d = c.Open(kRootNode, O_WRONLY);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error(), Errno::kEISDIR);
}

TEST_F(GoferTest, ReadWriteModeAllowsWritableOpen) {
  Client& c = StartClient(/*read_only=*/false);
  NodeId id = MustWalk(c, kRootNode, "hello.txt");
  auto fd = c.Open(id, O_RDWR | O_TRUNC);
  ASSERT_TRUE(fd.ok());
  UniqueFd owned(*fd);
  ASSERT_EQ(write(owned.get(), "new", 3), 3);
  std::string contents;
  {
    UniqueFd check(open(Path("hello.txt").c_str(), O_RDONLY));
    contents = ReadAll(check.get());
  }
  EXPECT_EQ(contents, "new");
  auto creat = c.Open(id, O_RDWR | O_CREAT);
  ASSERT_FALSE(creat.ok());
  EXPECT_EQ(creat.error(), Errno::kEINVAL);
}

TEST_F(GoferTest, OpenDetectsReplacedFile) {
  Client& c = StartClient(/*read_only=*/false);
  NodeId id = MustWalk(c, kRootNode, "hello.txt");
  ASSERT_EQ(rename(Path("sub/inner.txt").c_str(), Path("hello.txt").c_str()), 0);
  auto fd = c.Open(id, O_RDONLY);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error(), Errno::kESTALE);
}

TEST_F(GoferTest, InvalidNamesRejectedByClient) {
  Client& c = StartClient();
  std::string long_name(300, 'a');
  std::string with_nul("a\0b", 3);
  for (const std::string& name : {std::string(""), std::string("."), std::string(".."),
                                  std::string("a/b"), std::string("/"), with_nul}) {
    auto w = c.Walk(kRootNode, name);
    ASSERT_FALSE(w.ok()) << name;
    EXPECT_EQ(w.error(), Errno::kEINVAL) << name;
  }
  auto l = c.Walk(kRootNode, long_name);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error(), Errno::kENAMETOOLONG);
}

// Unknown and released ids are EBADF for every operation.
TEST_F(GoferTest, UnknownIdIsEbadf) {
  Client& c = StartClient();
  NodeId released = MustWalk(c, kRootNode, "hello.txt");
  c.Release(released);
  for (NodeId id : {NodeId{0}, NodeId{999}, ~NodeId{0}, released}) {
    EXPECT_EQ(c.Stat(id).error(), Errno::kEBADF) << id;
    EXPECT_EQ(c.Walk(id, "x").error(), Errno::kEBADF) << id;
    EXPECT_EQ(c.Readlink(id).error(), Errno::kEBADF) << id;
    EXPECT_EQ(c.Open(id, O_RDONLY).error(), Errno::kEBADF) << id;
    EXPECT_EQ(c.ReadDir(id).error(), Errno::kEBADF) << id;
  }
  // Releasing unknown ids or the root is ignored; the root keeps working.
  c.Release(999);
  c.Release(kRootNode);
  EXPECT_TRUE(c.Stat(kRootNode).ok());
}

TEST_F(GoferTest, ReleasedParentStaysUsableByChild) {
  Client& c = StartClient();
  NodeId sub = MustWalk(c, kRootNode, "sub");
  NodeId inner = MustWalk(c, sub, "inner.txt");
  c.Release(sub);
  EXPECT_EQ(c.Stat(sub).error(), Errno::kEBADF);
  auto fd = c.Open(inner, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  UniqueFd owned(*fd);
  EXPECT_EQ(ReadAll(owned.get()), "inner");
  c.Release(inner);
  EXPECT_EQ(c.Stat(inner).error(), Errno::kEBADF);
}

using EntrySet = std::set<std::tuple<std::string, uint64_t, uint8_t>>;

EntrySet HostEntries(const std::string& dir) {
  EntrySet out;
  DIR* d = opendir(dir.c_str());
  EXPECT_NE(d, nullptr);
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    out.emplace(name, e->d_ino, e->d_type);
  }
  closedir(d);
  return out;
}

EntrySet ToSet(const std::vector<DirEntry>& v) {
  EntrySet out;
  for (const DirEntry& e : v) out.emplace(e.name, e.ino, e.type);
  EXPECT_EQ(out.size(), v.size()) << "duplicate entries";
  return out;
}

TEST_F(GoferTest, ReadDirListsExactlyTheEntries) {
  Client& c = StartClient();
  auto root = c.ReadDir(kRootNode);
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->size(), 7u);
  EXPECT_EQ(ToSet(*root), HostEntries(root_));
  auto sub = c.ReadDir(MustWalk(c, kRootNode, "sub"));
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(ToSet(*sub), HostEntries(Path("sub")));
  auto empty = c.ReadDir(MustWalk(c, kRootNode, "empty"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto file = c.ReadDir(MustWalk(c, kRootNode, "hello.txt"));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error(), Errno::kENOTDIR);
}

TEST_F(GoferTest, ReadDirPaginatesLargeDirectories) {
  std::string big = Path("big");
  ASSERT_EQ(mkdir(big.c_str(), 0755), 0);
  // 3000 * ~230-byte names: ~700 KB of names, far above one message.
  for (int i = 0; i < 3000; ++i) {
    std::string name = std::string(220, 'n') + std::to_string(i);
    UniqueFd fd(open((big + "/" + name).c_str(), O_CREAT | O_WRONLY, 0644));
    ASSERT_TRUE(fd.valid());
  }
  Client& c = StartClient();
  auto list = c.ReadDir(MustWalk(c, kRootNode, "big"));
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 3000u);
  EXPECT_EQ(ToSet(*list), HostEntries(big));
}

// ---- Raw protocol: what a compromised sentry could send. ----

// Sends `req` (serialized) and returns the response; fails the test on a transport error.
wire::Response RawCall(int sock, const std::string& bytes, std::vector<UniqueFd>* fds = nullptr) {
  EXPECT_EQ(wire::SendMessage(sock, bytes.data(), bytes.size()), 0);
  std::vector<char> buf(wire::kMaxMessageSize);
  wire::Received rx;
  EXPECT_EQ(wire::ReceiveMessage(sock, buf, true, &rx), 0);
  EXPECT_FALSE(rx.eof);
  wire::Response resp;
  EXPECT_TRUE(resp.ParseFromArray(buf.data(), static_cast<int>(rx.len)));
  if (fds) *fds = std::move(rx.fds);
  return resp;
}

wire::Response RawCall(int sock, wire::Request req) {
  return RawCall(sock, req.SerializeAsString());
}

TEST_F(GoferTest, ServerValidatesNames) {
  raw_ = UniqueFd(StartServer());
  std::string with_nul("a\0b", 3);
  struct Case {
    std::string name;
    int err;
  } cases[] = {{"", EINVAL},  {".", EINVAL},  {"..", EINVAL}, {"a/b", EINVAL},
               {"/", EINVAL}, {"../..", EINVAL}, {with_nul, EINVAL},
               {std::string(256, 'x'), ENAMETOOLONG}, {std::string(300, 'x'), ENAMETOOLONG}};
  uint64_t seq = 10;
  for (const Case& tc : cases) {
    wire::Request req;
    req.set_seq(++seq);
    req.mutable_walk()->set_dir(kRootNode);
    req.mutable_walk()->set_name(tc.name);
    wire::Response resp = RawCall(raw_.get(), req);
    EXPECT_EQ(resp.seq(), seq);
    EXPECT_EQ(resp.error(), tc.err) << tc.name;
    EXPECT_EQ(resp.op_case(), wire::Response::OP_NOT_SET);
  }
  // 255 bytes is the longest valid name: ENOENT from the host, not a validation error.
  wire::Request req;
  req.set_seq(1);
  req.mutable_walk()->set_dir(kRootNode);
  req.mutable_walk()->set_name(std::string(255, 'x'));
  EXPECT_EQ(RawCall(raw_.get(), req).error(), ENOENT);
}

TEST_F(GoferTest, ServerAnswersGarbageWithErrors) {
  raw_ = UniqueFd(StartServer());
  // Not a protobuf.
  wire::Response r = RawCall(raw_.get(), std::string("\xff\xff\xff\xff garbage", 13));
  EXPECT_EQ(r.error(), EBADMSG);
  // A request with no operation.
  wire::Request empty;
  empty.set_seq(5);
  r = RawCall(raw_.get(), empty);
  EXPECT_EQ(r.seq(), 5u);
  EXPECT_EQ(r.error(), EINVAL);
  // Larger than the limit: truncated by the kernel, answered EMSGSIZE.
  {
    std::string huge(wire::kMaxMessageSize + 1000, 'z');
    ASSERT_EQ(send(raw_.get(), huge.data(), huge.size(), 0), static_cast<ssize_t>(huge.size()));
    std::vector<char> buf(wire::kMaxMessageSize);
    wire::Received rx;
    ASSERT_EQ(wire::ReceiveMessage(raw_.get(), buf, true, &rx), 0);
    ASSERT_TRUE(r.ParseFromArray(buf.data(), static_cast<int>(rx.len)));
    EXPECT_EQ(r.error(), EMSGSIZE);
  }
  // FDs sent to the server are dropped; the request is still answered.
  {
    wire::Request stat;
    stat.set_seq(6);
    stat.mutable_stat()->set_node(kRootNode);
    std::string bytes = stat.SerializeAsString();
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    ASSERT_EQ(wire::SendMessage(raw_.get(), bytes.data(), bytes.size(), p[1]), 0);
    close(p[1]);
    std::vector<char> buf(wire::kMaxMessageSize);
    wire::Received rx;
    ASSERT_EQ(wire::ReceiveMessage(raw_.get(), buf, true, &rx), 0);
    wire::Response resp;
    ASSERT_TRUE(resp.ParseFromArray(buf.data(), static_cast<int>(rx.len)));
    EXPECT_EQ(resp.seq(), 6u);
    EXPECT_EQ(resp.error(), 0);
    // The server kept no copy of the pipe's write end: the read end sees EOF.
    char ch;
    EXPECT_EQ(read(p[0], &ch, 1), 0);
    close(p[0]);
  }
  // Random bytes and mutated valid requests: each gets at most one response and the server
  // keeps serving (a follow-up Stat with a fresh seq is answered).
  timeval tv{5, 0};
  ASSERT_EQ(setsockopt(raw_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
  std::mt19937 rng(1234);
  wire::Request valid;
  valid.mutable_walk()->set_dir(kRootNode);
  valid.mutable_walk()->set_name("hello.txt");
  std::string valid_bytes = valid.SerializeAsString();
  std::vector<char> buf(wire::kMaxMessageSize);
  for (int i = 0; i < 2000; ++i) {
    std::string msg;
    if (i % 2 == 0) {
      msg.resize(1 + rng() % 64);
      for (char& ch : msg) ch = static_cast<char>(rng());
    } else {
      msg = valid_bytes;
      for (int k = 0; k < 3; ++k) msg[rng() % msg.size()] = static_cast<char>(rng());
    }
    ASSERT_EQ(wire::SendMessage(raw_.get(), msg.data(), msg.size()), 0);
    wire::Request probe;
    uint64_t seq = 1000000 + i;
    probe.set_seq(seq);
    probe.mutable_stat()->set_node(kRootNode);
    std::string pb = probe.SerializeAsString();
    ASSERT_EQ(wire::SendMessage(raw_.get(), pb.data(), pb.size()), 0);
    bool got_probe = false;
    for (int k = 0; k < 2 && !got_probe; ++k) {
      wire::Received rx;
      ASSERT_EQ(wire::ReceiveMessage(raw_.get(), buf, true, &rx), 0) << "iteration " << i;
      ASSERT_FALSE(rx.eof);
      wire::Response resp;
      ASSERT_TRUE(resp.ParseFromArray(buf.data(), static_cast<int>(rx.len)));
      if (resp.seq() == seq) {
        EXPECT_EQ(resp.error(), 0);
        EXPECT_TRUE(resp.has_stat());
        got_probe = true;
      }
    }
    ASSERT_TRUE(got_probe) << "iteration " << i;
  }
}

TEST_F(GoferTest, WalkLatency) {
  Client& c = StartClient();
  constexpr int kIters = 2000;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kIters; ++i) {
    auto w = c.Walk(kRootNode, "hello.txt");
    ASSERT_TRUE(w.ok());
    c.Release(w->id);
  }
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::steady_clock::now() - start).count();
  printf("gofer Walk+Release round trip: %.2f us\n", ns / 1000.0 / kIters);
}

// ---- A misbehaving gofer: the client must validate what it receives. ----

class FakeGoferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    client_ = std::make_unique<Client>(sv[0]);
    gofer_ = UniqueFd(sv[1]);
  }
  void TearDown() override {
    if (thread_.joinable()) thread_.join();
  }
  // Runs `reply` in a thread for the next request: it gets the request and answers.
  void OnNextRequest(std::function<void(const wire::Request&, int sock)> reply) {
    if (thread_.joinable()) thread_.join();
    thread_ = std::thread([this, reply] {
      std::vector<char> buf(wire::kMaxMessageSize);
      wire::Received rx;
      ASSERT_EQ(wire::ReceiveMessage(gofer_.get(), buf, false, &rx), 0);
      wire::Request req;
      ASSERT_TRUE(req.ParseFromArray(buf.data(), static_cast<int>(rx.len)));
      reply(req, gofer_.get());
    });
  }
  static void Send(int sock, const wire::Response& resp, int fd = -1) {
    std::string b = resp.SerializeAsString();
    ASSERT_EQ(wire::SendMessage(sock, b.data(), b.size(), fd), 0);
  }

  std::unique_ptr<Client> client_;
  UniqueFd gofer_;
  std::thread thread_;
};

TEST_F(FakeGoferTest, BogusErrnoIsEio) {
  OnNextRequest([](const wire::Request& req, int sock) {
    wire::Response r;
    r.set_seq(req.seq());
    r.set_error(9999);
    Send(sock, r);
  });
  EXPECT_EQ(client_->Stat(kRootNode).error(), Errno::kEIO);
  OnNextRequest([](const wire::Request& req, int sock) {
    wire::Response r;
    r.set_seq(req.seq());
    r.set_error(ENOENT);
    Send(sock, r);
  });
  EXPECT_EQ(client_->Stat(kRootNode).error(), Errno::kENOENT);
}

TEST_F(FakeGoferTest, UnexpectedFdIsClosedAndEio) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  OnNextRequest([&](const wire::Request& req, int sock) {
    wire::Response r;
    r.set_seq(req.seq());
    r.mutable_stat()->mutable_attr()->set_mode(S_IFREG | 0644);
    Send(sock, r, p[1]);
    close(p[1]);
  });
  EXPECT_EQ(client_->Stat(kRootNode).error(), Errno::kEIO);
  thread_.join();
  char ch;
  EXPECT_EQ(read(p[0], &ch, 1), 0) << "client kept the unexpected fd";
  close(p[0]);
}

TEST_F(FakeGoferTest, OpenWithoutFdOrWithSocketFdIsEio) {
  OnNextRequest([](const wire::Request& req, int sock) {
    wire::Response r;
    r.set_seq(req.seq());
    r.mutable_open();
    Send(sock, r);
  });
  EXPECT_EQ(client_->Open(kRootNode, O_RDONLY).error(), Errno::kEIO);
  int sp[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
  OnNextRequest([&](const wire::Request& req, int sock) {
    wire::Response r;
    r.set_seq(req.seq());
    r.mutable_open();
    Send(sock, r, sp[1]);
    close(sp[1]);
  });
  EXPECT_EQ(client_->Open(kRootNode, O_RDONLY).error(), Errno::kEIO);
  thread_.join();
  char ch;
  EXPECT_EQ(read(sp[0], &ch, 1), 0) << "client kept the donated socket";
  close(sp[0]);
}

TEST_F(FakeGoferTest, BadDirEntryNameIsEio) {
  for (const char* bad : {"..", "a/b", ""}) {
    OnNextRequest([bad](const wire::Request& req, int sock) {
      wire::Response r;
      r.set_seq(req.seq());
      r.mutable_readdir()->set_eof(true);
      r.mutable_readdir()->add_entries()->set_name(bad);
      Send(sock, r);
    });
    EXPECT_EQ(client_->ReadDir(kRootNode).error(), Errno::kEIO) << bad;
  }
}

TEST_F(FakeGoferTest, ReadDirWithoutProgressIsEio) {
  OnNextRequest([](const wire::Request& req, int sock) {
    wire::Response r;
    r.set_seq(req.seq());
    r.mutable_readdir()->set_next_cookie(0);  // same as the request's cookie, not eof
    r.mutable_readdir()->add_entries()->set_name("a");
    Send(sock, r);
  });
  EXPECT_EQ(client_->ReadDir(kRootNode).error(), Errno::kEIO);
}

TEST_F(FakeGoferTest, SequenceMismatchBreaksConnection) {
  OnNextRequest([](const wire::Request& req, int sock) {
    wire::Response r;
    r.set_seq(req.seq() + 1);
    r.mutable_stat()->mutable_attr()->set_mode(S_IFDIR | 0755);
    Send(sock, r);
  });
  EXPECT_EQ(client_->Stat(kRootNode).error(), Errno::kEIO);
  thread_.join();
  // Broken: no further request is even sent.
  EXPECT_EQ(client_->Stat(kRootNode).error(), Errno::kEIO);
  char c;
  EXPECT_EQ(recv(gofer_.get(), &c, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(FakeGoferTest, WrongResponseTypeIsEio) {
  OnNextRequest([](const wire::Request& req, int sock) {
    wire::Response r;
    r.set_seq(req.seq());
    r.mutable_readlink()->set_target("x");
    Send(sock, r);
  });
  EXPECT_EQ(client_->Stat(kRootNode).error(), Errno::kEIO);
}

}  // namespace
}  // namespace sbx::gofer
