// Tests of the confined gofer: a forked child enters fresh user+mount namespaces (as root in
// them), confines itself to a temp tree and serves it. The parent checks from outside (its
// /proc entries) and through the protocol that only the tree is reachable, that the seccomp
// allow-list is installed and covers the whole serve loop (the child exits cleanly), and that
// syscalls outside the list kill the process.
//
// This binary must stay single-threaded: it forks and runs C++ in the child.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gofer/client.h"
#include "gofer/server.h"
#include "gofer/test_util.h"
#include "gofer/wire.h"
#include "gtest/gtest.h"

namespace sbx::gofer {
namespace {

using wire::UniqueFd;

bool WriteProcFile(const char* path, const std::string& data) {
  UniqueFd fd(open(path, O_WRONLY | O_CLOEXEC));
  return fd.valid() && write(fd.get(), data.data(), data.size()) ==
                           static_cast<ssize_t>(data.size());
}

// In a forked child: become root in new user and mount namespaces (our uid/gid mapped to 0).
bool EnterNamespaces() {
  uid_t uid = getuid();
  gid_t gid = getgid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) return false;
  return WriteProcFile("/proc/self/setgroups", "deny") &&
         WriteProcFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") &&
         WriteProcFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
}

// Forks a child that enters namespaces and runs `body`; its return value is the exit code.
pid_t ForkChild(const std::function<int()>& body) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    if (!EnterNamespaces()) _exit(100);
    _exit(body());
  }
  return pid;
}

int WaitStatus(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ConfineTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = testing::MakeTree(); }
  void TearDown() override { testing::RemoveTree(root_); }

  // Starts a confined gofer serving root_; returns its pid and sets *client.
  pid_t StartGofer(bool read_only, std::unique_ptr<Client>* client) {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    ServerOptions opts;
    opts.root = root_;
    opts.confine = true;
    opts.read_only = read_only;
    pid_t pid = ForkChild([&] {
      close(sv[0]);
      absl::Status s = RunGofer(sv[1], opts);
      if (!s.ok()) {
        fprintf(stderr, "%s\n", s.ToString().c_str());
        return 1;
      }
      return 0;
    });
    close(sv[1]);
    *client = std::make_unique<Client>(sv[0]);
    return pid;
  }

  std::string root_;
};

ino_t InoOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

