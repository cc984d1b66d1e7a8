// MemoryManager: MAP_SHARED mappings of a SharedMappable file (what tmpfs provides): the
// mapping uses the file's own memory-file pages, so it is coherent with the file's data; the
// MM never frees them (munmap, MADV_DONTNEED, teardown); truncation unmaps the pages past EOF
// in every mapping before the file frees them, and a later touch is SIGBUS.
#include <map>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "sentry/mm/mm_test_util.h"

namespace sbx::mm {
namespace {

using namespace sbx::mm::testing;  // NOLINT
namespace a = ::sbx::mm::abi;

constexpr int kRW = a::kProtRead | a::kProtWrite;

// A file whose pages live in the memory file, one page per allocation, following the
// truncate protocol of fs/tmpfs (detach, invalidate with no lock held, then free).
class FakeShared : public fs::SharedMappable {
 public:
  explicit FakeShared(MemoryFile& mf, uint64_t size) : mf_(mf), size_(size) {}
  ~FakeShared() override {
    for (auto& [i, off] : pages_) mf_.Free(off, kPg);
  }
  Result<Run> MapPages(uint64_t file_off, uint64_t max_len) override {
    absl::MutexLock l(&mu_);
    ++map_calls;
    if (file_off >= size_) return Errno::kEIO;
    return Run{TRY(PageLocked(file_off / kPg)), kPg};
  }
  void AddMapping(std::weak_ptr<fs::MappingObserver> o) override {
    absl::MutexLock l(&mu_);
    auto sp = o.lock();
    for (auto& w : observers_) {
      if (w.lock() == sp) return;
    }
    observers_.push_back(std::move(o));
  }
  void RemoveMapping(const fs::MappingObserver* o) override {}

  // The file's view of byte `off` (what read(2) would return), and write(2) of one byte.
  uint8_t Get(uint64_t off) {
    absl::MutexLock l(&mu_);
    auto it = pages_.find(off / kPg);
    return it == pages_.end() ? 0 : static_cast<uint8_t>(*mf_.Pointer(it->second + off % kPg));
  }
  void Set(uint64_t off, uint8_t v) {
    absl::MutexLock l(&mu_);
    *mf_.Pointer(V(PageLocked(off / kPg)) + off % kPg) = std::byte{v};
  }
  void Truncate(uint64_t size) {
    std::vector<uint64_t> detached;
    std::vector<std::weak_ptr<fs::MappingObserver>> obs;
    {
      absl::MutexLock l(&mu_);
      for (auto it = pages_.lower_bound((size + kPg - 1) / kPg); it != pages_.end();) {
        detached.push_back(it->second);
        it = pages_.erase(it);
      }
      size_ = size;
      obs = observers_;
    }
    uint64_t from = (size + kPg - 1) / kPg * kPg;
    for (auto& w : obs) {
      if (auto o = w.lock()) o->InvalidateMappings(this, from, UINT64_MAX - from);
    }
    for (uint64_t off : detached) mf_.Free(off, kPg);
  }
  uint64_t PageOff(uint64_t idx) {
    absl::MutexLock l(&mu_);
    auto it = pages_.find(idx);
    return it == pages_.end() ? UINT64_MAX : it->second;
  }
  size_t pages() {
    absl::MutexLock l(&mu_);
    return pages_.size();
  }
  int map_calls = 0;

 private:
  Result<uint64_t> PageLocked(uint64_t idx) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = pages_.find(idx);
    if (it != pages_.end()) return it->second;
    uint64_t off = TRY(mf_.Allocate(kPg));
    pages_[idx] = off;
    return off;
  }
  MemoryFile& mf_;
  absl::Mutex mu_;
  uint64_t size_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, uint64_t> pages_ ABSL_GUARDED_BY(mu_);
  std::vector<std::weak_ptr<fs::MappingObserver>> observers_ ABSL_GUARDED_BY(mu_);
};

// An open description of a FakeShared file.
class SharedFD : public fs::FileDescription {
 public:
  SharedFD(std::shared_ptr<FakeShared> f, uint32_t flags)
      : fs::FileDescription(nullptr, flags), f_(std::move(f)) {}
  Result<fs::Attr> Stat() override {
    fs::Attr at;
    at.mode = 0100644;
    at.size = size;
    return at;
  }
  Result<size_t> PRead(std::span<std::byte> dst, int64_t offset) override {
    for (size_t i = 0; i < dst.size(); ++i) dst[i] = std::byte{f_->Get(offset + i)};
    return dst.size();
  }
  bool Mappable() const override { return true; }
  fs::SharedMappable* shared_mappable() override { return f_.get(); }
  uint64_t size = 0;  // what Stat reports (kept in step with FakeShared by the tests)

