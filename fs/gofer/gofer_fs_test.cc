// The gofer filesystem over an in-memory NodeSource: read-only semantics, attribute caching,
// file reads through donated FDs, directory listing, symlinks and mounts on top of it.
#include "fs/gofer/gofer_fs.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "fs/test_util.h"

namespace sbx::fs {
namespace {

using testing::E;
using testing::V;
namespace g = sbx::gofer;

// A tree: id -> node. Files' contents are served through memfds, as the gofer donates FDs.
class FakeSource : public gofer::NodeSource {
 public:
  struct Node {
    g::Attr attr;
    std::map<std::string, g::NodeId> kids;
    std::string data;  // file contents or link target
  };
  FakeSource() {
    Add(0, "", abi::kS_IFDIR | 0755);  // root gets id 1
  }
  g::NodeId Add(g::NodeId parent, const std::string& name, uint32_t mode, std::string data = "") {
    g::NodeId id = next_++;
    Node n;
    n.attr.mode = mode;
    n.attr.ino = 1000 + id;
    n.attr.dev = 77;
    n.attr.nlink = 1;
    n.attr.size = data.size();
    n.data = std::move(data);
    nodes_[id] = n;
    if (parent) nodes_[parent].kids[name] = id;
    return id;
  }
  Result<g::WalkResult> Walk(g::NodeId dir, std::string_view name) override {
    ++walks;
    auto& d = nodes_.at(dir);
    if ((d.attr.mode & abi::kS_IFMT) != abi::kS_IFDIR) return Errno::kENOTDIR;
    auto it = d.kids.find(std::string(name));
    if (it == d.kids.end()) return Errno::kENOENT;
    return g::WalkResult{it->second, nodes_.at(it->second).attr};
  }
  Result<g::Attr> Stat(g::NodeId n) override { return nodes_.at(n).attr; }
  Result<std::string> Readlink(g::NodeId n) override { return nodes_.at(n).data; }
  Result<int> Open(g::NodeId n, uint32_t flags) override {
    ++opens;
    int fd = memfd_create("fake", 0);
    const std::string& d = nodes_.at(n).data;
    if (::write(fd, d.data(), d.size()) != static_cast<ssize_t>(d.size())) return Errno::kEIO;
    return fd;
  }
  Result<std::vector<g::DirEntry>> ReadDir(g::NodeId dir) override {
    std::vector<g::DirEntry> out;
    for (auto& [name, id] : nodes_.at(dir).kids) {
      out.push_back({name, nodes_.at(id).attr.ino, abi::ModeToDType(nodes_.at(id).attr.mode)});
    }
    return out;
  }
  void Release(g::NodeId n) override { ++releases; }
  int walks = 0, opens = 0, releases = 0;

 private:
  g::NodeId next_ = 1;
  std::map<g::NodeId, Node> nodes_;
};

class GoferFSTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = std::make_shared<FakeSource>();
    auto bin = src_->Add(1, "bin", abi::kS_IFDIR | 0755);
    src_->Add(bin, "sh", abi::kS_IFREG | 0755, "#!shell contents");
    src_->Add(bin, "data", abi::kS_IFREG | 0644, "0123456789");
    src_->Add(1, "tmp", abi::kS_IFDIR | 0755);
    src_->Add(1, "dev", abi::kS_IFDIR | 0755);
    src_->Add(1, "proc", abi::kS_IFDIR | 0555);
    src_->Add(1, "sh", abi::kS_IFLNK | 0777, "bin/sh");
    src_->Add(1, "fifo", abi::kS_IFIFO | 0644);
    std::shared_ptr<gofer::NodeSource> s = src_;
    vfs_ = V(VFS::NewWithRoot([&](uint64_t dev) { return gofer::NewGoferFS(dev, s); }));
    ctx_ = vfs_->NewContext();
  }
  PathCtx C(Creds c = {}) { return PathCtx{*ctx_, fds_, std::move(c)}; }
  std::shared_ptr<FakeSource> src_;
  std::unique_ptr<VFS> vfs_;
  std::shared_ptr<FSContext> ctx_;
  FDTable fds_;
};

