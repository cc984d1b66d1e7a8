// Test helpers shared by the gofer tests: a temporary directory tree with the cases the gofer
// must handle (files, directories, symlinks that point outside the root, a fifo).
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace sbx::gofer::testing {

inline constexpr char kHelloContents[] = "hello gofer\n";

// Creates /tmp/gofer_test.XXXXXX containing:
//   hello.txt ("hello gofer\n"), sub/inner.txt, sub/deeper/, empty/,
//   passwd_link -> /etc/passwd, escape -> ../../.., rel -> hello.txt, fifo (a FIFO).
inline std::string MakeTree() {
  char tmpl[] = "/tmp/gofer_test.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return "";
  }
  std::string root = tmpl;
  std::ofstream(root + "/hello.txt") << kHelloContents;
  mkdir((root + "/sub").c_str(), 0755);
  std::ofstream(root + "/sub/inner.txt") << "inner";
  mkdir((root + "/sub/deeper").c_str(), 0700);
  mkdir((root + "/empty").c_str(), 0755);
  EXPECT_EQ(symlink("/etc/passwd", (root + "/passwd_link").c_str()), 0);
  EXPECT_EQ(symlink("../../..", (root + "/escape").c_str()), 0);
  EXPECT_EQ(symlink("hello.txt", (root + "/rel").c_str()), 0);
  EXPECT_EQ(mkfifo((root + "/fifo").c_str(), 0644), 0);
  return root;
}

inline void RemoveTree(const std::string& root) {
  if (root.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
}

}  // namespace sbx::gofer::testing
