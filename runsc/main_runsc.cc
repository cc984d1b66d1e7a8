// The `runsc` binary: the OCI runtime frontend. This first cut prints help and --version;
// the OCI commands (create, start, state, kill, delete, run, exec, ps, list, spec, events)
// arrive with the OCI issue and say so when invoked. `boot` and `gofer` are internal.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "runsc/cli.h"

namespace {

constexpr char kVersion[] = "runsc version 0.1.0 (sbx sentry)\nspec: 1.1.0\n";
constexpr char kUsage[] =
    "usage: runsc [global options] COMMAND [args...]\n"
    "\n"
    "An OCI runtime that runs containers on a user-space kernel (the sentry).\n"
    "\n"
    "commands:\n"
    "  create, start, state, kill, delete, run, exec, ps, list, spec, events\n"
    "                 OCI runtime commands (not implemented yet)\n"
    "  help           print this help\n"
    "\n"
    "global options:\n"
    "  --version      print the version\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    fputs(kUsage, stderr);
    return 2;
  }
  if (args[0] == "--version" || args[0] == "-v" || args[0] == "version") {
    fputs(kVersion, stdout);
    return 0;
  }
  if (args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    fputs(kUsage, stdout);
    return 0;
  }
  if (args[0] == "boot") return sbx::runsc::BootMain({args.begin() + 1, args.end()});
  if (args[0] == "gofer") _exit(sbx::runsc::GoferCommand(argc - 1, argv + 1));
  static const char* kOci[] = {"create", "start", "state", "kill", "delete", "run",
                               "exec",   "ps",    "list",  "spec", "events"};
  for (const char* c : kOci) {
    if (args[0] == c) {
      fprintf(stderr, "runsc: '%s' is not implemented yet (OCI commands arrive with the OCI issue)\n", c);
      return 1;
    }
  }
  fprintf(stderr, "runsc: unknown command '%s'\n%s", args[0].c_str(), kUsage);
  return 2;
}
