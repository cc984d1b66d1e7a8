// strace-style rendering: see strace.h. Flag tables mirror the x86-64 UAPI headers.
#include "sentry/syscalls/strace.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sbx::syscalls::strace {
namespace {

struct FlagName {
  uint64_t bits;
  const char* name;
};

// Appends the names of the set bits in `table` (in order) to `out`, clearing them from `*v`.
void AppendFlags(std::string& out, uint64_t* v, const FlagName* table, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (table[i].bits != 0 && (*v & table[i].bits) == table[i].bits) {
      if (!out.empty()) out += '|';
      out += table[i].name;
      *v &= ~table[i].bits;
    }
  }
}

std::string FinishFlags(std::string out, uint64_t rest) {
  if (rest != 0) {
    if (!out.empty()) out += '|';
    absl::StrAppend(&out, "0x", absl::Hex(rest));
  }
  return out.empty() ? "0" : out;
}

constexpr FlagName kOpenFlags[] = {
    {04010000, "O_SYNC"},     {020200000, "O_TMPFILE"}, {0100, "O_CREAT"},
    {0200, "O_EXCL"},         {0400, "O_NOCTTY"},       {01000, "O_TRUNC"},
    {02000, "O_APPEND"},      {04000, "O_NONBLOCK"},    {010000, "O_DSYNC"},
    {020000, "O_ASYNC"},      {040000, "O_DIRECT"},     {0100000, "O_LARGEFILE"},
    {0200000, "O_DIRECTORY"}, {0400000, "O_NOFOLLOW"},  {01000000, "O_NOATIME"},
    {02000000, "O_CLOEXEC"},  {010000000, "O_PATH"},
};
constexpr FlagName kMmapProt[] = {
    {1, "PROT_READ"}, {2, "PROT_WRITE"}, {4, "PROT_EXEC"}, {8, "PROT_SEM"},
    {0x01000000, "PROT_GROWSDOWN"}, {0x02000000, "PROT_GROWSUP"},
};
constexpr FlagName kMmapFlags[] = {
    {0x10, "MAP_FIXED"},         {0x20, "MAP_ANONYMOUS"},       {0x40, "MAP_32BIT"},
    {0x100, "MAP_GROWSDOWN"},    {0x800, "MAP_DENYWRITE"},      {0x1000, "MAP_EXECUTABLE"},
    {0x2000, "MAP_LOCKED"},      {0x4000, "MAP_NORESERVE"},     {0x8000, "MAP_POPULATE"},
    {0x10000, "MAP_NONBLOCK"},   {0x20000, "MAP_STACK"},        {0x40000, "MAP_HUGETLB"},
    {0x80000, "MAP_SYNC"},       {0x100000, "MAP_FIXED_NOREPLACE"},
    {0x4000000, "MAP_UNINITIALIZED"},
};
constexpr FlagName kAtFlags[] = {
    {0x100, "AT_SYMLINK_NOFOLLOW"}, {0x200, "AT_REMOVEDIR"}, {0x400, "AT_SYMLINK_FOLLOW"},
    {0x800, "AT_NO_AUTOMOUNT"},     {0x1000, "AT_EMPTY_PATH"},
    {0x2000, "AT_STATX_FORCE_SYNC"}, {0x4000, "AT_STATX_DONT_SYNC"},
};

constexpr std::array<const char*, 32> kSignalNames = {
    nullptr,   "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",    "SIGTRAP", "SIGABRT",
    "SIGBUS",  "SIGFPE",  "SIGKILL",   "SIGUSR1", "SIGSEGV",   "SIGUSR2", "SIGPIPE",
    "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",
    "SIGTTIN", "SIGTTOU", "SIGURG",    "SIGXCPU", "SIGXFSZ",   "SIGVTALRM", "SIGPROF",
    "SIGWINCH", "SIGIO",  "SIGPWR",    "SIGSYS",
};

