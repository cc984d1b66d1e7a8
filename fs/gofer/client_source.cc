// NodeSource over the real gofer client, and VFS::New (which needs it). Compiled only when
// the sbx_gofer library exists.
#include <memory>

#include "fs/gofer/gofer_fs.h"
#include "fs/gofer/node_source.h"
#include "gofer/client.h"

namespace sbx::fs {
namespace gofer {
namespace {

class ClientSource : public NodeSource {
 public:
  explicit ClientSource(std::unique_ptr<sbx::gofer::Client> c) : c_(std::move(c)) {}
  Result<sbx::gofer::WalkResult> Walk(NodeId dir, std::string_view name) override {
    return c_->Walk(dir, name);
  }
  Result<sbx::gofer::Attr> Stat(NodeId node) override { return c_->Stat(node); }
  Result<std::string> Readlink(NodeId node) override { return c_->Readlink(node); }
  Result<int> Open(NodeId node, uint32_t flags) override { return c_->Open(node, flags); }
  Result<std::vector<sbx::gofer::DirEntry>> ReadDir(NodeId dir) override {
    return c_->ReadDir(dir);
  }
  void Release(NodeId node) override { c_->Release(node); }

 private:
  const std::unique_ptr<sbx::gofer::Client> c_;
};

}  // namespace

std::unique_ptr<NodeSource> NewClientSource(std::unique_ptr<sbx::gofer::Client> client) {
  return std::make_unique<ClientSource>(std::move(client));
}

}  // namespace gofer

Result<std::unique_ptr<VFS>> VFS::New(std::unique_ptr<sbx::gofer::Client> rootfs,
                                      mm::MemoryFile* memfile) {
  std::shared_ptr<gofer::NodeSource> src = gofer::NewClientSource(std::move(rootfs));
  return NewWithRoot([&](uint64_t dev) { return gofer::NewGoferFS(dev, src); }, memfile);
}

}  // namespace sbx::fs
