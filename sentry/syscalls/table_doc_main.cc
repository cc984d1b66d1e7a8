// sbx_syscall_table_doc: prints docs/syscalls.md (the compatibility table) to stdout.
// Regenerate with: build/bin/sbx_syscall_table_doc > docs/syscalls.md
#include <iostream>

#include "sentry/syscalls/table.h"

int main() {
  std::cout << sbx::syscalls::RenderSyscallTableMarkdown();
  return std::cout.good() ? 0 : 1;
}
