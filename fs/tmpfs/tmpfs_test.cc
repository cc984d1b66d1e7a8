// tmpfs file data in the memory file: read/write, holes, truncate, hole punch, fallocate,
// ENOSPC, pages returned to the memory file, and the SharedMappable side (MapPages, EOF,
// invalidation of observers before pages are freed).
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/tmpfs/tmpfs.h"

namespace sbx::fs::tmpfs {
namespace {

constexpr uint64_t kChunk = TmpfsFile::kChunk;
constexpr uint64_t kPg = 4096;

template <typename T>
T V(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << "unexpected error " << ErrnoName(r.error());
    return T{};
  }
  return std::move(r).value();
}

// Records invalidations and checks, at the time of the call, that the pages are still
// allocated (the file must invalidate before it frees).
class Recorder : public MappingObserver {
 public:
  explicit Recorder(mm::MemoryFile& mf) : mf_(mf) {}
  void InvalidateMappings(const SharedMappable* src, uint64_t off, uint64_t len) override {
    calls.push_back({off, len});
    allocated_at_call.push_back(mf_.bytes_allocated());
  }
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  std::vector<uint64_t> allocated_at_call;

 private:
  mm::MemoryFile& mf_;
};

class TmpfsDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mf_ = std::move(mm::MemoryFile::Create(64ull << 20)).value();
    fs_ = std::make_shared<TmpfsFilesystem>(1, 1 << 20, "tmpfs", mf_.get());
    file_ = std::make_shared<TmpfsFile>(*fs_, 0100644, 0, 0);
  }
  size_t Write(const std::string& s, int64_t off) {
    int64_t at;
    return V(file_->WriteAt(std::as_bytes(std::span(s.data(), s.size())), off, false, &at));
  }
  std::string Read(int64_t off, size_t n) {
    std::string s(n, '?');
    size_t got = V(file_->ReadAt(std::as_writable_bytes(std::span(s.data(), s.size())), off));
    s.resize(got);
    return s;
  }

  std::unique_ptr<mm::MemoryFile> mf_;
  std::shared_ptr<TmpfsFilesystem> fs_;
  std::shared_ptr<TmpfsFile> file_;
};

TEST_F(TmpfsDataTest, DataLivesInTheMemoryFile) {
  EXPECT_EQ(mf_->bytes_allocated(), 0u);
  EXPECT_EQ(Write("hello", 3), 5u);
  EXPECT_EQ(mf_->bytes_allocated(), kChunk);
  EXPECT_EQ(fs_->used_bytes(), kChunk);
  EXPECT_EQ(Read(0, 100), std::string("\0\0\0hello", 8));
  // The mapped page is where write(2) put the bytes.
  auto run = V(file_->MapPages(0, kPg));
  EXPECT_EQ(run.len, kPg);
  EXPECT_EQ(std::memcmp(mf_->Pointer(run.mf_off) + 3, "hello", 5), 0);
  // And a store through it is what read(2) returns.
  std::memcpy(mf_->Pointer(run.mf_off), "XY", 2);
  EXPECT_EQ(Read(0, 8), std::string("XY\0hello", 8));
}

TEST_F(TmpfsDataTest, HolesReadAsZerosAndCostNothing) {
  EXPECT_EQ(Write("end", 5 * kChunk), 3u);
  EXPECT_EQ(mf_->bytes_allocated(), kChunk) << "only the written chunk is allocated";
  EXPECT_EQ(file_->size(), 5 * kChunk + 3);
  EXPECT_EQ(Read(kChunk, 4), std::string(4, '\0'));
  EXPECT_EQ(Read(5 * kChunk - 2, 10), std::string("\0\0end", 5));
  EXPECT_EQ(V(file_->Stat()).blocks, kChunk / 512);
}

TEST_F(TmpfsDataTest, TruncateZeroesTheTailAndReturnsPages) {
  Write(std::string(3 * kChunk, 'a'), 0);
  EXPECT_EQ(mf_->bytes_allocated(), 3 * kChunk);
  ASSERT_TRUE(file_->Truncate(kChunk + 10).ok());
  EXPECT_EQ(mf_->bytes_allocated(), 2 * kChunk);
  EXPECT_EQ(fs_->used_bytes(), 2 * kChunk);
  ASSERT_TRUE(file_->Truncate(3 * kChunk).ok());
  EXPECT_EQ(Read(kChunk + 8, 4), std::string("aa\0\0", 4)) << "truncate zeroed the tail";
  EXPECT_EQ(Read(2 * kChunk + 5, 2), std::string(2, '\0'));
  ASSERT_TRUE(file_->Truncate(0).ok());
  EXPECT_EQ(mf_->bytes_allocated(), 0u);
  EXPECT_EQ(fs_->used_bytes(), 0u);
}

TEST_F(TmpfsDataTest, LastReferenceFreesEverything) {
  Write(std::string(2 * kChunk + 1, 'z'), 0);
  EXPECT_EQ(mf_->bytes_allocated(), 3 * kChunk);
  file_.reset();  // unlinked and closed
  EXPECT_EQ(mf_->bytes_allocated(), 0u);
  EXPECT_EQ(fs_->used_bytes(), 0u);
}

