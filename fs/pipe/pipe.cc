// Pipe implementation.
#include "fs/pipe/pipe.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "absl/time/time.h"
#include "fs/blocking.h"
#include "fs/tmpfs/tmpfs.h"
#include "fs/vfs.h"
#include "sentry/abi/file.h"

namespace sbx::fs::pipe {

namespace {
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);
std::atomic<uint64_t> next_pipe_ino{1};
// pipefs' device number (anonymous, outside the range the VFS hands out).
constexpr uint64_t kPipeFSDev = abi::MakeDev(0, 12);
}  // namespace

Pipe::Pipe(uint64_t ino) : ino_(ino), buf_(kDefaultCapacity) {}

size_t Pipe::buffered() const {
  absl::MutexLock l(&mu_);
  return len_;
}

void Pipe::AddEnd(bool reader) {
  absl::MutexLock l(&mu_);
  (reader ? readers_ : writers_)++;
  cv_.SignalAll();
}

bool Pipe::HasEnd(bool reader) const {
  absl::MutexLock l(&mu_);
  return (reader ? readers_ : writers_) > 0;
}

Result<void> Pipe::WaitForPeer(bool reader) {
  absl::MutexLock l(&mu_);
  while ((reader ? writers_ : readers_) == 0) {
    if (CurrentlyInterrupted()) return Errno::kERESTARTSYS;
    cv_.WaitWithTimeout(&mu_, kPollInterval);
  }
  return Ok();
}

void Pipe::DropEnd(bool reader) {
  absl::MutexLock l(&mu_);
  (reader ? readers_ : writers_)--;
  cv_.SignalAll();
}

Result<size_t> Pipe::Read(std::span<std::byte> dst, bool nonblock) {
  if (dst.empty()) return size_t{0};
  absl::MutexLock l(&mu_);
  while (len_ == 0) {
    if (writers_ == 0) return size_t{0};
    if (nonblock) return Errno::kEAGAIN;
    if (CurrentlyInterrupted()) return Errno::kERESTARTSYS;
    cv_.WaitWithTimeout(&mu_, kPollInterval);
  }
  size_t n = std::min(dst.size(), len_);
  size_t first = std::min(n, buf_.size() - head_);
  std::memcpy(dst.data(), buf_.data() + head_, first);
  std::memcpy(dst.data() + first, buf_.data(), n - first);
  head_ = (head_ + n) % buf_.size();
  len_ -= n;
  if (len_ == 0) head_ = 0;
  cv_.SignalAll();
  return n;
}

Result<size_t> Pipe::Write(std::span<const std::byte> src, bool nonblock) {
  absl::MutexLock l(&mu_);
  if (readers_ == 0) return Errno::kEPIPE;
  if (src.empty()) return size_t{0};
  size_t done = 0;
  while (done < src.size()) {
    if (readers_ == 0) return done > 0 ? Result<size_t>(done) : Errno::kEPIPE;
    size_t space = buf_.size() - len_;
    size_t left = src.size() - done;
    // A write of at most PIPE_BUF bytes goes in whole or waits.
    bool can = src.size() <= kPipeBuf ? space >= left : space > 0;
    if (!can) {
      if (nonblock) return done > 0 ? Result<size_t>(done) : Errno::kEAGAIN;
      if (CurrentlyInterrupted()) return done > 0 ? Result<size_t>(done) : Errno::kERESTARTSYS;
      cv_.WaitWithTimeout(&mu_, kPollInterval);
      continue;
    }
    size_t n = std::min(space, left);
    size_t tail = (head_ + len_) % buf_.size();
    size_t first = std::min(n, buf_.size() - tail);
    std::memcpy(buf_.data() + tail, src.data() + done, first);
    std::memcpy(buf_.data(), src.data() + done + first, n - first);
    len_ += n;
    done += n;
    cv_.SignalAll();
  }
  return done;
}

PipeFD::PipeFD(std::shared_ptr<Pipe> p, bool reader, uint32_t flags)
    : FileDescription(nullptr, flags), pipe_(std::move(p)), reader_(reader) {
  pipe_->AddEnd(reader_);
}

PipeFD::~PipeFD() { pipe_->DropEnd(reader_); }

