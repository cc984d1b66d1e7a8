// Pipe implementation.
#include "fs/pipe/pipe.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "fs/blocking.h"
#include "fs/tmpfs/tmpfs.h"
#include "fs/vfs.h"
#include "sentry/abi/file.h"

namespace sbx::fs::pipe {

namespace {
std::atomic<uint64_t> next_pipe_ino{1};
// pipefs' device number (anonymous, outside the range the VFS hands out).
constexpr uint64_t kPipeFSDev = abi::MakeDev(0, 12);
constexpr size_t kPage = 4096;
// An internal event (outside the 16 poll bits) for WaitForPeer: an end was opened.
constexpr uint32_t kPeerEvent = 1u << 30;
constexpr uint32_t kReadable = kPollIn | kPollRdNorm;
constexpr uint32_t kWritable = kPollOut | kPollWrNorm;

size_t PagesFor(size_t bytes) { return (bytes + kPage - 1) / kPage; }
}  // namespace

Pipe::Pipe(uint64_t ino) : ino_(ino) {}

size_t Pipe::buffered() const {
  absl::MutexLock l(&mu_);
  return len_;
}

size_t Pipe::Capacity() const {
  absl::MutexLock l(&mu_);
  return capacity_;
}

uint64_t Pipe::writer_opens() const {
  absl::MutexLock l(&mu_);
  return w_counter_;
}

Result<uint64_t> Pipe::SetCapacity(uint64_t bytes, bool privileged) {
  // round_pipe_size(): at least a page, else the next power of two; > 2^31 is invalid.
  if (bytes > (uint64_t{1} << 31)) return Errno::kEINVAL;
  uint64_t size = kPage;
  while (size < bytes) size <<= 1;
  absl::MutexLock l(&mu_);
  if (size > capacity_ && size > kMaxUnprivilegedCapacity && !privileged) return Errno::kEPERM;
  // pipe_resize_ring(): the occupied slots (pages) must fit.
  if (PagesFor(len_) > size / kPage) return Errno::kEBUSY;
  if (buf_.size() > size) RelayoutLocked(size);
  capacity_ = size;
  queue_.Notify(kWritable);  // a larger pipe may have become writable
  return size;
}

void Pipe::RelayoutLocked(size_t size) {
  std::vector<std::byte> nb(size);
  size_t first = std::min(len_, buf_.size() - head_);
  if (len_ > 0) {
    std::memcpy(nb.data(), buf_.data() + head_, first);
    std::memcpy(nb.data() + first, buf_.data(), len_ - first);
  }
  buf_ = std::move(nb);
  head_ = 0;
}

void Pipe::AddEnd(bool reader) {
  absl::MutexLock l(&mu_);
  (reader ? readers_ : writers_)++;
  if (!reader) w_counter_++;
  queue_.Notify(kPeerEvent);
}

bool Pipe::HasEnd(bool reader) const {
  absl::MutexLock l(&mu_);
  return (reader ? readers_ : writers_) > 0;
}

Result<void> Pipe::WaitLocked(uint32_t mask) {
  if (CurrentlyInterrupted()) return Errno::kERESTARTSYS;
  // Registered under mu_, so any state change after the caller's check notifies us.
  Waiter w;
  queue_.Add(&w, mask);
  mu_.Unlock();
  w.Wait(kInterruptSlice);
  queue_.Remove(&w);
  mu_.Lock();
  return Ok();
}

Result<void> Pipe::WaitForPeer(bool reader) {
  absl::MutexLock l(&mu_);
  while ((reader ? writers_ : readers_) == 0) TRY(WaitLocked(kPeerEvent));
  return Ok();
}

void Pipe::DropEnd(bool reader) {
  absl::MutexLock l(&mu_);
  (reader ? readers_ : writers_)--;
  // The last writer gone: readers see EOF/POLLHUP; the last reader: writers see EPIPE/POLLERR.
  if (!reader && writers_ == 0) queue_.Notify(kPollHup | kReadable);
  if (reader && readers_ == 0) queue_.Notify(kPollErr | kWritable);
}

uint32_t Pipe::Readiness(bool read_end, bool write_end, uint64_t hup_writer_mark) const {
  absl::MutexLock l(&mu_);
  uint32_t m = 0;
  if (read_end) {
    if (len_ > 0) m |= kReadable;
    if (writers_ == 0 && w_counter_ != hup_writer_mark) m |= kPollHup;
  }
  if (write_end) {
    // !pipe_full(): a free slot, i.e. room for a PIPE_BUF write.
    if (capacity_ - len_ >= std::min(kPipeBuf, capacity_)) m |= kWritable;
    if (readers_ == 0) m |= kPollErr;
  }
  return m;
}

Result<size_t> Pipe::Read(std::span<std::byte> dst, bool nonblock) {
  if (dst.empty()) return size_t{0};
  absl::MutexLock l(&mu_);
  while (len_ == 0) {
    if (writers_ == 0) return size_t{0};
    if (nonblock) return Errno::kEAGAIN;
    TRY(WaitLocked(kReadable | kPollHup));
  }
  size_t n = std::min(dst.size(), len_);
  size_t first = std::min(n, buf_.size() - head_);
  std::memcpy(dst.data(), buf_.data() + head_, first);
  std::memcpy(dst.data() + first, buf_.data(), n - first);
  head_ = (head_ + n) % buf_.size();
  len_ -= n;
  if (len_ == 0) head_ = 0;
  queue_.Notify(kWritable);
  return n;
}

Result<size_t> Pipe::Write(std::span<const std::byte> src, bool nonblock) {
  absl::MutexLock l(&mu_);
  if (readers_ == 0) return Errno::kEPIPE;
  if (src.empty()) return size_t{0};
  size_t done = 0;
  while (done < src.size()) {
    if (readers_ == 0) return done > 0 ? Result<size_t>(done) : Errno::kEPIPE;
    size_t space = capacity_ - len_;
    size_t left = src.size() - done;
    // A write of at most PIPE_BUF bytes goes in whole or waits.
    bool can = src.size() <= kPipeBuf ? space >= left : space > 0;
    if (!can) {
      if (nonblock) return done > 0 ? Result<size_t>(done) : Errno::kEAGAIN;
      auto w = WaitLocked(kWritable | kPollErr);
      if (!w.ok()) return done > 0 ? Result<size_t>(done) : w.error();
      continue;
    }
    size_t n = std::min(space, left);
    if (buf_.size() < len_ + n) {
      // Grow geometrically up to the capacity.
      RelayoutLocked(std::min(capacity_, std::max({len_ + n, 2 * buf_.size(), kPage})));
    }
    size_t tail = (head_ + len_) % buf_.size();
    size_t first = std::min(n, buf_.size() - tail);
    std::memcpy(buf_.data() + tail, src.data() + done, first);
    std::memcpy(buf_.data(), src.data() + done + first, n - first);
    len_ += n;
    done += n;
    queue_.Notify(kReadable);
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

uint32_t PipeFD::Readiness(uint32_t mask) { return pipe_->Readiness(reader_, !reader_); }

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
  // fifo_open(): a non-blocking reader that finds no writer suppresses POLLHUP until one
  // has come (f_pipe = w_counter).
  if (readable() && !writable() && (flags & abi::kO_NONBLOCK) && !pipe_->HasEnd(false)) {
    hup_writer_mark_ = pipe_->writer_opens();
  }
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

uint32_t FifoFD::Readiness(uint32_t mask) {
  return pipe_->Readiness(readable(), writable(), hup_writer_mark_);
}

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

Pipe* PipeOf(FileDescription* f) {
  if (auto* p = dynamic_cast<PipeFD*>(f)) return &p->pipe();
  if (auto* p = dynamic_cast<FifoFD*>(f)) return &p->pipe();
  return nullptr;
}

std::pair<std::shared_ptr<FileDescription>, std::shared_ptr<FileDescription>> NewPipe(
    uint32_t flags) {
  auto p = std::make_shared<Pipe>(next_pipe_ino.fetch_add(1));
  uint32_t status = flags & (abi::kO_NONBLOCK | abi::kO_DIRECT);
  return {std::make_shared<PipeFD>(p, true, abi::kO_RDONLY | status),
          std::make_shared<PipeFD>(p, false, abi::kO_WRONLY | status)};
}

}  // namespace sbx::fs::pipe