// Names by value; nullptr entries mean "print the number".
std::string Enum(int64_t v, std::initializer_list<std::pair<int64_t, const char*>> names) {
  for (const auto& [k, n] : names) {
    if (k == v) return n;
  }
  return absl::StrCat(v);
}

// Copies up to `max` bytes at `addr`; false if nothing could be read.
bool ReadBytes(usermem::UserMemory* mem, uint64_t addr, size_t len, std::string* out) {
  if (mem == nullptr || addr == 0) return false;
  out->assign(len, '\0');
  auto r = mem->CopyInBytes(usermem::UserAddr(addr),
                            std::as_writable_bytes(std::span<char>(out->data(), len)));
  if (!r.ok() || (*r == 0 && len != 0)) return false;
  out->resize(*r);
  return true;
}

std::string Buffer(usermem::UserMemory* mem, uint64_t addr, uint64_t len) {
  std::string bytes;
  size_t n = static_cast<size_t>(std::min<uint64_t>(len, kMaxStringBytes));
  if (!ReadBytes(mem, addr, n, &bytes)) return Pointer(addr);
  return QuoteBytes(bytes, len > bytes.size());
}

std::string String(usermem::UserMemory* mem, uint64_t addr, size_t max) {
  if (mem == nullptr || addr == 0) return Pointer(addr);
  // Read one byte beyond `max` to tell whether the string was cut.
  auto s = usermem::CopyInString(*mem, usermem::UserAddr(addr), max);
  if (s.ok()) return QuoteBytes(*s, false);
  if (s.error() == Errno::kENAMETOOLONG) {
    std::string bytes;
    if (ReadBytes(mem, addr, max, &bytes)) return QuoteBytes(bytes, true);
  }
  return Pointer(addr);
}

bool ShowModeArg(const kernel::SyscallArgs& a, int i) {
  return i > 0 && (a.a[i - 1] & (0100 | 020000000)) != 0;  // O_CREAT | __O_TMPFILE
}

// Renders an in-parameter; out-parameters ('o') return "" and are filled by RenderCall.
std::string RenderIn(char kind, const kernel::SyscallArgs& a, int i, usermem::UserMemory* mem) {
  uint64_t v = a.a[i];
  switch (kind) {
    case 'i': case 'f': return absl::StrCat(a.Int(i));
    case 'l': return absl::StrCat(a.Long(i));
    case 'u': return absl::StrCat(a.UInt(i));
    case 'z': return absl::StrCat(v);
    case 'x': return v == 0 ? "0" : absl::StrCat("0x", absl::Hex(v));
    case 'P': return Pointer(v);
    case 'd': return a.Int(i) == -100 ? "AT_FDCWD" : absl::StrCat(a.Int(i));
    case 'p': return String(mem, v, kMaxPathBytes);
    case 's': return String(mem, v, kMaxStringBytes);
    case 'b': return Buffer(mem, v, i + 1 < 6 ? a.a[i + 1] : 0);
    case 'o': return "";
    case 'F': return OpenFlags(v);
    case 'M': case 'm': return Octal(a.UInt(i));
    case 'r': return MmapProt(v);
    case 'R': return MmapFlags(v);
    case 'g': return SignalName(a.Int(i));
    case 'c': return ClockName(a.Int(i));
    case 't': return FutexOp(a.Int(i));
    case 'a': return AtFlags(a.UInt(i));
    case 'h': return SigprocmaskHow(a.Int(i));
    case 'w': return Whence(a.Int(i));
    case 'A': return ArchPrctlCode(a.Int(i));
    case 'C': return PrctlOption(a.Int(i));
    case 'k': return RlimitResource(a.UInt(i));
    default: return absl::StrCat("0x", absl::Hex(v));
  }
}

}  // namespace

