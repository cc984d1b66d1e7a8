// Shared helpers for the syscall compatibility suite. Every test binary runs unchanged on the
// host (the oracle) and inside the sandbox, so the helpers use only what both provide: files
// under a fresh /tmp directory, no fork, no threads, no signal delivery, no /proc.
#ifndef SBX_TESTS_SYSCALLS_TEST_UTIL_H_
#define SBX_TESTS_SYSCALLS_TEST_UTIL_H_

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace sbx::testing {

// Succeeds when `ret` is -1 and errno equals `expected`; the message names both errnos.
inline ::testing::AssertionResult FailsWith(long ret, int expected) {
  const int err = errno;
  auto name = [](int e) { const char* n = strerrorname_np(e); return n ? n : "?"; };
  if (ret != -1) {
    return ::testing::AssertionFailure()
           << "expected failure with " << name(expected) << ", got return value "
           << ret;
  }
  if (err != expected) {
    return ::testing::AssertionFailure()
           << "expected " << name(expected) << ", got " << name(err) << " (" << err << ")";
  }
  return ::testing::AssertionSuccess();
}

// Same as FailsWith for calls that return MAP_FAILED (mmap, mremap).
inline const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// True if every page of [addr, addr+len) is mapped (mincore succeeds). Lets tests check
// mappings without touching memory (a fault would need signal delivery).
inline bool Mapped(void* addr, size_t len) {
  unsigned char vec[64];
  return mincore(addr, len, vec) == 0;
}

// True if no page of [addr, addr+len) is mapped: every page's mincore fails with ENOMEM.
inline bool Unmapped(void* addr, size_t len) {
  unsigned char vec;
  for (size_t off = 0; off < len; off += kPage) {
    if (mincore(static_cast<char*>(addr) + off, kPage, &vec) == 0 || errno != ENOMEM) {
      return false;
    }
  }
  return true;
}

inline ::testing::AssertionResult MapFailsWith(void* ret, int expected) {
  const int err = errno;
  if (ret != MAP_FAILED) {
    return ::testing::AssertionFailure() << "expected MAP_FAILED, got " << ret;
  }
  errno = err;
  return FailsWith(-1, expected);
}

// RAII: a fresh directory made with mkdtemp under /tmp, removed recursively on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sbx-syscall-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << strerror(errno);
      return;
    }
    path_ = tmpl;
  }
  ~TempDir() {
    if (!path_.empty()) RemoveTree(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The directory's absolute path.
  const std::string& path() const { return path_; }
  // `path()/name`.
  std::string Join(std::string_view name) const { return path_ + "/" + std::string(name); }

  // Creates (or truncates) `name` with `contents`; returns its path.
  std::string WriteFile(std::string_view name, std::string_view contents,
                        mode_t mode = 0644) const {
    std::string p = Join(name);
    int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
      ADD_FAILURE() << "open " << p << ": " << strerror(errno);
      return p;
    }
    size_t done = 0;
    while (done < contents.size()) {
      ssize_t n = write(fd, contents.data() + done, contents.size() - done);
      if (n <= 0) {
        ADD_FAILURE() << "write " << p << ": " << strerror(errno);
        break;
      }
      done += static_cast<size_t>(n);
    }
    close(fd);
    return p;
  }

 private:
  // Removes `dir` and everything below it without following symlinks.
  static void RemoveTree(const std::string& dir) {
    DIR* d = opendir(dir.c_str());
    if (d != nullptr) {
      while (struct dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string child = dir + "/" + name;
        struct stat st;
        if (lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          RemoveTree(child);
        } else {
          unlink(child.c_str());
        }
      }
      closedir(d);
    }
    rmdir(dir.c_str());
  }

  std::string path_;
};

// Reads all of `fd` from its current offset.
inline std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Reads the whole file at `path`.
inline std::string ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<open failed: " + std::string(strerror(errno)) + ">";
  std::string s = ReadAll(fd);
  close(fd);
  return s;
}

}  // namespace sbx::testing

#endif  // SBX_TESTS_SYSCALLS_TEST_UTIL_H_
