// Frontend command-line handling shared by the `sandbox` and `runsc` binaries.
#pragma once

#include <string>
#include <vector>

namespace sbx::runsc {

// Options of `sandbox run`.
struct RunOptions {
  std::string rootfs = "/";
  std::string platform = "ptrace";
  bool strace = false;
  std::string debug_log;  // path, empty: none
  std::string cwd;        // empty: the caller's cwd if it exists in the rootfs, else "/"
  std::vector<std::string> env_overrides;  // --env K=V
  bool clear_env = false;
  int max_tasks = 4096;    // --max-tasks: live guest threads at most
  std::vector<std::string> argv;  // PROGRAM ARGS...
};

// Parses `run` arguments (everything after "run"). On error returns false with a message.
bool ParseRunArgs(const std::vector<std::string>& args, RunOptions* out, std::string* error);

// `sandbox run`: starts the gofer and the sentry, waits, returns the exit code.
int SandboxRun(const RunOptions& opts);

// `runsc boot` / `sandbox boot` (internal): the sentry's entry point in its namespaces.
int BootMain(const std::vector<std::string>& args);

// `gofer` (internal): the gofer's entry point.
int GoferCommand(int argc, char** argv);

}  // namespace sbx::runsc
