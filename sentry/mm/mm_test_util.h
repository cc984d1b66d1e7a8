// Test doubles for MemoryManager tests: an AddressSpace that records MapFile/Unmap and
// simulates the guest's page table, a guest that touches memory through it (faulting like the
// ptrace platform would), and an in-memory mappable file.
#pragma once

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fs/file.h"
#include "sentry/mm/mm.h"
#include "sentry/mm/mman_abi.h"

namespace sbx::mm::testing {

// The value of an expected-successful Result (test failure and T{} otherwise).
template <typename T>
T V(Result<T> r) {
  if (!r.ok()) {
    ADD_FAILURE() << "unexpected error " << ErrnoName(r.error());
    return T{};
  }
  return std::move(r).value();
}

inline constexpr uint64_t kPg = usermem::kPageSize;
inline constexpr uint64_t kMinAddr = 0x10000;
inline constexpr uint64_t kMaxAddr = 0x7ffffffff000;

struct PageTable {
  struct Entry {
    uint64_t off;
    platform::Prot prot;
  };
  std::map<uint64_t, Entry> pages;  // guest page -> memory-file page
  int map_calls = 0, unmap_calls = 0;
  bool released = false;
};

class FakeAddressSpace : public platform::AddressSpace {
 public:
  explicit FakeAddressSpace(std::shared_ptr<PageTable> pt) : pt_(std::move(pt)) {}
  Result<void> MapFile(UserAddr addr, uint64_t len, uint64_t off, platform::Prot prot) override {
    if (pt_->released || addr.value() % kPg || len % kPg || off % kPg || len == 0) {
      return Errno::kEINVAL;
    }
    ++pt_->map_calls;
    for (uint64_t i = 0; i < len; i += kPg) pt_->pages[addr.value() + i] = {off + i, prot};
    return Ok();
  }
  Result<void> Unmap(UserAddr addr, uint64_t len) override {
    if (pt_->released || addr.value() % kPg || len % kPg) return Errno::kEINVAL;
    ++pt_->unmap_calls;
    auto it = pt_->pages.lower_bound(addr.value());
    while (it != pt_->pages.end() && it->first < addr.value() + len) it = pt_->pages.erase(it);
    return Ok();
  }
  void Release() override { pt_->released = true; }

 private:
  std::shared_ptr<PageTable> pt_;
};

// Simulates one guest access to `addr` as the hardware + kernel fault loop would. Returns 0 on
// success, or the si_code of the fatal fault (plus the errno in *err).
inline int GuestAccess(MemoryManager& mm, MemoryFile& mf, PageTable& pt, uint64_t addr,
                       bool write, uint8_t* val, Errno* err = nullptr) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    auto it = pt.pages.find(addr & ~(kPg - 1));
    int host_code = abi::kSegvMapErr;
    if (it != pt.pages.end()) {
      bool ok = write ? it->second.prot.write
                      : (it->second.prot.read || it->second.prot.write || it->second.prot.exec);
      std::byte* p = mf.Pointer(it->second.off) + (addr & (kPg - 1));
      if (ok) {
        if (write) {
          std::memcpy(p, val, 1);
        } else {
          std::memcpy(val, p, 1);
        }
        return 0;
      }
      host_code = abi::kSegvAccErr;
    }
    int si_code = -1;
    auto r = mm.HandleFault(UserAddr(addr), host_code, &si_code);
    if (!r.ok()) {
      if (err) *err = r.error();
      return si_code;
    }
  }
  return -100;  // fault loop: a bug
}

inline int GuestWrite(MemoryManager& mm, MemoryFile& mf, PageTable& pt, uint64_t addr,
                      uint8_t v, Errno* err = nullptr) {
  return GuestAccess(mm, mf, pt, addr, true, &v, err);
}
inline int GuestRead(MemoryManager& mm, MemoryFile& mf, PageTable& pt, uint64_t addr,
                     uint8_t* v, Errno* err = nullptr) {
  return GuestAccess(mm, mf, pt, addr, false, v, err);
}

// A regular file held in memory.
class FakeFile : public fs::FileDescription {
 public:
  FakeFile(std::string data, uint32_t flags = 0 /*O_RDONLY*/)
      : fs::FileDescription(nullptr, flags), data_(std::move(data)) {}
  Result<size_t> PRead(std::span<std::byte> dst, int64_t offset) override {
    ++preads;
    if (offset < 0) return Errno::kEINVAL;
    if (static_cast<uint64_t>(offset) >= data_.size()) return size_t{0};
    size_t n = std::min<uint64_t>(dst.size(), data_.size() - offset);
    std::memcpy(dst.data(), data_.data() + offset, n);
    return n;
  }
  Result<fs::Attr> Stat() override {
    fs::Attr a;
    a.size = data_.size();
    a.mode = 0100644;
    a.ino = 42;
    return a;
  }
  bool Mappable() const override { return true; }
  int preads = 0;
  std::string data_;
};

// A MemoryManager over a FakeAddressSpace, with byte-level guest access helpers: the common
// base of the MemoryManager unit-test fixtures.
class MMFixture : public ::testing::Test {
 protected:
  void SetUp() override { SetUpMM(1ull << 30); }
  void SetUpMM(uint64_t memfile_bytes) {
    mf_ = std::move(MemoryFile::Create(memfile_bytes)).value();
    pt_ = std::make_shared<PageTable>();
    mm_ = std::make_unique<MemoryManager>(*mf_, std::make_unique<FakeAddressSpace>(pt_),
                                          kMinAddr, kMaxAddr);
  }
  int Write(uint64_t addr, uint8_t v, Errno* e = nullptr) {
    return GuestWrite(*mm_, *mf_, *pt_, addr, v, e);
  }
  int Read(uint64_t addr, uint8_t* v, Errno* e = nullptr) {
    return GuestRead(*mm_, *mf_, *pt_, addr, v, e);
  }
  uint8_t ReadByte(uint64_t addr) {
    uint8_t v = 0xee;
    EXPECT_EQ(Read(addr, &v), 0) << std::hex << addr;
    return v;
  }

  std::unique_ptr<MemoryFile> mf_;
  std::shared_ptr<PageTable> pt_;
  std::unique_ptr<MemoryManager> mm_;
};

}  // namespace sbx::mm::testing
