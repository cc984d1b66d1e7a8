// Open file descriptions: the object an FD refers to (Linux `struct file`).
//
// A FileDescription holds the file offset and status flags; FD-table slots share it (dup,
// fork). Concrete types live with their filesystems (gofer/, tmpfs/, dev/, host/, pipe/).
// Methods that take guest-visible buffers take sentry-side spans; the syscall layer copies
// to/from guest memory. Blocking operations check `Interruptible` so signals can end them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "sentry/abi/result.h"
#include "sentry/usermem/usermem.h"

namespace sbx::fs {

class Dentry;
struct Mount;

// File attributes, the union of what stat(2) and statx(2) report.
struct Attr {
  uint64_t dev = 0, ino = 0, rdev = 0;
  uint32_t mode = 0, nlink = 1, uid = 0, gid = 0;
  uint64_t size = 0, blocks = 0;
  uint32_t blksize = 4096;
  int64_t atime_sec = 0, mtime_sec = 0, ctime_sec = 0, btime_sec = 0;
  uint32_t atime_nsec = 0, mtime_nsec = 0, ctime_nsec = 0, btime_nsec = 0;
};

// Something a blocking file operation polls to learn it must stop (pending signal, task exit).
class Interruptible {
 public:
  virtual ~Interruptible() = default;
  virtual bool Interrupted() const = 0;
};

class SharedMappable;
class WaitQueue;  // fs/waiter.h

// poll(2) event bits (include/uapi/asm-generic/poll.h; x86-64 uses them unmangled, and the
// EPOLL* values are the same).
inline constexpr uint32_t kPollIn = 0x001, kPollPri = 0x002, kPollOut = 0x004,
                          kPollErr = 0x008, kPollHup = 0x010, kPollNval = 0x020,
                          kPollRdNorm = 0x040, kPollRdBand = 0x080, kPollWrNorm = 0x100,
                          kPollWrBand = 0x200, kPollMsg = 0x400, kPollRdHup = 0x2000;
// DEFAULT_POLLMASK: what a file without a poll method (regular files, directories, /dev/null)
// reports: always readable and writable.
inline constexpr uint32_t kDefaultPollMask = kPollIn | kPollOut | kPollRdNorm | kPollWrNorm;

// Told by a SharedMappable when pages that some address space may map go away (truncate,
// hole punch): the observer must drop its mappings of them before the call returns, so that
// the next touch faults (and, past EOF, raises SIGBUS). Called with none of the file's locks
// held, from any thread.
class MappingObserver {
 public:
  virtual ~MappingObserver() = default;
  // Drop every mapping of file bytes [off, off + len) of `src` (page aligned; len may be
  // UINT64_MAX - off for "to the end").
  virtual void InvalidateMappings(const SharedMappable* src, uint64_t off, uint64_t len) = 0;
};

// A file whose data lives in the sandbox's memory file, so MAP_SHARED mappings can map its
// own pages (Linux: a page-cache-backed address_space, as in shmem). The file owns the pages;
// mappers never free them. Lock order: the mapper's lock (MemoryManager) -> the file's locks.
class SharedMappable {
 public:
  virtual ~SharedMappable() = default;
  struct Run {
    uint64_t mf_off = 0;  // memory-file offset of the first byte
    uint64_t len = 0;     // page multiple, > 0
  };
  // The memory-file pages backing file bytes starting at `file_off` (page aligned), up to
  // `max_len` bytes (page multiple) contiguous in the memory file, allocating zero pages for
  // holes below i_size. EIO if `file_off` is at or past EOF (SIGBUS); ENOMEM / ENOSPC when
  // no page can be allocated.
  virtual Result<Run> MapPages(uint64_t file_off, uint64_t max_len) = 0;
  // Registers `o` for invalidations (idempotent; expired observers are pruned). A mapper
  // must register before its first MapPages call.
  virtual void AddMapping(std::weak_ptr<MappingObserver> o) = 0;
  virtual void RemoveMapping(const MappingObserver* o) = 0;
};

class FileDescription : public std::enable_shared_from_this<FileDescription> {
 public:
  virtual ~FileDescription() = default;

  // Reads at the description's offset (advancing it) / at `offset` (not touching it).
  virtual Result<size_t> Read(std::span<std::byte> dst) { return Errno::kEINVAL; }
  virtual Result<size_t> PRead(std::span<std::byte> dst, int64_t offset) { return Errno::kESPIPE; }
  virtual Result<size_t> Write(std::span<const std::byte> src) { return Errno::kEINVAL; }
  virtual Result<size_t> PWrite(std::span<const std::byte> src, int64_t offset) { return Errno::kESPIPE; }
  virtual Result<int64_t> Seek(int64_t offset, int whence) { return Errno::kESPIPE; }
  virtual Result<Attr> Stat() = 0;
  // Fills `dst` with linux_dirent64 records from the current directory offset.
  virtual Result<size_t> GetDents64(std::span<std::byte> dst) { return Errno::kENOTDIR; }
  // ioctl(2); `mem` lets the file copy its argument struct in/out.
  virtual Result<uint64_t> Ioctl(usermem::UserMemory& mem, uint64_t cmd, uint64_t arg) {
    return Errno::kENOTTY;
  }
  // Readiness (Linux f_op->poll without the wait-table side): the events of `mask` that
  // are ready now, plus POLLERR/POLLHUP/POLLRDHUP-style conditions, which are reported
  // whatever the mask (callers filter). Must not block. Thread-safe.
  virtual uint32_t Readiness(uint32_t mask) { return mask & kDefaultPollMask; }
  // The queue notified when this file's readiness may have changed, or null if the file
  // never notifies (always-ready files, host FDs): pollers then re-check it periodically.
  virtual WaitQueue* readiness_queue() { return nullptr; }
  // For mmap: true if the file's contents can be mapped (regular files).
  virtual bool Mappable() const { return false; }
  // For MAP_SHARED: the file's shared pages, or null (then shared mappings are private
  // snapshots taken at fault time and cannot be writable).
  virtual SharedMappable* shared_mappable() { return nullptr; }

  // The dentry this description was opened from (null for anonymous files like pipes).
  const std::shared_ptr<Dentry>& dentry() const { return dentry_; }
  // The mount the dentry was reached through (set by the VFS at open; null if anonymous).
  const std::shared_ptr<Mount>& mount() const { return mount_; }
  void set_mount(std::shared_ptr<Mount> m) { mount_ = std::move(m); }
  // Status flags (O_APPEND, O_NONBLOCK, ...) and access mode (O_RDONLY/O_WRONLY/O_RDWR).
  uint32_t flags() const { return flags_; }
  void set_status_flags(uint32_t f);  // changes only the F_SETFL-settable bits
  bool readable() const { return (flags_ & 3) != 1; }
  bool writable() const { return (flags_ & 3) != 0; }

 protected:
  FileDescription(std::shared_ptr<Dentry> d, uint32_t flags) : dentry_(std::move(d)), flags_(flags) {}
  std::shared_ptr<Dentry> dentry_;
  std::shared_ptr<Mount> mount_;
  std::atomic<uint32_t> flags_;  // F_SETFL may race with readers in other threads
};

}  // namespace sbx::fs