 private:
  std::shared_ptr<FakeShared> f_;
};

class MMSharedFileTest : public MMFixture {
 protected:
  void SetUp() override {
    SetUpMM(1ull << 28);
    file_ = std::make_shared<FakeShared>(*mf_, 4 * kPg);
    rw_ = std::make_shared<SharedFD>(file_, /*O_RDWR*/ 2);
    rw_->size = 4 * kPg;
  }
  void TearDown() override {
    mm_.reset();
    rw_.reset();
    file_.reset();
    EXPECT_EQ(mf_->bytes_allocated(), 0u) << "every page went back to the memory file";
  }
  Result<UserAddr> MapR(uint64_t len, int prot, std::shared_ptr<fs::FileDescription> f,
                        uint64_t off = 0, int flags = a::kMapShared) {
    MMapOpts o;
    o.length = len;
    o.prot = prot;
    o.flags = flags;
    o.file = std::move(f);
    o.offset = off;
    return mm_->MMap(o);
  }
  uint64_t Map(uint64_t len, int prot, uint64_t off = 0) {
    return V(MapR(len, prot, rw_, off)).value();
  }

  std::shared_ptr<FakeShared> file_;
  std::shared_ptr<SharedFD> rw_;
};

TEST_F(MMSharedFileTest, WritesThroughTheMappingReachTheFileAndBack) {
  uint64_t p = Map(4 * kPg, kRW);
  ASSERT_EQ(Write(p + 10, 'm'), 0);
  EXPECT_EQ(file_->Get(10), 'm') << "read(2) sees the mapping's store";
  file_->Set(kPg + 5, 'f');
  EXPECT_EQ(ReadByte(p + kPg + 5), 'f') << "the mapping sees write(2)";
  // The guest page is the file's page itself: no copy.
  EXPECT_EQ(pt_->pages.at(p).off, file_->PageOff(0));
  EXPECT_EQ(pt_->pages.at(p + kPg).off, file_->PageOff(1));
  // Copy-in/out (syscall arguments in a shared mapping) use the same pages.
  const std::byte b{'c'};
  ASSERT_EQ(V(mm_->CopyOutBytes(UserAddr(p + 2 * kPg), std::span(&b, 1))), 1u);
  EXPECT_EQ(file_->Get(2 * kPg), 'c');
}

TEST_F(MMSharedFileTest, TwoMappingsShareData) {
  uint64_t p = Map(2 * kPg, kRW);
  uint64_t q = Map(kPg, kRW, kPg);  // file page 1 again
  ASSERT_EQ(Write(p + kPg + 7, 'x'), 0);
  EXPECT_EQ(ReadByte(q + 7), 'x');
  ASSERT_EQ(Write(q + 8, 'y'), 0);
  EXPECT_EQ(ReadByte(p + kPg + 8), 'y');
  EXPECT_EQ(pt_->pages.at(p + kPg).off, pt_->pages.at(q).off);
}

// A shared file mapping stays shared across Fork (the child faults in the file's own pages),
// a private one becomes copy-on-write; futexes in the shared one are keyed by the page.
TEST_F(MMSharedFileTest, ForkSharesFilePagesAndKeysFutexesByPage) {
  uint64_t p = Map(2 * kPg, kRW);
  uint64_t priv = V(MapR(kPg, kRW, rw_, 0, a::kMapPrivate)).value();
  ASSERT_EQ(Write(p + 16, 's'), 0);
  auto cpt = std::make_shared<PageTable>();
  auto child = V(mm_->Fork(std::make_unique<FakeAddressSpace>(cpt)));
  uint8_t v = 0;
  ASSERT_EQ(GuestRead(*child, *mf_, *cpt, p + 16, &v), 0);
  EXPECT_EQ(v, 's');
  ASSERT_EQ(GuestWrite(*child, *mf_, *cpt, p + 17, 'c'), 0);
  EXPECT_EQ(ReadByte(p + 17), 'c');
  EXPECT_EQ(cpt->pages.at(p).off, pt_->pages.at(p).off);
  ASSERT_EQ(GuestWrite(*child, *mf_, *cpt, priv + 16, 'P'), 0);
  EXPECT_EQ(ReadByte(priv + 16), 's');  // the private snapshot taken at the parent's fault
  auto k1 = V(mm_->FutexKey(UserAddr(p + kPg + 4)));
  auto k2 = V(child->FutexKey(UserAddr(p + kPg + 4)));
  EXPECT_TRUE(k1.shared_object);
  EXPECT_EQ(k1.mf_off, k2.mf_off);
  EXPECT_FALSE(V(child->FutexKey(UserAddr(priv))).shared_object);
  // Truncation reaches the child's mappings too (it registered when it faulted them in).
  rw_->size = 0;
  file_->Truncate(0);
  EXPECT_EQ(cpt->pages.count(p), 0u);
  EXPECT_EQ(GuestRead(*child, *mf_, *cpt, p, &v), a::kBusAdrErr);
  child.reset();
}

TEST_F(MMSharedFileTest, MunmapAndDontNeedKeepFileData) {
  uint64_t p = Map(2 * kPg, kRW);
  ASSERT_EQ(Write(p, 'k'), 0);
  ASSERT_EQ(Write(p + kPg, 'l'), 0);
  const uint64_t allocated = mf_->bytes_allocated();
  ASSERT_TRUE(mm_->MAdvise(UserAddr(p), kPg, a::kMadvDontNeed).ok());
  EXPECT_EQ(pt_->pages.count(p), 0u);
  EXPECT_EQ(mf_->bytes_allocated(), allocated) << "DONTNEED must not free file pages";
  EXPECT_EQ(ReadByte(p), 'k') << "the data stays in the file";
  ASSERT_TRUE(mm_->MUnmap(UserAddr(p), 2 * kPg).ok());
  EXPECT_EQ(mf_->bytes_allocated(), allocated) << "munmap must not free file pages";
  EXPECT_EQ(file_->Get(0), 'k');
  EXPECT_EQ(file_->Get(kPg), 'l');
  uint64_t q = Map(2 * kPg, kRW);
  EXPECT_EQ(ReadByte(q + kPg), 'l');
}

TEST_F(MMSharedFileTest, TruncateUnmapsPagesPastEofAndTheyFaultSigbus) {
  uint64_t p = Map(4 * kPg, kRW);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Write(p + i * kPg, 'a' + i), 0);
  ASSERT_EQ(pt_->pages.size(), 4u);
  const uint64_t before = mf_->bytes_allocated();
  rw_->size = kPg + 1;
  file_->Truncate(kPg + 1);
  EXPECT_EQ(pt_->pages.count(p), 1u) << "pages below EOF stay mapped";
  EXPECT_EQ(pt_->pages.count(p + kPg), 1u) << "the page holding EOF stays mapped";
  EXPECT_EQ(pt_->pages.count(p + 2 * kPg), 0u);
  EXPECT_EQ(pt_->pages.count(p + 3 * kPg), 0u);
  EXPECT_EQ(mf_->bytes_allocated(), before - 2 * kPg) << "the file freed its pages";
  EXPECT_EQ(ReadByte(p + kPg), 'b');
  Errno e{};
  uint8_t v;
  EXPECT_EQ(Read(p + 2 * kPg, &v, &e), a::kBusAdrErr);
  EXPECT_EQ(e, Errno::kEIO);
  EXPECT_EQ(Write(p + 3 * kPg, 'z', &e), a::kBusAdrErr);
  // Growing again exposes zero pages, not the old data.
  rw_->size = 4 * kPg;
  file_->Truncate(4 * kPg);
  EXPECT_EQ(ReadByte(p + 3 * kPg), 0);
  // A copy-out past EOF fails like a guest access would.
  rw_->size = kPg;
  file_->Truncate(kPg);
  const std::byte b{'q'};
  EXPECT_EQ(mm_->CopyOutBytes(UserAddr(p + 2 * kPg), std::span(&b, 1)).error(), Errno::kEFAULT);
}

