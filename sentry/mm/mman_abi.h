// Linux x86-64 <uapi/asm-generic/mman*.h> constants used by mmap, mprotect, mremap, madvise,
// msync, mincore and mlock. Defined here (not taken from host libc) because they are guest ABI.
#pragma once

#include <cstdint>

namespace sbx::mm::abi {

inline constexpr int kProtNone = 0x0, kProtRead = 0x1, kProtWrite = 0x2, kProtExec = 0x4;
inline constexpr int kProtSem = 0x8;
inline constexpr int kProtGrowsDown = 0x01000000, kProtGrowsUp = 0x02000000;

inline constexpr int kMapShared = 0x01, kMapPrivate = 0x02, kMapSharedValidate = 0x03;
inline constexpr int kMapType = 0x0f;
inline constexpr int kMapFixed = 0x10, kMapAnonymous = 0x20, kMap32Bit = 0x40;
inline constexpr int kMapGrowsDown = 0x100, kMapDenyWrite = 0x800, kMapExecutable = 0x1000;
inline constexpr int kMapLocked = 0x2000, kMapNoReserve = 0x4000, kMapPopulate = 0x8000;
inline constexpr int kMapNonBlock = 0x10000, kMapStack = 0x20000, kMapHugeTLB = 0x40000;
inline constexpr int kMapSync = 0x80000, kMapFixedNoReplace = 0x100000;
inline constexpr int kMapUninitialized = 0x4000000;
inline constexpr int kMapHugeShift = 26, kMapHugeMask = 0x3f;
// Flags MAP_SHARED_VALIDATE accepts (LEGACY_MAP_MASK | MAP_SYNC; Linux mm/mmap.c).
inline constexpr int kLegacyMapMask = kMapShared | kMapPrivate | kMapFixed | kMapAnonymous |
                                      kMapDenyWrite | kMapExecutable | kMapUninitialized |
                                      kMapGrowsDown | kMapLocked | kMapNoReserve |
                                      kMapPopulate | kMapNonBlock | kMapStack | kMapHugeTLB;

inline constexpr int kMremapMayMove = 1, kMremapFixed = 2, kMremapDontUnmap = 4;

inline constexpr int kMsAsync = 1, kMsInvalidate = 2, kMsSync = 4;

inline constexpr int kMadvNormal = 0, kMadvRandom = 1, kMadvSequential = 2,
                     kMadvWillNeed = 3, kMadvDontNeed = 4, kMadvFree = 8, kMadvRemove = 9,
                     kMadvDontFork = 10, kMadvDoFork = 11, kMadvMergeable = 12,
                     kMadvUnmergeable = 13, kMadvHugePage = 14, kMadvNoHugePage = 15,
                     kMadvDontDump = 16, kMadvDoDump = 17, kMadvWipeOnFork = 18,
                     kMadvKeepOnFork = 19, kMadvCold = 20, kMadvPageOut = 21,
                     kMadvPopulateRead = 22, kMadvPopulateWrite = 23,
                     kMadvDontNeedLocked = 24, kMadvCollapse = 25,
                     kMadvHwPoison = 100, kMadvSoftOffline = 101;

inline constexpr int kMlockOnFault = 1;  // mlock2 flag

// si_code values the MemoryManager reports from HandleFault.
inline constexpr int kSegvMapErr = 1, kSegvAccErr = 2, kBusAdrErr = 2;

}  // namespace sbx::mm::abi