Result<size_t> PipeFD::Read(std::span<std::byte> dst) {
  if (!reader_) return Errno::kEBADF;
  return pipe_->Read(dst, flags() & abi::kO_NONBLOCK);
}

Result<size_t> PipeFD::Write(std::span<const std::byte> src) {
  if (reader_) return Errno::kEBADF;
  return pipe_->Write(src, flags() & abi::kO_NONBLOCK);
}

Result<Attr> PipeFD::Stat() {
  Attr a;
  a.dev = kPipeFSDev;
  a.ino = pipe_->ino();
  a.mode = abi::kS_IFIFO | 0600;
  a.nlink = 1;
  a.blksize = 4096;
  tmpfs::NowTimespec(&a.mtime_sec, &a.mtime_nsec);
  a.atime_sec = a.ctime_sec = a.mtime_sec;
  a.atime_nsec = a.ctime_nsec = a.mtime_nsec;
  return a;
}

Result<uint64_t> PipeFD::Ioctl(usermem::UserMemory& mem, uint64_t cmd, uint64_t arg) {
  if (cmd == abi::kFIONREAD) {
    int32_t n = static_cast<int32_t>(pipe_->buffered());
    TRY(usermem::CopyOut(mem, usermem::UserPtr<int32_t>(arg), n));
    return uint64_t{0};
  }
  return Errno::kENOTTY;
}

// ---- FIFOs ----

FifoFD::FifoFD(std::shared_ptr<Dentry> d, std::shared_ptr<Pipe> p, uint32_t flags)
    : FileDescription(std::move(d), flags), pipe_(std::move(p)) {
  if (readable()) pipe_->AddEnd(true);
  if (writable()) pipe_->AddEnd(false);
}

FifoFD::~FifoFD() {
  if (readable()) pipe_->DropEnd(true);
  if (writable()) pipe_->DropEnd(false);
}

Result<size_t> FifoFD::Read(std::span<std::byte> dst) {
  if (!readable()) return Errno::kEBADF;
  return pipe_->Read(dst, flags() & abi::kO_NONBLOCK);
}

Result<size_t> FifoFD::Write(std::span<const std::byte> src) {
  if (!writable()) return Errno::kEBADF;
  return pipe_->Write(src, flags() & abi::kO_NONBLOCK);
}

Result<Attr> FifoFD::Stat() { return dentry_->inode()->Stat(); }

Result<uint64_t> FifoFD::Ioctl(usermem::UserMemory& mem, uint64_t cmd, uint64_t arg) {
  if (cmd == abi::kFIONREAD) {
    int32_t n = static_cast<int32_t>(pipe_->buffered());
    TRY(usermem::CopyOut(mem, usermem::UserPtr<int32_t>(arg), n));
    return uint64_t{0};
  }
  return Errno::kENOTTY;
}

Result<std::shared_ptr<FileDescription>> OpenFifo(std::shared_ptr<Pipe> p,
                                                  std::shared_ptr<Dentry> d, uint32_t flags) {
  uint32_t acc = flags & abi::kO_ACCMODE;
  bool nonblock = flags & abi::kO_NONBLOCK;
  if (acc == abi::kO_WRONLY && nonblock && !p->HasEnd(/*reader=*/true)) return Errno::kENXIO;
  auto f = std::make_shared<FifoFD>(std::move(d), p, flags);
  if (!nonblock && acc == abi::kO_RDONLY) TRY(p->WaitForPeer(/*reader=*/true));
  if (!nonblock && acc == abi::kO_WRONLY) TRY(p->WaitForPeer(/*reader=*/false));
  return std::shared_ptr<FileDescription>(std::move(f));
}

std::pair<std::shared_ptr<FileDescription>, std::shared_ptr<FileDescription>> NewPipe(
    uint32_t flags) {
  auto p = std::make_shared<Pipe>(next_pipe_ino.fetch_add(1));
  uint32_t status = flags & (abi::kO_NONBLOCK | abi::kO_DIRECT);
  return {std::make_shared<PipeFD>(p, true, abi::kO_RDONLY | status),
          std::make_shared<PipeFD>(p, false, abi::kO_WRONLY | status)};
}

}  // namespace sbx::fs::pipe
