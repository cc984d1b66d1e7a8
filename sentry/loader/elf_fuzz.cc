// libFuzzer entry point for the loader's decoders of untrusted bytes: ParseElf (ELF header,
// program headers, PT_INTERP) and ParseScript ("#!" line). Besides "no crash, no UB", it
// checks the parser's contract: errors are only ENOEXEC or EIO, and an accepted file satisfies
// the invariants the loader relies on (a violation aborts, which the fuzzer reports).
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "sentry/loader/elf.h"
#include "sentry/loader/script.h"

namespace {

void Check(bool cond) {
  if (!cond) std::abort();
}

void CheckAccepted(const sbx::loader::ElfInfo& info, uint64_t task_size) {
  Check(info.header.e_type == ET_EXEC || info.header.e_type == ET_DYN);
  Check(info.phdrs.size() == info.header.e_phnum);
  Check(info.num_loads > 0);
  Check(info.total_mapping_size > 0 && info.total_mapping_size <= task_size);
  Check(info.max_alignment % 4096 == 0);
  Check(!info.has_interp || info.interp.size() < sbx::loader::kPathMax);
  for (const auto& ph : info.phdrs) {
    if (ph.p_type != PT_LOAD) continue;
    Check(ph.p_filesz <= ph.p_memsz);
    Check(ph.p_vaddr + ph.p_memsz >= ph.p_vaddr);
    Check(ph.p_filesz == 0 || (ph.p_offset - ph.p_vaddr) % 4096 == 0);
    if (!info.is_dyn) Check(ph.p_vaddr + ph.p_memsz <= task_size);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto r = sbx::loader::ParseElf(sbx::loader::BufferReader(bytes));
  if (r.ok()) {
    CheckAccepted(*r, sbx::loader::kTaskSize);
  } else {
    Check(r.error() == sbx::Errno::kENOEXEC || r.error() == sbx::Errno::kEIO);
  }
  auto s = sbx::loader::ParseScript(
      std::span<const char>(reinterpret_cast<const char*>(data), size));
  if (s.ok()) {
    Check(s->name.size() < sbx::loader::kBinprmBufSize);
    Check(s->name.find_first_of(std::string_view(" \t\n\0", 4)) == std::string::npos);
    Check(!s->arg || s->arg->find('\n') == std::string::npos);
  } else {
    Check(s.error() == sbx::Errno::kENOEXEC);
  }
  return 0;
}
