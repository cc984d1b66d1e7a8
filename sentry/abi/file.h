// Kernel ABI for file syscalls (x86-64): open flags, AT_* flags, struct stat / statx /
// linux_dirent64 / statfs, and the tty ioctl structs. Defined here, never taken from libc,
// because libc's layouts differ from the kernel's (e.g. glibc's termios is 60 bytes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sbx::abi {

// open(2) flags (include/uapi/asm-generic/fcntl.h, x86-64 values).
inline constexpr uint32_t kO_ACCMODE = 03, kO_RDONLY = 0, kO_WRONLY = 01, kO_RDWR = 02;
inline constexpr uint32_t kO_CREAT = 0100, kO_EXCL = 0200, kO_NOCTTY = 0400, kO_TRUNC = 01000;
inline constexpr uint32_t kO_APPEND = 02000, kO_NONBLOCK = 04000, kO_DSYNC = 010000;
inline constexpr uint32_t kO_ASYNC = 020000, kO_DIRECT = 040000, kO_LARGEFILE = 0100000;
inline constexpr uint32_t kO_DIRECTORY = 0200000, kO_NOFOLLOW = 0400000, kO_NOATIME = 01000000;
inline constexpr uint32_t kO_CLOEXEC = 02000000, kO_SYNC = 04010000, kO_PATH = 010000000;
inline constexpr uint32_t kO_TMPFILE_BIT = 020000000;  // __O_TMPFILE

inline constexpr int kAT_FDCWD = -100;
inline constexpr uint32_t kAT_SYMLINK_NOFOLLOW = 0x100, kAT_REMOVEDIR = 0x200;
inline constexpr uint32_t kAT_EACCESS = 0x200, kAT_SYMLINK_FOLLOW = 0x400;
inline constexpr uint32_t kAT_NO_AUTOMOUNT = 0x800, kAT_EMPTY_PATH = 0x1000;
inline constexpr uint32_t kAT_STATX_SYNC_TYPE = 0x6000;

// File type bits of st_mode.
inline constexpr uint32_t kS_IFMT = 0170000, kS_IFSOCK = 0140000, kS_IFLNK = 0120000;
inline constexpr uint32_t kS_IFREG = 0100000, kS_IFBLK = 060000, kS_IFDIR = 040000;
inline constexpr uint32_t kS_IFCHR = 020000, kS_IFIFO = 010000;
inline constexpr uint32_t kS_ISUID = 04000, kS_ISGID = 02000, kS_ISVTX = 01000;

// d_type values.
inline constexpr uint8_t kDT_UNKNOWN = 0, kDT_FIFO = 1, kDT_CHR = 2, kDT_DIR = 4, kDT_BLK = 6;
inline constexpr uint8_t kDT_REG = 8, kDT_LNK = 10, kDT_SOCK = 12;
constexpr uint8_t ModeToDType(uint32_t mode) { return static_cast<uint8_t>((mode >> 12) & 15); }

// Linux dev_t encoding (new_encode_dev / huge_encode_dev as seen by userspace).
constexpr uint64_t MakeDev(uint32_t major, uint32_t minor) {
  return (static_cast<uint64_t>(minor) & 0xff) | ((static_cast<uint64_t>(major) & 0xfff) << 8) |
         ((static_cast<uint64_t>(minor) & ~0xffull) << 12) |
         ((static_cast<uint64_t>(major) & ~0xfffull) << 32);
}
constexpr uint32_t DevMajor(uint64_t d) { return ((d >> 8) & 0xfff) | ((d >> 32) & ~0xfffu); }
constexpr uint32_t DevMinor(uint64_t d) { return (d & 0xff) | ((d >> 12) & ~0xffu); }

// struct stat (arch/x86/include/uapi/asm/stat.h, x86-64).
struct Stat {
  uint64_t st_dev;
  uint64_t st_ino;
  uint64_t st_nlink;
  uint32_t st_mode;
  uint32_t st_uid;
  uint32_t st_gid;
  uint32_t pad0;
  uint64_t st_rdev;
  int64_t st_size;
  int64_t st_blksize;
  int64_t st_blocks;
  int64_t st_atime_sec;
  uint64_t st_atime_nsec;
  int64_t st_mtime_sec;
  uint64_t st_mtime_nsec;
  int64_t st_ctime_sec;
  uint64_t st_ctime_nsec;
  int64_t unused[3];
};
static_assert(sizeof(Stat) == 144);
static_assert(offsetof(Stat, st_mode) == 24 && offsetof(Stat, st_rdev) == 40);
static_assert(offsetof(Stat, st_size) == 48 && offsetof(Stat, st_atime_sec) == 72);

struct StatxTimestamp {
  int64_t tv_sec;
  uint32_t tv_nsec;
  int32_t reserved;
};
static_assert(sizeof(StatxTimestamp) == 16);