TEST_F(GoferFSTest, StatIsCachedAndKeepsInodes) {
  Attr a = V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/bin/data", kLookupFollow));
  EXPECT_EQ(a.size, 10u);
  EXPECT_EQ(a.ino, 1000u + 4);  // root 1, bin 2, sh 3, data 4
  EXPECT_NE(a.dev, 77u);  // our own device number
  int walks = src_->walks;
  Attr b = V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/bin/data", kLookupFollow));
  EXPECT_EQ(src_->walks, walks);  // no round trip
  EXPECT_EQ(a.dev, b.dev);
  EXPECT_EQ(V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/", kLookupFollow)).dev, a.dev);
  EXPECT_EQ(V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/sh", kLookupFollow)).ino, 1000u + 3);
  EXPECT_EQ(V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/sh", 0)).mode & abi::kS_IFMT, abi::kS_IFLNK);
  EXPECT_EQ(E(vfs_->StatAt(C(), abi::kAT_FDCWD, "/bin/data/x", kLookupFollow)),
            Errno::kENOTDIR);
}

TEST_F(GoferFSTest, ReadOnly) {
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/bin/data", abi::kO_WRONLY, 0)),
            Errno::kEROFS);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/bin/data", abi::kO_RDONLY | abi::kO_TRUNC, 0)),
            Errno::kEROFS);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/new", abi::kO_CREAT | abi::kO_WRONLY, 0644)),
            Errno::kEROFS);
  // O_CREAT of an existing file without write access is fine.
  EXPECT_TRUE(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/bin/data", abi::kO_CREAT | abi::kO_RDONLY,
                           0644).ok());
  EXPECT_EQ(E(vfs_->MkdirAt(C(), abi::kAT_FDCWD, "/newdir", 0755)), Errno::kEROFS);
  EXPECT_EQ(E(vfs_->MkdirAt(C(), abi::kAT_FDCWD, "/bin", 0755)), Errno::kEEXIST);
  EXPECT_EQ(E(vfs_->UnlinkAt(C(), abi::kAT_FDCWD, "/bin/data")), Errno::kEROFS);
  EXPECT_EQ(E(vfs_->RmdirAt(C(), abi::kAT_FDCWD, "/bin")), Errno::kEROFS);
  EXPECT_EQ(E(vfs_->AccessAt(C(), abi::kAT_FDCWD, "/bin/data", abi::kW_OK, kLookupFollow)),
            Errno::kEROFS);
  EXPECT_TRUE(vfs_->AccessAt(C(), abi::kAT_FDCWD, "/bin/data", abi::kR_OK, kLookupFollow).ok());
  // The tmpfs on /tmp is writable.
  EXPECT_TRUE(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/x", abi::kO_CREAT | abi::kO_RDWR, 0644).ok());
  EXPECT_TRUE(vfs_->StatFSAt(C(), "/").value().flags & abi::kST_RDONLY);
  EXPECT_EQ(vfs_->StatFSAt(C(), "/").value().type, abi::kV9FS_MAGIC);
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/fifo", abi::kO_RDONLY, 0)), Errno::kENXIO);
}

TEST_F(GoferFSTest, ReadThroughDonatedFD) {
  auto f = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/bin/data", abi::kO_RDONLY, 0));
  EXPECT_TRUE(f->Mappable());
  std::byte buf[16];
  EXPECT_EQ(V(f->Read(std::span(buf, 4))), 4u);
  EXPECT_EQ(std::memcmp(buf, "0123", 4), 0);
  EXPECT_EQ(V(f->PRead(std::span(buf, 16), 8)), 2u);
  EXPECT_EQ(std::memcmp(buf, "89", 2), 0);
  EXPECT_EQ(V(f->Seek(-1, abi::kSEEK_END)), 9);
  EXPECT_EQ(V(f->Read(buf)), 1u);
  EXPECT_EQ(E(f->Write(std::span<const std::byte>(buf, 1))), Errno::kEBADF);
  auto x = V(vfs_->OpenForExec(*ctx_, "/sh"));  // via the symlink
  EXPECT_EQ(V(x->Read(std::span(buf, 2))), 2u);
  EXPECT_EQ(std::memcmp(buf, "#!", 2), 0);
  EXPECT_EQ(E(vfs_->OpenForExec(*ctx_, "/bin/data")), Errno::kEACCES);
}

TEST_F(GoferFSTest, ListAndMounts) {
  auto d = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/", abi::kO_RDONLY | abi::kO_DIRECTORY, 0));
  std::byte buf[1024];
  size_t n = V(d->GetDents64(buf));
  std::vector<std::string> names;
  for (size_t off = 0; off < n;) {
    abi::Dirent64Header h;
    std::memcpy(&h, buf + off, abi::kDirent64NameOffset);
    names.emplace_back(reinterpret_cast<const char*>(buf + off + abi::kDirent64NameOffset));
    off += h.d_reclen;
  }
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "bin", "dev", "fifo", "proc", "sh",
                                             "tmp"}));
  Attr tmp = V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/tmp", kLookupFollow));
  EXPECT_EQ(tmp.mode, abi::kS_IFDIR | 01777);  // the tmpfs, not the gofer's directory
  EXPECT_TRUE(vfs_->StatAt(C(), abi::kAT_FDCWD, "/dev/zero", kLookupFollow).ok());
  EXPECT_EQ(V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/tmp/..", kLookupFollow)).ino, 1001u);
}

TEST_F(GoferFSTest, ReleasesNodesAtTeardown) {
  V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/bin/sh", kLookupFollow));
  vfs_.reset();
  ctx_.reset();
  EXPECT_GE(src_->releases, 2);  // bin, bin/sh (+ tmp, dev)
}

}  // namespace
}  // namespace sbx::fs
