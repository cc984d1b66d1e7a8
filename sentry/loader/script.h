// "#!" interpreter scripts (Linux fs/binfmt_script.c).
//
// ParseScript applies load_script's parsing to the first BINPRM_BUF_SIZE (256) bytes of a file,
// zero-padded as bprm->buf is: it accepts a truncated line only if the interpreter path itself
// is provably complete, trims trailing spaces/tabs, and yields the interpreter path plus at most
// one argument (the rest of the line, which may contain spaces).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "sentry/abi/result.h"

namespace sbx::loader {

// BINPRM_BUF_SIZE: how much of a file the kernel reads to recognise its format.
inline constexpr size_t kBinprmBufSize = 256;

struct ScriptInterp {
  std::string name;                // interpreter path (argv[0] of the new image)
  std::optional<std::string> arg;  // the optional single argument
};

// True if `head` (the start of the file) begins with "#!".
bool IsScript(std::span<const char> head);

// Parses the "#!" line of `head` (the first min(file size, 256) bytes of the file). ENOEXEC if
// it is not a script or names no interpreter, or if the interpreter path may be truncated.
Result<ScriptInterp> ParseScript(std::span<const char> head);

}  // namespace sbx::loader
