// GoferMain: command-line entry point of the gofer process (`runsc gofer`).
#include <stdio.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "gofer/server.h"

namespace sbx::gofer {

int GoferMain(int argc, char** argv) {
  ServerOptions options;
  int sock = -1;
  // argv[0] is the program (or subcommand) name.
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--root=")) {
      options.root = std::string(arg);
    } else if (absl::ConsumePrefix(&arg, "--sock-fd=")) {
      if (!absl::SimpleAtoi(arg, &sock) || sock < 0) {
        fprintf(stderr, "gofer: bad --sock-fd value \"%s\"\n", argv[i]);
        return 2;
      }
    } else if (arg == "--read-write") {
      options.read_only = false;
    } else if (arg == "--no-confine") {
      options.confine = false;
    } else {
      fprintf(stderr, "gofer: unknown argument \"%s\"\n"
                      "usage: gofer --root=DIR --sock-fd=N [--read-write] [--no-confine]\n",
              argv[i]);
      return 2;
    }
  }
  if (options.root.empty() || sock < 0) {
    fprintf(stderr, "usage: gofer --root=DIR --sock-fd=N [--read-write] [--no-confine]\n");
    return 2;
  }
  // Nothing may be left to flush once seccomp forbids write(2) to stdout.
  fflush(nullptr);
  absl::Status s = RunGofer(sock, options);
  if (!s.ok()) {
    // stderr is unbuffered and write(2) to fd 2 is in the seccomp allow-list.
    fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace sbx::gofer
