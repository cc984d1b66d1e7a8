// Internals of the ptrace platform that tests and diagnostics may look at. The sentry uses only
// platform/platform.h (NewPtracePlatform). See platform/ptrace/README.md for the design.
#pragma once

#include <sys/types.h>

#include "platform/platform.h"

namespace sbx::platform::ptrace {

// The host pid of the stub process behind `as` (an address space of the ptrace platform), or
// -1 if `as` is not one.
pid_t StubPid(AddressSpace& as);

// The host pid of the template stub of `p` (a ptrace platform), or -1.
pid_t TemplatePid(Platform& p);

}  // namespace sbx::platform::ptrace
