#include "sentry/kernel/pidfd.h"

#include <poll.h>

#include "sentry/kernel/kernel.h"

namespace sbx::kernel {
namespace {

class PidFD : public fs::FileDescription {
 public:
  PidFD(std::shared_ptr<ThreadGroup> tg, bool nonblock)
      : FileDescription(nullptr, 2 /*O_RDWR*/ | (nonblock ? 04000 /*O_NONBLOCK*/ : 0)),
        tg_(std::move(tg)) {}

  Result<fs::Attr> Stat() override {
    fs::Attr a;
    a.mode = 0600;  // anon_inode: no file type bits, like Linux's "anon_inode:[pidfd]"
    a.ino = 1;
    a.blksize = 4096;
    return a;
  }

  // pidfd_poll(): readable once the whole thread group has exited.
  uint32_t Readiness(uint32_t mask) override {
    bool exited = tg_->Exited();
    return exited ? (POLLIN | POLLRDNORM) & (mask | POLLIN | POLLRDNORM) : 0;
  }

  const std::shared_ptr<ThreadGroup>& tg() const { return tg_; }

 private:
  std::shared_ptr<ThreadGroup> tg_;
};

}  // namespace

std::shared_ptr<fs::FileDescription> NewPidFD(std::shared_ptr<ThreadGroup> tg, bool nonblock) {
  return std::make_shared<PidFD>(std::move(tg), nonblock);
}

std::shared_ptr<ThreadGroup> PidFDThreadGroup(fs::FileDescription& f) {
  auto* p = dynamic_cast<PidFD*>(&f);
  return p ? p->tg() : nullptr;
}

}  // namespace sbx::kernel
