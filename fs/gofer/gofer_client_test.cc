// The VFS over a real gofer server (RunGofer, unconfined, in a thread) on a socketpair: path
// walk, stat caching, reads through donated FDs, listing, read-only enforcement.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "fs/test_util.h"
#include "fs/vfs.h"
#include "gofer/client.h"
#include "gofer/server.h"

namespace sbx::fs {
namespace {

using testing::E;
using testing::V;

class GoferClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sbx_fs_gofer_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(::mkdir((dir_ + "/tmp").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ + "/dev").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ + "/bin").c_str(), 0755), 0);
    std::ofstream(dir_ + "/bin/prog") << "#!/bin/prog\nbody";
    ::chmod((dir_ + "/bin/prog").c_str(), 0755);
    std::ofstream(dir_ + "/bin/data") << "data!";
    ASSERT_EQ(::symlink("bin/prog", (dir_ + "/prog").c_str()), 0);
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    server_sock_ = sv[0];
    gofer::ServerOptions opts;
    opts.root = dir_;
    opts.confine = false;
    server_ = std::thread([this, opts] { (void)gofer::RunGofer(server_sock_, opts); });
    vfs_ = V(VFS::New(std::make_unique<gofer::Client>(sv[1])));
    ctx_ = vfs_->NewContext();
  }
  void TearDown() override {
    ctx_.reset();
    vfs_.reset();  // closes the client socket: the server returns
    if (server_.joinable()) server_.join();
    ::close(server_sock_);
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)std::system(cmd.c_str());
  }
  PathCtx C() { return PathCtx{*ctx_, fds_, Creds{}}; }
  std::string dir_;
  int server_sock_ = -1;
  std::thread server_;
  std::unique_ptr<VFS> vfs_;
  std::shared_ptr<FSContext> ctx_;
  FDTable fds_;
};

TEST_F(GoferClientTest, WalkStatRead) {
  struct stat host;
  ASSERT_EQ(::stat((dir_ + "/bin/data").c_str(), &host), 0);
  Attr a = V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/bin/data", kLookupFollow));
  EXPECT_EQ(a.ino, host.st_ino);
  EXPECT_EQ(a.size, 5u);
  EXPECT_EQ(a.mode & abi::kS_IFMT, abi::kS_IFREG);
  auto f = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/bin/data", abi::kO_RDONLY, 0));
  std::byte buf[16];
  ASSERT_EQ(V(f->Read(buf)), 5u);
  EXPECT_EQ(std::memcmp(buf, "data!", 5), 0);
  auto x = V(vfs_->OpenForExec(*ctx_, "/prog"));
  ASSERT_EQ(V(x->PRead(std::span(buf, 2), 0)), 2u);
  EXPECT_EQ(std::memcmp(buf, "#!", 2), 0);
  EXPECT_EQ(E(vfs_->OpenForExec(*ctx_, "/bin/data")), Errno::kEACCES);
  EXPECT_EQ(E(vfs_->StatAt(C(), abi::kAT_FDCWD, "/nope", kLookupFollow)), Errno::kENOENT);
  EXPECT_EQ(V(vfs_->ReadlinkAt(C(), abi::kAT_FDCWD, "/prog")), "bin/prog");
}

TEST_F(GoferClientTest, ReadOnlyAndMounts) {
  EXPECT_EQ(E(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/bin/data", abi::kO_RDWR, 0)), Errno::kEROFS);
  EXPECT_EQ(E(vfs_->MkdirAt(C(), abi::kAT_FDCWD, "/d", 0755)), Errno::kEROFS);
  auto t = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/tmp/f", abi::kO_CREAT | abi::kO_RDWR, 0644));
  EXPECT_EQ(V(vfs_->StatAt(C(), abi::kAT_FDCWD, "/tmp", kLookupFollow)).mode,
            abi::kS_IFDIR | 01777);
  struct stat host;
  EXPECT_NE(::stat((dir_ + "/tmp/f").c_str(), &host), 0);  // never reached the host
  EXPECT_TRUE(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/dev/null", abi::kO_RDWR, 0).ok());
  FSStat s = V(vfs_->StatFSAt(C(), "/bin"));
  EXPECT_EQ(s.type, abi::kV9FS_MAGIC);
  EXPECT_GT(s.blocks, 0u);
}

TEST_F(GoferClientTest, GetDents) {
  auto d = V(vfs_->OpenAt(C(), abi::kAT_FDCWD, "/bin", abi::kO_RDONLY | abi::kO_DIRECTORY, 0));
  std::byte buf[512];
  size_t n = V(d->GetDents64(buf));
  std::vector<std::string> names;
  for (size_t off = 0; off < n;) {
    abi::Dirent64Header h;
    std::memcpy(&h, buf + off, abi::kDirent64NameOffset);
    names.emplace_back(reinterpret_cast<const char*>(buf + off + abi::kDirent64NameOffset));
    off += h.d_reclen;
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "data", "prog"}));
}

}  // namespace
}  // namespace sbx::fs