// struct statx (include/uapi/linux/stat.h).
struct Statx {
  uint32_t stx_mask;
  uint32_t stx_blksize;
  uint64_t stx_attributes;
  uint32_t stx_nlink;
  uint32_t stx_uid;
  uint32_t stx_gid;
  uint16_t stx_mode;
  uint16_t spare0;
  uint64_t stx_ino;
  uint64_t stx_size;
  uint64_t stx_blocks;
  uint64_t stx_attributes_mask;
  StatxTimestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
  uint32_t stx_rdev_major;
  uint32_t stx_rdev_minor;
  uint32_t stx_dev_major;
  uint32_t stx_dev_minor;
  uint64_t spare2[14];
};
static_assert(sizeof(Statx) == 256);
static_assert(offsetof(Statx, stx_mode) == 28 && offsetof(Statx, stx_ino) == 32);
static_assert(offsetof(Statx, stx_atime) == 64 && offsetof(Statx, stx_rdev_major) == 128);

inline constexpr uint32_t kSTATX_TYPE = 0x1, kSTATX_MODE = 0x2, kSTATX_NLINK = 0x4;
inline constexpr uint32_t kSTATX_UID = 0x8, kSTATX_GID = 0x10, kSTATX_ATIME = 0x20;
inline constexpr uint32_t kSTATX_MTIME = 0x40, kSTATX_CTIME = 0x80, kSTATX_INO = 0x100;
inline constexpr uint32_t kSTATX_SIZE = 0x200, kSTATX_BLOCKS = 0x400, kSTATX_BASIC_STATS = 0x7ff;
inline constexpr uint32_t kSTATX_BTIME = 0x800, kSTATX__RESERVED = 0x80000000u;

// struct linux_dirent64 header (the name follows, NUL-terminated, record 8-byte aligned).
struct Dirent64Header {
  uint64_t d_ino;
  int64_t d_off;
  uint16_t d_reclen;
  uint8_t d_type;
};
inline constexpr size_t kDirent64NameOffset = 19;

// struct statfs (x86-64, asm-generic/statfs.h with 64-bit longs).
struct StatFS {
  int64_t f_type;
  int64_t f_bsize;
  uint64_t f_blocks;
  uint64_t f_bfree;
  uint64_t f_bavail;
  uint64_t f_files;
  uint64_t f_ffree;
  int32_t f_fsid[2];
  int64_t f_namelen;
  int64_t f_frsize;
  int64_t f_flags;
  int64_t f_spare[4];
};
static_assert(sizeof(StatFS) == 120);
static_assert(offsetof(StatFS, f_fsid) == 56 && offsetof(StatFS, f_namelen) == 64);

inline constexpr int64_t kTMPFS_MAGIC = 0x01021994;
inline constexpr int64_t kV9FS_MAGIC = 0x01021997;
inline constexpr int64_t kST_RDONLY = 1, kST_NOSUID = 2, kST_NODEV = 4, kST_RELATIME = 4096;

// Kernel struct termios (TCGETS/TCSETS; not glibc's 60-byte struct).
struct Termios {
  uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
  uint8_t c_line;
  uint8_t c_cc[19];
};
static_assert(sizeof(Termios) == 36);

struct WinSize {
  uint16_t ws_row, ws_col, ws_xpixel, ws_ypixel;
};
static_assert(sizeof(WinSize) == 8);

// ioctl numbers.
inline constexpr uint64_t kTCGETS = 0x5401, kTCSETS = 0x5402, kTCSETSW = 0x5403;
inline constexpr uint64_t kTCSETSF = 0x5404, kTIOCGPGRP = 0x540f, kTIOCSPGRP = 0x5410;
inline constexpr uint64_t kTIOCGWINSZ = 0x5413, kTIOCSWINSZ = 0x5414, kFIONREAD = 0x541b;
inline constexpr uint64_t kFIONBIO = 0x5421, kFIONCLEX = 0x5450, kFIOCLEX = 0x5451;
inline constexpr uint64_t kFIOASYNC = 0x5452;

// fcntl commands.
inline constexpr int kF_DUPFD = 0, kF_GETFD = 1, kF_SETFD = 2, kF_GETFL = 3, kF_SETFL = 4;
inline constexpr int kF_GETLK = 5, kF_SETLK = 6, kF_SETLKW = 7, kF_SETOWN = 8, kF_GETOWN = 9;
inline constexpr int kF_DUPFD_CLOEXEC = 1030, kF_SETPIPE_SZ = 1031, kF_GETPIPE_SZ = 1032;
inline constexpr int kF_OFD_GETLK = 36, kF_OFD_SETLK = 37, kF_OFD_SETLKW = 38;
inline constexpr int kFD_CLOEXEC = 1;

inline constexpr int kSEEK_SET = 0, kSEEK_CUR = 1, kSEEK_END = 2, kSEEK_DATA = 3, kSEEK_HOLE = 4;

// access(2) modes.
inline constexpr int kF_OK = 0, kX_OK = 1, kW_OK = 2, kR_OK = 4;

}  // namespace sbx::abi