std::string QuoteBytes(std::string_view bytes, bool truncated) {
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\v': out += "\\v"; continue;
      default: break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      continue;
    }
    out += '\\';
    bool next_is_octal = i + 1 < bytes.size() && bytes[i + 1] >= '0' && bytes[i + 1] <= '7';
    if (next_is_octal || (c >> 6) != 0) out += static_cast<char>('0' + (c >> 6));
    if (next_is_octal || (c >> 3) != 0) out += static_cast<char>('0' + ((c >> 3) & 7));
    out += static_cast<char>('0' + (c & 7));
  }
  out += '"';
  if (truncated) out += "...";
  return out;
}

std::string OpenFlags(uint64_t flags) {
  static constexpr const char* kAcc[] = {"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"};
  std::string out = kAcc[flags & 3];
  uint64_t rest = flags & ~uint64_t{3};
  std::string more;
  AppendFlags(more, &rest, kOpenFlags, std::size(kOpenFlags));
  if (!more.empty()) absl::StrAppend(&out, "|", more);
  if (rest != 0) absl::StrAppend(&out, "|0x", absl::Hex(rest));
  return out;
}

std::string MmapProt(uint64_t prot) {
  if (prot == 0) return "PROT_NONE";
  std::string out;
  AppendFlags(out, &prot, kMmapProt, std::size(kMmapProt));
  return FinishFlags(out, prot);
}

std::string MmapFlags(uint64_t flags) {
  static constexpr const char* kType[] = {"0", "MAP_SHARED", "MAP_PRIVATE",
                                          "MAP_SHARED_VALIDATE"};
  std::string out = kType[flags & 3];
  uint64_t rest = flags & ~uint64_t{3};
  if ((flags & 3) == 0) out.clear();
  AppendFlags(out, &rest, kMmapFlags, std::size(kMmapFlags));
  return FinishFlags(out, rest);
}

std::string AtFlags(uint64_t flags) {
  std::string out;
  AppendFlags(out, &flags, kAtFlags, std::size(kAtFlags));
  return FinishFlags(out, flags);
}

std::string FutexOp(uint64_t op) {
  static constexpr const char* kOps[] = {
      "FUTEX_WAIT",        "FUTEX_WAKE",          "FUTEX_FD",           "FUTEX_REQUEUE",
      "FUTEX_CMP_REQUEUE", "FUTEX_WAKE_OP",       "FUTEX_LOCK_PI",      "FUTEX_UNLOCK_PI",
      "FUTEX_TRYLOCK_PI",  "FUTEX_WAIT_BITSET",   "FUTEX_WAKE_BITSET",  "FUTEX_WAIT_REQUEUE_PI",
      "FUTEX_CMP_REQUEUE_PI", "FUTEX_LOCK_PI2"};
  uint64_t cmd = op & ~uint64_t{128 | 256};
  std::string out = cmd < std::size(kOps) ? kOps[cmd] : absl::StrCat(cmd);
  if (op & 128) out += "_PRIVATE";
  if (op & 256) out += "|FUTEX_CLOCK_REALTIME";
  return out;
}

std::string SignalName(int64_t sig) {
  if (sig > 0 && sig < 32) return kSignalNames[sig];
  if (sig >= 32 && sig <= 64) return absl::StrCat("SIGRT_", sig - 32);
  return absl::StrCat(sig);
}

std::string ClockName(int64_t clock) {
  return Enum(clock, {{0, "CLOCK_REALTIME"}, {1, "CLOCK_MONOTONIC"},
                      {2, "CLOCK_PROCESS_CPUTIME_ID"}, {3, "CLOCK_THREAD_CPUTIME_ID"},
                      {4, "CLOCK_MONOTONIC_RAW"}, {5, "CLOCK_REALTIME_COARSE"},
                      {6, "CLOCK_MONOTONIC_COARSE"}, {7, "CLOCK_BOOTTIME"},
                      {8, "CLOCK_REALTIME_ALARM"}, {9, "CLOCK_BOOTTIME_ALARM"},
                      {11, "CLOCK_TAI"}});
}

