// execve's image loader: "#!" scripts and ELF64 x86-64 executables (Linux fs/exec.c
// do_execveat_common/exec_binprm, fs/binfmt_script.c, fs/binfmt_elf.c load_elf_binary).
//
// LoadExecutable validates everything it can (argument limits, script chain, ELF headers of the
// executable and its PT_INTERP interpreter) before it touches `mm`; this is Linux's "point of
// no return". After that it maps the segments, sets the program break, maps the main stack
// (mm.MapStack at mm.stack_top()) and writes argv/envp/auxv on it. On any error the caller must
// throw `mm` away (it may hold a partial image): exec loads into a fresh MemoryManager and only
// swaps it in on success. Errors: ENOENT/EACCES/... from `open`, E2BIG (argument limits),
// ENOEXEC (not a script or valid ELF), ELOOP (more than 5 nested "#!" interpreters), ELIBBAD (bad
// PT_INTERP interpreter), EIO (read failures), and mm errors (ENOMEM, EINVAL...) while mapping.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fs/file.h"
#include "sentry/abi/result.h"
#include "sentry/loader/elf.h"
#include "sentry/loader/stack.h"
#include "sentry/mm/mm.h"
#include "sentry/usermem/usermem.h"

namespace sbx::loader {

struct ExecArgs {
  std::string filename;  // the path given to execve (also AT_EXECFN and argv[1] for scripts)
  std::vector<std::string> argv, envp;
};

// Opens `path` for execution. The caller does the path walk (relative to the task's cwd and
// root) and the exec permission checks (EACCES, ENOENT, ELOOP, ...).
using OpenFn = std::function<Result<std::shared_ptr<fs::FileDescription>>(const std::string& path)>;

struct LoadOptions {
  // ASLR (Linux PF_RANDOMIZE with randomize_va_space = 2): randomises the PIE load bias, the
  // program break and the sub-page position of the stack. Randomness comes from getrandom(2).
  bool randomize = true;
  uint64_t stack_rlimit = 8 << 20;  // RLIMIT_STACK soft limit (bounds argv+envp: 1/4 of it)
  uint64_t task_size = kTaskSize;   // TASK_SIZE: addresses at or above are invalid
};

struct LoadedImage {
  usermem::UserAddr entry;          // where the first thread starts (interpreter's entry if any)
  usermem::UserAddr stack_pointer;  // initial rsp (points at argc), 16-byte aligned
  std::string exec_path;            // path of the ELF file loaded (after "#!" resolution)
  std::vector<std::string> argv;    // after "#!" rewriting
  std::shared_ptr<fs::FileDescription> file;  // the loaded ELF file (for /proc/self/exe)
  std::string interp_path;          // PT_INTERP path, empty if none
  usermem::UserAddr load_bias;      // added to the executable's p_vaddr (0 for ET_EXEC)
  usermem::UserAddr interp_base;    // AT_BASE (0 without an interpreter)
  usermem::UserAddr brk;            // initial program break given to mm.SetBrkBase
  usermem::UserAddr stack_top;      // end of the stack VMA
  bool exec_stack = false;          // PT_GNU_STACK asked for an executable stack
  // mm->arg_start/arg_end/env_start/env_end, for /proc/<pid>/cmdline and environ.
  usermem::UserAddr arg_start, arg_end, env_start, env_end;
  std::vector<std::pair<uint64_t, uint64_t>> auxv;  // as written (for /proc/<pid>/auxv)
};

// Loads the program named by args.filename into the fresh address space `mm`.
Result<LoadedImage> LoadExecutable(mm::MemoryManager& mm, const OpenFn& open,
                                   const ExecArgs& args, const AuxvInfo& aux,
                                   const LoadOptions& opts = {});

// ELF_ET_DYN_BASE for a given TASK_SIZE: where PIE programs are loaded (2/3 of the address
// space, 0x555555554aaa for 47-bit x86-64; page-aligned by the loader).
constexpr uint64_t ElfEtDynBase(uint64_t task_size) { return task_size / 3 * 2; }

}  // namespace sbx::loader
