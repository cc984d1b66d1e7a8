// Anonymous pipes and FIFOs (fs/pipe.c): a ring buffer shared by read ends and write ends.
// Reads block while empty and writers exist (EOF once none), writes block while full and
// return EPIPE once no reader exists (SIGPIPE is the syscall layer's job). Writes of at most
// PIPE_BUF (4096) bytes are atomic: they go in whole or wait, so they never interleave with
// another writer's. O_NONBLOCK (read from the description at each call) turns waiting into
// EAGAIN, or a partial count once something was written. The capacity (F_SETPIPE_SZ) is a
// limit; the buffer grows up to it as data arrives, so idle pipes stay small.
//
// Every state change notifies queue() with the poll events it may have caused (POLLIN after
// a write, POLLOUT after a read, POLLHUP/POLLERR when the last writer/reader goes), which
// wakes pollers and the pipe's own blocked readers and writers (fs/waiter.h). Blocked calls
// also wake on a signal (KickWaiter) or every kInterruptSlice, and an interrupted wait
// returns ERESTARTSYS (or the partial count). Pipes are shared by tasks of any process or
// thread; all state is under mu_.
//
// Lock order: Pipe::mu_ -> WaitQueue::mu_ -> Waiter::mu_.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "fs/file.h"
#include "fs/waiter.h"

namespace sbx::fs::pipe {

inline constexpr size_t kPipeBuf = 4096;            // PIPE_BUF
inline constexpr size_t kDefaultCapacity = 65536;   // 16 pages
inline constexpr size_t kMaxUnprivilegedCapacity = 1048576;  // /proc/sys/fs/pipe-max-size

class Pipe {
 public:
  explicit Pipe(uint64_t ino);
  Result<size_t> Read(std::span<std::byte> dst, bool nonblock);
  Result<size_t> Write(std::span<const std::byte> src, bool nonblock);
  size_t buffered() const;
  // F_GETPIPE_SZ: the capacity in bytes.
  size_t Capacity() const;
  size_t capacity() const { return Capacity(); }
  // F_SETPIPE_SZ (pipe_set_size): rounds `bytes` up to a power-of-two number of pages (at
  // least one) and returns the new capacity. EINVAL above 2^31; EPERM above
  // kMaxUnprivilegedCapacity unless `privileged` (CAP_SYS_RESOURCE); EBUSY if the data
  // buffered needs more pages than the new size has.
  Result<uint64_t> SetCapacity(uint64_t bytes, bool privileged);
  uint64_t ino() const { return ino_; }
  void AddEnd(bool reader);
  void DropEnd(bool reader);
  // Waits until the other side has at least one end open (a writer if `reader`);
  // ERESTARTSYS when interrupted.
  Result<void> WaitForPeer(bool reader);
  bool HasEnd(bool reader) const;
  // pipe_poll(): the readiness of a description holding the read end and/or the write end.
  // POLLHUP on a read end needs the writer count to have moved past `hup_writer_mark` (the
  // FIFO open that found no writer suppresses it until a writer came, like f_pipe).
  uint32_t Readiness(bool read_end, bool write_end, uint64_t hup_writer_mark = 0) const;
  // How many times a write end was opened (pipe->w_counter).
  uint64_t writer_opens() const;
  WaitQueue& queue() { return queue_; }

 private:
  // Blocks until an event in `mask` is notified, a signal, or a slice passes; mu_ is
  // released meanwhile. ERESTARTSYS if the caller is already interrupted.
  Result<void> WaitLocked(uint32_t mask) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the buffered bytes to the start of a buffer of `size` bytes (>= len_).
  void RelayoutLocked(size_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const uint64_t ino_;
  WaitQueue queue_;
  mutable absl::Mutex mu_;
  std::vector<std::byte> buf_ ABSL_GUARDED_BY(mu_);  // ring of buf_.size() <= capacity_
  size_t head_ ABSL_GUARDED_BY(mu_) = 0;
  size_t len_ ABSL_GUARDED_BY(mu_) = 0;
  size_t capacity_ ABSL_GUARDED_BY(mu_) = kDefaultCapacity;
  int readers_ ABSL_GUARDED_BY(mu_) = 0;
  int writers_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t w_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

// One end of a pipe.
class PipeFD : public FileDescription {
 public:
  PipeFD(std::shared_ptr<Pipe> p, bool reader, uint32_t flags);
  ~PipeFD() override;
  Result<size_t> Read(std::span<std::byte> dst) override;
  Result<size_t> Write(std::span<const std::byte> src) override;
  Result<Attr> Stat() override;
  Result<uint64_t> Ioctl(usermem::UserMemory& mem, uint64_t cmd, uint64_t arg) override;
  Result<size_t> GetDents64(std::span<std::byte>) override { return Errno::kENOTDIR; }
  uint32_t Readiness(uint32_t mask) override;
  WaitQueue* readiness_queue() override { return &pipe_->queue(); }
  Pipe& pipe() const { return *pipe_; }

 private:
  const std::shared_ptr<Pipe> pipe_;
  const bool reader_;
};

// A FIFO opened by path: one or (O_RDWR) both ends of the FIFO's pipe; stat reports the
// FIFO's inode.
class FifoFD : public FileDescription {
 public:
  FifoFD(std::shared_ptr<Dentry> d, std::shared_ptr<Pipe> p, uint32_t flags);
  ~FifoFD() override;
  Result<size_t> Read(std::span<std::byte> dst) override;
  Result<size_t> Write(std::span<const std::byte> src) override;
  Result<Attr> Stat() override;
  Result<uint64_t> Ioctl(usermem::UserMemory& mem, uint64_t cmd, uint64_t arg) override;
  Result<size_t> GetDents64(std::span<std::byte>) override { return Errno::kENOTDIR; }
  uint32_t Readiness(uint32_t mask) override;
  WaitQueue* readiness_queue() override { return &pipe_->queue(); }
  Pipe& pipe() const { return *pipe_; }

 private:
  const std::shared_ptr<Pipe> pipe_;
  uint64_t hup_writer_mark_ = 0;  // see Pipe::Readiness
};

// open(2) of a FIFO (fifo_open): O_RDWR never waits; O_RDONLY waits for a writer unless
// O_NONBLOCK; O_WRONLY waits for a reader, or fails with ENXIO under O_NONBLOCK. The wait
// only needs a peer to be open (Linux waits for a new open of the other side).
Result<std::shared_ptr<FileDescription>> OpenFifo(std::shared_ptr<Pipe> p,
                                                  std::shared_ptr<Dentry> d, uint32_t flags);

// The pipe behind an anonymous pipe end or an open FIFO (get_pipe_info()), else null.
Pipe* PipeOf(FileDescription* f);

// pipe2(): returns {read end, write end}. `flags` may hold O_NONBLOCK/O_DIRECT (status flags).
std::pair<std::shared_ptr<FileDescription>, std::shared_ptr<FileDescription>> NewPipe(
    uint32_t flags);

}  // namespace sbx::fs::pipe