std::string SigprocmaskHow(int64_t how) {
  return Enum(how, {{0, "SIG_BLOCK"}, {1, "SIG_UNBLOCK"}, {2, "SIG_SETMASK"}});
}

std::string Whence(int64_t whence) {
  return Enum(whence, {{0, "SEEK_SET"}, {1, "SEEK_CUR"}, {2, "SEEK_END"}, {3, "SEEK_DATA"},
                       {4, "SEEK_HOLE"}});
}

std::string ArchPrctlCode(int64_t code) {
  return Enum(code, {{0x1001, "ARCH_SET_GS"}, {0x1002, "ARCH_SET_FS"}, {0x1003, "ARCH_GET_FS"},
                     {0x1004, "ARCH_GET_GS"}, {0x1011, "ARCH_GET_CPUID"},
                     {0x1012, "ARCH_SET_CPUID"}});
}

std::string PrctlOption(int64_t option) {
  return Enum(option, {{1, "PR_SET_PDEATHSIG"}, {2, "PR_GET_PDEATHSIG"},
                       {3, "PR_GET_DUMPABLE"}, {4, "PR_SET_DUMPABLE"},
                       {15, "PR_SET_NAME"}, {16, "PR_GET_NAME"}, {21, "PR_GET_SECCOMP"},
                       {22, "PR_SET_SECCOMP"}, {23, "PR_CAPBSET_READ"},
                       {36, "PR_SET_CHILD_SUBREAPER"}, {37, "PR_GET_CHILD_SUBREAPER"},
                       {38, "PR_SET_NO_NEW_PRIVS"}, {39, "PR_GET_NO_NEW_PRIVS"},
                       {1499557217, "PR_SET_PTRACER"}, {47, "PR_CAP_AMBIENT"},
                       {8, "PR_SET_KEEPCAPS"}, {7, "PR_GET_KEEPCAPS"}});
}

std::string RlimitResource(int64_t res) {
  static constexpr const char* kNames[] = {
      "RLIMIT_CPU",     "RLIMIT_FSIZE",  "RLIMIT_DATA",       "RLIMIT_STACK",
      "RLIMIT_CORE",    "RLIMIT_RSS",    "RLIMIT_NPROC",      "RLIMIT_NOFILE",
      "RLIMIT_MEMLOCK", "RLIMIT_AS",     "RLIMIT_LOCKS",      "RLIMIT_SIGPENDING",
      "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO",     "RLIMIT_RTTIME"};
  if (res >= 0 && res < static_cast<int64_t>(std::size(kNames))) return kNames[res];
  return absl::StrCat(res);
}

std::string Octal(uint64_t mode) {
  return mode == 0 ? "000" : absl::StrFormat("0%o", mode);
}

std::string Pointer(uint64_t addr) {
  return addr == 0 ? "NULL" : absl::StrCat("0x", absl::Hex(addr));
}