TEST_F(MMSharedFileTest, TruncateReachesEveryAddressSpace) {
  auto pt2 = std::make_shared<PageTable>();
  auto mm2 = std::make_unique<MemoryManager>(*mf_, std::make_unique<FakeAddressSpace>(pt2),
                                             kMinAddr, kMaxAddr);
  uint64_t p = Map(2 * kPg, kRW);
  MMapOpts o;
  o.length = 2 * kPg;
  o.prot = kRW;
  o.flags = a::kMapShared;
  o.file = rw_;
  uint64_t q = V(mm2->MMap(o)).value();
  ASSERT_EQ(Write(p + kPg, 'A'), 0);
  uint8_t v = 0;
  ASSERT_EQ(GuestRead(*mm2, *mf_, *pt2, q + kPg, &v), 0);
  EXPECT_EQ(v, 'A') << "two address spaces share the file's page";
  rw_->size = kPg;
  file_->Truncate(kPg);
  EXPECT_EQ(pt_->pages.count(p + kPg), 0u);
  EXPECT_EQ(pt2->pages.count(q + kPg), 0u);
  // An MM that is gone is no longer told (and must not be touched).
  mm2.reset();
  rw_->size = 0;
  file_->Truncate(0);
  EXPECT_EQ(pt_->pages.count(p), 0u);
}

