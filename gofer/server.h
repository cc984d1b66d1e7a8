// The gofer: a separate, confined process that serves the container's root filesystem to the
// sentry over one SOCK_SEQPACKET socket (protocol: gofer/gofer.proto, transport: wire.h).
//
// Threat model: the sentry may be compromised, so every request is validated — names must be
// one path component, ids must name a live node, open flags are checked — and no operation
// ever follows a symlink or resolves a path with more than one component, so nothing outside
// the served root is reachable. When confined (the normal case), the process has additionally
// pivot_root'ed into the root (bind-mounted read-only unless read_only is false) and runs under
// a seccomp allow-list.
//
// Nodes: the gofer hands out 64-bit ids (1 = the root); each is an O_PATH|O_NOFOLLOW host FD
// plus its parent id and name (a node keeps its parent alive until both are released). Open
// returns a fresh host FD (regular files and directories only) donated with SCM_RIGHTS.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace sbx::gofer {

struct ServerOptions {
  // Host directory to serve.
  std::string root;
  // Run ConfineGofer() before serving (RunGofer then serves "/", which is `root`).
  bool confine = true;
  // Refuse every write-intent open (O_WRONLY, O_RDWR, O_TRUNC) with EROFS, and bind-mount the
  // root read-only when confining.
  bool read_only = true;
};

// Confines the calling process to `options.root`. Expects to run as root in fresh user and
// mount namespaces that this process owns (the frontend creates them). Makes all mounts
// private, bind-mounts the root onto itself (read-only, nosuid, nodev if options.read_only;
// nosuid, nodev otherwise), pivot_roots into it, detaches the old root, sets no_new_privs and
// installs the seccomp allow-list (anything else kills the process). The process must be
// single-threaded: seccomp applies to the calling thread only.
absl::Status ConfineGofer(const ServerOptions& options);

// Serves requests on `sock` until the peer closes it (then returns OK). If options.confine,
// calls ConfineGofer first. Takes no ownership of `sock`. Returns an error only for a host
// failure that makes serving impossible (e.g. the root cannot be opened).
absl::Status RunGofer(int sock, const ServerOptions& options);

// Entry point for `runsc gofer`: parses `--root=DIR --sock-fd=N [--read-write]
// [--no-confine]`, then runs RunGofer. Returns the process exit code (0 after a clean
// shutdown, 1 on error, 2 on bad usage); errors are written to stderr.
int GoferMain(int argc, char** argv);

}  // namespace sbx::gofer
