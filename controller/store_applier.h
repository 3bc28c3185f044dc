#pragma once
// What: StoreApplier, which makes the running switch match the config
// store: bridges created and destroyed, ports added, moved and removed,
// VLAN settings, controllers, fail modes and the PMD cores; and the runtime
// columns written back (store_config.h's RuntimeWriter).
//
// Design:
//   - Apply() is idempotent: it compares the store's configuration with
//     what runs and changes only the difference, so the main loop can call
//     it on every store update and once a second (to refresh link states,
//     connections and, every few seconds, statistics).
//   - Order within one Apply(): new bridges first (so their ports have a
//     home), then ports over all bridges (a port that changes bridge or
//     devargs is removed and added again), then bridges that are gone (by
//     then without ports), then controllers.
//   - An interface's type and options become devargs and port settings
//     through port_types.h (dpdk, dpdkvhostuser, dpdkvhostuserclient); a
//     vhost-user server socket's directory is made before the port opens
//     and its mode set after.
//   - Software eSwitch ports (devargs sluice_eswitch<N>,...) go through
//     OffloadControl's EswitchDevices: PF ports are added before
//     representor ports (a representor needs its device), and removing a PF
//     removes its representors first. Their datapath devargs are the
//     eSwitch's ethdevs, so what the store asked for is remembered per port
//     to tell whether it changed.
//   - other_config:hw-offload* go to OffloadControl (on/off live); a bad
//     value is logged once and leaves offload as it was.
//   - A port that could not be created is remembered with its devargs and
//     not retried until its configuration changes; its error goes to
//     Interface.error.
//   - A bridge that appears starts empty; a standalone one with no active
//     controller gets the visible priority-0 NORMAL rule, as in Open vSwitch.
//
// Thread-safety: owned and called by the main loop only.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "controller/offload_control.h"
#include "controller/port_types.h"
#include "controller/store_config.h"
#include "controller/switch_bridges.h"
#include "controller/switchd.h"

namespace sluice::ctl {

class StoreApplier {
 public:
  StoreApplier(dp::Datapath* dp, SwitchBridges* bridges, db::Replica* replica,
               OffloadControl* offload, const SwitchdOptions& o)
      : dp_(dp), bridges_(bridges), replica_(replica), offload_(offload), o_(o) {}

  void Apply(const StoreConfig& c, bool write_stats);
  // Rewrite every runtime column at the next Apply() (after a reconnection).
  void Reset() { writer_.Reset(); }

 private:
  struct BridgeState {
    std::string fail_mode = "standalone";
    std::vector<ControllerConfig> controllers;
  };
  // What the datapath opens for an interface (port_types.h), or why not.
  struct Resolved {
    PortSpec spec;
    std::string error;
  };

  void ApplyPmdMask(const std::string& mask);
  void ApplyOffload(const std::map<std::string, std::string>& other_config);
  // Removes a datapath port from its bridge and the datapath.
  void RemovePort(const dp::PortInfo& p);
  void CreateBridge(const StoreBridge& b);
  void ApplyPorts(const StoreConfig& c, std::map<std::string, InterfaceState>* states);
  void RemoveStalePorts(const std::map<std::string, std::string>& want,
                        std::map<std::string, Resolved>& resolved);
  // Opens the interface's port (vhost socket or eSwitch steps around it).
  Status OpenPort(const StoreInterface& i, const PortSpec& spec, uint32_t* no);
  void ApplyInterface(const StoreBridge& b, const StoreInterface& i, const Resolved& r,
                      std::map<std::string, dp::PortInfo>* present, InterfaceState* st);
  void ApplyControllers(const StoreBridge& b, std::map<std::string, ControllerState>* states);
  Resolved Resolve(const StoreConfig& c, const StoreInterface& i);

  dp::Datapath* dp_;
  SwitchBridges* bridges_;
  db::Replica* replica_;
  OffloadControl* offload_;
  const SwitchdOptions& o_;
  std::string offload_error_;                  // the last bad hw-offload* setting, logged once
  std::map<std::string, std::string> opened_;  // port -> the devargs the store gave it
  std::string pmd_mask_;
  std::map<std::string, BridgeState> state_;                           // by bridge name
  std::map<std::string, std::pair<std::string, std::string>> failed_;  // port -> (devargs, error)
  std::map<std::string, uint32_t> vhost_index_;  // interface -> its net_vhost<N> (stable)
  std::map<std::string, std::pair<uint16_t, std::vector<uint16_t>>> vlan_;  // port -> (tag, trunks)
  std::map<std::string, std::map<std::string, int64_t>> last_stats_;
  RuntimeWriter writer_;
};

}  // namespace sluice::ctl