TEST_F(MMSharedFileTest, ProtectionFollowsTheFd) {
  auto ro = std::make_shared<SharedFD>(file_, /*O_RDONLY*/ 0);
  ro->size = 4 * kPg;
  uint64_t r = V(MapR(kPg, a::kProtRead, ro)).value();
  EXPECT_EQ(mm_->MProtect(UserAddr(r), kPg, kRW).error(), Errno::kEACCES)
      << "VM_MAYWRITE needs a writable fd";
  uint64_t p = Map(kPg, a::kProtRead);
  EXPECT_TRUE(mm_->MProtect(UserAddr(p), kPg, kRW).ok());
  ASSERT_EQ(Write(p, 'w'), 0);
  EXPECT_EQ(file_->Get(0), 'w');
  EXPECT_EQ(ReadByte(r), 'w');
  ASSERT_TRUE(mm_->MProtect(UserAddr(p), kPg, a::kProtRead).ok());
  EXPECT_EQ(Write(p, 'x'), a::kSegvAccErr);
  EXPECT_EQ(file_->Get(0), 'w');
}

TEST_F(MMSharedFileTest, PrivateMappingIsACopy) {
  file_->Set(0, 'o');
  uint64_t p = V(MapR(kPg, kRW, rw_, 0, a::kMapPrivate)).value();
  ASSERT_EQ(Write(p, 'p'), 0);
  EXPECT_EQ(file_->Get(0), 'o') << "MAP_PRIVATE stores never reach the file";
}

TEST_F(MMSharedFileTest, MremapKeepsTheFilePages) {
  uint64_t p = Map(kPg, kRW);
  ASSERT_EQ(Write(p, 'r'), 0);
  uint64_t q = V(mm_->MRemap(UserAddr(p), kPg, 3 * kPg, a::kMremapMayMove, UserAddr(0))).value();
  EXPECT_EQ(ReadByte(q), 'r');
  ASSERT_EQ(Write(q + 2 * kPg, 's'), 0);
  EXPECT_EQ(file_->Get(2 * kPg), 's');
}

TEST_F(MMSharedFileTest, PastEofAtMapTimeIsSigbus) {
  uint64_t p = Map(8 * kPg, kRW);  // the file has 4 pages
  Errno e{};
  uint8_t v;
  EXPECT_EQ(Read(p + 5 * kPg, &v, &e), a::kBusAdrErr);
  EXPECT_EQ(ReadByte(p + 3 * kPg), 0);
  EXPECT_LE(file_->pages(), 4u) << "fault-around stops at EOF";
}

}  // namespace
}  // namespace sbx::mm
