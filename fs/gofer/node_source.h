// The gofer filesystem's view of its backing store: the operations of gofer::Client as an
// interface, so the filesystem can be tested against an in-memory tree and the real client
// (a concrete class) plugs in through NewClientSource().
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gofer/client.h"
#include "sentry/abi/result.h"

namespace sbx::fs::gofer {

using sbx::gofer::NodeId;

class NodeSource {
 public:
  virtual ~NodeSource() = default;
  // Contracts as gofer::Client's methods of the same names.
  virtual Result<sbx::gofer::WalkResult> Walk(NodeId dir, std::string_view name) = 0;
  virtual Result<sbx::gofer::Attr> Stat(NodeId node) = 0;
  virtual Result<std::string> Readlink(NodeId node) = 0;
  virtual Result<int> Open(NodeId node, uint32_t flags) = 0;
  virtual Result<std::vector<sbx::gofer::DirEntry>> ReadDir(NodeId dir) = 0;
  virtual void Release(NodeId node) = 0;
};

// Adapts a connected gofer client.
std::unique_ptr<NodeSource> NewClientSource(std::unique_ptr<sbx::gofer::Client> client);

}  // namespace sbx::fs::gofer