std::string_view ErrnoText(Errno e) {
  switch (e) {
    case Errno::kEPERM: return "Operation not permitted";
    case Errno::kENOENT: return "No such file or directory";
    case Errno::kESRCH: return "No such process";
    case Errno::kEINTR: return "Interrupted system call";
    case Errno::kEIO: return "Input/output error";
    case Errno::kENXIO: return "No such device or address";
    case Errno::kE2BIG: return "Argument list too long";
    case Errno::kENOEXEC: return "Exec format error";
    case Errno::kEBADF: return "Bad file descriptor";
    case Errno::kECHILD: return "No child processes";
    case Errno::kEAGAIN: return "Resource temporarily unavailable";
    case Errno::kENOMEM: return "Cannot allocate memory";
    case Errno::kEACCES: return "Permission denied";
    case Errno::kEFAULT: return "Bad address";
    case Errno::kENOTBLK: return "Block device required";
    case Errno::kEBUSY: return "Device or resource busy";
    case Errno::kEEXIST: return "File exists";
    case Errno::kEXDEV: return "Invalid cross-device link";
    case Errno::kENODEV: return "No such device";
    case Errno::kENOTDIR: return "Not a directory";
    case Errno::kEISDIR: return "Is a directory";
    case Errno::kEINVAL: return "Invalid argument";
    case Errno::kENFILE: return "Too many open files in system";
    case Errno::kEMFILE: return "Too many open files";
    case Errno::kENOTTY: return "Inappropriate ioctl for device";
    case Errno::kETXTBSY: return "Text file busy";
    case Errno::kEFBIG: return "File too large";
    case Errno::kENOSPC: return "No space left on device";
    case Errno::kESPIPE: return "Illegal seek";
    case Errno::kEROFS: return "Read-only file system";
    case Errno::kEMLINK: return "Too many links";
    case Errno::kEPIPE: return "Broken pipe";
    case Errno::kEDOM: return "Numerical argument out of domain";
    case Errno::kERANGE: return "Numerical result out of range";
    case Errno::kEDEADLK: return "Resource deadlock avoided";
    case Errno::kENAMETOOLONG: return "File name too long";
    case Errno::kENOLCK: return "No locks available";
    case Errno::kENOSYS: return "Function not implemented";
    case Errno::kENOTEMPTY: return "Directory not empty";
    case Errno::kELOOP: return "Too many levels of symbolic links";
    case Errno::kENOMSG: return "No message of desired type";
    case Errno::kEIDRM: return "Identifier removed";
    case Errno::kENOSTR: return "Device not a stream";
    case Errno::kENODATA: return "No data available";
    case Errno::kETIME: return "Timer expired";
    case Errno::kENOSR: return "Out of streams resources";
    case Errno::kEREMOTE: return "Object is remote";
    case Errno::kENOLINK: return "Link has been severed";
    case Errno::kEPROTO: return "Protocol error";
    case Errno::kEBADMSG: return "Bad message";
    case Errno::kEOVERFLOW: return "Value too large for defined data type";
    case Errno::kEBADFD: return "File descriptor in bad state";
    case Errno::kELIBBAD: return "Accessing a corrupted shared library";
    case Errno::kEILSEQ: return "Invalid or incomplete multibyte or wide character";
    case Errno::kEUSERS: return "Too many users";
    case Errno::kENOTSOCK: return "Socket operation on non-socket";
    case Errno::kEDESTADDRREQ: return "Destination address required";
    case Errno::kEMSGSIZE: return "Message too long";
    case Errno::kEPROTOTYPE: return "Protocol wrong type for socket";
    case Errno::kENOPROTOOPT: return "Protocol not available";
    case Errno::kEPROTONOSUPPORT: return "Protocol not supported";
    case Errno::kESOCKTNOSUPPORT: return "Socket type not supported";
    case Errno::kEOPNOTSUPP: return "Operation not supported";
    case Errno::kEPFNOSUPPORT: return "Protocol family not supported";
    case Errno::kEAFNOSUPPORT: return "Address family not supported by protocol";
    case Errno::kEADDRINUSE: return "Address already in use";
    case Errno::kEADDRNOTAVAIL: return "Cannot assign requested address";
    case Errno::kENETDOWN: return "Network is down";
    case Errno::kENETUNREACH: return "Network is unreachable";
    case Errno::kENETRESET: return "Network dropped connection on reset";
    case Errno::kECONNABORTED: return "Software caused connection abort";
    case Errno::kECONNRESET: return "Connection reset by peer";
    case Errno::kENOBUFS: return "No buffer space available";
    case Errno::kEISCONN: return "Transport endpoint is already connected";
    case Errno::kENOTCONN: return "Transport endpoint is not connected";
    case Errno::kESHUTDOWN: return "Cannot send after transport endpoint shutdown";
    case Errno::kETOOMANYREFS: return "Too many references: cannot splice";
    case Errno::kETIMEDOUT: return "Connection timed out";
    case Errno::kECONNREFUSED: return "Connection refused";
    case Errno::kEHOSTDOWN: return "Host is down";
    case Errno::kEHOSTUNREACH: return "No route to host";
    case Errno::kEALREADY: return "Operation already in progress";
    case Errno::kEINPROGRESS: return "Operation now in progress";
    case Errno::kESTALE: return "Stale file handle";
    case Errno::kEDQUOT: return "Disk quota exceeded";
    case Errno::kECANCELED: return "Operation canceled";
    case Errno::kEOWNERDEAD: return "Owner died";
    case Errno::kENOTRECOVERABLE: return "State not recoverable";
    case Errno::kERESTARTSYS: return "To be restarted if SA_RESTART is set";
    case Errno::kERESTARTNOINTR: return "To be restarted";
    case Errno::kERESTARTNOHAND: return "To be restarted if no handler";
    case Errno::kERESTART_RESTARTBLOCK: return "Interrupted by signal";
    case Errno::kEJUSTRETURN: return "Registers set by the handler";
  }
  return "Unknown error";
}

