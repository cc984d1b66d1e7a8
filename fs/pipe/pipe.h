// Anonymous pipes (fs/pipe.c): a 64 KiB ring buffer shared by a read end and a write end.
// Reads block while empty and writers exist (EOF once none), writes block while full and
// return EPIPE once no reader exists (SIGPIPE delivery is the caller's job, not done yet).
// Writes of at most PIPE_BUF (4096) bytes are atomic. O_NONBLOCK (read from the description
// at each call) turns waiting into EAGAIN. Blocked callers wake on any state change and poll
// CurrentInterruptible() every few milliseconds; an interrupted wait returns ERESTARTSYS
// (or the partial count).
//
// Lock order: Pipe::mu_ is a leaf.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "fs/file.h"

namespace sbx::fs::pipe {

inline constexpr size_t kPipeBuf = 4096;            // PIPE_BUF
inline constexpr size_t kDefaultCapacity = 65536;   // 16 pages

class Pipe {
 public:
  explicit Pipe(uint64_t ino);
  Result<size_t> Read(std::span<std::byte> dst, bool nonblock);
  Result<size_t> Write(std::span<const std::byte> src, bool nonblock);
  size_t buffered() const;
  size_t capacity() const { return kDefaultCapacity; }
  uint64_t ino() const { return ino_; }
  void AddEnd(bool reader);
  void DropEnd(bool reader);
  // Waits until the other side has at least one end open (a writer if `reader`), polling
  // CurrentInterruptible(); ERESTARTSYS when interrupted.
  Result<void> WaitForPeer(bool reader);
  bool HasEnd(bool reader) const;

 private:
  const uint64_t ino_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::vector<std::byte> buf_ ABSL_GUARDED_BY(mu_);
  size_t head_ ABSL_GUARDED_BY(mu_) = 0;
  size_t len_ ABSL_GUARDED_BY(mu_) = 0;
  int readers_ ABSL_GUARDED_BY(mu_) = 0;
  int writers_ ABSL_GUARDED_BY(mu_) = 0;
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

 private:
  const std::shared_ptr<Pipe> pipe_;
};

// open(2) of a FIFO (fifo_open): O_RDWR never waits; O_RDONLY waits for a writer unless
// O_NONBLOCK; O_WRONLY waits for a reader, or fails with ENXIO under O_NONBLOCK. The wait
// only needs a peer to be open (Linux waits for a new open of the other side).
Result<std::shared_ptr<FileDescription>> OpenFifo(std::shared_ptr<Pipe> p,
                                                  std::shared_ptr<Dentry> d, uint32_t flags);

// pipe2(): returns {read end, write end}. `flags` may hold O_NONBLOCK/O_DIRECT (status flags).
std::pair<std::shared_ptr<FileDescription>, std::shared_ptr<FileDescription>> NewPipe(
    uint32_t flags);

}  // namespace sbx::fs::pipe
