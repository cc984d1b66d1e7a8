// The `sandbox` binary: `sandbox run [options] -- PROGRAM [ARGS...]`.
// Also hosts the internal `boot` (sentry) and `gofer` subcommands it re-executes itself with.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runsc/cli.h"

namespace {

constexpr char kUsage[] =
    "usage: sandbox run [options] -- PROGRAM [ARGS...]\n"
    "\n"
    "Runs PROGRAM with every system call served by the sentry, never by the host kernel.\n"
    "The guest sees the root filesystem read-only, a fresh tmpfs on /tmp, /dev/{null,zero,\n"
    "full,random,urandom}, and no network. The exit status is the guest's (128+N when a\n"
    "signal N killed it; 127 if PROGRAM is missing, 126 if it cannot be executed).\n"
    "\n"
    "options:\n"
    "  --rootfs DIR       root filesystem to serve (default: /)\n"
    "  --platform NAME    ptrace (default; kvm arrives later)\n"
    "  --strace           print every guest syscall to stderr, strace-style\n"
    "  --debug-log FILE   append sentry debug messages (e.g. unimplemented syscalls) to FILE\n"
    "  --cwd DIR          guest working directory (default: the caller's, if it exists)\n"
    "  --env K=V          set a guest environment variable (repeatable)\n"
    "  --clear-env        start from an empty environment instead of the caller's\n"
    "  --max-tasks N      at most N guest threads alive at once (default 4096); more\n"
    "                     clone/fork calls fail with EAGAIN\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "boot") return sbx::runsc::BootMain({args.begin() + 1, args.end()});
  if (args[0] == "gofer") _exit(sbx::runsc::GoferCommand(argc - 1, argv + 1));
  if (args[0] == "run") {
    sbx::runsc::RunOptions opts;
    std::string error;
    if (!sbx::runsc::ParseRunArgs({args.begin() + 1, args.end()}, &opts, &error)) {
      fprintf(stderr, "sandbox: %s\n%s", error.c_str(), kUsage);
      return 2;
    }
    return sbx::runsc::SandboxRun(opts);
  }
  fprintf(stderr, "sandbox: unknown command '%s'\n%s", args[0].c_str(), kUsage);
  return 2;
}