TEST_F(TmpfsDataTest, EnospcAtTheLimitKeepsAccounting) {
  // 1 MiB limit = 16 chunks.
  EXPECT_EQ(Write(std::string(20 * kChunk, 'x'), 0), 16 * kChunk) << "short write at ENOSPC";
  int64_t at;
  std::string one = "y";
  EXPECT_EQ(file_->WriteAt(std::as_bytes(std::span(one.data(), 1)), 16 * kChunk, false, &at)
                .error(),
            Errno::kENOSPC);
  EXPECT_EQ(file_->AllocateRange(20 * kChunk, kChunk, false).error(), Errno::kENOSPC);
  EXPECT_EQ(file_->size(), 16 * kChunk) << "a failed fallocate does not extend the file";
  ASSERT_TRUE(file_->Truncate(0).ok());
  EXPECT_EQ(mf_->bytes_allocated(), 0u);
}

TEST_F(TmpfsDataTest, AllocateRangeAndPunchHole) {
  ASSERT_TRUE(file_->AllocateRange(kChunk / 2, 2 * kChunk, /*keep_size=*/true).ok());
  EXPECT_EQ(file_->size(), 0u);
  EXPECT_EQ(mf_->bytes_allocated(), 3 * kChunk);
  ASSERT_TRUE(file_->AllocateRange(0, 10, /*keep_size=*/false).ok());
  EXPECT_EQ(file_->size(), 10u);
  Write(std::string(4 * kChunk, 'p'), 0);
  EXPECT_EQ(mf_->bytes_allocated(), 4 * kChunk);
  // Punch [100, 2*kChunk + 100): chunk 1 is freed, chunks 0 and 2 are zeroed in part.
  ASSERT_TRUE(file_->PunchHole(100, 2 * kChunk).ok());
  EXPECT_EQ(mf_->bytes_allocated(), 3 * kChunk);
  EXPECT_EQ(file_->size(), 4 * kChunk);
  EXPECT_EQ(Read(98, 4), std::string("pp\0\0", 4));
  EXPECT_EQ(Read(kChunk + 7, 1), std::string(1, '\0'));
  EXPECT_EQ(Read(2 * kChunk + 98, 4), std::string("\0\0pp", 4));
}

TEST_F(TmpfsDataTest, MapPagesStopsAtEof) {
  Write("abc", 0);
  EXPECT_EQ(file_->MapPages(kPg, kPg).error(), Errno::kEIO) << "page wholly past EOF";
  auto run = V(file_->MapPages(0, 16 * kPg));
  EXPECT_EQ(run.len, kPg) << "clipped to the page holding EOF";
  ASSERT_TRUE(file_->Truncate(3 * kChunk).ok());
  run = V(file_->MapPages(kChunk - kPg, 8 * kPg));
  EXPECT_EQ(run.len, kPg) << "clipped to the chunk";
  run = V(file_->MapPages(2 * kChunk, 64 * kPg));
  EXPECT_EQ(run.len, kChunk) << "a hole below EOF gets a zero chunk";
  EXPECT_EQ(mf_->bytes_allocated(), 2 * kChunk) << "chunk 1 is still a hole";
  EXPECT_EQ(*mf_->Pointer(run.mf_off + 100), std::byte{0});
}

TEST_F(TmpfsDataTest, ShrinkingInvalidatesObserversBeforeFreeing) {
  auto rec = std::make_shared<Recorder>(*mf_);
  file_->AddMapping(rec);
  file_->AddMapping(rec);  // idempotent
  Write(std::string(3 * kChunk, 'q'), 0);
  ASSERT_TRUE(file_->Truncate(4 * kChunk).ok());
  EXPECT_TRUE(rec->calls.empty()) << "growing invalidates nothing";
  ASSERT_TRUE(file_->Truncate(kChunk + 1).ok());
  ASSERT_EQ(rec->calls.size(), 1u);
  EXPECT_EQ(rec->calls[0].first, kChunk + kPg) << "from the first page wholly past EOF";
  EXPECT_EQ(rec->calls[0].first + rec->calls[0].second, UINT64_MAX);
  EXPECT_EQ(rec->allocated_at_call[0], 3 * kChunk) << "pages still allocated during the call";
  EXPECT_EQ(mf_->bytes_allocated(), 2 * kChunk);
  ASSERT_TRUE(file_->PunchHole(0, kChunk).ok());
  ASSERT_EQ(rec->calls.size(), 2u);
  EXPECT_EQ(rec->calls[1], std::make_pair(uint64_t{0}, kChunk));
  EXPECT_EQ(rec->allocated_at_call[1], 2 * kChunk);
  EXPECT_EQ(mf_->bytes_allocated(), kChunk);
  // Removed and expired observers are not called.
  file_->RemoveMapping(rec.get());
  ASSERT_TRUE(file_->Truncate(0).ok());
  EXPECT_EQ(rec->calls.size(), 2u);
  auto gone = std::make_shared<Recorder>(*mf_);
  file_->AddMapping(gone);
  gone.reset();
  Write("x", 0);
  ASSERT_TRUE(file_->Truncate(0).ok());
}

TEST(TmpfsOwnMemoryFileTest, WorksWithoutASandboxMemoryFile) {
  auto fs = std::make_shared<TmpfsFilesystem>(1, 1 << 20);
  auto f = std::make_shared<TmpfsFile>(*fs, 0100644, 0, 0);
  int64_t at;
  std::string s = "data";
  EXPECT_EQ(V(f->WriteAt(std::as_bytes(std::span(s.data(), s.size())), 70000, false, &at)), 4u);
  EXPECT_EQ(fs->memfile().bytes_allocated(), kChunk);
  std::string out(4, '?');
  EXPECT_EQ(V(f->ReadAt(std::as_writable_bytes(std::span(out.data(), 4)), 70000)), 4u);
  EXPECT_EQ(out, "data");
}

}  // namespace
}  // namespace sbx::fs::tmpfs
