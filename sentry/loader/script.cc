// "#!" parsing: a line-by-line transcription of load_script() in fs/binfmt_script.c, working
// on a private zero-padded copy of the buffer so the pointer arithmetic stays in bounds.
#include "sentry/loader/script.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace sbx::loader {
namespace {

bool SpaceTab(char c) { return c == ' ' || c == '\t'; }

// First non-space/tab in [first, last], or null.
const char* NextNonSpaceTab(const char* first, const char* last) {
  for (; first <= last; ++first) {
    if (!SpaceTab(*first)) return first;
  }
  return nullptr;
}

// First space/tab/NUL in [first, last], or null.
const char* NextTerminator(const char* first, const char* last) {
  for (; first <= last; ++first) {
    if (SpaceTab(*first) || *first == '\0') return first;
  }
  return nullptr;
}

// strnchr(): stops at the first NUL as well as after `count` bytes.
const char* StrNChr(const char* s, size_t count, char c) {
  for (; count-- && *s != '\0'; ++s) {
    if (*s == c) return s;
  }
  return nullptr;
}

}  // namespace

bool IsScript(std::span<const char> head) {
  return head.size() >= 2 && head[0] == '#' && head[1] == '!';
}

Result<ScriptInterp> ParseScript(std::span<const char> head) {
  // bprm->buf plus one guard NUL, so every string below is terminated within the array.
  std::array<char, kBinprmBufSize + 1> storage{};
  if (!head.empty()) {
    std::memcpy(storage.data(), head.data(), std::min(head.size(), kBinprmBufSize));
  }
  char* buf = storage.data();
  if (buf[0] != '#' || buf[1] != '!') return Errno::kENOEXEC;

  const char* buf_end = buf + kBinprmBufSize - 1;
  const char* i_end = StrNChr(buf, kBinprmBufSize, '\n');
  if (i_end == nullptr) {
    i_end = NextNonSpaceTab(buf + 2, buf_end);
    if (i_end == nullptr) return Errno::kENOEXEC;  // the whole buffer is spaces/tabs
    // No later space/tab/NUL: the interpreter path may be truncated.
    if (NextTerminator(i_end, buf_end) == nullptr) return Errno::kENOEXEC;
    i_end = buf_end;
  }
  // Trim trailing spaces/tabs; buf[1] == '!' stops the loop.
  while (SpaceTab(i_end[-1])) --i_end;

  const char* i_name = NextNonSpaceTab(buf + 2, i_end);
  if (i_name == nullptr || i_name == i_end) return Errno::kENOEXEC;  // no interpreter name

  const char* i_arg = nullptr;
  const char* i_sep = NextTerminator(i_name, i_end);
  if (i_sep != nullptr && *i_sep != '\0') i_arg = NextNonSpaceTab(i_sep, i_end);

  buf[i_end - buf] = '\0';
  ScriptInterp out;
  if (i_arg != nullptr) {
    buf[i_sep - buf] = '\0';
    out.arg = std::string(i_arg);
  }
  out.name = std::string(i_name);
  return out;
}

}  // namespace sbx::loader
