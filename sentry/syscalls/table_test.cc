// Invariants of the syscall table and freshness of the generated docs/syscalls.md.
#include "sentry/syscalls/table.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace sbx::syscalls {
namespace {

bool Defined(int nr) { return (nr >= 0 && nr <= 334) || (nr >= 424 && nr <= kMaxSyscallNr); }

TEST(SyscallTable, EveryDefinedNumberExactlyOnceInOrder) {
  std::set<int> seen;
  int prev = -1;
  for (const SyscallInfo* e = SyscallTableBegin(); e != SyscallTableEnd(); ++e) {
    EXPECT_TRUE(Defined(e->nr)) << e->nr << " " << e->name;
    EXPECT_TRUE(seen.insert(e->nr).second) << "duplicate number " << e->nr;
    EXPECT_GT(e->nr, prev) << "entries out of order at " << e->name;
    prev = e->nr;
  }
  for (int nr = 0; nr <= kMaxSyscallNr + 10; ++nr) {
    EXPECT_EQ(LookupSyscall(nr) != nullptr, Defined(nr)) << nr;
    if (LookupSyscall(nr) != nullptr) {
      EXPECT_EQ(LookupSyscall(nr)->nr, nr);
    }
  }
  EXPECT_EQ(seen.size(), 335u + (kMaxSyscallNr - 424 + 1));
  EXPECT_EQ(LookupSyscall(~0ull), nullptr);
  EXPECT_EQ(LookupSyscall(1ull << 32), nullptr);
}

TEST(SyscallTable, WellKnownNumbers) {
  // Spot checks against arch/x86/entry/syscalls/syscall_64.tbl.
  const std::pair<int, const char*> known[] = {
      {0, "read"},        {9, "mmap"},          {39, "getpid"},       {56, "clone"},
      {59, "execve"},     {60, "exit"},         {158, "arch_prctl"},  {202, "futex"},
      {231, "exit_group"}, {257, "openat"},     {318, "getrandom"},   {334, "rseq"},
      {424, "pidfd_send_signal"}, {435, "clone3"}, {449, "futex_waitv"}, {462, "mseal"},
      {469, "file_setattr"}};
  for (const auto& [nr, name] : known) {
    ASSERT_NE(LookupSyscall(nr), nullptr) << nr;
    EXPECT_STREQ(LookupSyscall(nr)->name, name);
    EXPECT_EQ(LookupSyscallByName(name), LookupSyscall(nr));
  }
  EXPECT_EQ(LookupSyscallByName("no_such_call"), nullptr);
}

TEST(SyscallTable, NamesUniqueAndEntriesConsistent) {
  std::set<std::string> names;
  for (const SyscallInfo* e = SyscallTableBegin(); e != SyscallTableEnd(); ++e) {
    SCOPED_TRACE(e->name);
    EXPECT_TRUE(names.insert(e->name).second) << "duplicate name";
    ASSERT_NE(e->note, nullptr);
    ASSERT_NE(e->args, nullptr);
    EXPECT_LE(std::string(e->args).size(), 6u);
    for (char k : std::string(e->args)) {
      EXPECT_NE(kArgKinds.find(k), std::string_view::npos) << "unknown arg kind " << k;
    }
    switch (e->support) {
      case Support::kFull:
        EXPECT_NE(e->handler, nullptr);
        break;
      case Support::kPartial:
        EXPECT_NE(e->handler, nullptr);
        EXPECT_STRNE(e->note, "") << "partial entries say what is missing";
        break;
      case Support::kError:
        EXPECT_EQ(e->handler, nullptr);
        EXPECT_STRNE(e->note, "") << "unimplemented entries say why";
        EXPECT_NE(e->error, Errno::kEJUSTRETURN);
        EXPECT_LT(static_cast<int>(e->error), 512) << "restart codes never reach the guest";
        break;
    }
  }
}

TEST(SyscallTable, SandboxForbiddenCallsAreEperm) {
  for (const char* name : {"kexec_load", "kexec_file_load", "init_module", "finit_module",
                           "delete_module", "reboot", "swapon", "swapoff", "iopl", "ioperm",
                           "settimeofday", "clock_settime", "bpf", "acct"}) {
    const SyscallInfo* e = LookupSyscallByName(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->support, Support::kError) << name;
    EXPECT_EQ(e->error, Errno::kEPERM) << name;
  }
  // The process calls are implemented: they have handlers and are not plain errors.
  for (const char* name : {"fork", "vfork", "clone", "clone3", "execve", "execveat", "wait4",
                           "waitid", "kill", "setsid", "setpgid", "pidfd_open"}) {
    const SyscallInfo* e = LookupSyscallByName(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_NE(e->handler, nullptr) << name;
    EXPECT_NE(e->support, Support::kError) << name;
  }
  EXPECT_NE(std::string(LookupSyscallByName("socket")->note).find("networking issue"),
            std::string::npos);
}

TEST(SyscallTable, DocsAreGenerated) {
  std::ifstream in(SBX_SYSCALLS_DOC);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_TRUE(ss.str() == RenderSyscallTableMarkdown())
      << SBX_SYSCALLS_DOC << " is stale. Regenerate it with:\n"
      << "  ninja -C <build> sbx_syscall_table_doc && "
         "<build>/bin/sbx_syscall_table_doc > docs/syscalls.md";
}

TEST(SyscallTable, MarkdownHasOneRowPerEntry) {
  std::string md = RenderSyscallTableMarkdown();
  int rows = 0;
  std::istringstream lines(md);
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("| ", 0) == 0 && l.find("` |") != std::string::npos) ++rows;
  }
  EXPECT_EQ(rows, SyscallTableEnd() - SyscallTableBegin());
  EXPECT_NE(md.find("| 0 | `read` |"), std::string::npos);
  EXPECT_NE(md.find("| 246 | `kexec_load` | error (EPERM) |"), std::string::npos);
}

}  // namespace
}  // namespace sbx::syscalls