TEST_F(ConfineTest, ServesOnlyTheRootAndExitsCleanly) {
  // A directory large enough for several ReadDir pages (exercises lseek in the allow-list).
  ASSERT_EQ(mkdir((root_ + "/big").c_str(), 0755), 0);
  for (int i = 0; i < 1000; ++i) {
    UniqueFd fd(open((root_ + "/big/" + std::string(200, 'b') + std::to_string(i)).c_str(),
                     O_CREAT | O_WRONLY, 0644));
    ASSERT_TRUE(fd.valid());
  }
  std::unique_ptr<Client> c;
  pid_t pid = StartGofer(/*read_only=*/true, &c);
  ASSERT_GT(pid, 0);

  // The served root is the temp dir.
  auto root = c->Stat(kRootNode);
  ASSERT_TRUE(root.ok()) << ErrnoName(root.error());
  struct stat want;
  ASSERT_EQ(stat(root_.c_str(), &want), 0);
  EXPECT_EQ(root->ino, want.st_ino);
  EXPECT_EQ(root->dev, want.st_dev);

  // Seen from outside: root and cwd are the tree, the mount table holds only the read-only
  // bind of the tree, and seccomp + no_new_privs are on.
  std::string proc = "/proc/" + std::to_string(pid);
  EXPECT_EQ(InoOf(proc + "/root/."), want.st_ino);
  EXPECT_EQ(InoOf(proc + "/cwd/."), want.st_ino);
  EXPECT_EQ(InoOf(proc + "/root/hello.txt"), InoOf(root_ + "/hello.txt"));
  std::string mountinfo = Slurp(proc + "/mountinfo");
  std::vector<std::string> lines = absl::StrSplit(mountinfo, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << mountinfo;
  std::vector<std::string> fields = absl::StrSplit(lines[0], ' ');
  ASSERT_GT(fields.size(), 5u);
  EXPECT_EQ(fields[4], "/") << "mount point";
  std::vector<std::string> opts = absl::StrSplit(fields[5], ',');
  EXPECT_EQ(opts[0], "ro") << lines[0];
  EXPECT_NE(std::find(opts.begin(), opts.end(), "nosuid"), opts.end()) << lines[0];
  EXPECT_NE(std::find(opts.begin(), opts.end(), "nodev"), opts.end()) << lines[0];
  std::string status = Slurp(proc + "/status");
  EXPECT_NE(status.find("Seccomp:\t2"), std::string::npos) << status;
  EXPECT_NE(status.find("NoNewPrivs:\t1"), std::string::npos) << status;

  // Every operation, through the allow-list.
  auto list = c->ReadDir(kRootNode);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 8u);
  auto big = c->Walk(kRootNode, "big");
  ASSERT_TRUE(big.ok());
  auto big_list = c->ReadDir(big->id);
  ASSERT_TRUE(big_list.ok());
  EXPECT_EQ(big_list->size(), 1000u);
  auto hello = c->Walk(kRootNode, "hello.txt");
  ASSERT_TRUE(hello.ok());
  auto fd = c->Open(hello->id, O_RDONLY);
  ASSERT_TRUE(fd.ok());
  {
    UniqueFd owned(*fd);
    char buf[64] = {};
    EXPECT_EQ(read(owned.get(), buf, sizeof(buf) - 1),
              static_cast<ssize_t>(strlen(testing::kHelloContents)));
    EXPECT_STREQ(buf, testing::kHelloContents);
  }
  EXPECT_EQ(c->Open(hello->id, O_RDWR).error(), Errno::kEROFS);
  auto dfd = c->Open(kRootNode, O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(dfd.ok());
  close(*dfd);
  auto esc = c->Walk(kRootNode, "escape");
  ASSERT_TRUE(esc.ok());
  EXPECT_EQ(c->Open(esc->id, O_RDONLY).error(), Errno::kELOOP);
  EXPECT_EQ(c->Walk(esc->id, "etc").error(), Errno::kENOTDIR);
  auto link = c->Readlink(esc->id);
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(*link, "../../..");
  EXPECT_EQ(c->Walk(kRootNode, "etc").error(), Errno::kENOENT);
  EXPECT_EQ(c->Open(c->Walk(kRootNode, "fifo")->id, O_RDONLY).error(), Errno::kEOPNOTSUPP);
  c->Release(hello->id);
  c->Release(esc->id);
  EXPECT_EQ(c->Stat(hello->id).error(), Errno::kEBADF);

  // Closing the socket ends the gofer with exit code 0 (not SIGSYS).
  c.reset();
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st)) << "killed by signal " << (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST_F(ConfineTest, ReadWriteModeIsWritable) {
  std::unique_ptr<Client> c;
  pid_t pid = StartGofer(/*read_only=*/false, &c);
  auto hello = c->Walk(kRootNode, "hello.txt");
  ASSERT_TRUE(hello.ok());
  std::string mountinfo = Slurp("/proc/" + std::to_string(pid) + "/mountinfo");
  std::vector<std::string> fields = absl::StrSplit(mountinfo, ' ');
  ASSERT_GT(fields.size(), 5u);
  EXPECT_EQ(fields[5].substr(0, 3), "rw,") << mountinfo;
  auto fd = c->Open(hello->id, O_WRONLY | O_TRUNC);
  ASSERT_TRUE(fd.ok());
  EXPECT_EQ(write(*fd, "xy", 2), 2);
  close(*fd);
  EXPECT_EQ(Slurp(root_ + "/hello.txt"), "xy");
  c.reset();
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

// Inside the confined process, even path resolution that follows symlinks stays in the tree.
TEST_F(ConfineTest, ConfinedProcessSeesOnlyTheTree) {
  std::string root = root_;
  pid_t pid = ForkChild([root] {
    ServerOptions o;
    o.root = root;
    if (!ConfineGofer(o).ok()) return 1;
    struct stat st;
    if (stat("/hello.txt", &st) < 0 || st.st_size != 12) return 2;
    if (open("/etc/passwd", O_RDONLY) >= 0 || errno != ENOENT) return 3;
    // escape -> ../../.. resolves to "/" of the tree.
    if (stat("/escape/hello.txt", &st) < 0) return 4;
    if (open("/passwd_link", O_RDONLY) >= 0 || errno != ENOENT) return 5;
    if (stat("/proc/self", &st) == 0) return 6;
    return 0;
  });
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st)) << "killed by signal " << (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST_F(ConfineTest, SyscallOutsideAllowListKills) {
  std::string root = root_;
  pid_t pid = ForkChild([root] {
    ServerOptions o;
    o.root = root;
    if (!ConfineGofer(o).ok()) return 1;
    syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);  // no network for the gofer
    return 0;
  });
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFSIGNALED(st)) << "exit " << WEXITSTATUS(st);
  EXPECT_EQ(WTERMSIG(st), SIGSYS);
}

TEST_F(ConfineTest, WriteOpenKillsWhenReadOnly) {
  std::string root = root_;
  for (int flags : {O_RDWR, O_WRONLY, O_RDONLY | O_TRUNC, O_RDONLY | O_CREAT}) {
    pid_t pid = ForkChild([root, flags] {
      ServerOptions o;
      o.root = root;
      if (!ConfineGofer(o).ok()) return 1;
      open("/hello.txt", flags, 0644);
      return 0;
    });
    int st = WaitStatus(pid);
    ASSERT_TRUE(WIFSIGNALED(st)) << "flags " << flags << " exit " << WEXITSTATUS(st);
    EXPECT_EQ(WTERMSIG(st), SIGSYS);
  }
}

TEST_F(ConfineTest, ConfineRejectsRelativeRoot) {
  pid_t pid = ForkChild([] {
    ServerOptions o;
    o.root = "relative/dir";
    return ConfineGofer(o).code() == absl::StatusCode::kInvalidArgument ? 0 : 1;
  });
  int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(GoferMainTest, BadUsage) {
  const char* no_args[] = {"gofer"};
  EXPECT_EQ(GoferMain(1, const_cast<char**>(no_args)), 2);
  const char* bad_fd[] = {"gofer", "--root=/tmp", "--sock-fd=abc"};
  EXPECT_EQ(GoferMain(3, const_cast<char**>(bad_fd)), 2);
  const char* unknown[] = {"gofer", "--root=/tmp", "--sock-fd=3", "--bogus"};
  EXPECT_EQ(GoferMain(4, const_cast<char**>(unknown)), 2);
}

}  // namespace
}  // namespace sbx::gofer
