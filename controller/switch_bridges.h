#pragma once
// What: SwitchBridges, the bridges sluice-switchd runs: for each, its
// OpenFlow side (an Ofproto in the switch's BridgeSet) and its connection
// manager (controllers, listeners, fail mode).
//
// Design: the main loop creates and destroys bridges (from the command line
// or the config store); management views read them from the management
// thread, so the map is behind a mutex and views get shared references.
// Destroying a bridge stops its connections first, then removes it from the
// BridgeSet (its revalidator stops and its megaflows are deleted).
//
// Thread-safety: Create/Destroy from the main loop; the readers from any
// thread.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/connmgr.h"
#include "ofproto/bridge_set.h"

namespace sluice::ctl {

class SwitchBridges {
 public:
  SwitchBridges(dp::Datapath* dp, ofproto::BridgeSet* set) : dp_(dp), set_(set) {}
  ~SwitchBridges() { DestroyAll(); }
  SwitchBridges(const SwitchBridges&) = delete;
  SwitchBridges& operator=(const SwitchBridges&) = delete;

  // Creates bridge `name` and starts its connection manager.
  Status Create(const ofproto::OfprotoOptions& options, const ConnMgrOptions& cm_options);
  void Destroy(const std::string& name);
  void DestroyAll();

  std::shared_ptr<ofproto::Ofproto> bridge(const std::string& name) const;
  std::shared_ptr<ConnMgr> connmgr(const std::string& name) const;
  std::vector<std::string> Names() const;  // sorted

  ofproto::BridgeSet* set() const { return set_; }

 private:
  struct Entry {
    std::shared_ptr<ofproto::Ofproto> br;
    std::shared_ptr<ConnMgr> cm;
  };
  dp::Datapath* dp_;
  ofproto::BridgeSet* set_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> bridges_;
};

// `controller/show` over every bridge's connections.
class MgmtServer;
void RegisterControllerViews(MgmtServer* server, const SwitchBridges* bridges);

}  // namespace sluice::ctl
