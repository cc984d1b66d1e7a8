// Credential-changing syscalls: setuid/setgid, setre*id, setres*id, setfs*id, setgroups
// (mirrors kernel/sys.c and kernel/groups.c).
//
// Capabilities are modelled coarsely: a task with euid 0 holds CAP_SETUID/CAP_SETGID (the
// sandbox's root is root in its own world), any other task holds none. Like Linux, the
// filesystem ids follow the effective ids on every change.
#include "sentry/syscalls/handlers.h"

namespace sbx::syscalls {

namespace {

constexpr uint32_t kNoChange = 0xffffffff;  // (uid_t)-1
constexpr int64_t kNgroupsMax = 65536;

bool Privileged(const kernel::Credentials& c) { return c.euid == 0; }

// One of the three ids an unprivileged task may switch to.
bool IsOneOf(uint32_t id, uint32_t a, uint32_t b, uint32_t c) { return id == a || id == b || id == c; }

struct Ids {
  uint32_t* r;
  uint32_t* e;
  uint32_t* s;
  uint32_t* fs;
};

Ids UidsOf(kernel::Credentials& c) { return {&c.ruid, &c.euid, &c.suid, &c.fsuid}; }
Ids GidsOf(kernel::Credentials& c) { return {&c.rgid, &c.egid, &c.sgid, &c.fsgid}; }

// __sys_setresuid/__sys_setresgid.
SyscallResult SetRes(Task& t, Ids ids, uint32_t r, uint32_t e, uint32_t s) {
  const bool priv = Privileged(t.creds());
  auto allowed = [&](uint32_t v) {
    return v == kNoChange || priv || IsOneOf(v, *ids.r, *ids.e, *ids.s);
  };
  if (!allowed(r) || !allowed(e) || !allowed(s)) return Errno::kEPERM;
  if (r != kNoChange) *ids.r = r;
  if (e != kNoChange) *ids.e = e;
  if (s != kNoChange) *ids.s = s;
  *ids.fs = *ids.e;
  return uint64_t{0};
}

// __sys_setreuid/__sys_setregid.
SyscallResult SetRe(Task& t, Ids ids, uint32_t r, uint32_t e) {
  const bool priv = Privileged(t.creds());
  uint32_t old_r = *ids.r, old_e = *ids.e, old_s = *ids.s;
  if (r != kNoChange && !priv && r != old_r && r != old_e) return Errno::kEPERM;
  if (e != kNoChange && !priv && !IsOneOf(e, old_r, old_e, old_s)) return Errno::kEPERM;
  if (r != kNoChange) *ids.r = r;
  if (e != kNoChange) *ids.e = e;
  if (r != kNoChange || (e != kNoChange && e != old_r)) *ids.s = *ids.e;
  *ids.fs = *ids.e;
  return uint64_t{0};
}

// __sys_setuid/__sys_setgid.
SyscallResult SetOne(Task& t, Ids ids, uint32_t id) {
  if (id == kNoChange) return Errno::kEINVAL;
  if (Privileged(t.creds())) {
    *ids.r = *ids.e = *ids.s = *ids.fs = id;
    return uint64_t{0};
  }
  if (id != *ids.r && id != *ids.s) return Errno::kEPERM;
  *ids.e = *ids.fs = id;
  return uint64_t{0};
}

// __sys_setfsuid/__sys_setfsgid: always returns the previous fs id, changing it if allowed.
SyscallResult SetFs(Task& t, Ids ids, uint32_t id) {
  uint32_t old = *ids.fs;
  if (id != kNoChange &&
      (Privileged(t.creds()) || IsOneOf(id, *ids.r, *ids.e, *ids.s) || id == *ids.fs)) {
    *ids.fs = id;
  }
  return uint64_t{old};
}

}  // namespace

SyscallResult SysSetuid(Task& t, const SyscallArgs& a) {
  return SetOne(t, UidsOf(t.mutable_creds()), a.UInt(0));
}
SyscallResult SysSetgid(Task& t, const SyscallArgs& a) {
  // setgid checks CAP_SETGID, which our model ties to euid 0 as well.
  bool priv = Privileged(t.creds());
  auto& c = t.mutable_creds();
  uint32_t id = a.UInt(0);
  if (id == kNoChange) return Errno::kEINVAL;
  if (priv) {
    c.rgid = c.egid = c.sgid = c.fsgid = id;
    return uint64_t{0};
  }
  if (id != c.rgid && id != c.sgid) return Errno::kEPERM;
  c.egid = c.fsgid = id;
  return uint64_t{0};
}
SyscallResult SysSetreuid(Task& t, const SyscallArgs& a) {
  return SetRe(t, UidsOf(t.mutable_creds()), a.UInt(0), a.UInt(1));
}
SyscallResult SysSetregid(Task& t, const SyscallArgs& a) {
  return SetRe(t, GidsOf(t.mutable_creds()), a.UInt(0), a.UInt(1));
}
SyscallResult SysSetresuid(Task& t, const SyscallArgs& a) {
  return SetRes(t, UidsOf(t.mutable_creds()), a.UInt(0), a.UInt(1), a.UInt(2));
}
SyscallResult SysSetresgid(Task& t, const SyscallArgs& a) {
  return SetRes(t, GidsOf(t.mutable_creds()), a.UInt(0), a.UInt(1), a.UInt(2));
}
SyscallResult SysSetfsuid(Task& t, const SyscallArgs& a) {
  return SetFs(t, UidsOf(t.mutable_creds()), a.UInt(0));
}
SyscallResult SysSetfsgid(Task& t, const SyscallArgs& a) {
  return SetFs(t, GidsOf(t.mutable_creds()), a.UInt(0));
}

SyscallResult SysSetgroups(Task& t, const SyscallArgs& a) {
  int64_t n = a.Int(0);
  if (n < 0 || n > kNgroupsMax) return Errno::kEINVAL;
  if (!Privileged(t.creds())) return Errno::kEPERM;
  std::vector<uint32_t> groups(static_cast<size_t>(n));
  if (n > 0) {
    TRY(usermem::CopyInFull(t.mem(), a.Addr(1), std::as_writable_bytes(std::span(groups))));
  }
  std::sort(groups.begin(), groups.end());  // groups_sort(): Linux keeps the list sorted
  t.mutable_creds().groups = std::move(groups);
  return uint64_t{0};
}

}  // namespace sbx::syscalls
