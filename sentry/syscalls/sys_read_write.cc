// read, write, pread64, pwrite64, readv, writev, preadv, pwritev, preadv2, pwritev2, lseek
// (fs/read_write.c). Data moves through a bounce buffer of at most 1 MiB per step, so a huge
// count never allocates a huge buffer. Reads loop over steps only for regular files (a short
// read from a pipe or tty is returned as is, as Linux does); writes loop until a short write.
#include <algorithm>
#include <optional>
#include <vector>

#include "fs/blocking.h"
#include "sentry/abi/file.h"
#include "sentry/syscalls/file_util.h"
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {

namespace {

using usermem::IOVec;
using usermem::UserAddr;

constexpr uint32_t kRWF_HIPRI = 0x1;  // a polling hint: meaningless here, accepted

uint64_t TotalLen(const std::vector<IOVec>& iov) {
  uint64_t n = 0;
  for (const auto& v : iov) n += v.len;
  return n;
}

// Copies `src` into the iovecs starting `skip` bytes into them.
Result<size_t> ScatterOut(usermem::UserMemory& m, const std::vector<IOVec>& iov, uint64_t skip,
                          std::span<const std::byte> src) {
  size_t done = 0;
  for (const auto& v : iov) {
    if (done == src.size()) break;
    if (skip >= v.len) {
      skip -= v.len;
      continue;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(v.len - skip, src.size() - done));
    size_t c = TRY(m.CopyOutBytes(UserAddr(v.base + skip), src.subspan(done, n)));
    done += c;
    if (c < n) return done > 0 ? Result<size_t>(done) : Errno::kEFAULT;
    skip = 0;
  }
  return done;
}

// Copies bytes from the iovecs (starting `skip` bytes in) into `dst`.
Result<size_t> GatherIn(usermem::UserMemory& m, const std::vector<IOVec>& iov, uint64_t skip,
                        std::span<std::byte> dst) {
  size_t done = 0;
  for (const auto& v : iov) {
    if (done == dst.size()) break;
    if (skip >= v.len) {
      skip -= v.len;
      continue;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(v.len - skip, dst.size() - done));
    size_t c = TRY(m.CopyInBytes(UserAddr(v.base + skip), dst.subspan(done, n)));
    done += c;
    if (c < n) return done > 0 ? Result<size_t>(done) : Errno::kEFAULT;
    skip = 0;
  }
  return done;
}

bool IsRegular(fs::FileDescription& f) {
  auto a = f.Stat();
  return a.ok() && (a->mode & abi::kS_IFMT) == abi::kS_IFREG;
}

// Reads into the iovecs, at the description's offset or at `off`.
SyscallResult DoRead(Task& t, fs::FileDescription& f, const std::vector<IOVec>& iov,
                     std::optional<int64_t> off) {
  if (!f.readable() || (f.flags() & abi::kO_PATH)) return Errno::kEBADF;
  fs::ScopedInterruptible intr(&t);
  uint64_t total = std::min<uint64_t>(TotalLen(iov), usermem::kMaxRWCount);
  if (total == 0) {
    std::span<std::byte> none;
    TRY(off ? f.PRead(none, *off) : f.Read(none));
    return uint64_t{0};
  }
  std::vector<std::byte> buf(std::min<uint64_t>(total, kBounceSize));
  bool may_loop = total > buf.size() && IsRegular(f);
  uint64_t done = 0;
  while (done < total) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(total - done, buf.size()));
    std::span<std::byte> dst(buf.data(), want);
    auto n = off ? f.PRead(dst, *off + static_cast<int64_t>(done)) : f.Read(dst);
    if (!n.ok()) {
      if (done > 0) break;
      return n.error();
    }
    if (*n == 0) break;
    auto c = ScatterOut(t.mem(), iov, done, std::span<const std::byte>(buf.data(), *n));
    if (!c.ok()) return done > 0 ? SyscallResult(done) : c.error();
    done += *c;
    if (*c < *n || *n < want || !may_loop) break;
  }
  return done;
}

SyscallResult DoWrite(Task& t, fs::FileDescription& f, const std::vector<IOVec>& iov,
                      std::optional<int64_t> off) {
  if (!f.writable() || (f.flags() & abi::kO_PATH)) return Errno::kEBADF;
  fs::ScopedInterruptible intr(&t);
  uint64_t total = std::min<uint64_t>(TotalLen(iov), usermem::kMaxRWCount);
  if (total == 0) {
    std::span<const std::byte> none;
    TRY(off ? f.PWrite(none, *off) : f.Write(none));
    return uint64_t{0};
  }
  std::vector<std::byte> buf(std::min<uint64_t>(total, kBounceSize));
  uint64_t done = 0;
  while (done < total) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(total - done, buf.size()));
    auto got = GatherIn(t.mem(), iov, done, std::span<std::byte>(buf.data(), want));
    if (!got.ok()) return done > 0 ? SyscallResult(done) : got.error();
    std::span<const std::byte> src(buf.data(), *got);
    auto n = off ? f.PWrite(src, *off + static_cast<int64_t>(done)) : f.Write(src);
    if (!n.ok()) {
      // pipe_write(): writing with no reader sends SIGPIPE to the writer thread (SI_USER).
      if (n.error() == Errno::kEPIPE) {
        arch::Siginfo info;
        info.si_signo = 13;  // SIGPIPE
        info.si_code = arch::kSiUser;
        info.set_pid(t.tgid());
        info.set_uid(t.creds().ruid);
        (void)t.SendSignal(info, /*group=*/false);
      }
      if (done > 0) break;
      return n.error();
    }
    done += *n;
    if (*n < want) break;
  }
  return done;
}