std::string FormatReturn(RetFormat fmt, const kernel::SyscallResult& r) {
  if (fmt == RetFormat::kNone) return " = ?";
  if (!r.ok()) {
    Errno e = r.error();
    int v = static_cast<int>(e);
    if (e == Errno::kEJUSTRETURN) return " = 0";
    std::string name(ErrnoName(e)), text(ErrnoText(e));
    if (v >= 512) return absl::StrCat(" = ? ", name, " (", text, ")");
    return absl::StrCat(" = -1 ", name, " (", text, ")");
  }
  uint64_t v = r.value();
  switch (fmt) {
    case RetFormat::kHex: return absl::StrCat(" = 0x", absl::Hex(v));
    case RetFormat::kOct: return absl::StrCat(" = ", Octal(v));
    default: return absl::StrCat(" = ", static_cast<int64_t>(v));
  }
}

Call Begin(const SyscallInfo* info, const kernel::SyscallArgs& args, usermem::UserMemory* mem) {
  Call c;
  c.info = info;
  c.args = args;
  // Numbers without an entry show all six registers.
  std::string_view kinds = info != nullptr ? info->args : "xxxxxx";
  for (size_t i = 0; i < kinds.size() && i < 6; ++i) {
    char k = kinds[i];
    if (k == 'M' && !ShowModeArg(args, static_cast<int>(i))) continue;
    c.kinds.push_back(k);
    c.regs.push_back(static_cast<int>(i));
    c.rendered.push_back(RenderIn(k, args, static_cast<int>(i), mem));
  }
  return c;
}

std::string RenderCall(Call& call, usermem::UserMemory* mem, const kernel::SyscallResult* r) {
  std::string out = call.info != nullptr ? call.info->name
                                         : absl::StrCat("syscall_", call.args.nr);
  out += '(';
  for (size_t i = 0; i < call.kinds.size(); ++i) {
    if (i > 0) out += ", ";
    if (call.kinds[i] == 'o') {
      uint64_t addr = call.args.a[call.regs[i]];
      if (r != nullptr && r->ok()) {
        call.rendered[i] = Buffer(mem, addr, r->value());
      } else {
        call.rendered[i] = Pointer(addr);
      }
    }
    out += call.rendered[i];
  }
  out += ')';
  return out;
}

std::string Finish(Call& call, usermem::UserMemory* mem, const kernel::SyscallResult& r,
                   int32_t pid) {
  RetFormat fmt = call.info != nullptr ? call.info->ret : RetFormat::kInt;
  return absl::StrCat("[pid ", pid, "] ", RenderCall(call, mem, &r), FormatReturn(fmt, r),
                      "\n");
}

}  // namespace sbx::syscalls::strace
