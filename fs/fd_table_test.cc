// FDTable semantics (fs/file.c): lowest-free allocation, limits, dup2-style Set, cloexec.
#include "fs/fd_table.h"

#include <gtest/gtest.h>

#include "fs/pipe/pipe.h"
#include "fs/test_util.h"

namespace sbx::fs {
namespace {

using testing::V;

std::shared_ptr<FileDescription> AFile() { return pipe::NewPipe(0).first; }

TEST(FDTable, LowestFree) {
  FDTable t;
  auto f = AFile();
  EXPECT_EQ(V(t.Add(f, false)), 0);
  EXPECT_EQ(V(t.Add(f, false)), 1);
  EXPECT_EQ(V(t.Add(f, false)), 2);
  ASSERT_TRUE(t.Remove(1).ok());
  EXPECT_EQ(V(t.Add(f, false)), 1);
  EXPECT_EQ(V(t.Add(f, false, 10)), 10);
  EXPECT_EQ(V(t.Add(f, false, 10)), 11);
  EXPECT_EQ(V(t.Add(f, false)), 3);
  EXPECT_EQ(t.OpenFDs(), (std::vector<int>{0, 1, 2, 3, 10, 11}));
}

TEST(FDTable, LimitsAndErrors) {
  FDTable t(3);
  auto f = AFile();
  EXPECT_TRUE(t.Add(f, false).ok());
  EXPECT_TRUE(t.Add(f, false).ok());
  EXPECT_TRUE(t.Add(f, false).ok());
  auto r = t.Add(f, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Errno::kEMFILE);
  EXPECT_EQ(t.Add(f, false, 5).error(), Errno::kEMFILE);
  EXPECT_EQ(t.Set(3, f, false).error(), Errno::kEBADF);
  EXPECT_EQ(t.Set(-1, f, false).error(), Errno::kEBADF);
  EXPECT_EQ(t.Get(7).error(), Errno::kEBADF);
  EXPECT_EQ(t.Get(-1).error(), Errno::kEBADF);
  ASSERT_TRUE(t.Remove(2).ok());
  EXPECT_EQ(t.Remove(2).error(), Errno::kEBADF);
  EXPECT_EQ(t.SetCloexec(2, true).error(), Errno::kEBADF);
  t.set_max_fds(2);  // lowering the limit keeps open fds
  EXPECT_TRUE(t.Get(1).ok());
  EXPECT_EQ(t.Add(f, false).error(), Errno::kEMFILE);
}

TEST(FDTable, SetReplacesAndCloexec) {
  FDTable t;
  auto a = AFile(), b = AFile();
  ASSERT_TRUE(t.Set(4, a, true).ok());
  EXPECT_TRUE(t.Get(4)->cloexec);
  ASSERT_TRUE(t.Set(4, b, false).ok());
  EXPECT_EQ(t.Get(4)->file, b);
  EXPECT_FALSE(t.Get(4)->cloexec);
  ASSERT_TRUE(t.Set(5, a, true).ok());
  auto child = t.Fork();
  t.RemoveCloexec();
  EXPECT_EQ(t.OpenFDs(), (std::vector<int>{4}));
  EXPECT_EQ(child->OpenFDs(), (std::vector<int>{4, 5}));  // fork copied, independent
  ASSERT_TRUE(child->SetCloexec(4, true).ok());
  EXPECT_FALSE(t.Get(4)->cloexec);
}

TEST(FDTable, CloseDropsLastReference) {
  FDTable t;
  auto [r, w] = pipe::NewPipe(0);
  int fd = V(t.Add(w, false));
  w.reset();
  ASSERT_TRUE(t.Remove(fd).ok());
  std::byte b[1];
  EXPECT_EQ(V(r->Read(b)), 0u);  // writer gone: EOF
}

}  // namespace
}  // namespace sbx::fs
