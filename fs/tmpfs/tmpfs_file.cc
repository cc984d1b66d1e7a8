// tmpfs regular-file data (Linux mm/shmem.c): sparse 64 KiB chunks of the sandbox's memory
// file, so MAP_SHARED mappings map the file's own pages and stay coherent with read/write.
//
// Invariants: `chunks_` maps chunk index -> memory-file offset of a kChunk-byte range owned by
// this file and charged to the filesystem; holes read as zeros; bytes of a present chunk at or
// past i_size are zero (truncate zeroes them), so growing the file exposes zeros.
// Shrinking (truncate, hole punch) is done in three steps so no mapping can outlive the pages
// it maps: (1) under mu_, detach the chunks and lower i_size (new faults past EOF now fail);
// (2) with no lock held, tell every registered MappingObserver to drop its mappings of the
// range (it takes its own lock, which is ordered before mu_); (3) free the detached chunks.
#include <algorithm>
#include <climits>
#include <cstring>

#include "fs/tmpfs/tmpfs.h"

namespace sbx::fs::tmpfs {

namespace {
constexpr uint64_t kPage = usermem::kPageSize;
constexpr uint64_t PageUpSat(uint64_t v) {
  return v > UINT64_MAX - (kPage - 1) ? UINT64_MAX & ~(kPage - 1) : (v + kPage - 1) & ~(kPage - 1);
}
}  // namespace

TmpfsFile::~TmpfsFile() {
  // No mapping can exist: every VMA holds a reference to an open description of this file.
  absl::MutexLock l(&mu_);
  std::vector<uint64_t> all;
  for (auto& [idx, off] : chunks_) all.push_back(off);
  chunks_.clear();
  FreeChunks(all);
}

void TmpfsFile::FreeChunks(const std::vector<uint64_t>& offs) {
  for (uint64_t off : offs) tfs_.memfile().Free(off, kChunk);
  if (!offs.empty()) (void)tfs_.Charge(-static_cast<int64_t>(offs.size() * kChunk));
}

Result<uint64_t> TmpfsFile::ChunkLocked(uint64_t index) {
  auto it = chunks_.find(index);
  if (it != chunks_.end()) return it->second;
  TRY(tfs_.Charge(static_cast<int64_t>(kChunk)));
  auto off = tfs_.memfile().Allocate(kChunk);
  if (!off.ok()) {
    (void)tfs_.Charge(-static_cast<int64_t>(kChunk));
    return off.error();
  }
  chunks_.emplace(index, *off);
  attr_.blocks = chunks_.size() * (kChunk / 512);
  return *off;
}

void TmpfsFile::DetachLocked(uint64_t from, uint64_t to, std::vector<uint64_t>* detached) {
  if (from >= to) return;
  // Whole chunks inside [from, to) leave the map; partial ones have the overlap zeroed.
  const uint64_t first_whole = from / kChunk + (from % kChunk != 0);
  const uint64_t end_whole = to == UINT64_MAX ? UINT64_MAX : to / kChunk;
  auto zero = [&](uint64_t idx, uint64_t lo, uint64_t hi) {
    auto it = chunks_.find(idx);
    if (it != chunks_.end()) std::memset(tfs_.memfile().Pointer(it->second) + lo, 0, hi - lo);
  };
  if (from % kChunk != 0) {
    uint64_t idx = from / kChunk;
    uint64_t hi = std::min<uint64_t>(kChunk, to - idx * kChunk);
    zero(idx, from % kChunk, hi);
  }
  if (to != UINT64_MAX && to % kChunk != 0 && to / kChunk >= first_whole) {
    zero(to / kChunk, 0, to % kChunk);
  }
  for (auto it = chunks_.lower_bound(first_whole);
       it != chunks_.end() && it->first < end_whole;) {
    detached->push_back(it->second);
    it = chunks_.erase(it);
  }
  attr_.blocks = chunks_.size() * (kChunk / 512);
}

void TmpfsFile::InvalidateMappings(uint64_t off, uint64_t len) {
  std::vector<std::shared_ptr<MappingObserver>> live;
  {
    absl::MutexLock l(&obs_mu_);
    for (auto it = observers_.begin(); it != observers_.end();) {
      if (auto o = it->lock()) {
        live.push_back(std::move(o));
        ++it;
      } else {
        it = observers_.erase(it);
      }
    }
  }
  for (auto& o : live) o->InvalidateMappings(this, off, len);
}

void TmpfsFile::AddMapping(std::weak_ptr<MappingObserver> o) {
  auto sp = o.lock();
  if (!sp) return;
  absl::MutexLock l(&obs_mu_);
  for (auto it = observers_.begin(); it != observers_.end();) {
    auto cur = it->lock();
    if (!cur) {
      it = observers_.erase(it);
      continue;
    }
    if (cur == sp) return;
    ++it;
  }
  observers_.push_back(std::move(o));
}

void TmpfsFile::RemoveMapping(const MappingObserver* o) {
  absl::MutexLock l(&obs_mu_);
  std::erase_if(observers_, [&](const std::weak_ptr<MappingObserver>& w) {
    auto cur = w.lock();
    return !cur || cur.get() == o;
  });
}

Result<SharedMappable::Run> TmpfsFile::MapPages(uint64_t file_off, uint64_t max_len) {
  if (file_off % kPage != 0 || max_len == 0 || max_len % kPage != 0) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  if (file_off >= attr_.size) return Errno::kEIO;  // past EOF: SIGBUS
  const uint64_t eof_page = PageUpSat(attr_.size);
  const uint64_t in = file_off % kChunk;
  const uint64_t off = TRY(ChunkLocked(file_off / kChunk));
  uint64_t len = std::min({max_len, kChunk - in, eof_page - file_off});
  return Run{off + in, len};
}

Result<void> TmpfsFile::Truncate(uint64_t size) {
  if (size > static_cast<uint64_t>(LLONG_MAX)) return Errno::kEFBIG;
  std::vector<uint64_t> detached;
  bool shrunk;
  {
    absl::MutexLock l(&mu_);
    shrunk = size < attr_.size;
    if (shrunk) DetachLocked(size, UINT64_MAX, &detached);
    attr_.size = size;
    TouchMCtime();
  }
  if (shrunk) {
    const uint64_t from = PageUpSat(size);
    InvalidateMappings(from, UINT64_MAX - from);
  }
  FreeChunks(detached);
  return Ok();
}

Result<void> TmpfsFile::PunchHole(uint64_t off, uint64_t len) {
  if (len == 0 || off > static_cast<uint64_t>(LLONG_MAX)) return Errno::kEINVAL;
  uint64_t end = off + len < off ? UINT64_MAX : off + len;
  std::vector<uint64_t> detached;
  {
    absl::MutexLock l(&mu_);
    end = std::min<uint64_t>(end, std::max<uint64_t>(attr_.size, off));
    DetachLocked(off, end, &detached);
    if (off < end) TouchMCtime();
  }
  // Zeroed partial chunks stay mapped (the mapping sees the zeros); detached ones must go.
  if (!detached.empty()) {
    const uint64_t lo = off / kChunk * kChunk;
    InvalidateMappings(lo, PageUpSat(end) - lo);
  }
  FreeChunks(detached);
  return Ok();
}

Result<void> TmpfsFile::AllocateRange(uint64_t off, uint64_t len, bool keep_size) {
  if (len == 0) return Errno::kEINVAL;
  if (off > static_cast<uint64_t>(LLONG_MAX) || len > static_cast<uint64_t>(LLONG_MAX) - off) {
    return Errno::kEFBIG;
  }
  absl::MutexLock l(&mu_);
  std::vector<uint64_t> fresh;  // chunk indices allocated here, undone on failure (shmem)
  for (uint64_t idx = off / kChunk; idx <= (off + len - 1) / kChunk; ++idx) {
    if (chunks_.count(idx)) continue;
    auto r = ChunkLocked(idx);
    if (!r.ok()) {
      std::vector<uint64_t> undo;
      for (uint64_t f : fresh) {
        undo.push_back(chunks_[f]);
        chunks_.erase(f);
      }
      attr_.blocks = chunks_.size() * (kChunk / 512);
      FreeChunks(undo);
      return r.error();
    }
    fresh.push_back(idx);
  }
  if (!keep_size && off + len > attr_.size) attr_.size = off + len;
  TouchMCtime();
  return Ok();
}

Result<size_t> TmpfsFile::ReadAt(std::span<std::byte> dst, int64_t off) {
  if (off < 0) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  uint64_t size = attr_.size;
  if (static_cast<uint64_t>(off) >= size) return size_t{0};
  size_t n = static_cast<size_t>(std::min<uint64_t>(dst.size(), size - off));
  size_t done = 0;
  while (done < n) {
    uint64_t pos = off + done;
    uint64_t in = pos % kChunk;
    size_t len = static_cast<size_t>(std::min<uint64_t>(n - done, kChunk - in));
    auto it = chunks_.find(pos / kChunk);
    if (it == chunks_.end()) {
      std::memset(dst.data() + done, 0, len);
    } else {
      std::memcpy(dst.data() + done, tfs_.memfile().Pointer(it->second + in), len);
    }
    done += len;
  }
  return n;
}

Result<size_t> TmpfsFile::WriteAt(std::span<const std::byte> src, int64_t off, bool append,
                                  int64_t* at) {
  absl::MutexLock l(&mu_);
  if (append) off = static_cast<int64_t>(attr_.size);
  if (off < 0) return Errno::kEINVAL;
  *at = off;
  if (src.empty()) return size_t{0};
  if (static_cast<uint64_t>(off) > static_cast<uint64_t>(LLONG_MAX) - src.size()) {
    return Errno::kEFBIG;
  }
  size_t done = 0;
  while (done < src.size()) {
    uint64_t pos = off + done;
    uint64_t in = pos % kChunk;
    size_t len = static_cast<size_t>(std::min<uint64_t>(src.size() - done, kChunk - in));
    auto chunk = ChunkLocked(pos / kChunk);
    if (!chunk.ok()) {
      if (done == 0) return chunk.error();
      break;
    }
    std::memcpy(tfs_.memfile().Pointer(*chunk + in), src.data() + done, len);
    done += len;
  }
  attr_.size = std::max<uint64_t>(attr_.size, off + done);
  TouchMCtime();
  return done;
}

}  // namespace sbx::fs::tmpfs