std::vector<IOVec> OneVec(uint64_t base, uint64_t len) { return {IOVec{base, len}}; }

Result<std::vector<IOVec>> IOVecsArg(Task& t, const SyscallArgs& a) {
  return usermem::CopyInIOVecs(t.mem(), a.Addr(1), a.Long(2));
}

// The offset of preadv/pwritev: on x86-64 the low word holds the whole 64-bit offset.
int64_t PosArg(const SyscallArgs& a) { return a.Long(3); }

}  // namespace

SyscallResult SysRead(Task& t, const SyscallArgs& a) {
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  return DoRead(t, *f, OneVec(a.ULong(1), a.ULong(2)), std::nullopt);
}

SyscallResult SysWrite(Task& t, const SyscallArgs& a) {
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  return DoWrite(t, *f, OneVec(a.ULong(1), a.ULong(2)), std::nullopt);
}

SyscallResult SysPread64(Task& t, const SyscallArgs& a) {
  if (a.Long(3) < 0) return Errno::kEINVAL;
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  return DoRead(t, *f, OneVec(a.ULong(1), a.ULong(2)), a.Long(3));
}

SyscallResult SysPwrite64(Task& t, const SyscallArgs& a) {
  if (a.Long(3) < 0) return Errno::kEINVAL;
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  return DoWrite(t, *f, OneVec(a.ULong(1), a.ULong(2)), a.Long(3));
}

SyscallResult SysReadv(Task& t, const SyscallArgs& a) {
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  auto iov = TRY(IOVecsArg(t, a));
  return DoRead(t, *f, iov, std::nullopt);
}

SyscallResult SysWritev(Task& t, const SyscallArgs& a) {
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  auto iov = TRY(IOVecsArg(t, a));
  return DoWrite(t, *f, iov, std::nullopt);
}

SyscallResult SysPreadv(Task& t, const SyscallArgs& a) {
  if (PosArg(a) < 0) return Errno::kEINVAL;
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  auto iov = TRY(IOVecsArg(t, a));
  return DoRead(t, *f, iov, PosArg(a));
}

SyscallResult SysPwritev(Task& t, const SyscallArgs& a) {
  if (PosArg(a) < 0) return Errno::kEINVAL;
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  auto iov = TRY(IOVecsArg(t, a));
  return DoWrite(t, *f, iov, PosArg(a));
}

// preadv2/pwritev2: offset -1 means the current offset. RWF_HIPRI is a hint and accepted;
// every other RWF_* flag (DSYNC, SYNC, NOWAIT, APPEND, NOAPPEND, ATOMIC, ...) is EOPNOTSUPP.
SyscallResult SysPreadv2(Task& t, const SyscallArgs& a) {
  int64_t pos = PosArg(a);
  if (pos < -1) return Errno::kEINVAL;
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  if (a.UInt(5) & ~kRWF_HIPRI) return Errno::kEOPNOTSUPP;
  auto iov = TRY(IOVecsArg(t, a));
  return DoRead(t, *f, iov, pos == -1 ? std::nullopt : std::optional<int64_t>(pos));
}

SyscallResult SysPwritev2(Task& t, const SyscallArgs& a) {
  int64_t pos = PosArg(a);
  if (pos < -1) return Errno::kEINVAL;
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  if (a.UInt(5) & ~kRWF_HIPRI) return Errno::kEOPNOTSUPP;
  auto iov = TRY(IOVecsArg(t, a));
  return DoWrite(t, *f, iov, pos == -1 ? std::nullopt : std::optional<int64_t>(pos));
}

SyscallResult SysLseek(Task& t, const SyscallArgs& a) {
  auto f = TRY(t.fd_table().GetFile(a.Int(0)));
  uint32_t whence = a.UInt(2);
  if (whence > static_cast<uint32_t>(abi::kSEEK_HOLE)) return Errno::kEINVAL;
  int64_t r = TRY(f->Seek(a.Long(1), static_cast<int>(whence)));
  return static_cast<uint64_t>(r);
}

}  // namespace sbx::syscalls
